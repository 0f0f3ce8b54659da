"""GluonTS's time features on numpy: the calendar rows DeepAR adds to its input, without pandas.

GluonTS dates a series with a pandas `PeriodIndex` from its start at the model's frequency and adds, per
frequency, a few calendar features, each scaled to [-0.5, 0.5] (`gluonts.time_feature`); the names
below are those functions' names, as the archive's manifest records them. This module reproduces them
bit for bit (float64 arithmetic, float32 result, as GluonTS does) for the frequencies DeepAR's
`time_freq` allows: an integer multiple of min, h, D, W (pandas' W-SUN: a week is dated by its Sunday)
or M. tests/engine/test_time_features.py compares it with GluonTS's own features.

Pure numpy: no pandas (0.8 s to import), no gluonts, no I/O.
"""

from __future__ import annotations

import datetime
import re

import numpy as np
from numpy.typing import NDArray

# name -> (which calendar field, how many values it takes): GluonTS's `_normalize(field, num)`
FEATURES: dict[str, tuple[str, int]] = {
    "minute_of_hour": ("minute", 60),
    "hour_of_day": ("hour", 24),
    "day_of_week": ("weekday", 7),
    "day_of_month": ("day", 31),
    "day_of_year": ("yearday", 366),
    "week_of_year": ("week", 53),
    "month_of_year": ("month", 12),
}
_FREQ = re.compile(r"([1-9][0-9]*)?(min|h|D|W|M)")
_STEP = {"min": np.timedelta64(1, "m"), "h": np.timedelta64(1, "h"), "D": np.timedelta64(1, "D")}


def supported(freq: str, names: list[str]) -> bool:
    """Whether `time_features` can compute `names` at `freq`."""
    match = _FREQ.fullmatch(freq)
    if match is None or not all(name in FEATURES for name in names):
        return False
    # monthly periods carry no day, hour or minute worth reading (GluonTS asks only month_of_year)
    return match.group(2) != "M" or all(FEATURES[name][0] == "month" for name in names)


def time_features(start: str, freq: str, names: list[str], length: int) -> NDArray[np.float32]:
    """The features `names` (rows, in order) of the `length` periods from `start` ('YYYY-MM-DD HH:MM:SS')
    at `freq`, as GluonTS's `AddTimeFeatures` computes them. ValueError for what `supported` refuses."""
    if not supported(freq, names):
        raise ValueError(f"time features {names} at frequency {freq!r} are not supported")
    match = _FREQ.fullmatch(freq)
    assert match is not None
    multiple, unit = int(match.group(1) or 1), match.group(2)
    moment = np.datetime64(datetime.datetime.strptime(start, "%Y-%m-%d %H:%M:%S"), "m")
    steps = np.arange(length, dtype=np.int64) * multiple
    if unit == "M":
        months = moment.astype("datetime64[M]") + steps.astype("timedelta64[M]")
        fields = {"month": months.astype(np.int64) % 12 + 1}
    else:
        if unit == "W":  # the W-SUN period holding `start`, dated by its Sunday as pandas does
            day = moment.astype("datetime64[D]")
            first = day + (6 - _weekday(day.astype(np.int64))).astype("timedelta64[D]")
            times = (first + (steps * 7).astype("timedelta64[D]")).astype("datetime64[m]")
        else:
            first = moment.astype(f"datetime64[{'m' if unit == 'min' else unit}]")
            times = (first + steps * _STEP[unit]).astype("datetime64[m]")
        fields = _fields(times)
    rows = [_normalize(fields[FEATURES[name][0]], FEATURES[name][1], name) for name in names]
    return np.vstack(rows).astype(np.float32) if rows else np.zeros((0, length), dtype=np.float32)


def _fields(times: NDArray[np.datetime64]) -> dict[str, NDArray[np.int64]]:
    minutes = times.astype(np.int64)
    days = times.astype("datetime64[D]")
    ordinal = days.astype(np.int64)
    weekday = _weekday(ordinal)
    # ISO 8601 week: the week's Thursday decides its year (pandas' `.week` for a PeriodIndex)
    thursday = days + (3 - weekday).astype("timedelta64[D]")
    week = (thursday - thursday.astype("datetime64[Y]")).astype(np.int64) // 7 + 1
    return {
        "minute": minutes % 60,
        "hour": minutes // 60 % 24,
        "weekday": weekday,
        "day": (days - days.astype("datetime64[M]")).astype(np.int64) + 1,
        "yearday": (days - days.astype("datetime64[Y]")).astype(np.int64) + 1,
        "week": week,
        "month": days.astype("datetime64[M]").astype(np.int64) % 12 + 1,
    }


def _weekday(days_since_epoch: NDArray[np.int64] | np.int64) -> NDArray[np.int64]:
    """Monday 0 .. Sunday 6 (1970-01-01 was a Thursday)."""
    return np.asarray((days_since_epoch + 3) % 7, dtype=np.int64)


def _normalize(values: NDArray[np.int64], num: int, name: str) -> NDArray[np.float64]:
    # GluonTS counts day, day of year, week and month from 1 and deducts one; weekday, hour, minute from 0
    zero_based = values if name in ("minute_of_hour", "hour_of_day", "day_of_week") else values - 1
    return np.asarray(zero_based, dtype=np.float64) / (num - 1) - 0.5
