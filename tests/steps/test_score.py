"""`nikkei-deepar score` through the CLI: nothing to score (exit 0), bad history entries reported with file
and line and never rewritten, a newer history refused by version (exit 11), --since, --input, --plot with
the umask's mode, other workspaces left out; and `status`'s one-line live score."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nikkei_deepar.history import FORMAT_VERSION, ForecastPoint, ForecastRecord, LocalHistory, Workspace

PRICES = Path(__file__).resolve().parents[1] / "fixtures" / "prices" / "long" / "nikkei_en.csv"
LOCAL = 'backend = "local"\n'


def _record(origin: dt.date, dates: list[dt.date], *, stage: str = "dev", **changes: Any) -> ForecastRecord:
    points = [
        ForecastPoint(
            step=i, date=d, mean=31000.0, quantiles={"0.1": 30000.0, "0.5": 31000.0, "0.9": 32000.0}
        )
        for i, d in enumerate(dates, start=1)
    ]
    values: dict[str, Any] = {
        "origin": origin,
        "last_close": 31000.0,
        "calendar": "calendar_days",
        "quantiles": ["0.1", "0.5", "0.9"],
        "forecast": points,
        "random_walk": points,
        "random_walk_weight": 0.8,
        "mase_scale": 300.0,
        "job": "j",
        "data_sha256": "ab" * 32,
        "backend": "local",
        "workspace": Workspace(project="nikkei-deepar", stage=stage),
        "mode": "local",
        "source": "nikkei-deepar-dev",
    }
    values.update(changes)
    return ForecastRecord(**values)


# the fixture's last sessions: 2024-09-11 .. 2024-09-17 (the 16th a holiday)
SEPT = [dt.date(2024, 9, d) for d in (11, 12, 13, 17)]


@pytest.fixture
def history(hermetic_env: Path) -> LocalHistory:
    Path("nikkei-deepar.toml").write_text(LOCAL, encoding="utf-8")
    return LocalHistory(hermetic_env / "history.jsonl")


def test_nothing_kept_is_said_and_exits_0(history: LocalHistory, run_cli: Callable[..., Any]) -> None:
    result = run_cli("score")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == f"score: nothing to score: no forecasts kept in {history.where}"
    as_json = run_cli("score", "--json").json()
    assert (as_json["status"], as_json["exit_code"]) == ("ok", 0)
    assert as_json["data"]["horizons"] == [] and as_json["data"]["forecasts"]["kept"] == 0


def test_scores_against_a_price_file_and_reports_bad_entries_without_rewriting_them(
    history: LocalHistory, run_cli: Callable[..., Any]
) -> None:
    history.append(_record(SEPT[0], SEPT[1:3]))
    with Path(history.where).open("ab") as fh:
        fh.write(b'{"format_version": 1, "origin": "2024-09-12"\n')  # cut short
    history.append(_record(SEPT[1], SEPT[2:4]))
    before = Path(history.where).read_bytes()

    result = run_cli("score", "--input", str(PRICES), "--json")
    assert result.exit_code == 0
    data = result.json()["data"]
    problem = f"{history.where}:2: a corrupt or truncated history entry (not JSON: "
    assert data["skipped_entries"][0].startswith(problem)
    assert result.json()["warnings"] == data["skipped_entries"]
    assert data["forecasts"]["kept"] == 2
    assert [(h["step"], h["n"]) for h in data["horizons"]] == [(1, 2), (2, 2)]
    assert {"step", "n", "wql", "coverage80", "random_walk_wql"} <= set(data["horizons"][0])
    assert data["actuals"] == {"source": str(PRICES), "through": "2024-09-17"}
    assert Path(history.where).read_bytes() == before  # never rewritten

    human = run_cli("score", "--input", str(PRICES))
    assert "warning: " + problem in human.stderr
    assert "step" in human.stdout and "all" in human.stdout


def test_a_history_of_a_newer_version_is_refused_by_version(
    history: LocalHistory, run_cli: Callable[..., Any]
) -> None:
    history.append(_record(SEPT[0], SEPT[1:2]))
    newer = {**json.loads(_record(SEPT[1], SEPT[2:3]).to_line()), "format_version": FORMAT_VERSION + 1}
    with Path(history.where).open("ab") as fh:
        fh.write(json.dumps(newer).encode() + b"\n")
    result = run_cli("score", "--input", str(PRICES), "--json")
    assert result.exit_code == 11
    [error] = result.json()["errors"]
    assert error["code"] == "history-version" and "newer version of nikkei-deepar" in error["message"]


def test_without_prepared_data_or_input_it_says_what_to_run(
    history: LocalHistory, run_cli: Callable[..., Any]
) -> None:
    history.append(_record(SEPT[0], SEPT[1:2]))
    result = run_cli("score", "--json")
    assert result.exit_code == 5
    assert result.json()["errors"][0]["message"] == "no prepared data in the ledger"


def test_since_and_other_workspaces(history: LocalHistory, run_cli: Callable[..., Any]) -> None:
    history.append(_record(SEPT[0], SEPT[1:2]))
    history.append(_record(SEPT[1], SEPT[2:3]))
    history.append(_record(SEPT[1], SEPT[2:3], stage="prod"))  # another workspace's
    data = run_cli("score", "--input", str(PRICES), "--since", "2024-09-12", "--json").json()["data"]
    assert data["forecasts"]["kept"] == 1
    assert (data["forecasts"]["before_since"], data["forecasts"]["other_workspaces"]) == (1, 1)
    assert data["since"] == "2024-09-12"
    bad = run_cli("score", "--since", "last week", "--json")
    assert bad.exit_code == 2 and "not a date" in bad.json()["errors"][0]["message"]
    nothing = run_cli("score", "--input", str(PRICES), "--since", "2030-01-01")
    assert (
        nothing.exit_code == 0
        and "nothing to score" in nothing.stdout
        and "(2 before 2030-01-01" in nothing.stdout
    )


def test_waiting_forecasts_are_counted_not_guessed(
    history: LocalHistory, run_cli: Callable[..., Any]
) -> None:
    history.append(_record(SEPT[3], [dt.date(2024, 9, 18), dt.date(2024, 9, 19)]))
    result = run_cli("score", "--input", str(PRICES))
    assert result.exit_code == 0
    assert "0 scored at every step, 1 waiting for closes (counted, not guessed)" in result.stdout
    assert "nothing to score yet: no close after 2024-09-17 has come in" in result.stdout


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_plot_is_a_png_written_with_the_umasks_mode(
    history: LocalHistory, run_cli: Callable[..., Any], tmp_path: Path, umask: int
) -> None:
    history.append(_record(SEPT[0], SEPT[1:3]))
    history.append(_record(SEPT[1], SEPT[2:4]))
    target = tmp_path / "out" / "score.png"
    previous = os.umask(umask)
    try:
        result = run_cli("score", "--input", str(PRICES), "--plot", str(target))
    finally:
        os.umask(previous)
    assert result.exit_code == 0 and f"plot: {target}" in result.stdout
    assert target.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in target.parent.iterdir()] == ["score.png"]  # no temporary left behind


def test_status_shows_the_live_score_in_one_line(cli: Callable[..., Any], hermetic_env: Path) -> None:
    empty = cli("status", "--json").json()["data"]["score"]
    assert empty == {"line": "no forecasts kept yet (`predict` keeps each one; `score` judges them)"}
    # the seeded prepared data is the demo series (weekdays from 2023-01-04): score one of its days
    from sagemaker_script import demo_series

    series = demo_series()
    days = [d for d, v in zip(series.dates, series.target, strict=True) if v == v]
    LocalHistory(hermetic_env / "history.jsonl").append(_record(days[-3], days[-2:]))
    status = cli("status")
    [line] = [line for line in status.stdout.splitlines() if line.startswith("score:")]
    assert line.startswith("score:    1 forecasts scored (2 steps): wQL ")
    assert "vs the random walk's" in line and "80% coverage" in line
