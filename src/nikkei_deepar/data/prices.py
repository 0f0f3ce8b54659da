"""Read the Nikkei 225 price files people really download into one clean series of daily closes.

Pure: no network, no boto3, no printing. Every problem with the input is a `DataError` whose message
is one line, ``"<source>:<line>: <cause>"`` (or ``"<source>: <cause>"``), with what to do in `hint`.
The families handled are those of docs CSV-FORMATS.md (Nikkei official JP/EN and their Excel re-saves,
investing.com JP/EN, Yahoo, yfinance, FRED, stooq, Bloomberg, WSJ, kabuoji3).

How a file is read:

1. Encoding: UTF-8 with a BOM ("utf-8-sig"), UTF-8, else cp932 (Shift-JIS). UTF-16, NUL or control
   bytes, and bytes neither codec accepts are refused, never turned into mojibake. CRLF, LF, CR and a
   missing final newline are all fine. Each physical line is one CSV record, so a stray quote cannot
   swallow the lines after it and every line number is exact.
2. Header: the first line naming a date column (データ日付, 日付, 日付け, Date, Date of Data,
   observation_date, ...) and a close column. Names are compared after NFKC, without quotes, BOM or
   spaces, ignoring case. yfinance's three-line header (``Price,Close,...`` / ``Ticker,...`` /
   ``Date,,,``) is one header whose first column holds the dates. Lines above it are "preamble".
3. Close column by name, never by position: 終値, Close, Price, PX_LAST, NIKKEI225, first present wins
   (so kabuoji3's 終値, not 終値調整値). Without an exact name, a column whose name contains one with a
   prefix or suffix of the user's (``stock_終値``, ``Close_N225``) is taken, and `PriceTable.note` says
   so; two such columns for the same name are an error, and adjusted columns (``adj``, ``調整``) are
   never guessed. `close_column` overrides; it is the only way to get Adj Close.
4. Footer or corruption? After the header, a line whose date cell is not date-shaped is skipped when
   - it is blank or only commas ("blank"), or repeats the header ("repeated header");
   - it is a data line written with another separator, ``;`` or a tab ("wrong separator ';'"): the
     caller should say so loudly, since a close is lost;
   - it comes after the last dated line and no cell is a number ("footer": copyright sentences, with
     or without Excel's trailing commas);
   - it comes before the first dated line and no cell is a number, or, anywhere, every cell but the
     date cell is empty ("no date": titles, notes).
   Anything else is a corrupted row, ``cannot read date``: a non-date with other values beside it
   among the data, or with a number beside it before or after the data. So is a date-shaped cell that
   is no real date (2021/02/30). When no line holds a readable date, the first line holding a number
   is reported that way; without one, the error is "no data rows".
5. Dates: see `nikkei_deepar.data.dates` (the forms a date may take, month/day order decided from
   the whole column, two-digit years, and the range 1949-05-16 .. `latest` every date must lie in).
6. Closes: quotes, spaces and thousands separators are stripped; empty, ``-``, ``.``, ``null`` (and
   ``nan``, ``n/a``, ``#N/A``) are missing, NaN, never 0. Any other non-number is an error.
7. Rows dated Sunday are dropped ("Sunday row (not an index close)": the TSE never trades on Sunday;
   investing.com Japan emits them); Saturdays stay (real sessions before 1989). Rows are sorted
   ascending; a repeated date with the same close is "identical duplicate", with another close an error.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import math
import pathlib
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, get_args

import numpy as np
import pandas as pd

from nikkei_deepar.data.dates import DateMatch, DateOrder, match_date, quote_cell, to_dates
from nikkei_deepar.errors import DataError
from nikkei_deepar.files import MAX_INPUT_BYTES, read_input

__all__ = ["DateOrder", "PriceTable", "SkippedLine", "parse_prices", "read_prices"]

# Header names are compared as `_key` makes them: NFKC, no quotes/BOM/whitespace, casefolded.
_DATE_NAMES = frozenset(
    {"データ日付", "日付", "日付け", "年月日", "date", "dates", "dateofdata", "observation_date", "datetime"}
)
_CLOSE_NAMES = ("終値", "close", "price", "px_last", "nikkei225")
_ADJUSTED = ("adj", "調整")  # never guessed from a name: only `close_column` picks an adjusted close
_SEPARATORS = (";", "\t")
_MISSING = frozenset({"", "-", "--", ".", "null", "nan", "na", "n/a", "#n/a", "#n/an/a"})
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# C0/C1 controls and private-use code points: what cp932 makes of latin-1 and other non-Japanese bytes
# (0x80, 0xA0, 0xFD-0xFF, lead bytes 0xF0-0xF9) that it does not refuse outright.
_NOT_TEXT = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\ue000-\uf8ff]")
_NUMBER_JUNK = re.compile(r"[\s\",']")
_SUNDAY_HINT = (
    "The TSE never trades on Sunday: check the dates, or [data] date_order if they are like 1/2/25."
)
_ENCODING_HINT = "Save the file as UTF-8 (Excel: 'CSV UTF-8') or Shift-JIS and try again."


@dataclass(frozen=True)
class SkippedLine:
    """A line that is not a close: `line` is 1-based and physical, `reason` says why it was skipped."""

    line: int
    reason: str


@dataclass(frozen=True, eq=False)  # eq=False: comparing or hashing a pd.Series field would raise
class PriceTable:
    """What was read: daily closes (float64, naive midnight DatetimeIndex, ascending, unique, NaN =
    missing) and how they were found, for the user's report. `lines[i]` is the line of `closes[i]`;
    `note` says how the close column was found when its name was not an exact one."""

    source: str
    closes: pd.Series
    column: str
    encoding: str
    header_line: int
    date_format: str
    skipped: tuple[SkippedLine, ...]
    lines: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    note: str | None = None

    @property
    def rows(self) -> int:
        return len(self.closes)

    @property
    def missing(self) -> int:
        return int(self.closes.isna().sum())

    @property
    def first(self) -> datetime.date:
        return pd.Timestamp(self.closes.index[0]).date()

    @property
    def last(self) -> datetime.date:
        return pd.Timestamp(self.closes.index[-1]).date()

    def skipped_reasons(self) -> dict[str, int]:
        """How many lines were skipped for each reason, the most frequent first."""
        counts = Counter(s.reason for s in self.skipped)
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    def summary(self) -> dict[str, Any]:
        """JSON-able description of what was read."""
        return {
            "source": self.source,
            "rows": self.rows,
            "first": self.first.isoformat(),
            "last": self.last.isoformat(),
            "missing": self.missing,
            "skipped": len(self.skipped),
            "column": self.column,
            "encoding": self.encoding,
            "date_format": self.date_format,
            "skipped_reasons": self.skipped_reasons(),
            "skipped_lines": [{"line": s.line, "reason": s.reason} for s in self.skipped],
        }


def read_prices(
    path: pathlib.Path,
    *,
    close_column: str | None = None,
    date_order: DateOrder = "auto",
    latest: datetime.date | None = None,
    max_bytes: int = MAX_INPUT_BYTES,
) -> PriceTable:
    """Read a price file from disk (see `parse_prices`); DataError if it cannot be read.

    The file passes `files.read_input` first: a regular file only (no device, FIFO or directory), at
    most `max_bytes`, no overlong line.
    """
    raw = read_input(path, max_bytes=max_bytes)
    return parse_prices(
        raw, source=str(path), close_column=close_column, date_order=date_order, latest=latest
    )


def parse_prices(
    raw: bytes,
    *,
    source: str,
    close_column: str | None = None,
    date_order: DateOrder = "auto",
    latest: datetime.date | None = None,
) -> PriceTable:
    """Parse the bytes of a price file into a `PriceTable`. `source` names the file in messages;
    `latest` is the last date a close may have (the caller's "tomorrow in Tokyo"; None: no bound)."""
    if date_order not in get_args(DateOrder):
        raise ValueError(f"date_order must be one of {get_args(DateOrder)}, not {date_order!r}")
    text, encoding = _decode(raw, source)
    lines = _LINE_BREAK.split(text)
    if lines[-1] == "":
        lines.pop()
    rows = [_split(line, source, number) for number, line in enumerate(lines, 1)]
    header = _find_header(rows, source, close_column)
    skipped = [SkippedLine(i + 1, "blank" if _blank(rows[i]) else "preamble") for i in range(header.index)]

    data: list[int] = []  # row indexes of lines whose date cell looks like a date
    matches: list[DateMatch] = []
    others: list[int] = []
    for i in range(header.data_from, len(rows)):
        if _blank(rows[i]):
            skipped.append(SkippedLine(i + 1, "blank"))
        elif (match := match_date(_cell(rows[i], header.date_idx))) is not None:
            data.append(i)
            matches.append(match)
        else:
            others.append(i)
    if not data:
        # values beside dates this reader cannot read: say which, rather than "no data"
        if (bad := next((i for i in others if any(map(_is_number, rows[i]))), None)) is not None:
            raise _date_error(source, rows, bad, header)
        raise DataError(
            f"{source}: no data rows: no line after the header (line {header.index + 1}) holds a date",
            hint="Check that this is a daily price file with one date and close per line.",
        )
    skipped += [
        SkippedLine(i + 1, _junk_reason(rows, lines[i], i, header, data[0], data[-1], source)) for i in others
    ]

    line_numbers = np.array(data) + 1
    dates, date_format = to_dates(
        matches, line_numbers, [rows[i][header.date_idx] for i in data], source, date_order, latest
    )
    values = _to_floats([_cell(rows[i], header.close_idx) for i in data], line_numbers, header.column, source)
    keep = np.asarray(dates.dayofweek != 6)
    skipped += [SkippedLine(int(n), "Sunday row (not an index close)") for n in line_numbers[~keep]]
    dates, values, line_numbers = dates[keep], values[keep], line_numbers[keep]
    if not keep.any():
        raise DataError(f"{source}: no data rows: every dated row is a Sunday", hint=_SUNDAY_HINT)
    keep = _drop_identical_duplicates(dates, values, line_numbers, source, skipped)

    dates, values, line_numbers = dates[keep], values[keep], line_numbers[keep]
    order = np.argsort(dates.to_numpy(), kind="stable")
    closes = pd.Series(values[order], index=dates[order], name="close", dtype="float64")
    closes.index.name = "date"
    if closes.empty or closes.isna().all():
        raise DataError(
            f"{source}: no close values: every row has an empty close in column '{header.column}'",
            hint="Set [data] close_column to the column that holds the daily close.",
        )
    return PriceTable(
        source=source,
        closes=closes,
        column=header.column,
        encoding=encoding,
        header_line=header.index + 1,
        date_format=date_format,
        skipped=tuple(sorted(skipped, key=lambda s: s.line)),
        lines=line_numbers[order],
        note=header.note,
    )


def _decode(raw: bytes, source: str) -> tuple[str, str]:
    neither = "neither UTF-8 nor Shift-JIS/cp932 text"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DataError(f"{source}: the file is UTF-16, {neither}", hint=_ENCODING_HINT)
    encodings = ("utf-8-sig",) if raw.startswith(codecs.BOM_UTF8) else ("utf-8", "cp932")
    failure: UnicodeDecodeError | None = None
    for encoding in encodings:
        try:
            text = raw.decode(encoding).rstrip("\x1a")  # a DOS end-of-file mark is not content
        except UnicodeDecodeError as exc:
            failure = exc
            continue
        if (bad := _NOT_TEXT.search(text)) is not None:
            line = len(_LINE_BREAK.findall(text, 0, bad.start())) + 1
            what = "NUL bytes (UTF-16 or binary?)" if bad.group() == "\x00" else f"U+{ord(bad.group()):04X}"
            raise DataError(f"{source}:{line}: the file holds {what}: {neither}", hint=_ENCODING_HINT)
        if not text.strip():
            raise DataError(f"{source}: the file is empty", hint="Download the price file again.")
        return text, encoding
    assert failure is not None
    line = len(re.findall(rb"\r\n|\r|\n", raw[: failure.start])) + 1
    byte = raw[failure.start]
    raise DataError(f"{source}:{line}: byte 0x{byte:02x} cannot be decoded: {neither}", hint=_ENCODING_HINT)


def _split(line: str, source: str, number: int) -> list[str]:
    if '"' not in line:
        return [cell.strip() for cell in line.split(",")]
    try:
        cells = next(csv.reader([line], skipinitialspace=True), [])
    except csv.Error as exc:
        raise DataError(f"{source}:{number}: cannot read this CSV line: {exc}", hint=None) from None
    return [cell.strip() for cell in cells]


def _key(cell: str) -> str:
    # `*`: Yahoo's web table says "Close*" and "Adj Close**"
    return re.sub(r"[\s\"'*\ufeff]", "", unicodedata.normalize("NFKC", cell)).casefold()


def _blank(cells: Sequence[str]) -> bool:
    return not any(cells)


def _cell(cells: Sequence[str], index: int) -> str:
    return cells[index] if index < len(cells) else ""


@dataclass(frozen=True)
class _Header:
    index: int  # row index of the header line (its line number minus one)
    names: tuple[str, ...]
    date_idx: int
    close_idx: int
    data_from: int  # row index of the first line after the header (yfinance's takes three lines)
    note: str | None = None  # how the close column was found, when its name was not an exact one

    @property
    def column(self) -> str:
        return self.names[self.close_idx]


def _find_header(rows: Sequence[list[str]], source: str, close_column: str | None) -> _Header:
    dated: tuple[int, tuple[str, ...]] | None = None  # first line with a date column, for the error
    for i, cells in enumerate(rows):
        keys = [_key(cell) for cell in cells]
        names = [re.sub(r"^[\s\"'\ufeff]+|[\s\"']+$", "", cell) for cell in cells]
        date_idx = next((j for j, key in enumerate(keys) if key in _DATE_NAMES), None)
        data_from = i + 1
        if date_idx is None:
            if _pick_close(keys, 0, close_column) is None or (below := _yfinance_dates_row(rows, i)) is None:
                continue
            date_idx, data_from, names[0] = 0, below + 1, rows[below][0]
        close_idx = _pick_close(keys, date_idx, close_column)
        if close_idx is not None:
            return _Header(i, tuple(names), date_idx, close_idx, data_from)
        if close_column is None and (close_idx := _guess_close(keys, names, date_idx, source, i)) is not None:
            contains = _CLOSE_DISPLAY[_close_name(keys[close_idx])]
            note = (
                f"column '{names[close_idx]}' taken as the close (its name contains '{contains}'); "
                "set [data] close_column to choose another"
            )
            return _Header(i, tuple(names), date_idx, close_idx, data_from, note)
        dated = dated or (i, tuple(names))
    if dated is None:
        raise DataError(
            f"{source}: no header line found: no line names a date column (Date, 日付, observation_date...)",
            hint="The data needs a comma-separated header line such as 'date,close' above it.",
        )
    index, found = dated
    columns = ", ".join(name for name in found if name)
    if close_column is not None:
        raise DataError(
            f"{source}:{index + 1}: no column named '{close_column}'; the columns are: {columns}",
            hint="Set [data] close_column to one of these names, or remove it to pick the close by name.",
        )
    raise DataError(
        f"{source}:{index + 1}: no close column (終値, Close, Price, PX_LAST, NIKKEI225); columns: {columns}",
        hint='Set [data] close_column = "<name>" in the config to the column that holds the daily close.',
    )


def _pick_close(keys: Sequence[str], date_idx: int, close_column: str | None) -> int | None:
    wanted = (_key(close_column),) if close_column is not None else _CLOSE_NAMES
    for name in wanted:
        for j, key in enumerate(keys):
            if key == name and j != date_idx:
                return j
    return None


_CLOSE_DISPLAY = {
    "終値": "終値",
    "close": "Close",
    "price": "Price",
    "px_last": "PX_LAST",
    "nikkei225": "NIKKEI225",
}


def _close_name(key: str) -> str:
    return next(name for name in _CLOSE_NAMES if name in key)


def _guess_close(keys: Sequence[str], names: Sequence[str], date_idx: int, source: str, i: int) -> int | None:
    """Without an exact close name: the one column whose name contains one (``stock_終値``,
    ``Close_N225``), trying the names in order; two candidates for a name are refused."""
    for name in _CLOSE_NAMES:
        found = [
            j
            for j, key in enumerate(keys)
            if name in key and j != date_idx and not any(word in key for word in _ADJUSTED)
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
        keys = [_key(cell) for cell in rows[j]]
        if keys and keys[0] in _DATE_NAMES:
            return j if not any(keys[1:]) else None
    return None


def _is_number(cell: str) -> bool:
    try:
        return math.isfinite(float(_NUMBER_JUNK.sub("", cell)))
    except ValueError:
        return False


def _junk_reason(
    rows: Sequence[list[str]], line: str, i: int, header: _Header, first: int, last: int, source: str
) -> str:
    cells = rows[i]
    for separator in _SEPARATORS:
        if separator in line:
            parts = [part.strip().strip("\"'") for part in line.split(separator)]
            if match_date(_cell(parts, header.date_idx)) is not None:
                return f"wrong separator {separator!r}"
    numbers = any(_is_number(cell) for cell in cells)
    if [_key(cell) for cell in cells] == [_key(name) for name in header.names]:
        return "repeated header"
    if i > last and not numbers:
        return "footer"
    if (i < first and not numbers) or not any(c for j, c in enumerate(cells) if j != header.date_idx):
        return "no date"
    raise _date_error(source, rows, i, header)


def _date_error(source: str, rows: Sequence[list[str]], i: int, header: _Header) -> DataError:
    return DataError(
        f"{source}:{i + 1}: cannot read date {quote_cell(_cell(rows[i], header.date_idx))}",
        hint="Fix the date or delete the line (a note line is skipped only when its other cells are empty).",
    )


def _to_floats(cells: Sequence[str], lines: np.ndarray, column: str, source: str) -> np.ndarray:
    cleaned = pd.Series(cells, dtype=object).str.replace(_NUMBER_JUNK, "", regex=True)
    missing = cleaned.str.casefold().isin(_MISSING).to_numpy()
    values = pd.to_numeric(cleaned.where(~missing), errors="coerce").to_numpy(dtype="float64")
    if (bad := np.flatnonzero(~missing & ~np.isfinite(values))).size:
        k = int(bad[0])
        raise DataError(
            f"{source}:{lines[k]}: cannot read close {quote_cell(cells[k])} in column '{column}'",
            hint="A close is a number such as 27444.17 or 27,444.17; missing is empty, '-', '.' or 'null'.",
        )
    return values


def _drop_identical_duplicates(
    dates: pd.DatetimeIndex, values: np.ndarray, lines: np.ndarray, source: str, skipped: list[SkippedLine]
) -> np.ndarray:
    """A mask of the rows to keep; a date repeated with another close is an error."""
    keep = np.ones(len(dates), dtype=bool)
    seen: dict[pd.Timestamp, int] = {}
    for k in np.flatnonzero(dates.duplicated(keep=False)):
        date = dates[int(k)]
        if (first := seen.setdefault(date, int(k))) == k:
            continue
        a, b = float(values[first]), float(values[k])
        if a == b or (math.isnan(a) and math.isnan(b)):
            keep[k] = False
            skipped.append(SkippedLine(int(lines[k]), "identical duplicate"))
            continue
        raise DataError(
            f"{source}:{lines[k]}: {date.date()} appears twice with different closes: "
            f"{_fmt(a)} on line {lines[first]}, {_fmt(b)} on line {lines[k]}",
            hint="Delete the wrong line.",
        )
    return keep


def _fmt(value: float) -> str:
    return "missing" if math.isnan(value) else repr(value)
