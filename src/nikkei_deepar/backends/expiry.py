"""The vocabulary of endpoint expiry, shared by every backend: a scheduled deletion and its keeper.

`deploy` asks the backend's keeper to delete the endpoint at a time (SageMaker: an EventBridge
Scheduler schedule that AWS runs even when this machine is off; local: a time in the endpoint's
record, enforced whenever a command looks at the endpoint), `status` asks when that is, `teardown`
clears it. A leaf: imports nothing from the package.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Scheduled:
    """An endpoint's scheduled deletion."""

    endpoint: str
    at: dt.datetime  # UTC
    by: str  # what enforces it, for people: "EventBridge Scheduler schedule X" / "this machine"
    schedule: str | None = (
        None  # the schedule's name when it is a resource of its own (ledger kind "schedule")
    )
    role_arn: str | None = None  # the role the schedule runs as


class ExpiryKeeper(Protocol):
    # True: the expiry is a resource of its own (an AWS schedule) that deploy records in the ledger and
    # teardown deletes; False: it lives and dies with the endpoint's own record.
    recorded: bool

    def set(self, endpoint: str, at: dt.datetime) -> Scheduled:
        """Delete `endpoint` at `at` (replacing an earlier time). Raises NotFoundError when what runs the
        deletion is missing (e.g. the scheduler role: run provision)."""
        ...

    def get(self, endpoint: str) -> Scheduled | None:
        """The endpoint's scheduled deletion, or None when there is none (or it is not ours)."""
        ...

    def clear(self, endpoint: str) -> bool:
        """Cancel it: True when there was one, False when there was none."""
        ...
