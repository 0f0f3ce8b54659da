"""`provision` against moto in-process: fresh accounts, idempotence, dry runs that change nothing, drift,
existing (foreign) resources, adoption after a crash, and the config's name rules moto does not enforce."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from nikkei_deepar.backends.plan import Applied
from nikkei_deepar.backends.sagemaker.policy import (
    INLINE_POLICY_NAME,
    execution_policy,
    same_policy,
    trust_policy,
)
from nikkei_deepar.context import Context
from nikkei_deepar.errors import ConfigError, ExitCode
from nikkei_deepar.steps import provision
from nikkei_deepar.steps.provision import ProvisionResult

REGION = "ap-northeast-1"
ACCOUNT = "123456789012"
BUCKET = "nd-test-bucket"
ROLE = "nd-test-role"
OUR_TAGS = {"project": "nikkei-deepar", "stage": "test", "team": "quant", "managed-by": "nikkei-deepar"}
READ_ONLY = ("Get", "Head", "List", "Describe")

MakeCtx = Callable[..., Context]


@pytest.fixture
def make(step_context: MakeCtx, aws: None) -> MakeCtx:
    def build(**aws_settings: Any) -> Context:
        settings = {
            "region": REGION,
            "bucket": BUCKET,
            "role_name": ROLE,
            "max_attempts": 1,
            "tags": {"project": "nikkei-deepar", "stage": "test", "team": "quant"},
        }
        settings.update(aws_settings)
        return step_context(aws=settings)

    return build


def forbid_mutations(ctx: Context) -> list[str]:
    """Fail the test on any AWS call that is not a Get/Head/List/Describe; returns the calls made."""
    calls: list[str] = []

    def guard(model: Any, **_: Any) -> None:
        calls.append(model.name)
        if not model.name.startswith(READ_ONLY):
            raise AssertionError(f"mutating AWS call during a dry run: {model.name}")

    for service in ("s3", "iam", "sts", "sagemaker"):
        ctx.aws.client(service).meta.events.register("before-call", guard)
    return calls


def by_resource(result: ProvisionResult) -> dict[str, str]:
    return {i.resource: i.action for i in result.items}


def s3c(region: str = REGION) -> Any:
    return boto3.client("s3", region_name=region)


def iamc() -> Any:
    return boto3.client("iam", region_name=REGION)


def bucket_tags(name: str) -> dict[str, str]:
    try:
        return {t["Key"]: t["Value"] for t in s3c().get_bucket_tagging(Bucket=name)["TagSet"]}
    except Exception:
        return {}


def make_foreign_bucket(name: str = BUCKET, region: str = REGION) -> None:
    kwargs = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3c(region).create_bucket(Bucket=name, **kwargs)


def make_foreign_role(name: str = ROLE, *, service: str = "sagemaker.amazonaws.com") -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }
    iamc().create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))


# -- fresh accounts ----------------------------------------------------------------------------------------
def _assert_fully_provisioned(region: str) -> None:
    s3 = s3c(region)
    assert s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    rule = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    policy = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    assert policy["Statement"][0]["Sid"] == "DenyInsecureTransport"
    assert bucket_tags(BUCKET) == OUR_TAGS
    role = iamc().get_role(RoleName=ROLE)["Role"]
    assert same_policy(role["AssumeRolePolicyDocument"], trust_policy(account=ACCOUNT, region=region))
    assert {t["Key"]: t["Value"] for t in iamc().list_role_tags(RoleName=ROLE)["Tags"]} == OUR_TAGS
    inline = iamc().get_role_policy(RoleName=ROLE, PolicyName=INLINE_POLICY_NAME)["PolicyDocument"]
    expected = execution_policy(
        bucket=BUCKET,
        prefix="nikkei-deepar",
        key_root="nikkei-deepar/nikkei-deepar/test",
        region=region,
        account="123456789012",
    )
    assert same_policy(inline, expected)
    assert iamc().list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"] == []


def test_fresh_account_tokyo(make: MakeCtx) -> None:
    ctx = make()
    result = provision.run(ctx, dry_run=False)
    assert result.exit_code == 0
    assert by_resource(result) == {
        "bucket": "create",
        "bucket.tags": "create",
        "bucket.public-access-block": "create",
        "bucket.encryption": "create",
        "bucket.versioning": "create",
        "bucket.tls-only-policy": "create",
        "role": "create",
        "role.inline-policy": "create",
        "scheduler-role": "create",
        "scheduler-role.inline-policy": "create",
    }
    assert all(i.status == "done" for i in result.items)
    assert s3c().get_bucket_location(Bucket=BUCKET)["LocationConstraint"] == REGION
    _assert_fully_provisioned(REGION)
    ledger = ctx.state.load()
    bucket, role = ledger.resource("bucket", BUCKET), ledger.resource("role", ROLE)
    assert (
        bucket is not None and (bucket.created, bucket.adopted) == (True, False) and bucket.region == REGION
    )
    assert role is not None and role.arn == f"arn:aws:iam::123456789012:role/{ROLE}"
    data = result.to_data()
    assert data["changed"] is True and data["account"] == "123456789012"
    assert data["role_arn"] == role.arn
    assert "10 changes applied" in result.to_lines()


def test_fresh_account_us_east_1_has_no_location_constraint(make: MakeCtx) -> None:
    ctx = make(region="us-east-1")
    assert provision.run(ctx, dry_run=False).exit_code == 0
    assert s3c("us-east-1").get_bucket_location(Bucket=BUCKET)["LocationConstraint"] is None
    _assert_fully_provisioned("us-east-1")


def test_second_run_changes_nothing(make: MakeCtx) -> None:
    provision.run(make(), dry_run=False)
    ctx = make()
    calls = forbid_mutations(ctx)  # a converged account needs no mutating call at all
    result = provision.run(ctx, dry_run=False)
    assert result.exit_code == 0
    assert {i.action for i in result.items} == {"ok"}
    assert result.to_data()["changed"] is False
    assert "no changes: everything was already in place" in result.to_lines()
    assert "GetCallerIdentity" in calls


def test_dry_run_on_fresh_account_calls_no_mutating_api(make: MakeCtx) -> None:
    ctx = make()
    calls = forbid_mutations(ctx)
    result = provision.run(ctx, dry_run=True)
    assert result.exit_code == 0
    assert all(i.status == "planned" for i in result.items)
    assert result.items[0].shown_action == "would create"
    assert calls  # it did look
    assert s3c().list_buckets()["Buckets"] == []
    assert iamc().list_roles()["Roles"] == []
    assert not ctx.state.path.exists()
    assert result.to_data()["dry_run"] is True
    assert "dry run: 10 changes would be made; nothing was changed" in result.to_lines()


def test_kms_key_encrypts_the_bucket_and_enters_the_policy(make: MakeCtx) -> None:
    key = "1234abcd-12ab-34cd-56ef-1234567890ab"
    ctx = make(kms_key_id=key)
    assert provision.run(ctx, dry_run=False).exit_code == 0
    rule = s3c().get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}
    inline = iamc().get_role_policy(RoleName=ROLE, PolicyName=INLINE_POLICY_NAME)["PolicyDocument"]
    assert any(s.get("Sid") == "UseConfiguredKmsKey" for s in inline["Statement"])
    assert {i.action for i in provision.run(make(kms_key_id=key), dry_run=False).items} == {"ok"}


# -- drift ----------------------------------------------------------------------------------------------
def _drift_everything() -> None:
    """Everything drifts but what says whose it is: the ownership tags stay (managed-by, project, stage)."""
    s3 = s3c()
    owner = {k: v for k, v in bucket_tags(BUCKET).items() if k != "team"}
    s3.put_bucket_tagging(
        Bucket=BUCKET, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in owner.items()]}
    )
    s3.delete_public_access_block(Bucket=BUCKET)
    s3.delete_bucket_encryption(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    s3.delete_bucket_policy(Bucket=BUCKET)
    iam = iamc()
    iam.put_role_policy(
        RoleName=ROLE,
        PolicyName=INLINE_POLICY_NAME,
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::other/*"}
                ],
            }
        ),
    )
    iam.update_assume_role_policy(
        RoleName=ROLE,
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": ["sagemaker.amazonaws.com", "ec2.amazonaws.com"]},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    iam.untag_role(RoleName=ROLE, TagKeys=["team"])
    iam.put_role_policy(
        RoleName=ROLE,
        PolicyName="added-by-hand",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::x"}],
            }
        ),
    )


def test_drift_on_owned_resources_is_reported_then_fixed(make: MakeCtx) -> None:
    provision.run(make(), dry_run=False)
    _drift_everything()

    dry = make()
    forbid_mutations(dry)
    planned = by_resource(provision.run(dry, dry_run=True))
    expected = {
        "bucket": "ok",
        "bucket.tags": "fix",
        "bucket.public-access-block": "fix",
        "bucket.encryption": "fix",
        "bucket.versioning": "fix",
        "bucket.tls-only-policy": "fix",
        "role": "ok",
        "role.trust-policy": "fix",
        "role.inline-policy": "fix",
        "role.tags": "fix",
        "role.other-policies": "report",
        "scheduler-role": "ok",
        "scheduler-role.trust-policy": "ok",
        "scheduler-role.inline-policy": "ok",
    }
    assert planned == expected

    result = provision.run(make(), dry_run=False)
    assert by_resource(result) == expected
    fixed = [i for i in result.items if i.action == "fix"]
    assert fixed and all(i.status == "done" for i in fixed)
    s3 = s3c()
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    assert bucket_tags(BUCKET) == OUR_TAGS
    assert (
        json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"][0]["Sid"]
        == "DenyInsecureTransport"
    )
    role = iamc().get_role(RoleName=ROLE)["Role"]
    assert same_policy(role["AssumeRolePolicyDocument"], trust_policy(account=ACCOUNT, region=REGION))
    # a policy added by hand is reported, not removed
    assert sorted(iamc().list_role_policies(RoleName=ROLE)["PolicyNames"]) == [
        "added-by-hand",
        INLINE_POLICY_NAME,
    ]

    again = by_resource(provision.run(make(), dry_run=False))
    assert set(again.values()) == {"ok", "report"}


def test_fixing_the_bucket_policy_keeps_other_statements(make: MakeCtx) -> None:
    provision.run(make(), dry_run=False)
    other = {
        "Sid": "ReadOnlyForAuditors",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/*",
    }
    s3c().put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [other]}))
    result = provision.run(make(), dry_run=False)
    assert by_resource(result)["bucket.tls-only-policy"] == "fix"
    sids = [s["Sid"] for s in json.loads(s3c().get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"]]
    assert sids == ["ReadOnlyForAuditors", "DenyInsecureTransport"]


def test_config_change_updates_the_owned_policy(make: MakeCtx) -> None:
    provision.run(make(), dry_run=False)
    result = provision.run(make(prefix="other-prefix"), dry_run=False)
    assert by_resource(result)["role.inline-policy"] == "fix"
    inline = iamc().get_role_policy(RoleName=ROLE, PolicyName=INLINE_POLICY_NAME)["PolicyDocument"]
    assert "other-prefix/output/*" in json.dumps(inline)


# -- existing resources that are not the tool's ---------------------------------------------------------
def test_existing_bucket_and_role_are_used_as_they_are(make: MakeCtx) -> None:
    make_foreign_bucket()
    make_foreign_role()
    s3c().put_object(Bucket=BUCKET, Key="theirs.txt", Body=b"keep me")
    result = provision.run(make(), dry_run=False)
    assert result.exit_code == 0
    assert by_resource(result) == {
        "bucket": "use",
        "bucket.public-access-block": "report",
        "bucket.encryption": "report",
        "bucket.versioning": "report",
        "bucket.tls-only-policy": "report",
        "bucket.write-access": "check",
        "role": "use",
        "role.trust-policy": "ok",
        "role.permissions": "report",  # nobody's role: what it lacks is said, nothing is changed
        "scheduler-role": "create",
        "scheduler-role.inline-policy": "create",
    }
    permissions = next(i for i in result.items if i.resource == "role.permissions")
    assert "do not allow s3:ListBucket on arn:aws:s3:::nd-test-bucket" in permissions.detail
    assert [i.status for i in result.items if i.action == "check"] == ["done"]
    # never modified: no tags, no public access block, no versioning, no policy, no probe left behind
    s3 = s3c()
    assert bucket_tags(BUCKET) == {}
    with pytest.raises(Exception, match="NoSuchPublicAccessBlockConfiguration"):
        s3.get_public_access_block(Bucket=BUCKET)
    assert "Status" not in s3.get_bucket_versioning(Bucket=BUCKET)
    with pytest.raises(Exception, match="NoSuchBucketPolicy"):
        s3.get_bucket_policy(Bucket=BUCKET)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == ["theirs.txt"]
    assert iamc().list_role_policies(RoleName=ROLE)["PolicyNames"] == []
    assert iamc().list_role_tags(RoleName=ROLE)["Tags"] == []
    # and not in the ledger: teardown must never consider them (only the scheduler role it created is)
    assert ctx_ledger_names(make()) == ["nikkei-deepar-test-scheduler"]
    reports = [i for i in result.items if i.action == "report" and i.resource.startswith("bucket.")]
    assert len(reports) == 4 and all("not changed, the bucket is not the tool's" in i.detail for i in reports)
    assert "5 findings reported and left unchanged (see above)" in result.to_lines()


def ctx_ledger_names(ctx: Context) -> list[str]:
    return [r.name for r in ctx.state.load().live_resources()]


def test_existing_bucket_in_another_region_is_a_problem_and_nothing_changes(make: MakeCtx) -> None:
    make_foreign_bucket(region="eu-west-1")
    ctx = make()
    result = provision.run(ctx, dry_run=False)
    assert result.exit_code == ExitCode.USAGE
    assert result.errors[0]["code"] == "bucket-region"
    assert "is in eu-west-1 but [aws] region is ap-northeast-1" in result.errors[0]["message"]
    assert iamc().list_roles()["Roles"] == []  # the role was planned but not created
    assert {i.status for i in result.items if i.action == "create"} == {"skipped"}
    assert "nothing was changed: fix the problems above and run provision again" in result.to_lines()


def test_existing_role_that_does_not_trust_sagemaker(make: MakeCtx) -> None:
    make_foreign_role(service="ec2.amazonaws.com")
    result = provision.run(make(), dry_run=False)
    assert result.exit_code == ExitCode.USAGE
    assert result.errors[0]["code"] == "role-trust"
    assert s3c().list_buckets()["Buckets"] == []
    role = iamc().get_role(RoleName=ROLE)["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"] == "ec2.amazonaws.com"


def test_existing_bucket_we_cannot_write_to(make: MakeCtx) -> None:
    make_foreign_bucket()
    ctx = make()

    class _Http:
        status_code = 403
        content = b""

    def deny(**_: Any) -> Any:
        return _Http(), {
            "Error": {"Code": "AccessDenied", "Message": "denied"},
            "ResponseMetadata": {"HTTPStatusCode": 403},
        }

    ctx.aws.client("s3").meta.events.register("before-call.s3.PutObject", deny)
    result = provision.run(ctx, dry_run=False)
    assert result.exit_code == ExitCode.AWS
    probe = next(i for i in result.items if i.resource == "bucket.write-access")
    assert probe.status == "failed" and "access denied" in probe.detail
    assert result.errors[0]["code"] == "aws-access-denied"
    assert iamc().get_role(RoleName=ROLE)  # the rest was applied


def test_bucket_tagged_by_another_stage_is_not_adopted(make: MakeCtx) -> None:
    make_foreign_bucket()
    s3c().put_bucket_tagging(
        Bucket=BUCKET,
        Tagging={
            "TagSet": [
                {"Key": "managed-by", "Value": "nikkei-deepar"},
                {"Key": "stage", "Value": "prod"},
                {"Key": "project", "Value": "nikkei-deepar"},
            ]
        },
    )
    result = provision.run(make(), dry_run=False)
    assert by_resource(result)["bucket"] == "use"
    assert make().state.load().resource("bucket", BUCKET) is None


# -- crashes, adoption, resources gone ----------------------------------------------------------------
def test_crash_after_create_bucket_leaves_it_recorded_and_a_rerun_converges(
    make: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nikkei_deepar.aws import s3 as s3_module

    def crash(*_: Any, **__: Any) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(s3_module.Gateway, "put_bucket_tags", crash)
        with pytest.raises(KeyboardInterrupt):
            provision.run(make(), dry_run=False)
    recorded = make().state.load().resource("bucket", BUCKET)
    assert recorded is not None and recorded.live and recorded.created is True
    assert bucket_tags(BUCKET) == {}  # moto ignores CreateBucket's tags: only the ledger knows it

    result = provision.run(make(), dry_run=False)
    actions = by_resource(result)
    assert actions["bucket"] == "ok" and actions["bucket.tags"] == "fix" and actions["role"] == "create"
    _assert_fully_provisioned(REGION)


def test_tagged_resources_missing_from_the_ledger_are_adopted(make: MakeCtx) -> None:
    provision.run(make(), dry_run=False)
    make().state.path.unlink()  # as if the process died between CreateX and the ledger write
    result = provision.run(make(), dry_run=False)
    assert by_resource(result)["bucket"] == "adopt" and by_resource(result)["role"] == "adopt"
    assert any(
        "tagged for this workspace (project=nikkei-deepar, stage=test) but missing from its state: an "
        "earlier run of this stage was interrupted" in i.detail
        for i in result.items
    )
    ledger = make().state.load()
    bucket = ledger.resource("bucket", BUCKET)
    assert bucket is not None and (bucket.created, bucket.adopted) == (True, True)
    assert ledger.resource("role", ROLE).arn == f"arn:aws:iam::123456789012:role/{ROLE}"  # type: ignore[union-attr]
    assert {i.action for i in provision.run(make(), dry_run=False).items} == {"ok"}


def test_recorded_bucket_deleted_outside_the_tool_is_created_again(make: MakeCtx) -> None:
    provision.run(make(), dry_run=False)
    s3c().delete_bucket_policy(Bucket=BUCKET)
    s3c().delete_bucket(Bucket=BUCKET)
    result = provision.run(make(), dry_run=False)
    bucket = next(i for i in result.items if i.resource == "bucket")
    assert bucket.action == "create" and "the state recorded it, but it is gone" in bucket.detail
    _assert_fully_provisioned(REGION)
    assert (
        len([r for r in make().state.load().resources if r.kind == "bucket"]) == 2
    )  # old one marked deleted


# -- configuration --------------------------------------------------------------------------------------
def test_bucket_is_required(make: MakeCtx) -> None:
    with pytest.raises(ConfigError, match=r"aws\.bucket: required"):
        provision.run(make(bucket=None), dry_run=True)


def test_a_backend_this_version_lacks_is_a_usage_error(step_context: MakeCtx) -> None:
    from nikkei_deepar.backends import UnknownBackendError

    with pytest.raises(UnknownBackendError, match="'elsewhere' is not available in this version"):
        step_context(backend="local").backend_named("elsewhere")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("bucket", "My_Bucket", "aws.bucket: S3 bucket names are 3-63 characters"),
        ("bucket", "ab", "aws.bucket: S3 bucket names"),
        ("bucket", "a" * 64, "aws.bucket: S3 bucket names"),
        ("bucket", "192.168.1.1", "aws.bucket: S3 bucket names"),
        ("bucket", "two..dots", "aws.bucket: S3 bucket names"),
        ("bucket", "-leading-dash", "aws.bucket: S3 bucket names"),
        ("role_name", "r" * 65, "aws.role_name: IAM role names are 1-64 characters"),
        ("role_name", "has space", "aws.role_name: IAM role names"),
        ("role_name", "slash/role", "aws.role_name: IAM role names"),
    ],
)
def test_name_rules_moto_does_not_enforce(
    run_cli: Callable[..., Any], tmp_path: Path, key: str, value: str, message: str
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(f'[aws]\nregion = "{REGION}"\n{key} = "{value}"\n', encoding="utf-8")
    result = run_cli("provision", "--dry-run", "--config", str(config), "--json")
    assert result.exit_code == ExitCode.USAGE
    assert message in result.stderr
    assert result.json()["errors"][0]["code"] == "config"


def test_cli_provision_json_envelope(run_cli: Callable[..., Any], tmp_path: Path, aws: None) -> None:
    config = tmp_path / "nikkei-deepar.toml"
    config.write_text(
        f'[aws]\nregion = "{REGION}"\nbucket = "{BUCKET}"\nrole_name = "{ROLE}"\n', encoding="utf-8"
    )
    dry = run_cli("provision", "--dry-run", "--json", "--config", str(config))
    assert dry.exit_code == 0, dry.stderr
    doc = dry.json()
    assert doc["command"] == "provision" and doc["status"] == "ok"
    assert doc["data"]["dry_run"] is True
    assert {i["action"] for i in doc["data"]["items"]} == {"create"}
    first = run_cli("provision", "--json", "--config", str(config))
    assert first.exit_code == 0 and first.json()["data"]["changed"] is True
    second = run_cli("provision", "--config", str(config))
    assert second.exit_code == 0
    assert "no changes: everything was already in place" in second.stdout


# -- the machinery is backend-neutral: a local provisioner plugs in ----------------------------------------
class _FolderProvisioner:
    """A stand-in backend's provisioner: plan folders to create, create them on apply."""

    def __init__(self, ctx: Context) -> None:
        self.root = ctx.home / "store"

    def target(self) -> dict[str, Any]:
        return {"backend": "local", "store": str(self.root)}

    def plan(self, ledger: Any) -> list[provision.PlanItem]:
        if self.root.is_dir():
            return [provision.PlanItem("folder", str(self.root), "ok", "exists", owned=True)]
        return [
            provision.PlanItem(
                "folder",
                str(self.root),
                "create",
                "the local store",
                owned=True,
                apply=lambda: self.root.mkdir(parents=True) or Applied(),
            )
        ]


def test_a_local_provisioner_plugs_into_plan_and_apply(
    step_context: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = step_context(backend="local")
    folder = _FolderProvisioner(ctx)

    class WithFolderProvisioner:
        name = "local"

        def provisioner(self) -> _FolderProvisioner:
            return folder

    ctx.backend = WithFolderProvisioner()  # type: ignore[assignment]
    dry = provision.run(ctx, dry_run=True)
    assert [i.shown_action for i in dry.items] == ["would create"] and not (ctx.home / "store").exists()
    done = provision.run(ctx, dry_run=False)
    assert [i.status for i in done.items] == ["done"] and (ctx.home / "store").is_dir()
    assert done.to_data()["backend"] == "local" and done.to_data()["changed"] is True
    assert {i.action for i in provision.run(ctx, dry_run=False).items} == {"ok"}


# -- ownership is what AWS's tags prove (issue 21) ---------------------------------------------------------
def test_our_bucket_and_role_whose_stage_tag_was_edited_by_hand_are_refused_and_unchanged(
    make: MakeCtx,
) -> None:
    provision.run(make(), dry_run=False)
    tags = {**bucket_tags(BUCKET), "stage": "prod"}
    s3c().put_bucket_tagging(
        Bucket=BUCKET, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}
    )
    iamc().tag_role(RoleName=ROLE, Tags=[{"Key": "stage", "Value": "prod"}])
    result = provision.run(make(), dry_run=False)
    assert result.exit_code == ExitCode.USAGE
    assert {e["code"] for e in result.errors} == {"not-ours"}
    messages = " ".join(e["message"] for e in result.errors)
    assert (
        f"the state lists bucket {BUCKET} as this workspace's, but AWS says it is another workspace's"
        in messages
    )
    assert f"the state lists role {ROLE} as this workspace's" in messages and "stage=prod" in messages
    assert "`nikkei-deepar state forget bucket" in messages and "`nikkei-deepar import bucket" in messages
    assert bucket_tags(BUCKET)["stage"] == "prod"  # never re-tagged back
    role_tags = {t["Key"]: t["Value"] for t in iamc().list_role_tags(RoleName=ROLE)["Tags"]}
    assert role_tags["stage"] == "prod"


def test_a_role_of_another_workspace_named_explicitly_is_used_only_while_it_covers_this_one(
    make: MakeCtx,
) -> None:
    provision.run(make(), dry_run=False)  # stage "test" makes ROLE, for its own keys
    other = make(
        tags={"project": "nikkei-deepar", "stage": "other", "team": "quant"}, bucket="nd-other-bucket"
    )
    refused = provision.run(other, dry_run=False)
    assert refused.exit_code == ExitCode.USAGE
    problem = next(e for e in refused.errors if e["code"] == "role-not-covering")
    assert f"IAM role {ROLE} is another workspace's (project=nikkei-deepar, stage=test" in problem["message"]
    assert "s3:ListBucket on arn:aws:s3:::nd-other-bucket" in problem["message"]
    assert "the default, nikkei-deepar-other-sagemaker, is this stage's own" in problem["message"]
    assert "nd-other-bucket" not in [b["Name"] for b in s3c().list_buckets()["Buckets"]]  # nothing applied

    # the same bucket and a policy that grants the whole prefix: then it is used as it is, unchanged
    iamc().put_role_policy(
        RoleName=ROLE,
        PolicyName="whole-prefix",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "s3:*",
                        "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
                    }
                ],
            }
        ),
    )
    before = iamc().get_role_policy(RoleName=ROLE, PolicyName=INLINE_POLICY_NAME)["PolicyDocument"]
    used = provision.run(
        make(tags={"project": "nikkei-deepar", "stage": "other", "team": "quant"}), dry_run=False
    )
    assert used.exit_code == 0, used.errors
    actions = by_resource(used)
    assert (actions["bucket"], actions["role"], actions["role.permissions"]) == ("use", "use", "ok")
    assert iamc().get_role_policy(RoleName=ROLE, PolicyName=INLINE_POLICY_NAME)["PolicyDocument"] == before
    assert bucket_tags(BUCKET)["stage"] == "test"
