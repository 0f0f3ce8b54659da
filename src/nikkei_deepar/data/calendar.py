"""Tokyo Stock Exchange sessions (exchange_calendars' "XTKS"), and the dates of forecast steps.

Pure: no network, no printing. exchange_calendars is imported inside the functions (importing it
costs about half a second) and its calendar is built once per process.

The calendar covers what exchange_calendars knows: from its XTKS lower bound (1997-01-01) to the
end of the last year for which it lists both equinox holidays (they are announced a year ahead, so
the library keeps them as a table; 2040 in exchange_calendars 4.13). Beyond that it would still
answer, with the equinoxes silently missing, so dates outside that span raise DataError instead.
"""

from __future__ import annotations

import bisect
import datetime
import functools
from dataclasses import dataclass
from typing import Any

from nikkei_deepar.data.series import Series
from nikkei_deepar.errors import DataError

CALENDAR_NAME = "XTKS"


@dataclass(frozen=True)
class ForecastStep:
    """Forecast step `step` (1-based) falls on `date`; `trading` says whether the exchange is open."""

    step: int
    date: datetime.date
    trading: bool


@dataclass(frozen=True)
class _Sessions:
    first_known: datetime.date
    last_known: datetime.date
    dates: tuple[datetime.date, ...]  # sorted
    lookup: frozenset[datetime.date]


def next_trading_days(after: datetime.date, n: int) -> list[datetime.date]:
    """The `n` XTKS sessions strictly after `after` (which need not be a session itself).

    Weekends, Japanese public holidays and the year-end closure (Dec 31 - Jan 3) are skipped.
    """
    if n < 0:
        raise ValueError(f"n must not be negative, got {n}")
    sessions = _sessions()
    _check_known(after, sessions)
    position = bisect.bisect_right(sessions.dates, after)
    found = list(sessions.dates[position : position + n])
    if len(found) < n:
        raise DataError(
            f"the {n} trading days after {after} reach past {sessions.last_known}, the last date "
            f"exchange_calendars knows Tokyo Stock Exchange holidays for",
            hint="upgrade exchange-calendars or forecast fewer steps",
        )
    return found


def is_trading_day(day: datetime.date) -> bool:
    """Whether the Tokyo Stock Exchange holds a session on `day`."""
    sessions = _sessions()
    _check_known(day, sessions)
    return day in sessions.lookup


def forecast_dates(series: Series, prediction_length: int) -> list[ForecastStep]:
    """The date of each forecast step after the series' last point.

    - ``trading_days``: step i is the i-th XTKS session after `series.last_date` (all trading).
    - ``calendar_days``: step i is ``last_date + i`` days; `trading` says whether XTKS is open then.
    """
    if series.policy == "trading_days":
        days = next_trading_days(series.last_date, prediction_length)
        return [ForecastStep(step=i, date=day, trading=True) for i, day in enumerate(days, start=1)]
    steps = []
    for i in range(1, prediction_length + 1):
        day = series.last_date + datetime.timedelta(days=i)
        steps.append(ForecastStep(step=i, date=day, trading=is_trading_day(day)))
    return steps


def known_range() -> tuple[datetime.date, datetime.date]:
    """The first and last date this module can answer for (see the module docstring)."""
    sessions = _sessions()
    return sessions.first_known, sessions.last_known


def _check_known(day: datetime.date, sessions: _Sessions) -> None:
    if day < sessions.first_known:
        raise DataError(
            f"{day} is before {sessions.first_known}, the first date exchange_calendars knows "
            "Tokyo Stock Exchange holidays for",
            hint="use prices from 1997 onwards",
        )
    if day > sessions.last_known:
        raise DataError(
            f"{day} is after {sessions.last_known}, the last date exchange_calendars knows "
            "Tokyo Stock Exchange holidays for",
            hint="upgrade exchange-calendars",
        )


@functools.cache
def _sessions() -> _Sessions:
    calendar = _calendar()
    first_known, last_known = _known_span()
    dates = tuple(stamp.date() for stamp in calendar.sessions)
    return _Sessions(first_known=first_known, last_known=last_known, dates=dates, lookup=frozenset(dates))


@functools.cache
def _calendar() -> Any:
    """The XTKS calendar over the whole known span (built once: ~0.45 s for 1997-2040)."""
    import exchange_calendars

    first_known, last_known = _known_span()
    # Without start/end the library covers only ~20 years back to one year ahead of today.
    return exchange_calendars.get_calendar(
        CALENDAR_NAME, start=first_known.isoformat(), end=last_known.isoformat()
    )


@functools.cache
def _known_span() -> tuple[datetime.date, datetime.date]:
    from exchange_calendars import xtks_holidays
    from exchange_calendars.exchange_calendar_xtks import XTKSExchangeCalendar

    first = XTKSExchangeCalendar.bound_min().date()
    tables = [getattr(xtks_holidays, name, None) for name in ("VernalEquinoxes", "AutumnalEquinoxes")]
    if all(tables):
        last_year = min(max(stamp.year for stamp in table) for table in tables if table)
        return first, datetime.date(last_year, 12, 31)
    # The tables moved: fall back to the library's own default horizon (about a year ahead).
    last = XTKSExchangeCalendar.default_end().date()
    return first, last
