"""Every relative link in the documentation leads somewhere: the file exists, and an anchor names a heading.

The pages: README.md, README.ja.md, data/README.md, examples/README.md and docs/*.md. A link is
`[text](target)` or `[text]: target` outside code; web and mail links are not followed. An anchor
(`docs/guide.md#costs`, `#exit-codes`) must be the id GitHub gives one of the target page's headings:
the heading's text as rendered (code spans and links reduced to their text), lower-cased, every
character that is not a letter, mark, digit, `_`, `-` or space dropped, spaces turned into `-`, and
`-1`, `-2`, ... appended to repeats. Japanese headings keep their characters (`、` and `:` go).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

_FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.S | re.M)
_CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.S)
_INLINE = re.compile(r"!?\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.M)
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", re.M)
_HTML_ID = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)


def pages() -> list[Path]:
    """The documentation whose links are checked."""
    fixed = [ROOT / name for name in ("README.md", "README.ja.md", "data/README.md", "examples/README.md")]
    return fixed + sorted((ROOT / "docs").glob("*.md"))


def strip_code(text: str) -> str:
    """The text without fenced code blocks and code spans (a link inside code is not a link)."""
    text = _FENCE.sub("", text)
    return _CODE_SPAN.sub("", text)


def slug(heading: str) -> str:
    """GitHub's id for a heading's source text (before the repeat suffix)."""
    text = _CODE_SPAN.sub(lambda m: m.group(0).strip("`").strip(), heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link reads as its text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    kept = []
    for char in text.lower():
        category = unicodedata.category(char)
        if char in "-_ " or category[0] in "LM" or category in ("Nd", "Nl", "Pc"):
            kept.append(char)
    return "".join(kept).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every id a page's headings (and explicit `<a id=...>`) give it, repeats numbered as GitHub does."""
    found: set[str] = set(_HTML_ID.findall(text))
    seen: dict[str, int] = {}
    for _, title in _HEADING.findall(_FENCE.sub("", text)):
        base = slug(title)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(text: str) -> list[str]:
    prose = strip_code(text)
    return [m.group(2) for m in _INLINE.finditer(prose)] + _DEFINITION.findall(prose)


def broken_links(page: Path) -> list[str]:
    """One line per link on `page` that leads nowhere: a missing file, or an anchor with no heading."""
    problems = []
    for target in links(page.read_text(encoding="utf-8")):
        if not target or _EXTERNAL.match(target):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            problems.append(f"{target}: no such file {dest}")
            continue
        if anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text(encoding="utf-8")):
            problems.append(f"{target}: {dest.name} has no heading with the id #{anchor}")
    return problems


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    assert page.is_file(), f"{page} is missing"
    problems = broken_links(page)
    assert not problems, f"{page.relative_to(ROOT)}:\n  " + "\n  ".join(problems)


# -- the checker itself ------------------------------------------------------------------------------------
def test_the_slugs_follow_githubs_rules() -> None:
    assert slug("Exit codes") == "exit-codes"
    assert slug("Trading days and DeepAR's calendar (`[data] calendar`)") == (
        "trading-days-and-deepars-calendar-data-calendar"
    )
    assert slug("`status`, `doctor`, `retrain`: built for scripts and cron") == (
        "status-doctor-retrain-built-for-scripts-and-cron"
    )
    assert slug("Does DeepAR beat the random walk? (`bench/backtest_defaults.py`)") == (
        "does-deepar-beat-the-random-walk-benchbacktest_defaultspy"
    )
    assert slug("エンドポイントの有効期限、料金、コストの上限") == "エンドポイントの有効期限料金コストの上限"
    assert (
        slug("取引日と DeepAR のカレンダー (`[data] calendar`)")
        == "取引日と-deepar-のカレンダー-data-calendar"
    )
    assert slug("Ctrl-C: what stops and what goes on") == "ctrl-c-what-stops-and-what-goes-on"
    assert slug("See [the guide](guide.md)") == "see-the-guide"


def test_repeated_headings_are_numbered_and_code_is_not_a_heading() -> None:
    text = "# Notes\n\n## Notes\n\n```sh\n# not a heading\n```\n\n## Other\n"
    assert anchors(text) == {"notes", "notes-1", "other"}


def test_the_checker_finds_a_missing_file_and_a_missing_anchor(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.md").write_text("# Guide\n\n## Costs and expiry\n", encoding="utf-8")
    page = tmp_path / "README.md"
    page.write_text(
        "# Front\n\n"
        "[ok](docs/guide.md#costs-and-expiry) [ok too](#front) [web](https://example.com/x#y)\n"
        "[gone](docs/nothing.md) [bad anchor](docs/guide.md#costs) [bad here](#back)\n"
        "`[in code](docs/nothing-either.md)`\n\n"
        "```md\n[in a fence](docs/nor-this.md)\n```\n\n"
        "[ref]: docs/guide.md#expiry\n",
        encoding="utf-8",
    )
    problems = broken_links(page)
    assert len(problems) == 4, problems
    assert any(p.startswith("docs/nothing.md: no such file") for p in problems)
    assert "docs/guide.md#costs: guide.md has no heading with the id #costs" in problems
    assert "#back: README.md has no heading with the id #back" in problems
    assert "docs/guide.md#expiry: guide.md has no heading with the id #expiry" in problems


def test_the_checked_pages_include_every_docs_page() -> None:
    names = {str(p.relative_to(ROOT)) for p in pages()}
    assert {"README.md", "README.ja.md", "data/README.md", "examples/README.md"} <= names
    assert {str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md")} <= names
