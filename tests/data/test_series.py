"""build_series: the two calendar policies, trimming, and refusing unusable price data."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pandas as pd
import pytest

from nikkei_deepar.data.series import Series, build_series
from nikkei_deepar.errors import DataError


def closes(rows: dict[str, float]) -> pd.Series:
    return pd.Series(list(rows.values()), index=pd.DatetimeIndex(list(rows)), dtype="float64")


# Thu 2025-12-30 .. Tue 2026-01-06, the way FRED writes it: a row for the New Year holidays, no weekends.
YEAR_END = closes(
    {
        "2025-12-29": 50_000.5,
        "2025-12-30": 50_339.48,
        "2026-01-01": math.nan,
        "2026-01-02": math.nan,
        "2026-01-05": 51_832.8,
        "2026-01-06": 52_518.08,
    }
)


def test_trading_days_drops_rows_without_a_close_and_keeps_real_dates() -> None:
    series = build_series(YEAR_END, policy="trading_days")

    assert series.policy == "trading_days"
    assert series.start == date(2025, 12, 29)
    assert series.target == (50_000.5, 50_339.48, 51_832.8, 52_518.08)
    assert series.dates == (date(2025, 12, 29), date(2025, 12, 30), date(2026, 1, 5), date(2026, 1, 6))
    assert series.last_date == date(2026, 1, 6)
    assert series.observations == 4
    assert len(series) == 4


def test_calendar_days_has_every_day_with_nan_where_there_is_no_close() -> None:
    series = build_series(YEAR_END, policy="calendar_days")

    assert series.start == date(2025, 12, 29)
    assert series.dates == tuple(date(2025, 12, 29) + timedelta(days=i) for i in range(9))
    assert series.target[:2] == (50_000.5, 50_339.48)
    assert all(math.isnan(value) for value in series.target[2:7])  # Dec 31 .. Jan 4
    assert series.target[7:] == (51_832.8, 52_518.08)
    assert series.observations == 4
    assert len(series) == 9
    assert series.last_date == date(2026, 1, 6)


@pytest.mark.parametrize("policy", ["trading_days", "calendar_days"])
def test_leading_and_trailing_rows_without_a_close_are_trimmed(policy: str) -> None:
    data = closes({"2026-01-02": math.nan, "2026-01-05": 1.0, "2026-01-06": 2.0, "2026-01-07": math.nan})

    series = build_series(data, policy=policy)  # type: ignore[arg-type]

    assert series.start == date(2026, 1, 5)
    assert series.last_date == date(2026, 1, 6)
    assert series.target == (1.0, 2.0)


def test_values_are_plain_python_floats() -> None:
    series = build_series(YEAR_END, policy="calendar_days")

    assert all(type(value) is float for value in series.target)
    assert all(type(day) is date for day in series.dates)


def test_nullable_float_dtype_with_pd_na_counts_as_missing() -> None:
    data = pd.Series([1.0, pd.NA, 3.0], index=pd.DatetimeIndex(["2026-01-05", "2026-01-06", "2026-01-07"]))
    data = data.astype("Float64")

    series = build_series(data, policy="trading_days")

    assert series.target == (1.0, 3.0)
    assert series.dates == (date(2026, 1, 5), date(2026, 1, 7))


@pytest.mark.parametrize("policy", ["trading_days", "calendar_days"])
def test_empty_series_is_a_data_error(policy: str) -> None:
    empty = pd.Series([], index=pd.DatetimeIndex([]), dtype="float64")

    with pytest.raises(DataError, match="empty"):
        build_series(empty, policy=policy)  # type: ignore[arg-type]


def test_series_without_any_close_is_a_data_error() -> None:
    with pytest.raises(DataError, match="no close at all"):
        build_series(closes({"2026-01-01": math.nan, "2026-01-02": math.nan}), policy="calendar_days")


def test_dates_out_of_order_or_repeated_are_a_data_error() -> None:
    backwards = pd.Series([1.0, 2.0], index=pd.DatetimeIndex(["2026-01-06", "2026-01-05"]))
    repeated = pd.Series([1.0, 2.0], index=pd.DatetimeIndex(["2026-01-05", "2026-01-05"]))

    with pytest.raises(DataError, match="2026-01-05 follows 2026-01-06"):
        build_series(backwards, policy="trading_days")
    with pytest.raises(DataError, match="not strictly ascending"):
        build_series(repeated, policy="calendar_days")


def test_missing_date_is_a_data_error() -> None:
    data = pd.Series([1.0, 2.0], index=pd.DatetimeIndex(["2026-01-05", None]))

    with pytest.raises(DataError, match="without a date"):
        build_series(data, policy="trading_days")


def test_infinite_close_is_a_data_error_naming_the_date() -> None:
    with pytest.raises(DataError, match="2026-01-06"):
        build_series(closes({"2026-01-05": 1.0, "2026-01-06": math.inf}), policy="trading_days")


def test_non_numeric_closes_are_a_data_error() -> None:
    data = pd.Series(["1.0", "abc"], index=pd.DatetimeIndex(["2026-01-05", "2026-01-06"]))

    with pytest.raises(DataError, match="not numbers"):
        build_series(data, policy="trading_days")


def test_index_that_is_not_dates_is_a_data_error() -> None:
    with pytest.raises(DataError, match="not dates"):
        build_series(pd.Series([1.0, 2.0]), policy="trading_days")


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="calendar policy"):
        build_series(YEAR_END, policy="business_days")  # type: ignore[arg-type]


def test_repr_does_not_dump_the_whole_history() -> None:
    series = Series(
        policy="calendar_days",
        start=date(2026, 1, 5),
        target=(1.0,) * 1000,
        dates=tuple(date(2026, 1, 5) + timedelta(days=i) for i in range(1000)),
    )

    assert repr(series) == "Series(policy='calendar_days', start=datetime.date(2026, 1, 5))"
