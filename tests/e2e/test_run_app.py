"""`e2e_shell.run_app` answers as the installed executable does: the same exit status, output and error
lines for the same arguments, environment and folder; what another thread prints (the moto server's own
messages) is not the command's output; and the test process's environment and folder are restored."""

from __future__ import annotations

import io
import os
import re
import subprocess
import threading
from pathlib import Path

import pytest

from e2e_shell import EXE, _ThisThread, moto_env, run_app
from sagemaker_script import REGION

pytestmark = pytest.mark.e2e

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} ", re.MULTILINE)


@pytest.mark.parametrize(
    "args",
    [
        ["--version"],
        ["status", "--json"],  # no config file: the defaults, the moto server
        ["train", "--config", "missing.toml"],  # a usage error: exit 2, one line
        ["config", "show", "--json"],
    ],
)
def test_the_same_answer_as_the_executable(args: list[str], moto_server: str, tmp_path: Path) -> None:
    env = {**moto_env(moto_server, tmp_path, region=REGION), "NIKKEI_DEEPAR_HOME": str(tmp_path / "home")}
    argv = [str(EXE), *args]
    real = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    here, before = Path.cwd(), dict(os.environ)
    mine = run_app(args, env=env, cwd=tmp_path)
    assert (Path.cwd(), dict(os.environ)) == (here, before)
    assert mine.returncode == real.returncode
    assert mine.stdout == real.stdout
    assert STAMP.sub("", mine.stderr) == STAMP.sub("", real.stderr)


def test_other_threads_do_not_write_into_the_commands_output() -> None:
    mine, before = io.StringIO(), io.StringIO()
    stream = _ThisThread(mine, before)
    server = threading.Thread(target=stream.write, args=("a moto server message\n",))
    server.start()
    server.join()
    stream.write("the command's line\n")
    assert (mine.getvalue(), before.getvalue()) == ("the command's line\n", "a moto server message\n")
