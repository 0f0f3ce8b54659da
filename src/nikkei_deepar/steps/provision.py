"""`provision`: the backend-neutral plan/apply/report engine, and the registry of provisioners.

Two phases. A backend's provisioner `plan()`s with read-only calls only and returns `PlanItem`s, one per
resource or setting: what is there, and what would happen to it. `run` then applies the items in order;
an item that creates something writes it to the ledger the moment it exists, before its details are
configured, so a crash leaves nothing unknown. `--dry-run` stops after the plan, and so does a plan that
shows a problem (fix it first, then converge in one go).

Backends: the plan comes from `ctx.backend.provisioner()`: backends/sagemaker/provision.py (the S3 bucket
and the SageMaker execution role) or backends/local/provision.py (the local store folder). The items'
vocabulary is backends/plan.py; what an item creates is recorded here, the moment it exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nikkei_deepar.backends.plan import CHANGES, PlanItem, Provisioner
from nikkei_deepar.context import Context
from nikkei_deepar.errors import ExitCode, NikkeiError
from nikkei_deepar.ledger import recording
from nikkei_deepar.output import aligned

_DONE = {"create": "created", "adopt": "adopted", "fix": "fixed", "check": "checked"}


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


_HEADLINE = ("region", "account", "bucket", "role", "store")


def run(ctx: Context, *, dry_run: bool) -> ProvisionResult:
    provisioner = ctx.backend.provisioner()
    items = provisioner.plan(ctx.state.load())
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
            applied = item.apply()
        except NikkeiError as exc:
            if item.action != "check":
                raise  # the ledger already holds whatever was created before this point
            reports.append(_report(item, "failed", detail=f"{item.detail}: failed: {exc.message}"))
            errors.append(_problem_entry(exc.code, exc.message, hint=exc.hint))
            exit_code = exit_code or exc.exit_code
            ctx.reporter.warn(exc.message)
            continue
        if applied.recorded:  # the moment it exists: a crash after this leaves it known
            ctx.state.update(recording(*applied.recorded))
        note = applied.note
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
