"""The whole lifecycle as a user's shell script runs it: the installed `nikkei-deepar` executable, one
subprocess per command, against a moto server, checking each exit code and output, and an empty account
at the end.

moto runs nothing, so out of process its jobs are Completed at once (with no DeepAR metrics: `wait`
says "no metrics"), endpoints InService at once, and `predict` gets a canned DeepAR answer queued through
moto's HTTP API. UpdateEndpoint (not implemented by moto's server) is scripted by `sm_script`, whose
patches live on moto's classes and so act in the server's thread. One moto gap is bridged in this (the
server's) process, never in the tool: moto ignores bucket policy conditions, so provision's TLS-only
policy would deny every request (see conftest's `_moto_treats_requests_as_tls`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest

from e2e_shell import EXE, Run, project_shell
from sagemaker_script import REGION, deepar_response, queue_endpoint_results

pytestmark = pytest.mark.e2e

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "prices" / "long" / "nikkei_en.csv"
BUCKET = "nikkei-deepar-e2e-bucket"
CONFIG = f"""
[aws]
region = "{REGION}"
bucket = "{BUCKET}"

[endpoint]
name = "nikkei-e2e"
"""


@pytest.fixture
def shell(moto_server: str, tmp_path: Path) -> Run:
    """`shell("train", "--json")` runs the executable in a fresh project folder, as a script would:
    no terminal, the moto server as AWS_ENDPOINT_URL, fake credentials, the tool's home in the folder."""
    return project_shell(moto_server, tmp_path, CONFIG, region=REGION)


def _aws(server: str, service: str) -> Any:
    return boto3.client(service, region_name=REGION, endpoint_url=server)


def _data(done: subprocess.CompletedProcess[str], command: str) -> dict[str, Any]:
    document = json.loads(done.stdout)
    assert (document["command"], document["status"], document["exit_code"]) == (command, "ok", 0)
    data: dict[str, Any] = document["data"]
    return data


def test_the_lifecycle_as_a_shell_script(shell: Run, moto_server: str, sm_script: Any) -> None:
    assert EXE.is_file(), f"the package is not installed in {EXE.parent}"

    shell("provision")

    prepared = _data(shell("prepare", "--input", str(FIXTURE), "--json"), "prepare")
    assert prepared["observations"] >= 300  # DeepAR's minimum
    assert set(prepared["uris"]) == {"train/train.json", "test/test.json", "series.json"}

    started = _data(shell("train", "--json"), "train")
    job = started["job"]
    assert job.startswith("nikkei-e2e-") and len(job) <= 63
    described = _aws(moto_server, "sagemaker").describe_training_job(TrainingJobName=job)
    assert described["AlgorithmSpecification"]["TrainingImage"] == (
        "633353088612.dkr.ecr.ap-northeast-1.amazonaws.com/forecasting-deepar:1"
    )
    assert described["HyperParameters"]["prediction_length"] == "17"  # 5 sessions under calendar_days

    waited = shell("wait")
    assert f"training job {job}: Completed" in waited.stdout
    assert "no metrics" in waited.stdout
    assert "model artifact: s3://" in waited.stdout
    assert "Completed" in waited.stderr  # progress lines on stderr, timestamped (not a terminal)

    deployed = _data(shell("deploy", "--json"), "deploy")
    assert (deployed["action"], deployed["status"], deployed["job"]) == ("created", "InService", job)
    endpoint = _aws(moto_server, "sagemaker").describe_endpoint(EndpointName="nikkei-e2e")
    assert endpoint["EndpointConfigName"] == deployed["endpoint_config"]

    queue_endpoint_results(
        [deepar_response(17, samples=[[0.3] * 17, [-0.3] * 17])], region=REGION, server=moto_server
    )
    forecast = shell("predict", "--format", "csv", "--quiet")
    # --quiet: no progress; the one line left says the fixture's closes (2024) are stale
    [stale] = forecast.stderr.splitlines()
    assert "warning: stale data: the last close is " in stale
    rows = list(csv.DictReader(io.StringIO(forecast.stdout)))
    assert rows and list(rows[0]) == ["date", "step", "mean", "q0.1", "q0.5", "q0.9"]
    assert [r["step"] for r in rows] == ["1", "2", "3", "4", "5"]
    last = dt.date.fromisoformat(prepared["read"]["last"][:10])
    assert all(dt.date.fromisoformat(r["date"]) > last for r in rows)
    assert all(dt.date.fromisoformat(r["date"]).weekday() < 5 for r in rows)
    assert float(rows[0]["q0.1"]) <= float(rows[0]["mean"]) <= float(rows[0]["q0.9"])

    # a second model replaces the first blue/green: UpdateEndpoint, which moto's server answers with
    # HTTP 500, is scripted in this (the server's) process by sm_script
    retrained = _data(shell("train", "--json"), "train")["job"]
    shell("wait")
    updated = _data(shell("deploy", "--json"), "deploy")
    assert (updated["action"], updated["job"]) == ("updated", retrained)
    assert updated["previous_config"] == deployed["endpoint_config"] != updated["endpoint_config"]
    endpoint = _aws(moto_server, "sagemaker").describe_endpoint(EndpointName="nikkei-e2e")
    assert (endpoint["EndpointStatus"], endpoint["EndpointConfigName"]) == (
        "InService",
        updated["endpoint_config"],
    )
    assert ("UpdateEndpoint", {"name": "nikkei-e2e", "config": updated["endpoint_config"]}) in sm_script.calls

    shell("teardown", "--all", "--yes")

    sm = _aws(moto_server, "sagemaker")
    assert sm.list_endpoints()["Endpoints"] == []
    assert sm.list_endpoint_configs()["EndpointConfigs"] == []
    assert sm.list_models()["Models"] == []
    assert _aws(moto_server, "s3").list_buckets()["Buckets"] == []
    roles = _aws(moto_server, "iam").list_roles()["Roles"]
    assert [r["RoleName"] for r in roles if r["RoleName"].startswith("nikkei-deepar")] == []


def test_prepare_before_provision_as_the_issue_orders_it(shell: Run) -> None:
    shell("prepare", "--input", str(FIXTURE))
