"""Checking what a DeepAR model answered: one-line AwsErrors that quote the answer.

Shared by the response parser (`data.inference`: mean and quantiles) and the price rebuild of a
log-return model's sample paths (`data.returns`: each sample), so both word a bad answer the same way.
Pure: no I/O.
"""

from __future__ import annotations

import json
import math

from nikkei_deepar.errors import AwsError

QUOTE_LIMIT = 200
MODEL_HINT = "check the endpoint runs the DeepAR model this tool trained"


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
        if isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
            raise AwsError(
                f"the prediction's {name} holds {_short(item)}, not a finite number: {quote(text)}",
                hint=MODEL_HINT,
            )
        values.append(float(item))
    return tuple(values)


def _short(item: object) -> str:
    try:
        return json.dumps(item)[:40]
    except (TypeError, ValueError):
        return repr(item)[:40]
