"""`provision`: the backend-neutral plan/apply/report engine, and the registry of provisioners.

Two phases. A backend's provisioner `plan()`s with read-only calls only and returns `PlanItem`s, one per
resource or setting: what is there, and what would happen to it. `run` then applies the items in order;
an item that creates something writes it to the ledger the moment it exists, before its details are
configured, so a crash leaves nothing unknown. `--dry-run` stops after the plan, and so does a plan that
shows a problem (fix it first, then converge in one go).

Backends: `PROVISIONERS` maps `settings.backend` to a factory for the object that makes the plan:
`steps/provision_aws.py` (the S3 bucket and the SageMaker execution role) and
`steps/provision_local.py` (the local store folder). Both import this module, so the factories import
them on demand: no cycle, and a SageMaker command never loads the local one (nor the reverse).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from nikkei_deepar.config import ENDPOINT_TAG_KEY, MANAGED_BY_KEY, MANAGED_BY_VALUE, OWNER_KEYS
from nikkei_deepar.context import Context
from nikkei_deepar.errors import ExitCode, NikkeiError, UsageError
from nikkei_deepar.state import Ledger, Resource

Action = Literal["create", "adopt", "fix", "ok", "use", "report", "check", "problem"]
CHANGES = frozenset({"create", "adopt", "fix"})
_DONE = {"create": "created", "adopt": "adopted", "fix": "fixed", "check": "checked"}


@dataclass(frozen=True)
class PlanItem:
    """One resource or setting: `action` says what provision does with it, `detail` why."""

    resource: str  # "bucket", "bucket.encryption", "role", "role.inline-policy", ...
    name: str
    action: Action
    detail: str
    owned: bool
    apply: Callable[[], str | None] | None = field(default=None, compare=False, repr=False)
    exit_code: ExitCode | None = None  # problems only
    code: str | None = None  # problems only: a stable slug for --json


@dataclass(frozen=True)
class ItemReport:
    resource: str
    name: str
    action: str
    detail: str
    owned: bool
    status: str  # planned | done | unchanged | skipped | failed

    def to_data(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "name": self.name,
            "action": self.action,
            "detail": self.detail,
            "owned": self.owned,
            "status": self.status,
        }

    @property
    def shown_action(self) -> str:
        if self.status == "done":
            return _DONE.get(self.action, self.action)
        if self.status == "planned" and self.action in CHANGES:
            return f"would {self.action}"
        if self.status == "skipped":
            return f"{self.action} (skipped)"
        return self.action


@dataclass(frozen=True)
class ProvisionResult:
    items: tuple[ItemReport, ...]
    dry_run: bool
    target: dict[str, Any]  # backend, region, account, bucket, role, role_arn, ...
    exit_code: int = int(ExitCode.OK)
    errors: tuple[dict[str, Any], ...] = ()

    @property
    def changes(self) -> list[ItemReport]:
        return [i for i in self.items if i.action in CHANGES and i.status in {"planned", "done"}]

    def to_data(self) -> dict[str, Any]:
        return {
            **self.target,
            "dry_run": self.dry_run,
            "changed": not self.dry_run and bool(self.changes),
            "items": [i.to_data() for i in self.items],
        }

    def to_lines(self) -> list[str]:
        """The items as aligned columns (text, so left-aligned), then the summary as the last lines."""
        t = self.target
        lines = [
            f"provision ({t.get('backend')}): " + ", ".join(f"{k} {t[k]}" for k in _HEADLINE if t.get(k))
        ]
        lines += aligned([(i.shown_action, i.resource, i.name, i.detail) for i in self.items])
        n = len(self.changes)
        lines.extend(f"problem: {e['message']}" for e in self.errors)
        if self.errors and any(i.status == "skipped" for i in self.items):
            lines.append("nothing was changed: fix the problems above and run provision again")
        if self.dry_run:
            lines.append(f"dry run: {n} change{'s' * (n != 1)} would be made; nothing was changed")
        elif not self.errors:
            lines.append(
                f"{n} change{'s' * (n != 1)} applied" if n else "no changes: everything was already in place"
            )
        reported = sum(1 for i in self.items if i.action == "report")
        if reported:
            lines.append(f"{reported} finding{'s' * (reported != 1)} reported and left unchanged (see above)")
        return lines


def aligned(rows: list[tuple[str, ...]], indent: str = "  ") -> list[str]:
    """Left-aligned columns; the last column is free text and is not padded."""
    if not rows:
        return []
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]) - 1)]
    return [
        indent + "  ".join([*(v.ljust(w) for v, w in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    ]


_HEADLINE = ("region", "account", "bucket", "role", "store")


class Provisioner(Protocol):
    """What one backend contributes: where things go (for the report) and the plan (read-only)."""

    def target(self) -> dict[str, Any]: ...

    def plan(self, ledger: Ledger) -> list[PlanItem]: ...


def run(ctx: Context, *, dry_run: bool) -> ProvisionResult:
    provisioner = _provisioner(ctx)
    items = provisioner.plan(ctx.store.load())
    problems = [i for i in items if i.action == "problem"]
    reports: list[ItemReport] = []
    errors = [_problem_entry(i.code, i.detail) for i in problems]
    for problem in problems:
        ctx.reporter.error(problem.detail)
    exit_code = problems[0].exit_code if problems else None
    if dry_run or problems:
        # Nothing is applied when the plan already shows a problem: fix it first, then converge at once.
        status = "planned" if dry_run else "skipped"
        for item in items:
            reports.append(_report(item, status if item.apply is not None else "unchanged"))
        return _result(provisioner, reports, dry_run=dry_run, errors=errors, exit_code=exit_code)

    for item in items:
        if item.apply is None:
            reports.append(_report(item, "unchanged"))
            continue
        try:
            note = item.apply()
        except NikkeiError as exc:
            if item.action != "check":
                raise  # the ledger already holds whatever was created before this point
            reports.append(_report(item, "failed", detail=f"{item.detail}: failed: {exc.message}"))
            errors.append(_problem_entry(exc.code, exc.message, hint=exc.hint))
            exit_code = exit_code or exc.exit_code
            ctx.reporter.warn(exc.message)
            continue
        report = _report(item, "done", detail=note or item.detail)
        reports.append(report)
        ctx.reporter.info(
            f"{report.shown_action} {item.resource} {item.name}" + (f": {note}" if note else "")
        )
    return _result(provisioner, reports, dry_run=False, errors=errors, exit_code=exit_code)


def _result(
    provisioner: Provisioner,
    reports: list[ItemReport],
    *,
    dry_run: bool,
    errors: list[dict[str, Any]],
    exit_code: ExitCode | None,
) -> ProvisionResult:
    return ProvisionResult(
        items=tuple(reports),
        dry_run=dry_run,
        target=provisioner.target(),
        exit_code=int(exit_code or ExitCode.OK),
        errors=tuple(errors),
    )


def _report(item: PlanItem, status: str, *, detail: str | None = None) -> ItemReport:
    return ItemReport(item.resource, item.name, item.action, detail or item.detail, item.owned, status)


def _problem_entry(code: str | None, message: str, *, hint: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"code": code or "problem", "message": message}
    if hint:
        entry["hint"] = hint
    return entry


def _provisioner(ctx: Context) -> Provisioner:
    factory = PROVISIONERS.get(ctx.settings.backend)
    if factory is None:
        raise UsageError(
            f"provision: backend = {ctx.settings.backend!r} has nothing to provision in this version",
            hint='set backend = "sagemaker" in the config',
        )
    return factory(ctx)


def _aws_provisioner(ctx: Context) -> Provisioner:
    from nikkei_deepar.steps.provision_aws import AwsProvisioner

    return AwsProvisioner(ctx)


def _local_provisioner(ctx: Context) -> Provisioner:
    from nikkei_deepar.steps.provision_local import LocalProvisioner

    return LocalProvisioner(ctx)


PROVISIONERS: dict[str, Callable[[Context], Provisioner]] = {
    "sagemaker": _aws_provisioner,
    "local": _local_provisioner,
}


# -- ownership and ledger helpers shared by provisioners ------------------------------------------------
def is_ours(tags: dict[str, str] | None, wanted: dict[str, str], *, endpoint: str | None = None) -> bool:
    """Tagged by this tool for this config: managed-by, and the same project and stage tags as `wanted`
    (the config's [aws.tags]); for an endpoint's resources, also nikkei-deepar:endpoint = `endpoint`.
    Other tags may differ (provision puts them right on what is ours)."""
    if not tags or tags.get(MANAGED_BY_KEY) != MANAGED_BY_VALUE:
        return False
    if any(tags.get(key) != wanted.get(key) for key in OWNER_KEYS):
        return False
    return endpoint is None or tags.get(ENDPOINT_TAG_KEY) == endpoint


def whose(tags: dict[str, str]) -> str:
    """The owner tags of a resource, for messages: `project=x, stage=y` (and its endpoint tag)."""
    keys = [*OWNER_KEYS, ENDPOINT_TAG_KEY]
    return ", ".join(f"{k}={tags[k]}" for k in keys if k in tags) or "no project or stage tags"


def recorded_as_created(ledger: Ledger, kind: str, name: str) -> bool:
    found = ledger.resource(kind, name)
    return found is not None and found.live and found.extra.get("created") is True


def record(ctx: Context, resource: Resource) -> None:
    """Write one resource to the ledger now (replacing a live record of the same resource)."""
    with ctx.store.update() as ledger:
        ledger.mark_deleted(resource.kind, resource.name)
        ledger.record_resource(resource)


def created_extra(*, adopted: bool) -> dict[str, Any]:
    """A resource's `extra` in the ledger: what teardown --all checks (the tool created it, or adopted it)."""
    return {"created": True, "adopted": True} if adopted else {"created": True}
