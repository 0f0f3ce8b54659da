"""Did this model's configuration beat the random walk? The last `backtest` of it, in one line.

`backtest` records each run in the ledger (data version, DeepAR's hyperparameters, the random walk
weight, the scores). `deploy`, `retrain`'s gate and `predict` look up the newest run with the same data
and hyperparameters as the job they serve and show it next to the random walk; when DeepAR (the
forecast `predict` gives, blended or not) lost, they warn in one line. Reads the ledger only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nikkei_deepar.ledger import Backtest, Ledger


@dataclass(frozen=True)
class Verdict:
    job: str
    data_sha256: str | None  # the job's data
    backtest: Backtest | None

    @property
    def ratio(self) -> float | None:
        if self.backtest is None:
            return None
        return self.backtest.scores["deepar"]["mean_wql"] / self.backtest.scores["random-walk"]["mean_wql"]

    @property
    def lost(self) -> bool:
        ratio = self.ratio
        return ratio is not None and ratio > 1.0

    def to_data(self) -> dict[str, Any] | None:
        b = self.backtest
        if b is None:
            return None
        return {
            "at": b.at,
            "data_sha256": b.data_sha256,
            "windows": b.windows,
            "horizon": b.horizon,
            "random_walk_weight": b.random_walk_weight,
            "deepar": b.scores["deepar"],
            "random_walk": b.scores["random-walk"],
            "wql_vs_random_walk": self.ratio,
            "lost": self.lost,
        }

    def line(self) -> str:
        b = self.backtest
        if b is None:
            return (
                f"no backtest of job {self.job}'s configuration on its data: `nikkei-deepar backtest` "
                "compares it with the random walk"
            )
        deepar, walk = b.scores["deepar"], b.scores["random-walk"]
        other = "" if b.data_sha256 == self.data_sha256 else f", on data {b.data_sha256[:16]}"
        return (
            f"last backtest ({b.at}{other}, {b.windows} windows of {b.horizon} trading days): mean wQL "
            f"{deepar['mean_wql']:.4f} vs random walk {walk['mean_wql']:.4f} ({self.ratio:.2f}x), "
            f"80% coverage {deepar['coverage80']:.2f} vs {walk['coverage80']:.2f}"
        )

    def warning(self) -> str | None:
        if not self.lost:
            return None
        return (
            f"DeepAR lost to the random walk in its last backtest (mean wQL {self.ratio:.2f}x): "
            "this forecast is not worth paying for"
        )


def verdict(ledger: Ledger, job: str, *, random_walk_weight: float) -> Verdict:
    record = ledger.job(job)
    found = None if record is None else ledger.last_backtest(record, random_walk_weight=random_walk_weight)
    return Verdict(job=job, data_sha256=None if record is None else record.data_sha256, backtest=found)
