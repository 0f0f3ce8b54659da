"""S3 gateway against moto in-process: bucket lifecycle, settings, the write probe, emptying, errors."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from nikkei_deepar.aws.s3 import Gateway
from nikkei_deepar.aws.session import AwsClients
from nikkei_deepar.errors import AwsError, NotFoundError

REGION = "ap-northeast-1"
TAGS = {"project": "nikkei-deepar", "stage": "test", "managed-by": "nikkei-deepar"}


class _Http:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}
        self.content = b""


def inject_error(
    client: Any, operation: str, code: str, status: int, *, when: Any = None
) -> list[dict[str, Any]]:
    """Make `operation` fail with `code` (every time, or when `when(params)` is true for the call's
    parameters); returns the parameters of every call, in order."""
    calls: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        calls.append(copy.deepcopy(params))

    def fail(**_: Any) -> Any:
        if when is not None and not when(calls[-1]):
            return None
        error = {"Code": code, "Message": f"injected {code}"}
        return _Http(status), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": status}}

    client.meta.events.register(f"before-parameter-build.s3.{operation}", record)
    client.meta.events.register(f"before-call.s3.{operation}", fail)
    return calls


@pytest.fixture
def s3(aws: None) -> Iterator[Gateway]:
    yield Gateway(AwsClients(region=REGION, profile=None, max_attempts=1))


def _versions(gw: Gateway, bucket: str) -> tuple[list[Any], list[Any]]:
    page = gw.client.list_object_versions(Bucket=bucket)
    return page.get("Versions", []), page.get("DeleteMarkers", [])


def test_create_in_tokyo_sets_location_constraint(s3: Gateway) -> None:
    calls = inject_error(s3.client, "CreateBucket", "unused", 500, when=lambda p: False)
    assert s3.create_bucket("nd-tokyo", region=REGION, tags=TAGS) is True
    assert calls[0]["CreateBucketConfiguration"]["LocationConstraint"] == REGION
    assert s3.bucket_region("nd-tokyo") == REGION
    assert s3.client.get_bucket_location(Bucket="nd-tokyo")["LocationConstraint"] == REGION


def test_create_in_us_east_1_has_no_location_constraint(aws: None) -> None:
    gw = Gateway(AwsClients(region="us-east-1", profile=None, max_attempts=1))
    calls = inject_error(gw.client, "CreateBucket", "unused", 500, when=lambda p: False)
    assert gw.create_bucket("nd-virginia", region="us-east-1", tags=TAGS) is True
    assert "LocationConstraint" not in calls[0].get("CreateBucketConfiguration", {})
    assert gw.bucket_region("nd-virginia") == "us-east-1"
    assert gw.client.get_bucket_location(Bucket="nd-virginia")["LocationConstraint"] is None


def test_create_twice_reports_already_owned(s3: Gateway) -> None:
    assert s3.create_bucket("nd-twice", region=REGION, tags=TAGS) is True
    assert s3.create_bucket("nd-twice", region=REGION, tags=TAGS) is False


def test_create_sends_tags_and_falls_back_without_tag_permission(s3: Gateway) -> None:
    calls = inject_error(
        s3.client,
        "CreateBucket",
        "AccessDenied",
        403,
        when=lambda p: "Tags" in p.get("CreateBucketConfiguration", {}),
    )
    assert s3.create_bucket("nd-notagperm", region=REGION, tags=TAGS) is True
    assert len(calls) == 2
    assert calls[0]["CreateBucketConfiguration"]["Tags"] == [{"Key": k, "Value": v} for k, v in TAGS.items()]
    assert calls[1]["CreateBucketConfiguration"] == {"LocationConstraint": REGION}


def test_name_taken_by_another_account(s3: Gateway) -> None:
    inject_error(s3.client, "CreateBucket", "BucketAlreadyExists", 409)
    with pytest.raises(AwsError) as info:
        s3.create_bucket("taken", region=REGION, tags=TAGS)
    assert info.value.code == "bucket-taken"
    assert "choose another" in (info.value.hint or "")


def test_bucket_region_missing_cross_region_and_forbidden(s3: Gateway) -> None:
    assert s3.bucket_region("nd-nothing-here") is None
    us = Gateway(AwsClients(region="us-east-1", profile=None, max_attempts=1))
    us.create_bucket("nd-in-virginia", region="us-east-1", tags={})
    assert s3.bucket_region("nd-in-virginia") == "us-east-1"
    inject_error(s3.client, "HeadBucket", "403", 403)
    with pytest.raises(AwsError) as info:
        s3.bucket_region("someone-elses")
    assert info.value.code == "bucket-forbidden"
    assert "cannot use it" in info.value.message


def test_settings_read_none_then_set(s3: Gateway) -> None:
    s3.client.create_bucket(Bucket="nd-settings", CreateBucketConfiguration={"LocationConstraint": REGION})
    assert s3.public_access_block("nd-settings") is None
    assert not s3.public_access_blocked(s3.public_access_block("nd-settings"))
    assert s3.versioning("nd-settings") is None
    assert s3.bucket_policy("nd-settings") is None
    assert s3.bucket_tags("nd-settings") == {}

    s3.block_public_access("nd-settings")
    assert s3.public_access_blocked(s3.public_access_block("nd-settings"))
    s3.enable_versioning("nd-settings")
    assert s3.versioning("nd-settings") == "Enabled"
    s3.set_default_encryption("nd-settings", kms_key=None)
    assert s3.default_encryption("nd-settings") == {"SSEAlgorithm": "AES256"}
    s3.set_default_encryption("nd-settings", kms_key="alias/deepar")
    assert s3.default_encryption("nd-settings") == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": "alias/deepar",
    }
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::nd-settings", "arn:aws:s3:::nd-settings/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
    s3.put_bucket_policy("nd-settings", policy)
    assert s3.bucket_policy("nd-settings") == policy
    s3.put_bucket_tags("nd-settings", TAGS)
    assert s3.bucket_tags("nd-settings") == TAGS


def test_setting_reads_on_a_missing_bucket_are_not_found(s3: Gateway) -> None:
    with pytest.raises(NotFoundError):
        s3.bucket_tags("nd-gone")


def test_probe_write_leaves_no_trace(s3: Gateway) -> None:
    for name, versioned in (("nd-probe-plain", False), ("nd-probe-versioned", True)):
        s3.client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
        if versioned:
            s3.enable_versioning(name)
        s3.probe_write(name, "some/prefix")
        assert _versions(s3, name) == ([], []), name


def test_probe_write_denied_is_an_aws_error(s3: Gateway) -> None:
    s3.client.create_bucket(
        Bucket="nd-probe-denied", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    inject_error(s3.client, "PutObject", "AccessDenied", 403)
    with pytest.raises(AwsError) as info:
        s3.probe_write("nd-probe-denied", "p")
    assert info.value.code == "aws-access-denied"
    assert "s3://nd-probe-denied/p/" in info.value.message


def test_empty_versioned_bucket_then_delete(s3: Gateway) -> None:
    bucket = "nd-versioned"
    s3.client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.enable_versioning(bucket)
    for i in range(3):
        s3.put_object(bucket, "p/a.json", f"v{i}".encode(), content_type="application/json")
    s3.put_object(bucket, "p/b.json", b"b", content_type="application/json")
    s3.client.delete_object(Bucket=bucket, Key="p/b.json")  # a delete marker over b's one version
    s3.client.delete_object(Bucket=bucket, Key="p/a.json")  # a marker over a's three versions
    s3.client.create_multipart_upload(Bucket=bucket, Key="p/unfinished")
    versions, markers = _versions(s3, bucket)
    assert (len(versions), len(markers)) == (4, 2)

    with pytest.raises(AwsError, match="BucketNotEmpty"):
        s3.delete_bucket(bucket)  # moto, like AWS, refuses while versions remain
    progress: list[int] = []
    assert s3.empty_bucket(bucket, on_progress=progress.append) == 6
    assert progress == [6]
    assert _versions(s3, bucket) == ([], [])
    assert s3.client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert s3.delete_bucket(bucket) is True
    assert s3.bucket_region(bucket) is None
    assert s3.delete_bucket(bucket) is False
    assert s3.empty_bucket(bucket) == 0


def test_empty_pages_past_one_thousand_versions(s3: Gateway) -> None:
    bucket = "nd-many"
    s3.client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.enable_versioning(bucket)
    # 1005 versions written into moto's store directly: through the client this set-up alone took ~9 s
    # (what is tested is the emptying, which goes through the client, 1000 keys per DeleteObjects at most)
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    store = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    for i in range(1005):
        store.put_object(bucket, f"k/{i % 3}", b"")
    sizes: list[int] = []
    s3.client.meta.events.register(
        "provide-client-params.s3.DeleteObjects",
        lambda params, **_: sizes.append(len(params["Delete"]["Objects"])),
    )
    assert s3.empty_bucket(bucket) == 1005
    assert sizes == [1000, 5]  # AWS refuses a DeleteObjects of more than 1000 keys (moto does not)
    assert _versions(s3, bucket) == ([], [])


def test_delete_objects_errors_are_reported(s3: Gateway) -> None:
    bucket = "nd-locked"
    s3.client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.client.put_object(Bucket=bucket, Key="x", Body=b"")

    def partial_failure(**_: Any) -> Any:
        return _Http(200), {"Errors": [{"Key": "x", "Code": "AccessDenied", "Message": "no"}]}

    s3.client.meta.events.register("before-call.s3.DeleteObjects", partial_failure)
    with pytest.raises(AwsError, match="1 object versions could not be deleted"):
        s3.empty_bucket(bucket)


def test_object_methods_unchanged(s3: Gateway) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        s3.object_exists("nd-objects", "k")
    s3.client.create_bucket(Bucket="nd-objects", CreateBucketConfiguration={"LocationConstraint": REGION})
    assert s3.object_exists("nd-objects", "k") is False
    assert s3.put_object("nd-objects", "k", b"body", content_type="text/plain") == "s3://nd-objects/k"
    assert s3.object_exists("nd-objects", "k") is True
    assert s3.get_object("nd-objects", "k") == b"body"
