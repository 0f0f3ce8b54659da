"""The sample outputs and measured figures in the READMEs and docs/, from real runs of the tool.

    .venv/bin/python scripts/gen_samples.py --run [--extra FILE]  # run, store docs/samples.json, rewrite
    .venv/bin/python scripts/gen_samples.py                       # rewrite the generated blocks only
    .venv/bin/python scripts/gen_samples.py --check               # exit 1 when a page differs (tests)

`--run` runs the installed executable as a user would, in a temporary folder:
- the main job of scripts/forecast.sh (backend "local", examples/local.toml) on the shipped sample
  data/nikkei.csv (and on each `--extra` price file, for the measured table only): prepare, provision,
  train --wait, deploy, predict, each timed, with its peak memory (the child's rusage);
- the track record on the same data: a model trained on the data cut REPLAYED sessions before its end,
  then every day replayed (the file cut at that day, prepare, predict: each forecast kept), then `score`
  against all the closes; and the pictures, from these runs, into docs/images/: `predict --plot`
  (forecast.png), `score --plot` (score.png), `backtest --plot` (backtest.png);
- `config validate` on a configuration with two mistakes;
- docs/walkthrough.md's doctor, prepare and provision against a moto server on 127.0.0.1 (fake
  credentials; moto's account 123456789012), so no AWS account is touched.
Outputs are stored as printed, except: log time stamps are dropped, the temporary folder reads
`/home/you/nikkei-deepar`. The blocks sit between `<!-- generated:sample:NAME:start -->` and
`<!-- generated:sample:NAME:end -->` in README.md and docs/*.md (English), README.ja.md and docs/*.ja.md
(Japanese), wherever a page has one; the backtest table is not one of them (bench/ writes it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
_JA = sorted((ROOT / "docs").glob("*.ja.md"))
DOCS = {
    "en": [ROOT / "README.md", *sorted(set((ROOT / "docs").glob("*.md")) - set(_JA))],
    "ja": [ROOT / "README.ja.md", *_JA],
}
RESULTS = ROOT / "docs" / "samples.json"
IMAGES = ROOT / "docs" / "images"
SAMPLE = ROOT / "data" / "nikkei.csv"
REPLAYED = 30  # trading days the track record replays
EXE = str(Path(sys.executable).parent / "nikkei-deepar")
PLACEHOLDER = "/home/you/nikkei-deepar"
_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} ", flags=re.M)
_READ = re.compile(r"read .*?: (\d+) rows, (\S+) \.\. (\S+),")
BAD_CONFIG = """\
[training.hyperparameters]
context_length = -3

[endpoint]
instance_type = "ml.p3.2xlarge"
"""


# -- running ------------------------------------------------------------------------------------------
class Runner:
    """The executable in one folder with one environment; keeps each command's output as printed."""

    def __init__(self, folder: Path, env: dict[str, str], placeholder: str = PLACEHOLDER) -> None:
        self.folder = folder
        self.env = env
        self.placeholder = placeholder

    def __call__(self, *args: str, expect: int = 0) -> dict[str, str]:
        done = subprocess.run([EXE, *args], cwd=self.folder, env=self.env, capture_output=True, text=True)
        if done.returncode != expect:
            sys.exit(f"{' '.join(args)}: exit {done.returncode}, expected {expect}\n{done.stderr}")
        return {"stdout": self.clean(done.stdout), "stderr": self.clean(done.stderr)}

    def clean(self, text: str) -> str:
        return _STAMP.sub("", text).replace(str(self.folder), self.placeholder).rstrip("\n")


def _base_env(folder: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NIKKEI_DEEPAR_"))},
        "NIKKEI_DEEPAR_HOME": str(folder / ".nikkei-deepar"),
        "AWS_CONFIG_FILE": str(folder / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(folder / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "COLUMNS": "200",
    }


def _timed(folder: Path, env: dict[str, str], args: list[str]) -> dict[str, Any]:
    """One command with its wall time and its own peak memory (rusage of that child)."""
    started = time.perf_counter()
    proc = subprocess.Popen([EXE, *args], cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    out, err = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"{' '.join(args)}: exit {code}\n{err.decode()}")
    clean = Runner(folder, env).clean
    return {
        "stdout": clean(out.decode()),
        "stderr": clean(err.decode()),
        "seconds": round(time.perf_counter() - started, 1),
        "peak_mb": round(usage.ru_maxrss / 1024),
    }


def run_main_job(price_file: Path) -> dict[str, Any]:
    """scripts/forecast.sh's chain (without the backtest), as it runs there."""
    with tempfile.TemporaryDirectory(prefix="nd-samples-") as tmp:
        folder = Path(tmp)
        (folder / "data").mkdir()
        shutil.copy(price_file, folder / "data" / price_file.name)  # as in a clone: data/nikkei.csv
        env = {**_base_env(folder), "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
        config = ["--config", str(ROOT / "examples" / "local.toml")]
        steps = {
            "prepare": _timed(
                folder, env, ["prepare", "--input", str(folder / "data" / price_file.name), *config]
            ),
            "provision": _timed(folder, env, ["provision", *config]),
            "train": _timed(folder, env, ["train", "--wait", *config]),
            "deploy": _timed(folder, env, ["deploy", *config]),
            "predict": _timed(folder, env, ["predict", *config]),
        }
        # the workspace's state, wherever the tool keeps it: asked of the tool, as a user would
        shown = Runner(folder, env)("state", "show", "--json", *config)
        job = json.loads(shown["stdout"])["data"]["ledger"]["jobs"][-1]
    found = _READ.search(steps["prepare"]["stdout"])
    assert found, steps["prepare"]["stdout"]
    return {
        "file": price_file.name,
        "closes": int(found.group(1)),
        "first": found.group(2),
        "last": found.group(3),
        "metrics": job["metrics"],
        "steps": steps,
    }


def run_track_record(price_file: Path, images: Path = IMAGES) -> dict[str, Any]:
    """A daily job replayed over the last REPLAYED sessions of `price_file`, then `score`; the pictures."""
    header, *rows = [line for line in price_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    with tempfile.TemporaryDirectory(prefix="nd-samples-") as tmp:
        folder = Path(tmp)
        (folder / "data").mkdir()
        env = {**_base_env(folder), "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
        run = Runner(folder, env)
        config = ["--config", str(ROOT / "examples" / "local.toml")]

        def cut(n: int) -> str:
            """The price file as it stood on its n-th session: what that day's download held."""
            path = folder / "data" / price_file.name
            path.write_text("\n".join([header, *rows[:n]]) + "\n", encoding="utf-8")
            return str(path)

        first = len(rows) - REPLAYED
        run("prepare", "--input", cut(first), *config)
        run("provision", *config)
        run("train", "--wait", *config)  # the model of the first replayed day, as a weekly retrain's
        run("deploy", *config)
        for n in range(first, len(rows) + 1):  # each evening: that day's closes, that day's forecast
            run("prepare", "--input", cut(n), *config)
            run("predict", *config)
        images.mkdir(parents=True, exist_ok=True)
        score = run("score", *config)
        run("score", "--plot", str(images / "score.png"), *config)
        run("predict", "--plot", str(images / "forecast.png"), *config)
        backtest = run("backtest", "--windows", "10", "--plot", str(images / "backtest.png"), *config)
    return {"replayed": REPLAYED, "file": price_file.name, "score": score, "backtest": backtest}


def run_config_errors() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nd-samples-") as tmp:
        folder = Path(tmp)
        (folder / "nikkei-deepar.toml").write_text(BAD_CONFIG, encoding="utf-8")
        return Runner(folder, _base_env(folder))("config", "validate", expect=2)


def run_sagemaker_walkthrough() -> dict[str, Any]:
    """doctor -> prepare -> provision against a moto server in this process (docs/walkthrough.md)."""
    from moto.s3.models import FakeBucket
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    original = FakeBucket.get_permission
    sys.path.insert(0, str(ROOT / "tests"))
    from moto_tls import tls_aware  # the tests' one copy of the TLS-condition patch

    FakeBucket.get_permission = tls_aware(original)  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory(prefix="nd-samples-") as tmp:
            folder = Path(tmp)
            shutil.copy(SAMPLE, folder / "nikkei.csv")
            env = {
                **_base_env(folder),
                "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "ap-northeast-1",
            }
            run = Runner(folder, env, placeholder="/home/you/nikkei-aws")  # the walkthrough's folder
            run(
                "config",
                "init",
                "--no-input",
                "--region",
                "ap-northeast-1",
                "--bucket",
                "nikkei-deepar-123456789012",
                "--endpoint-name",
                "nikkei-deepar",
            )
            return {
                "doctor": run("doctor", expect=5),
                "prepare": run("prepare", "--input", "nikkei.csv"),
                "provision": run("provision"),
            }
    finally:
        FakeBucket.get_permission = original  # type: ignore[method-assign]
        server.stop()


def run_all(extra: list[Path]) -> dict[str, Any]:
    previous = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    main = run_main_job(SAMPLE)
    measured = {row["file"]: row for row in previous.get("measured", [])}
    for path in [SAMPLE, *extra]:
        result = main if path == SAMPLE else run_main_job(path)
        measured[path.name] = {
            "file": path.name,
            "closes": result["closes"],
            "first": result["first"],
            "last": result["last"],
            "train_seconds": result["steps"]["train"]["seconds"],
            "train_peak_mb": result["steps"]["train"]["peak_mb"],
            "predict_seconds": result["steps"]["predict"]["seconds"],
            "wql": result["metrics"].get("test:mean_wQuantileLoss"),
        }
    return {
        "generated_by": "scripts/gen_samples.py --run",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 1),
            "python": platform.python_version(),
        },
        "main_job": main,
        "measured": sorted(measured.values(), key=lambda row: row["file"] != SAMPLE.name),
        "config_errors": run_config_errors(),
        "sagemaker": run_sagemaker_walkthrough(),
        "track_record": run_track_record(SAMPLE),
    }


# -- rendering ----------------------------------------------------------------------------------------
def _text(body: str) -> str:
    return f"```text\n{body}\n```"


def _lines(text: str, keep: Callable[[str], bool]) -> str:
    return "\n".join(line for line in text.splitlines() if keep(line))


def sample_forecast(results: dict[str, Any], lang: str) -> str:
    steps = results["main_job"]["steps"]
    read = _lines(steps["prepare"]["stdout"], lambda line: line.startswith("read "))
    return _text(f"$ scripts/forecast.sh\n{read}\n...\n{steps['predict']['stdout']}")


def sample_train(results: dict[str, Any], lang: str) -> str:
    return _text("$ nikkei-deepar train --wait\n" + results["main_job"]["steps"]["train"]["stdout"])


def sample_stale(results: dict[str, Any], lang: str) -> str:
    stderr = results["main_job"]["steps"]["predict"]["stderr"]
    return _text("$ nikkei-deepar predict\n" + _lines(stderr, lambda line: "stale data" in line) + "\n...")


def sample_score(results: dict[str, Any], lang: str) -> str:
    return _text("$ nikkei-deepar score\n" + results["track_record"]["score"]["stdout"])


def sample_config_errors(results: dict[str, Any], lang: str) -> str:
    return _text(_lines(results["config_errors"]["stderr"], lambda line: line.startswith("error:")))


def sample_doctor(results: dict[str, Any], lang: str) -> str:
    return _text(results["sagemaker"]["doctor"]["stdout"])


def sample_prepare(results: dict[str, Any], lang: str) -> str:
    run = results["sagemaker"]["prepare"]
    return _text(_lines(run["stderr"], lambda line: not line.startswith("warning:")) + "\n" + run["stdout"])


def sample_provision(results: dict[str, Any], lang: str) -> str:
    return _text(results["sagemaker"]["provision"]["stdout"].splitlines()[-1])


def measured_table(results: dict[str, Any], lang: str) -> str:
    columns = {
        "en": ("file", "closes", "`train --wait` wall", "its peak memory", "`predict` wall"),
        "ja": ("ファイル", "終値の数", "`train --wait` 実行時間", "そのピークメモリ", "`predict` 実行時間"),
    }[lang]
    header = "| " + " | ".join([*columns, "test:mean_wQuantileLoss"]) + " |"
    from nikkei_deepar.output import number

    rows = [header, "|---|---|---|---|---|---|"]
    for r in results["measured"]:
        wql = "-" if r["wql"] is None else number(r["wql"])
        rows.append(
            f"| {r['file']} | {r['closes']} ({r['first']} .. {r['last']}) | {r['train_seconds']} s "
            f"| {r['train_peak_mb']} MB | {r['predict_seconds']} s | {wql} |"
        )
    m = results["machine"]
    note = {
        "en": f"Measured {results['when'][:10]} on {m['cpus']} cores (1-minute load average "
        f"{m['load_average_1m']} at the end), Python {m['python']}.",
        "ja": f"{results['when'][:10]} に {m['cpus']} コアで計測 (終了時の 1 分間ロードアベレージ "
        f"{m['load_average_1m']})、Python {m['python']}。",
    }[lang]
    return "\n".join(rows) + "\n\n" + note


BLOCKS: dict[str, Callable[[dict[str, Any], str], str]] = {
    "forecast": sample_forecast,
    "train": sample_train,
    "config-errors": sample_config_errors,
    "stale": sample_stale,
    "score": sample_score,
    "doctor": sample_doctor,
    "prepare": sample_prepare,
    "provision": sample_provision,
    "measured": measured_table,
}


def render(text: str, results: dict[str, Any], lang: str) -> str:
    for name, make in BLOCKS.items():
        pattern = re.compile(
            rf"(<!-- generated:sample:{name}:start -->).*?(<!-- generated:sample:{name}:end -->)", flags=re.S
        )
        if pattern.search(text):
            body = make(results, lang)
            text = pattern.sub(lambda m, body=body: f"{m.group(1)}\n{body}\n{m.group(2)}", text)
    return text


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", action="store_true", help="run the commands and store the results first")
    parser.add_argument(
        "--extra", type=Path, action="append", default=[], help="another price file to measure"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if a page differs from the results")
    parser.add_argument(
        "--track-record",
        action="store_true",
        help="run only the track record (score and the pictures) again, and store it",
    )
    args = parser.parse_args()
    if args.run:
        results = run_all(args.extra)
        RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    elif args.track_record:
        results = json.loads(RESULTS.read_text(encoding="utf-8"))
        results["track_record"] = run_track_record(SAMPLE)
        RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    stale = []
    for lang, paths in DOCS.items():
        for path in paths:
            old = path.read_text(encoding="utf-8")
            new = render(old, results, lang)
            if new != old:
                stale.append(str(path.relative_to(ROOT)))
                if not args.check:
                    path.write_text(new, encoding="utf-8")
    if args.check and stale:
        print(f"out of date: {', '.join(stale)}; run scripts/gen_samples.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
