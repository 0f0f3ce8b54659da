"""`train`: start a DeepAR training job on the last prepared data, record it, optionally follow it.

The job's spec comes from `backends/specs.py` (which also owns the resource naming every step shares),
the same builder the request plan checks against the service model before anything is sent.

Data that `prepare` could only write locally (`uploaded = false`: no bucket yet) is uploaded here,
under the same content-addressed keys, before the job starts.

Paying twice is refused: when a job on the same data and hyperparameters is still running (per the
backend, not just per the ledger), `train` says so and asks for --force. A job started by a `train`
that was killed before it could write the ledger is found by name and hyperparameters and adopted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from nikkei_deepar.backends.base import JOB_IN_PROGRESS, TrainingState
from nikkei_deepar.backends.specs import resource_name, training_spec
from nikkei_deepar.context import Context
from nikkei_deepar.data.horizon import hyperparameter_strings, prediction_length_of
from nikkei_deepar.errors import InterruptedError_, JobRunningError, NikkeiError, NotFoundError, UsageError
from nikkei_deepar.ledger import DataVersion, Job, Ledger
from nikkei_deepar.lifecycle.training import WaitResult, apply_training_state, follow, record_training_state
from nikkei_deepar.lifecycle.uploads import CHANNEL_FILES, SERIES_FILE, store_files

_RUNNING = {JOB_IN_PROGRESS, "Stopping"}


@dataclass(frozen=True)
class TrainResult:
    job: str
    backend: str
    data_sha256: str
    hyperparameters: dict[str, str]
    config_hash: str
    started_at: str
    instance_type: str
    spot: bool
    output_uri: str
    waited: WaitResult | None = None
    where: str | None = None  # where it trains, for people (Words.training; None: the instance type)

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "job": self.job,
            "backend": self.backend,
            "data_sha256": self.data_sha256,
            "hyperparameters": self.hyperparameters,
            "config_hash": self.config_hash,
            "started_at": self.started_at,
            "instance_type": self.instance_type,
            "spot": self.spot,
            "output_uri": self.output_uri,
        }
        if self.waited is not None:
            data["wait"] = self.waited.to_data()
        return data

    def to_lines(self) -> list[str]:
        where = self.where or self.instance_type + (", managed spot" if self.spot else "")
        detail = f"  data {self.data_sha256[:16]}, {where}, config {self.config_hash}"
        if self.waited is None:
            return [f"started training job {self.job}", detail, "follow it with: nikkei-deepar wait"]
        # the start was announced on stderr when it happened; stdout gets the outcome
        first, *rest = self.waited.to_lines()
        return [first, detail, *rest]


def run(ctx: Context, *, force: bool, wait: bool, timeout: float | None, logs: bool) -> TrainResult:
    settings = ctx.settings
    training = settings.training
    ledger = ctx.state.load()
    data = _prepared_data(
        ledger,
        backend=settings.backend,
        prediction_length=prediction_length_of(settings),
        calendar_features=settings.data.calendar_features,
        target=settings.data.target,
    )
    hyperparameters = hyperparameter_strings(settings)
    base = settings.endpoint.name
    backend = ctx.backend
    backend.check_requests("train")
    for line in settings.warnings():
        ctx.reporter.warn(line)
    if not data.uploaded:
        data = _upload_pending(ctx, data)

    running = _running_twin(ctx, ledger, data=data, hyperparameters=hyperparameters, base=base)
    if running is not None and not force:
        raise JobRunningError(
            f"training job {running} is still running on the same data ({data.sha256[:16]}) and "
            "hyperparameters",
            hint="follow it with `nikkei-deepar wait`, or pass --force to start another one (and pay twice)",
        )

    name = resource_name(base)
    job = Job(
        name=name,
        backend=backend.name,
        data_sha256=data.sha256,
        hyperparameters=hyperparameters,
        config_hash=settings.fingerprint(),
        target=data.target,
    )
    recorded: list[bool] = []

    def started() -> None:
        """The job exists: record it and say so (before the first epoch when it trains in-process)."""
        if recorded:
            return
        recorded.append(True)
        ctx.state.update(lambda current: current.upsert_job(job))
        ctx.reporter.info(f"started training job {name}")

    spec = training_spec(
        settings,
        name=name,
        channels={"train": data.train_uri, "test": data.test_uri},
        output_uri=backend.artifact_uri("output/"),
    )
    try:
        backend.start_training(replace(spec, on_started=started))
    except KeyboardInterrupt:
        ctx.reporter.close()
        raise _interrupted_start(ctx, job, recorded=bool(recorded)) from None
    except BaseException:
        if recorded:  # an in-process job that ended badly: the ledger says how
            _refresh(ctx, name)
        raise
    started()

    waited = follow(ctx, name, timeout=timeout, logs=logs) if wait else None
    return TrainResult(
        job=name,
        backend=backend.name,
        data_sha256=data.sha256,
        hyperparameters=hyperparameters,
        config_hash=job.config_hash,
        started_at=job.started_at,
        instance_type=training.instance_type,
        spot=training.spot,
        output_uri=spec.output_uri,
        waited=waited,
        where=backend.words.training(training.instance_type, spot=training.spot),
    )


def _refresh(ctx: Context, name: str) -> TrainingState | None:
    state = ctx.backend.describe_training(name)
    if state is not None:
        record_training_state(ctx, state)
    return state


def _interrupted_start(ctx: Context, job: Job, *, recorded: bool) -> InterruptedError_:
    """Ctrl-C while the backend was starting (or, in-process, running) the job: what became of it."""
    try:
        state = ctx.backend.describe_training(job.name)
    except NikkeiError:
        state = None
    if state is None:
        return InterruptedError_(
            "train: interrupted before a training job started", hint="run `nikkei-deepar train` again"
        )

    def change(current: Ledger) -> None:
        if not recorded:
            current.upsert_job(job)
        record = current.job(job.name)
        if record is not None:
            apply_training_state(record, state)

    ctx.state.update(change)
    if state.terminal:
        return InterruptedError_(
            f"train: interrupted; training job {job.name} ran inside this command and was stopped "
            f"({state.status}, no model)",
            hint="`nikkei-deepar train` starts a new job, from the first epoch",
        )
    return InterruptedError_(
        f"train: interrupted; training job {job.name} keeps running (and billing)",
        hint="`nikkei-deepar wait` follows it; `nikkei-deepar status` shows it",
    )


def _prepared_data(
    ledger: Ledger,
    *,
    backend: str,
    prediction_length: int,
    calendar_features: bool = False,
    target: str = "price",
) -> DataVersion:
    data = ledger.last_data
    if data is None:
        raise NotFoundError(
            "no prepared data in the ledger",
            hint="run `nikkei-deepar prepare` first",
        )
    if data.backend != backend:
        raise UsageError(
            f"the last prepared data ({data.sha256[:16]}) was stored for the {data.backend} backend, "
            f"not {backend}",
            hint="run `nikkei-deepar prepare` again with this config",
        )
    if data.prediction_length != prediction_length:
        raise UsageError(
            f"the last prepared data was cut for prediction_length {data.prediction_length}, but the "
            f"config says {prediction_length}",
            hint="run `nikkei-deepar prepare` again so the test channel matches",
        )
    if data.calendar_features != calendar_features:
        held = "carry" if data.calendar_features else "carry no"
        raise UsageError(
            f"the last prepared data ({data.sha256[:16]}) {held} calendar features, but the config says "
            f"[data] calendar_features = {str(calendar_features).lower()}",
            hint="run `nikkei-deepar prepare` again with this config",
        )
    if data.target != target:
        raise UsageError(
            f"the last prepared data ({data.sha256[:16]}) holds {_TARGETS[data.target]}, but the config says "
            f'[data] target = "{target}"',
            hint="run `nikkei-deepar prepare` again with this config",
        )
    return data


_TARGETS = {"price": "prices", "log_return": "log returns"}


def _upload_pending(ctx: Context, data: DataVersion) -> DataVersion:
    """Channels `prepare` could only write locally (no bucket yet): store them where the job reads them,
    under the same content-addressed keys, and record that in the ledger."""
    local = Path(data.local_dir or "")
    files: dict[str, bytes] = {}
    for name in (*CHANNEL_FILES.values(), SERIES_FILE):
        path = local / name
        if not data.local_dir or not path.is_file():
            raise NotFoundError(
                f"{path}: the prepared data {data.sha256[:16]} was never uploaded and is not here any more",
                hint="run `nikkei-deepar prepare` again",
            )
        files[name] = path.read_bytes()
    uris, _, _ = store_files(ctx, data.sha256, files)
    updated = data.model_copy(
        update={
            "uploaded": True,
            "train_uri": uris[CHANNEL_FILES["train"]].rsplit("/", 1)[0] + "/",
            "test_uri": uris[CHANNEL_FILES["test"]].rsplit("/", 1)[0] + "/",
            "series_uri": uris[SERIES_FILE],
        }
    )
    ctx.state.update(lambda ledger: ledger.record_data(updated))
    return updated


def _running_twin(
    ctx: Context, ledger: Ledger, *, data: DataVersion, hyperparameters: dict[str, str], base: str
) -> str | None:
    """A job on the same data and hyperparameters that the backend says is still running, if any.

    Checks the ledger's own records (refreshing them) and adopts a running job that a killed `train`
    started but never recorded (same name base, hyperparameters and train channel).
    """
    backend = ctx.backend
    found: str | None = None
    refreshed: list[TrainingState] = []
    for job in reversed(ledger.jobs):
        if job.data_sha256 != data.sha256 or job.hyperparameters != hyperparameters:
            continue
        if job.backend != backend.name or job.status not in _RUNNING:
            continue
        state = backend.describe_training(job.name)
        if state is None:
            continue
        refreshed.append(state)
        if state.status in _RUNNING and found is None:
            found = job.name
    adopted: list[Job] = []
    for name in backend.find_trainings(name_contains=base, status=JOB_IN_PROGRESS):
        if ledger.job(name) is not None:
            continue
        state = backend.describe_training(name)
        if state is None or dict(state.hyperparameters) != hyperparameters:
            continue
        if state.channels.get("train") != data.train_uri:
            continue
        ctx.reporter.warn(f"adopting training job {name}: running on this data but missing from the ledger")
        job = Job(
            name=name,
            backend=backend.name,
            data_sha256=data.sha256,
            hyperparameters=hyperparameters,
            config_hash=ctx.settings.fingerprint(),
            started_at=_iso(state.created) or _iso(dt.datetime.now(dt.UTC)) or "",
            target=data.target,
        )
        apply_training_state(job, state)
        adopted.append(job)
        found = found or name
    if refreshed or adopted:

        def change(current: Ledger) -> None:
            for state in refreshed:
                record = current.job(state.name)
                if record is not None:
                    apply_training_state(record, state)
            for job in adopted:
                current.upsert_job(job)

        ctx.state.update(change)
    return found


def _iso(when: dt.datetime | None) -> str | None:
    if when is None:
        return None
    return when.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
