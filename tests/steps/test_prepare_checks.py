"""`prepare` refuses data that cannot be the Nikkei 225, and says which line (issue 13).

Each typo of the issue is injected into every family's long fixture (tests/fixtures/prices/long/, the
exact bytes of each family: encoding, quoting, thousands separators, date style, order) by editing one
cell of one real row, as a user's slip would; then `prepare` runs as a user runs it (the CLI, --json,
--dry-run: nothing leaves the machine). The clock is fixed: tomorrow in Tokyo is 2026-12-07.
"""

from __future__ import annotations

import csv
import datetime
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import pytest

from nikkei_deepar.data.prices import read_prices
from nikkei_deepar.steps import prepare as prepare_step

LONG = Path(__file__).resolve().parents[1] / "fixtures" / "prices" / "long"
FAMILIES = sorted(p.stem for p in LONG.glob("*.csv"))
NOW = datetime.datetime(2026, 12, 6, 12, 0, tzinfo=datetime.UTC)  # 21:00 in Tokyo
TOMORROW = "2026-12-07"
TARGET = datetime.date(2023, 6, 1)  # a Thursday session in every long fixture, mid-file


class CliResult(Protocol):
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any: ...


RunCli = Callable[..., CliResult]


@pytest.fixture(autouse=True)
def fixed_clock(hermetic_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prepare_step, "wall_clock", lambda: NOW)


def config(folder: Path, **data: Any) -> Path:
    path = folder / "nikkei-deepar.toml"
    lines = ['backend = "local"', "[data]"] + [f"{key} = {json.dumps(value)}" for key, value in data.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def prepare(run_cli: RunCli, folder: Path, path: Path, *args: str, **data: Any) -> CliResult:
    return run_cli(
        "prepare", "--config", str(config(folder, **data)), "--input", str(path), "--dry-run", *args
    )


# -- injecting one typo into one cell of one row, in the family's own bytes ------------------------------
def _spans(line: str) -> list[tuple[int, int]]:
    """Where each comma-separated cell of a CSV line is (quotes respected)."""
    spans, start, quoted = [], 0, False
    for i, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            spans.append((start, i))
            start = i + 1
    spans.append((start, len(line)))
    return spans


def _edit_cell(line: str, index: int, edit: Callable[[str], str]) -> str:
    start, end = _spans(line)[index]
    cell = line[start:end]
    value = cell.strip().strip('"')
    at = start + cell.index(value)
    return line[:at] + edit(value) + line[at + len(value) :]


def _times_ten(value: str) -> str:
    """The decimal point typed one digit late (27457.89 -> 274578.9), or a zero too many."""
    if "." not in value:
        return value + "0"
    i = value.index(".")
    moved = value[:i] + value[i + 1] + "." + value[i + 2 :]
    return moved.rstrip(".")


def _year(new: Callable[[str], str]) -> Callable[[str], str]:
    def edit(cell: str) -> str:
        if re.search(r"\d{4}", cell):
            return re.sub(r"\d{4}", lambda m: new(m.group()), cell, count=1)
        return re.sub(r"\d{2}$", lambda m: new(m.group()), cell)  # M/D/YY: the year is last

    return edit


def _swap_year(year: str) -> str:
    """2023 -> 2203 (the issue's 2022 -> 2202); two-digit 23 -> 32 (2032)."""
    return year[0] + year[2] + year[1] + year[3] if len(year) == 4 else year[::-1]


TYPOS: dict[str, tuple[str, Callable[[str], str]]] = {
    # name: (which cell, how it is mistyped)
    "year-2202": ("date", _year(_swap_year)),
    "date-2262": ("date", _year(lambda _: "2262")),  # 2262-06-01: past pandas' Timestamp limit
    "close-x10": ("close", _times_ten),
    "negative": ("close", lambda value: "-" + value),
    "zero": ("close", lambda _: "0"),
    "1e308": ("close", lambda _: "1e308"),
}


def inject(family: str, folder: Path, typo: str) -> tuple[Path, int]:
    """The family's long fixture with one typo in the row of TARGET; returns the file and that line."""
    source = LONG / f"{family}.csv"
    table = read_prices(source)
    line_no = int(table.lines[list(table.closes.index.date).index(TARGET)])
    raw = source.read_bytes()
    encoding = {"utf-8-sig": "utf-8"}.get(table.encoding, table.encoding)  # keep the BOM as it is
    lines = raw.decode(encoding).split("\n")  # keeps any \r, so CRLF files stay CRLF
    if table.header_line:
        header = next(csv.reader([lines[table.header_line - 1].lstrip("\ufeff").rstrip("\r")]))
        close_index = [cell.strip() for cell in header].index(table.column)
    else:  # no header: the reader names the close by its number, "column 2"
        close_index = int(table.column.removeprefix("column ")) - 1
    line = lines[line_no - 1].rstrip("\r")
    if typo == "semicolon":
        edited = ";".join(line[a:b] for a, b in _spans(line))
    else:
        which, edit = TYPOS[typo]
        edited = _edit_cell(line, 0 if which == "date" else close_index, edit)
    assert edited != line
    lines[line_no - 1] = edited + ("\r" if lines[line_no - 1].endswith("\r") else "")
    path = folder / f"{family}-{typo}.csv"
    path.write_bytes("\n".join(lines).encode(encoding))
    return path, line_no


def one_error(result: CliResult) -> str:
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, result.stderr
    return errors[0]


# -- the typos on every family ------------------------------------------------------------------
REFUSED = {
    # typo: words of the one-line error, after "<file>:<line>: "
    "year-2202": ["date out of range", f"after tomorrow in Tokyo ({TOMORROW})"],
    "date-2262": ["date out of range", "after tomorrow in Tokyo"],
    "close-x10": ["day move: close", "on 2023-06-01", "from the previous close", "the next close is"],
    "negative": ["close -", "on 2023-06-01 is negative"],
    "zero": ["close 0 on 2023-06-01 is zero"],
    "1e308": ["close 1e+308 on 2023-06-01 is too large"],
}


@pytest.mark.parametrize("typo", sorted(REFUSED))
@pytest.mark.parametrize("family", FAMILIES)
def test_each_typo_is_refused_with_exit_3_naming_file_line_and_value(
    family: str, typo: str, run_cli: RunCli, tmp_path: Path, hermetic_env: Path
) -> None:
    path, line = inject(family, tmp_path, typo)

    r = prepare(run_cli, tmp_path, path)

    assert r.exit_code == 3, r.stderr
    error = one_error(r)
    assert f"error: {path}:{line}: " in error
    for word in REFUSED[typo]:
        assert word in error, (word, error)
    assert "cannot read date" not in error
    assert "hint: " in r.stderr
    assert r.stdout == ""
    assert not (hermetic_env / "data").exists() and not (hermetic_env / "state.json").exists()


@pytest.mark.parametrize("family", FAMILIES)
def test_a_year_typo_is_refused_even_with_accept_outliers(
    family: str, run_cli: RunCli, tmp_path: Path
) -> None:
    path, line = inject(family, tmp_path, "year-2202")

    r = prepare(run_cli, tmp_path, path, "--accept-outliers", accept_outliers=True)

    assert r.exit_code == 3
    assert f"{path}:{line}: date out of range" in one_error(r)
    assert "cannot be turned off" in r.stderr


@pytest.mark.parametrize("typo", ["negative", "zero", "1e308"])
def test_impossible_closes_are_refused_even_with_accept_outliers(
    typo: str, run_cli: RunCli, tmp_path: Path
) -> None:
    path, line = inject("nikkei_jp", tmp_path, typo)

    r = prepare(run_cli, tmp_path, path, "--accept-outliers")

    assert r.exit_code == 3
    assert f"{path}:{line}: close " in one_error(r)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_semicolon_row_is_skipped_listed_and_warned_about(
    family: str, run_cli: RunCli, tmp_path: Path
) -> None:
    path, line = inject(family, tmp_path, "semicolon")
    clean = read_prices(LONG / f"{family}.csv")

    r = prepare(run_cli, tmp_path, path, "--json")

    assert r.exit_code == 0, r.stderr
    doc = r.json()
    read = doc["data"]["read"]
    assert read["rows"] == clean.rows - 1
    assert {"line": line, "reason": "wrong separator ';'"} in read["skipped_lines"]
    assert read["skipped_reasons"]["wrong separator ';'"] == 1
    assert read["skipped"] == len(clean.skipped) + 1 == len(read["skipped_lines"])
    assert sum(read["skipped_reasons"].values()) == read["skipped"]
    [warning] = doc["warnings"]
    assert f"line {line})" in warning and "wrong separator" in warning and "commas" in warning


# -- the override -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("family", FAMILIES)
def test_accept_outliers_goes_on_with_one_warning(family: str, run_cli: RunCli, tmp_path: Path) -> None:
    path, line = inject(family, tmp_path, "close-x10")

    r = prepare(run_cli, tmp_path, path, "--accept-outliers", "--json")

    assert r.exit_code == 0, r.stderr
    doc = r.json()
    accepted = doc["data"]["outliers_accepted"]
    assert [o["line"] for o in accepted][:1] == [line] and {o["kind"] for o in accepted} == {"day move"}
    assert len(accepted) == 2  # up to the typo, and back down from it
    [warning] = doc["warnings"]
    assert warning.startswith(f"{path}: 2 outliers accepted") and f"line {line}: day move" in warning
    warnings = [text for text in r.stderr.splitlines() if "warning:" in text]
    assert len(warnings) == 1
    series = json.loads((Path(doc["data"]["local_dir"]) / "series.json").read_text())
    value = series["target"][series["dates"].index(str(TARGET))]
    clean = read_prices(LONG / f"{family}.csv").closes
    assert value == pytest.approx(10 * float(clean[str(TARGET)]), rel=1e-6)  # the user's value, as asked


def test_the_config_key_accepts_outliers_too(run_cli: RunCli, tmp_path: Path) -> None:
    path, line = inject("fred_new", tmp_path, "close-x10")

    refused = prepare(run_cli, tmp_path, path, accept_outliers=False)
    accepted = prepare(run_cli, tmp_path, path, "--json", accept_outliers=True)

    assert refused.exit_code == 3 and "--accept-outliers" in refused.stderr
    assert "accept_outliers = true" in refused.stderr
    assert accepted.exit_code == 0, accepted.stderr
    assert accepted.json()["data"]["outliers_accepted"][0]["line"] == line


def test_a_gap_is_refused_naming_both_rows(run_cli: RunCli, tmp_path: Path) -> None:
    lines = (LONG / "stooq.csv").read_bytes().split(b"\r\n")
    cut = [line for line in lines if not line.startswith((b"2023-07", b"2023-08-0"))]  # five weeks lost
    path = tmp_path / "stooq-gap.csv"
    path.write_bytes(b"\r\n".join(cut))

    r = prepare(run_cli, tmp_path, path)

    assert r.exit_code == 3
    error = one_error(r)
    assert re.search(
        r"gap: no close for 4\d days, from [\d.]+ on 2023-06-30 \(line \d+\) to [\d.]+ on 2023-08-1", error
    )
    assert prepare(run_cli, tmp_path, path, "--accept-outliers").exit_code == 0


# -- what was skipped, and the close column ---------------------------------------------------------------
def test_verbose_lists_every_skipped_line_and_the_summary_counts_each_reason(
    run_cli: RunCli, tmp_path: Path
) -> None:
    path, line = inject("nikkei_excel_resave", tmp_path, "semicolon")
    total = len(path.read_bytes().splitlines())

    quiet = prepare(run_cli, tmp_path, path)
    verbose = prepare(run_cli, tmp_path, path, "-v")

    assert quiet.exit_code == verbose.exit_code == 0
    assert "3 lines skipped: 1 blank, 1 footer, 1 wrong separator ';'" in quiet.stdout
    assert "skipped:" not in quiet.stderr
    listed = [text.split(f"{path}:", 1)[1] for text in verbose.stderr.splitlines() if ": skipped: " in text]
    assert listed == [
        f"{line}: skipped: wrong separator ';'",
        f"{total - 1}: skipped: blank",
        f"{total}: skipped: footer",
    ]


def test_a_close_column_with_a_prefix_is_used_with_a_note(run_cli: RunCli, tmp_path: Path) -> None:
    raw = (LONG / "nikkei_jp.csv").read_bytes()
    path = tmp_path / "renamed.csv"
    path.write_bytes(
        raw.replace("データ日付,終値,".encode("cp932"), "データ日付,stock_終値,".encode("cp932"), 1)
    )

    r = prepare(run_cli, tmp_path, path, "--json")

    assert r.exit_code == 0, r.stderr
    assert r.json()["data"]["read"]["column"] == "stock_終値"
    notes = [text for text in r.stderr.splitlines() if "taken as the close" in text]
    assert len(notes) == 1 and "contains '終値'" in notes[0] and "close_column" in notes[0]


def test_two_candidate_close_columns_are_refused(run_cli: RunCli, tmp_path: Path) -> None:
    raw = (LONG / "yahoo.csv").read_bytes()
    path = tmp_path / "two.csv"
    path.write_bytes(
        raw.replace(b"Date,Open,High,Low,Close,Adj Close", b"Date,Open,High,Low,Close_N225,Prev Close", 1)
    )

    r = prepare(run_cli, tmp_path, path)

    assert r.exit_code == 3
    assert f"{path}:1: cannot tell the close column: 'Close_N225', 'Prev Close'" in one_error(r)
    assert "close_column" in r.stderr
