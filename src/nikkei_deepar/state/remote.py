"""The ledger as one object on S3, shared by every host and person of a workspace, with a lease for writers.

`[state] url = "s3://BUCKET/PREFIX"` keeps the workspace's ledger at `PREFIX/<project>/<stage>/state.json`
and its lease at `.../state.lease` (S3's conditional writes, as Terraform's S3 backend uses them):

- Reads take the object and its ETag. A write is read-modify-write: the change is applied to the ledger
  just read and put with `If-Match: <ETag>` (`If-None-Match: "*"` when there is none yet). When another
  host wrote in between, S3 answers 412 (or 409 ConditionalRequestConflict): the ledger is read again and
  the change applied again, a bounded number of times; nothing is lost when two hosts write at once,
  and past the bound nothing is written (`StateConflictError`, exit 10).
- A command that changes AWS holds the lease for its whole run: an object written with
  `If-None-Match: "*"` naming host, pid, command, start and expiry, renewed (`If-Match`) while the
  command runs and deleted (`If-Match`) at its end. A lease past its expiry (its holder died) is taken
  over with `If-Match`. A lease PUT whose own retry got 412 finds its own id there: it counts as held
  (a known failure of Terraform's backend, which then never released it).

The object is the same JSON as the local `state.json` (`ledger.dump_ledger`): no secrets, as the local
file. Anything at the key that is not a ledger this version reads is refused (exit 3, or 11 when a newer
version wrote it); nothing is ever written over it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from nikkei_deepar.errors import (
    DataError,
    LockHeldError,
    NikkeiError,
    NotFoundError,
    StateConflictError,
    VersionError,
)
from nikkei_deepar.ledger import Ledger, dump_ledger, parse_ledger
from nikkei_deepar.state import Change

if TYPE_CHECKING:
    from nikkei_deepar.aws.s3 import S3Gateway
    from nikkei_deepar.history import ForecastRecord

STATE_OBJECT = "state.json"
LEASE_OBJECT = "state.lease"
WRITE_ATTEMPTS = 8  # a change is applied at most this many times before a 412 storm is reported
LEASE_FORMAT = "nikkei-deepar/lease/v1"
_BACKUP_HINT = (
    "S3 keeps every version of the object (the state bucket must have versioning on): restore the last "
    "good one, or move it away to start afresh"
)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Lease:
    id: str
    host: str
    pid: int
    command: str
    started: dt.datetime
    expires: dt.datetime

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "format": LEASE_FORMAT,
                "id": self.id,
                "host": self.host,
                "pid": self.pid,
                "command": self.command,
                "started": _iso(self.started),
                "expires": _iso(self.expires),
            }
        ).encode()

    @classmethod
    def parse(cls, body: bytes) -> Lease | None:
        """The lease an object holds, or None when it is not one (truncated, foreign)."""
        try:
            raw = json.loads(body)
            if not isinstance(raw, dict) or raw.get("format") != LEASE_FORMAT:
                return None
            return cls(
                id=str(raw["id"]),
                host=str(raw["host"]),
                pid=int(raw["pid"]),
                command=str(raw["command"]),
                started=dt.datetime.fromisoformat(str(raw["started"])),
                expires=dt.datetime.fromisoformat(str(raw["expires"])),
            )
        except (ValueError, KeyError, TypeError, RecursionError):
            return None

    def holder(self) -> str:
        running = f" running `nikkei-deepar {self.command}`" if self.command else ""
        return (
            f"pid {self.pid} on {self.host}{running} since {_iso(self.started)} "
            f"(lease until {_iso(self.expires)})"
        )

    def describe(self) -> str:
        return f"held by {self.holder()}"


class _StateGateway:
    """The S3 gateway as the state store uses it: a missing bucket is the state bucket's (with how to make
    it), not the project's."""

    def __init__(self, s3: S3Gateway, bucket: str) -> None:
        self._inner, self._bucket = s3, bucket

    def __getattr__(self, name: str) -> object:
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute

        def call(*args: object, **kwargs: object) -> object:
            try:
                return attribute(*args, **kwargs)
            except NotFoundError as exc:
                if "bucket" not in exc.message:
                    raise
                raise NotFoundError(
                    f"[state] url: S3 bucket {self._bucket!r} does not exist",
                    hint="create it once, with versioning on (`nikkei-deepar doctor` says how), or remove "
                    "[state] url to keep the state on this machine",
                    code="state-bucket-missing",
                ) from None

        return call


class S3StateStore:
    """The ledger at `s3://{bucket}/{key_root}/state.json`; the lease beside it."""

    def __init__(
        self,
        s3: Callable[[], S3Gateway],
        *,
        bucket: str,
        key_root: str,
        lease_seconds: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], dt.datetime] = utcnow,
        attempts: int = WRITE_ATTEMPTS,
    ) -> None:
        self._gateway = s3
        self.bucket = bucket
        self.key = f"{key_root}/{STATE_OBJECT}"
        self.lease_key = f"{key_root}/{LEASE_OBJECT}"
        self.lease_seconds = lease_seconds
        self._sleep, self._clock, self._now = sleep, clock, now
        self._attempts = attempts
        self._keeper: _LeaseKeeper | None = None  # while this process holds the lease

    def _s3(self) -> S3Gateway:
        return cast("S3Gateway", _StateGateway(self._gateway(), self.bucket))

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def lease_where(self) -> str:
        return f"s3://{self.bucket}/{self.lease_key}"

    # -- the ledger ------------------------------------------------------------------------------------
    def exists(self) -> bool:
        return self._s3().get_versioned_text(self.bucket, self.key) is not None

    def read(self) -> tuple[Ledger, str | None]:
        """The ledger and the ETag it was read at (None: there is no object yet, an empty ledger)."""
        found = self._s3().get_versioned_text(self.bucket, self.key)
        if found is None:
            return Ledger(), None
        body, etag = found
        return parse_ledger(body, where=self.where, backup_hint=_BACKUP_HINT), etag

    def load(self) -> Ledger:
        return self.read()[0]

    def update(self, change: Change) -> Ledger:
        from nikkei_deepar.aws.s3 import ConditionFailed

        if self._keeper is not None and self._keeper.lost is not None:
            raise LockHeldError(
                f"{self.lease_where}: {self._keeper.lost} while this command ran (it could not renew the "
                "lease in time): stopping before writing more",
                hint="another host now changes this workspace; run the command again once it is done",
            )
        for attempt in range(self._attempts):
            ledger, etag = self.read()
            change(ledger)
            try:
                self._s3().put_if(self.bucket, self.key, dump_ledger(ledger), etag=etag)
            except ConditionFailed:
                self._sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))
                continue
            return ledger
        raise StateConflictError(
            f"{self.where}: {self._attempts} writes in a row found the state changed by someone else "
            "(HTTP 412); nothing was written",
            hint="another host or person is writing this workspace's state right now: run the command again",
        )

    def write_whole(self, ledger: Ledger, *, replace: bool) -> None:
        """`state push`: put `ledger` as the state, only where there is none (or over the current one
        with `replace`, still conditional on the version just read)."""
        from nikkei_deepar.aws.s3 import ConditionFailed

        etag = None
        if replace:
            found = self._s3().get_versioned_text(self.bucket, self.key)
            etag = found[1] if found else None
        try:
            self._s3().put_if(self.bucket, self.key, dump_ledger(ledger), etag=etag)
        except ConditionFailed:
            raise StateConflictError(
                f"{self.where}: a state is already there (or changed while pushing); nothing was written",
                hint="`nikkei-deepar state show` shows it; `state push --force` replaces it",
            ) from None

    # -- what doctor asks ------------------------------------------------------------------------------
    def versioning(self) -> str | None:
        """The bucket's versioning: "Enabled", "Suspended" or None (never on). NotFoundError: no bucket."""
        return self._s3().versioning(self.bucket)

    def honours_conditional_writes(self) -> bool:
        """Write a probe object twice with If-None-Match: "*": a store that honours it refuses the second
        (412). The probe is deleted afterwards."""
        from nikkei_deepar.aws.s3 import ConditionFailed

        s3 = self._s3()
        key = self.key.rsplit("/", 1)[0] + f"/.conditional-write-probe-{uuid.uuid4().hex[:12]}"
        etag = s3.put_if(self.bucket, key, b"probe", etag=None, content_type="text/plain")
        try:
            s3.put_if(self.bucket, key, b"probe again", etag=None, content_type="text/plain")
        except ConditionFailed:
            return True
        finally:
            with contextlib.suppress(NikkeiError):
                s3.delete_if(self.bucket, key, etag=etag)
                s3.empty_bucket(self.bucket, prefix=key)
        return False

    # -- the lease -------------------------------------------------------------------------------------
    def current_lease(self) -> tuple[Lease | None, str | None, bool]:
        """(the lease, its ETag, whether an object is there at all) — the lease None with an object
        there means the object is not a lease (truncated or foreign)."""
        found = self._s3().get_versioned_text(self.bucket, self.lease_key)
        if found is None:
            return None, None, False
        return Lease.parse(found[0]), found[1], True

    def lock_holder(self) -> str | None:
        lease, _, there = self.current_lease()
        if not there:
            return None
        if lease is None:
            return f"{self.lease_where}: not a lease this version reads (a truncated or foreign object)"
        if lease.expires <= self._now():
            return None
        return lease.describe()

    @contextlib.contextmanager
    def lock(
        self,
        *,
        command: str = "",
        wait_seconds: float = 0.0,
        on_takeover: Callable[[str], None] | None = None,
    ) -> Iterator[None]:
        lease = self._acquire(command=command, wait_seconds=wait_seconds, on_takeover=on_takeover)
        keeper = _LeaseKeeper(self, lease)
        keeper.start()
        self._keeper = keeper
        try:
            yield
        finally:
            self._keeper = None
            keeper.stop()
            self._release(keeper)

    def _new_lease(self, command: str, *, lease_id: str) -> Lease:
        start = self._now()
        return Lease(
            id=lease_id,
            host=socket.gethostname(),
            pid=os.getpid(),
            command=command,
            started=start,
            expires=start + dt.timedelta(seconds=self.lease_seconds),
        )

    def _acquire(
        self, *, command: str, wait_seconds: float, on_takeover: Callable[[str], None] | None
    ) -> _Held:
        from nikkei_deepar.aws.s3 import ConditionFailed

        lease_id = uuid.uuid4().hex
        deadline = self._clock() + wait_seconds
        while True:
            mine = self._new_lease(command, lease_id=lease_id)
            try:
                etag = self._s3().put_if(self.bucket, self.lease_key, mine.to_json(), etag=None)
                return _Held(mine, etag)
            except ConditionFailed:
                pass
            held, seen, there = self.current_lease()
            if not there or seen is None:
                continue  # released in between: try again at once
            etag = seen
            if held is not None and held.id == lease_id:
                return _Held(held, etag)  # our own PUT, retried by botocore after a timeout, got 412
            if held is None or held.expires <= self._now():
                try:
                    etag = self._s3().put_if(self.bucket, self.lease_key, mine.to_json(), etag=etag)
                except ConditionFailed:
                    continue  # someone else took it over first
                if on_takeover is not None:
                    on_takeover(
                        f"took over the lease at {self.lease_where}"
                        + (
                            f" left by {held.describe()}, which expired"
                            if held
                            else " (not a lease: replaced)"
                        )
                    )
                return _Held(mine, etag)
            if self._clock() >= deadline:
                raise LockHeldError(
                    f"{self.lease_where}: {held.describe()}",
                    hint="wait for that command to finish, or pass --wait-lock SECONDS; a lease whose holder "
                    f"died expires by itself at {_iso(held.expires)} (or: `nikkei-deepar state unlock`)",
                )
            self._sleep(min(1.0, max(0.0, deadline - self._clock())))

    def _release(self, keeper: _LeaseKeeper) -> None:
        from nikkei_deepar.aws.s3 import ConditionFailed

        if keeper.lost is not None:
            return  # someone took it over (we were presumed dead): theirs now, never ours to delete
        try:
            self._s3().delete_if(self.bucket, self.lease_key, etag=keeper.held.etag)
        except ConditionFailed:
            pass  # replaced since: not ours to delete
        except NikkeiError:
            pass  # unreachable now: the lease expires by itself

    def renew(self, held: _Held) -> _Held:
        lease = held.lease
        start = self._now()
        renewed = Lease(
            id=lease.id,
            host=lease.host,
            pid=lease.pid,
            command=lease.command,
            started=lease.started,
            expires=start + dt.timedelta(seconds=self.lease_seconds),
        )
        etag = self._s3().put_if(self.bucket, self.lease_key, renewed.to_json(), etag=held.etag)
        return _Held(renewed, etag)

    def break_lease(self) -> Lease | None:
        """`state unlock --force`: delete the lease (at the version just read). Returns what it held."""
        lease, etag, there = self.current_lease()
        if not there or etag is None:
            return None
        self._s3().delete_if(self.bucket, self.lease_key, etag=etag)
        return lease


@dataclass(frozen=True)
class _Held:
    lease: Lease
    etag: str


class _LeaseKeeper:
    """Renews the lease in the background every third of its length while the command runs."""

    def __init__(self, store: S3StateStore, held: _Held) -> None:
        self.store = store
        self.held = held
        self.lost: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nikkei-deepar-lease", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        from nikkei_deepar.aws.s3 import ConditionFailed

        interval = max(0.5, self.store.lease_seconds / 3)
        while not self._stop.wait(interval):
            try:
                self.held = self.store.renew(self.held)
            except ConditionFailed:
                self.lost = "the lease was taken over by another host"
                return
            except NikkeiError:
                continue  # a network blip: try again at the next interval, the lease still runs


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class S3History:
    """The forecast history beside a remote state: each forecast its own object under `.../history/`,
    written with If-None-Match: "*", so two hosts' forecasts never contend and none is ever overwritten.
    A corrupt or truncated object is reported with its key and skipped, never rewritten."""

    def __init__(self, s3: Callable[[], S3Gateway], *, bucket: str, key_root: str) -> None:
        self._gateway = s3
        self.bucket = bucket
        self.prefix = f"{key_root}/history/"

    def _s3(self) -> S3Gateway:
        return cast("S3Gateway", _StateGateway(self._gateway(), self.bucket))

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def append(self, record: ForecastRecord) -> str:
        from nikkei_deepar.aws.s3 import ConditionFailed

        # the origin first: a listing comes back in the order the forecasts were made for
        key = f"{self.prefix}{record.origin.isoformat()}-{record.id}.json"
        try:
            self._s3().put_if(self.bucket, key, record.to_line(), etag=None)
        except ConditionFailed:
            raise StateConflictError(
                f"s3://{self.bucket}/{key}: a forecast with this id is already kept; nothing was overwritten",
                hint="run predict again: every forecast gets a new id",
            ) from None
        return f"s3://{self.bucket}/{key}"

    def entries(self) -> tuple[list[ForecastRecord], list[str]]:
        from nikkei_deepar.history import parse_entry

        s3 = self._s3()
        records: list[ForecastRecord] = []
        problems: list[str] = []
        for key in s3.keys_under(self.bucket, self.prefix):
            found = s3.get_versioned_text(self.bucket, key)
            if found is None:
                continue  # deleted since the listing
            try:
                records.append(parse_entry(found[0], where=f"s3://{self.bucket}/{key}"))
            except VersionError:
                raise
            except DataError as exc:
                problems.append(f"{exc.message}: skipped")
        return records, problems
