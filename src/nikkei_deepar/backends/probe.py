"""`status`'s vocabulary: the read-only probe every backend provides.

A probe answers three questions for one backend: does this ledger resource still exist where it lives,
which resources carry this tool's tags but are not live in the ledger, and what does an endpoint config
serve (instance type and count, or serverless). Read-only: a probe never creates, changes or deletes
anything. Imports nothing backend-specific.
"""

from __future__ import annotations

from typing import Any, Protocol

from nikkei_deepar.ledger import Ledger, Resource

HOSTING_KINDS = ("endpoint", "endpoint-config", "model")


class Probe(Protocol):
    """One backend's answers: does it exist, what else is ours, what does an endpoint config say."""

    backend: str  # the backend name the resources it finds are recorded under

    def exists(self, r: Resource) -> bool | None: ...

    def untracked(self, ledger: Ledger) -> list[tuple[str, str]]: ...

    def variant(self, config_name: str) -> dict[str, Any] | None: ...
