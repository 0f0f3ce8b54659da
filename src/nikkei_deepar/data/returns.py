"""The `[data] target = "log_return"` transform: closes -> returns for DeepAR, its samples -> prices.

Pure numpy, no I/O. DeepAR models ``100 * ln(close / previous observed close)`` at each observed point
(NaN at missing points and at the first one), so a level near 40000 never has to be forecast to 0.5%
and the closed days GluonTS imputes as 0 are a "no change" day rather than a crash to zero. Its sample
paths of returns become price paths ``anchor * exp(cumsum(samples / 100))`` over the trading steps only
(a closed day keeps the previous price); the mean and the quantiles are taken over those price paths.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nikkei_deepar.data.answer import MODEL_HINT, finite_values, quote
from nikkei_deepar.data.baselines import QuantileForecast
from nikkei_deepar.errors import AwsError

FloatArray = NDArray[np.float64]

SCALE = 100.0
"""Returns are in percent: DeepAR's default noise floor and priors suit values of order 1."""


def to_log_returns(target: ArrayLike) -> FloatArray:
    """``100 * ln(close / previous observed close)`` at each observed point of `target` (1-D, NaN for
    missing points); NaN at missing points and at the first observed point. Closes must be positive."""
    values = np.asarray(target, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"the target must be 1-D, got shape {values.shape}")
    observed = np.flatnonzero(~np.isnan(values))
    if observed.size and not (values[observed] > 0).all():
        raise ValueError("log returns need positive closes")
    out = np.full_like(values, np.nan)
    out[observed[1:]] = SCALE * np.diff(np.log(values[observed]))
    return out


def price_paths(samples: object, *, anchor: float, trading: Sequence[bool]) -> FloatArray:
    """Price paths (num_samples x prediction_length) from sampled returns: `anchor` (the last close)
    times exp of the cumulated returns of the trading steps; a closed step keeps the previous price.

    Raises AwsError (one line, quoting what came back) unless `samples` is a non-empty list of lists of
    finite numbers, each as long as `trading`.
    """
    array = _samples(samples, steps=len(trading))
    if not (math.isfinite(anchor) and anchor > 0):
        raise ValueError(f"the anchor must be a positive close, got {anchor}")
    mask = np.asarray(list(trading), dtype=bool)
    moves = np.where(mask, array, 0.0) / SCALE
    with np.errstate(over="ignore"):
        paths = float(anchor) * np.exp(np.cumsum(moves, axis=1))
    if not np.isfinite(paths).all():
        raise AwsError(
            "the prediction's samples imply prices beyond any number (returns of thousands of percent): "
            f"{quote(_text(samples))}",
            hint="the model is broken: train it again (`nikkei-deepar train`) and redeploy",
        )
    return paths


def price_forecast(
    samples: object, *, anchor: float, trading: Sequence[bool], quantiles: Sequence[float]
) -> QuantileForecast:
    """The price forecast of DeepAR's sampled returns: mean and `quantiles` (numpy.quantile, linear)
    over the price paths of `price_paths`, one value per step (closed steps included)."""
    paths = price_paths(samples, anchor=anchor, trading=trading)
    return QuantileForecast(
        mean=paths.mean(axis=0),
        quantiles={float(q): np.quantile(paths, float(q), axis=0) for q in quantiles},
    )


def _samples(raw: object, *, steps: int) -> FloatArray:
    rows = raw.tolist() if isinstance(raw, np.ndarray) else raw
    text = _text(raw)
    if not isinstance(rows, list) or len(rows) == 0:
        raise AwsError(f"the prediction has no samples list of lists: {quote(text)}", hint=MODEL_HINT)
    values = [
        finite_values(row, text, name=f"sample {number}", length=steps) for number, row in enumerate(rows)
    ]
    return np.asarray(values, dtype=np.float64).reshape(len(rows), steps)


def _text(raw: object) -> str:
    """The answer as JSON text, for quoting it."""
    try:
        return json.dumps(raw.tolist() if isinstance(raw, np.ndarray) else raw)
    except (TypeError, ValueError, RecursionError):
        return repr(raw)[:1000]
