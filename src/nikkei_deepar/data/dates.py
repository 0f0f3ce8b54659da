"""Read the date column of a price file: which forms a date cell may take, and what day each one is.

Pure: no network, no files, no printing. `prices` finds the date cells; this module owns everything
about reading them, and errors are `DataError`s in the same one-line ``"<source>:<line>: <cause>"``
form, with what to do in `hint`.

- Forms: ``2021/01/04``, ``2018/1/4``, ``2017-01-04``, ISO with a time (ignored), ``20170104``,
  ``2020年12月30日``, ``Feb 22, 2021``, ``22-Feb-2021`` and ``a/b/y`` forms (``04/04/2025``,
  ``7/22/25``). `match_date` only says which form a cell has, so a caller can tell a date-shaped cell
  from a note or footer before any date is read; `to_dates` then reads the whole column.
- Month-first vs day-first for ``a/b/y`` is decided from the whole column, never per cell: a first
  field above 12 means day-first, a second field above 12 month-first, both is an error, neither is
  ambiguous and an error unless `date_order` says ("ymd" reads them as YY/MM/DD). Dates that start
  with a four-digit year are always year-month-day.
- Two-digit years: 00-69 are 20xx, 70-99 19xx.
- A date-shaped cell that is no real date (2021/02/30) is an error naming its line.
- A real date outside the index's life is an error too, "date out of range", never "cannot read
  date": the Nikkei 225's first session was 1949-05-16 (`FIRST_SESSION`), and no close is dated after
  `latest` (the caller's "tomorrow in Tokyo"). Dates pandas cannot hold (after 2262-04-11, such as a
  typo 2262/4/12) are out of range whatever `latest` is. This check cannot be turned off.
- One exception, because full-history downloads have it: rows before the first session that lead the
  file's history (back-filled quarterly values from 1914, stooq's monthly points before 1949) are
  handed back to be dropped (`DatedColumn.early`), not refused, when they are the file's first rows
  (its last, in a newest-first file) and the history goes on from them, its first later date within
  `HISTORY_JOINS` of `FIRST_SESSION`. An isolated early date among later ones, or a leading one in a
  file that starts decades later (1921 for 2021), is still a typo and refused.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from nikkei_deepar.errors import DataError

DateOrder = Literal["auto", "ymd", "mdy", "dmy"]
DateMatch = tuple[str, dict[str, str]]
"""The form a date cell matched (a key of `_DATE_FORMS`) and its named fields."""

__all__ = ["FIRST_SESSION", "DateMatch", "DateOrder", "DatedColumn", "match_date", "quote_cell", "to_dates"]

FIRST_SESSION = datetime.date(1949, 5, 16)
"""The Nikkei 225's first session (the Tokyo Stock Exchange reopened after the war): no close is older."""
HISTORY_JOINS = datetime.timedelta(days=366)
"""A file whose first date on or after `FIRST_SESSION` lies within this of it carries the index's
history from its start: its leading rows before that are back-filled history, not typos."""


@dataclass(frozen=True, eq=False)  # eq=False: comparing numpy arrays field by field would raise
class DatedColumn:
    """A date column read: the dates, the formats they were read as (for the report), and `early`, a
    mask of the leading rows dated before `FIRST_SESSION` that the caller drops (all False but for a
    full-history file)."""

    dates: pd.DatetimeIndex
    date_format: str
    early: np.ndarray


_MONTH_NAMES = (
    *("january", "february", "march", "april", "may", "june"),
    *("july", "august", "september", "october", "november", "december"),
)
_MONTHS = (
    {name: i for i, name in enumerate(_MONTH_NAMES, 1)}
    | {name[:3]: i for i, name in enumerate(_MONTH_NAMES, 1)}
    | {"sept": 9}
)

_MONTH = "(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})?)?"
_DATE_FORMS = {
    "ymd": re.compile(rf"(?P<y>\d{{4}})(?P<sep>[/.-])(?P<m>\d{{1,2}})(?P=sep)(?P<d>\d{{1,2}}){_TIME}"),
    "ymd8": re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})"),
    "jp": re.compile(r"(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日?"),
    "mon": re.compile(rf"{_MONTH}\s+(?P<d>\d{{1,2}}),?\s+(?P<y>\d{{4}})", re.IGNORECASE),
    "dmon": re.compile(rf"(?P<d>\d{{1,2}})(?P<sep>[\s-]){_MONTH}[\s-](?P<y>\d{{4}}|\d{{2}})", re.IGNORECASE),
    "aby": re.compile(
        rf"(?P<a>\d{{1,2}})(?P<sep>[/.-])(?P<b>\d{{1,2}})(?P=sep)(?P<y>\d{{4}}|\d{{2}}){_TIME}"
    ),
}


def quote_cell(value: str) -> str:
    """A cell as error messages show it: quoted, and cut short when long."""
    return repr(value if len(value) <= 40 else value[:37] + "...")


def match_date(cell: str) -> DateMatch | None:
    """The form of a date-shaped cell, or None; whether it is a real date is `to_dates`' question."""
    cell = cell.strip("\"' ")
    for form, pattern in _DATE_FORMS.items():
        if (match := pattern.fullmatch(cell)) is not None:
            return form, match.groupdict()
    return None


def to_dates(
    matches: Sequence[DateMatch],
    lines: np.ndarray,
    cells: Sequence[str],
    source: str,
    date_order: DateOrder,
    latest: datetime.date | None = None,
) -> DatedColumn:
    """The dates of a column of matched cells (in file order), and the formats they were read as.

    `lines` and `cells` are the line numbers and raw cells of `matches`, for messages. Every date must
    lie between `FIRST_SESSION` and `latest` (None: no upper bound but pandas' own, 2262-04-11), but
    for a full-history file's leading rows before `FIRST_SESSION` (`DatedColumn.early`).
    """
    aby = [k for k, (form, _) in enumerate(matches) if form == "aby"]
    order = _resolve_order(aby, matches, lines, cells, source, date_order) if aby else date_order
    years, months, days = [], [], []
    formats: dict[str, str] = {}
    for form, g in matches:
        if form in ("mon", "dmon"):
            y, m, d = _year(g["y"]), _MONTHS.get(g["mon"].casefold(), 0), int(g["d"])
        elif form != "aby":
            y, m, d = int(g["y"]), int(g["m"]), int(g["d"])
        elif order == "ymd":  # YY/MM/DD; a four-digit last field cannot be a day
            y, m, d = _year(g["a"]), int(g["b"]), (int(g["y"]) if len(g["y"]) == 2 else 0)
        else:
            first, second = int(g["a"]), int(g["b"])
            y, (m, d) = _year(g["y"]), ((first, second) if order == "mdy" else (second, first))
        years.append(y)
        months.append(m)
        days.append(d)
        if form not in formats:
            formats[form] = _describe(form, g, order)
    parts = pd.DataFrame({"year": years, "month": months, "day": days})
    dates = pd.DatetimeIndex(pd.to_datetime(parts, errors="coerce"))
    unread = np.asarray(dates.isna())
    outside = np.asarray(dates < pd.Timestamp(FIRST_SESSION))
    if latest is not None:
        outside |= np.asarray(dates > pd.Timestamp(latest))
    date_format = " and ".join(formats.values())
    if not (unread.any() or outside.any()):  # the happy path: two vectorised comparisons
        return DatedColumn(dates, date_format, np.zeros(len(dates), dtype=bool))
    # A date pandas cannot hold (year 2262 and later, before 1677) may still be a real date.
    real = {int(k): day for k in np.flatnonzero(unread) if (day := _real_date(years[k], months[k], days[k]))}
    outside[list(real)] = True
    early = _leading_history(dates, unread)
    outside &= ~early
    if not (unread.any() or outside.any()):
        return DatedColumn(dates, date_format, early)
    k = int(np.flatnonzero(unread | outside)[0])
    if k not in real and unread[k]:
        raise DataError(
            f"{source}:{lines[k]}: cannot read date {quote_cell(cells[k])}",
            hint=f"Dates are read as {formats[matches[k][0]]}; fix or delete the line"
            + (" or set [data] date_order." if matches[k][0] == "aby" else "."),
        )
    day = real[k] if k in real else pd.Timestamp(dates[k]).date()
    more = int(outside.sum()) - 1
    if day < FIRST_SESSION:
        why = f"before the Nikkei 225's first session ({FIRST_SESSION})"
        hint = (
            f"Fix the year, or delete the lines dated before {FIRST_SESSION} (the index did not exist); "
            f"a file's leading rows before it are dropped only when its history goes on from {FIRST_SESSION}."
        )
    else:
        why = "after tomorrow in Tokyo" + (f" ({latest})" if latest is not None else "")
        hint = "Fix the year (a typo such as 2202 for 2022?) or delete the line."
    raise DataError(
        f"{source}:{lines[k]}: date out of range: {quote_cell(cells[k])} is {day}, {why}"
        + (f"; {more} more line{'s' if more > 1 else ''} out of range" if more else ""),
        hint=hint + " This check cannot be turned off.",
    )


def _leading_history(dates: pd.DatetimeIndex, unread: np.ndarray) -> np.ndarray:
    """The rows before FIRST_SESSION that lead the file (its first rows, or its last ones in a
    newest-first file) when the rest of its history starts within HISTORY_JOINS of FIRST_SESSION; else
    none. Early rows elsewhere are left to be refused as typos."""
    before: np.ndarray = np.asarray(dates < pd.Timestamp(FIRST_SESSION)) & ~unread
    later = dates[~before & ~unread]
    if not before.any() or later.empty:
        return np.zeros(len(dates), dtype=bool)
    run = np.zeros(len(dates), dtype=bool)
    if later[0] <= later[-1]:  # oldest first: the history's head is the file's first rows
        head = int(np.argmin(before)) if not before.all() else len(before)
        run[:head] = True
    else:  # newest first: its last rows
        tail = int(np.argmin(before[::-1]))
        run[len(run) - tail :] = True
    if pd.Timestamp(later.min()).date() > FIRST_SESSION + HISTORY_JOINS:
        return np.zeros(len(dates), dtype=bool)
    return run


def _real_date(year: int, month: int, day: int) -> datetime.date | None:
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return None


def _resolve_order(
    aby: Sequence[int],
    matches: Sequence[DateMatch],
    lines: np.ndarray,
    cells: Sequence[str],
    source: str,
    date_order: DateOrder,
) -> DateOrder:
    if date_order != "auto":
        return date_order
    day_first = next((k for k in aby if int(matches[k][1]["a"]) > 12), None)
    month_first = next((k for k in aby if int(matches[k][1]["b"]) > 12), None)
    if day_first is not None and month_first is not None:
        raise DataError(
            f"{source}:{lines[month_first]}: dates mix day-first and month-first: "
            f"{quote_cell(cells[day_first])} (line {lines[day_first]}) is day-first, "
            f"{quote_cell(cells[month_first])} is month-first",
            hint="Fix the dates so that the whole column uses one order.",
        )
    if day_first is not None:
        return "dmy"
    if month_first is not None:
        return "mdy"
    raise DataError(
        f"{source}: the date order is ambiguous: no date tells month/day from day/month "
        f"(the first is {quote_cell(cells[aby[0]])})",
        hint='Set [data] date_order = "mdy" (month first, US style) or "dmy" (day first) in the config.',
    )


def _year(digits: str) -> int:
    """Two-digit years: 00-69 are 2000-2069, 70-99 are 1970-1999."""
    year = int(digits)
    if len(digits) == 2:
        return 2000 + year if year <= 69 else 1900 + year
    return year


def _describe(form: str, g: dict[str, str], order: DateOrder) -> str:
    sep = g.get("sep", "")
    year = "YY" if len(g.get("y", "")) == 2 else "YYYY"
    if form == "ymd":
        return f"%Y{sep}%m{sep}%d"
    if form == "aby":
        fields = {"mdy": ("M", "D", year), "dmy": ("D", "M", year), "ymd": ("YY", "M", "D")}[order]
        return sep.join(fields)
    if form == "dmon":
        return f"D{sep}Mon{sep}{year}"
    return {"ymd8": "%Y%m%d", "jp": "Japanese 年月日", "mon": "Mon D, YYYY"}[form]
