"""Endpoint expiry end to end: the installed executable against the moto server (which stores
EventBridge Scheduler schedules but runs none). A deploy leaves a schedule that deletes the endpoint,
as the scheduler role, at the right time; a redeploy moves it; teardown --all leaves no schedule and no
scheduler role. The two refusals (no scheduler role, the daily cost guard) are the tool's decisions and
run the same app in-process (`run_app`)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from e2e_shell import Run, project_shell
from sagemaker_script import ACCOUNT, REGION

pytestmark = pytest.mark.e2e

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "prices" / "long" / "nikkei_en.csv"
BUCKET = "nikkei-deepar-expiry-bucket"
ENDPOINT = "nikkei-expiry"
SCHEDULE = f"{ENDPOINT}-expiry"
SCHEDULER_ROLE = f"{ENDPOINT}-scheduler"
CONFIG = f"""
[aws]
region = "{REGION}"
bucket = "{BUCKET}"

[endpoint]
name = "{ENDPOINT}"
expires_after = "24h"
"""


@pytest.fixture
def shell(moto_server: str, tmp_path: Path) -> Run:
    return project_shell(moto_server, tmp_path, CONFIG, region=REGION)


@pytest.fixture
def in_process(moto_server: str, tmp_path: Path) -> Run:
    """The refusals below are the tool's decisions: the same app in this process (`run_app`)."""
    return project_shell(moto_server, tmp_path, CONFIG, region=REGION, in_process=True)


def _aws(server: str, service: str) -> Any:
    return boto3.client(service, region_name=REGION, endpoint_url=server)


def _at(expression: str) -> dt.datetime:
    assert expression.startswith("at(") and expression.endswith(")"), expression
    return dt.datetime.fromisoformat(expression[3:-1]).replace(tzinfo=dt.UTC)


def _near(when: dt.datetime, expected: dt.datetime) -> bool:
    """Within the minute the schedule is truncated to, plus the time the commands took."""
    return dt.timedelta(minutes=-2) <= when - expected <= dt.timedelta(minutes=1)


def test_deploy_schedules_the_deletion_redeploy_moves_it_teardown_removes_all(
    shell: Run, moto_server: str
) -> None:
    shell("provision")
    role_arn = _aws(moto_server, "iam").get_role(RoleName=SCHEDULER_ROLE)["Role"]["Arn"]
    assert role_arn == f"arn:aws:iam::{ACCOUNT}:role/{SCHEDULER_ROLE}"
    shell("prepare", "--input", str(FIXTURE))
    shell("train", "--wait")

    before = dt.datetime.now(dt.UTC)
    done = shell("deploy", "--json")
    deployed = json.loads(done.stdout)["data"]
    scheduler = _aws(moto_server, "scheduler")
    found = scheduler.get_schedule(Name=SCHEDULE)
    assert found["Target"]["Arn"] == "arn:aws:scheduler:::aws-sdk:sagemaker:deleteEndpoint"
    assert json.loads(found["Target"]["Input"]) == {"EndpointName": ENDPOINT}
    assert found["Target"]["RoleArn"] == role_arn
    assert (found["ScheduleExpressionTimezone"], found["ActionAfterCompletion"]) == ("UTC", "DELETE")
    first = _at(found["ScheduleExpression"])
    assert _near(first, before + dt.timedelta(hours=24))
    assert deployed["expiry"]["expires_at"] == first.isoformat()
    assert f"EventBridge Scheduler schedule {SCHEDULE}" in done.stderr

    # a redeploy (here: the same job, nothing else to change) moves it
    shell("deploy", "--expires-in", "3h")
    moved = _at(scheduler.get_schedule(Name=SCHEDULE)["ScheduleExpression"])
    assert _near(moved, dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)) and moved < first

    status = json.loads(shell("status", "--json").stdout)["data"]
    assert status["endpoint"]["expiry"]["expires_at"] == moved.isoformat()
    assert status["endpoint"]["expiry"]["enforced_by"] == SCHEDULE

    shell("teardown", "--all", "--yes")
    assert scheduler.list_schedules()["Schedules"] == []
    roles = [r["RoleName"] for r in _aws(moto_server, "iam").list_roles()["Roles"]]
    assert SCHEDULER_ROLE not in roles
    assert _aws(moto_server, "sagemaker").list_endpoints()["Endpoints"] == []


def test_deploy_without_the_scheduler_role_creates_nothing(in_process: Run, moto_server: str) -> None:
    shell = in_process
    shell("provision")
    iam = _aws(moto_server, "iam")
    iam.delete_role_policy(RoleName=SCHEDULER_ROLE, PolicyName="nikkei-deepar-expiry")
    iam.delete_role(RoleName=SCHEDULER_ROLE)
    shell("prepare", "--input", str(FIXTURE))
    shell("train", "--wait")
    done = shell("deploy", expect=5)
    assert f"IAM role '{SCHEDULER_ROLE}'" in done.stderr and "nikkei-deepar provision" in done.stderr
    assert _aws(moto_server, "sagemaker").list_endpoints()["Endpoints"] == []
    assert _aws(moto_server, "sagemaker").list_models()["Models"] == []


def test_the_daily_cost_guard_refuses_with_exit_2(in_process: Run, moto_server: str, tmp_path: Path) -> None:
    shell = in_process
    config = tmp_path / "project" / "nikkei-deepar.toml"
    config.write_text(CONFIG + "instance_count = 3\n\n[costs]\nmax_usd_per_day = 5.0\n", encoding="utf-8")
    shell("provision")
    shell("prepare", "--input", str(FIXTURE))
    shell("train", "--wait")
    done = shell("deploy", expect=2)
    # moto has no Price List API: the built-in table's price, which says so
    assert "deploy refused: the endpoint would cost about $10.73/day" in done.stderr
    assert "built-in approximate table as of 2025-01" in done.stderr
    assert _aws(moto_server, "sagemaker").list_endpoints()["Endpoints"] == []
    assert _aws(moto_server, "scheduler").list_schedules()["Schedules"] == []
