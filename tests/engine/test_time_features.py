"""engine.time_features: GluonTS's calendar features without pandas, bit for bit, at every frequency
DeepAR's `time_freq` allows (GluonTS itself, and so the [local] extra, is the reference)."""

from __future__ import annotations

import numpy as np
import pytest

from nikkei_deepar.engine.time_features import supported, time_features

STARTS = [
    "2021-12-31 13:47:00",  # a year's last day, mid-afternoon
    "2020-02-29 00:00:00",  # a leap day
    "2019-12-30 23:59:00",  # ISO week 1 of 2020 begins on a Monday in 2019
    "2024-06-15 07:05:00",
    "1999-01-03 00:00:00",  # a Sunday in ISO week 53 of 1998
]
FREQS = ["D", "2D", "h", "3h", "12h", "min", "5min", "15min", "W", "2W", "M", "3M"]


@pytest.mark.local
@pytest.mark.parametrize("freq", FREQS)
def test_the_features_are_gluonts_own(freq: str) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("gluonts")
    from gluonts.time_feature import time_features_from_frequency_str

    functions = time_features_from_frequency_str(freq)
    names = [f.__name__ for f in functions]
    for start in STARTS:
        period = pd.Period(start, freq=freq)
        index = pd.period_range(period, periods=800, freq=period.freq)
        expected = np.vstack([f(index) for f in functions]).astype(np.float32)
        assert np.array_equal(time_features(start, freq, names, 800), expected), (freq, start)


def test_what_is_not_supported_is_said_before_computing() -> None:
    assert supported("D", ["day_of_week", "day_of_month", "day_of_year"])
    assert not supported("D", ["second_of_minute"])
    assert not supported("B", ["day_of_week"])
    assert not supported("M", ["day_of_month"])  # a month period has no day GluonTS would read
    with pytest.raises(ValueError, match="not supported"):
        time_features("2022-01-01 00:00:00", "Q", ["month_of_year"], 3)


def test_no_features_is_an_empty_block() -> None:
    assert time_features("2022-01-01 00:00:00", "D", [], 5).shape == (0, 5)
