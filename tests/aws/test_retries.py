"""botocore's retry modes under injected faults: throttling that recovers, that does not, and 5xx.

Faults are injected with a `before-send` event handler that answers instead of the network, so the
real retry logic (standard mode, configured attempt count) runs; sleeps are real but tiny because
botocore's backoff for the first attempts is sub-second (attempts kept low).
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from nikkei_deepar.aws.session import AwsClients
from nikkei_deepar.errors import AwsError, ExitCode

REGION = "ap-northeast-1"


class Faults:
    """Answers the first `times` PutObject calls with `status`/`code`, then lets calls through."""

    def __init__(self, *, times: int, status: int, code: str) -> None:
        self.times = times
        self.status = status
        self.code = code
        self.calls = 0

    def __call__(self, request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        self.calls += 1
        if self.calls > self.times:
            return None
        body = (
            f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{self.code}</Code>"
            f"<Message>injected</Message><RequestId>r{self.calls}</RequestId></Error>"
        ).encode()

        class Raw:
            def stream(self, **_: Any) -> Any:
                yield body

        return AWSResponse(request.url, self.status, {"Content-Type": "application/xml"}, Raw())


def _gateway(max_attempts: int) -> Any:
    from nikkei_deepar.aws.s3 import Gateway

    clients = AwsClients(region=REGION, profile=None, retry_mode="standard", max_attempts=max_attempts)
    return Gateway(clients), clients


@pytest.fixture
def bucket(aws: None) -> str:
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket="retry-bucket", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    return "retry-bucket"


def test_throttling_that_recovers_is_invisible(bucket: str) -> None:
    gateway, clients = _gateway(max_attempts=4)
    faults = Faults(times=2, status=400, code="SlowDown")
    clients.client("s3").meta.events.register("before-send.s3.PutObject", faults)
    uri = gateway.put_object(bucket, "k.json", b"{}", content_type="application/json")
    assert uri == f"s3://{bucket}/k.json"
    assert faults.calls == 3  # two throttled attempts, then the real one
    assert gateway.get_object(bucket, "k.json") == b"{}"


def test_throttling_that_outlasts_the_retries_is_one_clear_error(bucket: str) -> None:
    gateway, clients = _gateway(max_attempts=3)
    faults = Faults(times=100, status=503, code="SlowDown")
    clients.client("s3").meta.events.register("before-send.s3.PutObject", faults)
    with pytest.raises(AwsError) as info:
        gateway.put_object(bucket, "k.json", b"{}", content_type="application/json")
    assert faults.calls == 3  # the configured attempt count, first one included
    assert info.value.exit_code == ExitCode.AWS
    assert "kept throttling" in info.value.message and "max_attempts" in (info.value.hint or "")
    assert info.value.code == "aws-throttled"


def test_server_errors_are_retried_then_reported(bucket: str) -> None:
    gateway, clients = _gateway(max_attempts=2)
    faults = Faults(times=100, status=500, code="InternalError")
    clients.client("s3").meta.events.register("before-send.s3.PutObject", faults)
    with pytest.raises(AwsError, match="HTTP 500") as info:
        gateway.put_object(bucket, "k.json", b"{}", content_type="application/json")
    assert faults.calls == 2
    assert info.value.code == "aws-unavailable"


def test_access_denied_is_not_retried(bucket: str) -> None:
    gateway, clients = _gateway(max_attempts=5)
    faults = Faults(times=100, status=403, code="AccessDenied")
    clients.client("s3").meta.events.register("before-send.s3.PutObject", faults)
    with pytest.raises(AwsError, match="access denied") as info:
        gateway.put_object(bucket, "k.json", b"{}", content_type="application/json")
    assert faults.calls == 1
    assert info.value.code == "aws-access-denied"


def test_no_credentials_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, bucket: str) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var)
    gateway, _ = _gateway(max_attempts=1)
    with pytest.raises(AwsError, match="no AWS credentials found") as info:
        gateway.object_exists(bucket, "k.json")
    assert info.value.exit_code == ExitCode.AWS


def test_unknown_profile_is_a_clear_error() -> None:
    clients = AwsClients(region=REGION, profile="nope", retry_mode="standard", max_attempts=1)
    with pytest.raises(AwsError, match="profile 'nope' not found"):
        clients.client("s3")
