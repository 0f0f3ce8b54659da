"""`score`: the kept forecasts against the closes that came since. Read-only: no lock, no writes.

Reads the forecast history (`ctx.history`: every forecast `predict` issued, as printed, with the random
walk issued beside it), keeps this workspace's (and those from `--since` on), and scores them against
the closes of the latest prepared data, or of `--input FILE` (read as `prepare` reads a price file). The
arithmetic is `data.scoring`'s: per horizon step 1..N the number scored, wQL (GluonTS's
mean_wQuantileLoss over the quantile levels the forecasts printed), the 80% coverage with a Wilson 95%
interval, MASE, the same for the random walk, and the skill ratio. Forecasts whose closes have not
come yet are counted, not guessed. Nothing to score is said, and is no error (exit 0). An unreadable
history entry is reported (file and line) and skipped; an entry of a newer format is refused (exit 11).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nikkei_deepar.context import Context
from nikkei_deepar.errors import UsageError
from nikkei_deepar.lifecycle.track_record import (
    Closes,
    Kept,
    closes_of_file,
    closes_of_prepared,
    kept_forecasts,
)
from nikkei_deepar.output import Table, number
from nikkei_deepar.timezones import local_time

if TYPE_CHECKING:
    from nikkei_deepar.data.scoring import Scorecard, StepScore

DEFINITIONS = (
    "wQL: GluonTS's mean_wQuantileLoss over {levels}; 80% cov.: the share of closes within q0.1..q0.9, "
    "with a Wilson 95% interval (forecasts issued on consecutive days overlap, so the true interval is "
    "wider); MASE: |close - forecast mean| / the mean one-session move of the closes before each "
    "forecast's origin; RW: the random walk issued beside each forecast; wQL/RW below 1: the forecast "
    "did better"
)


@dataclass(frozen=True)
class ScoreResult:
    history: str
    kept: Kept
    closes: Closes | None
    card: Scorecard | None
    since: dt.date | None = None
    plot: str | None = None
    zone: dt.tzinfo | None = dt.UTC
    notes: list[str] = field(default_factory=list)

    def to_data(self) -> dict[str, Any]:
        card = self.card
        counts = {
            "kept": len(self.kept.records),
            "scored": 0 if card is None else len(card.outcomes) - card.waiting,
            "complete": 0 if card is None else card.complete,
            "partial": 0 if card is None else card.partial,
            "waiting": len(self.kept.records) if card is None else card.waiting,
            "superseded": 0 if card is None else card.superseded,
            "other_workspaces": self.kept.other_workspaces,
            "before_since": self.kept.before_since,
            "unreadable": len(self.kept.problems),
        }
        return {
            "history": self.history,
            "since": None if self.since is None else self.since.isoformat(),
            "forecasts": counts,
            "skipped_entries": list(self.kept.problems),
            "actuals": None
            if self.closes is None
            else {
                "source": self.closes.source,
                "through": None if self.closes.through is None else self.closes.through.isoformat(),
            },
            "quantiles": [] if card is None else list(card.levels),
            "horizons": [] if card is None else [h.to_data() for h in card.horizons],
            "overall": None if card is None else card.overall.to_data(),
            "last_issued_at": _iso(self._last_issued()),
            "plot": self.plot,
            "notes": self.notes,
        }

    def _last_issued(self) -> dt.datetime | None:
        return max((r.issued_at for r in self.kept.records), default=None)

    def to_lines(self) -> list[str]:
        kept, card = self.kept, self.card
        since = f" with an origin on or after {self.since}" if self.since else ""
        if not kept.records:
            left = [
                f"{kept.before_since} before {self.since}" if kept.before_since else "",
                f"{kept.other_workspaces} of other workspaces" if kept.other_workspaces else "",
            ]
            out = ", ".join(part for part in left if part)
            return [
                f"score: nothing to score: no forecasts kept{since} in {self.history}"
                + (f" ({out})" if out else ""),
                "`predict` keeps every forecast it makes; `score` judges them once their closes come",
            ]
        assert card is not None and self.closes is not None
        origins = [o.record.origin for o in card.outcomes]
        through = self.closes.through
        lines = [
            f"score: {len(card.outcomes)} forecasts{since} from {self.history}, origins {min(origins)} .. "
            f"{max(origins)}; closes through {through or '-'} from {self.closes.source}",
        ]
        counted = [f"{card.complete} scored at every step"]
        if card.partial:
            counted.append(f"{card.partial} in part")
        counted.append(f"{card.waiting} waiting for closes (counted, not guessed)")
        if card.superseded:
            counted.append(f"{card.superseded} earlier forecasts for the same origin left out")
        lines.append("  " + ", ".join(counted))
        last = self._last_issued()
        if last is not None:
            lines.append(f"  the last forecast was issued {local_time(last, self.zone)}")
        if card.pairs == 0:
            lines.append(f"nothing to score yet: no close after {min(origins)} has come in")
        else:
            levels = ", ".join(f"q{level}" for level in card.levels)
            lines.append(DEFINITIONS.format(levels=levels))
        lines += [f"note: {note}" for note in [*card.notes, *self.notes]]
        if self.plot:
            lines.append(f"plot: {self.plot}")
        return lines  # entries that could not be read were warnings (stderr), one line each

    def to_table(self) -> Table | None:
        card = self.card
        if card is None or card.pairs == 0:
            return None
        rows = [_row(str(h.step), h) for h in card.horizons] + [_row("all", card.overall)]
        return Table(
            columns=[
                "step",
                "n",
                "wQL",
                "RW wQL",
                "wQL/RW",
                "80% cov. (95% CI)",
                "RW cov.",
                "MASE",
                "RW MASE",
            ],
            rows=rows,
            title="lower is better, except coverage (0.80 is right)",
        )


def _iso(when: dt.datetime | None) -> str | None:
    """UTC, ISO 8601, as --json shows every time."""
    return None if when is None else when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _row(label: str, h: StepScore) -> list[Any]:
    f, rw = h.forecast, h.random_walk
    return [
        label,
        h.n,
        _num(f.wql),
        _num(rw.wql),
        "-" if h.skill_ratio is None else f"{h.skill_ratio:.2f}",
        _coverage(f.coverage80, f.coverage80_interval),
        "-" if rw.coverage80 is None else f"{rw.coverage80:.2f}",
        _num(f.mase),
        _num(rw.mase),
    ]


def _num(value: float | None) -> str:
    return "-" if value is None else number(value)


def _coverage(value: float | None, interval: tuple[float, float] | None) -> str:
    if value is None or interval is None:
        return "-"
    return f"{value:.2f} ({interval[0]:.2f}-{interval[1]:.2f})"


def parse_since(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--since {text!r}: not a date (YYYY-MM-DD)", code="bad-date") from None


def run(ctx: Context, *, input_file: Path | None, since: str | None, plot: Path | None) -> ScoreResult:
    first = parse_since(since)
    if plot is not None:
        from nikkei_deepar.plot import require_matplotlib

        require_matplotlib()
    kept = kept_forecasts(ctx, since=first)
    for problem in kept.problems:
        ctx.reporter.warn(problem)
    if not kept.records:
        return ScoreResult(history=ctx.history.where, kept=kept, closes=None, card=None, since=first)
    from nikkei_deepar.data.scoring import score_forecasts

    closes = (
        closes_of_file(ctx, input_file)
        if input_file is not None
        else closes_of_prepared(ctx, ctx.state.load())
    )
    card = score_forecasts(kept.records, closes.values)
    if plot is not None:
        from nikkei_deepar.plot import plot_score

        plot_score(plot, closes=closes.values, outcomes=card.outcomes)
    return ScoreResult(
        history=ctx.history.where,
        kept=kept,
        closes=closes,
        card=card,
        since=first,
        plot=None if plot is None else str(plot),
        zone=ctx.zone,
    )
