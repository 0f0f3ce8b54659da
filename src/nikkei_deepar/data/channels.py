"""DeepAR training channels (`train`, `test`) as JSON Lines bytes, and reading a line back.

Pure: no network, no files, no printing. The bytes are deterministic (same series and settings ->
identical bytes -> same `sha256`), so a prepared data set can be recognised and not uploaded twice.

Format (AWS DeepAR docs): one JSON object per line, ``{"start": "YYYY-MM-DD 00:00:00", "target": [...]}``,
missing values as the string ``"NaN"`` (never 0, which DeepAR would learn as a price, and not ``null``
although DeepAR accepts it, to keep one spelling). Numbers are written as `json.dumps` writes a float:
the shortest text that reads back to the same float.

Split (AWS's guidance): `test` = the full series, `train` = the series minus its last
`prediction_length` points; DeepAR forecasts the last `prediction_length` points of each test series
and reports test:RMSE and test:mean_wQuantileLoss. With ``test_windows = k > 1`` the test channel holds
k copies of the series ending at ``len``, ``len - h``, ``len - 2h``, ... (rolling evaluation).

Target (``[data] target``): "price" writes the closes; "log_return" writes ``100 * ln(close / previous
close)`` at each observed point (`data.returns.to_log_returns`: "NaN" on closed days and at the first
point), with the same `start`. DeepAR's test metrics are then on returns, not prices.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from nikkei_deepar.data.series import Series
from nikkei_deepar.errors import DataError

MIN_OBSERVATIONS = 300
"""AWS: DeepAR needs at least 300 observations across all training series."""

START_FORMAT = "%Y-%m-%d 00:00:00"


@dataclass(frozen=True)
class Channels:
    """The two channel files, ready to upload, and what they hold.

    `train_length` is the number of points in the training series, `observations` the non-NaN ones
    among them (the figure AWS's 300 minimum applies to), `test_series` the number of test lines.
    """

    train: bytes
    test: bytes
    sha256: str
    train_length: int
    test_series: int
    observations: int


def channels_digest(train: bytes, test: bytes) -> str:
    """The data set's identity: SHA-256 (hex) of a two-line manifest of the channels' own SHA-256s.

    The manifest is ``"train <sha256 of train>\\ntest <sha256 of test>\\n"`` (lowercase hex, ASCII),
    so it can be checked by hand from the uploaded files::

        printf 'train %s\\ntest %s\\n' "$(sha256sum < train.json | cut -d' ' -f1)" \\
            "$(sha256sum < test.json | cut -d' ' -f1)" | sha256sum

    Hashing the per-channel digests (rather than the concatenation) keeps train and test from
    running into each other: moving bytes from one channel to the other changes the result.
    """
    manifest = f"train {hashlib.sha256(train).hexdigest()}\ntest {hashlib.sha256(test).hexdigest()}\n"
    return hashlib.sha256(manifest.encode("ascii")).hexdigest()


def format_start(day: datetime.date) -> str:
    """DeepAR's `start` field: ``YYYY-MM-DD 00:00:00`` (no time zone)."""
    return day.strftime(START_FORMAT)


def target_values(target: Sequence[float]) -> list[float | str]:
    """Target values as JSON-ready values: NaN becomes the string ``"NaN"``; the rest stay floats.

    Raises DataError for an infinite value (JSON cannot carry it and DeepAR cannot learn from it).
    """
    values: list[float | str] = []
    for value in target:
        number = float(value)
        if math.isnan(number):
            values.append("NaN")
        elif math.isinf(number):
            raise DataError(
                f"the target holds {number}, which DeepAR cannot use",
                hint="fix or remove that row of the price file",
            )
        else:
            values.append(number)
    return values


def series_line(
    start: datetime.date, target: Sequence[float], dynamic_feat: Sequence[Sequence[float]] | None = None
) -> str:
    """One JSON Lines record (without the newline): ``{"start": "2022-01-04 00:00:00", "target": [...]}``,
    with ``"dynamic_feat": [[...], ...]`` when given (SageMaker checks their length, not this)."""
    record: dict[str, Any] = {"start": format_start(start), "target": target_values(target)}
    if dynamic_feat is not None:
        record["dynamic_feat"] = [list(row) for row in dynamic_feat]
    return json.dumps(record, allow_nan=False)


def parse_series_line(line: str | bytes) -> tuple[datetime.date, list[float]]:
    """Read one channel record back: (start date, target), with ``"NaN"`` and ``null`` as NaN.

    Raises DataError naming what is wrong with the line.
    """
    text = line.decode("utf-8") if isinstance(line, bytes) else line
    try:
        record: Any = json.loads(text)
    except ValueError:
        raise DataError(
            f"not a JSON object: {_snippet(text)}", hint="each channel line must be one JSON object"
        ) from None
    if not isinstance(record, dict):
        raise DataError(
            f"not a JSON object: {_snippet(text)}", hint="each channel line must be one JSON object"
        )
    start = record.get("start")
    target = record.get("target")
    if not isinstance(start, str):
        raise DataError(f"no string 'start' in {_snippet(text)}", hint='expected "YYYY-MM-DD 00:00:00"')
    if not isinstance(target, list):
        raise DataError(f"no list 'target' in {_snippet(text)}", hint="expected a list of numbers")
    return _parse_start(start), [_parse_value(value, position) for position, value in enumerate(target)]


def make_channels(
    series: Series,
    *,
    prediction_length: int,
    context_length: int,
    test_windows: int = 1,
    calendar_features: bool = False,
    target: Literal["price", "log_return"] = "price",
) -> Channels:
    """Build the `train` and `test` channels for one series; check DeepAR's minimums first.

    With `calendar_features`, every line carries `data.calendar.calendar_features` of its dates as
    `dynamic_feat` (as long as its target, as DeepAR requires in training). With `target` "log_return"
    the lines carry the log returns of the closes; the checks below count what is written.

    Raises DataError (before anything is built) when the training part is shorter than
    ``context_length + prediction_length`` or than the shortest test window needs, holds no values or
    only zeros (DeepAR fails on such series), or has fewer than 300 observations.
    """
    if prediction_length < 1 or context_length < 1 or test_windows < 1:
        raise ValueError(
            "prediction_length, context_length and test_windows must be positive, got "
            f"{prediction_length}, {context_length}, {test_windows}"
        )
    values = list(series.target)
    if target == "log_return":
        from nikkei_deepar.data.returns import to_log_returns

        values = [float(v) for v in to_log_returns(values)]
    train = values[: len(values) - prediction_length]
    _check_lengths(
        len(values),
        prediction_length=prediction_length,
        context_length=context_length,
        test_windows=test_windows,
    )
    observed = [value for value in train if not math.isnan(value)]
    if not observed:
        raise DataError(
            "the training series holds no value at all (every point is NaN)",
            hint="check the price file and its date range",
        )
    if all(value == 0.0 for value in observed):
        raise DataError(
            "the training series consists of only zeros; DeepAR fails on such series",
            hint="check the close column of the price file",
        )
    if len(observed) < MIN_OBSERVATIONS:
        raise DataError(
            f"the training series has {len(observed)} observations; DeepAR needs at least "
            f"{MIN_OBSERVATIONS} (AWS's minimum)",
            hint="use a longer price history (about 15 months of trading days or more)",
        )

    ends = [len(values) - k * prediction_length for k in range(test_windows)]
    features: list[list[float]] | None = None
    if calendar_features:
        from nikkei_deepar.data.calendar import calendar_features as features_of

        features = features_of(series.dates)

    def line(end: int) -> str:
        rows = None if features is None else [row[:end] for row in features]
        return series_line(series.start, values[:end], rows) + "\n"

    train_bytes = line(len(train)).encode("utf-8")
    test_bytes = "".join(line(end) for end in ends).encode("utf-8")
    return Channels(
        train=train_bytes,
        test=test_bytes,
        sha256=channels_digest(train_bytes, test_bytes),
        train_length=len(train),
        test_series=test_windows,
        observations=len(observed),
    )


def _check_lengths(length: int, *, prediction_length: int, context_length: int, test_windows: int) -> None:
    needed = context_length + prediction_length
    train_length = length - prediction_length
    if train_length < needed:
        raise DataError(
            f"the training series has {max(train_length, 0)} points (the series' {length} minus "
            f"prediction_length {prediction_length}); DeepAR needs at least context_length + "
            f"prediction_length = {needed}",
            hint="use a longer price history or a shorter context_length/prediction_length",
        )
    # Every rolling test window must itself leave context_length points before its last h points.
    shortest = length - (test_windows - 1) * prediction_length
    if shortest - prediction_length < needed:
        raise DataError(
            f"{test_windows} test windows leave the shortest test series with {max(shortest, 0)} points; "
            f"each needs at least context_length + 2 * prediction_length = {needed + prediction_length}",
            hint="use fewer test windows or a longer price history",
        )


def _parse_start(text: str) -> datetime.date:
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise DataError(f"start {text!r} is not a date", hint='expected "YYYY-MM-DD 00:00:00"')


def _parse_value(value: object, position: int) -> float:
    if value is None or value == "NaN":
        return math.nan
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise DataError(
        f"target[{position}] is {json.dumps(value)[:40]}, not a number",
        hint='missing values must be "NaN" or null',
    )


def _snippet(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[:limit] + "…")
