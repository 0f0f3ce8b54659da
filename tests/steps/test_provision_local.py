"""`provision` with backend = "local", through the CLI: the store folder created once and recorded the moment
it exists, a second run that changes nothing, a dry run that creates nothing, and an existing folder
adopted only when empty. No AWS: AWS_ENDPOINT_URL points where nothing listens, so any call would fail."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nikkei_deepar.errors import ExitCode
from nikkei_deepar.state.local import LocalStateStore

RunCli = Callable[..., Any]


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    path = tmp_path / "nikkei-deepar.toml"
    path.write_text('backend = "local"\n', encoding="utf-8")
    return path


@pytest.fixture
def store(hermetic_env: Path) -> Path:
    return hermetic_env / "local"


def provision(run_cli: RunCli, config: Path, *args: str, code: int = 0) -> dict[str, Any]:
    result = run_cli("provision", "--json", "--config", str(config), *args)
    assert result.exit_code == code, result.stderr
    doc: dict[str, Any] = result.json()
    return doc


def local_dirs(home: Path) -> list[Any]:
    return [r for r in LocalStateStore(home).load().resources if r.kind == "local-dir"]


def test_creates_the_store_and_records_it_then_changes_nothing(
    run_cli: RunCli, config: Path, store: Path, hermetic_env: Path
) -> None:
    first = provision(run_cli, config)["data"]
    assert first["backend"] == "local" and first["store"] == str(store)
    assert first["changed"] is True
    assert [(i["resource"], i["name"], i["action"], i["status"]) for i in first["items"]] == [
        ("local-dir", str(store), "create", "done")
    ]
    assert store.is_dir() and list(store.iterdir()) == []
    [recorded] = local_dirs(hermetic_env)
    assert recorded.name == str(store) and recorded.backend == "local" and recorded.live
    assert (recorded.created, recorded.adopted) == (True, False)

    second = provision(run_cli, config)["data"]
    assert second["changed"] is False
    assert [(i["action"], i["status"]) for i in second["items"]] == [("ok", "unchanged")]
    text = run_cli("provision", "--config", str(config))
    assert text.exit_code == 0
    assert "no changes: everything was already in place" in text.stdout
    assert f"store {store}" in text.stdout
    assert len(local_dirs(hermetic_env)) == 1


def test_dry_run_creates_nothing(run_cli: RunCli, config: Path, store: Path, hermetic_env: Path) -> None:
    data = provision(run_cli, config, "--dry-run")["data"]
    assert data["dry_run"] is True and data["changed"] is False
    assert [(i["action"], i["status"]) for i in data["items"]] == [("create", "planned")]
    assert not store.exists()
    assert local_dirs(hermetic_env) == []
    text = run_cli("provision", "--dry-run", "--config", str(config))
    assert "would create" in text.stdout and "dry run: 1 change would be made" in text.stdout
    assert not store.exists()


def test_an_empty_unrecorded_folder_is_adopted(
    run_cli: RunCli, config: Path, store: Path, hermetic_env: Path
) -> None:
    store.mkdir(parents=True)  # what a run interrupted between mkdir and the ledger write leaves
    data = provision(run_cli, config)["data"]
    assert [(i["action"], i["status"], i["owned"]) for i in data["items"]] == [("adopt", "done", True)]
    [recorded] = local_dirs(hermetic_env)
    assert (recorded.created, recorded.adopted) == (True, True)
    assert provision(run_cli, config)["data"]["items"][0]["action"] == "ok"


def test_a_folder_already_holding_files_is_used_not_recorded(
    run_cli: RunCli, config: Path, store: Path, hermetic_env: Path
) -> None:
    (store / "jobs").mkdir(parents=True)
    (store / "notes.txt").write_text("mine")
    data = provision(run_cli, config)["data"]
    [item] = data["items"]
    assert (item["action"], item["owned"], item["status"]) == ("use", False, "unchanged")
    assert "teardown --all never deletes the folder" in item["detail"]
    assert data["changed"] is False and local_dirs(hermetic_env) == []
    assert (store / "notes.txt").read_text() == "mine"


def test_a_recorded_store_deleted_by_hand_is_created_again(
    run_cli: RunCli, config: Path, store: Path, hermetic_env: Path
) -> None:
    provision(run_cli, config)
    store.rmdir()
    [item] = provision(run_cli, config)["data"]["items"]
    assert item["action"] == "create" and "the ledger recorded it, but it is gone" in item["detail"]
    assert store.is_dir()
    records = local_dirs(hermetic_env)
    assert [r.live for r in records] == [False, True]  # the old record marked deleted, a new one


def test_a_file_where_the_store_goes_is_a_problem(
    run_cli: RunCli, config: Path, store: Path, hermetic_env: Path
) -> None:
    store.parent.mkdir(parents=True)
    store.write_text("not a folder")
    doc = provision(run_cli, config, code=ExitCode.USAGE)
    assert doc["errors"][0]["code"] == "local-store-not-a-folder"
    assert store.read_text() == "not a folder" and local_dirs(hermetic_env) == []


def test_a_store_that_prepare_made_first_is_adopted_and_teardown_all_removes_it(
    run_cli: RunCli, config: Path, store: Path, hermetic_env: Path
) -> None:
    """The documented order is prepare -> provision: the store then holds only the tool's own folders."""
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "prices" / "long" / "stooq.csv"
    assert run_cli("prepare", "--config", str(config), "--input", str(fixture)).exit_code == 0
    assert (store / "data").is_dir()

    items = provision(run_cli, config)["data"]["items"]
    assert [(i["action"], i["status"]) for i in items] == [("adopt", "done")]
    [recorded] = local_dirs(hermetic_env)
    assert recorded.live and recorded.created

    assert run_cli("teardown", "--all", "--yes", "--config", str(config)).exit_code == 0
    assert not store.exists()


def test_a_store_holding_anything_else_is_used_not_adopted(
    run_cli: RunCli, config: Path, store: Path, hermetic_env: Path
) -> None:
    (store / "data").mkdir(parents=True)
    (store / "my-notes.txt").write_text("mine", encoding="utf-8")
    items = provision(run_cli, config)["data"]["items"]
    assert [i["action"] for i in items] == ["use"]
    assert local_dirs(hermetic_env) == []
