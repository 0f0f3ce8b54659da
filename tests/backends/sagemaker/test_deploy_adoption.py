"""`deploy` converges after an interruption between a Create call and its ledger write: the model or
endpoint config made just before the kill carries the tool's tags (managed-by, [aws.tags] and
nikkei-deepar:endpoint), so the next deploy adopts it into the ledger instead of leaving it orphaned;
retention and teardown then treat it like any other. Nothing without those tags is ever adopted.

Through the CLI (moto in-process, the scripted SageMaker; the local backend with no AWS at all) for the
exit codes and the whole kill -> re-run -> teardown cycle, and through the step for retention."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from ledger_edit import edited
from nikkei_deepar.ledger import Job
from nikkei_deepar.state.local import LocalStateStore
from nikkei_deepar.steps import deploy, train
from sagemaker_script import (
    REGION,
    ROLE,
    completed,
    endpoint,
    inject_error,
    make_context,
    seed_prepared,
)

EP = "nikkei-deepar-dev"  # the default: {project}-{stage}
OURS = {"project": "nikkei-deepar", "stage": "dev", "managed-by": "nikkei-deepar"}
ADOPTED = (
    "tagged for this workspace (project=nikkei-deepar, stage=dev) but missing from its state: an earlier run "
    "of this stage was interrupted"
)


# -- fixtures and helpers -------------------------------------------------------------------------------


@pytest.fixture
def ctx(aws: None, hermetic_env: Path) -> Any:
    context = make_context(hermetic_env)
    seed_prepared(context)
    return context


def kill_when_recording(monkeypatch: pytest.MonkeyPatch, kind: str) -> list[str]:
    """The next time deploy records a `kind` in the ledger, Ctrl-C arrives first: the resource exists,
    the ledger never hears of it. Fires once; returns the name it swallowed (once it has)."""
    original = deploy.made_by
    swallowed: list[str] = []

    def made_by(maker: Any, k: str, name: str, **kw: Any) -> Any:
        if k == kind and not swallowed:
            swallowed.append(name)
            raise KeyboardInterrupt
        return original(maker, k, name, **kw)

    monkeypatch.setattr(deploy, "made_by", made_by)
    return swallowed


def _sm() -> Any:
    return boto3.client("sagemaker", region_name=REGION)


def on_aws() -> dict[str, set[str]]:
    sm = _sm()
    return {
        "model": {m["ModelName"] for m in sm.list_models()["Models"]},
        "endpoint-config": {c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]},
        "endpoint": {e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]},
    }


def ledger_live(home: Path, kind: str) -> list[str]:
    """The live `kind`s in the ledger, in ledger order; loading it also proves it is valid."""
    json.loads((home / "state.json").read_text(encoding="utf-8"))
    return [r.name for r in LocalStateStore(home).load().live_resources(kind)]


def untracked(run: Callable[..., Any]) -> list[str]:
    r = run("status", "--json")
    assert r.exit_code == 0, r.stderr
    return list(r.json()["data"]["drift"]["untracked"])


def foreign_model(name: str, tags: dict[str, str] | None = None) -> None:
    _sm().create_model(
        ModelName=name,
        ExecutionRoleArn=f"arn:aws:iam::123456789012:role/{ROLE}",
        PrimaryContainer={"Image": "someone-else"},
        Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
    )


# -- SageMaker, through the CLI -------------------------------------------------------------------------
def test_a_model_created_just_before_ctrl_c_is_adopted_then_torn_down(
    cli: Callable[..., Any], sm_script: Any, hermetic_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sm_script.next_training(completed())
    assert cli("train").exit_code == 0
    swallowed = kill_when_recording(monkeypatch, "model")

    r = cli("deploy")
    assert r.exit_code == 130, r.stderr
    assert "interrupted" in r.stderr
    (orphan,) = swallowed
    assert ledger_live(hermetic_env, "model") == []  # valid, and it never heard of the model
    assert on_aws() == {"model": {orphan}, "endpoint-config": set(), "endpoint": set()}
    arn = _sm().describe_model(ModelName=orphan)["ModelArn"]
    tags = {t["Key"]: t["Value"] for t in _sm().list_tags(ResourceArn=arn)["Tags"]}
    assert tags == {**OURS, "nikkei-deepar:endpoint": EP}

    r = cli("deploy", "--json")
    assert r.exit_code == 0, r.stderr
    new = r.json()["data"]["model"]
    assert f"adopting model {orphan}: {ADOPTED}" in r.stderr
    assert ledger_live(hermetic_env, "model") == [orphan, new]  # adopted, not duplicated
    assert on_aws()["model"] == {orphan, new}  # keep_models = 2: both kept
    assert len(on_aws()["endpoint-config"]) == 1 and on_aws()["endpoint"] == {EP}
    adopted = LocalStateStore(hermetic_env).load().resource("model", orphan)
    assert adopted is not None and (adopted.endpoint, adopted.adopted, adopted.created) == (EP, True, False)
    assert untracked(cli) == []

    r = cli("deploy")  # nothing left to adopt: no second warning
    assert r.exit_code == 0 and "adopting" not in r.stderr

    r = cli("teardown", "--yes")
    assert r.exit_code == 0, r.stderr
    assert on_aws() == {"model": set(), "endpoint-config": set(), "endpoint": set()}
    assert ledger_live(hermetic_env, "model") == []


def test_an_endpoint_config_created_just_before_ctrl_c_is_adopted_then_torn_down(
    cli: Callable[..., Any], sm_script: Any, hermetic_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sm_script.next_training(completed())
    assert cli("train").exit_code == 0
    swallowed = kill_when_recording(monkeypatch, "endpoint-config")

    r = cli("deploy")
    assert r.exit_code == 130, r.stderr
    (orphan,) = swallowed
    first_model = ledger_live(hermetic_env, "model")
    assert len(first_model) == 1 and ledger_live(hermetic_env, "endpoint-config") == []
    assert on_aws() == {"model": set(first_model), "endpoint-config": {orphan}, "endpoint": set()}
    assert untracked(cli) == [f"endpoint-config {orphan}"]  # the gap, as status sees it

    sm_script.next_endpoint(endpoint("Creating"), endpoint("InService"))
    r = cli("deploy", "--json")
    assert r.exit_code == 0, r.stderr
    data = r.json()["data"]
    assert f"adopting endpoint config {orphan}: {ADOPTED}" in r.stderr
    assert ledger_live(hermetic_env, "endpoint-config") == [orphan, data["endpoint_config"]]
    assert on_aws() == {
        "model": {*first_model, data["model"]},
        "endpoint-config": {orphan, data["endpoint_config"]},
        "endpoint": {EP},
    }
    assert untracked(cli) == []

    r = cli("teardown", "--yes")
    assert r.exit_code == 0, r.stderr
    assert on_aws() == {"model": set(), "endpoint-config": set(), "endpoint": set()}


def test_a_model_without_our_tags_is_never_adopted_nor_deleted(
    cli: Callable[..., Any], sm_script: Any, hermetic_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # names deploy could have made for this endpoint, but tags that say someone else did
    strangers = {
        f"{EP}-m-20240101-000000-0001": {},
        f"{EP}-m-20240101-000000-0002": {"managed-by": "someone-else", "nikkei-deepar:endpoint": EP},
        f"{EP}-m-20240101-000000-0003": {**OURS, "stage": "prod", "nikkei-deepar:endpoint": EP},
        f"{EP}-m-20240101-000000-0004": {**OURS, "nikkei-deepar:endpoint": f"{EP}-2"},
        f"{EP}-m-20240101-000000-0005": OURS,  # ours, but not made by deploy for this endpoint
        f"{EP}-2-m-20240101-000000-0006": {**OURS, "nikkei-deepar:endpoint": EP},  # not the prefix
    }
    for name, tags in strangers.items():
        foreign_model(name, tags)
    sm_script.next_training(completed())
    assert cli("train").exit_code == 0
    swallowed = kill_when_recording(monkeypatch, "model")
    assert cli("deploy").exit_code == 130

    for _ in range(3):  # enough deploys for retention to delete what it owns beyond keep_models
        sm_script.next_training(completed())
        assert cli("train").exit_code == 0
        r = cli("deploy")
        assert r.exit_code == 0, r.stderr
        for name in strangers:
            assert name not in r.stderr
    assert swallowed[0] not in ledger_live(hermetic_env, "model")  # adopted, then pruned as the oldest
    assert not set(strangers) & set(ledger_live(hermetic_env, "model"))
    assert set(strangers) <= on_aws()["model"]

    r = cli("teardown", "--yes")
    assert r.exit_code == 0, r.stderr
    assert on_aws() == {"model": set(strangers), "endpoint-config": set(), "endpoint": set()}


# -- retention over adopted resources (the step) -------------------------------------------------------
def _trained(ctx: Any, sm_script: Any) -> str:
    sm_script.next_training(completed())
    return train.run(ctx, force=True, wait=False, timeout=None, logs=False).job


def _deploy(ctx: Any) -> deploy.DeployResult:
    return deploy.run(ctx, job=None, timeout=None)


def test_an_adopted_model_is_kept_and_pruned_like_any_other(
    ctx: Any, sm_script: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _trained(ctx, sm_script)
    first = _deploy(ctx)
    _trained(ctx, sm_script)
    swallowed = kill_when_recording(monkeypatch, "model")
    with pytest.raises(KeyboardInterrupt):
        _deploy(ctx)
    (orphan,) = swallowed

    _trained(ctx, sm_script)
    third = _deploy(ctx)
    assert f"adopting model {orphan}" in ctx.reporter.stream.getvalue()
    # the first config is still kept (keep_models = 2), so its model is too, though it is the third newest
    assert [r.name for r in ctx.state.load().live_resources("model")] == [first.model, orphan, third.model]
    assert third.deleted == []

    _trained(ctx, sm_script)
    fourth = _deploy(ctx)
    assert fourth.deleted == [first.endpoint_config, first.model, orphan]
    assert on_aws()["model"] == {third.model, fourth.model}
    assert on_aws()["endpoint-config"] == {third.endpoint_config, fourth.endpoint_config}


def test_a_long_endpoint_name_is_matched_by_the_shortened_prefix(
    aws: None, hermetic_env: Path, sm_script: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sagemaker_script import settings_for

    name = "a-rather-long-endpoint-name-for-nikkei-deepar-x"  # resource_name shortens it
    ctx = make_context(hermetic_env, settings_for(endpoint={"name": name}))
    seed_prepared(ctx)
    _trained(ctx, sm_script)
    swallowed = kill_when_recording(monkeypatch, "model")
    with pytest.raises(KeyboardInterrupt):
        _deploy(ctx)
    (orphan,) = swallowed
    assert not orphan.startswith(name)
    assert orphan.startswith(deploy.name_prefix(name, "m"))
    result = _deploy(ctx)
    assert [r.name for r in ctx.state.load().live_resources("model")] == [orphan, result.model]


def test_deploy_goes_on_when_the_models_cannot_be_listed(ctx: Any, sm_script: Any) -> None:
    _trained(ctx, sm_script)
    inject_error(ctx.aws.sagemaker.client, "ListModels", "AccessDeniedException", "not allowed")
    result = _deploy(ctx)
    assert result.status == "InService"
    assert "could not look for models and endpoint configs missing from the ledger" in (
        ctx.reporter.stream.getvalue()
    )


# -- the local backend, through the CLI (no AWS) --------------------------------------------------------
LOCAL_JOB = "nd-local-job"


@pytest.fixture
def local_cli(hermetic_env: Path, monkeypatch: pytest.MonkeyPatch, run_cli: Callable[..., Any]) -> Any:
    """backend = "local" and a Completed local job in the store and the ledger (no training: a model
    only needs its archive file)."""
    from nikkei_deepar.backends.local.jobs import STATE_FORMAT

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # any AWS call would fail
    config = Path("nikkei-deepar.toml")
    config.write_text('backend = "local"\n', encoding="utf-8")
    job_dir = hermetic_env / "local" / "jobs" / LOCAL_JOB
    job_dir.mkdir(parents=True)
    (job_dir / "model.tar.gz").write_bytes(b"a model")
    state = {
        "format": STATE_FORMAT,
        "name": LOCAL_JOB,
        "status": "Completed",
        "secondary_status": "Completed",
        "metrics": {"test:RMSE": 1.0},
        "model_artifact": str(job_dir / "model.tar.gz"),
        "created": "2024-01-01T00:00:00Z",
        "ended": "2024-01-01T00:01:00Z",
    }
    (job_dir / "state.json").write_text(json.dumps(state), encoding="utf-8")
    with edited(LocalStateStore(hermetic_env)) as ledger:
        ledger.upsert_job(
            Job(name=LOCAL_JOB, backend="local", data_sha256="ab" * 32, hyperparameters={}, config_hash="x")
        )
    return run_cli


def local_records(home: Path) -> dict[str, set[str]]:
    store = home / "local"
    return {
        kind: {p.stem for p in (store / folder).glob("*.json")}
        for kind, folder in (
            ("model", "models"),
            ("endpoint-config", "endpoint-configs"),
            ("endpoint", "endpoints"),
        )
    }


@pytest.mark.parametrize("kind", ["model", "endpoint-config"])
def test_the_local_backend_converges_the_same_way(
    local_cli: Callable[..., Any], hermetic_env: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    swallowed = kill_when_recording(monkeypatch, kind)
    r = local_cli("deploy")
    assert r.exit_code == 130, r.stderr
    (orphan,) = swallowed
    assert orphan in local_records(hermetic_env)[kind]
    assert orphan not in ledger_live(hermetic_env, kind)
    assert untracked(local_cli) == [f"{kind} {orphan}"]

    r = local_cli("deploy", "--json")
    assert r.exit_code == 0, r.stderr
    assert f"adopting {kind.replace('-', ' ')} {orphan}: {ADOPTED}" in r.stderr
    new = r.json()["data"]["model" if kind == "model" else "endpoint_config"]
    assert ledger_live(hermetic_env, kind) == [orphan, new]
    assert local_records(hermetic_env)[kind] == {orphan, new}
    assert untracked(local_cli) == []

    r = local_cli("teardown", "--yes")
    assert r.exit_code == 0, r.stderr
    assert local_records(hermetic_env) == {"model": set(), "endpoint-config": set(), "endpoint": set()}
