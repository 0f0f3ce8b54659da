"""`doctor`: a preflight that spends nothing and changes nothing.

Every check is a read (STS GetCallerIdentity, S3 HeadBucket, IAM Get*/List*/SimulatePrincipalPolicy,
the ledger file and its lock) and reports ok / problem / warning, with how to fix a problem. The exit
code is the first problem's kind: 2 config (also a config file that does not load: that is reported
before doctor runs), 3 an unreadable ledger, 4 AWS/auth, 5 something that does not exist yet
(`provision` creates it), 9 the ledger is locked. Warnings ("could not check") never fail.

The backend's own checks are its package's (`Backend.checks()`: backends/sagemaker/checks.py,
backends/local/checks.py); this step adds the config and the ledger, which every backend shares.
SageMaker backend: config, region (set, and DeepAR is published there), credentials, bucket (exists,
reachable, in the jobs' region), role (exists, trusts sagemaker.amazonaws.com, carries the inline
policy `provision` writes), the caller may pass the role to SageMaker (iam:PassRole with
iam:PassedToService = sagemaker.amazonaws.com, simulated), ledger (readable, not locked).
Local backend: config, the [local] extra (found without importing it), the store folder writable,
ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nikkei_deepar.backends.checks import Check, from_error, ok, problem
from nikkei_deepar.context import Context
from nikkei_deepar.errors import ExitCode, NikkeiError
from nikkei_deepar.output import aligned


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
    backend = ctx.backend
    checks = [_config(ctx), *backend.checks(), *_remote_state(ctx), *_ledger(ctx)]
    return DoctorResult(backend=backend.name, checks=tuple(checks))


# -- config and ledger (both backends) ------------------------------------------------------------------
def _config(ctx: Context) -> Check:
    loaded = ctx.loaded
    where = f"{loaded.path} (from {loaded.origin})" if loaded.path else "no config file: built-in defaults"
    return ok("config", f"valid: {where}")


_STATE_BUCKET_HOWTO = (
    "create it once, with versioning on: aws s3api create-bucket --bucket {bucket} "
    "--create-bucket-configuration LocationConstraint=REGION && aws s3api put-bucket-versioning "
    "--bucket {bucket} --versioning-configuration Status=Enabled (docs/guide.md, Remote state, lists "
    "the permissions each host needs)"
)


def _remote_state(ctx: Context) -> list[Check]:
    """`[state] url`: the bucket exists, keeps versions (a bad write can be undone), and honours S3's
    conditional writes (without them two hosts could both think they hold the lease)."""
    from nikkei_deepar.state.remote import S3StateStore

    state = ctx.state
    if not isinstance(state, S3StateStore):
        return []
    howto = _STATE_BUCKET_HOWTO.format(bucket=state.bucket)
    try:
        versioning = state.versioning()
    except NikkeiError as exc:
        if exc.exit_code == ExitCode.NOT_FOUND:
            return [
                problem(
                    "state-bucket",
                    f"[state] url: S3 bucket {state.bucket} does not exist",
                    fix=howto,
                    exit_code=ExitCode.NOT_FOUND,
                    code="state-bucket-missing",
                )
            ]
        return [from_error("state-bucket", exc)]
    if versioning != "Enabled":
        return [
            problem(
                "state-bucket",
                f"[state] url: S3 bucket {state.bucket} does not keep versions "
                f"({versioning or 'never enabled'}): a state overwritten by mistake could not be restored",
                fix=f"aws s3api put-bucket-versioning --bucket {state.bucket} "
                "--versioning-configuration Status=Enabled",
                exit_code=ExitCode.USAGE,
                code="state-bucket-versioning",
            )
        ]
    checks = [ok("state-bucket", f"{state.bucket}: reachable, versioning on")]
    try:
        honoured = state.honours_conditional_writes()
    except NikkeiError as exc:
        return [*checks, from_error("state-conditional-writes", exc)]
    if not honoured:
        checks.append(
            problem(
                "state-conditional-writes",
                f"[state] url: s3://{state.bucket} accepted a second If-None-Match write of the same object: "
                "this store ignores conditional writes, so two hosts could overwrite each other's state",
                fix="use Amazon S3 itself (or a store that honours If-Match / If-None-Match)",
                exit_code=ExitCode.USAGE,
                code="state-conditional-writes",
            )
        )
    else:
        checks.append(
            ok("state-conditional-writes", "If-None-Match refused a second write (412), as it must")
        )
    return checks


def _ledger(ctx: Context) -> list[Check]:
    state = ctx.state
    try:
        ledger = state.load()
    except NikkeiError as exc:
        return [from_error("ledger", exc)]
    detail = (
        f"{state.where}: {len(ledger.data)} data versions, {len(ledger.jobs)} jobs, "
        f"{len(ledger.live_resources())} live resources"
        if state.exists()
        else f"{state.where}: not written yet (nothing created so far)"
    )
    checks = [ok("ledger", detail)]
    holder = state.lock_holder()
    if holder is None:
        checks.append(ok("ledger-lock", "free"))
    else:
        checks.append(
            problem(
                "ledger-lock",
                f"{state.where}: {holder}",
                fix="wait for that command to finish (or pass --wait-lock SECONDS to the next one); a lock "
                "left by a dead process is taken over automatically",
                exit_code=ExitCode.LOCKED,
                code="locked",
            )
        )
    return checks
