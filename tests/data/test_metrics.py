"""Every metric against values computed by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nikkei_deepar.data import metrics
from nikkei_deepar.errors import DataError

Y = [10.0, 20.0, 30.0]
Q = [12.0, 17.0, 30.0]


# --- quantile loss ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tau", "expected"),
    [
        # t1: y=10 <= q=12 -> |(10-12) * (1 - 0.1)| = 2 * 0.9 = 1.8
        # t2: y=20 >  q=17 -> |(20-17) * (0 - 0.1)| = 3 * 0.1 = 0.3
        # t3: y=30 == q=30 -> (y - q) = 0 -> 0
        # 2 * (1.8 + 0.3 + 0) = 4.2
        (0.1, 4.2),
        # t1: 2 * 0.5 = 1.0; t2: 3 * 0.5 = 1.5; t3: 0 -> 2 * 2.5 = 5.0 (= sum |y - q|: the median's QL)
        (0.5, 5.0),
        # t1: 2 * (1 - 0.9) = 0.2; t2: 3 * 0.9 = 2.7; t3: 0 -> 2 * 2.9 = 5.8
        (0.9, 5.8),
    ],
)
def test_quantile_loss_by_hand_including_the_factor_two(tau: float, expected: float) -> None:
    assert metrics.quantile_loss(Y, Q, tau) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("tau", "expected"),
    # the losses above over sum |y| = 10 + 20 + 30 = 60
    [(0.1, 4.2 / 60), (0.5, 5.0 / 60), (0.9, 5.8 / 60)],
)
def test_weighted_quantile_loss_by_hand(tau: float, expected: float) -> None:
    assert metrics.weighted_quantile_loss(Y, Q, tau) == pytest.approx(expected)


def test_mean_weighted_quantile_loss_is_the_average_over_quantiles() -> None:
    # (4.2 + 5.0 + 5.8) / 60 / 3 = 15 / 180 = 0.083333...
    preds = {0.1: Q, 0.5: Q, 0.9: Q}
    assert metrics.mean_weighted_quantile_loss(Y, preds) == pytest.approx(15 / 180)


@pytest.mark.parametrize("tau", [0.1, 0.5, 0.9])
def test_loss_is_zero_when_y_equals_q_exactly(tau: float) -> None:
    # (y - q) = 0 at every point, whichever side the indicator 1{y <= q} falls on
    y = [5.0, -3.0, 0.0, 1e6]
    assert metrics.quantile_loss(y, y, tau) == 0.0
    assert metrics.weighted_quantile_loss(y, y, tau) == 0.0


def test_the_weight_uses_absolute_targets() -> None:
    # y=-10 <= q=0 -> |(-10) * (1 - 0.5)| = 5; y=10 > q=0 -> |10 * (0 - 0.5)| = 5
    # QL = 2 * 10 = 20; sum |y| = 10 + 10 = 20 (not -10 + 10 = 0) -> wQL = 1.0
    assert metrics.weighted_quantile_loss([-10.0, 10.0], [0.0, 0.0], 0.5) == pytest.approx(1.0)


def test_nan_targets_are_left_out_of_both_sums() -> None:
    # t1: y=10 <= 12 -> 2 * 0.5 = 1.0; t2: y NaN -> skipped; t3: y=30 <= 33 -> 3 * 0.5 = 1.5
    # QL = 2 * 2.5 = 5.0; sum |y| = 10 + 30 = 40 -> wQL = 0.125
    y = [10.0, math.nan, 30.0]
    for q in ([12.0, 999.0, 33.0], [12.0, math.nan, 33.0]):
        assert metrics.quantile_loss(y, q, 0.5) == pytest.approx(5.0)
        assert metrics.weighted_quantile_loss(y, q, 0.5) == pytest.approx(0.125)


def test_a_nan_prediction_where_the_target_is_observed_is_an_error_not_masked() -> None:
    with pytest.raises(DataError, match="q_pred is NaN or infinite at 1 point"):
        metrics.quantile_loss([1.0, 2.0], [1.0, math.nan], 0.5)


def test_all_zero_targets_make_the_weighted_loss_undefined() -> None:
    # the unweighted loss is fine: |(0 - 1) * (1 - 0.5)| * 2 points * 2 = 2.0
    assert metrics.quantile_loss([0.0, 0.0], [1.0, 1.0], 0.5) == pytest.approx(2.0)
    with pytest.raises(DataError, match="every observed target is 0"):
        metrics.weighted_quantile_loss([0.0, 0.0, math.nan], [1.0, 1.0, 1.0], 0.5)
    with pytest.raises(DataError, match="every observed target is 0"):
        metrics.mean_weighted_quantile_loss([0.0, 0.0], {0.5: [1.0, 1.0]})


def test_no_observed_target_is_an_error() -> None:
    with pytest.raises(DataError, match="no observed target"):
        metrics.quantile_loss([math.nan, math.nan], [1.0, 1.0], 0.5)
    with pytest.raises(DataError, match="no observed target"):
        metrics.rmse([], [])
    with pytest.raises(DataError, match="no observed target"):
        metrics.coverage([math.nan], [0.0], [1.0])


def test_two_d_windows_are_pooled_sum_of_losses_over_sum_of_targets() -> None:
    y = np.array([[10.0, 20.0], [30.0, 40.0]])
    q = np.array([[11.0, 20.0], [27.0, 44.0]])
    # tau = 0.2
    # (10, 11): y <= q -> 1 * 0.8 = 0.8     (20, 20): 0
    # (30, 27): y >  q -> 3 * 0.2 = 0.6     (40, 44): y <= q -> 4 * 0.8 = 3.2
    # QL = 2 * (0.8 + 0 + 0.6 + 3.2) = 9.2;  sum |y| = 100  -> pooled wQL = 0.092
    assert metrics.quantile_loss(y, q, 0.2) == pytest.approx(9.2)
    assert metrics.weighted_quantile_loss(y, q, 0.2) == pytest.approx(0.092)
    # NOT the mean of per-window scores: (1.6 / 30 + 7.6 / 70) / 2 = 0.080952...
    per_window = [metrics.weighted_quantile_loss(y[i], q[i], 0.2) for i in range(2)]
    assert per_window == pytest.approx([1.6 / 30, 7.6 / 70])
    assert float(np.mean(per_window)) != pytest.approx(0.092)


def test_two_d_mean_weighted_quantile_loss() -> None:
    y = np.array([[10.0, 20.0], [30.0, 40.0]])
    q = np.array([[11.0, 20.0], [27.0, 44.0]])
    # tau 0.5: 2 * 0.5 * (1 + 0 + 3 + 4) = 8.0 -> 0.08;  tau 0.2: 9.2 -> 0.092 (above)
    # mean = (0.08 + 0.092) / 2 = 0.086
    assert metrics.mean_weighted_quantile_loss(y, {0.2: q, 0.5: q}) == pytest.approx(0.086)


def test_wql_matches_the_piecewise_pinball_form_on_random_data() -> None:
    # SageMaker's docs write the loss piecewise: tau * (y - q) if y > q else (1 - tau) * (q - y);
    # an independent formulation of the same number.
    rng = np.random.default_rng(11)
    y = rng.normal(100.0, 10.0, size=(4, 7))
    y[1, 3] = math.nan
    for tau in (0.1, 0.3, 0.5, 0.9):
        q = y + rng.normal(0.0, 5.0, size=y.shape)
        ok = ~np.isnan(y)
        diff = y[ok] - q[ok]
        pinball = np.where(diff > 0, tau * diff, (tau - 1.0) * diff)
        expected = 2.0 * pinball.sum() / np.abs(y[ok]).sum()
        assert metrics.weighted_quantile_loss(y, q, tau) == pytest.approx(expected, rel=1e-12)


def test_wql_agrees_with_gluonts_when_installed() -> None:
    gluonts_metrics = pytest.importorskip("gluonts.evaluation.metrics")
    rng = np.random.default_rng(5)
    y = rng.normal(100.0, 10.0, size=12)
    q = y + rng.normal(0.0, 5.0, size=12)
    for tau in (0.1, 0.5, 0.9):
        theirs = gluonts_metrics.quantile_loss(y, q, tau)
        assert metrics.quantile_loss(y, q, tau) == pytest.approx(theirs, rel=1e-12)
        weighted = theirs / gluonts_metrics.abs_target_sum(y)
        assert metrics.weighted_quantile_loss(y, q, tau) == pytest.approx(weighted, rel=1e-12)


def test_quantile_argument_checks() -> None:
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        metrics.quantile_loss(Y, Q, 1.0)
    with pytest.raises(ValueError, match="shape"):
        metrics.quantile_loss(Y, Q[:2], 0.5)
    with pytest.raises(ValueError, match="at least one quantile"):
        metrics.mean_weighted_quantile_loss(Y, {})


# --- RMSE ------------------------------------------------------------------------------------------


def test_rmse_by_hand_with_nan_masking() -> None:
    # errors 1, 0, 2 (the NaN target is skipped) -> squares 1, 0, 4 -> mean 5/3 -> sqrt = 1.2909944...
    assert metrics.rmse([1.0, 2.0, 3.0, math.nan], [2.0, 2.0, 5.0, 100.0]) == pytest.approx(math.sqrt(5 / 3))


def test_rmse_two_d_is_pooled_over_every_point() -> None:
    # the same 3 points split into windows: sqrt(5/3) = 1.29, not the mean of per-window RMSEs
    # (sqrt((1 + 0) / 2) + sqrt(4 / 1)) / 2 = 1.35
    y = [[1.0, 2.0], [3.0, math.nan]]
    y_hat = [[2.0, 2.0], [5.0, 0.0]]
    assert metrics.rmse(y, y_hat) == pytest.approx(math.sqrt(5 / 3))


# --- MASE ------------------------------------------------------------------------------------------


def test_mase_by_hand() -> None:
    # scale: |102 - 100| = 2, |101 - 102| = 1, |105 - 101| = 4 -> mean 7/3
    # errors: |106 - 105| = 1, |104 - 105| = 1 -> mean 1  -> MASE = 1 / (7/3) = 3/7
    insample = [100.0, 102.0, 101.0, 105.0]
    assert metrics.seasonal_error(insample) == pytest.approx(7 / 3)
    assert metrics.mase([106.0, 104.0], [105.0, 105.0], insample=insample) == pytest.approx(3 / 7)


def test_mase_scale_skips_pairs_with_a_missing_value() -> None:
    # pairs: (100, nan) no, (nan, 101) no, (101, 105) -> 4, (105, 103) -> 2 -> scale 3
    # errors: |104 - 101| = 3, second target NaN -> skipped -> MASE = 3 / 3 = 1
    insample = [100.0, math.nan, 101.0, 105.0, 103.0]
    assert metrics.seasonal_error(insample) == pytest.approx(3.0)
    assert metrics.mase([104.0, math.nan], [101.0, 7.0], insample=insample) == pytest.approx(1.0)


def test_mase_with_a_season() -> None:
    # season 2: |4 - 1| = 3, |7 - 2| = 5, |11 - 4| = 7 -> scale 5
    # errors |13 - 11| = 2, |14 - 11| = 3 -> mean 2.5 -> MASE = 0.5
    insample = [1.0, 2.0, 4.0, 7.0, 11.0]
    assert metrics.mase([13.0, 14.0], [11.0, 11.0], insample=insample, season=2) == pytest.approx(0.5)


def test_mase_two_d_pools_the_numerator() -> None:
    # scale 7/3 (as above); errors 1, 1, 3 (NaN skipped) -> mean 5/3 -> MASE = (5/3) / (7/3) = 5/7
    insample = [100.0, 102.0, 101.0, 105.0]
    y = [[106.0, 104.0], [108.0, math.nan]]
    y_hat = [[105.0, 105.0], [105.0, 0.0]]
    assert metrics.mase(y, y_hat, insample=insample) == pytest.approx(5 / 7)


@pytest.mark.parametrize(
    ("insample", "season", "message"),
    [
        ([5.0, 5.0, 5.0], 1, "scale is 0"),  # a constant history
        ([1.0, math.nan, 2.0], 1, "no two observed values"),  # no pair both observed
        ([1.0, 2.0, 3.0], 3, "no two observed values"),  # season as long as the history
        ([], 1, "no two observed values"),
    ],
)
def test_mase_undefined_scale_is_an_error(insample: list[float], season: int, message: str) -> None:
    with pytest.raises(DataError, match=message):
        metrics.mase([1.0], [1.0], insample=insample, season=season)


def test_mase_argument_checks() -> None:
    with pytest.raises(ValueError, match="season"):
        metrics.seasonal_error([1.0, 2.0], season=0)
    with pytest.raises(ValueError, match="1-D"):
        metrics.seasonal_error([[1.0, 2.0]])


# --- coverage --------------------------------------------------------------------------------------


def test_coverage_by_hand_bounds_inclusive_nan_masked() -> None:
    # 1 in [0, 2] yes; 2 in [2, 3] yes (on the bound); 3 in [3.5, 4] no; 4 in [0, 3.9] no; NaN skipped
    # -> 2 / 4 = 0.5
    y = [1.0, 2.0, 3.0, 4.0, math.nan]
    lower = [0.0, 2.0, 3.5, 0.0, 0.0]
    upper = [2.0, 3.0, 4.0, 3.9, 0.0]
    assert metrics.coverage(y, lower, upper) == pytest.approx(0.5)


def test_coverage_two_d_is_the_share_of_all_observed_points() -> None:
    # window 1: 1 of 2 inside; window 2: 1 of 1 observed inside -> pooled 2 / 3 (mean of windows: 0.75)
    y = [[1.0, 5.0], [2.0, math.nan]]
    lower = [[0.0, 0.0], [0.0, 0.0]]
    upper = [[2.0, 2.0], [2.0, 2.0]]
    assert metrics.coverage(y, lower, upper) == pytest.approx(2 / 3)


def test_coverage_rejects_crossed_bounds() -> None:
    with pytest.raises(DataError, match="lower bound is above the upper bound at 1 point"):
        metrics.coverage([1.0, 1.0], [0.0, 2.0], [2.0, 1.0])
