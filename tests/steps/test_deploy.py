"""`deploy` against moto with scripted endpoints: create, blue/green update, rollback detected, Failed
endpoints, refusing unfinished jobs, retention of old models/configs, interruption and convergence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from ledger_edit import edited
from nikkei_deepar.errors import ExitCode, JobFailedError, NotFoundError, UsageError, WaitTimeoutError
from nikkei_deepar.steps import deploy, train
from sagemaker_script import (
    REGION,
    FakeClock,
    completed,
    endpoint,
    failed,
    in_progress,
    make_context,
    seed_prepared,
    settings_for,
)

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


# -- create ---------------------------------------------------------------------------------------------
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


def test_serverless_is_an_option_clearly_labelled(aws: None, hermetic_env: Path, sm_script: Any) -> None:
    ctx = make_context(hermetic_env, settings_for(endpoint={"serverless": True, "memory_mb": 3072}))
    seed_prepared(ctx)
    _trained(ctx, sm_script)
    result = _deploy(ctx)
    variant = _sm().describe_endpoint_config(EndpointConfigName=result.endpoint_config)["ProductionVariants"][
        0
    ]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 3072, "MaxConcurrency": 5}
    assert "serverless, 3072 MB, max concurrency 5" in "\n".join(result.to_lines())


# -- refusals -------------------------------------------------------------------------------------------
def test_a_job_still_running_is_refused(ctx: Any, sm_script: Any) -> None:
    _trained(ctx, sm_script, in_progress("Training"))
    with pytest.raises(UsageError, match="InProgress, not Completed") as info:
        _deploy(ctx)
    assert info.value.exit_code == ExitCode.USAGE
    assert info.value.hint is not None and "nikkei-deepar wait" in info.value.hint
    assert _sm().list_models()["Models"] == []
    assert _sm().list_endpoints()["Endpoints"] == []


def test_a_failed_job_is_refused_and_the_last_good_one_suggested(ctx: Any, sm_script: Any) -> None:
    good = _trained(ctx, sm_script)
    from nikkei_deepar.steps import wait

    wait.run(ctx, job=good, timeout=None, logs=False)
    _trained(ctx, sm_script, failed())
    with pytest.raises(UsageError, match="Failed, not Completed") as info:
        _deploy(ctx)
    assert info.value.hint is not None and f"--job {good}" in info.value.hint
    result = _deploy(ctx, job=good)
    assert result.job == good


def test_no_job_at_all(ctx: Any) -> None:
    with pytest.raises(NotFoundError, match="no training job"):
        _deploy(ctx)


def test_an_unknown_job(ctx: Any) -> None:
    with pytest.raises(NotFoundError, match="nope-1 does not exist"):
        _deploy(ctx, job="nope-1")


def test_an_endpoint_the_tool_does_not_own_is_left_alone(ctx: Any, sm_script: Any) -> None:
    _trained(ctx, sm_script)
    sm = _sm()
    sm.create_model(
        ModelName="theirs",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/x",
        PrimaryContainer={"Image": "x"},
    )
    sm.create_endpoint_config(
        EndpointConfigName="theirs-c",
        ProductionVariants=[
            {
                "VariantName": "v",
                "ModelName": "theirs",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sm.create_endpoint(EndpointName=EP, EndpointConfigName="theirs-c")
    with pytest.raises(UsageError, match="not created by nikkei-deepar"):
        _deploy(ctx)
    assert sm.describe_endpoint(EndpointName=EP)["EndpointConfigName"] == "theirs-c"


# -- update ---------------------------------------------------------------------------------------------
def test_second_deploy_updates_in_place_never_creates_again(ctx: Any, sm_script: Any) -> None:
    _trained(ctx, sm_script)
    first = _deploy(ctx)
    second_job = _trained(ctx, sm_script)
    sm_script.next_update(EP, endpoint("Updating"), endpoint("Updating"))
    second = _deploy(ctx)
    assert (second.action, second.job, second.previous_config) == (
        "updated",
        second_job,
        first.endpoint_config,
    )
    assert _sm().describe_endpoint(EndpointName=EP)["EndpointConfigName"] == second.endpoint_config
    kinds = [call for call, _ in sm_script.calls]
    assert kinds.count("CreateEndpoint") == 1 and kinds.count("UpdateEndpoint") == 1
    assert "blue/green" in ctx.reporter.stream.getvalue()


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


def test_a_failed_endpoint_reports_the_reason(ctx: Any, sm_script: Any) -> None:
    _trained(ctx, sm_script)
    sm_script.next_endpoint(endpoint("Creating"), endpoint("Failed", "Image does not exist"))
    with pytest.raises(JobFailedError, match="Image does not exist") as info:
        _deploy(ctx)
    assert info.value.exit_code == 6
    assert _live(ctx, "endpoint") == [EP]  # recorded: teardown knows about it


def test_a_failed_endpoint_is_replaced_on_the_next_deploy(ctx: Any, sm_script: Any) -> None:
    _trained(ctx, sm_script)
    sm_script.next_endpoint(endpoint("Failed", "capacity"))
    with pytest.raises(JobFailedError):
        _deploy(ctx)
    result = _deploy(ctx)
    assert (result.action, result.status) == ("recreated", "InService")
    kinds = [call for call, _ in sm_script.calls]
    assert kinds.count("CreateEndpoint") == 2 and "UpdateEndpoint" not in kinds


def test_timeout_waiting_for_in_service_exits_8(ctx: Any, sm_script: Any, clock: FakeClock) -> None:
    _trained(ctx, sm_script)
    sm_script.next_endpoint(endpoint("Creating"))
    with pytest.raises(WaitTimeoutError) as info:
        _deploy(ctx, timeout=120)
    assert info.value.exit_code == 8
    assert sum(clock.sleeps) == pytest.approx(120)
    assert _live(ctx, "endpoint") == [EP]


def test_interrupted_deploy_converges_on_the_rerun(ctx: Any, sm_script: Any, clock: FakeClock) -> None:
    job = _trained(ctx, sm_script)
    sm_script.next_endpoint(
        endpoint("Creating"), endpoint("Creating"), endpoint("Creating"), endpoint("InService")
    )
    clock.interrupt_at = 1
    with pytest.raises(KeyboardInterrupt):
        _deploy(ctx)
    assert len(_live(ctx, "model")) == 1 and _live(ctx, "endpoint") == [EP]
    clock.interrupt_at = None
    result = _deploy(ctx)
    assert (result.action, result.job) == ("unchanged", job)  # waited for Creating, then nothing to do
    assert len(_live(ctx, "model")) == 1
    assert [call for call, _ in sm_script.calls].count("CreateEndpoint") == 1


def test_deploying_the_served_job_again_changes_nothing(ctx: Any, sm_script: Any) -> None:
    _trained(ctx, sm_script)
    first = _deploy(ctx)
    again = _deploy(ctx)
    assert again.action == "unchanged"
    assert again.endpoint_config == first.endpoint_config and again.model == first.model
    assert len(_live(ctx, "model")) == 1


def test_the_same_job_with_another_variant_is_redeployed(
    aws: None, hermetic_env: Path, sm_script: Any
) -> None:
    ctx = make_context(hermetic_env)
    seed_prepared(ctx)
    _trained(ctx, sm_script)
    _deploy(ctx)
    bigger = make_context(hermetic_env, settings_for(endpoint={"instance_type": "ml.c5.xlarge"}))
    result = _deploy(bigger)
    assert result.action == "updated"
    assert "ml.c5.xlarge x1" in "\n".join(result.to_lines())


def test_an_endpoint_tagged_as_ours_but_not_in_the_ledger_is_adopted(ctx: Any, sm_script: Any) -> None:
    _trained(ctx, sm_script)
    _deploy(ctx)
    with edited(ctx.state) as ledger:
        ledger.resources = [r for r in ledger.resources if r.kind != "endpoint"]
    _trained(ctx, sm_script)
    result = _deploy(ctx)
    assert result.action == "updated"
    assert "adopting endpoint" in ctx.reporter.stream.getvalue()
    assert _live(ctx, "endpoint") == [EP]


# -- retention ------------------------------------------------------------------------------------------
def test_only_the_newest_models_and_configs_are_kept(ctx: Any, sm_script: Any) -> None:
    results = []
    for _ in range(4):
        _trained(ctx, sm_script)
        results.append(_deploy(ctx))
    keep = ctx.settings.endpoint.keep_models
    assert keep == 2
    assert _live(ctx, "model") == [r.model for r in results[-keep:]]
    assert _live(ctx, "endpoint-config") == [r.endpoint_config for r in results[-keep:]]
    names = {m["ModelName"] for m in _sm().list_models()["Models"]}
    assert names == {r.model for r in results[-keep:]}
    assert results[2].deleted == [results[0].endpoint_config, results[0].model]
    # the one in use is never deleted
    assert _sm().describe_endpoint(EndpointName=EP)["EndpointConfigName"] == results[-1].endpoint_config


def test_keep_one_never_deletes_what_the_endpoint_serves(
    aws: None, hermetic_env: Path, sm_script: Any
) -> None:
    ctx = make_context(hermetic_env, settings_for(endpoint={"keep_models": 1}))
    seed_prepared(ctx)
    _trained(ctx, sm_script)
    first = _deploy(ctx)
    _trained(ctx, sm_script)
    sm_script.next_update(EP, endpoint("Updating"), rollback=True)
    with pytest.raises(JobFailedError):
        _deploy(ctx)
    _trained(ctx, sm_script)
    third = _deploy(ctx)
    assert _live(ctx, "endpoint-config") == [third.endpoint_config]
    assert first.endpoint_config in third.deleted


# -- the last backtest next to the random walk ----------------------------------------------------------
def _record_backtest(
    ctx: Any, job: str, *, deepar: float, walk: float, data: str | None = None, target: str | None = None
) -> None:
    from nikkei_deepar.ledger import Backtest

    with edited(ctx.state) as ledger:
        record = ledger.job(job)
        assert record is not None
        ledger.record_backtest(
            Backtest(
                data_sha256=data or record.data_sha256,
                hyperparameters=record.hyperparameters,
                random_walk_weight=ctx.settings.forecast.random_walk_weight,  # the shipped 0.8
                target=target or record.target,
                horizon=5,
                windows=30,
                scores={
                    "random-walk": {"mean_wql": walk, "mase": 2.0, "coverage80": 0.79},
                    "deepar": {"mean_wql": deepar, "mase": 3.2, "coverage80": 0.65},
                },
            )
        )


def test_deploy_says_when_there_is_no_backtest(ctx: Any, sm_script: Any) -> None:
    job = _trained(ctx, sm_script)
    sm_script.next_endpoint(endpoint("InService"))
    result = _deploy(ctx)
    assert result.to_data()["backtest"] is None
    assert any(
        "no backtest of job" in line and "nikkei-deepar backtest" in line for line in result.to_lines()
    )
    assert job in "\n".join(result.to_lines())


def test_deploy_shows_the_last_backtest_and_warns_in_one_line_when_deepar_lost(
    ctx: Any, sm_script: Any
) -> None:
    job = _trained(ctx, sm_script)
    _record_backtest(ctx, job, deepar=0.0120, walk=0.0119, data="0" * 64)  # older, on other data
    _record_backtest(ctx, job, deepar=0.0181, walk=0.0134)
    sm_script.next_endpoint(endpoint("InService"))
    result = _deploy(ctx)
    shown = result.to_data()["backtest"]
    assert shown["lost"] is True and shown["wql_vs_random_walk"] == pytest.approx(0.0181 / 0.0134)
    assert shown["deepar"]["mean_wql"] == 0.0181 and shown["random_walk"]["mean_wql"] == 0.0134
    line = next(line for line in result.to_lines() if "last backtest" in line)
    assert "mean wQL 0.0181 vs random walk 0.0134 (1.35x)" in line and "30 windows of 5 trading days" in line
    warnings = [w for w in ctx.reporter.stream.getvalue().splitlines() if "lost to the random walk" in w]
    assert len(warnings) == 1 and "1.35x" in warnings[0]


def test_a_backtest_on_other_data_is_shown_as_such_and_a_win_is_not_a_warning(
    ctx: Any, sm_script: Any
) -> None:
    job = _trained(ctx, sm_script)
    _record_backtest(ctx, job, deepar=0.0117, walk=0.0119, data="cd" * 32)
    sm_script.next_endpoint(endpoint("InService"))
    result = _deploy(ctx)
    assert result.to_data()["backtest"]["lost"] is False
    assert any("on data cdcdcdcdcdcdcdcd" in line for line in result.to_lines())
    assert "lost to the random walk" not in ctx.reporter.stream.getvalue()


def test_a_backtest_of_models_on_the_other_target_is_not_this_models(ctx: Any, sm_script: Any) -> None:
    """The same hyperparameters on prices are another model than on log returns: a price-level
    backtest (every backtest recorded before `[data] target`) says nothing about a log-return job."""
    job = _trained(ctx, sm_script)
    assert ctx.state.load().job(job).target == "log_return"
    _record_backtest(ctx, job, deepar=0.0181, walk=0.0134, target="price")
    sm_script.next_endpoint(endpoint("InService"))
    result = _deploy(ctx)
    assert result.to_data()["backtest"] is None
    assert "lost to the random walk" not in ctx.reporter.stream.getvalue()
