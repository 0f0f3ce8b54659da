"""The pictures: a trading-day axis without weekend or holiday gaps, the median line and the 10-90% band,
the last close marked, dates labelled; written whole with the umask's mode. The figures are caught
before they are saved (`plot.save`) and their artists inspected."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import stat
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("matplotlib")

from nikkei_deepar import plot
from nikkei_deepar.data.calendar import next_trading_days

LAST = dt.date(2025, 12, 26)


@pytest.fixture
def caught(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    figures: list[Any] = []
    monkeypatch.setattr(plot, "save", lambda fig, path: figures.append(fig) or path)
    return figures


def _history(sessions: int = 80) -> list[tuple[dt.date, float]]:
    days = next_trading_days(LAST - dt.timedelta(days=150), 200)
    days = [d for d in days if d <= LAST][-sessions:]
    return [(d, 50000.0 + i) for i, d in enumerate(days)]


def _forecast() -> list[tuple[dt.date, float, dict[str, float]]]:
    return [
        (d, 50100.0 + i, {"0.1": 49000.0 - i, "0.5": 50100.0 + i, "0.9": 51000.0 + i})
        for i, d in enumerate(next_trading_days(LAST, 5), start=1)
    ]


def test_the_forecast_runs_on_a_trading_day_axis_with_its_band_median_and_last_close(
    caught: list[Any],
) -> None:
    plot.plot_forecast(Path("unused.png"), history=_history(), forecast=_forecast(), title="t")
    [fig] = caught
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    close = list(lines["close"].get_xdata())
    assert close == list(range(plot.HISTORY_SESSIONS))  # one step a session: no gaps
    median = lines["median"]
    assert list(median.get_xdata()) == [59, 60, 61, 62, 63, 64]  # from the last close on
    assert list(median.get_ydata())[1:] == [50101.0, 50102.0, 50103.0, 50104.0, 50105.0]
    [band] = [c for c in ax.collections if c.get_label() == "10%-90% band"]
    assert band is not None
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert "12-26" in labels and "2026-01-07" in labels  # the last close and the last forecast date
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "last close 50,079.00" in texts and "2025-12-26" in texts
    # the forecast's dates and values listed: Dec 29, 30, then Jan 5 (the year-end closure skipped)
    for day in ("2025-12-29", "2025-12-30", "2026-01-05", "2026-01-06", "2026-01-07"):
        assert day in texts
    assert "2025-12-31" not in texts and "2026-01-02" not in texts


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_a_picture_is_written_whole_with_the_umasks_mode(tmp_path: Path, umask: int) -> None:
    target = tmp_path / "pictures" / "forecast.png"
    previous = os.umask(umask)
    try:
        plot.plot_forecast(target, history=_history(), forecast=_forecast(), title="t")
    finally:
        os.umask(previous)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in target.parent.iterdir()] == ["forecast.png"]


def test_a_score_picture_of_nothing_says_so(caught: list[Any]) -> None:
    plot.plot_score(Path("unused.png"), closes={}, outcomes=[])
    assert "no forecasts kept" in caught[0].axes[0].texts[0].get_text()


def test_backtest_draws_each_window_against_the_closes(
    caught: list[Any], run_cli: Any, hermetic_env: Path
) -> None:
    sample = Path(__file__).resolve().parents[1] / "data" / "nikkei.csv"
    Path("nikkei-deepar.toml").write_text('backend = "local"\n', encoding="utf-8")
    assert run_cli("prepare", "--input", str(sample)).exit_code == 0
    result = run_cli(
        "backtest", "--models", "random-walk,seasonal-naive", "--windows", "4", "--plot", "b.png"
    )
    assert result.exit_code == 0, result.stderr
    [fig] = caught
    top = fig.axes[0]
    medians = [line for line in top.get_lines() if line.get_color() == plot.MEDIAN]
    walks = [
        line for line in top.get_lines() if line.get_linestyle() == "--" and line.get_color() == plot.WALK
    ]
    assert len(medians) == 4 and len(walks) == 4  # the shown model's and the random walk's, per window
    assert [len(line.get_xdata()) for line in medians] == [6, 6, 6, 6]  # joined to the close before
    xs = [int(line.get_xdata()[0]) for line in medians]
    assert [b - a for a, b in itertools.pairwise(xs)] == [5, 5, 5]  # windows of 5 sessions, no gaps
    assert [ax.get_title() for ax in fig.axes[1:]] == ["mean wQL", "MASE", "RMSE", "80% coverage"]
