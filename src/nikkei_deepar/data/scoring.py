"""Score kept forecasts against the closes that came: per horizon step, and for the random walk beside them.

Pure: records (`history.ForecastRecord`) and a table of closes in, numbers out; no I/O. What is scored:

- One forecast per origin: when `predict` ran twice on the same last close, the last one issued is
  scored and the earlier ones are counted as `superseded` (both stay in the history).
- Step k of a forecast is scored once the close of its date has arrived (its date is on or before the
  last close known). A step dated after it is `waiting` (counted, never guessed); a step dated on or
  before it with no close that day (a gap in the price file) is `missing`.
- wQL: GluonTS's mean_wQuantileLoss (`data.metrics`): per level, the quantile losses of every forecast
  scored at that step summed and divided by the summed closes, then averaged over the levels. The
  levels are those the forecasts printed (all of them: the levels every scored forecast has).
- 80% coverage: the share of closes within [q0.1, q0.9], bounds inclusive, with a Wilson score 95%
  interval for a binomial share. The interval treats the forecasts as independent; forecasts issued
  on consecutive days overlap (step 5 of Monday's and step 4 of Tuesday's fall on the same close), so
  the true uncertainty is wider than shown.
- MASE: the mean over forecasts of |close - forecast mean| / the forecast's own scale (`mase_scale`: the
  mean absolute one-session change of the closes up to its origin, recorded when it was issued), as
  `backtest` scales each window by its own history.
- The same three for the random walk issued beside each forecast, and the skill ratio: the forecast's
  wQL / the random walk's (below 1: the forecast did better).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nikkei_deepar.data import metrics
from nikkei_deepar.history import ForecastPoint, ForecastRecord

LOWER, UPPER = "0.1", "0.9"
Z95 = 1.959963984540054  # the standard normal's 97.5% quantile


def wilson_interval(hits: int, n: int, *, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for a binomial share of `hits` in `n` (95% by default)."""
    if n <= 0:
        raise ValueError("the Wilson interval needs at least one trial")
    p = hits / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Scores:
    """One forecaster's scores over a set of (forecast, step) pairs."""

    wql: float | None
    coverage80: float | None
    coverage80_interval: tuple[float, float] | None
    mase: float | None

    def to_data(self) -> dict[str, Any]:
        interval = self.coverage80_interval
        return {
            "wql": self.wql,
            "coverage80": self.coverage80,
            "coverage80_interval": None if interval is None else list(interval),
            "mase": self.mase,
        }


@dataclass(frozen=True)
class StepScore:
    """Scores at one horizon step (`step` None: every step pooled)."""

    step: int | None
    n: int
    waiting: int
    missing: int
    forecast: Scores
    random_walk: Scores

    @property
    def skill_ratio(self) -> float | None:
        model, baseline = self.forecast.wql, self.random_walk.wql
        return None if model is None or not baseline else model / baseline

    def to_data(self) -> dict[str, Any]:
        f, rw = self.forecast, self.random_walk
        return {
            "step": self.step,
            "n": self.n,
            "waiting": self.waiting,
            "missing": self.missing,
            "wql": f.wql,
            "coverage80": f.coverage80,
            "coverage80_interval": f.to_data()["coverage80_interval"],
            "mase": f.mase,
            "random_walk_wql": rw.wql,
            "random_walk_coverage80": rw.coverage80,
            "random_walk_coverage80_interval": rw.to_data()["coverage80_interval"],
            "random_walk_mase": rw.mase,
            "skill_ratio": self.skill_ratio,
        }


@dataclass(frozen=True)
class Outcome:
    """One scored forecast: its record and, per step, the close that came (None: not in yet or missing)."""

    record: ForecastRecord
    actuals: tuple[float | None, ...]

    @property
    def scored(self) -> int:
        return sum(1 for a in self.actuals if a is not None)

    def inside80(self) -> list[bool]:
        """Per scored step (in order), whether the close fell within [q0.1, q0.9]."""
        found = []
        for point, actual in zip(self.record.forecast, self.actuals, strict=True):
            if actual is not None and LOWER in point.quantiles and UPPER in point.quantiles:
                found.append(point.quantiles[LOWER] <= actual <= point.quantiles[UPPER])
        return found


@dataclass(frozen=True)
class Scorecard:
    outcomes: tuple[Outcome, ...]  # one per origin, oldest first
    superseded: int
    through: dt.date | None  # the last close known
    levels: tuple[str, ...]  # the quantile levels wQL averages over
    horizons: tuple[StepScore, ...]
    overall: StepScore
    complete: int  # forecasts scored at every step
    partial: int  # scored at some steps, waiting for (or missing) others
    waiting: int  # not scored at any step yet
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def pairs(self) -> int:
        return self.overall.n

    def line(self) -> str:
        """One line: the live score, for `status`."""
        o = self.overall
        if o.n == 0:
            return f"{len(self.outcomes)} forecasts kept, none scored yet (no closes after their dates)"
        text = f"{len(self.outcomes) - self.waiting} forecasts scored ({o.n} steps)"
        if o.forecast.wql is not None and o.random_walk.wql is not None:
            text += f": wQL {o.forecast.wql:.4g} vs the random walk's {o.random_walk.wql:.4g}"
            if o.skill_ratio is not None:
                text += f" ({o.skill_ratio:.2f}x)"
        if o.forecast.coverage80 is not None and o.forecast.coverage80_interval is not None:
            low, high = o.forecast.coverage80_interval
            text += f", 80% coverage {o.forecast.coverage80:.0%} ({low:.0%}-{high:.0%})"
        if self.waiting:
            text += f"; {self.waiting} waiting for closes"
        return text


def score_forecasts(records: Sequence[ForecastRecord], closes: Mapping[dt.date, float]) -> Scorecard:
    """Score `records` against `closes` (date -> close; the days with a close) as the module says."""
    through = max(closes) if closes else None
    latest: dict[dt.date, ForecastRecord] = {}
    for record in records:
        kept = latest.get(record.origin)
        if kept is None or record.issued_at >= kept.issued_at:
            latest[record.origin] = record
    chosen = sorted(latest.values(), key=lambda r: (r.origin, r.issued_at))
    outcomes = tuple(_outcome(record, closes, through) for record in chosen)
    levels = _common_levels(chosen)
    horizon = max((len(r.forecast) for r in chosen), default=0)
    horizons = tuple(_step_score(outcomes, k, levels, through) for k in range(1, horizon + 1))
    overall = _step_score(outcomes, None, levels, through)
    notes = []
    if levels and (LOWER not in levels or UPPER not in levels):
        notes.append("no 80% coverage: the forecasts did not all print the 0.1 and 0.9 quantiles")
    return Scorecard(
        outcomes=outcomes,
        superseded=len(records) - len(chosen),
        through=through,
        levels=levels,
        horizons=horizons,
        overall=overall,
        complete=sum(1 for o in outcomes if o.scored == len(o.actuals)),
        partial=sum(1 for o in outcomes if 0 < o.scored < len(o.actuals)),
        waiting=sum(1 for o in outcomes if o.scored == 0),
        notes=tuple(notes),
    )


def _outcome(record: ForecastRecord, closes: Mapping[dt.date, float], through: dt.date | None) -> Outcome:
    actuals = tuple(
        closes.get(point.date) if through is not None and point.date <= through else None
        for point in record.forecast
    )
    return Outcome(record=record, actuals=actuals)


def _common_levels(records: Sequence[ForecastRecord]) -> tuple[str, ...]:
    if not records:
        return ()
    common = set(records[0].quantiles)
    for record in records[1:]:
        common &= set(record.quantiles)
    return tuple(sorted(common, key=float))


def _step_score(
    outcomes: Sequence[Outcome], step: int | None, levels: Sequence[str], through: dt.date | None
) -> StepScore:
    """Pool every (forecast, step) pair at `step` (None: at every step)."""
    pairs: list[tuple[ForecastRecord, int, float]] = []
    waiting = missing = 0
    for outcome in outcomes:
        for i, (point, actual) in enumerate(zip(outcome.record.forecast, outcome.actuals, strict=True)):
            if step is not None and point.step != step:
                continue
            if actual is not None:
                pairs.append((outcome.record, i, actual))
            elif through is None or point.date > through:
                waiting += 1
            else:
                missing += 1
    forecast = _scores([(r.forecast[i], r.mase_scale, y) for r, i, y in pairs], levels)
    baseline = _scores([(r.random_walk[i], r.mase_scale, y) for r, i, y in pairs], levels)
    return StepScore(
        step=step, n=len(pairs), waiting=waiting, missing=missing, forecast=forecast, random_walk=baseline
    )


def _scores(pairs: Sequence[tuple[ForecastPoint, float | None, float]], levels: Sequence[str]) -> Scores:
    if not pairs:
        return Scores(wql=None, coverage80=None, coverage80_interval=None, mase=None)
    y = np.array([actual for _, _, actual in pairs], dtype=np.float64)
    wql = (
        metrics.mean_weighted_quantile_loss(
            y,
            {
                float(level): np.array([p.quantiles[level] for p, _, _ in pairs], dtype=np.float64)
                for level in levels
            },
        )
        if levels
        else None
    )
    coverage = interval = None
    if LOWER in levels and UPPER in levels:
        hits = sum(1 for p, _, actual in pairs if p.quantiles[LOWER] <= actual <= p.quantiles[UPPER])
        coverage = hits / len(pairs)
        interval = wilson_interval(hits, len(pairs))
    scaled = [abs(actual - p.mean) / scale for p, scale, actual in pairs if scale]
    return Scores(
        wql=wql,
        coverage80=coverage,
        coverage80_interval=interval,
        mase=float(np.mean(scaled)) if scaled else None,
    )
