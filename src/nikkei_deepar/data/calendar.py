"""Tokyo Stock Exchange sessions (exchange_calendars' "XTKS"), and the dates of forecast steps.

Pure: no network, no printing, no writes. The sessions are built once per process, from one of two
sources that give the same answer:

- the session table shipped beside this module (``xtks_sessions.json``), generated from
  exchange_calendars itself and checked against it by ``tests/data/test_calendar_table.py``. It lists the
  weekdays the exchange is closed (and any weekend session) over the known span, so reading it costs a few
  milliseconds and imports neither exchange_calendars nor pandas, where the library costs about 0.8 s
  (importing it pulls pandas, then building the calendar over 1997-2040). It is used unless the installed
  exchange_calendars is newer than the release that generated it. It also matters for correctness:
  gluonts (the [local] extra) pins toolz below 1.0, so a one-shot `pip install '.[local]'` resolves
  exchange_calendars 4.11.1, whose equinox table ends in 2025; the table (from 4.13) runs to 2040.
- otherwise exchange_calendars itself (a newer release, or a missing or unreadable table). After
  upgrading exchange-calendars, regenerate the table with ``python -m nikkei_deepar.data.calendar``.

The calendar covers what exchange_calendars knows: from its XTKS lower bound (1997-01-01) to the
end of the last year for which it lists both equinox holidays (they are announced a year ahead, so
the library keeps them as a table; 2040 in exchange_calendars 4.13). Beyond that it would still
answer, with the equinoxes silently missing, so dates outside that span raise DataError instead.
"""

from __future__ import annotations

import bisect
import datetime
import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from nikkei_deepar.data.series import Series
from nikkei_deepar.errors import ConfigError, DataError

CALENDAR_NAME = "XTKS"
TABLE_FORMAT = "nikkei-deepar/xtks-sessions/v1"
TABLE_PATH = Path(__file__).with_name("xtks_sessions.json")
_LIBRARY = "exchange-calendars"


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


TOKYO = ZoneInfo("Asia/Tokyo")
CLOSE_TIME = datetime.time(15, 30)
"""When a Tokyo session's close is final (15:30 JST since November 2024; 15:00 before, so 15:30 is safe)."""


def sessions_since(last_close: datetime.date, *, now: datetime.datetime) -> int:
    """How many XTKS sessions after `last_close` have closed by `now` (an aware time): 0 when the data
    holds the latest close. A session counts once its close (CLOSE_TIME in Tokyo) has passed, so data
    read in the morning is not one session behind for a session still trading."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    local = now.astimezone(TOKYO)
    today = local.date()
    sessions = _sessions()
    _check_known(today, sessions)
    last_closed = today if local.time() >= CLOSE_TIME else today - datetime.timedelta(days=1)
    if last_close >= last_closed:
        return 0
    _check_known(last_close, sessions)
    start = bisect.bisect_right(sessions.dates, last_close)
    end = bisect.bisect_right(sessions.dates, last_closed)
    return max(end - start, 0)


def is_trading_day(day: datetime.date) -> bool:
    """Whether the Tokyo Stock Exchange holds a session on `day`."""
    sessions = _sessions()
    _check_known(day, sessions)
    return day in sessions.lookup


def forecast_dates(series: Series, prediction_length: int) -> list[ForecastStep]:
    """The date of each of DeepAR's `prediction_length` steps after the series' last point.

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


SPAN_SINCE = datetime.date(2000, 1, 1)
"""`calendar_span` looks at every session from this date to the end of the table."""


def calendar_span(trading_days: int) -> int:
    """The calendar days DeepAR must forecast (``time_freq = D``, closed days as NaN) so that its last
    step reaches the `trading_days`-th session after *any* session from 2000 to the end of the table.

    Weekends, holidays, the year-end closure and the longest Golden Weeks are all inside: for 5 trading
    days it is 17 (the ten-day closure of 2019 sets it; 13 from 2020 on). Cached per value.
    """
    if isinstance(trading_days, bool) or not isinstance(trading_days, int) or trading_days < 1:
        raise ValueError(f"trading_days must be a positive integer, got {trading_days!r}")
    return _calendar_span(trading_days)


@functools.cache
def _calendar_span(trading_days: int) -> int:
    dates = _sessions().dates
    first = bisect.bisect_left(dates, SPAN_SINCE)
    return max((dates[i + trading_days] - dates[i]).days for i in range(first, len(dates) - trading_days))


def steps_for_horizon(policy: str, trading_days: int) -> int:
    """DeepAR's `prediction_length` for a forecast of `trading_days` sessions under `policy`:
    the horizon itself for ``trading_days``, `calendar_span` for ``calendar_days``."""
    return trading_days if policy == "trading_days" else calendar_span(trading_days)


def deepar_prediction_length(policy: str, horizon_trading_days: int, configured: int | None) -> int:
    """The `prediction_length` DeepAR is trained with: `configured` if the config sets one and it
    reaches `horizon_trading_days` sessions after any origin, else `steps_for_horizon`.

    Raises ConfigError for a configured length too short for the horizon (old configs said
    ``prediction_length = 7`` meaning seven calendar days: over the year-end closure or Golden Week
    that is two or three trading days, not the five a user asked for).
    """
    needed = steps_for_horizon(policy, horizon_trading_days)
    if configured is None:
        return needed
    if configured < needed:
        unit = "calendar days" if policy == "calendar_days" else "trading days"
        raise ConfigError(
            f"training.hyperparameters.prediction_length = {configured} ({unit}, calendar = {policy!r}) "
            f"cannot hold forecast.horizon_trading_days = {horizon_trading_days} trading days after every "
            f"session (the year-end closure and Golden Week need {needed})",
            hint="remove prediction_length (the tool derives it from [forecast] horizon_trading_days) "
            f"or set it to at least {needed}",
        )
    return configured


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
    """The shipped table, unless the installed library is newer than the one that made it."""
    installed = library_version()
    made_by = table_version(TABLE_PATH)
    if made_by is not None and (installed is None or _release(installed) <= _release(made_by)):
        table = read_table(TABLE_PATH, version=made_by)
        if table is not None:
            return table
    return library_sessions()


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def table_version(path: Path) -> str | None:
    """The exchange_calendars version that generated the table at `path` (None if unreadable)."""
    try:
        made_by = json.loads(path.read_bytes()).get("exchange_calendars")
    except (OSError, ValueError, AttributeError):
        return None
    return made_by if isinstance(made_by, str) else None


def library_version() -> str | None:
    """The installed exchange_calendars version, from its package metadata (it is not imported)."""
    from importlib import metadata

    try:
        return metadata.version(_LIBRARY)
    except metadata.PackageNotFoundError:
        return None


def library_sessions() -> _Sessions:
    """The sessions as exchange_calendars computes them (imports it, and pandas: ~0.8 s)."""
    calendar = _calendar()
    first_known, last_known = _known_span()
    dates = tuple(stamp.date() for stamp in calendar.sessions)
    return _Sessions(first_known=first_known, last_known=last_known, dates=dates, lookup=frozenset(dates))


def table_document(sessions: _Sessions, *, version: str) -> dict[str, Any]:
    """The table for `sessions`: the span, the weekdays without a session, and sessions on weekends."""
    closed = [
        day
        for day in _days(sessions.first_known, sessions.last_known)
        if day.weekday() < 5 and day not in sessions.lookup
    ]
    weekend = [day for day in sessions.dates if day.weekday() >= 5]
    return {
        "format": TABLE_FORMAT,
        "calendar": CALENDAR_NAME,
        "exchange_calendars": version,
        "first_known": sessions.first_known.isoformat(),
        "last_known": sessions.last_known.isoformat(),
        "sessions": len(sessions.dates),
        "closed_weekdays": [day.isoformat() for day in closed],
        "weekend_sessions": [day.isoformat() for day in weekend],
    }


def write_table(path: Path = TABLE_PATH) -> Path:
    """(Re)generate the table from the installed exchange_calendars; one date a line, for readable diffs."""
    version = library_version()
    if version is None:
        raise RuntimeError(f"{_LIBRARY} is not installed")
    document = table_document(library_sessions(), version=version)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def read_table(path: Path, *, version: str) -> _Sessions | None:
    """The sessions from the table at `path`; None unless it is readable and made by `version`."""
    try:
        doc = json.loads(path.read_bytes())
        if (
            doc.get("format") != TABLE_FORMAT
            or doc.get("calendar") != CALENDAR_NAME
            or doc.get("exchange_calendars") != version
        ):
            return None
        first_known = datetime.date.fromisoformat(doc["first_known"])
        last_known = datetime.date.fromisoformat(doc["last_known"])
        closed = frozenset(datetime.date.fromisoformat(d) for d in doc["closed_weekdays"])
        weekend = frozenset(datetime.date.fromisoformat(d) for d in doc["weekend_sessions"])
        dates = tuple(
            day
            for day in _days(first_known, last_known)
            if (day.weekday() < 5 and day not in closed) or day in weekend
        )
        if not dates or len(dates) != doc["sessions"]:
            return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return _Sessions(first_known=first_known, last_known=last_known, dates=dates, lookup=frozenset(dates))


def _days(first: datetime.date, last: datetime.date) -> map[datetime.date]:
    return map(datetime.date.fromordinal, range(first.toordinal(), last.toordinal() + 1))


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


if __name__ == "__main__":  # python -m nikkei_deepar.data.calendar: regenerate the shipped table
    print(f"wrote {write_table()} from {_LIBRARY} {library_version()}")


CALENDAR_FEATURES = ("day_of_week", "days_since_session", "closed")
"""The `dynamic_feat` rows `calendar_features` gives, in order (`[data] calendar_features = true`)."""

_GAP_CAP = 10  # days since the previous session, capped (the longest Golden Week closure is 10 days)


def calendar_features(dates: Sequence[datetime.date]) -> list[list[float]]:
    """DeepAR `dynamic_feat` known ahead for each date, one row per name in `CALENDAR_FEATURES`:

    - day of week, Monday -0.5 to Sunday 0.5;
    - calendar days since the previous XTKS session (1 on a Tuesday, 3 on a Monday after a weekend,
      up to 10 after Golden Week), capped at 10, scaled to [-0.4, 0.5];
    - 0.5 if the exchange is closed that day (weekend, holiday, year-end closure), else -0.5.

    Every value is finite (DeepAR takes no missing value in dynamic_feat). Raises DataError for a date
    outside the known calendar.
    """
    sessions = _sessions()
    rows: list[list[float]] = [[], [], []]
    for day in dates:
        _check_known(day, sessions)
        position = bisect.bisect_left(sessions.dates, day)
        gap = (day - sessions.dates[position - 1]).days if position > 0 else 1
        rows[0].append(day.weekday() / 6 - 0.5)
        rows[1].append(min(gap, _GAP_CAP) / _GAP_CAP - 0.5)
        rows[2].append(-0.5 if day in sessions.lookup else 0.5)
    return rows


def horizon_dates(series: Series, prediction_length: int) -> list[datetime.date]:
    """The series' dates followed by the dates of DeepAR's next `prediction_length` steps (the
    `len(target) + prediction_length` dates an inference request's dynamic_feat must cover)."""
    return list(series.dates) + [step.date for step in forecast_dates(series, prediction_length)]
