"""`doctor` on endpoint expiry: the scheduler role, its trust, its policy and passing it to the scheduler."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from nikkei_deepar.errors import ExitCode
from nikkei_deepar.steps import doctor, provision
from sagemaker_script import make_context, settings_for

ENDPOINT = "nikkei-deepar-dev"  # the default {project}-{stage}
NAME = f"{ENDPOINT}-scheduler"


def _ctx(home: Path, **sections: Any) -> Any:
    return make_context(home, settings_for(**sections))


@pytest.fixture
def ctx(aws: None, hermetic_env: Path) -> Any:
    context = _ctx(hermetic_env)
    assert provision.run(context, dry_run=False).exit_code == 0
    return context


def _scheduler(result: doctor.DoctorResult) -> dict[str, doctor.Check]:
    return {c.name: c for c in result.checks if c.name.startswith("scheduler")}


def test_after_provision_everything_is_in_place(ctx: Any) -> None:
    checks = _scheduler(doctor.run(ctx))
    assert [n for n in checks] == [
        "scheduler-role",
        "scheduler-trust",
        "scheduler-policy",
        "scheduler-pass-role",
    ]
    assert checks["scheduler-role"].detail.endswith(f":role/{NAME} (created by nikkei-deepar)")
    assert checks["scheduler-policy"].detail == f"may delete endpoint {ENDPOINT}, nothing else"
    # moto has no policy simulator: a warning naming what the caller needs
    assert checks["scheduler-pass-role"].status == "warning"
    assert "iam:PassedToService = scheduler.amazonaws.com" in (checks["scheduler-pass-role"].fix or "")


def test_missing_role_is_exit_5_naming_provision(aws: None, hermetic_env: Path) -> None:
    ctx = _ctx(hermetic_env)
    provision.run(_ctx(hermetic_env, endpoint={"expires_after": "off"}), dry_run=False)  # no scheduler role
    result = doctor.run(ctx)
    [check] = result.problems
    assert (check.name, check.exit_code, check.code) == (
        "scheduler-role",
        ExitCode.NOT_FOUND,
        "scheduler-role-missing",
    )
    assert "nikkei-deepar provision" in (check.fix or "")


def test_not_needed_when_nothing_expires(aws: None, hermetic_env: Path) -> None:
    ctx = _ctx(hermetic_env, endpoint={"expires_after": "off"})
    provision.run(ctx, dry_run=False)
    checks = _scheduler(doctor.run(ctx))
    assert [(c.name, c.status) for c in checks.values()] == [("scheduler-role", "skipped")]


def test_a_policy_for_another_endpoint_is_a_problem(ctx: Any, hermetic_env: Path) -> None:
    # the config names the role, then the endpoint changes: the role's policy still names the old one
    result = doctor.run(_ctx(hermetic_env, aws={"scheduler_role_name": NAME}, endpoint={"name": "renamed"}))
    [check] = result.problems
    assert (check.name, check.code) == ("scheduler-policy", "scheduler-policy")
    assert "could not delete endpoint renamed" in check.detail


def test_a_role_that_does_not_trust_the_scheduler(ctx: Any) -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    boto3.client("iam").update_assume_role_policy(RoleName=NAME, PolicyDocument=json.dumps(trust))
    [check] = doctor.run(ctx).problems
    assert (check.name, check.exit_code) == ("scheduler-trust", ExitCode.USAGE)
    assert check.fix == "run `nikkei-deepar provision`: it creates (or restores) it"
