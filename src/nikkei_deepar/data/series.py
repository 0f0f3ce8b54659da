"""The one time series DeepAR sees, built from daily closes under an explicit calendar policy.

Pure: no network, no printing. pandas is only the input type (the price reader's `pd.Series`);
the work here is plain Python so that importing this module stays cheap.

DeepAR has no business-day frequency (`B` is not a documented `time_freq`), so trading days need a
policy, and it is a real modelling choice (see docs LOCAL-DEEPAR.md):

- ``"trading_days"``: consecutive trading days at frequency ``D``. Rows without a close (the holiday
  rows FRED and Yahoo emit) are dropped; point ``i`` is the ``i``-th trading day, but DeepAR believes it
  is ``start + i`` calendar days. Its date features (day of week, day of month, ...) therefore lie,
  increasingly so along the series (a Monday after a weekend is one "day" after the Friday). `dates` keeps
  the real trading date of each point so forecasts can be dated honestly.
- ``"calendar_days"``: every calendar day from the first to the last close at frequency ``D``;
  weekends, holidays and rows without a close are ``NaN`` (about 30% of the points). Date features are
  honest; the model has to cope with the gaps.

Both policies trim leading and trailing rows without a close, so `start` is the first close's date and
`last_date` the last close's date under either policy.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, get_args

from nikkei_deepar.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

CalendarPolicy = Literal["trading_days", "calendar_days"]
CALENDAR_POLICIES: tuple[CalendarPolicy, ...] = get_args(CalendarPolicy)

_ONE_DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Series:
    """A DeepAR target at frequency ``D``: point ``i`` is what the model calls ``start + i`` days.

    `dates[i]` is the real calendar date of point ``i`` (equal to ``start + i`` days only under the
    ``calendar_days`` policy). ``NaN`` in `target` means missing.
    """

    policy: CalendarPolicy
    start: datetime.date
    # Kept out of repr: a few thousand numbers would drown any log line or assertion message.
    target: tuple[float, ...] = field(repr=False)
    dates: tuple[datetime.date, ...] = field(repr=False)

    def __post_init__(self) -> None:
        if not self.target:
            raise DataError("the series is empty", hint="check the price file has at least one close")
        if len(self.dates) != len(self.target):
            raise ValueError(f"{len(self.dates)} dates for {len(self.target)} target values")
        if self.dates[0] != self.start:
            raise ValueError(f"start {self.start} is not the first date {self.dates[0]}")

    @property
    def last_date(self) -> datetime.date:
        """The real date of the last point (the last close: both policies trim trailing gaps)."""
        return self.dates[-1]

    @property
    def observations(self) -> int:
        """How many points hold a value (not NaN)."""
        return sum(1 for value in self.target if not math.isnan(value))

    def __len__(self) -> int:
        return len(self.target)


def build_series(closes: pd.Series, *, policy: CalendarPolicy) -> Series:
    """Build the DeepAR series from daily closes (DatetimeIndex of naive dates, ascending, NaN = missing).

    Raises DataError when there is no close at all, a date repeats or goes backwards, or a value is
    not a finite number.
    """
    if policy not in CALENDAR_POLICIES:
        raise ValueError(f"unknown calendar policy {policy!r}; expected one of {CALENDAR_POLICIES}")
    dates, values = _dated_values(closes)
    observed = [i for i, value in enumerate(values) if not math.isnan(value)]
    if not observed:
        raise DataError(
            "the price series holds no close at all" if values else "the price series is empty",
            hint="check the price file and its date range",
        )
    first, last = observed[0], observed[-1]
    if policy == "trading_days":
        kept = [(dates[i], values[i]) for i in observed]
        return Series(
            policy=policy,
            start=kept[0][0],
            target=tuple(value for _, value in kept),
            dates=tuple(day for day, _ in kept),
        )
    by_date = {dates[i]: values[i] for i in range(first, last + 1)}
    days = _every_day(dates[first], dates[last])
    return Series(
        policy=policy,
        start=days[0],
        target=tuple(by_date.get(day, math.nan) for day in days),
        dates=days,
    )


def _dated_values(closes: pd.Series) -> tuple[list[datetime.date], list[float]]:
    """The closes as (dates, floats), checked: dates strictly ascending, values finite or NaN."""
    import pandas as pd  # already imported by whoever built `closes`

    index = closes.index
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(
            f"the price series is indexed by {type(index).__name__}, not dates",
            hint="this is a bug in the price reader: report it",
        )
    if index.hasnans:
        raise DataError(
            "the price series has rows without a date",
            hint="remove rows with an empty date from the price file",
        )
    try:
        raw = closes.to_numpy(dtype="float64", na_value=math.nan)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"the price series holds values that are not numbers ({exc})",
            hint="check the close column of the price file",
        ) from None
    dates = [stamp.date() for stamp in index]
    values = [float(value) for value in raw]
    for i in range(1, len(dates)):
        if dates[i] <= dates[i - 1]:
            raise DataError(
                f"the price dates are not strictly ascending: {dates[i]} follows {dates[i - 1]}",
                hint="remove duplicate rows and sort the price file by date",
            )
    for day, value in zip(dates, values, strict=True):
        if math.isinf(value):
            raise DataError(
                f"the close on {day} is {value}, not a finite number",
                hint="fix or remove that row of the price file",
            )
    return dates, values


def _every_day(first: datetime.date, last: datetime.date) -> tuple[datetime.date, ...]:
    count = (last - first).days + 1
    return tuple(first + i * _ONE_DAY for i in range(count))
