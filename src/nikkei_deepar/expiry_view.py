"""When an endpoint expires, and what it will have cost by then. Pure: no network, no clock of its own.

`deploy` sets the expiry (now + `[endpoint] expires_after` or `--expires-in`), the backend makes it
happen (SageMaker: an EventBridge Scheduler schedule; local: checked whenever a command runs), and
`status` and `deploy` show it with this module's words: the time (in the zone people read times in,
named; UTC in --json), how long from now, and the endpoint's cost from its creation to that time at the
price the cost line names.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from nikkei_deepar.costs import EndpointCost
from nikkei_deepar.durations import format_duration
from nikkei_deepar.timezones import local_time


def utcnow() -> dt.datetime:
    """The clock deploy and status read the expiry against (tests replace it)."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class ExpiryView:
    at: dt.datetime | None  # None: the endpoint has no expiry
    now: dt.datetime
    created: dt.datetime | None = None  # when the endpoint was created (cost is counted from there)
    cost: EndpointCost | None = None
    schedule: str | None = None  # what enforces it (a schedule name), for the record
    zone: dt.tzinfo | None = dt.UTC  # where `line` shows the time (None: this machine's zone)

    @property
    def hours_total(self) -> float | None:
        if self.at is None or self.created is None:
            return None
        return max((self.at - self.created).total_seconds() / 3600, 0.0)

    @property
    def cost_by_then(self) -> float | None:
        hours = self.hours_total
        if hours is None or self.cost is None:
            return None
        return self.cost.cost_for(hours)

    @property
    def passed(self) -> bool:
        return self.at is not None and self.at <= self.now

    def to_data(self) -> dict[str, Any]:
        return {
            "expires_at": self.at.isoformat() if self.at else None,
            "expires_in_seconds": int((self.at - self.now).total_seconds()) if self.at else None,
            "cost_by_expiry_usd": self.cost_by_then,
            "enforced_by": self.schedule,
        }

    def line(self) -> str:
        if self.at is None:
            return "no expiry: it bills until `nikkei-deepar teardown` deletes it"
        when = local_time(self.at, self.zone)
        if self.passed:
            text = f"expired at {when} (deleted by then, or being deleted)"
        else:
            left = (
                format_duration(self.at - self.now)
                if self.at - self.now >= dt.timedelta(minutes=1)
                else "<1m"
            )
            text = f"expires {when} (in {left})"
        if self.schedule:
            text += f", by schedule {self.schedule}"
        total = self.cost_by_then
        if total is not None and self.cost is not None and self.hours_total is not None:
            text += f"; about ${total:,.2f} by then ({self.hours_total:.1f} h at the price above)"
        return text
