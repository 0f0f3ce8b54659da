"""The generated policies, statement by statement: least privilege, nothing wildcarded that need not be."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nikkei_deepar.backends.sagemaker.policy import (
    canonical,
    execution_policy,
    has_tls_only,
    kms_key_arn,
    same_policy,
    tls_only_statement,
    trust_policy,
    trusts_sagemaker,
    with_tls_only,
)

ACCOUNT = "123456789012"
REGION = "ap-northeast-1"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"


def _policy(**kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "bucket": "my-bucket",
        "prefix": "nikkei",
        "key_root": "nikkei/proj/dev",
        "region": REGION,
        "account": ACCOUNT,
    }
    args.update(kw)
    return execution_policy(**args)


def _by_sid(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in doc["Statement"]}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_trust_policy_is_this_accounts_sagemaker_only() -> None:
    doc = trust_policy(account=ACCOUNT, region=REGION)
    assert doc["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": ACCOUNT},
                "ArnLike": {"aws:SourceArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:*"},
            },
        }
    ]
    assert trusts_sagemaker(doc)
    china = trust_policy(account=ACCOUNT, region="cn-north-1")["Statement"][0]["Condition"]
    assert china["ArnLike"]["aws:SourceArn"] == f"arn:aws-cn:sagemaker:cn-north-1:{ACCOUNT}:*"


@pytest.mark.parametrize(
    ("statement", "trusted"),
    [
        (
            {
                "Effect": "Allow",
                "Principal": {"Service": ["ec2.amazonaws.com", "sagemaker.amazonaws.com"]},
                "Action": ["sts:AssumeRole"],
            },
            True,
        ),
        (
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
            False,
        ),
        (
            {
                "Effect": "Deny",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
            },
            False,
        ),
        (
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "sts:AssumeRole",
            },
            False,
        ),
        (
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:TagSession",
            },
            False,
        ),
    ],
)
def test_trusts_sagemaker(statement: dict[str, Any], trusted: bool) -> None:
    assert trusts_sagemaker({"Version": "2012-10-17", "Statement": [statement]}) is trusted
    assert trusts_sagemaker({"Version": "2012-10-17", "Statement": statement}) is trusted


def test_no_wildcard_actions_anywhere() -> None:
    for doc in (_policy(), _policy(kms_key=KEY_ID)):
        for statement in doc["Statement"]:
            assert statement["Effect"] == "Allow"
            assert "NotAction" not in statement and "NotResource" not in statement
            for action in _list(statement["Action"]):
                assert "*" not in action, (statement["Sid"], action)
                assert ":" in action


def test_star_resource_only_where_aws_requires_it() -> None:
    doc = _policy(kms_key=KEY_ID)
    star = {s["Sid"]: _list(s["Action"]) for s in doc["Statement"] if "*" in _list(s["Resource"])}
    assert star == {"EcrLogin": ["ecr:GetAuthorizationToken"], "PublishMetrics": ["cloudwatch:PutMetricData"]}


def test_star_resource_statements_are_commented_in_the_source() -> None:
    from pathlib import Path

    import nikkei_deepar.backends.sagemaker.policy as module

    source = Path(module.__file__).read_text(encoding="utf-8")
    assert source.count('"Resource": "*"') == 2
    for action in ("ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"):
        assert f"# {action} supports no resource-level permissions" in source


def test_s3_statements_are_scoped_to_bucket_and_prefixes() -> None:
    sids = _by_sid(_policy())
    assert sids["ListOwnPrefix"] == {
        "Sid": "ListOwnPrefix",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": "arn:aws:s3:::my-bucket",
        "Condition": {"StringLike": {"s3:prefix": ["nikkei/*"]}},
    }
    assert sids["ReadInputs"]["Action"] == "s3:GetObject"
    assert sids["ReadInputs"]["Resource"] == [
        "arn:aws:s3:::my-bucket/nikkei/proj/dev/data/*",
        "arn:aws:s3:::my-bucket/nikkei/proj/dev/output/*",
        "arn:aws:s3:::my-bucket/nikkei/proj/dev/predict/*/input/*",
        "arn:aws:s3:::my-bucket/nikkei/data/*",  # before workspaces: readable, never written
        "arn:aws:s3:::my-bucket/nikkei/output/*",
    ]
    assert sids["WriteOutputs"]["Action"] == "s3:PutObject"
    assert sids["WriteOutputs"]["Resource"] == [  # this workspace's keys only
        "arn:aws:s3:::my-bucket/nikkei/proj/dev/output/*",
        "arn:aws:s3:::my-bucket/nikkei/proj/dev/predict/*/output/*",
    ]
    # every object resource lies under the prefix, and no statement grants the whole bucket's objects
    for statement in sids.values():
        for resource in _list(statement["Resource"]):
            if resource.startswith("arn:aws:s3:::my-bucket/"):
                assert resource.startswith("arn:aws:s3:::my-bucket/nikkei/"), resource
    # nothing else touches S3
    s3_actions = [a for s in sids.values() for a in _list(s["Action"]) if a.startswith("s3:")]
    assert sorted(s3_actions) == ["s3:GetObject", "s3:ListBucket", "s3:PutObject"]


def test_ecr_pull_is_scoped_to_the_regions_deepar_repository() -> None:
    pull = _by_sid(_policy())["PullDeepArImage"]
    assert sorted(pull["Action"]) == [
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
    ]
    assert pull["Resource"] == "arn:aws:ecr:ap-northeast-1:633353088612:repository/forecasting-deepar"
    us = _by_sid(_policy(region="us-east-1"))["PullDeepArImage"]
    assert us["Resource"] == "arn:aws:ecr:us-east-1:522234722520:repository/forecasting-deepar"


def test_logs_are_scoped_to_sagemaker_log_groups() -> None:
    logs = _by_sid(_policy())["WriteSageMakerLogs"]
    assert sorted(logs["Action"]) == [
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:DescribeLogStreams",
        "logs:PutLogEvents",
    ]
    assert logs["Resource"] == "arn:aws:logs:ap-northeast-1:123456789012:log-group:/aws/sagemaker/*"


def test_kms_only_when_a_key_is_configured() -> None:
    assert "UseConfiguredKmsKey" not in _by_sid(_policy())
    assert not any("kms:" in a for s in _policy()["Statement"] for a in _list(s["Action"]))
    kms = _by_sid(_policy(kms_key=KEY_ID))["UseConfiguredKmsKey"]
    assert sorted(kms["Action"]) == ["kms:CreateGrant", "kms:Decrypt", "kms:GenerateDataKey"]
    assert kms["Resource"] == f"arn:aws:kms:ap-northeast-1:123456789012:key/{KEY_ID}"
    assert "Condition" not in kms


def test_kms_alias_uses_the_resource_aliases_condition() -> None:
    kms = _by_sid(_policy(kms_key="alias/deepar"))["UseConfiguredKmsKey"]
    assert kms["Resource"] == "arn:aws:kms:ap-northeast-1:123456789012:key/*"
    assert kms["Condition"] == {"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/deepar"}}


@pytest.mark.parametrize(
    ("key", "arn"),
    [
        (KEY_ID, f"arn:aws:kms:ap-northeast-1:123456789012:key/{KEY_ID}"),
        ("mrk-" + "a" * 32, "arn:aws:kms:ap-northeast-1:123456789012:key/mrk-" + "a" * 32),
        (
            "arn:aws:kms:eu-west-1:111122223333:key/" + KEY_ID,
            "arn:aws:kms:eu-west-1:111122223333:key/" + KEY_ID,
        ),
        ("alias/x", "arn:aws:kms:ap-northeast-1:123456789012:alias/x"),
    ],
)
def test_kms_key_arn(key: str, arn: str) -> None:
    assert kms_key_arn(key, region=REGION, account=ACCOUNT) == arn


@pytest.mark.parametrize(
    "key", ["*", "arn:aws:kms:ap-northeast-1:123456789012:key/*", "alias/a?", "junk", "arn:aws:s3:::bucket"]
)
def test_a_key_that_would_widen_the_policy_is_refused(key: str) -> None:
    with pytest.raises(ValueError):
        kms_key_arn(key, region=REGION, account=ACCOUNT)


@pytest.mark.parametrize("prefix", ["*", "data/*", "a?b", "${aws:username}"])
def test_a_prefix_that_would_widen_the_policy_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError):
        execution_policy(bucket="b", prefix=prefix, key_root=f"{prefix}/p/s", region=REGION, account=ACCOUNT)


def test_china_partition_in_every_arn() -> None:
    doc = _policy(region="cn-north-1")
    for statement in doc["Statement"]:
        for resource in _list(statement["Resource"]):
            assert resource == "*" or resource.startswith("arn:aws-cn:"), resource


def test_statement_ids_and_size() -> None:
    doc = _policy(kms_key=KEY_ID)
    assert [s["Sid"] for s in doc["Statement"]] == [
        "ListOwnPrefix",
        "ReadInputs",
        "WriteOutputs",
        "PullDeepArImage",
        "EcrLogin",
        "WriteSageMakerLogs",
        "PublishMetrics",
        "UseConfiguredKmsKey",
    ]
    assert len(json.dumps(doc)) < 10_240  # IAM's limit for all inline policies of a role


def test_tls_only_statement() -> None:
    statement = tls_only_statement("my-bucket", region=REGION)
    assert statement == {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::my-bucket", "arn:aws:s3:::my-bucket/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def test_with_tls_only_keeps_other_statements() -> None:
    other = {
        "Sid": "Other",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::1:root"},
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::my-bucket/*",
    }
    edited = dict(tls_only_statement("my-bucket", region=REGION), Condition={})
    merged = with_tls_only(
        {"Version": "2012-10-17", "Statement": [other, edited]}, "my-bucket", region=REGION
    )
    assert merged["Statement"][0] == other
    assert merged["Statement"][1] == tls_only_statement("my-bucket", region=REGION)
    assert has_tls_only(merged, "my-bucket", region=REGION)
    assert not has_tls_only({"Statement": [other, edited]}, "my-bucket", region=REGION)
    assert not has_tls_only(None, "my-bucket", region=REGION)


def test_canonical_ignores_order_and_list_shape() -> None:
    a = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:B", "s3:A"], "Resource": "r"},
            {"Effect": "Allow", "Action": "s3:C", "Resource": ["r"], "Principal": {"Service": ["x"]}},
        ],
    }
    b = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:C", "Resource": "r", "Principal": {"Service": "x"}},
            {"Effect": "Allow", "Action": ["s3:A", "s3:B"], "Resource": ["r"]},
        ],
    }
    assert canonical(a) == canonical(b)
    assert same_policy(a, json.dumps(b))
    assert not same_policy(a, {"Statement": [{"Effect": "Allow", "Action": "s3:A", "Resource": "r"}]})
    assert same_policy(None, None) and not same_policy(a, None)
