"""The track record: this workspace's kept forecasts and the closes that came, for `score` and `status`.

What several commands share about the forecast history: which records are this workspace's (the
project and stage of `[aws.tags]`; the history is one per workspace, and this keeps it so if two
workspaces ever share a file), the closes to score them against (the prepared series, or a price file
read as `prepare` reads it), and the one-line live score `status` prints.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nikkei_deepar.context import Context
from nikkei_deepar.errors import NikkeiError
from nikkei_deepar.history import ForecastRecord, Workspace
from nikkei_deepar.ledger import Ledger

if TYPE_CHECKING:
    from nikkei_deepar.data.scoring import Scorecard
    from nikkei_deepar.data.series import Series


@dataclass(frozen=True)
class Kept:
    """The records to score (this workspace's, from `since` on), and what was left out and why."""

    records: list[ForecastRecord]
    problems: list[str]  # one line per entry that could not be read (skipped)
    other_workspaces: int
    before_since: int


def workspace_of(ctx: Context) -> Workspace:
    tags = ctx.settings.aws.tags
    return Workspace(project=tags.get("project"), stage=tags.get("stage"))


def kept_forecasts(ctx: Context, *, since: dt.date | None = None) -> Kept:
    """This workspace's kept forecasts whose origin is `since` or later (all when None)."""
    records, problems = ctx.history.entries()
    ours = workspace_of(ctx)
    mine = [r for r in records if r.workspace == ours]
    chosen = [r for r in mine if since is None or r.origin >= since]
    return Kept(
        records=chosen,
        problems=problems,
        other_workspaces=len(records) - len(mine),
        before_since=len(mine) - len(chosen),
    )


@dataclass(frozen=True)
class Closes:
    """The closes to score against: date -> close, and where they came from."""

    values: dict[dt.date, float]
    source: str

    @property
    def through(self) -> dt.date | None:
        return max(self.values) if self.values else None


def closes_of_series(series: Series, *, source: str) -> Closes:
    return Closes(
        values={day: value for day, value in zip(series.dates, series.target, strict=True) if value == value},
        source=source,
    )


def closes_of_file(ctx: Context, path: Path) -> Closes:
    """A price file read with the reader and checks `prepare` uses (any family it reads)."""
    import math

    from nikkei_deepar.data.plausible import tomorrow_in_tokyo
    from nikkei_deepar.data.prices import read_prices

    data = ctx.settings.data
    table = read_prices(
        path,
        close_column=data.close_column,
        date_order=data.date_order,
        latest=tomorrow_in_tokyo(ctx.now()),
        max_bytes=data.max_input_bytes,
    )
    import pandas as pd

    values = {
        pd.Timestamp(stamp).date(): float(value)
        for stamp, value in zip(table.closes.index, table.closes.to_numpy(dtype="float64"), strict=True)
        if not math.isnan(float(value))
    }
    return Closes(values=values, source=str(path))


def closes_of_prepared(ctx: Context, ledger: Ledger) -> Closes:
    from nikkei_deepar.lifecycle.series import prepared_series

    data, series = prepared_series(ctx, ledger)
    return closes_of_series(series, source=f"the prepared data {data.sha256[:16]} ({data.source})")


def live_score(ctx: Context, ledger: Ledger) -> tuple[Scorecard | None, str]:
    """`status`'s view: the scorecard (None when there is nothing to score) and one line saying it.
    Never raises: what stops a score (an unreadable history, no prepared data) is the line."""
    from nikkei_deepar.data.scoring import score_forecasts

    try:
        kept = kept_forecasts(ctx)
        if not kept.records:
            return None, "no forecasts kept yet (`predict` keeps each one; `score` judges them)"
        if ledger.last_data is None:
            return None, f"{len(kept.records)} forecasts kept; no prepared data to score them against"
        card = score_forecasts(kept.records, closes_of_prepared(ctx, ledger).values)
    except NikkeiError as exc:
        return None, f"not available: {exc.message}"
    skipped = f" ({len(kept.problems)} unreadable entries skipped)" if kept.problems else ""
    return card, card.line() + skipped
