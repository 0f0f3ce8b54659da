"""The local backend takes the same expiry settings: deploy's expiry lands in the store, and a command
that looks at the endpoint after it deletes it (status here), as the schedule would on AWS."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ledger_edit import edited
from nikkei_deepar.backends.base import EndpointConfigSpec, ModelSpec
from nikkei_deepar.backends.local import LocalBackend
from nikkei_deepar.backends.local.expiry_records import LocalExpiry
from nikkei_deepar.ledger import Resource
from nikkei_deepar.output import Reporter
from nikkei_deepar.state.local import LocalStateStore
from nikkei_deepar.steps import deploy


def _deployed(home: Path, name: str = "nikkei-deepar-dev") -> LocalBackend:
    local = LocalBackend(
        home / "local", reporter=Reporter(interactive=False, color=False, stream=io.StringIO()), seed=1
    )
    archive = local.root / "jobs" / "j" / "model.tar.gz"
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_bytes(b"a model")
    local.create_model(ModelSpec(name=f"{name}-m", model_artifact=str(archive), tags={}))
    local.create_endpoint_config(EndpointConfigSpec(name=f"{name}-c", model_name=f"{name}-m", tags={}))
    local.create_endpoint(name, config_name=f"{name}-c", tags={})
    with edited(LocalStateStore(home)) as ledger:
        for kind, resource in (("endpoint", name), ("endpoint-config", f"{name}-c"), ("model", f"{name}-m")):
            ledger.record_resource(Resource(kind=kind, name=resource, backend="local"))  # type: ignore[arg-type]
    return local


def test_schedule_expiry_on_the_local_backend(step_context: Callable[..., Any], hermetic_env: Path) -> None:
    ctx = step_context(backend="local")
    view, _ = deploy.schedule_expiry(
        ctx, ctx.state.load(), "nikkei-deepar-dev", dt.timedelta(hours=2), cost=None, created=None
    )
    assert view.at is not None and view.schedule is None
    record = json.loads((hermetic_env / "local" / "expiry" / "nikkei-deepar-dev.json").read_text())
    assert record["at"] == view.at.isoformat()
    assert ctx.state.load().live_resources("schedule") == []  # it lives and dies with the endpoint
    assert (
        "by this machine (checked whenever a command looks at the endpoint)" in ctx.reporter.stream.getvalue()
    )
    deploy.schedule_expiry(ctx, ctx.state.load(), "nikkei-deepar-dev", None, cost=None, created=None)  # off
    assert not (hermetic_env / "local" / "expiry" / "nikkei-deepar-dev.json").exists()


def test_status_deletes_an_expired_local_endpoint(
    run_cli: Callable[..., Any], hermetic_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing may reach AWS
    (tmp_path / "nikkei-deepar.toml").write_text('backend = "local"\n', encoding="utf-8")
    _deployed(hermetic_env)
    LocalExpiry(hermetic_env / "local").set(
        "nikkei-deepar-dev", dt.datetime(2026, 1, 1, 9, 30, tzinfo=dt.UTC)
    )
    result = run_cli("status", "--json")
    assert result.exit_code == 0, result.stderr
    assert "endpoint nikkei-deepar-dev expired at 2026-01-01 09:30 UTC: deleted now" in result.stderr
    data = result.json()["data"]
    assert data["endpoint"] == {
        "name": "nikkei-deepar-dev",
        "status": None,
        "in_ledger": True,
        "exists": False,
    }
    assert not (hermetic_env / "local" / "endpoints" / "nikkei-deepar-dev.json").exists()


def test_a_local_endpoint_not_yet_expired_shows_when(
    run_cli: Callable[..., Any], hermetic_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    (tmp_path / "nikkei-deepar.toml").write_text('backend = "local"\n', encoding="utf-8")
    _deployed(hermetic_env)
    LocalExpiry(hermetic_env / "local").set("nikkei-deepar-dev", dt.datetime(2099, 1, 1, tzinfo=dt.UTC))
    result = run_cli("status")
    assert result.exit_code == 0, result.stderr
    assert "expiry: expires 2099-01-01 00:00 UTC (in " in result.stdout
    assert "nothing is billed" in result.stdout
