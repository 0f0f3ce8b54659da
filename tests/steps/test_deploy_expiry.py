"""deploy and the endpoint's expiry on FakeBackend: every deploy moves it, --expires-in, serverless, the
daily cost guard, --redeploy.

FakeExpiry (tests/fake_backend.py) keeps the times; here it is set up as SageMaker's keeper is (its
expiry a resource of its own, recorded in the ledger). What SageMaker's keeper writes on AWS (the
EventBridge schedule, its role, minute rounding), the Price List API, and `status` / `teardown` of a
schedule are tested on moto in tests/backends/sagemaker/test_deploy_expiry_on_sagemaker.py.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from fake_backend import FakeBackend, fake_context
from nikkei_deepar import expiry_view as expiry
from nikkei_deepar.backends.base import TrainingState
from nikkei_deepar.errors import ExitCode, NotFoundError, UsageError
from nikkei_deepar.instance_prices import LivePrice
from nikkei_deepar.steps import deploy, train
from sagemaker_script import DEEPAR_METRICS, FakeClock, seed_prepared, settings_for, stderr_of

EP = "nikkei-deepar-dev"  # the default: {project}-{stage}
SCHEDULE = f"{EP}-expiry"
NOW = dt.datetime(2026, 12, 6, 2, 0, 30, tzinfo=dt.UTC)


class WallClock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def wall(monkeypatch: pytest.MonkeyPatch) -> WallClock:
    clock = WallClock()
    monkeypatch.setattr(expiry, "utcnow", clock)
    return clock


@pytest.fixture
def fake() -> FakeBackend:
    backend = FakeBackend()
    backend.expiry.recorded = True  # as SageMaker's: a schedule of its own, recorded in the ledger
    backend.expiry.schedule = SCHEDULE
    return backend


def _ctx(home: Path, fake: FakeBackend, **sections: Any) -> Any:
    context = fake_context(home, fake, settings_for(**sections), clock=FakeClock())
    seed_prepared(context, with_role=False, upload=False)  # the ledger as `prepare` leaves it
    return context


@pytest.fixture
def ctx(hermetic_env: Path, fake: FakeBackend, wall: WallClock) -> Any:
    return _ctx(hermetic_env, fake)


def _trained(ctx: Any, fake: FakeBackend) -> str:
    """A job started by `train` that is Completed with DeepAR's metrics and a model."""
    fake.queue_next_training(TrainingState("", "Completed", metrics=dict(DEEPAR_METRICS)))
    name = train.run(ctx, force=True, wait=False, timeout=None, logs=False).job
    fake.trainings[name][0] = TrainingState(
        name, "Completed", metrics=dict(DEEPAR_METRICS), model_artifact=f"fake://store/output/{name}/model"
    )
    return name


def _deploy(ctx: Any, **options: Any) -> deploy.DeployResult:
    values: dict[str, Any] = {"job": None, "timeout": None}
    values.update(options)
    return deploy.run(ctx, **values)


def _live(ctx: Any, kind: str) -> list[str]:
    return [r.name for r in ctx.state.load().live_resources(kind)]


def _creates(fake: FakeBackend) -> list[str]:
    return [v for v in fake.verbs() if v.startswith(("create_", "update_"))]


def test_deploy_sets_the_expiry_before_creating_anything(ctx: Any, fake: FakeBackend) -> None:
    _trained(ctx, fake)
    result = _deploy(ctx)
    at = NOW + dt.timedelta(hours=24)  # [endpoint] expires_after's default
    assert fake.expiry.times == {EP: at}
    verbs = fake.verbs()
    assert verbs.index("set_expiry") < verbs.index("create_model")
    assert _live(ctx, "schedule") == [SCHEDULE]  # teardown finds it in the ledger
    assert ctx.state.load().resource("schedule", SCHEDULE).extra["at"] == at.isoformat()  # type: ignore[union-attr]
    assert result.expiry is not None and result.expiry["expires_at"] == at.isoformat()
    assert result.expiry["enforced_by"] == SCHEDULE
    # 24 h to the second here: "in 1d" (SageMaker's at() is per minute: "in 23h59m", on moto)
    line = f"expiry: expires 2026-12-07 02:00 UTC (in 1d), by schedule {SCHEDULE}"
    assert line in "\n".join(result.to_lines())
    assert f"will be deleted at 2026-12-07 02:00 UTC by the fake schedule {SCHEDULE}" in stderr_of(ctx)


def test_expires_in_overrides_and_every_deploy_moves_the_expiry(
    ctx: Any, fake: FakeBackend, wall: WallClock
) -> None:
    _trained(ctx, fake)
    _deploy(ctx, expires_in="2h")
    assert fake.expiry.times[EP] == NOW + dt.timedelta(hours=2)
    wall.now = NOW + dt.timedelta(hours=1)
    again = _deploy(ctx, expires_in="2h")  # the same job: nothing else changes, the expiry moves
    assert again.action == "unchanged"
    assert fake.expiry.times[EP] == NOW + dt.timedelta(hours=3)
    _trained(ctx, fake)
    updated = _deploy(ctx)
    assert updated.action == "updated"
    assert fake.expiry.times[EP] == NOW + dt.timedelta(hours=25)
    assert fake.verbs().count("set_expiry") == 3
    assert _live(ctx, "schedule") == [SCHEDULE]  # one record, moved
    at = (NOW + dt.timedelta(hours=25)).isoformat()
    assert ctx.state.load().resource("schedule", SCHEDULE).extra["at"] == at  # type: ignore[union-attr]


def test_expires_in_off_removes_the_schedule(ctx: Any, fake: FakeBackend) -> None:
    _trained(ctx, fake)
    _deploy(ctx)
    result = _deploy(ctx, expires_in="off")
    assert ("clear_expiry", {"endpoint": EP}) in fake.calls and fake.expiry.times == {}
    assert _live(ctx, "schedule") == []
    assert f"expiry removed (schedule {SCHEDULE} deleted)" in stderr_of(ctx)
    assert result.expiry is not None and result.expiry["expires_at"] is None
    assert "no expiry: it bills until" in "\n".join(result.to_lines())


def test_serverless_endpoints_get_no_schedule(hermetic_env: Path, fake: FakeBackend, wall: Any) -> None:
    ctx = _ctx(hermetic_env, fake, endpoint={"serverless": True})
    _trained(ctx, fake)
    result = _deploy(ctx)
    assert "set_expiry" not in fake.verbs() and fake.expiry.times == {}
    assert _live(ctx, "schedule") == []
    assert result.expiry is not None and result.expiry["expires_at"] is None


def test_an_expiry_that_cannot_be_set_means_nothing_is_created(ctx: Any, fake: FakeBackend) -> None:
    """The keeper refusing (SageMaker: the scheduler role is missing, tested on moto) stops deploy before
    anything is created; without an expiry it deploys."""
    _trained(ctx, fake)
    fake.expiry.refuse = NotFoundError("what deletes the endpoint is missing", code="scheduler-role-missing")
    with pytest.raises(NotFoundError) as info:
        _deploy(ctx)
    assert info.value.code == "scheduler-role-missing" and info.value.exit_code == ExitCode.NOT_FOUND
    assert _creates(fake) == [] and _live(ctx, "model") == [] and _live(ctx, "endpoint") == []
    assert _deploy(ctx, expires_in="off").status == "InService"


@pytest.mark.parametrize(("value", "message"), [("soon", "a duration is"), ("5m", "between 15m and 365d")])
def test_a_bad_expires_in_is_a_usage_error_before_anything(
    ctx: Any, fake: FakeBackend, value: str, message: str
) -> None:
    _trained(ctx, fake)
    with pytest.raises(UsageError, match=message) as info:
        _deploy(ctx, expires_in=value)
    assert info.value.exit_code == ExitCode.USAGE and info.value.message.startswith("--expires-in: ")
    assert _live(ctx, "model") == [] and "set_expiry" not in fake.verbs() and _creates(fake) == []


# -- the daily cost guard ---------------------------------------------------------------------------------
def test_over_the_daily_limit_is_refused_before_anything(
    hermetic_env: Path, fake: FakeBackend, wall: Any
) -> None:
    ctx = _ctx(
        hermetic_env,
        fake,
        endpoint={"instance_count": 2},
        costs={"hourly_usd": {"ml.m5.large": 0.15}, "price_date": "2026-11-01", "max_usd_per_day": 5.0},
    )
    _trained(ctx, fake)
    with pytest.raises(UsageError) as info:
        _deploy(ctx)
    assert info.value.exit_code == ExitCode.USAGE and info.value.code == "over-budget"
    assert info.value.message == (
        "deploy refused: the endpoint would cost about $7.20/day (ml.m5.large x2, on demand; config prices "
        "as of 2026-11-01), above [costs] max_usd_per_day = 5"
    )
    assert "live_price" not in fake.verbs()  # [costs] names the price: nothing asked
    assert _live(ctx, "model") == [] and "set_expiry" not in fake.verbs() and _creates(fake) == []


def test_the_guard_uses_the_backends_live_price(hermetic_env: Path, fake: FakeBackend, wall: Any) -> None:
    """Without a [costs] price, the backend's live price decides (SageMaker's Price List API and its cache
    are tested on moto)."""
    ctx = _ctx(hermetic_env, fake, costs={"max_usd_per_day": 3.0})
    _trained(ctx, fake)
    fake.prices["ml.m5.large"] = LivePrice(0.149, fetched_at=NOW, cached=False)
    with pytest.raises(UsageError, match=r"about \$3\.58/day .*AWS Price List API, fetched 2026-12-06"):
        _deploy(ctx)
    assert ("live_price", {"instance_type": "ml.m5.large"}) in fake.calls
    assert _creates(fake) == []


def test_under_the_limit_deploys_and_shows_the_cost(hermetic_env: Path, fake: FakeBackend, wall: Any) -> None:
    ctx = _ctx(hermetic_env, fake, costs={"max_usd_per_day": 10.0, "live_prices": False})
    _trained(ctx, fake)
    result = _deploy(ctx)
    assert result.cost is not None and result.cost["daily_usd"] == pytest.approx(3.58)
    text = "\n".join(result.to_lines())
    assert "cost: about $0.149/hour" in text and "built-in approximate table as of 2025-01" in text
    # 24 h to the second on the fake (SageMaker's at() is per minute: 23 h 59.5 min, $3.57, on moto)
    assert "about $3.58 by then (24.0 h at the price above)" in text


# -- --redeploy -------------------------------------------------------------------------------------------
def test_redeploy_brings_back_the_last_deployed_job(ctx: Any, fake: FakeBackend) -> None:
    deployed = _trained(ctx, fake)
    _deploy(ctx)
    _trained(ctx, fake)  # a newer job that was never deployed (e.g. the promotion gate kept the old one)
    fake.delete_endpoint(EP)  # expired
    result = _deploy(ctx, redeploy=True, expires_in="2h")
    assert (result.job, result.action) == (deployed, "created")
    assert fake.expiry.times[EP] == NOW + dt.timedelta(hours=2)
    with pytest.raises(UsageError, match="do not pass --job"):
        _deploy(ctx, redeploy=True, job=deployed)


def test_redeploy_with_nothing_ever_deployed(ctx: Any, fake: FakeBackend) -> None:
    _trained(ctx, fake)
    with pytest.raises(NotFoundError, match=f"nothing was ever deployed on endpoint {EP}"):
        _deploy(ctx, redeploy=True)
    assert _creates(fake) == []
