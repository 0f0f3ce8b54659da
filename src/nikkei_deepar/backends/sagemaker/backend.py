"""The SageMaker backend: the `Backend` verbs as SageMaker, S3, CloudWatch Logs and Runtime requests.

Owns everything SageMaker-specific and nothing the steps share: the DeepAR image for the region, the
execution role, request shapes (channels as S3 prefixes with the JSON Lines content type, File input mode,
spot settings, production variants, batch transform's SingleRecord/Line settings and the
`DEEPAR_INFERENCE_CONFIG` variable), and the translation of describe responses into the frozen
records of `backends.base`. Every AWS call goes through a typed gateway in `aws/` (`env.aws.s3`, ...);
clients are created on the first call that needs them.

What else is SageMaker's lives beside this module in the package: provisioning the bucket and the
execution role (provision.py), removal (removal.py), the status probe (probe.py) and doctor's checks
(checks.py); the verbs at the end of the class hand them out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nikkei_deepar.backends.base import (
    EndpointConfigSpec,
    EndpointState,
    LogCursor,
    LogEvent,
    LogPage,
    ModelSpec,
    TrainingSpec,
    TrainingState,
    TransformSpec,
    TransformState,
    Words,
)
from nikkei_deepar.backends.env import BackendEnv
from nikkei_deepar.backends.sagemaker import requests
from nikkei_deepar.errors import ConfigError, NotFoundError

if TYPE_CHECKING:
    from nikkei_deepar.aws.services import AwsServices
    from nikkei_deepar.backends.checks import Check
    from nikkei_deepar.backends.plan import Provisioner
    from nikkei_deepar.backends.probe import Probe
    from nikkei_deepar.backends.removal import Remover
    from nikkei_deepar.backends.sagemaker.expiry_schedule import SchedulerExpiry
    from nikkei_deepar.instance_prices import LivePrice
    from nikkei_deepar.ledger import Ledger

JSONL, VARIANT, INFERENCE_CONFIG_ENV = requests.JSONL, requests.VARIANT, requests.INFERENCE_CONFIG_ENV


class SageMakerBackend:
    """`Backend` on SageMaker, from what `env` gives it (settings, ledger, AWS gateways built lazily)."""

    def __init__(self, env: BackendEnv) -> None:
        self.env = env
        self._settings = env.settings
        self._role: str | None = None

    @property
    def aws(self) -> AwsServices:
        return self.env.aws

    def _region(self) -> str:
        return self.aws.region_name

    # -- identity ------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return "sagemaker"

    @property
    def region(self) -> str | None:
        return self._region()

    @property
    def hosting_note(self) -> str | None:
        return "an endpoint bills every hour it exists; `nikkei-deepar teardown` deletes it"

    @property
    def first_step(self) -> str:
        return "provision"

    @property
    def predict_mode(self) -> str:
        return "endpoint"

    @property
    def bills(self) -> bool:
        return True

    @property
    def words(self) -> Words:
        return Words()  # the shared vocabulary is SageMaker's

    @property
    def role_arn(self) -> str:
        if self._role is None:
            self._role = execution_role_arn(self.env)
        return self._role

    def expiry_keeper(self) -> SchedulerExpiry:
        """The endpoint's deletion as an EventBridge Scheduler schedule, run by the scheduler role."""
        from nikkei_deepar.backends.sagemaker.expiry_schedule import SchedulerExpiry

        return SchedulerExpiry(
            scheduler=lambda: self.aws.scheduler,
            iam=lambda: self.aws.iam,
            region=self._region,
            role_name=self._settings.scheduler_role_name(),
        )

    def live_price(self, instance_type: str) -> LivePrice | None:
        """The Price List API's on-demand hosting price in this region, cached a day in the tool's home."""
        if not self._settings.costs.live_prices:
            return None
        from nikkei_deepar.instance_prices import live_price

        def ask(instance: str, region: str) -> float:
            return self.aws.pricing.hosting_price(instance, region).usd_per_hour

        return live_price(
            instance_type, self._region(), lookup=ask, home=self.env.home, warn=self.env.reporter.warn
        )

    def logs_link(self, kind: str, name: str) -> str | None:
        from nikkei_deepar.console import endpoint_logs_url, training_job_logs_url

        if kind == "training-job":
            return training_job_logs_url(self._region(), name)
        if kind == "endpoint":
            return endpoint_logs_url(self._region(), name)
        return None

    def request_problems(self) -> tuple[list[str], list[str]]:
        """Every request of every command, checked against botocore's model (offline: the configured
        region, or a placeholder, and a placeholder account: shapes only)."""
        return requests.check_settings(self._settings)

    def check_requests(self, command: str) -> None:
        """Every request `command` sends, checked against botocore's service model before the first one."""
        requests.require_valid(self._settings, region=self._region(), account=None, commands=[command])

    def image_uri(self) -> str:
        from nikkei_deepar.images import deepar_image_uri

        return deepar_image_uri(self._region())

    # -- storage -------------------------------------------------------------------------------------
    def _bucket(self) -> str:
        bucket = self._settings.aws.bucket
        if not bucket:
            raise ConfigError(
                "aws.bucket: required for the SageMaker backend",
                hint="set [aws] bucket in the config and run `nikkei-deepar provision` "
                '(or use `prepare --dry-run`, or backend = "local")',
            )
        return bucket

    def artifact_uri(self, key: str) -> str:
        """Under this workspace's keys: `s3://bucket/{prefix}/{project}/{stage}/{key}`."""
        return f"s3://{self._bucket()}/{self._settings.key_root}/{key}"

    def put_artifact(self, key: str, body: bytes, *, content_type: str) -> str:
        bucket = self._bucket()
        full = f"{self._settings.key_root}/{key}"
        return str(self.aws.s3.put_object(bucket, full, body, content_type=content_type))

    def get_artifact(self, uri: str) -> bytes:
        from nikkei_deepar.aws.s3 import split_uri

        bucket, key = split_uri(uri)
        return bytes(self.aws.s3.get_object(bucket, key))

    def exists(self, uri: str) -> bool:
        from nikkei_deepar.aws.s3 import split_uri

        bucket, key = split_uri(uri)
        return self.aws.s3.object_exists(bucket, key)

    # -- training ------------------------------------------------------------------------------------
    def training_request(self, spec: TrainingSpec) -> dict[str, Any]:
        """The CreateTrainingJob request for `spec` (public so tests can pin its shape)."""
        return requests.training_request(
            spec, image=self.image_uri(), role_arn=self.role_arn, kms_key=self._settings.aws.kms_key_id
        )

    def start_training(self, spec: TrainingSpec) -> str:
        return str(self.aws.sagemaker.create_training_job(self.training_request(spec)))

    def describe_training(self, name: str) -> TrainingState | None:
        raw = self.aws.sagemaker.describe_training_job(name)
        return None if raw is None else training_state(raw)

    def find_trainings(self, *, name_contains: str, status: str) -> list[str]:
        return list(self.aws.sagemaker.training_job_names(name_contains=name_contains, status=status))

    def training_logs(self, name: str, *, cursor: LogCursor | None = None) -> LogPage:
        positions = dict(cursor.positions) if cursor else {}
        lines, updated = self.aws.logs.training_job_events(name, positions=positions)
        events = tuple(
            LogEvent(timestamp=line.timestamp, message=line.message, stream=line.stream) for line in lines
        )
        return LogPage(events=events, cursor=LogCursor(tuple(sorted(updated.items()))))

    # -- hosting -------------------------------------------------------------------------------------
    def model_request(self, spec: ModelSpec) -> dict[str, Any]:
        return requests.model_request(spec, image=self.image_uri(), role_arn=self.role_arn)

    def create_model(self, spec: ModelSpec) -> str:
        return str(self.aws.sagemaker.create_model(self.model_request(spec)))

    def endpoint_config_request(self, spec: EndpointConfigSpec) -> dict[str, Any]:
        return requests.endpoint_config_request(spec)

    def create_endpoint_config(self, spec: EndpointConfigSpec) -> str:
        return str(self.aws.sagemaker.create_endpoint_config(self.endpoint_config_request(spec)))

    def create_endpoint(self, name: str, *, config_name: str, tags: Mapping[str, str]) -> str:
        return str(self.aws.sagemaker.create_endpoint(name, config_name=config_name, tags=dict(tags)))

    def update_endpoint(self, name: str, *, config_name: str) -> None:
        self.aws.sagemaker.update_endpoint(name, config_name=config_name)

    def describe_endpoint(self, name: str) -> EndpointState | None:
        raw = self.aws.sagemaker.describe_endpoint(name)
        if raw is None:
            return None
        return EndpointState(
            name=str(raw["EndpointName"]),
            status=str(raw["EndpointStatus"]),
            config_name=raw.get("EndpointConfigName"),
            failure_reason=raw.get("FailureReason") or None,
            created=_when(raw.get("CreationTime")),
            modified=_when(raw.get("LastModifiedTime")),
        )

    def resource_tags(self, kind: str, name: str) -> dict[str, str] | None:
        if kind == "bucket":
            s3 = self.aws.s3
            return None if s3.bucket_region(name) is None else s3.bucket_tags(name)
        if kind == "role":
            iam = self.aws.iam
            return None if iam.role_arn(name) is None else iam.role_tags(name)
        gateway = self.aws.sagemaker
        arn = gateway.arn_of(kind, name)
        return None if arn is None else dict(gateway.tags_of(arn))

    def tag(self, kind: str, name: str, tags: Mapping[str, str]) -> str | None:
        if kind == "bucket":
            s3 = self.aws.s3
            s3.put_bucket_tags(name, {**s3.bucket_tags(name), **tags})
            from nikkei_deepar.images import partition

            return f"arn:{partition(self._region())}:s3:::{name}"
        if kind == "role":
            self.aws.iam.tag_role(name, dict(tags))
            return self.aws.iam.role_arn(name)
        gateway = self.aws.sagemaker
        arn = gateway.arn_of(kind, name)
        if arn is None:
            raise NotFoundError(f"{kind} {name} does not exist (region {self._region()})")
        gateway.add_tags(arn, dict(tags))
        return arn

    def find_tagged(self, kind: str, name_prefix: str) -> dict[str, dict[str, str]]:
        gateway = self.aws.sagemaker
        listings = {
            "model": gateway.model_arns,
            "endpoint-config": gateway.endpoint_config_arns,
            "endpoint": gateway.endpoint_arns,
        }
        if kind not in listings:
            raise ValueError(f"unknown SageMaker resource kind {kind!r}")
        # NameContains narrows the listing server-side; the prefix check makes it exact. ListTags only
        # for the names that match: one call each.
        arns: dict[str, str] = listings[kind](name_contains=name_prefix or None)
        return {
            name: dict(gateway.tags_of(arn))
            for name, arn in sorted(arns.items())
            if name.startswith(name_prefix)
        }

    def invoke(self, endpoint: str, body: bytes, *, content_type: str, accept: str) -> bytes:
        return bytes(
            self.aws.runtime.invoke_endpoint(endpoint, body, content_type=content_type, accept=accept)
        )

    # -- batch ---------------------------------------------------------------------------------------
    def transform_request(self, spec: TransformSpec) -> dict[str, Any]:
        return requests.transform_request(spec, kms_key=self._settings.aws.kms_key_id)

    def start_transform(self, spec: TransformSpec) -> str:
        return str(self.aws.sagemaker.create_transform_job(self.transform_request(spec)))

    def describe_transform(self, name: str) -> TransformState | None:
        raw = self.aws.sagemaker.describe_transform_job(name)
        if raw is None:
            return None
        return TransformState(
            name=str(raw["TransformJobName"]),
            status=str(raw["TransformJobStatus"]),
            failure_reason=raw.get("FailureReason") or None,
            created=_when(raw.get("CreationTime")),
            ended=_when(raw.get("TransformEndTime")),
        )

    # -- deletion ------------------------------------------------------------------------------------
    def delete_model(self, name: str) -> bool:
        return bool(self.aws.sagemaker.delete_model(name))

    def delete_endpoint_config(self, name: str) -> bool:
        return bool(self.aws.sagemaker.delete_endpoint_config(name))

    def delete_endpoint(self, name: str) -> bool:
        return bool(self.aws.sagemaker.delete_endpoint(name))

    # -- what else is SageMaker's (modules of this package, imported when asked for) ------------------
    def provisioner(self) -> Provisioner:
        from nikkei_deepar.backends.sagemaker.provision import AwsProvisioner

        return AwsProvisioner(self.env)

    def remover(self, ledger: Ledger) -> Remover:
        from nikkei_deepar.backends.sagemaker.removal import AwsRemover

        return AwsRemover(self.env)

    def probe(self) -> Probe:
        from nikkei_deepar.backends.sagemaker.probe import AwsProbe

        return AwsProbe(self.env)

    def checks(self) -> list[Check]:
        from nikkei_deepar.backends.sagemaker.checks import aws_checks

        return aws_checks(self.env)


def execution_role_arn(env: BackendEnv) -> str:
    """The SageMaker execution role's ARN, looked up in IAM by the configured name (one GetRole)."""
    name = env.settings.execution_role_name()
    arn = env.aws.iam.role_arn(name)
    if arn is None:
        raise NotFoundError(
            f"IAM role {name!r} does not exist",
            hint="run `nikkei-deepar provision` to create it, or set [aws] role_name to an existing role",
        )
    return str(arn)


def training_state(raw: Mapping[str, Any]) -> TrainingState:
    """DescribeTrainingJob -> TrainingState (metrics as {name: value}; absent fields as None)."""
    metrics = {
        str(m["MetricName"]): float(m["Value"])
        for m in raw.get("FinalMetricDataList", []) or []
        if "MetricName" in m and "Value" in m
    }
    channels: dict[str, str] = {}
    for channel in raw.get("InputDataConfig", []) or []:
        uri = channel.get("DataSource", {}).get("S3DataSource", {}).get("S3Uri")
        if uri:
            channels[str(channel["ChannelName"])] = str(uri)
    return TrainingState(
        name=str(raw["TrainingJobName"]),
        status=str(raw["TrainingJobStatus"]),
        secondary_status=raw.get("SecondaryStatus"),
        failure_reason=raw.get("FailureReason") or None,
        metrics=metrics,
        billable_seconds=_int(raw.get("BillableTimeInSeconds")),
        training_seconds=_int(raw.get("TrainingTimeInSeconds")),
        model_artifact=(raw.get("ModelArtifacts") or {}).get("S3ModelArtifacts"),
        created=_when(raw.get("CreationTime")),
        started=_when(raw.get("TrainingStartTime")),
        ended=_when(raw.get("TrainingEndTime")),
        spot=bool(raw.get("EnableManagedSpotTraining", False)),
        hyperparameters={str(k): str(v) for k, v in (raw.get("HyperParameters") or {}).items()},
        channels=channels,
    )


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _when(value: Any) -> dt.datetime | None:
    """botocore hands back aware datetimes; tolerate ISO strings (and naive values, taken as UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return None
