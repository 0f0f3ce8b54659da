"""`doctor`: a preflight that spends nothing and changes nothing.

Every check is a read (STS GetCallerIdentity, S3 HeadBucket, IAM Get*/List*/SimulatePrincipalPolicy,
the ledger file and its lock) and reports ok / problem / warning, with how to fix a problem. The exit
code is the first problem's kind: 2 config (also a config file that does not load: that is reported
before doctor runs), 3 an unreadable ledger, 4 AWS/auth, 5 something that does not exist yet
(`provision` creates it), 9 the ledger is locked. Warnings ("could not check") never fail.

SageMaker backend: config, region (set, and DeepAR is published there), credentials, bucket (exists,
reachable, in the jobs' region), role (exists, trusts sagemaker.amazonaws.com, carries the inline
policy `provision` writes), the caller may pass the role to SageMaker (iam:PassRole with
iam:PassedToService = sagemaker.amazonaws.com, simulated), ledger (readable, not locked).
Local backend: config, the [local] extra (found without importing it), the store folder writable,
ledger.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from nikkei_deepar.context import Context
from nikkei_deepar.errors import AwsError, ExitCode, NikkeiError
from nikkei_deepar.steps.provision import aligned, is_ours

Status = Literal["ok", "problem", "warning", "skipped"]
PASSED_TO = "sagemaker.amazonaws.com"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str | None = None
    exit_code: int = int(ExitCode.OK)
    code: str | None = None

    def to_data(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
            "fix": self.fix,
            "exit_code": self.exit_code,
            "code": self.code,
        }


def ok(name: str, detail: str) -> Check:
    return Check(name, "ok", detail)


def problem(name: str, detail: str, *, fix: str | None, exit_code: ExitCode | int, code: str) -> Check:
    return Check(name, "problem", detail, fix, int(exit_code), code)


def from_error(name: str, exc: NikkeiError, *, fix: str | None = None) -> Check:
    return problem(name, exc.message, fix=fix or exc.hint, exit_code=exc.exit_code, code=exc.code)


@dataclass(frozen=True)
class DoctorResult:
    backend: str
    checks: tuple[Check, ...]

    @property
    def problems(self) -> list[Check]:
        return [c for c in self.checks if c.status == "problem"]

    @property
    def exit_code(self) -> int:
        found = self.problems
        return found[0].exit_code if found else int(ExitCode.OK)

    @property
    def errors(self) -> list[dict[str, Any]]:
        out = []
        for check in self.problems:
            entry: dict[str, Any] = {"code": check.code or "problem", "message": check.detail}
            if check.fix:
                entry["hint"] = check.fix
            out.append(entry)
        return out

    def to_data(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "ok": not self.problems,
            "problems": len(self.problems),
            "warnings": sum(1 for c in self.checks if c.status == "warning"),
            "checks": [c.to_data() for c in self.checks],
        }

    def to_lines(self) -> list[str]:
        rows: list[tuple[str, ...]] = []
        for c in self.checks:
            rows.append((c.status, c.name, c.detail))
            if c.fix and c.status in {"problem", "warning"}:
                rows.append(("", "", f"fix: {c.fix}"))
        lines = [f"doctor ({self.backend}):", *aligned(rows)]
        n = len(self.problems)
        lines.append(
            f"{n} problem{'s' * (n != 1)}: fix the first one, then run doctor again"
            if n
            else "all checks passed"
            + (" (with warnings)" if any(c.status == "warning" for c in self.checks) else "")
        )
        return lines


def run(ctx: Context) -> DoctorResult:
    checks = [_config(ctx)]
    if ctx.settings.backend == "local":
        checks += [_local_extra(), _local_store(ctx)]
    else:
        checks += _aws_checks(ctx)
    checks += _ledger(ctx)
    return DoctorResult(backend=ctx.settings.backend, checks=tuple(checks))


# -- config and ledger (both backends) ------------------------------------------------------------------
def _config(ctx: Context) -> Check:
    loaded = ctx.loaded
    where = f"{loaded.path} (from {loaded.origin})" if loaded.path else "no config file: built-in defaults"
    return ok("config", f"valid: {where}")


def _ledger(ctx: Context) -> list[Check]:
    store = ctx.store
    try:
        ledger = store.load()
    except NikkeiError as exc:
        return [from_error("ledger", exc)]
    exists = store.path.exists()
    detail = (
        f"{store.path}: {len(ledger.data)} data versions, {len(ledger.jobs)} jobs, "
        f"{len(ledger.live_resources())} live resources"
        if exists
        else f"{store.path}: not written yet (nothing created so far)"
    )
    checks = [ok("ledger", detail)]
    holder = store.lock_holder()
    if holder is None:
        checks.append(ok("ledger-lock", "free"))
    else:
        checks.append(
            problem(
                "ledger-lock",
                f"{store.lock_path}: {holder}",
                fix="wait for that command to finish (or pass --wait-lock SECONDS to the next one); a lock "
                "left by a dead process is taken over automatically",
                exit_code=ExitCode.LOCKED,
                code="locked",
            )
        )
    return checks


# -- local backend --------------------------------------------------------------------------------------
def _local_extra() -> Check:
    from nikkei_deepar.backends.local_jobs import load_engine

    try:
        load_engine()  # find_spec only: gluonts/torch are not imported here
    except NikkeiError as exc:
        return from_error("local-extra", exc)
    return ok("local-extra", "gluonts, torch and lightning are installed (not imported)")


def _local_store(ctx: Context) -> Check:
    from nikkei_deepar.backends.local import LocalBackend

    backend = ctx.backend
    store = backend.store if isinstance(backend, LocalBackend) else ctx.home / "local"
    existing = store
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if store.exists() and not store.is_dir():
        return problem(
            "local-store",
            f"{store} exists but is not a folder",
            fix="move it away; the local backend keeps its models there",
            exit_code=ExitCode.USAGE,
            code="local-store-not-a-folder",
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        return problem(
            "local-store",
            f"{store}: cannot write to {existing}",
            fix="set NIKKEI_DEEPAR_HOME to a folder you can write to",
            exit_code=ExitCode.USAGE,
            code="local-store",
        )
    state = "exists" if store.is_dir() else f"not created yet; {existing} is writable"
    return ok("local-store", f"{store}: {state}")


# -- SageMaker backend ----------------------------------------------------------------------------------
def _aws_checks(ctx: Context) -> list[Check]:
    checks = [_region(ctx)]
    if checks[-1].status != "ok":
        return [*checks, *_skipped("credentials", "bucket", "role", "pass-role", why="no usable region")]
    identity = _credentials(ctx)
    checks.append(identity[0])
    if identity[1] is None:
        return [*checks, *_skipped("bucket", "role", "pass-role", why="no working credentials")]
    caller, account = identity[1]
    checks.append(_bucket(ctx))
    role_checks, role_arn = _role(ctx, account)
    checks += role_checks
    checks.append(_pass_role(ctx, caller, role_arn))
    from nikkei_deepar.steps.doctor_scheduler import scheduler_checks

    checks += scheduler_checks(ctx, caller=caller, account=account)
    return checks


def _skipped(*names: str, why: str) -> list[Check]:
    return [Check(name, "skipped", f"not checked: {why}") for name in names]


def _region(ctx: Context) -> Check:
    from nikkei_deepar.images import deepar_image_uri

    try:
        region = ctx.aws.region_name
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


def _credentials(ctx: Context) -> tuple[Check, tuple[str, str] | None]:
    sts = ctx.gateway("sts")
    try:
        identity = sts.identity
    except AwsError as exc:
        return from_error("credentials", exc), None
    caller, account = str(identity["Arn"]), str(identity["Account"])
    return ok("credentials", f"account {account} as {caller}"), (caller, account)


def _bucket(ctx: Context) -> Check:
    bucket = ctx.settings.aws.bucket
    if not bucket:
        return problem(
            "bucket",
            "aws.bucket: not set (the SageMaker backend keeps data and models in S3)",
            fix="set [aws] bucket in the config, then run `nikkei-deepar provision`",
            exit_code=ExitCode.USAGE,
            code="config",
        )
    region = ctx.aws.region_name
    try:
        where = ctx.gateway("s3").bucket_region(bucket)
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


def _role(ctx: Context, account: str) -> tuple[list[Check], str | None]:
    from nikkei_deepar.policy import trusts_sagemaker

    name = ctx.settings.aws.role_name
    iam = ctx.gateway("iam")
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
    ours = is_ours(role.tags, ctx.settings.aws.tags) or _recorded(ctx, "role", name)
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
    checks.append(_permissions(ctx, role.name, account, ours=ours, restore=restore))
    return checks, role.arn


def _permissions(ctx: Context, role: str, account: str, *, ours: bool, restore: str | None) -> Check:
    from nikkei_deepar.policy import INLINE_POLICY_NAME, execution_policy, same_policy

    iam = ctx.gateway("iam")
    aws = ctx.settings.aws
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
        region=ctx.aws.region_name,
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


def _recorded(ctx: Context, kind: str, name: str) -> bool:
    try:
        found = ctx.store.load().resource(kind, name)
    except NikkeiError:
        return False
    return found is not None and found.live and found.extra.get("created") is True


def _pass_role(ctx: Context, caller: str, role_arn: str | None) -> Check:
    if role_arn is None:
        return _skipped("pass-role", why="no role to pass")[0]
    principal = _principal_arn(caller, lookup=ctx.gateway("iam").role_arn)
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
        decision = _simulate_pass_role(ctx, principal, role_arn)
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


def _simulate_pass_role(ctx: Context, principal: str, role_arn: str) -> str:
    """SimulatePrincipalPolicy for iam:PassRole to SageMaker: "allowed", "implicitDeny" or "explicitDeny"."""
    return str(ctx.gateway("iam").can_pass_role(principal, role_arn, service=PASSED_TO))
