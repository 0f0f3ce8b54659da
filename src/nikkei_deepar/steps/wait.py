"""`wait`: follow a training job (the ledger's last, or --job NAME) to its end.

The following itself is `lifecycle.training.follow`, shared with `train --wait` and `retrain`: it stores
what it learns in the ledger and turns the end state into the documented exit code (Completed 0,
Failed 6, Stopped 7, --timeout 8, Ctrl-C 130: waiting stops, the job does not).
"""

from __future__ import annotations

from nikkei_deepar.context import Context
from nikkei_deepar.errors import NotFoundError
from nikkei_deepar.lifecycle.training import WaitResult, follow


def run(ctx: Context, *, job: str | None, timeout: float | None, logs: bool) -> WaitResult:
    if job is None:
        last = ctx.state.load().last_job
        if last is None:
            raise NotFoundError(
                "no training job in the ledger",
                hint="start one with `nikkei-deepar train` (or name one with --job NAME)",
            )
        job = last.name
    return follow(ctx, job, timeout=timeout, logs=logs)
