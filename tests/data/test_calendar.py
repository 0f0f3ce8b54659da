"""Tokyo Stock Exchange sessions and forecast step dates, checked against real 2026 holidays."""

from __future__ import annotations

import datetime
import subprocess
import sys
from datetime import date, timedelta

import pytest

from nikkei_deepar.data.calendar import (
    ForecastStep,
    calendar_span,
    deepar_prediction_length,
    forecast_dates,
    is_trading_day,
    known_range,
    next_trading_days,
    steps_for_horizon,
)
from nikkei_deepar.data.series import Series
from nikkei_deepar.errors import ConfigError, DataError

# Japanese public holidays on weekdays in 2026, plus the exchange's Dec 31 closure.
HOLIDAYS_2026 = [
    date(2026, 1, 1),  # New Year (exchange closed Jan 1-3)
    date(2026, 1, 2),
    date(2026, 1, 12),  # Coming of Age Day
    date(2026, 2, 11),  # National Foundation Day
    date(2026, 2, 23),  # Emperor's Birthday
    date(2026, 3, 20),  # Vernal Equinox Day
    date(2026, 4, 29),  # Showa Day
    date(2026, 5, 4),  # Greenery Day
    date(2026, 5, 5),  # Children's Day
    date(2026, 5, 6),  # substitute for Constitution Day (Sunday May 3)
    date(2026, 7, 20),  # Marine Day
    date(2026, 8, 11),  # Mountain Day
    date(2026, 9, 21),  # Respect for the Aged Day
    date(2026, 9, 22),  # citizens' holiday between two holidays (Silver Week)
    date(2026, 9, 23),  # Autumnal Equinox Day
    date(2026, 10, 12),  # Sports Day
    date(2026, 11, 3),  # Culture Day
    date(2026, 11, 23),  # Labour Thanksgiving Day
    date(2026, 12, 31),  # year-end closure
]


def trading_series(last: date) -> Series:
    return Series(policy="trading_days", start=last, target=(1.0,), dates=(last,))


def calendar_series(last: date) -> Series:
    return Series(policy="calendar_days", start=last, target=(1.0,), dates=(last,))


def test_year_end_closure_is_skipped() -> None:
    assert next_trading_days(date(2025, 12, 30), 3) == [date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 7)]
    assert not is_trading_day(date(2025, 12, 31))
    assert not is_trading_day(date(2026, 1, 2))  # a Friday, still closed


def test_golden_week_is_skipped() -> None:
    assert next_trading_days(date(2026, 4, 28), 4) == [
        date(2026, 4, 30),
        date(2026, 5, 1),
        date(2026, 5, 7),
        date(2026, 5, 8),
    ]


def test_friday_is_followed_by_monday_unless_monday_is_a_holiday() -> None:
    assert next_trading_days(date(2026, 2, 6), 1) == [date(2026, 2, 9)]
    assert next_trading_days(date(2026, 2, 20), 1) == [date(2026, 2, 24)]  # Mon 23: Emperor's Birthday


def test_after_may_be_a_weekend_day() -> None:
    assert next_trading_days(date(2026, 3, 7), 2) == [date(2026, 3, 9), date(2026, 3, 10)]


def test_zero_days_is_empty_and_negative_is_refused() -> None:
    assert next_trading_days(date(2026, 3, 6), 0) == []
    with pytest.raises(ValueError, match="negative"):
        next_trading_days(date(2026, 3, 6), -1)


@pytest.mark.parametrize("holiday", HOLIDAYS_2026, ids=str)
def test_japanese_holidays_2026_are_not_trading_days(holiday: date) -> None:
    assert holiday.weekday() < 5
    assert not is_trading_day(holiday)


def test_every_2026_weekday_agrees_with_exchange_calendars_and_the_holiday_list() -> None:
    import exchange_calendars

    xtks = exchange_calendars.get_calendar("XTKS", start="2026-01-01", end="2026-12-31")
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(365)]

    ours = [day for day in days if is_trading_day(day)]

    assert ours == [stamp.date() for stamp in xtks.sessions]
    assert [day for day in days if day.weekday() < 5 and not is_trading_day(day)] == HOLIDAYS_2026
    assert len(ours) == 261 - len(HOLIDAYS_2026)


def test_known_range_runs_from_1997_to_the_last_equinox_year() -> None:
    first, last = known_range()

    assert first == date(1997, 1, 1)
    assert last.month == 12 and last.day == 31
    assert last.year >= 2035


def test_dates_outside_what_exchange_calendars_knows_are_a_data_error() -> None:
    first, last = known_range()

    with pytest.raises(DataError, match=r"after .* the last date exchange_calendars knows"):
        is_trading_day(last + timedelta(days=1))
    with pytest.raises(DataError, match="before 1997-01-01"):
        is_trading_day(first - timedelta(days=1))
    with pytest.raises(DataError, match="reach past"):
        next_trading_days(last - timedelta(days=3), 10)


def test_forecast_dates_for_trading_days_are_the_next_sessions() -> None:
    steps = forecast_dates(trading_series(date(2025, 12, 30)), 3)

    assert steps == [
        ForecastStep(step=1, date=date(2026, 1, 5), trading=True),
        ForecastStep(step=2, date=date(2026, 1, 6), trading=True),
        ForecastStep(step=3, date=date(2026, 1, 7), trading=True),
    ]


def test_forecast_dates_for_calendar_days_flag_closed_days() -> None:
    steps = forecast_dates(calendar_series(date(2026, 5, 1)), 7)  # a Friday before Golden Week's end

    assert [step.date for step in steps] == [date(2026, 5, 1) + timedelta(days=i) for i in range(1, 8)]
    assert [step.trading for step in steps] == [False, False, False, False, False, True, True]
    assert [step.step for step in steps] == list(range(1, 8))


def test_calendar_import_is_lazy() -> None:
    code = (
        "import sys, nikkei_deepar.data.calendar, nikkei_deepar.data.inference;"
        "sys.exit('exchange_calendars' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# --- the horizon in trading days ----------------------------------------------------------------------


def test_calendar_span_reaches_the_nth_session_after_every_session() -> None:
    # 2019's ten-day Golden Week (Apr 27 - May 6): from Fri Apr 26 the 5th session is Mon May 13
    assert next_trading_days(date(2019, 4, 26), 5)[-1] == date(2019, 5, 13)
    assert calendar_span(5) == (date(2019, 5, 13) - date(2019, 4, 26)).days == 17
    assert calendar_span(1) == (date(2019, 5, 7) - date(2019, 4, 26)).days


def test_steps_for_horizon_follow_the_policy() -> None:
    assert steps_for_horizon("trading_days", 5) == 5
    assert steps_for_horizon("calendar_days", 5) == calendar_span(5)


def test_a_configured_prediction_length_too_short_for_the_horizon_is_refused() -> None:
    with pytest.raises(
        ConfigError, match=r"prediction_length = 7 .* cannot hold .* 5 trading days"
    ) as caught:
        deepar_prediction_length("calendar_days", 5, 7)
    assert "remove prediction_length" in (caught.value.hint or "")
    assert deepar_prediction_length("calendar_days", 5, None) == 17
    assert deepar_prediction_length("calendar_days", 5, 20) == 20
    assert deepar_prediction_length("trading_days", 5, 7) == 7
    with pytest.raises(ConfigError):
        deepar_prediction_length("trading_days", 5, 4)


# -- how many sessions have closed since a last close (stale data) -------------------------------------
def _tokyo(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    from zoneinfo import ZoneInfo

    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=ZoneInfo("Asia/Tokyo"))


@pytest.mark.parametrize(
    ("last_close", "now", "expected"),
    [
        # the day's own close is in the data: nothing has closed since
        (datetime.date(2025, 12, 26), _tokyo(datetime.date(2025, 12, 26), 18, 30), 0),
        # Monday morning: Monday is still trading, the weekend holds no session
        (datetime.date(2025, 12, 26), _tokyo(datetime.date(2025, 12, 29), 9, 0), 0),
        (datetime.date(2025, 12, 26), _tokyo(datetime.date(2025, 12, 29), 15, 29), 0),
        (datetime.date(2025, 12, 26), _tokyo(datetime.date(2025, 12, 29), 15, 30), 1),
        # the year-end closure (Dec 31 - Jan 3) and a weekend: 29, 30, then Jan 5
        (datetime.date(2025, 12, 26), _tokyo(datetime.date(2026, 1, 5), 16, 0), 3),
        # a year later (the shipped sample data on 2026-12-07; exchange_calendars counts 227 too)
        (datetime.date(2025, 12, 26), datetime.datetime(2026, 12, 7, 15, 0, tzinfo=datetime.UTC), 227),
        # data from "tomorrow" (a clock behind Tokyo's) is not negative
        (datetime.date(2025, 12, 29), _tokyo(datetime.date(2025, 12, 26), 18, 0), 0),
    ],
)
def test_sessions_since_counts_the_closes_missed(
    last_close: datetime.date, now: datetime.datetime, expected: int
) -> None:
    from nikkei_deepar.data.calendar import sessions_since

    assert sessions_since(last_close, now=now) == expected


def test_sessions_since_needs_an_aware_time() -> None:
    from nikkei_deepar.data.calendar import sessions_since

    with pytest.raises(ValueError, match="aware"):
        sessions_since(datetime.date(2025, 12, 26), now=datetime.datetime(2026, 1, 5, 12, 0))
