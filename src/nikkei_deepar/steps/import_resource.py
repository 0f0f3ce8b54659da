"""`import KIND NAME`: take over an existing resource on purpose, as `terraform import` does.

The one way a resource of another workspace, or of nobody, becomes this workspace's: it is tagged with
this workspace's tags (managed-by, project, stage, the config's [aws.tags], and for a model, endpoint
config or endpoint the endpoint's name) and recorded in the state, so `teardown` (with --all for a bucket
or role) may delete it from then on. A resource of another nikkei-deepar workspace is taken over only
with --yes (that workspace loses it). A schedule carries no tags: one is imported only when it already
deletes this config's endpoint. Nothing else is changed: policies, settings and contents stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nikkei_deepar.context import Context
from nikkei_deepar.errors import NotFoundError, UsageError
from nikkei_deepar.ledger import Resource, recording
from nikkei_deepar.ownership import ENDPOINT_TAG_KEY, is_ours, managed_by_tool, owner_words

KINDS = ("bucket", "role", "endpoint", "endpoint-config", "model", "schedule")
_HOSTING = frozenset({"endpoint", "endpoint-config", "model"})


@dataclass(frozen=True)
class ImportResult:
    kind: str
    name: str
    action: str  # "imported" | "recorded" (already tagged as this workspace's) | "unchanged"
    previous_owner: str
    workspace: str

    def to_data(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "action": self.action,
            "previous_owner": self.previous_owner,
            "workspace": self.workspace,
        }

    def to_lines(self) -> list[str]:
        if self.action == "unchanged":
            return [f"{self.kind} {self.name} is already this workspace's ({self.workspace}): nothing to do"]
        if self.action == "recorded":
            return [
                f"{self.kind} {self.name}: tagged as this workspace's ({self.workspace}); now in its state"
            ]
        return [
            f"imported {self.kind} {self.name} into workspace {self.workspace} (it was "
            f"{self.previous_owner}): tagged and recorded; teardown may now delete it"
        ]


def run(ctx: Context, *, kind: str, name: str, yes: bool) -> ImportResult:
    if kind not in KINDS:
        raise UsageError(f"import: unknown kind {kind!r}", hint=f"one of: {', '.join(KINDS)}")
    settings = ctx.settings
    backend = ctx.backend
    ledger = ctx.state.load()
    label = ctx.workspace.label
    endpoint = settings.endpoint.name
    if kind == "schedule":
        return _schedule(ctx, name, endpoint=endpoint, label=label)
    try:
        tags = backend.resource_tags(kind, name)
    except ValueError:
        raise UsageError(f"import: the {backend.name} backend has no {kind}s", code="usage") from None
    if tags is None:
        raise NotFoundError(
            f"{kind} {name} does not exist", hint="check the name, the region and the profile"
        )
    mine_endpoint = endpoint if kind in _HOSTING else None
    if kind in _HOSTING and kind != "endpoint" and tags.get(ENDPOINT_TAG_KEY) not in (None, endpoint):
        mine_endpoint = None  # it serves another endpoint: tagged for ours from now on
    owned = is_ours(tags, settings.aws.tags, endpoint=mine_endpoint)
    recorded = ledger.live(kind, name)
    if owned and recorded is not None and (recorded.created or kind in _HOSTING):
        return ImportResult(kind, name, "unchanged", "this workspace's", label)
    previous = "this workspace's" if owned else owner_words(tags)
    if managed_by_tool(tags) and not owned and not yes:
        raise UsageError(
            f"import: {kind} {name} is {owner_words(tags)}: taking it over leaves that workspace without it",
            hint="pass --yes to take it over anyway; nothing was changed",
            code="import-confirm",
        )
    wanted = settings.resource_tags()
    if kind in _HOSTING:
        wanted[ENDPOINT_TAG_KEY] = endpoint
    arn = backend.tag(kind, name, wanted) if not owned else None
    resource = Resource(
        kind=kind,
        name=name,
        backend=backend.name,
        arn=arn,
        region=backend.region if kind != "role" else None,
        created=kind in {"bucket", "role"},  # teardown --all may delete it now
        adopted=True,
        endpoint=endpoint if kind in _HOSTING else None,
        extra={"imported": True},
    )
    ctx.state.update(recording(resource))
    ctx.reporter.info(f"import: {kind} {name} ({previous}) is now this workspace's ({label})")
    return ImportResult(kind, name, "recorded" if owned else "imported", previous, label)


def _schedule(ctx: Context, name: str, *, endpoint: str, label: str) -> ImportResult:
    """A schedule has no tags: it is this workspace's when it deletes this config's endpoint."""
    keeper = ctx.backend.expiry_keeper()
    found = keeper.get(endpoint)
    if found is None or found.schedule != name:
        raise UsageError(
            f"import: schedule {name} is not the expiry of endpoint {endpoint} (a schedule carries no tags: "
            "one is this workspace's only while it deletes this config's endpoint)",
            hint="`nikkei-deepar deploy --expires-in 2h` makes this endpoint's own expiry schedule",
            code="schedule-not-ours",
        )
    resource = Resource(
        kind="schedule",
        name=name,
        backend=ctx.backend.name,
        region=ctx.backend.region,
        endpoint=endpoint,
        extra={"at": found.at.isoformat(), "role_arn": found.role_arn, "imported": True},
    )
    ctx.state.update(recording(resource))
    return ImportResult("schedule", name, "recorded", f"the expiry of endpoint {endpoint}", label)
