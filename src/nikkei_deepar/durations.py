"""Durations as people write them in the config and on the command line: "24h", "90m", "7d", "1d12h".

A leaf: no imports from the package. Used by `[endpoint] expires_after` / `deploy --expires-in` (through
config.py) and by the words `status` and `deploy` print.
"""

from __future__ import annotations

import datetime as dt
import re

_DURATION_RE = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")
DURATION_OFF = "off"
# An expiry shorter than this could fire while deploy still waits for the endpoint to come up.
MIN_EXPIRY = dt.timedelta(minutes=15)
MAX_EXPIRY = dt.timedelta(days=365)


def parse_duration(text: str) -> dt.timedelta:
    """`"24h"`, `"90m"`, `"7d"`, `"1d12h"`, `"2h30m"` -> a timedelta (whole minutes; days, hours, minutes in
    that order). ValueError with a sentence saying what is accepted."""
    match = _DURATION_RE.fullmatch(text.strip().lower())
    if not text.strip() or match is None or not any(match.groups()):
        raise ValueError(
            f'a duration is a number of days, hours and/or minutes such as "24h", "90m", "7d" or "1d12h", '
            f'or "off" (got {text!r})'
        )
    days, hours, minutes = (int(g or 0) for g in match.groups())
    return dt.timedelta(days=days, hours=hours, minutes=minutes)


def check_expiry(text: str) -> str:
    """A valid `expires_after` / `--expires-in` value, normalised (lower case, stripped)."""
    value = text.strip().lower()
    if value == DURATION_OFF:
        return value
    span = parse_duration(value)
    if not MIN_EXPIRY <= span <= MAX_EXPIRY:
        raise ValueError(
            f'an endpoint expiry must be between 15m and 365d (got {text!r}); use "off" for no expiry'
        )
    return value


def format_duration(span: dt.timedelta) -> str:
    """The inverse of parse_duration for whole minutes: 1 day 2 hours -> "1d2h"."""
    minutes = int(span.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    text = (f"{days}d" if days else "") + (f"{hours}h" if hours else "") + (f"{mins}m" if mins else "")
    return text or "0m"
