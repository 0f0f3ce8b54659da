"""`teardown`: the backend-neutral engine: plan, confirm, delete in dependency order, record as it goes.

The rule: a resource is deleted only when the ledger lists it AND its backend's remover confirms, now,
that it is still this workspace's (re-read from where it lives: AWS's tags, never the ledger's word).
Everything else is left alone and listed; an entry the ledger lists but AWS says is another's (another
stage's, nobody's, tags edited by hand) is refused: nothing is done to it, the rest goes on, and the
command exits 2 with one line per refusal.

Order: transform jobs (stopped if still running) -> endpoints -> endpoint configs -> models -> role ->
bucket -> local store folder. By default only what bills by the hour or the object goes (transform
jobs, endpoints, endpoint configs, models); --all adds the role, the bucket and the local store.
"Not found" means already gone: the entry is marked deleted. Each deletion is written to the ledger
right after it succeeds, so an interrupted teardown resumes where it stopped.

Confirmation: with deletions to do and no --yes, the plan is put to the user through `confirm` (passed
in by cli.py, the only module that talks to the terminal); without a terminal, nothing is deleted.

Backends: what checks ownership and deletes is the remover of the backend a ledger entry names
(`Backend.remover()`: backends/sagemaker/removal.py for SageMaker, IAM and S3, backends/local/removal.py
for the local store); the items' vocabulary is backends/removal.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from nikkei_deepar.backends import UnknownBackendError
from nikkei_deepar.backends.removal import CHANGES, Removed, Remover, TeardownItem
from nikkei_deepar.context import Context
from nikkei_deepar.errors import ExitCode, UsageError
from nikkei_deepar.ledger import Ledger, Resource
from nikkei_deepar.output import aligned
from nikkei_deepar.ownership import mismatch_hint
from nikkei_deepar.state import Change

# An endpoint's expiry schedule right after the endpoint: never an endpoint left without its expiry.
ORDER = ("transform-job", "endpoint", "schedule", "endpoint-config", "model", "role", "bucket", "local-dir")
DEFAULT_KINDS = frozenset({"transform-job", "endpoint", "schedule", "endpoint-config", "model"})
ALL_ONLY_KINDS = frozenset({"role", "bucket", "local-dir"})


@dataclass(frozen=True)
class TeardownResult:
    items: tuple[TeardownItem, ...]
    dry_run: bool
    include_all: bool
    executed: bool

    def _names(self, *actions: str) -> list[str]:
        return [f"{i.kind} {i.name}" for i in self.items if i.action in actions]

    @property
    def exit_code(self) -> int:
        """2 when an entry was refused (the ledger and AWS disagree about whose it is), else 0."""
        return int(ExitCode.USAGE) if self._names("refuse") else int(ExitCode.OK)

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [
            {
                "code": "not-ours",
                "message": f"{i.kind} {i.name}: {i.reason}",
                "hint": mismatch_hint(i.kind, i.name),
            }
            for i in self.items
            if i.action == "refuse"
        ]

    def to_data(self) -> dict[str, Any]:
        done = self.executed
        return {
            "dry_run": self.dry_run,
            "all": self.include_all,
            "deleted": self._names("delete", "stop") if done else [],
            "emptied": self._names("empty") if done else [],
            "refused": self._names("refuse"),
            "already_gone": self._names("gone") if done else [],
            "left_alone": self._names("leave"),
            "kept": self._names("keep"),
            "items": [i.to_data() for i in self.items],
        }

    def to_lines(self) -> list[str]:
        """Each resource once, as aligned columns (what happened, kind, name, why), then one line of counts.

        This is the one report of each deletion: progress on stderr is a transient line on a terminal
        only, so a log holds no second copy of it."""
        lines = aligned([(i.shown, i.kind, i.name, i.reason) for i in self.items])
        deletions = self._names("delete", "stop", "empty")
        counts = [
            f"{len(names)} {label}"
            for names, label in (
                (self._names("gone"), "already gone"),
                (self._names("refuse"), "refused (not this workspace's: see above)"),
                (self._names("leave"), "left alone"),
                (self._names("keep"), "kept (pass --all to delete them too)"),
            )
            if names
        ]
        if self.dry_run:
            head = f"dry run: {len(deletions)} to delete; nothing was deleted"
        elif not deletions:
            head = "nothing to delete"
        else:
            head = f"deleted {len(deletions)}"
        lines.append("; ".join([head, *counts]))
        return lines


class ConfirmationError(UsageError):
    """Nothing deleted: no confirmation (no terminal and no --yes, or the user said no). Carries the plan."""

    def __init__(self, message: str, *, hint: str, code: str, data: dict[str, Any]) -> None:
        super().__init__(message, hint=hint, code=code)
        self.data = data


def run(
    ctx: Context,
    *,
    include_all: bool,
    yes: bool,
    dry_run: bool,
    confirm: Callable[[str], bool] | None = None,
) -> TeardownResult:
    ledger = ctx.state.load()
    removers: dict[str, Remover] = {}
    items, resources = _plan(ctx, ledger, include_all=include_all, removers=removers)
    result = TeardownResult(tuple(items), dry_run=dry_run, include_all=include_all, executed=False)
    for refused in (i for i in items if i.action == "refuse"):
        ctx.reporter.error(f"{refused.reason}; {mismatch_hint(refused.kind, refused.name)}")
    deletions = [i for i in items if i.action in CHANGES]
    if dry_run:
        return result
    if deletions and not yes:
        _confirm_or_refuse(ctx, result, deletions, confirm)

    done: list[TeardownItem] = []
    for item in items:
        resource = resources.get((item.kind, item.name))
        if resource is None and not item.in_ledger and item.action in CHANGES:
            # what a remover found of this workspace's outside the ledger (its keys in a shared bucket)
            resource = Resource(kind=item.kind, name=item.name, backend=item.backend)
        if resource is not None and (item.action in CHANGES or item.action == "gone"):
            removed: Removed = "gone"
            if item.action != "gone":
                if ctx.reporter.interactive:  # a transient line; the result lists each deletion once
                    verb = {"stop": "stopping", "empty": "emptying"}.get(item.action, "deleting")
                    ctx.reporter.live(f"{verb} {item.kind} {item.name}")
                removed = removers[resource.backend].delete(resource)  # "gone" is just as good
            if removed != "kept" and item.in_ledger:  # written now: a teardown resumes from here
                ctx.state.update(_deleted(item.kind, item.name))
            item = replace(item, status="done")
        done.append(item)
    ctx.reporter.clear()
    return replace(result, items=tuple(done), executed=True)


def _plan(
    ctx: Context, ledger: Ledger, *, include_all: bool, removers: dict[str, Remover]
) -> tuple[list[TeardownItem], dict[tuple[str, str], Resource]]:
    kinds = DEFAULT_KINDS | (ALL_ONLY_KINDS if include_all else frozenset())
    live = sorted(
        ledger.live_resources(), key=lambda r: ORDER.index(r.kind) if r.kind in ORDER else len(ORDER)
    )
    items: list[TeardownItem] = []
    resources: dict[tuple[str, str], Resource] = {}
    for resource in live:
        if resource.kind not in kinds:
            if resource.kind in ALL_ONLY_KINDS and resource.created:
                items.append(
                    TeardownItem(
                        resource.kind,
                        resource.name,
                        "keep",
                        _KEEP.get(resource.kind, ""),
                        backend=resource.backend,
                    )
                )
            continue
        remover = _remover(ctx, resource.backend, removers, ledger)
        if remover is None:
            items.append(
                TeardownItem(
                    resource.kind,
                    resource.name,
                    "leave",
                    f"backend {resource.backend!r} has no teardown in this version",
                    backend=resource.backend,
                )
            )
            continue
        resources[(resource.kind, resource.name)] = resource
        items.append(remover.inspect(resource))
    for backend in sorted({ctx.settings.backend, *removers}):
        remover = _remover(ctx, backend, removers, ledger)
        if remover is not None:
            items.extend(remover.others(ledger, include_all=include_all))
    return items, resources


def _deleted(kind: str, name: str) -> Change:
    def change(ledger: Ledger) -> None:
        ledger.mark_deleted(kind, name)
        if kind in _HOLDS_DATA:
            _forget_uploads(ledger, _HOLDS_DATA[kind](name))

    return change


# Where a deleted container's data lived: the location prefix of everything stored in it.
_HOLDS_DATA: dict[str, Callable[[str], str]] = {
    "bucket": lambda name: f"s3://{name}/",
    "local-dir": lambda name: name.rstrip("/") + "/",
}


def _forget_uploads(ledger: Ledger, prefix: str) -> None:
    """Data versions kept in a deleted bucket or store are gone from there: `prepare` uploads them again."""
    for version in ledger.data:
        if version.train_uri.startswith(prefix):
            version.uploaded = False


_KEEP = {
    "role": "IAM roles cost nothing",
    "bucket": "S3 storage costs pennies; its data lets you retrain",
    "local-dir": "the trained models' archives (jobs/) and forecasts, as SageMaker keeps its S3 output",
}


def _remover(ctx: Context, backend: str, cache: dict[str, Remover], ledger: Ledger) -> Remover | None:
    """The remover of the backend a ledger entry names (built once); None for a backend this version lacks."""
    if backend not in cache:
        try:
            cache[backend] = ctx.backend_named(backend).remover(ledger)
        except UnknownBackendError:
            return None
    return cache[backend]


def _confirm_or_refuse(
    ctx: Context,
    result: TeardownResult,
    deletions: list[TeardownItem],
    confirm: Callable[[str], bool] | None,
) -> None:
    if not ctx.interactive_stdin or confirm is None:
        raise ConfirmationError(
            "refusing to delete without confirmation: pass --yes",
            hint="`nikkei-deepar teardown --dry-run` shows what would be deleted",
            code="confirmation-required",
            data=result.to_data(),
        )
    listing = "\n".join(f"  {i.kind} {i.name}" for i in deletions)
    question = f"teardown will delete:\n{listing}\nDelete these {len(deletions)} resources?"
    if not confirm(question):
        raise ConfirmationError(
            "teardown cancelled: nothing was deleted",
            hint="pass --yes to delete without the question",
            code="cancelled",
            data=result.to_data(),
        )
