"""Experiments behind the shipped DeepAR defaults: one lever at a time, scored as `backtest` scores.

For each price file, variant and seed: DeepAR (local engine) is trained once on the history before the
first of the last `--windows` windows of 5 trading days, then asked for every window with the whole
history before it (as `backtest --no-retrain` does). The per-window forecasts are kept, so the random
walk blend (`[forecast] random_walk_weight`) is scored at several weights from the same forecasts.
Scores are `data.backtest.evaluate`'s: mean wQL, MASE, 80% coverage, over the sessions of each window.

In-process (imports once) rather than through the CLI: the experiments are many; `bench/backtest_defaults.py`
checks the chosen defaults through the real `backtest` command.

Run: .venv/bin/python bench/backtest_experiments.py FILE... --variants base,ctx60 [--seeds 3]
Writes bench/results/experiments/<variant>.json and prints one line per (variant, file, weight).
     .venv/bin/python bench/backtest_experiments.py --smoke   # data/nikkei.csv, "returns", 1 seed,
                                       # 2 windows, 1 epoch of 1 batch; results to a temporary folder
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from nikkei_deepar.config import Hyperparameters
from nikkei_deepar.data.backtest import evaluate, rolling_windows
from nikkei_deepar.data.baselines import QuantileForecast, blend, random_walk
from nikkei_deepar.data.calendar import CALENDAR_FEATURES, calendar_features, steps_for_horizon
from nikkei_deepar.data.channels import format_start, series_line, target_values
from nikkei_deepar.data.inference import inference_config
from nikkei_deepar.data.prices import read_prices
from nikkei_deepar.data.series import build_series

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "experiments"
HORIZON = 5
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 0.8, 0.85, 0.9, 0.95)
QUANTILES = [round(0.1 * i, 1) for i in range(1, 10)]

# name -> (calendar policy, hyperparameter overrides); "base" is the config's defaults.
VARIANTS: dict[str, tuple[str, dict[str, str]]] = {
    "base": ("calendar_days", {}),
    "trading": ("trading_days", {}),
    "gaussian": ("calendar_days", {"likelihood": "gaussian"}),
    "ctx60": ("calendar_days", {"context_length": "60"}),
    "ctx120": ("calendar_days", {"context_length": "120"}),
    "epochs5": ("calendar_days", {"epochs": "5"}),
    "epochs50-es": ("calendar_days", {"epochs": "50", "early_stopping_patience": "5"}),
    "samples400": ("calendar_days", {"num_eval_samples": "400"}),
    "dropout0": ("calendar_days", {"dropout_rate": "0.0"}),
    "ctx10": ("calendar_days", {"context_length": "10"}),
    "ctx10-epochs5": ("calendar_days", {"context_length": "10", "epochs": "5"}),
    "epochs5-samples400": ("calendar_days", {"epochs": "5", "num_eval_samples": "400"}),
    # [data] calendar_features = true: day of week, days since the previous session, closed flag
    "calfeat": ("calendar_days", {"num_dynamic_feat": str(len(CALENDAR_FEATURES))}),
    # target = 100 * log return of each session (NaN on closed days); price paths from the samples
    "returns": ("calendar_days", {"target": "log_return"}),
    "returns-trading": ("trading_days", {"target": "log_return"}),
    "returns-epochs20": ("calendar_days", {"target": "log_return", "epochs": "20"}),
    "returns-ctx60": ("calendar_days", {"target": "log_return", "context_length": "60"}),
    "returns-epochs1": ("calendar_days", {"target": "log_return", "epochs": "1"}),
    "returns-epochs2": ("calendar_days", {"target": "log_return", "epochs": "2"}),
    "returns-epochs3": ("calendar_days", {"target": "log_return", "epochs": "3"}),
    "returns-epochs2-gaussian": (
        "calendar_days",
        {"target": "log_return", "epochs": "2", "likelihood": "gaussian"},
    ),
    "returns-epochs1-gaussian": (
        "calendar_days",
        {"target": "log_return", "epochs": "1", "likelihood": "gaussian"},
    ),
    "returns-epochs1-samples400": (
        "calendar_days",
        {"target": "log_return", "epochs": "1", "num_eval_samples": "400"},
    ),
    "returns-epochs2-gaussian-samples400": (
        "calendar_days",
        {"target": "log_return", "epochs": "2", "likelihood": "gaussian", "num_eval_samples": "400"},
    ),
    "returns-epochs2-gaussian-ctx60": (
        "calendar_days",
        {"target": "log_return", "epochs": "2", "likelihood": "gaussian", "context_length": "60"},
    ),
    "returns-epochs4-lr5e-4": (
        "calendar_days",
        {"target": "log_return", "epochs": "4", "learning_rate": "0.0005"},
    ),
    "related4": (
        "calendar_days",
        {
            "target": "log_return",
            "epochs": "2",
            "likelihood": "gaussian",
            "num_eval_samples": "400",
            "related": "topix,sp500,usdjpy,dji",
        },
    ),
    "related-topix": (
        "calendar_days",
        {
            "target": "log_return",
            "epochs": "2",
            "likelihood": "gaussian",
            "num_eval_samples": "400",
            "related": "topix",
        },
    ),
    "returns-epochs2-trading": ("trading_days", {"target": "log_return", "epochs": "2"}),
    "returns-dropout2": ("calendar_days", {"target": "log_return", "dropout_rate": "0.2"}),
    "returns-gaussian": ("calendar_days", {"target": "log_return", "likelihood": "gaussian"}),
    "returns-cells20": ("calendar_days", {"target": "log_return", "num_cells": "20", "num_layers": "1"}),
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--variants", default="base")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--windows", type=int, default=30)
    parser.add_argument("--table", action="store_true", help="print the README table from the results")
    parser.add_argument("--tag", default="", help="suffix of the results file (e.g. -holdout)")
    parser.add_argument(
        "--select",
        action="store_true",
        help="pick the variant and weight from the -holdout results, then show them on the scored windows",
    )
    parser.add_argument("--smoke", action="store_true", help="does it still run? (see above)")
    args = parser.parse_args()
    if args.table:
        print(table())
        return
    if args.select:
        print(select())
        print()
        print(alone())
        return
    out, batches = OUT, 50
    if args.smoke:
        args.files, args.variants, args.seeds, args.windows = [ROOT / "data" / "nikkei.csv"], "returns", 1, 2
        out = Path(tempfile.mkdtemp(prefix="nikkei-deepar-experiments-"))
        batches = 1
    out.mkdir(parents=True, exist_ok=True)
    for variant in args.variants.split(","):
        policy, overrides = VARIANTS[variant]
        if args.smoke:
            overrides = {**overrides, "epochs": "1"}
        results: dict[str, Any] = {"variant": variant, "policy": policy, "overrides": overrides, "files": {}}
        for path in args.files:
            results["files"][path.name] = run_file(
                path, policy, overrides, args.seeds, args.windows, batches=batches
            )
            for key, row in results["files"][path.name]["summary"].items():
                print(
                    f"{variant:12} {path.name:22} {key:14} wQL {row['mean_wql']:.5f} "
                    f"MASE {row['mase']:.3f} cov80 {row['coverage80']:.3f}",
                    flush=True,
                )
        (out / f"{variant}{args.tag}.json").write_text(json.dumps(results, indent=1) + "\n")


def run_file(
    path: Path, policy: str, overrides: dict[str, str], seeds: int, windows: int, *, batches: int = 50
) -> dict[str, Any]:
    from nikkei_deepar.engine import gluon as engine
    from nikkei_deepar.engine import serving

    table = read_prices(path, close_column=None, date_order="auto")
    series = build_series(
        table.closes, policy="trading_days" if policy == "trading_days" else "calendar_days"
    )
    full = np.asarray(series.target, dtype=np.float64)
    sessions = np.flatnonzero(~np.isnan(full))
    target = full[sessions]
    prediction_length = int(overrides.get("prediction_length", steps_for_horizon(policy, HORIZON)))
    hyperparameters = Hyperparameters().as_strings(prediction_length=prediction_length)
    hyperparameters.update(overrides)
    returns = hyperparameters.pop("target", "price") == "log_return"
    modelled = _log_returns(full) if returns else full
    related = [name for name in hyperparameters.pop("related", "").split(",") if name]
    num_samples = int(hyperparameters["num_eval_samples"])
    # the calendar features of every date the series and its last forecast reach (sliced per window)
    features = (
        calendar_features(list(series.dates) + [series.last_date + timedelta(days=i) for i in range(1, 40)])
        if "num_dynamic_feat" in overrides
        else None
    )

    def feat(end: int) -> list[list[float]] | None:
        return None if features is None else [row[:end] for row in features]

    first = rolling_windows(target, horizon=HORIZON, windows=windows)[0].origin

    def rw(history: Any, horizon: int) -> QuantileForecast:
        return random_walk(history, horizon=horizon, quantiles=QUANTILES)

    per_seed: list[dict[str, Any]] = []
    for seed in range(42, 42 + seeds):
        forecasts: dict[int, QuantileForecast] = {}
        started = time.monotonic()
        with tempfile.TemporaryDirectory() as tmp:
            origin0 = int(sessions[first - 1]) + 1
            train = (series_line(series.start, modelled[:origin0].tolist(), feat(origin0)) + "\n").encode()
            # a global model: each related series (to the same last date) as another training target
            for name in related:
                train += _related_line(name, series.dates[origin0 - 1], returns)
            result = engine.train(
                train_jsonl=train,
                test_jsonl=b"",
                hyperparameters=hyperparameters,
                seed=seed,
                out_dir=Path(tmp),
                num_batches_per_epoch=batches,
            )
            for window in rolling_windows(target, horizon=HORIZON, windows=windows):
                origin = int(sessions[window.origin - 1]) + 1
                steps = sessions[window.origin : window.origin + HORIZON] - origin
                instance: dict[str, Any] = {
                    "start": format_start(series.start),
                    "target": target_values(modelled[:origin].tolist()),
                }
                if features is not None:
                    instance["dynamic_feat"] = feat(origin + prediction_length)
                request = {
                    "instances": [instance],
                    "configuration": inference_config(
                        quantiles=QUANTILES,
                        num_samples=num_samples,
                        output_types=("mean", "quantiles", "samples") if returns else ("mean", "quantiles"),
                    ),
                }
                # as `backtest` asks: through serving (the torch-free weights)
                answer = serving.predict(model_tar=result.model_tar, request=request, seed=seed)
                answer = answer["predictions"][0]
                if returns:
                    anchor = target[window.origin - 1]
                    paths = anchor * np.exp(
                        np.cumsum(np.asarray(answer["samples"])[:, steps] / 100.0, axis=1)
                    )
                    forecasts[window.origin] = QuantileForecast(
                        mean=paths.mean(axis=0),
                        quantiles={q: np.quantile(paths, q, axis=0) for q in QUANTILES},
                    )
                    continue
                forecasts[window.origin] = QuantileForecast(
                    mean=np.asarray(answer["mean"])[steps],
                    quantiles={float(k): np.asarray(v)[steps] for k, v in answer["quantiles"].items()},
                )
        seconds = time.monotonic() - started

        def deepar(
            history: Any, horizon: int, kept: dict[int, QuantileForecast] = forecasts
        ) -> QuantileForecast:
            return kept[len(history)]

        scores: dict[str, Any] = {"seconds": round(seconds, 1), "epochs_run": result.epochs_run}
        for weight in WEIGHTS:

            def mixed(history: Any, horizon: int, weight: float = weight) -> QuantileForecast:
                return blend(deepar(history, horizon), rw(history, horizon), weight=weight)

            score = evaluate("x", mixed, target, horizon=HORIZON, windows=windows, quantiles=QUANTILES)
            scores[f"deepar_w{weight:g}"] = _score(score)
        per_seed.append(scores)
        print(
            f"  {path.name} seed {seed}: {seconds:.0f}s, {scores['deepar_w0']}", file=sys.stderr, flush=True
        )

    baseline = _score(evaluate("rw", rw, target, horizon=HORIZON, windows=windows, quantiles=QUANTILES))
    summary: dict[str, Any] = {"random_walk": baseline}
    for weight in WEIGHTS:
        key = f"deepar_w{weight:g}"
        summary[key] = {
            metric: float(np.mean([s[key][metric] for s in per_seed]))
            for metric in ("mean_wql", "mase", "coverage80")
        }
    return {"prediction_length": prediction_length, "per_seed": per_seed, "summary": summary}


RELATED_DIR = Path(os.environ.get("RELATED_DIR", "/work/data-ext/related"))


def _related_line(name: str, last: Any, returns: bool) -> bytes:
    """The train line of RELATED_DIR/<name>.csv (date,close), cut after `last`, on its own calendar."""
    table = read_prices(RELATED_DIR / f"{name}.csv", close_column=None, date_order="auto")
    closes = table.closes[table.closes.index <= np.datetime64(last)]
    other = build_series(closes, policy="calendar_days")
    values = np.asarray(other.target, dtype=np.float64)
    values = _log_returns(values) if returns else values
    return (series_line(other.start, values.tolist(), None) + "\n").encode()


def _log_returns(full: Any) -> Any:
    """100 * log(close / previous session's close) at each session, NaN on closed days and the first."""
    out = np.full_like(full, np.nan)
    sessions = np.flatnonzero(~np.isnan(full))
    out[sessions[1:]] = 100.0 * np.diff(np.log(full[sessions]))
    return out


def table(weight: float = 0.9) -> str:
    """Markdown: per variant and file, DeepAR alone and blended with the random walk, vs the random walk."""
    rows = [
        f"| variant | file | random walk wQL (cov80) | DeepAR alone wQL (cov80) | "
        f"DeepAR + {weight:g} random walk wQL (cov80) |",
        "|---|---|---|---|---|",
    ]
    for path in sorted(OUT.glob("*.json"), key=lambda p: (p.stem != "base", p.stem)):
        doc = json.loads(path.read_text())
        if path.stem != doc["variant"]:
            continue  # tagged runs (the holdout period) are reported on their own
        if "target" in doc["overrides"]:
            continue  # log-return variants: `--select` and `alone()`
        lever = ", ".join(
            f"calendar_features = true ({k} = {v})" if k == "num_dynamic_feat" else f"{k} = {v}"
            for k, v in doc["overrides"].items()
        )
        lever = lever or "defaults"
        if doc["policy"] != "calendar_days":
            lever = f"calendar = {doc['policy']}" + ("" if lever == "defaults" else f", {lever}")
        for name, f in doc["files"].items():
            s = f["summary"]

            def cell(key: str, s: dict[str, Any] = s) -> str:
                return f"{s[key]['mean_wql']:.5f} ({s[key]['coverage80']:.2f})"

            rows.append(
                f"| {doc['variant']}: {lever} | {name} | {cell('random_walk')} | {cell('deepar_w0')} | "
                f"{cell(f'deepar_w{weight:g}')} |"
            )
    return "\n".join(rows)


COVERAGE_GOAL = (0.72, 0.88)


def scored_keys(doc: dict[str, Any] | None) -> set[str]:
    """The model keys every file of a results document has (all of them when there is no document)."""
    if doc is None:
        return {f"deepar_w{weight:g}" for weight in WEIGHTS}
    return set.intersection(*(set(f["summary"]) for f in doc["files"].values()))


def select(tag: str = "-holdout") -> str:
    """Markdown: every (variant, weight) ranked by its mean wQL ratio to the random walk over the files
    of its held-out run (`--tag=-holdout`: each file without its last 30 windows, so the windows scored
    there come before the ones the README reports), with the ratio on the scored windows beside it.

    A candidate qualifies only if its 80 % coverage lies within COVERAGE_GOAL on every held-out file.
    The first row is the choice; the scored-window columns are read after choosing, never to choose."""
    rows = [
        "| rank | variant | weight | held-out wQL / random walk (mean, worst) "
        "| scored windows wQL / random walk (per file) | scored cov80 (per file) |",
        "|---|---|---|---|---|---|",
    ]
    candidates = []
    runs = [json.loads(path.read_text()) for path in sorted(OUT.glob(f"*{tag}.json"))]
    files = max((len(run["files"]) for run in runs), default=0)
    for held in runs:
        if len(held["files"]) < files:
            continue  # compare candidates on the same held-out files only
        variant = held["variant"]
        scored_path = OUT / f"{variant}.json"
        scored = json.loads(scored_path.read_text()) if scored_path.exists() else None
        for weight in WEIGHTS:
            key = f"deepar_w{weight:g}"
            ratios = []
            covered = True
            for f in held["files"].values():
                s = f["summary"]
                ratios.append(s[key]["mean_wql"] / s["random_walk"]["mean_wql"])
                covered &= COVERAGE_GOAL[0] <= s[key]["coverage80"] <= COVERAGE_GOAL[1]
            if not covered or key not in scored_keys(scored):
                continue
            later = "not run"
            cover = ""
            if scored is not None:
                later = ", ".join(
                    f"{f['summary'][key]['mean_wql'] / f['summary']['random_walk']['mean_wql']:.3f}"
                    for f in scored["files"].values()
                )
                cover = ", ".join(f"{f['summary'][key]['coverage80']:.2f}" for f in scored["files"].values())
            candidates.append((float(np.mean(ratios)), max(ratios), variant, weight, later, cover))
    candidates.sort()
    for rank, (mean, worst, variant, weight, later, cover) in enumerate(candidates[:12], 1):
        rows.append(f"| {rank} | {variant} | {weight:g} | {mean:.3f}, {worst:.3f} | {later} | {cover} |")
    return "\n".join(rows)


def alone() -> str:
    """Markdown: each log-return variant's DeepAR alone (no random walk) on the scored windows."""
    rows = [
        "| variant | levers | DeepAR alone wQL / random walk (cov80), per file |",
        "|---|---|---|",
    ]
    for path in sorted(OUT.glob("*.json")):
        doc = json.loads(path.read_text())
        if path.stem != doc["variant"] or "target" not in doc["overrides"]:
            continue
        levers = ", ".join(f"{k} = {v}" for k, v in doc["overrides"].items())
        if doc["policy"] != "calendar_days":
            levers += f", calendar = {doc['policy']}"
        cells = ", ".join(
            f"{f['summary']['deepar_w0']['mean_wql'] / f['summary']['random_walk']['mean_wql']:.3f} "
            f"({f['summary']['deepar_w0']['coverage80']:.2f})"
            for f in doc["files"].values()
        )
        rows.append(f"| {doc['variant']} | {levers} | {cells} |")
    return "\n".join(rows)


def _score(score: Any) -> dict[str, float]:
    return {"mean_wql": score.mean_wql, "mase": score.mase, "coverage80": score.coverage80}


if __name__ == "__main__":
    main()
