"""Forecast accuracy metrics, defined as SageMaker DeepAR and GluonTS define them.

Pure numpy: no pandas, no I/O, no network. The formulas follow the SageMaker DeepAR developer guide
and GluonTS (`gluonts/evaluation/metrics.py`, aggregated as in `gluonts/evaluation/_base.py`):

- quantile loss      QL[tau]  = 2 * sum_t |(y_t - q_t) * (1{y_t <= q_t} - tau)|
- weighted           wQL[tau] = QL[tau] / sum_t |y_t|
- mean_wQuantileLoss          = the plain average of wQL[tau] over the quantiles asked for
- RMSE                        = sqrt(mean_t (y_t - y_hat_t)^2), y_hat the mean forecast
- MASE                        = mean_t |y_t - y_hat_t| / mean_t |x_t - x_{t-m}|, x the in-sample history
- coverage                    = share of y_t with lower_t <= y_t <= upper_t (both ends inclusive)

Aggregation over several forecast windows: every function accepts arrays of any shape, typically one
window `(horizon,)` or several `(windows, horizon)`, and pools over *all* elements. For the quantile
losses that is exactly GluonTS's aggregate (QL is summed over series, then divided by the summed
|y|), and for RMSE it is SageMaker's definition (1/(n*T) over every series and step). Coverage is the
share of all observed points; GluonTS instead averages per-series shares, which is the same number
whenever every window has the same count of observed targets. MASE pools its numerator but takes a
single 1-D history: a rolling backtest, where each window has its own history, scores one window at
a time and averages (see `backtest.evaluate`).

Missing targets (NaN in `y`) are left out of every sum and count, as GluonTS's masked arrays do. A
NaN or infinite *prediction* where the target is observed is an error, never masked: masking it
would hide a broken forecast and flatter the model. A metric with no observed target, or a zero
denominator, raises `DataError` rather than return 0, NaN or infinity.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nikkei_deepar.errors import DataError

FloatArray = NDArray[np.float64]


def quantile_loss(y: ArrayLike, q_pred: ArrayLike, tau: float) -> float:
    """2 * sum |(y - q) * (1{y <= q} - tau)| over the observed targets (summed over every window)."""
    _check_tau(tau)
    yv, (qv,) = _observed(y, ("q_pred", q_pred))
    return _quantile_loss(yv, qv, tau)


def weighted_quantile_loss(y: ArrayLike, q_pred: ArrayLike, tau: float) -> float:
    """SageMaker's wQuantileLoss[tau]: quantile_loss / sum |y|, both sums over every observed target."""
    _check_tau(tau)
    yv, (qv,) = _observed(y, ("q_pred", q_pred))
    return _quantile_loss(yv, qv, tau) / _abs_target_sum(yv)


def mean_weighted_quantile_loss(y: ArrayLike, quantile_preds: Mapping[float, ArrayLike]) -> float:
    """SageMaker's mean_wQuantileLoss: the plain average of wQuantileLoss[tau] over `quantile_preds`.

    Each wQuantileLoss[tau] pools all windows (sum of losses / sum of |y|); the average over quantiles
    comes last, as in GluonTS's Evaluator.
    """
    if not quantile_preds:
        raise ValueError("mean_weighted_quantile_loss needs at least one quantile forecast")
    losses: list[float] = []
    denominator: float | None = None
    for tau, q_pred in quantile_preds.items():
        _check_tau(tau)
        yv, (qv,) = _observed(y, (f"quantile {tau}", q_pred))
        if denominator is None:
            denominator = _abs_target_sum(yv)
        losses.append(_quantile_loss(yv, qv, tau) / denominator)
    return float(np.mean(losses))


def rmse(y: ArrayLike, y_hat: ArrayLike) -> float:
    """Root mean squared error over every observed target (SageMaker's test:RMSE uses the mean forecast)."""
    yv, (pv,) = _observed(y, ("y_hat", y_hat))
    return float(np.sqrt(np.mean(np.square(yv - pv))))


def seasonal_error(insample: ArrayLike, *, season: int = 1) -> float:
    """MASE's scale: mean |x[t] - x[t - season]| over the pairs where both values are observed.

    Positions are those of the array as given, as in GluonTS (which masks NaN): on a calendar-day
    series with NaN for closed days and season=1, a Friday-to-Monday move is not a pair (Saturday and
    Sunday are NaN), so the scale is the typical one-day move between consecutive open days.
    """
    if isinstance(season, bool) or not isinstance(season, int) or season < 1:
        raise ValueError(f"season must be a positive integer, got {season!r}")
    x = np.asarray(insample, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"the in-sample history must be 1-D, got shape {x.shape}")
    if np.isinf(x).any():
        raise DataError("the in-sample history has infinite values")
    later, earlier = x[season:], x[:-season]
    both = ~np.isnan(later) & ~np.isnan(earlier)
    if not both.any():
        raise DataError(
            f"MASE is undefined: the history has no two observed values {season} step(s) apart",
            hint="score on a longer history or a smaller season",
        )
    scale = float(np.mean(np.abs(later[both] - earlier[both])))
    if scale == 0.0:
        raise DataError(
            "MASE is undefined: the in-sample scale is 0 (the history never changes over one season)"
        )
    return scale


def mase(y: ArrayLike, y_hat: ArrayLike, *, insample: ArrayLike, season: int = 1) -> float:
    """Mean absolute scaled error: mean |y - y_hat| over observed targets / `seasonal_error(insample)`.

    `y` and `y_hat` may be 2-D (the numerator pools every observed point) but there is one scale,
    from one 1-D history; per-window scores are averaged by the caller.
    """
    scale = seasonal_error(insample, season=season)
    yv, (pv,) = _observed(y, ("y_hat", y_hat))
    return float(np.mean(np.abs(yv - pv))) / scale


def coverage(y: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> float:
    """Share of the observed targets with lower <= y <= upper (bounds inclusive, pooled over windows)."""
    yv, (lo, hi) = _observed(y, ("lower", lower), ("upper", upper))
    crossed = int(np.count_nonzero(lo > hi))
    if crossed:
        raise DataError(f"the lower bound is above the upper bound at {crossed} point(s)")
    return float(np.mean((lo <= yv) & (yv <= hi)))


def _quantile_loss(yv: FloatArray, qv: FloatArray, tau: float) -> float:
    # At y == q the loss is 0 whichever side the indicator takes: the factor (y - q) is 0.
    below = (yv <= qv).astype(np.float64)
    return float(2.0 * np.sum(np.abs((yv - qv) * (below - tau))))


def _abs_target_sum(yv: FloatArray) -> float:
    total = float(np.sum(np.abs(yv)))
    if total == 0.0:
        raise DataError("the weighted quantile loss is undefined: every observed target is 0")
    return total


def _check_tau(tau: float) -> None:
    if not 0.0 < tau < 1.0:
        raise ValueError(f"a quantile level must lie strictly between 0 and 1, got {tau!r}")


def _observed(y: ArrayLike, *predictions: tuple[str, ArrayLike]) -> tuple[FloatArray, list[FloatArray]]:
    """The observed targets and, at the same points, each prediction (same shape as `y` required)."""
    yv = np.asarray(y, dtype=np.float64)
    mask = ~np.isnan(yv)
    if not mask.any():
        raise DataError("there is no observed target to score (empty or all NaN)")
    if np.isinf(yv[mask]).any():
        raise DataError("the target has infinite values")
    picked: list[FloatArray] = []
    for name, prediction in predictions:
        pv = np.asarray(prediction, dtype=np.float64)
        if pv.shape != yv.shape:
            raise ValueError(f"{name} has shape {pv.shape} but the target has shape {yv.shape}")
        at_observed = pv[mask]
        bad = int(np.count_nonzero(~np.isfinite(at_observed)))
        if bad:
            raise DataError(f"{name} is NaN or infinite at {bad} point(s) where the target is observed")
        picked.append(at_observed)
    return yv[mask], picked
