"""How status and deploy word an endpoint's expiry and its cost by then."""

from __future__ import annotations

import datetime as dt

import pytest

from nikkei_deepar.costs import endpoint_cost
from nikkei_deepar.expiry_view import ExpiryView

NOW = dt.datetime(2026, 12, 6, 2, 0, tzinfo=dt.UTC)


def test_expiry_with_cost_by_then() -> None:
    cost = endpoint_cost(region="us-east-1", instance_type="ml.m5.large")  # $0.115/h
    view = ExpiryView(
        at=NOW + dt.timedelta(hours=20),
        now=NOW,
        created=NOW - dt.timedelta(hours=4),
        cost=cost,
        schedule="nikkei-deepar-expiry",
    )
    assert view.cost_by_then == pytest.approx(2.76)
    assert view.line() == (
        "expires 2026-12-06 22:00 UTC (in 20h), by schedule nikkei-deepar-expiry; "
        "about $2.76 by then (24.0 h at the price above)"
    )
    data = view.to_data()
    assert data == {
        "expires_at": "2026-12-06T22:00:00+00:00",
        "expires_in_seconds": 72000,
        "cost_by_expiry_usd": 2.76,
        "enforced_by": "nikkei-deepar-expiry",
    }


def test_no_expiry_says_it_bills_until_teardown() -> None:
    view = ExpiryView(at=None, now=NOW)
    assert view.line().startswith("no expiry: it bills until")
    assert view.to_data()["expires_at"] is None


def test_passed_expiry_and_unknown_cost() -> None:
    view = ExpiryView(at=NOW - dt.timedelta(minutes=5), now=NOW)
    assert view.passed
    assert view.line() == "expired at 2026-12-06 01:55 UTC (deleted by then, or being deleted)"
    unknown = endpoint_cost(region="eu-west-3", instance_type="ml.m5.large")
    soon = ExpiryView(at=NOW + dt.timedelta(seconds=30), now=NOW, created=NOW, cost=unknown)
    assert soon.cost_by_then is None
    assert soon.line() == "expires 2026-12-06 02:00 UTC (in <1m)"
