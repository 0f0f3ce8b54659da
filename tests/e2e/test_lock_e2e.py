"""Two commands racing for the ledger lock, as cron and a person at a terminal might."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nikkei_deepar.state.local import LocalStateStore
from nikkei_deepar.workspace import DEFAULT_PROJECT, DEFAULT_STAGE, Workspace

EXE = str(Path(sys.executable).parent / "nikkei-deepar")
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "prices" / "long" / "nikkei_jp.csv"

pytestmark = pytest.mark.e2e


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["NIKKEI_DEEPAR_HOME"] = str(home)
    return env


def _folder(home: Path) -> Path:
    """The default workspace's folder under `home`: where a config-less command keeps its ledger."""
    return Workspace(DEFAULT_PROJECT, DEFAULT_STAGE).folder(home)


def _holder(home: Path) -> subprocess.Popen[str]:
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from nikkei_deepar.state.local import LocalStateStore\n"
        f"with LocalStateStore(Path({str(_folder(home))!r})).lock():\n"
        "    print('held', flush=True)\n"
        "    sys.stdin.readline()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_second_command_exits_at_once_with_the_holder(tmp_path: Path) -> None:
    if not FIXTURE.exists():
        pytest.skip("long fixtures not generated")
    home = tmp_path / "home"
    holder = _holder(home)
    try:
        started = time.monotonic()
        r = subprocess.run(
            [EXE, "prepare", "--input", str(FIXTURE), "--dry-run", "--json"],
            env=_env(home),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 9, r.stderr
        assert time.monotonic() - started < 10
        doc = json.loads(r.stdout)
        assert doc["errors"][0]["code"] == "locked"
        assert f"locked by pid {holder.pid} on " in doc["errors"][0]["message"]
        assert " since " in doc["errors"][0]["message"]
        assert "--wait-lock" in r.stderr
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(10)


def test_wait_lock_waits_for_the_holder(tmp_path: Path) -> None:
    if not FIXTURE.exists():
        pytest.skip("long fixtures not generated")
    home = tmp_path / "home"
    holder = _holder(home)
    proc = subprocess.Popen(
        [EXE, "prepare", "--input", str(FIXTURE), "--dry-run", "--wait-lock", "30"],
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.0)
    assert proc.poll() is None  # still waiting
    assert holder.stdin is not None
    holder.stdin.write("\n")
    holder.stdin.flush()
    holder.wait(10)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err


def test_racing_commands_never_corrupt_the_ledger(tmp_path: Path) -> None:
    if not FIXTURE.exists():
        pytest.skip("long fixtures not generated")
    home = tmp_path / "home"
    config = tmp_path / "c.toml"
    config.write_text('backend = "local"\n')
    for _ in range(4):
        procs = [
            subprocess.Popen(
                [EXE, "prepare", "--config", str(config), "--input", str(FIXTURE), "--quiet"],
                env=_env(home),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        codes = [p.wait(60) for p in procs]
        assert set(codes) <= {0, 9}, [p.stderr.read() if p.stderr else "" for p in procs]
        assert 0 in codes
        ledger = LocalStateStore(_folder(home)).load()  # always valid JSON of the current schema
        assert len(ledger.data) == 1
    assert LocalStateStore(_folder(home)).lock_holder() is None
