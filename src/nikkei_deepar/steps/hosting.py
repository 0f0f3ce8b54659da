"""What hosting an endpoint costs, and the daily cost guard: shared by `deploy` and `status`.

The price of an instance variant comes from `[costs] hourly_usd`, else the AWS Price List API (when
`[costs] live_prices`; prices.py caches it for a day in the tool's home), else the built-in dated table
(costs.py); the cost line always names which. A backend whose endpoints bill nothing (local) has no
cost at all. `check_budget` is the `[costs] max_usd_per_day` guard deploy applies before it creates
anything. `schedule_expiry` is deploy's: the endpoint's deletion set (or cleared) through the backend's
expiry keeper, and a schedule that is a resource of its own recorded in the ledger at once (teardown
deletes it from there).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from nikkei_deepar.context import Context
from nikkei_deepar.costs import EndpointCost, endpoint_cost, over_budget
from nikkei_deepar.errors import UsageError
from nikkei_deepar.expiry import ExpiryView
from nikkei_deepar.state import Resource

SCHEDULE_KIND = "schedule"


def variant_cost(ctx: Context, variant: dict[str, Any], *, region: str | None) -> EndpointCost | None:
    """The cost of an endpoint with `variant` (deploy's variant dict) in `region`; None when the variant
    is unknown."""
    costs = ctx.settings.costs
    if variant.get("serverless"):
        return endpoint_cost(
            region=region,
            serverless_memory_mb=int(variant.get("memory_mb") or 0) or None,
            serverless_override=costs.serverless_gb_second_usd,
            override_date=costs.price_date,
        )
    instance_type = variant.get("instance_type")
    if not instance_type:
        return None
    live = None
    if costs.live_prices and region and str(instance_type) not in costs.hourly_usd:
        from nikkei_deepar.prices import live_price

        live = live_price(str(instance_type), region, lookup=_price_list(ctx), home=ctx.home)
    return endpoint_cost(
        region=region,
        instance_type=str(instance_type),
        instance_count=int(variant.get("instance_count") or 1),
        overrides=costs.hourly_usd,
        override_date=costs.price_date,
        live=live,
    )


def _price_list(ctx: Context) -> Any:
    def ask(instance_type: str, region: str) -> float:
        return float(ctx.gateway("pricing").hosting_price(instance_type, region).usd_per_hour)

    return ask


def check_budget(ctx: Context, cost: EndpointCost | None) -> None:
    """Refuse (exit 2) an endpoint whose projected daily cost is above `[costs] max_usd_per_day`."""
    limit = ctx.settings.costs.max_usd_per_day
    if limit is None or cost is None:
        return
    reason = over_budget(cost, limit)
    if reason is not None:
        raise UsageError(
            f"deploy refused: {reason}",
            hint="choose a smaller [endpoint] instance_type or instance_count, serverless = true, or raise "
            "[costs] max_usd_per_day; nothing was created",
            code="over-budget",
        )


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def schedule_expiry(
    ctx: Context,
    endpoint: str,
    span: dt.timedelta | None,
    *,
    cost: EndpointCost | None,
    created: dt.datetime | None,
) -> ExpiryView:
    """Delete `endpoint` `span` from now (moving an earlier expiry), or, with no span, cancel its expiry."""
    backend = ctx.backend
    keeper = backend.expiry_keeper()
    now = utcnow()
    if span is None:
        recorded = [
            r for r in ctx.store.load().live_resources(SCHEDULE_KIND) if r.extra.get("endpoint") == endpoint
        ]
        if recorded or not keeper.recorded:
            keeper.clear(endpoint)
        for r in recorded:
            with ctx.store.update() as ledger:
                ledger.mark_deleted(SCHEDULE_KIND, r.name)
            ctx.reporter.info(f"endpoint {endpoint}: expiry removed (schedule {r.name} deleted)")
        return ExpiryView(at=None, now=now, cost=cost)
    scheduled = keeper.set(endpoint, now + span)
    if scheduled.schedule is not None:
        with ctx.store.update() as ledger:
            extra = {"endpoint": endpoint, "at": scheduled.at.isoformat(), "role_arn": scheduled.role_arn}
            existing = ledger.resource(SCHEDULE_KIND, scheduled.schedule)
            if existing is not None and existing.live:
                existing.extra.update(extra)
            else:
                ledger.record_resource(
                    Resource(
                        kind=SCHEDULE_KIND,
                        name=scheduled.schedule,
                        backend=backend.name,
                        arn=None,
                        region=backend.region,
                        extra=extra,
                    )
                )
    ctx.reporter.info(f"endpoint {endpoint}: deleted at {scheduled.at:%Y-%m-%d %H:%M} UTC by {scheduled.by}")
    return ExpiryView(
        at=scheduled.at, now=now, created=created or now, cost=cost, schedule=scheduled.schedule
    )
