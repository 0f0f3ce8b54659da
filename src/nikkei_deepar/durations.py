"""Durations as people write them in the config and on the command line: "24h", "90m", "7d", "1d12h".

A leaf: no imports from the package. Used by `[endpoint] expires_after` / `deploy --expires-in` (through
config.py) and by the words `status` and `deploy` print.
"""

from __future__ import annotations

import datetime as dt
import re

# ASCII digits only: `\d` would also take "２" (full-width) or "٢" (Arabic-Indic) and read them as 2.
_DURATION_RE = re.compile(r"(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?")
DURATION_OFF = "off"
# An expiry shorter than this could fire while deploy still waits for the endpoint to come up.
MIN_EXPIRY = dt.timedelta(minutes=15)
MAX_EXPIRY = dt.timedelta(days=365)
# Longer than any timedelta (999,999,999 days): such a number is a typo, never a duration.
_MINUTE = dt.timedelta(minutes=1)
_MAX_MINUTES = dt.timedelta.max // _MINUTE
_MAX_DIGITS = 13  # 14 digits are past _MAX_MINUTES (1.44e12) whatever the unit: never parsed as int


def parse_duration(text: str) -> dt.timedelta:
    """`"24h"`, `"90m"`, `"7d"`, `"1d12h"`, `"2h30m"` -> a timedelta (whole minutes; days, hours, minutes in
    that order). Spaces around it and the letters' case do not matter; anything else (a newline, a
    full-width digit) does. ValueError with a sentence saying what is accepted."""
    minutes = _minutes(text)
    if minutes > _MAX_MINUTES:
        raise ValueError(f"a duration of {_short(text)} is longer than any this tool can count")
    return dt.timedelta(minutes=minutes)


def check_expiry(text: str) -> str:
    """A valid `expires_after` / `--expires-in` value, normalised (lower case, spaces stripped)."""
    value = text.strip(" ").lower()
    if value == DURATION_OFF:
        return value
    if not MIN_EXPIRY // _MINUTE <= _minutes(value) <= MAX_EXPIRY // _MINUTE:
        raise ValueError(
            f'an endpoint expiry must be between 15m and 365d (got {_short(text)}); use "off" for no expiry'
        )
    return value


def _minutes(text: str) -> int:
    """The whole minutes `text` says, as a Python int (never a timedelta: 99999999999999999999d would
    overflow one); a number with more than _MAX_DIGITS digits counts as longer than _MAX_MINUTES."""
    value = text.strip(" ").lower()
    match = _DURATION_RE.fullmatch(value)
    if match is None or not any(match.groups()):
        ascii_only = "" if value.isascii() else " in ASCII digits and letters"
        raise ValueError(
            f'a duration is a number of days, hours and/or minutes{ascii_only} such as "24h", "90m", '
            f'"7d" or "1d12h", or "off" (got {_short(text)})'
        )
    if any(len(group or "") > _MAX_DIGITS for group in match.groups()):
        return _MAX_MINUTES + 1
    days, hours, minutes = (int(group or 0) for group in match.groups())
    return (days * 24 + hours) * 60 + minutes


def _short(text: str, limit: int = 40) -> str:
    """`text` quoted for a one-line message (repr: a newline shows as \\n), cut short when long."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text)} characters)"


def format_duration(span: dt.timedelta) -> str:
    """The inverse of parse_duration for whole minutes: 1 day 2 hours -> "1d2h"."""
    minutes = int(span.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    text = (f"{days}d" if days else "") + (f"{hours}h" if hours else "") + (f"{mins}m" if mins else "")
    return text or "0m"
