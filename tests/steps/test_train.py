"""`train` on `FakeBackend`: the spec it asks for, the ledger record, names, refusing to pay twice, adopting
a job a killed `train` never recorded, the checks of the prepared data, and `train --wait`.

What SageMaker makes of the request (image, S3 paths, tags on AWS) is tested against moto in
tests/backends/sagemaker/test_train_on_sagemaker.py and tests/aws/test_sagemaker.py.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from fake_backend import FakeBackend, fake_context
from ledger_edit import edited
from nikkei_deepar.backends.base import TrainingSpec, TrainingState
from nikkei_deepar.backends.specs import NAME_RE, resource_name
from nikkei_deepar.data.horizon import hyperparameter_strings
from nikkei_deepar.errors import ConfigError, ExitCode, NotFoundError, UsageError
from nikkei_deepar.steps import train
from sagemaker_script import seed_prepared, settings_for

FILES = ("train/train.json", "test/test.json", "series.json")


@pytest.fixture
def fake() -> FakeBackend:
    return FakeBackend()


def _context(home: Path, fake: FakeBackend, settings: Any = None, *, prepared: bool = True) -> Any:
    """A context on `fake`; with `prepared`, the ledger and the store as `prepare` leaves them."""
    ctx = fake_context(home, fake, settings or settings_for())
    if prepared:
        version = seed_prepared(ctx, with_role=False, upload=False)  # the ledger and the local files
        local = Path(version.local_dir)
        uris = {
            name: fake.put_artifact(
                f"data/{version.sha256[:16]}/{name}", (local / name).read_bytes(), content_type="x"
            )
            for name in FILES
        }
        fake.calls.clear()
        with edited(ctx.state) as ledger:
            ledger.data[-1] = version.model_copy(
                update={
                    "train_uri": uris["train/train.json"].rsplit("/", 1)[0] + "/",
                    "test_uri": uris["test/test.json"].rsplit("/", 1)[0] + "/",
                    "series_uri": uris["series.json"],
                }
            )
    return ctx


@pytest.fixture
def ctx(hermetic_env: Path, fake: FakeBackend) -> Any:
    return _context(hermetic_env, fake)


def _run(ctx: Any, **options: Any) -> train.TrainResult:
    values: dict[str, Any] = {"force": False, "wait": False, "timeout": None, "logs": False}
    values.update(options)
    return train.run(ctx, **values)


def _started(fake: FakeBackend) -> list[TrainingSpec]:
    return [args["spec"] for verb, args in fake.calls if verb == "start_training"]


def running(secondary: str = "Training", **fields: Any) -> TrainingState:
    return TrainingState(name="placeholder", status="InProgress", secondary_status=secondary, **fields)


def completed(metrics: dict[str, float] | None = None) -> TrainingState:
    return TrainingState(
        name="placeholder",
        status="Completed",
        secondary_status="Completed",
        metrics={"test:RMSE": 412.5, "test:mean_wQuantileLoss": 0.0213, "train:final_loss": 5.91}
        if metrics is None
        else metrics,
        model_artifact="fake://store/output/model.tar.gz",
    )


# -- names ----------------------------------------------------------------------------------------------
def test_names_carry_a_utc_stamp_and_a_random_suffix() -> None:
    when = dt.datetime(2025, 3, 1, 9, 30, 5, tzinfo=dt.UTC)
    name = resource_name("nikkei-deepar", now=when)
    assert name.startswith("nikkei-deepar-20250301-093005-")
    assert len(name.rsplit("-", 1)[1]) == 4
    assert resource_name("nikkei-deepar", now=when) != name


@pytest.mark.parametrize("base", ["a" * 50, "x-" * 25 + "y", "ep", "a--b"])
@pytest.mark.parametrize("kind", [None, "m", "c", "t"])
def test_names_always_fit_sagemakers_pattern(base: str, kind: str | None) -> None:
    name = resource_name(base, kind)
    assert len(name) <= 63
    assert NAME_RE.match(name), name


# -- the job --------------------------------------------------------------------------------------------
def test_train_starts_the_job_and_records_it(ctx: Any, fake: FakeBackend) -> None:
    result = _run(ctx)
    assert NAME_RE.match(result.job) and result.job.startswith("nikkei-deepar-")
    assert fake.checked == ["train"]  # the requests were checked before anything was started
    [spec] = _started(fake)
    hp = ctx.settings.training.hyperparameters
    data = ctx.state.load().last_data
    assert spec.name == result.job
    assert dict(spec.hyperparameters) == hp.as_strings(prediction_length=17)
    assert spec.hyperparameters["prediction_length"] == "17"  # 5 trading days, calendar_days
    assert dict(spec.channels) == {"train": data.train_uri, "test": data.test_uri}
    assert spec.output_uri == fake.artifact_uri("output/") == result.output_uri
    assert (spec.instance_type, spec.max_runtime_seconds) == ("ml.m5.large", 3600)
    assert (spec.spot, spec.max_wait_seconds) == (False, None)
    assert spec.tags["managed-by"] == "nikkei-deepar"

    job = ctx.state.load().last_job
    assert job is not None
    assert job.name == result.job
    assert job.backend == "sagemaker"
    assert job.data_sha256 == "ab" * 32
    assert job.hyperparameters == hp.as_strings(prediction_length=17)
    assert job.config_hash == ctx.settings.fingerprint()
    assert job.started_at and job.status == "InProgress"
    assert result.to_lines()[0] == f"started training job {result.job}"
    assert result.to_data()["job"] == result.job
    assert f"started training job {result.job}" in ctx.reporter.stream.getvalue()


def test_spot_training_caps_the_wait_as_deepar_requires(hermetic_env: Path, fake: FakeBackend) -> None:
    settings = settings_for(training={"spot": True, "max_runtime_seconds": 1800, "max_wait_seconds": 3600})
    result = _run(_context(hermetic_env, fake, settings))
    [spec] = _started(fake)
    assert (spec.spot, spec.max_runtime_seconds, spec.max_wait_seconds) == (True, 1800, 3600)
    assert result.spot and "ml.m5.large, managed spot" in result.to_lines()[1]


def test_without_prepared_data_it_says_run_prepare(hermetic_env: Path, fake: FakeBackend) -> None:
    ctx = _context(hermetic_env, fake, prepared=False)
    with pytest.raises(NotFoundError, match="no prepared data") as info:
        _run(ctx)
    assert info.value.hint is not None and "nikkei-deepar prepare" in info.value.hint
    assert info.value.exit_code == ExitCode.NOT_FOUND
    assert fake.calls == []


def test_data_cut_for_another_prediction_length_is_refused(ctx: Any, hermetic_env: Path) -> None:
    other_fake = FakeBackend()
    other = fake_context(
        hermetic_env, other_fake, settings_for(training={"hyperparameters": {"prediction_length": 21}})
    )
    with pytest.raises(UsageError, match="prediction_length 17"):
        _run(other)
    too_short = fake_context(
        hermetic_env, other_fake, settings_for(training={"hyperparameters": {"prediction_length": 7}})
    )
    with pytest.raises(ConfigError, match=r"prediction_length = 7 .* cannot hold .* 5 trading days"):
        _run(too_short)
    assert "start_training" not in other_fake.verbs()


# -- paying twice ---------------------------------------------------------------------------------------
def test_a_second_train_while_the_first_runs_asks_for_force(ctx: Any, fake: FakeBackend) -> None:
    fake.queue_next_training(running("Starting"), running("Training"))
    first = _run(ctx)
    with pytest.raises(UsageError, match=f"{first.job} is still running") as info:
        _run(ctx)
    assert info.value.exit_code == ExitCode.USAGE
    assert info.value.hint is not None and "--force" in info.value.hint
    ledger = ctx.state.load()
    assert [j.name for j in ledger.jobs] == [first.job]
    assert ledger.jobs[0].secondary_status == "Starting"  # refreshed from the backend while checking
    assert len(_started(fake)) == 1

    second = _run(ctx, force=True)
    assert second.job != first.job
    assert [j.name for j in ctx.state.load().jobs] == [first.job, second.job]


def test_a_finished_twin_does_not_block(ctx: Any, fake: FakeBackend) -> None:
    fake.queue_next_training(completed())
    first = _run(ctx)
    second = _run(ctx)
    assert second.job != first.job
    assert ctx.state.load().job(first.job).status == "Completed"  # type: ignore[union-attr]


def test_other_hyperparameters_do_not_block(ctx: Any, fake: FakeBackend, hermetic_env: Path) -> None:
    fake.queue_next_training(running())
    first = _run(ctx)
    other = fake_context(hermetic_env, fake, settings_for(training={"hyperparameters": {"epochs": 7}}))
    second = _run(other)
    assert second.job and second.job != first.job
    assert len(_started(fake)) == 2


def test_a_running_job_missing_from_the_ledger_is_adopted(ctx: Any, fake: FakeBackend) -> None:
    """`train` killed after the job started but before the ledger write: the re-run finds the job."""
    data = ctx.state.load().last_data
    orphan = "nikkei-deepar-dev-20250101-000000-beef"  # named after the endpoint, as train names jobs
    fake.queue_training(
        orphan,
        running(
            "Downloading",
            hyperparameters=hyperparameter_strings(ctx.settings),
            channels={"train": data.train_uri, "test": data.test_uri},
            created=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        ),
    )
    with pytest.raises(UsageError, match=f"{orphan} is still running"):
        _run(ctx)
    adopted = ctx.state.load().job(orphan)
    assert adopted is not None
    assert adopted.data_sha256 == data.sha256
    assert adopted.secondary_status == "Downloading"
    assert adopted.started_at == "2025-01-01T00:00:00Z"
    assert "adopting training job" in ctx.reporter.stream.getvalue()
    assert ("find_trainings", {"name_contains": "nikkei-deepar-dev", "status": "InProgress"}) in fake.calls
    assert _started(fake) == []


def test_a_running_job_on_other_data_is_not_adopted(ctx: Any, fake: FakeBackend) -> None:
    fake.queue_training(
        "nikkei-deepar-dev-20250101-000000-beef",
        running(hyperparameters=hyperparameter_strings(ctx.settings), channels={"train": "fake://other/"}),
    )
    result = _run(ctx)
    assert [j.name for j in ctx.state.load().jobs] == [result.job]


# -- train --wait ---------------------------------------------------------------------------------------
def test_train_wait_follows_the_job_to_its_metrics(ctx: Any, fake: FakeBackend) -> None:
    fake.queue_next_training(running("Starting"), running("Training"), completed())
    result = _run(ctx, wait=True)
    assert result.waited is not None
    assert result.waited.status == "Completed"
    assert result.to_data()["wait"]["metrics"]["test:RMSE"] == pytest.approx(412.5)
    job = ctx.state.load().last_job
    assert job is not None and job.status == "Completed"
    assert job.metrics["test:mean_wQuantileLoss"] == pytest.approx(0.0213)
    assert any("test:RMSE" in line for line in result.to_lines())
    assert fake.verbs().count("describe_training") == 3


# -- what the prepared data holds -----------------------------------------------------------------------
def test_data_prepared_without_calendar_features_is_refused_when_the_config_wants_them(
    ctx: Any, fake: FakeBackend, hermetic_env: Path
) -> None:
    wants = fake_context(hermetic_env, fake, settings_for(data={"calendar_features": True}))
    with pytest.raises(UsageError, match=r"carry no calendar features.*calendar_features = true") as info:
        _run(wants)
    assert info.value.hint is not None and "nikkei-deepar prepare" in info.value.hint
    assert "start_training" not in fake.verbs()


@pytest.mark.parametrize(
    ("prepared", "wanted", "held"),
    [("price", "log_return", "holds prices"), ("log_return", "price", "holds log returns")],
)
def test_data_prepared_with_the_other_target_is_refused(
    hermetic_env: Path, fake: FakeBackend, prepared: str, wanted: str, held: str
) -> None:
    _context(hermetic_env, fake, settings_for(data={"target": prepared}))
    wants = fake_context(hermetic_env, fake, settings_for(data={"target": wanted}))
    with pytest.raises(
        UsageError, match=rf'{held}, but the config says \[data\] target = "{wanted}"'
    ) as info:
        _run(wants)
    assert info.value.exit_code == ExitCode.USAGE
    assert "\n" not in info.value.message
    assert info.value.hint is not None and "nikkei-deepar prepare" in info.value.hint
    assert "start_training" not in fake.verbs()


@pytest.mark.parametrize("target", ["price", "log_return"])
def test_the_job_records_the_target_it_was_trained_on(
    hermetic_env: Path, fake: FakeBackend, target: str
) -> None:
    ctx = _context(hermetic_env, fake, settings_for(data={"target": target}))
    result = _run(ctx)
    job = ctx.state.load().job(result.job)
    assert job is not None and job.target == target


# -- data prepared before there was a store -------------------------------------------------------------
def test_channels_prepared_only_locally_are_uploaded_first(ctx: Any, fake: FakeBackend) -> None:
    version = ctx.state.load().last_data
    with edited(ctx.state) as ledger:  # as prepare records it when there was no bucket yet
        ledger.data[-1] = version.model_copy(
            update={"uploaded": False, "train_uri": "", "test_uri": "", "series_uri": None}
        )
    fake.artifacts.clear()

    result = _run(ctx)
    data = ctx.state.load().last_data
    assert data is not None and data.uploaded
    prefix = f"data/{version.sha256[:16]}"
    assert data.train_uri == fake.artifact_uri(f"{prefix}/train/")
    assert data.test_uri == fake.artifact_uri(f"{prefix}/test/")
    assert data.series_uri == fake.artifact_uri(f"{prefix}/series.json")
    assert set(fake.artifacts) == {fake.artifact_uri(f"{prefix}/{name}") for name in FILES}
    verbs = fake.verbs()
    assert verbs.index("put_artifact") < verbs.index("start_training")  # uploaded before the job starts
    [spec] = _started(fake)
    assert (spec.name, spec.channels["train"]) == (result.job, data.train_uri)


def test_local_only_channels_that_are_gone_say_prepare_again(
    ctx: Any, fake: FakeBackend, hermetic_env: Path
) -> None:
    version = ctx.state.load().last_data
    with edited(ctx.state) as ledger:
        ledger.data[-1] = version.model_copy(
            update={"uploaded": False, "local_dir": str(hermetic_env / "gone")}
        )
    with pytest.raises(NotFoundError, match="never uploaded") as info:
        _run(ctx)
    assert info.value.hint is not None and "prepare" in info.value.hint
    assert "start_training" not in fake.verbs()
