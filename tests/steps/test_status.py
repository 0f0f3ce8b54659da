"""`status` on FakeBackend (tests/fake_backend.py): the ledger next to what the backend says, endpoint
costs from the dated price table (and the config's overrides), drift both ways, read-only (no lock, no
writes), the ledger-only view when the backend cannot be asked; the local backend's records; the price
table. With the SageMaker backend on moto (what its probe finds by AWS tags, the CLI's --json):
tests/backends/sagemaker/test_status_on_sagemaker.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fake_backend import FakeBackend, fake_context
from ledger_edit import data_version, edited
from nikkei_deepar import costs
from nikkei_deepar.backends.base import EndpointState, TrainingState
from nikkei_deepar.errors import AwsError, ExitCode
from nikkei_deepar.ledger import Job, Resource
from nikkei_deepar.steps import deploy, status
from sagemaker_script import REGION, FakeClock, make_context, settings_for
from status_picture import assert_deployed_picture

EP = "nikkei-deepar-dev"  # the default: {project}-{stage}
JOB = "nikkei-deepar-20250101-000000-abcd"
ROLE = "nikkei-deepar-sagemaker"
DEEPAR_METRICS = {"test:RMSE": 412.5, "test:mean_wQuantileLoss": 0.0213, "train:final_loss": 5.91}


def done(**changes: Any) -> TrainingState:
    return TrainingState(
        JOB,
        "Completed",
        "Completed",
        metrics=changes.pop("metrics", DEEPAR_METRICS),
        model_artifact=f"s3://bucket/output/{JOB}/output/model.tar.gz",
        **changes,
    )


@pytest.fixture
def fake() -> FakeBackend:
    return FakeBackend()


def _context(home: Path, fake: FakeBackend, clock: FakeClock, **sections: Any) -> Any:
    """A ledger as `prepare` and `provision` leave it: the data version, the role (which exists)."""
    ctx = fake_context(home, fake, settings_for(**sections), clock=clock)
    with edited(ctx.state) as ledger:
        ledger.record_data(data_version("fake://store/data/train/", "fake://store/data/test/"))
        ledger.record_resource(Resource(kind="role", name=ROLE, region=REGION, created=True))
    fake.tagged[("role", ROLE)] = {}
    return ctx


@pytest.fixture
def ctx(hermetic_env: Path, fake: FakeBackend, clock: FakeClock) -> Any:
    return _context(hermetic_env, fake, clock)


def _deployed(ctx: Any, fake: FakeBackend) -> deploy.DeployResult:
    with edited(ctx.state) as ledger:
        ledger.upsert_job(Job(name=JOB, data_sha256="ab" * 32, hyperparameters={}, config_hash="h"))
    fake.queue_training(JOB, done())
    result = deploy.run(ctx, job=JOB, timeout=None)
    fake.calls.clear()
    return result


def _by_name(result: status.StatusResult) -> dict[tuple[str, str], status.ResourceView]:
    return {(r.kind, r.name): r for r in result.resources}


# -- the picture --------------------------------------------------------------------------------------
def test_status_puts_the_ledger_next_to_the_backend(ctx: Any, fake: FakeBackend) -> None:
    deployed = _deployed(ctx, fake)
    _, text = assert_deployed_picture(
        status.run(ctx), deployed, kinds=["endpoint", "endpoint-config", "model", "role"]
    )
    # read-only: only questions were asked
    assert not [v for v in fake.verbs() if v.startswith(("create_", "update_", "delete_", "start_"))]
    assert "expiry: " in text


def test_a_job_that_moved_on_since_the_ledger_saw_it(ctx: Any, fake: FakeBackend) -> None:
    with edited(ctx.state) as ledger:
        ledger.upsert_job(
            Job(name=JOB, data_sha256="ab" * 32, hyperparameters={}, config_hash="h", status="InProgress")
        )
    fake.queue_training(JOB, TrainingState(JOB, "InProgress", "Training"), done())
    result = status.run(ctx)
    assert ((result.job or {})["ledger_status"], (result.job or {})["status"]) == ("InProgress", "InProgress")
    again = status.run(ctx).to_data()["job"]
    assert (again["name"], again["status"]) == (JOB, "Completed")
    assert "the ledger last saw InProgress" in "\n".join(status.run(ctx).to_lines())
    assert ctx.state.load().job(JOB).status == "InProgress"  # type: ignore[union-attr]  # read-only


def test_drift_both_ways(ctx: Any, fake: FakeBackend) -> None:
    deployed = _deployed(ctx, fake)
    fake.delete_model(deployed.model)  # in the ledger, gone from where it lives
    # what the backend's probe finds carrying this workspace's tags, not in the ledger
    fake.untracked = [
        ("model", "nikkei-deepar-m-20240101-000000-beef"),
        ("endpoint-config", "nikkei-deepar-c-20240101-000000-beef"),
    ]
    result = status.run(ctx)
    drift = result.to_data()["drift"]
    assert drift["missing"] == [f"model {deployed.model}"]
    assert sorted(drift["untracked"]) == [
        "endpoint-config nikkei-deepar-c-20240101-000000-beef",
        "model nikkei-deepar-m-20240101-000000-beef",
    ]
    views = _by_name(result)
    assert views[("model", deployed.model)].exists is False
    untracked = views[("model", "nikkei-deepar-m-20240101-000000-beef")]
    assert (untracked.in_ledger, untracked.exists, untracked.backend) == (False, True, "sagemaker")
    assert "tagged managed-by=nikkei-deepar but not in the ledger" in untracked.detail
    text = "\n".join(result.to_lines())
    assert "drift: 1 missing, 2 untracked" in text
    assert "missing" in text and "in the ledger, but gone" in text
    assert result.exit_code == ExitCode.OK  # drift is information, not an error


def test_exit_code_asks_for_12_on_drift(ctx: Any, fake: FakeBackend) -> None:
    _deployed(ctx, fake)
    assert status.run(ctx, exit_code=True).exit_code == ExitCode.OK  # no drift: 0
    fake.untracked = [("model", "m1"), ("model", "m2"), ("model", "m3"), ("endpoint", "e4")]
    result = status.run(ctx, exit_code=True)
    assert result.exit_code == ExitCode.DRIFT == 12
    assert result.errors[0]["code"] == "drift"
    assert result.errors[0]["message"] == "drift: 0 missing, 4 untracked (model m1, model m2, model m3, ...)"
    assert "--exit-code: exit 12" in ctx.reporter.stream.getvalue()


def test_a_ledger_entry_marked_deleted_that_still_exists_is_untracked(ctx: Any, fake: FakeBackend) -> None:
    deployed = _deployed(ctx, fake)
    with edited(ctx.state) as ledger:
        ledger.mark_deleted("endpoint", EP)
    fake.untracked = [("endpoint", EP)]  # not live in the ledger, tagged as this workspace's
    views = _by_name(status.run(ctx))
    assert views[("endpoint", EP)].drift == "untracked"
    assert "the ledger says it was deleted" in views[("endpoint", EP)].detail
    assert views[("model", deployed.model)].drift is None


def test_an_endpoint_deleted_behind_the_ledgers_back(ctx: Any, fake: FakeBackend) -> None:
    _deployed(ctx, fake)
    fake.delete_endpoint(EP)
    result = status.run(ctx)
    assert result.to_data()["endpoint"] == {"name": EP, "status": None, "in_ledger": True, "exists": False}
    assert f"endpoint {EP}" in result.to_data()["drift"]["missing"]
    assert "gone (the ledger still lists it)" in "\n".join(result.to_lines())


def test_a_failed_endpoint_shows_its_reason(ctx: Any, fake: FakeBackend) -> None:
    deployed = _deployed(ctx, fake)
    fake.endpoints[EP].clear()
    fake.queue_endpoint(
        EP, EndpointState(EP, "Failed", config_name=deployed.endpoint_config, failure_reason="no model")
    )
    text = "\n".join(status.run(ctx).to_lines())
    assert "failure reason: no model" in text


# -- read-only ----------------------------------------------------------------------------------------
def test_status_writes_nothing_and_takes_no_lock(ctx: Any, fake: FakeBackend) -> None:
    _deployed(ctx, fake)
    before = ctx.state.path.read_bytes()
    with ctx.state.lock():  # another command holds the lock: status still answers
        result = status.run(ctx)
    assert result.exit_code == ExitCode.OK
    assert ctx.state.path.read_bytes() == before


def test_no_ledger_at_all(hermetic_env: Path, fake: FakeBackend) -> None:
    ctx = fake_context(hermetic_env, fake, settings_for())
    result = status.run(ctx)
    data = result.to_data()
    assert (data["data"], data["job"], data["endpoint"], data["resources"]) == (None, None, None, [])
    assert not ctx.state.path.exists()
    text = "\n".join(result.to_lines())
    assert "none prepared yet" in text and "no training job yet" in text and "endpoint: none" in text


def test_a_backend_that_cannot_be_asked_still_shows_the_ledger_with_the_aws_exit_code(
    ctx: Any, fake: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable() -> Any:
        raise AwsError("could not connect to the endpoint URL", hint="check the network", code="aws-network")

    monkeypatch.setattr(fake, "probe", unreachable)
    result = status.run(ctx)
    assert result.exit_code == ExitCode.AWS
    assert result.errors[0] == {
        "code": "aws-network",
        "message": "could not connect to the endpoint URL",
        "hint": "check the network",
    }
    data = result.to_data()
    assert data["checked"] is False and data["data"]["sha256"] == "ab" * 32
    assert [r["exists"] for r in data["resources"]] == [None]
    assert "drift: not checked" in "\n".join(result.to_lines())
    assert "warning: could not ask AWS: could not connect" in ctx.reporter.stream.getvalue()
    assert status.run(ctx, exit_code=True).exit_code == ExitCode.AWS  # not checked: never "drift"


# -- prices -------------------------------------------------------------------------------------------
def test_config_prices_override_the_table(hermetic_env: Path, fake: FakeBackend, clock: FakeClock) -> None:
    ctx = _context(
        hermetic_env,
        fake,
        clock,
        endpoint={"instance_type": "ml.c5.xlarge", "instance_count": 2},
        costs={"hourly_usd": {"ml.c5.xlarge": 0.5}, "price_date": "2026-01-31"},
    )
    _deployed(ctx, fake)
    cost = status.run(ctx).to_data()["endpoint"]["cost"]
    assert (cost["unit_price_usd"], cost["hourly_usd"], cost["monthly_usd"]) == (0.5, 1.0, 730.0)
    assert (cost["source"], cost["price_date"]) == ("config", "2026-01-31")
    assert "live_price" not in fake.verbs()  # the config named the price: nothing else asked


def test_serverless_is_priced_per_gb_second(hermetic_env: Path, fake: FakeBackend, clock: FakeClock) -> None:
    ctx = _context(hermetic_env, fake, clock, endpoint={"serverless": True, "memory_mb": 2048})
    _deployed(ctx, fake)
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
