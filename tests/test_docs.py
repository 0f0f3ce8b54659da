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
