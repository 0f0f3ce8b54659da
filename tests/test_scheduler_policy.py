"""The expiry role's documents, statement by statement: only EventBridge Scheduler of this account may
assume it, and it may delete this one endpoint and nothing else."""

from __future__ import annotations

from typing import Any

import pytest

from nikkei_deepar.backends.sagemaker.policy import (
    endpoint_arn,
    same_policy,
    scheduler_policy,
    scheduler_trust_policy,
    trust_policy,
    trusts_sagemaker,
    trusts_service,
)

ACCOUNT = "123456789012"


def test_trust_is_scheduler_only_and_limited_to_this_account() -> None:
    doc = scheduler_trust_policy(ACCOUNT)
    assert doc["Version"] == "2012-10-17"
    [statement] = doc["Statement"]
    assert statement == {
        "Effect": "Allow",
        "Principal": {"Service": "scheduler.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
    }
    assert trusts_service(doc, "scheduler.amazonaws.com")
    assert not trusts_sagemaker(doc)
    assert not trusts_service(
        trust_policy(account=ACCOUNT, region="ap-northeast-1"), "scheduler.amazonaws.com"
    )


def test_permission_is_delete_endpoint_on_this_endpoint_only() -> None:
    doc = scheduler_policy(endpoint="nikkei-deepar", region="ap-northeast-1", account=ACCOUNT)
    [statement] = doc["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sagemaker:DeleteEndpoint"
    assert statement["Resource"] == "arn:aws:sagemaker:ap-northeast-1:123456789012:endpoint/nikkei-deepar"
    assert "*" not in statement["Resource"]
    assert "Condition" not in statement and "NotAction" not in statement and "NotResource" not in statement


def test_endpoint_names_are_lowered_like_sagemaker_arns() -> None:
    # SageMaker reports endpoint/my-endpoint for an endpoint named My-Endpoint; IAM compares ARNs exactly.
    assert endpoint_arn("My-Endpoint", region="us-east-1", account=ACCOUNT).endswith(":endpoint/my-endpoint")


@pytest.mark.parametrize(
    ("region", "prefix"),
    [("cn-north-1", "arn:aws-cn:"), ("us-gov-west-1", "arn:aws-us-gov:"), ("eu-west-1", "arn:aws:")],
)
def test_partition_in_the_endpoint_arn(region: str, prefix: str) -> None:
    doc = scheduler_policy(endpoint="e", region=region, account=ACCOUNT)
    assert doc["Statement"][0]["Resource"].startswith(prefix + f"sagemaker:{region}:")


def test_another_endpoint_is_another_policy() -> None:
    a: dict[str, Any] = scheduler_policy(endpoint="a", region="us-east-1", account=ACCOUNT)
    b: dict[str, Any] = scheduler_policy(endpoint="b", region="us-east-1", account=ACCOUNT)
    assert not same_policy(a, b)
    assert same_policy(a, scheduler_policy(endpoint="a", region="us-east-1", account=ACCOUNT))
