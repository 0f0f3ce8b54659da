"""The ledger: atomic writes, schema version, corruption, and the lock."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from ledger_edit import edited
from nikkei_deepar.errors import DataError, ExitCode, LockHeldError, VersionError
from nikkei_deepar.ledger import Ledger, Resource
from nikkei_deepar.state.local import LocalStateStore


def test_missing_file_is_an_empty_ledger(tmp_path: Path) -> None:
    assert LocalStateStore(tmp_path / "h").load().jobs == []


def test_round_trip_and_backup(tmp_path: Path) -> None:
    store = LocalStateStore(tmp_path / "h")
    with edited(store) as ledger:
        ledger.record_resource(Resource(kind="bucket", name="b1", extra={"created": True}))
    with edited(store) as ledger:
        ledger.mark_deleted("bucket", "b1")
    again = store.load()
    assert again.resources[0].deleted_at is not None
    assert (tmp_path / "h" / "state.json.bak").exists()
    assert not [p for p in (tmp_path / "h").iterdir() if p.name.endswith(".tmp")]


def test_a_newer_schema_version_is_refused_by_version_not_reset(tmp_path: Path) -> None:
    store = LocalStateStore(tmp_path)
    store.path.write_text(json.dumps({"schema_version": 99}))
    with pytest.raises(VersionError, match=r"newer version of nikkei-deepar \(schema 99") as info:
        store.load()
    assert str(store.path) in info.value.message and info.value.exit_code == ExitCode.VERSION == 11
    assert json.loads(store.path.read_text()) == {"schema_version": 99}  # untouched


@pytest.mark.parametrize("content", ['{"schema_version": "x"}', "[1, 2]", '{"jobs": []}'])
def test_something_that_is_not_a_ledger_is_refused_as_such(tmp_path: Path, content: str) -> None:
    store = LocalStateStore(tmp_path)
    store.path.write_text(content)
    with pytest.raises(DataError, match="not a nikkei-deepar ledger") as info:
        store.load()
    assert info.value.exit_code == ExitCode.DATA and store.path.read_text() == content


@pytest.mark.parametrize("content", ["{not json", '{"schema_version": 1, "jobs": [{"name": 3}]}'])
def test_corrupt_ledger_names_the_path(tmp_path: Path, content: str) -> None:
    store = LocalStateStore(tmp_path)
    store.path.write_text(content)
    with pytest.raises(DataError, match="corrupt") as info:
        store.load()
    assert str(store.path) in info.value.message
    assert info.value.exit_code == ExitCode.DATA


def test_failed_write_keeps_the_previous_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalStateStore(tmp_path)
    store.save(Ledger(resources=[Resource(kind="role", name="r")]))

    def boom(*a: object, **k: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        store.save(Ledger())
    assert store.load().resources[0].name == "r"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def _hold(
    home: str, ready: multiprocessing.synchronize.Event, release: multiprocessing.synchronize.Event
) -> None:
    store = LocalStateStore(Path(home))
    with store.lock():
        ready.set()
        release.wait(10)


def test_lock_held_by_another_process_names_pid_and_host(tmp_path: Path) -> None:
    ready, release = multiprocessing.Event(), multiprocessing.Event()
    proc = multiprocessing.Process(target=_hold, args=(str(tmp_path), ready, release))
    proc.start()
    try:
        assert ready.wait(10)
        store = LocalStateStore(tmp_path)
        with (
            pytest.raises(LockHeldError, match=rf"locked by pid {proc.pid} on .+ since ") as info,
            store.lock(),
        ):
            pass
        assert info.value.exit_code == ExitCode.LOCKED
        assert store.lock_holder() is not None
        # --wait-lock: waits, then gets it once the holder lets go
        release.set()
        started = time.monotonic()
        with store.lock(wait_seconds=10):
            pass
        assert time.monotonic() - started < 10
    finally:
        release.set()
        proc.join(10)


def test_lock_left_by_a_dead_process_is_taken_over_with_a_message(tmp_path: Path) -> None:
    store = LocalStateStore(tmp_path)
    # a crashed holder leaves its note behind, but the kernel has released its flock
    dead = multiprocessing.Process(target=lambda: None)
    dead.start()
    dead.join()
    store.lock_path.write_text(json.dumps({"pid": dead.pid, "host": "h", "since": "t"}))
    messages: list[str] = []
    with store.lock(on_takeover=messages.append):
        pass
    assert messages and f"pid {dead.pid}" in messages[0]
    assert store.lock_holder() is None


def test_a_ledger_written_with_the_old_extra_keys_still_loads_them_as_fields(hermetic_env: Path) -> None:
    """Ledgers written before `created`/`adopted`/`endpoint`/`job`/`model` were fields kept them in
    `extra`: they load into the fields, and what else `extra` held stays there."""
    store = LocalStateStore(hermetic_env)
    hermetic_env.mkdir(parents=True, exist_ok=True)
    old = {
        "schema_version": 1,
        "resources": [
            {"kind": "bucket", "name": "b1", "extra": {"created": True, "adopted": True}},
            {
                "kind": "endpoint-config",
                "name": "c1",
                "extra": {"job": "j1", "endpoint": "ep", "model": "m1", "instance_type": "ml.m5.large"},
            },
        ],
    }
    store.path.write_text(json.dumps(old), encoding="utf-8")
    ledger = store.load()
    bucket, config = ledger.resource("bucket", "b1"), ledger.resource("endpoint-config", "c1")
    assert bucket is not None and (bucket.created, bucket.adopted, bucket.extra) == (True, True, {})
    assert config is not None and (config.job, config.endpoint, config.model) == ("j1", "ep", "m1")
    assert config.extra == {"instance_type": "ml.m5.large"} and not config.created


def test_a_version_1_ledger_is_upgraded_on_the_next_write(hermetic_env: Path) -> None:
    """A version-1 ledger is read and written back as version 2, fields lifted out of `extra`, so a build
    that knows only version 1 refuses it by its version instead of calling it corrupt."""
    store = LocalStateStore(hermetic_env)
    hermetic_env.mkdir(parents=True, exist_ok=True)
    old = {"schema_version": 1, "resources": [{"kind": "role", "name": "r1", "extra": {"created": True}}]}
    store.path.write_text(json.dumps(old), encoding="utf-8")
    store.save(store.load())
    written = json.loads(store.path.read_text(encoding="utf-8"))
    assert written["schema_version"] == 2
    assert written["resources"][0]["created"] is True and written["resources"][0]["extra"] == {}
    store.update(lambda ledger: None)  # written back in the new shape: the fields, not extra
    again = json.loads(store.path.read_text(encoding="utf-8"))["resources"][0]
    assert again["created"] is True and again["extra"] == {}


_DATA = {
    "sha256": "ab" * 32,
    "source": "n.csv",
    "rows": 400,
    "first": "2022-01-04",
    "last": "2023-06-30",
    "column": "close",
    "calendar": "calendar_days",
    "prediction_length": 17,
    "context_length": 20,
    "observations": 390,
    "backend": "local",
    "train_uri": "file:///t/",
    "test_uri": "file:///s/",
}
_JOB = {"name": "j1", "data_sha256": "ab" * 32, "hyperparameters": {"epochs": "5"}, "config_hash": "c"}


def test_a_ledger_from_before_the_target_setting_reads_as_prices(hermetic_env: Path) -> None:
    """Data sets and jobs recorded before `[data] target` existed were trained on prices."""
    store = LocalStateStore(hermetic_env)
    hermetic_env.mkdir(parents=True, exist_ok=True)
    store.path.write_text(
        json.dumps({"schema_version": 2, "data": [_DATA], "jobs": [_JOB]}), encoding="utf-8"
    )
    ledger = store.load()
    job = ledger.job("j1")
    assert ledger.last_data is not None and ledger.last_data.target == "price"
    assert job is not None and job.target == "price"


def test_the_target_is_written_and_read_back(hermetic_env: Path) -> None:
    store = LocalStateStore(hermetic_env)
    hermetic_env.mkdir(parents=True, exist_ok=True)
    store.path.write_text(
        json.dumps({"schema_version": 2, "data": [_DATA], "jobs": [_JOB]}), encoding="utf-8"
    )
    with edited(store) as ledger:
        ledger.data[-1].target = "log_return"
        job = ledger.job("j1")
        assert job is not None
        job.target = "log_return"
    written = json.loads(store.path.read_text(encoding="utf-8"))
    assert written["schema_version"] == 2
    assert written["data"][0]["target"] == written["jobs"][0]["target"] == "log_return"
    again = store.load()
    assert again.last_data is not None and again.last_data.target == "log_return"


def test_an_unknown_target_in_the_ledger_is_reported_as_corrupt(hermetic_env: Path) -> None:
    store = LocalStateStore(hermetic_env)
    hermetic_env.mkdir(parents=True, exist_ok=True)
    store.path.write_text(
        json.dumps({"schema_version": 2, "data": [{**_DATA, "target": "volume"}]}), encoding="utf-8"
    )
    with pytest.raises(DataError, match=str(store.path)):
        store.load()
