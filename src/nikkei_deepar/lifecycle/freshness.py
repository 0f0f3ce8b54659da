"""Is the data fresh enough to forecast from? `[data] max_age_sessions` and `[data] on_stale`.

`predict` and `retrain` ask before they spend anything: how many Tokyo Stock Exchange sessions have
closed since the data's last close (`data.calendar.sessions_since`, at the clock `ctx.now`). Past the
limit, `on_stale = "warn"` says so in one line (a warning: stderr, and the --json envelope's
`warnings`) and goes on; `on_stale = "fail"` stops with DataError (exit 3), so a cron job mails.
Either way the command's --json data carries the answer (`Freshness.to_data`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from nikkei_deepar.context import Context
from nikkei_deepar.errors import DataError


@dataclass(frozen=True)
class Freshness:
    last_close: dt.date
    sessions: int  # Tokyo sessions closed since the last close
    max_age: int  # [data] max_age_sessions
    on_stale: str  # [data] on_stale

    @property
    def stale(self) -> bool:
        return self.sessions > self.max_age

    def to_data(self) -> dict[str, Any]:
        return {
            "last_close": self.last_close.isoformat(),
            "sessions_since": self.sessions,
            "max_age_sessions": self.max_age,
            "stale": self.stale,
            "on_stale": self.on_stale,
        }

    def line(self) -> str:
        ago = "1 Tokyo session has" if self.sessions == 1 else f"{self.sessions} Tokyo sessions have"
        return (
            f"stale data: the last close is {self.last_close}, and {ago} closed since (more than "
            f"[data] max_age_sessions = {self.max_age})"
        )


def check_freshness(ctx: Context, last_close: dt.date, *, what: str) -> Freshness:
    """How fresh data ending on `last_close` is; warns or raises (by `[data] on_stale`) when stale.
    `what` says what would be made from it ("the forecast", "the model")."""
    from nikkei_deepar.data.calendar import sessions_since

    data = ctx.settings.data
    found = Freshness(
        last_close=last_close,
        sessions=sessions_since(last_close, now=ctx.now()),
        max_age=data.max_age_sessions,
        on_stale=data.on_stale,
    )
    if not found.stale:
        return found
    if found.on_stale == "fail":
        error = DataError(
            f"{found.line()}: {what} would start from old prices",
            hint="refresh the price file ([data] source, or --input) and run `prepare` again; "
            '[data] on_stale = "warn" goes on with a warning',
            code="stale-data",
        )
        cast(Any, error).data = {"freshness": found.to_data()}  # the --json envelope shows it
        raise error
    ctx.reporter.warn(f"{found.line()}: {what} starts from old prices")
    return found
