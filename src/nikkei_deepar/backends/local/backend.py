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

What else is local lives beside this module in the package: the store folder's provisioning
(provision.py), removal (removal.py), the status probe (probe.py) and doctor's checks (checks.py); the
verbs at the end of the class hand them out.

Training jobs are `backends.local.jobs`'s (the training verbs here delegate to it): they run
synchronously, so `describe_training` already reports how a job ended and the steps' polling ends at
the first describe. File handling (locations, records, channels, logs) is `backends.local.files`'s.

Only training (`start_training`) needs the [local] extra: the engine (and with it gluonts/torch, 5-10 s
to import) is imported inside it, so creating this backend, storing data, and the hosting records stay
cheap and work without it. `invoke` and `start_transform` answer through `engine.serving`, on numpy
(about a second for the whole command); only an archive older than its torch-free weights needs
GluonTS, and then the reporter says so in one warning line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    Words,
)
from nikkei_deepar.backends.local.expiry_records import LocalExpiry
from nikkei_deepar.backends.local.files import (
    NAME_RE,
    RECORD_FOLDERS,
    checked_name,
    local_path,
    parse_stamp,
    read_channel,
    read_json,
    stamp_now,
    write_json,
)
from nikkei_deepar.backends.local.jobs import LocalJobs
from nikkei_deepar.errors import AwsError, DataError, ModelFileError, NikkeiError, NotFoundError, UsageError
from nikkei_deepar.files import write_atomic
from nikkei_deepar.output import Reporter

if TYPE_CHECKING:
    from nikkei_deepar.backends.checks import Check
    from nikkei_deepar.backends.env import BackendEnv
    from nikkei_deepar.backends.local.probe import LocalProbe
    from nikkei_deepar.backends.local.provision import LocalProvisioner
    from nikkei_deepar.backends.local.removal import LocalRemover
    from nikkei_deepar.ledger import Ledger

_JSON_TYPES = ("application/json", "application/jsonlines")
_QUOTE = 300
# The folders of the records that stand for SageMaker's hosting resources, by ledger kind.
_HOSTING_FOLDERS = {k: v for k, v in RECORD_FOLDERS.items() if k != "transform-job"}


LOCAL_WORDS = Words(stored="stored", statuses={ENDPOINT_IN_SERVICE: "ready"}, runs_on="on this machine")


class LocalBackend:
    """`Backend` on this machine, under `store`. `seed` seeds every forecast (`invoke`, transforms)."""

    def __init__(self, root: Path, *, reporter: Reporter, seed: int, env: BackendEnv | None = None) -> None:
        self.root = Path(root).absolute()
        self._reporter = reporter
        self._seed = seed
        self._jobs = LocalJobs(self.root, reporter=reporter)
        self._expiry = LocalExpiry(self.root)
        self.env = env

    @classmethod
    def for_env(cls, env: BackendEnv) -> LocalBackend:
        """The backend a command uses: its store is the workspace's `local/` folder."""
        root = env.workspace_dir / "local"
        return cls(root, reporter=env.reporter, seed=env.settings.training.seed, env=env)

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
        return "served on this machine by `nikkei-deepar predict`; it costs nothing"

    @property
    def first_step(self) -> str:
        return "prepare"

    @property
    def predict_mode(self) -> str:
        return "local"

    @property
    def bills(self) -> bool:
        return False

    @property
    def words(self) -> Words:
        # files are copied into the store, not uploaded; an "endpoint" is the active model, ready at
        # once, on this machine whatever [endpoint] instance_type says (it matters only on SageMaker)
        return LOCAL_WORDS

    def request_problems(self) -> tuple[list[str], list[str]]:
        """Nothing is sent anywhere: no request can be refused."""
        return [], []

    def check_requests(self, command: str) -> None:
        """Nothing to check ahead: the local engine checks its own inputs (engine/inputs.py)."""

    # -- storage -------------------------------------------------------------------------------------
    def artifact_uri(self, key: str) -> str:
        relative = key.strip("/")
        if not relative or any(part in ("", ".", "..") for part in relative.split("/")):
            raise UsageError(f"artifact key {key!r} is not a relative path inside the store")
        location = str(self.root / relative)
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

    def exists(self, uri: str) -> bool:
        return local_path(uri).is_file()

    # -- training (backends/local/jobs.py) ------------------------------------------------------------
    def start_training(self, spec: TrainingSpec) -> str:
        """Train now, on this machine; return when the job has ended (its state says how)."""
        return self._jobs.run(spec)

    def describe_training(self, name: str) -> TrainingState | None:
        return self._jobs.describe(name)

    def find_trainings(self, *, name_contains: str, status: str) -> list[str]:
        return self._jobs.find(name_contains=name_contains, status=status)

    def training_logs(self, name: str, *, cursor: LogCursor | None = None) -> LogPage:
        return self._jobs.logs(name, cursor=cursor)

    # -- hosting -------------------------------------------------------------------------------------
    def create_model(self, spec: ModelSpec) -> str:
        name = checked_name(spec.name, "model")
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
        name = checked_name(spec.name, "endpoint config")
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
        name = checked_name(name, "endpoint")
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
        write_json(self.root / "endpoints" / f"{name}.json", record)

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
        self._enforce_expiry(name)
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

    def resource_tags(self, kind: str, name: str) -> dict[str, str] | None:
        folder = _HOSTING_FOLDERS.get(kind)
        if folder is None:
            raise ValueError(f"unknown local resource kind {kind!r}")
        record = self._record(folder, name)
        return None if record is None else {str(k): str(v) for k, v in (record.get("tags") or {}).items()}

    def tag(self, kind: str, name: str, tags: Mapping[str, str]) -> str | None:
        folder = _HOSTING_FOLDERS.get(kind)
        if folder is None:
            raise ValueError(f"unknown local resource kind {kind!r}")
        record = self._record(folder, name)
        if record is None:
            raise NotFoundError(f"{kind} {name} does not exist ({self.root})")
        record["tags"] = {**(record.get("tags") or {}), **tags}
        write_json(self.root / folder / f"{name}.json", record)
        return f"local:{kind}/{name}"

    def find_tagged(self, kind: str, name_prefix: str) -> dict[str, dict[str, str]]:
        folder = _HOSTING_FOLDERS.get(kind)
        if folder is None:
            raise ValueError(f"unknown local resource kind {kind!r}")
        path = self.root / folder
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
        self._enforce_expiry(endpoint)
        record = self._record("endpoints", endpoint)
        if record is None:
            raise NotFoundError(
                f"endpoint {endpoint} does not exist (local backend, {self.root})",
                hint="run `nikkei-deepar deploy` first",
            )
        if content_type.split(";")[0].strip() not in _JSON_TYPES:
            raise _model_error(endpoint, 415, f"unsupported content type {content_type!r}")
        if accept.split(";")[0].strip() not in (*_JSON_TYPES, "*/*"):
            raise _model_error(endpoint, 406, f"cannot answer with {accept!r}")
        try:
            request = json.loads(body)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise _model_error(endpoint, 400, f"Unable to evaluate payload provided: {exc}") from None
        try:
            response = self._predict(Path(record["model_artifact"]), request)
        except ModelFileError as exc:  # a model that cannot load: SageMaker's ModelError, status 500
            raise _model_error(endpoint, 500, exc.message) from None
        except DataError as exc:  # what the model says about the request, as SageMaker's ModelError
            raise _model_error(endpoint, 400, exc.message) from None
        return json.dumps(response, separators=(",", ":")).encode("utf-8")

    def _predict(self, model_tar: Path, request: Any) -> dict[str, Any]:
        """The engine's answer (numpy, or GluonTS for an older archive: said once, as a warning)."""
        from nikkei_deepar.engine.serving import predict

        return predict(model_tar=model_tar, request=request, seed=self._seed, note=self._reporter.warn)

    # -- batch ---------------------------------------------------------------------------------------
    def start_transform(self, spec: TransformSpec) -> str:
        """Forecast every line of the input now; `<output_uri>/<input name>.out` holds one answer a line."""
        name = checked_name(spec.name, "transform job")
        model = self._record("models", spec.model_name)
        if model is None:
            raise NotFoundError(
                f"model {spec.model_name} does not exist (transform job {name})",
                hint="run `nikkei-deepar deploy` first",
            )
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
            response = self._predict(Path(model["model_artifact"]), request)
            out = b"".join(
                json.dumps(p, separators=(",", ":")).encode() + b"\n" for p in response["predictions"]
            )
            out_name = (source.name if source.is_file() else "input") + ".out"
            write_atomic(local_path(spec.output_uri) / out_name, out)
            record.update(status=JOB_COMPLETED, output=str(local_path(spec.output_uri) / out_name))
        except KeyboardInterrupt:
            record.update(status=JOB_STOPPED, ended=stamp_now())
            write_json(self.root / "transforms" / f"{name}.json", record)
            raise
        except NikkeiError as exc:
            from nikkei_deepar.engine.gluon import EXTRA_MESSAGE

            if exc.message == EXTRA_MESSAGE:  # an older archive without the extra: the user's to fix
                record.update(status=JOB_FAILED, failure_reason=exc.message, ended=stamp_now())
                write_json(self.root / "transforms" / f"{name}.json", record)
                raise
            record.update(status=JOB_FAILED, failure_reason=f"ClientError: {exc.message}")
        except Exception as exc:
            record.update(status=JOB_FAILED, failure_reason=f"AlgorithmError: {type(exc).__name__}: {exc}")
        record["ended"] = stamp_now()
        write_json(self.root / "transforms" / f"{name}.json", record)
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
        self._expiry.clear(name)  # its scheduled deletion goes with it
        return self._delete_record("endpoints", name)

    def logs_link(self, kind: str, name: str) -> str | None:
        return None  # the log is the command's own output here

    # -- expiry --------------------------------------------------------------------------------------
    def expiry_keeper(self) -> LocalExpiry:
        return self._expiry

    def _enforce_expiry(self, endpoint: str) -> None:
        """Nothing runs in the background here: an endpoint past its expiry is deleted when looked at."""
        due = self._expiry.due(endpoint)
        if due is None:
            return
        if self._delete_record("endpoints", endpoint):
            from nikkei_deepar.timezones import display_zone, local_time

            zone = display_zone(self.env.settings.output.timezone) if self.env is not None else None
            self._reporter.warn(
                f"endpoint {endpoint} expired at {local_time(due.at, zone)}: deleted now "
                "(`nikkei-deepar deploy` brings it back)"
            )
        self._expiry.clear(endpoint)

    def live_price(self, instance_type: str) -> None:
        return None  # nothing is billed here

    # -- what else is local (modules of this package, imported when asked for) -------------------------
    def _env(self) -> BackendEnv:
        if self.env is None:
            raise UsageError("the local backend was built without a command's settings and ledger")
        return self.env

    def provisioner(self) -> LocalProvisioner:
        from nikkei_deepar.backends.local.provision import LocalProvisioner

        return LocalProvisioner(self.root)

    def remover(self, ledger: Ledger) -> LocalRemover:
        from nikkei_deepar.backends.local.removal import LocalRemover

        # Built for another backend's config (its ledger lists local entries): those are left alone.
        active = self._env().settings.backend == "local"
        return LocalRemover(self if active else None, ledger=ledger)

    def probe(self) -> LocalProbe:
        from nikkei_deepar.backends.local.probe import LocalProbe

        return LocalProbe(self.root, wanted=self._env().settings.aws.tags)

    def checks(self) -> list[Check]:
        from nikkei_deepar.backends.local.checks import local_checks

        return local_checks(self.root)

    # -- records -------------------------------------------------------------------------------------
    def _record(self, folder: str, name: str) -> dict[str, Any] | None:
        if not NAME_RE.fullmatch(name):
            return None
        return read_json(self.root / folder / f"{name}.json")

    def _create_record(self, folder: str, what: str, name: str, record: Mapping[str, Any]) -> None:
        path = self.root / folder / f"{name}.json"
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
        if not NAME_RE.fullmatch(name):
            return False
        try:
            (self.root / folder / f"{name}.json").unlink()
        except FileNotFoundError:
            return False
        return True


# -- helpers ------------------------------------------------------------------------------------------
def _model_error(endpoint: str, status: int, message: str) -> AwsError:
    flat = " ".join(message.split())
    quoted = repr(flat if len(flat) <= _QUOTE else flat[:_QUOTE] + "…")
    return AwsError(
        f"endpoint {endpoint}: the model answered HTTP {status}: {quoted}",
        hint="check the request matches what DeepAR expects",
        code="model-error",
    )
