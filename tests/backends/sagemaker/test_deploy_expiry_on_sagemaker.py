"""`deploy` and the endpoint's expiry on the SageMaker backend (EventBridge Scheduler on moto): what only this
backend does. The schedule as AWS holds it, the scheduler role it needs, the Price List API and its cache,
and `status` / `teardown` of the schedule (FakeBackend has no probe and no remover).

The step's own expiry and cost logic (every deploy moves the expiry, --expires-in, the budget guard,
--redeploy) is tested on FakeBackend in tests/steps/test_deploy_expiry.py.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from nikkei_deepar import expiry_view as expiry
from nikkei_deepar.errors import ExitCode, NotFoundError, UsageError
from nikkei_deepar.steps import deploy, train
from sagemaker_script import (
    ACCOUNT,
    REGION,
    FakeClock,
    completed,
    make_context,
    price_list_answer,
    seed_prepared,
    settings_for,
    stderr_of,
)

EP = "nikkei-deepar-dev"  # the default: {project}-{stage}
SCHEDULE = f"{EP}-expiry"
NOW = dt.datetime(2026, 12, 6, 2, 0, 30, tzinfo=dt.UTC)
SCHEDULER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/{EP}-scheduler"


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


def _ctx(home: Path, **sections: Any) -> Any:
    return make_context(home, settings_for(**sections), clock=FakeClock())


@pytest.fixture
def ctx(aws: None, hermetic_env: Path, wall: WallClock) -> Any:
    context = _ctx(hermetic_env)
    seed_prepared(context)
    return context


def _trained(ctx: Any, sm_script: Any) -> str:
    sm_script.next_training(completed())
    return train.run(ctx, force=True, wait=False, timeout=None, logs=False).job


def _deploy(ctx: Any, **options: Any) -> deploy.DeployResult:
    values: dict[str, Any] = {"job": None, "timeout": None}
    values.update(options)
    return deploy.run(ctx, **values)


def _schedule() -> dict[str, Any] | None:
    client = boto3.client("scheduler", region_name=REGION)
    try:
        return dict(client.get_schedule(Name=SCHEDULE))
    except client.exceptions.ResourceNotFoundException:
        return None


def _live(ctx: Any, kind: str) -> list[str]:
    return [r.name for r in ctx.state.load().live_resources(kind)]


def test_deploy_schedules_the_endpoints_deletion_by_aws(ctx: Any, sm_script: Any) -> None:
    _trained(ctx, sm_script)
    result = _deploy(ctx)
    found = _schedule()
    assert found is not None
    assert found["ScheduleExpression"] == "at(2026-12-07T02:00:00)"  # 24 h, to the minute, UTC
    assert found["ScheduleExpressionTimezone"] == "UTC"
    assert found["ActionAfterCompletion"] == "DELETE"
    assert found["Target"]["Arn"] == "arn:aws:scheduler:::aws-sdk:sagemaker:deleteEndpoint"
    assert json.loads(found["Target"]["Input"]) == {"EndpointName": EP}
    assert found["Target"]["RoleArn"] == SCHEDULER_ROLE
    assert _live(ctx, "schedule") == [SCHEDULE]  # teardown finds it in the ledger
    assert result.expiry is not None and result.expiry["expires_at"] == "2026-12-07T02:00:00+00:00"
    assert result.expiry["enforced_by"] == SCHEDULE
    assert "expiry: expires 2026-12-07 02:00 UTC (in 23h59m)" in "\n".join(result.to_lines())
    expected = f"will be deleted at 2026-12-07 02:00 UTC by EventBridge Scheduler schedule {SCHEDULE}"
    assert expected in stderr_of(ctx)


def test_no_scheduler_role_means_nothing_is_created(aws: None, hermetic_env: Path, sm_script: Any) -> None:
    ctx = _ctx(hermetic_env)
    seed_prepared(ctx)
    boto3.client("iam").delete_role_policy(RoleName=f"{EP}-scheduler", PolicyName="nikkei-deepar-expiry")
    boto3.client("iam").delete_role(RoleName=f"{EP}-scheduler")
    _trained(ctx, sm_script)
    with pytest.raises(NotFoundError) as info:
        _deploy(ctx)
    assert info.value.code == "scheduler-role-missing" and info.value.exit_code == ExitCode.NOT_FOUND
    assert "nikkei-deepar provision" in (info.value.hint or "")
    assert _live(ctx, "model") == [] and _live(ctx, "endpoint") == []
    assert boto3.client("sagemaker", region_name=REGION).list_models()["Models"] == []
    # without an expiry it deploys
    assert _deploy(ctx, expires_in="off").status == "InService"


# -- the Price List API -----------------------------------------------------------------------------------
def test_the_guard_uses_the_price_list_price(
    aws: None, hermetic_env: Path, sm_script: Any, wall: Any
) -> None:
    from botocore.stub import Stubber

    ctx = _ctx(hermetic_env, costs={"max_usd_per_day": 3.0})
    seed_prepared(ctx)
    _trained(ctx, sm_script)
    with Stubber(ctx.aws.pricing.client(REGION)) as stub:
        stub.add_response("get_products", price_list_answer("0.1490000000"))
        with pytest.raises(UsageError, match=r"about \$3\.58/day .*AWS Price List API, fetched"):
            _deploy(ctx)
    # the price is cached for a day: asked once, refused again without asking
    with pytest.raises(
        UsageError, match=r"\$3\.58/day .*AWS Price List API, fetched \d{4}-\d\d-\d\d \(cached\)"
    ):
        _deploy(ctx)
    assert (
        json.loads((ctx.home / "prices.json").read_text())["entries"][f"{REGION}/ml.m5.large"]["usd_per_hour"]
        == 0.149
    )


def test_the_price_list_being_unreachable_falls_back_to_the_table(ctx: Any, sm_script: Any) -> None:
    _trained(ctx, sm_script)  # moto has no Price List API: it answers 404
    result = _deploy(ctx)
    assert result.cost is not None and result.cost["source"] == "built-in table"
    assert "AWS Price List API unavailable (the Price List API refused" in (result.cost_note or "")


# -- status -----------------------------------------------------------------------------------------------
def test_status_shows_when_it_expires_and_the_cost_by_then(ctx: Any, sm_script: Any, wall: WallClock) -> None:
    from nikkei_deepar.steps import status

    _trained(ctx, sm_script)
    _deploy(ctx, expires_in="6h")
    wall.now = NOW + dt.timedelta(hours=2)
    result = status.run(ctx)
    endpoint = result.to_data()["endpoint"]
    assert endpoint["expiry"]["expires_at"] == "2026-12-06T08:00:00+00:00"
    assert endpoint["expiry"]["expires_in_seconds"] == 4 * 3600 - 30
    assert endpoint["expiry"]["enforced_by"] == SCHEDULE
    created = boto3.client("sagemaker", region_name=REGION).describe_endpoint(EndpointName=EP)["CreationTime"]
    hours = (dt.datetime(2026, 12, 6, 8, tzinfo=dt.UTC) - created).total_seconds() / 3600
    assert endpoint["expiry"]["cost_by_expiry_usd"] == pytest.approx(round(0.149 * max(hours, 0), 2))
    text = "\n".join(result.to_lines())
    assert f"expiry: expires 2026-12-06 08:00 UTC (in 3h59m), by schedule {SCHEDULE}" in text


def test_status_after_the_schedule_ran(ctx: Any, sm_script: Any) -> None:
    """What AWS does at the expiry: DeleteEndpoint, then the schedule deletes itself."""
    from nikkei_deepar.steps import status

    _trained(ctx, sm_script)
    _deploy(ctx)
    boto3.client("sagemaker", region_name=REGION).delete_endpoint(EndpointName=EP)
    boto3.client("scheduler", region_name=REGION).delete_schedule(Name=SCHEDULE)
    data = status.run(ctx).to_data()
    assert data["endpoint"] == {"name": EP, "status": None, "in_ledger": True, "exists": False}
    assert sorted(data["drift"]["missing"]) == [f"endpoint {EP}", f"schedule {SCHEDULE}"]


def test_status_without_an_expiry_says_it_bills_until_teardown(ctx: Any, sm_script: Any) -> None:
    from nikkei_deepar.steps import status

    _trained(ctx, sm_script)
    _deploy(ctx, expires_in="off")
    text = "\n".join(status.run(ctx).to_lines())
    assert "expiry: no expiry: it bills until `nikkei-deepar teardown` deletes it" in text


# -- teardown ---------------------------------------------------------------------------------------------
def _teardown(ctx: Any) -> Any:
    from nikkei_deepar.steps import teardown

    return teardown.run(ctx, include_all=False, yes=True, dry_run=False)


def test_teardown_deletes_the_schedule_after_the_endpoint(ctx: Any, sm_script: Any) -> None:
    _trained(ctx, sm_script)
    _deploy(ctx)
    result = _teardown(ctx)
    done = [(i.kind, i.action) for i in result.items if i.action == "delete"]
    assert done[:2] == [("endpoint", "delete"), ("schedule", "delete")]
    assert _schedule() is None and _live(ctx, "schedule") == []
    assert boto3.client("sagemaker", region_name=REGION).list_endpoints()["Endpoints"] == []


def test_teardown_after_the_schedule_ran(ctx: Any, sm_script: Any) -> None:
    _trained(ctx, sm_script)
    _deploy(ctx)
    boto3.client("sagemaker", region_name=REGION).delete_endpoint(EndpointName=EP)
    boto3.client("scheduler", region_name=REGION).delete_schedule(Name=SCHEDULE)
    result = _teardown(ctx)
    assert {(i.kind, i.action) for i in result.items if i.kind in {"endpoint", "schedule"}} == {
        ("endpoint", "gone"),
        ("schedule", "gone"),
    }
    assert _live(ctx, "schedule") == [] and _live(ctx, "endpoint") == []


def test_teardown_refuses_a_schedule_someone_retargeted(ctx: Any, sm_script: Any) -> None:
    _trained(ctx, sm_script)
    _deploy(ctx)
    client = boto3.client("scheduler", region_name=REGION)
    found = client.get_schedule(Name=SCHEDULE)
    target = {**found["Target"], "Input": json.dumps({"EndpointName": "someone-elses"})}
    client.update_schedule(
        Name=SCHEDULE,
        ScheduleExpression=found["ScheduleExpression"],
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=target,
    )
    result = _teardown(ctx)
    [item] = [i for i in result.items if i.kind == "schedule"]
    assert item.action == "refuse" and "changed by someone else" in item.reason
    assert "it deletes endpoint someone-elses" in item.reason
    assert result.exit_code == 2  # one line, exit 2: nothing done to it
    assert _schedule() is not None
    # and a deploy does not move it either: it is no longer this endpoint's expiry
    with pytest.raises(UsageError, match="is not the expiry of endpoint") as caught:
        _deploy(ctx)
    assert caught.value.code == "schedule-not-ours"
    assert json.loads(_schedule()["Target"]["Input"]) == {"EndpointName": "someone-elses"}
