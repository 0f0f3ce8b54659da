"""Typer's shell completion, as bash asks for it (docs/guide.md documents --install-completion)."""

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
    # Typer detects the parent shell (shellingham) unless told not to; without a shell among the
    # parents (a detached CI runner), detection fails and `bash` would be taken as a stray argument.
    env = {**os.environ, "SHELL": "/bin/bash", "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    out = subprocess.run([EXE, "--show-completion", "bash"], env=env, capture_output=True, text=True).stdout
    assert "_nikkei_deepar_completion()" in out and "complete " in out


def test_option_values_complete() -> None:
    assert _complete("nikkei-deepar predict --format c", 3) == ["csv"]
    assert _complete("nikkei-deepar predict -f ", 3) == ["table", "csv", "json"]
    assert _complete("nikkei-deepar config init --backend l", 4) == ["local"]
    assert _complete("nikkei-deepar backtest --models deepar,ra", 3) == ["deepar,random-walk"]
    assert _complete("nikkei-deepar backtest --models random-walk,", 3) == [
        "random-walk,deepar",
        "random-walk,seasonal-naive",
    ]
    assert _complete("nikkei-deepar status --region ap-northeast-", 3) == [
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
    ]


def test_completed_values_are_the_ones_the_steps_accept() -> None:
    """The CLI spells the value sets itself (completion must stay cheap); they must not drift."""
    import typing

    from nikkei_deepar import cli
    from nikkei_deepar.config import Settings
    from nikkei_deepar.steps import backtest, predict

    assert set(cli.PREDICT_FORMATS) == set(predict.FORMATS)
    assert set(cli.BACKTEST_MODELS) == set(backtest.MODELS)
    assert set(cli.BACKENDS) == set(typing.get_args(Settings.model_fields["backend"].annotation))


def test_wait_lock_only_where_a_lock_is_taken() -> None:
    """--wait-lock is offered on the commands that take the ledger lock, and nowhere else."""
    assert "--wait-lock" in _complete("nikkei-deepar train --w", 2)
    assert "--wait-lock" not in _complete("nikkei-deepar status --", 2)
    assert "--wait-lock" not in _complete("nikkei-deepar predict --", 2)


def test_wait_lock_is_still_accepted_where_it_is_not_shown() -> None:
    """Scripts that pass --wait-lock to every command (examples/daily-forecast.sh) keep working."""
    from typer.testing import CliRunner

    from nikkei_deepar.cli import app

    runner = CliRunner()
    assert "--wait-lock" not in runner.invoke(app, ["predict", "--help"]).stdout
    assert "--wait-lock" in runner.invoke(app, ["prepare", "--help"]).stdout
    result = runner.invoke(app, ["config", "show", "--wait-lock", "5"])
    assert "No such option" not in result.stderr and result.exit_code == 0, result.stderr
