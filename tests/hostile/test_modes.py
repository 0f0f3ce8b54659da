"""File modes under a strict and a usual umask: the ledger (state.json, its .bak, the lock) is 0600
whatever the umask; everything else (channels, downloaded copies, configs, model archives) gets what
the umask gives, never a forced 0644.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from hostile.kit import GOOD_PRICES, http_server, run_exe
from nikkei_deepar.files import default_mode, write_atomic
from nikkei_deepar.sources import fetch_source
from nikkei_deepar.state.local import LocalStateStore


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_077() -> Iterator[None]:
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.parametrize(("umask", "data_mode"), [(0o077, 0o600), (0o022, 0o644), (0o002, 0o664)])
def test_prepare_writes_the_ledger_0600_and_the_rest_by_the_umask(
    umask: int, data_mode: int, project: Path, hermetic_env: Path
) -> None:
    for _ in range(2):  # the second run makes state.json.bak
        r = run_exe("prepare", "--input", str(GOOD_PRICES), cwd=project, umask=umask)
        assert r.exit_code == 0, r.stderr
    home = hermetic_env
    for name in ("state.json", "state.json.bak", "state.lock"):
        assert mode(home / name) == 0o600, name
    channels = [p for p in (home / "data").rglob("*") if p.is_file()]
    assert channels and {mode(p) for p in channels} == {data_mode}
    r = run_exe(
        "config", "init", "--backend", "local", "--no-input", "--path", "new.toml", cwd=project, umask=umask
    )
    assert r.exit_code == 0, r.stderr
    assert mode(project / "new.toml") == data_mode


def test_write_atomic_modes(tmp_path: Path, umask_077: None) -> None:
    write_atomic(tmp_path / "plain", b"x")
    write_atomic(tmp_path / "exact", b"x", mode=0o640)
    assert mode(tmp_path / "plain") == 0o600 == default_mode()
    assert mode(tmp_path / "exact") == 0o640  # asked for exactly: the umask does not take from it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exact", "plain"]  # no temp file left


def test_an_existing_0644_ledger_becomes_0600_on_the_next_save(tmp_path: Path) -> None:
    store = LocalStateStore(tmp_path)
    with store.lock():
        store.save(store.load())
    (tmp_path / "state.json").chmod(0o644)
    with store.lock():
        store.update(lambda ledger: None)
    assert mode(tmp_path / "state.json") == 0o600 and mode(tmp_path / "state.json.bak") == 0o600


def test_a_downloaded_copy_follows_the_umask(tmp_path: Path, umask_077: None) -> None:
    body = GOOD_PRICES.read_bytes()

    def serve(handler: object) -> None:
        handler.send_response(200)  # type: ignore[attr-defined]
        handler.send_header("Content-Length", str(len(body)))  # type: ignore[attr-defined]
        handler.end_headers()  # type: ignore[attr-defined]
        handler.wfile.write(body)  # type: ignore[attr-defined]

    with http_server({"/p.csv": serve}) as base:
        result = fetch_source(
            f"{base}/p.csv",
            cache_dir=tmp_path,
            validate=lambda raw, url: None,
            proxies={},
            allow_private=True,
        )
    assert mode(result.path) == 0o600
