"""The READMEs describe what exists: generated references are current, every command is documented."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import gen_reference  # noqa: E402


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


@pytest.mark.parametrize("readme", ["README.md", "README.ja.md"])
def test_readme_names_every_command_and_config_key(readme: str) -> None:
    path = ROOT / readme
    if not path.exists():
        pytest.skip(f"{readme} not written yet")
    text = path.read_text(encoding="utf-8")
    for words in gen_reference.command_names():
        assert f"nikkei-deepar {' '.join(words)}" in text, words
    for key, *_ in gen_reference.config_rows():
        assert f"`{key}`" in text, key


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
    for readme in ("README.md", "README.ja.md"):
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
    `scripts/gen_samples.py --run` stores the new output (and rewrites the READMEs)."""
    import json
    import shutil

    import gen_samples

    stored = json.loads((ROOT / "docs" / "samples.json").read_text(encoding="utf-8"))
    assert gen_samples.run_config_errors()["stderr"] == stored["config_errors"]["stderr"]
    (tmp_path / "data").mkdir()
    shutil.copy(ROOT / "data" / "nikkei.csv", tmp_path / "data" / "nikkei.csv")
    run = gen_samples.Runner(tmp_path, gen_samples._base_env(tmp_path))
    local = ["--config", str(ROOT / "examples" / "local.toml")]
    prepared = run("prepare", "--input", str(tmp_path / "data" / "nikkei.csv"), *local)
    assert prepared["stdout"] == stored["main_job"]["steps"]["prepare"]["stdout"]
