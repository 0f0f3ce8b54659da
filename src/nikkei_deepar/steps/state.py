"""`state ...`: the workspace's state itself: where it is, moving it, forgetting an entry, a dead lease.

- `state show`: where the state is, what it holds, who holds its lock.
- `state push` / `state pull`: move the workspace's local state file to `[state] url` (S3), and back.
- `state unlock`: clear the remote state's lease left by a host that died (asks first; --force in scripts).

- `state migrate [--from PATH]`: a ledger from before workspaces (`.nikkei-deepar/state.json` beside the
  config, or `$NIKKEI_DEEPAR_HOME/state.json`) becomes this config's workspace state, with the local
  backend's folder beside it (paths in the ledger follow). The old file is kept as `state.json.migrated`.
  Entries of another stage that an old, shared ledger may hold come along, but nothing is done to them:
  every change checks AWS's tags first, and teardown refuses what AWS says is another stage's.
- `state forget KIND NAME`: the state stops listing a resource (nothing in AWS is touched), for an entry
  AWS says is not this workspace's (`terraform state rm`).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nikkei_deepar.context import Context
from nikkei_deepar.errors import NotFoundError, UsageError
from nikkei_deepar.ledger import Ledger, deleting, parse_ledger

if TYPE_CHECKING:
    from nikkei_deepar.state.remote import S3StateStore


@dataclass(frozen=True)
class StateResult:
    action: str
    where: str
    workspace: str
    detail: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def to_data(self) -> dict[str, Any]:
        return {"action": self.action, "state": self.where, "workspace": self.workspace, **self.data}

    def to_lines(self) -> list[str]:
        return self.detail


def migrate(ctx: Context, *, source: Path | None) -> StateResult:
    from nikkei_deepar.state.local import legacy_ledger

    old = source or legacy_ledger(home=ctx.home, config_path=ctx.loaded.path, cwd=Path.cwd())
    if old is None or not old.is_file():
        looked = old or ".nikkei-deepar/state.json beside the config, $NIKKEI_DEEPAR_HOME/state.json"
        raise NotFoundError(
            f"no ledger from before workspaces found ({looked})", hint="name it with --from PATH"
        )
    if ctx.state.exists():
        raise UsageError(
            f"workspace {ctx.workspace.label} already has a state ({ctx.state.where}): nothing was moved",
            hint=f"the old ledger {old} stays where it is; `nikkei-deepar status` shows the current state",
            code="state-exists",
        )
    text = old.read_text(encoding="utf-8")
    parse_ledger(text, where=str(old), backup_hint="fix or restore it first")  # refuse what cannot be read
    notes = []
    old_local, new_local = old.parent / "local", ctx.workspace_dir / "local"
    if old_local.is_dir() and not new_local.exists():
        new_local.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(old_local), str(new_local))
        # the local backend's locations are absolute paths under its folder: they follow it
        text = text.replace(json.dumps(str(old_local))[1:-1], json.dumps(str(new_local))[1:-1])
        notes.append(f"moved the local backend's folder {old_local} -> {new_local}")
    ledger = parse_ledger(text, where=str(old), backup_hint="fix or restore it first")
    ctx.state.write_whole(ledger, replace=False)
    kept = old.with_name(old.name + ".migrated")
    old.replace(kept)
    live = len(ledger.live_resources())
    counts = f"{len(ledger.data)} data versions, {len(ledger.jobs)} jobs, {live} live resources"
    lines = [
        f"moved {old} into workspace {ctx.workspace.label}: {ctx.state.where} ({counts})",
        *notes,
        f"the old file is kept as {kept}",
        "entries of another stage it may hold are never changed: every command checks AWS's tags first",
    ]
    return StateResult(
        "migrated", ctx.state.where, ctx.workspace.label, lines, {"from": str(old), "kept_as": str(kept)}
    )


def forget(ctx: Context, *, kind: str, name: str) -> StateResult:
    ledger: Ledger = ctx.state.load()
    if ledger.live(kind, name) is None:
        raise NotFoundError(
            f"the state of workspace {ctx.workspace.label} lists no live {kind} {name}",
            hint="`nikkei-deepar status` lists what it holds",
        )
    ctx.state.update(deleting(kind, name))
    line = f"the state no longer lists {kind} {name}; nothing in AWS was touched"
    return StateResult(
        "forgotten", ctx.state.where, ctx.workspace.label, [line], {"kind": kind, "name": name}
    )


def show(ctx: Context) -> StateResult:
    """Where the state is, what it holds, who holds its lock."""
    ledger = ctx.state.load()
    holder = ctx.state.lock_holder()
    lines = [
        f"state of workspace {ctx.workspace.label}: {ctx.state.where}"
        + ("" if ctx.state.exists() else " (not written yet)"),
        f"  updated {ledger.updated_at}: {len(ledger.data)} data versions, {len(ledger.jobs)} jobs, "
        f"{len(ledger.live_resources())} live resources, {len(ledger.deployments)} deployments",
        f"  lock: {holder or 'free'}",
    ]
    lines += [f"  {r.kind} {r.name}" for r in ledger.live_resources()]
    data = {"lock": holder, "ledger": ledger.model_dump(mode="json")}
    return StateResult("shown", ctx.state.where, ctx.workspace.label, lines, data)


def _remote(ctx: Context) -> S3StateStore:
    from nikkei_deepar.state.remote import S3StateStore

    if not isinstance(ctx.state, S3StateStore):
        raise UsageError(
            "this config keeps its state in a file on this machine: [state] url is not set",
            hint='set [state] url = "s3://BUCKET/PREFIX" in the config (a versioned bucket; `nikkei-deepar '
            "doctor` checks it), then run this again",
            code="no-remote-state",
        )
    return ctx.state


def push(ctx: Context, *, force: bool) -> StateResult:
    """Move this workspace's local state file to the remote state (`[state] url`)."""
    from nikkei_deepar.state.local import LocalStateStore

    remote = _remote(ctx)
    local = LocalStateStore(ctx.workspace_dir)
    if not local.exists():
        raise NotFoundError(
            f"no local state to push for workspace {ctx.workspace.label} ({local.path})",
            hint="`nikkei-deepar state migrate` first moves a ledger from before workspaces there",
        )
    ledger = local.load()
    remote.write_whole(ledger, replace=force)
    moved = local.path.with_name(local.path.name + ".pushed")
    local.path.replace(moved)
    lines = [
        f"pushed {local.path} to {remote.where}: every host of workspace {ctx.workspace.label} shares it now",
        f"the local file is kept as {moved} (not read any more)",
    ]
    return StateResult("pushed", remote.where, ctx.workspace.label, lines, {"from": str(local.path)})


def pull(ctx: Context, *, force: bool) -> StateResult:
    """Copy the remote state into this workspace's local state file (to go back to local state)."""
    from nikkei_deepar.state.local import LocalStateStore

    remote = _remote(ctx)
    if not remote.exists():
        raise NotFoundError(
            f"there is no remote state at {remote.where}", hint="`nikkei-deepar state push` puts one there"
        )
    local = LocalStateStore(ctx.workspace_dir)
    local.write_whole(remote.load(), replace=force)
    lines = [
        f"copied {remote.where} to {local.path}",
        "the remote state stays as it is: remove [state] url from the config to use the local copy",
    ]
    return StateResult("pulled", remote.where, ctx.workspace.label, lines, {"to": str(local.path)})


def unlock(ctx: Context, *, force: bool, confirm: Callable[[str], bool] | None) -> StateResult:
    """Clear a lease left by a host that died (after saying whose it is and confirming)."""
    remote = _remote(ctx)
    holder = remote.lock_holder()
    _, _, there = remote.current_lease()
    if not there:
        return StateResult(
            "unlocked", remote.where, ctx.workspace.label, ["the state is not locked"], {"lease": None}
        )
    shown = holder or "an expired lease"
    if not force:
        if confirm is None or not ctx.interactive_stdin:
            raise UsageError(
                f"{remote.lease_where}: {shown}: refusing to clear it without confirmation",
                hint="only clear a lease whose holder is dead: pass --force (a live holder goes on writing)",
                code="confirmation-required",
            )
        if not confirm(f"{remote.lease_where}: {shown}. Clear it?"):
            raise UsageError("state unlock cancelled: the lease stays", code="cancelled")
    broken = remote.break_lease()
    line = f"cleared the lease at {remote.lease_where}" + (f" ({broken.describe()})" if broken else "")
    return StateResult("unlocked", remote.where, ctx.workspace.label, [line], {"lease": shown})
