"""The expiry schedule gateway against moto's EventBridge Scheduler (which stores schedules, runs none)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest

from nikkei_deepar.aws.scheduler import (
    SchedulerGateway,
    at_expression,
    expiry_schedule_name,
    parse_at_expression,
)
from nikkei_deepar.aws.session import AwsClients
from nikkei_deepar.errors import AwsError

REGION = "ap-northeast-1"
ROLE = "arn:aws:iam::123456789012:role/nikkei-deepar-scheduler"
WHEN = dt.datetime(2030, 1, 2, 3, 4, 59, tzinfo=dt.UTC)


@pytest.fixture
def clients(aws: None) -> Iterator[AwsClients]:
    yield AwsClients(region=REGION, profile=None, max_attempts=1)


@pytest.fixture
def scheduler(clients: AwsClients) -> SchedulerGateway:
    return SchedulerGateway(clients)


def test_at_expression_is_utc_to_the_minute() -> None:
    assert at_expression(WHEN) == "at(2030-01-02T03:04:00)"
    tokyo = WHEN.astimezone(dt.timezone(dt.timedelta(hours=9)))
    assert at_expression(tokyo) == "at(2030-01-02T03:04:00)"
    assert parse_at_expression("at(2030-01-02T03:04:00)") == WHEN.replace(second=0)
    assert parse_at_expression("at(2030-01-02T03:04:00)", "Asia/Tokyo") is None
    assert parse_at_expression("rate(1 day)") is None


def test_schedule_names_fit_the_api() -> None:
    assert expiry_schedule_name("nikkei-deepar") == "nikkei-deepar-expiry"
    assert len(expiry_schedule_name("e" * 50)) <= 64


def test_create_then_read_back_the_whole_definition(scheduler: SchedulerGateway, clients: AwsClients) -> None:
    assert scheduler.get_expiry("nikkei-deepar-expiry") is None
    assert (
        scheduler.put_expiry(
            "nikkei-deepar-expiry", endpoint="nikkei-deepar", at=WHEN, role_arn=ROLE, region=REGION
        )
        == "created"
    )
    raw = clients.client("scheduler").get_schedule(Name="nikkei-deepar-expiry")
    assert raw["ScheduleExpression"] == "at(2030-01-02T03:04:00)"
    assert raw["ScheduleExpressionTimezone"] == "UTC"
    assert raw["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert raw["ActionAfterCompletion"] == "DELETE"
    assert raw["Target"]["Arn"] == "arn:aws:scheduler:::aws-sdk:sagemaker:deleteEndpoint"
    assert json.loads(raw["Target"]["Input"]) == {"EndpointName": "nikkei-deepar"}
    assert raw["Target"]["RoleArn"] == ROLE

    expiry = scheduler.get_expiry("nikkei-deepar-expiry")
    assert expiry is not None
    assert expiry.at == WHEN.replace(second=0)
    assert expiry.endpoint == "nikkei-deepar" and expiry.role_arn == ROLE
    assert expiry.deletes("nikkei-deepar", region=REGION)
    assert not expiry.deletes("another", region=REGION)
    assert not expiry.deletes("nikkei-deepar", region="cn-north-1")  # another partition's target


def test_put_again_moves_the_time(scheduler: SchedulerGateway) -> None:
    scheduler.put_expiry("x-expiry", endpoint="x", at=WHEN, role_arn=ROLE, region=REGION)
    later = WHEN + dt.timedelta(hours=6)
    assert scheduler.put_expiry("x-expiry", endpoint="x", at=later, role_arn=ROLE, region=REGION) == "updated"
    expiry = scheduler.get_expiry("x-expiry")
    assert expiry is not None and expiry.at == later.replace(second=0)
    assert expiry.target_arn.endswith(":sagemaker:deleteEndpoint")


def test_delete_is_idempotent(scheduler: SchedulerGateway) -> None:
    scheduler.put_expiry("y-expiry", endpoint="y", at=WHEN, role_arn=ROLE, region=REGION)
    assert scheduler.delete_expiry("y-expiry") is True
    assert scheduler.delete_expiry("y-expiry") is False
    assert scheduler.get_expiry("y-expiry") is None


def test_an_edited_schedule_is_not_mistaken_for_ours(
    scheduler: SchedulerGateway, clients: AwsClients
) -> None:
    clients.client("scheduler").create_schedule(
        Name="z-expiry",
        ScheduleExpression="rate(1 day)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": "arn:aws:scheduler:::aws-sdk:sagemaker:deleteEndpoint", "RoleArn": ROLE, "Input": "{"},
    )
    expiry = scheduler.get_expiry("z-expiry")
    assert expiry is not None
    assert expiry.at is None and expiry.endpoint is None
    assert not expiry.deletes("z", region=REGION)


def test_access_denied_is_a_one_line_aws_error(scheduler: SchedulerGateway, clients: AwsClients) -> None:
    from botocore.stub import Stubber

    with Stubber(clients.client("scheduler")) as stub:
        stub.add_client_error("create_schedule", "AccessDeniedException", "not allowed", 403)
        with pytest.raises(AwsError) as info:
            scheduler.put_expiry("d-expiry", endpoint="d", at=WHEN, role_arn=ROLE, region=REGION)
    assert info.value.code == "aws-access-denied"
    assert "scheduling the expiry of endpoint d" in info.value.message
