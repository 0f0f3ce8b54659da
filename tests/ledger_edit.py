"""`edited(state)`: load the ledger, let a test change it in place, save it: how tests seed a ledger.
`data_version(train_uri, test_uri, **changes)`: a prepared data version to seed it with;
`series_version(settings, series, ...)`: the one `prepare` records for a given series and settings."""

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


def series_version(
    settings: Any, series: Any, *, sha: str, local_dir: Any, train_uri: str, test_uri: str, series_uri: str
) -> DataVersion:
    """The data version `prepare` records for `series` (a data.series.Series) under `settings`."""
    from nikkei_deepar.data.horizon import prediction_length_of

    return data_version(
        train_uri,
        test_uri,
        sha256=sha,
        rows=len(series),
        first=str(series.start),
        last=str(series.last_date),
        calendar=series.policy,
        prediction_length=prediction_length_of(settings),
        context_length=settings.training.hyperparameters.context_length,
        observations=series.observations,
        series_uri=series_uri,
        local_dir=str(local_dir),
        calendar_features=settings.data.calendar_features,
        target=settings.data.target,
    )
