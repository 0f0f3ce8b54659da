"""The log-return target: closes -> 100 * log returns, and sampled returns -> price paths and quantiles."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nikkei_deepar.data.returns import price_forecast, price_paths, to_log_returns
from nikkei_deepar.errors import AwsError

NAN = math.nan


# --- to_log_returns ------------------------------------------------------------------------------------


def test_returns_are_100_log_ratios_of_consecutive_closes() -> None:
    returns = to_log_returns([100.0, 110.0, 99.0])

    assert math.isnan(returns[0])
    assert returns[1] == pytest.approx(100 * math.log(1.1))
    assert returns[2] == pytest.approx(100 * math.log(0.9))


def test_closed_days_stay_missing_and_the_next_session_spans_the_gap() -> None:
    returns = to_log_returns([NAN, 100.0, NAN, NAN, 105.0, 103.0, NAN])

    assert [math.isnan(v) for v in returns] == [True, True, True, True, False, False, True]
    assert returns[4] == pytest.approx(100 * math.log(1.05))  # Friday -> Monday: one session's move
    assert returns[5] == pytest.approx(100 * math.log(103 / 105))


def test_cumulated_returns_give_back_every_close() -> None:
    rng = np.random.default_rng(7)
    closes = 30_000 * np.exp(np.cumsum(rng.normal(0, 0.01, 400)))
    closes[rng.random(400) < 0.3] = NAN  # weekends and holidays
    closes[0] = 30_000.0
    returns = to_log_returns(closes)

    observed = ~np.isnan(closes)
    rebuilt = closes[0] * np.exp(np.nancumsum(returns) / 100)

    np.testing.assert_allclose(rebuilt[observed], closes[observed], rtol=1e-12)


def test_a_single_close_or_none_gives_no_return() -> None:
    assert np.isnan(to_log_returns([NAN, 5.0, NAN])).all()
    assert np.isnan(to_log_returns([NAN, NAN])).all()


def test_non_positive_closes_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        to_log_returns([100.0, 0.0])


# --- price_paths / price_forecast --------------------------------------------------------------------


def test_zero_returns_keep_every_path_at_the_anchor() -> None:
    forecast = price_forecast([[0.0] * 4] * 3, anchor=38_000.0, trading=[True] * 4, quantiles=[0.1, 0.9])

    np.testing.assert_array_equal(forecast.mean, [38_000.0] * 4)
    np.testing.assert_array_equal(forecast.quantile(0.1), [38_000.0] * 4)
    np.testing.assert_array_equal(forecast.quantile(0.9), [38_000.0] * 4)


def test_paths_cumulate_the_sampled_returns() -> None:
    paths = price_paths([[1.0, 2.0, -3.0]], anchor=100.0, trading=[True, True, True])

    np.testing.assert_allclose(paths, [[100 * math.exp(0.01), 100 * math.exp(0.03), 100.0]])


def test_known_samples_give_known_mean_and_quantiles() -> None:
    # five one-step paths: prices 100 * exp(r / 100)
    samples = [[r] for r in (-2.0, -1.0, 0.0, 1.0, 2.0)]
    forecast = price_forecast(samples, anchor=100.0, trading=[True], quantiles=[0.25, 0.5, 0.75])

    prices = [100 * math.exp(r / 100) for r in (-2.0, -1.0, 0.0, 1.0, 2.0)]
    assert forecast.mean[0] == pytest.approx(sum(prices) / 5)
    assert forecast.quantile(0.5)[0] == pytest.approx(100.0)
    assert forecast.quantile(0.25)[0] == pytest.approx(prices[1])  # linear: exactly the 2nd of 5
    assert forecast.quantile(0.75)[0] == pytest.approx(prices[3])


def test_closed_steps_carry_the_previous_price_and_ignore_their_sample() -> None:
    paths = price_paths([[1.0, 50.0, 50.0, -1.0]], anchor=200.0, trading=[True, False, False, True])

    np.testing.assert_allclose(paths[0], [200 * math.exp(0.01)] * 3 + [200.0])


def test_quantiles_are_ordered_at_every_step() -> None:
    rng = np.random.default_rng(1)
    samples = rng.normal(0, 1.2, (200, 7)).tolist()
    forecast = price_forecast(samples, anchor=38_000.0, trading=[True] * 7, quantiles=[0.1, 0.5, 0.9])

    assert (forecast.quantile(0.1) <= forecast.quantile(0.5)).all()
    assert (forecast.quantile(0.5) <= forecast.quantile(0.9)).all()
    # the spread grows with the horizon, as cumulated returns do
    spread = forecast.quantile(0.9) - forecast.quantile(0.1)
    assert spread[-1] > spread[0]


BAD_SAMPLES = {
    "missing": (None, "no samples"),
    "not a list": ({"0": [1.0]}, "no samples"),
    "empty": ([], "no samples"),
    "flat list": ([1.0, 2.0], "sample 0 is not a list"),
    "short row": ([[1.0, 2.0], [1.0]], "sample 1 has 1 values, expected prediction_length 2"),
    "long row": ([[1.0, 2.0, 3.0]], "sample 0 has 3 values"),
    "nan": ([[1.0, NAN]], "not a finite number"),
    "infinite": ([[1.0, math.inf]], "not a finite number"),
    "string": ([[1.0, "2"]], 'holds "2", not a finite number'),
    "bool": ([[True, 1.0]], "holds true, not a finite number"),
    "null": ([[None, 1.0]], "holds null, not a finite number"),
}


@pytest.mark.parametrize(("samples", "problem"), BAD_SAMPLES.values(), ids=BAD_SAMPLES.keys())
def test_bad_samples_are_one_line_aws_errors(samples: object, problem: str) -> None:
    with pytest.raises(AwsError, match=problem) as caught:
        price_forecast(samples, anchor=100.0, trading=[True, True], quantiles=[0.5])

    assert "\n" not in str(caught.value)
    assert caught.value.hint


def test_a_huge_samples_list_is_quoted_short() -> None:
    with pytest.raises(AwsError) as caught:
        price_forecast([[1.0] * 5000], anchor=100.0, trading=[True, True], quantiles=[0.5])

    assert len(str(caught.value)) < 400


def test_samples_that_overflow_a_price_are_refused_in_one_line() -> None:
    with pytest.raises(AwsError) as caught:
        price_paths([[1e6, 0.0]], anchor=40000.0, trading=[True, True])
    assert "\n" not in str(caught.value)
    assert "beyond any number" in str(caught.value)
