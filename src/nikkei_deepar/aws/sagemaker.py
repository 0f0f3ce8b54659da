"""SageMaker gateway: training jobs, models, endpoint configs, endpoints, transform jobs.

Methods are named by intent. "Not found" is a normal answer here (None / False), never an exception,
because teardown and drift checks treat a missing resource as already gone.
"""

from __future__ import annotations

from typing import Any

from nikkei_deepar.aws.errors import aws_errors, error_code, error_message
from nikkei_deepar.aws.session import AwsClients


def is_not_found(exc: Any) -> bool:
    """SageMaker reports missing things as ValidationException 'Could not find ...' (or ResourceNotFound)."""
    code = error_code(exc)
    if code in {"ResourceNotFound", "ResourceNotFoundException", "NotFound"}:
        return True
    message = error_message(exc).lower()
    return code == "ValidationException" and ("could not find" in message or "does not exist" in message)


class Gateway:
    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients

    @property
    def client(self) -> Any:
        return self._clients.client("sagemaker")

    # -- lookups used by teardown / status -------------------------------------------------------
    def _describe(self, operation: str, key: str, name: str) -> dict[str, Any] | None:
        import botocore.exceptions as bx

        with aws_errors(f"describing {key} {name}"):
            try:
                result: dict[str, Any] = getattr(self.client, operation)(**{key: name})
            except bx.ClientError as exc:
                if is_not_found(exc):
                    return None
                raise
        return result

    def describe_endpoint(self, name: str) -> dict[str, Any] | None:
        return self._describe("describe_endpoint", "EndpointName", name)

    def describe_endpoint_config(self, name: str) -> dict[str, Any] | None:
        return self._describe("describe_endpoint_config", "EndpointConfigName", name)

    def describe_model(self, name: str) -> dict[str, Any] | None:
        return self._describe("describe_model", "ModelName", name)

    def arn_of(self, kind: str, name: str) -> str | None:
        """The ARN of an existing model / endpoint-config / endpoint, or None when it does not exist."""
        if kind == "endpoint":
            found = self.describe_endpoint(name)
            return None if found is None else str(found["EndpointArn"])
        if kind == "endpoint-config":
            found = self.describe_endpoint_config(name)
            return None if found is None else str(found["EndpointConfigArn"])
        if kind == "model":
            found = self.describe_model(name)
            return None if found is None else str(found["ModelArn"])
        raise ValueError(f"unknown SageMaker resource kind {kind!r}")

    def tags_of(self, arn: str) -> dict[str, str]:
        import botocore.exceptions as bx

        with aws_errors(f"listing tags of {arn}"):
            tags: dict[str, str] = {}
            try:
                paginator = self.client.get_paginator("list_tags")
                for page in paginator.paginate(ResourceArn=arn):
                    for tag in page.get("Tags", []):
                        tags[tag["Key"]] = tag["Value"]
            except bx.ClientError as exc:
                if is_not_found(exc):
                    return {}
                raise
        return tags

    # -- deletions: True when deleted now, False when it was already gone -------------------------
    def _delete(self, operation: str, key: str, name: str) -> bool:
        import botocore.exceptions as bx

        with aws_errors(f"deleting {key.removesuffix('Name').lower()} {name}"):
            try:
                getattr(self.client, operation)(**{key: name})
            except bx.ClientError as exc:
                if is_not_found(exc):
                    return False
                raise
        return True

    def delete_endpoint(self, name: str) -> bool:
        return self._delete("delete_endpoint", "EndpointName", name)

    def delete_endpoint_config(self, name: str) -> bool:
        return self._delete("delete_endpoint_config", "EndpointConfigName", name)

    def delete_model(self, name: str) -> bool:
        return self._delete("delete_model", "ModelName", name)
