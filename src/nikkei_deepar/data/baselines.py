"""Forecasts that need no training: the yardsticks DeepAR has to beat.

Pure numpy, no I/O. Each function takes the target history (1-D, NaN for missing values) and returns a
`QuantileForecast` for the `horizon` positions that follow it.

Steps are positions in the array as given, NaN included. On a series of consecutive trading days
that is the textbook k-step model. On a calendar-day series (closed days as NaN, the encoding DeepAR
gets with `time_freq=D`), step k is k calendar days ahead, and the spread for step k comes from every
pair of observed closes exactly k calendar days apart: for k=3 that mixes Friday-to-Monday moves
(one session) with Monday-to-Thursday moves (three sessions), which is what a calendar-day forecast
really faces. Forecasts at closed days are harmless: the metrics mask NaN targets. Dropping the NaN
and counting trading steps instead would need the future trading calendar, which a history does not
carry. If the history ends in NaN (an origin on a weekend), the anchor is the last observed close and
the lag for step k grows by the number of trailing NaN positions.

Quantiles are `numpy.quantile(method="linear")` of the log returns (interpolated in log space),
mapped back to prices with `anchor * exp(.)`. Prices must be positive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nikkei_deepar.errors import DataError

FloatArray = NDArray[np.float64]

_TAU_TOLERANCE = 1e-9


@dataclass(frozen=True)
class QuantileForecast:
    """A forecast of `horizon` steps: a point (mean) path and one path per quantile level."""

    mean: FloatArray  # (horizon,)
    quantiles: dict[float, FloatArray]  # tau -> (horizon,)

    def __post_init__(self) -> None:
        if self.mean.ndim != 1:
            raise ValueError(f"the mean forecast must be 1-D, got shape {self.mean.shape}")
        for tau, path in self.quantiles.items():
            if path.shape != self.mean.shape:
                raise ValueError(
                    f"quantile {tau} has shape {path.shape}, the mean forecast {self.mean.shape}"
                )

    @property
    def horizon(self) -> int:
        return int(self.mean.shape[0])

    def quantile(self, tau: float) -> FloatArray:
        """The path for level `tau`; tolerant of float spelling (0.1 parsed from "0.1" or 1/10)."""
        for level, path in self.quantiles.items():
            if abs(level - tau) <= _TAU_TOLERANCE:
                return path
        raise KeyError(f"this forecast has no {tau} quantile (it has {sorted(self.quantiles)})")


def random_walk(
    history: ArrayLike, *, horizon: int, quantiles: Sequence[float], lookback: int | None = None
) -> QuantileForecast:
    """The naive forecast: the last observed close, with quantiles from past k-step log returns.

    mean[k] = last observed close, for every step: a driftless random walk, so the point forecast
    is "no change" and carries no trend. (The empirical mean of exp(k-step return) would extrapolate
    the history's drift, which is exactly what a naive yardstick must not do.)
    quantile[tau][k] = last * exp(q_tau{ log(y[t+L] / y[t]) }), L = k + trailing NaN count, over all
    t with both ends observed. `lookback` keeps only the last `lookback` positions for those returns.
    Raises DataError if some step has no pair of observed values L positions apart.
    """
    values = _history(history)
    _check_horizon(horizon)
    taus = _quantile_levels(quantiles)
    if lookback is not None:
        if isinstance(lookback, bool) or not isinstance(lookback, int) or lookback < 2:
            raise ValueError(f"lookback must be an integer of at least 2, got {lookback!r}")
        window = values[-lookback:]
    else:
        window = values
    last_position = int(np.flatnonzero(~np.isnan(values))[-1])
    anchor = float(values[last_position])
    trailing_gap = len(values) - 1 - last_position
    paths = {tau: np.empty(horizon, dtype=np.float64) for tau in taus}
    for step in range(horizon):
        lag = step + 1 + trailing_gap
        returns = _lagged_log_returns(window, lag)
        if returns.size == 0:
            raise DataError(
                f"the random walk needs past {lag}-step returns and the history has none "
                f"({len(window)} positions{' in the lookback' if lookback is not None else ''})",
                hint="use a longer history or a shorter horizon",
            )
        levels = np.quantile(returns, taus, method="linear")
        for tau, level in zip(taus, levels, strict=True):
            paths[tau][step] = anchor * np.exp(level)
    return QuantileForecast(mean=np.full(horizon, anchor, dtype=np.float64), quantiles=paths)


def seasonal_naive(
    history: ArrayLike, *, horizon: int, season: int, quantiles: Sequence[float]
) -> QuantileForecast | None:
    """Repeat the last season: mean[k] = history[n - season + (k % season)] (n = len(history)).

    If that position is NaN, the same phase one more season back is used, and so on. quantile[tau][k]
    = reference * exp(q_tau of the log ratios y[t] / y[t - L]), L the distance from the target step to
    its reference (L = season for the first season of the horizon, 2 * season for the next, ...).
    With season=1 this is exactly `random_walk`.

    Returns None where the model does not apply: a history shorter than two seasons, a step whose
    phase was never observed, or a lag with no pair of observed values.
    """
    values = _history(history)
    _check_horizon(horizon)
    taus = _quantile_levels(quantiles)
    if isinstance(season, bool) or not isinstance(season, int) or season < 1:
        raise ValueError(f"season must be a positive integer, got {season!r}")
    n = len(values)
    if n < 2 * season:
        return None
    mean = np.empty(horizon, dtype=np.float64)
    paths = {tau: np.empty(horizon, dtype=np.float64) for tau in taus}
    for step in range(horizon):
        target_position = n + step
        reference = target_position - (step // season + 1) * season
        while reference >= 0 and np.isnan(values[reference]):
            reference -= season
        if reference < 0:
            return None
        returns = _lagged_log_returns(values, target_position - reference)
        if returns.size == 0:
            return None
        base = float(values[reference])
        mean[step] = base
        levels = np.quantile(returns, taus, method="linear")
        for tau, level in zip(taus, levels, strict=True):
            paths[tau][step] = base * np.exp(level)
    return QuantileForecast(mean=mean, quantiles=paths)


def _lagged_log_returns(values: FloatArray, lag: int) -> FloatArray:
    """log(y[t + lag] / y[t]) for every t where both positions are observed."""
    if lag >= len(values):
        return np.empty(0, dtype=np.float64)
    later, earlier = values[lag:], values[:-lag]
    both = ~np.isnan(later) & ~np.isnan(earlier)
    return np.log(later[both] / earlier[both])


def _history(history: ArrayLike) -> FloatArray:
    values = np.asarray(history, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"the history must be 1-D, got shape {values.shape}")
    observed = values[~np.isnan(values)]
    if observed.size == 0:
        raise DataError("the history has no observed value (empty or all NaN)")
    if not np.all(np.isfinite(observed)) or np.any(observed <= 0):
        raise DataError("log returns need positive, finite prices: the history has a value <= 0 or inf")
    return values


def _check_horizon(horizon: int) -> None:
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon!r}")


def _quantile_levels(quantiles: Sequence[float]) -> list[float]:
    taus = [float(tau) for tau in quantiles]
    if not taus:
        raise ValueError("at least one quantile level is needed")
    for tau in taus:
        if not 0.0 < tau < 1.0:
            raise ValueError(f"a quantile level must lie strictly between 0 and 1, got {tau!r}")
    return taus


def blend(model: QuantileForecast, baseline: QuantileForecast, *, weight: float) -> QuantileForecast:
    """Quantile averaging: ``(1 - weight) * model + weight * baseline`` for the mean and every level.

    `weight` is the baseline's share (0 = the model alone, 1 = the baseline alone). Averaging two
    forecasts level by level keeps each path ordered if both were, and, the quantile loss being
    convex, the blend's loss is never above the same mix of the two losses. Levels are matched by
    value; the result has the model's levels, each of which the baseline must have.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must lie in [0, 1], got {weight!r}")
    if model.horizon != baseline.horizon:
        raise ValueError(f"horizons differ: {model.horizon} and {baseline.horizon}")
    keep = 1.0 - weight
    return QuantileForecast(
        mean=keep * model.mean + weight * baseline.mean,
        quantiles={
            tau: keep * path + weight * baseline.quantile(tau) for tau, path in model.quantiles.items()
        },
    )


def observed(history: ArrayLike) -> FloatArray:
    """The observed values of a history, in order (NaN dropped): a calendar-day series as sessions."""
    values = np.asarray(history, dtype=np.float64)
    return values[~np.isnan(values)]
