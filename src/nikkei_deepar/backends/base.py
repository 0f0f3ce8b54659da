"""The one interface every backend implements, and the small frozen records it exchanges.

The steps (train, wait, deploy, predict, teardown, ...) talk only to a `Backend`; they never know
whether SageMaker or the local GluonTS DeepAR is behind it. The interface is deliberately made of
resource verbs (start, describe, create, update, delete, invoke): polling, the ledger, resource naming,
retention and output are step logic, written once and shared by every backend.

Vocabulary: statuses are SageMaker's words, which every backend reports in:
- training and transform jobs: InProgress, Stopping, then Completed | Failed | Stopped;
- endpoints: Creating, Updating, SystemUpdating, RollingBack, Deleting, then InService | Failed
  (OutOfService too).
"Not found" is a normal answer (None / False), never an exception. Other failures raise the
package's `NikkeiError`s (AwsError, NotFoundError, ...), translated inside the implementation.

Besides the resource verbs, a backend hands out what else differs by place, each speaking a shared
vocabulary module of `backends/`: its `provisioner()` (backends/plan.py), `remover()` (removal.py),
`probe()` (probe.py) and `checks()` (checks.py), and the `words` its human output uses. Steps never ask
which backend they have.

A leaf for the steps: imports nothing from the package at run time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from nikkei_deepar.backends.checks import Check
    from nikkei_deepar.backends.expiry import ExpiryKeeper
    from nikkei_deepar.backends.plan import Provisioner
    from nikkei_deepar.backends.probe import Probe
    from nikkei_deepar.backends.removal import Remover
    from nikkei_deepar.instance_prices import LivePrice
    from nikkei_deepar.ledger import Ledger

# -- statuses ----------------------------------------------------------------------------------------
JOB_COMPLETED = "Completed"
JOB_FAILED = "Failed"
JOB_STOPPED = "Stopped"
JOB_IN_PROGRESS = "InProgress"
JOB_TERMINAL = frozenset({JOB_COMPLETED, JOB_FAILED, JOB_STOPPED})

ENDPOINT_IN_SERVICE = "InService"
ENDPOINT_FAILED = "Failed"
ENDPOINT_OUT_OF_SERVICE = "OutOfService"
# An endpoint in one of these will change by itself; anything else is where it will stay.
ENDPOINT_TRANSITIONAL = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"})


# -- how people are told about a place ------------------------------------------------------------------
@dataclass(frozen=True)
class Words:
    """How human output speaks of where things run: the defaults are SageMaker's (S3 uploads, instance
    types, InService); a backend where those words would be wrong says its own. Only what people read
    changes: the --json documents keep the shared vocabulary (statuses, instance types, "uploaded")."""

    stored: str = "uploaded"  # a file put into the backend's store
    statuses: Mapping[str, str] = field(default_factory=dict)  # endpoint status -> what is shown here
    runs_on: str | None = None  # where a job trains and an endpoint serves; None: its instance type

    def status(self, status: str) -> str:
        """An endpoint's status as people read it here."""
        return self.statuses.get(status, status)

    def variant(self, variant: Mapping[str, Any]) -> str:
        """Where an endpoint variant serves: `ml.m5.large x1`, serverless, or this place's words."""
        if self.runs_on is not None:
            return self.runs_on
        if variant.get("serverless"):
            return (
                f"serverless, {variant.get('memory_mb')} MB, max concurrency {variant.get('max_concurrency')}"
            )
        if variant.get("instance_type"):
            return f"{variant['instance_type']} x{variant.get('instance_count', 1)}"
        return "variant unknown"

    def training(self, instance_type: str, *, spot: bool) -> str:
        """Where a training job runs: `ml.m5.large, managed spot`, or this place's words."""
        if self.runs_on is not None:
            return self.runs_on
        return instance_type + (", managed spot" if spot else "")


# -- what the steps ask for ---------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainingSpec:
    """One training job, fully resolved by the step (names, URIs, hyperparameters as strings)."""

    name: str
    hyperparameters: Mapping[str, str]
    channels: Mapping[str, str]  # channel name ("train", "test") -> data location (a prefix)
    output_uri: str  # where the model artefact goes (the backend adds "{name}/output/model.tar.gz")
    instance_type: str
    instance_count: int
    volume_size_gb: int
    max_runtime_seconds: int
    tags: Mapping[str, str]
    spot: bool = False
    max_wait_seconds: int | None = None  # spot only: > max_runtime_seconds, at most 3600 for DeepAR
    seed: int = 42  # used by backends that can seed their training (SageMaker's DeepAR cannot)
    # Called once the job exists. A backend that trains inside `start_training` (local) calls it before
    # the first epoch, so the job is recorded and announced at its start; the train step calls it after
    # `start_training` returns if the backend did not.
    on_started: Callable[[], None] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    model_artifact: str  # the trained job's artefact, as DescribeTraining reported it
    tags: Mapping[str, str]
    job: str | None = None  # the training job it comes from (for the record)


@dataclass(frozen=True)
class ServerlessSpec:
    """A serverless endpoint variant (no DeepAR-specific documentation; offered as an option)."""

    memory_mb: int
    max_concurrency: int


@dataclass(frozen=True)
class EndpointConfigSpec:
    name: str
    model_name: str
    tags: Mapping[str, str]
    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    serverless: ServerlessSpec | None = None  # set: a serverless variant instead of instances


@dataclass(frozen=True)
class TransformSpec:
    """A batch forecast: one JSON Lines input file in, `<input>.out` under `output_uri` out."""

    name: str
    model_name: str
    input_uri: str
    output_uri: str  # a prefix
    inference_config: Mapping[str, Any]  # DeepAR's "configuration" object
    instance_type: str
    instance_count: int
    tags: Mapping[str, str]
    max_runtime_seconds: int = 3600


# -- what the backends report ---------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainingState:
    name: str
    status: str
    secondary_status: str | None = None
    failure_reason: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)  # final metrics: {"test:RMSE": ...}
    billable_seconds: int | None = None
    training_seconds: int | None = None
    model_artifact: str | None = None
    created: dt.datetime | None = None
    started: dt.datetime | None = None
    ended: dt.datetime | None = None
    spot: bool = False
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    channels: Mapping[str, str] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        return self.status in JOB_TERMINAL

    @property
    def spot_savings(self) -> float | None:
        """1 - billable / training time (AWS's definition), when both are known and spot was used."""
        if not self.spot or not self.billable_seconds or not self.training_seconds:
            return None
        return max(0.0, 1.0 - self.billable_seconds / self.training_seconds)


@dataclass(frozen=True)
class EndpointState:
    name: str
    status: str
    config_name: str | None = None
    failure_reason: str | None = None
    created: dt.datetime | None = None
    modified: dt.datetime | None = None

    @property
    def settled(self) -> bool:
        return self.status not in ENDPOINT_TRANSITIONAL


@dataclass(frozen=True)
class TransformState:
    name: str
    status: str
    failure_reason: str | None = None
    created: dt.datetime | None = None
    ended: dt.datetime | None = None

    @property
    def terminal(self) -> bool:
        return self.status in JOB_TERMINAL


@dataclass(frozen=True)
class LogEvent:
    timestamp: dt.datetime
    message: str
    stream: str = ""


@dataclass(frozen=True)
class LogCursor:
    """Where the next `training_logs` call resumes: opaque per-stream positions, owned by the backend."""

    positions: tuple[tuple[str, str], ...] = ()

    def get(self, stream: str) -> str | None:
        return dict(self.positions).get(stream)


@dataclass(frozen=True)
class LogPage:
    events: tuple[LogEvent, ...]
    cursor: LogCursor


# -- the interface ------------------------------------------------------------------------------------
@runtime_checkable
class Backend(Protocol):
    """Resource verbs over one place where DeepAR runs. Implementations: sagemaker (and local)."""

    @property
    def name(self) -> str:
        """ "sagemaker" or "local": stored in the ledger next to everything created through it."""
        ...

    @property
    def region(self) -> str | None:
        """The region resources live in (None where that means nothing)."""
        ...

    @property
    def hosting_note(self) -> str | None:
        """What a person should know about a live endpoint here (what it costs), or None."""
        ...

    @property
    def first_step(self) -> str:
        """The command a new config for this backend runs first ("provision" or "prepare")."""
        ...

    @property
    def bills(self) -> bool:
        """Whether what it hosts costs money (then status prices endpoints and warns they bill)."""
        ...

    @property
    def words(self) -> Words:
        """How human output speaks of this place (stored / uploaded, ready / InService, where it runs)."""
        ...

    @property
    def predict_mode(self) -> str:
        """How a real-time `predict` is answered here, as the forecast history records it: "endpoint" (a
        hosted endpoint answers over the network) or "local" (the model runs in this process)."""
        ...

    # what else differs by backend (each from a shared vocabulary module of backends/)
    def provisioner(self) -> Provisioner:
        """What `provision` plans and applies here (read-only until applied)."""
        ...

    def remover(self, ledger: Ledger) -> Remover:
        """What `teardown` asks about this backend's entries of `ledger`, and what deletes them."""
        ...

    def probe(self) -> Probe:
        """What `status` asks whether recorded resources exist here (read-only)."""
        ...

    def checks(self) -> list[Check]:
        """`doctor`'s preflight checks for this backend (reads only; spends nothing)."""

    def request_problems(self) -> tuple[list[str], list[str]]:
        """(errors, warnings), one line each naming the config key, for every request this config will make
        the backend send (`config validate`; offline)."""
        ...

    def check_requests(self, command: str) -> None:
        """Before `command` ("train", "deploy", "predict --batch") creates anything: raise ConfigError when
        the service would refuse a request it is going to send for this config (checked offline)."""
        ...

    # storage
    def artifact_uri(self, key: str) -> str:
        """The location of `key` (a relative path such as "output/") in this backend's store."""
        ...

    def put_artifact(self, key: str, body: bytes, *, content_type: str) -> str:
        """Store `body` at `key`; return its location."""
        ...

    def get_artifact(self, uri: str) -> bytes:
        """Read a location this backend gave out; NotFoundError when it is not there."""
        ...

    def exists(self, uri: str) -> bool:
        """Whether a location this backend gave out holds a stored file now."""
        ...

    # training
    def start_training(self, spec: TrainingSpec) -> str:
        """Start a job; returns its ARN (or id). Does not wait."""
        ...

    def describe_training(self, name: str) -> TrainingState | None: ...

    def find_trainings(self, *, name_contains: str, status: str) -> list[str]:
        """Names of jobs whose name contains `name_contains` and whose status is `status`."""
        ...

    def training_logs(self, name: str, *, cursor: LogCursor | None = None) -> LogPage:
        """Log events after `cursor` (from the start when None); an empty page when there are none yet."""
        ...

    # hosting
    def create_model(self, spec: ModelSpec) -> str: ...

    def create_endpoint_config(self, spec: EndpointConfigSpec) -> str: ...

    def create_endpoint(self, name: str, *, config_name: str, tags: Mapping[str, str]) -> str: ...

    def update_endpoint(self, name: str, *, config_name: str) -> None: ...

    def describe_endpoint(self, name: str) -> EndpointState | None: ...

    def resource_tags(self, kind: str, name: str) -> dict[str, str] | None:
        """The tags of `kind` ("model", "endpoint-config" or "endpoint"; SageMaker also "bucket" and
        "role") `name` now, or None when it does not exist: what ownership is decided by, before anything
        is changed or deleted. ValueError for a kind this backend has no such thing of."""
        ...

    def tag(self, kind: str, name: str, tags: Mapping[str, str]) -> str | None:
        """`import`: put `tags` on an existing resource (other tags stay); returns its ARN (or None)."""
        ...

    def find_tagged(self, kind: str, name_prefix: str) -> dict[str, dict[str, str]]:
        """Every `kind` ("model", "endpoint-config" or "endpoint") whose name starts with `name_prefix`,
        name -> its tags ({} when it has none), whoever made it: the caller decides what is its own.
        Lets `deploy` find what an interrupted deploy created but never recorded."""
        ...

    def invoke(self, endpoint: str, body: bytes, *, content_type: str, accept: str) -> bytes:
        """One real-time request; a model or service error is an AwsError quoting what came back."""
        ...

    # batch
    def start_transform(self, spec: TransformSpec) -> str: ...

    def describe_transform(self, name: str) -> TransformState | None: ...

    # deletion: True when deleted now, False when it was already gone
    def delete_model(self, name: str) -> bool: ...

    def delete_endpoint_config(self, name: str) -> bool: ...

    def delete_endpoint(self, name: str) -> bool: ...

    # expiry: the endpoint deleted at a set time by the place it runs (backends/expiry.py)
    def expiry_keeper(self) -> ExpiryKeeper: ...

    def logs_link(self, kind: str, name: str) -> str | None:
        """Where a person reads the log of a "training-job" or an "endpoint" (a console URL), or None."""
        ...

    def live_price(self, instance_type: str) -> LivePrice | None:
        """The current on-demand price of one hosting instance-hour here (instance_prices.py: cached, with the
        reason when there is none), or None where there is no price list to ask (nothing billed, or
        `[costs] live_prices = false`)."""
        ...
