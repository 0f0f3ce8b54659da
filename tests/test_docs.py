"""The docs describe what exists: generated references are current, every command is documented, and
the READMEs stay front pages whose first screen is true."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import gen_reference  # noqa: E402
import gen_samples  # noqa: E402

READMES = {"en": "README.md", "ja": "README.ja.md"}
FRONT_PAGE_LINES = 250


def docs(lang: str) -> str:
    """One language's documentation as one text: its README and its pages in docs/."""
    return "\n".join(path.read_text(encoding="utf-8") for path in gen_samples.DOCS[lang])


def test_generated_references_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_reference.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_every_command_has_one_example_line() -> None:
    from typer.testing import CliRunner

    from nikkei_deepar.cli import app

    for words in gen_reference.command_names():
        out = CliRunner().invoke(app, [*words, "--help"], terminal_width=200).stdout
        assert len(re.findall(r"^\s*Example: nikkei-deepar ", out, flags=re.M)) == 1, words


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_docs_name_every_command_and_config_key(lang: str) -> None:
    text = docs(lang)
    for words in gen_reference.command_names():
        assert f"nikkei-deepar {' '.join(words)}" in text, words
    for key, *_ in gen_reference.config_rows():
        assert f"`{key}`" in text, key


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_every_generated_block_is_in_both_languages(lang: str) -> None:
    """A block that no page holds would pass `--check` unseen: each one is somewhere, in each language."""
    text = docs(lang)
    reference = (ROOT / "docs" / ("reference.md" if lang == "en" else "reference.ja.md")).read_text("utf-8")
    for name in gen_reference.BLOCKS:
        assert f"<!-- generated:{name}:start -->" in reference, name
    for name in gen_samples.BLOCKS:
        assert text.count(f"<!-- generated:sample:{name}:start -->") == 1, name
    assert "<!-- generated:backtest:start -->" in text


@pytest.mark.parametrize("readme", READMES.values())
def test_the_readme_is_a_front_page_whose_first_screen_names_the_two_commands(readme: str) -> None:
    text = (ROOT / readme).read_text(encoding="utf-8")
    assert len(text.splitlines()) <= FRONT_PAGE_LINES, f"{readme}: keep it a front page; move detail to docs/"
    first_block = re.search(r"^```(\w*)\n(.*?)^```", text, flags=re.S | re.M)
    assert first_block is not None
    commands = [line.split()[0] for line in first_block.group(2).splitlines()]
    assert (first_block.group(1), commands) == ("sh", ["scripts/forecast.sh", "scripts/test.sh"])
    assert text.index("<!-- generated:sample:forecast:start -->") < text.index("## ", text.index("```sh"))
    assert (ROOT / "scripts" / "forecast.sh").is_file() and (ROOT / "scripts" / "test.sh").is_file()
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_sample_outputs_match_the_stored_real_run() -> None:
    """README figures a command prints come from docs/samples.json (scripts/gen_samples.py --run)."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_samples.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_the_sample_forecast_in_the_readmes_is_dated_rows() -> None:
    import json

    stored = json.loads((ROOT / "docs" / "samples.json").read_text(encoding="utf-8"))
    predict = stored["main_job"]["steps"]["predict"]["stdout"]
    rows = re.findall(r"^\d{4}-\d\d-\d\d  ", predict, flags=re.M)
    assert rows, predict
    for readme in READMES.values():
        assert predict in (ROOT / readme).read_text(encoding="utf-8"), readme


def test_the_gluonts_hint_installs_the_release_pyproject_names() -> None:
    import tomllib

    from nikkei_deepar.engine.gluon import EXTRA_HINT

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (gluonts,) = project["tool"]["nikkei-deepar"]["no-deps"]["local"]
    assert f"pip install --no-deps {gluonts}" in EXTRA_HINT
    assert not any(dep.startswith("gluonts") for dep in project["project"]["optional-dependencies"]["local"])


def test_the_stored_samples_are_what_the_tool_prints_now(tmp_path: Path) -> None:
    """The fast samples are run again here, so a change in what the tool prints fails this test until
    `scripts/gen_samples.py --run` stores the new output (and rewrites the docs)."""
    import json
    import shutil

    stored = json.loads((ROOT / "docs" / "samples.json").read_text(encoding="utf-8"))
    assert gen_samples.run_config_errors()["stderr"] == stored["config_errors"]["stderr"]
    (tmp_path / "data").mkdir()
    shutil.copy(ROOT / "data" / "nikkei.csv", tmp_path / "data" / "nikkei.csv")
    run = gen_samples.Runner(tmp_path, gen_samples._base_env(tmp_path))
    local = ["--config", str(ROOT / "examples" / "local.toml")]
    prepared = run("prepare", "--input", str(tmp_path / "data" / "nikkei.csv"), *local)
    assert prepared["stdout"] == stored["main_job"]["steps"]["prepare"]["stdout"]
