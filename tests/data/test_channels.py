"""DeepAR JSON Lines channels: exact lines, the train/test split, rolling windows, sha256, the minimums."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import date, timedelta

import pytest

from nikkei_deepar.data.channels import (
    MIN_OBSERVATIONS,
    Channels,
    channels_digest,
    make_channels,
    parse_series_line,
    series_line,
)
from nikkei_deepar.data.series import Series
from nikkei_deepar.errors import DataError

START = date(2022, 1, 4)


def daily(values: list[float], *, start: date = START) -> Series:
    """A calendar_days series starting on `start` (dates are every day)."""
    return Series(
        policy="calendar_days",
        start=start,
        target=tuple(values),
        dates=tuple(start + timedelta(days=i) for i in range(len(values))),
    )


def prices(n: int) -> list[float]:
    return [26_000.0 + 12.5 * i for i in range(n)]


def lines(data: bytes) -> list[str]:
    text = data.decode("utf-8")
    assert text.endswith("\n")
    return text.split("\n")[:-1]


# --- series_line / parse_series_line ---------------------------------------------------------


def test_series_line_is_the_documented_deepar_record() -> None:
    line = series_line(START, [29_301.79, math.nan, 29_332.16, 1.0])

    assert line == '{"start": "2022-01-04 00:00:00", "target": [29301.79, "NaN", 29332.16, 1.0]}'


def test_series_line_writes_floats_that_read_back_exactly() -> None:
    values = [0.1 + 0.2, 27_000.123456789, 1e-7, 38_915.870000000003]

    _, back = parse_series_line(series_line(START, values))

    assert back == values


def test_series_line_refuses_infinity() -> None:
    with pytest.raises(DataError, match="inf"):
        series_line(START, [1.0, math.inf])


def test_parse_series_line_accepts_nan_string_null_and_a_date_only_start() -> None:
    start, target = parse_series_line(b'{"start": "2022-01-04", "target": [1, "NaN", null, 2.5]}')

    assert start == START
    assert target[0] == 1.0 and target[3] == 2.5
    assert math.isnan(target[1]) and math.isnan(target[2])


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("not json", "not a JSON object"),
        ("[1, 2]", "not a JSON object"),
        ('{"target": [1.0]}', "no string 'start'"),
        ('{"start": "2022-01-04 00:00:00"}', "no list 'target'"),
        ('{"start": "04/01/2022", "target": [1.0]}', "is not a date"),
        ('{"start": "2022-01-04 00:00:00", "target": [1.0, "abc"]}', r'target\[1\] is "abc"'),
        ('{"start": "2022-01-04 00:00:00", "target": [true]}', r"target\[0\] is true"),
    ],
)
def test_parse_series_line_says_what_is_wrong(line: str, problem: str) -> None:
    with pytest.raises(DataError, match=problem):
        parse_series_line(line)


# --- make_channels: split and bytes ---------------------------------------------------------


def test_test_is_the_full_series_and_train_the_same_minus_prediction_length() -> None:
    values = prices(400)
    values[10] = math.nan
    channels = make_channels(daily(values), prediction_length=7, context_length=30)

    (train_line,) = lines(channels.train)
    (test_line,) = lines(channels.test)
    train_start, train = parse_series_line(train_line)
    test_start, test = parse_series_line(test_line)
    assert train_start == test_start == START
    assert len(test) == 400
    assert len(train) == 393
    assert train == pytest.approx(test[:-7], nan_ok=True)
    assert test_line == series_line(START, values)
    assert (channels.train_length, channels.test_series, channels.observations) == (393, 1, 392)


def test_missing_values_are_the_string_nan_never_zero_or_null() -> None:
    values = prices(400)
    values[5] = math.nan
    channels = make_channels(daily(values), prediction_length=7, context_length=30)

    for data in (channels.train, channels.test):
        record = json.loads(lines(data)[0])
        assert record["target"][5] == "NaN"
        assert b"null" not in data
        assert 0 not in record["target"]


def test_channels_are_utf8_json_lines_without_trailing_spaces() -> None:
    channels = make_channels(daily(prices(400)), prediction_length=7, context_length=30, test_windows=2)

    for data in (channels.train, channels.test):
        for line in lines(data):
            assert line == line.strip()
            assert isinstance(json.loads(line), dict)
        assert b"\r" not in data


def test_train_may_end_in_nan() -> None:
    values = prices(400)
    values[392] = math.nan  # the last training point (400 - 7 - 1)

    channels = make_channels(daily(values), prediction_length=7, context_length=30)

    assert lines(channels.train)[0].endswith('"NaN"]}')


def test_rolling_windows_cut_the_test_series_every_prediction_length_points() -> None:
    channels = make_channels(daily(prices(400)), prediction_length=7, context_length=30, test_windows=3)

    tests = [parse_series_line(line)[1] for line in lines(channels.test)]
    assert [len(target) for target in tests] == [400, 393, 386]
    assert all(target == tests[0][: len(target)] for target in tests)
    assert len(parse_series_line(lines(channels.train)[0])[1]) == 393
    assert channels.test_series == 3


# --- sha256 ------------------------------------------------------------------------------------


def test_same_input_gives_identical_bytes_and_sha256() -> None:
    first = make_channels(daily(prices(400)), prediction_length=7, context_length=30)
    second = make_channels(daily(prices(400)), prediction_length=7, context_length=30)

    assert first == second
    assert len(first.sha256) == 64


def test_sha256_is_the_documented_manifest_digest() -> None:
    channels = make_channels(daily(prices(400)), prediction_length=7, context_length=30)
    train_hex = hashlib.sha256(channels.train).hexdigest()
    test_hex = hashlib.sha256(channels.test).hexdigest()
    manifest = f"train {train_hex}\ntest {test_hex}\n"

    assert channels.sha256 == hashlib.sha256(manifest.encode()).hexdigest()
    assert channels.sha256 == channels_digest(channels.train, channels.test)


def test_sha256_changes_when_data_or_split_change() -> None:
    base = make_channels(daily(prices(400)), prediction_length=7, context_length=30)
    changed = prices(400)
    changed[-1] += 0.01

    digests = {
        base.sha256,
        make_channels(daily(changed), prediction_length=7, context_length=30).sha256,
        make_channels(daily(prices(400)), prediction_length=8, context_length=30).sha256,
        make_channels(daily(prices(400)), prediction_length=7, context_length=30, test_windows=2).sha256,
        make_channels(
            daily(prices(400), start=date(2022, 1, 5)), prediction_length=7, context_length=30
        ).sha256,
    }
    assert len(digests) == 5


def test_digest_tells_train_and_test_apart() -> None:
    assert channels_digest(b"a\n", b"b\n") != channels_digest(b"b\n", b"a\n")
    assert channels_digest(b"a\nb\n", b"") != channels_digest(b"a\n", b"b\n")


# --- refusals, before anything is built --------------------------------------------------------


def test_fewer_than_300_observations_is_refused_with_the_count() -> None:
    # 306 points - 7 held out = 299 training observations.
    with pytest.raises(DataError, match=r"has 299 observations; DeepAR needs at least 300") as caught:
        make_channels(daily(prices(306)), prediction_length=7, context_length=30)

    assert "AWS" in str(caught.value)


def test_exactly_300_observations_is_enough() -> None:
    channels = make_channels(daily(prices(307)), prediction_length=7, context_length=30)

    assert channels.observations == MIN_OBSERVATIONS


def test_nan_points_do_not_count_as_observations() -> None:
    values = prices(420)
    for i in range(0, 420, 3):
        values[i] = math.nan  # 140 gaps: 413 training points, 275 observed

    with pytest.raises(DataError, match="has 275 observations"):
        make_channels(daily(values), prediction_length=7, context_length=30)


def test_series_shorter_than_context_plus_prediction_length_is_refused() -> None:
    with pytest.raises(DataError, match=r"has 393 points .*context_length \+ prediction_length = 407"):
        make_channels(daily(prices(400)), prediction_length=7, context_length=400)


def test_too_many_rolling_windows_for_the_history_is_refused() -> None:
    # 50 windows: the shortest test series ends at 400 - 49 * 7 = 57 points, 50 before its last 7.
    with pytest.raises(DataError, match="50 test windows leave the shortest test series with 57 points"):
        make_channels(daily(prices(400)), prediction_length=7, context_length=44, test_windows=50)
    channels = make_channels(daily(prices(400)), prediction_length=7, context_length=43, test_windows=50)
    assert len(parse_series_line(lines(channels.test)[-1])[1]) == 57


def test_all_nan_training_series_is_refused() -> None:
    with pytest.raises(DataError, match="no value at all"):
        make_channels(daily([math.nan] * 400 + [2.0] * 7), prediction_length=7, context_length=30)


def test_training_series_of_only_zeros_is_refused() -> None:
    values = [0.0] * 400
    values[3] = math.nan

    with pytest.raises(DataError, match="only zeros"):
        make_channels(daily(values), prediction_length=7, context_length=30)


@pytest.mark.parametrize(("h", "ctx", "k"), [(0, 30, 1), (7, 0, 1), (7, 30, 0)])
def test_non_positive_settings_are_a_programming_error(h: int, ctx: int, k: int) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        make_channels(daily(prices(400)), prediction_length=h, context_length=ctx, test_windows=k)


def test_channels_is_frozen() -> None:
    channels = make_channels(daily(prices(400)), prediction_length=7, context_length=30)

    with pytest.raises(AttributeError):
        channels.sha256 = "x"  # type: ignore[misc]
    assert isinstance(channels, Channels)


# --- [data] target = "log_return" ----------------------------------------------------------------------


def test_log_return_lines_hold_the_returns_of_the_closes_with_the_same_start() -> None:
    values = prices(400)
    values[10] = values[11] = math.nan  # a weekend
    channels = make_channels(daily(values), prediction_length=7, context_length=30, target="log_return")

    (train_line,) = lines(channels.train)
    (test_line,) = lines(channels.test)
    start, test = parse_series_line(test_line)
    _, train = parse_series_line(train_line)
    assert start == START and len(test) == 400 and len(train) == 393
    assert math.isnan(test[0])  # no close before the first
    assert math.isnan(test[10]) and math.isnan(test[11])  # closed days stay missing
    assert test[12] == pytest.approx(100 * math.log(values[12] / values[9]))  # Friday -> Monday
    assert test[1] == pytest.approx(100 * math.log(values[1] / values[0]))
    assert train == pytest.approx(test[:-7], nan_ok=True)
    # 393 training points: the first and the two closed days hold no return
    assert channels.observations == 390


def test_log_returns_count_one_observation_less_against_the_minimum() -> None:
    # 307 points - 7 held out = 300 closes, but only 299 returns
    make_channels(daily(prices(307)), prediction_length=7, context_length=30)
    with pytest.raises(DataError, match="has 299 observations"):
        make_channels(daily(prices(307)), prediction_length=7, context_length=30, target="log_return")

    assert make_channels(
        daily(prices(308)), prediction_length=7, context_length=30, target="log_return"
    ).observations == (MIN_OBSERVATIONS)


def test_log_return_channels_are_deterministic_and_differ_from_price_channels() -> None:
    def build(target: str) -> Channels:
        return make_channels(
            daily(prices(400)),
            prediction_length=7,
            context_length=30,
            target=target,  # type: ignore[arg-type]
        )

    first, again, price = build("log_return"), build("log_return"), build("price")

    assert (first.train, first.test, first.sha256) == (again.train, again.test, again.sha256)
    assert first.sha256 == channels_digest(first.train, first.test)
    assert first.sha256 != price.sha256
    assert first.train != price.train and first.test != price.test
