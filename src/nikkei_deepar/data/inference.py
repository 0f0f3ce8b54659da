"""DeepAR inference payloads: the request we send, the response we get, and dated forecast points.

Pure: no network, no printing. Real-time requests are JSON (ContentType ``application/json``)::

    {"instances":[{"start":"2024-01-04 00:00:00","target":[...]}],
     "configuration":{"num_samples":100,"output_types":["mean","quantiles"],"quantiles":["0.1","0.5","0.9"]}}

and the answer is ``{"predictions":[{"mean":[...],"quantiles":{"0.1":[...],...}}]}``. Batch transform
reads the same records as the training channels, one per line, takes the configuration from the
``DEEPAR_INFERENCE_CONFIG`` environment variable, and writes one prediction object per line.
The whole history is always sent: DeepAR's lags reach far past `context_length`.

A model trained with ``[data] target = "log_return"`` is sent the history as log returns
(`data.returns.to_log_returns`) and asked for "samples" too; its answer is turned back into prices
(`PriceAnchor`: the last close and which steps are sessions) before anything else reads it.

A response that cannot be used raises AwsError with one line quoting what came back: not JSON, nested
deeper than Python will read, a number that is no float, and, given the `PriceAnchor`, a forecast no
market can produce (`data.answer.check_moves`: more than 20 % from one session to the next).
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, NoReturn

from nikkei_deepar.data.answer import MODEL_HINT, check_moves, finite_values, quote
from nikkei_deepar.data.calendar import calendar_features, forecast_dates, horizon_dates
from nikkei_deepar.data.channels import format_start, series_line, target_values
from nikkei_deepar.data.series import Series
from nikkei_deepar.errors import AwsError

Target = Literal["price", "log_return"]
OUTPUT_TYPES = ("mean", "quantiles", "samples")
RETURN_OUTPUT_TYPES = ("mean", "quantiles", "samples")


@dataclass(frozen=True)
class Forecast:
    """One series' forecast: `prediction_length` means and, per requested quantile ("0.1", ...), values."""

    mean: tuple[float, ...]
    quantiles: dict[str, tuple[float, ...]]


@dataclass(frozen=True)
class DatedPoint:
    """Forecast step `step` (1-based) dated to a real trading day."""

    step: int
    date: datetime.date
    mean: float
    quantiles: dict[str, float]


@dataclass(frozen=True)
class PriceAnchor:
    """How to turn a log-return model's sampled returns into prices: the last observed close and, per
    forecast step, whether it is a session (a closed calendar day keeps the previous price)."""

    anchor: float
    trading: tuple[bool, ...]

    @classmethod
    def of(cls, series: Series, prediction_length: int) -> PriceAnchor:
        closes = [value for value in series.target if not math.isnan(value)]
        if not closes:
            raise ValueError("the series holds no close to anchor the forecast on")
        if series.policy == "calendar_days":
            trading = tuple(step.trading for step in forecast_dates(series, prediction_length))
        else:
            trading = (True,) * prediction_length
        return cls(anchor=closes[-1], trading=trading)


def output_types_for(target: Target) -> tuple[str, ...]:
    """What to ask DeepAR for: a log-return model's prices come from its sample paths."""
    return RETURN_OUTPUT_TYPES if target == "log_return" else ("mean", "quantiles")


def model_target(series: Series, target: Target) -> list[float]:
    """The history as the model was trained on it: closes, or 100 * log returns (NaN where missing)."""
    if target == "price":
        return list(series.target)
    from nikkei_deepar.data.returns import to_log_returns

    return [float(value) for value in to_log_returns(series.target)]


def format_quantile(quantile: float) -> str:
    """A quantile as DeepAR wants it, a string without float noise: 0.1 -> "0.1", 0.05 -> "0.05"."""
    value = float(quantile)
    if not 0.0 < value < 1.0:
        raise ValueError(f"a quantile must lie strictly between 0 and 1, got {quantile}")
    # repr is the shortest text that reads back to the same float; Decimal avoids "1e-05" forms.
    return format(Decimal(repr(value)), "f")


def inference_config(
    *,
    quantiles: Sequence[float],
    num_samples: int,
    output_types: Sequence[str] = ("mean", "quantiles"),
) -> dict[str, Any]:
    """The request's "configuration" object; also the DEEPAR_INFERENCE_CONFIG value (json.dumps it).

    "mean" must be among `output_types`: every parsed Forecast carries it.
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be positive, got {num_samples}")
    unknown = [kind for kind in output_types if kind not in OUTPUT_TYPES]
    if unknown or "mean" not in output_types:
        raise ValueError(f"output_types must include 'mean' and come from {OUTPUT_TYPES}, got {output_types}")
    if quantiles and "quantiles" not in output_types:
        raise ValueError("quantiles were requested but 'quantiles' is not among output_types")
    keys = [format_quantile(q) for q in quantiles]
    if len(set(keys)) != len(keys):
        raise ValueError(f"quantiles repeat: {keys}")
    config: dict[str, Any] = {"num_samples": num_samples, "output_types": list(output_types)}
    if keys:
        config["quantiles"] = keys
    return config


def build_request(
    series: Series,
    *,
    quantiles: Sequence[float],
    num_samples: int,
    output_types: Sequence[str] | None = None,
    features_through: int | None = None,
    target: Target = "price",
) -> dict[str, Any]:
    """The real-time request for one series: its whole history and the inference configuration.

    `features_through` (the model's prediction_length, for a model trained with calendar features)
    adds their `dynamic_feat` through the forecast horizon: ``len(target) + prediction_length`` points.
    A model trained without them must not be sent any (None). `target` is what the model was trained
    on: a "log_return" model gets the history as log returns, and `output_types` (None: what the target
    needs, `output_types_for`) gains "samples"."""
    if output_types is None:
        output_types = output_types_for(target)
    elif target == "log_return" and "samples" not in output_types:
        output_types = (*output_types, "samples")
    instance: dict[str, Any] = {
        "start": format_start(series.start),
        "target": target_values(model_target(series, target)),
    }
    if features_through is not None:
        instance["dynamic_feat"] = horizon_features(series, features_through)
    return {
        "instances": [instance],
        "configuration": inference_config(
            quantiles=quantiles, num_samples=num_samples, output_types=output_types
        ),
    }


def encode_request(request: dict[str, Any]) -> bytes:
    """Compact JSON, UTF-8 (the body for ContentType application/json)."""
    return json.dumps(request, separators=(",", ":"), allow_nan=False).encode("utf-8")


def batch_input_line(
    series: Series, *, features_through: int | None = None, target: Target = "price"
) -> bytes:
    """One batch transform input record, newline-terminated (the same format as a training line, with
    dynamic_feat through the horizon and the target as the model was trained on, as in `build_request`)."""
    rows = None if features_through is None else horizon_features(series, features_through)
    return (series_line(series.start, model_target(series, target), rows) + "\n").encode("utf-8")


def horizon_features(series: Series, prediction_length: int) -> list[list[float]]:
    """The calendar features of the series' dates and the next `prediction_length` steps' dates."""
    return calendar_features(horizon_dates(series, prediction_length))


def parse_response(
    body: bytes | str,
    *,
    quantiles: Sequence[float],
    prediction_length: int,
    anchor: PriceAnchor | None = None,
    target: Target = "price",
) -> Forecast:
    """Parse a real-time response holding exactly one prediction.

    Quantile keys are matched by value ("0.10" answers a request for "0.1"); extra keys and outputs
    (e.g. "samples") are ignored. A log-return model's (`target`) forecast is the price mean and
    quantiles over the price paths rebuilt from "samples" on `anchor` (`data.returns.price_forecast`);
    DeepAR's own mean and quantiles (of returns) are not used. With `anchor`, a forecast that moves
    more than a market can in a session is refused (`data.answer.check_moves`). Raises AwsError for
    anything else.
    """
    text = _text(body)
    document = _load(text, what="the endpoint's response")
    if "predictions" not in document:
        _raise_error_body(document, text)
    predictions = document["predictions"]
    if not isinstance(predictions, list) or len(predictions) != 1:
        count = len(predictions) if isinstance(predictions, list) else type(predictions).__name__
        raise AwsError(
            f"the endpoint's response should hold 1 prediction, found {count}: {quote(text)}",
            hint="send one instance per request and check the endpoint runs a DeepAR model",
        )
    return _prediction(
        predictions[0],
        text,
        quantiles=quantiles,
        prediction_length=prediction_length,
        anchor=anchor,
        target=target,
    )


def parse_batch_output_line(
    line: bytes | str,
    *,
    quantiles: Sequence[float],
    prediction_length: int,
    anchor: PriceAnchor | None = None,
    target: Target = "price",
) -> Forecast:
    """Parse one line of a batch transform's `.out` file: one prediction object (as `parse_response`).

    A line wrapped as ``{"predictions": [one object]}`` is accepted too.
    """
    text = _text(line)
    document = _load(text, what="the batch output line")
    if "predictions" in document:
        predictions = document["predictions"]
        if isinstance(predictions, list) and len(predictions) == 1:
            document = predictions[0]
    elif "mean" not in document and "quantiles" not in document:
        _raise_error_body(document, text)
    return _prediction(
        document, text, quantiles=quantiles, prediction_length=prediction_length, anchor=anchor, target=target
    )


def dated_forecast(
    forecast: Forecast, series: Series, *, prediction_length: int, horizon: int | None = None
) -> list[DatedPoint]:
    """Date the forecast's trading days: the first `horizon` Tokyo Stock Exchange sessions after the
    series' last close (all of those within `prediction_length` when `horizon` is None).

    ``trading_days``: DeepAR's step i is the i-th next session. ``calendar_days``: DeepAR's step i is
    ``last_date + i`` days; steps on weekends, holidays or the year-end closure are skipped. Either way
    the points are numbered 1, 2, ... by trading day, so `step` k is the k-th session ahead. Fewer
    than `horizon` points come back only if `prediction_length` is too short to reach them (a model
    trained before the horizon was counted in trading days); the caller says so.
    """
    if len(forecast.mean) != prediction_length:
        raise ValueError(f"the forecast has {len(forecast.mean)} steps, not {prediction_length}")
    points: list[DatedPoint] = []
    for step in forecast_dates(series, prediction_length):
        if horizon is not None and len(points) == horizon:
            break
        if not step.trading:
            continue
        i = step.step - 1
        points.append(
            DatedPoint(
                step=len(points) + 1,
                date=step.date,
                mean=forecast.mean[i],
                quantiles={key: values[i] for key, values in forecast.quantiles.items()},
            )
        )
    return points


def _text(body: bytes | str) -> str:
    if isinstance(body, str):
        return body
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise AwsError(
            f"the endpoint answered with bytes that are not UTF-8: {quote(repr(body))}",
            hint="check the endpoint runs a DeepAR model and the Accept type is application/json",
        ) from None


def _load(text: str, *, what: str) -> dict[str, Any]:
    if not text.strip():
        raise AwsError(
            f"{what} is empty", hint="check the endpoint or transform job's CloudWatch logs for errors"
        )
    try:
        document = json.loads(text)
    except ValueError:
        raise AwsError(
            f"{what} is not JSON: {quote(text)}",
            hint="check the endpoint runs a DeepAR model and the Accept type is application/json",
        ) from None
    except RecursionError:  # [[[[... 100,000 deep: valid JSON no DeepAR answer looks like
        raise AwsError(
            f"{what} is JSON nested too deeply to be a DeepAR answer: {quote(text)}", hint=MODEL_HINT
        ) from None
    if not isinstance(document, dict):
        raise AwsError(
            f"{what} is not a JSON object: {quote(text)}",
            hint="check the endpoint runs a DeepAR model",
        )
    return document


def _raise_error_body(document: Mapping[str, Any], text: str) -> NoReturn:
    message = next(
        (document[key] for key in ("message", "Message", "error", "errorMessage") if key in document), None
    )
    if message is not None:
        raise AwsError(
            f"the model answered with an error instead of predictions: {quote(str(message))}",
            hint="check the request matches the model: start format, target values, cat/dynamic_feat "
            "only if the model was trained with them ('Unable to evaluate payload provided' means a "
            "malformed request)",
        )
    raise AwsError(
        f"the response holds no predictions: {quote(text)}",
        hint="check the endpoint runs a DeepAR model",
    )


def _prediction(
    obj: object,
    text: str,
    *,
    quantiles: Sequence[float],
    prediction_length: int,
    anchor: PriceAnchor | None,
    target: Target,
) -> Forecast:
    if anchor is not None and len(anchor.trading) != prediction_length:
        raise ValueError(f"{len(anchor.trading)} trading flags for prediction_length {prediction_length}")
    if not isinstance(obj, dict):
        raise AwsError(f"a prediction is not a JSON object: {quote(text)}", hint=MODEL_HINT)
    if target == "log_return":
        if anchor is None:
            raise ValueError("a log-return model's answer needs the PriceAnchor its prices are built on")
        forecast = _prices(obj, text, quantiles=quantiles, anchor=anchor)
    else:
        forecast = _levels(obj, text, quantiles=quantiles, prediction_length=prediction_length)
    if anchor is not None:  # the model's own forecast, before any blend could dilute it
        paths = {"mean": forecast.mean} | {f"quantile {k}": v for k, v in forecast.quantiles.items()}
        check_moves(paths, text, anchor=anchor.anchor, trading=anchor.trading)
    return forecast


def _levels(
    obj: dict[str, Any], text: str, *, quantiles: Sequence[float], prediction_length: int
) -> Forecast:
    """A price model's answer: its own mean and quantiles."""
    mean = finite_values(obj.get("mean"), text, name="mean", length=prediction_length)
    found = _quantiles_by_value(obj.get("quantiles"), text)
    wanted = {format_quantile(q): float(q) for q in quantiles}
    missing = [key for key, value in wanted.items() if value not in found]
    if missing:
        present = ", ".join(found[value][0] for value in sorted(found)) or "none"
        raise AwsError(
            f"the prediction lacks quantiles {', '.join(missing)} (it has: {present}): {quote(text)}",
            hint="request those quantiles in the configuration's 'quantiles' list",
        )
    return Forecast(
        mean=mean,
        quantiles={
            key: finite_values(found[value][1], text, name=f"quantile {key}", length=prediction_length)
            for key, value in wanted.items()
        },
    )


def _prices(obj: dict[str, Any], text: str, *, quantiles: Sequence[float], anchor: PriceAnchor) -> Forecast:
    """A log-return model's answer as prices, from its sample paths."""
    from nikkei_deepar.data.returns import price_forecast

    if "samples" not in obj:
        raise AwsError(
            f"the model answered no samples, which a model trained on log returns needs to give prices: "
            f"{quote(text)}",
            hint='ask for output_types ["mean", "quantiles", "samples"] (batch: DEEPAR_INFERENCE_CONFIG); '
            "check the endpoint serves the model the ledger recorded",
        )
    forecast = price_forecast(
        obj["samples"], anchor=anchor.anchor, trading=anchor.trading, quantiles=quantiles
    )
    return Forecast(
        mean=tuple(float(v) for v in forecast.mean),
        quantiles={
            format_quantile(q): tuple(float(v) for v in forecast.quantile(float(q))) for q in quantiles
        },
    )


def _quantiles_by_value(raw: object, text: str) -> dict[float, tuple[str, object]]:
    """Quantile keys normalised by value: {0.1: ("0.10", values)}."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise AwsError(f"the prediction's quantiles are not an object: {quote(text)}", hint=MODEL_HINT)
    found: dict[float, tuple[str, object]] = {}
    for key, values in raw.items():
        try:
            value = float(key)
        except ValueError:
            continue
        if value in found:
            raise AwsError(
                f"the prediction repeats quantile {key!r} as {found[value][0]!r}: {quote(text)}",
                hint=MODEL_HINT,
            )
        found[value] = (key, values)
    return found
