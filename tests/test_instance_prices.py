"""Live prices: the Price List price cached for a day, failures remembered for an hour, and what the
cost line then says (source and date next to every figure)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from nikkei_deepar.aws.pricing import PriceUnavailable
from nikkei_deepar.costs import PRICE_DATE, endpoint_cost, implausible_price, over_budget
from nikkei_deepar.instance_prices import CACHE_FILE, live_price

NOW = dt.datetime(2026, 12, 6, 2, 0, tzinfo=dt.UTC)


class ScriptedLookup:
    """Answers queued per call; records what was asked."""

    def __init__(self, *answers: float | Exception) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, str]] = []

    def __call__(self, instance_type: str, region: str) -> float:
        self.calls.append((instance_type, region))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_asked_once_then_cached_for_a_day(tmp_path: Path) -> None:
    lookup = ScriptedLookup(0.149, 0.16)
    first = live_price("ml.m5.large", "ap-northeast-1", lookup=lookup, home=tmp_path, now=NOW)
    assert (first.usd_per_hour, first.cached) == (0.149, False)
    later = NOW + dt.timedelta(hours=23)
    second = live_price("ml.m5.large", "ap-northeast-1", lookup=lookup, home=tmp_path, now=later)
    assert (second.usd_per_hour, second.cached, second.fetched_at) == (0.149, True, NOW)
    assert lookup.calls == [("ml.m5.large", "ap-northeast-1")]
    stale = live_price(
        "ml.m5.large", "ap-northeast-1", lookup=lookup, home=tmp_path, now=NOW + dt.timedelta(days=1)
    )
    assert (stale.usd_per_hour, stale.cached) == (0.16, False)
    assert len(lookup.calls) == 2


def test_cache_is_per_region_and_instance_type(tmp_path: Path) -> None:
    lookup = ScriptedLookup(0.149, 0.115, 0.298)
    live_price("ml.m5.large", "ap-northeast-1", lookup=lookup, home=tmp_path, now=NOW)
    assert live_price("ml.m5.large", "us-east-1", lookup=lookup, home=tmp_path, now=NOW).usd_per_hour == 0.115
    assert (
        live_price("ml.m5.xlarge", "ap-northeast-1", lookup=lookup, home=tmp_path, now=NOW).usd_per_hour
        == 0.298
    )
    data = json.loads((tmp_path / CACHE_FILE).read_text())
    assert data["version"] == 1
    assert sorted(data["entries"]) == [
        "ap-northeast-1/ml.m5.large",
        "ap-northeast-1/ml.m5.xlarge",
        "us-east-1/ml.m5.large",
    ]
    assert oct((tmp_path / CACHE_FILE).stat().st_mode & 0o777) == "0o600"


def test_a_failure_is_remembered_for_an_hour_with_its_reason(tmp_path: Path) -> None:
    lookup = ScriptedLookup(PriceUnavailable("the Price List API refused (AccessDeniedException)"), 0.149)
    failed = live_price("ml.m5.large", "ap-northeast-1", lookup=lookup, home=tmp_path, now=NOW)
    assert failed.usd_per_hour is None
    assert (
        failed.describe()
        == "AWS Price List API unavailable (the Price List API refused (AccessDeniedException))"
    )
    again = live_price(
        "ml.m5.large", "ap-northeast-1", lookup=lookup, home=tmp_path, now=NOW + dt.timedelta(minutes=59)
    )
    assert again.usd_per_hour is None and again.cached
    retried = live_price(
        "ml.m5.large", "ap-northeast-1", lookup=lookup, home=tmp_path, now=NOW + dt.timedelta(hours=1)
    )
    assert retried.usd_per_hour == 0.149


def test_any_lookup_exception_means_no_price_not_a_crash(tmp_path: Path) -> None:
    lookup = ScriptedLookup(ConnectionError("down"))
    assert (
        live_price("ml.m5.large", "ap-northeast-1", lookup=lookup, home=tmp_path, now=NOW).reason
        == "ConnectionError"
    )


def _entry(price: object, fetched: str) -> str:
    entry = {"ap-northeast-1/ml.m5.large": {"usd_per_hour": price, "fetched_at": fetched}}
    return json.dumps({"version": 1, "entries": entry})


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        '{"version": 99, "entries": {}}',
        _entry("x", "2026-12-06T01:00:00+00:00"),
        _entry(float("inf"), "2026-12-06T01:00:00+00:00"),
        _entry(0.1, "2026-12-06T01:00:00"),  # no time zone
        _entry(0.1, "2027-01-01T00:00:00+00:00"),  # from the future
    ],
)
def test_a_damaged_or_future_cache_is_asked_again(tmp_path: Path, body: str) -> None:
    (tmp_path / CACHE_FILE).write_text(body)
    lookup = ScriptedLookup(0.149)
    found = live_price("ml.m5.large", "ap-northeast-1", lookup=lookup, home=tmp_path, now=NOW)
    assert (found.usd_per_hour, found.cached) == (0.149, False)
    assert json.loads((tmp_path / CACHE_FILE).read_text())["version"] == 1


# -- the cache is not trusted (issue 25) ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("price", "why"), [(1e-300, "$1e-300/hour"), (149.0, "$149/hour"), (0.01, "$0.01/hour")]
)
def test_a_cached_price_far_from_the_table_is_ignored_once_and_asked_again(
    tmp_path: Path, price: float, why: str
) -> None:
    # a cached 1e-300 let deploy pass [costs] max_usd_per_day = 1.0 at "$0.00/day"
    (tmp_path / CACHE_FILE).write_text(_entry(price, "2026-12-06T01:00:00+00:00"))
    warnings: list[str] = []
    lookup = ScriptedLookup(0.149)
    found = live_price(
        "ml.m5.large", "ap-northeast-1", lookup=lookup, home=tmp_path, now=NOW, warn=warnings.append
    )
    assert (found.usd_per_hour, found.cached, len(lookup.calls)) == (0.149, False, 1)
    [line] = warnings
    assert line.startswith(f"{tmp_path / CACHE_FILE}: cached price ignored: ") and why in line
    assert "more than 10x from the built-in table's $0.149" in line
    # the entry is replaced: the next command reads the plausible price without a warning
    again = live_price(
        "ml.m5.large", "ap-northeast-1", lookup=lookup, home=tmp_path, now=NOW, warn=warnings.append
    )
    assert (again.usd_per_hour, again.cached, len(warnings)) == (0.149, True, 1)


def test_a_cached_price_within_the_factor_is_used(tmp_path: Path) -> None:
    (tmp_path / CACHE_FILE).write_text(_entry(1.49, "2026-12-06T01:00:00+00:00"))  # 10x: the edge
    found = live_price("ml.m5.large", "ap-northeast-1", lookup=ScriptedLookup(), home=tmp_path, now=NOW)
    assert (found.usd_per_hour, found.cached) == (1.49, True)


def test_an_implausible_answer_of_the_price_list_is_no_price(tmp_path: Path) -> None:
    found = live_price("ml.m5.large", "us-east-1", lookup=ScriptedLookup(1e-9), home=tmp_path, now=NOW)
    assert found.usd_per_hour is None
    assert found.describe() == (
        "AWS Price List API unavailable (answered $1e-09/hour for ml.m5.large is more than 10x from the "
        "built-in table's $0.115)"
    )


def test_a_type_the_table_does_not_know_is_checked_against_sagemakers_range() -> None:
    assert implausible_price("ml.p5.48xlarge", "ap-northeast-1", 113.07) is None
    assert implausible_price("ml.m5.large", "eu-west-1", 0.13) is None  # another region's table price
    assert "outside $0.005-$1000" in (implausible_price("ml.p5.48xlarge", "us-east-1", 1e6) or "")
    assert "outside $0.005-$1000" in (implausible_price("ml.x.large", None, 0.0) or "")


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory", "too-large"])
def test_a_cache_that_is_not_a_small_regular_file_is_ignored_without_blocking(
    tmp_path: Path, kind: str
) -> None:
    import os

    path = tmp_path / CACHE_FILE
    if kind == "fifo":
        os.mkfifo(path)  # nobody writes to it: reading it would block `status` for ever
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")  # reading it would fill the memory
    elif kind == "directory":
        path.mkdir()
    else:
        with path.open("wb") as fh:  # sparse: 224 MB on paper, nothing on the disk
            fh.truncate(224 * 1024 * 1024)
    warnings: list[str] = []
    found = live_price(
        "ml.m5.large",
        "ap-northeast-1",
        lookup=ScriptedLookup(0.149),
        home=tmp_path,
        now=NOW,
        warn=warnings.append,
    )
    assert (found.usd_per_hour, found.cached) == (0.149, False)
    [line] = warnings
    assert line.startswith(f"{path}: the price cache is ") and "ignored" in line
    if kind != "directory":  # replaced by a real cache (a directory cannot be replaced by a file)
        assert path.is_file() and not path.is_symlink()
        assert json.loads(path.read_text())["entries"]["ap-northeast-1/ml.m5.large"]["usd_per_hour"] == 0.149


@pytest.mark.parametrize(
    "body", [b"\xff\xfe garbage", b"[" * 100_000, b'{"version": 1, "entries": ' + b"[" * 5000]
)
def test_a_cache_that_is_not_utf8_json_or_too_deep_is_asked_again(tmp_path: Path, body: bytes) -> None:
    (tmp_path / CACHE_FILE).write_bytes(body)
    found = live_price("ml.m5.large", "ap-northeast-1", lookup=ScriptedLookup(0.149), home=tmp_path, now=NOW)
    assert (found.usd_per_hour, found.cached) == (0.149, False)


def test_cost_from_the_price_list_says_so_with_its_date(tmp_path: Path) -> None:
    live = live_price("ml.m5.large", "ap-northeast-1", lookup=ScriptedLookup(0.149), home=tmp_path, now=NOW)
    cost = endpoint_cost(region="ap-northeast-1", instance_type="ml.m5.large", instance_count=2, live=live)
    assert cost.source == "price list" and cost.price_date == "2026-12-06"
    assert cost.hourly_usd == pytest.approx(0.298) and cost.daily_usd == pytest.approx(7.15)
    assert cost.describe().endswith("; AWS Price List API, fetched 2026-12-06")
    assert cost.to_data()["approximate"] is False


def test_config_prices_win_over_the_price_list(tmp_path: Path) -> None:
    live = live_price("ml.m5.large", "ap-northeast-1", lookup=ScriptedLookup(0.149), home=tmp_path, now=NOW)
    cost = endpoint_cost(
        region="ap-northeast-1",
        instance_type="ml.m5.large",
        overrides={"ml.m5.large": 0.1},
        override_date="2026-06-01",
        live=live,
    )
    assert (cost.source, cost.hourly_usd) == ("config", 0.1)
    assert cost.describe().endswith("config prices as of 2026-06-01")


def test_fallback_to_the_table_names_its_date_source_and_why(tmp_path: Path) -> None:
    live = live_price(
        "ml.m5.large",
        "ap-northeast-1",
        lookup=ScriptedLookup(PriceUnavailable("no network")),
        home=tmp_path,
        now=NOW,
    )
    cost = endpoint_cost(region="ap-northeast-1", instance_type="ml.m5.large", live=live)
    assert cost.source == "built-in table" and cost.price_date == PRICE_DATE
    text = cost.describe()
    assert (
        f"built-in approximate table as of {PRICE_DATE} (https://aws.amazon.com/sagemaker/pricing/)" in text
    )
    assert text.endswith("AWS Price List API unavailable (no network)")
    unknown = endpoint_cost(region="eu-west-3", instance_type="ml.m5.large", live=live)
    assert not unknown.known and "AWS Price List API unavailable (no network)" in unknown.describe()


def test_projected_costs() -> None:
    cost = endpoint_cost(region="us-east-1", instance_type="ml.m5.large")
    assert cost.daily_usd == pytest.approx(2.76)
    assert cost.cost_for(24) == pytest.approx(2.76)
    assert cost.cost_for(-1) == 0
    serverless = endpoint_cost(region="us-east-1", serverless_memory_mb=2048)
    assert serverless.daily_usd is None and serverless.cost_for(24) is None


def test_the_daily_budget_guard() -> None:
    cost = endpoint_cost(region="us-east-1", instance_type="ml.m5.large", instance_count=2)  # $5.52/day
    assert over_budget(cost, None) is None
    assert over_budget(cost, 6.0) is None
    reason = over_budget(cost, 5.0)
    assert reason is not None
    assert reason.startswith("the endpoint would cost about $5.52/day (ml.m5.large x2, on demand; built-in")
    assert reason.endswith("above [costs] max_usd_per_day = 5")
    unknown = endpoint_cost(region="eu-west-3", instance_type="ml.m5.large")
    assert "cannot be checked against max_usd_per_day = 100" in (over_budget(unknown, 100.0) or "")
    assert over_budget(endpoint_cost(region="us-east-1", serverless_memory_mb=6144), 0.01) is None
