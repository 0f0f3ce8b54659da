"""Endpoint expiry on this machine: a time in `<store>/expiry/<endpoint>.json`, enforced by the backend.

Nothing runs in the background here, so the local backend checks the time whenever a command looks at
the endpoint (describe, invoke): an endpoint past its expiry is deleted then, with a warning that says
when it expired, and the command goes on as if it were gone (predict: "nothing deployed", exit 5).
That is the same outcome as on AWS, where the schedule deleted it at that time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from nikkei_deepar.backends.expiry import Scheduled
from nikkei_deepar.backends.local.files import NAME_RE, read_json, write_json

FOLDER = "expiry"
BY = "this machine (checked whenever a command looks at the endpoint)"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LocalExpiry:
    recorded = False  # a file beside the endpoint's record: deleted with the endpoint

    def __init__(self, root: Path, *, now: Callable[[], dt.datetime] = _utcnow) -> None:
        self.folder = root / FOLDER
        self._now = now

    def _path(self, endpoint: str) -> Path | None:
        return self.folder / f"{endpoint}.json" if NAME_RE.match(endpoint) else None

    def set(self, endpoint: str, at: dt.datetime) -> Scheduled:
        path = self._path(endpoint)
        if path is None:
            raise ValueError(f"not an endpoint name: {endpoint!r}")
        when = at.astimezone(dt.UTC).replace(second=0, microsecond=0)
        write_json(path, {"endpoint": endpoint, "at": when.isoformat()})
        return Scheduled(endpoint, when, BY)

    def get(self, endpoint: str) -> Scheduled | None:
        path = self._path(endpoint)
        record = read_json(path) if path is not None else None
        if record is None:
            return None
        try:
            when = dt.datetime.fromisoformat(str(record["at"]))
        except (KeyError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        return Scheduled(endpoint, when, BY)

    def clear(self, endpoint: str) -> bool:
        path = self._path(endpoint)
        if path is None:
            return False
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def due(self, endpoint: str) -> Scheduled | None:
        """The endpoint's expiry when it has passed (the caller deletes the endpoint), else None."""
        found = self.get(endpoint)
        return found if found is not None and found.at <= self._now() else None
