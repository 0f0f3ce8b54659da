"""`backtest` through the CLI on a series prepared with the local backend: the baselines' scores equal
the pure functions' (which tests/data pins against hand-computed values), the seasonal naive where it
applies, table / JSON / plot, the usage errors, and one tiny DeepAR run (needs the [local] extra)."""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nikkei_deepar.data.backtest import evaluate
from nikkei_deepar.data.baselines import random_walk, seasonal_naive
from nikkei_deepar.engine import backtest as engine_backtest
from nikkei_deepar.engine.loader import BATCHES_ENV
from nikkei_deepar.output import ENVELOPE_KEYS

QUANTILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
TINY_DEEPAR = """
[training.hyperparameters]
context_length = 10
epochs = 1
num_cells = 30
num_layers = 1
num_eval_samples = 20
"""

Cli = Callable[..., Any]


def _prices(path: Path, *, days: int = 520) -> list[float]:
    """A seeded random walk of closes on weekdays from 2022-01-04 (no holidays: the reader needs none)."""
    rng = np.random.default_rng(21)
    closes = [float(round(c, 2)) for c in 27_000 * np.exp(np.cumsum(rng.normal(0, 0.012, days)))]
    day, lines = dt.date(2022, 1, 4), ["date,close"]
    for close in closes:
        while day.weekday() >= 5:
            day += dt.timedelta(days=1)
        lines.append(f"{day.year}/{day.month}/{day.day},{close}")
        day += dt.timedelta(days=1)
    path.write_text("\n".join(lines) + "\n")
    return closes


def _prepare(
    run_cli: Cli, tmp_path: Path, *, calendar: str = "trading_days", extra: str = "", data: str = ""
) -> list[float]:
    closes = _prices(tmp_path / "prices.csv")
    (tmp_path / "nikkei-deepar.toml").write_text(
        f'backend = "local"\n{extra}\n[data]\nsource = "prices.csv"\ncalendar = "{calendar}"\n{data}'
    )
    r = run_cli("prepare")
    assert r.exit_code == 0, r.stderr
    return closes


def _scores(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["model"]: m for m in doc["data"]["models"]}


def test_baselines_score_exactly_as_the_pure_functions(run_cli: Cli, tmp_path: Path) -> None:
    closes = _prepare(run_cli, tmp_path)
    r = run_cli("backtest", "--models", "random-walk,seasonal-naive", "--windows", "6", "--json")
    assert r.exit_code == 0, r.stderr
    doc = r.json()
    assert tuple(doc) == ENVELOPE_KEYS and doc["command"] == "backtest" and doc["status"] == "ok"
    data = doc["data"]
    assert data["horizon"] == 5 and data["windows"] == 6 and data["quantiles"] == QUANTILES
    assert data["prediction_length"] == 5 and data["random_walk_weight"] == 0.8  # the shipped blend
    assert data["series"]["calendar"] == "trading_days" and data["series"]["points"] == len(closes)
    assert data["deepar"] is None and data["skipped"] == {}
    scores = _scores(doc)
    assert list(scores) == ["random-walk", "seasonal-naive"]
    assert scores["seasonal-naive"]["label"] == "seasonal naive (5)"

    target = np.array(closes)
    expected = {
        "random-walk": evaluate(
            "rw",
            lambda h, k: random_walk(h, horizon=k, quantiles=QUANTILES),
            target,
            horizon=5,
            windows=6,
            quantiles=QUANTILES,
        ),
        "seasonal-naive": evaluate(
            "sn",
            lambda h, k: seasonal_naive(h, horizon=k, season=5, quantiles=QUANTILES),  # type: ignore[arg-type,return-value]
            target,
            horizon=5,
            windows=6,
            quantiles=QUANTILES,
        ),
    }
    for key, score in expected.items():
        got = scores[key]
        assert got["windows"] == 6
        assert got["mean_wql"] == pytest.approx(score.mean_wql, rel=1e-12)
        assert got["mase"] == pytest.approx(score.mase, rel=1e-12)
        assert got["rmse"] == pytest.approx(score.rmse, rel=1e-12)
        assert got["coverage80"] == pytest.approx(score.coverage80)
    assert scores["random-walk"]["wql_vs_random_walk"] == 1.0
    ratio = scores["seasonal-naive"]["mean_wql"] / scores["random-walk"]["mean_wql"]
    assert scores["seasonal-naive"]["wql_vs_random_walk"] == pytest.approx(ratio)
    # the first window starts 6 * 5 trading days before the end
    assert data["first_window"] < data["series"]["last_date"]


def test_the_human_table(run_cli: Cli, tmp_path: Path) -> None:
    _prepare(run_cli, tmp_path)
    r = run_cli("backtest", "--models", "random-walk,seasonal-naive", "-n", "4")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("backtest on ") and "the last 4 windows of 5 trading days" in lines[0]
    header = next(line for line in lines if line.startswith("model"))
    for column in ("windows", "mean wQL", "MASE", "RMSE", "80% coverage", "wQL vs RW"):
        assert column in header
    assert any(line.startswith("random walk ") and line.rstrip().endswith("1.00x") for line in lines)
    assert any(line.startswith("seasonal naive (5)") for line in lines)
    assert "backtest: random walk over 4 windows" in r.stderr  # progress on stderr only


def test_both_calendar_policies_score_the_same_sessions(run_cli: Cli, tmp_path: Path) -> None:
    # windows are counted in sessions: the baselines see the closes, whatever NaN the calendar adds
    by_policy = {}
    for calendar in ("trading_days", "calendar_days"):
        _prepare(run_cli, tmp_path, calendar=calendar)  # the second prepare is the latest data
        r = run_cli("backtest", "--models", "seasonal-naive,random-walk", "--json")
        assert r.exit_code == 0, r.stderr
        by_policy[calendar] = r.json()["data"]
    trading, calendar_days = by_policy["trading_days"], by_policy["calendar_days"]
    assert calendar_days["series"]["calendar"] == "calendar_days" and calendar_days["skipped"] == {}
    assert calendar_days["prediction_length"] == 17 and trading["prediction_length"] == 5
    assert calendar_days["first_window"] == trading["first_window"]
    assert [m["mean_wql"] for m in calendar_days["models"]] == [m["mean_wql"] for m in trading["models"]]


def test_usage_errors(run_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = run_cli("backtest", "--models", "random-walk")
    assert r.exit_code == 5 and "no prepared data" in r.stderr
    _prepare(run_cli, tmp_path)
    r = run_cli("backtest", "--models", "arima", "--json")
    assert r.exit_code == 2 and r.json()["errors"][0]["hint"].startswith(
        "choose from random-walk, seasonal-naive, deepar"
    )
    r = run_cli("backtest", "--models", "random-walk", "--windows", "0")
    assert r.exit_code == 2
    r = run_cli("backtest", "--models", "random-walk", "--windows", "200")
    assert r.exit_code == 3 and "use fewer windows" in r.stderr
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    r = run_cli("backtest", "--models", "random-walk", "--plot", "out.png")
    assert r.exit_code == 2 and "pip install 'nikkei-deepar[plot]'" in r.stderr
    monkeypatch.setitem(sys.modules, "gluonts", None)
    r = run_cli("backtest", "--json")
    assert r.exit_code == 2
    error = r.json()["errors"][0]
    assert "needs the [local] extra" in error["message"]
    assert "pip install 'nikkei-deepar[local]'" in error["hint"] and "--models random-walk" in error["hint"]


def test_the_plot(run_cli: Cli, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    _prepare(run_cli, tmp_path)
    r = run_cli("backtest", "--models", "random-walk,seasonal-naive", "--plot", "plots/bt.png", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["data"]["plot"] == "plots/bt.png"
    assert (tmp_path / "plots" / "bt.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_sagemaker_config_still_backtests_locally_without_aws(
    run_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _prepare(run_cli, tmp_path)
    (tmp_path / "nikkei-deepar.toml").write_text('backend = "sagemaker"\n[data]\nsource = "prices.csv"\n')
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: any AWS call fails
    r = run_cli("backtest", "--models", "random-walk", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["data"]["models"][0]["windows"] == 10


@pytest.mark.local
def test_a_tiny_deepar_backtest(run_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("gluonts")
    monkeypatch.setenv(BATCHES_ENV, "2")
    _prepare(run_cli, tmp_path, extra=TINY_DEEPAR + "[forecast]\nrandom_walk_weight = 0.0\n")
    r = run_cli("backtest", "--windows", "3", "--models", "deepar,random-walk", "--json")
    assert r.exit_code == 0, r.stderr
    data = r.json()["data"]
    scores = _scores(r.json())
    assert list(scores) == ["random-walk", "deepar"]
    deepar = scores["deepar"]
    assert deepar["label"] == "DeepAR (local)" and deepar["windows"] == 3
    assert all(math.isfinite(deepar[k]) for k in ("mean_wql", "mase", "rmse", "coverage80"))
    info = data["deepar"]
    assert info["retrain"] is False and info["trainings"] == 1 and info["epochs"] == 1
    assert info["batches_per_epoch"] == 2 and info["seed"] == 42
    assert "DeepAR training 1/1: epoch 1/1" in r.stderr
    assert info["cached"] == 0
    again = run_cli("backtest", "--windows", "3", "--models", "deepar", "--json")
    assert _scores(again.json())["deepar"]["mean_wql"] == deepar["mean_wql"]  # same data, config, seed
    # the model trained for the same data, hyperparameters and seed is reused, not trained again
    assert again.json()["data"]["deepar"]["cached"] == 1 and again.json()["data"]["deepar"]["trainings"] == 0

    retrained = run_cli("backtest", "--windows", "2", "--models", "deepar", "--retrain", "--json")
    assert retrained.exit_code == 0, retrained.stderr
    assert retrained.json()["data"]["deepar"]["trainings"] == 2  # new origins, new models
    assert retrained.json()["data"]["deepar"]["processes"] == 2  # trained two at a time
    again = run_cli("backtest", "--windows", "2", "--models", "deepar", "--retrain", "--json").json()["data"]
    assert (again["deepar"]["trainings"], again["deepar"]["cached"]) == (0, 2)  # --retrain again: no training
    assert again["models"][0]["mean_wql"] == retrained.json()["data"]["models"][0]["mean_wql"]
    # two processes train the same models as one process one after another
    shutil.rmtree(Path(data["deepar"]["cache"]))
    monkeypatch.setattr(engine_backtest, "WORKERS", 1)
    alone = run_cli("backtest", "--windows", "2", "--models", "deepar", "--retrain", "--json").json()["data"]
    assert (alone["deepar"]["trainings"], alone["deepar"]["processes"]) == (2, 1)
    pooled = retrained.json()["data"]["models"][0]
    first = alone["models"][0]
    assert (first["mean_wql"], first["mase"]) == (pooled["mean_wql"], pooled["mase"])
    assert (
        "retrained at each of the 2 origins"
        in run_cli("backtest", "--windows", "2", "--models", "deepar", "--retrain").stdout
    )


@pytest.mark.local
def test_a_tiny_deepar_backtest_on_calendar_days_blended_with_the_random_walk(
    run_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("gluonts")
    monkeypatch.setenv(BATCHES_ENV, "2")
    _prepare(
        run_cli,
        tmp_path,
        calendar="calendar_days",
        extra=TINY_DEEPAR + "[forecast]\nrandom_walk_weight = 0.5\n",
    )
    r = run_cli("backtest", "--windows", "3", "--models", "deepar,random-walk", "--json")
    assert r.exit_code == 0, r.stderr
    data = r.json()["data"]
    scores = _scores(r.json())
    assert list(scores) == ["random-walk", "deepar-alone", "deepar"]
    assert scores["deepar"]["label"] == "DeepAR + random walk (0.5/0.5)"
    assert data["deepar"]["prediction_length"] == 17 and data["random_walk_weight"] == 0.5
    assert all(scores[k]["windows"] == 3 for k in scores)
    # quantile averaging: the blend's loss is at most the average of the two losses (convexity)
    both = (scores["deepar-alone"]["mean_wql"] + scores["random-walk"]["mean_wql"]) / 2
    assert scores["deepar"]["mean_wql"] <= both + 1e-12


@pytest.mark.local
@pytest.mark.parametrize("calendar", ["calendar_days", "trading_days"])
def test_a_tiny_deepar_backtest_with_calendar_features(
    run_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, calendar: str
) -> None:
    """`[data] calendar_features`: the model is trained on them and every window's request carries them
    through its horizon (the local engine refuses a request without them)."""
    pytest.importorskip("gluonts")
    monkeypatch.setenv(BATCHES_ENV, "2")
    _prepare(run_cli, tmp_path, calendar=calendar, extra=TINY_DEEPAR, data="calendar_features = true\n")
    written = list(tmp_path.rglob("train/train.json"))  # what `prepare` wrote for `train` (and stored)
    assert written
    for train_file in written:
        record = json.loads(train_file.read_text())
        assert [len(row) for row in record["dynamic_feat"]] == [len(record["target"])] * 3
    sent: list[dict[str, Any]] = []
    from nikkei_deepar.engine import serving

    real_predict = serving.predict

    def spy(**kwargs: Any) -> Any:
        sent.append(kwargs["request"])
        return real_predict(**kwargs)

    monkeypatch.setattr(serving, "predict", spy)
    r = run_cli("backtest", "--windows", "2", "--models", "deepar", "--json")
    assert r.exit_code == 0, r.stderr
    assert all(math.isfinite(s["mean_wql"]) for s in _scores(r.json()).values())
    h = r.json()["data"]["deepar"]["prediction_length"]
    assert len(sent) == 2
    for request in sent:
        instance = request["instances"][0]
        assert len(instance["dynamic_feat"]) == 3
        assert all(len(row) == len(instance["target"]) + h for row in instance["dynamic_feat"])


def test_help_says_deepar_runs_locally(run_cli: Cli) -> None:
    r = run_cli("backtest", "--help")
    assert r.exit_code == 0
    text = " ".join(r.stdout.split())
    assert "always runs with the local engine" in text and "would cost money" in text
    for option in ("--windows", "--retrain", "--no-retrain", "--models", "--plot", "--json"):
        assert option in text


def test_json_is_one_document(run_cli: Cli, tmp_path: Path) -> None:
    _prepare(run_cli, tmp_path)
    r = run_cli("backtest", "--models", "random-walk", "--json")
    json.loads(r.stdout)


@pytest.mark.local
def test_a_tiny_deepar_backtest_on_log_returns_scores_prices(
    run_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`[data] target = "log_return"` (the default): the model trains on and is sent 100 * log returns,
    asks for samples, and is scored on the price paths rebuilt from them; a price model of the same
    series is another model (another cache key), trained afresh."""
    pytest.importorskip("gluonts")
    monkeypatch.setenv(BATCHES_ENV, "2")
    closes = _prepare(
        run_cli,
        tmp_path,
        calendar="calendar_days",
        extra=TINY_DEEPAR + "[forecast]\nrandom_walk_weight = 0.0\n",
        data='target = "log_return"\n',
    )
    from nikkei_deepar.engine import gluon as local_engine
    from nikkei_deepar.engine import serving

    sent: list[dict[str, Any]] = []
    trained: list[bytes] = []
    real_predict, real_train = serving.predict, local_engine.train

    def spy_predict(**kwargs: Any) -> Any:
        sent.append(kwargs["request"])
        return real_predict(**kwargs)

    def spy_train(**kwargs: Any) -> Any:
        trained.append(kwargs["train_jsonl"])
        return real_train(**kwargs)

    monkeypatch.setattr(serving, "predict", spy_predict)
    monkeypatch.setattr(local_engine, "train", spy_train)
    r = run_cli("backtest", "--windows", "2", "--models", "deepar,random-walk", "--json")
    assert r.exit_code == 0, r.stderr
    scores = _scores(r.json())
    deepar, walk = scores["deepar"], scores["random-walk"]
    assert deepar["windows"] == 2 and all(math.isfinite(deepar[k]) for k in ("mean_wql", "mase", "rmse"))
    # scored on prices: a loss of the order of the random walk's, not of a level forecast from returns
    assert deepar["mean_wql"] < 10 * walk["mean_wql"]
    assert len(sent) == 2 and len(trained) == 1
    for request in sent:
        assert "samples" in request["configuration"]["output_types"]
        values = [v for v in request["instances"][0]["target"] if v != "NaN"]
        assert values and max(abs(v) for v in values) < 20  # percent returns, not ~27000 levels
    record = json.loads(trained[0])
    assert record["target"][0] == "NaN" and max(abs(v) for v in record["target"] if v != "NaN") < 20
    assert len([v for v in record["target"] if v != "NaN"]) < len(closes)

    (tmp_path / "nikkei-deepar.toml").write_text(
        (tmp_path / "nikkei-deepar.toml").read_text().replace('target = "log_return"', 'target = "price"')
    )
    price = run_cli("backtest", "--windows", "2", "--models", "deepar", "--json")
    assert price.exit_code == 0, price.stderr
    info = price.json()["data"]["deepar"]
    assert (info["trainings"], info["cached"]) == (1, 0)  # the log-return model is not reused
    assert max(abs(v) for v in json.loads(trained[-1])["target"] if v != "NaN") > 1000
