"""The local backend's endpoint expiry: a time in its store, enforced whenever a command looks."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest

from nikkei_deepar.backends.base import EndpointConfigSpec, ModelSpec
from nikkei_deepar.backends.local import LocalBackend
from nikkei_deepar.backends.local.expiry_records import LocalExpiry
from nikkei_deepar.backends.local.files import MAX_RECORD_BYTES
from nikkei_deepar.errors import DataError
from nikkei_deepar.output import Reporter

NOW = dt.datetime(2026, 12, 6, 2, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


def _backend(store: Path, clock: Clock) -> LocalBackend:
    backend = LocalBackend(
        store, reporter=Reporter(interactive=False, color=False, stream=io.StringIO()), seed=1
    )
    backend._expiry = LocalExpiry(backend.root, now=clock)  # the test's clock
    (store / "m.tar.gz").write_bytes(b"x")
    backend.create_model(ModelSpec(name="m", model_artifact=str(store / "m.tar.gz"), tags={}))
    backend.create_endpoint_config(EndpointConfigSpec(name="c", model_name="m", tags={}))
    backend.create_endpoint("e", config_name="c", tags={})
    return backend


def _err(backend: LocalBackend) -> str:
    return str(backend._reporter.stream.getvalue())  # type: ignore[attr-defined]


def test_set_get_clear(tmp_path: Path) -> None:
    keeper = LocalExpiry(tmp_path, now=Clock())
    assert keeper.get("e") is None and keeper.clear("e") is False
    scheduled = keeper.set("e", NOW + dt.timedelta(hours=2, seconds=42))
    assert scheduled.at == NOW + dt.timedelta(hours=2) and scheduled.schedule is None
    assert keeper.get("e") == scheduled
    assert keeper.due("e") is None
    assert keeper.clear("e") is True and keeper.get("e") is None
    assert keeper.get("../etc") is None


def test_an_expired_endpoint_is_deleted_when_a_command_looks(tmp_path: Path) -> None:
    clock = Clock()
    backend = _backend(tmp_path, clock)
    backend.expiry_keeper().set("e", NOW + dt.timedelta(hours=1))
    clock.now = NOW + dt.timedelta(minutes=59)
    assert backend.describe_endpoint("e") is not None
    clock.now = NOW + dt.timedelta(hours=1)
    assert backend.describe_endpoint("e") is None
    assert "endpoint e expired at 2026-12-06 03:00 UTC: deleted now" in _err(backend)
    assert not (tmp_path / "endpoints" / "e.json").exists()
    assert backend.expiry_keeper().get("e") is None  # the expiry went with it
    assert (tmp_path / "models" / "m.json").exists()  # as on AWS: only the endpoint is deleted


def test_invoke_on_an_expired_endpoint_says_it_is_gone(tmp_path: Path) -> None:
    import pytest

    from nikkei_deepar.errors import NotFoundError

    clock = Clock()
    backend = _backend(tmp_path, clock)
    backend.expiry_keeper().set("e", NOW + dt.timedelta(minutes=30))
    clock.now = NOW + dt.timedelta(days=1)
    with pytest.raises(NotFoundError, match="endpoint e does not exist"):
        backend.invoke("e", b"{}", content_type="application/json", accept="application/json")
    assert "expired at 2026-12-06 02:30 UTC" in _err(backend)


def test_deleting_the_endpoint_deletes_its_expiry(tmp_path: Path) -> None:
    clock = Clock()
    backend = _backend(tmp_path, clock)
    backend.expiry_keeper().set("e", NOW + dt.timedelta(hours=1))
    assert backend.delete_endpoint("e") is True
    assert backend.expiry_keeper().get("e") is None


# -- an expiry record that is not one (issue 25): one clear line, never a traceback or a hang ------------
def _garbage(path: Path, kind: str) -> None:
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(path)  # nobody writes to it: opening it for reading would block for ever
    elif kind == "binary":
        path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00garbage")
    elif kind == "deep":
        path.write_text("[" * 100_000)
    else:
        path.write_text('{"endpoint": "e", "at": ')


@pytest.mark.parametrize(
    ("kind", "why"),
    [
        ("fifo", "is a FIFO (named pipe), not a record"),
        ("binary", "is corrupt (not UTF-8 text)"),
        ("deep", "is corrupt (nested too deeply)"),
        ("truncated", "is corrupt (Expecting value)"),
    ],
)
def test_a_broken_expiry_record_is_one_data_error_wherever_it_is_read(
    tmp_path: Path, kind: str, why: str
) -> None:
    backend = _backend(tmp_path, Clock())
    path = backend.root / "expiry" / "e.json"
    _garbage(path, kind)
    for look in (
        lambda: backend.describe_endpoint("e"),  # status, deploy
        lambda: backend.invoke("e", b"{}", content_type="application/json", accept="application/json"),
        lambda: backend.expiry_keeper().get("e"),
    ):
        with pytest.raises(DataError) as caught:
            look()
        assert caught.value.message == f"{path}: the local record {why}"
        assert caught.value.code == "local-record-corrupt" and "move it away" in (caught.value.hint or "")


def test_a_record_over_the_size_cap_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "expiry" / "e.json"
    path.parent.mkdir()
    with path.open("wb") as fh:
        fh.truncate(MAX_RECORD_BYTES + 1)  # sparse
    with pytest.raises(DataError, match=r"the local record is larger than 1 MiB, not a record"):
        LocalExpiry(tmp_path).get("e")
