"""`--plot FILE.png`: the recent history and the forecast fan, drawn with matplotlib (the `plot` extra).

matplotlib is imported here, inside the function, and only when a plot is asked for; without it the
user gets a UsageError naming the pip command. No pyplot (no global state, no display needed): a bare
`Figure` saved to a temporary file beside the target, then moved into place.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nikkei_deepar.errors import UsageError

HISTORY_POINTS = 120


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


def plot_forecast(
    path: Path,
    *,
    history: Sequence[tuple[dt.date, float]],
    forecast: Sequence[tuple[dt.date, float, dict[str, float]]],
    title: str,
) -> Path:
    """Draw the last HISTORY_POINTS closes, the forecast mean and its quantile bands; write `path`."""
    require_matplotlib()
    import numpy as np
    from matplotlib.figure import Figure

    def x(days: Sequence[dt.date]) -> Any:  # datetime64: matplotlib's date axis, typed for mypy
        return np.array(days, dtype="datetime64[D]")

    recent = [(day, value) for day, value in history if not math.isnan(value)][-HISTORY_POINTS:]
    fig = Figure(figsize=(10, 5), dpi=100)
    ax = fig.add_subplot()
    if recent:
        ax.plot(
            x([d for d, _ in recent]),
            [v for _, v in recent],
            color="#1f4e79",
            linewidth=1.2,
            label="close",
        )
    if forecast:
        days = [day for day, _, _ in forecast]
        keys = sorted(forecast[0][2], key=float)
        # bands from the outermost quantile pair inwards, lighter outside
        for i in range(len(keys) // 2):
            low, high = keys[i], keys[-1 - i]
            ax.fill_between(
                x(days),
                [q[low] for _, _, q in forecast],
                [q[high] for _, _, q in forecast],
                color="#e07b39",
                alpha=0.18 + 0.12 * i,
                linewidth=0,
                label=f"{float(low):.0%}-{float(high):.0%}",
            )
        if recent:  # join the mean to the last close so the forecast visibly continues the series
            days = [recent[-1][0], *days]
            means = [recent[-1][1], *(m for _, m, _ in forecast)]
        else:
            means = [m for _, m, _ in forecast]
        ax.plot(x(days), means, color="#c0392b", linewidth=1.6, label="forecast mean")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left")
    fig.autofmt_xdate()

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".plot-", suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, format="png")
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        raise
    return path
