"""train / wait / deploy / predict through the real CLI (Typer's runner, moto in-process, the scripted
lifecycle): every documented exit code, the --json envelope, stdout for results and stderr for progress."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from nikkei_deepar.output import ENVELOPE_KEYS
from sagemaker_script import (
    LIFECYCLE_CONFIG,
    REGION,
    FakeClock,
    completed,
    deepar_response,
    endpoint,
    failed,
    in_progress,
    model_error,
    put_training_logs,
    queue_endpoint_results,
)


def _job(result: Any) -> str:
    return str(result.json()["data"]["job"])


# -- train ----------------------------------------------------------------------------------------------
def test_train_prints_the_job_name_and_the_envelope(cli: Callable[..., Any]) -> None:
    r = cli("train")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith("started training job nikkei-deepar-")
    r = cli("train", "--json")
    document = r.json()
    assert tuple(document) == ENVELOPE_KEYS
    assert (document["command"], document["status"], document["exit_code"]) == ("train", "ok", 0)
    assert document["data"]["job"].startswith("nikkei-deepar-")


def test_train_without_prepared_data_exits_5(
    aws: None, hermetic_env: Path, clock: FakeClock, run_cli: Any
) -> None:
    Path("nikkei-deepar.toml").write_text(LIFECYCLE_CONFIG, encoding="utf-8")
    r = run_cli("train")
    assert r.exit_code == 5
    assert "no prepared data" in r.stderr and "nikkei-deepar prepare" in r.stderr
    assert r.stdout == ""


def test_a_second_train_while_one_runs_exits_2_until_forced(cli: Callable[..., Any], sm_script: Any) -> None:
    sm_script.next_training(in_progress(), in_progress())
    assert cli("train").exit_code == 0
    r = cli("train", "--json")
    assert r.exit_code == 2
    assert r.json()["errors"][0]["code"] == "job-running"
    assert "--force" in r.json()["errors"][0]["hint"]
    assert cli("train", "--force").exit_code == 0


def test_train_wait_logs_streams_the_log_to_stderr(
    cli: Callable[..., Any], sm_script: Any, clock: FakeClock
) -> None:
    sm_script.next_training(in_progress("Starting"), in_progress("Training"), completed())
    logs = boto3.client("logs", region_name=REGION)
    names: list[str] = []

    def write_logs(n: int) -> None:
        if n == 1:
            names.append(sm_script.calls[-1][1]["name"])
            put_training_logs(logs, names[0], ["#progress_metric: host=algo-1, completed 100 % of epochs"])

    clock.on_sleep = write_logs
    r = cli("train", "--wait", "--logs")
    assert r.exit_code == 0, r.stderr
    assert "completed 100 % of epochs" in r.stderr and "completed 100 % of epochs" not in r.stdout
    assert "test:RMSE" in r.stdout


# -- wait: one exit code per end ------------------------------------------------------------------------
def test_wait_completed_exits_0_with_metrics(cli: Callable[..., Any], sm_script: Any) -> None:
    sm_script.next_training(in_progress(), completed())
    cli("train")
    r = cli("wait")
    assert r.exit_code == 0, r.stderr
    assert "Completed" in r.stdout and "test:mean_wQuantileLoss" in r.stdout and "billable 300 s" in r.stdout
    assert "InProgress" in r.stderr  # progress went to stderr


def test_wait_failed_exits_6_with_the_reason(cli: Callable[..., Any], sm_script: Any) -> None:
    sm_script.next_training(in_progress(), failed("AlgorithmError: the time series are too short"))
    cli("train")
    r = cli("wait", "--json")
    assert r.exit_code == 6
    document = r.json()
    assert (document["status"], document["exit_code"]) == ("error", 6)
    assert document["errors"][0]["code"] == "job-failed"
    assert "too short" in document["errors"][0]["message"]
    assert document["data"]["status"] == "Failed"


def test_wait_stopped_exits_7(cli: Callable[..., Any], sm_script: Any, clock: FakeClock) -> None:
    sm_script.next_training(in_progress(), in_progress(), in_progress())
    name = _job(cli("train", "--json"))

    def stop_once(n: int) -> None:
        if n == 1:
            boto3.client("sagemaker", region_name=REGION).stop_training_job(TrainingJobName=name)

    clock.on_sleep = stop_once
    r = cli("wait")
    assert r.exit_code == 7
    assert "was stopped" in r.stderr


def test_wait_timeout_exits_8(cli: Callable[..., Any], sm_script: Any) -> None:
    sm_script.next_training(in_progress())
    cli("train")
    r = cli("wait", "--timeout", "30")
    assert r.exit_code == 8
    assert "--timeout reached" in r.stderr


def test_ctrl_c_exits_130_and_a_second_wait_finishes(
    cli: Callable[..., Any], sm_script: Any, clock: FakeClock
) -> None:
    sm_script.next_training(in_progress("Starting"), in_progress("Training"), completed())
    cli("train")
    clock.interrupt_at = 1
    r = cli("wait")
    assert r.exit_code == 130
    assert "interrupted" in r.stderr
    ledger = json.loads(Path("home/workspaces/nikkei-deepar/dev/state.json").read_text())
    assert ledger["jobs"][-1]["status"] == "InProgress"
    clock.interrupt_at = None
    r = cli("wait")
    assert r.exit_code == 0, r.stderr
    ledger_file = Path("home/workspaces/nikkei-deepar/dev/state.json")
    assert json.loads(ledger_file.read_text())["jobs"][-1]["status"] == "Completed"


def test_wait_with_no_job_exits_5(cli: Callable[..., Any]) -> None:
    r = cli("wait")
    assert r.exit_code == 5
    assert "nikkei-deepar train" in r.stderr


# -- deploy ---------------------------------------------------------------------------------------------
def test_deploy_refuses_a_running_job_with_exit_2(cli: Callable[..., Any], sm_script: Any) -> None:
    sm_script.next_training(in_progress())
    cli("train")
    r = cli("deploy")
    assert r.exit_code == 2
    assert "not Completed" in r.stderr


def test_deploy_then_a_rolled_back_update_exits_6(cli: Callable[..., Any], sm_script: Any) -> None:
    sm_script.next_training(completed())
    cli("train")
    sm_script.next_endpoint(endpoint("Creating"), endpoint("InService"))
    r = cli("deploy", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["data"]["action"] == "created"
    sm_script.next_training(completed())
    cli("train")
    sm_script.next_update(
        "nikkei-deepar-dev", endpoint("Updating"), rollback=True, reason="health check failed"
    )
    r = cli("deploy", "--json")
    assert r.exit_code == 6
    assert r.json()["errors"][0]["code"] == "update-rolled-back"


def test_deploy_timeout_exits_8(cli: Callable[..., Any], sm_script: Any) -> None:
    cli("train")
    sm_script.next_endpoint(endpoint("Creating"))
    r = cli("deploy", "--timeout", "60")
    assert r.exit_code == 8


# -- predict --------------------------------------------------------------------------------------------
# the default config trains on log returns: the model's answer carries the sample paths prices come from
SAMPLES = [[0.5] * 17, [0.0] * 17, [-0.5] * 17]


@pytest.fixture
def deployed(cli: Callable[..., Any], sm_script: Any) -> Callable[..., Any]:
    sm_script.next_training(completed())
    assert cli("train", "--wait").exit_code == 0
    assert cli("deploy").exit_code == 0
    return cli


def test_predict_prints_a_dated_table(deployed: Callable[..., Any]) -> None:
    queue_endpoint_results([deepar_response(17, samples=SAMPLES)], region=REGION)
    r = deployed("predict")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("forecast from nikkei-deepar-dev (endpoint")
    header = next(line for line in lines if line.startswith("date"))
    assert header.split() == ["date", "mean", "q0.1", "q0.5", "q0.9"]


def test_predict_csv_to_stdout_is_only_csv(deployed: Callable[..., Any]) -> None:
    queue_endpoint_results([deepar_response(17, samples=SAMPLES)], region=REGION)
    r = deployed("predict", "--format", "csv", "--quiet")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[0] == "date,step,mean,q0.1,q0.5,q0.9"
    assert r.stderr == ""


def test_predict_json_envelope(deployed: Callable[..., Any], tmp_path: Path) -> None:
    queue_endpoint_results([deepar_response(17, samples=SAMPLES)], region=REGION)
    r = deployed("predict", "--json", "--output", str(tmp_path / "f.csv"))
    assert r.exit_code == 0
    data = r.json()["data"]
    assert data["output"] == str(tmp_path / "f.csv") and data["forecast"]
    assert (tmp_path / "f.csv").read_text().startswith("date,step,mean")


def test_predict_415_exits_4(deployed: Callable[..., Any], sm_script: Any) -> None:
    sm_script.fail_next_invoke(model_error(415, "Unsupported content type"))
    r = deployed("predict")
    assert r.exit_code == 4
    assert "HTTP 415" in r.stderr
    assert "Traceback" not in r.stderr


def test_predict_malformed_answer_exits_4(deployed: Callable[..., Any]) -> None:
    queue_endpoint_results(["Unable to evaluate payload provided"], region=REGION)
    r = deployed("predict")
    assert r.exit_code == 4
    assert "not JSON" in r.stderr


def test_help_texts_document_the_exit_codes(run_cli: Callable[..., Any]) -> None:
    for command, codes in {
        "wait": ["6 Failed", "7 Stopped", "8 --timeout"],
        "deploy": ["6 endpoint Failed"],
    }.items():
        r = run_cli(command, "--help")
        assert r.exit_code == 0
        text = " ".join(r.stdout.split())
        for code in codes:
            assert code in text, (command, code)
