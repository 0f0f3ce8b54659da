"""Done means: replay N trading days (the price file cut at each day, prepare, predict with FakeBackend's
answers), then check `score` against an independent computation: wQL, 80% coverage and its Wilson
interval, MASE, the random walk's and the skill ratio, all worked out here by hand from the history file
(read as raw JSON) and the price file (read with the csv module), not by the code under test."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import math
from pathlib import Path
from typing import Any

import pytest

from fake_backend import FakeBackend, fake_context
from ledger_edit import edited
from nikkei_deepar.backends.base import TrainingState
from nikkei_deepar.data.horizon import prediction_length_of
from nikkei_deepar.ledger import Job
from nikkei_deepar.steps import deploy, predict, prepare, score
from sagemaker_script import FakeClock, deepar_response, settings_for

PRICES = Path(__file__).resolve().parents[1] / "fixtures" / "prices" / "long" / "nikkei_en.csv"
JOB = "nikkei-deepar-20240801-000000-abcd"
REPLAYED = 15  # trading days replayed: the last five are still waiting for some of their closes
LEVELS = ("0.1", "0.5", "0.9")


def _rows() -> tuple[str, list[list[str]]]:
    """The fixture's header and its dated rows (the copyright footer left out)."""
    lines = PRICES.read_bytes().decode("utf-8", errors="replace").splitlines()
    header, body = lines[0], [row for row in csv.reader(lines[1:]) if row and row[0][:4].isdigit()]
    return header, body


def _closes() -> dict[dt.date, float]:
    _, body = _rows()
    return {dt.date.fromisoformat(row[0].replace("/", "-")): float(row[1]) for row in body}


def _cut(folder: Path, day: dt.date) -> Path:
    """The price file as it stood on `day`: the header and every row up to that day."""
    header, body = _rows()
    path = folder / f"prices-{day}.csv"
    kept = [row for row in body if dt.date.fromisoformat(row[0].replace("/", "-")) <= day]
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(header + "\n")
        csv.writer(fh, lineterminator="\n").writerows(kept)
    return path


def _evening(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(9, 30), tzinfo=dt.UTC)  # 18:30 in Tokyo


@pytest.fixture
def replayed(hermetic_env: Path, clock: FakeClock, tmp_path: Path) -> tuple[Any, FakeBackend]:
    fake = FakeBackend()
    ctx = fake_context(hermetic_env, fake, settings_for(data={"target": "price"}), clock=clock)
    days = sorted(_closes())[-REPLAYED:]
    for i, day in enumerate(days):
        ctx.now = lambda day=day: _evening(day)
        prepare.run(ctx, input_file=_cut(tmp_path, day), dry_run=False)
        if i == 0:  # deployed once, as a weekly retrain would have; every day forecasts from new closes
            with edited(ctx.state) as ledger:
                ledger.upsert_job(Job(name=JOB, data_sha256="ab" * 32, hyperparameters={}, config_hash="h"))
            fake.queue_training(JOB, TrainingState(name=JOB, status="Completed", model_artifact="s3://m"))
            deploy.run(ctx, job=None, timeout=None)
        runs = 2 if i == 3 else 1  # one day's forecast is made twice: the later one counts
        for _ in range(runs):
            level = _closes()[day] * (1.0 + 0.002 * ((i % 5) - 2))  # DeepAR's answer moves about
            fake.queue_answer(deepar_response(prediction_length_of(ctx.settings), level=level).encode())
            predict.run(ctx, fmt="table", output=None, plot=None, batch=False, timeout=None)
            clock.sleep(1)
    ctx.now = lambda: _evening(days[-1])
    prepare.run(ctx, input_file=PRICES, dry_run=False)  # today's data: every close so far
    return ctx, fake


def _by_hand(records: list[dict[str, Any]], closes: dict[dt.date, float], step: int | None) -> dict[str, Any]:
    """wQL, 80% coverage (Wilson 95%), MASE and the random walk's, from first principles."""
    pairs = []
    for record in records:
        origin = dt.date.fromisoformat(record["origin"])
        history = [closes[d] for d in sorted(closes) if d <= origin]
        scale = sum(abs(b - a) for a, b in itertools.pairwise(history)) / (len(history) - 1)
        for model, walk in zip(record["forecast"], record["random_walk"], strict=True):
            day = dt.date.fromisoformat(model["date"])
            if (step is None or model["step"] == step) and day in closes:
                pairs.append((closes[day], model, walk, scale))

    def wql(which: int) -> float:
        total = sum(abs(y) for y, *_ in pairs)
        losses = []
        for level in LEVELS:
            tau = float(level)
            loss = 0.0
            for pair in pairs:
                y, q = pair[0], pair[which]["quantiles"][level]
                loss += 2 * abs((y - q) * ((1.0 if y <= q else 0.0) - tau))
            losses.append(loss / total)
        return sum(losses) / len(losses)

    def coverage(which: int) -> tuple[float, float, float]:
        n = len(pairs)
        hits = sum(1 for p in pairs if p[which]["quantiles"]["0.1"] <= p[0] <= p[which]["quantiles"]["0.9"])
        share, z = hits / n, 1.959963984540054
        centre = (share + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
        return share, centre - half, centre + half

    def mase(which: int) -> float:
        return sum(abs(p[0] - p[which]["mean"]) / p[3] for p in pairs) / len(pairs)

    cover, low, high = coverage(1)
    return {
        "n": len(pairs),
        "wql": wql(1),
        "random_walk_wql": wql(2),
        "coverage80": cover,
        "coverage80_interval": [low, high],
        "random_walk_coverage80": coverage(2)[0],
        "mase": mase(1),
        "random_walk_mase": mase(2),
        "skill_ratio": wql(1) / wql(2),
    }


def test_score_agrees_with_an_independent_computation_over_replayed_days(replayed: Any) -> None:
    ctx, fake = replayed
    closes = _closes()
    raw = [json.loads(line) for line in Path(ctx.history.where).read_text().splitlines()]
    assert len(raw) == REPLAYED + 1  # one origin forecast twice: both kept
    latest: dict[str, dict[str, Any]] = {}
    for record in raw:  # the last issued per origin
        latest[record["origin"]] = record
    records = list(latest.values())
    assert len(records) == REPLAYED

    result = score.run(ctx, input_file=None, since=None, plot=None)
    data = result.to_data()
    assert data["forecasts"]["kept"] == REPLAYED + 1
    assert data["forecasts"]["superseded"] == 1
    # the last five origins wait for closes after the last one: the last waits for all five
    assert (data["forecasts"]["complete"], data["forecasts"]["partial"], data["forecasts"]["waiting"]) == (
        REPLAYED - 5,
        4,
        1,
    )
    assert data["actuals"]["through"] == max(closes).isoformat()
    assert data["quantiles"] == list(LEVELS)
    assert [h["step"] for h in data["horizons"]] == [1, 2, 3, 4, 5]
    for horizon in data["horizons"]:
        expected = _by_hand(records, closes, horizon["step"])
        assert horizon["n"] == expected["n"] == REPLAYED - horizon["step"]
        assert horizon["waiting"] == horizon["step"]
        for key, value in expected.items():
            assert horizon[key] == pytest.approx(value, rel=1e-9), (horizon["step"], key)
    overall = _by_hand(records, closes, None)
    for key, value in overall.items():
        assert data["overall"][key] == pytest.approx(value, rel=1e-9), key
    assert "invoke" in fake.verbs()

    # the same closes read from the price file (--input) give the same scores
    again = score.run(ctx, input_file=PRICES, since=None, plot=None).to_data()
    assert again["horizons"] == data["horizons"]

    # --since: only origins on or after the date
    since = sorted(latest)[5]
    later = score.run(ctx, input_file=None, since=since, plot=None).to_data()
    assert later["forecasts"]["before_since"] == 5 + 1  # the superseded one is before too
    assert later["horizons"][0]["n"] == REPLAYED - 5 - 1


def test_the_human_output_names_what_was_scored_and_the_table_has_a_row_per_step(replayed: Any) -> None:
    ctx, _ = replayed
    result = score.run(ctx, input_file=None, since=None, plot=None)
    lines = result.to_lines()
    assert lines[0].startswith(f"score: {REPLAYED} forecasts from {ctx.history.where}, origins ")
    assert "10 scored at every step, 4 in part, 1 waiting for closes (counted, not guessed)" in lines[1]
    assert "1 earlier forecasts for the same origin left out" in lines[1]
    assert "the last forecast was issued 2024-09-17 09:30 UTC" in lines[2]
    assert any("Wilson 95% interval" in line and "q0.1, q0.5, q0.9" in line for line in lines)
    table = result.to_table()
    assert table is not None and [row[0] for row in table.rows] == ["1", "2", "3", "4", "5", "all"]
