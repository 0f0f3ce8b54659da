"""`train` on the SageMaker backend against moto: the one end-to-end pair of the step and the real backend
in-process. What the request looks like once it reached SageMaker (image, output path, instance, stopping
condition, the tags written on AWS) and that the ledger records the job SageMaker holds.

The step's own logic (refusing to pay twice, adoption, the checks of the prepared data, --wait) is tested on
`FakeBackend` in tests/steps/test_train.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3

from nikkei_deepar.backends.specs import NAME_RE
from nikkei_deepar.steps import train
from sagemaker_script import BUCKET, REGION, make_context, seed_prepared


def test_train_starts_the_job_and_records_it(aws: None, hermetic_env: Path) -> None:
    ctx: Any = make_context(hermetic_env)
    seed_prepared(ctx)
    result = train.run(ctx, force=False, wait=False, timeout=None, logs=False)
    assert NAME_RE.match(result.job) and result.job.startswith("nikkei-deepar-")
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    described = sagemaker.describe_training_job(TrainingJobName=result.job)
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
    data = ctx.state.load().last_data
    channels = {c["ChannelName"]: c for c in described["InputDataConfig"]}
    assert channels["train"]["DataSource"]["S3DataSource"]["S3Uri"] == data.train_uri
    tags = sagemaker.list_tags(ResourceArn=described["TrainingJobArn"])
    assert {"Key": "managed-by", "Value": "nikkei-deepar"} in tags["Tags"]

    job = ctx.state.load().last_job
    assert job is not None
    assert (job.name, job.backend, job.status) == (result.job, "sagemaker", "InProgress")
    assert job.data_sha256 == "ab" * 32
    assert job.hyperparameters == hp.as_strings(prediction_length=17)
    assert result.to_lines()[0] == f"started training job {result.job}"
