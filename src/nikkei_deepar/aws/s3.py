"""S3 gateway: objects for the data channels and, for provision/teardown, the bucket itself.

Methods are named by intent; botocore errors are translated here (see aws/errors.py). "Not there" is a
normal answer for reads and deletions (None / {} / False), never an exception.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import botocore.exceptions as bx

from nikkei_deepar.aws.errors import DENIED, aws_errors, error_code, http_status
from nikkei_deepar.aws.session import AwsClients
from nikkei_deepar.errors import AwsError, BucketForbiddenError, NotFoundError

_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}
_PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


class ConditionFailed(AwsError):
    """A conditional write or delete whose condition did not hold (HTTP 412 PreconditionFailed, or 409
    ConditionalRequestConflict): someone else wrote the object first. Callers re-read and retry."""

    code = "condition-failed"


def _condition_failed(exc: Any) -> bool:
    return error_code(exc) in {"PreconditionFailed", "ConditionalRequestConflict"} or http_status(exc) == 412


def split_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


class S3Gateway:
    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients

    @property
    def client(self) -> Any:
        return self._clients.client("s3")

    def object_exists(self, bucket: str, key: str) -> bool:
        with aws_errors(f"checking s3://{bucket}/{key}"):
            try:
                self.client.head_object(Bucket=bucket, Key=key)
            except bx.ClientError as exc:
                if error_code(exc) in _MISSING:
                    if error_code(exc) == "NoSuchBucket":
                        raise _no_bucket(bucket) from None
                    return False
                raise
        return True

    def put_object(self, bucket: str, key: str, body: bytes, *, content_type: str) -> str:
        with aws_errors(f"uploading s3://{bucket}/{key}"):
            try:
                self.client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
            except bx.ClientError as exc:
                if error_code(exc) == "NoSuchBucket":
                    raise _no_bucket(bucket) from None
                raise
        return f"s3://{bucket}/{key}"

    def get_object(self, bucket: str, key: str) -> bytes:
        with aws_errors(f"downloading s3://{bucket}/{key}"):
            try:
                body: bytes = self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
            except bx.ClientError as exc:
                if error_code(exc) in _MISSING:
                    raise NotFoundError(f"s3://{bucket}/{key} does not exist") from None
                raise
        return body

    # -- conditional writes: shared state and leases ----------------------------------------------------
    def get_versioned_text(self, bucket: str, key: str) -> tuple[bytes, str] | None:
        """(body, ETag) of `key`, or None when it does not exist. A missing bucket is a NotFoundError."""
        with aws_errors(f"reading s3://{bucket}/{key}"):
            try:
                answer = self.client.get_object(Bucket=bucket, Key=key)
            except bx.ClientError as exc:
                if error_code(exc) == "NoSuchBucket":
                    raise _no_bucket(bucket) from None
                if error_code(exc) in _MISSING:
                    return None
                raise
            body: bytes = answer["Body"].read()
        return body, str(answer.get("ETag", ""))

    def put_if(
        self, bucket: str, key: str, body: bytes, *, etag: str | None, content_type: str = "application/json"
    ) -> str:
        """Write `key` only if it is still at `etag` (If-Match), or, with `etag` None, only if it does
        not exist (If-None-Match: "*"). Returns the new ETag; `ConditionFailed` when the condition does not
        hold (412), or when S3 answers 409 ConditionalRequestConflict to two conditional writes at once."""
        condition = {"IfNoneMatch": "*"} if etag is None else {"IfMatch": etag}
        with aws_errors(f"writing s3://{bucket}/{key}"):
            try:
                answer = self.client.put_object(
                    Bucket=bucket, Key=key, Body=body, ContentType=content_type, **condition
                )
            except bx.ClientError as exc:
                if _condition_failed(exc):
                    raise ConditionFailed(f"s3://{bucket}/{key} changed since it was read") from None
                if error_code(exc) == "NoSuchBucket":
                    raise _no_bucket(bucket) from None
                if etag is not None and error_code(exc) in _MISSING:  # If-Match on an object now gone
                    raise ConditionFailed(f"s3://{bucket}/{key} is gone since it was read") from None
                raise
        return str(answer.get("ETag", ""))

    def delete_if(self, bucket: str, key: str, *, etag: str) -> bool:
        """Delete `key` only if it is still at `etag`: True deleted, False already gone;
        `ConditionFailed` when it changed since."""
        with aws_errors(f"deleting s3://{bucket}/{key}"):
            try:
                self.client.delete_object(Bucket=bucket, Key=key, IfMatch=etag)
            except bx.ClientError as exc:
                if _condition_failed(exc):
                    raise ConditionFailed(f"s3://{bucket}/{key} changed since it was read") from None
                if error_code(exc) in _MISSING:
                    return False
                raise
        return True

    def keys_under(self, bucket: str, prefix: str) -> list[str]:
        """Every key under `prefix` (the current versions), in key order."""
        keys: list[str] = []
        with aws_errors(f"listing s3://{bucket}/{prefix}"):
            try:
                for page in self.client.get_paginator("list_objects_v2").paginate(
                    Bucket=bucket, Prefix=prefix
                ):
                    keys += [str(item["Key"]) for item in page.get("Contents", [])]
            except bx.ClientError as exc:
                if error_code(exc) == "NoSuchBucket":
                    raise _no_bucket(bucket) from None
                raise
        return keys

    # -- the bucket: existence and region -------------------------------------------------------------
    def bucket_region(self, bucket: str) -> str | None:
        """The region the bucket lives in, or None when no such bucket exists.

        A bucket that exists but answers 403 belongs to another account (or this caller may not list
        it): that is an error, with a message that says so."""
        with aws_errors(f"checking S3 bucket {bucket}"):
            try:
                found = self.client.head_bucket(Bucket=bucket)
            except bx.ClientError as exc:
                code, status = error_code(exc), http_status(exc)
                if code in _MISSING or status == 404:
                    return None
                if status == 403 or code in DENIED:
                    raise BucketForbiddenError(
                        f"S3 bucket {bucket!r} exists but this account cannot use it (it belongs to another "
                        "account, or your IAM policy denies s3:ListBucket on it)",
                        hint="choose another [aws] bucket (names are global), or get access to this one",
                    ) from None
                region = _region_header(exc.response)
                if region:  # 301: it exists, elsewhere
                    return region
                raise
            region = found.get("BucketRegion") or _region_header(found)
            if region:
                return str(region)
            location = self.client.get_bucket_location(Bucket=bucket).get("LocationConstraint")
        # GetBucketLocation answers None for us-east-1 and the legacy "EU" for eu-west-1.
        legacy = {"": "us-east-1", "EU": "eu-west-1"}
        return legacy.get(location or "", str(location))

    def create_bucket(self, bucket: str, *, region: str, tags: dict[str, str]) -> bool:
        """Create the bucket in `region` (no LocationConstraint in us-east-1, where AWS rejects one), tagged
        in the same request where the caller may (s3:TagResource); True when created now, False when this
        account already owned it."""
        request = create_bucket_request(bucket, region=region, tags=tags)
        config: dict[str, Any] = request["CreateBucketConfiguration"]
        with aws_errors(f"creating S3 bucket {bucket} in {region}"):
            try:
                try:
                    self.client.create_bucket(**request)
                except bx.ClientError as exc:
                    if error_code(exc) not in DENIED:
                        raise
                    # Tags on CreateBucket need s3:TagResource; older caller policies only have
                    # s3:PutBucketTagging, which provision uses right after creating the bucket anyway.
                    config.pop("Tags")
                    kwargs: dict[str, Any] = {"CreateBucketConfiguration": config} if config else {}
                    self.client.create_bucket(Bucket=bucket, **kwargs)
            except bx.ClientError as exc:
                code = error_code(exc)
                if code == "BucketAlreadyOwnedByYou":
                    return False
                if code == "BucketAlreadyExists":
                    raise AwsError(
                        f"S3 bucket name {bucket!r} is taken by another AWS account",
                        hint="bucket names are global: choose another [aws] bucket",
                        code="bucket-taken",
                    ) from None
                raise
        return True

    # -- bucket settings: reads answer None when the setting is absent ------------------------------------
    def _read(self, bucket: str, what: str, call: Callable[[], Any], absent: set[str]) -> Any:
        """One bucket-setting read; None when AWS answers with one of the `absent` codes."""
        with aws_errors(f"reading the {what} of S3 bucket {bucket}"):
            try:
                return call()
            except bx.ClientError as exc:
                if error_code(exc) in absent:
                    return None
                if error_code(exc) == "NoSuchBucket":
                    raise _no_bucket(bucket) from None
                raise

    def public_access_block(self, bucket: str) -> dict[str, bool] | None:
        found = self._read(
            bucket,
            "public access block",
            lambda: self.client.get_public_access_block(Bucket=bucket),
            {"NoSuchPublicAccessBlockConfiguration"},
        )
        return None if found is None else dict(found["PublicAccessBlockConfiguration"])

    def block_public_access(self, bucket: str) -> None:
        with aws_errors(f"blocking public access to S3 bucket {bucket}"):
            self.client.put_public_access_block(**public_access_block_request(bucket))

    @staticmethod
    def public_access_blocked(config: dict[str, bool] | None) -> bool:
        return config is not None and all(config.get(k) for k in _PUBLIC_ACCESS_BLOCK)

    def default_encryption(self, bucket: str) -> dict[str, Any] | None:
        """`{"SSEAlgorithm": "AES256"|"aws:kms"|..., "KMSMasterKeyID": ...}` of the first rule, or None."""
        found = self._read(
            bucket,
            "default encryption",
            lambda: self.client.get_bucket_encryption(Bucket=bucket),
            {"ServerSideEncryptionConfigurationNotFoundError"},
        )
        if found is None:
            return None
        rules = found.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
        if not rules:
            return None
        return dict(rules[0].get("ApplyServerSideEncryptionByDefault", {}))

    def set_default_encryption(self, bucket: str, *, kms_key: str | None) -> None:
        """SSE-KMS with the key (and an S3 Bucket Key, which cuts KMS request costs) or SSE-S3."""
        with aws_errors(f"setting the default encryption of S3 bucket {bucket}"):
            self.client.put_bucket_encryption(**encryption_request(bucket, kms_key=kms_key))

    def versioning(self, bucket: str) -> str | None:
        """ "Enabled", "Suspended", or None (never enabled)."""
        found = self._read(
            bucket,
            "versioning",
            lambda: self.client.get_bucket_versioning(Bucket=bucket),
            set(),
        )
        status = (found or {}).get("Status")
        return None if status is None else str(status)

    def enable_versioning(self, bucket: str) -> None:
        with aws_errors(f"enabling versioning of S3 bucket {bucket}"):
            self.client.put_bucket_versioning(**versioning_request(bucket))

    def bucket_policy(self, bucket: str) -> dict[str, Any] | None:
        import json

        found = self._read(
            bucket,
            "policy",
            lambda: self.client.get_bucket_policy(Bucket=bucket),
            {"NoSuchBucketPolicy"},
        )
        if found is None:
            return None
        policy: dict[str, Any] = json.loads(found["Policy"])
        return policy

    def put_bucket_policy(self, bucket: str, policy: dict[str, Any]) -> None:
        with aws_errors(f"writing the policy of S3 bucket {bucket}"):
            self.client.put_bucket_policy(**bucket_policy_request(bucket, policy))

    def bucket_created(self, bucket: str) -> dt.datetime | None:
        """When this account created `bucket` (ListBuckets' CreationDate); None if it lists no such bucket."""
        with aws_errors("listing S3 buckets"):
            pages = self.client.get_paginator("list_buckets").paginate(Prefix=bucket)
            for page in pages:
                for found in page.get("Buckets", []):
                    if found.get("Name") == bucket and isinstance(found.get("CreationDate"), dt.datetime):
                        when: dt.datetime = found["CreationDate"]
                        return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
        return None

    def bucket_tags(self, bucket: str) -> dict[str, str]:
        found = self._read(
            bucket,
            "tags",
            lambda: self.client.get_bucket_tagging(Bucket=bucket),
            {"NoSuchTagSet", "NoSuchTagSetError"},
        )
        return {t["Key"]: t["Value"] for t in (found or {}).get("TagSet", [])}

    def put_bucket_tags(self, bucket: str, tags: dict[str, str]) -> None:
        """Replaces the whole tag set (S3 has no partial update): pass the merged tags."""
        with aws_errors(f"tagging S3 bucket {bucket}"):
            self.client.put_bucket_tagging(**tagging_request(bucket, tags))

    # -- a write probe on a bucket the tool does not own -------------------------------------------------
    def probe_write(self, bucket: str, prefix: str) -> None:
        """Write a tiny object under `prefix/` and delete it again (that very version, so a versioned bucket
        keeps no trace). Raises AwsError (access denied, ...) when the caller cannot write there."""
        key = f"{prefix}/.nikkei-deepar-write-probe-{uuid.uuid4().hex[:12]}"
        with aws_errors(f"writing a probe object to s3://{bucket}/{prefix}/"):
            put = self.client.put_object(Bucket=bucket, Key=key, Body=b"", ContentType="text/plain")
        with aws_errors(f"deleting the probe object s3://{bucket}/{key}"):
            version = put.get("VersionId")
            if version and version != "null":
                try:
                    self.client.delete_object(Bucket=bucket, Key=key, VersionId=version)
                    return
                except bx.ClientError as exc:
                    if error_code(exc) not in DENIED:
                        raise
            self.client.delete_object(Bucket=bucket, Key=key)

    # -- emptying and deleting ---------------------------------------------------------------------------
    def empty_bucket(
        self, bucket: str, *, prefix: str = "", on_progress: Callable[[int], None] | None = None
    ) -> int:
        """Delete every object version and delete marker (under `prefix`, when given), and abort
        unfinished multipart uploads there. Returns how many versions and markers were deleted (0 when
        the bucket is already gone)."""
        deleted = 0
        where = f"s3://{bucket}/{prefix}" if prefix else f"S3 bucket {bucket}"
        with aws_errors(f"emptying {where}"):
            try:
                uploads = self.client.get_paginator("list_multipart_uploads")
                for page in uploads.paginate(Bucket=bucket, Prefix=prefix):
                    for upload in page.get("Uploads", []):
                        self.client.abort_multipart_upload(
                            Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                # Always re-list from the start: deleting invalidates the pagination markers. A page holds
                # at most 1000 versions + markers, exactly DeleteObjects' limit.
                while True:
                    page = self.client.list_object_versions(Bucket=bucket, Prefix=prefix, MaxKeys=1000)
                    batch = [
                        {"Key": v["Key"], "VersionId": v["VersionId"]}
                        for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
                    ]
                    if not batch:
                        break
                    deleted += self._delete_versions(bucket, batch[:1000])
                    if on_progress is not None:
                        on_progress(deleted)
            except bx.ClientError as exc:
                if error_code(exc) == "NoSuchBucket":
                    return deleted
                raise
        return deleted

    def keys_outside(self, bucket: str, prefix: str, *, limit: int = 3) -> tuple[int, list[str]]:
        """How many object versions and delete markers are NOT under `prefix` (all of them counted), and
        up to `limit` of their keys (for a message). (0, []) when the bucket is gone."""
        count, shown = 0, list[str]()
        with aws_errors(f"listing S3 bucket {bucket}"):
            try:
                for page in self.client.get_paginator("list_object_versions").paginate(Bucket=bucket):
                    for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                        key = str(item["Key"])
                        if not key.startswith(prefix):
                            count += 1
                            if len(shown) < limit and key not in shown:
                                shown.append(key)
            except bx.ClientError as exc:
                if error_code(exc) == "NoSuchBucket":
                    return 0, []
                raise
        return count, shown

    def _delete_versions(self, bucket: str, versions: list[dict[str, str]]) -> int:
        if not versions:
            return 0
        answer = self.client.delete_objects(Bucket=bucket, Delete={"Objects": versions, "Quiet": True})
        errors = answer.get("Errors", [])
        if errors:
            first = errors[0]
            raise AwsError(
                f"emptying S3 bucket {bucket}: {len(errors)} object versions could not be deleted "
                f"(first: {first.get('Key')}: {first.get('Code')})",
                hint="check the s3:DeleteObjectVersion permission and Object Lock settings, then run "
                "teardown again",
                code="aws-error",
            )
        return len(versions)

    def delete_bucket(self, bucket: str) -> bool:
        """True when deleted now, False when it was already gone. The bucket must be empty."""
        with aws_errors(f"deleting S3 bucket {bucket}"):
            try:
                self.client.delete_bucket(Bucket=bucket)
            except bx.ClientError as exc:
                if error_code(exc) == "NoSuchBucket":
                    return False
                raise
        return True


def _region_header(response: Any) -> str | None:
    headers = (response or {}).get("ResponseMetadata", {}).get("HTTPHeaders", {})
    region = headers.get("x-amz-bucket-region")
    return str(region) if region else None


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


# -- the requests provision sends, built here so the request plan checks exactly these -------------------
def create_bucket_request(bucket: str, *, region: str, tags: dict[str, str]) -> dict[str, Any]:
    """CreateBucket in `region` (no LocationConstraint in us-east-1, where AWS rejects one), tagged."""
    config: dict[str, Any] = {"Tags": _tag_list(tags)}
    if region != "us-east-1":
        config["LocationConstraint"] = region
    return {"Bucket": bucket, "CreateBucketConfiguration": config}


def public_access_block_request(bucket: str) -> dict[str, Any]:
    return {"Bucket": bucket, "PublicAccessBlockConfiguration": dict(_PUBLIC_ACCESS_BLOCK)}


def encryption_request(bucket: str, *, kms_key: str | None) -> dict[str, Any]:
    if kms_key:
        rule: dict[str, Any] = {
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key},
            "BucketKeyEnabled": True,
        }
    else:
        rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    return {"Bucket": bucket, "ServerSideEncryptionConfiguration": {"Rules": [rule]}}


def versioning_request(bucket: str) -> dict[str, Any]:
    return {"Bucket": bucket, "VersioningConfiguration": {"Status": "Enabled"}}


def bucket_policy_request(bucket: str, policy: dict[str, Any]) -> dict[str, Any]:
    import json

    return {"Bucket": bucket, "Policy": json.dumps(policy)}


def tagging_request(bucket: str, tags: dict[str, str]) -> dict[str, Any]:
    return {"Bucket": bucket, "Tagging": {"TagSet": _tag_list(tags)}}


def _no_bucket(bucket: str) -> NotFoundError:
    return NotFoundError(
        f"S3 bucket {bucket!r} does not exist",
        hint="run `nikkei-deepar provision` to create it, or fix [aws] bucket",
    )


Gateway = S3Gateway  # the name before gateways were typed; prefer S3Gateway
