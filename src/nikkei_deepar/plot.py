"""`--plot FILE.png`: the pictures `predict`, `score` and `backtest` draw, with matplotlib (the `plot` extra).

matplotlib is imported inside the functions, and only when a plot is asked for; without it the user gets
a UsageError naming the pip command. No pyplot (no global state, no display needed): a bare `Figure`,
rendered to PNG bytes and written with `files.write_atomic`, so the file appears whole and gets the mode
the umask gives, like every other output.

Every picture runs on a trading-day axis: one step per Tokyo session, so weekends, holidays and the
year-end closure leave no gaps, and the ticks name the dates.

- `plot_forecast`: the last ~60 sessions and the forecast: median line, 10-90% band, the last close
  marked, each forecast date labelled.
- `plot_score`: each kept forecast's 10-90% band against the closes that came (a close outside its band
  is marked), and below it the rolling 80% coverage with its Wilson 95% interval.
- `plot_backtest`: each backtest window's forecast (median and band) against the actual closes, with the
  random walk's, above the bars of the scores.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nikkei_deepar.errors import UsageError
from nikkei_deepar.files import write_atomic

if TYPE_CHECKING:
    from nikkei_deepar.data.scoring import Outcome

HISTORY_SESSIONS = 60
ROLLING_FORECASTS = 20
CLOSE = "#1f4e79"
FORECAST = "#e07b39"
MEDIAN = "#c0392b"
WALK = "#7f7f7f"
MISS = "#b03060"


def require_matplotlib() -> Any:
    """The matplotlib module, or a UsageError that says how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise UsageError(
            "--plot needs matplotlib, which is not installed",
            hint="pip install 'nikkei-deepar[plot]'",
            code="missing-extra",
        ) from None
    return matplotlib


def _figure(width: float, height: float) -> Any:
    require_matplotlib()
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


def save(fig: Any, path: Path) -> Path:
    """The figure as a PNG at `path`, written atomically with the umask's mode."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    write_atomic(path, buffer.getvalue())
    return path


def band_levels(keys: Sequence[str]) -> tuple[str, str] | None:
    """The levels of the band drawn: 0.1 and 0.9 when printed, else the outermost pair."""
    ordered = sorted(keys, key=float)
    if "0.1" in ordered and "0.9" in ordered:
        return "0.1", "0.9"
    return (ordered[0], ordered[-1]) if len(ordered) >= 2 else None


def median_of(mean: float, quantiles: Mapping[str, float]) -> float:
    return quantiles.get("0.5", mean)


def _ticks(ax: Any, days: Sequence[dt.date], positions: Sequence[int]) -> None:
    """Label `positions` of the session axis with their dates (the year where it changes)."""
    chosen = sorted(set(p for p in positions if 0 <= p < len(days)))
    labels, year = [], None
    for p in chosen:
        day = days[p]
        labels.append(day.isoformat() if day.year != year else day.strftime("%m-%d"))
        year = day.year
    ax.set_xticks(chosen, labels, rotation=45, ha="right", fontsize=8)
    ax.set_xlim(-0.5, len(days) - 0.5)


def _every(n: int, count: int) -> list[int]:
    step = max(1, math.ceil(n / count))
    return list(range(0, n, step))


def _percent(low: str, high: str) -> str:
    return f"{float(low):.0%}-{float(high):.0%}"


# -- predict ------------------------------------------------------------------------------------------------
def plot_forecast(
    path: Path,
    *,
    history: Sequence[tuple[dt.date, float]],
    forecast: Sequence[tuple[dt.date, float, dict[str, float]]],
    title: str,
) -> Path:
    """The last HISTORY_SESSIONS closes and the forecast on a trading-day axis, the forecast's dates and
    values listed beside it; write `path`."""
    recent = [(day, value) for day, value in history if not math.isnan(value)][-HISTORY_SESSIONS:]
    days = [d for d, _ in recent] + [d for d, _, _ in forecast]
    fig = _figure(12, 5.2)
    ax = fig.add_subplot()
    n = len(recent)
    if recent:
        ax.plot(range(n), [v for _, v in recent], color=CLOSE, linewidth=1.4, label="close")
    rows: list[str] = []
    if forecast:
        xs = list(range(n, n + len(forecast)))
        medians = [median_of(m, q) for _, m, q in forecast]
        levels = band_levels(list(forecast[0][2]))
        anchor = [n - 1] if recent else []
        start = [recent[-1][1]] if recent else []
        if levels is not None:
            low, high = levels
            ax.fill_between(
                anchor + xs,
                start + [q[low] for _, _, q in forecast],
                start + [q[high] for _, _, q in forecast],
                color=FORECAST,
                alpha=0.3,
                linewidth=0,
                label=f"{_percent(low, high)} band",
            )
        what = "median" if "0.5" in forecast[0][2] else "mean"
        ax.plot(
            anchor + xs, start + medians, color=MEDIAN, linewidth=1.8, marker="o", markersize=3, label=what
        )
        band = f"  {_percent(*levels)}" if levels is not None else ""
        rows.append(f"{'session':<10}  {what:>8}{band}")
        for (day, _, quantiles), value in zip(forecast, medians, strict=True):
            spread = f"  {quantiles[levels[0]]:,.0f}-{quantiles[levels[1]]:,.0f}" if levels else ""
            rows.append(f"{day.isoformat():<10}  {value:>8,.0f}{spread}")
    if recent:
        day, close = recent[-1]
        ax.plot([n - 1], [close], marker="o", color="black", markersize=6, linestyle="none")
        ax.annotate(
            f"last close {close:,.2f}\n{day.isoformat()}",
            (n - 1, close),
            textcoords="offset points",
            xytext=(-12, 14),
            ha="right",
            fontsize=8,
        )
        ax.axvline(n - 0.5, color="black", linewidth=0.8, linestyle=":")
    if rows:
        ax.text(  # beside the plot, where it hides no close
            1.02,
            0.5,
            "\n".join(rows),
            transform=ax.transAxes,
            family="monospace",
            fontsize=8,
            va="center",
            bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "#cccccc"},
        )
    history_ticks = list(range(n - 1, -1, -10))  # every tenth session back from the last close
    _ticks(ax, days, [*history_ticks, len(days) - 1])
    ax.set_title(title)
    ax.set_ylabel("Nikkei 225")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.subplots_adjust(left=0.07, right=0.75 if rows else 0.98, bottom=0.17, top=0.92)
    return save(fig, path)


# -- score --------------------------------------------------------------------------------------------------
def plot_score(path: Path, *, closes: Mapping[dt.date, float], outcomes: Sequence[Outcome]) -> Path:
    """Each forecast's band against the closes that came, and the rolling 80% coverage below."""
    from nikkei_deepar.data.scoring import wilson_interval

    fig = _figure(11, 6.5)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.3]})
    if not outcomes:
        top.text(0.5, 0.5, "no forecasts kept", ha="center", va="center", transform=top.transAxes)
        return save(fig, path)
    first = min(o.record.origin for o in outcomes)
    known = sorted(closes)
    lead = [d for d in known if d <= first][-10:]
    forecast_days = {p.date for o in outcomes for p in o.record.forecast}
    days = sorted({*lead, *(d for d in known if d > first), *forecast_days})
    where = {day: i for i, day in enumerate(days)}
    top.plot(
        [where[d] for d in days if d in closes],
        [closes[d] for d in days if d in closes],
        color=CLOSE,
        linewidth=1.4,
        label="close",
        zorder=3,
    )
    misses: list[tuple[int, float]] = []
    for i, outcome in enumerate(outcomes):
        record = outcome.record
        xs = [where[p.date] for p in record.forecast]
        levels = band_levels(record.quantiles)
        if levels is not None:
            low, high = levels
            top.fill_between(
                xs,
                [p.quantiles[low] for p in record.forecast],
                [p.quantiles[high] for p in record.forecast],
                color=FORECAST,
                alpha=0.12,
                linewidth=0,
                label=f"each forecast's {_percent(low, high)} band" if i == 0 else None,
            )
            for point, actual in zip(record.forecast, outcome.actuals, strict=True):
                if actual is not None and not point.quantiles[low] <= actual <= point.quantiles[high]:
                    misses.append((where[point.date], actual))
        top.plot(
            xs,
            [median_of(p.mean, p.quantiles) for p in record.forecast],
            color=MEDIAN,
            linewidth=0.7,
            alpha=0.6,
            label="each forecast's median" if i == 0 else None,
        )
    if misses:
        top.scatter(*zip(*misses, strict=True), marker="x", color=MISS, s=18, zorder=4, label="close outside")
    top.set_title(f"{len(outcomes)} kept forecasts against the closes that came")
    top.set_ylabel("Nikkei 225")
    top.grid(True, alpha=0.3)
    top.legend(loc="upper left", fontsize=8)

    xs, rates, lows, highs = [], [], [], []
    hits_n: list[tuple[int, int]] = []
    for outcome in outcomes:
        inside = outcome.inside80()
        if not inside:
            continue
        hits_n.append((sum(inside), len(inside)))
        window = hits_n[-ROLLING_FORECASTS:]
        hits, n = sum(h for h, _ in window), sum(k for _, k in window)
        lower, upper = wilson_interval(hits, n)
        record = outcome.record
        xs.append(where.get(record.origin, where[record.forecast[0].date] - 1))
        rates.append(hits / n)
        lows.append(lower)
        highs.append(upper)
    if xs:
        bottom.fill_between(xs, lows, highs, color=CLOSE, alpha=0.15, linewidth=0, label="Wilson 95%")
        bottom.plot(xs, rates, color=CLOSE, linewidth=1.4, marker="o", markersize=2.5, label="coverage")
    else:
        bottom.text(0.5, 0.5, "no closes yet", ha="center", va="center", transform=bottom.transAxes)
    bottom.axhline(0.8, color="black", linestyle="--", linewidth=1, label="0.80")
    bottom.set_ylim(0, 1.05)
    bottom.set_ylabel("80% coverage")
    bottom.set_title(f"rolling 80% coverage over the last {ROLLING_FORECASTS} scored forecasts", fontsize=9)
    bottom.grid(True, alpha=0.3)
    bottom.legend(loc="lower left", fontsize=7, ncols=3)
    _ticks(bottom, days, _every(len(days), 14))
    fig.tight_layout()
    return save(fig, path)


# -- backtest -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WindowForecast:
    """One backtest window's forecast: where its first step is on the session axis, and its paths."""

    start: int
    median: Sequence[float]
    lower: Sequence[float] | None
    upper: Sequence[float] | None


@dataclass(frozen=True)
class ScoreBar:
    label: str
    highlight: bool
    values: Mapping[str, float]  # attribute -> value


def plot_backtest(
    path: Path,
    *,
    days: Sequence[dt.date],
    closes: Sequence[float],
    model: str,
    windows: Sequence[WindowForecast],
    walk: Sequence[WindowForecast],
    band: str,
    bars: Sequence[ScoreBar],
    metrics: Sequence[tuple[str, str]],
    title: str,
) -> Path:
    """The windows' forecasts against the actual closes (top) and the scores as bars (bottom)."""
    fig = _figure(12, 7.5)
    grid = fig.add_gridspec(2, max(len(metrics), 1), height_ratios=[2.4, 1])
    top = fig.add_subplot(grid[0, :])
    top.plot(range(len(days)), closes, color=CLOSE, linewidth=1.3, label="close", zorder=3)
    for i, window in enumerate(windows):
        xs = list(range(window.start, window.start + len(window.median)))
        anchor = [window.start - 1] if window.start > 0 else []
        start = [closes[window.start - 1]] if window.start > 0 else []
        if window.lower is not None and window.upper is not None:
            top.fill_between(
                anchor + xs,
                start + list(window.lower),
                start + list(window.upper),
                color=FORECAST,
                alpha=0.3,
                linewidth=0,
                label=f"{model}: {band} band" if i == 0 else None,
            )
        top.plot(
            anchor + xs,
            start + list(window.median),
            color=MEDIAN,
            linewidth=1.4,
            label=f"{model}: median" if i == 0 else None,
        )
        top.axvline(window.start - 0.5, color="black", linewidth=0.6, linestyle=":")
    for i, window in enumerate(walk):
        xs = list(range(window.start, window.start + len(window.median)))
        top.plot(
            xs,
            list(window.median),
            color=WALK,
            linewidth=1.0,
            linestyle="--",
            label="random walk: median" if i == 0 else None,
        )
    top.set_title(title, fontsize=10)
    top.set_ylabel("Nikkei 225")
    top.grid(True, alpha=0.3)
    top.legend(loc="upper left", fontsize=8)
    _ticks(top, days, _every(len(days), 16))
    for column, (attribute, name) in enumerate(metrics):
        ax = fig.add_subplot(grid[1, column])
        values = [bar.values[attribute] for bar in bars]
        ax.bar(range(len(values)), values, color=[MEDIAN if b.highlight else WALK for b in bars])
        ax.set_xticks(range(len(values)), [b.label for b in bars], rotation=20, ha="right", fontsize=7)
        ax.set_title(name, fontsize=9)
        if attribute == "coverage80":
            ax.axhline(0.8, color="black", linestyle="--", linewidth=1)
            ax.set_ylim(0, 1)
    fig.tight_layout()
    return save(fig, path)
