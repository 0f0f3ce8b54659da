"""The local backend's files: locations, atomic JSON records, channels, and a job's log.

Pure file handling for `backends.local`: no model, no engine, no network. Locations are absolute
paths; `file://` URIs are accepted when read back.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nikkei_deepar.backends.base import LogEvent
from nikkei_deepar.errors import DataError, UsageError
from nikkei_deepar.files import FileRefused, read_regular, write_atomic

LOG_STREAM = "local"
# The store's layout: the folders of the records that stand for SageMaker's resources, by ledger kind.
RECORD_FOLDERS = {
    "model": "models",
    "endpoint-config": "endpoint-configs",
    "endpoint": "endpoints",
    "transform-job": "transforms",
}
# Every top-level entry the backend itself writes in its store (provision adopts a store holding only these).
STORE_ENTRIES = frozenset({"data", "jobs", "predict", "output", "expiry", *RECORD_FOLDERS.values()})
MAX_RECORD_BYTES = 1024 * 1024  # a record is a few hundred bytes; a job's state with its metrics a few KB
NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
"""SageMaker's resource name pattern; here it also keeps every record a plain file name in the store."""


class JobLog:
    """Appends timestamped lines to a job's log.txt (a multi-line message: one line each)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, message: str) -> None:
        stamp = stamp_now()
        with self.path.open("a", encoding="utf-8") as handle:
            for line in message.rstrip("\n").splitlines() or [""]:
                handle.write(f"{stamp} {line}\n")


def log_event(line: str) -> LogEvent:
    stamp, _, message = line.partition(" ")
    when = parse_stamp(stamp)
    if when is None:  # not one of ours: keep the whole line
        return LogEvent(timestamp=dt.datetime.fromtimestamp(0, dt.UTC), message=line, stream=LOG_STREAM)
    return LogEvent(timestamp=when, message=message, stream=LOG_STREAM)


def local_path(location: str) -> Path:
    """A location this backend gave out (an absolute path), or a `file://` URI."""
    if location.startswith("file://"):
        from urllib.parse import unquote, urlparse

        parsed = urlparse(location)
        if parsed.netloc not in ("", "localhost"):
            raise UsageError(f"{location}: only local file:// locations are supported")
        return Path(unquote(parsed.path))
    if "://" in location:
        raise UsageError(
            f"{location} is not a local location",
            hint='it belongs to another backend: run `nikkei-deepar prepare` again with backend = "local"',
        )
    path = Path(location)
    if not path.is_absolute():
        raise UsageError(f"{location} is not an absolute path")
    return path


def read_channel(channel: str, location: str) -> bytes:
    """A channel's bytes: the file, or every file under the folder (hidden ones skipped), in name order."""
    path = local_path(location)
    if path.is_file():
        return path.read_bytes()
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        parts = [p.read_bytes() for p in files]
        if parts:
            return b"".join(part if part.endswith(b"\n") else part + b"\n" for part in parts)
    raise DataError(f"channel {channel}: no data at {path}", hint="run `nikkei-deepar prepare` again")


def stamp_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def parse_stamp(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def read_json(path: Path) -> dict[str, Any] | None:
    """The record at `path`, or None when there is none yet; DataError (exit 3, "local-record-corrupt")
    for anything that is not a small regular file holding a UTF-8 JSON object. Read as price files are
    (`files.read_regular`): a FIFO in its place would otherwise block the command for ever."""
    try:
        raw = read_regular(path, max_bytes=MAX_RECORD_BYTES)
    except FileNotFoundError:
        return None
    except FileRefused as exc:
        raise _corrupt(path, f"is {exc.reason}, not a record") from None
    except OSError as exc:
        raise _corrupt(path, f"cannot be read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _corrupt(path, "is corrupt (not UTF-8 text)") from None
    if not text.strip():  # a name reserved (O_EXCL) but its record not written yet: not there yet
        return None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _corrupt(path, f"is corrupt ({exc.msg})") from None
    except RecursionError:
        raise _corrupt(path, "is corrupt (nested too deeply)") from None
    if not isinstance(record, dict):
        raise _corrupt(path, "is not a JSON object")
    return record


def _corrupt(path: Path, why: str) -> DataError:
    return DataError(
        f"{path}: the local record {why}",
        hint="move it away; `nikkei-deepar teardown` removes the local store",
        code="local-record-corrupt",
    )


def write_json(path: Path, record: Mapping[str, Any]) -> None:
    write_atomic(path, (json.dumps(record, indent=2, sort_keys=True) + "\n").encode("utf-8"))


def checked_name(name: str, what: str) -> str:
    """SageMaker's name pattern; here it also keeps every record a plain file name inside the store."""
    if not NAME_RE.fullmatch(name):
        raise UsageError(
            f"{what} name {name!r} is not valid",
            hint="1-63 letters, digits and '-', starting and ending with a letter or digit",
        )
    return name
