"""`state ...`: the workspace's state itself — where it is, moving an old ledger into it, forgetting an entry.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nikkei_deepar.context import Context
from nikkei_deepar.errors import NotFoundError, UsageError
from nikkei_deepar.ledger import Ledger, deleting, parse_ledger


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
