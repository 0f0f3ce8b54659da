"""What the local DeepAR reads: SageMaker's JSON Lines channels and inference requests, checked; and the
shape of its answer (`Request.answer`).

Owns the validation of a `train`/`test` channel line (`{"start": "YYYY-MM-DD HH:MM:SS", "target":
[...]}`, nulls and "NaN" as missing) and of an inference request (`instances` plus `configuration`),
with one `DataError` per problem naming the line or instance. Pure parsing: no training, no torch or
gluonts import (numpy only), no network, no printing. `local.engine` turns what it returns into
GluonTS datasets.
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nikkei_deepar.engine.hyperparameters import Settings
from nikkei_deepar.errors import DataError

_START_FORMAT = "%Y-%m-%d %H:%M:%S"
_OUTPUT_TYPES = ("mean", "quantiles", "samples")
# predict() without a "configuration": SageMaker's defaults are not in our facts sheet, so ours.
_DEFAULT_CONFIGURATION: dict[str, Any] = {
    "num_samples": 100,
    "output_types": ["mean", "quantiles"],
    "quantiles": ["0.1", "0.5", "0.9"],
}


@dataclass(frozen=True)
class InputSeries:
    """One series as DeepAR reads it: its start (a string) and its target, NaN where missing."""

    start: str
    target: NDArray[np.float32]
    dynamic_feat: NDArray[np.float32] | None = None  # features x time, no missing value


@dataclass(frozen=True)
class Request:
    """A checked inference request: the series to forecast and what to answer with."""

    instances: list[InputSeries]
    num_samples: int
    output_types: list[str]
    quantiles: list[tuple[str, float]]  # (the key as the request spelled it, the level)

    def answer(self, samples: NDArray[np.float64]) -> dict[str, Any]:
        """One prediction of the response from one series' sample paths (num_samples x horizon): what
        `output_types` asks for, quantiles keyed as the request spelled them."""
        answer: dict[str, Any] = {}
        if "mean" in self.output_types:
            answer["mean"] = samples.mean(axis=0).tolist()
        if "quantiles" in self.output_types:
            answer["quantiles"] = {
                key: np.quantile(samples, tau, axis=0).tolist() for key, tau in self.quantiles
            }
        if "samples" in self.output_types:
            answer["samples"] = samples.tolist()
        return answer


def parse_channel(data: bytes, name: str, settings: Settings, *, required: bool) -> list[InputSeries]:
    """Every series of channel `name` (blank lines skipped); a `test` series must be long enough to score."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(f"the {name} channel is not UTF-8 text") from None
    series = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{name} line {number}: not JSON ({exc.msg})") from None
        series.append(parse_series(record, f"{name} line {number}"))
    if required and not series:
        raise DataError(f"the {name} channel holds no series")
    for number, s in enumerate(series, 1):
        rows = 0 if s.dynamic_feat is None else s.dynamic_feat.shape[0]
        first = 0 if series[0].dynamic_feat is None else series[0].dynamic_feat.shape[0]
        if rows != first:
            raise DataError(f"{name} line {number}: {rows} dynamic_feat row(s), line 1 has {first}")
        check_dynamic_feat(s, f"{name} line {number}", expected=rows, length=len(s.target))
    if name == "test":
        for number, s in enumerate(series, 1):
            if len(s.target) <= settings.prediction_length:
                raise DataError(
                    f"test line {number}: {len(s.target)} points; a test series needs more "
                    f"than prediction_length ({settings.prediction_length}) to be scored"
                )
    return series


def parse_series(record: Any, where: str) -> InputSeries:
    """One channel line or request instance; `where` names it in the error."""
    if not isinstance(record, dict):
        raise DataError(f"{where}: expected a JSON object with start and target")
    extra = sorted(set(record) - {"start", "target", "dynamic_feat"})
    if extra:
        raise DataError(
            f"{where}: field(s) {', '.join(extra)} not supported by the local backend",
            hint="the local backend trains on start, target and dynamic_feat only (no cat)",
        )
    start = record.get("start")
    if not isinstance(start, str):
        raise DataError(f"{where}: start must be a string 'YYYY-MM-DD HH:MM:SS'")
    try:
        datetime.datetime.strptime(start, _START_FORMAT)
    except ValueError:
        raise DataError(f"{where}: start {start!r} is not 'YYYY-MM-DD HH:MM:SS'") from None
    raw_target = record.get("target")
    if not isinstance(raw_target, list) or not raw_target:
        raise DataError(f"{where}: target must be a non-empty list of numbers")
    target = np.empty(len(raw_target), dtype=np.float32)
    for i, value in enumerate(raw_target):
        if value is None or value == "NaN":
            target[i] = np.nan
        elif (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and (math.isfinite(value) or math.isnan(value))
        ):
            target[i] = value
        else:
            raise DataError(f'{where}: target[{i}] = {value!r} is not a number, null or "NaN"')
    if np.isnan(target).all():
        raise DataError(f"{where}: every target value is missing")
    raw_feat = record.get("dynamic_feat")
    return InputSeries(
        start=start, target=target, dynamic_feat=None if raw_feat is None else _dynamic_feat(raw_feat, where)
    )


def _dynamic_feat(raw: Any, where: str) -> NDArray[np.float32]:
    """A non-empty list of equally long lists of finite numbers (DeepAR allows no missing feature)."""
    if not isinstance(raw, list) or not raw or not all(isinstance(row, list) and row for row in raw):
        raise DataError(f"{where}: dynamic_feat must be a non-empty list of non-empty lists of numbers")
    if len({len(row) for row in raw}) != 1:
        raise DataError(f"{where}: the dynamic_feat rows differ in length")
    for k, row in enumerate(raw):
        for i, value in enumerate(row):
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise DataError(
                    f"{where}: dynamic_feat[{k}][{i}] = {value!r} is not a finite number",
                    hint="DeepAR takes no missing value in dynamic_feat",
                )
    return np.asarray(raw, dtype=np.float32)


def check_dynamic_feat(series: InputSeries, where: str, *, expected: int, length: int) -> None:
    """`series` carries `expected` dynamic_feat rows (0: none) of `length` points each."""
    found = 0 if series.dynamic_feat is None else series.dynamic_feat.shape[0]
    if found != expected:
        raise DataError(
            f"{where}: {found} dynamic_feat row(s), the model expects {expected}",
            hint="send dynamic_feat if and only if the model was trained with them, as many rows",
        )
    if series.dynamic_feat is not None and series.dynamic_feat.shape[1] != length:
        raise DataError(
            f"{where}: dynamic_feat has {series.dynamic_feat.shape[1]} points, expected {length}",
            hint="len(target) in training channels, len(target) + prediction_length at inference",
        )


def parse_request(request: Mapping[str, Any], settings: Settings, *, num_dynamic_feat: int = 0) -> Request:
    """An inference request against a model trained with `settings` (SageMaker's defaults if no
    `configuration`) and `num_dynamic_feat` feature rows: each instance must reach back at least
    context_length points and carry its features through the horizon."""
    if not isinstance(request, Mapping):
        raise DataError("the request must be a JSON object with instances")
    instances = request.get("instances")
    if not isinstance(instances, list) or not instances:
        raise DataError(
            "the request has no instances", hint='{"instances": [{"start": ..., "target": [...]}]}'
        )
    config = request.get("configuration", _DEFAULT_CONFIGURATION)
    if not isinstance(config, Mapping):
        raise DataError("configuration must be a JSON object")
    unknown = sorted(set(config) - set(_DEFAULT_CONFIGURATION))
    if unknown:
        raise DataError(f"unknown configuration key(s): {', '.join(unknown)}")
    num_samples = config.get("num_samples", _DEFAULT_CONFIGURATION["num_samples"])
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise DataError(f"configuration.num_samples must be a positive integer, got {num_samples!r}")
    output_types = config.get("output_types", _DEFAULT_CONFIGURATION["output_types"])
    if (
        not isinstance(output_types, list)
        or not output_types
        or not all(t in _OUTPUT_TYPES for t in output_types)
    ):
        raise DataError(
            f"configuration.output_types must list some of {', '.join(_OUTPUT_TYPES)}, got {output_types!r}"
        )
    raw_quantiles = config.get("quantiles", _DEFAULT_CONFIGURATION["quantiles"])
    if not isinstance(raw_quantiles, list) or ("quantiles" in output_types and not raw_quantiles):
        raise DataError('configuration.quantiles must be a list like ["0.1", "0.5", "0.9"]')
    quantiles: list[tuple[str, float]] = []
    for q in raw_quantiles:
        try:
            tau = float(q) if isinstance(q, str | int | float) and not isinstance(q, bool) else math.nan
        except ValueError:
            tau = math.nan
        if not 0.0 < tau < 1.0:
            raise DataError(f"configuration.quantiles: {q!r} is not a level strictly between 0 and 1")
        quantiles.append((q if isinstance(q, str) else str(q), tau))

    series = []
    for i, instance in enumerate(instances):
        where = f"instances[{i}]"
        s = parse_series(instance, where)
        if len(s.target) < settings.context_length:
            raise DataError(
                f"{where}: target has {len(s.target)} points; the model needs at least "
                f"context_length ({settings.context_length})",
                hint="send the whole history: lags reach far past context_length",
            )
        if np.isnan(s.target[-settings.context_length :]).all():
            raise DataError(
                f"{where}: the last context_length ({settings.context_length}) points are all missing"
            )
        check_dynamic_feat(
            s, where, expected=num_dynamic_feat, length=len(s.target) + settings.prediction_length
        )
        series.append(s)
    return Request(
        instances=series, num_samples=num_samples, output_types=list(output_types), quantiles=quantiles
    )
