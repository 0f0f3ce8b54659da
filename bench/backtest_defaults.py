"""Does the forecast the tool ships beat the random walk? `backtest --windows 30` with the shipped defaults.

For each price file and seed, in a temporary folder, runs the installed executable as a user would:
`prepare`, then `backtest --windows 30 --models random-walk,deepar --json`, with config.example.toml's
settings (every hyperparameter, `[forecast]`, the calendar policy) on the local backend and
`[training] seed` = 42, 43, 44. No AWS (AWS_ENDPOINT_URL points nowhere). The random walk does not
depend on the seed; DeepAR's scores are averaged over the seeds.

Writes bench/results/backtest_defaults.json and rewrites the table between
`<!-- generated:backtest:start -->` and `<!-- generated:backtest:end -->` in docs/forecast-quality.md and
docs/forecast-quality.ja.md from it (tests/test_backtest_table.py checks they match the committed results).

Run: .venv/bin/python bench/backtest_defaults.py ../shared/data/nikkei.csv ../shared/data/nikkei-2.csv \\
         /path/to/a/longer/history.csv [--seeds 3] [--windows 30]
     .venv/bin/python bench/backtest_defaults.py --readme-only   # the docs' tables from the results file
     .venv/bin/python bench/backtest_defaults.py --smoke   # data/nikkei.csv, 1 seed, 2 windows, a 1-batch
                                                           # model; prints the table, writes nothing
"""

from __future__ import annotations

import argparse
import datetime as dt
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
RESULTS = ROOT / "bench" / "results" / "backtest_defaults.json"
PAGES = {"en": ROOT / "docs" / "forecast-quality.md", "ja": ROOT / "docs" / "forecast-quality.ja.md"}
BLOCK = "backtest"
COVERAGE_GOAL = (0.72, 0.88)
SHIPPED = "deepar"  # the model key of the forecast `predict` gives (blended when random_walk_weight > 0)


def run(args: list[str], *, cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run([EXE, *args, "--json"], cwd=cwd, env=env, capture_output=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args)} exited {proc.returncode}: {proc.stderr.decode()[-2000:]}")
    document: dict[str, Any] = json.loads(proc.stdout)
    return document


def backtest_file(path: Path, *, seed: int, windows: int, smoke: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nikkei-deepar-bt-") as tmp:
        work = Path(tmp)
        config = (ROOT / "config.example.toml").read_text()
        config = config.replace('backend = "sagemaker"', 'backend = "local"', 1)
        config = re.sub(r'(?m)^source = "[^"]*"', f'source = "{path.resolve()}"', config, count=1)
        config = re.sub(r"(?m)^seed = \d+", f"seed = {seed}", config, count=1)
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
        run(["prepare"], cwd=work, env=env)
        started = time.monotonic()
        data: dict[str, Any] = run(
            ["backtest", "--windows", str(windows), "--models", "random-walk,deepar"], cwd=work, env=env
        )["data"]
        data["wall_seconds"] = round(time.monotonic() - started, 1)
        return data


def summarise(name: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One file: each model's scores averaged over the seeds (and each seed's, for the record)."""
    first = runs[0]
    models: dict[str, dict[str, Any]] = {}
    for key in [m["model"] for m in first["models"]]:
        rows = [next(m for m in r["models"] if m["model"] == key) for r in runs]
        models[key] = {
            "label": rows[0]["label"],
            **{
                metric: sum(row[metric] for row in rows) / len(rows)
                for metric in ("mean_wql", "mase", "rmse", "coverage80")
            },
            "by_seed": [round(row["mean_wql"], 6) for row in rows],
        }
    baseline = models["random-walk"]["mean_wql"]
    shipped = models[SHIPPED]
    low, high = COVERAGE_GOAL
    return {
        "file": name,
        "calendar": first["series"]["calendar"],
        "points": first["series"]["points"],
        "first_window": first["first_window"],
        "last_date": first["series"]["last_date"],
        "horizon": first["horizon"],
        "prediction_length": first["prediction_length"],
        "windows": first["windows"],
        "random_walk_weight": first["random_walk_weight"],
        "seeds": [r["deepar"]["seed"] for r in runs],
        "models": models,
        "wql_vs_random_walk": shipped["mean_wql"] / baseline,
        "goal": {
            "wql_at_or_below_random_walk": shipped["mean_wql"] <= baseline,
            "coverage_in_range": low <= shipped["coverage80"] <= high,
        },
        "wall_seconds": [r["wall_seconds"] for r in runs],
    }


def render(results: dict[str, Any], lang: str = "en") -> str:
    """The docs' table (markdown) for `results`; the same numbers in both languages."""
    head = {
        "en": "| file (windows x trading days) | model | mean wQL | vs random walk | MASE | 80% coverage |",
        "ja": "| ファイル (ウィンドウ数 x 営業日) | モデル | mean wQL | ランダムウォーク比 | MASE "
        "| 80% カバー率 |",
    }[lang]
    lines = [head, "|---|---|---|---|---|---|"]
    for f in results["files"]:
        baseline = f["models"]["random-walk"]["mean_wql"]
        where = f"{f['file']} ({f['windows']} x {f['horizon']}, {f['first_window']} .. {f['last_date']})"
        for key, m in f["models"].items():
            spread = "" if key == "random-walk" else f" ({min(m['by_seed']):.4f}-{max(m['by_seed']):.4f})"
            lines.append(
                f"| {where} | {m['label']} | {m['mean_wql']:.4f}{spread} | {m['mean_wql'] / baseline:.2f}x | "
                f"{m['mase']:.2f} | {m['coverage80']:.2f} |"
            )
            where = ""
    low, high = COVERAGE_GOAL
    verdicts = []
    for f in results["files"]:
        goal = f["goal"]
        ok = goal["wql_at_or_below_random_walk"] and goal["coverage_in_range"]
        if lang == "en":
            parts = []
            if not goal["wql_at_or_below_random_walk"]:
                parts.append(f"mean wQL {f['wql_vs_random_walk']:.2f}x the random walk's")
            if not goal["coverage_in_range"]:
                parts.append(f"80% coverage {f['models'][SHIPPED]['coverage80']:.2f} outside {low}-{high}")
            verdicts.append(f"{f['file']}: {'met' if ok else 'NOT met (' + '; '.join(parts) + ')'}")
        else:
            parts = []
            if not goal["wql_at_or_below_random_walk"]:
                parts.append(f"mean wQL がランダムウォークの {f['wql_vs_random_walk']:.2f} 倍")
            if not goal["coverage_in_range"]:
                parts.append(f"80% カバー率 {f['models'][SHIPPED]['coverage80']:.2f} が {low}-{high} の外")
            verdicts.append(f"{f['file']}: {'達成' if ok else '未達 (' + '、'.join(parts) + ')'}")
    config = results["config"]
    if lang == "en":
        lines += [
            "",
            f"Shipped forecast = `{config['forecast']}`; DeepAR `{config['hyperparameters']}`, "
            f"calendar `{config['calendar']}`; seeds {', '.join(map(str, results['seeds']))} "
            "(DeepAR's mean wQL is their average, the range in brackets). "
            "Goal (mean wQL at or below the random walk's, 80% "
            f"coverage in {low}-{high}): " + "; ".join(verdicts) + ".",
            "",
            f"Measured {results['date']} on {results['machine']} with `{results['command']}`.",
        ]
    else:
        lines += [
            "",
            f"出荷する予測 = `{config['forecast']}`。DeepAR `{config['hyperparameters']}`、"
            f"calendar `{config['calendar']}`。シード {', '.join(map(str, results['seeds']))} "
            f"(DeepAR の mean wQL はその平均、括弧内は範囲)。目標 (mean wQL がランダムウォーク以下、80% "
            f"カバー率が {low}-{high}): " + "; ".join(verdicts) + "。",
            "",
            f"{results['date']} に {results['machine']} で `{results['command']}` により測定。",
        ]
    return "\n".join(lines)


def write_readmes(results: dict[str, Any]) -> None:
    for lang, path in PAGES.items():
        text = path.read_text(encoding="utf-8")
        pattern = re.compile(
            rf"(<!-- generated:{BLOCK}:start -->\n).*?(<!-- generated:{BLOCK}:end -->)", re.S
        )
        if not pattern.search(text):
            sys.exit(f"{path}: no <!-- generated:{BLOCK}:start/end --> block")
        table = render(results, lang)

        def fill(match: re.Match[str], table: str = table) -> str:
            return match.group(1) + table + "\n" + match.group(2)

        text = pattern.sub(fill, text)
        path.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--windows", type=int, default=30)
    parser.add_argument("--readme-only", action="store_true", help="rewrite the tables in docs/ only")
    parser.add_argument("--smoke", action="store_true", help="does it still run? (see above; writes nothing)")
    args = parser.parse_args()
    if args.readme_only:
        write_readmes(json.loads(RESULTS.read_text()))
        return
    if args.smoke:
        args.files, args.seeds, args.windows = [ROOT / "data" / "nikkei.csv"], 1, 2
    if not args.files:
        parser.error("name the price files (both seed files and a longer history)")
    import tomllib

    example = tomllib.loads((ROOT / "config.example.toml").read_text())
    seeds = list(range(42, 42 + args.seeds))
    files = []
    for path in args.files:
        runs = []
        for seed in seeds:
            print(f"{path.name}, seed {seed} ...", file=sys.stderr, flush=True)
            runs.append(backtest_file(path, seed=seed, windows=args.windows, smoke=args.smoke))
        files.append(summarise(path.name, runs))
    hyperparameters = example["training"]["hyperparameters"]
    results = {
        "command": "bench/backtest_defaults.py "
        + " ".join(p.name for p in args.files)
        + f" --seeds {args.seeds} --windows {args.windows}",
        "date": dt.date.today().isoformat(),
        "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}, one torch thread",
        "seeds": seeds,
        "config": {
            "calendar": example["data"]["calendar"],
            "forecast": ", ".join(f"{k} = {v}" for k, v in example["forecast"].items()),
            "hyperparameters": ", ".join(
                f"{k} = {v}" for k, v in hyperparameters.items() if k not in ("test_quantiles", "time_freq")
            ),
        },
        "files": files,
    }
    if not args.smoke:  # a smoke run's numbers mean nothing: it leaves the results and READMEs alone
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
        write_readmes(results)
    print(render(results))


if __name__ == "__main__":
    main()
