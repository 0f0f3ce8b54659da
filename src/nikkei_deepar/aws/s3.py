"""S3 gateway: objects for the data channels (and, in provision/teardown, the bucket itself).

Methods are named by intent; botocore errors are translated here (see aws/errors.py).
"""

from __future__ import annotations

from typing import Any

from nikkei_deepar.aws.errors import aws_errors, error_code
from nikkei_deepar.aws.session import AwsClients
from nikkei_deepar.errors import NotFoundError

_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


def split_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


class Gateway:
    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients

    @property
    def client(self) -> Any:
        return self._clients.client("s3")

    def object_exists(self, bucket: str, key: str) -> bool:
        import botocore.exceptions as bx

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
        import botocore.exceptions as bx

        with aws_errors(f"uploading s3://{bucket}/{key}"):
            try:
                self.client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
            except bx.ClientError as exc:
                if error_code(exc) == "NoSuchBucket":
                    raise _no_bucket(bucket) from None
                raise
        return f"s3://{bucket}/{key}"

    def get_object(self, bucket: str, key: str) -> bytes:
        import botocore.exceptions as bx

        with aws_errors(f"downloading s3://{bucket}/{key}"):
            try:
                body: bytes = self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
            except bx.ClientError as exc:
                if error_code(exc) in _MISSING:
                    raise NotFoundError(f"s3://{bucket}/{key} does not exist") from None
                raise
        return body


def _no_bucket(bucket: str) -> NotFoundError:
    return NotFoundError(
        f"S3 bucket {bucket!r} does not exist",
        hint="run `nikkei-deepar provision` to create it, or fix [aws] bucket",
    )
