"""`predict` on the SageMaker backend against moto (tests/sagemaker_script.py): what only that pair shows,
end to end in-process. The InvokeEndpoint request as sent (headers and body), the batch transform as
SageMaker is asked for it (SingleRecord, DEEPAR_INFERENCE_CONFIG, the input line in S3), and SageMaker
Runtime's errors as the user sees them through the step. The step's own logic (dating, blending, formats,
files, every unusable answer, batch bookkeeping) is tested on FakeBackend in tests/steps/test_predict.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from nikkei_deepar.errors import AwsError, ExitCode, NotFoundError
from nikkei_deepar.steps import deploy, predict, train
from sagemaker_script import (
    BUCKET,
    REGION,
    completed,
    deepar_response,
    endpoint_not_found,
    make_context,
    model_error,
    queue_endpoint_results,
    seed_prepared,
    settings_for,
    transform,
)

EP = "nikkei-deepar-dev"  # the default: {project}-{stage}


@pytest.fixture
def ctx(aws: None, hermetic_env: Path, sm_script: Any) -> Any:
    """Prepared, trained (Completed with metrics) and deployed on moto; a price model, DeepAR's answer
    alone (random_walk_weight 0) so the scripted answer can be read in the forecast."""
    context = make_context(
        hermetic_env, settings_for(data={"target": "price"}, forecast={"random_walk_weight": 0.0})
    )
    seed_prepared(context)
    sm_script.next_training(completed())
    train.run(context, force=False, wait=True, timeout=None, logs=False)
    deploy.run(context, job=None, timeout=None)
    return context


def _predict(ctx: Any, **options: Any) -> predict.PredictResult:
    values: dict[str, Any] = {"fmt": "table", "output": None, "plot": None, "batch": False, "timeout": None}
    values.update(options)
    return predict.run(ctx, **values)


def _capture_requests(ctx: Any) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    client = ctx.aws.client("sagemaker-runtime")
    client.meta.events.register(
        "before-call.sagemaker-runtime.InvokeEndpoint", lambda params, **_: sent.append(params)
    )
    return sent


# -- real time ------------------------------------------------------------------------------------------
def test_the_request_is_the_whole_history_with_the_configured_quantiles(ctx: Any) -> None:
    queue_endpoint_results([deepar_response(17)], region=REGION)
    sent = _capture_requests(ctx)
    result = _predict(ctx)
    assert len(sent) == 1
    headers = sent[0]["headers"]
    assert headers["Content-Type"] == "application/json" and headers["Accept"] == "application/json"
    body = json.loads(sent[0]["body"])
    series = json.loads((Path(ctx.state.load().last_data.local_dir) / "series.json").read_text())
    assert len(body["instances"]) == 1
    assert len(body["instances"][0]["target"]) == len(series["target"])
    assert body["instances"][0]["start"] == f"{series['start']} 00:00:00"
    assert body["configuration"] == {
        "num_samples": 400,  # the shipped [predict] num_samples
        "output_types": ["mean", "quantiles"],
        "quantiles": ["0.1", "0.5", "0.9"],
    }
    # the canned answer, through SageMaker Runtime, is the forecast: 5 sessions from 38,000 up
    assert (result.source, result.mode, len(result.points)) == (EP, "endpoint", 5)
    assert result.points[0]["mean"] >= 38000.0


# -- SageMaker Runtime's errors, as the step passes them on -----------------------------------------------
def test_415_is_exit_4_with_the_content_type_hint(ctx: Any, sm_script: Any) -> None:
    sm_script.fail_next_invoke(model_error(415, "Unsupported content type: text/csv"))
    with pytest.raises(AwsError, match="HTTP 415") as info:
        _predict(ctx)
    assert info.value.exit_code == ExitCode.AWS == 4


def test_missing_endpoint_is_exit_5(ctx: Any, sm_script: Any) -> None:
    sm_script.fail_next_invoke(endpoint_not_found(EP))
    with pytest.raises(NotFoundError) as info:
        _predict(ctx)
    assert info.value.exit_code == 5
    assert info.value.hint is not None and "nikkei-deepar deploy" in info.value.hint


# -- batch ----------------------------------------------------------------------------------------------
def _batch_line(prediction_length: int = 17) -> str:
    return json.dumps(json.loads(deepar_response(prediction_length))["predictions"][0])


def test_batch_runs_a_transform_with_the_deployed_model(ctx: Any, sm_script: Any) -> None:
    sm_script.next_transform(
        transform("InProgress"), transform("InProgress"), transform("Completed"), output=_batch_line()
    )
    result = _predict(ctx, batch=True)
    assert result.mode == "batch" and result.source.startswith(f"{EP}-t-")
    assert len(result.points) >= 1
    ledger = ctx.state.load()
    job = ledger.resource("transform-job", result.source)
    assert job is not None and job.model == ledger.deployments[-1].model
    described = boto3.client("sagemaker", region_name=REGION).describe_transform_job(
        TransformJobName=result.source
    )
    assert described["BatchStrategy"] == "SingleRecord"
    assert json.loads(described["Environment"]["DEEPAR_INFERENCE_CONFIG"])["quantiles"] == [
        "0.1",
        "0.5",
        "0.9",
    ]
    source = described["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    line = (
        boto3.client("s3", region_name=REGION)
        .get_object(Bucket=BUCKET, Key=source.split("/", 3)[3])["Body"]
        .read()
    )
    assert line.count(b"\n") == 1 and json.loads(line)["start"].endswith("00:00:00")
    assert "transform" in ctx.reporter.stream.getvalue()
