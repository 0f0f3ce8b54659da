"""Every request the SageMaker backend sends for a config, built and checked offline before anything is sent.

`planned(settings, ...)` builds the requests of each command (provision, train, deploy, predict,
predict --batch) with the same builders the gateways and the backend use to send them (aws/s3.py,
aws/iam.py, aws/sagemaker.py request functions, `SageMakerBackend.*_request`, `backends/specs.py`),
filling what only exists later (names, the account, S3 keys, artefacts) with values of the shape the
tool will really use. `problems(...)` checks them against botocore's bundled service models
(aws/shapes.py) and words each problem as one line that starts with the config key to change.

Used by `config validate`, by `provision` (dry run or not) before its first mutating call, and by
train, deploy and predict --batch before they create anything. No network here.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from nikkei_deepar.backends.base import (
    EndpointConfigSpec,
    ModelSpec,
    TrainingSpec,
    TransformSpec,
)
from nikkei_deepar.backends.specs import (
    endpoint_config_spec,
    endpoint_tags,
    resource_name,
    training_spec,
    transform_spec,
)
from nikkei_deepar.config import Settings
from nikkei_deepar.errors import ConfigError

COMMANDS = ("provision", "train", "deploy", "predict", "predict --batch")
PLACEHOLDER_ACCOUNT = "123456789012"  # config validate runs offline: shapes only need an account's shape
PLACEHOLDER_REGION = "us-east-1"
_SHA = "0" * 64

# The instance-type lists, by the use each setting is for (botocore's enum shapes).
USES = {
    "TrainingInstanceType": "run a training job",
    "ProductionVariantInstanceType": "host an endpoint",
    "TransformInstanceType": "run a batch transform (predict --batch)",
}


@dataclass(frozen=True)
class PlannedRequest:
    command: str
    service: str
    operation: str
    params: dict[str, Any]


def planned(
    settings: Settings,
    *,
    region: str,
    account: str,
    commands: Iterable[str] = COMMANDS,
) -> list[PlannedRequest]:
    """The requests `commands` would send for `settings` (create/update calls: what AWS may refuse)."""
    from nikkei_deepar.aws import iam, s3
    from nikkei_deepar.aws import sagemaker as sm
    from nikkei_deepar.aws.scheduler import expiry_schedule_name, schedule_request
    from nikkei_deepar.backends.sagemaker.policy import (
        INLINE_POLICY_NAME,
        SCHEDULER_POLICY_NAME,
        execution_policy,
        role_description,
        scheduler_policy,
        scheduler_trust_policy,
        trust_policy,
        with_tls_only,
    )
    from nikkei_deepar.backends.sagemaker.scheduler_role import role_description as scheduler_role_description
    from nikkei_deepar.images import partition

    aws = settings.aws
    wanted = set(commands)
    bucket = aws.bucket or "nikkei-deepar-bucket"
    role_name = settings.execution_role_name()
    role_arn = f"arn:{partition(region)}:iam::{account}:role/{role_name}"
    from nikkei_deepar.images import deepar_image_uri

    image = deepar_image_uri(region)
    kms_key = aws.kms_key_id

    def artifact_uri(key: str) -> str:
        return f"s3://{bucket}/{settings.key_root}/{key}"

    tags = settings.resource_tags()
    endpoint = settings.endpoint.name
    expires_in = settings.endpoint.expiry()
    scheduler_role = settings.scheduler_role_name()
    out: list[PlannedRequest] = []

    def add(command: str, service: str, operation: str, params: dict[str, Any]) -> None:
        out.append(PlannedRequest(command, service, operation, params))

    if "provision" in wanted:
        trust = trust_policy(account=account, region=region)
        policy = execution_policy(
            bucket=bucket,
            prefix=aws.prefix,
            key_root=settings.key_root,
            region=region,
            account=account,
            kms_key=aws.kms_key_id,
        )
        add("provision", "s3", "CreateBucket", s3.create_bucket_request(bucket, region=region, tags=tags))
        add("provision", "s3", "PutBucketTagging", s3.tagging_request(bucket, tags))
        add("provision", "s3", "PutPublicAccessBlock", s3.public_access_block_request(bucket))
        add("provision", "s3", "PutBucketEncryption", s3.encryption_request(bucket, kms_key=aws.kms_key_id))
        add("provision", "s3", "PutBucketVersioning", s3.versioning_request(bucket))
        add(
            "provision",
            "s3",
            "PutBucketPolicy",
            s3.bucket_policy_request(bucket, with_tls_only(None, bucket, region=region)),
        )
        description = role_description(aws.tags)
        add(
            "provision",
            "iam",
            "CreateRole",
            iam.create_role_request(role_name, trust_policy=trust, tags=tags, description=description),
        )
        add("provision", "iam", "UpdateAssumeRolePolicy", iam.update_trust_request(role_name, trust))
        add(
            "provision",
            "iam",
            "PutRolePolicy",
            iam.put_role_policy_request(role_name, INLINE_POLICY_NAME, policy),
        )
        add("provision", "iam", "TagRole", iam.tag_role_request(role_name, tags))
        if expires_in is not None:  # the role EventBridge Scheduler deletes the endpoint as
            add(
                "provision",
                "iam",
                "CreateRole",
                iam.create_role_request(
                    scheduler_role,
                    trust_policy=scheduler_trust_policy(account),
                    tags=tags,
                    description=scheduler_role_description(endpoint),
                ),
            )
            add(
                "provision",
                "iam",
                "PutRolePolicy",
                iam.put_role_policy_request(
                    scheduler_role,
                    SCHEDULER_POLICY_NAME,
                    scheduler_policy(endpoint=endpoint, region=region, account=account),
                ),
            )

    job = resource_name(endpoint)
    output_uri = artifact_uri("output/")
    artifact = f"{output_uri}{job}/output/model.tar.gz"
    if "train" in wanted:
        data = artifact_uri(f"data/{_SHA[:16]}/")
        spec = training_spec(
            settings,
            name=job,
            channels={"train": data + "train/", "test": data + "test/"},
            output_uri=output_uri,
        )
        add(
            "train",
            "sagemaker",
            "CreateTrainingJob",
            training_request(spec, image=image, role_arn=role_arn, kms_key=kms_key),
        )

    model = resource_name(endpoint, "m")
    if "deploy" in wanted:
        config = resource_name(endpoint, "c")
        ep_tags = endpoint_tags(settings, endpoint)
        model_spec = ModelSpec(name=model, model_artifact=artifact, tags=ep_tags, job=job)
        add("deploy", "sagemaker", "CreateModel", model_request(model_spec, image=image, role_arn=role_arn))
        config_spec = endpoint_config_spec(settings, name=config, model_name=model, endpoint=endpoint)
        add("deploy", "sagemaker", "CreateEndpointConfig", endpoint_config_request(config_spec))
        add(
            "deploy",
            "sagemaker",
            "CreateEndpoint",
            sm.create_endpoint_request(endpoint, config_name=config, tags=ep_tags),
        )
        add("deploy", "sagemaker", "UpdateEndpoint", sm.update_endpoint_request(endpoint, config_name=config))
        if expires_in is not None:
            at = dt.datetime.now(dt.UTC) + expires_in
            schedule = schedule_request(
                expiry_schedule_name(endpoint),
                endpoint=endpoint,
                at=at,
                role_arn=f"arn:{partition(region)}:iam::{account}:role/{scheduler_role}",
                region=region,
            )
            add("deploy", "scheduler", "CreateSchedule", schedule)

    if "predict" in wanted:
        from nikkei_deepar.aws.runtime import invoke_request

        body = b'{"instances":[],"configuration":{}}'
        add("predict", "sagemaker-runtime", "InvokeEndpoint", invoke_request(endpoint, body))

    if "predict --batch" in wanted:
        transform = resource_name(endpoint, "t")
        model_spec = ModelSpec(name=model, model_artifact=artifact, tags=tags, job=job)
        add(
            "predict --batch",
            "sagemaker",
            "CreateModel",
            model_request(model_spec, image=image, role_arn=role_arn),
        )
        spec_t = transform_spec(
            settings,
            name=transform,
            model_name=model,
            input_uri=artifact_uri(f"predict/{transform}/input/series.jsonl"),
            output_uri=artifact_uri(f"predict/{transform}/output/"),
        )
        add("predict --batch", "sagemaker", "CreateTransformJob", transform_request(spec_t, kms_key=kms_key))
    return out


def problems(requests: Iterable[PlannedRequest], settings: Settings) -> list[str]:
    """One line per problem, `config.key: what is wrong (which request, which member)`; a problem that
    several requests share (tags go into eight of them) is named once."""
    from nikkei_deepar.aws import shapes

    lines: list[str] = []
    seen: set[tuple[str, str]] = set()
    for request in requests:
        for problem in shapes.problems(request.service, request.operation, request.params):
            key = config_key(request.operation, problem.path, settings)
            message = _message(problem, key, request)
            if (key, message) in seen:
                continue
            seen.add((key, message))
            lines.append(f"{key}: {message}")
    return lines


def check_settings(
    settings: Settings, *, region: str | None = None, account: str | None = None
) -> tuple[list[str], list[str]]:
    """(errors, warnings) for everything the config would make the tool send.

    predict --batch uses [endpoint] instance_type unless [predict] batch_instance_type is set: a hosting
    type batch transform does not offer is then a warning here (the config is fine until predict --batch
    runs, which refuses it before creating anything); a batch_instance_type that is set is checked."""
    region = region or settings.aws.region or PLACEHOLDER_REGION
    account = account or PLACEHOLDER_ACCOUNT
    explicit_batch = settings.predict.batch_instance_type is not None
    main = [c for c in COMMANDS if c != "predict --batch" or explicit_batch]
    errors = problems(planned(settings, region=region, account=account, commands=main), settings)
    warnings: list[str] = []
    if not explicit_batch:
        batch = planned(settings, region=region, account=account, commands=["predict --batch"])
        warnings = [line for line in problems(batch, settings) if line not in errors]
    return errors, warnings


def require_valid(
    settings: Settings,
    *,
    region: str | None,
    account: str | None,
    commands: Iterable[str],
    where: str = "configuration",
) -> None:
    """Raise ConfigError (exit 2) listing every problem AWS would refuse the `commands`' requests for."""
    found = problems(
        planned(
            settings,
            region=region or PLACEHOLDER_REGION,
            account=account or PLACEHOLDER_ACCOUNT,
            commands=commands,
        ),
        settings,
    )
    if found:
        raise ConfigError(
            f"{where}: {len(found)} value{'s' if len(found) != 1 else ''} AWS would refuse "
            "(checked against botocore's service model; nothing was sent)",
            problems=found,
            hint="fix the keys listed above; `nikkei-deepar config validate` checks them all",
            code="request-shape",
        )


# -- the SageMaker request bodies (SageMakerBackend sends exactly these) -------------------------------
JSONL = "application/jsonlines"
VARIANT = "AllTraffic"
INFERENCE_CONFIG_ENV = "DEEPAR_INFERENCE_CONFIG"


def _tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def training_request(spec: TrainingSpec, *, image: str, role_arn: str, kms_key: str | None) -> dict[str, Any]:
    """CreateTrainingJob: channels as S3 prefixes of JSON Lines, File mode, spot settings."""
    stopping: dict[str, int] = {"MaxRuntimeInSeconds": spec.max_runtime_seconds}
    if spec.spot:
        stopping["MaxWaitTimeInSeconds"] = int(spec.max_wait_seconds or spec.max_runtime_seconds)
    output: dict[str, str] = {"S3OutputPath": spec.output_uri}
    if kms_key:
        output["KmsKeyId"] = kms_key
    return {
        "TrainingJobName": spec.name,
        "HyperParameters": dict(spec.hyperparameters),
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "RoleArn": role_arn,
        "InputDataConfig": [
            {
                "ChannelName": channel,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": uri,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "ContentType": JSONL,
                "CompressionType": "None",
            }
            for channel, uri in spec.channels.items()
        ],
        "OutputDataConfig": output,
        "ResourceConfig": {
            "InstanceType": spec.instance_type,
            "InstanceCount": spec.instance_count,
            "VolumeSizeInGB": spec.volume_size_gb,
        },
        "StoppingCondition": stopping,
        "EnableManagedSpotTraining": spec.spot,
        "Tags": _tags(spec.tags),
    }


def model_request(spec: ModelSpec, *, image: str, role_arn: str) -> dict[str, Any]:
    return {
        "ModelName": spec.name,
        "ExecutionRoleArn": role_arn,
        "PrimaryContainer": {"Image": image, "ModelDataUrl": spec.model_artifact},
        "Tags": _tags(spec.tags),
    }


def endpoint_config_request(spec: EndpointConfigSpec) -> dict[str, Any]:
    """CreateEndpointConfig with one variant: instances or serverless."""
    variant: dict[str, Any] = {"VariantName": VARIANT, "ModelName": spec.model_name}
    if spec.serverless is not None:
        variant["ServerlessConfig"] = {
            "MemorySizeInMB": spec.serverless.memory_mb,
            "MaxConcurrency": spec.serverless.max_concurrency,
        }
    else:
        variant.update(
            InstanceType=spec.instance_type,
            InitialInstanceCount=spec.instance_count,
            InitialVariantWeight=1.0,
        )
    return {"EndpointConfigName": spec.name, "ProductionVariants": [variant], "Tags": _tags(spec.tags)}


def transform_request(spec: TransformSpec, *, kms_key: str | None) -> dict[str, Any]:
    """CreateTransformJob with DeepAR's batch settings: SingleRecord, split and assembled by line, and the
    inference configuration in DEEPAR_INFERENCE_CONFIG."""
    output: dict[str, str] = {"S3OutputPath": spec.output_uri, "Accept": JSONL, "AssembleWith": "Line"}
    if kms_key:
        output["KmsKeyId"] = kms_key
    return {
        "TransformJobName": spec.name,
        "ModelName": spec.model_name,
        # DeepAR fails on multi-record batches of JSON Lines: one record per request, split by line.
        "BatchStrategy": "SingleRecord",
        "Environment": {INFERENCE_CONFIG_ENV: json.dumps(dict(spec.inference_config), separators=(",", ":"))},
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": spec.input_uri}},
            "ContentType": JSONL,
            "SplitType": "Line",
            "CompressionType": "None",
        },
        "TransformOutput": output,
        "TransformResources": {"InstanceType": spec.instance_type, "InstanceCount": spec.instance_count},
        "ModelClientConfig": {"InvocationsTimeoutInSeconds": 600, "InvocationsMaxRetries": 1},
        "Tags": _tags(spec.tags),
    }


# -- wording --------------------------------------------------------------------------------------------
_KEYS: tuple[tuple[str, str], ...] = (
    (r"ResourceConfig\.InstanceType", "training.instance_type"),
    (r"ResourceConfig\.InstanceCount", "training.instance_count"),
    (r"ResourceConfig\.VolumeSizeInGB", "training.volume_size_gb"),
    (r"StoppingCondition\.MaxRuntimeInSeconds", "training.max_runtime_seconds"),
    (r"StoppingCondition\.MaxWaitTimeInSeconds", "training.max_wait_seconds"),
    (r"HyperParameters", "training.hyperparameters"),
    (r"ProductionVariants\[\d+\]\.InstanceType", "endpoint.instance_type"),
    (r"ProductionVariants\[\d+\]\.InitialInstanceCount", "endpoint.instance_count"),
    (r"ProductionVariants\[\d+\]\.ServerlessConfig\.MemorySizeInMB", "endpoint.memory_mb"),
    (r"ProductionVariants\[\d+\]\.ServerlessConfig\.MaxConcurrency", "endpoint.max_concurrency"),
    (r"Environment", "predict"),
    (r".*KmsKeyId|.*KMSMasterKeyID", "aws.kms_key_id"),
    (r"(Tags|Tagging\.TagSet|CreateBucketConfiguration\.Tags)(\[\d+\].*)?", "aws.tags"),
    (r"RoleName|RoleArn|ExecutionRoleArn", "aws.role_name"),
    (r"Bucket", "aws.bucket"),
    (r"Description", "aws.tags"),  # the role's description names the project and stage tags
    (r"(Training|Transform)JobName|ModelName|EndpointConfigName|EndpointName", "endpoint.name"),
    (r".*S3Uri|.*S3OutputPath|.*ModelDataUrl", "aws.prefix"),
)


def config_key(operation: str, path: str, settings: Settings) -> str:
    """The config key a request member comes from (`aws` when no single key does)."""
    if operation == "CreateTransformJob" and path == "TransformResources.InstanceType":
        return (
            "predict.batch_instance_type"
            if settings.predict.batch_instance_type
            else "endpoint.instance_type"
        )
    for pattern, key in _KEYS:
        if re.fullmatch(pattern, path):
            return key
    return "aws"


def _message(problem: Any, key: str, request: PlannedRequest) -> str:
    where = f"({request.command}: {request.operation} {problem.path})"
    if problem.kind == "enum" and problem.shape in USES:
        value = _value(request.params, problem.path)
        examples = ", ".join(_examples(problem.shape))
        note = ""
        if key == "endpoint.instance_type" and request.operation == "CreateTransformJob":
            note = "; set [predict] batch_instance_type to a batch transform type"
        return (
            f"{value} cannot {USES[problem.shape]}: it is not in botocore's {problem.shape} list "
            f"(e.g. {examples}) {where}{note}"
        )
    return f"{problem.message} {where}"


def _examples(shape: str) -> list[str]:
    from nikkei_deepar.aws import shapes

    allowed = shapes.enum("sagemaker", shape)
    common = ["ml.m5.large", "ml.m5.xlarge", "ml.c5.large", "ml.c5.xlarge", "ml.m5.2xlarge"]
    return [t for t in common if t in allowed][:3]


def _value(params: dict[str, Any], path: str) -> Any:
    node: Any = params
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        node = node[int(part[1:-1])] if part.startswith("[") else node.get(part)
    return node
