"""The CLI contract for config commands, --help/--version, and error rendering."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nikkei_deepar.output import ENVELOPE_KEYS


def test_version_and_help(run_cli: Callable[..., Any]) -> None:
    r = run_cli("--version")
    assert r.exit_code == 0 and r.stdout.startswith("nikkei-deepar ")
    r = run_cli("--help")
    assert r.exit_code == 0 and "prepare" in r.stdout and "Exit codes" in r.stdout


def test_config_show_json_envelope(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    (tmp_path / "nikkei-deepar.toml").write_text('[aws]\nregion = "eu-west-1"\nbucket = "my-bucket-1"\n')
    r = run_cli("config", "show", "--json")
    assert r.exit_code == 0
    doc = r.json()
    assert tuple(doc) == ENVELOPE_KEYS
    assert doc["command"] == "show" or doc["command"] == "config show"
    assert doc["data"]["settings"]["aws"]["bucket"] == "my-bucket-1"
    # the environment (hermetic fixture sets AWS_DEFAULT_REGION) overrides the file
    assert doc["data"]["settings"]["aws"]["region"] == "ap-northeast-1"
    r = run_cli("config", "show", "--region", "us-east-2", "--json")
    assert r.json()["data"]["settings"]["aws"]["region"] == "us-east-2"


def test_config_show_human_is_toml_like(run_cli: Callable[..., Any]) -> None:
    r = run_cli("config", "show")
    assert r.exit_code == 0
    assert "[training.hyperparameters]" in r.stdout and "context_length = 20" in r.stdout


def test_bad_config_is_reported_one_line_per_problem_exit_2(
    run_cli: Callable[..., Any], tmp_path: Path
) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[training.hyperparameters]\ncontext_length = -3\nepochs = 0\n")
    r = run_cli("config", "validate", "--config", str(cfg))
    assert r.exit_code == 2
    assert "Traceback" not in r.stderr
    assert "training.hyperparameters.context_length: must be > 0 (got -3)" in r.stderr
    assert "training.hyperparameters.epochs: must be > 0 (got 0)" in r.stderr
    assert str(cfg) in r.stderr
    r = run_cli("config", "validate", "--config", str(cfg), "--json")
    doc = json.loads(r.stdout)
    assert doc["exit_code"] == 2 and doc["status"] == "error"
    assert doc["errors"][0]["code"] == "config"
    assert "training.hyperparameters.context_length: must be > 0 (got -3)" in doc["errors"][0]["problems"]


def test_config_validate_ok(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    r = run_cli("config", "validate", "--config", str(root / "config.example.toml"))
    assert r.exit_code == 0 and "valid" in r.stdout
