"""`prepare` as a user runs it: the CLI through Typer's runner, S3 on in-process moto, the home in tmp.

Every CSV family's long fixture (tests/fixtures/prices/long/, ~420 trading days written by
make_fixtures.py) must become valid DeepAR channels under a content-addressed key, with the ledger and
the report saying what was read; every bad input must stop with exit 3, one error line naming the file
(and line) and cause, nothing uploaded and the ledger untouched. The closes are checked against the
generator's own table, so a reader that shifts a day or drops a value is caught here.
"""

from __future__ import annotations

import datetime
import hashlib
import importlib.util
import itertools
import json
import math
import os
import re
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import pytest

from nikkei_deepar.output import ENVELOPE_KEYS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "prices"
LONG = FIXTURES / "long"
BUCKET = "nikkei-prepare-test"
PREFIX = "nikkei-deepar"  # the config default
ROOT = f"{PREFIX}/nikkei-deepar/dev"  # the default workspace's keys: {prefix}/{project}/{stage}
PREDICTION_LENGTH = 17  # the defaults: 5 trading days, derived for calendar_days (data.calendar)
TRADING_PREDICTION_LENGTH = 5  # the same horizon under calendar = "trading_days"
CONTEXT_LENGTH = 20
START_RE = re.compile(r"^\d{4}-\d{2}-\d{2} 00:00:00$")
CHANNELS = ("train/train.json", "test/test.json", "series.json")


class CliResult(Protocol):  # conftest's CliResult
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any: ...


RunCli = Callable[..., CliResult]


def _generator() -> ModuleType:
    """make_fixtures.py is the single source of truth for the long fixtures' days and closes."""
    name = "_prepare_tests_make_fixtures"
    spec = importlib.util.spec_from_file_location(name, FIXTURES / "make_fixtures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


GEN = _generator()
TRADING = [(day.date, day.close) for day in GEN.long_days()]
CLOSES = dict(TRADING)
FIRST, LAST = TRADING[0][0], TRADING[-1][0]
HOLIDAY_ROWS = len(GEN.long_weekdays()) - len(TRADING)  # weekday closures: FRED '.'/'' rows, Yahoo nulls


@dataclass(frozen=True)
class Family:
    column: str
    skipped: int = 0  # preamble, footer, blank and Sunday lines
    missing: int = 0  # rows read without a close

    @property
    def rows(self) -> int:
        return len(TRADING) + self.missing


FAMILIES = {
    "bloomberg": Family("PX_LAST", skipped=5),  # 4 preamble lines and ",,"
    "date_value": Family("value"),  # a generic name: the only column of numbers
    "fred_new": Family("NIKKEI225", missing=HOLIDAY_ROWS),
    "fred_old": Family("NIKKEI225", missing=HOLIDAY_ROWS),
    "investing_en_new": Family("Price"),
    "investing_en_old": Family("Price"),
    "investing_jp": Family("終値", skipped=10),  # spurious Sunday rows
    "investing_zh": Family("收盘"),
    "kabuoji3": Family("終値", skipped=1),  # the title line, and 終値 rather than 終値調整値
    "nikkei_en": Family("Close", skipped=1),
    "nikkei_excel_resave": Family("close", skipped=2),  # ",,,," and the footer with trailing commas
    "nikkei_jp": Family("終値", skipped=1),
    "nikkei_no_header": Family("column 2"),  # the official order, header and footer cut off
    "stooq": Family("Close"),
    "stooq_pl": Family("Zamkniecie"),
    "wsj": Family("Close"),
    "yahoo": Family("Close", missing=HOLIDAY_ROWS),
    "yfinance": Family("Close"),
}

# bad input -> (line named in the message, or None when the problem is the whole file; words of the cause)
BAD_FILES = {
    "bad_utf16.csv": (None, "UTF-16"),
    "bad_latin1.csv": (6, "cannot be decoded"),
    "bad_empty.csv": (None, "empty"),
    "bad_no_close.csv": (1, "no close column"),
    "bad_ambiguous.csv": (None, "date order is ambiguous"),
    "bad_mixed_order.csv": (4, "day-first and month-first"),
    "bad_only_junk.csv": (None, "no data rows"),
    "bad_no_header.csv": (None, "no header line found"),
    "bad_conflicting_duplicate.csv": (6, "different closes"),
    "bad_garbage_date.csv": (4, "cannot read date"),
    "bad_number.csv": (4, "cannot read close"),
    "bad_early_typo.csv": (4, "before the Nikkei 225's first session"),
    "bad_no_header_ambiguous.csv": (1, "no header line and 6 columns of numbers"),
}


# -- helpers -------------------------------------------------------------------------------------------
def write_config(
    folder: Path,
    *,
    bucket: str | None = BUCKET,
    data: dict[str, Any] | None = None,
    hyperparameters: dict[str, int] | None = None,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["[aws]"]  # the region comes from the hermetic environment
    if bucket is not None:
        lines.append(f'bucket = "{bucket}"')
    # these tests read the closes back from the channels: the price target (log returns: their own tests)
    data = {"target": "price", **(data or {})}
    for section, values in (("data", data), ("training.hyperparameters", hyperparameters)):
        if values:
            lines.append(f"[{section}]")
            lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    path = folder / "nikkei-deepar.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def prepare(run_cli: RunCli, config: Path, *args: str) -> CliResult:
    return run_cli("prepare", "--config", str(config), *args)


def objects(s3: Any) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            found[item["Key"]] = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
    return found


def version_counts(s3: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for version in s3.list_object_versions(Bucket=BUCKET).get("Versions", []):
        counts[version["Key"]] = counts.get(version["Key"], 0) + 1
    return counts


def ledger_bytes(home: Path) -> bytes | None:
    path = home / "state.json"
    return path.read_bytes() if path.exists() else None


def last_data(home: Path) -> dict[str, Any]:
    entry: dict[str, Any] = json.loads((home / "state.json").read_text(encoding="utf-8"))["data"][-1]
    return entry


def keys_for(sha256: str) -> dict[str, str]:
    return {name: f"{ROOT}/data/{sha256[:16]}/{name}" for name in CHANNELS}


def _no_bare_constants(name: str) -> float:
    raise AssertionError(f'bare {name} in a channel: missing values must be the string "NaN"')


def channel(body: bytes) -> list[dict[str, Any]]:
    """Parse a JSON Lines channel and check every record is valid DeepAR input."""
    text = body.decode("utf-8")
    assert text.endswith("\n") and "\r" not in text
    records = []
    for line in text.splitlines():
        record = json.loads(line, parse_constant=_no_bare_constants)
        assert isinstance(record, dict) and set(record) == {"start", "target"}, line[:80]
        assert START_RE.fullmatch(record["start"]), record["start"]
        for value in record["target"]:
            if value == "NaN":
                continue
            assert type(value) in (int, float), value
            assert math.isfinite(value) and value != 0, value  # a missing day is "NaN", never 0
        records.append(record)
    return records


def start_of(record: dict[str, Any]) -> datetime.date:
    return datetime.datetime.strptime(record["start"], "%Y-%m-%d 00:00:00").date()


def assert_calendar_days(record: dict[str, Any]) -> None:
    """Day i is start + i: the generator's close on trading days, "NaN" on weekends and holidays."""
    start, target = start_of(record), record["target"]
    assert start == FIRST
    for i, value in enumerate(target):
        day = start + datetime.timedelta(days=i)
        if day in CLOSES:
            assert value == pytest.approx(CLOSES[day], rel=1e-4), day
        else:
            assert value == "NaN", f"{day} ({day:%a}) is no trading day but holds {value}"


def assert_trading_days(record: dict[str, Any]) -> None:
    assert start_of(record) == FIRST
    assert record["target"] == pytest.approx([close for _, close in TRADING], rel=1e-4)


def manifest_digest(train: bytes, test: bytes) -> str:
    """The data version's documented identity (data/channels.py), computed independently here."""
    manifest = f"train {hashlib.sha256(train).hexdigest()}\ntest {hashlib.sha256(test).hexdigest()}\n"
    return hashlib.sha256(manifest.encode("ascii")).hexdigest()


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "error:" in line]


def assert_one_line_error(result: CliResult, *words: str) -> str:
    assert "Traceback" not in result.stderr + result.stdout
    errors = error_lines(result.stderr)
    assert len(errors) == 1, result.stderr
    for word in words:
        assert word in errors[0], (word, errors[0])
    return errors[0]


@pytest.fixture
def home(hermetic_env: Path) -> Path:
    return hermetic_env


@pytest.fixture
def s3(aws: None) -> Any:
    import boto3

    region = os.environ["AWS_DEFAULT_REGION"]  # set by the hermetic fixture; the CLI uses it too
    client = boto3.client("s3", region_name=region)
    location: Any = {"LocationConstraint": region}
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration=location)
    return client


# -- the long fixtures themselves --------------------------------------------------------------------
def test_long_fixtures_cover_every_family_in_its_own_format() -> None:
    assert set(FAMILIES) == set(GEN.LONG_FAMILIES) == {p.stem for p in LONG.glob("*.csv")}
    for family in FAMILIES:
        small, long = (FIXTURES / f"{family}.csv").read_bytes(), (LONG / f"{family}.csv").read_bytes()
        assert len(long) < 40_000, family

        def shape(raw: bytes) -> tuple[bool, bool, bool, bool]:
            return (
                raw.startswith(b"\xef\xbb\xbf"),
                b"\r\n" in raw,
                b"\n" in raw.replace(b"\r\n", b""),
                raw.endswith(b"\n"),
            )

        assert shape(long) == shape(small), family  # BOM, CRLF, bare LF, final newline
        assert long.splitlines()[0] == small.splitlines()[0], family  # same first line (header/preamble)


# -- every family becomes channels -------------------------------------------------------------------
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_family_becomes_valid_channels_on_s3(
    family: str, run_cli: RunCli, s3: Any, tmp_path: Path, home: Path
) -> None:
    path = LONG / f"{family}.csv"
    expect = FAMILIES[family]

    r = prepare(run_cli, write_config(tmp_path), "--input", str(path))

    assert r.exit_code == 0, r.stderr
    entry = last_data(home)
    keys = keys_for(entry["sha256"])
    stored = objects(s3)
    assert set(stored) == set(keys.values())
    train_bytes, test_bytes = stored[keys["train/train.json"]], stored[keys["test/test.json"]]
    [train], [test] = channel(train_bytes), channel(test_bytes)
    assert train["start"] == test["start"] == f"{FIRST} 00:00:00"
    assert train["target"] == test["target"][:-PREDICTION_LENGTH]  # test = the full series
    assert_calendar_days(test)  # the default policy
    assert start_of(test) + datetime.timedelta(days=len(test["target"]) - 1) == LAST
    assert entry["sha256"] == manifest_digest(train_bytes, test_bytes)
    for name in ("train/train.json", "test/test.json"):
        assert s3.head_object(Bucket=BUCKET, Key=keys[name])["ContentType"] == "application/jsonlines"
    series = json.loads(stored[keys["series.json"]])
    assert (series["policy"], series["start"], series["dates"][-1]) == (
        "calendar_days",
        str(FIRST),
        str(LAST),
    )
    assert series["target"] == test["target"]

    s3_uri = f"s3://{BUCKET}/{ROOT}/data/{entry['sha256'][:16]}"
    assert entry["train_uri"] == f"{s3_uri}/train/"
    assert entry["test_uri"] == f"{s3_uri}/test/"
    assert entry["series_uri"] == f"{s3_uri}/series.json"
    assert (entry["rows"], entry["first"], entry["last"]) == (expect.rows, str(FIRST), str(LAST))
    assert (entry["column"], entry["source"], entry["calendar"]) == (
        expect.column,
        str(path),
        "calendar_days",
    )
    assert entry["observations"] == sum(1 for v in train["target"] if v != "NaN")

    local = home / "data" / entry["sha256"][:16]
    assert entry["local_dir"] == str(local)
    assert {name: (local / name).read_bytes() for name in CHANNELS} == {n: stored[k] for n, k in keys.items()}

    report = r.stdout
    assert f"{expect.rows} rows" in report
    assert f"{FIRST} .. {LAST}" in report
    assert f"{expect.skipped} line{'' if expect.skipped == 1 else 's'} skipped" in report
    assert f"{expect.missing} missing" in report
    assert f"column {expect.column!r}" in report
    assert entry["sha256"][:16] in report


@pytest.mark.parametrize("calendar", ["trading_days", "calendar_days"])
def test_log_return_target_writes_returns_of_the_closes(
    calendar: str, run_cli: RunCli, s3: Any, tmp_path: Path, home: Path
) -> None:
    config = write_config(tmp_path, data={"calendar": calendar, "target": "log_return"})
    r = prepare(run_cli, config, "--input", str(LONG / "nikkei_jp.csv"), "--json")
    assert r.exit_code == 0, r.stderr
    data = r.json()["data"]
    assert last_data(home)["target"] == "log_return"
    stored = objects(s3)
    keys = keys_for(data["sha256"])
    train, test = (json.loads(stored[keys[f"{n}/{n}.json"]]) for n in ("train", "test"))
    assert train["start"] == test["start"] == f"{FIRST} 00:00:00"
    closes = [value for _, value in TRADING]
    returns = [v for v in test["target"] if v != "NaN"]
    assert test["target"][0] == "NaN"  # the first close has no return
    assert returns == pytest.approx([100 * math.log(b / a) for a, b in itertools.pairwise(closes)], abs=1e-3)
    assert data["observations"] == sum(1 for v in train["target"] if v != "NaN")

    price = write_config(tmp_path / "price", data={"calendar": calendar, "target": "price"})
    again = prepare(run_cli, price, "--input", str(LONG / "nikkei_jp.csv"), "--json")
    assert again.exit_code == 0, again.stderr
    assert again.json()["data"]["sha256"] != data["sha256"]  # another data version, stored beside it
    assert last_data(home)["target"] == "price"
    assert again.json()["data"]["observations"] == data["observations"] + 1


@pytest.mark.parametrize("calendar", ["trading_days", "calendar_days"])
@pytest.mark.parametrize("family", ["nikkei_jp", "fred_new"])  # without and with holiday rows
def test_calendar_policy(
    family: str, calendar: str, run_cli: RunCli, s3: Any, tmp_path: Path, home: Path
) -> None:
    config = write_config(tmp_path, data={"calendar": calendar})

    r = prepare(run_cli, config, "--input", str(LONG / f"{family}.csv"), "--json")

    assert r.exit_code == 0, r.stderr
    data = r.json()["data"]
    assert data["calendar"] == last_data(home)["calendar"] == calendar
    stored = objects(s3)
    keys = keys_for(data["sha256"])
    [train], [test] = channel(stored[keys["train/train.json"]]), channel(stored[keys["test/test.json"]])
    h = TRADING_PREDICTION_LENGTH if calendar == "trading_days" else PREDICTION_LENGTH
    assert train["target"] == test["target"][:-h]
    series = json.loads(stored[keys["series.json"]])
    if calendar == "trading_days":
        assert "NaN" not in test["target"]
        assert len(test["target"]) == len(TRADING)
        assert_trading_days(test)
        assert series["dates"] == [str(day) for day, _ in TRADING]  # the real date of each point
    else:
        assert len(test["target"]) == (LAST - FIRST).days + 1
        assert_calendar_days(test)
        weekends = [
            v for i, v in enumerate(test["target"]) if (FIRST + datetime.timedelta(days=i)).weekday() >= 5
        ]
        assert weekends and set(weekends) == {"NaN"}
    assert data["observations"] == sum(1 for v in train["target"] if v != "NaN") >= 300


def test_rolling_test_windows(run_cli: RunCli, s3: Any, tmp_path: Path) -> None:
    config = write_config(tmp_path, data={"calendar": "trading_days", "test_windows": 3})

    r = prepare(run_cli, config, "--input", str(LONG / "kabuoji3.csv"), "--json")

    assert r.exit_code == 0, r.stderr
    data = r.json()["data"]
    assert data["test_series"] == 3
    stored = objects(s3)
    keys = keys_for(data["sha256"])
    [train], tests = channel(stored[keys["train/train.json"]]), channel(stored[keys["test/test.json"]])
    n, h = len(TRADING), TRADING_PREDICTION_LENGTH
    assert [len(t["target"]) for t in tests] == [n, n - h, n - 2 * h]
    assert {t["start"] for t in tests} == {train["start"]}
    assert all(t["target"] == tests[0]["target"][: len(t["target"])] for t in tests)
    assert train["target"] == tests[0]["target"][:-h]


# -- content addressing ------------------------------------------------------------------------------
def test_same_file_again_uploads_nothing_under_the_same_keys(
    run_cli: RunCli, s3: Any, tmp_path: Path
) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    config, path = write_config(tmp_path), str(LONG / "nikkei_jp.csv")

    first = prepare(run_cli, config, "--input", path, "--json")
    before = objects(s3)
    second = prepare(run_cli, config, "--input", path, "--json")
    third = prepare(run_cli, config, "--input", path)

    assert first.exit_code == second.exit_code == third.exit_code == 0
    one, two = first.json()["data"], second.json()["data"]
    assert sorted(one["uploaded"]) == sorted(one["uris"].values()) and one["already_there"] == []
    assert two["uris"] == one["uris"] and two["sha256"] == one["sha256"]
    assert two["uploaded"] == [] and sorted(two["already_there"]) == sorted(one["uris"].values())
    assert third.stdout.count("(already there)") == 3 and "(uploaded)" not in third.stdout
    assert "uploaded s3://" not in second.stderr + third.stderr
    assert objects(s3) == before
    assert version_counts(s3) == dict.fromkeys(before, 1)  # no object was written twice


def test_changed_file_gets_new_keys_and_leaves_the_old_objects(
    run_cli: RunCli, s3: Any, tmp_path: Path, home: Path
) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    config, original = write_config(tmp_path), LONG / "nikkei_en.csv"
    changed = tmp_path / "nikkei_en.csv"
    last_row = b'"2024/09/17","31354.86"'
    assert last_row in original.read_bytes()
    changed.write_bytes(original.read_bytes().replace(last_row, b'"2024/09/17","31400.00"'))

    assert prepare(run_cli, config, "--input", str(original)).exit_code == 0
    old_sha, before = last_data(home)["sha256"], objects(s3)
    r = prepare(run_cli, config, "--input", str(changed), "--json")

    assert r.exit_code == 0, r.stderr
    new_sha = r.json()["data"]["sha256"]
    assert new_sha[:16] != old_sha[:16]
    after = objects(s3)
    assert set(after) == set(keys_for(old_sha).values()) | set(keys_for(new_sha).values())
    assert {key: after[key] for key in before} == before  # the old data set is untouched
    assert version_counts(s3) == dict.fromkeys(after, 1)
    [test] = channel(after[keys_for(new_sha)["test/test.json"]])
    assert test["target"][-1] == 31400.0
    shas = [d["sha256"] for d in json.loads((home / "state.json").read_text())["data"]]
    assert shas == [old_sha, new_sha]


def test_series_json_under_a_key_matches_the_data_that_key_names(
    run_cli: RunCli, s3: Any, tmp_path: Path, home: Path
) -> None:
    config = write_config(tmp_path, data={"calendar": "trading_days"})
    original = LONG / "nikkei_en.csv"
    corrected = tmp_path / "nikkei_en.csv"  # the last close re-dated from Tuesday 17th to Wednesday 18th
    corrected.write_bytes(original.read_bytes().replace(b'"2024/09/17",', b'"2024/09/18",'))

    assert prepare(run_cli, config, "--input", str(original)).exit_code == 0
    r = prepare(run_cli, config, "--input", str(corrected), "--json")

    assert r.exit_code == 0, r.stderr
    data = r.json()["data"]
    assert data["read"]["last"] == "2024-09-18" == last_data(home)["last"]
    key = keys_for(data["sha256"])["series.json"]
    on_s3 = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    local = json.loads((Path(data["local_dir"]) / "series.json").read_bytes())
    assert on_s3["dates"][-1] == local["dates"][-1] == "2024-09-18"


# -- --dry-run ---------------------------------------------------------------------------------------
def test_dry_run_writes_the_channels_locally_and_uploads_nothing(
    run_cli: RunCli, s3: Any, tmp_path: Path, home: Path
) -> None:
    r = prepare(run_cli, write_config(tmp_path), "--input", str(LONG / "stooq.csv"), "--dry-run", "--json")

    assert r.exit_code == 0, r.stderr
    data = r.json()["data"]
    assert data["dry_run"] is True and data["uploaded"] == [] and data["already_there"] == []
    local = Path(data["local_dir"])
    assert local == home / "data" / data["sha256"][:16]
    assert data["uris"] == {name: str(local / name) for name in CHANNELS}
    [train], [test] = (
        channel((local / "train/train.json").read_bytes()),
        channel((local / "test/test.json").read_bytes()),
    )
    assert train["target"] == test["target"][:-PREDICTION_LENGTH]
    assert (
        manifest_digest((local / "train/train.json").read_bytes(), (local / "test/test.json").read_bytes())
        == data["sha256"]
    )
    assert s3.list_object_versions(Bucket=BUCKET).get("Versions", []) == []
    assert ledger_bytes(home) is None

    human = prepare(run_cli, write_config(tmp_path), "--input", str(LONG / "stooq.csv"), "--dry-run")
    assert human.exit_code == 0 and "nothing uploaded" in human.stdout and "s3://" not in human.stdout


def test_dry_run_leaves_an_existing_ledger_and_bucket_alone(
    run_cli: RunCli, s3: Any, tmp_path: Path, home: Path
) -> None:
    assert prepare(run_cli, write_config(tmp_path), "--input", str(LONG / "nikkei_jp.csv")).exit_code == 0
    ledger, stored = ledger_bytes(home), objects(s3)
    other = write_config(tmp_path / "other", data={"calendar": "trading_days"})  # a new data version

    r = prepare(run_cli, other, "--input", str(LONG / "nikkei_jp.csv"), "--dry-run", "--json")

    assert r.exit_code == 0, r.stderr
    assert r.json()["data"]["sha256"] != last_data(home)["sha256"]
    assert ledger_bytes(home) == ledger
    assert objects(s3) == stored


def test_dry_run_makes_no_aws_call_at_all(
    run_cli: RunCli, tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No moto here: any AWS request would go to a closed port and fail (exit 4)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")

    config = write_config(tmp_path, bucket="no-such-bucket-anywhere")

    r = prepare(run_cli, config, "--input", str(LONG / "wsj.csv"), "--dry-run")

    assert r.exit_code == 0, r.stderr
    assert ledger_bytes(home) is None


# -- bad input ---------------------------------------------------------------------------------------
def test_every_bad_fixture_has_an_expectation() -> None:
    assert set(BAD_FILES) == {p.name for p in FIXTURES.glob("bad_*.csv")}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_is_one_error_line_exit_3_nothing_uploaded(
    name: str, run_cli: RunCli, s3: Any, tmp_path: Path, home: Path
) -> None:
    path = FIXTURES / name
    line, cause = BAD_FILES[name]

    r = prepare(run_cli, write_config(tmp_path), "--input", str(path))

    assert r.exit_code == 3
    where = f"{path}:{line}:" if line is not None else f"{path}:"
    assert_one_line_error(r, where, cause)
    assert r.stdout == ""
    assert objects(s3) == {}
    assert ledger_bytes(home) is None


@pytest.mark.parametrize(
    ("given", "said", "hint"),
    [
        (
            "http://example.com/n225.csv",
            "is a URL: --input reads a file on this machine; URLs go in",
            "source",
        ),
        (
            "HTTPS://example.com/n225.csv",
            "is a URL: --input reads a file on this machine; URLs go in",
            "source",
        ),
        ("s3://bucket/n225.csv", "is a URL (s3://): --input reads a file on this machine", "download"),
    ],
)
def test_a_url_given_to_input_says_where_urls_go(
    given: str, said: str, hint: str, run_cli: RunCli, s3: Any, tmp_path: Path, home: Path
) -> None:
    # read as a path, it was "no such file: http:/example.com/n225.csv" (Path folds the //)
    for command in ("prepare", "retrain"):
        r = run_cli(command, "--config", str(write_config(tmp_path)), "--input", given, "--json")
        assert r.exit_code == 2, r.stderr
        [error] = r.json()["errors"]
        assert error["code"] == "input-is-url" and error["message"] == f"--input {given!r} {said}" + (
            " [data] source" if "URLs go in" in said else ""
        )
        assert hint in error["hint"]
    assert objects(s3) == {} and ledger_bytes(home) is None


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_a_dozen_rows_are_too_short_for_deepar(
    family: str, run_cli: RunCli, s3: Any, tmp_path: Path, home: Path
) -> None:
    """The 12-row family fixtures read fine but are far below DeepAR's minimums."""
    r = prepare(run_cli, write_config(tmp_path), "--input", str(FIXTURES / f"{family}.csv"))

    assert r.exit_code == 3
    assert_one_line_error(r, f"context_length + prediction_length = {CONTEXT_LENGTH + PREDICTION_LENGTH}")
    assert objects(s3) == {}
    assert ledger_bytes(home) is None


def _truncated(tmp_path: Path, rows: int) -> Path:
    """The first `rows` trading days of the long Nikkei English file (header kept, footer dropped)."""
    lines = (LONG / "nikkei_en.csv").read_bytes().splitlines(keepends=True)
    path = tmp_path / f"nikkei_en_{rows}.csv"
    path.write_bytes(b"".join(lines[: rows + 1]))
    return path


SHORT_CASES = {
    # fewer than 300 observations, although longer than context + prediction length
    "under-300": ({}, 250, "DeepAR needs at least 300"),
    # 420 observations, but shorter than context_length + prediction_length
    "under-context": ({"context_length": 200, "prediction_length": 600}, 420,
                      "context_length + prediction_length = 800"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(SHORT_CASES))
def test_too_short_series_stop_before_anything_is_uploaded(
    case: str, run_cli: RunCli, s3: Any, tmp_path: Path, home: Path
) -> None:
    hyperparameters, rows, cause = SHORT_CASES[case]
    config = write_config(tmp_path, hyperparameters=hyperparameters)

    r = prepare(run_cli, config, "--input", str(_truncated(tmp_path, rows)))

    assert r.exit_code == 3
    assert_one_line_error(r, cause)
    assert objects(s3) == {}
    assert ledger_bytes(home) is None


@pytest.mark.parametrize("case", sorted(SHORT_CASES))
def test_too_short_series_error_names_the_file(case: str, run_cli: RunCli, s3: Any, tmp_path: Path) -> None:
    hyperparameters, rows, _ = SHORT_CASES[case]
    path = _truncated(tmp_path, rows)

    r = prepare(run_cli, write_config(tmp_path, hyperparameters=hyperparameters), "--input", str(path))

    assert r.exit_code == 3
    assert_one_line_error(r, str(path))


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_missing_file_or_directory_is_a_data_error(
    kind: str, run_cli: RunCli, s3: Any, tmp_path: Path, home: Path
) -> None:
    path = tmp_path / "prices" / "nikkei.csv"
    if kind == "directory":
        path.mkdir(parents=True)

    r = prepare(run_cli, write_config(tmp_path), "--input", str(path))

    assert r.exit_code == 3
    assert_one_line_error(r, str(path), "no such file" if kind == "missing" else "is a directory")
    assert objects(s3) == {}
    assert ledger_bytes(home) is None


def test_bad_file_after_a_good_one_leaves_ledger_and_bucket_unchanged(
    run_cli: RunCli, s3: Any, tmp_path: Path, home: Path
) -> None:
    config = write_config(tmp_path)
    assert prepare(run_cli, config, "--input", str(LONG / "yahoo.csv")).exit_code == 0
    ledger, stored = ledger_bytes(home), objects(s3)

    for bad in (FIXTURES / "bad_number.csv", FIXTURES / "yahoo.csv", tmp_path / "nowhere.csv"):
        r = prepare(run_cli, config, "--input", str(bad))
        assert r.exit_code == 3, bad
        assert ledger_bytes(home) == ledger
        assert objects(s3) == stored


# -- where the file comes from -----------------------------------------------------------------------
def test_no_input_and_no_source_is_a_usage_error_with_a_hint(
    run_cli: RunCli, s3: Any, tmp_path: Path, home: Path
) -> None:
    r = prepare(run_cli, write_config(tmp_path))

    assert r.exit_code == 2
    assert_one_line_error(r, "no price file given")
    assert "hint: pass --input FILE or set [data] source" in r.stderr
    assert objects(s3) == {} and ledger_bytes(home) is None


def test_relative_source_is_relative_to_the_config_file_not_the_cwd(
    run_cli: RunCli, s3: Any, tmp_path: Path, home: Path
) -> None:
    folder = tmp_path / "project"
    good = folder / "prices" / "nikkei.csv"
    good.parent.mkdir(parents=True)
    good.write_bytes((LONG / "nikkei_jp.csv").read_bytes())
    decoy = tmp_path / "prices" / "nikkei.csv"  # the same relative path from the cwd (tmp_path)
    decoy.parent.mkdir()
    decoy.write_bytes((FIXTURES / "bad_number.csv").read_bytes())
    assert Path.cwd() == tmp_path

    r = prepare(run_cli, write_config(folder, data={"source": "prices/nikkei.csv"}))

    assert r.exit_code == 0, r.stderr
    assert last_data(home)["source"] == str(good)
    assert str(good) in r.stdout


# -- the bucket --------------------------------------------------------------------------------------
def test_missing_bucket_keeps_the_channels_for_train_to_upload(
    run_cli: RunCli, s3: Any, tmp_path: Path, home: Path
) -> None:
    """The issue's chain runs prepare before provision: no bucket yet is not an error."""
    config = write_config(tmp_path, bucket="nikkei-no-such-bucket")

    r = prepare(run_cli, config, "--input", str(LONG / "nikkei_jp.csv"), "--json")

    assert r.exit_code == 0, r.stderr
    doc = r.json()
    assert doc["data"]["pending_upload"] is True and doc["data"]["uploaded"] == []
    assert any("nikkei-no-such-bucket" in w and "provision" in w for w in doc["warnings"])
    entry = last_data(home)
    assert entry["uploaded"] is False
    local = Path(entry["local_dir"])
    assert (local / "train/train.json").is_file() and (local / "test/test.json").is_file()


def test_no_bucket_in_the_config_is_a_config_error(
    run_cli: RunCli, s3: Any, tmp_path: Path, home: Path
) -> None:
    r = prepare(run_cli, write_config(tmp_path, bucket=None), "--input", str(LONG / "nikkei_jp.csv"))

    assert r.exit_code == 2
    assert_one_line_error(r, "aws.bucket")
    assert "--dry-run" in r.stderr  # the hint offers the local way out
    assert objects(s3) == {} and ledger_bytes(home) is None


# -- --json ------------------------------------------------------------------------------------------
def test_json_envelope_on_success(run_cli: RunCli, s3: Any, tmp_path: Path) -> None:
    path = LONG / "investing_jp.csv"

    r = prepare(run_cli, write_config(tmp_path), "--input", str(path), "--json")

    assert r.exit_code == 0
    doc = r.json()  # the whole of stdout is one JSON document
    assert tuple(doc) == ENVELOPE_KEYS
    assert doc["schema"] == "nikkei-deepar/result/v1"
    assert (doc["command"], doc["status"], doc["exit_code"], doc["errors"]) == ("prepare", "ok", 0, [])
    data = doc["data"]
    assert set(data) == {
        "read", "sha256", "calendar", "observations", "train_length", "test_series", "local_dir", "uris",
        "uploaded", "already_there", "dry_run", "pending_upload", "outliers_accepted", "last_close",
    }  # fmt: skip
    assert data["outliers_accepted"] == []
    expect = FAMILIES["investing_jp"]
    assert data["read"]["source"] == str(path)
    assert (data["read"]["rows"], data["read"]["first"], data["read"]["last"]) == (
        expect.rows,
        str(FIRST),
        str(LAST),
    )
    assert (data["read"]["skipped"], data["read"]["missing"], data["read"]["column"]) == (
        expect.skipped,
        0,
        "終値",
    )
    assert data["read"]["encoding"] == "utf-8-sig"
    sundays = data["read"]["skipped_lines"]
    assert len(sundays) == expect.skipped and {s["reason"] for s in sundays} == {
        "Sunday row (not an index close)"
    }
    assert data["read"]["skipped_reasons"] == {"Sunday row (not an index close)": expect.skipped}
    assert re.fullmatch(r"[0-9a-f]{64}", data["sha256"])
    assert data["train_length"] == (LAST - FIRST).days + 1 - PREDICTION_LENGTH
    assert (data["test_series"], data["calendar"], data["dry_run"]) == (1, "calendar_days", False)
    assert data["uris"] == {name: f"s3://{BUCKET}/{key}" for name, key in keys_for(data["sha256"]).items()}
    assert sorted(data["uploaded"]) == sorted(data["uris"].values())
    assert "{" not in r.stderr and "uploaded s3://" in r.stderr  # progress on stderr, result on stdout


def test_json_envelope_on_error(run_cli: RunCli, s3: Any, tmp_path: Path) -> None:
    path = FIXTURES / "bad_garbage_date.csv"

    r = prepare(run_cli, write_config(tmp_path), "--input", str(path), "--json")

    assert r.exit_code == 3
    doc = r.json()
    assert tuple(doc) == ENVELOPE_KEYS
    assert (doc["status"], doc["exit_code"], doc["data"]) == ("error", 3, None)
    [error] = doc["errors"]
    assert error["code"] == "data"
    assert error["message"].startswith(f"{path}:4: cannot read date")
    assert error["hint"]
    assert_one_line_error(r, f"{path}:4:")


# -- a remote source ---------------------------------------------------------------------------------
@dataclass
class PriceServer:
    body: bytes
    url: str = ""
    status: int = 200
    requests: int = 0


@pytest.fixture
def price_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[PriceServer]:
    """A local HTTP server for `[data] source = "http://127.0.0.1:<port>/nikkei.csv"`."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    state = PriceServer(body=(LONG / "fred_new.csv").read_bytes())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests += 1
            if state.status != 200:
                self.send_response(state.status)
                self.send_header("Retry-After", "0")  # prepare's fetcher really sleeps between retries
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/nikkei.csv"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_remote_source_is_downloaded_kept_and_used_or_refused_when_stale(
    run_cli: RunCli, s3: Any, tmp_path: Path, home: Path, tool_home: Path, price_server: PriceServer
) -> None:
    config = write_config(tmp_path, data={"source": price_server.url, "allow_private_network": True})

    r = prepare(run_cli, config)

    assert r.exit_code == 0, r.stderr
    [copy] = (tool_home / "sources").iterdir()
    assert copy.name.startswith("127.0.0.1-nikkei-")
    assert copy.name.endswith(f"-{datetime.date.today().isoformat()}.csv")
    assert copy.read_bytes() == price_server.body
    assert f"downloaded {price_server.url}" in r.stderr
    entry = last_data(home)
    assert entry["source"] == str(copy)
    assert set(objects(s3)) == set(keys_for(entry["sha256"]).values())
    ledger, stored = ledger_bytes(home), objects(s3)

    price_server.status, price_server.requests = 503, 0
    failed = prepare(run_cli, config)

    assert failed.exit_code == 3
    line = assert_one_line_error(failed, price_server.url, "HTTP 503", "kept the previous copy", str(copy))
    assert "Traceback" not in line
    assert price_server.requests == 3  # retried, then gave up
    assert ledger_bytes(home) == ledger and objects(s3) == stored
    assert copy.read_bytes() == price_server.body

    stale = prepare(run_cli, config, "--allow-stale", "--json")

    assert stale.exit_code == 0, stale.stderr
    warnings = [line for line in stale.stderr.splitlines() if "warning:" in line]
    assert len(warnings) == 1 and "using the previous copy" in warnings[0] and str(copy) in warnings[0]
    doc = stale.json()
    assert len(doc["warnings"]) == 1 and "HTTP 503" in doc["warnings"][0]
    assert doc["data"]["sha256"] == entry["sha256"] and doc["data"]["uploaded"] == []
    assert objects(s3) == stored


# -- the two real files in ../shared/data (absent on a fresh clone) ------------------------------------
def _shared_data() -> Path:
    here = Path(__file__).resolve()
    root = next((p for p in here.parents if (p / "pyproject.toml").is_file()), here.parents[2])
    return root.parent / "shared" / "data"


@pytest.mark.parametrize("name", ["nikkei.csv", "nikkei-2.csv"])
@pytest.mark.parametrize("calendar", ["trading_days", "calendar_days"])
def test_real_shared_files_become_channels(
    name: str, calendar: str, run_cli: RunCli, s3: Any, tmp_path: Path, home: Path
) -> None:
    path = _shared_data() / name
    if not path.is_file():
        pytest.skip(f"{path} is not here (a clone without ../shared)")
    lines = [line for line in path.read_text(encoding="utf-8-sig").splitlines()[1:] if line.strip()]
    first, last = (
        datetime.datetime.strptime(line.split(",")[0], "%Y/%m/%d").date() for line in (lines[0], lines[-1])
    )

    r = prepare(run_cli, write_config(tmp_path, data={"calendar": calendar}), "--input", str(path), "--json")

    assert r.exit_code == 0, r.stderr
    data = r.json()["data"]
    assert (data["read"]["rows"], data["read"]["first"], data["read"]["last"]) == (
        len(lines),
        str(first),
        str(last),
    )
    stored = objects(s3)
    keys = keys_for(data["sha256"])
    assert set(stored) == set(keys.values())
    [train], [test] = channel(stored[keys["train/train.json"]]), channel(stored[keys["test/test.json"]])
    held_out = TRADING_PREDICTION_LENGTH if calendar == "trading_days" else PREDICTION_LENGTH
    assert start_of(test) == first and train["target"] == test["target"][:-held_out]
    values = [v for v in test["target"] if v != "NaN"]
    assert len(values) == len(lines) - data["read"]["missing"]
    if calendar == "trading_days":
        assert len(test["target"]) == len(values)
    else:
        assert len(test["target"]) == (last - first).days + 1
        for i, value in enumerate(test["target"]):
            if (first + datetime.timedelta(days=i)).weekday() >= 5:
                assert value == "NaN"
    assert (
        last_data(home)["sha256"]
        == data["sha256"]
        == manifest_digest(stored[keys["train/train.json"]], stored[keys["test/test.json"]])
    )
