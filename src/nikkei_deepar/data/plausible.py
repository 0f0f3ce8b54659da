"""Is it the Nikkei 225? Plausibility checks between reading a price file and building the series.

Pure: no network, no files, no printing. A file can read cleanly and still not be the index: one
typo (``2202/6/1`` for ``2022/6/1``, ``274578.9`` for ``27457.89``, a stray minus sign) would otherwise
train, deploy and only fail at `predict`, or train on nonsense. Every refusal is a `DataError` (exit 3)
in the reader's one-line form ``"<source>:<line>: <cause>"``, naming the value, with what to do in
`hint`.

Always refused (these cannot be turned off):

- a date before the index's first session (`FIRST_SESSION`, 1949-05-16) or after tomorrow in Tokyo
  (`tomorrow_in_tokyo`, with the clock passed in). The reader checks this (`nikkei_deepar.data.dates`)
  before it drops Sunday rows, so a typo that happens to fall on a Sunday is not quietly dropped;
- a close that is zero, negative or too large to compute with (`check_closes`): DeepAR computes in
  32-bit floats, so a close of `FLOAT32_MAX` (3.4e38) or more becomes infinity there (``1e308`` made
  the local training fail with a Chi2 error). Non-numbers, ``inf`` and ``nan`` never get this far: the
  reader refuses them ("cannot read close").

Outliers (`find_outliers`), refused unless the user says they are right (``--accept-outliers`` or
``[data] accept_outliers = true``), each reported with its neighbouring rows:

- a day move: a close more than `MAX_DAY_MOVE` (20 %, `data.market`) above or below the previous close. The
  largest moves in the index's history are -14.90 % on 1987-10-20 (Black Monday, a day late in Tokyo) and
  +14.15 % on 2008-10-14; 20 % leaves a margin of five points over both, while a misplaced decimal point (x10
  is +900 %, /10 is -90 %) or a wrong digit in the ten-thousands is far beyond it;
- a gap: more than `MAX_GAP_DAYS` (14) calendar days between two consecutive closes. The longest
  closure since 1949 is Golden Week 2019 (no session from 2019-04-27 to 2019-05-06: 11 days from close
  to close); the year-end closure gives 5 to 7. A longer gap is a year or month typo, or two downloads
  pasted together with a hole between them.

Rows without a close (FRED's and Yahoo's holiday rows) are ignored by both outlier checks: moves and
gaps are measured between consecutive closes. The checks are vectorised (numpy); only the rows they
flag are looked at one by one, to write the messages.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

import numpy as np

from nikkei_deepar.data.dates import FIRST_SESSION
from nikkei_deepar.data.market import MAX_DAY_MOVE
from nikkei_deepar.errors import DataError

if TYPE_CHECKING:
    from nikkei_deepar.data.prices import PriceTable

__all__ = [
    "FIRST_SESSION",
    "FLOAT32_MAX",
    "MAX_DAY_MOVE",
    "MAX_GAP_DAYS",
    "Outlier",
    "check_closes",
    "find_outliers",
    "outliers_error",
    "outliers_warning",
    "tomorrow_in_tokyo",
]

MAX_GAP_DAYS = 14
"""Most calendar days between two consecutive closes: history's longest closure gives 11."""
FLOAT32_MAX = float(np.finfo(np.float32).max)
"""DeepAR (SageMaker's and GluonTS') computes in 32-bit floats: a close this large becomes infinity."""
TOKYO = ZoneInfo("Asia/Tokyo")
_OVERRIDE = "--accept-outliers (or [data] accept_outliers = true)"


def tomorrow_in_tokyo(now: datetime.datetime) -> datetime.date:
    """The last date a close may have: tomorrow on the Tokyo calendar, for a timezone-aware `now`.

    Tomorrow rather than today leaves room for a file written in another timezone or a clock a
    little off; a close dated later cannot exist yet.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, not {now!r}")
    return now.astimezone(TOKYO).date() + datetime.timedelta(days=1)


def check_closes(table: PriceTable) -> None:
    """Refuse a close that is zero, negative or too large for DeepAR's 32-bit floats (not overridable)."""
    values = table.closes.to_numpy(dtype="float64")
    with np.errstate(invalid="ignore"):
        bad = ~np.isnan(values) & ((values <= 0) | ~(np.abs(values) < FLOAT32_MAX))
    if not bad.any():
        return
    flagged = np.flatnonzero(bad)
    k = int(flagged[np.argmin(table.lines[flagged])])  # the first in the file
    value = float(values[k])
    if value > 0:
        why = f"too large: DeepAR computes in 32-bit floats, which end at {FLOAT32_MAX:.3g}"
    else:
        why = "zero" if value == 0 else "negative"
    more = len(flagged) - 1
    raise DataError(
        f"{table.source}:{table.lines[k]}: close {_num(value)} on {_day(table, k)} is {why}"
        + (f"; {more} more line{_s(more)} like it" if more else ""),
        hint="Fix the close or delete the line: a close of the Nikkei 225 is a positive number. "
        "This check cannot be turned off.",
    )


@dataclass(frozen=True)
class Outlier:
    """A close that moved too far, or a gap too long, with its neighbouring rows in `message`."""

    line: int
    kind: Literal["day move", "gap"]
    message: str  # one line, without the file and line prefix

    def to_data(self) -> dict[str, Any]:
        return {"line": self.line, "kind": self.kind, "message": self.message}


def find_outliers(
    table: PriceTable, *, max_move: float = MAX_DAY_MOVE, max_gap_days: int = MAX_GAP_DAYS
) -> list[Outlier]:
    """Day moves beyond `max_move` and gaps beyond `max_gap_days` between consecutive closes, by date."""
    values = table.closes.to_numpy(dtype="float64")
    observed = np.flatnonzero(~np.isnan(values))
    if len(observed) < 2:
        return []
    v = values[observed]
    days = table.closes.index.to_numpy()[observed].astype("datetime64[D]")
    change = v[1:] / v[:-1] - 1.0
    moves = np.flatnonzero(np.abs(change) > max_move) + 1
    gaps = np.flatnonzero(np.diff(days).astype(np.int64) > max_gap_days) + 1
    if not (moves.size or gaps.size):  # the happy path
        return []

    def row(i: int) -> str:
        return f"{_num(float(v[i]))} on {days[i]} (line {table.lines[observed[i]]})"

    found: list[tuple[int, int, Outlier]] = []
    for i in map(int, moves):
        message = f"day move: close {row(i)} is {change[i - 1]:+.1%} from the previous close {row(i - 1)}"
        if i + 1 < len(v):
            message += f"; the next close is {row(i + 1)}"
        found.append((i, 0, Outlier(int(table.lines[observed[i]]), "day move", message)))
    for i in map(int, gaps):
        span = int((days[i] - days[i - 1]).astype(np.int64))
        message = (
            f"gap: no close for {span} days, from {row(i - 1)} to {row(i)}; "
            f"the longest exchange closure since 1949 is 11 days"
        )
        found.append((i, 1, Outlier(int(table.lines[observed[i]]), "gap", message)))
    return [outlier for _, _, outlier in sorted(found, key=lambda item: (item[0], item[1]))]


def outliers_error(source: str, outliers: list[Outlier]) -> DataError:
    """The refusal: the first outlier with its neighbours, and where the others are."""
    first = outliers[0]
    return DataError(
        f"{source}:{first.line}: {first.message}{_others(outliers)}",
        hint=f"Fix the line if it is a typo. If the data is right, rerun with {_OVERRIDE}. "
        f"Bounds: a move of more than {MAX_DAY_MOVE:.0%} from one close to the next "
        f"(the largest ever is -14.9% on 1987-10-20), or more than {MAX_GAP_DAYS} days without a close.",
    )


def outliers_warning(source: str, outliers: list[Outlier]) -> str:
    """The one-line warning when the user accepted the outliers."""
    first = outliers[0]
    count = len(outliers)
    return (
        f"{source}: {count} outlier{_s(count)} accepted (--accept-outliers / [data] accept_outliers): "
        f"line {first.line}: {first.message}{_others(outliers)}"
    )


def _others(outliers: list[Outlier]) -> str:
    rest = [o.line for o in outliers[1:]]
    if not rest:
        return ""
    shown = ", ".join(map(str, rest[:5])) + (", ..." if len(rest) > 5 else "")
    return f"; {len(rest)} more outlier{_s(len(rest))} (line{_s(len(rest))} {shown})"


def _day(table: PriceTable, k: int) -> str:
    return str(table.closes.index[k].date())


def _num(value: float) -> str:
    return f"{value:.15g}" if abs(value) < 1e15 else f"{value:.3g}"


def _s(count: int) -> str:
    return "" if count == 1 else "s"
