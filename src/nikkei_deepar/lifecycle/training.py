"""Following a training job to its end (`wait`, `train --wait`, `retrain`) and keeping what it said.

`follow` stores what it learns in the ledger (the last status on Ctrl-C or SIGTERM too, so a second
`wait` resumes cleanly) and turns the end state into the documented exit code: Completed 0, Failed 6
(with FailureReason), Stopped 7, --timeout 8, and Ctrl-C 130 (waiting stops, the job does not: `wait`
again follows it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, cast

from nikkei_deepar.backends.base import JOB_COMPLETED, JOB_FAILED, LogCursor, TrainingState
from nikkei_deepar.context import Context
from nikkei_deepar.errors import (
    AwsError,
    InterruptedError_,
    JobFailedError,
    JobStoppedError,
    NikkeiError,
    NotFoundError,
    WaitTimeoutError,
)
from nikkei_deepar.ledger import Job, Ledger
from nikkei_deepar.lifecycle.polling import duration, poll
from nikkei_deepar.output import metric_lines

# the metrics DeepAR documents (AWS-FACTS.md); others may appear, these are the ones people look for
DEEPAR_METRICS = ("test:RMSE", "test:mean_wQuantileLoss", "train:final_loss")


@dataclass(frozen=True)
class WaitResult:
    job: str
    status: str
    secondary_status: str | None
    failure_reason: str | None
    metrics: dict[str, float]
    billable_seconds: int | None
    training_seconds: int | None
    spot_savings: float | None
    model_artifact: str | None
    ended_at: str | None
    in_ledger: bool = True
    log_events: int = 0
    notes: list[str] = field(default_factory=list)

    def to_data(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "status": self.status,
            "secondary_status": self.secondary_status,
            "failure_reason": self.failure_reason,
            "metrics": self.metrics,
            "billable_seconds": self.billable_seconds,
            "training_seconds": self.training_seconds,
            "spot_savings": self.spot_savings,
            "model_artifact": self.model_artifact,
            "ended_at": self.ended_at,
            "in_ledger": self.in_ledger,
        }

    def to_lines(self) -> list[str]:
        lines = [f"training job {self.job}: {self.status}" + _paren(self.secondary_status, self.status)]
        if self.failure_reason:
            lines.append(f"  failure reason: {self.failure_reason}")
        lines += metric_lines(self.metrics, indent="  ")
        if not any(name.startswith("test:") for name in self.metrics):
            lines.append("  no metrics: the job reported no test:* metric (was the test channel empty?)")
        if self.billable_seconds is not None:
            text = f"  billable {self.billable_seconds} s"
            if self.training_seconds is not None:
                text += f" of {self.training_seconds} s training"
            if self.spot_savings is not None:
                text += f" (managed spot saved {self.spot_savings:.0%})"
            lines.append(text)
        if self.model_artifact and self.status == JOB_COMPLETED:
            lines.append(f"  model artifact: {self.model_artifact}")
        lines += [f"  note: {note}" for note in self.notes]
        return lines


def follow(ctx: Context, name: str, *, timeout: float | None, logs: bool) -> WaitResult:
    """Poll training job `name` to its end, store the outcome, return it or raise its exit code."""
    tracker = _JobTracker(ctx, name, logs=logs)
    try:
        state = poll(
            ctx,
            describe=tracker.describe,
            done=lambda s: s.terminal,
            render=tracker.render,
            timeout=timeout,
            what=f"training job {name}",
            on_poll=tracker.stream_logs,
            key=lambda s: (s.status, s.secondary_status),
        )
    except WaitTimeoutError:
        # Stop waiting, not the job: keep what we learnt, leave the ledger valid, let the CLI exit.
        ctx.reporter.close()
        if tracker.last is not None:
            record_training_state(ctx, tracker.last)
        raise
    except KeyboardInterrupt:
        ctx.reporter.close()
        if tracker.last is not None:
            record_training_state(ctx, tracker.last)
        raise interrupted_wait(name, tracker.last) from None
    ctx.reporter.close()
    in_ledger = record_training_state(ctx, state)  # the saved ledger, or None: not a job of it
    result = WaitResult(
        job=name,
        status=state.status,
        secondary_status=state.secondary_status,
        failure_reason=state.failure_reason,
        metrics=dict(state.metrics),
        billable_seconds=state.billable_seconds,
        training_seconds=state.training_seconds,
        spot_savings=state.spot_savings,
        model_artifact=state.model_artifact,
        ended_at=_iso(state.ended),
        in_ledger=in_ledger is not None,
        log_events=tracker.log_events,
        notes=[] if in_ledger is not None else ["this job is not in the ledger: nothing was recorded"],
    )
    record = in_ledger.job(name) if in_ledger is not None else None
    if (
        record is not None
        and record.target == "log_return"
        and any(m.startswith("test:") for m in state.metrics)
    ):
        result.notes.append(
            "this model was trained on log returns: its test:* metrics measure returns, not prices "
            "(`nikkei-deepar backtest` scores its price forecasts)"
        )
    if state.status == JOB_COMPLETED:
        return result
    error: NikkeiError
    if state.status == JOB_FAILED:
        link = ctx.backend.logs_link("training-job", name)
        error = JobFailedError(
            f"training job {name} failed: {state.failure_reason or 'no reason given'}",
            hint="read the job's log with `nikkei-deepar wait --job "
            + name
            + " --logs`"
            + (f", or in the console: {link}" if link else ""),
        )
    else:
        out_of_time = state.secondary_status == "MaxRuntimeExceeded"
        error = JobStoppedError(
            f"training job {name} was stopped ({state.secondary_status or state.status}); it has no model",
            hint="raise training.max_runtime_seconds in the config (or lower training.hyperparameters"
            ".epochs), then run `nikkei-deepar train` again"
            if out_of_time
            else "start a new one with `nikkei-deepar train`",
        )
    cast(Any, error).data = result.to_data()  # the --json envelope shows it
    raise error


def interrupted_wait(name: str, last: TrainingState | None) -> InterruptedError_:
    """Ctrl-C while following a job: what happened to the job, and the command that really resumes."""
    if last is not None and last.terminal:
        return InterruptedError_(
            f"interrupted: training job {name} had already ended ({last.status})",
            hint=f"`nikkei-deepar wait --job {name}` shows its result",
        )
    return InterruptedError_(
        f"interrupted: stopped waiting for training job {name}; the job itself keeps running (and billing)",
        hint="`nikkei-deepar wait` follows it again; `nikkei-deepar status` shows it",
    )


class _JobTracker:
    """What `follow` remembers between polls: the last state, the log cursor, the elapsed offset."""

    def __init__(self, ctx: Context, name: str, *, logs: bool) -> None:
        self.ctx = ctx
        self.name = name
        self.streaming = logs
        self.cursor: LogCursor | None = None
        self.last: TrainingState | None = None
        self.log_events = 0
        self._offset: float | None = None

    def describe(self) -> TrainingState:
        backend = self.ctx.backend
        state = backend.describe_training(self.name)
        if state is None:
            raise NotFoundError(
                f"training job {self.name} does not exist (backend {backend.name}, region {backend.region})",
                hint="check the name, the region and the profile; `nikkei-deepar status` lists the jobs",
            )
        self.last = state
        return state

    def render(self, state: TrainingState, elapsed: float) -> str:
        if self._offset is None:  # show the job's age, not just how long this command has waited
            self._offset = _since(state.created)
        status = state.status + _paren(state.secondary_status, state.status)
        return f"{self.name}: {status}, {duration(self._offset + elapsed)} elapsed"

    def stream_logs(self, _: TrainingState) -> None:
        if not self.streaming:
            return
        try:
            page = self.ctx.backend.training_logs(self.name, cursor=self.cursor)
        except AwsError as exc:  # logs are a nicety: they never end a wait
            self.ctx.reporter.warn(f"stopped streaming logs: {exc.message}")
            self.streaming = False
            return
        self.cursor = page.cursor
        for event in page.events:
            self.log_events += 1
            stream = event.stream.rsplit("/", 1)[-1] if event.stream else ""
            prefix = f"[{stream}] " if stream else ""
            self.ctx.reporter.info(f"{prefix}{event.message.rstrip()}")


def record_training_state(ctx: Context, state: TrainingState) -> Ledger | None:
    """Store `state` in the ledger's record of the job: the saved ledger, or None (and nothing written)
    when the ledger does not know the job."""
    if ctx.state.load().job(state.name) is None:
        return None
    return ctx.state.update(lambda ledger: _apply_to(ledger, state))


def _apply_to(ledger: Ledger, state: TrainingState) -> None:
    job = ledger.job(state.name)
    if job is not None:
        apply_training_state(job, state)


def apply_training_state(job: Job, state: TrainingState) -> None:
    job.status = state.status
    job.secondary_status = state.secondary_status
    job.failure_reason = state.failure_reason
    if state.metrics:
        job.metrics = dict(state.metrics)
    job.billable_seconds = state.billable_seconds
    job.training_seconds = state.training_seconds
    if state.model_artifact and state.status == JOB_COMPLETED:
        job.model_artifact = state.model_artifact
    if state.terminal:
        job.ended_at = _iso(state.ended) or _iso(dt.datetime.now(dt.UTC))


def _paren(secondary: str | None, status: str) -> str:
    return f" ({secondary})" if secondary and secondary != status else ""


def _since(when: dt.datetime | None) -> float:
    if when is None:
        return 0.0
    return max(0.0, (dt.datetime.now(dt.UTC) - when).total_seconds())


def _iso(when: dt.datetime | None) -> str | None:
    if when is None:
        return None
    return when.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
