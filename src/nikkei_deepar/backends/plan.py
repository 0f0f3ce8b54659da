"""`provision`'s vocabulary, shared by every backend's provisioner: plan items, their actions, the protocol.

A provisioner `plan()`s with read-only calls and returns `PlanItem`s, one per resource or setting: what is
there, and what would happen to it; `apply` (when set) makes it so and says what it did (`Applied`): the
resources it created or adopted are written to the ledger by the `provision` step the moment `apply`
returns (a provisioner never touches the ledger). Imports nothing backend-specific.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from nikkei_deepar.errors import ExitCode
from nikkei_deepar.ledger import Ledger, Resource

Action = Literal["create", "adopt", "fix", "ok", "use", "report", "check", "problem"]
CHANGES = frozenset({"create", "adopt", "fix"})


@dataclass(frozen=True)
class Applied:
    """What applying an item did: a note for the report, and what it created or adopted (to record now)."""

    note: str | None = None
    recorded: tuple[Resource, ...] = ()


DONE = Applied()


@dataclass(frozen=True)
class PlanItem:
    """One resource or setting: `action` says what provision does with it, `detail` why."""

    resource: str  # "bucket", "bucket.encryption", "role", "role.inline-policy", ...
    name: str
    action: Action
    detail: str
    owned: bool
    apply: Callable[[], Applied] | None = field(default=None, compare=False, repr=False)
    exit_code: ExitCode | None = None  # problems only
    code: str | None = None  # problems only: a stable slug for --json


class Provisioner(Protocol):
    """What one backend contributes: where things go (for the report) and the plan (read-only)."""

    def target(self) -> dict[str, Any]: ...

    def plan(self, ledger: Ledger) -> list[PlanItem]: ...
