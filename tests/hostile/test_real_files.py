"""`prepare` against real downloads that were refused (issue 25): a full history back-filled with quarterly
values from 1914, the official file with its header and footer cut off, a date and one column of
numbers under a generic name, stooq in Polish, investing.com in Chinese; and `--input` given a URL.

Each is read (exit 0, saying what it did in one line where it guessed or dropped something), or refused
with one `error:` line and a hint that names the exact fix, nothing written. The installed executable
runs each case, as a user would.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pytest

from hostile.kit import ROOT, assert_one_clean_error, run_exe, written

LONG = ROOT / "fixtures" / "prices" / "long"


def prepare(project: Path, path: Path, *args: str) -> object:
    return run_exe("prepare", "--dry-run", "--input", str(path), *args, cwd=project)


def _full_history(folder: Path, *, typo: bool = False) -> Path:
    """Quarterly values from 1914 (before the index existed), then ~420 weekday sessions from 1949-05-16."""
    quarters = [
        dt.date(year, month, day)
        for year in range(1914, 1950)
        for month, day in ((3, 31), (6, 30), (9, 30), (12, 31))
        if dt.date(year, month, day) < dt.date(1949, 5, 16)
    ]
    lines = ["Date,Close"] + [f"{day},{20 + 1.1 * i:.2f}" for i, day in enumerate(quarters)]
    day, i = dt.date(1949, 5, 16), 0
    while i < 420:
        if day.weekday() < 5:
            lines.append(f"{day},{176.21 + 0.2 * i + 3 * math.sin(i / 7):.2f}")
            i += 1
        day += dt.timedelta(days=1)
    if typo:  # an isolated early date among later ones: 1923 for 1950
        at = next(k for k, line in enumerate(lines) if line.startswith("1950-03-01"))
        lines[at] = lines[at].replace("1950", "1923", 1)
    path = folder / ("history-typo.csv" if typo else "history.csv")
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path


def test_a_full_history_back_filled_from_1914_is_read_without_its_first_rows(
    project: Path, hermetic_env: Path
) -> None:
    # refused before with "This check cannot be turned off", and no way out
    r = run_exe("prepare", "--dry-run", "--input", str(_full_history(project)), "--json", cwd=project)
    assert r.exit_code == 0, r.stderr
    [warning] = [line for line in r.stderr.splitlines() if "warning:" in line]
    assert (
        "141 rows dated before the Nikkei 225's first session (1949-05-16) dropped: "
        "1914-03-31 .. 1949-03-31 (lines 2-142)"
    ) in warning
    read = r.json()["data"]["read"]
    assert (read["first"], read["rows"]) == ("1949-05-16", 420)
    assert read["skipped_reasons"] == {"before the first session (1949-05-16)": 141}


def test_an_isolated_early_date_is_still_a_typo(project: Path, hermetic_env: Path) -> None:
    path = _full_history(project, typo=True)
    r = run_exe("prepare", "--dry-run", "--input", str(path), cwd=project)
    assert_one_clean_error(
        r, 3, f"{path}:", "date out of range: '1923-03-01'", "before the Nikkei 225's first"
    )
    assert written(hermetic_env) == []


@pytest.mark.parametrize(
    ("family", "column", "said"),
    [
        (
            "nikkei_no_header",
            "column 2",
            "no header line: read in the Nikkei official download's column order",
        ),
        ("date_value", "value", "column 'value' taken as the close (the only column of numbers)"),
        ("stooq_pl", "Zamkniecie", None),
        ("investing_zh", "收盘", None),
    ],
)
def test_the_downloads_that_were_refused_are_read(
    family: str, column: str, said: str | None, project: Path
) -> None:
    r = run_exe("prepare", "--dry-run", "--input", str(LONG / f"{family}.csv"), "--json", cwd=project)
    assert r.exit_code == 0, r.stderr
    read = r.json()["data"]["read"]
    assert (read["column"], read["rows"], read["first"], read["last"]) == (
        column,
        420,
        "2023-01-04",
        "2024-09-17",
    )
    if said is not None:
        assert said in r.stderr


def test_a_headerless_file_that_is_not_the_official_order_names_the_setting_that_reads_it(
    project: Path, hermetic_env: Path
) -> None:
    path = project / "yahoo-no-header.csv"
    path.write_bytes(b"".join((LONG / "yahoo.csv").read_bytes().splitlines(keepends=True)[1:]))
    r = run_exe("prepare", "--dry-run", "--input", str(path), cwd=project)
    assert_one_clean_error(r, 3, f"{path}:1: the file has no header line and 6 columns of numbers")
    assert "[data] close_column = <the close's column number>" in r.stderr and "close_column = 5" in r.stderr
    assert written(hermetic_env) == []
    # the fix the hint names
    (project / "nikkei-deepar.toml").write_text(
        'backend = "local"\n[data]\nclose_column = 5\n', encoding="utf-8"
    )
    r = run_exe("prepare", "--dry-run", "--input", str(path), "--json", cwd=project)
    assert r.exit_code == 0, r.stderr
    assert r.json()["data"]["read"]["column"] == "column 5"


@pytest.mark.parametrize("url", ["http://example.com/nikkei225.csv", "https://stooq.com/q/d/l/?s=^nkx&i=d"])
def test_a_url_given_to_input_says_it_goes_in_data_source(
    url: str, project: Path, hermetic_env: Path
) -> None:
    r = run_exe("prepare", "--input", url, cwd=project)
    assert_one_clean_error(r, 2, f"--input {url!r} is a URL", "URLs go in [data] source")
    assert written(hermetic_env) == []
