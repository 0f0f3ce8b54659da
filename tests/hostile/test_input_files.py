"""`prepare --input` against what is not a price file: devices, FIFOs, directories, sockets, files over
the size cap, a line of 50 MB of commas, names with newlines and terminal escapes.

Each case: exit 3, one `error:` line naming the file (control characters escaped), no traceback,
nothing written in the tool's home. Devices and FIFOs run through the installed executable: a
regression would block, and the subprocess guard stops it rather than the suite.
"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from hostile.kit import GOOD_PRICES, assert_one_clean_error, run_exe, written
from nikkei_deepar.errors import DataError
from nikkei_deepar.files import MAX_LINE_BYTES, check_lines, read_input


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_devices_are_refused_unread(device: str, project: Path, hermetic_env: Path) -> None:
    if not Path(device).exists():
        pytest.skip(f"{device} missing here")
    r = run_exe("prepare", "--dry-run", "--input", device, cwd=project)
    assert_one_clean_error(r, 3, device, "character device, not a price file")
    assert written(hermetic_env) == []


def test_a_fifo_is_refused_without_blocking(project: Path, hermetic_env: Path) -> None:
    fifo = project / "prices.csv"
    os.mkfifo(fifo)  # nobody ever writes to it: opening it for reading would block forever
    r = run_exe("prepare", "--dry-run", "--input", str(fifo), "--json", cwd=project)
    assert_one_clean_error(r, 3, "FIFO")
    assert r.json()["errors"][0]["code"] == "not-a-file"
    assert written(hermetic_env) == []


def test_a_fifo_named_by_data_source_is_refused_too(project: Path, hermetic_env: Path) -> None:
    os.mkfifo(project / "feed.csv")
    (project / "nikkei-deepar.toml").write_text('backend = "local"\n[data]\nsource = "feed.csv"\n')
    r = run_exe("prepare", "--dry-run", cwd=project)
    assert_one_clean_error(r, 3, "feed.csv", "FIFO")
    assert written(hermetic_env) == []


def test_a_directory_and_a_socket_are_refused(project: Path, hermetic_env: Path) -> None:
    r = run_exe("prepare", "--dry-run", "--input", str(project), cwd=project)
    assert_one_clean_error(r, 3, "is a directory")
    # AF_UNIX paths are short: bind in a short relative name
    with socket.socket(socket.AF_UNIX) as server:
        server.bind("s.sock")
        assert stat.S_ISSOCK(Path("s.sock").stat().st_mode)
        r = run_exe("prepare", "--dry-run", "--input", "s.sock", cwd=project)
    assert_one_clean_error(r, 3, "s.sock", "socket")
    assert written(hermetic_env) == []


def test_a_file_over_the_configured_cap_is_refused_before_reading(project: Path, hermetic_env: Path) -> None:
    big = project / "big.csv"
    big.write_bytes(GOOD_PRICES.read_bytes() + b"\n" * 4096)
    (project / "nikkei-deepar.toml").write_text(
        f'backend = "local"\n[data]\nmax_input_bytes = {big.stat().st_size - 1}\n'
    )
    r = run_exe("prepare", "--dry-run", "--input", str(big), cwd=project)
    assert_one_clean_error(r, 3, "big.csv", "larger than", "max_input_bytes")
    assert written(hermetic_env) == []
    # at the cap exactly, the same file is read
    (project / "nikkei-deepar.toml").write_text(
        f'backend = "local"\n[data]\nmax_input_bytes = {big.stat().st_size}\n'
    )
    assert run_exe("prepare", "--dry-run", "--input", str(big), cwd=project).exit_code == 0


def test_a_50_mb_line_of_commas_fails_fast(project: Path, hermetic_env: Path) -> None:
    commas = project / "commas.csv"
    with commas.open("wb") as fh:
        fh.write(b"Date,Close\n2024-01-04,33288.29\n")
        fh.write(b"," * 50_000_000)
    r = run_exe("prepare", "--dry-run", "--input", str(commas), cwd=project)
    assert_one_clean_error(r, 3, "commas.csv:3", "line longer than")
    assert written(hermetic_env) == []


def test_line_cap_boundaries() -> None:
    ok = b"Date,Close\n" + b"x" * MAX_LINE_BYTES + b"\r\n" + b"y" * MAX_LINE_BYTES
    check_lines(ok, "ok.csv")  # exactly at the cap, with CRLF and a last line without a break
    for bad, line in (
        (b"x" * (MAX_LINE_BYTES + 1), 1),
        (b"a\n" * 10 + b"x" * (MAX_LINE_BYTES + 1) + b"\n", 11),
        (b"a\r" * 3 + b"," * (MAX_LINE_BYTES * 3), 1),  # old Mac breaks: counted by \n, reported as 1
    ):
        with pytest.raises(DataError, match=f"bad.csv:{line}: a line longer than"):
            check_lines(bad, "bad.csv")


def test_read_input_reads_a_regular_file_and_names_a_missing_one(tmp_path: Path) -> None:
    assert read_input(GOOD_PRICES) == GOOD_PRICES.read_bytes()
    with pytest.raises(DataError, match="no such file"):
        read_input(tmp_path / "absent.csv")


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("evil\nerror: forged second line.csv", "evil\\nerror: forged second line.csv"),
        ("\x1b[2J\x1b[31mred.csv", "\\x1b[2J\\x1b[31mred.csv"),
        ("bell\x07and\rreturn.csv", "bell\\x07and\\rreturn.csv"),
    ],
)
def test_control_characters_in_a_file_name_are_escaped(
    name: str, shown: str, project: Path, hermetic_env: Path
) -> None:
    path = project / name
    path.write_text("this is not a price file\n", encoding="utf-8")
    r = run_exe("prepare", "--dry-run", "--input", str(path), cwd=project)
    line = assert_one_clean_error(r, 3, shown)
    assert "\x07" not in r.stderr and "\r" not in r.stderr
    assert line.startswith("error: ") or " error: " in line  # a forged "error:" stays inside this line
    assert written(hermetic_env) == []
    r = run_exe("prepare", "--dry-run", "--input", str(path), "--json", cwd=project)
    assert r.json()["errors"][0]["message"].startswith(str(path))  # JSON carries the real name, escaped
