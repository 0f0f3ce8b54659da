"""`poll` (the shared loop) with plain fakes, and `wait` on FakeBackend (tests/fake_backend.py) with
queued job states: every end state and its exit code, --timeout, Ctrl-C and resuming, --logs, the ledger
after each. `wait` with the SageMaker backend on moto: tests/backends/sagemaker/test_wait_on_sagemaker.py."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from fake_backend import FakeBackend, fake_context
from ledger_edit import edited
from nikkei_deepar.backends.base import LogEvent, TrainingState
from nikkei_deepar.errors import (
    AccessDeniedError,
    ExitCode,
    InterruptedError_,
    JobFailedError,
    JobStoppedError,
    NotFoundError,
    WaitTimeoutError,
)
from nikkei_deepar.ledger import Job
from nikkei_deepar.lifecycle.polling import Backoff, poll
from nikkei_deepar.lifecycle.training import WaitResult
from nikkei_deepar.output import Reporter
from nikkei_deepar.steps import wait
from sagemaker_script import FakeClock, settings_for


# -- poll, with no AWS at all ---------------------------------------------------------------------------
class _Ctx:
    """Just what `poll` uses: a reporter, a clock, a sleep and the command's deadline (none here)."""

    def __init__(self, *, interactive: bool = False) -> None:
        self.clock = FakeClock()
        self.sleep = self.clock.sleep
        self.poll_scale = 1.0
        self.reporter = Reporter(interactive=interactive, color=False, stream=io.StringIO())
        self.deadline = None

    @property
    def err(self) -> str:
        return str(self.reporter.stream.getvalue())  # type: ignore[attr-defined]


def _states(*states: str) -> Any:
    remaining = list(states)

    def describe() -> str:
        return remaining.pop(0) if len(remaining) > 1 else remaining[0]

    return describe


def _poll(ctx: _Ctx, describe: Any, *, timeout: float | None = None, backoff: Backoff | None = None) -> str:
    result: str = poll(
        ctx,  # type: ignore[arg-type]
        describe=describe,
        done=lambda s: s == "Done",
        render=lambda s, elapsed: f"job: {s} ({elapsed:.0f}s)",
        timeout=timeout,
        what="job",
        backoff=backoff or Backoff(initial=5, factor=1.5, cap=30),
    )
    return result


def test_backoff_grows_to_its_cap() -> None:
    ctx = _Ctx()
    assert _poll(ctx, _states(*["Running"] * 8, "Done")) == "Done"
    assert ctx.clock.sleeps == pytest.approx([5, 7.5, 11.25, 16.875, 25.3125, 30, 30, 30])


def test_the_poll_scale_shortens_the_first_pause_and_the_cap() -> None:
    ctx = _Ctx()
    ctx.poll_scale = 0.1  # $NIKKEI_DEEPAR_POLL_SCALE=0.1
    assert _poll(ctx, _states(*["Running"] * 8, "Done")) == "Done"
    assert ctx.clock.sleeps == pytest.approx([0.5, 0.75, 1.125, 1.6875, 2.53125, 3, 3, 3])


def test_the_end_is_seen_one_poll_after_it_happens() -> None:
    ctx = _Ctx()
    calls = []
    describe = _states("Running", "Running", "Done")

    def counted() -> str:
        calls.append(ctx.clock())
        return describe()  # type: ignore[no-any-return]

    _poll(ctx, counted)
    assert len(calls) == 3  # no extra poll, no extra sleep after Done
    assert len(ctx.clock.sleeps) == 2


def test_timeout_never_sleeps_past_the_deadline() -> None:
    ctx = _Ctx()
    start = ctx.clock()
    with pytest.raises(WaitTimeoutError, match="--timeout reached") as info:
        _poll(ctx, _states("Running"), timeout=40)
    assert info.value.exit_code == ExitCode.TIMEOUT
    assert ctx.clock() - start == pytest.approx(40)
    assert ctx.clock.sleeps == pytest.approx([5, 7.5, 11.25, 16.25])  # the last sleep trimmed to the deadline


def test_a_job_ending_exactly_at_the_deadline_is_not_a_timeout() -> None:
    ctx = _Ctx()
    assert _poll(ctx, _states("Running", "Done"), timeout=5) == "Done"


def test_plain_lines_only_when_something_changes() -> None:
    ctx = _Ctx()
    _poll(ctx, _states("Starting", "Starting", "Starting", "Training", "Done"))
    lines = ctx.err.splitlines()
    assert [line.split(" ", 1)[1].split(" (")[0] for line in lines] == [
        "job: Starting",
        "job: Training",
        "job: Done",
    ]
    assert all(line[:4].isdigit() for line in lines)  # timestamped for a log file


def test_plain_lines_repeat_as_a_heartbeat() -> None:
    ctx = _Ctx()
    _poll(ctx, _states(*["Running"] * 30, "Done"), backoff=Backoff(initial=30, cap=30, heartbeat=120))
    assert sum("Running" in line for line in ctx.err.splitlines()) == 8  # 870 s: every 120 s + the first


def test_a_terminal_gets_one_live_line() -> None:
    ctx = _Ctx(interactive=True)
    _poll(ctx, _states("Starting", "Starting", "Done"))
    assert ctx.err.count("\r") >= 3
    assert "\n" not in ctx.err  # updated in place, never scrolled


# -- wait on FakeBackend ---------------------------------------------------------------------------------
JOB = "nikkei-deepar-20250101-000000-abcd"
ARTIFACT = f"s3://bucket/output/{JOB}/output/model.tar.gz"
ENDED = dt.datetime(2025, 1, 1, 1, 2, 3, tzinfo=dt.UTC)
DEEPAR_METRICS = {"test:RMSE": 412.5, "test:mean_wQuantileLoss": 0.0213, "train:final_loss": 5.91}


def running(secondary: str = "Training") -> TrainingState:
    return TrainingState(JOB, "InProgress", secondary_status=secondary)


def completed(**changes: Any) -> TrainingState:
    state = TrainingState(
        JOB,
        "Completed",
        secondary_status="Completed",
        metrics=DEEPAR_METRICS,
        billable_seconds=300,
        training_seconds=340,
        model_artifact=ARTIFACT,
        ended=ENDED,
    )
    return replace(state, **changes)


@pytest.fixture
def fake() -> FakeBackend:
    return FakeBackend()


def _fake_ctx(home: Path, fake: FakeBackend, clock: FakeClock, *, job: bool = True, **sections: Any) -> Any:
    context = fake_context(home, fake, settings_for(**sections), clock=clock)
    if job:
        target = context.settings.data.target
        with edited(context.state) as ledger:
            ledger.upsert_job(
                Job(name=JOB, data_sha256="ab" * 32, hyperparameters={}, config_hash="h", target=target)
            )
    return context


@pytest.fixture
def ctx(hermetic_env: Path, fake: FakeBackend, clock: FakeClock) -> Any:
    return _fake_ctx(hermetic_env, fake, clock)


def _wait(ctx: Any, **options: Any) -> WaitResult:
    values: dict[str, Any] = {"job": None, "timeout": None, "logs": False}
    values.update(options)
    return wait.run(ctx, **values)


def test_completed_job_stores_and_prints_metrics(ctx: Any, fake: FakeBackend, clock: FakeClock) -> None:
    fake.queue_training(JOB, running("Starting"), running("Training"), running("Uploading"), completed())
    result = _wait(ctx)
    assert result.status == "Completed"
    assert len(clock.sleeps) == 3
    assert fake.verbs() == ["describe_training"] * 4
    job = ctx.state.load().job(JOB)
    assert job.status == "Completed" and job.secondary_status == "Completed"
    assert job.metrics == pytest.approx(DEEPAR_METRICS)
    assert (job.billable_seconds, job.training_seconds) == (300, 340)
    assert job.model_artifact == ARTIFACT
    assert job.ended_at == "2025-01-01T01:02:03Z"
    text = "\n".join(result.to_lines())
    assert "test:mean_wQuantileLoss" in text and "billable 300 s of 340 s training" in text
    assert f"model artifact: {ARTIFACT}" in text
    err = ctx.reporter.stream.getvalue()
    assert "InProgress (Starting)" in err and "InProgress (Training)" in err


@pytest.mark.parametrize(("target", "noted"), [("log_return", True), ("price", False)])
def test_metrics_of_a_log_return_model_are_said_to_be_on_returns(
    hermetic_env: Path, fake: FakeBackend, clock: FakeClock, target: str, noted: bool
) -> None:
    ctx = _fake_ctx(hermetic_env, fake, clock, data={"target": target})
    fake.queue_training(JOB, completed())
    notes = [line for line in _wait(ctx).to_lines() if "note:" in line]
    said = [line for line in notes if "measure returns, not prices" in line]
    assert bool(said) is noted
    assert not said or "nikkei-deepar backtest" in said[0]


def test_spot_savings_are_reported(ctx: Any, fake: FakeBackend) -> None:
    fake.queue_training(JOB, running(), completed(spot=True, billable_seconds=100, training_seconds=400))
    result = _wait(ctx)
    assert result.spot_savings == pytest.approx(0.75)
    assert "managed spot saved 75%" in "\n".join(result.to_lines())


def test_a_completed_job_without_deepar_metrics_says_no_metrics(ctx: Any, fake: FakeBackend) -> None:
    # what moto's born-Completed job reports: train:progress only, no billable time
    fake.queue_training(
        JOB, completed(metrics={"train:progress": 100.0}, billable_seconds=None, training_seconds=None)
    )
    result = _wait(ctx, job=JOB)
    assert result.status == "Completed"
    assert any(line.strip().startswith("no metrics") for line in result.to_lines())
    assert result.billable_seconds is None


def test_failed_job_exits_6_with_the_reason(ctx: Any, fake: FakeBackend) -> None:
    reason = "ClientError: No training data found in the train channel"
    fake.queue_training(
        JOB, running(), TrainingState(JOB, "Failed", "Failed", failure_reason=reason, ended=ENDED)
    )
    with pytest.raises(JobFailedError, match="No training data found") as info:
        _wait(ctx)
    assert info.value.exit_code == ExitCode.JOB_FAILED == 6
    assert info.value.data["status"] == "Failed"  # type: ignore[attr-defined]
    assert info.value.hint is not None and f"nikkei-deepar wait --job {JOB} --logs" in info.value.hint
    job = ctx.state.load().job(JOB)
    assert (job.status, job.failure_reason) == ("Failed", reason)
    assert job.ended_at is not None and job.model_artifact is None


def test_stopped_job_exits_7_never_success(ctx: Any, fake: FakeBackend) -> None:
    # stopped from the console while waiting: Stopping, then Stopped
    fake.queue_training(
        JOB, running(), running(), TrainingState(JOB, "Stopping", "Stopping"), TrainingState(JOB, "Stopped")
    )
    with pytest.raises(JobStoppedError) as info:
        _wait(ctx)
    assert info.value.exit_code == ExitCode.JOB_STOPPED == 7
    assert ctx.state.load().job(JOB).status == "Stopped"
    assert "Stopping" in ctx.reporter.stream.getvalue()


def test_a_job_ended_by_its_max_runtime_says_which_setting_to_raise(ctx: Any, fake: FakeBackend) -> None:
    fake.queue_training(JOB, running(), TrainingState(JOB, "Stopped", "MaxRuntimeExceeded"))
    with pytest.raises(JobStoppedError) as info:
        _wait(ctx)
    assert info.value.exit_code == 7
    assert info.value.message == f"training job {JOB} was stopped (MaxRuntimeExceeded); it has no model"
    assert info.value.hint is not None and "training.max_runtime_seconds" in info.value.hint


def test_timeout_exits_8_and_leaves_the_job_recorded(ctx: Any, fake: FakeBackend, clock: FakeClock) -> None:
    fake.queue_training(JOB, running("Starting"), running("Training"))
    with pytest.raises(WaitTimeoutError) as info:
        _wait(ctx, timeout=60)
    assert info.value.exit_code == ExitCode.TIMEOUT == 8
    assert sum(clock.sleeps) == pytest.approx(60)
    job = ctx.state.load().job(JOB)
    assert (job.status, job.secondary_status) == ("InProgress", "Training")


def test_ctrl_c_leaves_a_valid_ledger_and_a_second_wait_resumes(
    ctx: Any, fake: FakeBackend, clock: FakeClock
) -> None:
    fake.queue_training(JOB, running("Starting"), running("Downloading"), running("Training"), completed())
    clock.interrupt_at = 2
    with pytest.raises(InterruptedError_) as caught:
        _wait(ctx)
    assert caught.value.exit_code == 130 and "the job itself keeps running" in caught.value.message
    assert caught.value.hint is not None and "`nikkei-deepar wait` follows it again" in caught.value.hint
    ledger = ctx.state.load()  # loads: the file is valid
    assert (ledger.job(JOB).status, ledger.job(JOB).secondary_status) == ("InProgress", "Downloading")
    assert set(fake.verbs()) == {"describe_training"}  # waiting stopped; nothing was asked of the job

    clock.interrupt_at = None
    result = _wait(ctx)
    assert result.status == "Completed"
    assert ctx.state.load().job(JOB).metrics["test:RMSE"] == pytest.approx(412.5)


def test_logs_stream_each_event_once(ctx: Any, fake: FakeBackend, clock: FakeClock) -> None:
    fake.queue_training(JOB, running("Starting"), running("Training"), running("Training"), completed())
    stream = f"{JOB}/algo-1-1700000000"

    def job_writes_logs(n: int) -> None:
        if n == 1:
            fake.logs.setdefault(JOB, []).extend(
                [
                    LogEvent(ENDED, "Arguments: train", stream),
                    LogEvent(ENDED, "#quality_metric: host=algo-1, epoch=0, train loss <loss>=7.1", stream),
                ]
            )
        if n == 2:
            fake.logs[JOB].append(LogEvent(ENDED, "#test_score (algo-1, RMSE): 412.5", stream))

    clock.on_sleep = job_writes_logs
    result = _wait(ctx, logs=True)
    err = ctx.reporter.stream.getvalue()
    assert err.count("Arguments: train") == 1
    assert err.count("#test_score (algo-1, RMSE): 412.5") == 1
    assert "[algo-1-1700000000] Arguments: train" in err  # the stream's last part, not the job's name
    assert err.index("Arguments: train") < err.index("#test_score")
    assert result.log_events == 3


def test_logs_that_cannot_be_read_do_not_end_the_wait(
    ctx: Any, fake: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(name: str, *, cursor: Any = None) -> Any:
        raise AccessDeniedError("logs:DescribeLogStreams: no logs for you")

    monkeypatch.setattr(fake, "training_logs", refused)
    fake.queue_training(JOB, running(), completed())
    result = _wait(ctx, logs=True)
    assert result.status == "Completed"
    assert "warning: stopped streaming logs: logs:DescribeLogStreams: no logs for you" in (
        ctx.reporter.stream.getvalue()
    )


def test_no_job_in_the_ledger_says_train_first(
    hermetic_env: Path, fake: FakeBackend, clock: FakeClock
) -> None:
    ctx = _fake_ctx(hermetic_env, fake, clock, job=False)
    with pytest.raises(NotFoundError, match="no training job") as info:
        _wait(ctx)
    assert info.value.hint is not None and "nikkei-deepar train" in info.value.hint
    assert fake.calls == []


def test_an_unknown_job_name_is_not_found(ctx: Any, fake: FakeBackend) -> None:
    before = ctx.state.path.read_bytes()
    with pytest.raises(NotFoundError, match="training job nope-1 does not exist") as info:
        _wait(ctx, job="nope-1")
    assert info.value.hint is not None and "nikkei-deepar status" in info.value.hint
    assert ctx.state.path.read_bytes() == before


def test_a_job_outside_the_ledger_is_reported_not_recorded(ctx: Any, fake: FakeBackend) -> None:
    fake.queue_training("by-hand-1", completed())
    result = _wait(ctx, job="by-hand-1")
    assert result.in_ledger is False
    assert "this job is not in the ledger: nothing was recorded" in "\n".join(result.to_lines())
    assert ctx.state.load().job("by-hand-1") is None
