"""The prepared series as a small JSON document (`series.json`), stored next to the channels.

`predict` builds its request from it (the whole history, as AWS recommends) and dates the forecast
with its calendar policy. Pure: bytes in, bytes out.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from nikkei_deepar.data.series import Series
from nikkei_deepar.errors import DataError

FORMAT = "nikkei-deepar/series/v1"


def dump_series(series: Series) -> bytes:
    """Deterministic bytes: the same series always gives the same document (it is stored by content)."""
    doc = {
        "format": FORMAT,
        "policy": series.policy,
        "start": series.start.isoformat(),
        "target": ["NaN" if math.isnan(v) else v for v in series.target],
        "dates": [d.isoformat() for d in series.dates],
    }
    return (json.dumps(doc, separators=(",", ":")) + "\n").encode()


def load_series(raw: bytes, *, where: str) -> Series:
    try:
        doc: dict[str, Any] = json.loads(raw)
        if doc.get("format") != FORMAT:
            raise ValueError(f"unknown format {doc.get('format')!r}")
        target = tuple(float("nan") if v in ("NaN", None) else float(v) for v in doc["target"])
        dates = tuple(dt.date.fromisoformat(d) for d in doc["dates"])
        return Series(
            policy=doc["policy"],
            start=dt.date.fromisoformat(doc["start"]),
            target=target,
            dates=dates,
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(
            f"{where}: the prepared series is unreadable ({exc})",
            hint="run `nikkei-deepar prepare` again",
        ) from None
