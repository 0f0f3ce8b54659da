"""`status` against moto (in-process) with scripted jobs and endpoints: the ledger next to AWS, endpoint
costs from the dated price table (and the config's overrides), drift both ways, read-only (no lock, no
writes), the ledger-only view when AWS cannot be asked; the local backend's records; the price table."""

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


# -- the picture --------------------------------------------------------------------------------------
def test_status_puts_the_ledger_next_to_aws(ctx: Any, sm_script: Any) -> None:
    deployed = _deployed(ctx, sm_script)
    result = status.run(ctx)
    data = result.to_data()
    assert result.exit_code == ExitCode.OK and data["checked"] is True
    assert (data["backend"], data["region"]) == ("sagemaker", REGION)
    assert data["data"]["sha256"] == "ab" * 32
    job = data["job"]
    assert (job["name"], job["status"], job["ledger_status"]) == (deployed.job, "Completed", "Completed")
    assert job["metrics"]["test:mean_wQuantileLoss"] == pytest.approx(0.0213)
    endpoint = data["endpoint"]
    assert (endpoint["status"], endpoint["serving_job"], endpoint["config"]) == (
        "InService",
        deployed.job,
        deployed.endpoint_config,
    )
    assert endpoint["variant"] == {"serverless": False, "instance_type": "ml.m5.large", "instance_count": 1}
    cost = endpoint["cost"]
    assert cost["hourly_usd"] == pytest.approx(costs.HOURLY_USD[REGION]["ml.m5.large"])
    assert cost["monthly_usd"] == pytest.approx(costs.HOURLY_USD[REGION]["ml.m5.large"] * 730, abs=0.01)
    assert (cost["source"], cost["price_date"], cost["approximate"]) == (
        "built-in table",
        costs.PRICE_DATE,
        True,
    )
    assert data["deployment"]["job"] == deployed.job
    assert data["drift"] == {"missing": [], "untracked": []}
    assert all(r["exists"] for r in data["resources"])
    kinds = sorted(r["kind"] for r in data["resources"])
    assert kinds == ["endpoint", "endpoint-config", "model", "role", "schedule"]

    lines = result.to_lines()
    text = "\n".join(lines)
    # the job's test metrics one per line, aligned, under the job line (not 11 on one line)
    job_line = next(i for i, line in enumerate(lines) if line.startswith("job:"))
    assert lines[job_line + 1 : job_line + 3] == [
        "          test:RMSE                412.50",
        "          test:mean_wQuantileLoss  0.02130",
    ]
    assert f"endpoint: {EP}: InService, ml.m5.large x1, serving job {deployed.job}" in text
    assert f"/hour, ${cost['monthly_usd']:,.2f}/month" in text and f"as of {costs.PRICE_DATE}" in text
    assert "drift: none" in text and "bills every hour" in text


def test_a_job_that_moved_on_since_the_ledger_saw_it(ctx: Any, sm_script: Any) -> None:
    from sagemaker_script import in_progress

    sm_script.next_training(in_progress(), completed())
    job = train.run(ctx, force=True, wait=False, timeout=None, logs=False).job  # ledger: InProgress
    result = status.run(ctx)
    assert ((result.job or {})["ledger_status"], (result.job or {})["status"]) == ("InProgress", "InProgress")
    again = status.run(ctx).to_data()["job"]
    assert (again["name"], again["status"]) == (job, "Completed")
    assert "the ledger last saw InProgress" in "\n".join(status.run(ctx).to_lines())
    assert ctx.state.load().job(job).status == "InProgress"  # type: ignore[union-attr]  # read-only


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


def test_a_ledger_entry_marked_deleted_that_still_exists_is_untracked(ctx: Any, sm_script: Any) -> None:
    deployed = _deployed(ctx, sm_script)
    with edited(ctx.state) as ledger:
        ledger.mark_deleted("endpoint", EP)
    views = _by_name(status.run(ctx))
    assert views[("endpoint", EP)].drift == "untracked"
    assert "the ledger says it was deleted" in views[("endpoint", EP)].detail
    assert views[("model", deployed.model)].drift is None


def test_the_configured_bucket_and_role_tagged_as_ours_but_unrecorded(ctx: Any) -> None:
    from sagemaker_script import BUCKET, ROLE

    boto3.client("s3", region_name=REGION).put_bucket_tagging(Bucket=BUCKET, Tagging={"TagSet": _tags(OURS)})
    boto3.client("iam").tag_role(RoleName=ROLE, Tags=_tags(OURS))
    with edited(ctx.state) as ledger:  # seed_prepared recorded the role: forget it
        ledger.resources = []
    drift = status.run(ctx).to_data()["drift"]
    assert sorted(drift["untracked"]) == [f"bucket {BUCKET}", f"role {ROLE}"]


def test_an_endpoint_deleted_behind_the_ledgers_back(ctx: Any, sm_script: Any) -> None:
    _deployed(ctx, sm_script)
    _sm().delete_endpoint(EndpointName=EP)
    result = status.run(ctx)
    assert result.to_data()["endpoint"] == {"name": EP, "status": None, "in_ledger": True, "exists": False}
    assert f"endpoint {EP}" in result.to_data()["drift"]["missing"]
    assert "gone (the ledger still lists it)" in "\n".join(result.to_lines())


# -- read-only ----------------------------------------------------------------------------------------
def test_status_writes_nothing_and_takes_no_lock(ctx: Any, sm_script: Any) -> None:
    _deployed(ctx, sm_script)
    before = ctx.state.path.read_bytes()
    with ctx.state.lock():  # another command holds the lock: status still answers
        result = status.run(ctx)
    assert result.exit_code == ExitCode.OK
    assert ctx.state.path.read_bytes() == before


def test_no_ledger_at_all(aws: None, hermetic_env: Path) -> None:
    ctx = make_context(hermetic_env)
    result = status.run(ctx)
    data = result.to_data()
    assert (data["data"], data["job"], data["endpoint"], data["resources"]) == (None, None, None, [])
    assert not ctx.state.path.exists()
    text = "\n".join(result.to_lines())
    assert "none prepared yet" in text and "no training job yet" in text and "endpoint: none" in text


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


# -- prices -------------------------------------------------------------------------------------------
def test_config_prices_override_the_table(aws: None, hermetic_env: Path, sm_script: Any) -> None:
    settings = settings_for(
        endpoint={"instance_type": "ml.c5.xlarge", "instance_count": 2},
        costs={"hourly_usd": {"ml.c5.xlarge": 0.5}, "price_date": "2026-01-31"},
    )
    ctx = make_context(hermetic_env, settings)
    seed_prepared(ctx)
    _deployed(ctx, sm_script)
    cost = status.run(ctx).to_data()["endpoint"]["cost"]
    assert (cost["unit_price_usd"], cost["hourly_usd"], cost["monthly_usd"]) == (0.5, 1.0, 730.0)
    assert (cost["source"], cost["price_date"]) == ("config", "2026-01-31")


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


def test_the_price_table() -> None:
    assert len(costs.HOURLY_USD["us-east-1"]) >= 12
    assert set(costs.HOURLY_USD["us-east-1"]) == set(costs.HOURLY_USD["ap-northeast-1"])
    for region, table in costs.HOURLY_USD.items():
        for instance, price in table.items():
            assert instance.startswith("ml.") and 0 < price < 5, (region, instance)
            family = instance.split(".")[1]
            assert not family.startswith(("p", "g", "inf")), "DeepAR inference runs on CPU only"
        # Tokyo is dearer than N. Virginia, instance by instance
    for instance, price in costs.HOURLY_USD["us-east-1"].items():
        assert costs.HOURLY_USD["ap-northeast-1"][instance] > price
    # bigger is dearer within a family
    east = costs.HOURLY_USD["us-east-1"]
    assert east["ml.m5.large"] < east["ml.m5.xlarge"] < east["ml.m5.2xlarge"] < east["ml.m5.4xlarge"]
    assert "approximate" in costs.PRICE_BASIS and costs.PRICE_DATE in costs.PRICE_BASIS


def test_unknown_prices_are_said_not_guessed() -> None:
    unknown = costs.endpoint_cost(region="eu-west-3", instance_type="ml.m5.large")
    assert (unknown.known, unknown.hourly_usd, unknown.source) == (False, None, "unknown")
    assert '[costs.hourly_usd] "ml.m5.large"' in unknown.describe()
    overridden = costs.endpoint_cost(
        region="eu-west-3", instance_type="ml.m5.large", overrides={"ml.m5.large": 0.12}, override_date="x"
    )
    assert (overridden.hourly_usd, overridden.price_date) == (0.12, "x")
    serverless = costs.endpoint_cost(region="eu-west-3", serverless_memory_mb=1024)
    assert not serverless.known and "serverless_gb_second_usd" in serverless.note
    with pytest.raises(ValueError):
        costs.endpoint_cost(region="us-east-1")


# -- the local backend --------------------------------------------------------------------------------
def test_local_backend_status_reads_the_local_store(hermetic_env: Path, tmp_path: Path) -> None:
    from nikkei_deepar.backends.base import EndpointConfigSpec, ModelSpec
    from nikkei_deepar.ledger import Deployment, Resource

    ctx = make_context(hermetic_env, settings_for(backend="local"))
    backend = ctx.backend
    artifact = tmp_path / "model.tar.gz"
    artifact.write_bytes(b"not a real model")
    tags = ctx.settings.resource_tags()
    for name in ("m1", "m-untracked"):
        backend.create_model(ModelSpec(name=name, model_artifact=str(artifact), tags=tags, job="job-1"))
    backend.create_model(ModelSpec(name="m-foreign", model_artifact=str(artifact), tags={}, job=None))
    backend.create_endpoint_config(EndpointConfigSpec(name="c1", model_name="m1", tags=tags))
    backend.create_endpoint(EP, config_name="c1", tags=tags)
    with edited(ctx.state) as ledger:
        for kind, name in (("model", "m1"), ("endpoint-config", "c1"), ("endpoint", EP), ("model", "m-gone")):
            extra = {"job": "job-1", "endpoint": EP} if kind == "endpoint-config" else {}
            ledger.record_resource(Resource(kind=kind, name=name, backend="local", extra=extra))
        ledger.record_resource(Resource(kind="endpoint", name="far-away", region="us-east-1"))
        ledger.deployments.append(
            Deployment(endpoint=EP, model="m1", endpoint_config="c1", job="job-1", backend="local")
        )
    result = status.run(ctx)
    data = result.to_data()
    assert (data["backend"], data["region"]) == ("local", None)
    endpoint = data["endpoint"]
    assert (endpoint["status"], endpoint["serving_job"], endpoint["cost"]) == ("InService", "job-1", None)
    assert "nothing is billed" in endpoint["cost_note"]
    assert data["drift"] == {"missing": ["model m-gone"], "untracked": ["model m-untracked"]}
    views = _by_name(result)
    assert views[("endpoint", "far-away")].exists is None  # a sagemaker entry: not checked here
    assert "not checked: a sagemaker backend resource" in views[("endpoint", "far-away")].detail


# -- the CLI ------------------------------------------------------------------------------------------
def test_status_json_through_the_cli(aws: None, run_cli: Any, tmp_path: Path) -> None:
    (tmp_path / "nikkei-deepar.toml").write_text('[aws]\nbucket = "nikkei-deepar-status-b"\n')
    r = run_cli("status", "--json")
    assert r.exit_code == 0, r.stderr
    doc = r.json()
    assert tuple(doc) == ENVELOPE_KEYS
    assert (doc["command"], doc["status"], doc["data"]["checked"]) == ("status", "ok", True)
    assert set(doc["data"]) >= {"data", "job", "endpoint", "deployment", "resources", "drift"}
