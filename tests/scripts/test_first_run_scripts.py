"""scripts/forecast.sh and scripts/setup.sh, the README's first commands, run as a newcomer runs them.

setup.sh is run in a copy of the project whose `.venv/bin/python` is a stand-in that logs each call
(no pip, no network): what it installs, in which order, and that a second run installs nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FAKE_PYTHON = """#!/usr/bin/env bash
# a stand-in for .venv/bin/python: log the call; answer -VV; run the setup script's tomllib reader
echo "$*" >> "$(dirname "$0")/../calls.log"
case "$1" in
  -VV) echo "Python 3.11.7 (fake)";;
  -) exec {python} "$@";;
esac
"""


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "setup.sh", project / "scripts" / "setup.sh")
    shutil.copy(ROOT / "pyproject.toml", project / "pyproject.toml")
    bin_dir = project / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    fake = bin_dir / "python"
    fake.write_text(FAKE_PYTHON.format(python=sys.executable), encoding="utf-8")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    return project


def _setup(project: Path, *extras: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    log = project / ".venv" / "calls.log"
    log.unlink(missing_ok=True)
    done = subprocess.run(
        ["bash", "scripts/setup.sh", *extras], cwd=project, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    calls = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return done, [c for c in calls if c != "-VV" and not c.startswith("- ")]


def test_setup_installs_once_then_skips_until_the_project_changes(tmp_path: Path) -> None:
    project = _project(tmp_path)
    first, calls = _setup(project, "local,plot")
    assert calls == [
        "-m pip --quiet --quiet install --upgrade pip",
        "-m pip --quiet --quiet install torch==2.13.0",  # first: the CPU wheel, never a CUDA build
        "-m pip --quiet --quiet install -e .[local,plot]",
        "-m pip --quiet --quiet install --no-deps gluonts==0.17.0",  # its pins are in [local] instead
    ]
    assert first.stderr.count("\n") == 1 and "setting up .venv" in first.stderr
    again, calls = _setup(project, "local,plot")
    assert calls == [] and again.stderr == ""  # nothing to do: the stamp matches
    _, calls = _setup(project, "plot")  # a subset of what is installed
    assert calls == []
    _, calls = _setup(project, "dev")  # more extras: everything, in one environment
    assert "-m pip --quiet --quiet install -e .[dev,local,plot]" in calls
    with (project / "pyproject.toml").open("a", encoding="utf-8") as f:
        f.write("\n# changed\n")
    _, calls = _setup(project, "local")
    assert "-m pip --quiet --quiet install -e .[dev,local,plot]" in calls


def test_setup_without_the_local_extra_installs_no_gluonts(tmp_path: Path) -> None:
    _, calls = _setup(_project(tmp_path), "plot")
    assert not any("gluonts" in call for call in calls)


def test_forecast_names_data_readme_for_a_missing_file(tmp_path: Path) -> None:
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "forecast.sh"), str(tmp_path / "nope.csv")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )
    assert done.returncode == 3
    assert done.stderr.splitlines() == [
        f"error: {tmp_path / 'nope.csv'}: no such price file; data/README.md says where to download one"
    ]
    assert not (tmp_path / ".venv").exists()


def test_the_shipped_sample_is_the_default_price_file() -> None:
    script = (ROOT / "scripts" / "forecast.sh").read_text(encoding="utf-8")
    assert "file=${1:-$root/data/nikkei.csv}" in script
    head = (ROOT / "data" / "nikkei.csv").read_text(encoding="utf-8").splitlines()
    assert head[0] == "date,close" and len(head) == 977
    tracked = subprocess.run(
        ["git", "ls-files", "--error-unmatch", "data/nikkei.csv"], cwd=ROOT, capture_output=True, check=False
    )
    assert tracked.returncode == 0 or not (ROOT / ".git").exists()


@pytest.mark.local
def test_the_local_extra_lists_what_gluonts_really_requires() -> None:
    """gluonts goes in with --no-deps: its runtime requirements (and its torch extra's) must be ours."""
    ours = {
        re.split(r"[<>=~!\[ ;]", spec, maxsplit=1)[0].lower(): spec
        for spec in metadata.requires("nikkei-deepar") or []
    }
    for requirement in metadata.requires("gluonts") or []:
        spec, _, marker = requirement.partition(";")
        if "extra" in marker and "extra == 'torch'" not in marker:
            continue
        name = re.split(r"[<>=~!\[ ]", spec.strip(), maxsplit=1)[0].lower()
        assert name in ours, f"gluonts needs {requirement!r}; add it to the [local] extra"
    assert "toolz>=1.0" in ours["toolz"]
