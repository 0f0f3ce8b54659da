"""The ledger: what this tool did and what it owns, in one versioned JSON file.

A leaf (imports only `errors`). It records every data version `prepare` stored, every resource the tool
created (written the moment it exists, so a crash never leaves an unknown resource), every training job
and every deployment. Writes are atomic (temp file in the same folder + `os.replace`); commands that
change anything hold an exclusive lock (`fcntl.flock` on `state.lock`, which the kernel releases when the
holder dies, so a lock left by a dead process is detected and taken over). An unknown schema version is
refused, never silently reset; a corrupt file is reported with its path.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from nikkei_deepar.errors import DataError, LockHeldError
from nikkei_deepar.files import write_atomic

# 2: `created`/`adopted`/`endpoint`/`job`/`model` are fields of a resource (1 kept them in `extra`) and
# a resource may be a `schedule`. A build that knows only 1 must refuse a 2 ("use the version that wrote
# it") rather than call it corrupt; this build reads a 1 and writes it back as a 2.
SCHEMA_VERSION = 2
_READABLE_VERSIONS = frozenset({1, SCHEMA_VERSION})
HOME_ENV = "NIKKEI_DEEPAR_HOME"
STATE_FILE = "state.json"
LOCK_FILE = "state.lock"
LEDGER_MODE = 0o600  # the ledger, its backup and its lock name the account's resources: the owner's only


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
        "bucket", "role", "model", "endpoint-config", "endpoint", "transform-job", "local-dir", "schedule"
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


class Ledger(_Record):
    schema_version: int = SCHEMA_VERSION
    updated_at: str = Field(default_factory=utcnow)
    data: list[DataVersion] = Field(default_factory=list)
    resources: list[Resource] = Field(default_factory=list)
    jobs: list[Job] = Field(default_factory=list)
    deployments: list[Deployment] = Field(default_factory=list)
    backtests: list[Backtest] = Field(default_factory=list)

    # -- queries -------------------------------------------------------------------------------
    @property
    def last_data(self) -> DataVersion | None:
        return self.data[-1] if self.data else None

    @property
    def last_job(self) -> Job | None:
        return self.jobs[-1] if self.jobs else None

    def job(self, name: str) -> Job | None:
        return next((j for j in reversed(self.jobs) if j.name == name), None)

    def live_resources(self, kind: str | None = None) -> list[Resource]:
        return [r for r in self.resources if r.live and (kind is None or r.kind == kind)]

    def resource(self, kind: str, name: str) -> Resource | None:
        return next((r for r in reversed(self.resources) if r.kind == kind and r.name == name), None)

    # -- changes (callers persist with StateStore.update) ---------------------------------------
    def record_resource(self, resource: Resource) -> None:
        existing = self.resource(resource.kind, resource.name)
        if existing is not None and existing.live:
            return
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

    def record_data(self, version: DataVersion) -> None:
        self.data = [d for d in self.data if d.sha256 != version.sha256]
        self.data.append(version)


class StateStore:
    """Reads and atomically writes the ledger at `path`; `lock()` guards read-modify-write cycles."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.path = home / STATE_FILE
        self.lock_path = home / LOCK_FILE
        self._lock_fd: int | None = None

    @staticmethod
    def default_home(config_path: Path | None, *, env: dict[str, str] | os._Environ[str], cwd: Path) -> Path:
        if env.get(HOME_ENV):
            return Path(env[HOME_ENV])
        base = config_path.parent if config_path is not None else cwd
        return base / ".nikkei-deepar"

    def load(self) -> Ledger:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return Ledger()
        except OSError as exc:
            raise DataError(f"{self.path}: cannot read the ledger: {exc.strerror}") from None
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{self.path}: the ledger is corrupt (not JSON: {exc.msg} at line {exc.lineno})",
                hint="restore it from a backup (state.json.bak beside it) or move it away to start afresh",
                code="ledger-corrupt",
            ) from None
        version = raw.get("schema_version") if isinstance(raw, dict) else None
        if version not in _READABLE_VERSIONS:
            raise DataError(
                f"{self.path}: ledger schema version {version!r} is not one this version understands "
                f"({SCHEMA_VERSION})",
                hint="use the nikkei-deepar version that wrote it, or upgrade this one",
                code="ledger-version",
            )
        try:
            return Ledger.model_validate({**raw, "schema_version": SCHEMA_VERSION})
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            raise DataError(
                f"{self.path}: the ledger is corrupt ({where}: {first['msg']})",
                hint="restore it from state.json.bak beside it, or move it away to start afresh",
                code="ledger-corrupt",
            ) from None

    def save(self, ledger: Ledger) -> None:
        """Atomic replace; the previous good version is kept as state.json.bak.

        The backup is a copy, not a move, so at no moment is there no state.json: a crash between the
        two writes leaves the old ledger or the new one, never none (which would forget resources).
        """
        ledger.updated_at = utcnow()
        text = ledger.model_dump_json(indent=2, exclude_none=False) + "\n"
        if self.path.exists():
            with contextlib.suppress(OSError):
                write_atomic(self.path.with_suffix(".json.bak"), self.path.read_bytes(), mode=LEDGER_MODE)
        write_atomic(self.path, text.encode("utf-8"), mode=LEDGER_MODE)

    @contextlib.contextmanager
    def update(self) -> Iterator[Ledger]:
        """Load, let the caller change, save: one step written the moment it happens."""
        ledger = self.load()
        yield ledger
        self.save(ledger)

    # -- locking ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(
        self,
        *,
        wait_seconds: float = 0.0,
        on_takeover: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> Iterator[None]:
        self.home.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, LEDGER_MODE)
        deadline = clock() + wait_seconds
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if clock() >= deadline:
                        raise LockHeldError(
                            f"{self.lock_path}: {describe_holder(self.lock_path)}",
                            hint="wait for that command to finish, or pass --wait-lock SECONDS",
                        ) from None
                    sleep(min(0.2, max(0.0, deadline - clock())))
            previous = _read_holder(self.lock_path)
            if previous and previous.get("pid") and not _pid_alive(int(previous["pid"])) and on_takeover:
                on_takeover(
                    f"took over the lock left by pid {previous['pid']} on {previous.get('host', '?')} "
                    f"(since {previous.get('since', '?')}), which is no longer running"
                )
            info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": utcnow()})
            os.ftruncate(fd, 0)
            os.pwrite(fd, info.encode(), 0)
            self._lock_fd = fd
            try:
                yield
            finally:
                os.ftruncate(fd, 0)
                self._lock_fd = None
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def lock_holder(self) -> str | None:
        """A description of who holds the lock now, or None when it is free (for `doctor`/`status`)."""
        if not self.lock_path.exists():
            return None
        fd = os.open(self.lock_path, os.O_RDWR)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return describe_holder(self.lock_path)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)


def _read_holder(path: Path) -> dict[str, Any] | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8") or "null")
    except (OSError, json.JSONDecodeError):
        return None
    return raw if isinstance(raw, dict) else None


def describe_holder(path: Path) -> str:
    holder = _read_holder(path)
    if not holder:
        return "locked by another nikkei-deepar process"
    return f"locked by pid {holder.get('pid')} on {holder.get('host')} since {holder.get('since')}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
