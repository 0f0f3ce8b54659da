"""Calendar features as DeepAR `dynamic_feat` (`[data] calendar_features`): what the channels and the
inference requests carry, and that a model trained without them is never sent them."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta

import pytest

from nikkei_deepar.config import Settings
from nikkei_deepar.data.calendar import CALENDAR_FEATURES, calendar_features, steps_for_horizon
from nikkei_deepar.data.channels import make_channels
from nikkei_deepar.data.horizon import features_through, hyperparameter_strings
from nikkei_deepar.data.inference import batch_input_line, build_request
from nikkei_deepar.data.series import Series
from nikkei_deepar.errors import DataError

LAST = date(2025, 12, 30)  # the last session of 2025: the year-end closure (Dec 31 - Jan 3) follows


def daily(n: int, *, last: date = LAST) -> Series:
    first = last - timedelta(days=n - 1)
    dates = tuple(first + timedelta(days=i) for i in range(n))
    return Series(
        policy="calendar_days", start=first, target=tuple(30_000.0 + i for i in range(n)), dates=dates
    )


def features_by_date(dates: list[date]) -> dict[date, tuple[float, ...]]:
    rows = calendar_features(dates)
    return {day: tuple(row[i] for row in rows) for i, day in enumerate(dates)}


def test_features_are_weekday_days_since_the_last_session_and_closed() -> None:
    days = [date(2025, 12, 29) + timedelta(days=i) for i in range(10)]  # Mon Dec 29 .. Wed Jan 7
    by_date = features_by_date(days)
    assert CALENDAR_FEATURES == ("day_of_week", "days_since_session", "closed")
    assert by_date[date(2025, 12, 30)] == pytest.approx((1 / 6 - 0.5, 0.1 - 0.5, -0.5))  # Tue, open
    assert by_date[date(2026, 1, 1)] == pytest.approx((3 / 6 - 0.5, 0.2 - 0.5, 0.5))  # holiday, closed
    assert by_date[date(2026, 1, 4)] == pytest.approx((0.5, 0.5 - 0.5, 0.5))  # Sunday, closed
    # Monday Jan 5 opens the year, 6 days after Dec 30
    assert by_date[date(2026, 1, 5)] == pytest.approx((-0.5, 0.6 - 0.5, -0.5))
    assert by_date[date(2026, 1, 6)] == pytest.approx((1 / 6 - 0.5, 0.1 - 0.5, -0.5))


def test_a_long_closure_is_capped_and_every_value_is_finite_and_in_range() -> None:
    # Golden Week 2019: closed Apr 27 .. May 6, ten days after Friday Apr 26
    days = [date(2019, 4, 20) + timedelta(days=i) for i in range(30)]
    by_date = features_by_date(days)
    assert by_date[date(2019, 5, 7)][1:] == pytest.approx((0.5, -0.5))
    assert all(math.isfinite(v) and -0.5 <= v <= 0.5 for values in by_date.values() for v in values)


def test_dates_outside_the_known_calendar_are_refused() -> None:
    with pytest.raises(DataError, match="before"):
        calendar_features([date(1990, 1, 4)])


def test_channels_carry_one_feature_row_per_name_as_long_as_each_target() -> None:
    series = daily(400)
    channels = make_channels(
        series, prediction_length=17, context_length=20, test_windows=3, calendar_features=True
    )
    records = [json.loads(line) for line in (channels.train + channels.test).decode().splitlines()]
    assert len(records) == 4
    for record in records:
        rows = record["dynamic_feat"]
        assert len(rows) == len(CALENDAR_FEATURES)
        assert all(len(row) == len(record["target"]) for row in rows)
        assert all(isinstance(v, float) and math.isfinite(v) for row in rows for v in row)
    # the features are those of the series' own dates
    assert records[0]["dynamic_feat"] == [
        row[: len(records[0]["target"])] for row in calendar_features(series.dates)
    ]


def test_channels_without_the_setting_carry_no_features_and_keep_their_bytes() -> None:
    series = daily(400)
    plain = make_channels(series, prediction_length=17, context_length=20)
    assert all(
        "dynamic_feat" not in json.loads(line) for line in (plain.train + plain.test).decode().splitlines()
    )
    with_features = make_channels(series, prediction_length=17, context_length=20, calendar_features=True)
    assert with_features.sha256 != plain.sha256  # a different data set, never mistaken for the other


@pytest.mark.parametrize("policy", ["calendar_days", "trading_days"])
def test_a_request_carries_the_features_through_the_horizon_across_the_year_end(policy: str) -> None:
    series = daily(400)
    if policy == "trading_days":
        kept = [i for i, day in enumerate(series.dates) if day.weekday() < 5]
        series = Series(
            policy="trading_days",
            start=series.dates[kept[0]],
            target=tuple(series.target[i] for i in kept),
            dates=tuple(series.dates[i] for i in kept),
        )
    h = steps_for_horizon(policy, 5)
    request = build_request(series, quantiles=[0.5], num_samples=10, features_through=h)
    instance = request["instances"][0]
    rows = instance["dynamic_feat"]
    assert len(rows) == len(CALENDAR_FEATURES)
    assert all(len(row) == len(instance["target"]) + h for row in rows)
    assert all(math.isfinite(v) for row in rows for v in row)
    horizon = [tuple(row[len(series) + i] for row in rows) for i in range(h)]
    if policy == "calendar_days":  # steps 1-5 are Dec 31 .. Jan 4, all closed; step 6 is Monday Jan 5
        assert [step[2] for step in horizon[:6]] == [0.5] * 5 + [-0.5]
        assert horizon[5][1] == pytest.approx(0.1)
    else:  # every step a session; the first is Jan 5, 6 days after Dec 30
        assert [step[2] for step in horizon] == [-0.5] * h
        assert horizon[0][:2] == pytest.approx((-0.5, 0.1))
    batch = json.loads(batch_input_line(series, features_through=h))
    assert batch["dynamic_feat"] == rows


def test_a_model_trained_without_features_is_sent_none() -> None:
    series = daily(400)
    assert "dynamic_feat" not in build_request(series, quantiles=[0.5], num_samples=10)["instances"][0]
    assert "dynamic_feat" not in json.loads(batch_input_line(series))
    off = Settings.model_validate({})
    on = Settings.model_validate({"data": {"calendar_features": True}})
    assert "num_dynamic_feat" not in hyperparameter_strings(off)
    assert hyperparameter_strings(on)["num_dynamic_feat"] == str(len(CALENDAR_FEATURES))
    # what predict decides from the served model's recorded hyperparameters
    assert features_through(hyperparameter_strings(off)) is None
    assert features_through({"prediction_length": "17", "num_dynamic_feat": "auto"}) is None
    assert features_through(hyperparameter_strings(on)) == int(
        hyperparameter_strings(on)["prediction_length"]
    )
