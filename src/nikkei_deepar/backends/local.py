"""The local backend: the `Backend` verbs on this machine, with GluonTS's DeepAR and plain files.

Everything lives under one store folder (`<tool home>/local/` by default), so removing that folder
removes every local artefact:

    <store>/<key>                        artefacts (`put_artifact`): locations are absolute paths
    <store>/jobs/<name>/state.json       a training job: status, metrics, hyperparameters, channels
    <store>/jobs/<name>/log.txt          its log, one timestamped line per event (`training_logs`)
    <store>/jobs/<name>/model.tar.gz     its model (the engine's archive)
    <store>/models/<name>.json           small JSON records standing for SageMaker's resources;
    <store>/endpoint-configs/<name>.json an endpoint is "the active model": InService at once, and
    <store>/endpoints/<name>.json        it keeps serving what it was given even if its model record
    <store>/transforms/<name>.json       is deleted later (as a SageMaker endpoint does)

Locations are plain absolute paths (`file://` URIs are accepted when read back), so a user can open
them; a channel location may be a file or a folder (a "prefix": every file under it, in name order).

Jobs run synchronously: `start_training` returns when the model is written, `describe_training` then
reports Completed (or Failed with a SageMaker-style FailureReason: `ClientError: ...` for bad data or
hyperparameters, `AlgorithmError: ...` for anything else), so the steps' polling ends at the first
describe. A job whose training process died before it finished is reported Failed too.

Only the verbs that run a model (`start_training`, `invoke`, `start_transform`) need the [local] extra:
the engine (and with it gluonts/torch, 5-10 s to import) is imported inside them, so creating this
backend, storing data, and the hosting records stay cheap and work without it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import signal
import socket
import threading
import time
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from nikkei_deepar.backends.base import (
    ENDPOINT_IN_SERVICE,
    JOB_COMPLETED,
    JOB_FAILED,
    JOB_IN_PROGRESS,
    JOB_STOPPED,
    EndpointConfigSpec,
    EndpointState,
    LogCursor,
    LogPage,
    ModelSpec,
    TrainingSpec,
    TrainingState,
    TransformSpec,
    TransformState,
)
from nikkei_deepar.backends.local_files import (
    LOG_STREAM,
    JobLog,
    local_path,
    log_event,
    parse_stamp,
    read_channel,
    read_json,
    stamp_now,
    write_json,
)
from nikkei_deepar.errors import AwsError, DataError, NikkeiError, NotFoundError, UsageError
from nikkei_deepar.files import write_atomic
from nikkei_deepar.output import Reporter

BATCHES_ENV = "NIKKEI_DEEPAR_LOCAL_BATCHES"
"""Batches per epoch of a local training (GluonTS's default 50). Not a SageMaker hyperparameter:
SageMaker sizes an epoch itself. Meant for tests and quick trials (`NIKKEI_DEEPAR_LOCAL_BATCHES=2`)."""
DEFAULT_BATCHES = 50

STATE_FORMAT = "nikkei-deepar/local-job/v1"
_LOG_PAGE = 1000
_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_EXTRA_MODULES = ("gluonts", "torch", "lightning")
_JSON_TYPES = ("application/json", "application/jsonlines")
_QUOTE = 300
# The folders of the records that stand for SageMaker's hosting resources, by ledger kind.
_HOSTING_FOLDERS = {"model": "models", "endpoint-config": "endpoint-configs", "endpoint": "endpoints"}
# Every top-level entry the backend itself writes in its store (provision adopts a store holding only these).
STORE_ENTRIES = frozenset({"data", "jobs", "transforms", "predict", "output", *_HOSTING_FOLDERS.values()})


def batches_per_epoch(env: Mapping[str, str] | None = None) -> int:
    """`NIKKEI_DEEPAR_LOCAL_BATCHES` as a positive integer (default 50); UsageError when malformed."""
    raw = (os.environ if env is None else env).get(BATCHES_ENV, "").strip()
    if not raw:
        return DEFAULT_BATCHES
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise UsageError(
            f"{BATCHES_ENV}={raw!r} is not a positive whole number",
            hint=f"unset it (default {DEFAULT_BATCHES} batches per epoch) or set e.g. {BATCHES_ENV}=10",
        )
    return value


def load_engine() -> ModuleType:
    """The local engine, once the [local] extra is known to be installed (UsageError with the pip hint).

    Checks with `find_spec` (no import): the engine imports gluonts only when it trains or predicts.
    """
    from nikkei_deepar.local import engine

    if any(importlib.util.find_spec(name) is None for name in _EXTRA_MODULES):
        raise UsageError(engine.EXTRA_MESSAGE, hint=engine.EXTRA_HINT)
    return engine


@contextlib.contextmanager
def interrupts_kept() -> Iterator[None]:
    """Around a Lightning training: Ctrl-C (and the CLI's SIGTERM) stay a KeyboardInterrupt.

    Lightning catches KeyboardInterrupt in its training loop, sets SIGINT to be ignored and calls
    sys.exit(1): the CLI would exit 1 instead of 130, and a second Ctrl-C would do nothing. Here the
    SystemExit becomes a KeyboardInterrupt again and the SIGINT handler is put back.
    """
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if main else None
    try:
        yield
    except SystemExit as exc:
        raise KeyboardInterrupt from exc
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


class LocalBackend:
    """`Backend` on this machine, under `store`. `seed` seeds every forecast (`invoke`, transforms)."""

    def __init__(self, store: Path, *, reporter: Reporter, seed: int) -> None:
        self.store = Path(store).absolute()
        self._reporter = reporter
        self._seed = seed

    # -- identity ------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return "local"

    @property
    def region(self) -> str | None:
        return None

    @property
    def hosting_note(self) -> str | None:
        # an "endpoint" here is a record of the active model; the instance type is only the config's
        return (
            "served on this machine by `nikkei-deepar predict` (the instance type is what SageMaker would "
            "use); it costs nothing"
        )

    # -- storage -------------------------------------------------------------------------------------
    def artifact_uri(self, key: str) -> str:
        relative = key.strip("/")
        if not relative or any(part in ("", ".", "..") for part in relative.split("/")):
            raise UsageError(f"artifact key {key!r} is not a relative path inside the store")
        location = str(self.store / relative)
        return location + "/" if key.endswith("/") else location

    def put_artifact(self, key: str, body: bytes, *, content_type: str) -> str:
        location = self.artifact_uri(key)
        if location.endswith("/"):
            raise UsageError(f"artifact key {key!r} names a folder, not a file")
        write_atomic(Path(location), body)
        return location

    def get_artifact(self, uri: str) -> bytes:
        path = local_path(uri)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFoundError(
                f"{path} does not exist", hint="run `nikkei-deepar prepare` (or train) again"
            ) from None

    # -- training ------------------------------------------------------------------------------------
    def start_training(self, spec: TrainingSpec) -> str:
        """Train now, on this machine; return when the job has ended (its state says how)."""
        name = _checked_name(spec.name, "training job")
        engine = load_engine()
        batches = batches_per_epoch()
        job_dir = self.store / "jobs" / name
        job_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            job_dir.mkdir()
        except FileExistsError:
            raise UsageError(
                f"training job {name} already exists ({job_dir})",
                hint="names carry a timestamp and a random suffix: run the command again",
                code="name-taken",
            ) from None
        now = stamp_now()
        record: dict[str, Any] = {
            "format": STATE_FORMAT,
            "name": name,
            "status": JOB_IN_PROGRESS,
            "secondary_status": "Training",
            "failure_reason": None,
            "metrics": {},
            "training_seconds": None,
            "model_artifact": None,
            "created": now,
            "started": now,
            "ended": None,
            "hyperparameters": dict(spec.hyperparameters),
            "channels": dict(spec.channels),
            "output_uri": spec.output_uri,
            "tags": dict(spec.tags),
            "seed": spec.seed,
            "num_batches_per_epoch": batches,
            "pid": os.getpid(),
            "host": socket.gethostname(),
        }
        write_json(job_dir / "state.json", record)
        log = JobLog(job_dir / "log.txt")
        hp = spec.hyperparameters
        log.write(
            f"training {name} with GluonTS DeepAR on this machine's CPU: {hp.get('epochs', '?')} epochs of "
            f"{batches} batches, seed {spec.seed}"
        )
        self._reporter.info(f"training {name} locally ({hp.get('epochs', '?')} epochs of {batches} batches)")
        started = time.monotonic()

        def progress(epoch: int, total: int, loss: float | None) -> None:
            text = f"epoch {epoch}/{total}" + ("" if loss is None else f", train loss {loss:.4f}")
            log.write(text)
            self._reporter.live(f"{name}: {text}")

        end: dict[str, Any]
        try:
            channels = {channel: read_channel(channel, uri) for channel, uri in spec.channels.items()}
            if "train" not in channels:
                raise DataError("no train channel was given")
            with interrupts_kept():
                result = engine.train(
                    train_jsonl=channels["train"],
                    test_jsonl=channels.get("test", b""),
                    hyperparameters=spec.hyperparameters,
                    seed=spec.seed,
                    out_dir=job_dir,
                    num_batches_per_epoch=batches,
                    progress=progress,
                    verbose=self._reporter.verbose,
                    max_seconds=spec.max_runtime_seconds,
                )
        except KeyboardInterrupt:
            self._reporter.close()
            log.write("interrupted: the job is stopped and has no model")
            self._finish(record, job_dir, status=JOB_STOPPED, started=started, reason=None)
            raise
        except engine.RuntimeLimitReached as exc:  # SageMaker ends such a job: Stopped, no model
            self._reporter.close()
            end = {"status": JOB_STOPPED, "reason": None, "secondary": "MaxRuntimeExceeded"}
            log.write(f"stopped: {exc}; the job has no model")
        except NikkeiError as exc:
            self._reporter.close()
            if exc.message == engine.EXTRA_MESSAGE:  # an incomplete install: the user's to fix, not a job's
                self._finish(record, job_dir, status=JOB_FAILED, started=started, reason=exc.message)
                raise
            end = {"status": JOB_FAILED, "reason": f"ClientError: {exc.message}"}
            log.write(f"failed: {end['reason']}" + (f" (hint: {exc.hint})" if exc.hint else ""))
        except Exception as exc:  # the job fails, as a SageMaker job would; the command does not crash
            self._reporter.close()
            end = {"status": JOB_FAILED, "reason": f"AlgorithmError: {type(exc).__name__}: {exc}"}
            log.write("failed: " + "".join(traceback.format_exception(exc)))
        else:
            self._reporter.close()
            end = {"status": JOB_COMPLETED, "reason": None}
            record["metrics"] = dict(result.metrics)
            record["model_artifact"] = str(result.model_tar)
            record["epochs_run"] = result.epochs_run
            record["engine_seconds"] = round(result.seconds, 3)  # without importing the library
            for metric, value in sorted(result.metrics.items()):
                log.write(f"#metric {metric}={value:.6g}")
            log.write(f"completed in {result.seconds:.1f} s; model {result.model_tar}")
        self._finish(
            record,
            job_dir,
            status=end["status"],
            started=started,
            reason=end["reason"],
            secondary=end.get("secondary"),
        )
        return f"local:training-job/{name}"

    def _finish(
        self,
        record: dict[str, Any],
        job_dir: Path,
        *,
        status: str,
        started: float,
        reason: str | None,
        secondary: str | None = None,
    ) -> None:
        record.update(
            status=status,
            secondary_status=secondary or status,
            failure_reason=reason,
            training_seconds=round(time.monotonic() - started),
            ended=stamp_now(),
        )
        write_json(job_dir / "state.json", record)

    def describe_training(self, name: str) -> TrainingState | None:
        record = self._job_record(name)
        if record is None:
            return None
        return TrainingState(
            name=str(record["name"]),
            status=str(record["status"]),
            secondary_status=record.get("secondary_status"),
            failure_reason=record.get("failure_reason"),
            metrics={str(k): float(v) for k, v in (record.get("metrics") or {}).items()},
            billable_seconds=None,  # nothing is billed
            training_seconds=record.get("training_seconds"),
            model_artifact=record.get("model_artifact"),
            created=parse_stamp(record.get("created")),
            started=parse_stamp(record.get("started")),
            ended=parse_stamp(record.get("ended")),
            spot=False,
            hyperparameters={str(k): str(v) for k, v in (record.get("hyperparameters") or {}).items()},
            channels={str(k): str(v) for k, v in (record.get("channels") or {}).items()},
        )

    def _job_record(self, name: str) -> dict[str, Any] | None:
        if not _NAME_RE.match(name):
            return None
        record = read_json(self.store / "jobs" / name / "state.json")
        if record is None:
            return None
        if record.get("status") == JOB_IN_PROGRESS and _dead(record):
            record.update(
                status=JOB_FAILED,
                secondary_status=JOB_FAILED,
                failure_reason=(
                    f"AlgorithmError: the training process (pid {record.get('pid')}) ended before the job "
                    "finished"
                ),
            )
        return record

    def find_trainings(self, *, name_contains: str, status: str) -> list[str]:
        jobs = self.store / "jobs"
        if not jobs.is_dir():
            return []
        found = []
        for folder in sorted(jobs.iterdir()):
            if name_contains not in folder.name:
                continue
            record = self._job_record(folder.name)
            if record is not None and record.get("status") == status:
                found.append(folder.name)
        return found

    def training_logs(self, name: str, *, cursor: LogCursor | None = None) -> LogPage:
        start = int((cursor.get(LOG_STREAM) if cursor else None) or 0)
        path = self.store / "jobs" / name / "log.txt" if _NAME_RE.match(name) else None
        try:
            lines = path.read_text(encoding="utf-8").splitlines() if path is not None else []
        except FileNotFoundError:
            lines = []
        page = lines[start : start + _LOG_PAGE]
        events = tuple(log_event(line) for line in page)
        return LogPage(events=events, cursor=LogCursor(((LOG_STREAM, str(start + len(page))),)))

    # -- hosting -------------------------------------------------------------------------------------
    def create_model(self, spec: ModelSpec) -> str:
        name = _checked_name(spec.name, "model")
        artifact = local_path(spec.model_artifact)
        if not artifact.is_file():
            raise NotFoundError(
                f"model artefact {artifact} does not exist",
                hint="deploy a Completed local training job (`nikkei-deepar wait` shows its model)",
            )
        record = {
            "name": name,
            "model_artifact": str(artifact),
            "job": spec.job,
            "tags": dict(spec.tags),
            "created": stamp_now(),
        }
        self._create_record("models", "model", name, record)
        return f"local:model/{name}"

    def create_endpoint_config(self, spec: EndpointConfigSpec) -> str:
        name = _checked_name(spec.name, "endpoint config")
        if self._record("models", spec.model_name) is None:
            raise NotFoundError(
                f"model {spec.model_name} does not exist (endpoint config {name})",
                hint="run `nikkei-deepar deploy` again",
            )
        record = {
            "name": name,
            "model_name": spec.model_name,
            "tags": dict(spec.tags),
            "created": stamp_now(),
            # recorded for the record only: locally the "instance" is this process
            "instance_type": spec.instance_type,
            "instance_count": spec.instance_count,
            "serverless": None
            if spec.serverless is None
            else {"memory_mb": spec.serverless.memory_mb, "max_concurrency": spec.serverless.max_concurrency},
        }
        self._create_record("endpoint-configs", "endpoint config", name, record)
        return f"local:endpoint-config/{name}"

    def create_endpoint(self, name: str, *, config_name: str, tags: Mapping[str, str]) -> str:
        name = _checked_name(name, "endpoint")
        now = stamp_now()
        record = {
            "name": name,
            "status": ENDPOINT_IN_SERVICE,
            "tags": dict(tags),
            "created": now,
            "modified": now,
            **self._serving(config_name),
        }
        self._create_record("endpoints", "endpoint", name, record)
        return f"local:endpoint/{name}"

    def update_endpoint(self, name: str, *, config_name: str) -> None:
        record = self._record("endpoints", name)
        if record is None:
            raise NotFoundError(
                f"endpoint {name} does not exist (any more)",
                hint="run `nikkei-deepar deploy` again to create it",
            )
        record.update(self._serving(config_name), modified=stamp_now(), status=ENDPOINT_IN_SERVICE)
        write_json(self.store / "endpoints" / f"{name}.json", record)

    def _serving(self, config_name: str) -> dict[str, Any]:
        """What an endpoint serves from `config_name` on: resolved now, as SageMaker copies the model."""
        config = self._record("endpoint-configs", config_name)
        if config is None:
            raise NotFoundError(
                f"endpoint config {config_name} does not exist", hint="run `nikkei-deepar deploy` again"
            )
        model = self._record("models", str(config["model_name"]))
        if model is None:
            raise NotFoundError(
                f"model {config['model_name']} of endpoint config {config_name} does not exist",
                hint="run `nikkei-deepar deploy` again",
            )
        return {
            "config_name": config_name,
            "model_name": model["name"],
            "model_artifact": model["model_artifact"],
        }

    def describe_endpoint(self, name: str) -> EndpointState | None:
        record = self._record("endpoints", name)
        if record is None:
            return None
        return EndpointState(
            name=str(record["name"]),
            status=str(record["status"]),
            config_name=record.get("config_name"),
            failure_reason=record.get("failure_reason"),
            created=parse_stamp(record.get("created")),
            modified=parse_stamp(record.get("modified")),
        )

    def endpoint_tags(self, name: str) -> dict[str, str]:
        record = self._record("endpoints", name)
        return {} if record is None else {str(k): str(v) for k, v in (record.get("tags") or {}).items()}

    def find_tagged(self, kind: str, name_prefix: str) -> dict[str, dict[str, str]]:
        folder = _HOSTING_FOLDERS.get(kind)
        if folder is None:
            raise ValueError(f"unknown local resource kind {kind!r}")
        path = self.store / folder
        found: dict[str, dict[str, str]] = {}
        for entry in sorted(path.glob("*.json")) if path.is_dir() else []:
            if not entry.stem.startswith(name_prefix):
                continue
            try:
                record = self._record(folder, entry.stem)
            except DataError:  # a corrupt record: nobody's to adopt (status reports nothing for it either)
                continue
            if record is not None:  # None: reserved (O_EXCL) but not written yet, or not a valid name
                found[entry.stem] = {str(k): str(v) for k, v in (record.get("tags") or {}).items()}
        return found

    def invoke(self, endpoint: str, body: bytes, *, content_type: str, accept: str) -> bytes:
        record = self._record("endpoints", endpoint)
        if record is None:
            raise NotFoundError(
                f"endpoint {endpoint} does not exist (local backend, {self.store})",
                hint="run `nikkei-deepar deploy` first",
            )
        if content_type.split(";")[0].strip() not in _JSON_TYPES:
            raise _model_error(endpoint, 415, f"unsupported content type {content_type!r}")
        if accept.split(";")[0].strip() not in (*_JSON_TYPES, "*/*"):
            raise _model_error(endpoint, 406, f"cannot answer with {accept!r}")
        engine = load_engine()
        try:
            request = json.loads(body)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise _model_error(endpoint, 400, f"Unable to evaluate payload provided: {exc}") from None
        try:
            response = engine.predict(
                model_tar=Path(record["model_artifact"]), request=request, seed=self._seed
            )
        except DataError as exc:  # what the model says about the request, as SageMaker's ModelError
            raise _model_error(endpoint, 400, exc.message) from None
        return json.dumps(response, separators=(",", ":")).encode("utf-8")

    # -- batch ---------------------------------------------------------------------------------------
    def start_transform(self, spec: TransformSpec) -> str:
        """Forecast every line of the input now; `<output_uri>/<input name>.out` holds one answer a line."""
        name = _checked_name(spec.name, "transform job")
        model = self._record("models", spec.model_name)
        if model is None:
            raise NotFoundError(
                f"model {spec.model_name} does not exist (transform job {name})",
                hint="run `nikkei-deepar deploy` first",
            )
        engine = load_engine()
        now = stamp_now()
        record: dict[str, Any] = {
            "name": name,
            "status": JOB_IN_PROGRESS,
            "failure_reason": None,
            "model_name": spec.model_name,
            "input_uri": spec.input_uri,
            "output_uri": spec.output_uri,
            "tags": dict(spec.tags),
            "created": now,
            "ended": None,
        }
        self._create_record("transforms", "transform job", name, record)
        try:
            source = local_path(spec.input_uri)
            lines = [line for line in read_channel("input", spec.input_uri).splitlines() if line.strip()]
            if not lines:
                raise DataError(f"the input {source} holds no record")
            request = {
                "instances": [json.loads(line) for line in lines],
                "configuration": dict(spec.inference_config),
            }
            response = engine.predict(
                model_tar=Path(model["model_artifact"]), request=request, seed=self._seed
            )
            out = b"".join(
                json.dumps(p, separators=(",", ":")).encode() + b"\n" for p in response["predictions"]
            )
            out_name = (source.name if source.is_file() else "input") + ".out"
            write_atomic(local_path(spec.output_uri) / out_name, out)
            record.update(status=JOB_COMPLETED, output=str(local_path(spec.output_uri) / out_name))
        except KeyboardInterrupt:
            record.update(status=JOB_STOPPED, ended=stamp_now())
            write_json(self.store / "transforms" / f"{name}.json", record)
            raise
        except NikkeiError as exc:
            record.update(status=JOB_FAILED, failure_reason=f"ClientError: {exc.message}")
        except Exception as exc:
            record.update(status=JOB_FAILED, failure_reason=f"AlgorithmError: {type(exc).__name__}: {exc}")
        record["ended"] = stamp_now()
        write_json(self.store / "transforms" / f"{name}.json", record)
        return f"local:transform-job/{name}"

    def describe_transform(self, name: str) -> TransformState | None:
        record = self._record("transforms", name)
        if record is None:
            return None
        return TransformState(
            name=str(record["name"]),
            status=str(record["status"]),
            failure_reason=record.get("failure_reason"),
            created=parse_stamp(record.get("created")),
            ended=parse_stamp(record.get("ended")),
        )

    # -- deletion ------------------------------------------------------------------------------------
    def delete_model(self, name: str) -> bool:
        return self._delete_record("models", name)

    def delete_endpoint_config(self, name: str) -> bool:
        return self._delete_record("endpoint-configs", name)

    def delete_endpoint(self, name: str) -> bool:
        return self._delete_record("endpoints", name)

    # -- records -------------------------------------------------------------------------------------
    def _record(self, folder: str, name: str) -> dict[str, Any] | None:
        if not _NAME_RE.match(name):
            return None
        return read_json(self.store / folder / f"{name}.json")

    def _create_record(self, folder: str, what: str, name: str, record: Mapping[str, Any]) -> None:
        path = self.store / folder / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # O_EXCL: of two commands creating the same name, exactly one wins
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raise UsageError(
                f"{what} {name} already exists ({path})",
                hint="names carry a timestamp and a random suffix: run the command again",
                code="name-taken",
            ) from None
        os.close(fd)
        write_json(path, record)

    def _delete_record(self, folder: str, name: str) -> bool:
        if not _NAME_RE.match(name):
            return False
        try:
            (self.store / folder / f"{name}.json").unlink()
        except FileNotFoundError:
            return False
        return True


# -- helpers ------------------------------------------------------------------------------------------
def _checked_name(name: str, what: str) -> str:
    """SageMaker's name pattern; here it also keeps every record a plain file name inside the store."""
    if not _NAME_RE.match(name):
        raise UsageError(
            f"{what} name {name!r} is not valid",
            hint="1-63 letters, digits and '-', starting and ending with a letter or digit",
        )
    return name


def _model_error(endpoint: str, status: int, message: str) -> AwsError:
    flat = " ".join(message.split())
    quoted = repr(flat if len(flat) <= _QUOTE else flat[:_QUOTE] + "…")
    return AwsError(
        f"endpoint {endpoint}: the model answered HTTP {status}: {quoted}",
        hint="check the request matches what DeepAR expects",
        code="model-error",
    )


def _dead(record: Mapping[str, Any]) -> bool:
    """The job's process is gone (checked only on this host: another host's process cannot be seen)."""
    pid = record.get("pid")
    if not isinstance(pid, int) or record.get("host") != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
