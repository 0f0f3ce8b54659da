"""Every command's wall-clock deadline: `--timeout SECONDS`, or the command's default. A leaf (imports
only `errors`; the settings a default is computed from are only a type here).

A command gets one `Deadline`, started when its context is built: its `--timeout`, else its default
(`DefaultDeadline`, declared once where the command is registered: cli.command(..., deadline=...)).
Everything that waits fits inside it: the polling loops never sleep past it, every AWS request's
connect and read timeouts are what is left of it (never more than the usual 10 s and 70 s), botocore's
retries stop when it has passed, and a last-resort alarm (`alarm`) ends the command a little after it
if something still blocks. Time spent at a question to the user (`Deadline.paused`) does not count.
What the user then reads says what really happened: "AWS did not answer within 10 s" when the service
was silent, "still not finished" when it answered and the job was simply not done, and whether the
bound was their --timeout or the command's default.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nikkei_deepar.errors import UsageError, WaitTimeoutError

if TYPE_CHECKING:
    from nikkei_deepar.config import Settings

ALARM_GRACE = 3.0  # seconds past the deadline before the alarm fires (the polite paths end before)
MAX_SECONDS = 100 * 24 * 3600.0  # the longest --timeout (and default) taken: 100 days
SCALE_ENV = "NIKKEI_DEEPAR_DEFAULT_TIMEOUT_SCALE"  # multiplies every default deadline (not --timeout)


class DeadlineInterrupt(KeyboardInterrupt):
    """Raised by the alarm in the main thread. A KeyboardInterrupt, so every path that keeps the ledger
    consistent on Ctrl-C does the same here; the CLI reports it as exit 8, not 130."""


@dataclass
class Deadline:
    seconds: float
    at: float
    clock: Callable[[], float]
    given: bool = True  # False: the command's default (no --timeout on the command line)

    @classmethod
    def start(cls, seconds: float, *, clock: Callable[[], float], given: bool = True) -> Deadline:
        seconds = max(0.0, seconds)
        return cls(seconds=seconds, at=clock() + seconds, clock=clock, given=given)

    paused_at: float | None = None  # inside `paused`: the time stands still at this clock reading

    def remaining(self) -> float:
        return self.at - (self.paused_at if self.paused_at is not None else self.clock())

    def expired(self) -> bool:
        return self.remaining() <= 0

    @property
    def named(self) -> str:
        """What bounds the command, for messages: "--timeout 10", or "its default deadline of 60 s"."""
        return f"--timeout {self.seconds:g}" if self.given else f"its default deadline of {self.seconds:g} s"

    @property
    def ran_out(self) -> str:
        """What ran out, for messages: "its --timeout of 10 s", or "its default deadline of 60 s"."""
        return f"its --timeout of {self.seconds:g} s" if self.given else self.named

    @property
    def raise_hint(self) -> str:
        return "raise --timeout" if self.given else "pass a longer --timeout SECONDS"

    def silent(self, what: str, *, status: int | None = None) -> WaitTimeoutError:
        """The error for an AWS request that had not succeeded when the time was up."""
        if status:
            said = f"AWS kept failing (HTTP {status}) until {self.ran_out} ran out"
        else:
            said = f"AWS did not answer within {self.seconds:g} s ({self.named})"
        return WaitTimeoutError(
            f"{what}: {said}",
            hint="nothing was changed by the unanswered request; check the network, the region and "
            f"AWS_ENDPOINT_URL, then run the command again (or {self.raise_hint})",
            code="aws-silent",
        )

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """The time spent inside does not count (a question to the user, the wait for the ledger lock
        that --wait-lock bounds): the deadline, and the alarm if one is set, move on by it. Inside, what
        is left stays what it was, so a request made while waiting gets the time the command had."""
        if self.paused_at is not None:  # already paused: the outer pause counts it
            yield
            return
        started = self.paused_at = self.clock()
        left = _stop_alarm()
        try:
            yield
        finally:
            self.paused_at = None
            self.at += max(0.0, self.clock() - started)
            if left > 0:
                signal.setitimer(signal.ITIMER_REAL, left)


# -- default deadlines ---------------------------------------------------------------------------------
Options = Mapping[str, Any]  # the command's own options, by parameter name (dry_run, wait, batch, ...)


@dataclass(frozen=True)
class DefaultDeadline:
    """How long a command may run when no --timeout is given: `rule(settings, options)` seconds, and the
    same rule in words (`text`, shown in --help and listed in the docs)."""

    text: str
    rule: Callable[[Settings, Options], float]

    def seconds(self, settings: Settings, options: Options) -> float:
        return float(self.rule(settings, options))


def fixed(seconds: float) -> DefaultDeadline:
    return DefaultDeadline(f"{seconds:g} s", lambda settings, options: seconds)


def by_option(option: str, flag: str, *, off: DefaultDeadline, on: DefaultDeadline) -> DefaultDeadline:
    """`on` when the boolean option `option` (spelled `flag` on the command line) is set, else `off`."""
    return DefaultDeadline(
        f"{off.text}; with {flag}: {on.text}",
        lambda settings, options: (on if options.get(option) else off).seconds(settings, options),
    )


def total(text: str, *parts: DefaultDeadline) -> DefaultDeadline:
    """The sum of `parts` (a command that runs several others in turn), described as `text`."""
    return DefaultDeadline(text, lambda settings, options: sum(p.seconds(settings, options) for p in parts))


def _job_limit(settings: Settings) -> float:
    training = settings.training
    return float(training.max_wait_seconds if training.spot else training.max_runtime_seconds)


JOB_MARGIN = 1800.0  # a SageMaker job also starts an instance, fetches its data and stores the model
BATCH_LIMIT = 3600.0  # a batch transform job (TransformSpec.max_runtime_seconds)

# -- the defaults the commands are registered with (cli.py), each saying in words what it computes ------
READ_ONLY = fixed(60)  # a handful of reads: status, doctor, config, the dry runs
CHANGES = fixed(300)  # a few creations or deletions and no long wait; what a command gets unless it says
CHANGES_OR_DRY_RUN = by_option("dry_run", "--dry-run", off=CHANGES, on=READ_ONLY)  # provision, teardown
PREPARE = DefaultDeadline(
    "[data] download_timeout_seconds + 5 min (300 + 300 s)",
    lambda settings, options: settings.data.download_timeout_seconds + 300.0,
)
TRAINING = DefaultDeadline(  # wait: the job's own limit
    "[training] max_runtime_seconds (max_wait_seconds with spot) + 30 min (3600 + 1800 s)",
    lambda settings, options: _job_limit(settings) + JOB_MARGIN,
)
# train follows the job with --wait, and the local backend trains inside the command itself
TRAIN = DefaultDeadline(
    f"600 s; with --wait, or backend = local (it trains in the command): {TRAINING.text}",
    lambda settings, options: (
        TRAINING.seconds(settings, options) if options.get("wait") or settings.backend == "local" else 600.0
    ),
)
ENDPOINT = DefaultDeadline(  # deploy: its wait for the endpoint
    "[endpoint] wait_timeout_seconds + 10 min (3600 + 600 s)",
    lambda settings, options: settings.endpoint.wait_timeout_seconds + 600.0,
)
# a real-time answer (SageMaker ends a slow model's at 60 s), or a batch transform job
PREDICT = by_option("batch", "--batch", off=fixed(120), on=fixed(BATCH_LIMIT + JOB_MARGIN))
# each model backtest trains (once, or at every window with --retrain) runs on this machine, where
# [training] max_runtime_seconds is a local job's limit too
BACKTEST = DefaultDeadline(
    "[training] max_runtime_seconds per model trained (one, or --windows with --retrain) + 10 min",
    lambda settings, options: (
        settings.training.max_runtime_seconds * (options.get("windows", 1) if options.get("retrain") else 1)
        + 600.0
    ),
)
RETRAIN = total("prepare's + wait's + deploy's (600 + 5400 + 4200 s)", PREPARE, TRAINING, ENDPOINT)


def default_scale(env: Mapping[str, str]) -> float:
    """$NIKKEI_DEEPAR_DEFAULT_TIMEOUT_SCALE (default 1): every default deadline times this (a slow
    network, or tests that want the defaults small); --timeout is never scaled."""
    hint = "unset it, or set it to e.g. 2 (every default deadline twice as long)"
    return env_scale(env, SCALE_ENV, hint=hint)


def env_scale(env: Mapping[str, str], name: str, *, hint: str) -> float:
    """The multiplier in $`name`: 1 when unset or empty; else a number above 0, at most 1000 (a UsageError,
    exit 2, otherwise)."""
    raw = env.get(name, "").strip()
    if not raw:
        return 1.0
    try:
        scale = float(raw)
    except ValueError:
        scale = math.nan
    if not (math.isfinite(scale) and 0 < scale <= 1000):
        raise UsageError(f"{name}={raw!r}: not a number from above 0 to 1000", hint=hint, code="config")
    return scale


def check_seconds(value: float | None) -> float | None:
    """A --timeout value: None (not given) or a finite number of seconds above 0, at most 100 days."""
    if value is None:
        return None
    if not (math.isfinite(value) and 0 < value <= MAX_SECONDS):
        raise ValueError(f"expected seconds above 0, at most {MAX_SECONDS:.0f} (100 days); got {value:g}")
    return value


# -- the backstop ----------------------------------------------------------------------------------------
@contextlib.contextmanager
def alarm(seconds: float | None) -> Iterator[None]:
    """Raise DeadlineInterrupt in the main thread `seconds` (+ ALARM_GRACE) from now; no-op elsewhere."""
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def fire(signum: int, frame: object) -> None:
        raise DeadlineInterrupt

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, min(MAX_SECONDS, max(0.0, seconds)) + ALARM_GRACE)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _stop_alarm() -> float:
    """Stop the alarm, if one is set in this (main) thread; return the seconds it had left (0: none)."""
    if threading.current_thread() is not threading.main_thread():
        return 0.0
    left, _ = signal.setitimer(signal.ITIMER_REAL, 0)
    return float(left)
