"""Every English page and its Japanese twin document the same commands and config keys.

The pages come in pairs: README.md and README.ja.md, and each docs/NAME.md with docs/NAME.ja.md (the
migration guides, the user guide, the reference, ...). A command counts as mentioned when the text says
`nikkei-deepar <command>` (`nikkei-deepar config init` for the `config` group); a config key when an
inline code span names it, dotted (`aws.bucket`), as a section and key (`[aws] bucket`), as a table
(`[aws.tags]`) or, for a top-level key, alone (`backend = "local"`). "Documented" is the whole file,
generated references included; "explained" is the prose around them, which the generated blocks cannot
stand in for.
"""

from __future__ import annotations

import re
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import gen_reference  # noqa: E402

READMES = ("README.md", "README.ja.md")
MIGRATION = ("docs/migrating-from-terraform.md", "docs/migrating-from-terraform.ja.md")
DOCS = ROOT / "docs"
# Every English page with its Japanese twin: the READMEs, then docs/NAME.md with docs/NAME.ja.md.
PAIRS = [
    READMES,
    *(
        (f"docs/{p.name}", f"docs/{p.name[: -len('.md')]}.ja.md")
        for p in sorted(DOCS.glob("*.md"))
        if not p.name.endswith(".ja.md")
    ),
]
PAGES = [name for pair in PAIRS for name in pair]
ENGLISH = [en for en, _ in PAIRS]
# What the original Terraform setup was made of: each guide says what becomes of every one of these.
TERRAFORM_RESOURCES = {
    "aws_s3_bucket",
    "aws_iam_role",
    "aws_iam_role_policy_attachment",
    "aws_iam_role_policy",
    "aws_sagemaker_model",
    "aws_sagemaker_endpoint_configuration",
    "aws_sagemaker_endpoint",
}
# The keys that keep an existing bucket and role.
KEEP_KEYS = {"aws.bucket", "aws.role_name", "aws.prefix"}

_GENERATED = re.compile(r"<!-- generated:(\w+):start -->.*?<!-- generated:\1:end -->", re.S)
_FENCE = re.compile(r"^```.*?^```", re.S | re.M)
_SPAN = re.compile(r"`([^`\n]+)`")
_SECTION_KEY = re.compile(r"\[([a-z_]+(?:\.[a-z_]+)*)\]\s*([A-Za-z_]+)")
_TABLE = re.compile(r"^\[([a-z_]+(?:\.[a-z_]+)+)\]$")
_TOP_LEVEL = re.compile(r"^([a-z_]+)(?:\s*=.*)?$")
_DOTTED = re.compile(r"(?<![\w.])([a-z_]+(?:\.[a-z_]+)+)(?![\w.])")
_COMMAND = re.compile(r"nikkei-deepar ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?")
_RESOURCE = re.compile(r"\baws_[a-z0-9]+(?:_[a-z0-9]+)+\b")


@cache
def commands() -> frozenset[str]:
    return frozenset(" ".join(words) for words in gen_reference.command_names())


@cache
def config_keys() -> frozenset[str]:
    return frozenset(key for key, *_ in gen_reference.config_rows())


def sections() -> set[str]:
    return {key.rsplit(".", 1)[0] for key in config_keys() if "." in key}


def read(name: str) -> str:
    path = ROOT / name
    assert path.is_file(), f"{name} is missing"
    return path.read_text(encoding="utf-8")


def prose(text: str) -> str:
    return _GENERATED.sub("", text)


def mentioned_commands(text: str) -> set[str]:
    found = set()
    for m in _COMMAND.finditer(text):
        pair = f"{m.group(1)} {m.group(2)}"
        if pair in commands():
            found.add(pair)
        elif m.group(1) in commands():
            found.add(m.group(1))
    return found


def key_mentions(text: str) -> tuple[set[str], set[str]]:
    """(real config keys named in inline code spans, `[section] key` spans whose key does not exist)."""
    keys: set[str] = set()
    unknown: set[str] = set()
    for span in _SPAN.findall(_FENCE.sub("", text)):
        span = span.strip()
        for section, key in _SECTION_KEY.findall(span):
            dotted = f"{section}.{key}"
            if dotted in config_keys():
                keys.add(dotted)
            elif section in sections():
                unknown.add(f"[{section}] {key}")
        table = _TABLE.match(span)
        if table and table.group(1) in config_keys():
            keys.add(table.group(1))
        keys.update(k for k in _DOTTED.findall(span) if k in config_keys())
        top = _TOP_LEVEL.match(span)  # `backend`, `backend = "local"`
        if top and top.group(1) in config_keys():
            keys.add(top.group(1))
    return keys, unknown


def mentioned_keys(text: str) -> set[str]:
    return key_mentions(text)[0]


# -- the pages, in pairs ----------------------------------------------------------------------------------
def test_every_docs_page_has_a_twin() -> None:
    english = {p.name for p in DOCS.glob("*.md") if not p.name.endswith(".ja.md")}
    japanese = {p.name for p in DOCS.glob("*.ja.md")}
    assert {name[: -len(".md")] + ".ja.md" for name in english} == japanese
    assert set(MIGRATION) <= set(PAGES)
    assert {"docs/guide.md", "docs/reference.md", "docs/performance.md", "docs/development.md"} <= set(
        ENGLISH
    )


@pytest.mark.parametrize(("en", "ja"), PAIRS, ids=lambda name: name)
def test_each_page_links_its_twin_at_the_top(en: str, ja: str) -> None:
    for name, twin in ((en, ja), (ja, en)):
        top = "\n".join(read(name).splitlines()[:5])
        assert f"({Path(twin).name})" in top, f"{name}: link {Path(twin).name} in its first lines"


def test_the_readmes_link_to_both_migration_guides_and_every_docs_page_in_their_language() -> None:
    for readme, lang in ((READMES[0], "en"), (READMES[1], "ja")):
        text = read(readme)
        for guide in MIGRATION:
            assert f"({guide})" in text, f"{readme} does not link {guide}"
        for en, ja in PAIRS[1:]:
            page = en if lang == "en" else ja
            assert f"({page})" in text, f"{readme} does not link {page} (where to go next)"


@pytest.mark.parametrize(("one", "other"), [*PAIRS, *(pair[::-1] for pair in PAIRS)], ids=lambda n: n)
def test_every_command_and_key_documented_in_one_page_is_documented_in_its_twin(one: str, other: str) -> None:
    a, b = read(one), read(other)
    assert mentioned_commands(a) <= mentioned_commands(b), (
        f"commands in {one} but not in {other}: {sorted(mentioned_commands(a) - mentioned_commands(b))}"
    )
    assert mentioned_keys(a) <= mentioned_keys(b), (
        f"config keys in {one} but not in {other}: {sorted(mentioned_keys(a) - mentioned_keys(b))}"
    )


def heading_levels(text: str) -> list[int]:
    return [len(m.group(1)) for m in re.finditer(r"^(#{1,6}) ", _FENCE.sub("", text), flags=re.M)]


@pytest.mark.parametrize(("en", "ja"), PAIRS, ids=lambda name: name)
def test_each_pair_has_the_same_outline(en: str, ja: str) -> None:
    """A twin mirrors its page section by section: the same headings at the same levels, in order."""
    assert heading_levels(read(en)) == heading_levels(read(ja))
    assert heading_levels("# A\n\n```sh\n# a comment\n```\n\n## B\n") == [1, 2]


@pytest.mark.parametrize(("en", "ja"), PAIRS, ids=lambda name: name)
def test_the_japanese_prose_explains_what_the_english_prose_explains(en: str, ja: str) -> None:
    """Outside the generated references: every command and key the English text talks about, the Japanese
    text talks about too (it may say more)."""
    en_text, ja_text = prose(read(en)), prose(read(ja))
    missing_commands = mentioned_commands(en_text) - mentioned_commands(ja_text)
    assert not missing_commands, f"{ja} never says `nikkei-deepar ...` for: {sorted(missing_commands)}"
    missing_keys = mentioned_keys(en_text) - mentioned_keys(ja_text)
    assert not missing_keys, f"{ja}'s prose never mentions: {sorted(missing_keys)}"


@pytest.mark.parametrize("name", PAGES)
def test_every_section_and_key_named_in_the_docs_exists(name: str) -> None:
    _, unknown = key_mentions(read(name))
    assert not unknown, f"{name} names config keys that do not exist: {sorted(unknown)}"


def test_the_parity_check_sees_what_it_should() -> None:
    """Guards the extraction itself, so that an empty set on both sides cannot pass for parity."""
    text = (
        "`nikkei-deepar config init`, `[aws] bucket`, `aws.role_name`, `[aws.tags]`, `backend`, `state.json`"
    )
    assert mentioned_commands(text) == {"config init"}
    assert mentioned_keys(text) == {"aws.bucket", "aws.role_name", "aws.tags", "backend"}
    assert key_mentions("`[aws] buckett`")[1] == {"[aws] buckett"}
    en = "\n".join(read(name) for name in ENGLISH)
    assert mentioned_commands(en) == set(commands())
    assert mentioned_keys(en) == set(config_keys())
    assert len(mentioned_keys(prose(read("docs/guide.md")))) >= 20
    assert len(mentioned_commands(prose(read("README.md")))) >= 8


# -- the migration guides ----------------------------------------------------------------------------------
def test_both_migration_guides_name_the_same_terraform_resources_and_config_keys() -> None:
    en, ja = (read(name) for name in MIGRATION)
    en_resources, ja_resources = set(_RESOURCE.findall(en)), set(_RESOURCE.findall(ja))
    assert en_resources >= TERRAFORM_RESOURCES, sorted(TERRAFORM_RESOURCES - en_resources)
    assert en_resources == ja_resources, (
        f"only in English: {sorted(en_resources - ja_resources)}; "
        f"only in Japanese: {sorted(ja_resources - en_resources)}"
    )
    en_keys, ja_keys = mentioned_keys(en), mentioned_keys(ja)
    assert en_keys >= KEEP_KEYS, sorted(KEEP_KEYS - en_keys)
    assert en_keys == ja_keys, (
        f"only in English: {sorted(en_keys - ja_keys)}; only in Japanese: {sorted(ja_keys - en_keys)}"
    )
    assert mentioned_commands(en) == mentioned_commands(ja)
    for text in (en, ja):
        assert "AmazonSageMakerFullAccess" in text
        assert "terraform state rm" in text


def test_the_migration_guides_link_each_other() -> None:
    en, ja = (read(name) for name in MIGRATION)
    assert "(migrating-from-terraform.ja.md)" in "\n".join(en.splitlines()[:5])
    assert "(migrating-from-terraform.md)" in "\n".join(ja.splitlines()[:5])
