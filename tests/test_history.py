"""The forecast history file: appended, never rewritten; bad entries reported with file and line and
skipped; a newer format refused by version; two processes appending never interleave a line."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import stat
from pathlib import Path
from typing import Any

import pytest

from nikkei_deepar.errors import DataError, ExitCode, VersionError
from nikkei_deepar.history import (
    FORMAT_VERSION,
    ForecastPoint,
    ForecastRecord,
    LocalHistory,
    Workspace,
    parse_entry,
)


def record(origin: dt.date = dt.date(2025, 12, 26), *, job: str = "job-1", **changes: Any) -> ForecastRecord:
    points = [
        ForecastPoint(step=1, date=dt.date(2025, 12, 29), mean=100.0, quantiles={"0.1": 90.0, "0.9": 110.0}),
        ForecastPoint(step=2, date=dt.date(2025, 12, 30), mean=101.0, quantiles={"0.1": 88.0, "0.9": 113.0}),
    ]
    values: dict[str, Any] = {
        "origin": origin,
        "last_close": 100.0,
        "calendar": "calendar_days",
        "quantiles": ["0.1", "0.9"],
        "forecast": points,
        "random_walk": points,
        "random_walk_weight": 0.8,
        "mase_scale": 2.5,
        "job": job,
        "data_sha256": "ab" * 32,
        "backend": "local",
        "workspace": Workspace(project="nikkei-deepar", stage="dev"),
        "mode": "local",
        "source": "nikkei-deepar-dev",
    }
    values.update(changes)
    return ForecastRecord(**values)


def test_records_round_trip_in_order_and_a_second_forecast_is_kept_beside_the_first(tmp_path: Path) -> None:
    history = LocalHistory(tmp_path / "home" / "history.jsonl")
    first, second = record(), record()  # same origin, same job: both kept
    assert history.append(first) == str(tmp_path / "home" / "history.jsonl")
    history.append(second)
    records, problems = history.entries()
    assert problems == []
    assert records == [first, second] and first.id != second.id
    assert records[0].format_version == FORMAT_VERSION
    assert records[0].issued_at.tzinfo is not None and records[0].issued_at.utcoffset() == dt.timedelta(0)
    lines = (tmp_path / "home" / "history.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["issued_at"].endswith("Z")


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_the_file_is_0600_like_the_ledger_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    import os

    previous = os.umask(umask)
    try:
        path = tmp_path / "history.jsonl"
        LocalHistory(path).append(record())
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_no_history_yet_is_empty(tmp_path: Path) -> None:
    assert LocalHistory(tmp_path / "history.jsonl").entries() == ([], [])


def test_a_corrupt_or_truncated_entry_is_reported_with_file_and_line_skipped_and_never_rewritten(
    tmp_path: Path,
) -> None:
    path = tmp_path / "history.jsonl"
    history = LocalHistory(path)
    history.append(good := record())
    valid = json.loads(good.to_line())
    with path.open("ab") as fh:
        fh.write(b"{not json\n")
        fh.write(json.dumps({**valid, "mean": 1}).encode() + b"\n")  # an unknown key
        fh.write(good.to_line()[:40])  # cut short: no newline
    before = path.read_bytes()
    records, problems = history.entries()
    assert records == [good]
    assert len(problems) == 3
    assert problems[0].startswith(f"{path}:2: a corrupt or truncated history entry (not JSON")
    assert problems[1].startswith(f"{path}:3: a corrupt history entry (mean: ")
    assert problems[2].startswith(f"{path}:4: a corrupt or truncated history entry")
    assert all(p.endswith(": skipped") for p in problems)
    assert path.read_bytes() == before  # reading never rewrites

    # the next forecast starts on a line of its own: the cut entry stays one bad line
    history.append(later := record(dt.date(2026, 1, 5)))
    assert path.read_bytes().startswith(before)
    records, problems = history.entries()
    assert records == [good, later] and len(problems) == 3


def test_an_entry_of_a_newer_format_is_refused_by_version(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    LocalHistory(path).append(record())
    newer = {**json.loads(record().to_line()), "format_version": FORMAT_VERSION + 1, "new_field": 1}
    with path.open("ab") as fh:
        fh.write(json.dumps(newer).encode() + b"\n")
    with pytest.raises(VersionError) as caught:
        LocalHistory(path).entries()
    assert caught.value.exit_code == ExitCode.VERSION == 11
    assert f"{path}:2: a forecast history entry written by a newer version" in caught.value.message
    assert f"format {FORMAT_VERSION + 1}; this version reads up to {FORMAT_VERSION}" in caught.value.message


def test_parse_entry_names_where_and_refuses_what_is_not_an_entry() -> None:
    with pytest.raises(DataError, match=r"^here:7: not a forecast history entry \(format_version None\)"):
        parse_entry(b'{"hello": 1}', where="here:7")
    with pytest.raises(DataError, match="not JSON"):
        parse_entry(b"\xff\xfe", where="here:8")


def _append_many(path: str, worker: int, count: int) -> None:
    history = LocalHistory(Path(path))
    for i in range(count):
        history.append(record(job=f"w{worker}-{i}", source="x" * 2000))  # lines of ~6 KB


def test_two_processes_appending_at_once_never_interleave_a_line(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append_many, args=(str(path), w, 40)) for w in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    records, problems = LocalHistory(path).entries()
    assert problems == []
    assert sorted(r.job or "" for r in records) == sorted(f"w{w}-{i}" for w in range(3) for i in range(40))


def test_a_history_that_cannot_be_written_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "home").write_text("a file where the folder should be")
    with pytest.raises(DataError, match=r"home/history.jsonl: cannot keep the forecast in the history: "):
        LocalHistory(tmp_path / "home" / "history.jsonl").append(record())
