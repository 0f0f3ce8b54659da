"""What scripts and people read: one forecast document in two wrappings, a status exit code cron can
alert on, and the local backend speaking of the place it runs in, not of SageMaker.

- `predict --format json` prints the forecast document; `--json` prints the envelope whose `data` is
  that same document plus `output` and `plot` (byte for byte, once those two are taken out).
- `status --exit-code` exits 12 on drift (terraform plan -detailed-exitcode's idea; its 2 is this tool's
  usage error), 0 without; plain `status` still exits 0 with drift; AWS not answering is still 4.
- The local backend says "stored", "on this machine", "ready"; its --json keeps the shared values
  ("uploaded" lists, ml.m5.large, InService), so scripts see one vocabulary.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hostile.kit import GOOD_PRICES, assert_one_clean_error
from ledger_edit import edited
from nikkei_deepar.errors import ExitCode
from nikkei_deepar.ledger import Resource
from nikkei_deepar.state.local import LocalStateStore
from nikkei_deepar.steps.predict import ENVELOPE_ONLY
from sagemaker_script import REGION, completed, deepar_response, queue_endpoint_results

SAMPLES = [[0.5] * 17, [0.0] * 17, [-0.5] * 17]


# -- one forecast document ----------------------------------------------------------------------------
@pytest.fixture
def deployed(cli: Callable[..., Any], sm_script: Any) -> Callable[..., Any]:
    sm_script.next_training(completed())
    assert cli("train", "--wait").exit_code == 0
    assert cli("deploy").exit_code == 0
    return cli


def test_format_json_is_the_envelopes_data_without_its_own_keys(
    deployed: Callable[..., Any], tmp_path: Path
) -> None:
    queue_endpoint_results([deepar_response(17, samples=SAMPLES)] * 3, region=REGION)
    document = deployed("predict", "--format", "json", "--quiet")
    wrapped = deployed("predict", "--json", "--quiet")
    written = deployed("predict", "--format", "json", "--output", str(tmp_path / "f.json"), "--quiet")
    assert document.exit_code == wrapped.exit_code == written.exit_code == 0
    data = wrapped.json()["data"]
    assert set(ENVELOPE_ONLY) <= set(data) and data["output"] is None and data["plot"] is None
    forecast_only = {key: value for key, value in data.items() if key not in ENVELOPE_ONLY}
    as_printed = json.dumps(forecast_only, indent=2, ensure_ascii=False) + "\n"
    assert document.stdout == as_printed  # byte for byte
    assert (tmp_path / "f.json").read_text(encoding="utf-8") == as_printed


def test_with_both_json_wins_and_the_format_changes_nothing(deployed: Callable[..., Any]) -> None:
    queue_endpoint_results([deepar_response(17, samples=SAMPLES)] * 2, region=REGION)
    both = deployed("predict", "--format", "json", "--json", "--quiet").json()
    plain = deployed("predict", "--json", "--quiet").json()
    assert both["data"].pop("forecast_id") != plain["data"].pop("forecast_id")  # each forecast kept apart
    assert both == plain


def test_the_help_says_which_is_which(run_cli: Callable[..., Any]) -> None:
    text = " ".join(run_cli("predict", "--help").stdout.split())
    assert "--format json (and --output FILE.json) prints the forecast document" in text
    assert 'same document plus "output" and "plot"' in text


# -- status --exit-code ---------------------------------------------------------------------------------
@pytest.fixture
def drifted(project: Path, hermetic_env: Path) -> Path:
    """A local project whose ledger lists an endpoint that does not exist: one `missing`."""
    with edited(LocalStateStore(hermetic_env)) as ledger:
        ledger.record_resource(Resource(kind="endpoint", name="nikkei-deepar-dev", backend="local"))
    return project


def test_without_drift_exit_code_is_0(project: Path, run_cli: Callable[..., Any]) -> None:
    r = run_cli("status", "--exit-code")
    assert r.exit_code == 0, r.stderr
    assert "drift: none" in r.stdout


def test_drift_is_exit_12_with_exit_code_and_one_line(drifted: Path, run_cli: Callable[..., Any]) -> None:
    r = run_cli("status", "--exit-code")
    assert_one_clean_error(r, 12, "drift: 1 missing, 0 untracked (endpoint nikkei-deepar-dev)", "exit 12")
    assert "drift: 1 missing, 0 untracked" in r.stdout  # the full picture is still printed
    j = run_cli("status", "--exit-code", "--json")
    doc = j.json()
    assert j.exit_code == doc["exit_code"] == ExitCode.DRIFT == 12
    assert doc["data"]["drift"] == {"missing": ["endpoint nikkei-deepar-dev"], "untracked": []}
    assert [e["code"] for e in doc["errors"]] == ["drift"]


def test_drift_without_the_option_still_exits_0(drifted: Path, run_cli: Callable[..., Any]) -> None:
    r = run_cli("status", "--json")
    assert r.exit_code == 0 and r.json()["data"]["drift"]["missing"] == ["endpoint nikkei-deepar-dev"]
    assert r.json()["errors"] == []


def test_aws_that_cannot_be_asked_is_4_not_drift(project: Path, run_cli: Callable[..., Any]) -> None:
    (project / "nikkei-deepar.toml").write_text('[aws]\nbucket = "nikkei-deepar-hostile-test"\n')
    r = run_cli("status", "--exit-code")  # AWS_ENDPOINT_URL is unroutable here
    assert r.exit_code == 4, r.stderr
    assert "drift:" not in r.stderr


# -- the local backend's words ------------------------------------------------------------------------
def test_the_local_backend_speaks_of_this_machine(project: Path, run_cli: Callable[..., Any]) -> None:
    (project / "nikkei-deepar.toml").write_text(
        'backend = "local"\n[training.hyperparameters]\nepochs = 1\n', encoding="utf-8"
    )
    prepared = run_cli("prepare", "--input", str(GOOD_PRICES))
    assert prepared.exit_code == 0, prepared.stderr
    assert "stored " in prepared.stderr and "(stored)" in prepared.stdout
    trained = run_cli("train", "--wait")
    assert trained.exit_code == 0, trained.stderr
    deployed = run_cli("deploy")
    status = run_cli("status")
    said = "\n".join(r.stdout + r.stderr for r in (prepared, trained, deployed, status))
    for sagemaker_word in ("uploaded", "ml.m5.large", "InService", "x1"):
        assert sagemaker_word not in said, sagemaker_word
    assert ", on this machine, config " in trained.stdout
    assert ": ready (created)" in deployed.stdout and "(on this machine)" in deployed.stdout
    assert ": ready, on this machine" in status.stdout
    # scripts keep the shared vocabulary
    data = run_cli("status", "--json").json()["data"]
    assert data["endpoint"]["status"] == "InService"
    assert data["endpoint"]["variant"]["instance_type"] == "ml.m5.large"
    again = run_cli("prepare", "--input", str(GOOD_PRICES), "--json").json()["data"]
    assert set(again) >= {"uploaded", "already_there"}
