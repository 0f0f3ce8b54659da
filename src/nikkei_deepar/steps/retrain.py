"""`retrain`, for cron: prepare -> train -> wait -> deploy, with a promotion gate, resuming what succeeded.

Stages (each reported as done / reused / skipped / failed, in one summary):
- prepare: always runs (a retrain on yesterday's file is no retrain); the same data lands under the
  same content-addressed keys, so unchanged data is "reused". Data whose last close is more than
  `[data] max_age_sessions` Tokyo sessions old is stale: a warning, or with `[data] on_stale = "fail"`
  the prepare stage fails (exit 3) before any training is paid for.
- train: a job on the same data (sha256) and the same settings (`Settings.fingerprint()`) is reused
  rather than paid for twice: a Completed one is taken as it is, an InProgress one is waited for. A
  Failed or Stopped one is not reusable: a new job starts.
- wait: follows the job to its end (`wait`'s exit codes: 6 Failed, 7 Stopped, 8 --timeout).
- gate: the new job's test:mean_wQuantileLoss against the last promoted model's (the ledger's last
  deployment on this endpoint, even when the endpoint has been torn down since): deploy when
  new <= promoted * (1 + [retrain] max_wql_regression), when nothing was ever promoted, or with
  --force-deploy. A new job without the metric cannot be shown to be no worse: the promoted model stays.
- deploy: as `deploy`; a job the endpoint already serves is not deployed again.

Exit codes: the failing stage's (2 usage/config, 3 data, 4 AWS, 5 not found, 6 job or endpoint failed,
7 stopped, 8 timeout, 130 interrupted). The gate keeping the current model is a normal outcome, exit 0
with status "kept-current-model": a cron job must not alarm because the new model was not better.
Everything runs under the one ledger lock the CLI takes for this command.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nikkei_deepar.backends.base import JOB_COMPLETED, JOB_IN_PROGRESS
from nikkei_deepar.context import Context
from nikkei_deepar.deadline import DeadlineInterrupt
from nikkei_deepar.errors import (
    ExitCode,
    InterruptedError_,
    JobRunningError,
    NikkeiError,
    WaitTimeoutError,
)
from nikkei_deepar.ledger import Ledger
from nikkei_deepar.lifecycle.freshness import check_freshness
from nikkei_deepar.output import aligned, error_entry, number
from nikkei_deepar.verdict import verdict

WQL = "test:mean_wQuantileLoss"
STAGES = ("prepare", "train", "wait", "gate", "deploy")


@dataclass
class Stage:
    name: str
    status: str = "pending"  # done | reused | skipped | failed | pending (not reached)
    detail: str = ""
    exit_code: int = int(ExitCode.OK)
    result: dict[str, Any] | None = None

    def to_data(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
            "exit_code": self.exit_code,
            "result": self.result,
        }


@dataclass(frozen=True)
class Gate:
    decision: str  # deploy | keep | forced | already-deployed
    reason: str
    new: float | None = None
    deployed: float | None = None
    deployed_job: str | None = None
    threshold: float = 0.0
    limit: float | None = None
    backtest: dict[str, Any] | None = None  # the new job's configuration's last backtest (verdict.py)

    def to_data(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "reason": self.reason,
            "metric": WQL,
            "new": self.new,
            "deployed": self.deployed,
            "deployed_job": self.deployed_job,
            "max_regression": self.threshold,
            "limit": self.limit,
            "backtest": self.backtest,
        }


@dataclass(frozen=True)
class RetrainResult:
    status: str  # deployed | already-deployed | kept-current-model | failed | interrupted
    stages: tuple[Stage, ...]
    gate: Gate | None
    data_sha256: str | None
    job: str | None
    endpoint: str
    exit_code: int = int(ExitCode.OK)
    errors: list[dict[str, Any]] = field(default_factory=list)
    freshness: dict[str, Any] | None = None  # lifecycle.freshness.Freshness.to_data() of the data

    def to_data(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "exit_code": self.exit_code,
            "data_sha256": self.data_sha256,
            "freshness": self.freshness,
            "job": self.job,
            "endpoint": self.endpoint,
            "gate": None if self.gate is None else self.gate.to_data(),
            "stages": [s.to_data() for s in self.stages],
        }

    def to_lines(self) -> list[str]:
        lines = [f"retrain: {self.status} (exit {self.exit_code})"]
        lines += aligned([(s.name, s.status, s.detail) for s in self.stages])
        if self.status == "kept-current-model":
            lines.append("the deployed model stays (not an error); --force-deploy deploys the new one anyway")
        return lines


def run(
    ctx: Context,
    *,
    input_file: Path | str | None = None,
    allow_stale: bool = False,
    force_deploy: bool = False,
    timeout: float | None = None,
    logs: bool = False,
) -> RetrainResult:
    stages = {name: Stage(name) for name in STAGES}
    endpoint = ctx.settings.endpoint.name
    state: dict[str, Any] = {"sha": None, "job": None, "gate": None, "freshness": None}
    current = "prepare"

    def finish(
        status: str, code: int = int(ExitCode.OK), errors: list[dict[str, Any]] | None = None
    ) -> RetrainResult:
        for stage in stages.values():
            if stage.status == "pending":
                stage.status, stage.detail = "skipped", "not reached"
        return RetrainResult(
            status=status,
            stages=tuple(stages.values()),
            gate=state["gate"],
            data_sha256=state["sha"],
            job=state["job"],
            endpoint=endpoint,
            exit_code=code,
            errors=errors or [],
            freshness=state["freshness"],
        )

    try:
        _begin(ctx, current)
        state["sha"], last_close = _prepare(
            ctx, stages["prepare"], input_file=input_file, allow_stale=allow_stale
        )
        fresh = check_freshness(ctx, last_close, what="the new model")  # before paying for a job
        state["freshness"] = fresh.to_data()
        current = "train"
        _begin(ctx, current)
        job, already_done = _train(ctx, stages["train"], sha=state["sha"])
        state["job"] = job
        current = "wait"
        _begin(ctx, current)
        metrics = _wait(ctx, stages["wait"], job, already_done=already_done, timeout=timeout, logs=logs)
        current = "gate"
        gate = _gate(ctx, job, metrics, force=force_deploy)
        state["gate"] = gate
        stages["gate"].status = "skipped" if gate.decision == "forced" else "done"
        stages["gate"].detail = f"{gate.decision}: {gate.reason}"
        ctx.reporter.info(f"retrain: gate: {gate.decision}: {gate.reason}")
        current = "deploy"
        if gate.decision == "keep":
            stages["deploy"].status = "skipped"
            stages["deploy"].detail = f"kept the deployed model (job {gate.deployed_job})"
            return finish("kept-current-model")
        _begin(ctx, current)
        action = _deploy(ctx, stages["deploy"], job)
        return finish("already-deployed" if action == "unchanged" else "deployed")
    except DeadlineInterrupt:  # the --timeout alarm: a deadline, not Ctrl-C
        ran_out = ctx.deadline.ran_out if ctx.deadline is not None else "its --timeout"
        late = WaitTimeoutError(
            f"retrain: not finished during {current} when {ran_out} ran out; the ledger is consistent",
            hint="run `nikkei-deepar retrain` again: it resumes (a running job is waited for, not restarted)",
        )
        _failed(ctx, stages[current], late)
        return finish("failed", int(late.exit_code), [error_entry(late)])
    except (KeyboardInterrupt, InterruptedError_):
        exc2 = InterruptedError_(
            f"retrain: interrupted during {current}; the ledger is consistent",
            hint="run `nikkei-deepar retrain` again: it resumes (a SageMaker job still running is waited "
            "for, not restarted; a local job, which runs inside the command, was stopped and trains again)",
        )
        _failed(ctx, stages[current], exc2)
        return finish("interrupted", int(exc2.exit_code), [error_entry(exc2)])
    except NikkeiError as exc:
        _failed(ctx, stages[current], exc)
        return finish("failed", int(exc.exit_code), [error_entry(exc)])


def _begin(ctx: Context, stage: str) -> None:
    ctx.reporter.info(f"retrain: {stage}")


def _failed(ctx: Context, stage: Stage, exc: NikkeiError) -> None:
    ctx.reporter.close()
    stage.status, stage.detail, stage.exit_code = "failed", exc.message, int(exc.exit_code)
    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        stage.result = data
    ctx.reporter.error(f"retrain: {stage.name} failed: {exc.message}")
    if exc.hint and not ctx.reporter.quiet:
        ctx.reporter.info(f"hint: {exc.hint}")


# -- the stages -----------------------------------------------------------------------------------------
def _prepare(
    ctx: Context, stage: Stage, *, input_file: Path | str | None, allow_stale: bool
) -> tuple[str, dt.date]:
    """The prepared data's sha256 and the date of its last close."""
    from nikkei_deepar.steps import prepare

    known = {d.sha256 for d in ctx.state.load().data}
    result = prepare.run(ctx, input_file=input_file, dry_run=False, allow_stale=allow_stale)
    unchanged = result.sha256 in known and not result.uploaded
    stage.status = "reused" if unchanged else "done"
    stage.detail = (
        f"data {result.sha256[:16]}: {result.observations} observations up to {result.summary['last']}"
        + (" (unchanged)" if unchanged else "")
    )
    stage.result = result.to_data()
    return result.sha256, dt.date.fromisoformat(result.last_close or str(result.summary["last"]))


def _train(ctx: Context, stage: Stage, *, sha: str) -> tuple[str, bool]:
    """The job to follow, and whether it had already Completed (nothing to wait for)."""
    from nikkei_deepar.steps import train

    found = _reusable(ctx, sha)
    if found is not None:
        name, status = found
        stage.status = "reused"
        stage.detail = (
            f"job {name} already Completed on this data and config"
            if status == JOB_COMPLETED
            else f"job {name} is still running on this data and config: waiting for it, not starting another"
        )
        ctx.reporter.info(f"retrain: {stage.detail}")
        return name, status == JOB_COMPLETED
    try:
        started = train.run(ctx, force=False, wait=False, timeout=None, logs=False)
    except JobRunningError:
        # a job the ledger did not know (a killed `train`) runs on this data: train adopted it
        found = _reusable(ctx, sha, any_config=True)
        if found is None:
            raise
        stage.status, stage.detail = (
            "reused",
            f"job {found[0]} is already running on this data: waiting for it",
        )
        return found[0], False
    stage.status, stage.detail, stage.result = "done", f"started job {started.job}", started.to_data()
    return started.job, False


def _reusable(ctx: Context, sha: str, *, any_config: bool = False) -> tuple[str, str] | None:
    """(name, status) of a Completed job on this data and config (preferred), else of a running one."""
    backend = ctx.backend
    fingerprint = ctx.settings.fingerprint()
    from nikkei_deepar.data.horizon import hyperparameter_strings

    hyperparameters = hyperparameter_strings(ctx.settings)
    running: tuple[str, str] | None = None
    for job in reversed(ctx.state.load().jobs):
        if job.data_sha256 != sha or job.backend != backend.name:
            continue
        same = job.hyperparameters == hyperparameters if any_config else job.config_hash == fingerprint
        if not same:
            continue
        state = backend.describe_training(job.name)
        if state is None:
            continue
        if state.status == JOB_COMPLETED:
            return job.name, JOB_COMPLETED
        if state.status == JOB_IN_PROGRESS and running is None:
            running = (job.name, JOB_IN_PROGRESS)
    return running


def _wait(
    ctx: Context, stage: Stage, job: str, *, already_done: bool, timeout: float | None, logs: bool
) -> dict[str, float]:
    from nikkei_deepar.lifecycle.training import follow

    result = follow(ctx, job, timeout=timeout, logs=logs)
    wql = result.metrics.get(WQL)
    stage.status = "reused" if already_done else "done"
    stage.detail = f"{result.status}" + (f"; {WQL} {number(wql)}" if wql is not None else "; no test metrics")
    stage.result = result.to_data()
    return dict(result.metrics)


def _gate(ctx: Context, job: str, metrics: dict[str, float], *, force: bool) -> Gate:
    settings = ctx.settings
    backend = ctx.backend
    endpoint = settings.endpoint.name
    threshold = settings.retrain.max_wql_regression
    ledger = ctx.state.load()
    # the last model promoted to this endpoint, whether or not the endpoint exists now (a daily script
    # may have torn it down): a new model must beat it to be promoted
    current = ledger.deployment(endpoint, backend=backend.name)
    new = metrics.get(WQL)
    old = current.metrics.get(WQL) if current is not None else None
    found = verdict(ledger, job, random_walk_weight=settings.forecast.random_walk_weight)
    ctx.reporter.info(f"retrain: gate: {found.line()}")
    warning = found.warning()
    if warning is not None:
        ctx.reporter.warn(warning)
    base: dict[str, Any] = {
        "new": new,
        "deployed": old,
        "deployed_job": current.job if current else None,
        "threshold": threshold,
        "backtest": found.to_data(),
    }
    if current is not None and current.job == job:
        return Gate("already-deployed", f"job {job} is the deployed model", **base)
    if force:
        return Gate("forced", "--force-deploy: the gate is skipped", **base)
    if current is None:
        return Gate("deploy", f"no model was ever promoted to endpoint {endpoint}", **base)
    if new is None:
        return Gate(
            "keep",
            f"job {job} reported no {WQL}, so it cannot be shown to be no worse than job {current.job}",
            **base,
        )
    targets = (_target(ledger, job), _target(ledger, current.job))
    if targets[0] != targets[1]:  # DeepAR's test wQL is on what it models: returns and prices differ
        return Gate(
            "keep",
            f"job {job} was trained on {_TARGETS[targets[0]]}, the deployed job {current.job} on "
            f"{_TARGETS[targets[1]]}: their {WQL} cannot be compared (compare them with `nikkei-deepar "
            "backtest`; --force-deploy deploys the new one)",
            **base,
        )
    if old is None:
        return Gate("deploy", f"the deployed model (job {current.job}) has no recorded {WQL}", **base)
    limit = old * (1 + threshold)
    allowance = f" x (1 + {threshold:g})" if threshold else ""
    shown_new, shown_old = _distinct(new, old)
    scores = f"new {shown_new} {{}} deployed {shown_old}{allowance}"
    if new <= limit:
        return Gate("deploy", scores.format("<="), limit=limit, **base)
    return Gate("keep", scores.format(">") + ": the new model is worse", limit=limit, **base)


_TARGETS = {"price": "prices", "log_return": "log returns"}


def _target(ledger: Ledger, job: str) -> str:
    record = ledger.job(job)
    return record.target if record is not None else "price"


def _deploy(ctx: Context, stage: Stage, job: str) -> str:
    from nikkei_deepar.steps import deploy

    result = deploy.run(ctx, job=job, timeout=None, warn_backtest=False)  # the gate said it
    stage.result = result.to_data()
    if result.action == "unchanged":
        stage.status, stage.detail = "skipped", f"endpoint {result.endpoint} already serves job {job}"
    else:
        stage.status = "done"
        shown = result.words.status(result.status)
        stage.detail = f"endpoint {result.endpoint} {result.action}: {shown}, serving job {job}"
    return result.action


def _distinct(new: float, old: float) -> tuple[str, str]:
    """Both scores by `output.number`, with more digits only when 4 would print different values alike."""
    for digits in range(4, 11):
        shown = number(new, digits=digits), number(old, digits=digits)
        if shown[0] != shown[1] or new == old:
            break
    return shown
