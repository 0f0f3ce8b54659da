"""The local backend end to end, as a user's shell script would run it: the installed executable through
provision -> prepare -> train -> wait -> deploy -> predict -> (train -> wait -> deploy -> predict) ->
backtest -> teardown -> teardown --all, with `backend = "local"`, a tiny training, and no AWS at all: no
credentials, and AWS_ENDPOINT_URL pointing at a port where nothing listens, so any AWS call would fail
the step.

Determinism: two trainings on the same data, config and seed, each deployed and asked once, give the
same forecast document.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from e2e_shell import run_app

EXE = str(Path(sys.executable).parent / "nikkei-deepar")

pytestmark = [pytest.mark.e2e, pytest.mark.local]

CONFIG = """\
backend = "local"

[data]
source = "prices.csv"
calendar = "trading_days"

[training]
seed = 7

[training.hyperparameters]
context_length = 10
epochs = 1
num_cells = 30
num_layers = 1
num_eval_samples = 20

[endpoint]
name = "nikkei-local"

[predict]
num_samples = 20
"""


def WORKSPACE(tmp_path: Path) -> Path:
    """The default workspace's folder in the test's home (project nikkei-deepar, stage dev)."""
    return tmp_path / "home" / "workspaces" / "nikkei-deepar" / "dev"


def _prices(path: Path, days: int = 420) -> None:
    rng = np.random.default_rng(5)
    closes = 28_000 * np.exp(np.cumsum(rng.normal(0, 0.011, days)))
    day, lines = dt.date(2023, 1, 4), ["date,close"]
    for close in closes:
        while day.weekday() >= 5:
            day += dt.timedelta(days=1)
        lines.append(f"{day.year}/{day.month}/{day.day},{close:.2f}")
        day += dt.timedelta(days=1)
    path.write_text("\n".join(lines) + "\n")


def _env(tmp_path: Path) -> dict[str, str]:
    """A cron-like environment: no AWS credentials or config, and an AWS endpoint nobody answers."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "NIKKEI_DEEPAR_HOME": str(tmp_path / "home"),
        "NIKKEI_DEEPAR_LOCAL_BATCHES": "2",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def _run(tmp_path: Path, *args: str, code: int = 0, in_process: bool = False) -> dict[str, Any]:
    """The command's JSON document; through the installed executable, or `in_process` (`run_app`: the
    same app, environment and folder in this process, so torch is imported once per test process)."""
    if in_process:
        r = run_app([*args, "--json"], env=_env(tmp_path), cwd=tmp_path)
    else:
        argv, env = [EXE, *args, "--json"], _env(tmp_path)
        r = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert r.returncode == code, f"{args}: exit {r.returncode}\n{r.stderr}"
    doc: dict[str, Any] = json.loads(r.stdout)
    assert doc["exit_code"] == code and doc["command"] == args[0]
    return doc


def test_the_whole_chain_offline_and_deterministic(tmp_path: Path) -> None:
    pytest.importorskip("gluonts")
    _prices(tmp_path / "prices.csv")
    (tmp_path / "nikkei-deepar.toml").write_text(CONFIG)
    store = WORKSPACE(tmp_path) / "local"

    provisioned = _run(tmp_path, "provision")["data"]
    assert provisioned["store"] == str(store) and provisioned["changed"] is True and store.is_dir()
    assert _run(tmp_path, "provision")["data"]["changed"] is False

    prepared = _run(tmp_path, "prepare")["data"]
    assert prepared["dry_run"] is False and len(prepared["sha256"]) == 64

    forecasts = []
    jobs = []
    for round_ in range(2):
        job = _run(tmp_path, "train")["data"]["job"]
        jobs.append(job)
        waited = _run(tmp_path, "wait")["data"]
        assert waited["job"] == job and waited["status"] == "Completed"
        assert {"test:RMSE", "test:mean_wQuantileLoss"} <= set(waited["metrics"])
        assert waited["model_artifact"] == str(store / "jobs" / job / "model.tar.gz")
        deployed = _run(tmp_path, "deploy")["data"]
        # a local "endpoint" bills nothing: no billing warning, and no pretending to run on an instance
        assert "bills" not in deployed["note"] and "on this machine" in deployed["note"]
        assert deployed["status"] == "InService" and deployed["job"] == job
        assert deployed["action"] == ("created" if round_ == 0 else "updated")
        predicted = _run(tmp_path, "predict")["data"]
        assert predicted["job"] == job and predicted["prediction_length"] == 5  # trading_days: 5 sessions
        assert [p["step"] for p in predicted["forecast"]] == [1, 2, 3, 4, 5]
        assert predicted["quantiles"] == ["0.1", "0.5", "0.9"]
        forecasts.append(predicted["forecast"])
    assert jobs[0] != jobs[1]
    assert forecasts[0] == forecasts[1]  # same data, config and seed: the same forecast, to the bit
    first = forecasts[0][0]
    assert first["quantiles"]["0.1"] <= first["quantiles"]["0.5"] <= first["quantiles"]["0.9"]

    backtest = _run(tmp_path, "backtest", "--windows", "2")["data"]
    # the shipped forecast mixes in the random walk ([forecast] random_walk_weight 0.8): DeepAR alone too
    assert [m["model"] for m in backtest["models"]] == [
        "random-walk",
        "seasonal-naive",
        "deepar-alone",
        "deepar",
    ]
    assert backtest["deepar"]["seed"] == 7 and backtest["deepar"]["trainings"] == 1
    # predict, and a backtest whose model is cached, run DeepAR without importing torch at all
    assert _heavy_imports(tmp_path, "predict") == set()
    assert _heavy_imports(tmp_path, "backtest", "--windows", "2") == set()

    # default: the hosting records go; the store stays, with the trained models' archives
    teardown = _run(tmp_path, "teardown", "--yes")["data"]
    kinds = {(i["kind"], i["action"]) for i in teardown["items"]}
    assert {("endpoint", "delete"), ("endpoint-config", "delete"), ("model", "delete")} <= kinds
    assert ("local-dir", "keep") in kinds
    assert {kind for kind, action in kinds if action == "leave"} == set()
    assert not (store / "endpoints" / "nikkei-local.json").exists()
    assert all((store / "jobs" / job / "model.tar.gz").is_file() for job in jobs)

    # --all: the store provision created goes, everything in it
    everything = _run(tmp_path, "teardown", "--all", "--yes")["data"]
    assert everything["deleted"] == [f"local-dir {store}"]
    assert not store.exists()
    again = _run(tmp_path, "teardown", "--all", "--yes")["data"]
    assert again["deleted"] == [] and again["left_alone"] == []


def _heavy_imports(tmp_path: Path, *args: str) -> set[str]:
    """Which of torch, lightning, gluonts the command imported (Python's own import log, -X importtime)."""
    env = {**_env(tmp_path), "PYTHONPROFILEIMPORTTIME": "1"}
    r = subprocess.run([EXE, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-3000:]
    imported = {
        line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")
    }
    return {name.split(".")[0] for name in imported} & {"torch", "lightning", "gluonts"}


RETURNS_CONFIG = CONFIG.replace(
    'calendar = "trading_days"', 'calendar = "calendar_days"\ntarget = "log_return"'
).replace(
    '[endpoint]\nname = "nikkei-local"',
    '[endpoint]\nname = "nikkei-local"\n\n[forecast]\nrandom_walk_weight = 0.0',
)


def _closes(tmp_path: Path) -> list[float]:
    return [float(line.split(",")[1]) for line in (tmp_path / "prices.csv").read_text().splitlines()[1:]]


def test_a_log_return_model_forecasts_prices_and_keeps_its_target(tmp_path: Path) -> None:
    """`[data] target = "log_return"` on calendar days, DeepAR alone: the model trains on returns, the
    forecast (endpoint and batch) is in prices around the last close, and the model keeps its target
    when the config changes: predict still sends it returns, train refuses the old data."""
    pytest.importorskip("gluonts")
    _prices(tmp_path / "prices.csv")
    config = tmp_path / "nikkei-deepar.toml"
    config.write_text(RETURNS_CONFIG)
    last = _closes(tmp_path)[-1]
    _run(tmp_path, "provision", in_process=True)
    prepared = _run(tmp_path, "prepare", in_process=True)["data"]
    train_file = WORKSPACE(tmp_path) / "data" / prepared["sha256"][:16] / "train" / "train.json"
    record = json.loads(train_file.read_text())
    assert record["target"][0] == "NaN" and max(abs(v) for v in record["target"] if v != "NaN") < 20
    job = _run(tmp_path, "train", in_process=True)["data"]["job"]
    assert _run(tmp_path, "wait", in_process=True)["data"]["status"] == "Completed"
    _run(tmp_path, "deploy", in_process=True)

    def check(forecast: list[dict[str, Any]]) -> None:
        assert [p["step"] for p in forecast] == [1, 2, 3, 4, 5]
        assert all(dt.date.fromisoformat(p["date"]).weekday() < 5 for p in forecast)
        for p in forecast:
            q = p["quantiles"]
            assert q["0.1"] <= q["0.5"] <= q["0.9"]
            # prices near the last close (an untrained model on returns of ~1%/day: well within 25%)
            assert 0.75 * last < q["0.1"] and q["0.9"] < 1.25 * last
            assert 0.75 * last < p["mean"] < 1.25 * last

    predicted = _run(tmp_path, "predict", in_process=True)["data"]
    assert predicted["job"] == job and predicted["last_close"] == pytest.approx(last)
    check(predicted["forecast"])
    batch = _run(tmp_path, "predict", "--batch", in_process=True)["data"]
    assert batch["mode"] == "batch"
    check(batch["forecast"])

    # the config now says prices: the deployed model still gets returns (its recorded target)...
    config.write_text(RETURNS_CONFIG.replace('target = "log_return"', 'target = "price"'))
    again = _run(tmp_path, "predict", in_process=True)["data"]
    assert again["job"] == job
    assert again["forecast"] == predicted["forecast"]  # same model, same request, same seed
    # ...and train refuses the data prepared for returns, with the usage exit code
    [error] = _run(tmp_path, "train", code=2, in_process=True)["errors"]
    assert 'holds log returns, but the config says [data] target = "price"' in error["message"]
    assert "nikkei-deepar prepare" in error["hint"]

    # the served archive as the tool wrote it before torch-free weights: GluonTS answers, with a warning
    artifact = WORKSPACE(tmp_path) / "local" / "jobs" / job / "model.tar.gz"
    original = artifact.read_bytes()
    _rewrite_archive(artifact, older=True)
    older = _run(tmp_path, "predict", in_process=True)
    assert older["data"]["job"] == job and len(older["data"]["forecast"]) == 5
    [warning] = [w for w in older["warnings"] if "torch-free" in w]
    assert "through GluonTS" in warning
    # its torch-free weights damaged: one line, the endpoint's model error (exit 4), no traceback
    artifact.write_bytes(original)
    _rewrite_archive(artifact, older=False)
    r = run_app(["predict"], env=_env(tmp_path), cwd=tmp_path)
    assert r.returncode == 4, r.stderr
    assert "torch-free weights cannot be used" in r.stderr and "Traceback" not in r.stderr


def _rewrite_archive(artifact: Path, *, older: bool) -> None:
    """Rewrite a model archive with the tool's own writer: as before torch-free weights (`older`), or
    with its weights truncated (a consistent archive whose weights cannot load)."""
    from nikkei_deepar.engine.archive import read_archive, write_archive
    from nikkei_deepar.engine.numpy_deepar import MANIFEST, WEIGHTS

    marker, files = read_archive(artifact)
    folder = artifact.parent / "rewritten"
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    for name, data in files.items():
        if name == "nikkei-deepar.json" or (older and name in (MANIFEST, WEIGHTS)):
            continue
        (folder / name).write_bytes(data[: len(data) // 2] if name == WEIGHTS else data)
    drop = {"format", "format_version", "files"} | (
        {"inference", "inference_why", "engine"} if older else set()
    )
    write_archive(folder, artifact.parent, metadata={k: v for k, v in marker.items() if k not in drop})


def test_daily_forecasts_are_kept_and_scored_offline(tmp_path: Path) -> None:
    """A daily job replayed on the local backend (the price file growing by one session a day, prepare,
    predict), then `score` through the executable: each forecast kept with mode "local", the last one
    waiting for its closes, the picture written."""
    pytest.importorskip("gluonts")
    _prices(tmp_path / "all.csv")
    lines = (tmp_path / "all.csv").read_text().splitlines()
    (tmp_path / "nikkei-deepar.toml").write_text(CONFIG)
    days = 4

    def download(rows: int) -> None:  # the day's file: the header and the first `rows` closes
        (tmp_path / "prices.csv").write_text("\n".join(lines[: rows + 1]) + "\n")

    download(len(lines) - 1 - days)
    _run(tmp_path, "provision", in_process=True)
    _run(tmp_path, "prepare", in_process=True)
    _run(tmp_path, "train", "--wait", in_process=True)
    _run(tmp_path, "deploy", in_process=True)
    kept = []
    for rows in range(len(lines) - days, len(lines)):
        download(rows)
        _run(tmp_path, "prepare", in_process=True)
        forecast = _run(tmp_path, "predict", in_process=True)
        assert forecast["data"]["mode"] == "local" and forecast["warnings"][0].startswith("stale data: ")
        kept.append(forecast["data"]["forecast_id"])

    history = WORKSPACE(tmp_path) / "history.jsonl"
    records = [json.loads(line) for line in history.read_text().splitlines()]
    assert [r["id"] for r in records] == kept
    assert oct(history.stat().st_mode & 0o777) == "0o600"
    scored = _run(tmp_path, "score", "--plot", "score.png", in_process=True)["data"]
    assert scored["forecasts"]["kept"] == days and scored["forecasts"]["waiting"] == 1
    # every weekday has a close here: a step is scored when its session is on or before the last one
    last = dt.date(*map(int, lines[-1].split(",")[0].split("/")))
    expected = [sum(1 for r in records if r["forecast"][k]["date"] <= last.isoformat()) for k in range(5)]
    assert [(h["step"], h["n"]) for h in scored["horizons"]] == list(enumerate(expected, start=1))
    assert expected[0] == days - 1 and expected[-1] == 0
    first = scored["horizons"][0]
    assert first["wql"] > 0 and first["random_walk_wql"] > 0 and 0 <= first["coverage80"] <= 1
    assert (tmp_path / "score.png").read_bytes()[:4] == b"\x89PNG"
