"""SageMaker gateway: training jobs, models, endpoint configs, endpoints, transform jobs.

Methods are named by intent. "Not found" is a normal answer here (None / False), never an exception,
because teardown and drift checks treat a missing resource as already gone.
"""

from __future__ import annotations

from typing import Any

import botocore.exceptions as bx

from nikkei_deepar.aws.errors import aws_errors, error_code, error_message
from nikkei_deepar.aws.session import AwsClients
from nikkei_deepar.errors import NotFoundError, UsageError


def is_not_found(exc: Any) -> bool:
    """SageMaker reports missing things as ValidationException 'Could not find ...' (or ResourceNotFound)."""
    code = error_code(exc)
    if code in {"ResourceNotFound", "ResourceNotFoundException", "NotFound"}:
        return True
    message = error_message(exc).lower()
    return code == "ValidationException" and ("could not find" in message or "does not exist" in message)


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """{"k": "v"} -> [{"Key": "k", "Value": "v"}], as every SageMaker Create* call takes them."""
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def create_endpoint_request(name: str, *, config_name: str, tags: dict[str, str]) -> dict[str, Any]:
    return {"EndpointName": name, "EndpointConfigName": config_name, "Tags": tag_list(tags)}


def update_endpoint_request(name: str, *, config_name: str) -> dict[str, Any]:
    return {"EndpointName": name, "EndpointConfigName": config_name}


class SageMakerGateway:
    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients

    @property
    def client(self) -> Any:
        return self._clients.client("sagemaker")

    # -- training jobs ---------------------------------------------------------------------------
    def create_training_job(self, request: dict[str, Any]) -> str:
        """CreateTrainingJob with a fully built request; returns the job ARN."""
        name = request["TrainingJobName"]
        with aws_errors(f"starting training job {name}"):
            response = self._create("training job", name, "create_training_job", request)
        return str(response["TrainingJobArn"])

    def describe_training_job(self, name: str) -> dict[str, Any] | None:
        return self._describe("describe_training_job", "TrainingJobName", name)

    def training_job_names(self, *, name_contains: str, status: str) -> list[str]:
        """Names of training jobs matching both filters, newest first (all pages)."""
        with aws_errors("listing training jobs"):
            names: list[str] = []
            paginator = self.client.get_paginator("list_training_jobs")
            pages = paginator.paginate(
                NameContains=name_contains, StatusEquals=status, SortBy="CreationTime", SortOrder="Descending"
            )
            for page in pages:
                names.extend(str(job["TrainingJobName"]) for job in page.get("TrainingJobSummaries", []))
        return names

    # -- hosting ---------------------------------------------------------------------------------
    def create_model(self, request: dict[str, Any]) -> str:
        name = request["ModelName"]
        with aws_errors(f"creating model {name}"):
            response = self._create("model", name, "create_model", request)
        return str(response["ModelArn"])

    def create_endpoint_config(self, request: dict[str, Any]) -> str:
        name = request["EndpointConfigName"]
        with aws_errors(f"creating endpoint config {name}"):
            response = self._create("endpoint config", name, "create_endpoint_config", request)
        return str(response["EndpointConfigArn"])

    def create_endpoint(self, name: str, *, config_name: str, tags: dict[str, str]) -> str:
        request = create_endpoint_request(name, config_name=config_name, tags=tags)
        with aws_errors(f"creating endpoint {name}"):
            response = self._create("endpoint", name, "create_endpoint", request)
        return str(response["EndpointArn"])

    def update_endpoint(self, name: str, *, config_name: str) -> None:
        """UpdateEndpoint: SageMaker rolls blue/green and silently rolls back a failed update."""
        with aws_errors(f"updating endpoint {name} to {config_name}"):
            try:
                self.client.update_endpoint(**update_endpoint_request(name, config_name=config_name))
            except bx.ClientError as exc:
                if is_not_found(exc):
                    raise NotFoundError(
                        f"endpoint {name} does not exist (any more)",
                        hint="run `nikkei-deepar deploy` again to create it",
                    ) from None
                raise

    # -- batch transform -------------------------------------------------------------------------
    def create_transform_job(self, request: dict[str, Any]) -> str:
        name = request["TransformJobName"]
        with aws_errors(f"starting transform job {name}"):
            response = self._create("transform job", name, "create_transform_job", request)
        return str(response["TransformJobArn"])

    def describe_transform_job(self, name: str) -> dict[str, Any] | None:
        return self._describe("describe_transform_job", "TransformJobName", name)

    def _create(self, what: str, name: str, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        """Call a Create* operation; a name already taken becomes a UsageError that says so."""
        try:
            response: dict[str, Any] = getattr(self.client, operation)(**request)
        except bx.ClientError as exc:
            message = error_message(exc)
            if error_code(exc) == "ResourceInUse" or "already exist" in message.lower():
                raise UsageError(
                    f"{what} {name} already exists ({message})",
                    hint="names carry a timestamp and a random suffix: run the command again",
                    code="name-taken",
                ) from None
            raise
        return response

    # -- lookups used by teardown / status -------------------------------------------------------
    def _describe(self, operation: str, key: str, name: str) -> dict[str, Any] | None:
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

    def add_tags(self, arn: str, tags: dict[str, str]) -> None:
        """Add (or overwrite) these tags on a model, endpoint config or endpoint; others stay."""
        with aws_errors(f"tagging {arn}"):
            self.client.add_tags(ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])

    def tags_of(self, arn: str) -> dict[str, str]:
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

    # -- teardown: what else is in the account, and stopping batch jobs (added for teardown) ------
    def _arns(self, operation: str, key: str, prefix: str, name_contains: str | None) -> dict[str, str]:
        """name -> ARN over all pages; `name_contains` is the server-side NameContains filter (a hint
        only: not every implementation applies it, so callers that need a match check the names)."""
        filters = {"NameContains": name_contains} if name_contains else {}
        with aws_errors(f"listing {key[0].lower() + key[1:]}"):
            found: dict[str, str] = {}
            for page in self.client.get_paginator(operation).paginate(**filters):
                for item in page.get(key, []):
                    found[str(item[f"{prefix}Name"])] = str(item[f"{prefix}Arn"])
        return found

    def endpoint_arns(self, *, name_contains: str | None = None) -> dict[str, str]:
        """Every endpoint in the region, name -> ARN (all pages), whoever created it: teardown lists the
        ones it leaves alone, because each of them bills by the hour."""
        return self._arns("list_endpoints", "Endpoints", "Endpoint", name_contains)

    def endpoint_config_arns(self, *, name_contains: str | None = None) -> dict[str, str]:
        """Every endpoint config in the region, name -> ARN (status looks for untracked ones; deploy,
        with `name_contains`, for the ones it made but never recorded)."""
        return self._arns("list_endpoint_configs", "EndpointConfigs", "EndpointConfig", name_contains)

    def model_arns(self, *, name_contains: str | None = None) -> dict[str, str]:
        """Every model in the region, name -> ARN (status looks for untracked ones; deploy, with
        `name_contains`, for the ones it made but never recorded)."""
        return self._arns("list_models", "Models", "Model", name_contains)

    def stop_transform_job_if_running(self, name: str) -> bool:
        """StopTransformJob for a job still InProgress; False when it is not running (or gone)."""
        found = self.describe_transform_job(name)
        if found is None or found.get("TransformJobStatus") != "InProgress":
            return False
        with aws_errors(f"stopping transform job {name}"):
            try:
                self.client.stop_transform_job(TransformJobName=name)
            except bx.ClientError as exc:
                if is_not_found(exc):
                    return False
                raise
        return True


Gateway = SageMakerGateway  # the name before gateways were typed; prefer SageMakerGateway
