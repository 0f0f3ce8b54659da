"""CloudWatch Logs gateway against moto: a training job's streams, read incrementally, paginated."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from nikkei_deepar.aws.logs import TRAINING_LOG_GROUP, Gateway
from nikkei_deepar.aws.session import AwsClients
from nikkei_deepar.errors import AwsError
from sagemaker_script import REGION, inject_error, put_training_logs

JOB = "nikkei-deepar-20250101-000000-abcd"


@pytest.fixture
def logs(aws: None) -> Iterator[tuple[Gateway, Any]]:
    gateway = Gateway(AwsClients(region=REGION, profile=None, max_attempts=1))
    yield gateway, boto3.client("logs", region_name=REGION)


def test_no_group_yet_is_no_events(logs: tuple[Gateway, Any]) -> None:
    gateway, _ = logs
    assert gateway.training_job_events(JOB, positions={}) == ([], {})


def test_group_without_the_jobs_streams_is_no_events(logs: tuple[Gateway, Any]) -> None:
    gateway, client = logs
    put_training_logs(client, "another-job", ["hello"])
    events, positions = gateway.training_job_events(JOB, positions={})
    assert events == []
    assert positions == {}


def test_events_arrive_once_in_order_across_calls(logs: tuple[Gateway, Any]) -> None:
    gateway, client = logs
    put_training_logs(
        client, JOB, ["Arguments: train", "#progress_metric: host=algo-1, completed 50 % of epochs"]
    )
    first, positions = gateway.training_job_events(JOB, positions={})
    assert [e.message for e in first] == [
        "Arguments: train",
        "#progress_metric: host=algo-1, completed 50 % of epochs",
    ]
    assert first[0].stream == f"{JOB}/algo-1-1700000000"
    again, positions = gateway.training_job_events(JOB, positions=positions)
    assert again == []
    put_training_logs(client, JOB, ["#test_score (algo-1, RMSE): 412.5"], offset_ms=5_000)
    later, _ = gateway.training_job_events(JOB, positions=positions)
    assert [e.message for e in later] == ["#test_score (algo-1, RMSE): 412.5"]


def test_two_instances_are_merged_by_time(logs: tuple[Gateway, Any]) -> None:
    gateway, client = logs
    put_training_logs(client, JOB, ["a1", "a2"], stream_suffix="algo-1-1")
    put_training_logs(client, JOB, ["b1"], stream_suffix="algo-2-1", offset_ms=5)
    events, positions = gateway.training_job_events(JOB, positions={})
    assert [e.message for e in events] == ["a1", "b1", "a2"]
    assert set(positions) == {f"{JOB}/algo-1-1", f"{JOB}/algo-2-1"}


def test_a_long_stream_is_read_page_by_page(logs: tuple[Gateway, Any]) -> None:
    gateway, client = logs
    lines = [f"line {i}" for i in range(25)]
    put_training_logs(client, JOB, lines)
    calls: list[dict[str, Any]] = []
    real = gateway.client.get_log_events

    def paged(**kwargs: Any) -> Any:  # pages of 10, as a busy real stream would come back
        calls.append(kwargs)
        return real(limit=10, **kwargs)

    gateway.client.get_log_events = paged
    events, _ = gateway.training_job_events(JOB, positions={})
    assert [e.message for e in events] == lines
    assert len(calls) >= 3
    assert all(call["startFromHead"] for call in calls)


def test_access_denied_is_an_aws_error(logs: tuple[Gateway, Any]) -> None:
    gateway, _ = logs
    inject_error(gateway.client, "DescribeLogStreams", "AccessDeniedException", "not allowed", status=400)
    with pytest.raises(AwsError, match="access denied"):
        gateway.stream_names(TRAINING_LOG_GROUP, prefix=f"{JOB}/")
