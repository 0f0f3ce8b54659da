"""`status` with the real SageMaker backend on moto (in-process, scripted jobs and endpoints): the step and
the backend end to end. What is the SageMaker probe's: which resources exist in AWS, which carry this
workspace's tags (another stage's, someone else's, untagged ones are never drift), the configured
bucket's and role's tags, what an endpoint config's ProductionVariants (instances or ServerlessConfig)
say, and the AWS error when no region is configured; and the CLI's --json envelope. The step's own logic
(views, drift, lines, costs, exit codes) is tested on FakeBackend in tests/steps/test_status.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from ledger_edit import edited
from nikkei_deepar import costs
from nikkei_deepar.errors import ExitCode
from nikkei_deepar.output import ENVELOPE_KEYS
from nikkei_deepar.steps import deploy, status, train
from sagemaker_script import REGION, completed, make_context, seed_prepared, settings_for
from status_picture import assert_deployed_picture

EP = "nikkei-deepar-dev"  # the default: {project}-{stage}
OURS = {"project": "nikkei-deepar", "stage": "dev", "managed-by": "nikkei-deepar"}


@pytest.fixture
def ctx(aws: None, hermetic_env: Path) -> Any:
    context = make_context(hermetic_env)
    seed_prepared(context)
    return context


def _sm() -> Any:
    return boto3.client("sagemaker", region_name=REGION)


def _deployed(ctx: Any, sm_script: Any) -> deploy.DeployResult:
    sm_script.next_training(completed())
    job = train.run(ctx, force=True, wait=True, timeout=None, logs=False).job
    return deploy.run(ctx, job=job, timeout=None)


def _tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _model(name: str, tags: dict[str, str] | None = None) -> str:
    arn: str = _sm().create_model(
        ModelName=name,
        ExecutionRoleArn="arn:aws:iam::123456789012:role/x",
        PrimaryContainer={"Image": "x"},
        Tags=_tags(tags or {}),
    )["ModelArn"]
    return arn


def _by_name(result: status.StatusResult) -> dict[tuple[str, str], status.ResourceView]:
    return {(r.kind, r.name): r for r in result.resources}


def test_status_puts_the_ledger_next_to_aws(ctx: Any, sm_script: Any) -> None:
    deployed = _deployed(ctx, sm_script)
    assert_deployed_picture(
        status.run(ctx), deployed, kinds=["endpoint", "endpoint-config", "model", "role", "schedule"]
    )


def test_drift_both_ways(ctx: Any, sm_script: Any) -> None:
    deployed = _deployed(ctx, sm_script)
    sm = _sm()
    # in the ledger, gone from AWS
    sm.delete_model(ModelName=deployed.model)
    # tagged as ours with this config's project/stage, not in the ledger: untracked
    _model("nikkei-deepar-m-20240101-000000-beef", OURS)
    sm.create_endpoint_config(
        EndpointConfigName="nikkei-deepar-c-20240101-000000-beef",
        ProductionVariants=[
            {
                "VariantName": "v",
                "ModelName": "nikkei-deepar-m-20240101-000000-beef",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
        Tags=_tags(OURS),
    )
    # not ours: another stage's, someone else's, untagged: never reported as drift
    _model("other-stage", {**OURS, "stage": "prod"})
    _model("someone-else", {"managed-by": "terraform"})
    _model("untagged")

    result = status.run(ctx)
    drift = result.to_data()["drift"]
    assert drift["missing"] == [f"model {deployed.model}"]
    assert sorted(drift["untracked"]) == [
        "endpoint-config nikkei-deepar-c-20240101-000000-beef",
        "model nikkei-deepar-m-20240101-000000-beef",
    ]
    views = _by_name(result)
    assert views[("model", deployed.model)].exists is False
    assert views[("model", "nikkei-deepar-m-20240101-000000-beef")].in_ledger is False
    assert ("model", "someone-else") not in views and ("model", "other-stage") not in views
    text = "\n".join(result.to_lines())
    assert "drift: 1 missing, 2 untracked" in text
    assert "missing" in text and "in the ledger, but gone" in text


def test_the_configured_bucket_and_role_tagged_as_ours_but_unrecorded(ctx: Any) -> None:
    from sagemaker_script import BUCKET, ROLE

    boto3.client("s3", region_name=REGION).put_bucket_tagging(Bucket=BUCKET, Tagging={"TagSet": _tags(OURS)})
    boto3.client("iam").tag_role(RoleName=ROLE, Tags=_tags(OURS))
    with edited(ctx.state) as ledger:  # seed_prepared recorded the role: forget it
        ledger.resources = []
    drift = status.run(ctx).to_data()["drift"]
    assert sorted(drift["untracked"]) == [f"bucket {BUCKET}", f"role {ROLE}"]


def test_aws_unreachable_still_shows_the_ledger_with_the_aws_exit_code(
    aws: None, hermetic_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = make_context(hermetic_env)
    seed_prepared(ctx)
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    nowhere = make_context(hermetic_env, settings_for(aws={"region": None}))
    result = status.run(nowhere)
    assert result.exit_code == ExitCode.AWS
    assert result.errors[0]["code"] == "aws-region"
    data = result.to_data()
    assert data["checked"] is False and data["data"]["sha256"] == "ab" * 32
    assert [r["exists"] for r in data["resources"]] == [None]
    assert "drift: not checked" in "\n".join(result.to_lines())


def test_serverless_is_priced_per_gb_second(aws: None, hermetic_env: Path, sm_script: Any) -> None:
    ctx = make_context(hermetic_env, settings_for(endpoint={"serverless": True, "memory_mb": 2048}))
    seed_prepared(ctx)
    _deployed(ctx, sm_script)
    endpoint = status.run(ctx).to_data()["endpoint"]
    assert endpoint["variant"]["serverless"] is True and endpoint["variant"]["memory_mb"] == 2048
    cost = endpoint["cost"]
    per_second = costs.SERVERLESS_GB_SECOND_USD[REGION]
    assert (cost["kind"], cost["unit"], cost["monthly_usd"]) == ("serverless", "GB-second", None)
    assert cost["hourly_usd"] == pytest.approx(per_second * 2 * 3600)
    assert "nothing while idle" in endpoint["cost_note"]


def test_status_json_through_the_cli(aws: None, run_cli: Any, tmp_path: Path) -> None:
    (tmp_path / "nikkei-deepar.toml").write_text('[aws]\nbucket = "nikkei-deepar-status-b"\n')
    r = run_cli("status", "--json")
    assert r.exit_code == 0, r.stderr
    doc = r.json()
    assert tuple(doc) == ENVELOPE_KEYS
    assert (doc["command"], doc["status"], doc["data"]["checked"]) == ("status", "ok", True)
    assert set(doc["data"]) >= {"data", "job", "endpoint", "deployment", "resources", "drift"}
