"""`teardown`'s vocabulary, shared by every backend's remover: removal items and the protocol.

A remover answers, for one ledger entry of its backend, whether it is still this workspace's (re-read from
where it lives now: AWS's tags, never the state's word) and deletes it; it also lists what else is there
that teardown leaves alone. An entry the state lists but AWS says is another's is refused: nothing is
done to it and teardown exits 2. The engine (order, confirmation, ledger writes) is the `teardown` step.
Imports nothing backend-specific.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from nikkei_deepar.ledger import Ledger, Resource

RemovalAction = Literal["delete", "stop", "empty", "gone", "keep", "leave", "refuse"]
CHANGES = frozenset({"delete", "stop", "empty"})
Removed = Literal["deleted", "gone", "kept"]
"""What a deletion did: the resource is gone now, was gone already, or is kept (a bucket emptied of this
workspace's keys that still holds others: it stays in the state)."""
_DONE = {
    "delete": "deleted",
    "stop": "stopped",
    "empty": "emptied",
    "gone": "already gone",
    "keep": "kept",
    "leave": "left alone",
    "refuse": "refused",
}


@dataclass(frozen=True)
class TeardownItem:
    kind: str
    name: str
    action: RemovalAction
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
        if self.status == "done" or self.action in {"keep", "leave", "gone", "refuse"}:
            return _DONE[self.action]
        return f"would {self.action}"

    @property
    def done_text(self) -> str:
        return _DONE[self.action]


class Remover(Protocol):
    """One backend's part: is this ledger entry still the tool's, delete it, and what else to list."""

    def inspect(self, resource: Resource) -> TeardownItem: ...

    def delete(self, resource: Resource) -> Removed: ...

    def others(self, ledger: Ledger, *, include_all: bool) -> list[TeardownItem]: ...
