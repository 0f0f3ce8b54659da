"""Plausibility checks (data/plausible.py and the reader's date range): what a user's typo turns into.

The bounds are pinned at their edges (just inside passes, just outside is refused) and against the
index's real extremes (Black Monday 1987, 2008-10-14, Golden Week 2019), which must pass. The clock is
always passed in, so nothing here depends on today's date.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from nikkei_deepar.data.plausible import (
    FIRST_SESSION,
    FLOAT32_MAX,
    MAX_DAY_MOVE,
    MAX_GAP_DAYS,
    check_closes,
    find_outliers,
    outliers_error,
    outliers_warning,
    tomorrow_in_tokyo,
)
from nikkei_deepar.data.prices import PriceTable, parse_prices
from nikkei_deepar.errors import DataError, ExitCode

D = datetime.date
UTC = datetime.UTC
LATEST = D(2026, 12, 7)


def parse(text: str, **kwargs: Any) -> PriceTable:
    return parse_prices(text.encode(), source="prices.csv", **kwargs)


def error_of(text: str, **kwargs: Any) -> DataError:
    with pytest.raises(DataError) as caught:
        parse(text, **kwargs)
    assert caught.value.exit_code == ExitCode.DATA
    assert "\n" not in str(caught.value)
    return caught.value


def closes_error(text: str) -> DataError:
    with pytest.raises(DataError) as caught:
        check_closes(parse(text))
    assert caught.value.exit_code == ExitCode.DATA
    return caught.value


# --- tomorrow in Tokyo ---
@pytest.mark.parametrize(
    ("now", "tomorrow"),
    [
        (datetime.datetime(2026, 12, 6, 14, 59, tzinfo=UTC), D(2026, 12, 7)),  # 23:59 in Tokyo
        (datetime.datetime(2026, 12, 6, 15, 0, tzinfo=UTC), D(2026, 12, 8)),  # already the 7th in Tokyo
        (datetime.datetime(2026, 12, 6, 9, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=-10))),
         D(2026, 12, 8)),  # Honolulu's morning is Tokyo's next day
    ],
)  # fmt: skip
def test_tomorrow_is_on_the_tokyo_calendar(now: datetime.datetime, tomorrow: datetime.date) -> None:
    assert tomorrow_in_tokyo(now) == tomorrow


def test_a_naive_clock_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        tomorrow_in_tokyo(datetime.datetime(2026, 12, 6, 12, 0))


# --- the date range (checked by the reader, not overridable) ---
def test_the_first_session_and_tomorrow_are_inside_the_range() -> None:
    table = parse("date,close\n1949/5/16,176.21\n2026/12/7,50000\n", latest=LATEST)

    assert (table.first, table.last) == (FIRST_SESSION, LATEST)


AFTER = "after tomorrow in Tokyo (2026-12-07)"
BEFORE = "before the Nikkei 225's first session (1949-05-16)"


@pytest.mark.parametrize(
    ("cell", "day", "why"),
    [
        ("2026/12/8", "2026-12-08", AFTER),
        ("2202/6/1", "2202-06-01", AFTER),  # the year typo
        ("2262/4/12", "2262-04-12", AFTER),  # beyond pandas' Timestamp, still a real date
        ("9999/12/31", "9999-12-31", AFTER),
        ("1949/5/14", "1949-05-14", BEFORE),
        ("1022/6/1", "1022-06-01", BEFORE),
    ],
)
def test_a_date_outside_the_index_life_is_out_of_range_naming_line_and_value(
    cell: str, day: str, why: str
) -> None:
    error = error_of(f"date,close\n2022/6/1,27457.89\n{cell},27413.88\n2022/6/3,27761.57\n", latest=LATEST)

    assert str(error) == f"prices.csv:3: date out of range: {cell!r} is {day}, {why}"
    assert error.hint is not None and "cannot be turned off" in error.hint


def test_beyond_pandas_limit_is_out_of_range_even_without_a_clock() -> None:
    """pandas' Timestamp ends on 2262-04-11: 2262/4/12 is a real date, merely too late."""
    error = error_of("date,close\n2262/4/12,1\n")

    assert str(error) == "prices.csv:2: date out of range: '2262/4/12' is 2262-04-12, after tomorrow in Tokyo"


def test_an_impossible_date_beyond_pandas_limit_still_cannot_be_read() -> None:
    assert str(error_of("date,close\n2262/2/30,1\n")) == "prices.csv:2: cannot read date '2262/2/30'"


def test_the_first_problem_in_the_file_wins_and_the_others_are_counted() -> None:
    text = "date,close\n2022/6/1,1\n2022/6/31,2\n1900/1/4,3\n2300/1/4,4\n"  # 31 June comes first

    assert str(error_of(text, latest=LATEST)) == "prices.csv:3: cannot read date '2022/6/31'"
    error = error_of("date,close\n1900/1/4,3\n2022/6/1,1\n2300/1/4,4\n3000/1/6,5\n", latest=LATEST)
    assert str(error).endswith(
        "before the Nikkei 225's first session (1949-05-16); 2 more lines out of range"
    )
    assert error.hint is not None and "delete the lines dated before 1949-05-16" in error.hint


def test_an_out_of_range_date_on_a_sunday_is_refused_not_dropped_as_a_sunday_row() -> None:
    # 2203-06-05 and 1949-05-15 are Sundays: the typo must not vanish into "Sunday row"
    assert D(2203, 6, 5).weekday() == D(1949, 5, 15).weekday() == 6
    for cell in ("2203/6/5", "1949/5/15"):
        assert "date out of range" in str(error_of(f"date,close\n2023/6/1,1\n{cell},2\n", latest=LATEST))


# --- closes: finite and positive (not overridable) ---
@pytest.mark.parametrize(
    ("cell", "cause"),
    [
        ("0", "close 0 on 2022-06-02 is zero"),
        ("-27413.88", "close -27413.88 on 2022-06-02 is negative"),
        ('"-27,413.88"', "close -27413.88 on 2022-06-02 is negative"),
        ("1e308", "close 1e+308 on 2022-06-02 is too large: DeepAR computes in 32-bit floats"),
        ("3.5e38", "close 3.5e+38 on 2022-06-02 is too large"),
    ],
)
def test_a_close_that_is_not_a_positive_float32_is_refused(cell: str, cause: str) -> None:
    error = closes_error(f"date,close\n2022/6/1,27457.89\n2022/6/2,{cell}\n2022/6/3,27761.57\n")

    assert str(error).startswith(f"prices.csv:3: {cause}")
    assert error.hint is not None and "cannot be turned off" in error.hint


def test_the_first_bad_close_in_the_file_is_named_even_when_the_file_is_newest_first() -> None:
    error = closes_error("date,close\n2022/6/3,-3\n2022/6/2,5\n2022/6/1,0\n")

    assert str(error) == "prices.csv:2: close -3 on 2022-06-03 is negative; 1 more line like it"


def test_missing_closes_and_the_largest_float32_pass() -> None:
    check_closes(parse(f"date,close\n2022/6/1,null\n2022/6/2,{FLOAT32_MAX * 0.999!r}\n2022/6/3,0.01\n"))


def test_inf_and_nan_never_reach_the_checks() -> None:
    for cell in ("inf", "1e309"):
        assert "cannot read close" in str(error_of(f"date,close\n2022/6/1,{cell}\n"))


# --- outliers ---
def _series(*closes: float | None) -> str:
    """Closes on consecutive weekdays from Wednesday 2022-06-01; None is an empty close."""
    lines = ["date,close"]
    day = D(2022, 6, 1)
    for close in closes:
        while day.weekday() >= 5:
            day += datetime.timedelta(days=1)
        lines.append(f"{day:%Y/%m/%d},{'' if close is None else close}")
        day += datetime.timedelta(days=1)
    return "\n".join(lines) + "\n"


def test_moves_just_inside_the_bound_pass_and_just_outside_are_flagged() -> None:
    inside = 100 * (1 + MAX_DAY_MOVE) - 0.01
    assert find_outliers(parse(_series(100, inside, 100, 100 * (1 - MAX_DAY_MOVE) + 0.01))) == []

    up, down = find_outliers(parse(_series(100, 120.1, 120.1, 96)))

    assert (up.line, up.kind, down.line) == (3, "day move", 5)
    assert "+20.1% from the previous close 100 on 2022-06-01 (line 2)" in up.message
    assert "-20.1% from the previous close 120.1 on 2022-06-03 (line 4)" in down.message


def test_a_close_typed_ten_times_too_large_is_reported_with_its_neighbours() -> None:
    [spike, back] = find_outliers(parse(_series(27457.89, 274138.8, 27761.57)))

    assert spike.line == 3 and back.line == 4
    assert spike.message == (
        "day move: close 274138.8 on 2022-06-02 (line 3) is +898.4% from the previous close 27457.89 on "
        "2022-06-01 (line 2); the next close is 27761.57 on 2022-06-03 (line 4)"
    )
    error = outliers_error("prices.csv", [spike, back])
    assert str(error) == f"prices.csv:3: {spike.message}; 1 more outlier (line 4)"
    assert (
        error.hint is not None
        and "--accept-outliers" in error.hint
        and "accept_outliers = true" in error.hint
    )
    assert "20%" in error.hint and "1987-10-20" in error.hint
    warning = outliers_warning("prices.csv", [spike, back])
    assert "\n" not in warning and warning.startswith("prices.csv: 2 outliers accepted")


def test_moves_are_measured_between_closes_across_missing_rows() -> None:
    # FRED/Yahoo holiday rows hold no close: 100 -> (missing) -> 130 is one +30% move
    [move] = find_outliers(parse(_series(100, None, 130, 131)))

    assert move.line == 4 and "+30.0% from the previous close 100 on 2022-06-01 (line 2)" in move.message


def test_gaps_just_inside_the_bound_pass_and_just_outside_are_flagged() -> None:
    assert MAX_GAP_DAYS == 14
    assert find_outliers(parse("date,close\n2022/6/1,100\n2022/6/15,101\n")) == []  # 14 days

    [gap] = find_outliers(parse("date,close\n2022/6/1,100\n2022/6/16,101\n2022/6/17,102\n"))

    assert (gap.line, gap.kind) == (3, "gap")
    assert gap.message.startswith(
        "gap: no close for 15 days, from 100 on 2022-06-01 (line 2) to 101 on 2022-06-16 (line 3)"
    )


def test_a_year_typo_inside_the_range_is_a_gap() -> None:
    """2012/6/2 for 2022/6/2 is a real date in range: sorted first, it leaves a ten-year hole."""
    outliers = find_outliers(parse("date,close\n2022/6/1,27457.89\n2012/6/2,27413.88\n2022/6/3,27761.57\n"))

    assert [(o.line, o.kind) for o in outliers] == [(2, "gap")]
    assert "2012-06-02 (line 3) to 27457.89 on 2022-06-01 (line 2)" in outliers[0].message


@pytest.mark.parametrize(
    "text",
    [
        # Black Monday in Tokyo: -14.90%, the largest fall; then +9.30%
        "date,close\n1987/10/19,25746.56\n1987/10/20,21910.08\n1987/10/21,23947.40\n",
        # the largest rise: +14.15%
        "date,close\n2008/10/10,8276.43\n2008/10/14,9447.57\n",
        # the longest closure since 1949: Golden Week 2019, 11 days from close to close
        "date,close\n2019/4/26,22258.73\n2019/5/7,22307.58\n",
        # the year-end closure
        "date,close\n2012/12/28,10395.18\n2013/1/4,10688.11\n",
    ],
    ids=["black-monday", "2008-10-14", "golden-week-2019", "year-end"],
)
def test_the_index_real_extremes_are_not_outliers(text: str) -> None:
    table = parse(text)

    check_closes(table)
    assert find_outliers(table) == []


def test_outliers_are_in_date_order_with_each_line() -> None:
    table = parse("date,close\n2022/7/1,150\n2022/6/1,100\n2022/6/2,150\n2022/6/3,150\n")

    assert [(o.line, o.kind) for o in find_outliers(table)] == [(4, "day move"), (2, "gap")]
    assert [o.to_data()["kind"] for o in find_outliers(table)] == ["day move", "gap"]


def test_no_outliers_in_a_single_close() -> None:
    assert find_outliers(parse("date,close\n2022/6/1,100\n2022/6/2,\n")) == []
