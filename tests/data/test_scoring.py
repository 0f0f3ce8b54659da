"""`data.scoring`: kept forecasts against closes, on small hand-made cases scored by hand here."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from nikkei_deepar.data.scoring import score_forecasts, wilson_interval
from nikkei_deepar.history import ForecastPoint, ForecastRecord, Workspace

D = dt.date


def _points(dates: list[dt.date], mean: float, low: float, high: float) -> list[ForecastPoint]:
    return [
        ForecastPoint(step=i, date=day, mean=mean, quantiles={"0.1": low, "0.5": mean, "0.9": high})
        for i, day in enumerate(dates, start=1)
    ]


def _record(origin: dt.date, dates: list[dt.date], *, mean: float = 100.0, **changes: Any) -> ForecastRecord:
    values: dict[str, Any] = {
        "origin": origin,
        "last_close": 100.0,
        "calendar": "calendar_days",
        "quantiles": ["0.1", "0.5", "0.9"],
        "forecast": _points(dates, mean, mean - 10, mean + 10),
        "random_walk": _points(dates, 100.0, 80.0, 120.0),
        "random_walk_weight": 0.8,
        "mase_scale": 5.0,
        "job": "j",
        "data_sha256": "ab" * 32,
        "backend": "local",
        "workspace": Workspace(project="p", stage="s"),
        "mode": "local",
        "source": "e",
    }
    values.update(changes)
    return ForecastRecord(**values)


def test_wilson_interval_matches_the_textbook_values() -> None:
    # 8 of 10: the Wilson 95% interval is 0.490 .. 0.943 (Agresti & Coull 1998, table values)
    low, high = wilson_interval(8, 10)
    assert (round(low, 3), round(high, 3)) == (0.490, 0.943)
    assert wilson_interval(0, 5)[0] == 0.0 and wilson_interval(5, 5)[1] == 1.0
    with pytest.raises(ValueError):
        wilson_interval(0, 0)


def test_one_forecast_by_hand() -> None:
    record = _record(D(2026, 1, 5), [D(2026, 1, 6), D(2026, 1, 7)])
    closes = {D(2026, 1, 5): 100.0, D(2026, 1, 6): 105.0, D(2026, 1, 7): 115.0}
    card = score_forecasts([record], closes)
    first, second = card.horizons
    # step 1: y=105 inside [90, 110]; QL: q0.1=90 -> 2*15*0.1=3; q0.5=100 -> 2*5*0.5=5; q0.9=110 -> 2*5*0.1=1
    assert first.n == 1 and first.forecast.wql == pytest.approx((3 + 5 + 1) / 3 / 105)
    assert first.forecast.coverage80 == 1.0 and first.forecast.mase == pytest.approx(5 / 5.0)
    # step 2: y=115 above q0.9=110: outside; the random walk's band [80, 120] holds it
    assert second.forecast.coverage80 == 0.0 and second.random_walk.coverage80 == 1.0
    assert second.random_walk.mase == pytest.approx(15 / 5.0)
    ql_model = 2 * 25 * 0.1 + 2 * 15 * 0.5 + 2 * 5 * 0.9
    ql_walk = 2 * 35 * 0.1 + 2 * 15 * 0.5 + 2 * 5 * 0.1
    assert second.skill_ratio == pytest.approx(ql_model / ql_walk)
    assert (card.complete, card.partial, card.waiting, card.superseded) == (1, 0, 0, 0)
    assert card.overall.n == 2 and card.through == D(2026, 1, 7)


def test_closes_not_yet_in_are_waiting_and_a_gap_is_missing_never_guessed() -> None:
    record = _record(D(2026, 1, 5), [D(2026, 1, 6), D(2026, 1, 7), D(2026, 1, 8)])
    closes = {D(2026, 1, 5): 100.0, D(2026, 1, 7): 101.0}  # no close on the 6th, nothing after the 7th
    card = score_forecasts([record], closes)
    steps = [(h.step, h.n, h.waiting, h.missing) for h in card.horizons]
    assert steps == [(1, 0, 0, 1), (2, 1, 0, 0), (3, 0, 1, 0)]
    assert (card.complete, card.partial, card.waiting) == (0, 1, 0)
    assert card.horizons[0].forecast.wql is None and card.horizons[0].skill_ratio is None


def test_the_last_forecast_issued_for_an_origin_is_scored_the_others_counted() -> None:
    early = _record(
        D(2026, 1, 5), [D(2026, 1, 6)], mean=50.0, issued_at=dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)
    )
    late = _record(
        D(2026, 1, 5), [D(2026, 1, 6)], mean=104.0, issued_at=dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)
    )
    card = score_forecasts([late, early], {D(2026, 1, 6): 104.0})
    assert card.superseded == 1 and [o.record.id for o in card.outcomes] == [late.id]
    assert card.horizons[0].forecast.mase == 0.0


def test_nothing_scored_yet_says_so_in_one_line() -> None:
    card = score_forecasts([_record(D(2026, 1, 5), [D(2026, 1, 6)])], {D(2026, 1, 5): 100.0})
    assert card.pairs == 0 and card.waiting == 1
    assert card.line() == "1 forecasts kept, none scored yet (no closes after their dates)"


def test_wql_averages_over_the_levels_every_forecast_printed() -> None:
    wide = _record(D(2026, 1, 5), [D(2026, 1, 6)])
    narrow = _record(
        D(2026, 1, 6),
        [D(2026, 1, 7)],
        quantiles=["0.5"],
        forecast=[ForecastPoint(step=1, date=D(2026, 1, 7), mean=100.0, quantiles={"0.5": 100.0})],
        random_walk=[ForecastPoint(step=1, date=D(2026, 1, 7), mean=100.0, quantiles={"0.5": 100.0})],
    )
    card = score_forecasts([wide, narrow], {D(2026, 1, 6): 100.0, D(2026, 1, 7): 100.0})
    assert card.levels == ("0.5",)
    assert card.horizons[0].forecast.coverage80 is None
    assert card.notes == ("no 80% coverage: the forecasts did not all print the 0.1 and 0.9 quantiles",)


def test_a_forecast_without_a_scale_has_no_mase() -> None:
    record = _record(D(2026, 1, 5), [D(2026, 1, 6)], mase_scale=None)
    card = score_forecasts([record], {D(2026, 1, 6): 100.0})
    assert card.horizons[0].forecast.mase is None
    assert card.horizons[0].forecast.wql == pytest.approx((2 + 0 + 2) / 3 / 100)  # q0.1, q0.5, q0.9


def test_the_status_line() -> None:
    records = [_record(D(2026, 1, 5), [D(2026, 1, 6)]), _record(D(2026, 1, 6), [D(2026, 1, 7)])]
    card = score_forecasts(records, {D(2026, 1, 6): 105.0})
    line = card.line()
    assert line.startswith("1 forecasts scored (1 steps): wQL ")
    assert "vs the random walk's" in line and "80% coverage 100% (21%-100%)" in line
    assert line.endswith("; 1 waiting for closes")
