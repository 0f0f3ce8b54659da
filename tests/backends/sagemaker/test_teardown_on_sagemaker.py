"""`teardown` with the real SageMaker backend on moto (in-process): what is the SageMaker remover's. AWS's
tags decide, now, what is this workspace's (decoys survive and are listed with whose they are; an entry
whose tags were edited by hand is refused; a role or bucket the ledger does not say the tool created, or
named in the config but not created by it, is never deleted; an entry in another region is left alone;
not found is already gone), versioned and shared buckets are emptied only under this workspace's keys,
running transform jobs are stopped, a dry run makes no mutating AWS call, and the CLI's --json. The
step's own logic (order, --all, confirmation, ledger writes, resuming, exit codes) is tested on
FakeBackend in tests/steps/test_teardown.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from ledger_edit import data_version, edited
from nikkei_deepar.context import Context
from nikkei_deepar.errors import ExitCode
from nikkei_deepar.ledger import Resource
from nikkei_deepar.steps import provision, teardown
from nikkei_deepar.steps.teardown import TeardownResult
from sagemaker_script import aws_tags, create_hosting

REGION = "ap-northeast-1"
BUCKET = "nd-test-bucket"
ROLE = "nd-test-role"
OURS = {"project": "nikkei-deepar", "stage": "test", "managed-by": "nikkei-deepar"}
READ_ONLY = ("Get", "Head", "List", "Describe")
ROLE_ARN = f"arn:aws:iam::123456789012:role/{ROLE}"

MakeCtx = Callable[..., Context]


@pytest.fixture
def make(step_context: MakeCtx, aws: None) -> MakeCtx:
    def build(*, interactive_stdin: bool = False, **aws_settings: Any) -> Context:
        settings = {
            "region": REGION,
            "bucket": BUCKET,
            "role_name": ROLE,
            "max_attempts": 1,
            "tags": {"project": "nikkei-deepar", "stage": "test"},
        }
        settings.update(aws_settings)
        # no scheduler role in these plans: teardown of it is in test_provision_scheduler.py
        endpoint = {"expires_after": "off"}
        return step_context(aws=settings, endpoint=endpoint, interactive_stdin=interactive_stdin)

    return build


def sm() -> Any:
    return boto3.client("sagemaker", region_name=REGION)


def hosting(name: str, tags: dict[str, str]) -> None:
    create_hosting(
        sm(),
        name,
        tags,
        role_arn=ROLE_ARN,
        model_data_url=f"s3://{BUCKET}/nikkei-deepar/output/{name}/output/model.tar.gz",
    )


def deployed(ctx: Context, name: str = "nd-endpoint") -> None:
    """What `deploy` leaves behind: tagged resources (with their endpoint's name), recorded in the ledger."""
    hosting(name, {**OURS, "nikkei-deepar:endpoint": name})
    with edited(ctx.state) as ledger:
        for kind in ("model", "endpoint-config", "endpoint"):
            ledger.record_resource(Resource(kind=kind, name=name, region=REGION))  # type: ignore[arg-type]


def decoys() -> None:
    hosting("users-own", {})  # untagged
    hosting("someone-elses", {"managed-by": "someone-else"})


def account() -> dict[str, list[str]]:
    client = sm()
    return {
        "endpoints": sorted(e["EndpointName"] for e in client.list_endpoints()["Endpoints"]),
        "configs": sorted(c["EndpointConfigName"] for c in client.list_endpoint_configs()["EndpointConfigs"]),
        "models": sorted(m["ModelName"] for m in client.list_models()["Models"]),
        "buckets": sorted(
            b["Name"] for b in boto3.client("s3", region_name=REGION).list_buckets()["Buckets"]
        ),
        "roles": sorted(r["RoleName"] for r in boto3.client("iam", region_name=REGION).list_roles()["Roles"]),
    }


def actions(result: TeardownResult) -> dict[tuple[str, str], str]:
    return {(i.kind, i.name): i.action for i in result.items}


def forbid_mutations(ctx: Context) -> None:
    def guard(model: Any, **_: Any) -> None:
        if not model.name.startswith(READ_ONLY):
            raise AssertionError(f"mutating AWS call: {model.name}")

    for service in ("s3", "iam", "sts", "sagemaker"):
        ctx.aws.client(service).meta.events.register("before-call", guard)


DECOYS = {
    "endpoints": ["someone-elses", "users-own"],
    "configs": ["someone-elses", "users-own"],
    "models": ["someone-elses", "users-own"],
}


@pytest.fixture
def provisioned(make: MakeCtx) -> Context:
    ctx = make()
    assert provision.run(ctx, dry_run=False).exit_code == 0
    deployed(ctx)
    decoys()
    return ctx


def test_default_removes_hosting_keeps_role_and_bucket_and_leaves_decoys(
    provisioned: Context, make: MakeCtx
) -> None:
    result = teardown.run(make(), include_all=False, yes=True, dry_run=False)
    assert actions(result) == {
        ("endpoint", "nd-endpoint"): "delete",
        ("endpoint-config", "nd-endpoint"): "delete",
        ("model", "nd-endpoint"): "delete",
        ("role", ROLE): "keep",
        ("bucket", BUCKET): "keep",
        ("endpoint", "someone-elses"): "leave",
        ("endpoint", "users-own"): "leave",
    }
    assert [i.kind for i in result.items if i.action == "delete"] == ["endpoint", "endpoint-config", "model"]
    now = account()
    assert {k: now[k] for k in DECOYS} == DECOYS
    assert now["buckets"] == [BUCKET] and now["roles"] == [ROLE]
    ledger = make().state.load()
    assert {r.kind for r in ledger.live_resources()} == {"bucket", "role"}
    data = result.to_data()
    assert data["deleted"] == ["endpoint nd-endpoint", "endpoint-config nd-endpoint", "model nd-endpoint"]
    assert data["left_alone"] == ["endpoint someone-elses", "endpoint users-own"]
    reasons = {i.name: i.reason for i in result.items if i.action == "leave"}
    assert (
        "no managed-by tag" in reasons["users-own"] and "managed-by=someone-else" in reasons["someone-elses"]
    )
    assert any("pass --all to delete them too" in line for line in result.to_lines())


def test_all_removes_role_and_versioned_bucket_completely(provisioned: Context, make: MakeCtx) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    root = make().settings.key_root  # this workspace's keys: {prefix}/{project}/{stage}
    for i in range(3):
        s3.put_object(Bucket=BUCKET, Key=f"{root}/data/x/train/train.json", Body=f"{i}".encode())
    s3.delete_object(Bucket=BUCKET, Key=f"{root}/data/x/train/train.json")  # a delete marker
    s3.put_object(Bucket=BUCKET, Key=f"{root}/output/job/output/model.tar.gz", Body=b"m")
    with edited(make().state) as ledger:
        ledger.record_data(
            data_version(
                f"s3://{BUCKET}/{root}/data/x/train/",
                f"s3://{BUCKET}/{root}/data/x/test/",
                source="prices.csv",
                rows=1,
                first="2024-01-04",
                last="2024-01-05",
                prediction_length=7,
            )
        )
    result = teardown.run(make(), include_all=True, yes=True, dry_run=False)
    assert [(i.kind, i.action) for i in result.items if i.action == "delete"] == [
        ("endpoint", "delete"),
        ("endpoint-config", "delete"),
        ("model", "delete"),
        ("role", "delete"),
        ("bucket", "delete"),
    ]
    now = account()
    assert now["buckets"] == [] and now["roles"] == []
    assert {k: now[k] for k in DECOYS} == DECOYS
    assert make().state.load().live_resources() == []
    assert make().state.load().data[0].uploaded is False  # prepare will upload it again
    # and again: nothing left to do, no question needed
    again = teardown.run(make(), include_all=True, yes=False, dry_run=False)
    assert [i.action for i in again.items] == ["leave", "leave"]
    assert again.to_lines()[-1] == "nothing to delete; 2 left alone"


def test_a_shared_bucket_is_emptied_only_under_this_stages_keys_and_kept(
    provisioned: Context, make: MakeCtx
) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    root = make().settings.key_root
    theirs = root.rsplit("/", 1)[0] + "/prod/data/x/train/train.json"  # another stage, same prefix
    s3.put_object(Bucket=BUCKET, Key=f"{root}/data/x/train/train.json", Body=b"ours")
    s3.put_object(Bucket=BUCKET, Key=theirs, Body=b"theirs")
    result = teardown.run(make(), include_all=True, yes=True, dry_run=False)
    bucket = next(i for i in result.items if i.kind == "bucket")
    assert (
        bucket.action == "empty"
        and "the bucket is kept: it holds 1 object version outside them" in bucket.reason
    )
    assert theirs in bucket.reason
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == [theirs]
    assert make().state.load().live("bucket", BUCKET) is not None  # still this workspace's bucket
    assert (
        result.to_data()["emptied"] == [f"bucket {BUCKET}"]
        and f"bucket {BUCKET}" not in result.to_data()["deleted"]
    )


def test_foreign_bucket_and_role_from_the_config_are_left_alone(make: MakeCtx) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=BUCKET, Key="theirs.txt", Body=b"keep")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    boto3.client("iam", region_name=REGION).create_role(
        RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust)
    )
    assert provision.run(make(), dry_run=False).exit_code == 0
    deployed(make())
    result = teardown.run(make(), include_all=True, yes=True, dry_run=False)
    assert actions(result)[("bucket", BUCKET)] == "leave"
    assert actions(result)[("role", ROLE)] == "leave"
    reasons = {i.kind: i.reason for i in result.items if i.action == "leave"}
    assert "not created by nikkei-deepar" in reasons["bucket"] and "never deleted" in reasons["role"]
    now = account()
    assert now["buckets"] == [BUCKET] and now["roles"] == [ROLE] and now["endpoints"] == []
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == ["theirs.txt"]


def test_a_ledger_entry_whose_tags_were_edited_by_hand_is_refused_and_the_rest_goes(
    provisioned: Context, make: MakeCtx
) -> None:
    arn = sm().describe_model(ModelName="nd-endpoint")["ModelArn"]
    sm().delete_tags(ResourceArn=arn, TagKeys=["managed-by"])
    ctx = make()
    result = teardown.run(ctx, include_all=False, yes=True, dry_run=False)
    assert actions(result)[("model", "nd-endpoint")] == "refuse"
    assert actions(result)[("endpoint", "nd-endpoint")] == "delete"  # what is provably ours still goes
    reason = next(i.reason for i in result.items if i.kind == "model")
    assert (
        "the state lists model nd-endpoint as this workspace's, but AWS says it is not created by" in reason
    )
    assert result.exit_code == ExitCode.USAGE and result.errors[0]["code"] == "not-ours"
    assert "nikkei-deepar state forget model nd-endpoint" in result.errors[0]["hint"]
    assert "the state lists model nd-endpoint" in ctx.reporter.stream.getvalue()  # one error line
    assert account()["models"] == ["nd-endpoint", "someone-elses", "users-own"]
    assert make().state.load().resource("model", "nd-endpoint").live  # type: ignore[union-attr]


def test_role_or_bucket_not_created_by_the_tool_per_ledger_is_never_deleted(
    provisioned: Context, make: MakeCtx
) -> None:
    with edited(make().state) as ledger:
        for r in ledger.resources:
            if r.kind in {"role", "bucket"}:
                r.created = False
    result = teardown.run(make(), include_all=True, yes=True, dry_run=False)
    assert actions(result)[("role", ROLE)] == "leave" and actions(result)[("bucket", BUCKET)] == "leave"
    assert account()["buckets"] == [BUCKET] and account()["roles"] == [ROLE]


def test_not_found_counts_as_already_gone(provisioned: Context, make: MakeCtx) -> None:
    sm().delete_endpoint(EndpointName="nd-endpoint")
    result = teardown.run(make(), include_all=False, yes=True, dry_run=False)
    assert actions(result)[("endpoint", "nd-endpoint")] == "gone"
    assert result.to_data()["already_gone"] == ["endpoint nd-endpoint"]
    assert make().state.load().live_resources("endpoint") == []


def test_resource_recorded_in_another_region_is_left_alone(provisioned: Context, make: MakeCtx) -> None:
    with edited(make().state) as ledger:
        ledger.record_resource(Resource(kind="endpoint", name="in-ireland", region="eu-west-1"))
    result = teardown.run(make(), include_all=False, yes=True, dry_run=False)
    item = next(i for i in result.items if i.name == "in-ireland")
    assert item.action == "leave" and "--region eu-west-1" in item.reason
    assert make().state.load().resource("endpoint", "in-ireland").live  # type: ignore[union-attr]


def test_transform_jobs_finished_are_forgotten_running_are_stopped(
    provisioned: Context, make: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nikkei_deepar.aws import sagemaker as sm_module

    for name in ("batch-done", "batch-running"):
        sm().create_transform_job(
            TransformJobName=name,
            ModelName="nd-endpoint",
            TransformInput={
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/x"}}
            },
            TransformOutput={"S3OutputPath": f"s3://{BUCKET}/nikkei-deepar/output/batch/"},
            TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
            Tags=aws_tags(OURS),
        )
        with edited(make().state) as ledger:
            ledger.record_resource(Resource(kind="transform-job", name=name, region=REGION))
    real = sm_module.Gateway.describe_transform_job
    stopped: list[str] = []

    def describe(self: Any, name: str) -> dict[str, Any] | None:
        found = real(self, name)
        if found is not None and name == "batch-running" and name not in stopped:
            found = {**found, "TransformJobStatus": "InProgress"}
        return found

    monkeypatch.setattr(sm_module.Gateway, "describe_transform_job", describe)
    # moto has no StopTransformJob: answer it here
    ctx = make()

    class _Ok:
        status_code = 200
        content = b""

    def stop(params: dict[str, Any], **_: Any) -> Any:
        stopped.append("batch-running")
        return _Ok(), {"ResponseMetadata": {"HTTPStatusCode": 200}}

    ctx.aws.client("sagemaker").meta.events.register("before-call.sagemaker.StopTransformJob", stop)
    result = teardown.run(ctx, include_all=False, yes=True, dry_run=False)
    assert actions(result)[("transform-job", "batch-done")] == "gone"
    assert actions(result)[("transform-job", "batch-running")] == "stop"
    assert result.items[0].kind == "transform-job"  # stopped before its model goes
    assert stopped == ["batch-running"]
    assert make().state.load().live_resources("transform-job") == []


def test_dry_run_deletes_nothing_and_calls_nothing_mutating(provisioned: Context, make: MakeCtx) -> None:
    before = account()
    ctx = make()
    forbid_mutations(ctx)
    result = teardown.run(ctx, include_all=True, yes=False, dry_run=True)
    assert account() == before
    assert [i.shown for i in result.items if i.action == "delete"] == ["would delete"] * 5
    assert result.to_data()["deleted"] == []
    assert result.to_lines()[-1] == "dry run: 5 to delete; nothing was deleted; 2 left alone"
    assert len(make().state.load().live_resources()) == 5


def test_interrupted_while_emptying_the_bucket_resumes(provisioned: Context, make: MakeCtx) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    for i in range(5):
        s3.put_object(Bucket=BUCKET, Key=f"{make().settings.key_root}/data/{i}", Body=b"x")
    ctx = make()
    calls = {"n": 0}

    def stop_after_first_batch(**_: Any) -> None:
        calls["n"] += 1
        if calls["n"] > 1:
            raise KeyboardInterrupt

    ctx.aws.client("s3").meta.events.register("before-call.s3.DeleteObjects", stop_after_first_batch)
    # one object per batch so that the interruption lands half-way
    from nikkei_deepar.aws import s3 as s3_module

    real = s3_module.Gateway._delete_versions

    def one_at_a_time(self: Any, bucket: str, versions: list[dict[str, str]]) -> int:
        return real(self, bucket, versions[:1])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(s3_module.Gateway, "_delete_versions", one_at_a_time)
        with pytest.raises(KeyboardInterrupt):
            teardown.run(ctx, include_all=True, yes=True, dry_run=False)
    assert make().state.load().resource("bucket", BUCKET).live  # type: ignore[union-attr]
    assert len(s3.list_object_versions(Bucket=BUCKET)["Versions"]) == 4
    teardown.run(make(), include_all=True, yes=True, dry_run=False)
    assert account()["buckets"] == []


def test_cli_refuses_without_yes_and_json_carries_the_plan(
    run_cli: Callable[..., Any], provisioned: Context, tmp_path: Path
) -> None:
    config = tmp_path / "nikkei-deepar.toml"
    config.write_text(
        f'[aws]\nregion = "{REGION}"\nbucket = "{BUCKET}"\nrole_name = "{ROLE}"\n'
        '[aws.tags]\nproject = "nikkei-deepar"\nstage = "test"\n',
        encoding="utf-8",
    )
    refused = run_cli("teardown", "--all", "--json", "--config", str(config))
    assert refused.exit_code == ExitCode.USAGE
    doc = refused.json()
    assert doc["errors"][0]["code"] == "confirmation-required"
    assert "pass --yes" in doc["errors"][0]["message"]
    assert len([i for i in doc["data"]["items"] if i["action"] == "delete"]) == 5
    assert "refusing to delete without confirmation: pass --yes" in refused.stderr

    done = run_cli("teardown", "--all", "--yes", "--config", str(config))
    assert done.exit_code == 0, done.stderr
    # one report of each deletion: its row in the result, no log line or summary repeating the name
    rows = [line.split() for line in done.stdout.splitlines() if line.startswith("  deleted ")]
    assert len(rows) == 5
    assert not any(row[2] in done.stderr for row in rows)
    assert done.stdout.splitlines()[-1] == "deleted 5; 2 left alone"
    assert account()["buckets"] == []
