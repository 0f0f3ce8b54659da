"""What a SageMaker endpoint costs: a small, dated, approximate on-demand price table. Pure: no network.

`status` uses it to put a price next to the endpoint, because an endpoint bills every hour it exists,
idle or not. The numbers are approximate list prices and they change: every cost the tool shows says
so and names the date below. `[costs]` in the config overrides any of them (`hourly_usd`,
`serverless_gb_second_usd`, `price_date`); an instance type in neither place has no price (shown as
unknown, never guessed).

What the table holds (PRICE_BASIS): on-demand SageMaker real-time inference (hosting) prices in USD per
instance-hour, Linux, for common CPU instance types (DeepAR inference runs on CPU only), in us-east-1 and
ap-northeast-1. Not included: the endpoint's ML storage volume (about $0.14 per GB-month), data
processed, data transfer, taxes, Savings Plans. Serverless inference is billed per GB-second of compute
while it serves requests (plus a per-GB data charge), and nothing while idle.

Where the numbers come from: us-east-1 as listed on https://aws.amazon.com/sagemaker/pricing/
("Real-Time Inference") and matching third-party tables, compiled in PRICE_DATE; ap-northeast-1 is an
estimate (the us-east-1 price times the EC2 Tokyo/N. Virginia price ratio of the same instance family,
rounded). Neither was checked against the live pricing page by this tool: set `[costs] hourly_usd` when
exact numbers matter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

PRICE_DATE = "2025-01"
PRICE_BASIS = (
    "approximate on-demand SageMaker real-time inference list prices (USD), "
    f"as of {PRICE_DATE}; storage, data and taxes not included"
)
HOURS_PER_MONTH = 730  # AWS's own convention for monthly estimates (8760 / 12)
PRICING_URL = "https://aws.amazon.com/sagemaker/pricing/"

# region -> instance type -> USD per instance-hour (real-time inference, on demand)
# Hosting types only (ProductionVariantInstanceType in botocore's model: ml.t3 cannot host an endpoint).
HOURLY_USD: dict[str, dict[str, float]] = {
    "us-east-1": {
        "ml.t2.medium": 0.056,
        "ml.t2.large": 0.111,
        "ml.t2.xlarge": 0.223,
        "ml.m5.large": 0.115,
        "ml.m5.xlarge": 0.23,
        "ml.m5.2xlarge": 0.461,
        "ml.m5.4xlarge": 0.922,
        "ml.m6i.large": 0.115,
        "ml.m6i.xlarge": 0.23,
        "ml.c5.large": 0.102,
        "ml.c5.xlarge": 0.204,
        "ml.c5.2xlarge": 0.408,
        "ml.c5.4xlarge": 0.816,
        "ml.c6i.large": 0.102,
        "ml.c6i.xlarge": 0.204,
        "ml.r5.large": 0.151,
        "ml.r5.xlarge": 0.302,
    },
    # estimates: us-east-1 x the EC2 Tokyo / N. Virginia ratio of the family (t 1.31, m 1.29, c 1.26, r 1.21)
    "ap-northeast-1": {
        "ml.t2.medium": 0.073,
        "ml.t2.large": 0.146,
        "ml.t2.xlarge": 0.292,
        "ml.m5.large": 0.149,
        "ml.m5.xlarge": 0.298,
        "ml.m5.2xlarge": 0.596,
        "ml.m5.4xlarge": 1.19,
        "ml.m6i.large": 0.149,
        "ml.m6i.xlarge": 0.298,
        "ml.c5.large": 0.128,
        "ml.c5.xlarge": 0.257,
        "ml.c5.2xlarge": 0.514,
        "ml.c5.4xlarge": 1.028,
        "ml.c6i.large": 0.128,
        "ml.c6i.xlarge": 0.257,
        "ml.r5.large": 0.182,
        "ml.r5.xlarge": 0.365,
    },
}

# region -> USD per GB-second of serverless inference compute (ap-northeast-1: estimate, as above)
SERVERLESS_GB_SECOND_USD: dict[str, float] = {
    "us-east-1": 0.00002,
    "ap-northeast-1": 0.0000256,
}


# How far a price from elsewhere (the Price List API, or its cache in the tool's home) may lie from the
# table's before it is taken for a broken answer or a tampered cache: list prices move by percents, and
# the table's Tokyo figures are estimates, but a factor of ten is never a price change. A cached
# `usd_per_hour: 1e-300` would otherwise let any endpoint pass `[costs] max_usd_per_day` at $0.00/day.
PLAUSIBLE_FACTOR = 10.0
# An instance type the table does not know (any region): SageMaker's hosting prices run from about
# $0.05 (ml.t2.medium) to about $100 an hour (ml.p5.48xlarge); anything outside this is no price.
PLAUSIBLE_USD_PER_HOUR = (0.005, 1000.0)


def implausible_price(instance_type: str, region: str | None, usd_per_hour: float) -> str | None:
    """Why `usd_per_hour` cannot be the on-demand hosting price of `instance_type` in `region`, or None:
    more than PLAUSIBLE_FACTOR from the table's price (this region's, else another region's), or, for a
    type the table does not know, outside PLAUSIBLE_USD_PER_HOUR."""
    known = HOURLY_USD.get(region or "", {}).get(instance_type)
    if known is None:
        known = next((table[instance_type] for table in HOURLY_USD.values() if instance_type in table), None)
    if known is not None:
        low, high = known / PLAUSIBLE_FACTOR, known * PLAUSIBLE_FACTOR
        basis = f"more than {PLAUSIBLE_FACTOR:g}x from the built-in table's ${known:g}"
    else:
        low, high = PLAUSIBLE_USD_PER_HOUR
        basis = f"outside ${low:g}-${high:g}, the range of SageMaker's hosting prices"
    if low <= usd_per_hour <= high:
        return None
    return f"${usd_per_hour:.3g}/hour for {instance_type} is {basis}"


class LivePrice(Protocol):
    """What the Price List API said (`instance_prices.LivePrice`): its price or none, the date, and a
    sentence saying which. A protocol, so that this table imports nothing (instance_prices imports it)."""

    @property
    def usd_per_hour(self) -> float | None: ...

    @property
    def date(self) -> str: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class EndpointCost:
    """What an endpoint costs at the configured or built-in prices.

    Instances: `hourly_usd` (all instances) bills every hour the endpoint exists; `monthly_usd` is that
    times 730 hours. Serverless: `hourly_usd` is the price of one hour of continuous compute at the
    endpoint's memory size (it bills only while serving); `monthly_usd` is None.
    """

    kind: str  # "instances" | "serverless"
    unit: str  # "instance-hour" | "GB-second"
    unit_price_usd: float | None
    hourly_usd: float | None
    monthly_usd: float | None
    source: str  # "config" | "price list" | "built-in table" | "unknown"
    price_date: str | None
    note: str
    live_note: str | None = None  # what the Price List API said, when it was asked

    @property
    def known(self) -> bool:
        return self.hourly_usd is not None

    @property
    def daily_usd(self) -> float | None:
        """What 24 hours of the endpoint cost (instances: billed every hour it exists); None for
        serverless (billed per request) or an unknown price."""
        if self.kind != "instances" or self.hourly_usd is None:
            return None
        return round(self.hourly_usd * 24, 2)

    def cost_for(self, hours: float) -> float | None:
        """What `hours` of existence cost (instances only)."""
        if self.kind != "instances" or self.hourly_usd is None:
            return None
        return round(self.hourly_usd * max(hours, 0.0), 2)

    @property
    def source_text(self) -> str:
        """Where the figure comes from, with its date: printed next to every figure."""
        when = f" as of {self.price_date}" if self.price_date else ""
        if self.source == "config":
            return f"config prices{when}"
        if self.source == "price list":
            return self.live_note or f"AWS Price List API on-demand price{when}"
        text = f"built-in approximate table{when} ({PRICING_URL})"
        return f"{text}; {self.live_note}" if self.live_note else text

    def to_data(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "unit": self.unit,
            "unit_price_usd": self.unit_price_usd,
            "hourly_usd": self.hourly_usd,
            "monthly_usd": self.monthly_usd,
            "daily_usd": self.daily_usd,
            "hours_per_month": HOURS_PER_MONTH if self.kind == "instances" else None,
            "source": self.source,
            "source_text": self.source_text,
            "price_date": self.price_date,
            "approximate": self.source != "price list",
            "note": self.note,
        }

    def describe(self) -> str:
        """One line for people."""
        if not self.known:
            return self.note + (f" ({self.live_note})" if self.live_note else "")
        if self.kind == "serverless":
            return (
                f"about ${self.hourly_usd:.4f} per hour of compute (${self.unit_price_usd:.7f} per "
                f"GB-second), nothing while idle; {self.source_text}"
            )
        return (
            f"about ${self.hourly_usd:.3f}/hour, ${self.monthly_usd:,.2f}/month ({HOURS_PER_MONTH} h), "
            f"${self.daily_usd:,.2f}/day while it exists; {self.source_text}"
        )


def instance_price(
    instance_type: str, region: str | None, *, overrides: Mapping[str, float] | None = None
) -> tuple[float, str] | None:
    """(USD per instance-hour, "config" | "built-in table"), or None when neither knows the type."""
    if overrides and instance_type in overrides:
        return float(overrides[instance_type]), "config"
    table = HOURLY_USD.get(region or "", {})
    if instance_type in table:
        return table[instance_type], "built-in table"
    return None


def endpoint_cost(
    *,
    region: str | None,
    instance_type: str | None = None,
    instance_count: int = 1,
    serverless_memory_mb: int | None = None,
    overrides: Mapping[str, float] | None = None,
    serverless_override: float | None = None,
    override_date: str | None = None,
    live: LivePrice | None = None,
) -> EndpointCost:
    """The cost of an instance endpoint (`instance_type` x `instance_count`) or, with
    `serverless_memory_mb`, a serverless one, in `region`. `live` is what the Price List API said for
    the instance type (prices.live_price): used unless the config names a price; when it has no price,
    its reason is kept next to the table's figure."""
    if serverless_memory_mb is not None:
        if serverless_override is not None:
            price: float | None = serverless_override
            source = "config"
        else:
            price = SERVERLESS_GB_SECOND_USD.get(region or "")
            source = "built-in table" if price is not None else "unknown"
        if price is None:
            return EndpointCost(
                "serverless",
                "GB-second",
                None,
                None,
                None,
                "unknown",
                None,
                f"no serverless price for {region}: set [costs] serverless_gb_second_usd ({PRICING_URL})",
            )
        gigabytes = serverless_memory_mb / 1024
        return EndpointCost(
            "serverless",
            "GB-second",
            price,
            round(price * gigabytes * 3600, 6),
            None,
            source,
            _date(source, override_date),
            f"serverless, {serverless_memory_mb} MB: billed per GB-second while serving requests",
        )
    if instance_type is None:
        raise ValueError("endpoint_cost needs an instance_type or serverless_memory_mb")
    found = instance_price(instance_type, region, overrides=overrides)
    live_note = live.describe() if live is not None and live.usd_per_hour is None else None
    if live is not None and live.usd_per_hour is not None and (found is None or found[1] != "config"):
        hourly = round(live.usd_per_hour * instance_count, 6)
        return EndpointCost(
            "instances",
            "instance-hour",
            live.usd_per_hour,
            hourly,
            round(hourly * HOURS_PER_MONTH, 2),
            "price list",
            live.date,
            f"{instance_type} x{instance_count}, on demand",
            live_note=live.describe(),
        )
    if found is None:
        return EndpointCost(
            "instances",
            "instance-hour",
            None,
            None,
            None,
            "unknown",
            None,
            f"no price known for {instance_type} in {region}: set [costs.hourly_usd] "
            f'"{instance_type}" = <USD per hour> ({PRICING_URL})',
            live_note=live_note,
        )
    unit, source = found
    hourly = round(unit * instance_count, 6)
    return EndpointCost(
        "instances",
        "instance-hour",
        unit,
        hourly,
        round(hourly * HOURS_PER_MONTH, 2),
        source,
        _date(source, override_date),
        f"{instance_type} x{instance_count}, on demand",
        live_note=live_note,
    )


def variant_cost(
    variant: Mapping[str, Any],
    prices: Any,
    *,
    region: str | None,
    live: Callable[[str], LivePrice | None],
) -> EndpointCost | None:
    """The cost of an endpoint with `variant` (deploy's variant: serverless + memory_mb, or instance_type
    x instance_count) at `prices` (the `[costs]` settings), with `live(instance_type)` asked only when
    the config names no price for the type. None when the variant is unknown."""
    if variant.get("serverless"):
        return endpoint_cost(
            region=region,
            serverless_memory_mb=int(variant.get("memory_mb") or 0) or None,
            serverless_override=prices.serverless_gb_second_usd,
            override_date=prices.price_date,
        )
    instance_type = variant.get("instance_type")
    if not instance_type:
        return None
    instance_type = str(instance_type)
    return endpoint_cost(
        region=region,
        instance_type=instance_type,
        instance_count=int(variant.get("instance_count") or 1),
        overrides=prices.hourly_usd,
        override_date=prices.price_date,
        live=None if instance_type in prices.hourly_usd else live(instance_type),
    )


def over_budget(cost: EndpointCost, max_usd_per_day: float | None) -> str | None:
    """Why `cost` breaks the `[costs] max_usd_per_day` guard, or None when it does not (or no guard is
    set). Serverless endpoints bill per request, not per day they exist: the guard does not apply. An
    instance endpoint without a known price cannot be checked, so it is refused too."""
    if max_usd_per_day is None or cost.kind != "instances":
        return None
    if cost.daily_usd is None:
        return f"{cost.note}: the daily cost cannot be checked against max_usd_per_day = {max_usd_per_day:g}"
    if cost.daily_usd > max_usd_per_day:
        return (
            f"the endpoint would cost about ${cost.daily_usd:,.2f}/day ({cost.note}; {cost.source_text}), "
            f"above [costs] max_usd_per_day = {max_usd_per_day:g}"
        )
    return None


def _date(source: str, override_date: str | None) -> str | None:
    return override_date if source == "config" else PRICE_DATE


class Billing(Protocol):
    """What pricing asks of a backend (the Backend interface has these): whether it bills, where, and
    its live price for an instance type."""

    @property
    def bills(self) -> bool: ...

    @property
    def region(self) -> str | None: ...

    def live_price(self, instance_type: str) -> LivePrice | None: ...


def hosting_cost(backend: Billing, variant: Mapping[str, Any], prices: Any) -> EndpointCost | None:
    """What an endpoint with `variant` costs on `backend` (None when nothing is billed or the variant is
    unknown): `[costs]` (`prices`), else the backend's live price (the Price List API, cached a day),
    else the dated table. One answer for `deploy` (and its budget guard) and `status`."""
    if not backend.bills:
        return None
    return variant_cost(variant, prices, region=backend.region, live=backend.live_price)
