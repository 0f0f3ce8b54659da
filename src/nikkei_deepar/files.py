"""Files on disk: atomic writes with honest modes, and the gate every input file passes.

A leaf (imports only `errors`). `write_atomic`: a temporary file in the same folder, flushed to disk,
then `Path.replace`; a reader (or a crash) never sees half a file: it sees the old one or the new one.
A file is created with the mode the user's umask gives (0666 & ~umask, as `open()` would), unless the
caller asks for one: the ledger and its lock are 0600 (they name the account's resources).

`read_regular`: how any file that a user or another program may have replaced is read (price files,
the price cache, the local backend's records): a regular file, at most `max_bytes`. It looks before it
opens (`os.stat`: a FIFO, a device such as /dev/zero or /dev/urandom, a directory or a socket is refused
without being opened, so nothing ever blocks), opens with O_NONBLOCK and checks again on the open
descriptor (the path may have been swapped in between), then reads at most `max_bytes + 1` bytes.
`read_input` is what `prepare --input` (and `[data] source` as a path) may read: `read_regular`, no
line longer than `MAX_LINE_BYTES`, and every refusal a one-line DataError about the price file.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from nikkei_deepar.errors import DataError

MAX_INPUT_BYTES = 64 * 1024 * 1024  # decades of daily rows are a few MB; [data] max_input_bytes
MAX_LINE_BYTES = 64 * 1024  # a price row is under 200 bytes; a header with many columns a few KB


def default_mode() -> int:
    """The mode a new file gets under the current umask (0666 & ~umask)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: Path, body: bytes, *, mode: int | None = None) -> None:
    """Replace `path` with `body` atomically; `mode` None: the umask decides, else exactly `mode`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, flags, 0o666 if mode is None else mode)
            break
        except FileExistsError:  # pragma: no cover - 32 random bits collided
            continue
    try:
        if mode is not None:
            os.fchmod(fd, mode)  # exactly this, whatever the umask took away
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class FileRefused(Exception):
    """`read_regular` would not read the file: `reason` is what it is instead ("a FIFO (named pipe)") or
    "larger than N bytes"; `code` is "not-a-file" or "too-large"."""

    def __init__(self, reason: str, *, code: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


def read_regular(path: Path, *, max_bytes: int) -> bytes:
    """The bytes of the regular file at `path`, read without ever blocking and at most `max_bytes` of them.

    FileRefused for anything else (a FIFO, a device such as /dev/zero, a directory, a socket, or a
    symlink to one of them; a file over `max_bytes`); OSError (FileNotFoundError included) as the
    system raised it. What every file the tool reads from a place a user or another program can write
    goes through: price files, the price cache, the local backend's records.
    """
    info = path.stat()  # look before opening: opening a FIFO nobody writes to would block for ever
    _check_kind(info.st_mode)
    _check_size(info.st_size, max_bytes)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)  # the path may have been swapped between the look and the open
        _check_kind(info.st_mode)
        _check_size(info.st_size, max_bytes)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            raw = fh.read(max_bytes + 1)
    finally:
        os.close(fd)
    _check_size(len(raw), max_bytes)  # it grew while we read
    return raw


def read_input(path: Path, *, max_bytes: int = MAX_INPUT_BYTES, hint: str | None = None) -> bytes:
    """The bytes of the price file at `path`, or DataError (exit 3) saying why it cannot be read."""
    where = hint or "Point --input (or [data] source) at a CSV price file."
    try:
        raw = read_regular(path, max_bytes=max_bytes)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file", hint="Check the path ([data] source).") from None
    except FileRefused as exc:
        if exc.code == "not-a-file":
            raise DataError(f"{path}: is {exc.reason}, not a price file", hint=where, code=exc.code) from None
        raise DataError(
            f"{path}: the file is larger than {_size(max_bytes)} ([data] max_input_bytes)",
            hint="A daily price file is a few MB; check the file, or raise [data] max_input_bytes.",
            code=exc.code,
        ) from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read the file: {exc.strerror or exc}", hint=None) from None
    check_lines(raw, str(path))
    return raw


def check_lines(raw: bytes, source: str) -> None:
    """DataError if a line of `raw` is longer than MAX_LINE_BYTES (a price file has short lines; a
    50 MB line of commas would otherwise cost minutes and gigabytes to split)."""
    # Hop from line start to line start, a window at a time: the last break in each window starts a
    # line; a window with no break at all is a line too long. ~1000 hops for 64 MB, no copies.
    pos, size = 0, len(raw)
    while size - pos > MAX_LINE_BYTES:
        end = pos + MAX_LINE_BYTES + 1
        last = max(raw.rfind(b"\n", pos, end), raw.rfind(b"\r", pos, end))
        if last < 0:
            break
        pos = last + 1
    else:
        return
    line = raw.count(b"\n", 0, pos) + 1
    raise DataError(
        f"{source}:{line}: a line longer than {MAX_LINE_BYTES // 1024} KiB: not a daily price file",
        hint="A price file has one date and close per short line; check that this is the right file.",
        code="line-too-long",
    )


def _check_kind(mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    kind = (
        "a directory"
        if stat.S_ISDIR(mode)
        else "a FIFO (named pipe)"
        if stat.S_ISFIFO(mode)
        else "a character device"
        if stat.S_ISCHR(mode)
        else "a block device"
        if stat.S_ISBLK(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "not a regular file"
    )
    raise FileRefused(kind, code="not-a-file")


def _check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise FileRefused(f"larger than {_size(max_bytes)}", code="too-large")


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:g} MiB" if n >= 1024 * 1024 else f"{n} bytes"
