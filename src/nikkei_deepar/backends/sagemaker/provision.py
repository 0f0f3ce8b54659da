"""`provision` for the SageMaker backend: the S3 bucket and the execution role, item by item.

Handed to the `provision` step by `SageMakerBackend.provisioner()`; the step owns the plan/apply/report
machinery, `backends/plan.py` the vocabulary and `ownership.py` the ledger helpers; this module only
plans. `plan()` makes read-only calls only (STS, Head/Get/List); every mutating call sits in a
`PlanItem.apply`, which the engine runs after the plan (never on --dry-run).

Ownership is what AWS's tags prove, read now, never what the state assumes. A bucket or role is this
workspace's when it carries managed-by=nikkei-deepar and this config's project and stage tags; one missing
from the state is adopted (an interrupted run of this stage: recorded, not duplicated), and drift on it is
reported and fixed. Anything else is never re-tagged, rewritten or deleted: a bucket named in the config
is used as it is (said once); a role named explicitly (`[aws] role_name`) is used as it is, and one of
another workspace only while its policy already grants what this workspace needs (else exit 2 naming
what is missing); a role that merely has this workspace's default name is refused (exit 2). When the
state lists a bucket or role as this workspace's and AWS's tags disagree, nothing changes (exit 2).

Before anything: every request the config makes the tool send is checked against botocore's service
model (`backends/sagemaker/requests.py`); a value AWS would refuse is a plan problem, so nothing is
created (no bucket without its role because a tag value is too long for IAM).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nikkei_deepar.backends.env import BackendEnv
from nikkei_deepar.backends.plan import DONE, Action, Applied, PlanItem
from nikkei_deepar.errors import AccessDeniedError, AwsError, BucketForbiddenError, ConfigError, ExitCode
from nikkei_deepar.ledger import Ledger, Resource
from nikkei_deepar.ownership import (
    adoption_note,
    is_ours,
    managed_by_tool,
    mismatch,
    mismatch_hint,
    owner_words,
    whose,
)

if TYPE_CHECKING:
    from nikkei_deepar.aws.iam import IamGateway, Role
    from nikkei_deepar.aws.s3 import S3Gateway


def require_bucket(env: BackendEnv) -> str:
    bucket = env.settings.aws.bucket
    if not bucket:
        raise ConfigError(
            "aws.bucket: required to provision",
            hint="set [aws] bucket in the config: a new name (provision creates it) or a bucket you own",
        )
    return bucket


@dataclass(frozen=True)
class _Setting:
    """One bucket setting: how to read it, whether it is as wanted, how to describe it, how to set it."""

    key: str
    want: str
    read: Callable[[], Any]
    good: Callable[[Any], bool]
    show: Callable[[Any], str]
    fix: Callable[[], None]


_FOREIGN = "not created by nikkei-deepar: used as it is, never modified"
_TRUST = "trusted by sagemaker.amazonaws.com of this account and region only"


class AwsProvisioner:
    def __init__(self, env: BackendEnv) -> None:
        aws = env.settings.aws
        self.env = env
        self.bucket = require_bucket(env)
        self.prefix, self.kms_key = aws.prefix, aws.kms_key_id
        self.key_root = env.settings.key_root
        self.role_name = env.settings.execution_role_name()
        self.explicit_role = aws.role_name is not None
        self.tags = env.settings.resource_tags()
        self.workspace_tags = aws.tags
        self.region = env.aws.region_name
        self.s3: S3Gateway = env.aws.s3
        self.iam: IamGateway = env.aws.iam
        self.account: str | None = None
        self.role_arn: str | None = None

    def target(self) -> dict[str, Any]:
        return {
            "backend": "sagemaker",
            "region": self.region,
            "account": self.account,
            "bucket": self.bucket,
            "prefix": self.prefix,
            "role": self.role_name,
            "role_arn": self.role_arn,
            "scheduler_role": self.env.settings.scheduler_role_name()
            if self.env.settings.endpoint.expiry() is not None
            else None,
        }

    def plan(self, ledger: Ledger) -> list[PlanItem]:
        from nikkei_deepar.backends.sagemaker.scheduler_role import SchedulerRolePlan

        self.account = self.env.aws.sts.account_id()
        scheduler = SchedulerRolePlan(
            self.env.settings,
            iam=self.iam,
            account=self.account,
            region=self.region,
        )
        return [
            *self._request_plan(),
            *self._bucket_plan(ledger),
            *self._role_plan(ledger),
            *scheduler.plan(ledger),
        ]

    def _request_plan(self) -> list[PlanItem]:
        """Every request the config makes the tool send (provision's own, and train's, deploy's,
        predict's later), checked against botocore's service model before the first mutating call: a
        value AWS would refuse is a problem now, so nothing is created that a later step must leave
        half-done."""
        from nikkei_deepar.backends.sagemaker.requests import check_settings

        assert self.account is not None
        errors, warnings = check_settings(self.env.settings, region=self.region, account=self.account)
        for line in warnings:
            self.env.reporter.warn(line)
        return [
            PlanItem(
                "config",
                line.split(":", 1)[0],
                "problem",
                line,
                owned=False,
                exit_code=ExitCode.USAGE,
                code="request-shape",
            )
            for line in errors
        ]

    def _b(self, key: str, action: Action, detail: str, *, owned: bool, **kw: Any) -> PlanItem:
        return PlanItem(f"bucket.{key}" if key else "bucket", self.bucket, action, detail, owned=owned, **kw)

    def _r(self, key: str, action: Action, detail: str, *, owned: bool, **kw: Any) -> PlanItem:
        return PlanItem(f"role.{key}" if key else "role", self.role_name, action, detail, owned=owned, **kw)

    # -- bucket ------------------------------------------------------------------------------------
    def _bucket_plan(self, ledger: Ledger) -> list[PlanItem]:
        b = self.bucket
        recorded = ledger.created("bucket", b)
        try:
            where = self.s3.bucket_region(b)
        except BucketForbiddenError as exc:
            return [self._b("", "problem", exc.message, owned=False, exit_code=exc.exit_code, code=exc.code)]
        if where is None:
            gone = " (the state recorded it, but it is gone: creating it again)" if recorded else ""
            create = self._b("", "create", f"in {self.region}{gone}", owned=True, apply=self._create_bucket)
            # Tags come first among the settings: they mark the bucket as this workspace's from then on.
            return [
                create,
                *(
                    self._b(s.key, "create", s.want, owned=True, apply=_then(s.fix))
                    for s in self._settings({})
                ),
            ]

        tags = _readable(lambda: self.s3.bucket_tags(b))
        owned = is_ours(tags, self.tags) or (recorded and tags == {} and self._untagged_but_ours(ledger))
        if owned and recorded:
            items = [self._b("", "ok", f"in {where}, this workspace's ({whose(tags or {})})", owned=True)]
        elif owned:
            items = [
                self._b(
                    "",
                    "adopt",
                    adoption_note(self.workspace_tags),
                    owned=True,
                    apply=lambda: self._record_bucket(adopted=True),
                )
            ]
        elif recorded:
            return [self._mismatch("bucket", b, tags)]
        else:
            items = [self._b("", "use", f"in {where}, {owner_words(tags)}: {_FOREIGN}", owned=False)]
        if where != self.region:
            detail = (
                f"bucket {b} is in {where} but [aws] region is {self.region}: SageMaker jobs read "
                "their data from a bucket in their own region"
            )
            items.append(
                self._b(
                    "region", "problem", detail, owned=owned, exit_code=ExitCode.USAGE, code="bucket-region"
                )
            )
        # A bucket that is not this workspace's is not told to carry its tags, nor changed in any way.
        settings = [s for s in self._settings(tags or {}) if owned or s.key != "tags"]
        items.extend(self._setting_item(s, owned=owned) for s in settings)
        if not owned:
            where_to = f"s3://{b}/{self.key_root}/"
            items.append(
                self._b(
                    "write-access",
                    "check",
                    f"write and delete a probe object under {where_to}",
                    owned=False,
                    apply=_then(lambda: self.s3.probe_write(b, self.key_root), f"can write to {where_to}"),
                )
            )
        return items

    def _untagged_but_ours(self, ledger: Ledger) -> bool:
        """A bucket the state says this workspace created, with no tags at all: ours if AWS says it was
        created when the state recorded creating it (a run stopped between CreateBucket and tagging it,
        where CreateBucket could not tag: no s3:TagResource). Bucket names are global: a bucket of this
        name created at that minute is the one this workspace created."""
        record = ledger.live("bucket", self.bucket)
        created = self.s3.bucket_created(self.bucket)
        if record is None or created is None:
            return False
        recorded_at = dt.datetime.fromisoformat(record.created_at.replace("Z", "+00:00"))
        return abs((created - recorded_at).total_seconds()) <= 600

    def _mismatch(self, kind: str, name: str, tags: dict[str, str] | None) -> PlanItem:
        """The state says this workspace made it; AWS's tags say otherwise: change nothing (exit 2)."""
        return PlanItem(
            kind,
            name,
            "problem",
            f"{mismatch(kind, name, tags)}; {mismatch_hint(kind, name)}",
            owned=False,
            exit_code=ExitCode.USAGE,
            code="not-ours",
        )

    def _settings(self, current_tags: dict[str, str]) -> list[_Setting]:
        from nikkei_deepar.backends.sagemaker.policy import has_tls_only, with_tls_only

        s3, b, region = self.s3, self.bucket, self.region
        sse = f"SSE-KMS with key {self.kms_key}" if self.kms_key else "SSE-S3 (AES256)"
        return [
            _Setting(
                "tags",
                _tag_text(self.tags),
                lambda: s3.bucket_tags(b),
                lambda t: all(t.get(k) == v for k, v in self.tags.items()),
                lambda t: "tags " + (_tag_text(t) or "none"),
                lambda: s3.put_bucket_tags(b, {**current_tags, **self.tags}),
            ),
            _Setting(
                "public-access-block",
                "all public access blocked",
                lambda: s3.public_access_block(b),
                s3.public_access_blocked,
                lambda c: "public access not fully blocked" if c else "no public access block",
                lambda: s3.block_public_access(b),
            ),
            _Setting(
                "encryption",
                f"default encryption {sse}",
                lambda: s3.default_encryption(b),
                self._encryption_ok,
                _show_encryption,
                lambda: s3.set_default_encryption(b, kms_key=self.kms_key),
            ),
            _Setting(
                "versioning",
                "versioning enabled",
                lambda: s3.versioning(b),
                lambda v: v == "Enabled",
                lambda v: f"versioning {v or 'never enabled'}",
                lambda: s3.enable_versioning(b),
            ),
            _Setting(
                "tls-only-policy",
                "bucket policy denies requests without TLS",
                lambda: s3.bucket_policy(b),
                lambda p: has_tls_only(p, b, region=region),
                lambda p: "no bucket policy" if p is None else "bucket policy does not deny non-TLS access",
                # re-read when fixing: other statements in the policy are kept as they are then
                lambda: s3.put_bucket_policy(b, with_tls_only(s3.bucket_policy(b), b, region=region)),
            ),
        ]

    def _setting_item(self, s: _Setting, *, owned: bool) -> PlanItem:
        try:
            current = s.read()
        except AwsError as exc:
            if owned:
                raise
            return self._b(s.key, "report", f"could not read it ({exc.code}): not checked", owned=False)
        if s.good(current):
            return self._b(s.key, "ok", s.want, owned=owned)
        if owned:
            return self._b(
                s.key, "fix", f"{s.show(current)}: will set {s.want}", owned=True, apply=_then(s.fix)
            )
        return self._b(
            s.key,
            "report",
            f"{s.show(current)} (recommended: {s.want}; not changed, the bucket is not the tool's)",
            owned=False,
        )

    def _encryption_ok(self, found: dict[str, Any] | None) -> bool:
        if not found:
            return False
        if self.kms_key:
            return found.get("SSEAlgorithm") == "aws:kms" and _same_key(
                found.get("KMSMasterKeyID"), self.kms_key
            )
        return found.get("SSEAlgorithm") == "AES256"

    def _create_bucket(self) -> Applied:
        if not self.s3.create_bucket(self.bucket, region=self.region, tags=self.tags):
            raise AwsError(
                f"S3 bucket {self.bucket} appeared while provision was running",
                hint="run `nikkei-deepar provision` again: it will check the existing bucket",
                code="aws-conflict",
            )
        return self._record_bucket(adopted=False)  # recorded before any setting: a crash now leaves it known

    def _record_bucket(self, *, adopted: bool) -> Applied:
        from nikkei_deepar.images import partition

        arn = f"arn:{partition(self.region)}:s3:::{self.bucket}"
        bucket = Resource(
            kind="bucket", name=self.bucket, region=self.region, arn=arn, created=True, adopted=adopted
        )
        return Applied(recorded=(bucket,))

    # -- role --------------------------------------------------------------------------------------
    def _policy(self) -> dict[str, Any]:
        from nikkei_deepar.backends.sagemaker.policy import execution_policy

        assert self.account is not None  # set by plan()
        return execution_policy(
            bucket=self.bucket,
            prefix=self.prefix,
            key_root=self.key_root,
            region=self.region,
            account=self.account,
            kms_key=self.kms_key,
        )

    def _trust(self) -> dict[str, Any]:
        from nikkei_deepar.backends.sagemaker.policy import trust_policy

        assert self.account is not None  # set by plan()
        return trust_policy(account=self.account, region=self.region)

    def _role_plan(self, ledger: Ledger) -> list[PlanItem]:
        from nikkei_deepar.backends.sagemaker.policy import INLINE_POLICY_NAME, same_policy

        name, iam = self.role_name, self.iam
        put_policy = _then(lambda: iam.put_inline_policy(name, INLINE_POLICY_NAME, self._policy()))
        policy_text = (
            f"{INLINE_POLICY_NAME}: S3 only under s3://{self.bucket}/{self.key_root}/ (read inputs, write "
            "outputs), pull the DeepAR image, SageMaker logs and metrics"
            + (", the KMS key" if self.kms_key else "")
        )
        role = iam.get_role(name)
        if role is None:
            return [
                self._r("", "create", _TRUST, owned=True, apply=self._create_role),
                self._r("inline-policy", "create", policy_text, owned=True, apply=put_policy),
            ]
        self.role_arn = role.arn
        recorded = ledger.created("role", name)
        if is_ours(role.tags, self.tags):
            if recorded:
                items = [self._r("", "ok", f"this workspace's ({whose(role.tags)})", owned=True)]
            else:
                note = adoption_note(self.workspace_tags)
                adopt = lambda: self._record_role(role.arn, adopted=True)  # noqa: E731
                items = [self._r("", "adopt", note, owned=True, apply=adopt)]
        elif recorded:
            return [self._mismatch("role", name, role.tags)]
        elif not self.explicit_role:
            return [
                self._r(
                    "",
                    "problem",
                    f"IAM role {name} (this workspace's default name) exists but is "
                    f"{owner_words(role.tags)}: nothing changed",
                    owned=False,
                    exit_code=ExitCode.USAGE,
                    code="role-name-taken",
                )
            ]
        else:
            return self._foreign_role(role)
        if same_policy(role.trust_policy, self._trust()):
            items.append(self._r("trust-policy", "ok", _TRUST, owned=True))
        else:
            items.append(
                self._r(
                    "trust-policy",
                    "fix",
                    f"trust policy was edited (or predates the account condition): will restore {_TRUST}",
                    owned=True,
                    apply=_then(lambda: iam.update_trust_policy(name, self._trust())),
                )
            )
        current = iam.inline_policy(name, INLINE_POLICY_NAME)
        if same_policy(current, self._policy()):
            items.append(self._r("inline-policy", "ok", policy_text, owned=True))
        else:
            why = (
                "missing" if current is None else "edited (or the bucket, prefix, region or KMS key changed)"
            )
            items.append(
                self._r(
                    "inline-policy",
                    "fix",
                    f"{INLINE_POLICY_NAME} {why}: will restore it",
                    owned=True,
                    apply=put_policy,
                )
            )
        wrong = {k: v for k, v in self.tags.items() if role.tags.get(k) != v}
        if wrong:
            items.append(
                self._r(
                    "tags",
                    "fix",
                    f"tags missing or changed: will set {_tag_text(wrong)}",
                    owned=True,
                    apply=_then(lambda: iam.tag_role(name, self.tags)),
                )
            )
        else:
            items.append(self._r("tags", "ok", _tag_text(self.tags), owned=True))
        others = [p for p in iam.inline_policy_names(name) if p != INLINE_POLICY_NAME]
        others += iam.attached_policy_arns(name)
        if others:
            items.append(
                self._r(
                    "other-policies",
                    "report",
                    f"also has {', '.join(others)} (added outside the tool; left as they are)",
                    owned=True,
                )
            )
        return items

    def _foreign_role(self, role: Role) -> list[PlanItem]:
        """A role named in the config that is not this workspace's: used as it is, never modified. One of
        another workspace must already grant what this one needs (its own provision may rewrite it)."""
        from nikkei_deepar.backends.sagemaker.policy import execution_grants, trusts_sagemaker, uncovered

        others = managed_by_tool(role.tags)
        items = [self._r("", "use", f"{owner_words(role.tags)}: {_FOREIGN}", owned=False)]
        if trusts_sagemaker(role.trust_policy):
            items.append(self._r("trust-policy", "ok", "trusts sagemaker.amazonaws.com", owned=False))
        else:
            items.append(
                self._r(
                    "trust-policy",
                    "problem",
                    f"IAM role {role.name} does not trust sagemaker.amazonaws.com: SageMaker cannot use it",
                    owned=False,
                    exit_code=ExitCode.USAGE,
                    code="role-trust",
                )
            )
        needed = execution_grants(bucket=self.bucket, key_root=self.key_root, region=self.region)
        why = uncovered(lambda: self.iam.policy_documents(role.name), needed)
        where = f"s3://{self.bucket}/{self.key_root}/"
        if why is None:
            items.append(
                self._r("permissions", "ok", f"its policies grant what jobs need under {where}", owned=False)
            )
            return items
        own = self.env.settings.workspace.role_name("sagemaker")
        if others:  # another workspace's: used only while it already covers this one
            items.append(
                self._r(
                    "permissions",
                    "problem",
                    f"IAM role {role.name} is {owner_words(role.tags)} and {why}: this workspace cannot "
                    f"use it; remove [aws] role_name (the default, {own}, is this stage's own) or name a "
                    "role that grants it",
                    owned=False,
                    exit_code=ExitCode.USAGE,
                    code="role-not-covering",
                )
            )
        else:
            items.append(
                self._r("permissions", "report", f"{why} (needed under {where}); not changed", owned=False)
            )
        return items

    def _create_role(self) -> Applied:
        from nikkei_deepar.backends.sagemaker.policy import role_description

        description = role_description(self.env.settings.aws.tags)
        # tagged in the same call: recognisable as the tool's from its first instant
        self.role_arn = self.iam.create_role(
            self.role_name, trust_policy=self._trust(), tags=self.tags, description=description
        )
        return self._record_role(self.role_arn, adopted=False)

    def _record_role(self, arn: str, *, adopted: bool) -> Applied:
        role = Resource(kind="role", name=self.role_name, arn=arn, created=True, adopted=adopted)
        return Applied(recorded=(role,))


def _then(action: Callable[[], Any], note: str | None = None) -> Callable[[], Applied]:
    def run_it() -> Applied:
        action()
        return Applied(note=note) if note else DONE

    return run_it


def _readable(read: Callable[[], dict[str, str]]) -> dict[str, str] | None:
    """A read that may be denied on a bucket the tool does not own: None then."""
    try:
        return read()
    except AccessDeniedError:
        return None


def _tag_text(tags: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in tags.items())


def _same_key(found: Any, wanted: str) -> bool:
    """A key id, an ARN ending in that id, or the same alias."""
    if not isinstance(found, str):
        return False
    return found == wanted or found.endswith("/" + wanted) or wanted.endswith("/" + found)


def _show_encryption(found: dict[str, Any] | None) -> str:
    if not found:
        return "no default encryption"
    key = found.get("KMSMasterKeyID")
    return f"default encryption {found.get('SSEAlgorithm')}" + (f" with key {key}" if key else "")
