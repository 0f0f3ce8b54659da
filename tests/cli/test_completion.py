"""Typer's shell completion, as bash asks for it (the README documents --install-completion)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXE = str(Path(sys.executable).parent / "nikkei-deepar")


def _complete(words: str, cword: int) -> list[str]:
    env = {
        **os.environ,
        "_NIKKEI_DEEPAR_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(cword),
    }
    out = subprocess.run([EXE], env=env, capture_output=True, text=True, timeout=30).stdout
    return out.split()


def test_subcommands_complete() -> None:
    assert _complete("nikkei-deepar pre", 1) == ["prepare", "predict"]
    assert "teardown" in _complete("nikkei-deepar ", 1)


def test_options_complete() -> None:
    assert "--dry-run" in _complete("nikkei-deepar prepare --d", 2)


def test_show_completion_prints_a_bash_script() -> None:
    env = {**os.environ, "SHELL": "/bin/bash"}
    out = subprocess.run([EXE, "--show-completion", "bash"], env=env, capture_output=True, text=True).stdout
    assert "_nikkei_deepar_completion()" in out and "complete " in out
