"""Where the ledger is kept, how it is written and who may write it: the state store.

A `StateStore` loads the ledger, applies a change and saves it (`update`, which hands back the saved
ledger), and guards a command's whole run with a lock. The change is a function, not a block of code
run once: a store may have to apply it again to a newer ledger (a remote store whose conditional write
lost a race), so a change must only read the ledger it is given and alter it.

Implementations: `state.local.LocalStateStore` (a file in the workspace's folder, `fcntl` lock).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol

from nikkei_deepar.ledger import Ledger

Change = Callable[[Ledger], None]


class StateStore(Protocol):
    @property
    def where(self) -> str:
        """Where the ledger is, for people (a path or an s3:// URL)."""
        ...

    def exists(self) -> bool:
        """Whether a ledger was ever written here."""
        ...

    def load(self) -> Ledger:
        """The ledger as it is now (an empty one when nothing was written yet)."""
        ...

    def update(self, change: Change) -> Ledger:
        """Apply `change` to the current ledger and save it; return the ledger as saved."""
        ...

    def write_whole(self, ledger: Ledger, *, replace: bool) -> None:
        """Make `ledger` the state (`state migrate`, `state push`): only where there is none, unless
        `replace` (StateConflictError, exit 10, when one is there)."""
        ...

    def lock(
        self,
        *,
        command: str = "",
        wait_seconds: float = 0.0,
        on_takeover: Callable[[str], None] | None = None,
    ) -> AbstractContextManager[None]:
        """Hold the lock for a command's whole run (LockHeldError, exit 9, when another holds it)."""
        ...

    def lock_holder(self) -> str | None:
        """Who holds the lock now, or None when it is free (for `doctor`)."""
        ...
