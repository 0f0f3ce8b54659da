"""`teardown`'s vocabulary, shared by every backend's remover: removal items and the protocol.

A remover answers, for one ledger entry of its backend, whether it is still the tool's (re-read from where
it lives now) and deletes it; it also lists what else is there that teardown leaves alone. The engine
(order, confirmation, ledger writes) is the `teardown` step. Imports nothing backend-specific.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from nikkei_deepar.ledger import Ledger, Resource

RemovalAction = Literal["delete", "stop", "gone", "keep", "leave"]
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
        if self.status == "done" or self.action in {"keep", "leave", "gone"}:
            return _DONE[self.action]
        return f"would {self.action}"

    @property
    def done_text(self) -> str:
        return _DONE[self.action]


class Remover(Protocol):
    """One backend's part: is this ledger entry still the tool's, delete it, and what else to list."""

    def inspect(self, resource: Resource) -> TeardownItem: ...

    def delete(self, resource: Resource) -> bool: ...

    def others(self, ledger: Ledger, *, include_all: bool) -> list[TeardownItem]: ...
