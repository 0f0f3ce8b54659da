"""`edited(state)`: load the ledger, let a test change it in place, save it: how tests seed a ledger.
`data_version(train_uri, test_uri, **changes)`: a prepared data version to seed it with."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from nikkei_deepar.ledger import DataVersion, Ledger


@contextlib.contextmanager
def edited(state: Any) -> Iterator[Ledger]:
    """`state` is a LocalStateStore (its `save` writes the whole ledger, as a seed wants)."""
    ledger = state.load()
    yield ledger
    state.save(ledger)


def data_version(train_uri: str, test_uri: str, **changes: Any) -> DataVersion:
    """A data version as `prepare` records it (300 closes, calendar days, 5 steps, for SageMaker), its
    channels at `train_uri`/`test_uri`; `changes` replaces any other field."""
    fields: dict[str, Any] = {
        "sha256": "ab" * 32,
        "source": "demo.csv",
        "rows": 300,
        "first": "2023-01-04",
        "last": "2024-02-23",
        "column": "close",
        "calendar": "calendar_days",
        "prediction_length": 5,
        "context_length": 20,
        "observations": 300,
        "backend": "sagemaker",
    }
    return DataVersion(**{**fields, **changes, "train_uri": train_uri, "test_uri": test_uri})
