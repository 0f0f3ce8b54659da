"""Run the installed `nikkei-deepar` as a shell script would, against the moto server.

`project_shell(moto_server, tmp_path, config)` writes `config` into a fresh project folder and returns
`run("train", "--json", expect=0)`: no terminal, the moto server as AWS_ENDPOINT_URL, fake credentials,
no AWS config files, the tool's home in the project folder. One copy for the end-to-end tests.

`run_app(args, env=, cwd=)` runs the same command in this process instead (see its docstring for when).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from nikkei_deepar.lifecycle.polling import POLL_SCALE_ENV

EXE = Path(sys.executable).parent / "nikkei-deepar"
# moto's jobs and endpoints settle at once (or as sm_script scripts them, one state per look): commands
# against the server look again after 0.1-0.6 s instead of 5-30 s. The polling loop is the same one.
FAST_POLLS = {POLL_SCALE_ENV: "0.02"}
Run = Callable[..., subprocess.CompletedProcess[str]]


def moto_env(moto_server: str, tmp_path: Path, *, region: str, drop: tuple[str, ...] = ()) -> dict[str, str]:
    """The environment of an executable run against the moto server: this one without any AWS_ or
    NIKKEI_DEEPAR_ variable (nor those starting with `drop`), fake keys, no AWS config files, 2 attempts,
    fast polls (FAST_POLLS)."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NIKKEI_DEEPAR_", *drop))},
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_MAX_ATTEMPTS": "2",
        **FAST_POLLS,
    }


def project_shell(
    moto_server: str, tmp_path: Path, config: str, *, region: str, in_process: bool = False
) -> Run:
    """`run(*args, expect=0)` in a fresh project folder holding `config`: the installed executable, or
    with `in_process` the same app in this process (`run_app`)."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "nikkei-deepar.toml").write_text(config, encoding="utf-8")
    env = {
        **moto_env(moto_server, tmp_path, region=region),
        "NIKKEI_DEEPAR_HOME": str(project / ".nikkei-deepar"),
    }

    def run(*args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        if in_process:
            done = run_app(list(args), env=env, cwd=project)
        else:
            argv = [str(EXE), *args]
            done = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=180)
        assert done.returncode == expect, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    return run


class _ThisThread(io.TextIOBase):
    """sys.stdout/sys.stderr while `run_app` runs: what the command's thread writes is the command's
    output; what any other thread writes (the moto server's own prints) goes where it went before."""

    def __init__(self, mine: io.StringIO, before: TextIO) -> None:
        self.mine, self.before, self.owner = mine, before, threading.get_ident()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        return (self.mine if threading.get_ident() == self.owner else self.before).write(text)

    def flush(self) -> None:
        (self.mine if threading.get_ident() == self.owner else self.before).flush()


def run_app(args: list[str], *, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command as `subprocess.run([EXE, *args], env=env, cwd=cwd)` would run it, in this process: the
    same Typer app the console script calls, with exactly `env` as the environment, `cwd` as the working
    directory, no terminal, and its exit status from SystemExit; the moto server is reached over HTTP as
    before. About a quarter of the CPU of a fresh interpreter (imports are done once per test process).

    For scenarios whose subject is what the tool decides (which workspace, which role, what it may
    delete): the process itself (entry point, signals, exit status as the shell sees it, a traceback
    never reaching a user, heavy imports) is what the executable tests check (tests/e2e, tests/hostile).
    The tool keeps no state between commands in a process but pure caches of static tables (botocore's
    service model, the exchange calendar), so a scenario runs here as it does in separate processes."""
    from nikkei_deepar.cli import app

    saved_env, here = dict(os.environ), Path.cwd()
    out, err = io.StringIO(), io.StringIO()
    saved_streams = sys.stdin, sys.stdout, sys.stderr
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    sys.stdin = io.StringIO()
    sys.stdout, sys.stderr = _ThisThread(out, sys.stdout), _ThisThread(err, sys.stderr)
    code: int = 0
    try:
        app(args=args, prog_name="nikkei-deepar", standalone_mode=True)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        os.chdir(here)
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess([str(EXE), *args], code, out.getvalue(), err.getvalue())
