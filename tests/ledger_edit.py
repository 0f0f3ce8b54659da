"""`edited(state)`: load the ledger, let a test change it in place, save it: how tests seed a ledger."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from nikkei_deepar.ledger import Ledger


@contextlib.contextmanager
def edited(state: Any) -> Iterator[Ledger]:
    """`state` is a LocalStateStore (its `save` writes the whole ledger, as a seed wants)."""
    ledger = state.load()
    yield ledger
    state.save(ledger)
