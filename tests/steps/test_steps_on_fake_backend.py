"""deploy, wait, predict and the backend switch against `FakeBackend` (tests/fake_backend.py): queued
states and answers in, the step's result, the ledger and the backend calls out. No moto, no network.

These pin the steps' own logic (blue/green, rollback detection, polling to an end, exit codes, the
ledger records); retrain and its promotion gate are in test_retrain.py. The backends' requests are
tested against moto in tests/aws and tests/backends/sagemaker.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from fake_backend import FakeBackend, fake_context
from ledger_edit import edited
from nikkei_deepar.backends.base import (
    ENDPOINT_FAILED,
    ENDPOINT_IN_SERVICE,
    EndpointState,
    LogEvent,
    TrainingState,
)
from nikkei_deepar.data.horizon import prediction_length_of
from nikkei_deepar.errors import (
    AwsError,
    ExitCode,
    JobFailedError,
    JobStoppedError,
    NotFoundError,
    UsageError,
    WaitTimeoutError,
)
from nikkei_deepar.ledger import Job
from nikkei_deepar.steps import deploy, predict, wait
from sagemaker_script import FakeClock, deepar_response, demo_series, settings_for

JOB = "nikkei-deepar-20250101-000000-abcd"
EP = "nikkei-deepar-dev"  # the default: {project}-{stage}
ARTIFACT = f"s3://bucket/output/{JOB}/output/model.tar.gz"


def done(name: str = JOB, *, wql: float = 0.05) -> TrainingState:
    return TrainingState(
        name=name,
        status="Completed",
        secondary_status="Completed",
        metrics={"test:mean_wQuantileLoss": wql, "test:RMSE": 300.0},
        model_artifact=ARTIFACT.replace(JOB, name),
    )


def running(secondary: str = "Training") -> TrainingState:
    return TrainingState(name=JOB, status="InProgress", secondary_status=secondary)


@pytest.fixture
def fake() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def ctx(hermetic_env: Path, fake: FakeBackend, clock: FakeClock) -> Any:
    context = fake_context(hermetic_env, fake, settings_for(), clock=clock)
    with edited(context.state) as ledger:
        ledger.upsert_job(Job(name=JOB, data_sha256="ab" * 32, hyperparameters={}, config_hash="h"))
    return context


# -- wait ------------------------------------------------------------------------------------------------
def test_wait_polls_until_the_job_ends_and_records_it(ctx: Any, fake: FakeBackend, clock: FakeClock) -> None:
    fake.queue_training(JOB, running("Starting"), running("Training"), done())
    result = wait.run(ctx, job=None, timeout=None, logs=False)
    assert (result.status, result.metrics["test:RMSE"]) == ("Completed", 300.0)
    assert fake.verbs().count("describe_training") == 3 and len(clock.sleeps) == 2
    job = ctx.state.load().jobs[-1]
    assert (job.status, job.model_artifact) == ("Completed", ARTIFACT)


@pytest.mark.parametrize(
    ("end", "error", "code"),
    [
        (
            TrainingState(JOB, "Failed", failure_reason="ClientError: bad data"),
            JobFailedError,
            ExitCode.JOB_FAILED,
        ),
        (TrainingState(JOB, "Stopped"), JobStoppedError, ExitCode.JOB_STOPPED),
    ],
)
def test_wait_turns_how_a_job_ended_into_its_exit_code(
    ctx: Any, fake: FakeBackend, end: TrainingState, error: type[Exception], code: ExitCode
) -> None:
    fake.queue_training(JOB, running(), end)
    with pytest.raises(error) as raised:
        wait.run(ctx, job=None, timeout=None, logs=False)
    assert raised.value.exit_code == code  # type: ignore[attr-defined]
    assert ctx.state.load().jobs[-1].status == end.status


def test_wait_gives_up_at_its_timeout_and_leaves_the_job_running(ctx: Any, fake: FakeBackend) -> None:
    fake.queue_training(JOB, running())
    with pytest.raises(WaitTimeoutError):
        wait.run(ctx, job=None, timeout=60, logs=False)
    assert ctx.state.load().jobs[-1].status == "InProgress"
    assert "stop_training" not in fake.verbs()


def test_wait_streams_new_log_events_once(ctx: Any, fake: FakeBackend, clock: FakeClock) -> None:
    import datetime as dt

    when = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    fake.logs[JOB] = [LogEvent(when, "epoch 1"), LogEvent(when, "epoch 2")]
    fake.queue_training(JOB, running(), running(), done())
    result = wait.run(ctx, job=None, timeout=None, logs=True)
    err = ctx.reporter.stream.getvalue()
    assert err.count("epoch 1") == 1 and err.count("epoch 2") == 1
    assert result.log_events == 2


def test_wait_for_a_job_the_backend_does_not_know(ctx: Any, fake: FakeBackend) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        wait.run(ctx, job="nikkei-deepar-gone", timeout=None, logs=False)


# -- deploy ----------------------------------------------------------------------------------------------
def test_deploy_creates_model_config_and_endpoint_each_recorded(ctx: Any, fake: FakeBackend) -> None:
    fake.queue_training(JOB, done())
    result = deploy.run(ctx, job=None, timeout=None)
    assert (result.action, result.status, result.job) == ("created", ENDPOINT_IN_SERVICE, JOB)
    creates = [v for v in fake.verbs() if v.startswith("create_")]
    assert creates == ["create_model", "create_endpoint_config", "create_endpoint"]
    model = fake.specs[("model", result.model)]
    assert model.model_artifact == ARTIFACT and model.tags["nikkei-deepar:endpoint"] == EP
    ledger = ctx.state.load()
    assert {(r.kind, r.name) for r in ledger.live_resources()} == {
        ("model", result.model),
        ("endpoint-config", result.endpoint_config),
        ("endpoint", EP),
    }
    assert ledger.deployments[-1].job == JOB


def test_deploy_updates_a_live_endpoint_blue_green(ctx: Any, fake: FakeBackend) -> None:
    fake.queue_training(JOB, done())
    first = deploy.run(ctx, job=None, timeout=None)
    second_job = "nikkei-deepar-20250102-000000-efgh"
    with edited(ctx.state) as ledger:
        ledger.upsert_job(Job(name=second_job, data_sha256="ab" * 32, hyperparameters={}, config_hash="h"))
    fake.queue_training(second_job, done(second_job))
    second = deploy.run(ctx, job=None, timeout=None)
    assert second.action == "updated" and second.previous_config == first.endpoint_config
    assert ("update_endpoint", {"name": EP, "config_name": second.endpoint_config}) in fake.calls
    assert fake.verbs().count("create_endpoint") == 1


def test_deploying_what_the_endpoint_serves_changes_nothing(ctx: Any, fake: FakeBackend) -> None:
    fake.queue_training(JOB, done())
    deploy.run(ctx, job=None, timeout=None)
    before = len([v for v in fake.verbs() if v.startswith(("create_", "update_"))])
    again = deploy.run(ctx, job=None, timeout=None)
    assert again.action == "unchanged"
    assert len([v for v in fake.verbs() if v.startswith(("create_", "update_"))]) == before


def test_an_update_sagemaker_rolled_back_fails_and_the_old_model_keeps_serving(
    ctx: Any, fake: FakeBackend
) -> None:
    fake.queue_training(JOB, done())
    first = deploy.run(ctx, job=None, timeout=None)
    second_job = "nikkei-deepar-20250102-000000-efgh"
    with edited(ctx.state) as ledger:
        ledger.upsert_job(Job(name=second_job, data_sha256="ab" * 32, hyperparameters={}, config_hash="h"))
    fake.queue_training(second_job, done(second_job))
    serving = EndpointState(EP, ENDPOINT_IN_SERVICE, config_name=first.endpoint_config)
    fake.endpoints[EP].clear()
    fake.queue_endpoint(EP, serving, EndpointState(EP, "Updating"), serving)
    with pytest.raises(JobFailedError, match="rolled back") as raised:
        deploy.run(ctx, job=None, timeout=None)
    assert raised.value.code == "update-rolled-back"
    assert ctx.state.load().deployments[-1].job == JOB  # no deployment recorded for the rolled-back one


def test_a_failed_endpoint_is_reported_with_its_reason(ctx: Any, fake: FakeBackend) -> None:
    fake.queue_training(JOB, done())
    fake.queue_next_endpoint(
        EndpointState(EP, "Creating"),
        EndpointState(EP, ENDPOINT_FAILED, failure_reason="the model did not load"),
    )
    with pytest.raises(JobFailedError, match="the model did not load") as raised:
        deploy.run(ctx, job=None, timeout=None)
    assert raised.value.exit_code == ExitCode.JOB_FAILED
    assert ctx.state.load().resource("endpoint", EP) is not None  # recorded the moment it existed
    assert ctx.state.load().deployments == []


def test_deploy_refuses_a_job_that_is_not_completed(ctx: Any, fake: FakeBackend) -> None:
    fake.queue_training(JOB, running())
    with pytest.raises(UsageError, match="not Completed") as raised:
        deploy.run(ctx, job=None, timeout=None)
    assert raised.value.code == "job-not-completed"
    assert not [v for v in fake.verbs() if v.startswith("create_")]


def test_deploy_refuses_an_endpoint_it_does_not_own(ctx: Any, fake: FakeBackend) -> None:
    fake.queue_training(JOB, done())
    fake.queue_endpoint(EP, EndpointState(EP, ENDPOINT_IN_SERVICE, config_name="someone-elses"))
    with pytest.raises(UsageError, match="not created by nikkei-deepar") as raised:
        deploy.run(ctx, job=None, timeout=None)
    assert raised.value.code == "endpoint-not-ours"
    assert not [v for v in fake.verbs() if v.startswith(("create_", "update_"))]


# -- predict ---------------------------------------------------------------------------------------------
@pytest.fixture
def deployed(ctx: Any, fake: FakeBackend) -> Any:
    from nikkei_deepar.data.series_io import dump_series
    from nikkei_deepar.ledger import DataVersion

    series = demo_series()
    uri = fake.put_artifact("data/series.json", dump_series(series), content_type="application/json")
    with edited(ctx.state) as ledger:
        ledger.record_data(
            DataVersion(
                sha256="ab" * 32,
                source="demo.csv",
                rows=len(series),
                first=str(series.start),
                last=str(series.last_date),
                column="close",
                calendar=series.policy,
                prediction_length=prediction_length_of(ctx.settings),
                context_length=ctx.settings.training.hyperparameters.context_length,
                observations=series.observations,
                backend="sagemaker",
                train_uri="fake://store/data/train/",
                test_uri="fake://store/data/test/",
                series_uri=uri,
            )
        )
    fake.queue_training(JOB, done())
    deploy.run(ctx, job=None, timeout=None)
    return ctx


def _predict(ctx: Any) -> predict.PredictResult:
    return predict.run(ctx, fmt="table", output=None, plot=None, batch=False, timeout=None)


def test_predict_asks_the_endpoint_once_with_the_whole_history(deployed: Any, fake: FakeBackend) -> None:
    deployed.settings.forecast.__dict__["random_walk_weight"] = 0.0  # DeepAR's answer alone, to read it
    fake.queue_answer(deepar_response(prediction_length_of(deployed.settings)).encode())
    result = _predict(deployed)
    invokes = [args for verb, args in fake.calls if verb == "invoke"]
    assert len(invokes) == 1 and invokes[0]["endpoint"] == EP
    request = json.loads(invokes[0]["body"])
    assert len(request["instances"]) == 1
    assert len(request["instances"][0]["target"]) == len(demo_series().target)
    assert request["configuration"]["quantiles"] == ["0.1", "0.5", "0.9"]
    # one row per trading day, 5 of them: DeepAR's step k is the k-th calendar day (closed days skipped)
    last = demo_series().last_date
    assert [p["step"] for p in result.points] == [1, 2, 3, 4, 5]
    assert all(
        p["mean"] == 38000.0 + (dt.date.fromisoformat(p["date"]) - last).days - 1 for p in result.points
    )


def test_predict_after_a_backend_switch_serves_this_backends_job(deployed: Any, fake: FakeBackend) -> None:
    """A local deployment of the same endpoint name, made later with another horizon and target, is not
    what the SageMaker endpoint serves: predict builds the SageMaker job's 5-day price forecast."""
    from nikkei_deepar.ledger import Deployment

    with edited(deployed.state) as ledger:
        ledger.upsert_job(
            Job(
                name="local-1",
                backend="local",
                data_sha256="ab" * 32,
                hyperparameters={"prediction_length": "9"},
                config_hash="h",
                status="Completed",
                target="log_return",
            )
        )
        ledger.deployments.append(
            Deployment(endpoint=EP, model="m", endpoint_config="c", job="local-1", backend="local")
        )
    fake.queue_answer(deepar_response(prediction_length_of(deployed.settings)).encode())
    result = _predict(deployed)
    assert len(result.points) == 5 and result.points[0]["mean"] > 1000  # prices, not log returns
    invoked = json.loads(next(args for verb, args in fake.calls if verb == "invoke")["body"])
    assert invoked["instances"][0]["target"][-1] == demo_series().target[-1]  # a price series was sent


def test_predict_reports_the_models_error_as_an_aws_error(deployed: Any, fake: FakeBackend) -> None:
    fake.queue_answer(
        AwsError("endpoint nikkei-deepar: the model answered HTTP 400: 'bad'", code="model-error")
    )
    with pytest.raises(AwsError, match="HTTP 400") as raised:
        _predict(deployed)
    assert raised.value.exit_code == ExitCode.AWS


def test_predict_without_prepared_data_asks_nothing(ctx: Any, fake: FakeBackend) -> None:
    with pytest.raises(NotFoundError, match="prepare"):
        _predict(ctx)
    assert "invoke" not in fake.verbs()


# retrain on FakeBackend: tests/steps/test_retrain.py


def test_deploy_asks_the_backend_to_check_its_requests_before_creating_anything(
    ctx: Any, fake: FakeBackend
) -> None:
    from nikkei_deepar.errors import ConfigError

    fake.queue_training(JOB, done())
    fake.refuse["deploy"] = ConfigError("endpoint.instance_type: AWS would refuse it", code="request-shape")
    with pytest.raises(ConfigError, match="AWS would refuse"):
        deploy.run(ctx, job=None, timeout=None)
    assert fake.checked == ["deploy"]
    assert not [v for v in fake.verbs() if v.startswith(("create_", "update_"))]
