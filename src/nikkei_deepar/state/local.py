"""The ledger in a file on this machine: `state.json` in the workspace's folder, written atomically, locked.

Writes are atomic (temp file in the same folder + `os.replace`; the previous copy kept as
`state.json.bak`); commands that change anything hold an exclusive lock (`fcntl.flock` on `state.lock`,
which the kernel releases when the holder dies, so a lock left by a dead process is detected and taken
over). Files are 0600: the ledger names the account's resources.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from nikkei_deepar.errors import DataError, LockHeldError, StateConflictError
from nikkei_deepar.files import write_atomic
from nikkei_deepar.ledger import Ledger, dump_ledger, parse_ledger, utcnow
from nikkei_deepar.state import Change

STATE_FILE = "state.json"
LOCK_FILE = "state.lock"
LEDGER_MODE = 0o600  # the ledger, its backup and its lock name the account's resources: the owner's only
HOME_ENV = "NIKKEI_DEEPAR_HOME"
LEGACY_FOLDER = ".nikkei-deepar"  # where the ledger was kept before workspaces: beside the config file


def default_home(*, env: Mapping[str, str]) -> Path:
    """The tool's home on this machine: `$NIKKEI_DEEPAR_HOME`, else `$XDG_STATE_HOME/nikkei-deepar`, else
    `~/.local/state/nikkei-deepar`. Not the config's folder: a workspace's state must not depend on
    where a config file happens to be (two configs of one stage share it, wherever they are)."""
    if env.get(HOME_ENV):
        return Path(env[HOME_ENV]).expanduser()
    if env.get("XDG_STATE_HOME"):
        return Path(env["XDG_STATE_HOME"]).expanduser() / "nikkei-deepar"
    return Path(env.get("HOME") or Path.home()).expanduser() / ".local" / "state" / "nikkei-deepar"


def legacy_ledger(*, home: Path, config_path: Path | None, cwd: Path) -> Path | None:
    """A ledger written before workspaces, if one is here: `<home>/state.json` (an explicit home), or
    `.nikkei-deepar/state.json` beside the config file (or in `cwd`), the old default."""
    base = config_path.parent if config_path is not None else cwd
    for candidate in (home / STATE_FILE, base / LEGACY_FOLDER / STATE_FILE):
        if candidate.is_file():
            return candidate
    return None


class LocalStateStore:
    """The ledger as `state.json` in `folder`; `lock()` guards a command's whole run (`state.lock`)."""

    def __init__(
        self,
        folder: Path,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.folder = folder
        self.path = folder / STATE_FILE
        self.lock_path = folder / LOCK_FILE
        self._sleep = sleep
        self._clock = clock

    @property
    def where(self) -> str:
        return str(self.path)

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> Ledger:
        try:
            text = self.path.read_bytes()
        except FileNotFoundError:
            return Ledger()
        except OSError as exc:
            raise DataError(f"{self.path}: cannot read the ledger: {exc.strerror}") from None
        return parse_ledger(
            text,
            where=str(self.path),
            backup_hint="restore it from a backup (state.json.bak beside it) or move it away to start afresh",
        )

    def save(self, ledger: Ledger) -> None:
        """Atomic replace; the previous good version is kept as state.json.bak.

        The backup is a copy, not a move, so at no moment is there no state.json: a crash between the
        two writes leaves the old ledger or the new one, never none (which would forget resources).
        """
        body = dump_ledger(ledger)
        if self.path.exists():
            with contextlib.suppress(OSError):
                write_atomic(self.path.with_suffix(".json.bak"), self.path.read_bytes(), mode=LEDGER_MODE)
        write_atomic(self.path, body, mode=LEDGER_MODE)

    def write_whole(self, ledger: Ledger, *, replace: bool) -> None:
        if self.exists() and not replace:
            raise StateConflictError(
                f"{self.path}: a state is already there; nothing was written",
                hint="move it away first, or pass --force to replace it",
            )
        self.save(ledger)

    def update(self, change: Change) -> Ledger:
        """Load, change, save: one step written the moment it happens. Within one machine the lock
        (held by every command that changes anything) keeps two writers apart."""
        ledger = self.load()
        change(ledger)
        self.save(ledger)
        return ledger

    # -- locking ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(
        self,
        *,
        command: str = "",
        wait_seconds: float = 0.0,
        on_takeover: Callable[[str], None] | None = None,
    ) -> Iterator[None]:
        sleep, clock = self._sleep, self._clock
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, LEDGER_MODE)
        deadline = clock() + wait_seconds
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if clock() >= deadline:
                        raise LockHeldError(
                            f"{self.lock_path}: {describe_holder(self.lock_path)}",
                            hint="wait for that command to finish, or pass --wait-lock SECONDS",
                        ) from None
                    sleep(min(0.2, max(0.0, deadline - clock())))
            previous = _read_holder(self.lock_path)
            if previous and previous.get("pid") and not _pid_alive(int(previous["pid"])) and on_takeover:
                on_takeover(
                    f"took over the lock left by pid {previous['pid']} on {previous.get('host', '?')} "
                    f"(since {previous.get('since', '?')}), which is no longer running"
                )
            holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": utcnow(), "command": command}
            info = json.dumps(holder)
            os.ftruncate(fd, 0)
            os.pwrite(fd, info.encode(), 0)
            try:
                yield
            finally:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def lock_holder(self) -> str | None:
        """A description of who holds the lock now, or None when it is free (for `doctor`/`status`)."""
        if not self.lock_path.exists():
            return None
        fd = os.open(self.lock_path, os.O_RDWR)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return describe_holder(self.lock_path)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)


def _read_holder(path: Path) -> dict[str, Any] | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8") or "null")
    except (OSError, json.JSONDecodeError):
        return None
    return raw if isinstance(raw, dict) else None


def describe_holder(path: Path) -> str:
    holder = _read_holder(path)
    if not holder:
        return "locked by another nikkei-deepar process"
    running = f" running `nikkei-deepar {holder['command']}`" if holder.get("command") else ""
    return f"locked by pid {holder.get('pid')} on {holder.get('host')}{running} since {holder.get('since')}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
