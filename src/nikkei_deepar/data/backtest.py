"""Rolling-origin evaluation: cut the last windows off a series, forecast each, score them all.

Model-agnostic and pure: a model is a `ForecastFn` (history up to the origin, horizon) -> forecast,
so the random walk, a local GluonTS DeepAR and a SageMaker endpoint are scored by the same code.
No I/O, no network, no training here: a model that must be trained does that before it is wrapped.

How the scores aggregate over the N windows (the "mean wQL over N windows" the backtest reports):
- mean_wql: SageMaker's mean_wQuantileLoss over all windows pooled. For each quantile, the quantile
  losses of every window are summed and divided by the sum of |actual| over every window; then the
  quantiles are averaged. It is not the mean of N per-window scores (GluonTS aggregates the same way).
- rmse: over every observed actual of every window (SageMaker's 1/(n*T)), on the forecast's mean.
- coverage80: the share of all observed actuals inside [q0.1, q0.9], bounds inclusive.
- mase: the mean of per-window MASE; each window's scale comes from its own history (the target
  before its origin), as GluonTS does, and its numerator uses the forecast's mean, so the random
  walk's point forecast is exactly the last close. (GluonTS's Evaluator uses the median for MASE.)
A window whose actuals are all NaN (possible with calendar-day indexing and a short horizon) has
nothing to score: it is skipped, and `ModelScore.windows` counts only the windows scored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nikkei_deepar.data import metrics
from nikkei_deepar.data.baselines import QuantileForecast
from nikkei_deepar.errors import DataError

FloatArray = NDArray[np.float64]

ForecastFn = Callable[[FloatArray, int], QuantileForecast]
"""(history: the target before the origin, a copy; horizon) -> a forecast of `horizon` steps."""

COVERAGE_LOWER = 0.1
COVERAGE_UPPER = 0.9
_TAU_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Window:
    """One forecast window: the forecast starts at `origin` (an index into the target)."""

    origin: int
    actual: FloatArray  # target[origin : origin + horizon]


@dataclass(frozen=True)
class ModelScore:
    """One model's scores over the windows it was evaluated on (aggregation in the module docstring)."""

    model: str
    mean_wql: float
    mase: float
    rmse: float
    coverage80: float
    windows: int
    # each scored window's origin (an index into the target) and its forecast, oldest first (for plots)
    origins: tuple[int, ...] = field(default=(), repr=False, compare=False)
    forecasts: tuple[QuantileForecast, ...] = field(default=(), repr=False, compare=False)


def rolling_windows(
    target: ArrayLike, *, horizon: int, windows: int, min_history: int | None = None
) -> list[Window]:
    """The last `windows` non-overlapping windows of `horizon` positions, oldest first.

    The newest window ends at the last position of the target. Before the oldest one at least
    `min_history` positions must remain (default horizon + 1: room for at least one horizon-step
    return); otherwise DataError.
    """
    values = np.asarray(target, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"the target must be 1-D, got shape {values.shape}")
    for name, value in (("horizon", horizon), ("windows", windows)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    needed_history = horizon + 1 if min_history is None else min_history
    if needed_history < 1:
        raise ValueError(f"min_history must be at least 1, got {min_history!r}")
    needed = windows * horizon + needed_history
    if len(values) < needed:
        raise DataError(
            f"the series has {len(values)} points; {windows} windows of {horizon} need at least {needed} "
            f"({needed_history} of history before the first window)",
            hint="use fewer windows or a shorter horizon, or prepare a longer history",
        )
    first = len(values) - windows * horizon
    return [
        Window(origin=origin, actual=values[origin : origin + horizon].copy())
        for origin in range(first, len(values), horizon)
    ]


def evaluate(
    name: str,
    forecast_fn: ForecastFn,
    target: ArrayLike,
    *,
    horizon: int,
    windows: int,
    quantiles: Sequence[float],
    season_for_mase: int = 1,
) -> ModelScore:
    """Forecast every rolling window from the history before it and score the lot.

    `quantiles` are the levels scored by mean_wql; they must include 0.1 and 0.9 (coverage80).
    """
    taus = [float(tau) for tau in quantiles]
    for required in (COVERAGE_LOWER, COVERAGE_UPPER):
        if not any(abs(tau - required) <= _TAU_TOLERANCE for tau in taus):
            raise DataError(
                f"the 80% coverage needs the {required} quantile; the quantiles asked for are {taus}",
                hint="include 0.1 and 0.9 in the quantiles",
            )
    values = np.asarray(target, dtype=np.float64)
    actuals: list[FloatArray] = []
    means: list[FloatArray] = []
    paths: dict[float, list[FloatArray]] = {tau: [] for tau in taus}
    window_mase: list[float] = []
    kept: list[tuple[int, QuantileForecast]] = []
    for window in rolling_windows(values, horizon=horizon, windows=windows):
        if np.isnan(window.actual).all():
            continue
        history = values[: window.origin]
        # the model gets its own copy: whatever it does to it cannot touch the target or the scale
        forecast = forecast_fn(history.copy(), horizon)
        if forecast.horizon != horizon:
            raise DataError(
                f"model {name!r} returned {forecast.horizon} steps for a horizon of {horizon} "
                f"(window at {window.origin})"
            )
        actuals.append(window.actual)
        kept.append((window.origin, forecast))
        means.append(forecast.mean)
        for tau in taus:
            try:
                paths[tau].append(forecast.quantile(tau))
            except KeyError:
                raise DataError(f"model {name!r} returned no {tau} quantile") from None
        window_mase.append(
            metrics.mase(window.actual, forecast.mean, insample=history, season=season_for_mase)
        )
    if not actuals:
        raise DataError(f"none of the last {windows} windows has an observed value to score")
    actual = np.stack(actuals)
    stacked = {tau: np.stack(path) for tau, path in paths.items()}
    lower = next(path for tau, path in stacked.items() if abs(tau - COVERAGE_LOWER) <= _TAU_TOLERANCE)
    upper = next(path for tau, path in stacked.items() if abs(tau - COVERAGE_UPPER) <= _TAU_TOLERANCE)
    return ModelScore(
        model=name,
        mean_wql=metrics.mean_weighted_quantile_loss(actual, stacked),
        mase=float(np.mean(window_mase)),
        rmse=metrics.rmse(actual, np.stack(means)),
        coverage80=metrics.coverage(actual, lower, upper),
        windows=len(actuals),
        origins=tuple(origin for origin, _ in kept),
        forecasts=tuple(forecast for _, forecast in kept),
    )
