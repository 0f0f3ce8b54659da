"""Where an instance-hour price comes from: the config, the AWS Price List API (cached), or the table.

Order: `[costs.hourly_usd]` (the user's own numbers) > the AWS Price List API's on-demand hosting
price for the region (asked at most once a day per region and instance type, cached in the tool's
home as `prices.json`) > the built-in dated table in costs.py. Every answer says which one it is, so
a figure is never shown without its source and date. A failed lookup is remembered for an hour (a
command run every few minutes does not wait for an unreachable API each time) and the table is used.

No boto3 here: the lookup is a callable (the pricing gateway's `hosting_price`, or a test's script).
The cache is written atomically; a damaged or unknown cache file is ignored and rewritten. It is not
trusted either: it is read as price files are (`files.read_regular`: a regular file of at most
MAX_CACHE_BYTES, never blocking: a FIFO or a symlink to /dev/zero is ignored with a warning), and a
price, cached or just asked, is used only within a factor of the built-in table's
(`costs.implausible_price`): a cached $1e-300 an hour is ignored with one warning and asked again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nikkei_deepar.costs import implausible_price
from nikkei_deepar.files import FileRefused, read_regular, write_atomic

CACHE_FILE = "prices.json"
CACHE_VERSION = 1
FRESH_FOR = dt.timedelta(days=1)
FAILED_FOR = dt.timedelta(hours=1)
PRICE_LIST = "AWS Price List API"
MAX_CACHE_BYTES = 1024 * 1024  # an entry is ~100 bytes: every region and type AWS has fits many times


def _ignore(_: str) -> None:
    pass


@dataclass(frozen=True)
class LivePrice:
    """A price the Price List API gave, or the reason it gave none."""

    usd_per_hour: float | None
    fetched_at: dt.datetime
    cached: bool  # True: read from prices.json, not asked now
    reason: str | None = None  # why there is no price (None when there is one)

    @property
    def date(self) -> str:
        return self.fetched_at.date().isoformat()

    def describe(self) -> str:
        if self.usd_per_hour is None:
            return f"{PRICE_LIST} unavailable ({self.reason})"
        return f"{PRICE_LIST}, fetched {self.date}" + (" (cached)" if self.cached else "")


Lookup = Callable[[str, str], float]
"""(instance type, region) -> USD per instance-hour; raises an exception with a `reason` to say none."""


def live_price(
    instance_type: str,
    region: str,
    *,
    lookup: Lookup,
    home: Path,
    now: dt.datetime | None = None,
    warn: Callable[[str], None] = _ignore,
) -> LivePrice:
    """The Price List price for `instance_type` in `region`, from the cache when it is fresh enough and
    plausible; `warn` hears (once) why a cache file or entry was ignored."""
    now = now or dt.datetime.now(dt.UTC)
    key = f"{region}/{instance_type}"
    entries = _read(home, warn)
    entry = entries.get(key)
    if entry is not None:
        cached = _from_entry(entry)
        why = None if cached is None else _implausible(instance_type, region, cached)
        if why is not None:
            warn(f"{home / CACHE_FILE}: cached price ignored: {why}; asking the {PRICE_LIST} again")
            cached = None
        if cached is not None:
            ttl = FRESH_FOR if cached.usd_per_hour is not None else FAILED_FOR
            if dt.timedelta(0) <= now - cached.fetched_at < ttl:
                return cached
    try:
        price: float | None = float(lookup(instance_type, region))
        reason = None
    except Exception as exc:  # any lookup problem means "use the table", never a failed command
        price, reason = None, str(getattr(exc, "reason", None) or type(exc).__name__)
    if price is not None and (why := implausible_price(instance_type, region, price)) is not None:
        price, reason = None, f"answered {why}"
    entries[key] = {"usd_per_hour": price, "fetched_at": now.isoformat(), "reason": reason}
    _write(home, entries)
    return LivePrice(price, now, cached=False, reason=reason)


def _implausible(instance_type: str, region: str, cached: LivePrice) -> str | None:
    if cached.usd_per_hour is None:  # a failure remembered: nothing to believe or doubt
        return None
    return implausible_price(instance_type, region, cached.usd_per_hour)


def _from_entry(entry: Any) -> LivePrice | None:
    try:
        fetched = dt.datetime.fromisoformat(str(entry["fetched_at"]))
        if fetched.tzinfo is None:
            return None
        price = entry.get("usd_per_hour")
        if price is not None:
            price = float(price)
            if not 0 < price < float("inf"):
                return None
        reason = entry.get("reason")
        return LivePrice(price, fetched, cached=True, reason=str(reason) if reason else None)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _read(home: Path, warn: Callable[[str], None]) -> dict[str, Any]:
    path = home / CACHE_FILE
    try:
        data = json.loads(read_regular(path, max_bytes=MAX_CACHE_BYTES).decode("utf-8"))
    except FileRefused as exc:  # a FIFO would block `status` for ever; /dev/zero would fill the memory
        warn(f"{path}: the price cache is {exc.reason}, not a cache file: ignored (it is rewritten)")
        return {}
    except (OSError, ValueError, RecursionError):  # missing, unreadable, not UTF-8 or not JSON
        return {}
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
        return {}
    entries = data.get("entries")
    return dict(entries) if isinstance(entries, dict) else {}


def _write(home: Path, entries: dict[str, Any]) -> None:
    body = json.dumps({"version": CACHE_VERSION, "entries": entries}, indent=1, sort_keys=True)
    # a cache that cannot be written only means asking again next time
    with contextlib.suppress(OSError):
        write_atomic(home / CACHE_FILE, body.encode("utf-8") + b"\n", mode=0o600)
