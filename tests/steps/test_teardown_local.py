"""`teardown` with backend = "local", through the CLI: only records in the ledger AND tagged by the tool go,
in dependency order; by default the trained models' archives stay; --all removes the store only when
`provision` created it; foreign files survive otherwise; an interrupted teardown resumes. No AWS:
AWS_ENDPOINT_URL points where nothing listens, so any AWS call would fail.

The hosting records are made with the real LocalBackend (no training needed: a model only needs its
archive file), then recorded in the ledger as `deploy` does."""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ledger_edit import edited
from nikkei_deepar.backends.base import EndpointConfigSpec, ModelSpec
from nikkei_deepar.backends.local import LocalBackend
from nikkei_deepar.errors import ExitCode
from nikkei_deepar.ledger import Resource
from nikkei_deepar.output import Reporter
from nikkei_deepar.state.local import LocalStateStore

RunCli = Callable[..., Any]
OURS = {"project": "nikkei-deepar", "managed-by": "nikkei-deepar"}
HOSTING = ("endpoint", "endpoint-config", "model")


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    path = tmp_path / "nikkei-deepar.toml"
    path.write_text('backend = "local"\n', encoding="utf-8")
    return path


@pytest.fixture
def store(hermetic_env: Path) -> Path:
    return hermetic_env / "local"


def backend(home: Path) -> LocalBackend:
    return LocalBackend(
        home / "local", reporter=Reporter(interactive=False, color=False, stream=io.StringIO()), seed=1
    )


def deployed(home: Path, name: str = "nd-local", *, tags: dict[str, str] = OURS) -> Path:
    """A job's archive, then a model, endpoint config and endpoint on it, recorded as `deploy` records them.
    Returns the archive."""
    local = backend(home)
    archive = local.root / "jobs" / f"{name}-job" / "model.tar.gz"
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_bytes(b"a model")
    local.create_model(ModelSpec(name=f"{name}-m", model_artifact=str(archive), tags=tags))
    local.create_endpoint_config(EndpointConfigSpec(name=f"{name}-c", model_name=f"{name}-m", tags=tags))
    local.create_endpoint(name, config_name=f"{name}-c", tags=tags)
    with edited(LocalStateStore(home)) as ledger:
        for kind, resource in zip(HOSTING, (name, f"{name}-c", f"{name}-m"), strict=True):
            ledger.record_resource(Resource(kind=kind, name=resource, backend="local"))  # type: ignore[arg-type]
    return archive


def records(store: Path) -> dict[str, list[str]]:
    return {
        folder: sorted(p.stem for p in (store / folder).glob("*.json"))
        for folder in ("endpoints", "endpoint-configs", "models")
    }


def live(home: Path) -> set[tuple[str, str]]:
    return {(r.kind, r.name) for r in LocalStateStore(home).load().live_resources()}


def teardown(run_cli: RunCli, config: Path, *args: str, code: int = 0) -> dict[str, Any]:
    result = run_cli("teardown", "--json", "--config", str(config), *args)
    assert result.exit_code == code, result.stderr
    doc: dict[str, Any] = result.json()
    return doc


def actions(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(i["kind"], i["name"], i["action"]) for i in data["items"]]


def provision(run_cli: RunCli, config: Path) -> None:
    assert run_cli("provision", "--config", str(config)).exit_code == 0


# -- what goes and what stays ---------------------------------------------------------------------------
def test_default_removes_hosting_records_and_keeps_the_store_with_the_archives(
    run_cli: RunCli, config: Path, store: Path, hermetic_env: Path
) -> None:
    provision(run_cli, config)
    archive = deployed(hermetic_env)
    (store / "notes.txt").write_text("mine")
    data = teardown(run_cli, config, "--yes")["data"]
    assert actions(data) == [
        ("endpoint", "nd-local", "delete"),
        ("endpoint-config", "nd-local-c", "delete"),
        ("model", "nd-local-m", "delete"),
        ("local-dir", str(store), "keep"),
    ]
    assert data["deleted"] == ["endpoint nd-local", "endpoint-config nd-local-c", "model nd-local-m"]
    assert all(i["backend"] == "local" for i in data["items"])
    assert records(store) == {"endpoints": [], "endpoint-configs": [], "models": []}
    assert archive.read_bytes() == b"a model"  # as SageMaker keeps its S3 output
    assert (store / "notes.txt").read_text() == "mine"
    assert live(hermetic_env) == {("local-dir", str(store))}


def test_all_removes_the_store_the_tool_created_with_everything_in_it(
    run_cli: RunCli, config: Path, store: Path, hermetic_env: Path
) -> None:
    provision(run_cli, config)
    deployed(hermetic_env)
    (store / "notes.txt").write_text("someone's")  # inside the tool's own store: goes with it
    data = teardown(run_cli, config, "--all", "--yes")["data"]
    assert [(k, a) for k, _, a in actions(data)] == [
        ("endpoint", "delete"),
        ("endpoint-config", "delete"),
        ("model", "delete"),
        ("local-dir", "delete"),
    ]
    assert not store.exists() and hermetic_env.is_dir()  # the ledger's home stays
    assert live(hermetic_env) == set()
    again = teardown(run_cli, config, "--all")  # nothing to delete: no --yes needed
    assert again["data"]["deleted"] == [] and again["data"]["items"] == []


def test_dry_run_deletes_nothing(run_cli: RunCli, config: Path, store: Path, hermetic_env: Path) -> None:
    provision(run_cli, config)
    deployed(hermetic_env)
    before = records(store)
    data = teardown(run_cli, config, "--all", "--dry-run")["data"]
    assert data["dry_run"] is True and data["deleted"] == []
    assert [a for _, _, a in actions(data)] == ["delete"] * 4
    assert records(store) == before and len(live(hermetic_env)) == 4


def test_refuses_without_yes_and_without_a_terminal(
    run_cli: RunCli, config: Path, store: Path, hermetic_env: Path
) -> None:
    deployed(hermetic_env)
    doc = teardown(run_cli, config, code=ExitCode.USAGE)
    assert doc["errors"][0]["code"] == "confirmation-required"
    assert records(store)["endpoints"] == ["nd-local"]


# -- ownership ------------------------------------------------------------------------------------------
def test_a_store_provision_did_not_create_is_never_deleted(
    run_cli: RunCli, config: Path, store: Path, hermetic_env: Path
) -> None:
    archive = deployed(hermetic_env)  # train/deploy made the store: provision never ran
    (store / "notes.txt").write_text("mine")
    data = teardown(run_cli, config, "--all", "--yes")["data"]
    assert actions(data)[:3] == [
        ("endpoint", "nd-local", "delete"),
        ("endpoint-config", "nd-local-c", "delete"),
        ("model", "nd-local-m", "delete"),
    ]
    item = data["items"][3]
    assert (item["kind"], item["name"], item["action"], item["in_ledger"]) == (
        "local-dir",
        str(store),
        "leave",
        False,
    )
    assert "not created by nikkei-deepar provision" in item["reason"]
    assert data["left_alone"] == [f"local-dir {store}"]
    assert (store / "notes.txt").read_text() == "mine" and archive.is_file()


def test_a_recorded_store_at_another_path_is_never_deleted(
    run_cli: RunCli, config: Path, tmp_path: Path, hermetic_env: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with edited(LocalStateStore(hermetic_env)) as ledger:
        ledger.record_resource(
            Resource(kind="local-dir", name=str(elsewhere), backend="local", extra={"created": True})
        )
    data = teardown(run_cli, config, "--all", "--yes")["data"]
    assert actions(data) == [("local-dir", str(elsewhere), "leave")]
    assert "not this config's local store" in data["items"][0]["reason"]
    assert elsewhere.is_dir()


def test_records_without_our_tag_are_refused_with_exit_2(
    run_cli: RunCli, config: Path, store: Path, hermetic_env: Path
) -> None:
    provision(run_cli, config)
    deployed(hermetic_env)
    deployed(hermetic_env, "theirs", tags={"managed-by": "someone-else"})  # in the ledger, not ours
    data = teardown(run_cli, config, "--yes", code=2)["data"]
    left = {
        (k, n): r
        for k, n, a, r in ((i["kind"], i["name"], i["action"], i["reason"]) for i in data["items"])
        if a == "refuse"
    }
    assert set(left) == {("endpoint", "theirs"), ("endpoint-config", "theirs-c"), ("model", "theirs-m")}
    assert "managed-by=someone-else" in left[("endpoint", "theirs")]
    assert "teardown --all deletes it with the store" in left[("model", "theirs-m")]
    assert records(store) == {
        "endpoints": ["theirs"],
        "endpoint-configs": ["theirs-c"],
        "models": ["theirs-m"],
    }
    assert ("endpoint", "theirs") in live(hermetic_env)


def test_an_endpoint_record_not_in_the_ledger_is_listed_and_left_alone(
    run_cli: RunCli, config: Path, store: Path, hermetic_env: Path
) -> None:
    deployed(hermetic_env)
    with edited(LocalStateStore(hermetic_env)) as ledger:  # a ledger that lost its hosting entries
        ledger.resources = []
    data = teardown(run_cli, config, "--yes")["data"]
    assert actions(data) == [("endpoint", "nd-local", "leave")]
    assert data["items"][0]["in_ledger"] is False
    assert "not in this workspace's state" in data["items"][0]["reason"]
    assert records(store)["endpoints"] == ["nd-local"]


def test_not_found_counts_as_already_gone_and_transforms_are_done(
    run_cli: RunCli, config: Path, store: Path, hermetic_env: Path
) -> None:
    deployed(hermetic_env)
    (store / "endpoints" / "nd-local.json").unlink()
    with edited(LocalStateStore(hermetic_env)) as ledger:
        ledger.record_resource(Resource(kind="transform-job", name="nd-local-t", backend="local"))
    data = teardown(run_cli, config, "--yes")["data"]
    assert actions(data) == [
        ("transform-job", "nd-local-t", "gone"),
        ("endpoint", "nd-local", "gone"),
        ("endpoint-config", "nd-local-c", "delete"),
        ("model", "nd-local-m", "delete"),
    ]
    assert data["already_gone"] == ["transform-job nd-local-t", "endpoint nd-local"]
    assert live(hermetic_env) == set()


# -- interruption ---------------------------------------------------------------------------------------
def test_interrupted_half_way_then_resumed(
    run_cli: RunCli, config: Path, store: Path, hermetic_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    provision(run_cli, config)
    deployed(hermetic_env)

    def interrupted(self: LocalBackend, name: str) -> bool:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(LocalBackend, "delete_endpoint_config", interrupted)
        doc = teardown(run_cli, config, "--all", "--yes", code=ExitCode.INTERRUPTED)
    assert doc["errors"][0]["message"] == "teardown: interrupted; the ledger is consistent"
    assert live(hermetic_env) == {
        ("endpoint-config", "nd-local-c"),
        ("model", "nd-local-m"),
        ("local-dir", str(store)),
    }
    assert records(store)["endpoints"] == []

    data = teardown(run_cli, config, "--all", "--yes")["data"]
    assert data["deleted"] == ["endpoint-config nd-local-c", "model nd-local-m", f"local-dir {store}"]
    assert not store.exists() and live(hermetic_env) == set()


def test_interrupted_while_deleting_the_store_resumes(
    run_cli: RunCli, config: Path, store: Path, hermetic_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nikkei_deepar.backends.local import removal as teardown_local

    provision(run_cli, config)
    archive = deployed(hermetic_env)
    real_rmtree = shutil.rmtree

    def half(path: Path) -> None:
        real_rmtree(archive.parent)  # part of the folder is gone when the interrupt lands
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(teardown_local.shutil, "rmtree", half)
        teardown(run_cli, config, "--all", "--yes", code=ExitCode.INTERRUPTED)
    assert store.is_dir() and not archive.parent.exists()
    assert live(hermetic_env) == {("local-dir", str(store))}  # still to do: the resume finds it

    data = teardown(run_cli, config, "--all", "--yes")["data"]
    assert actions(data) == [("local-dir", str(store), "delete")]
    assert not store.exists() and live(hermetic_env) == set()


# -- another backend's config --------------------------------------------------------------------------
def test_local_entries_are_left_alone_under_a_sagemaker_config(
    run_cli: RunCli, tmp_path: Path, store: Path, hermetic_env: Path, aws: None
) -> None:
    provision_config = tmp_path / "local.toml"
    provision_config.write_text('backend = "local"\n', encoding="utf-8")
    provision(run_cli, provision_config)
    deployed(hermetic_env)
    config = tmp_path / "sagemaker.toml"
    config.write_text('backend = "sagemaker"\n[aws]\nregion = "ap-northeast-1"\n', encoding="utf-8")
    data = teardown(run_cli, config, "--all", "--yes")["data"]
    assert {a for _, _, a in actions(data)} == {"leave"}
    assert all('run teardown with backend = "local"' in i["reason"] for i in data["items"])
    assert store.is_dir() and records(store)["endpoints"] == ["nd-local"]
    assert len(live(hermetic_env)) == 4
