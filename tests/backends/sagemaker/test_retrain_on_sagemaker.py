"""`retrain` on the SageMaker backend against moto (in-process, scripted jobs, a fake clock): the one
end-to-end pair of the step and the real backend in-process, from the price file to an InService endpoint.

The step's own logic (the gate, resuming, interruptions, the JSON summary) is tested on `FakeBackend` in
tests/steps/test_retrain.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from nikkei_deepar.steps import retrain
from sagemaker_script import REGION, FakeClock, completed, in_progress, make_context, seed_prepared

EP = "nikkei-deepar-dev"  # the default: {project}-{stage}
PRICES = Path(__file__).resolve().parents[2] / "fixtures" / "prices" / "long" / "nikkei_en.csv"
GOOD = {"test:RMSE": 400.0, "test:mean_wQuantileLoss": 0.0200, "train:final_loss": 5.0}


def test_first_retrain_prepares_trains_waits_and_deploys(
    aws: None, hermetic_env: Path, sm_script: Any
) -> None:
    ctx = make_context(hermetic_env, clock=FakeClock())
    seed_prepared(ctx)  # bucket and role in moto, as `provision` leaves them
    sm_script.next_training(in_progress("Starting"), in_progress("Training"), completed(GOOD))
    result = retrain.run(ctx, input_file=PRICES)
    assert (result.status, result.exit_code, result.errors) == ("deployed", 0, [])
    assert [s.status for s in result.stages] == ["done"] * 5
    ledger = ctx.state.load()
    assert result.data_sha256 == ledger.last_data.sha256  # type: ignore[union-attr]
    assert ledger.deployments[-1].job == result.job
    assert ledger.deployments[-1].metrics["test:mean_wQuantileLoss"] == pytest.approx(0.02)
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    job = sagemaker.describe_training_job(TrainingJobName=result.job)
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in job["InputDataConfig"]}
    assert channels["train"] == ledger.last_data.train_uri  # type: ignore[union-attr]
    endpoint = sagemaker.describe_endpoint(EndpointName=EP)
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"] == ledger.deployments[-1].endpoint_config
