"""The forecast `predict` prints: DeepAR's dated answer mixed with the random walk (`[forecast]
random_walk_weight`), and the random walk's own forecast for the same sessions (kept beside it).

Pure: numpy, no I/O. Done here, on the client, so both backends give the same forecast for the same
DeepAR answer. The random walk is the one `backtest` scores: the last close, with quantiles from the
past k-session log returns of the same history.
"""

from __future__ import annotations

from nikkei_deepar.data.inference import DatedPoint
from nikkei_deepar.data.series import Series


def random_walk_points(points: list[DatedPoint], series: Series) -> list[DatedPoint]:
    """The random walk's forecast for the same dates and quantile levels as `points`: the one `backtest`
    scores (the last close, with quantiles from past k-session log returns of the same history)."""
    if not points:
        return []
    from nikkei_deepar.data.baselines import observed, random_walk

    keys = list(points[0].quantiles)
    walk = random_walk(observed(series.target), horizon=len(points), quantiles=[float(k) for k in keys])
    return [
        DatedPoint(
            step=p.step,
            date=p.date,
            mean=float(walk.mean[i]),
            quantiles={key: float(walk.quantile(float(key))[i]) for key in keys},
        )
        for i, p in enumerate(points)
    ]


def blend_with_random_walk(
    points: list[DatedPoint], series: Series, *, weight: float, baseline: list[DatedPoint] | None = None
) -> list[DatedPoint]:
    """Mix the random walk into the dated forecast, level by level (`[forecast] random_walk_weight`).

    Done here, on the client, so both backends give the same forecast for the same DeepAR answer. The
    random walk is `random_walk_points` (given, or computed from `series`).
    """
    import numpy as np

    from nikkei_deepar.data.baselines import QuantileForecast, blend

    baseline = random_walk_points(points, series) if baseline is None else baseline
    keys = list(points[0].quantiles)
    levels = {key: float(key) for key in keys}

    def paths(found: list[DatedPoint]) -> QuantileForecast:
        return QuantileForecast(
            mean=np.array([p.mean for p in found], dtype=np.float64),
            quantiles={
                levels[key]: np.array([p.quantiles[key] for p in found], dtype=np.float64) for key in keys
            },
        )

    mixed = blend(paths(points), paths(baseline), weight=weight)
    return [
        DatedPoint(
            step=p.step,
            date=p.date,
            mean=float(mixed.mean[i]),
            quantiles={key: float(mixed.quantile(levels[key])[i]) for key in keys},
        )
        for i, p in enumerate(points)
    ]
