"""Checking what a DeepAR model answered: one-line AwsErrors that quote the answer.

Shared by the response parser (`data.inference`: mean and quantiles, and the price forecast it makes of
a log-return model's sample paths) and that price rebuild (`data.returns`: each sample), so every bad
answer is worded the same way. Pure: no I/O.

Two questions, asked of the model's own answer before anything (the random-walk blend, the table) can
soften it:

- `finite_values`: is it a list of the right length of finite numbers? (A 400-digit integer is valid
  JSON and not a number DeepAR can give: refused, not an OverflowError.)
- `check_moves`: could a market have produced it? A forecast whose mean or a quantile moves more than
  `MAX_DAY_MOVE` (20 %, `data.market`: the bound `data.plausible` holds a price file to; history's largest day
  is -14.9 %) from one session to the next, or from the last close to the first session, is a broken model: an
  endpoint answering +1000 (100 * log return) a step gave a day-5 mean of 5.26e25 yen, and -1000 a step a flat
  -20 % that was only the random walk's share of the blend.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence

from nikkei_deepar.data.market import MAX_DAY_MOVE
from nikkei_deepar.errors import AwsError

QUOTE_LIMIT = 200
MODEL_HINT = "check the endpoint runs the DeepAR model this tool trained"
BROKEN_HINT = (
    "the model is broken or is not the one this tool trained: train it again (`nikkei-deepar train`) "
    f"and redeploy; no market moves more than {MAX_DAY_MOVE:.0%} in a session (the largest ever: "
    "-14.9% on 1987-10-20)"
)


def quote(text: str) -> str:
    """One line, at most ~200 characters, for quoting what came back in an error message."""
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= QUOTE_LIMIT else flat[:QUOTE_LIMIT] + "…")


def finite_values(raw: object, text: str, *, name: str, length: int) -> tuple[float, ...]:
    """`raw` as `length` finite floats, else AwsError naming `name` and quoting `text` (the answer)."""
    if not isinstance(raw, list):
        problem = f" has no {name} list" if raw is None else f"'s {name} is not a list of numbers"
        raise AwsError(f"the prediction{problem}: {quote(text)}", hint=MODEL_HINT)
    if len(raw) != length:
        raise AwsError(
            f"the prediction's {name} has {len(raw)} values, expected prediction_length {length}: "
            f"{quote(text)}",
            hint="check prediction_length matches the one the model was trained with",
        )
    values = []
    for item in raw:
        if isinstance(item, bool) or not isinstance(item, int | float) or not _finite(item):
            raise AwsError(
                f"the prediction's {name} holds {_short(item)}, not a finite number: {quote(text)}",
                hint=MODEL_HINT,
            )
        values.append(float(item))
    return tuple(values)


def check_moves(
    paths: Mapping[str, Sequence[float]], text: str, *, anchor: float, trading: Sequence[bool]
) -> None:
    """AwsError at the first step where a forecast path (by name: "mean", "quantile 0.1", ...) moves more
    than MAX_DAY_MOVE from its value at the previous session, or from `anchor` (the last close) at the
    first session. Only sessions count (`trading`, one flag per step): the forecast of a closed day is
    never shown, and a price holds from one session to the next whatever lies between."""
    found: tuple[int, str, float, float, bool] | None = None  # step, path, value, previous, from the close
    for name, values in paths.items():
        previous, from_close = anchor, True
        for step, (value, session) in enumerate(zip(values, trading, strict=True), start=1):
            if not session:
                continue
            if not _plausible_move(previous, value):
                if found is None or step < found[0]:  # the first bad step; on a tie, the first path
                    found = (step, name, value, previous, from_close)
                break
            previous, from_close = value, False
    if found is None:
        return
    step, name, value, previous, from_close = found
    what = f"the prediction's {name} at step {step} is {_num(value)}"
    if value <= 0:
        message = f"{what}, not a price"
    else:
        before = "the last close" if from_close else "the session before"
        message = (
            f"{what}, {_percent(value / previous - 1)} from {before} ({_num(previous)}): "
            f"no market moves more than {MAX_DAY_MOVE:.0%} in a session"
        )
    raise AwsError(f"{message}: {quote(text)}", hint=BROKEN_HINT)


def _plausible_move(previous: float, value: float) -> bool:
    return value > 0 and abs(value / previous - 1.0) <= MAX_DAY_MOVE


def _finite(item: int | float) -> bool:
    try:
        return math.isfinite(item)
    except OverflowError:  # an int beyond any float: 10**400 is valid JSON
        return False


def _percent(change: float) -> str:
    pct = 100.0 * change
    return f"{pct:+.1f}%" if abs(pct) < 1000 else f"{pct:+,.0f}%" if abs(pct) < 1e9 else f"{pct:+.3g}%"


def _num(value: float) -> str:
    return f"{value:,.2f}" if abs(value) < 1e12 else f"{value:.3g}"


def _short(item: object) -> str:
    try:
        return json.dumps(item)[:40]
    except (TypeError, ValueError, RecursionError):
        return repr(item)[:40]
