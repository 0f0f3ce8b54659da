"""IAM and STS gateways against moto in-process."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from nikkei_deepar.aws.iam import Gateway
from nikkei_deepar.aws.session import AwsClients
from nikkei_deepar.aws.sts import Gateway as StsGateway
from nikkei_deepar.backends.sagemaker.policy import execution_policy, same_policy, trust_policy
from nikkei_deepar.errors import AwsError

TRUST = trust_policy(account="123456789012", region="ap-northeast-1")
TAGS = {"project": "nikkei-deepar", "stage": "test", "managed-by": "nikkei-deepar"}


@pytest.fixture
def clients(aws: None) -> Iterator[AwsClients]:
    yield AwsClients(region="ap-northeast-1", profile=None, max_attempts=1)


@pytest.fixture
def iam(clients: AwsClients) -> Gateway:
    return Gateway(clients)


def test_account_id(clients: AwsClients) -> None:
    sts = StsGateway(clients)
    assert sts.account_id() == "123456789012"
    assert sts.caller_arn().startswith("arn:aws:sts::123456789012:")


def test_missing_role_is_none(iam: Gateway) -> None:
    assert iam.get_role("nope") is None
    assert iam.role_arn("nope") is None
    assert iam.role_tags("nope") == {}
    assert iam.inline_policy("nope", "p") is None
    assert iam.delete_role("nope") is False


def test_create_role_with_trust_and_tags(iam: Gateway) -> None:
    arn = iam.create_role("nd-role", trust_policy=TRUST, tags=TAGS, description="test role")
    assert arn == "arn:aws:iam::123456789012:role/nd-role"
    role = iam.get_role("nd-role")
    assert role is not None
    assert role.arn == arn == iam.role_arn("nd-role")
    assert same_policy(role.trust_policy, TRUST)
    assert role.tags == TAGS


def test_create_role_that_appeared_meanwhile(iam: Gateway) -> None:
    iam.create_role("nd-race", trust_policy=TRUST, tags={}, description="x")
    with pytest.raises(AwsError) as info:
        iam.create_role("nd-race", trust_policy=TRUST, tags={}, description="x")
    assert info.value.code == "aws-conflict"


def test_inline_policy_roundtrip_and_trust_update(iam: Gateway) -> None:
    iam.create_role("nd-role", trust_policy=TRUST, tags={}, description="x")
    doc = execution_policy(
        bucket="b-1", prefix="p", key_root="p/proj/dev", region="ap-northeast-1", account="123456789012"
    )
    iam.put_inline_policy("nd-role", "nd-policy", doc)  # moto validates the policy syntax
    assert same_policy(iam.inline_policy("nd-role", "nd-policy"), doc)
    assert iam.inline_policy("nd-role", "other") is None
    assert iam.inline_policy_names("nd-role") == ["nd-policy"]

    other = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    iam.update_trust_policy("nd-role", other)
    role = iam.get_role("nd-role")
    assert role is not None and same_policy(role.trust_policy, other)
    iam.tag_role("nd-role", {"a": "1"})
    assert iam.role_tags("nd-role") == {"a": "1"}


def test_delete_role_removes_inline_managed_and_instance_profiles(iam: Gateway) -> None:
    iam.create_role("nd-role", trust_policy=TRUST, tags=TAGS, description="x")
    iam.put_inline_policy(
        "nd-role",
        "one",
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}],
        },
    )
    managed = iam.client.create_policy(
        PolicyName="nd-managed",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"}],
            }
        ),
    )["Policy"]["Arn"]
    iam.client.attach_role_policy(RoleName="nd-role", PolicyArn=managed)
    iam.client.create_instance_profile(InstanceProfileName="nd-profile")
    iam.client.add_role_to_instance_profile(InstanceProfileName="nd-profile", RoleName="nd-role")
    with pytest.raises(Exception, match="DeleteConflict"):
        iam.client.delete_role(RoleName="nd-role")  # what delete_role must avoid

    assert iam.delete_role("nd-role") is True
    assert iam.get_role("nd-role") is None
    # the managed policy itself is not ours to delete: only detached
    assert iam.client.get_policy(PolicyArn=managed)["Policy"]["AttachmentCount"] == 0
    assert iam.delete_role("nd-role") is False
