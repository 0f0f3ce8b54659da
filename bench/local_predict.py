"""Local `predict` as a user runs it: wall time against `nikkei-deepar --help`, and peak memory.

Sets up a trained local model in a temporary home, as scripts/forecast.sh does (config.example.toml on
the local backend with the shipped sample data/nikkei.csv: prepare, train, wait, deploy), then runs the
installed executable `nikkei-deepar predict` and `nikkei-deepar --help` in turn, `--runs` times each
(one warm-up of each first). Each run's wall time is the parent's clock around the child; its peak
memory is the child's own maximum resident set size (`os.wait4`). The ratio predict / --help is taken
pair by pair, so load from other processes falls on both alike; medians are reported with the spread.

The targets of issue 24 are printed beside the figures: predict at most 12x --help, at most 200 MB.
`--gluonts N` then rewrites the deployed model as an archive from before the torch-free weights and
times N more predicts (served through GluonTS, as every predict was before): the same command's cost
with torch.

Run: .venv/bin/python bench/local_predict.py [--runs 7] [--gluonts 3]
     .venv/bin/python bench/local_predict.py --smoke    # a 1-batch model, one run: does it still run?
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXE = str(Path(sys.executable).parent / "nikkei-deepar")
DATA = ROOT / "data" / "nikkei.csv"
WALL_RATIO = 12.0  # issue 24: predict at most 12x --help
PEAK_MB = 200.0


def child(args: list[str], *, cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """Run the executable once: (wall seconds, peak RSS in MB, stderr); exits if it fails."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [EXE, *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"nikkei-deepar {' '.join(args)} exited {proc.returncode}:\n{err[-2000:]}")
    return wall, usage.ru_maxrss / 1024, err  # ru_maxrss is in KiB on Linux


def set_up(work: Path, *, smoke: bool) -> dict[str, str]:
    """A trained, deployed local model under `work`; the environment that reaches it."""
    config = (ROOT / "config.example.toml").read_text()
    config = config.replace('backend = "sagemaker"', 'backend = "local"', 1)
    config = re.sub(r'(?m)^source = "[^"]*"', f'source = "{DATA}"', config, count=1)
    if smoke:
        config = re.sub(r"(?m)^epochs = \d+", "epochs = 1", config, count=1)
    (work / "nikkei-deepar.toml").write_text(config)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(work),
        "NIKKEI_DEEPAR_HOME": str(work / "home"),
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing answers: no AWS call can succeed
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    if smoke:
        env["NIKKEI_DEEPAR_LOCAL_BATCHES"] = "1"
    for step in (["prepare"], ["train"], ["wait"], ["deploy"]):
        child(step, cwd=work, env=env)
    return env


def older_archive(work: Path) -> None:
    """Rewrite the deployed model as the tool wrote archives before torch-free weights."""
    from nikkei_deepar.engine.archive import read_archive, write_archive
    from nikkei_deepar.engine.numpy_deepar import MANIFEST, WEIGHTS

    (endpoint,) = (work / "home" / "workspaces" / "nikkei-deepar" / "dev" / "local" / "endpoints").glob(
        "*.json"
    )
    artifact = Path(json.loads(endpoint.read_text())["model_artifact"])
    marker, files = read_archive(artifact)
    folder = work / "older"
    folder.mkdir()
    for name, data in files.items():
        if name not in (MANIFEST, WEIGHTS, "nikkei-deepar.json"):
            (folder / name).write_bytes(data)
    drop = ("format", "format_version", "files", "inference", "inference_why", "engine")
    write_archive(folder, artifact.parent, metadata={k: v for k, v in marker.items() if k not in drop})


def spread(values: list[float], unit: str, digits: int = 2) -> str:
    low, mid, high = (f"{v:.{digits}f}" for v in (min(values), statistics.median(values), max(values)))
    return f"{mid} {unit} ({low}-{high})"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each command")
    parser.add_argument("--gluonts", type=int, default=0, metavar="N", help="N predicts of an older archive")
    parser.add_argument("--smoke", action="store_true", help="a 1-batch model and one run of each (seconds)")
    args = parser.parse_args()
    runs = 1 if args.smoke else args.runs
    with tempfile.TemporaryDirectory(prefix="nikkei-deepar-predict-") as tmp:
        work = Path(tmp)
        print("setting up a trained local model ...", file=sys.stderr, flush=True)
        env = set_up(work, smoke=args.smoke)
        child(["--help"], cwd=work, env=env)  # warm-ups: the page cache, compiled bytecode
        child(["predict"], cwd=work, env=env)
        helps, predicts, peaks, ratios = [], [], [], []
        for _ in range(runs):
            help_wall, _, _ = child(["--help"], cwd=work, env=env)
            wall, peak, err = child(["predict"], cwd=work, env=env)
            if "torch-free" in err:
                sys.exit(f"predict did not use the torch-free weights:\n{err[-2000:]}")
            helps.append(help_wall)
            predicts.append(wall)
            peaks.append(peak)
            ratios.append(wall / help_wall)
        older: list[tuple[float, float]] = []
        if args.gluonts:
            older_archive(work)
            older = [child(["predict"], cwd=work, env=env)[:2] for _ in range(args.gluonts)]

    ratio, peak = statistics.median(ratios), max(peaks)
    print(f"local predict vs --help: {runs} runs each, medians (min-max), {os.cpu_count()} cores")
    print(f"{'nikkei-deepar --help':<34}{spread(helps, 's')}")
    print(f"{'nikkei-deepar predict':<34}{spread(predicts, 's')}")
    print(f"{'predict / --help, pair by pair':<34}{spread(ratios, 'x', 1)}   target <= {WALL_RATIO:g}x")
    print(f"{'predict peak RSS':<34}{spread(peaks, 'MB', 0)}   target <= {PEAK_MB:g} MB")
    if older:
        print(
            f"{'predict, older archive (GluonTS)':<34}{spread([w for w, _ in older], 's')}, "
            f"peak {spread([p for _, p in older], 'MB', 0)}"
        )
    met = ratio <= WALL_RATIO and peak <= PEAK_MB
    verdict = "met" if met else "NOT met"
    print(f"targets {verdict}" + (" (smoke run: not a measurement)" if args.smoke else ""))


if __name__ == "__main__":
    main()
