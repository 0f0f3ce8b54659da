"""`doctor`'s checks of endpoint expiry on AWS: the scheduler role and the right to hand it to the scheduler.

Only when endpoints expire (`[endpoint] expires_after` not "off"). Checked, read-only and free: the
role `[aws] scheduler_role_name` exists, trusts scheduler.amazonaws.com, and (when it is the tool's)
carries exactly the policy that deletes the configured endpoint; and the caller may iam:PassRole it to
scheduler.amazonaws.com (IAM's policy simulator; "could not check" is a warning, as for the execution
role). Without these, `deploy` stops before creating anything: better to hear it here.
"""

from __future__ import annotations

from nikkei_deepar.backends.checks import Check, from_error, ok, problem
from nikkei_deepar.backends.env import BackendEnv
from nikkei_deepar.errors import AwsError, ExitCode
from nikkei_deepar.ownership import is_ours

SCHEDULER = "scheduler.amazonaws.com"
_PROVISION = "run `nikkei-deepar provision`: it creates (or restores) it"


def scheduler_checks(env: BackendEnv, *, caller: str, principal: str | None, account: str) -> list[Check]:
    """`principal`: the IAM principal to simulate for `caller` ("root", or None when it cannot be)."""
    from nikkei_deepar.backends.sagemaker.policy import (
        SCHEDULER_POLICY_NAME,
        same_policy,
        scheduler_policy,
        trusts_service,
    )

    settings = env.settings
    if settings.endpoint.expiry() is None:
        return [
            Check("scheduler-role", "skipped", 'not needed: endpoints do not expire (expires_after = "off")')
        ]
    name = settings.scheduler_role_name()
    iam = env.aws.iam
    try:
        role = iam.get_role(name)
    except AwsError as exc:
        return [from_error("scheduler-role", exc)]
    if role is None:
        return [
            problem(
                "scheduler-role",
                f"IAM role {name} (EventBridge Scheduler deletes expired endpoints as it) does not exist: "
                "deploy would stop",
                fix=_PROVISION + ', or set [endpoint] expires_after = "off"',
                exit_code=ExitCode.NOT_FOUND,
                code="scheduler-role-missing",
            )
        ]
    ours = is_ours(role.tags, settings.aws.tags)  # its tags say so, not the ledger
    checks = [
        ok("scheduler-role", role.arn + (" (created by nikkei-deepar)" if ours else " (your own role)"))
    ]
    if trusts_service(role.trust_policy, SCHEDULER):
        checks.append(ok("scheduler-trust", f"trusted by {SCHEDULER}"))
    else:
        checks.append(
            problem(
                "scheduler-trust",
                f"IAM role {name} does not trust {SCHEDULER}: no schedule can use it",
                fix=_PROVISION if ours else f"add {SCHEDULER} (sts:AssumeRole) to its trust policy",
                exit_code=ExitCode.USAGE,
                code="scheduler-role-trust",
            )
        )
    region = env.aws.region_name
    wanted = scheduler_policy(endpoint=settings.endpoint.name, region=region, account=account)
    try:
        current = iam.inline_policy(name, SCHEDULER_POLICY_NAME)
    except AwsError as exc:
        checks.append(
            Check("scheduler-policy", "warning", f"could not read its policy ({exc.code})", fix=exc.hint)
        )
        return [*checks, _pass_role(env, caller, principal, role.arn)]
    if same_policy(current, wanted):
        checks.append(ok("scheduler-policy", f"may delete endpoint {settings.endpoint.name}, nothing else"))
    elif not ours:
        checks.append(
            Check(
                "scheduler-policy",
                "warning",
                "not the tool's role: permissions not checked",
                fix=f"it needs sagemaker:DeleteEndpoint on {wanted['Statement'][0]['Resource']}",
            )
        )
    else:
        why = (
            "missing"
            if current is None
            else "not the one for this endpoint (edited, or [endpoint] name changed)"
        )
        checks.append(
            problem(
                "scheduler-policy",
                f"{SCHEDULER_POLICY_NAME} is {why}: the expiry could not delete endpoint "
                f"{settings.endpoint.name}",
                fix=_PROVISION,
                exit_code=ExitCode.USAGE,
                code="scheduler-policy",
            )
        )
    checks.append(_pass_role(env, caller, principal, role.arn))
    return checks


def _pass_role(env: BackendEnv, caller: str, principal: str | None, role_arn: str) -> Check:
    iam = env.aws.iam
    if principal == "root":
        return ok("scheduler-pass-role", "the account's root user may pass any role")
    if principal is None:
        return Check(
            "scheduler-pass-role",
            "warning",
            f"could not check: {caller} is not an IAM user or role that can be simulated",
            fix=f"make sure the caller may iam:PassRole {role_arn} to {SCHEDULER}",
        )
    try:
        decision = str(iam.can_pass_role(principal, role_arn, service=SCHEDULER))
    except Exception as exc:  # optional, as the execution role's check: "could not check", not a failure
        reason = exc.code if isinstance(exc, AwsError) else f"not supported here: {type(exc).__name__}"
        return Check(
            "scheduler-pass-role",
            "warning",
            f"could not check whether {principal} may pass the scheduler role ({reason})",
            fix=f"the caller needs iam:PassRole on {role_arn} with iam:PassedToService = {SCHEDULER}",
        )
    if decision == "allowed":
        return ok("scheduler-pass-role", f"{principal} may pass {role_arn} to EventBridge Scheduler")
    return problem(
        "scheduler-pass-role",
        f"{principal} may not pass {role_arn} to EventBridge Scheduler ({decision}): deploy would be refused",
        fix=f"allow iam:PassRole on {role_arn} with StringEquals iam:PassedToService = {SCHEDULER}",
        exit_code=ExitCode.AWS,
        code="scheduler-pass-role-denied",
    )
