"""`--timeout` as a wall-clock bound on the whole command. A leaf (imports only `errors`).

A command given `--timeout N` gets one `Deadline`, started when its context is built. Everything that
waits fits inside it: the polling loops never sleep past it, every AWS request's read timeout is what
is left (never more than the usual 70 s), botocore's retries stop when it has passed, and a last-resort
alarm (`alarm`) ends the command a little after it if something still blocks. What the user then reads
says what really happened: "AWS did not answer within 10 s" when the service was silent, "still not
finished" when it answered and the job was simply not done.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from nikkei_deepar.errors import WaitTimeoutError

ALARM_GRACE = 3.0  # seconds past the deadline before the alarm fires (the polite paths end before)


class DeadlineInterrupt(KeyboardInterrupt):
    """Raised by the alarm in the main thread. A KeyboardInterrupt, so every path that keeps the ledger
    consistent on Ctrl-C does the same here; the CLI reports it as exit 8, not 130."""


@dataclass
class Deadline:
    seconds: float
    at: float
    clock: Callable[[], float]

    @classmethod
    def start(cls, seconds: float, *, clock: Callable[[], float]) -> Deadline:
        return cls(seconds=max(0.0, seconds), at=clock() + max(0.0, seconds), clock=clock)

    def remaining(self) -> float:
        return self.at - self.clock()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def silent(self, what: str, *, status: int | None = None) -> WaitTimeoutError:
        """The error for an AWS request that had not succeeded when the time was up."""
        if status:
            said = f"AWS kept failing (HTTP {status}) until the --timeout of {self.seconds:g} s"
        else:
            said = f"AWS did not answer within {self.seconds:g} s (--timeout {self.seconds:g})"
        return WaitTimeoutError(
            f"{what}: {said}",
            hint="nothing was changed by the unanswered request; check the network, the region and "
            "AWS_ENDPOINT_URL, then run the command again (or raise --timeout)",
            code="aws-silent",
        )


@contextlib.contextmanager
def alarm(seconds: float | None) -> Iterator[None]:
    """Raise DeadlineInterrupt in the main thread `seconds` (+ ALARM_GRACE) from now; no-op elsewhere."""
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def fire(signum: int, frame: object) -> None:
        raise DeadlineInterrupt

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, max(0.0, seconds) + ALARM_GRACE)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
