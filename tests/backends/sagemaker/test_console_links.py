"""A failed training job or endpoint names the CloudWatch console page of its log (SageMaker backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nikkei_deepar.errors import JobFailedError
from nikkei_deepar.steps import deploy, train, wait
from sagemaker_script import (
    REGION,
    FakeClock,
    completed,
    endpoint,
    failed,
    in_progress,
    make_context,
    seed_prepared,
)

CONSOLE = (
    f"https://{REGION}.console.aws.amazon.com/cloudwatch/home?region={REGION}#logsV2:log-groups/log-group/"
)


@pytest.fixture
def ctx(aws: None, hermetic_env: Path) -> Any:
    context = make_context(hermetic_env, clock=FakeClock())
    seed_prepared(context)
    return context


def test_a_failed_training_job_links_its_log_streams(ctx: Any, sm_script: Any) -> None:
    sm_script.next_training(in_progress(), failed("AlgorithmError: out of memory"))
    name = train.run(ctx, force=True, wait=False, timeout=None, logs=False).job
    with pytest.raises(JobFailedError) as info:
        wait.run(ctx, job=None, timeout=None, logs=False)
    hint = info.value.hint or ""
    assert f"--job {name} --logs" in hint
    assert f"{CONSOLE}$252Faws$252Fsagemaker$252FTrainingJobs$3FlogStreamNameFilter$3D{name}$252F" in hint


def test_a_failed_endpoint_links_its_log_group(ctx: Any, sm_script: Any) -> None:
    sm_script.next_training(completed())
    train.run(ctx, force=True, wait=False, timeout=None, logs=False)
    sm_script.next_endpoint(
        endpoint("Creating"), endpoint("Failed", "The primary container did not pass the ping")
    )
    with pytest.raises(JobFailedError) as info:
        deploy.run(ctx, job=None, timeout=None)
    assert f"{CONSOLE}$252Faws$252Fsagemaker$252FEndpoints$252Fnikkei-deepar" in (info.value.hint or "")
