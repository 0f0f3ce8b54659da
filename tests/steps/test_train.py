"""`train` against moto with the scripted lifecycle: the request, the ledger record, names, refusing to
pay twice, adopting a job a killed `train` never recorded, and `train --wait`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import boto3
import pytest

from ledger_edit import edited
from nikkei_deepar.backends.base import TrainingSpec
from nikkei_deepar.backends.specs import NAME_RE, resource_name
from nikkei_deepar.data.horizon import hyperparameter_strings
from nikkei_deepar.errors import ConfigError, ExitCode, NotFoundError, UsageError
from nikkei_deepar.steps import train
from sagemaker_script import (
    BUCKET,
    REGION,
    completed,
    in_progress,
    make_context,
    seed_prepared,
    settings_for,
)


@pytest.fixture
def ctx(aws: None, hermetic_env: Path) -> Any:
    context = make_context(hermetic_env)
    seed_prepared(context)
    return context


def _run(ctx: Any, **options: Any) -> train.TrainResult:
    values: dict[str, Any] = {"force": False, "wait": False, "timeout": None, "logs": False}
    values.update(options)
    return train.run(ctx, **values)


def _described(name: str) -> dict[str, Any]:
    return boto3.client("sagemaker", region_name=REGION).describe_training_job(TrainingJobName=name)


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
def test_train_starts_the_job_and_records_it(ctx: Any) -> None:
    result = _run(ctx)
    assert NAME_RE.match(result.job) and result.job.startswith("nikkei-deepar-")
    described = _described(result.job)
    hp = ctx.settings.training.hyperparameters
    assert described["HyperParameters"] == hp.as_strings(prediction_length=17)
    assert described["HyperParameters"]["prediction_length"] == "17"  # 5 trading days, calendar_days
    assert described["AlgorithmSpecification"]["TrainingImage"].startswith(
        "633353088612.dkr.ecr.ap-northeast-1"
    )
    assert (
        described["OutputDataConfig"]["S3OutputPath"]
        == f"s3://{BUCKET}/nikkei-deepar/nikkei-deepar/dev/output/"
    )
    assert described["ResourceConfig"]["InstanceType"] == "ml.m5.large"
    assert described["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    tags = boto3.client("sagemaker", region_name=REGION).list_tags(ResourceArn=described["TrainingJobArn"])
    assert {"Key": "managed-by", "Value": "nikkei-deepar"} in tags["Tags"]

    job = ctx.state.load().last_job
    assert job is not None
    assert job.name == result.job
    assert job.data_sha256 == "ab" * 32
    assert job.hyperparameters == hp.as_strings(prediction_length=17)
    assert job.config_hash == ctx.settings.fingerprint()
    assert job.started_at and job.status == "InProgress"
    assert result.to_lines()[0] == f"started training job {result.job}"
    assert result.to_data()["job"] == result.job


def test_spot_training_caps_the_wait_as_deepar_requires(aws: None, hermetic_env: Path) -> None:
    settings = settings_for(training={"spot": True, "max_runtime_seconds": 1800, "max_wait_seconds": 3600})
    ctx = make_context(hermetic_env, settings)
    seed_prepared(ctx)
    result = _run(ctx)
    described = _described(result.job)
    assert described["EnableManagedSpotTraining"] is True
    assert described["StoppingCondition"] == {"MaxRuntimeInSeconds": 1800, "MaxWaitTimeInSeconds": 3600}


def test_without_prepared_data_it_says_run_prepare(aws: None, hermetic_env: Path) -> None:
    ctx = make_context(hermetic_env)
    with pytest.raises(NotFoundError, match="no prepared data") as info:
        _run(ctx)
    assert info.value.hint is not None and "nikkei-deepar prepare" in info.value.hint
    assert info.value.exit_code == ExitCode.NOT_FOUND


def test_data_cut_for_another_prediction_length_is_refused(aws: None, hermetic_env: Path) -> None:
    ctx = make_context(hermetic_env)
    seed_prepared(ctx)
    other = make_context(hermetic_env, settings_for(training={"hyperparameters": {"prediction_length": 21}}))
    with pytest.raises(UsageError, match="prediction_length 17"):
        _run(other)
    too_short = make_context(
        hermetic_env, settings_for(training={"hyperparameters": {"prediction_length": 7}})
    )
    with pytest.raises(ConfigError, match=r"prediction_length = 7 .* cannot hold .* 5 trading days"):
        _run(too_short)
    assert boto3.client("sagemaker", region_name=REGION).list_training_jobs()["TrainingJobSummaries"] == []


# -- paying twice ---------------------------------------------------------------------------------------
def test_a_second_train_while_the_first_runs_asks_for_force(ctx: Any, sm_script: Any) -> None:
    sm_script.next_training(in_progress("Starting"), in_progress("Training"))
    first = _run(ctx)
    with pytest.raises(UsageError, match=f"{first.job} is still running") as info:
        _run(ctx)
    assert info.value.exit_code == ExitCode.USAGE
    assert info.value.hint is not None and "--force" in info.value.hint
    ledger = ctx.state.load()
    assert [j.name for j in ledger.jobs] == [first.job]
    assert ledger.jobs[0].secondary_status == "Starting"  # refreshed from SageMaker while checking

    second = _run(ctx, force=True)
    assert second.job != first.job
    assert [j.name for j in ctx.state.load().jobs] == [first.job, second.job]


def test_a_finished_twin_does_not_block(ctx: Any) -> None:
    first = _run(ctx)  # moto: born Completed
    second = _run(ctx)
    assert second.job != first.job
    assert ctx.state.load().job(first.job).status == "Completed"  # type: ignore[union-attr]


def test_other_hyperparameters_do_not_block(aws: None, hermetic_env: Path, sm_script: Any) -> None:
    ctx = make_context(hermetic_env)
    seed_prepared(ctx)
    sm_script.next_training(in_progress())
    _run(ctx)
    other = make_context(hermetic_env, settings_for(training={"hyperparameters": {"epochs": 7}}))
    assert _run(other).job


def test_a_running_job_missing_from_the_ledger_is_adopted(ctx: Any, sm_script: Any) -> None:
    """`train` killed after CreateTrainingJob but before the ledger write: the re-run finds the job."""
    data = ctx.state.load().last_data
    orphan = "nikkei-deepar-dev-20250101-000000-beef"  # named after the endpoint, as train names jobs
    sm_script.training(orphan, in_progress("Downloading"))
    ctx.backend.start_training(
        TrainingSpec(
            name=orphan,
            hyperparameters=hyperparameter_strings(ctx.settings),
            channels={"train": data.train_uri, "test": data.test_uri},
            output_uri=f"s3://{BUCKET}/nikkei-deepar/nikkei-deepar/dev/output/",
            instance_type="ml.m5.large",
            instance_count=1,
            volume_size_gb=10,
            max_runtime_seconds=3600,
            tags=ctx.settings.resource_tags(),
        )
    )
    with pytest.raises(UsageError, match=f"{orphan} is still running"):
        _run(ctx)
    adopted = ctx.state.load().job(orphan)
    assert adopted is not None
    assert adopted.data_sha256 == data.sha256
    assert adopted.secondary_status == "Downloading"
    assert "adopting training job" in ctx.reporter.stream.getvalue()


# -- train --wait ---------------------------------------------------------------------------------------
def test_train_wait_follows_the_job_to_its_metrics(ctx: Any, sm_script: Any) -> None:
    sm_script.next_training(in_progress("Starting"), in_progress("Training"), completed())
    result = _run(ctx, wait=True)
    assert result.waited is not None
    assert result.waited.status == "Completed"
    assert result.to_data()["wait"]["metrics"]["test:RMSE"] == pytest.approx(412.5)
    job = ctx.state.load().last_job
    assert job is not None and job.status == "Completed"
    assert job.metrics["test:mean_wQuantileLoss"] == pytest.approx(0.0213)
    assert any("test:RMSE" in line for line in result.to_lines())


# -- data prepared before the bucket existed ------------------------------------------------------------
def test_data_prepared_without_calendar_features_is_refused_when_the_config_wants_them(
    aws: None, hermetic_env: Path
) -> None:
    seed_prepared(make_context(hermetic_env))
    wants = make_context(hermetic_env, settings_for(data={"calendar_features": True}))
    with pytest.raises(UsageError, match=r"carry no calendar features.*calendar_features = true") as info:
        _run(wants)
    assert info.value.hint is not None and "nikkei-deepar prepare" in info.value.hint
    assert boto3.client("sagemaker", region_name=REGION).list_training_jobs()["TrainingJobSummaries"] == []


@pytest.mark.parametrize(
    ("prepared", "wanted", "held"),
    [("price", "log_return", "holds prices"), ("log_return", "price", "holds log returns")],
)
def test_data_prepared_with_the_other_target_is_refused(
    aws: None, hermetic_env: Path, prepared: str, wanted: str, held: str
) -> None:
    seed_prepared(make_context(hermetic_env, settings_for(data={"target": prepared})))
    wants = make_context(hermetic_env, settings_for(data={"target": wanted}))
    with pytest.raises(
        UsageError, match=rf'{held}, but the config says \[data\] target = "{wanted}"'
    ) as info:
        _run(wants)
    assert info.value.exit_code == ExitCode.USAGE
    assert "\n" not in info.value.message
    assert info.value.hint is not None and "nikkei-deepar prepare" in info.value.hint
    assert boto3.client("sagemaker", region_name=REGION).list_training_jobs()["TrainingJobSummaries"] == []


@pytest.mark.parametrize("target", ["price", "log_return"])
def test_the_job_records_the_target_it_was_trained_on(aws: None, hermetic_env: Path, target: str) -> None:
    ctx = make_context(hermetic_env, settings_for(data={"target": target}))
    seed_prepared(ctx)
    result = _run(ctx)
    job = ctx.state.load().job(result.job)
    assert job is not None and job.target == target


def test_channels_prepared_only_locally_are_uploaded_first(aws: None, hermetic_env: Path) -> None:
    ctx = make_context(hermetic_env)
    version = seed_prepared(ctx)
    with edited(ctx.state) as ledger:  # as prepare records it when there was no bucket yet
        ledger.data[-1] = version.model_copy(
            update={"uploaded": False, "train_uri": "", "test_uri": "", "series_uri": None}
        )
    s3 = boto3.client("s3", region_name=REGION)
    for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        s3.delete_object(Bucket=BUCKET, Key=item["Key"])

    result = _run(ctx)
    data = ctx.state.load().last_data
    assert data is not None and data.uploaded
    prefix = f"nikkei-deepar/nikkei-deepar/dev/data/{version.sha256[:16]}"
    assert data.train_uri == f"s3://{BUCKET}/{prefix}/train/"
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert keys == {f"{prefix}/train/train.json", f"{prefix}/test/test.json", f"{prefix}/series.json"}
    channels = {c["ChannelName"]: c for c in _described(result.job)["InputDataConfig"]}
    assert channels["train"]["DataSource"]["S3DataSource"]["S3Uri"] == data.train_uri


def test_local_only_channels_that_are_gone_say_prepare_again(aws: None, hermetic_env: Path) -> None:
    ctx = make_context(hermetic_env)
    version = seed_prepared(ctx)
    with edited(ctx.state) as ledger:
        ledger.data[-1] = version.model_copy(
            update={"uploaded": False, "local_dir": str(hermetic_env / "gone")}
        )
    with pytest.raises(NotFoundError, match="never uploaded") as info:
        _run(ctx)
    assert info.value.hint is not None and "prepare" in info.value.hint
