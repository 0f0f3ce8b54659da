"""`wait` with the real SageMaker backend on moto (scripted jobs, tests/sagemaker_script.py): the step and
the backend end to end in-process. What SageMaker's DescribeTrainingJob and CloudWatch Logs answers become
(metrics, billable time, the artifact's S3 path, the end time, log stream names) is the backend's; the
step's own logic is tested on FakeBackend in tests/steps/test_wait.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from nikkei_deepar.lifecycle.training import WaitResult
from nikkei_deepar.steps import train, wait
from sagemaker_script import (
    REGION,
    FakeClock,
    completed,
    in_progress,
    make_context,
    put_training_logs,
    seed_prepared,
)


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
