"""`deploy` on the SageMaker backend, against moto with scripted endpoints: what only this backend does.

The step's own logic (refusals, blue/green, retention, the backtest line...) is tested on FakeBackend
in tests/steps/test_deploy.py; here, end to end in-process, the step with the real backend: what the
model, config and endpoint look like on AWS, and a rollback as SageMaker reports it (the endpoint's
EndpointConfigName and FailureReason after the update).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from nikkei_deepar.errors import ExitCode, JobFailedError
from nikkei_deepar.steps import deploy, train
from sagemaker_script import REGION, FakeClock, completed, endpoint, make_context, seed_prepared

EP = "nikkei-deepar-dev"  # the default: {project}-{stage}


@pytest.fixture
def ctx(aws: None, hermetic_env: Path, clock: FakeClock) -> Any:
    context = make_context(hermetic_env, clock=clock)
    seed_prepared(context)
    return context


def _sm() -> Any:
    return boto3.client("sagemaker", region_name=REGION)


def _trained(ctx: Any, sm_script: Any, *states: Any) -> str:
    """A job that ends as scripted (Completed with DeepAR metrics by default), waited for."""
    sm_script.next_training(*(states or (completed(),)))
    return train.run(ctx, force=True, wait=False, timeout=None, logs=False).job


def _deploy(ctx: Any, **options: Any) -> deploy.DeployResult:
    values: dict[str, Any] = {"job": None, "timeout": None}
    values.update(options)
    return deploy.run(ctx, **values)


def _live(ctx: Any, kind: str) -> list[str]:
    return [r.name for r in ctx.state.load().live_resources(kind)]


def test_first_deploy_creates_model_config_and_endpoint(ctx: Any, sm_script: Any) -> None:
    job = _trained(ctx, sm_script)
    sm_script.next_endpoint(endpoint("Creating"), endpoint("Creating"), endpoint("InService"))
    result = _deploy(ctx)
    assert (result.action, result.status, result.job) == ("created", "InService", job)
    assert result.model.startswith(f"{EP}-m-") and result.endpoint_config.startswith(f"{EP}-c-")

    model = _sm().describe_model(ModelName=result.model)
    described_job = _sm().describe_training_job(TrainingJobName=job)
    assert model["PrimaryContainer"]["ModelDataUrl"] == described_job["ModelArtifacts"]["S3ModelArtifacts"]
    config = _sm().describe_endpoint_config(EndpointConfigName=result.endpoint_config)
    variant = config["ProductionVariants"][0]
    assert (variant["ModelName"], variant["InstanceType"]) == (result.model, "ml.m5.large")
    assert _sm().describe_endpoint(EndpointName=EP)["EndpointConfigName"] == result.endpoint_config

    ledger = ctx.state.load()
    assert _live(ctx, "model") == [result.model]
    assert _live(ctx, "endpoint-config") == [result.endpoint_config]
    assert _live(ctx, "endpoint") == [EP]
    assert ledger.resource("model", result.model).job == job  # type: ignore[union-attr]
    assert ledger.deployments[-1].model == result.model
    assert ledger.deployments[-1].metrics["test:RMSE"] == pytest.approx(412.5)
    assert "Creating" in ctx.reporter.stream.getvalue()
    assert "bills every hour" in "\n".join(result.to_lines())


def test_an_update_rolled_back_by_sagemaker_is_detected(ctx: Any, sm_script: Any) -> None:
    _trained(ctx, sm_script)
    first = _deploy(ctx)
    _trained(ctx, sm_script)
    sm_script.next_update(
        EP,
        endpoint("Updating"),
        endpoint("RollingBack"),
        rollback=True,
        reason="The primary container for production variant AllTraffic did not pass the ping health check.",
    )
    with pytest.raises(JobFailedError, match="rolled back") as info:
        _deploy(ctx)
    assert info.value.exit_code == ExitCode.JOB_FAILED
    assert first.endpoint_config in info.value.message and "ping health check" in info.value.message
    assert _sm().describe_endpoint(EndpointName=EP)["EndpointConfigName"] == first.endpoint_config
    ledger = ctx.state.load()
    assert len(ledger.deployments) == 1  # the failed update is not a deployment
    assert len(_live(ctx, "endpoint-config")) == 2  # but what it created is recorded, for cleanup
