"""`teardown`'s own logic on FakeBackend (tests/fake_backend.py): what the remover says is deleted, in
dependency order, each deletion recorded as it happens; --all adds the role and the bucket; what is
refused exits 2 while the rest goes; "already gone" is marked deleted; a dry run and a refused or
cancelled confirmation delete nothing; an interrupted teardown resumes; entries of other backends. What
is the tool's own by AWS tags (the SageMaker remover's verdicts) is tested on moto in
tests/backends/sagemaker/test_teardown_on_sagemaker.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fake_backend import FakeBackend, fake_context
from ledger_edit import data_version, edited
from nikkei_deepar.backends.removal import TeardownItem
from nikkei_deepar.context import Context
from nikkei_deepar.errors import ExitCode, UsageError
from nikkei_deepar.ledger import Resource
from nikkei_deepar.steps import teardown
from nikkei_deepar.steps.teardown import ConfirmationError, TeardownResult
from sagemaker_script import FakeClock, settings_for

REGION = "ap-northeast-1"
BUCKET = "nd-test-bucket"
ROLE = "nd-test-role"
EP = "nd-endpoint"
HOSTING = ("endpoint", "endpoint-config", "model")
DECOYS = [
    TeardownItem(
        "endpoint", "someone-elses", "leave", "not in the ledger (managed-by=someone-else)", in_ledger=False
    ),
    TeardownItem("endpoint", "users-own", "leave", "not in the ledger (no managed-by tag)", in_ledger=False),
]
DELETES = ["delete_endpoint", "delete_endpoint_config", "delete_model"]


@pytest.fixture
def fake() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def ctx(hermetic_env: Path, fake: FakeBackend, clock: FakeClock) -> Context:
    """What provision and deploy leave: the role and bucket provision created, a deployment's hosting, all
    in the ledger and all there; and the account's other endpoints, which the remover lists."""
    context: Context = fake_context(hermetic_env, fake, settings_for(), clock=clock)
    with edited(context.state) as ledger:
        for kind, name in (("role", ROLE), ("bucket", BUCKET)):
            ledger.record_resource(Resource(kind=kind, name=name, created=True))  # type: ignore[arg-type]
            fake.tagged[(kind, name)] = {}
        for kind in HOSTING:
            ledger.record_resource(Resource(kind=kind, name=EP, region=REGION))  # type: ignore[arg-type]
            fake.tagged[(kind, EP)] = {}
    fake.teardown_others = list(DECOYS)
    return context


def actions(result: TeardownResult) -> dict[tuple[str, str], str]:
    return {(i.kind, i.name): i.action for i in result.items}


def deletions(fake: FakeBackend) -> list[str]:
    return [v for v in fake.verbs() if v.startswith(("delete_", "stop_"))]


def live(ctx: Context) -> set[tuple[str, str]]:
    return {(r.kind, r.name) for r in ctx.state.load().live_resources()}


# -- what goes and what stays ---------------------------------------------------------------------------
def test_default_removes_hosting_keeps_role_and_bucket_and_leaves_decoys(
    ctx: Context, fake: FakeBackend
) -> None:
    result = teardown.run(ctx, include_all=False, yes=True, dry_run=False)
    assert actions(result) == {
        ("endpoint", EP): "delete",
        ("endpoint-config", EP): "delete",
        ("model", EP): "delete",
        ("role", ROLE): "keep",
        ("bucket", BUCKET): "keep",
        ("endpoint", "someone-elses"): "leave",
        ("endpoint", "users-own"): "leave",
    }
    assert [i.kind for i in result.items if i.action == "delete"] == ["endpoint", "endpoint-config", "model"]
    assert deletions(fake) == DELETES  # in dependency order, and nothing else
    assert {(k, n) for (k, n) in fake.tagged} == {("role", ROLE), ("bucket", BUCKET)}
    assert ("inspect", {"kind": "role", "name": ROLE}) not in fake.calls  # kept: not even asked about
    assert live(ctx) == {("role", ROLE), ("bucket", BUCKET)}
    assert result.exit_code == ExitCode.OK
    data = result.to_data()
    assert data["deleted"] == [f"endpoint {EP}", f"endpoint-config {EP}", f"model {EP}"]
    assert data["left_alone"] == ["endpoint someone-elses", "endpoint users-own"]
    assert data["kept"] == [f"role {ROLE}", f"bucket {BUCKET}"]
    reasons = {i.kind: i.reason for i in result.items if i.action == "keep"}
    assert reasons == {
        "role": "IAM roles cost nothing",
        "bucket": "S3 storage costs pennies; its data lets you retrain",
    }
    lines = result.to_lines()
    assert lines[-1] == "deleted 3; 2 left alone; 2 kept (pass --all to delete them too)"
    assert all(i.status == "done" for i in result.items if i.action == "delete")


def test_all_removes_role_and_bucket_and_forgets_the_uploads(ctx: Context, fake: FakeBackend) -> None:
    with edited(ctx.state) as ledger:
        ledger.record_data(
            data_version(
                f"s3://{BUCKET}/nikkei-deepar/data/x/train/",
                f"s3://{BUCKET}/nikkei-deepar/data/x/test/",
                source="prices.csv",
                rows=1,
                first="2024-01-04",
                last="2024-01-05",
                prediction_length=7,
            )
        )
    result = teardown.run(ctx, include_all=True, yes=True, dry_run=False)
    assert [(i.kind, i.action) for i in result.items if i.action == "delete"] == [
        ("endpoint", "delete"),
        ("endpoint-config", "delete"),
        ("model", "delete"),
        ("role", "delete"),
        ("bucket", "delete"),
    ]
    assert deletions(fake) == [*DELETES, "delete_role", "delete_bucket"]
    assert ("others", {"include_all": True}) in fake.calls
    assert ctx.state.load().live_resources() == []
    assert ctx.state.load().data[0].uploaded is False  # prepare will upload it again
    # and again: nothing left to do, no question needed
    fake.calls.clear()
    again = teardown.run(ctx, include_all=True, yes=False, dry_run=False)
    assert [i.action for i in again.items] == ["leave", "leave"]
    assert again.to_lines()[-1] == "nothing to delete; 2 left alone"
    assert deletions(fake) == []


def test_a_bucket_the_remover_keeps_after_emptying_stays_in_the_ledger(
    ctx: Context, fake: FakeBackend
) -> None:
    reason = (
        "this workspace's objects are deleted; the bucket is kept: it holds 1 object version outside them"
    )
    fake.verdicts[("bucket", BUCKET)] = ("empty", reason)
    fake.removed[("bucket", BUCKET)] = "kept"
    result = teardown.run(ctx, include_all=True, yes=True, dry_run=False)
    bucket = next(i for i in result.items if i.kind == "bucket")
    assert (bucket.action, bucket.reason, bucket.status) == ("empty", reason, "done")
    assert "delete_bucket" in fake.verbs()
    assert ctx.state.load().live("bucket", BUCKET) is not None  # still this workspace's bucket
    data = result.to_data()
    assert data["emptied"] == [f"bucket {BUCKET}"] and f"bucket {BUCKET}" not in data["deleted"]
    assert result.to_lines()[-1] == "deleted 5; 2 left alone"  # emptying counts as a change


def test_a_ledger_entry_the_remover_refuses_is_left_and_the_rest_goes(
    ctx: Context, fake: FakeBackend
) -> None:
    reason = (
        f"the state lists model {EP} as this workspace's, but AWS says it is not created by nikkei-deepar"
    )
    fake.verdicts[("model", EP)] = ("refuse", reason)
    result = teardown.run(ctx, include_all=False, yes=True, dry_run=False)
    assert actions(result)[("model", EP)] == "refuse"
    assert actions(result)[("endpoint", EP)] == "delete"  # what is provably ours still goes
    assert deletions(fake) == ["delete_endpoint", "delete_endpoint_config"]
    assert result.exit_code == ExitCode.USAGE == 2
    assert result.errors == [
        {
            "code": "not-ours",
            "message": f"model {EP}: {reason}",
            "hint": result.errors[0]["hint"],
        }
    ]
    assert f"nikkei-deepar state forget model {EP}" in result.errors[0]["hint"]
    err = ctx.reporter.stream.getvalue()  # type: ignore[attr-defined]
    assert err.count(f"the state lists model {EP}") == 1  # one error line
    assert result.to_data()["refused"] == [f"model {EP}"]
    assert "refused (not this workspace's: see above)" in result.to_lines()[-1]
    assert ctx.state.load().resource("model", EP).live  # type: ignore[union-attr]


def test_a_refusal_exits_2_even_on_a_dry_run(ctx: Context, fake: FakeBackend) -> None:
    fake.verdicts[("model", EP)] = ("refuse", "another stage's")
    result = teardown.run(ctx, include_all=False, yes=False, dry_run=True)
    assert result.exit_code == ExitCode.USAGE and deletions(fake) == []


def test_not_found_counts_as_already_gone(ctx: Context, fake: FakeBackend) -> None:
    fake.delete_endpoint(EP)  # deleted behind the ledger's back
    fake.calls.clear()
    result = teardown.run(ctx, include_all=False, yes=True, dry_run=False)
    assert actions(result)[("endpoint", EP)] == "gone"
    assert result.to_data()["already_gone"] == [f"endpoint {EP}"]
    assert deletions(fake) == ["delete_endpoint_config", "delete_model"]  # not asked to delete it again
    assert ctx.state.load().live_resources("endpoint") == []


def test_transform_jobs_are_stopped_first_and_finished_ones_forgotten(
    ctx: Context, fake: FakeBackend
) -> None:
    with edited(ctx.state) as ledger:
        for name in ("batch-done", "batch-running"):
            ledger.record_resource(Resource(kind="transform-job", name=name, region=REGION))
    fake.verdicts[("transform-job", "batch-done")] = ("gone", "finished (Completed): nothing bills")
    fake.verdicts[("transform-job", "batch-running")] = ("stop", "running: stopping it ends the charge")
    result = teardown.run(ctx, include_all=False, yes=True, dry_run=False)
    assert actions(result)[("transform-job", "batch-done")] == "gone"
    assert actions(result)[("transform-job", "batch-running")] == "stop"
    assert [i.kind for i in result.items[:2]] == ["transform-job", "transform-job"]  # before its model goes
    assert deletions(fake) == ["stop_transform", *DELETES]
    assert ("stop_transform", {"name": "batch-running"}) in fake.calls
    assert ctx.state.load().live_resources("transform-job") == []
    assert "batch-running" in " ".join(result.to_data()["deleted"])


# -- dry run, confirmation ------------------------------------------------------------------------------
def test_dry_run_deletes_nothing(ctx: Context, fake: FakeBackend) -> None:
    before = ctx.state.path.read_bytes()  # type: ignore[attr-defined]
    result = teardown.run(ctx, include_all=True, yes=False, dry_run=True)
    assert deletions(fake) == []
    assert [i.shown for i in result.items if i.action == "delete"] == ["would delete"] * 5
    assert result.to_data()["deleted"] == []
    assert result.to_lines()[-1] == "dry run: 5 to delete; nothing was deleted; 2 left alone"
    assert ctx.state.path.read_bytes() == before  # type: ignore[attr-defined]


def test_without_terminal_and_without_yes_refuses_before_deleting_anything(
    ctx: Context, fake: FakeBackend
) -> None:
    asked: list[str] = []
    ctx.interactive_stdin = False
    with pytest.raises(ConfirmationError) as info:
        teardown.run(ctx, include_all=True, yes=False, dry_run=False, confirm=asked.append)  # type: ignore[arg-type]
    assert isinstance(info.value, UsageError) and info.value.exit_code == ExitCode.USAGE
    assert info.value.message == "refusing to delete without confirmation: pass --yes"
    assert info.value.code == "confirmation-required"
    assert info.value.data["items"]  # the plan travels with the error (for --json)
    assert asked == [] and deletions(fake) == [] and len(live(ctx)) == 5


def test_terminal_asks_and_no_means_nothing_deleted(ctx: Context, fake: FakeBackend) -> None:
    questions: list[str] = []

    def say_no(question: str) -> bool:
        questions.append(question)
        return False

    ctx.interactive_stdin = True
    with pytest.raises(ConfirmationError, match="cancelled") as info:
        teardown.run(ctx, include_all=False, yes=False, dry_run=False, confirm=say_no)
    assert info.value.code == "cancelled"
    assert deletions(fake) == [] and len(live(ctx)) == 5
    assert f"  endpoint {EP}\n  endpoint-config {EP}\n  model {EP}" in questions[0]
    assert questions[0].endswith("Delete these 3 resources?")


def test_terminal_asks_and_yes_deletes(ctx: Context, fake: FakeBackend) -> None:
    ctx.interactive_stdin = True
    result = teardown.run(ctx, include_all=False, yes=False, dry_run=False, confirm=lambda q: True)
    assert result.to_data()["deleted"] == [f"endpoint {EP}", f"endpoint-config {EP}", f"model {EP}"]
    assert deletions(fake) == DELETES


# -- interruption ---------------------------------------------------------------------------------------
def test_interrupted_half_way_then_resumed(
    ctx: Context, fake: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(name: str) -> bool:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(fake, "delete_endpoint_config", interrupted)
        with pytest.raises(KeyboardInterrupt):
            teardown.run(ctx, include_all=True, yes=True, dry_run=False)
    ledger = ctx.state.load()
    assert not ledger.resource("endpoint", EP).live  # type: ignore[union-attr]  # written as it went
    assert {r.kind for r in ledger.live_resources()} == {"endpoint-config", "model", "role", "bucket"}

    fake.calls.clear()
    result = teardown.run(ctx, include_all=True, yes=True, dry_run=False)
    assert [(i.kind, i.action) for i in result.items if i.action == "delete"] == [
        ("endpoint-config", "delete"),
        ("model", "delete"),
        ("role", "delete"),
        ("bucket", "delete"),
    ]
    assert deletions(fake) == ["delete_endpoint_config", "delete_model", "delete_role", "delete_bucket"]
    assert ctx.state.load().live_resources() == []


# -- the machinery is backend-neutral ------------------------------------------------------------------
def test_entries_of_a_backend_this_version_lacks_are_left_alone(ctx: Context, fake: FakeBackend) -> None:
    with edited(ctx.state) as ledger:
        ledger.record_resource(
            Resource(kind="local-dir", name="/tmp/x", backend="elsewhere", extra={"created": True})
        )
    result = teardown.run(ctx, include_all=True, yes=True, dry_run=True)
    item = next(i for i in result.items if i.kind == "local-dir")
    assert item.action == "leave" and "backend 'elsewhere' has no teardown" in item.reason


def test_a_local_remover_plugs_in(
    hermetic_env: Path, fake: FakeBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "home" / "models" / "m1"
    folder.mkdir(parents=True)

    class FolderRemover:
        def inspect(self, r: Resource) -> teardown.TeardownItem:
            action = "delete" if Path(r.name).exists() else "gone"
            return teardown.TeardownItem(r.kind, r.name, action, "local artefacts", backend="local")

        def delete(self, r: Resource) -> bool:
            import shutil

            shutil.rmtree(r.name)
            return True

        def others(self, ledger: Any, *, include_all: bool) -> list[teardown.TeardownItem]:
            return []

    class WithFolderRemover:
        def remover(self, ledger: Any) -> FolderRemover:
            return FolderRemover()

    original = Context.backend_named
    monkeypatch.setattr(
        Context,
        "backend_named",
        lambda self, name: WithFolderRemover() if name == "local" else original(self, name),
    )
    ctx = fake_context(hermetic_env, fake, settings_for())
    with edited(ctx.state) as ledger:
        ledger.record_resource(
            Resource(kind="local-dir", name=str(folder), backend="local", extra={"created": True})
        )
    kept = teardown.run(ctx, include_all=False, yes=True, dry_run=False)
    assert actions(kept)[("local-dir", str(folder))] == "keep" and folder.exists()
    result = teardown.run(ctx, include_all=True, yes=True, dry_run=False)
    assert actions(result)[("local-dir", str(folder))] == "delete" and not folder.exists()
    assert ctx.state.load().live_resources("local-dir") == []
    assert deletions(fake) == []  # the fake (this config's backend) was asked only what else it has
