"""`doctor` with the SageMaker backend, against moto (in-process): all ok after `provision`, then each
problem on its own with its exit code and fix, the order of exit codes, the PassRole simulation (moto does
not implement SimulatePrincipalPolicy: a warning, never a failure), and last the checks of endpoint expiry's
scheduler role (its trust, its policy, passing it to the scheduler). The local backend's checks and the CLI:
tests/steps/test_doctor.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from nikkei_deepar.backends.sagemaker import checks as sagemaker_checks
from nikkei_deepar.errors import ExitCode
from nikkei_deepar.steps import doctor, provision
from sagemaker_script import REGION, make_context, settings_for

BUCKET = "nikkei-deepar-doctor-bucket"
ROLE = "nikkei-deepar-sagemaker"


def _ctx(home: Path, **sections: Any) -> Any:
    sections.setdefault("aws", {})
    sections["aws"] = {"bucket": BUCKET, **sections["aws"]}
    return make_context(home, settings_for(**sections))


@pytest.fixture
def ctx(aws: None, hermetic_env: Path) -> Any:
    """Provisioned as `provision` leaves it: the bucket and the role with its inline policy."""
    context = _ctx(hermetic_env)
    assert provision.run(context, dry_run=False).exit_code == 0
    return context


def _checks(result: doctor.DoctorResult) -> dict[str, doctor.Check]:
    return {c.name: c for c in result.checks}


def _only_problem(result: doctor.DoctorResult) -> doctor.Check:
    problems = result.problems
    assert len(problems) == 1, [c.to_data() for c in problems]
    return problems[0]


# -- all good ----------------------------------------------------------------------------------------------
def test_all_ok_after_provision_and_passrole_could_not_be_checked(ctx: Any) -> None:
    before = {
        "buckets": boto3.client("s3").list_buckets()["Buckets"],
        "roles": boto3.client("iam").list_roles()["Roles"],
        "ledger": ctx.state.path.read_bytes(),
    }
    result = doctor.run(ctx)
    assert result.exit_code == ExitCode.OK and result.errors == []
    checks = _checks(result)
    assert [c.name for c in result.checks] == [
        "config",
        "region",
        "credentials",
        "bucket",
        "role",
        "role-trust",
        "role-policy",
        "pass-role",
        "scheduler-role",
        "scheduler-trust",
        "scheduler-policy",
        "scheduler-pass-role",
        "ledger",
        "ledger-lock",
    ]
    assert all(c.status == "ok" for name, c in checks.items() if not name.endswith("pass-role"))
    assert "633353088612.dkr.ecr.ap-northeast-1.amazonaws.com/forecasting-deepar:1" in checks["region"].detail
    assert "account 123456789012" in checks["credentials"].detail
    assert f"{BUCKET}: reachable, in {REGION}" == checks["bucket"].detail
    # moto has no SimulatePrincipalPolicy: "could not check" is a warning, not a failure
    assert checks["pass-role"].status == "warning" and "could not check" in checks["pass-role"].detail
    assert "iam:PassedToService = sagemaker.amazonaws.com" in (checks["pass-role"].fix or "")
    text = "\n".join(result.to_lines())
    assert "all checks passed (with warnings)" in text
    # it changed nothing
    assert boto3.client("s3").list_buckets()["Buckets"] == before["buckets"]
    assert boto3.client("iam").list_roles()["Roles"] == before["roles"]
    assert ctx.state.path.read_bytes() == before["ledger"]


# -- each problem: the check, its exit code, how to fix it ---------------------------------------------------
def test_no_region(aws: None, hermetic_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    result = doctor.run(_ctx(hermetic_env, aws={"region": None}))
    check = _only_problem(result)
    assert (check.name, check.exit_code) == ("region", ExitCode.USAGE)
    assert "[aws] region" in (check.fix or "")
    checks = _checks(result)
    assert all(checks[name].status == "skipped" for name in ("credentials", "bucket", "role", "pass-role"))


def test_a_region_without_deepar(aws: None, hermetic_env: Path) -> None:
    check = _only_problem(doctor.run(_ctx(hermetic_env, aws={"region": "ap-southeast-9"})))
    assert (check.name, check.exit_code, check.code) == ("region", ExitCode.USAGE, "region-unsupported")
    assert "ap-northeast-1" in (check.fix or "")


def test_bad_credentials(ctx: Any) -> None:
    fresh = _ctx(ctx.home)  # provision asked STS already: a new command, with new clients
    _sts_rejects_the_token(fresh.aws.sts.client)
    result = doctor.run(fresh)
    check = _only_problem(result)
    assert (check.name, check.exit_code, check.code) == ("credentials", ExitCode.AWS, "aws-credentials")
    checks = _checks(result)
    assert all(checks[name].status == "skipped" for name in ("bucket", "role", "pass-role"))


def _sts_rejects_the_token(client: Any) -> None:
    """STS answers XML (query protocol): a 403 InvalidClientTokenId through botocore's real parsing."""
    from botocore.awsrequest import AWSResponse

    body = (
        b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
        b"<Code>InvalidClientTokenId</Code><Message>The security token included in the request is "
        b"invalid.</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"
    )

    class _Raw:
        def stream(self, **_: Any) -> Any:
            yield body

    def handler(**_: Any) -> AWSResponse:
        response = AWSResponse("https://sts", 403, {"Content-Type": "text/xml"}, _Raw())
        response._content = body  # type: ignore[attr-defined]
        return response

    client.meta.events.register("before-send.sts.GetCallerIdentity", handler)


def test_bucket_missing(aws: None, hermetic_env: Path) -> None:
    check = _only_problem_of(doctor.run(_ctx(hermetic_env)), "bucket")
    assert (check.exit_code, check.code) == (ExitCode.NOT_FOUND, "bucket-missing")
    assert "nikkei-deepar provision" in (check.fix or "")


def _only_problem_of(result: doctor.DoctorResult, name: str) -> doctor.Check:
    check = _checks(result)[name]
    assert check.status == "problem", check
    return check


def test_bucket_not_configured(aws: None, hermetic_env: Path) -> None:
    ctx = make_context(hermetic_env, settings_for(aws={"bucket": None}))
    check = _only_problem_of(doctor.run(ctx), "bucket")
    assert (check.exit_code, check.code) == (ExitCode.USAGE, "config")


def test_bucket_in_another_region(ctx: Any) -> None:
    other = "nikkei-deepar-doctor-elsewhere"
    boto3.client("s3", region_name="eu-west-1").create_bucket(
        Bucket=other, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    moved = _ctx(ctx.home, aws={"bucket": other})
    check = _only_problem_of(doctor.run(moved), "bucket")
    assert (check.exit_code, check.code) == (ExitCode.USAGE, "bucket-region")
    assert "eu-west-1" in check.detail and REGION in check.detail


def test_role_missing(aws: None, hermetic_env: Path) -> None:
    ctx = _ctx(hermetic_env, endpoint={"expires_after": "off"})  # scheduler role: see the end of this file
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    result = doctor.run(ctx)
    check = _only_problem(result)
    assert (check.name, check.exit_code, check.code) == ("role", ExitCode.NOT_FOUND, "role-missing")
    assert _checks(result)["pass-role"].status == "skipped"


def _trust_only_ec2(role: str) -> None:
    """The role's trust policy now lets only EC2 assume it (someone edited it by hand)."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    boto3.client("iam").update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(trust))


def test_role_that_does_not_trust_sagemaker(ctx: Any) -> None:
    _trust_only_ec2(ROLE)
    check = _only_problem(doctor.run(ctx))
    assert (check.name, check.exit_code, check.code) == ("role-trust", ExitCode.USAGE, "role-trust")
    assert "provision" in (check.fix or "")  # the tool's own role: provision restores it


def test_the_tools_role_without_its_inline_policy(ctx: Any) -> None:
    from nikkei_deepar.backends.sagemaker.policy import INLINE_POLICY_NAME

    boto3.client("iam").delete_role_policy(RoleName=ROLE, PolicyName=INLINE_POLICY_NAME)
    check = _only_problem(doctor.run(ctx))
    assert (check.name, check.exit_code, check.code) == (
        "role-policy",
        ExitCode.NOT_FOUND,
        "role-policy-missing",
    )


def test_an_edited_inline_policy_is_a_warning(ctx: Any) -> None:
    from nikkei_deepar.backends.sagemaker.policy import INLINE_POLICY_NAME

    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
    boto3.client("iam").put_role_policy(
        RoleName=ROLE, PolicyName=INLINE_POLICY_NAME, PolicyDocument=json.dumps(document)
    )
    result = doctor.run(ctx)
    assert result.exit_code == ExitCode.OK
    assert _checks(result)["role-policy"].status == "warning"


def test_your_own_role_is_used_and_its_permissions_not_judged(aws: None, hermetic_env: Path) -> None:
    from sagemaker_script import seed_prepared

    ctx = _ctx(hermetic_env)
    seed_prepared(make_context(hermetic_env, settings_for(aws={"bucket": BUCKET})), upload=False)
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    result = doctor.run(ctx)
    assert result.exit_code == ExitCode.OK
    checks = _checks(result)
    assert "(your own role)" in checks["role"].detail
    assert checks["role-policy"].status == "warning" and "not the tool's role" in checks["role-policy"].detail


def test_passrole_denied_and_allowed(ctx: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, str]] = []

    def simulate(_: Any, principal: str, role_arn: str) -> str:
        seen.append((principal, role_arn))
        return answer

    monkeypatch.setattr(sagemaker_checks, "_simulate_pass_role", simulate)
    answer = "implicitDeny"
    check = _only_problem(doctor.run(ctx))
    assert (check.name, check.exit_code, check.code) == ("pass-role", ExitCode.AWS, "pass-role-denied")
    assert "iam:PassedToService = sagemaker.amazonaws.com" in (check.fix or "")
    assert seen[0] == (
        "arn:aws:iam::123456789012:user/moto",
        f"arn:aws:iam::123456789012:role/{ROLE}",
    )
    answer = "allowed"
    assert _checks(doctor.run(ctx))["pass-role"].status == "ok"


def test_caller_arns_become_simulatable_principals() -> None:
    def lookup(name: str) -> str | None:
        return {"Admin": "arn:aws:iam::111122223333:role/team/Admin"}.get(name)

    principal = sagemaker_checks._principal_arn
    assert principal("arn:aws:iam::111122223333:user/alice", lookup=lookup) == (
        "arn:aws:iam::111122223333:user/alice"
    )
    # an assumed role is simulated as its role, path included when IAM knows it
    assert principal("arn:aws:sts::111122223333:assumed-role/Admin/session", lookup=lookup) == (
        "arn:aws:iam::111122223333:role/team/Admin"
    )
    assert principal("arn:aws:sts::111122223333:assumed-role/Other/s", lookup=lookup) == (
        "arn:aws:iam::111122223333:role/Other"
    )
    assert principal("arn:aws:iam::111122223333:root", lookup=lookup) == "root"
    assert principal("arn:aws:sts::111122223333:federated-user/bob", lookup=lookup) is None
    assert principal("not-an-arn", lookup=lookup) is None


def test_ledger_corrupt(ctx: Any) -> None:
    ctx.state.path.write_text("{not json", encoding="utf-8")
    check = _only_problem(doctor.run(ctx))
    assert (check.name, check.exit_code, check.code) == ("ledger", ExitCode.DATA, "ledger-corrupt")


def test_ledger_locked(ctx: Any) -> None:
    with ctx.state.lock():
        result = doctor.run(ctx)
    check = _only_problem(result)
    assert (check.name, check.exit_code, check.code) == ("ledger-lock", ExitCode.LOCKED, "locked")
    assert "locked by pid" in check.detail


def test_the_first_problem_decides_the_exit_code(aws: None, hermetic_env: Path) -> None:
    ctx = _ctx(hermetic_env)  # no bucket, no role (5) ...
    with ctx.state.lock():  # ... and locked (9)
        result = doctor.run(ctx)
    assert [c.name for c in result.problems] == ["bucket", "role", "scheduler-role", "ledger-lock"]
    assert result.exit_code == ExitCode.NOT_FOUND
    assert [e["code"] for e in result.errors] == [
        "bucket-missing",
        "role-missing",
        "scheduler-role-missing",
        "locked",
    ]
    assert "4 problems" in "\n".join(result.to_lines())


# -- endpoint expiry: the scheduler role, its trust, its policy and passing it to the scheduler -----------
ENDPOINT = "nikkei-deepar-dev"  # the default {project}-{stage}
NAME = f"{ENDPOINT}-scheduler"


def _scheduler(result: doctor.DoctorResult) -> dict[str, doctor.Check]:
    return {c.name: c for c in result.checks if c.name.startswith("scheduler")}


def test_after_provision_everything_is_in_place(ctx: Any) -> None:
    checks = _scheduler(doctor.run(ctx))
    assert [n for n in checks] == [
        "scheduler-role",
        "scheduler-trust",
        "scheduler-policy",
        "scheduler-pass-role",
    ]
    assert checks["scheduler-role"].detail.endswith(f":role/{NAME} (created by nikkei-deepar)")
    assert checks["scheduler-policy"].detail == f"may delete endpoint {ENDPOINT}, nothing else"
    # moto has no policy simulator: a warning naming what the caller needs
    assert checks["scheduler-pass-role"].status == "warning"
    assert "iam:PassedToService = scheduler.amazonaws.com" in (checks["scheduler-pass-role"].fix or "")


def test_missing_role_is_exit_5_naming_provision(aws: None, hermetic_env: Path) -> None:
    ctx = _ctx(hermetic_env)
    provision.run(_ctx(hermetic_env, endpoint={"expires_after": "off"}), dry_run=False)  # no scheduler role
    result = doctor.run(ctx)
    [check] = result.problems
    assert (check.name, check.exit_code, check.code) == (
        "scheduler-role",
        ExitCode.NOT_FOUND,
        "scheduler-role-missing",
    )
    assert "nikkei-deepar provision" in (check.fix or "")


def test_not_needed_when_nothing_expires(aws: None, hermetic_env: Path) -> None:
    ctx = _ctx(hermetic_env, endpoint={"expires_after": "off"})
    provision.run(ctx, dry_run=False)
    checks = _scheduler(doctor.run(ctx))
    assert [(c.name, c.status) for c in checks.values()] == [("scheduler-role", "skipped")]


def test_a_policy_for_another_endpoint_is_a_problem(ctx: Any, hermetic_env: Path) -> None:
    # the config names the role, then the endpoint changes: the role's policy still names the old one
    result = doctor.run(_ctx(hermetic_env, aws={"scheduler_role_name": NAME}, endpoint={"name": "renamed"}))
    [check] = result.problems
    assert (check.name, check.code) == ("scheduler-policy", "scheduler-policy")
    assert "could not delete endpoint renamed" in check.detail


def test_a_role_that_does_not_trust_the_scheduler(ctx: Any) -> None:
    _trust_only_ec2(NAME)
    [check] = doctor.run(ctx).problems
    assert (check.name, check.exit_code) == ("scheduler-trust", ExitCode.USAGE)
    assert check.fix == "run `nikkei-deepar provision`: it creates (or restores) it"
