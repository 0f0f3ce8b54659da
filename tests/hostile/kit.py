"""The hostile-input corpus's shared helpers: the installed executable, a local project, and servers on
127.0.0.1 that misbehave (drip bytes, redirect, accept and never answer), each on its own thread and
stopped at the end of its test.

Every case must end on its own within a few seconds with a documented exit code, no traceback and
nothing written. Cases that could hang if the tool regressed (a FIFO, a device, a silent server) run
the real executable in a subprocess with a generous `timeout=`: a guard against a hung suite, not a
timed assertion.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

EXE = str(Path(sys.executable).parent / "nikkei-deepar")
HANG_GUARD = 90  # seconds; every case ends in a few, this only stops a regression from hanging the suite
ROOT = Path(__file__).resolve().parents[1]
GOOD_PRICES = ROOT / "fixtures" / "prices" / "long" / "yahoo.csv"


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_exe(*args: str, cwd: Path, umask: int | None = None, env: dict[str, str] | None = None) -> Run:
    """The installed `nikkei-deepar` with the test's (hermetic) environment."""

    def child() -> None:
        if umask is not None:
            os.umask(umask)

    done = subprocess.run(
        [EXE, *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        preexec_fn=child,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def assert_one_clean_error(run: Run, code: int, *needles: str) -> str:
    """Exit `code`, exactly one `error:` line holding every needle, no traceback; returns the line."""
    assert run.exit_code == code, (run.exit_code, run.stderr)
    assert "Traceback" not in run.stderr
    errors = [
        line for line in run.stderr.splitlines() if " error: " in f" {line}" or line.startswith("error:")
    ]
    assert len(errors) == 1, run.stderr
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    assert "\x1b" not in run.stderr
    return errors[0]


def written(home: Path) -> list[str]:
    """What the tool left in its home (the lock file is allowed: it holds no data)."""
    if not home.exists():
        return []
    return sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.name != "state.lock")


# -- servers on 127.0.0.1 ----------------------------------------------------------------------------
Handler = Callable[[BaseHTTPRequestHandler], None]


@contextlib.contextmanager
def http_server(routes: dict[str, Handler]) -> Iterator[str]:
    """Serve `routes` (path -> handler) on 127.0.0.1; yields the base URL. Unknown paths get 404."""

    class Serve(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            route = routes.get(self.path.split("?", 1)[0])
            if route is None:
                self.send_error(404)
                return
            with contextlib.suppress(OSError):  # the client may hang up on purpose
                route(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Serve)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextlib.contextmanager
def stalled_server() -> Iterator[tuple[str, list[socket.socket]]]:
    """A socket on 127.0.0.1 that accepts every connection and never answers; yields (URL, accepted)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", accepted
    finally:
        stop.set()
        thread.join(timeout=10)
        for conn in accepted:
            conn.close()
        listener.close()
