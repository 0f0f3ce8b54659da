"""`poll` (the shared loop) with plain fakes, and `wait` against moto with scripted jobs: every end state
and its exit code, --timeout, Ctrl-C and resuming, --logs, the ledger after each."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import boto3
import pytest

from nikkei_deepar.errors import (
    ExitCode,
    InterruptedError_,
    JobFailedError,
    JobStoppedError,
    NotFoundError,
    WaitTimeoutError,
)
from nikkei_deepar.lifecycle.polling import Backoff, poll
from nikkei_deepar.lifecycle.training import WaitResult
from nikkei_deepar.output import Reporter
from nikkei_deepar.steps import train, wait
from sagemaker_script import (
    REGION,
    FakeClock,
    completed,
    failed,
    in_progress,
    make_context,
    put_training_logs,
    seed_prepared,
    stopped,
)


# -- poll, with no AWS at all ---------------------------------------------------------------------------
class _Ctx:
    """Just what `poll` uses: a reporter, a clock, a sleep and the command's deadline (none here)."""

    def __init__(self, *, interactive: bool = False) -> None:
        self.clock = FakeClock()
        self.sleep = self.clock.sleep
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


# -- wait against moto ----------------------------------------------------------------------------------
@pytest.fixture
def ctx(aws: None, hermetic_env: Path, clock: FakeClock) -> Any:
    context = make_context(hermetic_env, clock=clock)
    seed_prepared(context)
    return context


def _start(ctx: Any) -> str:
    return train.run(ctx, force=False, wait=False, timeout=None, logs=False).job


def _wait(ctx: Any, **options: Any) -> WaitResult:
    values: dict[str, Any] = {"job": None, "timeout": None, "logs": False}
    values.update(options)
    return wait.run(ctx, **values)


def test_completed_job_stores_and_prints_metrics(ctx: Any, sm_script: Any, clock: FakeClock) -> None:
    sm_script.next_training(
        in_progress("Starting"), in_progress("Training"), in_progress("Uploading"), completed()
    )
    name = _start(ctx)
    result = _wait(ctx)
    assert result.status == "Completed"
    assert len(clock.sleeps) == 3
    job = ctx.state.load().job(name)
    assert job.status == "Completed" and job.secondary_status == "Completed"
    assert job.metrics == pytest.approx(
        {"test:RMSE": 412.5, "test:mean_wQuantileLoss": 0.0213, "train:final_loss": 5.91}
    )
    assert (job.billable_seconds, job.training_seconds) == (300, 340)
    assert job.model_artifact.endswith(f"/output/{name}/output/model.tar.gz")
    assert job.ended_at and job.ended_at.endswith("Z")
    text = "\n".join(result.to_lines())
    assert "test:mean_wQuantileLoss" in text and "billable 300 s of 340 s training" in text
    assert "model artifact: s3://" in text
    err = ctx.reporter.stream.getvalue()
    assert "InProgress (Starting)" in err and "InProgress (Training)" in err


@pytest.mark.parametrize(("target", "noted"), [("log_return", True), ("price", False)])
def test_metrics_of_a_log_return_model_are_said_to_be_on_returns(
    aws: None, hermetic_env: Path, sm_script: Any, target: str, noted: bool
) -> None:
    from sagemaker_script import settings_for

    ctx = make_context(hermetic_env, settings_for(data={"target": target}))
    seed_prepared(ctx)
    sm_script.next_training(completed())
    _start(ctx)
    notes = [line for line in _wait(ctx).to_lines() if "note:" in line]
    said = [line for line in notes if "measure returns, not prices" in line]
    assert bool(said) is noted
    assert not said or "nikkei-deepar backtest" in said[0]


def test_spot_savings_are_reported(aws: None, hermetic_env: Path, sm_script: Any) -> None:
    from sagemaker_script import settings_for

    ctx = make_context(hermetic_env, settings_for(training={"spot": True, "max_runtime_seconds": 1800}))
    seed_prepared(ctx)
    sm_script.next_training(in_progress(), completed(billable=100, training=400))
    _start(ctx)
    result = _wait(ctx)
    assert result.spot_savings == pytest.approx(0.75)
    assert "managed spot saved 75%" in "\n".join(result.to_lines())


def test_a_completed_job_without_deepar_metrics_says_no_metrics(ctx: Any) -> None:
    name = _start(ctx)  # moto's born-Completed job: train:progress only, no billable time
    result = _wait(ctx, job=name)
    assert result.status == "Completed"
    assert any(line.strip().startswith("no metrics") for line in result.to_lines())
    assert result.billable_seconds is None


def test_failed_job_exits_6_with_the_reason(ctx: Any, sm_script: Any) -> None:
    sm_script.next_training(in_progress(), failed("ClientError: No training data found in the train channel"))
    name = _start(ctx)
    with pytest.raises(JobFailedError, match="No training data found") as info:
        _wait(ctx)
    assert info.value.exit_code == ExitCode.JOB_FAILED == 6
    assert info.value.data["status"] == "Failed"  # type: ignore[attr-defined]
    job = ctx.state.load().job(name)
    assert (job.status, job.failure_reason) == (
        "Failed",
        "ClientError: No training data found in the train channel",
    )
    assert job.ended_at is not None and job.model_artifact is None


def test_stopped_job_exits_7_never_success(ctx: Any, sm_script: Any, clock: FakeClock) -> None:
    sm_script.next_training(in_progress(), in_progress(), in_progress(), in_progress())
    name = _start(ctx)

    def stop_from_the_console(n: int) -> None:
        if n == 2:
            boto3.client("sagemaker", region_name=REGION).stop_training_job(TrainingJobName=name)

    clock.on_sleep = stop_from_the_console
    with pytest.raises(JobStoppedError) as info:
        _wait(ctx)
    assert info.value.exit_code == ExitCode.JOB_STOPPED == 7
    assert ctx.state.load().job(name).status == "Stopped"
    assert (
        "InProgress (Stopping)" in ctx.reporter.stream.getvalue()
        or "Stopping" in ctx.reporter.stream.getvalue()
    )


def test_a_job_ended_by_its_max_runtime_says_which_setting_to_raise(ctx: Any, sm_script: Any) -> None:
    sm_script.next_training(in_progress(), stopped("MaxRuntimeExceeded"))
    name = _start(ctx)
    with pytest.raises(JobStoppedError) as info:
        _wait(ctx)
    assert info.value.exit_code == 7
    assert info.value.message == f"training job {name} was stopped (MaxRuntimeExceeded); it has no model"
    assert info.value.hint is not None and "training.max_runtime_seconds" in info.value.hint


def test_timeout_exits_8_and_leaves_the_job_recorded(ctx: Any, sm_script: Any, clock: FakeClock) -> None:
    sm_script.next_training(in_progress("Starting"), in_progress("Training"))
    name = _start(ctx)
    with pytest.raises(WaitTimeoutError) as info:
        _wait(ctx, timeout=60)
    assert info.value.exit_code == ExitCode.TIMEOUT == 8
    assert sum(clock.sleeps) == pytest.approx(60)
    job = ctx.state.load().job(name)
    assert (job.status, job.secondary_status) == ("InProgress", "Training")


def test_ctrl_c_leaves_a_valid_ledger_and_a_second_wait_resumes(
    ctx: Any, sm_script: Any, clock: FakeClock
) -> None:
    sm_script.next_training(
        in_progress("Starting"), in_progress("Downloading"), in_progress("Training"), completed()
    )
    name = _start(ctx)
    clock.interrupt_at = 2
    with pytest.raises(InterruptedError_) as caught:
        _wait(ctx)
    assert caught.value.exit_code == 130 and "the job itself keeps running" in caught.value.message
    assert caught.value.hint is not None and "`nikkei-deepar wait` follows it again" in caught.value.hint
    ledger = ctx.state.load()  # loads: the file is valid
    assert (ledger.job(name).status, ledger.job(name).secondary_status) == ("InProgress", "Downloading")
    job = boto3.client("sagemaker", region_name=REGION).describe_training_job(TrainingJobName=name)
    assert job["TrainingJobStatus"] == "InProgress"  # waiting stopped, the job did not

    clock.interrupt_at = None
    result = _wait(ctx)
    assert result.status == "Completed"
    assert ctx.state.load().job(name).metrics["test:RMSE"] == pytest.approx(412.5)


def test_logs_stream_each_event_once(ctx: Any, sm_script: Any, clock: FakeClock) -> None:
    sm_script.next_training(
        in_progress("Starting"), in_progress("Training"), in_progress("Training"), completed()
    )
    name = _start(ctx)
    logs = boto3.client("logs", region_name=REGION)

    def job_writes_logs(n: int) -> None:
        if n == 1:
            put_training_logs(
                logs,
                name,
                ["Arguments: train", "#quality_metric: host=algo-1, epoch=0, train loss <loss>=7.1"],
            )
        if n == 2:
            put_training_logs(logs, name, ["#test_score (algo-1, RMSE): 412.5"], offset_ms=5_000)

    clock.on_sleep = job_writes_logs
    result = _wait(ctx, logs=True)
    err = ctx.reporter.stream.getvalue()
    assert err.count("Arguments: train") == 1
    assert err.count("#test_score (algo-1, RMSE): 412.5") == 1
    assert "[algo-1-1700000000] Arguments: train" in err
    assert err.index("Arguments: train") < err.index("#test_score")
    assert result.log_events == 3


def test_logs_that_cannot_be_read_do_not_end_the_wait(ctx: Any, sm_script: Any) -> None:
    from sagemaker_script import inject_error

    sm_script.next_training(in_progress(), completed())
    _start(ctx)
    inject_error(ctx.aws.client("logs"), "DescribeLogStreams", "AccessDeniedException", "no logs for you")
    result = _wait(ctx, logs=True)
    assert result.status == "Completed"
    assert "warning: stopped streaming logs" in ctx.reporter.stream.getvalue()


def test_no_job_in_the_ledger_says_train_first(ctx: Any) -> None:
    with pytest.raises(NotFoundError, match="no training job") as info:
        _wait(ctx)
    assert info.value.hint is not None and "nikkei-deepar train" in info.value.hint


def test_an_unknown_job_name_is_not_found(ctx: Any) -> None:
    with pytest.raises(NotFoundError, match="nope-1 does not exist"):
        _wait(ctx, job="nope-1")


def test_a_job_outside_the_ledger_is_reported_not_recorded(ctx: Any) -> None:
    ctx.backend.start_training  # noqa: B018  (build the backend first)
    from nikkei_deepar.backends.base import TrainingSpec

    ctx.backend.start_training(
        TrainingSpec(
            name="by-hand-1",
            hyperparameters={"epochs": "1"},
            channels={"train": "s3://b/p/train/"},
            output_uri="s3://b/p/output/",
            instance_type="ml.m5.large",
            instance_count=1,
            volume_size_gb=10,
            max_runtime_seconds=600,
            tags={},
        )
    )
    result = _wait(ctx, job="by-hand-1")
    assert result.in_ledger is False
    assert ctx.state.load().job("by-hand-1") is None
