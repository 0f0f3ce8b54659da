"""The local backend's training jobs: run one on this machine, and read back its state and its log.

A job is a folder under `<store>/jobs/<name>/`: `state.json` (status, metrics, hyperparameters,
channels, the pid and host that run it), `log.txt` (one timestamped line per event) and, once it
completed, `model.tar.gz` (the engine's archive). Jobs run synchronously: `LocalJobs.run` returns when
the job has ended, Completed, Failed (a SageMaker-style FailureReason: `ClientError: ...` for bad data
or hyperparameters, `AlgorithmError: ...` for anything else) or Stopped (Ctrl-C, or past the job's
max runtime: `MaxRuntimeExceeded`). A job whose process died before it finished reads as Failed.
Unlike a SageMaker job, a local job does not outlive the command that runs it: Ctrl-C during
`train --wait` stops it (Stopped, no model; the next `train` starts a new job from the first epoch).

The engine (gluonts, torch: 5-10 s to import) is imported only when a job runs (`load_engine`).
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nikkei_deepar.backends.base import (
    JOB_COMPLETED,
    JOB_FAILED,
    JOB_IN_PROGRESS,
    JOB_STOPPED,
    LogCursor,
    LogPage,
    TrainingSpec,
    TrainingState,
)
from nikkei_deepar.backends.local.files import (
    LOG_STREAM,
    NAME_RE,
    JobLog,
    checked_name,
    log_event,
    parse_stamp,
    read_channel,
    read_json,
    stamp_now,
    write_json,
)
from nikkei_deepar.engine.loader import batches_per_epoch, interrupts_kept, load_engine
from nikkei_deepar.errors import DataError, NikkeiError, UsageError
from nikkei_deepar.output import Reporter

STATE_FORMAT = "nikkei-deepar/local-job/v1"
_LOG_PAGE = 1000


class LocalJobs:
    """The training jobs under `<store>/jobs`; `LocalBackend`'s training verbs are these methods."""

    def __init__(self, root: Path, *, reporter: Reporter) -> None:
        self.root = root
        self._reporter = reporter

    def run(self, spec: TrainingSpec) -> str:
        """Train now, on this machine; return when the job has ended (its state says how)."""
        name = checked_name(spec.name, "training job")
        engine = load_engine()
        batches = batches_per_epoch()
        job_dir = self.root / "jobs" / name
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
        started = time.monotonic()
        if spec.on_started is not None:
            spec.on_started()
        self._reporter.info(
            f"training on this machine: {hp.get('epochs', '?')} epochs of {batches} batches "
            "(Ctrl-C stops the job: it runs inside this command)"
        )

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

    def describe(self, name: str) -> TrainingState | None:
        record = self._record(name)
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

    def _record(self, name: str) -> dict[str, Any] | None:
        if not NAME_RE.fullmatch(name):
            return None
        record = read_json(self.root / "jobs" / name / "state.json")
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

    def find(self, *, name_contains: str, status: str) -> list[str]:
        jobs = self.root / "jobs"
        if not jobs.is_dir():
            return []
        found = []
        for folder in sorted(jobs.iterdir()):
            if name_contains not in folder.name:
                continue
            record = self._record(folder.name)
            if record is not None and record.get("status") == status:
                found.append(folder.name)
        return found

    def logs(self, name: str, *, cursor: LogCursor | None = None) -> LogPage:
        start = int((cursor.get(LOG_STREAM) if cursor else None) or 0)
        path = self.root / "jobs" / name / "log.txt" if NAME_RE.fullmatch(name) else None
        try:
            lines = path.read_text(encoding="utf-8").splitlines() if path is not None else []
        except FileNotFoundError:
            lines = []
        page = lines[start : start + _LOG_PAGE]
        events = tuple(log_event(line) for line in page)
        return LogPage(events=events, cursor=LogCursor(((LOG_STREAM, str(start + len(page))),)))


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
