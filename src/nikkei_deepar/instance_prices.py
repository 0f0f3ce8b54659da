"""Where an instance-hour price comes from: the config, the AWS Price List API (cached), or the table.

Order: `[costs.hourly_usd]` (the user's own numbers) > the AWS Price List API's on-demand hosting
price for the region (asked at most once a day per region and instance type, cached in the tool's
home as `prices.json`) > the built-in dated table in costs.py. Every answer says which one it is, so
a figure is never shown without its source and date. A failed lookup is remembered for an hour (a
command run every few minutes does not wait for an unreachable API each time) and the table is used.

No boto3 here: the lookup is a callable (the pricing gateway's `hosting_price`, or a test's script).
The cache is written atomically; a damaged or unknown cache file is ignored and rewritten.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nikkei_deepar.files import write_atomic

CACHE_FILE = "prices.json"
CACHE_VERSION = 1
FRESH_FOR = dt.timedelta(days=1)
FAILED_FOR = dt.timedelta(hours=1)
PRICE_LIST = "AWS Price List API"


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
) -> LivePrice:
    """The Price List price for `instance_type` in `region`, from the cache when it is fresh enough."""
    now = now or dt.datetime.now(dt.UTC)
    key = f"{region}/{instance_type}"
    entries = _read(home)
    entry = entries.get(key)
    if entry is not None:
        cached = _from_entry(entry)
        if cached is not None:
            ttl = FRESH_FOR if cached.usd_per_hour is not None else FAILED_FOR
            if dt.timedelta(0) <= now - cached.fetched_at < ttl:
                return cached
    try:
        price: float | None = float(lookup(instance_type, region))
        reason = None
    except Exception as exc:  # any lookup problem means "use the table", never a failed command
        price, reason = None, str(getattr(exc, "reason", None) or type(exc).__name__)
    entries[key] = {"usd_per_hour": price, "fetched_at": now.isoformat(), "reason": reason}
    _write(home, entries)
    return LivePrice(price, now, cached=False, reason=reason)


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


def _read(home: Path) -> dict[str, Any]:
    try:
        data = json.loads((home / CACHE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
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
