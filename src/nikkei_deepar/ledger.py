"""The ledger: what this tool did and what it owns, as a versioned model that answers the steps' questions.

A leaf (imports only `errors`). It records every data version `prepare` stored, every resource the tool
created (written the moment it exists, so a crash never leaves an unknown resource), every training job,
every deployment (each one a promotion: the model a `retrain` gate compares with, even after its
endpoint is gone) and the last backtests. Where it is kept, how it is written and locked, is the state
store's (`nikkei_deepar.state`); this module only parses, serialises and answers.

Questions the steps ask are each written once here (`deployment`, `served`, `completed_jobs`, ...): a
step loads the ledger once and asks it; a write goes through the state store, which hands back the saved
ledger. An unknown schema version is refused, never silently reset; a corrupt text is reported with
where it came from.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from nikkei_deepar.errors import DataError, VersionError

# 2: `created`/`adopted`/`endpoint`/`job`/`model` are fields of a resource (1 kept them in `extra`) and
# a resource may be a `schedule`. A build that knows only 1 must refuse a 2 ("use the version that wrote
# it") rather than call it corrupt; this build reads a 1 and writes it back as a 2.
SCHEMA_VERSION = 2
_READABLE_VERSIONS = frozenset({1, SCHEMA_VERSION})


def utcnow() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataVersion(_Record):
    """One prepared data set, content-addressed by `sha256`."""

    sha256: str
    source: str
    rows: int
    first: str
    last: str
    column: str
    calendar: str
    prediction_length: int
    context_length: int
    observations: int
    backend: str
    train_uri: str
    test_uri: str
    series_uri: str | None = None  # the full prepared series (for predict), next to the channels
    local_dir: str | None = None  # where the channel files were written locally
    uploaded: bool = True
    calendar_features: bool = False  # the channels carry `[data] calendar_features` as dynamic_feat
    # what the channels' target is (`[data] target`); a ledger from before the setting held prices
    target: Literal["price", "log_return"] = "price"
    prepared_at: str = Field(default_factory=utcnow)


# Resource fields that logic reads; ledgers written before they were fields kept them in `extra`.
_LIFTED = ("created", "adopted", "endpoint", "job", "model")


class Resource(_Record):
    """A resource the tool created (or adopted because it carries the tool's tag)."""

    kind: Literal[
        "bucket",
        "role",
        "model",
        "endpoint-config",
        "endpoint",
        "transform-job",
        "local-dir",
        "schedule",
        "prefix",  # a workspace's keys in a bucket it does not own (teardown --all, never recorded)
    ]
    name: str
    backend: str = "sagemaker"
    arn: str | None = None
    region: str | None = None
    created_at: str = Field(default_factory=utcnow)
    deleted_at: str | None = None
    created: bool = False  # `provision` made it (or adopted it): what teardown --all may delete
    adopted: bool = False  # found carrying the tool's tags but missing from the ledger, then recorded
    endpoint: str | None = None  # the endpoint a model / endpoint config was made for (deploy)
    job: str | None = None  # the training job a model / endpoint config / transform job serves
    model: str | None = None  # the model an endpoint config / transform job uses
    extra: dict[str, Any] = Field(default_factory=dict)  # for the record only (variant, artefact, ...)

    @model_validator(mode="before")
    @classmethod
    def _lift_extra(cls, data: Any) -> Any:
        """Keys logic reads become fields: from a ledger written before, or a caller's `extra=`."""
        if not isinstance(data, dict) or not isinstance(data.get("extra"), dict):
            return data
        extra = dict(data["extra"])
        lifted = {k: extra.pop(k) for k in _LIFTED if k in extra and k not in data}
        return {**data, **lifted, "extra": extra}

    @property
    def live(self) -> bool:
        return self.deleted_at is None


class Job(_Record):
    name: str
    backend: str = "sagemaker"
    data_sha256: str
    hyperparameters: dict[str, str]
    config_hash: str
    started_at: str = Field(default_factory=utcnow)
    status: str = "InProgress"
    secondary_status: str | None = None
    failure_reason: str | None = None
    ended_at: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    billable_seconds: int | None = None
    training_seconds: int | None = None
    model_artifact: str | None = None
    # what the model was trained on (its data's `target`): predict sends and reads back accordingly
    target: Literal["price", "log_return"] = "price"


class Deployment(_Record):
    endpoint: str
    model: str
    endpoint_config: str
    job: str
    backend: str = "sagemaker"
    deployed_at: str = Field(default_factory=utcnow)
    metrics: dict[str, float] = Field(default_factory=dict)


class Backtest(_Record):
    """One `backtest` run: what was scored (data, DeepAR's hyperparameters, the blend) and the scores,
    so `deploy` and `retrain` can show how a model's configuration fared against the random walk."""

    data_sha256: str
    hyperparameters: dict[str, str]
    random_walk_weight: float = 0.0
    # what its DeepAR models were trained on (`[data] target`); backtests from before it held prices
    target: Literal["price", "log_return"] = "price"
    horizon: int
    windows: int
    # model key -> {"mean_wql", "mase", "coverage80"}; "random-walk" and "deepar" (the shipped forecast)
    scores: dict[str, dict[str, float]] = Field(default_factory=dict)
    at: str = Field(default_factory=utcnow)


BACKTESTS_KEPT = 20


class Maker(Protocol):
    """Where a resource was made: a backend's name and region (any `Backend` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def region(self) -> str | None: ...


def made_by(maker: Maker, kind: str, name: str, *, arn: str | None = None, **extra: Any) -> Resource:
    """The record of a resource `maker` (a backend) just made, to write at once, before anything else."""
    return Resource(kind=kind, name=name, backend=maker.name, arn=arn, region=maker.region, extra=extra)


Target = Literal["price", "log_return"]
JOB_COMPLETED = "Completed"  # the backends' word (backends.base), spelled here so the ledger stays a leaf


@dataclass(frozen=True)
class ServedModel:
    """What a forecast from an endpoint must be built for: the job it serves (None: no deployment known,
    the config's values stand in) and what that job was trained with."""

    job: str | None
    prediction_length: int
    target: Target
    hyperparameters: Mapping[str, str]  # the job's (calendar features: `data.horizon.features_through`)


class Ledger(_Record):
    schema_version: int = SCHEMA_VERSION
    updated_at: str = Field(default_factory=utcnow)
    data: list[DataVersion] = Field(default_factory=list)
    resources: list[Resource] = Field(default_factory=list)
    jobs: list[Job] = Field(default_factory=list)
    deployments: list[Deployment] = Field(default_factory=list)
    backtests: list[Backtest] = Field(default_factory=list)

    # -- queries: each question the steps ask, written once ------------------------------------------
    @property
    def last_data(self) -> DataVersion | None:
        return self.data[-1] if self.data else None

    @property
    def last_job(self) -> Job | None:
        return self.jobs[-1] if self.jobs else None

    def job(self, name: str) -> Job | None:
        return next((j for j in reversed(self.jobs) if j.name == name), None)

    def completed_jobs(self, *, backend: str | None = None) -> list[Job]:
        """Completed jobs, newest first (of one backend when given)."""
        return [
            j
            for j in reversed(self.jobs)
            if j.status == JOB_COMPLETED and (backend is None or j.backend == backend)
        ]

    def deployment(self, endpoint: str, *, backend: str) -> Deployment | None:
        """The last model promoted to `endpoint` by `backend`: what the endpoint serves while it exists,
        and what a new model must beat (retrain's gate) even once the endpoint is torn down. The backend
        is part of the question: after a backend switch, the other backend's deployments are not ours."""
        found = [d for d in self.deployments if d.endpoint == endpoint and d.backend == backend]
        return found[-1] if found else None

    def served(self, endpoint: str, *, backend: str, default: ServedModel) -> ServedModel:
        """The model `endpoint` serves (its last deployment by `backend`), with what it was trained for;
        `default` (the config's values) where the ledger knows no deployment."""
        deployed = self.deployment(endpoint, backend=backend)
        return self.model_of(deployed.job if deployed is not None else None, default=default)

    def model_of(self, job: str | None, *, default: ServedModel) -> ServedModel:
        """Job `job`'s model with what it was trained for (prediction length, target, hyperparameters);
        `default`'s values where the ledger holds no record of it (or `job` is None)."""
        record = self.job(job) if job is not None else None
        if record is None:
            return (
                default
                if job is None
                else ServedModel(
                    job=job,
                    prediction_length=default.prediction_length,
                    target=default.target,
                    hyperparameters=default.hyperparameters,
                )
            )
        length = record.hyperparameters.get("prediction_length")
        return ServedModel(
            job=record.name,
            prediction_length=int(length) if length else default.prediction_length,
            target=record.target,
            hyperparameters=dict(record.hyperparameters),
        )

    def live_resources(self, kind: str | None = None) -> list[Resource]:
        return [r for r in self.resources if r.live and (kind is None or r.kind == kind)]

    def resource(self, kind: str, name: str) -> Resource | None:
        return next((r for r in reversed(self.resources) if r.kind == kind and r.name == name), None)

    def live(self, kind: str, name: str) -> Resource | None:
        """The live record of `kind` `name`, or None."""
        found = self.resource(kind, name)
        return found if found is not None and found.live else None

    def created(self, kind: str, name: str) -> bool:
        """The ledger lists this resource as live and says the tool created (or adopted) it."""
        found = self.live(kind, name)
        return found is not None and found.created

    def last_backtest(self, job: Job, *, random_walk_weight: float) -> Backtest | None:
        """The newest backtest of `job`'s configuration (hyperparameters, target and blend weight), on
        the job's data if there is one, else on the newest data it was run on."""
        same = [
            b
            for b in self.backtests
            if b.hyperparameters == job.hyperparameters
            and b.target == job.target
            and b.random_walk_weight == random_walk_weight
            and {"deepar", "random-walk"} <= set(b.scores)
        ]
        on_its_data = [b for b in same if b.data_sha256 == job.data_sha256]
        found = on_its_data or same
        return found[-1] if found else None

    # -- changes (made inside a state store's `update`, which saves them) -----------------------------
    def record(self, *resources: Resource) -> None:
        """Resources that exist now, each replacing a live record of itself (one created again after it
        was deleted outside the tool)."""
        for resource in resources:
            self.mark_deleted(resource.kind, resource.name)
            self.resources.append(resource)

    def record_resource(self, resource: Resource) -> None:
        """Record `resource` unless a live record of it is there already."""
        if self.live(resource.kind, resource.name) is None:
            self.resources.append(resource)

    def mark_deleted(self, kind: str, name: str) -> None:
        for r in self.resources:
            if r.kind == kind and r.name == name and r.live:
                r.deleted_at = utcnow()

    def upsert_job(self, job: Job) -> None:
        for i, existing in enumerate(self.jobs):
            if existing.name == job.name:
                self.jobs[i] = job
                return
        self.jobs.append(job)

    def record_backtest(self, backtest: Backtest) -> None:
        self.backtests = [*self.backtests, backtest][-BACKTESTS_KEPT:]

    def record_data(self, version: DataVersion) -> None:
        self.data = [d for d in self.data if d.sha256 != version.sha256]
        self.data.append(version)


# -- changes a step hands to its state store's `update` ----------------------------------------------
def recording(*resources: Resource) -> Callable[[Ledger], None]:
    """The change that records `resources` (each replacing a live record of itself)."""
    return lambda ledger: ledger.record(*resources)


def deleting(kind: str, name: str) -> Callable[[Ledger], None]:
    """The change that marks `kind` `name` deleted."""
    return lambda ledger: ledger.mark_deleted(kind, name)


# -- text ----------------------------------------------------------------------------------------------
def parse_ledger(text: str | bytes, *, where: str, backup_hint: str) -> Ledger:
    """A ledger from its JSON text; DataError (exit 3) naming `where` when this version cannot read it."""
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        detail = (
            f"{exc.msg} at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        )
        raise DataError(
            f"{where}: the ledger is corrupt (not JSON: {detail})",
            hint=backup_hint,
            code="ledger-corrupt",
        ) from None
    version = raw.get("schema_version") if isinstance(raw, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        raise VersionError(
            f"{where}: the ledger was written by a newer version of nikkei-deepar (schema {version}; this "
            f"version reads up to {SCHEMA_VERSION})",
            hint="upgrade nikkei-deepar (pip install -U nikkei-deepar) and run the command again",
        )
    if version not in _READABLE_VERSIONS:
        raise DataError(
            f"{where}: not a nikkei-deepar ledger (schema_version {version!r})",
            hint=backup_hint,
            code="ledger-corrupt",
        )
    try:
        return Ledger.model_validate({**raw, "schema_version": SCHEMA_VERSION})
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        at = ".".join(str(p) for p in first["loc"])
        raise DataError(
            f"{where}: the ledger is corrupt ({at}: {first['msg']})",
            hint=backup_hint,
            code="ledger-corrupt",
        ) from None


def dump_ledger(ledger: Ledger) -> bytes:
    """The ledger as the text a store keeps (stamped `updated_at` now)."""
    ledger.updated_at = utcnow()
    return (ledger.model_dump_json(indent=2, exclude_none=False) + "\n").encode("utf-8")
