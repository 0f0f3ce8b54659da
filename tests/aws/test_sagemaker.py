"""The SageMaker gateway and backend against moto in-process (with the scripted lifecycle where moto runs
nothing): request shapes, describe -> records, not-found as None, name clashes, runtime errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger_edit import edited
from nikkei_deepar.backends.base import (
    Backend,
    EndpointConfigSpec,
    ModelSpec,
    ServerlessSpec,
    TrainingSpec,
    TransformSpec,
)
from nikkei_deepar.backends.sagemaker import SageMakerBackend
from nikkei_deepar.errors import AwsError, NotFoundError, UsageError, WaitTimeoutError
from sagemaker_script import (
    BUCKET,
    REGION,
    completed,
    deepar_response,
    endpoint,
    endpoint_not_found,
    failed,
    in_progress,
    inject_error,
    make_context,
    model_error,
    queue_endpoint_results,
    seed_prepared,
    settings_for,
)

IMAGE = "633353088612.dkr.ecr.ap-northeast-1.amazonaws.com/forecasting-deepar:1"
TAGS = {"project": "nikkei-deepar", "managed-by": "nikkei-deepar"}


@pytest.fixture
def ctx(aws: None, hermetic_env: Path) -> Iterator[Any]:
    context = make_context(hermetic_env)
    seed_prepared(context)
    yield context


@pytest.fixture
def backend(ctx: Any) -> SageMakerBackend:
    b = ctx.backend
    assert isinstance(b, SageMakerBackend)
    return b


def spec(name: str = "nikkei-deepar-20250101-000000-abcd", **changes: Any) -> TrainingSpec:
    values: dict[str, Any] = {
        "name": name,
        "hyperparameters": {
            "time_freq": "D",
            "epochs": "5",
            "prediction_length": "7",
            "context_length": "20",
        },
        "channels": {"train": f"s3://{BUCKET}/p/train/", "test": f"s3://{BUCKET}/p/test/"},
        "output_uri": f"s3://{BUCKET}/nikkei-deepar/output/",
        "instance_type": "ml.m5.large",
        "instance_count": 1,
        "volume_size_gb": 10,
        "max_runtime_seconds": 1800,
        "tags": TAGS,
    }
    values.update(changes)
    return TrainingSpec(**values)


# -- the interface ----------------------------------------------------------------------------------------
def test_sagemaker_backend_satisfies_the_protocol(backend: SageMakerBackend) -> None:
    assert isinstance(backend, Backend)
    assert backend.name == "sagemaker"
    assert backend.region == REGION


def test_the_backend_switch_picks_the_implementation(aws: None, hermetic_env: Path) -> None:
    local = make_context(hermetic_env, settings_for(backend="local")).backend
    assert local.name == "local" and isinstance(local, Backend)
    assert make_context(hermetic_env).backend.name == "sagemaker"


# -- training -----------------------------------------------------------------------------------------------
def test_training_request_has_the_documented_shape(backend: SageMakerBackend) -> None:
    request = backend.training_request(spec())
    assert request["AlgorithmSpecification"] == {"TrainingImage": IMAGE, "TrainingInputMode": "File"}
    assert request["RoleArn"] == "arn:aws:iam::123456789012:role/nikkei-deepar-sagemaker"
    channels = {c["ChannelName"]: c for c in request["InputDataConfig"]}
    assert set(channels) == {"train", "test"}
    for channel in channels.values():
        assert channel["ContentType"] == "application/jsonlines"
        source = channel["DataSource"]["S3DataSource"]
        assert source["S3DataType"] == "S3Prefix"
        assert source["S3DataDistributionType"] == "FullyReplicated"
    assert all(isinstance(v, str) for v in request["HyperParameters"].values())
    assert request["OutputDataConfig"] == {"S3OutputPath": f"s3://{BUCKET}/nikkei-deepar/output/"}
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 1800}
    assert request["EnableManagedSpotTraining"] is False
    assert {"Key": "managed-by", "Value": "nikkei-deepar"} in request["Tags"]


def test_spot_training_sets_the_wait_time(backend: SageMakerBackend) -> None:
    request = backend.training_request(spec(spot=True, max_wait_seconds=3600))
    assert request["EnableManagedSpotTraining"] is True
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 1800, "MaxWaitTimeInSeconds": 3600}


def test_kms_key_reaches_the_output_config(aws: None, hermetic_env: Path) -> None:
    ctx = make_context(hermetic_env, settings_for(aws={"kms_key_id": "alias/deepar"}))
    seed_prepared(ctx)
    request = ctx.backend.training_request(spec())
    assert request["OutputDataConfig"]["KmsKeyId"] == "alias/deepar"


def test_role_comes_from_iam_when_the_ledger_has_none(aws: None, hermetic_env: Path) -> None:
    ctx = make_context(hermetic_env)
    seed_prepared(ctx)
    with edited(ctx.state) as ledger:
        ledger.resources.clear()
    assert ctx.backend.role_arn.endswith(":role/nikkei-deepar-sagemaker")


def test_missing_role_is_not_found_with_the_provision_hint(aws: None, hermetic_env: Path) -> None:
    ctx = make_context(hermetic_env)
    seed_prepared(ctx, with_role=False)
    with pytest.raises(NotFoundError, match="IAM role 'nikkei-deepar-sagemaker' does not exist") as info:
        ctx.backend.start_training(spec())
    assert info.value.hint is not None and "nikkei-deepar provision" in info.value.hint


def test_start_and_describe_a_born_completed_moto_job(backend: SageMakerBackend) -> None:
    arn = backend.start_training(spec())
    assert arn.endswith(":training-job/nikkei-deepar-20250101-000000-abcd")
    state = backend.describe_training("nikkei-deepar-20250101-000000-abcd")
    assert state is not None
    assert state.status == "Completed"
    assert state.model_artifact == (
        f"s3://{BUCKET}/nikkei-deepar/output/nikkei-deepar-20250101-000000-abcd/output/model.tar.gz"
    )
    assert state.hyperparameters["epochs"] == "5"
    assert state.channels["train"] == f"s3://{BUCKET}/p/train/"
    assert "test:RMSE" not in state.metrics  # moto reports train:progress only


def test_describe_walks_a_scripted_sequence(backend: SageMakerBackend, sm_script: Any) -> None:
    sm_script.next_training(
        in_progress("Starting"), in_progress("Training"), completed(billable=120, training=400)
    )
    backend.start_training(spec(spot=True, max_wait_seconds=3600))
    seen = [backend.describe_training(spec().name) for _ in range(4)]
    assert [(s.status, s.secondary_status) for s in seen if s] == [
        ("InProgress", "Starting"),
        ("InProgress", "Training"),
        ("Completed", "Completed"),
        ("Completed", "Completed"),
    ]
    final = seen[-1]
    assert final is not None
    assert final.metrics["test:mean_wQuantileLoss"] == pytest.approx(0.0213)
    assert final.billable_seconds == 120
    assert final.training_seconds == 400
    assert final.spot_savings == pytest.approx(0.7)
    assert final.terminal


def test_failed_job_reports_its_reason(backend: SageMakerBackend, sm_script: Any) -> None:
    sm_script.next_training(failed("AlgorithmError: not enough observations"))
    backend.start_training(spec())
    state = backend.describe_training(spec().name)
    assert state is not None
    assert (state.status, state.failure_reason) == ("Failed", "AlgorithmError: not enough observations")
    assert state.model_artifact is None


def test_missing_job_is_none(backend: SageMakerBackend) -> None:
    assert backend.describe_training("nope-20250101-000000-abcd") is None


def test_find_trainings_filters_by_name_and_status(backend: SageMakerBackend, sm_script: Any) -> None:
    sm_script.training("nikkei-deepar-a", in_progress())
    backend.start_training(spec("nikkei-deepar-a"))
    backend.start_training(spec("nikkei-deepar-b"))  # born Completed
    backend.start_training(spec("other-c"))
    assert backend.find_trainings(name_contains="nikkei-deepar", status="InProgress") == ["nikkei-deepar-a"]
    assert backend.find_trainings(name_contains="nikkei-deepar", status="Completed") == ["nikkei-deepar-b"]


def test_a_name_clash_is_a_usage_error(backend: SageMakerBackend, ctx: Any) -> None:
    client = ctx.aws.client("sagemaker")
    inject_error(client, "CreateTrainingJob", "ResourceInUse", "Training job names must be unique")
    with pytest.raises(UsageError, match="already exists"):
        backend.start_training(spec())


def test_throttling_that_outlasts_the_retries_is_an_aws_error(aws: None, hermetic_env: Path) -> None:
    ctx = make_context(hermetic_env, settings_for(aws={"max_attempts": 2}))  # short real backoff
    client = ctx.aws.client("sagemaker")
    inject_error(client, "DescribeTrainingJob", "ThrottlingException", "Rate exceeded")
    with pytest.raises(AwsError, match="throttling") as info:
        ctx.backend.describe_training("x")
    assert info.value.code == "aws-throttled"


# -- hosting -------------------------------------------------------------------------------------------------
def _model_and_config(backend: SageMakerBackend, suffix: str = "1", serverless: bool = False) -> str:
    backend.create_model(
        ModelSpec(name=f"m-{suffix}", model_artifact=f"s3://{BUCKET}/model.tar.gz", tags=TAGS)
    )
    backend.create_endpoint_config(
        EndpointConfigSpec(
            name=f"c-{suffix}",
            model_name=f"m-{suffix}",
            tags=TAGS,
            serverless=ServerlessSpec(memory_mb=2048, max_concurrency=5) if serverless else None,
        )
    )
    return f"c-{suffix}"


def test_model_points_at_the_artifact_with_the_deepar_image(backend: SageMakerBackend, ctx: Any) -> None:
    _model_and_config(backend)
    described = ctx.aws.client("sagemaker").describe_model(ModelName="m-1")
    assert described["PrimaryContainer"]["Image"] == IMAGE
    assert described["PrimaryContainer"]["ModelDataUrl"] == f"s3://{BUCKET}/model.tar.gz"
    assert described["ExecutionRoleArn"].endswith(":role/nikkei-deepar-sagemaker")


def test_instance_and_serverless_variants(backend: SageMakerBackend, ctx: Any) -> None:
    _model_and_config(backend, "1")
    _model_and_config(backend, "2", serverless=True)
    client = ctx.aws.client("sagemaker")
    instance = client.describe_endpoint_config(EndpointConfigName="c-1")["ProductionVariants"][0]
    assert (instance["InstanceType"], instance["InitialInstanceCount"]) == ("ml.m5.large", 1)
    serverless = client.describe_endpoint_config(EndpointConfigName="c-2")["ProductionVariants"][0]
    assert serverless["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    assert "InstanceType" not in serverless


def test_endpoint_create_describe_update_and_tags(backend: SageMakerBackend, sm_script: Any) -> None:
    _model_and_config(backend, "1")
    _model_and_config(backend, "2")
    sm_script.next_endpoint(endpoint("Creating"), endpoint("InService"))
    backend.create_endpoint("ep", config_name="c-1", tags=TAGS)
    states = [backend.describe_endpoint("ep") for _ in range(2)]
    assert [(s.status, s.config_name) for s in states if s] == [("Creating", "c-1"), ("InService", "c-1")]
    backend.update_endpoint("ep", config_name="c-2")
    states = [backend.describe_endpoint("ep") for _ in range(2)]
    assert [(s.status, s.config_name) for s in states if s] == [("Updating", "c-1"), ("InService", "c-2")]
    assert (backend.resource_tags("endpoint", "ep") or {})["managed-by"] == "nikkei-deepar"
    assert backend.resource_tags("endpoint", "nope") is None
    assert backend.describe_endpoint("nope") is None


def test_update_of_a_missing_endpoint_is_not_found(backend: SageMakerBackend, sm_script: Any) -> None:
    _model_and_config(backend)
    with pytest.raises(NotFoundError, match="does not exist"):
        backend.update_endpoint("nope", config_name="c-1")


def test_deletions_say_whether_something_was_there(backend: SageMakerBackend) -> None:
    config = _model_and_config(backend)
    backend.create_endpoint("ep", config_name=config, tags=TAGS)
    assert backend.delete_endpoint("ep") is True
    assert backend.delete_endpoint("ep") is False
    assert backend.delete_endpoint_config(config) is True
    assert backend.delete_endpoint_config(config) is False
    assert backend.delete_model("m-1") is True
    assert backend.delete_model("m-1") is False


# -- batch transform ----------------------------------------------------------------------------------------
def test_transform_request_uses_single_record_lines_and_the_env_config(backend: SageMakerBackend) -> None:
    request = backend.transform_request(
        TransformSpec(
            name="t-1",
            model_name="m-1",
            input_uri=f"s3://{BUCKET}/in/series.jsonl",
            output_uri=f"s3://{BUCKET}/out/",
            inference_config={
                "num_samples": 100,
                "output_types": ["mean", "quantiles"],
                "quantiles": ["0.5"],
            },
            instance_type="ml.m5.large",
            instance_count=1,
            tags=TAGS,
        )
    )
    assert request["BatchStrategy"] == "SingleRecord"
    assert request["TransformInput"]["SplitType"] == "Line"
    assert request["TransformInput"]["ContentType"] == "application/jsonlines"
    assert request["TransformOutput"]["AssembleWith"] == "Line"
    assert request["TransformOutput"]["Accept"] == "application/jsonlines"
    config = json.loads(request["Environment"]["DEEPAR_INFERENCE_CONFIG"])
    assert config["quantiles"] == ["0.5"]


def test_transform_start_and_describe(backend: SageMakerBackend, sm_script: Any) -> None:
    _model_and_config(backend)
    sm_script.next_transform({"transform_job_status": "InProgress"}, {"transform_job_status": "Completed"})
    backend.start_transform(
        TransformSpec(
            name="t-1",
            model_name="m-1",
            input_uri=f"s3://{BUCKET}/in/series.jsonl",
            output_uri=f"s3://{BUCKET}/out/",
            inference_config={"num_samples": 10, "output_types": ["mean"]},
            instance_type="ml.m5.large",
            instance_count=1,
            tags=TAGS,
        )
    )
    statuses = [backend.describe_transform("t-1") for _ in range(2)]
    assert [s.status for s in statuses if s] == ["InProgress", "Completed"]
    assert backend.describe_transform("nope") is None


# -- storage ----------------------------------------------------------------------------------------------
def test_artifacts_round_trip_under_the_prefix(backend: SageMakerBackend) -> None:
    uri = backend.put_artifact("predict/x/input.jsonl", b"line\n", content_type="application/jsonlines")
    # under the workspace's keys: {prefix}/{project}/{stage}/
    assert uri == f"s3://{BUCKET}/nikkei-deepar/nikkei-deepar/dev/predict/x/input.jsonl"
    assert backend.artifact_uri("output/") == f"s3://{BUCKET}/nikkei-deepar/nikkei-deepar/dev/output/"
    assert backend.get_artifact(uri) == b"line\n"
    with pytest.raises(NotFoundError):
        backend.get_artifact(f"s3://{BUCKET}/nikkei-deepar/nothing")
    assert backend.exists(uri) and not backend.exists(f"s3://{BUCKET}/nikkei-deepar/nothing")


# -- runtime ------------------------------------------------------------------------------------------------
def test_invoke_returns_the_canned_body(backend: SageMakerBackend) -> None:
    queue_endpoint_results([deepar_response(7)], region=REGION)
    body = backend.invoke(
        "ep", b'{"instances":[]}', content_type="application/json", accept="application/json"
    )
    assert json.loads(body)["predictions"][0]["mean"][0] == 38000.0


def test_a_415_from_the_container_says_which_content_type(backend: SageMakerBackend, sm_script: Any) -> None:
    sm_script.fail_next_invoke(model_error(415, "Content type text/csv is not supported"))
    with pytest.raises(AwsError, match=r"HTTP 415") as info:
        backend.invoke("ep", b"x", content_type="text/csv", accept="application/json")
    assert info.value.hint is not None and "application/json" in info.value.hint
    assert info.value.code == "model-error"


def test_unable_to_evaluate_payload_is_a_clear_error(backend: SageMakerBackend, sm_script: Any) -> None:
    sm_script.fail_next_invoke(model_error(400, "Unable to evaluate payload provided"))
    with pytest.raises(AwsError, match="Unable to evaluate payload") as info:
        backend.invoke("ep", b"{}", content_type="application/json", accept="application/json")
    assert info.value.hint is not None and "malformed" in info.value.hint


def test_a_missing_endpoint_is_not_found(backend: SageMakerBackend, sm_script: Any) -> None:
    sm_script.fail_next_invoke(endpoint_not_found("ep"))
    with pytest.raises(NotFoundError, match="endpoint ep does not exist"):
        backend.invoke("ep", b"{}", content_type="application/json", accept="application/json")


def test_a_read_timeout_is_reported_as_the_endpoint_not_answering(
    backend: SageMakerBackend, ctx: Any
) -> None:
    import botocore.exceptions as bx

    client = ctx.aws.client("sagemaker-runtime")

    sent: list[str] = []

    def timeout(**_: Any) -> None:
        sent.append("attempt")
        raise bx.ReadTimeoutError(endpoint_url="https://runtime.sagemaker")

    client.meta.events.register("before-send.sagemaker-runtime.InvokeEndpoint", timeout)
    with pytest.raises(WaitTimeoutError, match="SageMaker Runtime did not answer within 70 s") as caught:
        backend.invoke("ep", b"{}", content_type="application/json", accept="application/json")
    assert "history" not in (caught.value.hint or "")  # silence is not the model being slow
    assert "AWS_ENDPOINT_URL" in (caught.value.hint or "")
    assert sent == ["attempt"]  # a silent InvokeEndpoint is not retried (5 x 70 s would be 351 s)
