"""Times for people: in the user's time zone, with the zone named ("2026-12-07 18:30 JST").

A leaf. The zone is `[output] timezone` if set, else $TZ (an IANA name such as Asia/Tokyo), else this
machine's own zone. Only what people read is converted: --json, the ledger and the history keep UTC,
ISO 8601.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def display_zone(setting: str | None, *, env: Mapping[str, str] | None = None) -> dt.tzinfo | None:
    """The zone times are shown in; None: this machine's local zone (what `astimezone()` uses)."""
    env = os.environ if env is None else env
    for name in (setting, (env.get("TZ") or "").lstrip(":")):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue  # a POSIX TZ string such as JST-9: the machine's zone follows it anyway
    return None


def local_time(when: dt.datetime | str | None, zone: dt.tzinfo | None, *, seconds: bool = False) -> str:
    """`when` (aware, or an ISO 8601 string; naive means UTC) in `zone`, the zone named; "?" for None,
    the text itself for a string that is not a time."""
    if when is None:
        return "?"
    if isinstance(when, str):
        try:
            parsed = dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            return when
        when = parsed
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    shown = when.astimezone(zone)
    return f"{shown:%Y-%m-%d %H:%M{':%S' if seconds else ''}} {shown.tzname() or shown.strftime('%z')}"
