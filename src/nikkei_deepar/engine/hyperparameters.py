"""SageMaker DeepAR's hyperparameters, checked and mapped for the local engine: `parse_hyperparameters`.

Owns which SageMaker keys the local backend accepts, their defaults and ranges, and the table below.
Pure: the standard library and `errors` only; no gluonts, torch or lightning (the engine turns
`Settings` into a `DeepAREstimator`; this module names GluonTS classes only as strings), no I/O.

Hyperparameters (strings, as SageMaker takes them) -> `gluonts.torch.model.deepar.DeepAREstimator`:

| SageMaker                   | default         | GluonTS DeepAREstimator                                    |
|-----------------------------|-----------------|------------------------------------------------------------|
| `time_freq` (required)      |                 | `freq` (`H` is passed as `h`, pandas' spelling)            |
| `prediction_length` (req.)  |                 | `prediction_length`                                        |
| `context_length` (required) |                 | `context_length`                                           |
| `epochs` (required)         |                 | `trainer_kwargs["max_epochs"]`                             |
| `num_cells`                 | 40              | `hidden_size`                                              |
| `num_layers`                | 2               | `num_layers`                                               |
| `dropout_rate`              | 0.1             | `dropout_rate`                                             |
| `learning_rate`             | 0.001           | `lr`                                                       |
| `mini_batch_size`           | 128             | `batch_size`                                               |
| `likelihood`                | student-T       | `distr_output`: student-T -> StudentTOutput,               |
|                             |                 | gaussian -> NormalOutput, negative-binomial ->             |
|                             |                 | NegativeBinomialOutput; beta, deterministic-L1: UsageError |
| `num_eval_samples`          | 100             | `num_parallel_samples`; samples per test series            |
| `test_quantiles`            | [0.1, ..., 0.9] | the quantiles of the test metrics                          |
| `early_stopping_patience`   | none            | Lightning `EarlyStopping` on the epoch's train loss        |
|                             |                 | (no validation set, as on SageMaker); GluonTS keeps        |
|                             |                 | the best epoch's weights                                   |
| `embedding_dimension`       | ignored         | only meaningful with `cat` (refused locally)               |
| `cardinality`               | ignored         | only meaningful with `cat` (refused locally)               |
| `num_dynamic_feat`          | auto            | `num_feat_dynamic_real`: auto = the channels' row count,   |
|                             |                 | ignore = drop them, n = must match the channels           |

Any other key is a UsageError. `num_batches_per_epoch` is not a SageMaker hyperparameter (SageMaker
sizes an epoch itself): it is an argument of `engine.train`, GluonTS's default 50.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from nikkei_deepar.errors import UsageError

LIKELIHOODS = {
    "student-T": "StudentTOutput",
    "gaussian": "NormalOutput",
    "negative-binomial": "NegativeBinomialOutput",
}
_DEFAULT_QUANTILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class Settings:
    """The hyperparameters, parsed and checked; `raw` is what the caller passed."""

    raw: dict[str, str]
    freq: str
    prediction_length: int
    context_length: int
    epochs: int
    hidden_size: int
    num_layers: int
    dropout_rate: float
    lr: float
    batch_size: int
    likelihood: str
    num_eval_samples: int
    test_quantiles: tuple[float, ...]
    early_stopping_patience: int | None
    num_dynamic_feat: int | str  # "auto", "ignore" or a row count


def parse_hyperparameters(hyperparameters: Mapping[str, str]) -> Settings:
    """Check SageMaker's string hyperparameters against what the local backend supports (no imports)."""
    raw = {str(k): str(v).strip() for k, v in hyperparameters.items()}
    known = {
        "time_freq",
        "prediction_length",
        "context_length",
        "epochs",
        "num_cells",
        "num_layers",
        "dropout_rate",
        "learning_rate",
        "mini_batch_size",
        "likelihood",
        "num_eval_samples",
        "test_quantiles",
        "early_stopping_patience",
        "embedding_dimension",
        "cardinality",
        "num_dynamic_feat",
    }
    unknown = sorted(set(raw) - known)
    if unknown:
        raise UsageError(
            f"unknown hyperparameter(s) for the local backend: {', '.join(unknown)}",
            hint=f"known: {', '.join(sorted(known))}",
        )
    missing = [k for k in ("time_freq", "prediction_length", "context_length", "epochs") if k not in raw]
    if missing:
        raise UsageError(f"missing required hyperparameter(s): {', '.join(missing)}")

    freq_match = re.fullmatch(r"([1-9][0-9]*)?(M|W|D|H|min)", raw["time_freq"])
    if freq_match is None:
        raise UsageError(
            f"time_freq {raw['time_freq']!r} is not a DeepAR frequency",
            hint="an integer multiple of M, W, D, H or min, e.g. D or 5min",
        )
    freq = (freq_match.group(1) or "") + ("h" if freq_match.group(2) == "H" else freq_match.group(2))
    likelihood = raw.get("likelihood", "student-T")
    if likelihood not in LIKELIHOODS:
        raise UsageError(
            f"likelihood {likelihood!r} is not supported by the local backend",
            hint=f"use one of: {', '.join(LIKELIHOODS)}",
        )
    num_dynamic_feat: int | str = raw.get("num_dynamic_feat", "auto")
    if num_dynamic_feat not in ("auto", "ignore"):
        num_dynamic_feat = _int(raw, "num_dynamic_feat", None)
    patience = raw.get("early_stopping_patience")
    return Settings(
        raw=raw,
        freq=freq,
        prediction_length=_int(raw, "prediction_length", None),
        context_length=_int(raw, "context_length", None),
        epochs=_int(raw, "epochs", None),
        hidden_size=_int(raw, "num_cells", 40),
        num_layers=_int(raw, "num_layers", 2),
        dropout_rate=_float(raw, "dropout_rate", 0.1, ok=lambda v: 0.0 <= v < 1.0),
        lr=_float(raw, "learning_rate", 1e-3, ok=lambda v: v > 0.0),
        batch_size=_int(raw, "mini_batch_size", 128),
        likelihood=likelihood,
        num_eval_samples=_int(raw, "num_eval_samples", 100),
        test_quantiles=_quantile_list(raw.get("test_quantiles")),
        early_stopping_patience=None if patience is None else _int(raw, "early_stopping_patience", None),
        num_dynamic_feat=num_dynamic_feat,
    )


def _int(raw: Mapping[str, str], key: str, default: int | None) -> int:
    if key not in raw:
        assert default is not None
        return default
    try:
        value = int(raw[key])
    except ValueError:
        raise UsageError(f"hyperparameter {key}={raw[key]!r} is not an integer") from None
    if value < 1:
        raise UsageError(f"hyperparameter {key}={raw[key]!r} must be at least 1")
    return value


def _float(raw: Mapping[str, str], key: str, default: float, *, ok: Callable[[float], bool]) -> float:
    if key not in raw:
        return default
    try:
        value = float(raw[key])
    except ValueError:
        raise UsageError(f"hyperparameter {key}={raw[key]!r} is not a number") from None
    if not (math.isfinite(value) and ok(value)):
        raise UsageError(f"hyperparameter {key}={raw[key]!r} is out of range")
    return value


def _quantile_list(text: str | None) -> tuple[float, ...]:
    if text is None:
        return _DEFAULT_QUANTILES
    try:
        values = json.loads(text)
        taus = tuple(float(v) for v in values)
    except (ValueError, TypeError):
        raise UsageError(
            f"test_quantiles {text!r} is not a list of numbers", hint='e.g. "[0.1, 0.5, 0.9]"'
        ) from None
    if not taus or not all(0.0 < t < 1.0 for t in taus):
        raise UsageError(f"test_quantiles {text!r} must list quantile levels strictly between 0 and 1")
    return taus
