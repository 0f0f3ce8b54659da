"""`deploy` on FakeBackend: create, blue/green update, rollback detected, Failed endpoints, refusing
unfinished jobs, retention of old models/configs, interruption and convergence, the backtest line.

What the SageMaker backend makes of the same verbs (the model, config and endpoint on AWS, a rollback as
SageMaker reports it) is tested against moto in tests/backends/sagemaker/test_deploy_on_sagemaker.py.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from fake_backend import FakeBackend, fake_context
from ledger_edit import edited
from nikkei_deepar.backends.base import ENDPOINT_FAILED, ENDPOINT_IN_SERVICE, EndpointState, TrainingState
from nikkei_deepar.errors import ExitCode, JobFailedError, NotFoundError, UsageError, WaitTimeoutError
from nikkei_deepar.steps import deploy, train
from sagemaker_script import DEEPAR_METRICS, FakeClock, seed_prepared, settings_for

EP = "nikkei-deepar-dev"  # the default: {project}-{stage}


@pytest.fixture
def fake() -> FakeBackend:
    return FakeBackend()


def _ctx(home: Path, fake: FakeBackend, clock: FakeClock, **sections: Any) -> Any:
    return fake_context(home, fake, settings_for(**sections), clock=clock)


@pytest.fixture
def ctx(hermetic_env: Path, fake: FakeBackend, clock: FakeClock) -> Any:
    context = _ctx(hermetic_env, fake, clock)
    seed_prepared(context, with_role=False, upload=False)  # the ledger as `prepare` leaves it
    return context


def completed() -> TrainingState:
    """A job that ended well, with DeepAR's metrics (its name and artefact are the step's to choose)."""
    return TrainingState(
        name="", status="Completed", secondary_status="Completed", metrics=dict(DEEPAR_METRICS)
    )


def in_progress() -> TrainingState:
    return TrainingState(name="", status="InProgress", secondary_status="Training")


def failed() -> TrainingState:
    return TrainingState(name="", status="Failed", failure_reason="ClientError: Unable to parse the data")


def creating() -> EndpointState:
    return EndpointState(EP, "Creating")


def updating() -> EndpointState:
    return EndpointState(EP, "Updating")


def _trained(ctx: Any, fake: FakeBackend, *states: TrainingState) -> str:
    """A job started by `train` that ends as queued (Completed with DeepAR metrics by default)."""
    fake.queue_next_training(*(states or (completed(),)))
    name = train.run(ctx, force=True, wait=False, timeout=None, logs=False).job
    artifact = f"fake://store/output/{name}/output/model.tar.gz"
    queued = fake.trainings[name]
    for i, state in enumerate(queued):
        if state.status == "Completed":
            queued[i] = replace(state, model_artifact=artifact)
    return name


def _deploy(ctx: Any, **options: Any) -> deploy.DeployResult:
    values: dict[str, Any] = {"job": None, "timeout": None}
    values.update(options)
    return deploy.run(ctx, **values)


def _live(ctx: Any, kind: str) -> list[str]:
    return [r.name for r in ctx.state.load().live_resources(kind)]


def _creates(fake: FakeBackend) -> list[str]:
    return [v for v in fake.verbs() if v.startswith(("create_", "update_"))]


# -- create ---------------------------------------------------------------------------------------------
def test_first_deploy_creates_model_config_and_endpoint(ctx: Any, fake: FakeBackend) -> None:
    job = _trained(ctx, fake)
    fake.queue_next_endpoint(creating(), creating(), EndpointState(EP, ENDPOINT_IN_SERVICE), configured=True)
    result = _deploy(ctx)
    assert (result.action, result.status, result.job) == ("created", "InService", job)
    assert result.model.startswith(f"{EP}-m-") and result.endpoint_config.startswith(f"{EP}-c-")
    assert _creates(fake) == ["create_model", "create_endpoint_config", "create_endpoint"]

    model = fake.specs[("model", result.model)]
    assert model.model_artifact == fake.trainings[job][-1].model_artifact and model.job == job
    config = fake.specs[("endpoint-config", result.endpoint_config)]
    assert (config.model_name, config.instance_type, config.serverless) == (result.model, "ml.m5.large", None)
    assert ("create_endpoint", {"name": EP, "config_name": result.endpoint_config}) in fake.calls

    ledger = ctx.state.load()
    assert _live(ctx, "model") == [result.model]
    assert _live(ctx, "endpoint-config") == [result.endpoint_config]
    assert _live(ctx, "endpoint") == [EP]
    assert ledger.resource("model", result.model).job == job  # type: ignore[union-attr]
    assert ledger.deployments[-1].model == result.model
    assert ledger.deployments[-1].metrics["test:RMSE"] == pytest.approx(412.5)
    assert "Creating" in ctx.reporter.stream.getvalue()
    assert fake.hosting_note in "\n".join(result.to_lines())  # the backend's word on what it costs


def test_serverless_is_an_option_clearly_labelled(
    hermetic_env: Path, fake: FakeBackend, clock: FakeClock
) -> None:
    ctx = _ctx(hermetic_env, fake, clock, endpoint={"serverless": True, "memory_mb": 3072})
    seed_prepared(ctx, with_role=False, upload=False)
    _trained(ctx, fake)
    result = _deploy(ctx)
    serverless = fake.specs[("endpoint-config", result.endpoint_config)].serverless
    assert (serverless.memory_mb, serverless.max_concurrency) == (3072, 5)
    assert "serverless, 3072 MB, max concurrency 5" in "\n".join(result.to_lines())


# -- refusals -------------------------------------------------------------------------------------------
def test_a_job_still_running_is_refused(ctx: Any, fake: FakeBackend) -> None:
    _trained(ctx, fake, in_progress())
    with pytest.raises(UsageError, match="InProgress, not Completed") as info:
        _deploy(ctx)
    assert info.value.exit_code == ExitCode.USAGE
    assert info.value.hint is not None and "nikkei-deepar wait" in info.value.hint
    assert _creates(fake) == [] and fake.tagged == {}


def test_a_failed_job_is_refused_and_the_last_good_one_suggested(ctx: Any, fake: FakeBackend) -> None:
    good = _trained(ctx, fake)
    from nikkei_deepar.steps import wait

    wait.run(ctx, job=good, timeout=None, logs=False)
    _trained(ctx, fake, failed())
    with pytest.raises(UsageError, match="Failed, not Completed") as info:
        _deploy(ctx)
    assert info.value.hint is not None and f"--job {good}" in info.value.hint
    assert _creates(fake) == []
    result = _deploy(ctx, job=good)
    assert result.job == good


def test_no_job_at_all(ctx: Any) -> None:
    with pytest.raises(NotFoundError, match="no training job"):
        _deploy(ctx)


def test_an_unknown_job(ctx: Any) -> None:
    with pytest.raises(NotFoundError, match="nope-1 does not exist"):
        _deploy(ctx, job="nope-1")


# -- update ---------------------------------------------------------------------------------------------
def test_second_deploy_updates_in_place_never_creates_again(ctx: Any, fake: FakeBackend) -> None:
    _trained(ctx, fake)
    first = _deploy(ctx)
    second_job = _trained(ctx, fake)
    fake.queue_next_update(updating(), updating())
    second = _deploy(ctx)
    assert (second.action, second.job, second.previous_config) == (
        "updated",
        second_job,
        first.endpoint_config,
    )
    assert fake.endpoints[EP][-1].config_name == second.endpoint_config  # what it serves now
    assert fake.verbs().count("create_endpoint") == 1 and fake.verbs().count("update_endpoint") == 1
    assert ("update_endpoint", {"name": EP, "config_name": second.endpoint_config}) in fake.calls
    assert "blue/green" in ctx.reporter.stream.getvalue()


def test_an_update_rolled_back_is_detected_and_named(ctx: Any, fake: FakeBackend) -> None:
    """The step logic of a rollback: the endpoint settles InService on the old config. How SageMaker
    reports one is tested on moto (tests/backends/sagemaker/test_deploy_on_sagemaker.py)."""
    _trained(ctx, fake)
    first = _deploy(ctx)
    _trained(ctx, fake)
    fake.queue_next_update(
        updating(),
        EndpointState(EP, "RollingBack"),
        rollback=True,
        reason="did not pass the ping health check",
    )
    with pytest.raises(JobFailedError, match="rolled back") as info:
        _deploy(ctx)
    assert info.value.exit_code == ExitCode.JOB_FAILED and info.value.code == "update-rolled-back"
    assert first.endpoint_config in info.value.message and "ping health check" in info.value.message
    assert info.value.hint is not None and "the old model keeps serving" in info.value.hint
    ledger = ctx.state.load()
    assert len(ledger.deployments) == 1  # the failed update is not a deployment
    assert len(_live(ctx, "endpoint-config")) == 2  # but what it created is recorded, for cleanup


def test_a_failed_endpoint_is_replaced_on_the_next_deploy(ctx: Any, fake: FakeBackend) -> None:
    _trained(ctx, fake)
    fake.queue_next_endpoint(EndpointState(EP, ENDPOINT_FAILED, failure_reason="capacity"), configured=True)
    with pytest.raises(JobFailedError):
        _deploy(ctx)
    result = _deploy(ctx)
    assert (result.action, result.status) == ("recreated", "InService")
    assert fake.verbs().count("create_endpoint") == 2 and "update_endpoint" not in fake.verbs()
    assert fake.verbs().count("delete_endpoint") == 1
    assert "deleting it to create it again" in ctx.reporter.stream.getvalue()
    assert _live(ctx, "endpoint") == [EP]


def test_timeout_waiting_for_in_service_exits_8(ctx: Any, fake: FakeBackend, clock: FakeClock) -> None:
    _trained(ctx, fake)
    fake.queue_next_endpoint(creating(), configured=True)
    with pytest.raises(WaitTimeoutError) as info:
        _deploy(ctx, timeout=120)
    assert info.value.exit_code == 8
    assert sum(clock.sleeps) == pytest.approx(120)
    assert _live(ctx, "endpoint") == [EP]


def test_interrupted_deploy_converges_on_the_rerun(ctx: Any, fake: FakeBackend, clock: FakeClock) -> None:
    job = _trained(ctx, fake)
    fake.queue_next_endpoint(
        creating(), creating(), creating(), EndpointState(EP, ENDPOINT_IN_SERVICE), configured=True
    )
    clock.interrupt_at = 1
    with pytest.raises(KeyboardInterrupt):
        _deploy(ctx)
    assert len(_live(ctx, "model")) == 1 and _live(ctx, "endpoint") == [EP]
    clock.interrupt_at = None
    result = _deploy(ctx)
    assert (result.action, result.job) == ("unchanged", job)  # waited for Creating, then nothing to do
    assert len(_live(ctx, "model")) == 1
    assert fake.verbs().count("create_endpoint") == 1 and fake.verbs().count("create_model") == 1


def test_deploying_the_served_job_again_changes_nothing(ctx: Any, fake: FakeBackend) -> None:
    _trained(ctx, fake)
    first = _deploy(ctx)
    again = _deploy(ctx)
    assert again.action == "unchanged"
    assert again.endpoint_config == first.endpoint_config and again.model == first.model
    assert len(_live(ctx, "model")) == 1
    assert _creates(fake) == ["create_model", "create_endpoint_config", "create_endpoint"]


def test_the_same_job_with_another_variant_is_redeployed(
    ctx: Any, hermetic_env: Path, fake: FakeBackend, clock: FakeClock
) -> None:
    _trained(ctx, fake)
    _deploy(ctx)
    bigger = _ctx(hermetic_env, fake, clock, endpoint={"instance_type": "ml.c5.xlarge"})
    result = _deploy(bigger)
    assert result.action == "updated"
    assert fake.specs[("endpoint-config", result.endpoint_config)].instance_type == "ml.c5.xlarge"
    assert "ml.c5.xlarge x1" in "\n".join(result.to_lines())


def test_an_endpoint_tagged_as_ours_but_not_in_the_ledger_is_adopted(ctx: Any, fake: FakeBackend) -> None:
    _trained(ctx, fake)
    _deploy(ctx)
    with edited(ctx.state) as ledger:
        ledger.resources = [r for r in ledger.resources if r.kind != "endpoint"]
    _trained(ctx, fake)
    result = _deploy(ctx)
    assert result.action == "updated"
    assert "adopting endpoint" in ctx.reporter.stream.getvalue()
    assert _live(ctx, "endpoint") == [EP]


# -- retention ------------------------------------------------------------------------------------------
def test_only_the_newest_models_and_configs_are_kept(ctx: Any, fake: FakeBackend) -> None:
    results = []
    for _ in range(4):
        _trained(ctx, fake)
        results.append(_deploy(ctx))
    keep = ctx.settings.endpoint.keep_models
    assert keep == 2
    assert _live(ctx, "model") == [r.model for r in results[-keep:]]
    assert _live(ctx, "endpoint-config") == [r.endpoint_config for r in results[-keep:]]
    assert {name for kind, name in fake.tagged if kind == "model"} == {r.model for r in results[-keep:]}
    assert results[2].deleted == [results[0].endpoint_config, results[0].model]
    # configs first: a model outlives every config that names it
    deletes = [(v, a["name"]) for v, a in fake.calls if v.startswith("delete_")]
    assert deletes[:2] == [
        ("delete_endpoint_config", results[0].endpoint_config),
        ("delete_model", results[0].model),
    ]
    # the one in use is never deleted
    assert fake.endpoints[EP][-1].config_name == results[-1].endpoint_config


def test_keep_one_never_deletes_what_the_endpoint_serves(
    hermetic_env: Path, fake: FakeBackend, clock: FakeClock
) -> None:
    ctx = _ctx(hermetic_env, fake, clock, endpoint={"keep_models": 1})
    seed_prepared(ctx, with_role=False, upload=False)
    _trained(ctx, fake)
    first = _deploy(ctx)
    _trained(ctx, fake)
    fake.queue_next_update(updating(), rollback=True)
    with pytest.raises(JobFailedError):
        _deploy(ctx)
    assert ("endpoint-config", first.endpoint_config) in fake.tagged  # served: kept, though beyond keep=1
    _trained(ctx, fake)
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


def test_deploy_says_when_there_is_no_backtest(ctx: Any, fake: FakeBackend) -> None:
    job = _trained(ctx, fake)
    result = _deploy(ctx)
    assert result.to_data()["backtest"] is None
    assert any(
        "no backtest of job" in line and "nikkei-deepar backtest" in line for line in result.to_lines()
    )
    assert job in "\n".join(result.to_lines())


def test_deploy_shows_the_last_backtest_and_warns_in_one_line_when_deepar_lost(
    ctx: Any, fake: FakeBackend
) -> None:
    job = _trained(ctx, fake)
    _record_backtest(ctx, job, deepar=0.0120, walk=0.0119, data="0" * 64)  # older, on other data
    _record_backtest(ctx, job, deepar=0.0181, walk=0.0134)
    result = _deploy(ctx)
    shown = result.to_data()["backtest"]
    assert shown["lost"] is True and shown["wql_vs_random_walk"] == pytest.approx(0.0181 / 0.0134)
    assert shown["deepar"]["mean_wql"] == 0.0181 and shown["random_walk"]["mean_wql"] == 0.0134
    line = next(line for line in result.to_lines() if "last backtest" in line)
    assert "mean wQL 0.0181 vs random walk 0.0134 (1.35x)" in line and "30 windows of 5 trading days" in line
    warnings = [w for w in ctx.reporter.stream.getvalue().splitlines() if "lost to the random walk" in w]
    assert len(warnings) == 1 and "1.35x" in warnings[0]


def test_a_backtest_on_other_data_is_shown_as_such_and_a_win_is_not_a_warning(
    ctx: Any, fake: FakeBackend
) -> None:
    job = _trained(ctx, fake)
    _record_backtest(ctx, job, deepar=0.0117, walk=0.0119, data="cd" * 32)
    result = _deploy(ctx)
    assert result.to_data()["backtest"]["lost"] is False
    assert any("on data cdcdcdcdcdcdcdcd" in line for line in result.to_lines())
    assert "lost to the random walk" not in ctx.reporter.stream.getvalue()


def test_a_backtest_of_models_on_the_other_target_is_not_this_models(ctx: Any, fake: FakeBackend) -> None:
    """The same hyperparameters on prices are another model than on log returns: a price-level
    backtest (every backtest recorded before `[data] target`) says nothing about a log-return job."""
    job = _trained(ctx, fake)
    assert ctx.state.load().job(job).target == "log_return"
    _record_backtest(ctx, job, deepar=0.0181, walk=0.0134, target="price")
    result = _deploy(ctx)
    assert result.to_data()["backtest"] is None
    assert "lost to the random walk" not in ctx.reporter.stream.getvalue()
