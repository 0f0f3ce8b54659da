"""The local backend on this machine: wall time of `train` with the example config (20 epochs), of
`predict`, peak memory of each, and the `backtest` table, for each price file in ../shared/data/.

Runs the installed executable, as a user would, in a temporary folder per file (backend = "local",
everything else from config.example.toml), with no AWS at all (AWS_ENDPOINT_URL points nowhere).
Peak memory is each command's own maximum resident set size (`os.wait4`'s rusage of that child).
Prints markdown tables to paste into the README.

Run: .venv/bin/python bench/local_train.py [--windows 10] [--data ../shared/data]
     .venv/bin/python bench/local_train.py --smoke   # data/nikkei.csv, 1 epoch of 1 batch, 1 window,
                                                     # the backtest's random walk only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXE = str(Path(sys.executable).parent / "nikkei-deepar")
FILES = ("nikkei.csv", "nikkei-2.csv")


def run(args: list[str], *, cwd: Path, env: dict[str, str]) -> tuple[dict[str, Any], float, float]:
    """Run one command with --json: (its envelope, wall seconds, peak RSS in MB)."""
    started = time.perf_counter()
    with (cwd / "stderr.log").open("a") as err:
        proc = subprocess.Popen([EXE, *args, "--json"], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=err)
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args)} exited {proc.returncode}; see {cwd / 'stderr.log'}")
    return json.loads(out), wall, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def model_predict_ms(model_tar: str, series_json: Path, seed: int) -> float:
    """The engine's predict alone, as the local endpoint calls it (`engine.serving`: the torch-free
    weights on numpy; archive read each call), modules already imported: best of 5."""
    from nikkei_deepar.data.inference import build_request
    from nikkei_deepar.data.series_io import load_series
    from nikkei_deepar.engine import serving

    series = load_series(series_json.read_bytes(), where=str(series_json))
    request = build_request(series, quantiles=[0.1, 0.5, 0.9], num_samples=100)
    serving.predict(model_tar=Path(model_tar), request=request, seed=seed)  # warm-up: imports
    times = []
    for _ in range(5):
        started = time.perf_counter()
        serving.predict(model_tar=Path(model_tar), request=request, seed=seed)
        times.append(time.perf_counter() - started)
    return min(times) * 1000


def bench_file(path: Path, *, windows: int, smoke: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nikkei-deepar-bench-") as tmp:
        work = Path(tmp)
        config = (ROOT / "config.example.toml").read_text()
        config = config.replace('backend = "sagemaker"', 'backend = "local"', 1)
        config = config.replace(
            'source = "data/nikkei_stock_average_daily_jp.csv"', f'source = "{path.resolve()}"', 1
        )
        if smoke:
            config = re.sub(r"(?m)^epochs = \d+", "epochs = 1", config, count=1)
        (work / "nikkei-deepar.toml").write_text(config)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(work),
            "NIKKEI_DEEPAR_HOME": str(work / "home"),
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        if smoke:
            env["NIKKEI_DEEPAR_LOCAL_BATCHES"] = "1"
        prepared, _, _ = run(["prepare"], cwd=work, env=env)
        trained, train_wall, train_rss = run(["train"], cwd=work, env=env)
        waited, _, _ = run(["wait"], cwd=work, env=env)
        run(["deploy"], cwd=work, env=env)
        predicted, predict_wall, predict_rss = run(["predict"], cwd=work, env=env)
        backtest, backtest_wall, backtest_rss = run(
            # smoke: the baselines only, so no second torch import (bench/backtest_defaults.py's smoke
            # run covers DeepAR's backtest)
            ["backtest", "--windows", str(windows), *(["--models", "random-walk"] if smoke else [])],
            cwd=work,
            env=env,
        )
        job = waited["data"]
        state = json.loads(
            (
                work
                / "home"
                / "workspaces"
                / "nikkei-deepar"
                / "dev"
                / "local"
                / "jobs"
                / job["job"]
                / "state.json"
            ).read_text()
        )
        series_json = Path(prepared["data"]["local_dir"]) / "series.json"
        return {
            "file": path.name,
            "rows": prepared["data"]["read"]["rows"],
            "first": prepared["data"]["read"]["first"],
            "last": prepared["data"]["read"]["last"],
            "calendar": prepared["data"]["calendar"],
            "train_wall": train_wall,
            "training_seconds": state["engine_seconds"],
            "train_rss": train_rss,
            "metrics": job["metrics"],
            "predict_wall": predict_wall,
            "predict_rss": predict_rss,
            "predict_model_ms": model_predict_ms(job["model_artifact"], series_json, seed=state["seed"]),
            "points": len(predicted["data"]["forecast"]),
            "backtest": backtest["data"],
            "backtest_wall": backtest_wall,
            "backtest_rss": backtest_rss,
            "job": trained["data"]["job"],
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--windows", type=int, default=10)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument(
        "--smoke", action="store_true", help="data/nikkei.csv, 1 epoch of 1 batch, 1 window (does it run?)"
    )
    args = parser.parse_args()
    paths = [ROOT / "data" / "nikkei.csv"] if args.smoke else [args.data / name for name in FILES]
    results = []
    for path in paths:
        if not path.is_file():
            print(f"skipping {path}: not found", file=sys.stderr)
            continue
        print(f"benchmarking {path} ...", file=sys.stderr)
        results.append(bench_file(path, windows=1 if args.smoke else args.windows, smoke=args.smoke))
    if not results:
        sys.exit("no price file found")

    from importlib.metadata import version

    print(
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, torch {version('torch')} "
        "(CPU), one torch thread; example config (20 epochs x 50 batches, 2 layers x 40 cells, "
        "context 20, prediction 7, calendar_days), seed 42.\n"
    )
    print(
        "| file | closes | `train` wall | of which training | peak memory | `predict` wall | "
        "model predict | peak memory | test:mean_wQuantileLoss |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['file']} | {r['rows']} ({r['first']} .. {r['last']}) | {r['train_wall']:.1f} s | "
            f"{r['training_seconds']:.1f} s | {r['train_rss']:.0f} MB | {r['predict_wall']:.1f} s | "
            f"{r['predict_model_ms']:.0f} ms | {r['predict_rss']:.0f} MB | "
            f"{r['metrics'].get('test:mean_wQuantileLoss', float('nan')):.4f} |"
        )
    print(
        "\n`train` wall time includes Python start-up and importing GluonTS/torch (5-10 s); *of which "
        "training* is the engine's time (training and scoring the test channel). `predict` imports no "
        "torch (the torch-free weights, on numpy); *model predict* is the forecast alone, modules already "
        "imported.\n"
    )
    for r in results:
        b = r["backtest"]
        print(
            f"Backtest, {r['file']}: the last {b['windows']} windows of {b['horizon']} steps "
            f"({b['first_window']} .. {b['series']['last_date']}), DeepAR trained once before the first "
            f"window ({r['backtest_wall']:.0f} s, peak {r['backtest_rss']:.0f} MB):\n"
        )
        print("| model | windows | mean wQL | MASE | RMSE | 80% coverage | wQL vs random walk |")
        print("|---|---|---|---|---|---|---|")
        for m in b["models"]:
            relative = m["wql_vs_random_walk"]
            print(
                f"| {m['label']} | {m['windows']} | {m['mean_wql']:.4f} | {m['mase']:.2f} | "
                f"{m['rmse']:,.0f} | {m['coverage80']:.2f} | "
                f"{'' if relative is None else f'{relative:.2f}x'} |"
            )
        for key, why in b["skipped"].items():
            print(f"\n({key}: not scored: {why})")
        print()


if __name__ == "__main__":
    main()
