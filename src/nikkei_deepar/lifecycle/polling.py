"""`poll`: the one polling loop every step shares, with backoff, a cap and the command's deadline.

It describes something until it settles (never the botocore waiters: the stock training waiter calls
Stopped a success and polls every 120 s). It sleeps with `ctx.sleep` and reads `ctx.clock`, so tests
never really wait; it never sleeps past a deadline, and notices the end of a job at most one poll
interval after it happens. On a terminal it keeps one live status line; otherwise it prints a
timestamped line when the status changes (and a heartbeat now and then), fit for a cron log.

$NIKKEI_DEEPAR_POLL_SCALE (default 1; `poll_scale`) multiplies the pauses between two looks (the first
pause and the cap), for everyone who would rather ask AWS more often: tests against moto's server, where
every job and endpoint is already settled, set it small.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from nikkei_deepar.context import Context
from nikkei_deepar.deadline import env_scale
from nikkei_deepar.errors import WaitTimeoutError

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """Poll after `initial` seconds, then `factor` times longer each time, never more than `cap`."""

    initial: float = 5.0
    factor: float = 1.5
    cap: float = 30.0
    heartbeat: float = 300.0  # plain-line mode: repeat an unchanged status this often


TRAINING_BACKOFF = Backoff()
ENDPOINT_BACKOFF = Backoff(initial=10.0, factor=1.5, cap=30.0)
POLL_SCALE_ENV = "NIKKEI_DEEPAR_POLL_SCALE"


def poll_scale(env: Mapping[str, str]) -> float:
    """$NIKKEI_DEEPAR_POLL_SCALE (default 1): every pause between two looks times this."""
    return env_scale(env, POLL_SCALE_ENV, hint="unset it, or set it to e.g. 0.5 (look twice as often)")


def poll(
    ctx: Context,
    *,
    describe: Callable[[], T],
    done: Callable[[T], bool],
    render: Callable[[T, float], str],
    timeout: float | None,
    what: str,
    backoff: Backoff = TRAINING_BACKOFF,
    on_poll: Callable[[T], None] | None = None,
    key: Callable[[T], object] = lambda state: state,
) -> T:
    """Describe until `done`; return the last state. WaitTimeoutError once `timeout` seconds have passed.

    `render(state, elapsed)` makes the status line; `key(state)` is what counts as a change for the
    plain-line mode; `on_poll(state)` runs after every describe (log streaming).
    """
    reporter = ctx.reporter
    start = ctx.clock()
    deadline = None if timeout is None else start + max(0.0, timeout)
    reached, hint = "--timeout reached", "raise --timeout"
    command = ctx.deadline  # the command's own deadline bounds every wait inside it
    if command is not None and (deadline is None or command.at < deadline):
        deadline = command.at
        if not command.given:
            reached, hint = f"{command.named} reached", command.raise_hint
    delay, cap = backoff.initial * ctx.poll_scale, backoff.cap * ctx.poll_scale
    last_key: object = object()
    last_print = start
    while True:
        state = describe()
        if on_poll is not None:
            on_poll(state)
        now = ctx.clock()
        changed = key(state) != last_key
        if reporter.interactive or changed or now - last_print >= backoff.heartbeat:
            reporter.live(render(state, now - start))
            last_key, last_print = key(state), now
        if done(state):
            return state
        if deadline is not None and now >= deadline:
            raise WaitTimeoutError(
                f"{what}: still not finished after {duration(now - start)} ({reached})",
                hint=f"it keeps running: wait again later, or {hint}",
            )
        pause = delay if deadline is None else min(delay, deadline - now)
        ctx.sleep(max(0.0, pause))
        delay = min(delay * backoff.factor, cap)


def duration(seconds: float) -> str:
    """`75` -> "1m15s", `3725` -> "1h02m05s": how long something took, for people."""
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"
