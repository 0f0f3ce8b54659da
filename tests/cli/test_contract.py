"""One output contract for every command: the --json envelope's keys, the exit code inside it equal to
the process's, errors with a code and a message, and nothing but that one document on stdout.

Each command is run where it ends fast and without AWS: on a fresh home with no prepared data (most
commands: "not found"), with the local backend, or with an unreadable price file. The table also pins
the exit code each of those situations gets, the same meaning in every command.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nikkei_deepar.output import ENVELOPE_KEYS, ENVELOPE_SCHEMA

CASES: dict[str, tuple[list[str], int]] = {
    # command: (arguments, the exit code this situation has)
    "prepare": (["prepare", "--input", "prices.csv"], 3),  # unreadable price file
    "provision": (["provision"], 0),  # local backend: creates the store
    "teardown": (["teardown", "--yes"], 0),  # nothing to delete
    "train": (["train"], 5),  # no prepared data
    "wait": (["wait"], 5),  # no job
    "deploy": (["deploy"], 5),  # no completed job
    "predict": (["predict"], 5),  # no prepared data / endpoint
    "backtest": (["backtest", "--models", "random-walk"], 5),  # no prepared data
    "score": (["score"], 0),  # nothing kept: says so
    "status": (["status"], 0),
    "doctor": (["doctor"], 0),
    "retrain": (["retrain"], 2),  # no [data] source and no price file: usage
    "config show": (["config", "show"], 0),
    "config validate": (["config", "validate"], 0),
    "config init": (["config", "init", "--backend", "local", "--no-input", "--config", "new.toml"], 0),
    "import": (["import", "endpoint", "nope"], 5),  # no such endpoint on this machine
    "state show": (["state", "show"], 0),
    "state migrate": (["state", "migrate"], 5),  # no ledger from before workspaces here
    "state forget": (["state", "forget", "model", "nope"], 5),  # the state lists no such entry
    "state push": (["state", "push"], 2),  # no [state] url
    "state pull": (["state", "pull"], 2),
    "state unlock": (["state", "unlock"], 2),
}


@pytest.fixture
def local_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # the local backend: nothing may reach AWS (an unroutable endpoint makes any call fail loudly)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    (tmp_path / "nikkei-deepar.toml").write_text('backend = "local"\n', encoding="utf-8")
    (tmp_path / "prices.csv").write_text("this is not a price file\n", encoding="utf-8")
    return tmp_path


def test_every_command_is_in_the_contract() -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    import gen_reference

    assert {" ".join(words) for words in gen_reference.command_names()} == set(CASES)


@pytest.mark.parametrize("command", sorted(CASES))
def test_json_envelope(command: str, local_project: Path, run_cli: Callable[..., Any]) -> None:
    args, expected = CASES[command]
    r = run_cli(*args, "--json")
    assert r.exit_code == expected, r.stderr
    doc = json.loads(r.stdout)  # the whole of stdout is one JSON document
    assert tuple(doc) == ENVELOPE_KEYS
    assert doc["schema"] == ENVELOPE_SCHEMA
    assert doc["command"] == command
    assert doc["exit_code"] == r.exit_code
    assert doc["status"] == ("ok" if expected == 0 else "error")
    assert isinstance(doc["warnings"], list)
    if expected == 0:
        assert doc["errors"] == [] and isinstance(doc["data"], dict)
    else:
        assert doc["errors"] and all({"code", "message"} <= set(e) for e in doc["errors"])
        assert all("\n" not in e["message"] for e in doc["errors"])
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("command", ["train", "status", "prepare"])
def test_corrupt_ledger_is_exit_3_naming_the_path(
    command: str, local_project: Path, hermetic_env: Path, run_cli: Callable[..., Any]
) -> None:
    hermetic_env.mkdir(parents=True, exist_ok=True)
    (hermetic_env / "state.json").write_text("{half a ledger", encoding="utf-8")
    args = {"train": ["train"], "status": ["status"], "prepare": ["prepare", "--input", "prices.csv"]}[
        command
    ]
    if command == "prepare":
        root = Path(__file__).resolve().parents[1]
        args = ["prepare", "--input", str(root / "fixtures" / "prices" / "long" / "yahoo.csv")]
    r = run_cli(*args, "--json")
    assert r.exit_code == 3
    error = r.json()["errors"][0]
    assert error["code"] == "ledger-corrupt" and str(hermetic_env / "state.json") in error["message"]
    assert (hermetic_env / "state.json").read_text(encoding="utf-8") == "{half a ledger"  # never reset


def test_internal_errors_are_one_line_unless_debug(
    local_project: Path, run_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from nikkei_deepar.steps import status

    def boom(*_: Any, **__: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(status, "run", boom)
    r = run_cli("status")
    assert r.exit_code == 1
    assert "internal error: RuntimeError: a bug" in r.stderr and "--debug" in r.stderr
    assert "Traceback" not in r.stderr
    r = run_cli("status", "--debug")  # --debug: the real traceback, through the redacting printer
    assert r.exit_code == 1
    assert "Traceback (most recent call last)" in r.stderr and "RuntimeError: a bug" in r.stderr
