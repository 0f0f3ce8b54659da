"""Which line of a price file is its header, and which columns hold the dates and the close.

Pure: no network, no files, no printing. `prices` splits the file into rows of cells and hands them
here; every refusal is a `DataError` in the reader's one-line ``"<source>:<line>: <cause>"`` form,
with the exact fix in `hint`. In order:

1. A header line names a date column (データ日付, 日付, Date, observation_date, 日期 (Chinese), Data
   (Polish), ...) and a close column: 終値, Close, Price, PX_LAST, NIKKEI225, then other languages'
   names (收盘, Zamkniecie, ...), the first present wins (so kabuoji3's 終値, not 終値調整値). Names
   are compared after NFKC, without quotes, BOM or spaces, ignoring case. yfinance's three-line header
   (``Price,Close,...`` / ``Ticker,...`` / ``Date,,,``) is one header whose first column holds the
   dates. Without an exact close name, a column whose name contains one (``stock_終値``,
   ``Close_N225``) is taken with a note; two such columns are an error; adjusted columns (``adj``,
   ``調整``) are never guessed.
2. A header line that names a date column but no close (``date,value``): the one column of numbers
   below it is the close, with a note, unless its name says it is something else (volume, open,
   high, low, a change): a file with one date and one number per line needs no setting.
3. No line names a date column. The first line holding a date and a number starts the data; the line
   just above it, when it is all words (``Day,Close``), is the header, read as in 1 and 2. Otherwise
   the file has no header (the official download with its header cut off), and its columns are read
   only when that is unambiguous: a single column of numbers, or the official column order (date,
   close, open, high, low: every row's 4th column is its highest, its 5th its lowest). Anything else
   is refused with the hint to set ``[data] close_column`` to the close's column number.

`close_column` (``[data] close_column``) overrides: a name, or a column number counted from 1 (the
only way to pick a column of a file without a header, and the only way to get Adj Close).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from nikkei_deepar.data.dates import match_date
from nikkei_deepar.errors import DataError

__all__ = ["MISSING", "Header", "blank", "cell", "find_header", "is_number", "key"]

# Names are compared as `key` makes them: NFKC, no quotes/BOM/whitespace, casefolded.
_DATE_NAMES = frozenset(
    {"データ日付", "日付", "日付け", "年月日", "date", "dates", "dateofdata", "observation_date", "datetime"}
    # investing.com and stooq in other languages: 日期 (Chinese), Data (Polish, Italian, Portuguese),
    # Datum (German, Dutch), Fecha (Spanish), 날짜 (Korean), Дата (Russian), Tarih (Turkish)
    | {"日期", "data", "datum", "fecha", "날짜", "дата", "tarih"}
)
# (key, as shown in messages); the first present wins, so the English and Japanese names come first
_CLOSE = (
    ("終値", "終値"),
    ("close", "Close"),
    ("price", "Price"),
    ("px_last", "PX_LAST"),
    ("nikkei225", "NIKKEI225"),
    # investing.com's close in other languages, stooq's Polish one
    ("收盘", "收盘"),
    ("收盤", "收盤"),
    ("zamkniecie", "Zamkniecie"),
    ("zamknięcie", "Zamknięcie"),
    ("종가", "종가"),
    ("schluss", "Schluss"),
    ("zuletzt", "Zuletzt"),
    ("dernier", "Dernier"),
    ("último", "Último"),
    ("ultimo", "Ultimo"),
    ("fechamento", "Fechamento"),
    ("chiusura", "Chiusura"),
    ("закрытие", "Закрытие"),
)
_CLOSE_NAMES = tuple(name for name, _ in _CLOSE)
_CLOSE_DISPLAY = dict(_CLOSE)
_ADJUSTED = ("adj", "調整")  # never guessed from a name: only `close_column` picks an adjusted close
# A lone column of numbers is not taken as the close when its name says it is something else.
_NOT_CLOSE = (
    *_ADJUSTED,
    "vol",
    "出来高",
    "open",
    "high",
    "low",
    "始値",
    "高値",
    "安値",
    "change",
    "%",
    "前日比",
)
_NUMBER_JUNK = re.compile(r"[\s\",']")
MISSING = frozenset({"", "-", "--", ".", "null", "nan", "na", "n/a", "#n/a", "#n/an/a"})
_COLUMN_NUMBER = re.compile(r"[1-9][0-9]{0,3}")
_NUMBER_HINT = "(1 is the first column)"
NUMBERS_TOLERANCE = 0.1  # the share of a column's cells that may be typos before it is no column of numbers


@dataclass(frozen=True)
class Header:
    """Where the data is: `index` is the row index of the header line (its line number minus one), or
    of the first data line when the file has none (`headerless`)."""

    index: int
    names: tuple[str, ...]
    date_idx: int
    close_idx: int
    data_from: int  # row index of the first line after the header (yfinance's takes three lines)
    note: str | None = None  # how the close column was found, when its name was not an exact one
    headerless: bool = False

    @property
    def column(self) -> str:
        return self.names[self.close_idx]

    @property
    def line(self) -> int:
        """The header's line number; 0 when the file has none."""
        return 0 if self.headerless else self.index + 1


def key(cell: str) -> str:
    # `*`: Yahoo's web table says "Close*" and "Adj Close**"
    return re.sub(r"[\s\"'*\ufeff]", "", unicodedata.normalize("NFKC", cell)).casefold()


def blank(cells: Sequence[str]) -> bool:
    return not any(cells)


def cell(cells: Sequence[str], index: int) -> str:
    return cells[index] if index < len(cells) else ""


def is_number(text: str) -> bool:
    try:
        return math.isfinite(float(_NUMBER_JUNK.sub("", text)))
    except ValueError:
        return False


def find_header(rows: Sequence[list[str]], source: str, close_column: str | None) -> Header:
    """The header of a file split into `rows` of cells (see the module docstring), or DataError."""
    dated: tuple[int, tuple[str, ...], int] | None = None  # first line with a date column, for fallbacks
    for i, cells in enumerate(rows):
        keys = [key(c) for c in cells]
        names = _names(cells)
        date_idx = next((j for j, k in enumerate(keys) if k in _DATE_NAMES), None)
        data_from = i + 1
        if date_idx is None:
            if _pick_close(keys, 0, close_column) is None or (below := _yfinance_dates_row(rows, i)) is None:
                continue
            date_idx, data_from, names[0] = 0, below + 1, rows[below][0]
        if (found := _close_by_name(keys, names, date_idx, source, i, close_column)) is not None:
            close_idx, note = found
            return Header(i, tuple(names), date_idx, close_idx, data_from, note)
        dated = dated or (i, tuple(names), date_idx)
    if dated is not None:
        index, names_found, date_idx = dated
        return _by_numbers(rows, source, close_column, index, names_found, date_idx, index + 1)
    return _without_date_name(rows, source, close_column)


def _names(cells: Sequence[str]) -> list[str]:
    return [re.sub(r"^[\s\"'\ufeff]+|[\s\"']+$", "", c) for c in cells]


def _close_by_name(
    keys: Sequence[str], names: Sequence[str], date_idx: int, source: str, i: int, close_column: str | None
) -> tuple[int, str | None] | None:
    """(the close column, a note when its name was not exact) on a header line, or None."""
    if (close_idx := _pick_close(keys, date_idx, close_column)) is not None:
        return close_idx, None
    if close_column is None and (close_idx := _guess_close(keys, names, date_idx, source, i)) is not None:
        contains = _CLOSE_DISPLAY[_close_name(keys[close_idx])]
        return close_idx, (
            f"column '{names[close_idx]}' taken as the close (its name contains '{contains}'); "
            "set [data] close_column to choose another"
        )
    return None


def _pick_close(keys: Sequence[str], date_idx: int, close_column: str | None) -> int | None:
    wanted = (key(close_column),) if close_column is not None else _CLOSE_NAMES
    for name in wanted:
        for j, k in enumerate(keys):
            if k == name and j != date_idx:
                return j
    return None


def _close_name(k: str) -> str:
    return next(name for name in _CLOSE_NAMES if name in k)


def _guess_close(keys: Sequence[str], names: Sequence[str], date_idx: int, source: str, i: int) -> int | None:
    """Without an exact close name: the one column whose name contains one (``stock_終値``,
    ``Close_N225``), trying the names in order; two candidates for a name are refused."""
    for name in _CLOSE_NAMES:
        found = [
            j
            for j, k in enumerate(keys)
            if name in k and j != date_idx and not any(w in k for w in _ADJUSTED)
        ]
        if len(found) == 1:
            return found[0]
        if found:
            columns = ", ".join(f"'{names[j]}'" for j in found)
            raise DataError(
                f"{source}:{i + 1}: cannot tell the close column: {columns} all contain "
                f"'{_CLOSE_DISPLAY[name]}' and none is named exactly so",
                hint='Set [data] close_column = "<name>" in the config to the column that holds the close.',
            )
    return None


def _yfinance_dates_row(rows: Sequence[list[str]], i: int) -> int | None:
    """The row index of yfinance's ``Date,,,`` line one or two lines below `i`, if there is one."""
    for j in range(i + 1, min(i + 3, len(rows))):
        keys = [key(c) for c in rows[j]]
        if keys and keys[0] in _DATE_NAMES:
            return j if not any(keys[1:]) else None
    return None


def _by_numbers(
    rows: Sequence[list[str]],
    source: str,
    close_column: str | None,
    index: int,
    names: tuple[str, ...],
    date_idx: int,
    data_from: int,
) -> Header:
    """A header (row `index`, `names`) that names no close: the column `close_column` numbers, else the
    one column of numbers below it, else DataError with the fix."""
    columns = ", ".join(name for name in names if name)
    if close_column is not None:
        if (close_idx := _numbered(close_column, len(names), date_idx)) is not None:
            return Header(index, names, date_idx, close_idx, data_from)
        raise DataError(
            f"{source}:{index + 1}: no column named '{close_column}'; the columns are: {columns}",
            hint="Set [data] close_column to one of these names (or a column number, 1 is the first), "
            "or remove it to pick the close by name.",
        )
    numeric = _numeric_columns(rows, data_from, date_idx)
    if len(numeric) == 1 and not any(word in key(names[numeric[0]]) for word in _NOT_CLOSE):
        close_idx = numeric[0]
        note = (
            f"column '{names[close_idx]}' taken as the close (the only column of numbers); "
            "set [data] close_column to choose another"
        )
        return Header(index, names, date_idx, close_idx, data_from, note)
    raise DataError(
        f"{source}:{index + 1}: no close column (終値, Close, Price, PX_LAST, NIKKEI225, 收盘, "
        f"Zamkniecie...); columns: {columns}",
        hint='Set [data] close_column = "<name>" in the config to the column that holds the daily close.',
    )


def _without_date_name(rows: Sequence[list[str]], source: str, close_column: str | None) -> Header:
    """No line names a date column: the data starts at the first line holding a date and a number; the
    line above it, if all words, is a header with an unknown date name; else there is no header."""
    first = next((i for i, cells in enumerate(rows) if _dated_numbers(cells) is not None), None)
    if first is None:
        raise DataError(
            f"{source}: no header line found: no line names a date column (Date, 日付, observation_date...)",
            hint="The data needs a comma-separated header line such as 'date,close' above it.",
        )
    date_idx = _dated_numbers(rows[first])
    assert date_idx is not None
    if first > 0 and _all_words(rows[first - 1]):
        keys = [key(c) for c in rows[first - 1]]
        names = tuple(_names(rows[first - 1]))
        if (found := _close_by_name(keys, names, date_idx, source, first - 1, close_column)) is not None:
            close_idx, note = found
            return Header(first - 1, names, date_idx, close_idx, first, note)
        return _by_numbers(rows, source, close_column, first - 1, names, date_idx, first)
    return _headerless(rows, source, close_column, first, date_idx)


def _headerless(
    rows: Sequence[list[str]], source: str, close_column: str | None, first: int, date_idx: int
) -> Header:
    """A file without a header, its data from row `first`: read only when unambiguous, else DataError."""
    width = max(len(rows[first]), date_idx + 1)
    names = tuple(f"column {j + 1}" for j in range(width))
    if close_column is not None:
        if (chosen := _numbered(close_column, width, date_idx)) is None:
            raise DataError(
                f"{source}:{first + 1}: the file has no header line, so no column is named '{close_column}'",
                hint=f"Set [data] close_column to the close's column number {_NUMBER_HINT}, e.g. "
                'close_column = 2, or add a header line such as "date,close" above the data.',
            )
        return Header(first, names, date_idx, chosen, first, headerless=True)
    numeric = _numeric_columns(rows, first, date_idx)
    if len(numeric) == 1:
        note = f"no header line: the dates in column {date_idx + 1}, the close in column {numeric[0] + 1}"
        return Header(first, names, date_idx, numeric[0], first, note, headerless=True)
    if date_idx == 0 and numeric == [1, 2, 3, 4] and _official_order(rows, first):
        note = (
            "no header line: read in the Nikkei official download's column order (date, close, open, "
            "high, low), the close in column 2; set [data] close_column to choose another"
        )
        return Header(first, names, 0, 1, first, note, headerless=True)
    raise DataError(
        f"{source}:{first + 1}: the file has no header line and {len(numeric)} columns of numbers: "
        "cannot tell which is the close",
        hint=f"Set [data] close_column = <the close's column number> in the config {_NUMBER_HINT}: "
        'e.g. close_column = 5 for date, open, high, low, close; or add a header line such as "date,close".',
    )


def _dated_numbers(cells: Sequence[str]) -> int | None:
    """The index of the first date-shaped cell of a line that also holds a number, else None."""
    date_idx = next((j for j, c in enumerate(cells) if match_date(c) is not None), None)
    if date_idx is None or not any(is_number(c) for j, c in enumerate(cells) if j != date_idx):
        return None
    return date_idx


def _all_words(cells: Sequence[str]) -> bool:
    """A line that can be a header: two or more cells, none a number or a date."""
    filled = [c for c in cells if c.strip()]
    return len(filled) >= 2 and not any(is_number(c) or match_date(c) is not None for c in filled)


def _numbered(close_column: str, width: int, date_idx: int) -> int | None:
    """The column a column number in `close_column` names (counted from 1), if it is one and not the
    dates' column."""
    text = close_column.strip()
    if not _COLUMN_NUMBER.fullmatch(text):
        return None
    index = int(text) - 1
    return index if index < width and index != date_idx else None


def _data_rows(rows: Sequence[list[str]], start: int, date_idx: int) -> list[list[str]]:
    return [cells for cells in rows[start:] if match_date(cell(cells, date_idx)) is not None]


def _numeric_columns(rows: Sequence[list[str]], start: int, date_idx: int) -> list[int]:
    """The columns (but the dates') whose cells on the data lines are numbers, but for missing markers
    and a few typos (at most NUMBERS_TOLERANCE of them: a typo is then refused as "cannot read close",
    naming its line, rather than hiding the column)."""
    data = _data_rows(rows, start, date_idx)
    width = max((len(cells) for cells in data), default=0)
    found = []
    for j in range(width):
        if j == date_idx:
            continue
        cells = [cell(cells, j) for cells in data]
        values = [c for c in cells if c.strip().strip("\"'").casefold() not in MISSING]
        numbers = sum(1 for c in values if is_number(c))
        if numbers and numbers >= (1 - NUMBERS_TOLERANCE) * len(values):
            found.append(j)
    return found


def _official_order(rows: Sequence[list[str]], start: int) -> bool:
    """True when the lines read as date, close, open, high, low: on all of them but a few typos
    (NUMBERS_TOLERANCE), the 4th column is the highest and the 5th the lowest, and some line has a
    range (a flat file proves nothing). Any other order of four prices fails on most lines: in date,
    open, high, low, close the 4th column is the low."""
    fits = ranged = total = 0
    for cells in _data_rows(rows, start, 0):
        texts = [cell(cells, j) for j in range(1, 5)]
        if not all(is_number(t) for t in texts):
            continue
        close, open_, high, low = (float(_NUMBER_JUNK.sub("", t)) for t in texts)
        total += 1
        fits += high >= max(close, open_, low) and low <= min(close, open_, high)
        ranged += high > low
    return ranged > 0 and fits >= (1 - NUMBERS_TOLERANCE) * total
