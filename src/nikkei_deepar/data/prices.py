"""Read the Nikkei 225 price files people really download into one clean series of daily closes.

Pure: no network, no boto3, no printing. Every problem with the input is a `DataError` whose message
is one line, ``"<source>:<line>: <cause>"`` (or ``"<source>: <cause>"``), with what to do in `hint`.
The families handled are those of docs CSV-FORMATS.md (Nikkei official JP/EN and their Excel re-saves,
investing.com JP/EN, Yahoo, yfinance, FRED, stooq, Bloomberg, WSJ, kabuoji3), and: investing.com in
Chinese, stooq in Polish, full-history files back-filled before 1949, a date and one column of numbers
under any name, and the official file with its header cut off.

How a file is read:

1. Encoding: UTF-8 with a BOM ("utf-8-sig"), UTF-8, else cp932 (Shift-JIS). UTF-16, NUL or control
   bytes, and bytes neither codec accepts are refused, never turned into mojibake. CRLF, LF, CR and a
   missing final newline are all fine. Each physical line is one CSV record, so a stray quote cannot
   swallow the lines after it and every line number is exact.
2. Header and columns: see `nikkei_deepar.data.header`. A line naming a date column (データ日付, 日付,
   Date, observation_date, 日期, Data, ...) and a close column (終値, Close, Price, PX_LAST, NIKKEI225,
   收盘, Zamkniecie, ..., first present wins; a name containing one is taken with a `PriceTable.note`);
   a header naming dates and one column of numbers under another name (``date,value``); or no header
   at all, read only when unambiguous (one column of numbers, or the official download's order date,
   close, open, high, low). Lines above the header are "preamble". `close_column` overrides, by name
   or column number; it is the only way to get Adj Close.
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
   A full-history file's leading rows before 1949-05-16 are dropped ("before the first session",
   `PriceTable.dropped` says how many and which dates), whatever their closes hold.
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
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, get_args

import numpy as np
import pandas as pd

from nikkei_deepar.data.dates import FIRST_SESSION, DateMatch, DateOrder, match_date, quote_cell, to_dates
from nikkei_deepar.data.header import MISSING, Header, blank, cell, find_header, is_number, key
from nikkei_deepar.errors import DataError
from nikkei_deepar.files import MAX_INPUT_BYTES, read_input

__all__ = ["DateOrder", "EarlyRows", "PriceTable", "SkippedLine", "parse_prices", "read_prices"]

_SEPARATORS = (";", "\t")
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


EARLY_REASON = f"before the first session ({FIRST_SESSION})"


@dataclass(frozen=True)
class EarlyRows:
    """A full-history file's leading rows dated before the index existed, dropped (`dates.to_dates`):
    how many, their first and last dates, and the lines they were on."""

    count: int
    first: datetime.date
    last: datetime.date
    first_line: int
    last_line: int

    @classmethod
    def of(cls, dates: pd.DatetimeIndex, lines: np.ndarray) -> EarlyRows:
        return cls(
            count=len(dates),
            first=pd.Timestamp(dates.min()).date(),
            last=pd.Timestamp(dates.max()).date(),
            first_line=int(lines.min()),
            last_line=int(lines.max()),
        )

    def describe(self, source: str) -> str:
        """One line for the user: how many rows, which dates, where."""
        rows = "1 row" if self.count == 1 else f"{self.count} rows"
        where = f"line {self.first_line}" if self.count == 1 else f"lines {self.first_line}-{self.last_line}"
        dates = str(self.first) if self.first == self.last else f"{self.first} .. {self.last}"
        return (
            f"{source}: {rows} dated before the Nikkei 225's first session ({FIRST_SESSION}) dropped: "
            f"{dates} ({where}), history back-filled before the index existed"
        )


@dataclass(frozen=True, eq=False)  # eq=False: comparing or hashing a pd.Series field would raise
class PriceTable:
    """What was read: daily closes (float64, naive midnight DatetimeIndex, ascending, unique, NaN =
    missing) and how they were found, for the user's report. `lines[i]` is the line of `closes[i]`;
    `note` says how the close column was found when its name was not an exact one; `dropped`, which
    leading rows were dropped for being older than the index. `header_line` is 0 without a header."""

    source: str
    closes: pd.Series
    column: str
    encoding: str
    header_line: int
    date_format: str
    skipped: tuple[SkippedLine, ...]
    lines: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    note: str | None = None
    dropped: EarlyRows | None = None

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
    header = find_header(rows, source, close_column)
    skipped = [SkippedLine(i + 1, "blank" if blank(rows[i]) else "preamble") for i in range(header.index)]

    data: list[int] = []  # row indexes of lines whose date cell looks like a date
    matches: list[DateMatch] = []
    others: list[int] = []
    for i in range(header.data_from, len(rows)):
        if blank(rows[i]):
            skipped.append(SkippedLine(i + 1, "blank"))
        elif (match := match_date(cell(rows[i], header.date_idx))) is not None:
            data.append(i)
            matches.append(match)
        else:
            others.append(i)
    if not data:
        # values beside dates this reader cannot read: say which, rather than "no data"
        if (bad := next((i for i in others if any(map(is_number, rows[i]))), None)) is not None:
            raise _date_error(source, rows, bad, header)
        raise DataError(
            f"{source}: no data rows: no line after the header (line {header.line}) holds a date",
            hint="Check that this is a daily price file with one date and close per line.",
        )
    skipped += [
        SkippedLine(i + 1, _junk_reason(rows, lines[i], i, header, data[0], data[-1], source)) for i in others
    ]

    line_numbers = np.array(data) + 1
    column = to_dates(
        matches, line_numbers, [rows[i][header.date_idx] for i in data], source, date_order, latest
    )
    dates, date_format, early = column.dates, column.date_format, column.early
    dropped = None
    if early.any():  # a full-history file's back-filled rows from before the index existed
        dropped = EarlyRows.of(dates[early], line_numbers[early])
        skipped += [SkippedLine(int(n), EARLY_REASON) for n in line_numbers[early]]
        data = [i for i, drop in zip(data, early, strict=True) if not drop]
        dates, line_numbers = dates[~early], line_numbers[~early]
    values = _to_floats([cell(rows[i], header.close_idx) for i in data], line_numbers, header.column, source)
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
        header_line=header.line,
        date_format=date_format,
        skipped=tuple(sorted(skipped, key=lambda s: s.line)),
        lines=line_numbers[order],
        note=header.note,
        dropped=dropped,
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


def _junk_reason(
    rows: Sequence[list[str]], line: str, i: int, header: Header, first: int, last: int, source: str
) -> str:
    cells = rows[i]
    for separator in _SEPARATORS:
        if separator in line:
            parts = [part.strip().strip("\"'") for part in line.split(separator)]
            if match_date(cell(parts, header.date_idx)) is not None:
                return f"wrong separator {separator!r}"
    numbers = any(is_number(c) for c in cells)
    if [key(c) for c in cells] == [key(name) for name in header.names]:
        return "repeated header"
    if i > last and not numbers:
        return "footer"
    if (i < first and not numbers) or not any(c for j, c in enumerate(cells) if j != header.date_idx):
        return "no date"
    raise _date_error(source, rows, i, header)


def _date_error(source: str, rows: Sequence[list[str]], i: int, header: Header) -> DataError:
    return DataError(
        f"{source}:{i + 1}: cannot read date {quote_cell(cell(rows[i], header.date_idx))}",
        hint="Fix the date or delete the line (a note line is skipped only when its other cells are empty).",
    )


_DECIMAL_COMMA = re.compile(r"\d,\d{1,2}\s*$")  # 27.457,89 or 27 457,89: a comma before the cents


def _to_floats(cells: Sequence[str], lines: np.ndarray, column: str, source: str) -> np.ndarray:
    series = pd.Series(cells, dtype=object).str.strip().str.strip('"')
    if series.str.contains(_DECIMAL_COMMA, regex=True, na=False).any():
        # a European export (investing.com in German, French, Spanish, ...): the comma is the decimal
        # point and dots or spaces group the thousands; read as 27,444.17 would be 100x off
        series = series.str.replace(r"[.\s']", "", regex=True).str.replace(",", ".", regex=False)
    cleaned = series.str.replace(_NUMBER_JUNK, "", regex=True)
    missing = cleaned.str.casefold().isin(MISSING).to_numpy()
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
