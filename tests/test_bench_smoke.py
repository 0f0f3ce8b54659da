"""Every benchmark in bench/ still runs: each in its smoke mode (`--smoke`: tiny sizes, seconds), so a
change that breaks a benchmark fails here rather than on the day someone measures.

Parametrized over every bench/*.py: a new script without a `--smoke` mode fails (argparse refuses the
option). The runs are started together, two at a time (this tool's machines have two cores; a smoke run
is mostly one process waiting on another), so the whole file takes about as long as the slowest pair;
under pytest-xdist, scripts/test.sh's --dist loadscope keeps them together on one worker.
Scripts that train a model need the [local] extra (marked `local`); the chain needs moto's server
(marked `e2e`, as the tests that run the executable against it).
"""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
SCRIPTS = sorted(p.name for p in BENCH.glob("*.py"))
LOCAL = {"backtest_defaults.py", "backtest_experiments.py", "local_predict.py", "local_train.py"}
NEEDS = {
    "backtest_defaults.py": [pytest.mark.local],
    "backtest_experiments.py": [pytest.mark.local],
    "local_predict.py": [pytest.mark.local],
    "local_train.py": [pytest.mark.local],
    "chain.py": [pytest.mark.e2e],
}
# what each smoke run prints when it got to the end (its last table or verdict)
EXPECT = {
    "backtest_defaults.py": "vs random walk",
    "backtest_experiments.py": "deepar_w0",
    "chain.py": "ratio",
    "local_predict.py": "targets",
    "local_train.py": "Backtest, nikkei.csv",
    "onnx_vs_numpy.py": "import numpy, fresh interpreter",
    "parse.py": "parse 300 rows",
    "startup.py": "heavy modules imported at start-up: none",
}
TIMEOUT = 300
# CPU seconds of each smoke run, measured on the 2-core machine: the slowest start first, so that the two
# workers finish together (about 110 CPU seconds in all: about a minute on two idle cores)
COST = {
    "local_train.py": 24,
    "chain.py": 22,
    "local_predict.py": 20,
    "backtest_defaults.py": 18,
    "backtest_experiments.py": 14,
}


def _run(name: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(BENCH / name), "--smoke"], capture_output=True, text=True, timeout=TIMEOUT
    )
    return done, time.monotonic() - started


Runs = dict[str, Future[tuple[subprocess.CompletedProcess[str], float]]]


@pytest.fixture(scope="module")
def smoke_runs(request: pytest.FixtureRequest) -> Runs:
    """The smoke runs of the scripts this session selected, started at once, two at a time. Under
    pytest-xdist, scripts/test.sh's --dist loadscope keeps this module on one worker (with xdist's
    default --dist load, each worker that runs one of these tests would start them all)."""
    pool = ThreadPoolExecutor(max_workers=2)
    request.addfinalizer(lambda: pool.shutdown(wait=True))
    chosen = {
        item.callspec.params["script"]
        for item in request.session.items
        if item.module is not None
        and item.module.__name__ == request.module.__name__
        and hasattr(item, "callspec")
    }
    slow_first = sorted(chosen, key=lambda name: -COST.get(name, 0))
    return {name: pool.submit(_run, name) for name in slow_first}


@pytest.mark.parametrize(
    "script", [pytest.param(name, marks=NEEDS.get(name, [])) for name in SCRIPTS], ids=SCRIPTS
)
def test_each_benchmark_runs_in_smoke_mode(script: str, smoke_runs: Runs) -> None:
    if script in LOCAL:
        pytest.importorskip("gluonts")
    started = smoke_runs.get(script)
    done, seconds = started.result(timeout=2 * TIMEOUT) if started is not None else _run(script)
    assert done.returncode == 0, f"{script} --smoke exited {done.returncode}:\n{done.stderr[-3000:]}"
    assert EXPECT.get(script, "") in done.stdout, f"{script} --smoke printed:\n{done.stdout[-3000:]}"
    assert script in EXPECT, f"say in EXPECT what {script} --smoke prints when it got to the end"
    print(f"{script} --smoke: {seconds:.1f} s")
