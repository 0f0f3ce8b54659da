"""The no-training baselines against series whose returns are known exactly.

Quantile levels are numpy's "linear" method: for sorted values v[0..m-1], level tau sits at position
tau * (m - 1), interpolated between its two neighbours.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from nikkei_deepar.data.baselines import QuantileForecast, random_walk, seasonal_naive
from nikkei_deepar.errors import DataError

TAUS = [0.1, 0.5, 0.9]


def prices(log_levels: list[float]) -> np.ndarray:
    """100 * exp(level), NaN kept: hand series are written as log prices so returns are exact."""
    return 100.0 * np.exp(np.array(log_levels, dtype=np.float64))


def assert_quantiles(
    forecast: QuantileForecast, expected_log_offsets: dict[float, list[float]], anchor_log: list[float]
) -> None:
    for tau, offsets in expected_log_offsets.items():
        expected = 100.0 * np.exp(np.array(anchor_log) + np.array(offsets))
        np.testing.assert_allclose(forecast.quantile(tau), expected, rtol=1e-12, err_msg=f"tau={tau}")


# --- random walk -----------------------------------------------------------------------------------


def test_random_walk_on_a_constant_return_series_hits_the_continuation_at_every_quantile() -> None:
    # y[t] = 100 * 1.01^t: every k-step log return is k * log(1.01), so every quantile at step k is
    # last * 1.01^k, the series' own continuation; the mean stays at the last close.
    history = 100.0 * 1.01 ** np.arange(20)
    forecast = random_walk(history, horizon=5, quantiles=TAUS)
    continuation = 100.0 * 1.01 ** np.arange(20, 25)
    for tau in TAUS:
        np.testing.assert_allclose(forecast.quantile(tau), continuation, rtol=1e-12)
    np.testing.assert_allclose(forecast.mean, np.full(5, history[-1]), rtol=0)
    assert forecast.horizon == 5


def test_random_walk_quantiles_by_hand() -> None:
    # log prices (minus log 100): 0, 0.1, -0.1, 0.2, 0.2 ; anchor = last = 0.2
    # 1-step returns: 0.1, -0.2, 0.3, 0.0 -> sorted -0.2, 0.0, 0.1, 0.3 (positions tau * 3)
    #   0.1: pos 0.3 -> -0.2 + 0.3 * 0.2 = -0.14;  0.5: pos 1.5 -> 0.0 + 0.5 * 0.1 = 0.05
    #   0.9: pos 2.7 -> 0.1 + 0.7 * 0.2 = 0.24
    # 2-step returns: -0.1 - 0 = -0.1, 0.2 - 0.1 = 0.1, 0.2 - (-0.1) = 0.3 (positions tau * 2)
    #   0.1: pos 0.2 -> -0.1 + 0.2 * 0.2 = -0.06;  0.5: pos 1 -> 0.1;  0.9: pos 1.8 -> 0.1 + 0.8 * 0.2 = 0.26
    history = prices([0.0, 0.1, -0.1, 0.2, 0.2])
    forecast = random_walk(history, horizon=2, quantiles=TAUS)
    assert_quantiles(
        forecast, {0.1: [-0.14, -0.06], 0.5: [0.05, 0.1], 0.9: [0.24, 0.26]}, anchor_log=[0.2, 0.2]
    )
    np.testing.assert_allclose(forecast.mean, [100.0 * math.exp(0.2)] * 2, rtol=1e-12)


def test_random_walk_lookback_uses_only_the_last_positions() -> None:
    # lookback 3 keeps log prices -0.1, 0.2, 0.2 -> 1-step returns 0.3, 0.0 -> sorted 0.0, 0.3
    #   0.1: pos 0.1 -> 0.03;  0.5: pos 0.5 -> 0.15;  0.9: pos 0.9 -> 0.27
    history = prices([0.0, 0.1, -0.1, 0.2, 0.2])
    forecast = random_walk(history, horizon=1, quantiles=TAUS, lookback=3)
    assert_quantiles(forecast, {0.1: [0.03], 0.5: [0.15], 0.9: [0.27]}, anchor_log=[0.2])


def test_random_walk_skips_pairs_with_a_missing_end() -> None:
    # log prices 0, 0.1, NaN, 0.2, 0.2
    # 1-step pairs: (0,1) 0.1; (1,2) and (2,3) have a NaN; (3,4) 0.0 -> 0.0, 0.1 -> median 0.05
    # 2-step pairs: (1,3) 0.1 only -> every quantile 0.1
    history = prices([0.0, 0.1, math.nan, 0.2, 0.2])
    forecast = random_walk(history, horizon=2, quantiles=TAUS)
    assert_quantiles(forecast, {0.1: [0.01, 0.1], 0.5: [0.05, 0.1], 0.9: [0.09, 0.1]}, anchor_log=[0.2, 0.2])


def test_random_walk_anchors_on_the_last_observed_value_and_widens_the_lag() -> None:
    # log prices 0, 0.1, -0.1, 0.2, NaN (a history ending on a closed day): anchor = 0.2 at
    # position 3, one trailing NaN, so step 1 is 2 positions after the anchor and step 2 is 3.
    # 2-step: (0,2) -0.1, (1,3) 0.1, (2,4) NaN -> -0.1, 0.1: 0.1 -> -0.08, 0.5 -> 0.0, 0.9 -> 0.08
    # 3-step: (0,3) 0.2, (1,4) NaN -> 0.2 for every quantile
    history = prices([0.0, 0.1, -0.1, 0.2, math.nan])
    forecast = random_walk(history, horizon=2, quantiles=TAUS)
    assert_quantiles(forecast, {0.1: [-0.08, 0.2], 0.5: [0.0, 0.2], 0.9: [0.08, 0.2]}, anchor_log=[0.2, 0.2])
    np.testing.assert_allclose(forecast.mean, [100.0 * math.exp(0.2)] * 2, rtol=1e-12)


def test_random_walk_without_returns_for_a_step_is_an_error() -> None:
    # 5 positions: a 5-step return needs 6
    with pytest.raises(DataError, match="past 5-step returns"):
        random_walk(prices([0.0, 0.1, -0.1, 0.2, 0.2]), horizon=5, quantiles=TAUS)


@pytest.mark.parametrize(
    ("history", "error", "message"),
    [
        ([math.nan, math.nan], DataError, "no observed value"),
        ([100.0, 0.0, 101.0], DataError, "positive"),
        ([100.0, -1.0, 101.0], DataError, "positive"),
        ([[100.0, 101.0]], ValueError, "1-D"),
    ],
)
def test_random_walk_rejects_unusable_histories(
    history: list[float], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        random_walk(history, horizon=1, quantiles=TAUS)


def test_random_walk_argument_checks() -> None:
    history = prices([0.0, 0.1, 0.2])
    with pytest.raises(ValueError, match="horizon"):
        random_walk(history, horizon=0, quantiles=TAUS)
    with pytest.raises(ValueError, match="strictly between"):
        random_walk(history, horizon=1, quantiles=[0.0, 0.5])
    with pytest.raises(ValueError, match="at least one"):
        random_walk(history, horizon=1, quantiles=[])
    with pytest.raises(ValueError, match="lookback"):
        random_walk(history, horizon=1, quantiles=TAUS, lookback=1)


# --- seasonal naive --------------------------------------------------------------------------------


def test_seasonal_naive_needs_two_seasons() -> None:
    assert seasonal_naive(prices([0.0] * 5), horizon=2, season=3, quantiles=TAUS) is None
    assert seasonal_naive(prices([0.0, 0.1] * 3), horizon=2, season=3, quantiles=TAUS) is not None


def test_seasonal_naive_by_hand() -> None:
    # season 2, log prices 0, 0.1, 0.05, 0.2, 0.1, 0.3 (n = 6), horizon 3
    # step 0 (position 6) repeats position 4 (0.1), step 1 repeats 5 (0.3), step 2 repeats 4 again
    # lag 2 ratios: 0.05, 0.1, 0.05, 0.1 -> sorted 0.05, 0.05, 0.1, 0.1 (positions tau * 3)
    #   0.1: pos 0.3 -> 0.05;  0.5: pos 1.5 -> 0.05 + 0.5 * 0.05 = 0.075;  0.9: pos 2.7 -> 0.1
    # step 2 is 4 positions after its reference: lag 4 ratios 0.1 - 0 = 0.1, 0.3 - 0.1 = 0.2
    #   0.1: 0.11;  0.5: 0.15;  0.9: 0.19
    history = prices([0.0, 0.1, 0.05, 0.2, 0.1, 0.3])
    forecast = seasonal_naive(history, horizon=3, season=2, quantiles=TAUS)
    assert forecast is not None
    np.testing.assert_allclose(forecast.mean, prices([0.1, 0.3, 0.1]), rtol=1e-12)
    assert_quantiles(
        forecast,
        {0.1: [0.05, 0.05, 0.11], 0.5: [0.075, 0.075, 0.15], 0.9: [0.1, 0.1, 0.19]},
        anchor_log=[0.1, 0.3, 0.1],
    )


def test_seasonal_naive_falls_back_one_season_when_the_reference_is_missing() -> None:
    # position 4 is NaN, so step 0 (position 6) repeats position 2 (0.05), 4 positions back;
    # lag 4 pairs: (0,4) NaN, (1,5) 0.3 - 0.1 = 0.2 -> every quantile 0.05 + 0.2
    history = prices([0.0, 0.1, 0.05, 0.2, math.nan, 0.3])
    forecast = seasonal_naive(history, horizon=1, season=2, quantiles=TAUS)
    assert forecast is not None
    np.testing.assert_allclose(forecast.mean, prices([0.05]), rtol=1e-12)
    assert_quantiles(forecast, {tau: [0.2] for tau in TAUS}, anchor_log=[0.05])


def test_seasonal_naive_does_not_apply_to_a_phase_never_observed() -> None:
    # season 2: step 0 (position 4) has phase 0, and positions 2 and 0 are both NaN
    assert seasonal_naive([math.nan, 100.0, math.nan, 101.0], horizon=1, season=2, quantiles=TAUS) is None


def test_seasonal_naive_with_season_one_is_the_random_walk() -> None:
    for history in (prices([0.0, 0.1, -0.1, 0.2, 0.2, 0.15]), prices([0.0, 0.1, -0.1, 0.2, math.nan])):
        walk = random_walk(history, horizon=2, quantiles=TAUS)
        seasonal = seasonal_naive(history, horizon=2, season=1, quantiles=TAUS)
        assert seasonal is not None
        np.testing.assert_allclose(seasonal.mean, walk.mean, rtol=1e-12)
        for tau in TAUS:
            np.testing.assert_allclose(seasonal.quantile(tau), walk.quantile(tau), rtol=1e-12)


def test_seasonal_naive_argument_checks() -> None:
    with pytest.raises(ValueError, match="season"):
        seasonal_naive(prices([0.0, 0.1]), horizon=1, season=0, quantiles=TAUS)


# --- the forecast object ---------------------------------------------------------------------------


def test_quantile_lookup_tolerates_float_spelling() -> None:
    forecast = QuantileForecast(mean=np.zeros(2), quantiles={0.3: np.ones(2)})
    np.testing.assert_array_equal(forecast.quantile(0.1 + 0.2), np.ones(2))  # 0.30000000000000004
    with pytest.raises(KeyError, match=r"no 0\.5 quantile"):
        forecast.quantile(0.5)


def test_forecast_shapes_must_agree() -> None:
    with pytest.raises(ValueError, match="shape"):
        QuantileForecast(mean=np.zeros(2), quantiles={0.5: np.zeros(3)})
    with pytest.raises(ValueError, match="1-D"):
        QuantileForecast(mean=np.zeros((2, 2)), quantiles={})
