"""The latest prepared series: what `predict`, `backtest` and `score` read (the ledger's last data version).

The local copy `prepare` wrote (`series.json` in the data version's folder) first, else the copy stored
beside the channels in the backend's store.
"""

from __future__ import annotations

from pathlib import Path

from nikkei_deepar.context import Context
from nikkei_deepar.data.series import Series
from nikkei_deepar.data.series_io import load_series
from nikkei_deepar.errors import NotFoundError
from nikkei_deepar.ledger import DataVersion, Ledger


def prepared_series(ctx: Context, ledger: Ledger) -> tuple[DataVersion, Series]:
    """The ledger's last data version and its series; NotFoundError (exit 5) when there is none."""
    data = ledger.last_data
    if data is None:
        raise NotFoundError("no prepared data in the ledger", hint="run `nikkei-deepar prepare` first")
    if data.local_dir:
        local = Path(data.local_dir) / "series.json"
        if local.is_file():
            return data, load_series(local.read_bytes(), where=str(local))
    if not data.series_uri:
        raise NotFoundError(
            f"the prepared series of data version {data.sha256[:16]} is neither on this machine nor stored",
            hint="run `nikkei-deepar prepare` again",
        )
    ctx.reporter.info(f"fetching the prepared series from {data.series_uri}")
    return data, load_series(ctx.backend.get_artifact(data.series_uri), where=data.series_uri)
