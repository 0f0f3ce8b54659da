"""Start-up time of `nikkei-deepar --help` and `--version` (the installed executable), and which heavy
modules the CLI imports at start-up (none of boto3, pandas, torch may be among them).

Run: .venv/bin/python bench/startup.py [--runs 20]
     .venv/bin/python bench/startup.py --smoke     # one run each: does it still run?
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HEAVY = ("boto3", "botocore", "pandas", "numpy", "torch", "gluonts", "pydantic", "exchange_calendars")


def executable() -> str:
    return shutil.which("nikkei-deepar") or str(Path(sys.executable).parent / "nikkei-deepar")


def time_command(args: list[str], runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), max(samples)


def heavy_imports() -> list[str]:
    code = "import sys; import nikkei_deepar.cli; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    loaded = set(out.split())
    return [m for m in HEAVY if m in loaded]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--smoke", action="store_true", help="one run of each command (seconds)")
    args = parser.parse_args()
    if args.smoke:
        args.runs = 1
    exe = executable()
    for flags in (["--help"], ["--version"], ["prepare", "--help"]):
        median, worst = time_command([exe, *flags], args.runs)
        print(
            f"nikkei-deepar {' '.join(flags):<16} median {median * 1000:6.0f} ms   max {worst * 1000:6.0f} ms"
        )
    heavy = heavy_imports()
    print("heavy modules imported at start-up:", ", ".join(heavy) if heavy else "none")
    if heavy:
        sys.exit(1)


if __name__ == "__main__":
    main()
