"""The price reader against one small file per family of docs CSV-FORMATS.md, and against bad input.

Fixtures are written by tests/fixtures/prices/make_fixtures.py (exact bytes: encoding, BOM, CRLF).
"""

from __future__ import annotations

import datetime
import json
import math
import pathlib
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pytest

from nikkei_deepar.data.prices import PriceTable, SkippedLine, parse_prices, read_prices
from nikkei_deepar.errors import DataError, ExitCode

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "prices"
D = datetime.date
EARLY = "before the first session (1949-05-16)"


@dataclass(frozen=True)
class Family:
    file: str
    rows: int
    first: datetime.date
    last: datetime.date
    known: tuple[datetime.date, float]
    column: str
    encoding: str
    date_format: str
    missing: int = 0
    skipped: tuple[tuple[int, str], ...] = ()
    header_line: int = 1


# fmt: off
FAMILIES = [
    Family("nikkei_jp.csv", 12, D(2021, 1, 4), D(2021, 1, 20), (D(2021, 1, 8), 28139.03), "終値",
           "cp932", "%Y/%m/%d", skipped=((14, "footer"),)),
    Family("nikkei_en.csv", 12, D(2021, 1, 4), D(2021, 1, 20), (D(2021, 1, 20), 28523.26), "Close",
           "cp932", "%Y/%m/%d", skipped=((14, "footer"),)),
    Family("nikkei_excel_resave.csv", 12, D(2018, 1, 4), D(2018, 1, 22), (D(2018, 1, 10), 23788.2), "close",
           "cp932", "%Y/%m/%d", skipped=((14, "blank"), (15, "footer"))),
    Family("investing_jp.csv", 12, D(2020, 12, 15), D(2020, 12, 30), (D(2020, 12, 30), 27444.17), "終値",
           "utf-8-sig", "Japanese 年月日", skipped=((5, "Sunday row (not an index close)"),)),
    Family("investing_en_old.csv", 12, D(2021, 2, 4), D(2021, 2, 22), (D(2021, 2, 22), 30156.03), "Price",
           "utf-8-sig", "Mon D, YYYY"),
    Family("investing_en_new.csv", 12, D(2025, 3, 19), D(2025, 4, 4), (D(2025, 4, 4), 33780.58), "Price",
           "utf-8-sig", "M/D/YYYY"),
    Family("yahoo.csv", 13, D(2021, 1, 4), D(2021, 1, 20), (D(2021, 1, 4), 27258.38), "Close",
           "utf-8", "%Y-%m-%d", missing=1),
    Family("yfinance.csv", 12, D(2024, 1, 4), D(2024, 1, 22), (D(2024, 1, 17), 35477.75), "Close",
           "utf-8", "%Y-%m-%d"),
    Family("fred_old.csv", 14, D(2021, 1, 1), D(2021, 1, 20), (D(2021, 1, 12), 28164.34), "NIKKEI225",
           "utf-8", "%Y-%m-%d", missing=2),
    Family("fred_new.csv", 14, D(2021, 1, 1), D(2021, 1, 20), (D(2021, 1, 12), 28164.34), "NIKKEI225",
           "utf-8", "%Y-%m-%d", missing=2),
    Family("stooq.csv", 12, D(1988, 1, 4), D(1988, 1, 18), (D(1988, 1, 9), 22924.3), "Close",
           "utf-8", "%Y-%m-%d"),
    Family("bloomberg.csv", 12, D(2025, 7, 4), D(2025, 7, 22), (D(2025, 7, 22), 39774.92), "PX_LAST",
           "utf-8-sig", "M/D/YY", header_line=6,
           skipped=((1, "preamble"), (2, "preamble"), (3, "preamble"), (4, "preamble"), (5, "blank"))),
    Family("wsj.csv", 12, D(2022, 6, 3), D(2022, 6, 20), (D(2022, 6, 17), 25963.0), "Close",
           "utf-8", "M/D/YY"),
    Family("kabuoji3.csv", 12, D(2017, 1, 4), D(2017, 1, 20), (D(2017, 1, 4), 20330.0), "終値",
           "cp932", "%Y-%m-%d", header_line=2, skipped=((1, "preamble"),)),
    # issue 25: real downloads of the second round
    Family("investing_zh.csv", 14, D(2022, 6, 1), D(2022, 6, 20), (D(2022, 6, 1), 27457.89), "收盘",
           "utf-8-sig", "Japanese 年月日"),
    Family("stooq_pl.csv", 12, D(1949, 5, 16), D(1949, 5, 28), (D(1949, 5, 16), 176.21), "Zamkniecie",
           "utf-8", "%Y-%m-%d", skipped=tuple((line, EARLY) for line in range(2, 13))),
    Family("full_history.csv", 12, D(1949, 5, 16), D(1949, 5, 28), (D(1949, 5, 28), 167.5), "Close",
           "utf-8", "%Y-%m-%d", skipped=tuple((line, EARLY) for line in range(2, 143))),
    Family("date_value.csv", 12, D(2021, 1, 4), D(2021, 1, 20), (D(2021, 1, 8), 28139.03), "value",
           "utf-8", "%Y-%m-%d"),
    Family("nikkei_no_header.csv", 12, D(2023, 1, 4), D(2023, 1, 20), (D(2023, 1, 4), 26000.0), "column 2",
           "utf-8", "%Y/%m/%d", header_line=0),
]
# fmt: on


def close_on(table: PriceTable, day: datetime.date) -> float:
    return float(table.closes[pd.Timestamp(day)])


def dates(table: PriceTable) -> list[datetime.date]:
    return [pd.Timestamp(day).date() for day in table.closes.index]


def parse(text: str, **kwargs: Any) -> PriceTable:
    return parse_prices(text.encode(), source="prices.csv", **kwargs)


def data_error(raw: bytes, **kwargs: Any) -> DataError:
    with pytest.raises(DataError) as caught:
        parse_prices(raw, source="prices.csv", **kwargs)
    return caught.value


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.file)
def test_each_family_reads_as_a_user_expects(family: Family) -> None:
    table = read_prices(FIXTURES / family.file)

    assert table.source == str(FIXTURES / family.file)
    assert (table.rows, table.first, table.last) == (family.rows, family.first, family.last)
    assert close_on(table, family.known[0]) == pytest.approx(family.known[1], abs=1e-9)
    assert table.column == family.column
    assert table.missing == family.missing
    assert [(s.line, s.reason) for s in table.skipped] == list(family.skipped)
    assert table.encoding == family.encoding
    assert table.date_format == family.date_format
    assert table.header_line == family.header_line


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.file)
def test_closes_are_a_clean_ascending_float_series(family: Family) -> None:
    closes = read_prices(FIXTURES / family.file).closes

    assert closes.name == "close"
    assert closes.dtype == "float64"
    assert isinstance(closes.index, pd.DatetimeIndex)
    assert closes.index.tz is None
    assert (closes.index == closes.index.normalize()).all()
    assert closes.index.is_monotonic_increasing and closes.index.is_unique
    assert not (closes == 0).any()
    assert (closes.index.dayofweek != 6).all()


def test_summary_is_json_and_says_what_was_read() -> None:
    table = read_prices(FIXTURES / "investing_jp.csv")

    summary = json.loads(json.dumps(table.summary(), ensure_ascii=False))

    assert summary == {
        "source": str(FIXTURES / "investing_jp.csv"),
        "rows": 12,
        "first": "2020-12-15",
        "last": "2020-12-30",
        "missing": 0,
        "skipped": 1,
        "column": "終値",
        "encoding": "utf-8-sig",
        "date_format": "Japanese 年月日",
        "skipped_reasons": {"Sunday row (not an index close)": 1},
        "skipped_lines": [{"line": 5, "reason": "Sunday row (not an index close)"}],
    }
    assert type(table.first) is datetime.date


def test_saturday_sessions_are_kept() -> None:
    closes = read_prices(FIXTURES / "stooq.csv").closes

    saturdays = [day.date() for day in closes.index if day.dayofweek == 5]

    assert saturdays == [D(1988, 1, 9), D(1988, 1, 16)]


# --- bad input: (fixture, arguments, line or None, words in the message, words in the hint) ---
# fmt: off
BAD_FILES = [
    ("bad_utf16.csv", {}, None, ["UTF-16", "neither UTF-8 nor Shift-JIS/cp932"], ["UTF-8"]),
    ("bad_latin1.csv", {}, 6, ["neither UTF-8 nor Shift-JIS/cp932"], ["UTF-8"]),
    ("bad_empty.csv", {}, None, ["empty"], []),
    ("bad_no_close.csv", {}, 1,
     ["no close column", "Date, Open, High, Low, Adj Close, Volume"], ["[data] close_column"]),
    ("yahoo.csv", {"close_column": "Settle"}, 1,
     ["no column named 'Settle'", "Date, Open, High, Low, Close, Adj Close, Volume"], ["close_column"]),
    ("bad_ambiguous.csv", {}, None,
     ["date order is ambiguous", "'03/03/2025'"], ['[data] date_order = "mdy"', '"dmy"']),
    ("bad_mixed_order.csv", {}, 4,
     ["day-first and month-first", "'13/01/2025' (line 3)", "'01/14/2025'"], []),
    ("bad_only_junk.csv", {}, None, ["no data rows"], []),
    ("bad_no_header.csv", {}, None, ["no header line found", "date column"], ["date,close"]),
    ("bad_conflicting_duplicate.csv", {}, 6, ["2022-01-06", "different closes", "line 4", "line 6"], []),
    ("bad_garbage_date.csv", {}, 4, ["cannot read date '2022/1/O6'"], []),
    ("bad_number.csv", {}, 4, ["cannot read close '28.487.87x'", "column 'close'"], ["'-'", "'null'"]),
    ("wsj.csv", {"date_order": "dmy"}, 2, ["cannot read date '06/20/22'"], ["D/M/YY", "date_order"]),
    ("bad_early_typo.csv", {}, 4,
     ["date out of range: '1922/1/6' is 1922-01-06, before the Nikkei 225's first session (1949-05-16)"],
     ["dropped only when its history goes on from 1949-05-16"]),
    ("bad_no_header_ambiguous.csv", {}, 1,
     ["the file has no header line and 6 columns of numbers: cannot tell which is the close"],
     ["[data] close_column = <the close's column number>", "(1 is the first column)", "close_column = 5"]),
    ("nikkei_no_header.csv", {"close_column": "Close"}, 1,
     ["the file has no header line, so no column is named 'Close'"], ["close's column number"]),
]
# fmt: on


@pytest.mark.parametrize(("file", "kwargs", "line", "words", "hint_words"), BAD_FILES, ids=lambda v: str(v))
def test_bad_files_fail_with_one_line_saying_where_and_why(
    file: str, kwargs: dict[str, Any], line: int | None, words: list[str], hint_words: list[str]
) -> None:
    path = FIXTURES / file
    with pytest.raises(DataError) as caught:
        read_prices(path, **kwargs)
    error = caught.value

    where = f"{path}:{line}: " if line is not None else f"{path}: "
    assert str(error).startswith(where)
    assert "\n" not in str(error)
    for word in words:
        assert word in str(error)
    for word in hint_words:
        assert error.hint is not None and word in error.hint
    assert error.exit_code == ExitCode.DATA


@pytest.mark.parametrize(
    ("make", "cause"),
    [
        (lambda tmp: tmp / "absent.csv", "no such file"),
        (lambda tmp: tmp, "is a directory"),
    ],
    ids=["missing", "directory"],
)
def test_read_prices_refuses_paths_that_are_not_a_readable_file(
    tmp_path: pathlib.Path, make: Any, cause: str
) -> None:
    path = make(tmp_path)
    with pytest.raises(DataError, match=cause) as caught:
        read_prices(path)
    assert str(caught.value).startswith(f"{path}: ")


@pytest.mark.parametrize(
    "raw",
    [
        "date,close\n2022/1/4,1\n".encode("utf-16-le"),  # UTF-16 without a BOM: NUL bytes
        b"date,close\n2022/1/4,1\n\x89PNG\x00\x01",
        b"date,cl\xf4ture\n2022/1/4,1\n",  # latin-1 that cp932 would turn into private-use mojibake
    ],
    ids=["utf16-no-bom", "binary", "latin1-pua"],
)
def test_neither_utf8_nor_cp932_is_refused_not_mojibake(raw: bytes) -> None:
    assert "neither UTF-8 nor Shift-JIS/cp932" in str(data_error(raw))


# --- dates ---
@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2021/01/04", D(2021, 1, 4)),
        ("2018/1/4", D(2018, 1, 4)),
        ("2017-01-04", D(2017, 1, 4)),
        ("2024-01-04 00:00:00+09:00", D(2024, 1, 4)),
        ("2024-01-04T00:00:00", D(2024, 1, 4)),
        ("20170104", D(2017, 1, 4)),
        ("2020年12月30日", D(2020, 12, 30)),
        ("2020年1月6日", D(2020, 1, 6)),
        ("Feb 22, 2021", D(2021, 2, 22)),
        ("February 22, 2021", D(2021, 2, 22)),
        ("22-Feb-2021", D(2021, 2, 22)),
        ("04/14/2025", D(2025, 4, 14)),
        ("14.04.2025", D(2025, 4, 14)),
        ("7/22/25", D(2025, 7, 22)),
    ],
)
def test_date_forms(cell: str, expected: datetime.date) -> None:
    table = parse(f'Date,Close\n"{cell}",100\n')

    assert table.first == expected


def test_month_or_day_first_is_decided_by_the_whole_column() -> None:
    text = "Date,Close\n01/02/2025,1\n01/03/2025,2\n01/13/2025,3\n"

    table = parse(text)

    assert dates(table) == [D(2025, 1, 2), D(2025, 1, 3), D(2025, 1, 13)]
    assert table.date_format == "M/D/YYYY"


@pytest.mark.parametrize(
    ("order", "first", "last", "date_format"),
    [("mdy", D(2025, 3, 3), D(2025, 3, 12), "M/D/YYYY"), ("dmy", D(2025, 3, 3), D(2025, 12, 3), "D/M/YYYY")],
)
def test_date_order_settles_an_ambiguous_column(
    order: str, first: datetime.date, last: datetime.date, date_format: str
) -> None:
    table = read_prices(FIXTURES / "bad_ambiguous.csv", date_order=order)  # type: ignore[arg-type]

    assert (table.rows, table.first, table.last, table.date_format) == (8, first, last, date_format)


def test_date_order_ymd_reads_two_digit_year_first() -> None:
    table = parse("date,close\n22/07/25,1\n22/07/26,2\n", date_order="ymd")

    assert (table.first, table.last, table.date_format) == (D(2022, 7, 25), D(2022, 7, 26), "YY/M/D")


def test_two_digit_years_up_to_69_are_20xx_and_from_70_19xx() -> None:
    table = parse("date,close\n1/7/69,1\n1/6/70,2\n12/29/99,3\n1/4/00,4\n")

    assert dates(table) == [D(1970, 1, 6), D(1999, 12, 29), D(2000, 1, 4), D(2069, 1, 7)]


def test_an_impossible_date_is_an_error_with_its_line() -> None:
    error = data_error(b"date,close\n2022/2/28,1\n2022/2/30,2\n2022/3/1,3\n")

    assert str(error) == "prices.csv:3: cannot read date '2022/2/30'"


# --- closes ---
def test_missing_markers_become_nan_never_zero() -> None:
    table = parse(
        'date,close\n2022/1/4,-\n2022/1/5,null\n2022/1/6,.\n2022/1/7,\n2022/1/11,"-"\n2022/1/12,0.5\n'
    )

    assert table.missing == 5
    assert all(math.isnan(value) for value in table.closes.iloc[:5])
    assert close_on(table, D(2022, 1, 12)) == 0.5


def test_quotes_thousands_separators_and_spaces_are_stripped() -> None:
    table = parse('date,close\n2022/1/4, "29,301.79" \n2022/1/5,  29 332.16\n')

    assert list(table.closes) == [29301.79, 29332.16]


def test_a_file_whose_closes_are_all_missing_is_an_error() -> None:
    assert "no close values" in str(data_error(b"date,close\n2022/1/4,null\n2022/1/5,.\n"))


# --- close column ---
def test_adj_close_only_when_asked() -> None:
    default = read_prices(FIXTURES / "yahoo.csv")
    adjusted = read_prices(FIXTURES / "yahoo.csv", close_column=" adj close ")

    assert (default.column, adjusted.column) == ("Close", "Adj Close")


def test_close_column_override_picks_that_column() -> None:
    table = read_prices(FIXTURES / "kabuoji3.csv", close_column="終値調整値")

    assert table.column == "終値調整値"
    assert close_on(table, D(2017, 1, 4)) == 10165.0


def test_a_header_with_an_unknown_date_name_is_the_line_of_words_above_the_data() -> None:
    table = parse("Day,Close,Volume\n2022/1/4,1,5\n2022/1/5,2,6\n")

    assert (table.column, table.header_line, list(table.closes)) == ("Close", 1, [1.0, 2.0])
    assert "no header line found" in str(data_error(b"Nikkei 225\n\nno dates here, 1\n"))


# --- junk, order and duplicates ---
def test_sunday_rows_are_dropped_and_reported() -> None:
    table = parse("date,close\n2022/1/7,1\n2022/1/8,2\n2022/1/9,3\n2022/1/10,4\n")

    assert list(table.closes) == [1.0, 2.0, 4.0]  # Saturday kept, Sunday dropped
    assert table.skipped == (SkippedLine(4, "Sunday row (not an index close)"),)


def test_identical_duplicates_collapse_and_are_reported() -> None:
    table = parse("date,close\n2022/1/5,2\n2022/1/4,1\n2022/1/4,1.00\n")

    assert list(table.closes) == [1.0, 2.0]
    assert table.skipped == (SkippedLine(4, "identical duplicate"),)


def test_notes_repeated_headers_and_footers_are_skipped() -> None:
    text = (
        "date,close,open\n"
        "as of today,,\n"  # before the data, no number: skipped
        "2022/1/4,1,1\n"
        "note: half-day session,,\n"  # in the data, other cells empty: a note
        "date,close,open\n"  # a second download pasted below the first
        "2022/1/5,2,2\n"
        "\n"
        "Source: Nikkei Inc., all rights reserved\n"  # after the data, no number: footer
    )

    table = parse(text)

    assert table.rows == 2
    assert [(s.line, s.reason) for s in table.skipped] == [
        (2, "no date"),
        (4, "no date"),
        (5, "repeated header"),
        (7, "blank"),
        (8, "footer"),
    ]


def test_a_trailing_line_with_numbers_is_a_corrupted_row_not_a_footer() -> None:
    error = data_error(b"date,close\n2022/1/4,1\nTotal,123\n")

    assert str(error) == "prices.csv:3: cannot read date 'Total'"


def test_line_endings_and_final_newline_do_not_matter() -> None:
    texts = ["date,close\r2022/1/4,1\r2022/1/5,2", "date,close\r\n2022/1/4,1\r\n2022/1/5,2\r\n"]

    tables = [parse(text) for text in texts]

    assert all(list(t.closes) == [1.0, 2.0] for t in tables)


def test_line_numbers_stay_right_with_cr_only_endings() -> None:
    assert str(data_error(b"date,close\r2022/1/4,1\r2022/1/5,x\r")).startswith("prices.csv:3: ")


def test_header_names_ignore_quotes_bom_spaces_and_case() -> None:
    table = parse_prices('\ufeff\ufeff "DATE" , " CLOSE "\n2022/1/4,1\n'.encode(), source="p.csv")

    assert (table.column, table.encoding) == ("CLOSE", "utf-8-sig")


def test_a_decades_long_newest_first_export_parses_in_date_order() -> None:
    # Speed is measured by bench/parse.py (docs/performance.md), not asserted here.
    days = pd.bdate_range("1985-01-01", periods=10_000)[::-1]  # newest first, like investing.com
    lines = ['"日付け","終値","始値"'] + [
        f'"{d:%Y年%m月%d日}","{27_000 + i % 997:,.2f}","1"' for i, d in enumerate(days)
    ]
    raw = "\r\n".join(lines).encode("utf-8-sig")

    table = parse_prices(raw, source="big.csv")

    assert table.rows == 10_000
    assert table.closes.index.is_monotonic_increasing
    assert table.closes.index[0] == pd.Timestamp("1985-01-01")
    assert table.closes.iloc[-1] == 27_000.0  # the newest row, first in the file


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"Date,Close\n1/4,100\n1/5,101\n", "prices.csv:2: cannot read date '1/4'"),
        (b"date,close\n2022/1/9,1\n", "prices.csv: no data rows: every dated row is a Sunday"),
    ],
    ids=["no-readable-date", "only-sundays"],
)
def test_files_without_a_usable_dated_row_say_why(raw: bytes, message: str) -> None:
    assert str(data_error(raw)) == message


def test_yahoo_web_table_headers_with_stars_are_recognised() -> None:
    table = parse("Date,Open,Close*,Adj Close**\n2022-01-04,1,2,3\n")

    assert (table.column, list(table.closes)) == ("Close*", [2.0])


def test_an_unknown_date_order_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="date_order"):
        parse("date,close\n2022/1/4,1\n", date_order="iso")


# --- issue 13: every skipped line with its reason, lines of the closes, close names with a prefix ---
@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("2022/1/6;28487.87", "wrong separator ';'"),
        ('"2022/01/06";"28,487.87";"28,500.00"', "wrong separator ';'"),  # quoted, thousands separators
        ("2022/1/6\t28487.87", "wrong separator '\\t'"),
    ],
    ids=["plain", "quoted", "tab"],
)
def test_a_data_line_with_another_separator_is_skipped_as_wrong_separator(line: str, reason: str) -> None:
    table = parse(f"date,close,open\n2022/1/4,29301.79,1\n2022/1/5,29332.16,1\n{line}\n2022/1/7,28478.56,1\n")

    assert table.rows == 3 and pd.Timestamp("2022-01-06") not in table.closes.index
    assert table.skipped == (SkippedLine(4, reason),)
    assert table.skipped_reasons() == {reason: 1}
    assert table.summary()["skipped_lines"] == [{"line": 4, "reason": reason}]


def test_skipped_reasons_are_counted_most_frequent_first() -> None:
    table = parse("date,close\n2022/1/4,1\n\n2022/1/5;2\n2022/1/6;3\n2022/1/7,4\nSource: Nikkei\n")

    assert table.skipped_reasons() == {"wrong separator ';'": 2, "blank": 1, "footer": 1}
    assert [s.line for s in table.skipped] == [3, 4, 5, 7]


def test_each_close_keeps_its_line_number_through_the_sort() -> None:
    table = read_prices(FIXTURES / "investing_jp.csv")  # newest first, a Sunday row on line 5

    by_date = dict(zip(dates(table), table.lines.tolist(), strict=True))

    assert by_date[D(2020, 12, 30)] == 2 and by_date[D(2020, 12, 25)] == 6 and by_date[D(2020, 12, 15)] == 14
    assert len(table.lines) == table.rows


@pytest.mark.parametrize(
    ("header", "column", "contains"),
    [
        ("日付,stock_終値", "stock_終値", "終値"),
        ("Date,Close_N225", "Close_N225", "Close"),
        ("Date,Open Price,Close Price", "Close Price", "Close"),  # 'close' is tried before 'price'
        ("Date,Adj Close,N225 Close", "N225 Close", "Close"),  # an adjusted close is never guessed
    ],
)
def test_a_close_name_with_a_prefix_or_suffix_is_picked_with_a_note(
    header: str, column: str, contains: str
) -> None:
    cells = ["2022/1/4"] + ["1"] * (header.count(",") - 1) + ["29301.79"]  # the close is the last column
    table = parse(f"{header}\n{','.join(cells)}\n")

    assert list(table.closes) == [29301.79]
    assert table.column == column
    assert table.note == (
        f"column '{column}' taken as the close (its name contains '{contains}'); "
        "set [data] close_column to choose another"
    )


def test_an_exact_close_name_needs_no_note() -> None:
    table = read_prices(FIXTURES / "yahoo.csv")

    assert (table.column, table.note) == ("Close", None)


def test_two_columns_containing_a_close_name_are_refused() -> None:
    error = data_error(b"Date,Close_N225,Prev_Close\n2022/1/4,1,2\n")

    assert str(error) == (
        "prices.csv:1: cannot tell the close column: 'Close_N225', 'Prev_Close' all contain 'Close' "
        "and none is named exactly so"
    )
    assert error.hint is not None and "close_column" in error.hint
    table = parse_prices(
        b"Date,Close_N225,Prev_Close\n2022/1/4,1,2\n", source="p.csv", close_column="Close_N225"
    )
    assert list(table.closes) == [1.0]


# --- issue 25: the real downloads that were refused ---------------------------------------------------
def test_the_official_file_without_its_header_is_read_in_its_column_order() -> None:
    table = read_prices(FIXTURES / "nikkei_no_header.csv")

    assert table.note is not None and "official download's column order (date, close, open, high, low)" in (
        table.note
    )
    assert table.summary()["column"] == "column 2"


def test_a_typo_in_a_headerless_official_file_is_refused_on_its_line_not_as_ambiguous() -> None:
    lines = (FIXTURES / "nikkei_no_header.csv").read_text(encoding="cp932").splitlines()
    lines[5] = lines[5].replace('","', '","-', 1)  # a stray minus on the 6th close: low is no longer lowest
    table = parse("\n".join(lines))

    assert table.column == "column 2" and table.closes.iloc[5] < 0  # refused later, by check_closes


@pytest.mark.parametrize(
    ("text", "column", "close"),
    [
        ("2022/1/4,29301.79\n2022/1/5,29332.16\n", "column 2", 29332.16),  # one number per line
        ("29301.79,2022/1/4\n29332.16,2022/1/5\n", "column 1", 29332.16),  # dates last
        ('"Nikkei 225 closes"\n2022-01-04,"29,301.79",\n2022-01-05,"29,332.16",\n', "column 2", 29332.16),
    ],
    ids=["date-close", "close-date", "title-line"],
)
def test_a_headerless_file_with_one_column_of_numbers_needs_no_setting(
    text: str, column: str, close: float
) -> None:
    table = parse(text)

    assert (table.column, table.header_line, table.closes.iloc[-1]) == (column, 0, close)
    assert table.note is not None and table.note.startswith("no header line: the dates in column")


@pytest.mark.parametrize("setting", ["5", " 5 "])
def test_a_column_number_reads_a_headerless_file(setting: str) -> None:
    table = read_prices(FIXTURES / "bad_no_header_ambiguous.csv", close_column=setting)

    assert (table.column, list(table.closes)) == ("column 5", [27258.38, 27158.63, 27055.94])


@pytest.mark.parametrize(
    ("setting", "why"), [("1", "no column is named '1'"), ("8", "no column is named '8'")]
)
def test_a_column_number_that_is_the_dates_or_past_the_last_column_is_refused(setting: str, why: str) -> None:
    with pytest.raises(DataError, match=why):
        read_prices(FIXTURES / "bad_no_header_ambiguous.csv", close_column=setting)


def test_a_column_number_works_with_a_header_too() -> None:
    assert read_prices(FIXTURES / "date_value.csv", close_column="2").column == "value"
    assert read_prices(FIXTURES / "yahoo.csv", close_column="6").column == "Adj Close"


@pytest.mark.parametrize(
    ("header", "column"),
    [
        ("date,value", "value"),
        ("Date,NKY", "NKY"),
        ("日付,Series 1,Ticker", "Series 1"),  # a text column is not a column of numbers
        ("Day,Value", "Value"),  # the date column under a name no list holds: the line above the data
    ],
)
def test_a_date_and_one_column_of_numbers_under_any_name_need_no_setting(header: str, column: str) -> None:
    extra = ",N225" if "Ticker" in header else ""
    table = parse(f"{header}\n2022/1/4,29301.79{extra}\n2022/1/5,-{extra}\n2022/1/6,29332.16{extra}\n")

    assert (table.column, table.rows, table.missing) == (column, 3, 1)
    assert table.note == (
        f"column '{column}' taken as the close (the only column of numbers); set [data] close_column to "
        "choose another"
    )


@pytest.mark.parametrize("header", ["date,volume", "Date,Open", "日付,出来高", "date,change %"])
def test_a_lone_column_whose_name_says_it_is_no_close_is_not_taken(header: str) -> None:
    error = data_error(f"{header}\n2022/1/4,29301.79\n2022/1/5,29332.16\n".encode())

    assert "no close column" in str(error) and error.hint is not None and "close_column" in error.hint


def test_two_columns_of_numbers_under_other_names_are_refused_naming_the_setting() -> None:
    error = data_error(b"date,a,b\n2022/1/4,1,2\n")

    assert str(error).startswith("prices.csv:1: no close column (") and "columns: date, a, b" in str(error)


@pytest.mark.parametrize(
    ("header", "column"),
    [
        ('"日期","收盘","开盘","高","低","交易量","涨跌幅"', "收盘"),
        ("Data,Otwarcie,Najwyzszy,Najnizszy,Zamkniecie,Wolumen", "Zamkniecie"),
        ("Data,Otwarcie,Najwyższy,Najniższy,Zamknięcie,Wolumen", "Zamknięcie"),
        ("Datum,Zuletzt,Eröffn.,Hoch,Tief,Vol.,+/- %", "Zuletzt"),
        ("Fecha,Último,Apertura,Máximo,Mínimo,Vol.,% var.", "Último"),
        ("날짜,종가,오픈,고가,저가,거래량,변동 %", "종가"),
    ],
)
def test_other_languages_name_their_date_and_close(header: str, column: str) -> None:
    names = [name.strip('"') for name in header.split(",")]
    cells = ",".join(["2022/1/4"] + ["29301.79" if name == column else "1" for name in names[1:]])
    table = parse(f"{header}\n{cells}\n")

    assert (table.column, list(table.closes), table.note) == (column, [29301.79], None)


# --- issue 25: history back-filled before the index existed -------------------------------------------
def test_leading_rows_before_the_first_session_are_dropped_and_said() -> None:
    table = read_prices(FIXTURES / "full_history.csv")

    assert table.dropped is not None
    assert table.dropped.describe("f.csv") == (
        "f.csv: 141 rows dated before the Nikkei 225's first session (1949-05-16) dropped: "
        "1914-03-31 .. 1949-03-31 (lines 2-142), history back-filled before the index existed"
    )
    assert table.first == D(1949, 5, 16) and table.closes.iloc[0] == 176.21
    assert table.skipped_reasons() == {EARLY: 141}


def test_a_newest_first_file_drops_its_last_rows_before_the_first_session() -> None:
    table = parse("Date,Price\n1949/5/18,172.53\n1949/5/17,174.8\n1949/5/16,176.21\n1949/3/31,171.9\n")

    assert table.rows == 3 and table.dropped is not None
    assert (table.dropped.count, table.dropped.first, table.dropped.first_line) == (1, D(1949, 3, 31), 5)
    assert "1 row dated before" in table.dropped.describe("p.csv") and "(line 5)" in table.dropped.describe(
        "p"
    )


def test_what_is_dropped_need_not_be_readable() -> None:
    table = parse("date,close\n1920/3/31,n/a\n1949/3/31,171.9x\n1949/5/16,176.21\n1949/5/17,174.8\n")

    assert list(table.closes) == [176.21, 174.8]


@pytest.mark.parametrize(
    "text",
    [
        "date,close\n1921/1/4,1\n2021/1/5,2\n2021/1/6,3\n",  # 1921 for 2021: the file starts decades later
        "date,close\n1949/5/16,1\n1948/5/17,2\n1949/5/18,3\n",  # in the middle: a typo
        "date,close\n1949/5/16,1\n1949/5/17,2\n1920/1/4,3\n",  # last in an oldest-first file: a typo
        "date,close\n1949/3/31,1\n1949/5/16,2\n1920/1/4,3\n",  # at both ends
        "date,close\n1914/3/31,1\n1949/3/31,2\n",  # nothing left
    ],
    ids=["decades-later", "middle", "last-of-oldest-first", "both-ends", "all-early"],
)
def test_an_early_date_that_is_no_leading_history_is_still_refused(text: str) -> None:
    error = data_error(text.encode())

    assert "date out of range" in str(error) and "before the Nikkei 225's first session" in str(error)
    assert error.hint is not None and "cannot be turned off" in error.hint


def test_a_typo_in_a_back_filled_history_is_named_not_the_back_fill() -> None:
    text = "date,close\n1948/12/31,1\n1949/3/31,2\n1949/5/16,176\n1923/5/17,175\n1949/5/18,174\n"

    error = data_error(text.encode())

    assert str(error) == (
        "prices.csv:5: date out of range: '1923/5/17' is 1923-05-17, before the Nikkei 225's first session "
        "(1949-05-16)"
    )


@pytest.mark.parametrize(
    ("text", "column"),
    [
        (  # investing.com in German: dots group thousands, the comma is the decimal point
            "Datum,Zuletzt,Eröffn.,Hoch,Tief,Vol.,+/- %\n"
            '"25.06.2024","38.490,17","38.500,00","38.600,00","38.400,00","1,2M","0,5%"\n'
            '"24.06.2024","38.837,46","38.500,00","38.900,00","38.400,00","1,2M","-0,3%"\n',
            "Zuletzt",
        ),
        (  # French: spaces group thousands
            'Date,Dernier,Ouv.\n"25/06/2024","38 490,17","38 500,00"\n"24/06/2024","38 837,46","38 500,00"\n',
            "Dernier",
        ),
    ],
    ids=["de", "fr"],
)
def test_a_decimal_comma_export_is_read_as_such_not_100x_off(text: str, column: str) -> None:
    table = parse_prices(text.encode(), source="eu.csv", latest=datetime.date(2026, 12, 8))
    assert table.column == column
    assert list(table.closes) == [38837.46, 38490.17]


def test_english_thousands_commas_are_still_thousands() -> None:
    text = 'Date,Price\n"06/25/2024","38,490.17"\n"06/24/2024","38,837"\n'
    table = parse_prices(text.encode(), source="en.csv", latest=datetime.date(2026, 12, 8))
    assert list(table.closes) == [38837.0, 38490.17]
