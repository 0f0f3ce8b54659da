"""`doctor`'s checks for the SageMaker backend: a preflight that spends nothing and changes nothing.

Handed to the `doctor` step by `SageMakerBackend.checks()`. Region (set, and DeepAR is published there),
credentials, bucket (exists, reachable, in the jobs' region), role (exists, trusts
sagemaker.amazonaws.com, carries the inline policy `provision` writes), the caller may pass the role to
SageMaker (iam:PassRole with iam:PassedToService = sagemaker.amazonaws.com, simulated). Every check is a
read (STS GetCallerIdentity, S3 HeadBucket, IAM Get*/List*/SimulatePrincipalPolicy).
"""

from __future__ import annotations

from collections.abc import Callable

from nikkei_deepar.backends.checks import Check, from_error, ok, problem, skipped
from nikkei_deepar.backends.env import BackendEnv
from nikkei_deepar.errors import AwsError, ExitCode, NikkeiError, ProfileNotFoundError
from nikkei_deepar.ownership import is_ours

PASSED_TO = "sagemaker.amazonaws.com"


def aws_checks(env: BackendEnv) -> list[Check]:
    checks = [_region(env)]
    if checks[-1].name == "profile":  # no session at all: the region was never looked at
        rest = ("region", "credentials", "bucket", "role", "pass-role")
        return [*checks, *skipped(*rest, why="the AWS profile does not exist")]
    if checks[-1].status != "ok":
        return [*checks, *skipped("credentials", "bucket", "role", "pass-role", why="no usable region")]
    identity = _credentials(env)
    checks.append(identity[0])
    if identity[1] is None:
        return [*checks, *skipped("bucket", "role", "pass-role", why="no working credentials")]
    caller, account = identity[1]
    checks.append(_bucket(env))
    role_checks, role_arn = _role(env, account)
    checks += role_checks
    checks.append(_pass_role(env, caller, role_arn))
    from nikkei_deepar.backends.sagemaker.scheduler_checks import scheduler_checks

    principal = _principal_arn(caller, lookup=env.aws.iam.role_arn)
    checks += scheduler_checks(env, caller=caller, principal=principal, account=account)
    return checks


def _region(env: BackendEnv) -> Check:
    from nikkei_deepar.images import deepar_image_uri

    try:
        region = env.aws.region_name
    except ProfileNotFoundError as exc:  # the session cannot start: not a region problem
        return from_error("profile", exc)
    except AwsError as exc:
        return problem(
            "region",
            exc.message,
            fix="set [aws] region in the config (or AWS_REGION, or --region)",
            exit_code=ExitCode.USAGE,
            code="region",
        )
    try:
        image = deepar_image_uri(region)
    except NikkeiError as exc:
        return from_error("region", exc)
    return ok("region", f"{region}: DeepAR image {image}")


def _credentials(env: BackendEnv) -> tuple[Check, tuple[str, str] | None]:
    sts = env.aws.sts
    try:
        identity = sts.identity
    except AwsError as exc:
        return from_error("credentials", exc), None
    caller, account = str(identity["Arn"]), str(identity["Account"])
    return ok("credentials", f"account {account} as {caller}"), (caller, account)


def _bucket(env: BackendEnv) -> Check:
    bucket = env.settings.aws.bucket
    if not bucket:
        return problem(
            "bucket",
            "aws.bucket: not set (the SageMaker backend keeps data and models in S3)",
            fix="set [aws] bucket in the config, then run `nikkei-deepar provision`",
            exit_code=ExitCode.USAGE,
            code="config",
        )
    region = env.aws.region_name
    try:
        where = env.aws.s3.bucket_region(bucket)
    except AwsError as exc:
        return from_error("bucket", exc)
    if where is None:
        return problem(
            "bucket",
            f"S3 bucket {bucket} does not exist",
            fix="run `nikkei-deepar provision` to create it, or set [aws] bucket to a bucket you own",
            exit_code=ExitCode.NOT_FOUND,
            code="bucket-missing",
        )
    if where != region:
        return problem(
            "bucket",
            f"S3 bucket {bucket} is in {where}, but the jobs run in {region}: SageMaker reads its data from "
            "a bucket in its own region",
            fix=f"set [aws] region = {where!r}, or use a bucket in {region}",
            exit_code=ExitCode.USAGE,
            code="bucket-region",
        )
    return ok("bucket", f"{bucket}: reachable, in {where}")


def _role(env: BackendEnv, account: str) -> tuple[list[Check], str | None]:
    from nikkei_deepar.backends.sagemaker.policy import trusts_sagemaker

    name = env.settings.execution_role_name()
    iam = env.aws.iam
    try:
        role = iam.get_role(name)
    except AwsError as exc:
        return [from_error("role", exc)], None
    if role is None:
        return [
            problem(
                "role",
                f"IAM role {name} does not exist",
                fix="run `nikkei-deepar provision` to create it, or set [aws] role_name to an existing role",
                exit_code=ExitCode.NOT_FOUND,
                code="role-missing",
            )
        ], None
    ours = is_ours(role.tags, env.settings.aws.tags)  # its tags say so, not the ledger
    restore = "run `nikkei-deepar provision`: it restores it" if ours else None
    checks = [ok("role", f"{role.arn}" + (" (created by nikkei-deepar)" if ours else " (your own role)"))]
    if trusts_sagemaker(role.trust_policy):
        checks.append(ok("role-trust", "trusted by sagemaker.amazonaws.com"))
    else:
        checks.append(
            problem(
                "role-trust",
                f"IAM role {name} does not trust sagemaker.amazonaws.com: SageMaker cannot use it",
                fix=restore or "add sagemaker.amazonaws.com (sts:AssumeRole) to its trust policy",
                exit_code=ExitCode.USAGE,
                code="role-trust",
            )
        )
    checks.append(_permissions(env, role.name, account, ours=ours, restore=restore))
    return checks, role.arn


def _permissions(env: BackendEnv, role: str, account: str, *, ours: bool, restore: str | None) -> Check:
    from nikkei_deepar.backends.sagemaker.policy import INLINE_POLICY_NAME, execution_policy, same_policy

    iam = env.aws.iam
    aws = env.settings.aws
    try:
        current = iam.inline_policy(role, INLINE_POLICY_NAME)
        if current is None and not ours:
            others = [*iam.inline_policy_names(role), *iam.attached_policy_arns(role)]
            return Check(
                "role-policy",
                "warning",
                f"not the tool's role: permissions not checked ({len(others)} policies attached)",
                fix=f"make sure it may read s3://{aws.bucket}/{aws.prefix}/, pull the DeepAR image and "
                "write logs",
            )
    except AwsError as exc:
        return Check(
            "role-policy", "warning", f"could not read the role's policies ({exc.code})", fix=exc.hint
        )
    if current is None:
        return problem(
            "role-policy",
            f"IAM role {role} has no {INLINE_POLICY_NAME} inline policy: jobs cannot read the data",
            fix=restore or "run `nikkei-deepar provision`",
            exit_code=ExitCode.NOT_FOUND,
            code="role-policy-missing",
        )
    expected = execution_policy(
        bucket=aws.bucket or "",
        prefix=aws.prefix,
        key_root=env.settings.key_root,
        region=env.aws.region_name,
        account=account,
        kms_key=aws.kms_key_id,
    )
    if not same_policy(current, expected):
        return Check(
            "role-policy",
            "warning",
            f"{INLINE_POLICY_NAME} differs from what provision writes for this config (edited, or the "
            "bucket, prefix, region or KMS key changed)",
            fix="run `nikkei-deepar provision` to restore it",
        )
    return ok("role-policy", f"{INLINE_POLICY_NAME}: as provision writes it")


def _pass_role(env: BackendEnv, caller: str, role_arn: str | None) -> Check:
    if role_arn is None:
        return skipped("pass-role", why="no role to pass")[0]
    principal = _principal_arn(caller, lookup=env.aws.iam.role_arn)
    if principal == "root":
        return Check("pass-role", "ok", "the account's root user may pass any role (use an IAM user or role)")
    if principal is None:
        return Check(
            "pass-role",
            "warning",
            f"could not check: {caller} is not an IAM user or role that can be simulated",
            fix="make sure the caller may iam:PassRole the role to sagemaker.amazonaws.com",
        )
    try:
        decision = _simulate_pass_role(env, principal, role_arn)
    except Exception as exc:  # an optional check: whatever goes wrong, it is "could not check", not a failure
        # AwsError: no iam:SimulatePrincipalPolicy permission, or a 5xx. In-process moto raises
        # NotImplementedError; moto's server answers an HTML 500 that botocore cannot parse
        # (ResponseParserError, which aws_errors does not translate).
        reason = exc.code if isinstance(exc, AwsError) else f"not supported here: {type(exc).__name__}"
        return Check(
            "pass-role",
            "warning",
            f"could not check whether {principal} may pass the role ({reason})",
            fix=f"the caller needs iam:PassRole on {role_arn} with iam:PassedToService = {PASSED_TO}",
        )
    if decision == "allowed":
        return ok("pass-role", f"{principal} may pass {role_arn} to SageMaker")
    return problem(
        "pass-role",
        f"{principal} may not pass {role_arn} to SageMaker ({decision}): train and deploy would be refused",
        fix=f"allow iam:PassRole on {role_arn} with the condition StringEquals iam:PassedToService = "
        f"{PASSED_TO} in the caller's IAM policy",
        exit_code=ExitCode.AWS,
        code="pass-role-denied",
    )


def _principal_arn(caller: str, *, lookup: Callable[[str], str | None]) -> str | None:
    """The IAM principal SimulatePrincipalPolicy takes for a caller ARN; "root"; or None (federated...)."""
    parts = caller.split(":", 5)
    if len(parts) != 6:
        return None
    partition, account, resource = parts[1], parts[4], parts[5]
    if resource == "root":
        return "root"
    if resource.startswith("user/"):
        return f"arn:{partition}:iam::{account}:{resource}"
    if resource.startswith("assumed-role/"):
        role = resource.split("/")[1]
        return lookup(role) or f"arn:{partition}:iam::{account}:role/{role}"
    if parts[2] == "iam" and resource.startswith("role/"):
        return caller
    return None


def _simulate_pass_role(env: BackendEnv, principal: str, role_arn: str) -> str:
    """SimulatePrincipalPolicy for iam:PassRole to SageMaker: "allowed", "implicitDeny" or "explicitDeny"."""
    return str(env.aws.iam.can_pass_role(principal, role_arn, service=PASSED_TO))
