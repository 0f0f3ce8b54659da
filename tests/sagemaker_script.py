"""A scripted SageMaker on top of moto, which stores SageMaker objects but runs nothing.

moto's training jobs are Completed the moment they exist, endpoints InService, transform jobs Completed
(with no output), and UpdateEndpoint / StopTrainingJob are not implemented (TESTING-AWS.md). This module
patches moto's backend classes so a test can script what real SageMaker does:

- per-name queues of states: each Describe* call applies the next state to moto's stored object and
  the last state sticks (the first state is applied at creation, so List* filters see it too);
  `script.next_training(...)` scripts the next job created, whatever its (random) name;
- UpdateEndpoint (switches the config after the scripted Updating states, or rolls back: the endpoint
  keeps its old config) and StopTrainingJob (Stopping, then Stopped);
- transform jobs that write `<input>.out` from a canned line;
- failing InvokeEndpoint calls (ModelError 424 with the container's status, or not found) and canned
  DeepAR responses through moto's `/moto-api/static/sagemaker/endpoint-results` queue.

The patches live on moto's classes, so they work in-process (`mock_aws`) and for a ThreadedMotoServer
in the same process. Use the `sm_script` fixture from conftest.py.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from ledger_edit import edited, series_version

ACCOUNT = "123456789012"
REGION = "ap-northeast-1"

State = dict[str, Any]


# -- training job states ------------------------------------------------------------------------------
def in_progress(secondary: str = "Training") -> State:
    return {
        "training_job_status": "InProgress",
        "secondary_status": secondary,
        "training_end_time": None,
        "final_metric_data_list": None,
        "model_artifacts": None,
    }


DEEPAR_METRICS = {"test:RMSE": 412.5, "test:mean_wQuantileLoss": 0.0213, "train:final_loss": 5.91}


def completed(
    metrics: dict[str, float] | None = None,
    *,
    billable: int | None = 300,
    training: int | None = 340,
) -> State:
    now = dt.datetime.now(dt.UTC)
    values = DEEPAR_METRICS if metrics is None else metrics
    return {
        "training_job_status": "Completed",
        "secondary_status": "Completed",
        "training_end_time": now,
        "final_metric_data_list": [
            {"MetricName": name, "Value": value, "Timestamp": now} for name, value in values.items()
        ],
        "billable_time_in_seconds": billable,
        "training_time_in_seconds": training,
        "_keep_artifacts": True,
    }


def failed(reason: str = "ClientError: Unable to parse the training data") -> State:
    return {
        "training_job_status": "Failed",
        "secondary_status": "Failed",
        "failure_reason": reason,
        "training_end_time": dt.datetime.now(dt.UTC),
        "model_artifacts": None,
        "final_metric_data_list": None,
    }


def stopped(secondary: str = "Stopped") -> State:
    return {
        "training_job_status": "Stopped",
        "secondary_status": secondary,
        "training_end_time": dt.datetime.now(dt.UTC),
        "model_artifacts": None,
        "final_metric_data_list": None,
    }


def stopping() -> State:
    return {"training_job_status": "Stopping", "secondary_status": "Stopping"}


# -- endpoint and transform states --------------------------------------------------------------------
def endpoint(status: str, reason: str | None = None) -> State:
    return {"endpoint_status": status, "failure_reason": reason}


def transform(status: str, reason: str | None = None) -> State:
    return {"transform_job_status": status, "failure_reason": reason or ""}


@dataclass
class _Update:
    states: list[State]
    rollback: bool
    reason: str | None


@dataclass
class SageMakerScript:
    trainings: dict[str, deque[State]] = field(default_factory=dict)
    next_trainings: deque[list[State]] = field(default_factory=deque)
    endpoints: dict[str, deque[State]] = field(default_factory=dict)
    next_endpoint_states: deque[list[State]] = field(default_factory=deque)
    updates: dict[str, deque[_Update]] = field(default_factory=dict)
    transforms: dict[str, deque[State]] = field(default_factory=dict)
    next_transforms: deque[list[State]] = field(default_factory=deque)
    transform_output: deque[str] = field(default_factory=deque)
    invoke_errors: deque[Exception] = field(default_factory=deque)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _pending_config: dict[str, tuple[str, _Update]] = field(default_factory=dict)

    # -- scripting API ---------------------------------------------------------------------------
    def training(self, name: str, *states: State) -> None:
        self.trainings[name] = deque(states)

    def next_training(self, *states: State) -> None:
        """Script the next training job created (its name is random): the states in order."""
        self.next_trainings.append(list(states))

    def next_endpoint(self, *states: State) -> None:
        """Script the next endpoint created: e.g. Creating, Creating, InService."""
        self.next_endpoint_states.append(list(states))

    def next_update(
        self, name: str, *states: State, rollback: bool = False, reason: str | None = None
    ) -> None:
        """Script the next UpdateEndpoint on `name`: the Describe states while it rolls, then the result.

        rollback=True: SageMaker gave up on the new config and kept the old one (InService, old config).
        """
        self.updates.setdefault(name, deque()).append(_Update(list(states), rollback, reason))

    def next_transform(self, *states: State, output: str | None = None) -> None:
        """Script the next transform job: its states, and the line its `.out` file will hold."""
        self.next_transforms.append(list(states))
        if output is not None:
            self.transform_output.append(output)

    def fail_next_invoke(self, error: Exception) -> None:
        self.invoke_errors.append(error)

    # -- hooks called by the patched moto --------------------------------------------------------
    def _apply(self, obj: Any, queue: deque[State] | None, *, pop: bool) -> None:
        if not queue:
            return
        state = queue.popleft() if pop and len(queue) > 1 else queue[0]
        for key, value in state.items():
            if key.startswith("_"):
                continue
            setattr(obj, key, value)
        if state.get("_keep_artifacts"):  # where SageMaker puts the model of a completed job
            output = obj.output_data_config["S3OutputPath"].rstrip("/")
            obj.model_artifacts = {
                "S3ModelArtifacts": f"{output}/{obj.training_job_name}/output/model.tar.gz"
            }
        obj.last_modified_time = dt.datetime.now(dt.UTC)

    def on_training_created(self, job: Any) -> None:
        self.calls.append(("CreateTrainingJob", {"name": job.training_job_name}))
        name = job.training_job_name
        if name not in self.trainings and self.next_trainings:
            self.trainings[name] = deque(self.next_trainings.popleft())
        self._apply(job, self.trainings.get(name), pop=False)

    def on_training_described(self, job: Any) -> None:
        self._apply(job, self.trainings.get(job.training_job_name), pop=True)

    def on_endpoint_created(self, ep: Any) -> None:
        # a new endpoint (perhaps under the name of a deleted one): the next scripted life, or moto's
        self.endpoints.pop(ep.endpoint_name, None)
        self._pending_config.pop(ep.endpoint_name, None)
        if self.next_endpoint_states:
            self.endpoints[ep.endpoint_name] = deque(self.next_endpoint_states.popleft())
        self._apply(ep, self.endpoints.get(ep.endpoint_name), pop=False)

    def on_endpoint_described(self, ep: Any) -> None:
        name = ep.endpoint_name
        queue = self.endpoints.get(name)
        final = not queue or len(queue) == 1
        self._apply(ep, queue, pop=True)
        pending = self._pending_config.get(name)
        if pending is not None and final:
            new_config, update = pending
            del self._pending_config[name]
            if update.rollback:
                ep.endpoint_status = "InService"
                ep.failure_reason = update.reason
            else:
                ep.endpoint_config_name = new_config
                ep.endpoint_status = "InService"
            self.endpoints.pop(name, None)

    def on_update(self, ep: Any, config_name: str) -> None:
        self.calls.append(("UpdateEndpoint", {"name": ep.endpoint_name, "config": config_name}))
        scripted = self.updates.get(ep.endpoint_name)
        update = scripted.popleft() if scripted else _Update([endpoint("Updating")], False, None)
        states = update.states or [endpoint("Updating")]
        self.endpoints[ep.endpoint_name] = deque([*states, endpoint("InService")])
        self._pending_config[ep.endpoint_name] = (config_name, update)
        self._apply(ep, self.endpoints[ep.endpoint_name], pop=False)

    def on_stop(self, job: Any) -> None:
        self.calls.append(("StopTrainingJob", {"name": job.training_job_name}))
        self.trainings[job.training_job_name] = deque([stopping(), stopped()])
        self._apply(job, self.trainings[job.training_job_name], pop=False)

    def on_transform_created(self, job: Any, account_id: str) -> None:
        name = job.transform_job_name
        if name not in self.transforms and self.next_transforms:
            self.transforms[name] = deque(self.next_transforms.popleft())
        self._apply(job, self.transforms.get(name), pop=False)
        if self.transform_output:
            _write_transform_output(job, self.transform_output.popleft(), account_id)

    def on_transform_described(self, job: Any) -> None:
        self._apply(job, self.transforms.get(job.transform_job_name), pop=True)


def _write_transform_output(job: Any, line: str, account_id: str) -> None:
    """Put `<input>.out` where SageMaker would: under S3OutputPath, named after the input file."""
    from moto.s3.models import s3_backends

    source = job.transform_input["DataSource"]["S3DataSource"]["S3Uri"]
    target = job.transform_output["S3OutputPath"].rstrip("/")
    file_name = source.rsplit("/", 1)[-1]
    bucket, _, prefix = target[5:].partition("/")
    key = f"{prefix}/{file_name}.out" if prefix else f"{file_name}.out"
    s3_backends[account_id]["aws"].put_object(bucket, key, line.encode())


def install(monkeypatch: pytest.MonkeyPatch) -> SageMakerScript:
    """Patch moto's SageMaker classes to follow a fresh script; returns the script."""
    from moto.core.responses import ActionResult, EmptyResult
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

    script = SageMakerScript()
    backend_cls: Any = SageMakerModelBackend

    orig_create_training = backend_cls.create_training_job
    orig_create_endpoint = backend_cls.create_endpoint
    orig_create_transform = backend_cls.create_transform_job
    orig_describe_training = backend_cls.describe_training_job
    orig_describe_endpoint = backend_cls.describe_endpoint
    orig_describe_transform = backend_cls.describe_transform_job
    orig_invoke = SageMakerRuntimeResponse.invoke_endpoint

    def create_training_job(self: Any, *args: Any, **kwargs: Any) -> Any:
        job = orig_create_training(self, *args, **kwargs)
        script.on_training_created(job)
        return job

    def describe_training_job(self: Any, training_job_name: str) -> Any:
        if training_job_name in self.training_jobs:
            script.on_training_described(self.training_jobs[training_job_name])
        return orig_describe_training(self, training_job_name)

    def create_endpoint(self: Any, *args: Any, **kwargs: Any) -> Any:
        ep = orig_create_endpoint(self, *args, **kwargs)
        script.calls.append(("CreateEndpoint", {"name": ep.endpoint_name}))
        script.on_endpoint_created(ep)
        return ep

    def describe_endpoint(self: Any, endpoint_name: str) -> Any:
        if endpoint_name in self.endpoints:
            script.on_endpoint_described(self.endpoints[endpoint_name])
        return orig_describe_endpoint(self, endpoint_name)

    def create_transform_job(self: Any, *args: Any, **kwargs: Any) -> Any:
        job = orig_create_transform(self, *args, **kwargs)
        script.on_transform_created(job, self.account_id)
        return job

    def describe_transform_job(self: Any, transform_job_name: str) -> Any:
        if transform_job_name in self.transform_jobs:
            script.on_transform_described(self.transform_jobs[transform_job_name])
        return orig_describe_transform(self, transform_job_name)

    def _validation(message: str) -> Exception:
        from moto.sagemaker.exceptions import ValidationError

        return ValidationError(message=message)

    def update_endpoint(self: Any) -> Any:
        name = self._get_param("EndpointName")
        config = self._get_param("EndpointConfigName")
        backend = self.sagemaker_backend
        if name not in backend.endpoints:
            raise _validation(f"Could not find endpoint '{name}'.")
        if config not in backend.endpoint_configs:
            raise _validation(f"Could not find endpoint configuration '{config}'.")
        ep = backend.endpoints[name]
        if ep.endpoint_status != "InService":
            raise _validation(f"Cannot update in-progress endpoint '{ep.arn}'.")
        script.on_update(ep, config)
        return ActionResult({"EndpointArn": ep.arn})

    def stop_training_job(self: Any) -> Any:
        name = self._get_param("TrainingJobName")
        backend = self.sagemaker_backend
        if name not in backend.training_jobs:
            raise _validation(f"Could not find training job '{name}'.")
        job = backend.training_jobs[name]
        if job.training_job_status != "InProgress":
            raise _validation(
                f"The request was rejected because the training job is in status {job.training_job_status}."
            )
        script.on_stop(job)
        return EmptyResult()

    def invoke_endpoint(self: Any) -> Any:
        if script.invoke_errors:
            raise script.invoke_errors.popleft()
        return orig_invoke(self)

    monkeypatch.setattr(backend_cls, "create_training_job", create_training_job)
    monkeypatch.setattr(backend_cls, "describe_training_job", describe_training_job)
    monkeypatch.setattr(backend_cls, "create_endpoint", create_endpoint)
    monkeypatch.setattr(backend_cls, "describe_endpoint", describe_endpoint)
    monkeypatch.setattr(backend_cls, "create_transform_job", create_transform_job)
    monkeypatch.setattr(backend_cls, "describe_transform_job", describe_transform_job)
    monkeypatch.setattr(SageMakerResponse, "update_endpoint", update_endpoint, raising=False)
    monkeypatch.setattr(SageMakerResponse, "stop_training_job", stop_training_job, raising=False)
    monkeypatch.setattr(SageMakerRuntimeResponse, "invoke_endpoint", invoke_endpoint)
    return script


def inject_error(client: Any, operation: str, code: str, message: str, status: int = 400) -> None:
    """Make every `operation` call on `client` fail with `code` (a real botocore error path)."""
    from botocore.awsrequest import AWSResponse

    class _Raw:
        def __init__(self, body: bytes) -> None:
            self._body = body

        def stream(self, **_: Any) -> Iterator[bytes]:
            yield self._body

    def handler(**_: Any) -> AWSResponse:
        body = json.dumps({"__type": code, "message": message}).encode()
        response = AWSResponse(
            "https://x", status, {"Content-Type": "application/x-amz-json-1.1"}, _Raw(body)
        )
        response._content = body  # type: ignore[attr-defined]
        return response

    client.meta.events.register(f"before-send.{client.meta.service_model.service_name}.{operation}", handler)


# -- canned runtime answers and errors ------------------------------------------------------------------
def model_error(original_status: int, message: str) -> Exception:
    """What SageMaker Runtime raises when the container answers an error: ModelError, HTTP 424."""
    from moto.core.exceptions import JsonRESTError

    class ModelError(JsonRESTError):
        code = 424

        def __init__(self) -> None:
            super().__init__(
                "ModelError",
                f"Received client error ({original_status}) from primary "
                f'with message "{message}". See the CloudWatch log for details.',
            )
            self.description = json.dumps(
                {
                    "__type": "ModelError",
                    "message": self.message,
                    "OriginalStatusCode": original_status,
                    "OriginalMessage": message,
                    "LogStreamArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/Endpoints",
                }
            )

    return ModelError()


def endpoint_not_found(name: str) -> Exception:
    from moto.core.exceptions import JsonRESTError

    class NotFound(JsonRESTError):
        code = 400

    return NotFound("ValidationError", f"Endpoint {name} of account {ACCOUNT} not found.")


def deepar_response(
    prediction_length: int,
    *,
    quantiles: Sequence[str] = ("0.1", "0.5", "0.9"),
    level: float = 38000.0,
    samples: Sequence[Sequence[float]] | None = None,
) -> str:
    """A DeepAR answer for one series: mean and quantiles rising by one a step (and `samples` if given)."""
    mean = [level + i for i in range(prediction_length)]
    spread = {"0.1": -500.0, "0.5": 0.0, "0.9": 500.0}
    prediction: dict[str, Any] = {
        "mean": mean,
        "quantiles": {q: [m + spread.get(q, 0.0) for m in mean] for q in quantiles},
    }
    if samples is not None:
        prediction["samples"] = [list(row) for row in samples]
    return json.dumps({"predictions": [prediction]})


def queue_endpoint_results(
    bodies: Iterable[str], *, region: str, server: str | None = None, content_type: str = "application/json"
) -> None:
    """Queue canned InvokeEndpoint answers (moto caches one per distinct request body)."""
    payload = {
        "account_id": ACCOUNT,
        "region": region,
        "results": [{"Body": body, "ContentType": content_type} for body in bodies],
    }
    if server is not None:
        import urllib.request

        request = urllib.request.Request(
            f"{server}/moto-api/static/sagemaker/endpoint-results",
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(request).read()
        return
    import requests

    requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results", json=payload, timeout=10
    ).raise_for_status()


# One base time for every stream a test writes: computed per call, two streams written a few
# milliseconds apart would drift against each other and `offset_ms` would not order them.
_LOG_BASE_MS = int(dt.datetime.now(dt.UTC).timestamp() * 1000) - 600_000


def put_training_logs(
    logs_client: Any,
    job: str,
    lines: Sequence[str],
    *,
    stream_suffix: str = "algo-1-1700000000",
    offset_ms: int = 0,
) -> str:
    """Create `/aws/sagemaker/TrainingJobs` (if needed) and a `{job}/algo-1-...` stream holding `lines`."""
    group = "/aws/sagemaker/TrainingJobs"
    with contextlib.suppress(logs_client.exceptions.ResourceAlreadyExistsException):
        logs_client.create_log_group(logGroupName=group)
    stream = f"{job}/{stream_suffix}"
    with contextlib.suppress(logs_client.exceptions.ResourceAlreadyExistsException):
        logs_client.create_log_stream(logGroupName=group, logStreamName=stream)
    if lines:
        base = _LOG_BASE_MS + offset_ms
        events = [{"timestamp": base + i * 10, "message": line} for i, line in enumerate(lines)]
        logs_client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
    return stream


def aws_tags(tags: dict[str, str]) -> list[dict[str, str]]:
    """A tag dict as the SageMaker API takes it."""
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def create_hosting(
    client: Any, name: str, tags: dict[str, str], *, role_arn: str, model_data_url: str | None = None
) -> None:
    """A model, its endpoint config and endpoint, all named `name`, created straight with boto3 (as a
    user, or an interrupted run of the tool, would leave them): not through the tool."""
    container = {"Image": "633353088612.dkr.ecr.ap-northeast-1.amazonaws.com/forecasting-deepar:1"}
    if model_data_url is not None:
        container["ModelDataUrl"] = model_data_url
    client.create_model(
        ModelName=name, ExecutionRoleArn=role_arn, PrimaryContainer=container, Tags=aws_tags(tags)
    )
    client.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
        Tags=aws_tags(tags),
    )
    client.create_endpoint(EndpointName=name, EndpointConfigName=name, Tags=aws_tags(tags))


# -- step-test helpers: a Context with a fake clock, and a ledger as `prepare` + `provision` leave it ----
BUCKET = "nikkei-deepar-test-bucket"
ROLE = "nikkei-deepar-sagemaker"


class FakeClock:
    """`ctx.clock` and `ctx.sleep` in one: sleeping advances the clock; `interrupt_at` raises
    KeyboardInterrupt on that sleep (1-based), as Ctrl-C during a real sleep would."""

    def __init__(self, *, interrupt_at: int | None = None, on_sleep: Any = None) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.interrupt_at = interrupt_at
        self.on_sleep = on_sleep  # called with the sleep's number (1-based) before it "sleeps"

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.on_sleep is not None:
            self.on_sleep(len(self.sleeps))
        if self.interrupt_at is not None and len(self.sleeps) == self.interrupt_at:
            raise KeyboardInterrupt
        self.now += seconds


def settings_for(**sections: Any) -> Any:
    """Settings for the tests' account; each keyword is a config section (a dict) or a top-level value."""
    from nikkei_deepar.config import Settings

    raw: dict[str, Any] = {"aws": {"region": REGION, "bucket": BUCKET, "role_name": ROLE}}
    for name, values in sections.items():
        if isinstance(values, dict):
            raw.setdefault(name, {}).update(values)
        else:
            raw[name] = values
    return Settings.model_validate(raw)


def make_context(
    home: Any, settings: Any = None, *, clock: FakeClock | None = None, interactive: bool = False
) -> Any:
    import io

    from nikkei_deepar.config import LoadedConfig
    from nikkei_deepar.context import Context
    from nikkei_deepar.history import HISTORY_FILE, LocalHistory
    from nikkei_deepar.output import Reporter
    from nikkei_deepar.state.local import LocalStateStore

    clock = clock or FakeClock()
    reporter = Reporter(interactive=interactive, color=False, stream=io.StringIO())
    return Context(
        loaded=LoadedConfig(settings=settings or settings_for(), path=None, origin="defaults"),
        state=LocalStateStore(home),
        history=LocalHistory(home / HISTORY_FILE),
        home=home,
        workspace_dir=home,
        reporter=reporter,
        sleep=clock.sleep,
        clock=clock,
    )


def stderr_of(ctx: Any) -> str:
    return str(ctx.reporter.stream.getvalue())


def demo_series(days: int = 420, *, start: dt.date = dt.date(2023, 1, 4)) -> Any:
    """A calendar_days series: weekdays hold a slowly rising close, weekends NaN. It ends near 38,000,
    where `deepar_response` starts: predict refuses an answer more than 20% from the last close."""
    from nikkei_deepar.data.series import Series

    dates = tuple(start + dt.timedelta(days=i) for i in range(days))
    target = tuple(float("nan") if d.weekday() >= 5 else 34000.0 + 10 * i for i, d in enumerate(dates))
    last = max(i for i, d in enumerate(dates) if d.weekday() < 5)
    return Series(policy="calendar_days", start=start, target=target[: last + 1], dates=dates[: last + 1])


def seed_prepared(ctx: Any, *, with_role: bool = True, series: Any = None, upload: bool = True) -> Any:
    """Bucket + role in moto, the channels and series.json in S3 and locally, the ledger records.

    Returns the DataVersion recorded (as `prepare` would have)."""
    import boto3

    from nikkei_deepar.data.series_io import dump_series
    from nikkei_deepar.ledger import Resource

    settings = ctx.settings
    series = series or demo_series()
    sha = "ab" * 32
    prefix = f"{settings.aws.prefix}/data/{sha[:16]}"
    files = {
        "train/train.json": b'{"start":"2023-01-04 00:00:00","target":[1.0,2.0]}\n',
        "test/test.json": b'{"start":"2023-01-04 00:00:00","target":[1.0,2.0,3.0]}\n',
        "series.json": dump_series(series),
    }
    local = ctx.home / "data" / sha[:16]
    for name, body in files.items():
        (local / name).parent.mkdir(parents=True, exist_ok=True)
        (local / name).write_bytes(body)
    role_arn = None
    if upload:
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        for name, body in files.items():
            s3.put_object(Bucket=BUCKET, Key=f"{prefix}/{name}", Body=body)
    if with_role:
        iam = boto3.client("iam", region_name=REGION)
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sagemaker.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        role_arn = iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        create_scheduler_role(settings.scheduler_role_name(), endpoint=settings.endpoint.name)
    version = series_version(
        settings,
        series,
        sha=sha,
        local_dir=local,
        train_uri=f"s3://{BUCKET}/{prefix}/train/",
        test_uri=f"s3://{BUCKET}/{prefix}/test/",
        series_uri=f"s3://{BUCKET}/{prefix}/series.json",
    )
    with edited(ctx.state) as ledger:
        ledger.record_data(version)
        if role_arn is not None:
            ledger.record_resource(Resource(kind="role", name=ROLE, arn=role_arn, region=REGION))
    return version


def create_scheduler_role(
    name: str = "nikkei-deepar-dev-scheduler", *, endpoint: str = "nikkei-deepar-dev"
) -> str:
    """The role EventBridge Scheduler runs an endpoint's expiry as, as `provision` makes it (in moto)."""
    import boto3

    from nikkei_deepar.backends.sagemaker.policy import (
        SCHEDULER_POLICY_NAME,
        scheduler_policy,
        scheduler_trust_policy,
    )

    iam = boto3.client("iam", region_name=REGION)
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(scheduler_trust_policy(ACCOUNT)))
    iam.put_role_policy(
        RoleName=name,
        PolicyName=SCHEDULER_POLICY_NAME,
        PolicyDocument=json.dumps(scheduler_policy(endpoint=endpoint, region=REGION, account=ACCOUNT)),
    )
    return str(arn["Role"]["Arn"])


def clocked_factory(clock: FakeClock, *, now: dt.datetime | None = None) -> Any:
    """A ContextFactory whose contexts sleep on and read time from `clock`: nothing really waits. `now`
    fixes the wall clock (what day it is: stale data, when a forecast was issued)."""
    from nikkei_deepar.factory import ContextFactory

    return ContextFactory(sleep=clock.sleep, clock=clock, now=None if now is None else (lambda: now))


def evening_after(day: dt.date) -> dt.datetime:
    """18:30 in Tokyo on `day`: the data ending that day is as fresh as data can be."""
    return dt.datetime.combine(day, dt.time(9, 30), tzinfo=dt.UTC)


def price_list_answer(usd: str, *, instance: str = "ml.m5.large", region: str = REGION) -> dict[str, Any]:
    """A GetProducts answer as the Price List API gives it (moto has no Price List API): one SageMaker
    hosting product with one on-demand hourly price."""
    sku = "TESTSKU1"
    product = {
        "product": {
            "productFamily": "ML Instance",
            "attributes": {"instanceName": instance, "regionCode": region, "platoinstancetype": "Hosting"},
            "sku": sku,
        },
        "terms": {
            "OnDemand": {
                f"{sku}.T": {"priceDimensions": {f"{sku}.T.D": {"unit": "Hrs", "pricePerUnit": {"USD": usd}}}}
            }
        },
        "publicationDate": "2026-11-20T10:00:00Z",
    }
    return {"PriceList": [json.dumps(product)], "FormatVersion": "aws_v1"}


LIFECYCLE_CONFIG = f"""
[aws]
region = "{REGION}"
bucket = "{BUCKET}"
role_name = "{ROLE}"
"""
"""The config the CLI lifecycle tests run with (written to the working directory by the `cli` fixture)."""
