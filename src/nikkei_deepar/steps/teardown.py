"""`teardown`: delete what the tool created, in dependency order, each deletion recorded as it happens.

The rule: a resource is deleted only when the ledger lists it AND it still carries the tag
managed-by=nikkei-deepar, re-read from AWS now (the ledger alone is not trusted). Everything else is
left alone and listed: a ledger entry whose resource lost the tag, the other endpoints in the region
(each bills by the hour, so the user should see them), and with --all a bucket or role named in the
config that the tool did not create.

Order: transform jobs (stopped if still running) -> endpoints -> endpoint configs -> models -> role ->
bucket. "Not found" means already gone: the entry is marked deleted. Each deletion is written to the
ledger right after it succeeds, so an interrupted teardown resumes where it stopped.

Confirmation: with deletions to do and no --yes, the plan is put to the user through `confirm` (passed
in by cli.py, the only module that talks to the terminal); without a terminal, nothing is deleted.

Backends: `REMOVERS` maps a ledger entry's backend to what checks ownership and deletes; the local
backend registers its own (its folders) without touching the plan/confirm/execute machinery here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol

from nikkei_deepar.config import MANAGED_BY_KEY, MANAGED_BY_VALUE
from nikkei_deepar.context import Context
from nikkei_deepar.errors import AwsError, UsageError
from nikkei_deepar.state import Ledger, Resource
from nikkei_deepar.steps.provision import aligned

if TYPE_CHECKING:
    from nikkei_deepar.aws.iam import Gateway as IamGateway
    from nikkei_deepar.aws.s3 import Gateway as S3Gateway
    from nikkei_deepar.aws.sagemaker import Gateway as SageMakerGateway

Action = Literal["delete", "stop", "gone", "keep", "leave"]
ORDER = ("transform-job", "endpoint", "endpoint-config", "model", "role", "bucket", "local-dir")
DEFAULT_KINDS = frozenset({"transform-job", "endpoint", "endpoint-config", "model"})
ALL_ONLY_KINDS = frozenset({"role", "bucket", "local-dir"})
_DONE = {
    "delete": "deleted",
    "stop": "stopped",
    "gone": "already gone",
    "keep": "kept",
    "leave": "left alone",
}


@dataclass(frozen=True)
class TeardownItem:
    kind: str
    name: str
    action: Action
    reason: str
    backend: str = "sagemaker"
    in_ledger: bool = True
    status: str = "planned"  # planned | done

    def to_data(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "action": self.action,
            "reason": self.reason,
            "backend": self.backend,
            "in_ledger": self.in_ledger,
            "status": self.status,
        }

    @property
    def shown(self) -> str:
        if self.status == "done" or self.action in {"keep", "leave", "gone"}:
            return _DONE[self.action]
        return f"would {self.action}"


@dataclass(frozen=True)
class TeardownResult:
    items: tuple[TeardownItem, ...]
    dry_run: bool
    include_all: bool
    executed: bool

    def _names(self, *actions: str) -> list[str]:
        return [f"{i.kind} {i.name}" for i in self.items if i.action in actions]

    def to_data(self) -> dict[str, Any]:
        done = self.executed
        return {
            "dry_run": self.dry_run,
            "all": self.include_all,
            "deleted": self._names("delete", "stop") if done else [],
            "already_gone": self._names("gone") if done else [],
            "left_alone": self._names("leave"),
            "kept": self._names("keep"),
            "items": [i.to_data() for i in self.items],
        }

    def to_lines(self) -> list[str]:
        """The items as aligned columns, then the summary as the last lines."""
        lines = aligned([(i.shown, i.kind, i.name, i.reason) for i in self.items])
        deletions = self._names("delete", "stop")
        leave, keep = self._names("leave"), self._names("keep")
        if self.dry_run:
            lines.append(f"dry run: {len(deletions)} to delete; nothing was deleted")
        elif not deletions:
            lines.append("nothing to delete")
        else:
            lines.append(f"deleted {len(deletions)}: " + ", ".join(deletions))
        if leave:
            lines.append(f"left alone ({len(leave)}): " + ", ".join(leave))
        if keep:
            lines.append("kept: " + ", ".join(keep) + " (pass --all to delete them too)")
        return lines


class ConfirmationError(UsageError):
    """Nothing deleted: no confirmation (no terminal and no --yes, or the user said no). Carries the plan."""

    def __init__(self, message: str, *, hint: str, code: str, data: dict[str, Any]) -> None:
        super().__init__(message, hint=hint, code=code)
        self.data = data


class Remover(Protocol):
    """One backend's part: is this ledger entry still the tool's, delete it, and what else to list."""

    def inspect(self, resource: Resource) -> TeardownItem: ...

    def delete(self, resource: Resource) -> bool: ...

    def others(self, ledger: Ledger, *, include_all: bool) -> list[TeardownItem]: ...


def run(
    ctx: Context,
    *,
    include_all: bool,
    yes: bool,
    dry_run: bool,
    confirm: Callable[[str], bool] | None = None,
) -> TeardownResult:
    ledger = ctx.store.load()
    removers: dict[str, Remover] = {}
    items, resources = _plan(ctx, ledger, include_all=include_all, removers=removers)
    result = TeardownResult(tuple(items), dry_run=dry_run, include_all=include_all, executed=False)
    deletions = [i for i in items if i.action in {"delete", "stop"}]
    if dry_run:
        return result
    if deletions and not yes:
        _confirm_or_refuse(ctx, result, deletions, confirm)

    done: list[TeardownItem] = []
    for item in items:
        resource = resources.get((item.kind, item.name))
        if resource is not None and item.action in {"delete", "stop", "gone"}:
            if item.action != "gone":
                ctx.reporter.info(
                    f"{'stopping' if item.action == 'stop' else 'deleting'} {item.kind} {item.name}"
                )
                removers[resource.backend].delete(resource)  # False (already gone) is just as good
            with ctx.store.update() as current:  # written now: an interrupted teardown resumes from here
                current.mark_deleted(item.kind, item.name)
                if item.kind == "bucket":
                    _forget_uploads(current, item.name)
            if item.action != "gone":
                ctx.reporter.info(f"{_DONE[item.action]} {item.kind} {item.name}")
            item = replace(item, status="done")
        done.append(item)
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
            if resource.kind in ALL_ONLY_KINDS and resource.extra.get("created") is True:
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
        remover = _remover(ctx, resource.backend, removers)
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
        remover = _remover(ctx, backend, removers)
        if remover is not None:
            items.extend(remover.others(ledger, include_all=include_all))
    return items, resources


def _forget_uploads(ledger: Ledger, bucket: str) -> None:
    """Data versions stored in a deleted bucket are no longer uploaded: `prepare` uploads them again."""
    for version in ledger.data:
        if version.train_uri.startswith(f"s3://{bucket}/"):
            version.uploaded = False


_KEEP = {
    "role": "IAM roles cost nothing",
    "bucket": "S3 storage costs pennies; its data lets you retrain",
    "local-dir": "local files",
}


def _remover(ctx: Context, backend: str, cache: dict[str, Remover]) -> Remover | None:
    if backend not in cache:
        factory = REMOVERS.get(backend)
        if factory is None:
            return None
        cache[backend] = factory(ctx)
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


# -- SageMaker (and the AWS resources provision made) --------------------------------------------------
class AwsRemover:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.region = ctx.aws.region_name
        self.sm: SageMakerGateway = ctx.gateway("sagemaker")
        self.iam: IamGateway = ctx.gateway("iam")
        self.s3: S3Gateway = ctx.gateway("s3")

    # -- is the ledger entry still the tool's? ----------------------------------------------------------
    def inspect(self, r: Resource) -> TeardownItem:
        item = TeardownItem(r.kind, r.name, "leave", "", backend=r.backend)
        if r.kind in {"role", "bucket"} and r.extra.get("created") is not True:
            return replace(item, reason="the ledger does not say the tool created it")
        if r.kind not in {"role", "bucket"} and r.region and r.region != self.region:
            return replace(item, reason=f"in {r.region}: run teardown with --region {r.region}")
        try:
            tags = self._tags(r)
        except AwsError as exc:
            if exc.code not in {"bucket-forbidden", "aws-access-denied"}:
                raise
            return replace(item, reason=f"cannot read it ({exc.code})")
        if tags is None:
            return replace(item, action="gone", reason="not found: already deleted")
        if tags.get(MANAGED_BY_KEY) != MANAGED_BY_VALUE:
            return replace(
                item,
                reason=f"in the ledger, but its tags no longer say {MANAGED_BY_KEY}="
                f"{MANAGED_BY_VALUE} ({_owner(tags)})",
            )
        if r.kind == "transform-job":
            status = (self.sm.describe_transform_job(r.name) or {}).get("TransformJobStatus")
            if status != "InProgress":
                return replace(
                    item,
                    action="gone",
                    reason=f"finished ({status}): nothing bills; SageMaker keeps "
                    "the job record, which cannot be deleted",
                )
            return replace(item, action="stop", reason="running: stopping it ends the charge")
        return replace(item, action="delete", reason=_WHY.get(r.kind, "created by nikkei-deepar"))

    def _tags(self, r: Resource) -> dict[str, str] | None:
        """The resource's tags now, or None when it does not exist any more."""
        if r.kind == "role":
            return None if self.iam.role_arn(r.name) is None else self.iam.role_tags(r.name)
        if r.kind == "bucket":
            return None if self.s3.bucket_region(r.name) is None else self.s3.bucket_tags(r.name)
        if r.kind == "transform-job":
            found = self.sm.describe_transform_job(r.name)
            return None if found is None else self.sm.tags_of(str(found["TransformJobArn"]))
        arn = self.sm.arn_of(r.kind, r.name)
        return None if arn is None else self.sm.tags_of(arn)

    # -- deletion: True when deleted now, False when it was already gone ---------------------------------
    def delete(self, r: Resource) -> bool:
        if r.kind == "endpoint":
            return self.sm.delete_endpoint(r.name)
        if r.kind == "endpoint-config":
            return self.sm.delete_endpoint_config(r.name)
        if r.kind == "model":
            return self.sm.delete_model(r.name)
        if r.kind == "transform-job":
            return self.sm.stop_transform_job_if_running(r.name)
        if r.kind == "role":
            return self.iam.delete_role(r.name)
        if r.kind == "bucket":
            emptied = self.s3.empty_bucket(
                r.name, on_progress=lambda n: self.ctx.reporter.live(f"emptying bucket {r.name}: {n} deleted")
            )
            if emptied:
                self.ctx.reporter.info(
                    f"emptied bucket {r.name}: {emptied} object versions and delete markers"
                )
            return self.s3.delete_bucket(r.name)
        raise ValueError(f"no deletion for {r.kind}")

    # -- what else is there, left alone and listed -----------------------------------------------------
    def others(self, ledger: Ledger, *, include_all: bool) -> list[TeardownItem]:
        items: list[TeardownItem] = []
        recorded = {r.name for r in ledger.live_resources("endpoint")}
        for name, arn in sorted(self.sm.endpoint_arns().items()):
            if name not in recorded:
                reason = f"not in the ledger ({_owner(self.sm.tags_of(arn))}); it bills by the hour"
                items.append(TeardownItem("endpoint", name, "leave", reason, in_ledger=False))
        if include_all:
            items.extend(self._configured_foreign(ledger))
        return items

    def _configured_foreign(self, ledger: Ledger) -> list[TeardownItem]:
        """A bucket / role named in the config that the tool did not create: say it is left alone."""
        aws = self.ctx.settings.aws
        items: list[TeardownItem] = []
        bucket_recorded = ledger.resource("bucket", aws.bucket) if aws.bucket else None
        if aws.bucket and bucket_recorded is None:
            try:
                exists = self.s3.bucket_region(aws.bucket) is not None
            except AwsError:
                exists = True  # another account's bucket: certainly not ours to delete
            if exists:
                items.append(
                    TeardownItem(
                        "bucket",
                        aws.bucket,
                        "leave",
                        "named in the config but not created by "
                        "nikkei-deepar (an existing bucket): never deleted",
                        in_ledger=False,
                    )
                )
        if ledger.resource("role", aws.role_name) is None and self.iam.role_arn(aws.role_name) is not None:
            items.append(
                TeardownItem(
                    "role",
                    aws.role_name,
                    "leave",
                    "named in the config but not created by nikkei-deepar (an existing role): never deleted",
                    in_ledger=False,
                )
            )
        return items


_WHY = {
    "endpoint": "bills every hour it exists",
    "endpoint-config": "no longer needed without its endpoint",
    "model": "no longer needed without its endpoint",
    "role": "created by nikkei-deepar provision (inline policies first)",
    "bucket": "created by nikkei-deepar provision: every object version and delete marker, then the bucket",
}


def _owner(tags: dict[str, str]) -> str:
    owner = tags.get(MANAGED_BY_KEY)
    if owner is None:
        return f"no {MANAGED_BY_KEY} tag"
    if owner == MANAGED_BY_VALUE:
        return (
            f"tagged {MANAGED_BY_KEY}={owner} but not recorded here: another config's, or an interrupted run"
        )
    return f"{MANAGED_BY_KEY}={owner}"


REMOVERS: dict[str, Callable[[Context], Remover]] = {"sagemaker": AwsRemover}
