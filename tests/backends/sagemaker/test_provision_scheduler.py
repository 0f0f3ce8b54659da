"""`provision` and the scheduler role (endpoint expiry), on moto: created least-privilege and recorded,
idempotent, drift fixed, a foreign role of that name checked and never changed, none when nothing
expires, and `teardown --all` deleting it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from nikkei_deepar.backends.sagemaker.policy import (
    SCHEDULER_POLICY_NAME,
    same_policy,
    scheduler_policy,
    scheduler_trust_policy,
)
from nikkei_deepar.context import Context
from nikkei_deepar.errors import ExitCode
from nikkei_deepar.steps import provision, teardown

REGION = "ap-northeast-1"
ACCOUNT = "123456789012"
ENDPOINT = "nikkei-deepar-test"  # the default {project}-{stage} of the tags below
NAME = f"{ENDPOINT}-scheduler"
MakeCtx = Callable[..., Context]


@pytest.fixture
def make(step_context: MakeCtx, aws: None) -> MakeCtx:
    def build(*, aws_extra: dict[str, Any] | None = None, **sections: Any) -> Context:
        aws_settings = {
            "region": REGION,
            "bucket": "nd-sched-bucket",
            "role_name": "nd-sched-exec",
            "max_attempts": 1,
            "tags": {"project": "nikkei-deepar", "stage": "test"},
            **(aws_extra or {}),
        }
        return step_context(aws=aws_settings, **sections)

    return build


def iamc() -> Any:
    return boto3.client("iam", region_name=REGION)


def items(result: provision.ProvisionResult) -> dict[str, str]:
    return {i.resource: i.action for i in result.items if i.resource.startswith("scheduler-role")}


def test_created_least_privilege_and_recorded(make: MakeCtx) -> None:
    ctx = make()
    result = provision.run(ctx, dry_run=False)
    assert result.exit_code == 0
    assert items(result) == {"scheduler-role": "create", "scheduler-role.inline-policy": "create"}
    role = iamc().get_role(RoleName=NAME)["Role"]
    assert same_policy(role["AssumeRolePolicyDocument"], scheduler_trust_policy(ACCOUNT))
    assert iamc().list_role_policies(RoleName=NAME)["PolicyNames"] == [SCHEDULER_POLICY_NAME]
    document = iamc().get_role_policy(RoleName=NAME, PolicyName=SCHEDULER_POLICY_NAME)["PolicyDocument"]
    assert same_policy(document, scheduler_policy(endpoint=ENDPOINT, region=REGION, account=ACCOUNT))
    assert iamc().list_attached_role_policies(RoleName=NAME)["AttachedPolicies"] == []
    tags = {t["Key"]: t["Value"] for t in iamc().list_role_tags(RoleName=NAME)["Tags"]}
    assert tags == {"project": "nikkei-deepar", "stage": "test", "managed-by": "nikkei-deepar"}
    recorded = ctx.state.load().resource("role", NAME)
    assert recorded is not None and recorded.arn == role["Arn"]
    assert (recorded.created, recorded.adopted, recorded.extra) == (
        True,
        False,
        {"purpose": "endpoint-expiry"},
    )
    assert result.to_data()["scheduler_role"] == NAME

    again = provision.run(make(), dry_run=False)
    assert items(again) == {
        "scheduler-role": "ok",
        "scheduler-role.trust-policy": "ok",
        "scheduler-role.inline-policy": "ok",
    }
    assert again.changes == []


def test_no_role_when_nothing_expires(make: MakeCtx) -> None:
    result = provision.run(make(endpoint={"expires_after": "off"}), dry_run=False)
    assert items(result) == {}
    serverless = provision.run(make(endpoint={"serverless": True}), dry_run=False)
    assert items(serverless) == {}
    assert NAME not in [r["RoleName"] for r in iamc().list_roles()["Roles"]]


def test_drift_is_fixed(make: MakeCtx) -> None:
    provision.run(make(), dry_run=False)
    iamc().update_assume_role_policy(
        RoleName=NAME,
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "scheduler.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )  # the aws:SourceAccount condition removed
    iamc().put_role_policy(
        RoleName=NAME,
        PolicyName=SCHEDULER_POLICY_NAME,
        PolicyDocument=json.dumps(scheduler_policy(endpoint="someone-elses", region=REGION, account=ACCOUNT)),
    )
    result = provision.run(make(), dry_run=False)
    assert items(result) == {
        "scheduler-role": "ok",
        "scheduler-role.trust-policy": "fix",
        "scheduler-role.inline-policy": "fix",
    }
    role = iamc().get_role(RoleName=NAME)["Role"]
    assert same_policy(role["AssumeRolePolicyDocument"], scheduler_trust_policy(ACCOUNT))
    document = iamc().get_role_policy(RoleName=NAME, PolicyName=SCHEDULER_POLICY_NAME)["PolicyDocument"]
    assert document["Statement"][0]["Resource"] == f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{ENDPOINT}"


def test_each_endpoint_has_its_own_role_unless_one_is_named(make: MakeCtx) -> None:
    provision.run(make(), dry_run=False)
    renamed = provision.run(make(endpoint={"name": "renamed"}), dry_run=False)
    assert items(renamed) == {"scheduler-role": "create", "scheduler-role.inline-policy": "create"}
    names = {r["RoleName"] for r in iamc().list_roles()["Roles"]}
    assert {NAME, "renamed-scheduler"} <= names  # a stage's endpoint never borrows another's role
    # a role named in the config follows the endpoint: its policy is rewritten for the new name
    named = {"scheduler_role_name": NAME}
    result = provision.run(make(aws_extra=named, endpoint={"name": "moved"}), dry_run=False)
    assert items(result)["scheduler-role.inline-policy"] == "fix"
    document = iamc().get_role_policy(RoleName=NAME, PolicyName=SCHEDULER_POLICY_NAME)["PolicyDocument"]
    assert document["Statement"][0]["Resource"].endswith(":endpoint/moved")


def _someones_role(name: str, service: str = "scheduler.amazonaws.com") -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }
    iamc().create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))


def test_someones_role_with_this_endpoints_default_name_is_refused_and_unchanged(make: MakeCtx) -> None:
    _someones_role(NAME)
    result = provision.run(make(), dry_run=False)
    assert result.exit_code == ExitCode.USAGE
    assert items(result) == {"scheduler-role": "problem"}
    assert (
        "this endpoint's default expiry role name) exists but is not created by nikkei-deepar"
        in (result.errors[0]["message"])
    )
    assert iamc().list_role_policies(RoleName=NAME)["PolicyNames"] == []  # never modified
    assert iamc().list_role_tags(RoleName=NAME)["Tags"] == []


@pytest.mark.parametrize(
    ("service", "expected", "code"),
    [("scheduler.amazonaws.com", "ok", 0), ("lambda.amazonaws.com", "problem", ExitCode.USAGE)],
)
def test_a_role_named_in_the_config_the_tool_did_not_make_is_used_as_it_is(
    make: MakeCtx, service: str, expected: str, code: int
) -> None:
    _someones_role("my-expiry-role", service)
    result = provision.run(make(aws_extra={"scheduler_role_name": "my-expiry-role"}), dry_run=False)
    assert result.exit_code == code
    assert items(result) == {
        "scheduler-role": "use",
        "scheduler-role.trust-policy": expected,
        "scheduler-role.permissions": "report",  # it may not delete the endpoint: said, not changed
    }
    assert iamc().list_role_policies(RoleName="my-expiry-role")["PolicyNames"] == []  # never modified


def test_teardown_all_deletes_it(make: MakeCtx) -> None:
    provision.run(make(), dry_run=False)
    result = teardown.run(make(), include_all=True, yes=True, dry_run=False)
    assert ("role", NAME, "delete") in [(i.kind, i.name, i.action) for i in result.items]
    assert NAME not in [r["RoleName"] for r in iamc().list_roles()["Roles"]]
