"""boto3 sessions and clients, created lazily and once, with botocore's retry modes.

Nothing here runs at import time: `import boto3` happens on the first client a command asks for, so
`--help` and the local backend never pay for it. `AWS_ENDPOINT_URL` (used by the tests' moto server) is
honoured by boto3 itself. Every client checks each request against its service model before sending
it (`_refuse_bad_shapes`, aws/shapes.py).

Time. Each request may wait `CONNECT_TIMEOUT` to connect and `READ_TIMEOUT` for an answer, and botocore
retries a silent service like any transient failure: left alone, 5 attempts of 70 s. Every command has
a `deadline` (its --timeout, or its default: deadline.py): each attempt's connect and read timeouts
are cut to what is left of it, a retry is not begun once it has passed, and the request then fails
with `Deadline.silent` (exit 8, "AWS did not answer within N s"). A real-time `InvokeEndpoint` that
timed out is never retried: SageMaker answers a slow model itself (ModelError after 60 s), so silence
there is the service or the network, and trying again would only double the wait.

Start-up cost. Building a client is mostly botocore parsing its service model (JSON, ~4 MB for
SageMaker) into hundreds of thousands of dicts and lists that live as long as the process. Python's
cyclic garbage collector walks them again and again while they are being built, and all of them once
more in the collection the interpreter makes at exit, only to find them alive or about to be freed
with the process anyway. So the collector is paused while boto3 is imported and while a session or a
client is built (`_collector_paused`; nothing built then is garbage), and once a client exists an exit
handler freezes what is still alive (`gc.freeze`), which the exit collection then skips. Measured on a
2-CPU machine: 40-50 ms less per SageMaker client and about 100 ms less at exit, per process. The only
other difference: reference cycles still alive at exit are not broken before the process ends (Python
makes no promise to finalise objects alive at exit; the ledger, its lock and every file are closed by
`with` blocks long before).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal

from nikkei_deepar.aws.errors import THROTTLING, aws_errors
from nikkei_deepar.deadline import Deadline
from nikkei_deepar.errors import AwsError, ConfigError, ProfileNotFoundError

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 70.0  # invoke_endpoint may take up to 60 s
MIN_READ_TIMEOUT = 2.0  # at a deadline: enough for one answer from a healthy service


class AwsClients:
    """One boto3 session per command; each service client is built the first time it is used."""

    def __init__(
        self,
        *,
        region: str | None,
        profile: str | None,
        retry_mode: Literal["legacy", "standard", "adaptive"] = "standard",
        max_attempts: int = 5,
        on_call: Callable[[str], None] | None = None,
        deadline: Deadline | None = None,
    ) -> None:
        self.deadline = deadline
        self.region = region
        self.profile = profile
        self.retry_mode = retry_mode
        self.max_attempts = max_attempts
        self._on_call = on_call
        self._session: Any = None
        self._clients: dict[str, Any] = {}

    @property
    def session(self) -> Any:
        if self._session is None:
            with _collector_paused():
                import boto3
                import botocore.exceptions

            with aws_errors("starting an AWS session"), _collector_paused():
                try:
                    self._session = boto3.Session(profile_name=self.profile, region_name=self.region)
                except botocore.exceptions.ProfileNotFound:
                    raise ProfileNotFoundError(
                        f"AWS profile {self.profile!r} not found",
                        hint="check [aws] profile / AWS_PROFILE / --profile, or run `aws configure "
                        f"--profile {self.profile}`",
                    ) from None
            if not self._session.region_name:
                raise AwsError(
                    "no AWS region configured",
                    hint="set [aws] region in the config, AWS_REGION, or pass --region",
                    code="aws-region",
                )
        return self._session

    def client(
        self,
        service: str,
        *,
        region: str | None = None,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        max_attempts: int | None = None,
    ) -> Any:
        """The client of `service` (in `region`, else the session's), built once. Each request may wait
        `connect_timeout` to connect and `read_timeout` for an answer, both cut to what is left of the
        deadline; `max_attempts` (else the configured one) counts the first attempt."""
        key = service if region is None else f"{service}@{region}"
        # the module's values read now, not when this was defined: one source for both this and the
        # `read_timeout` the messages quote
        connect_timeout = CONNECT_TIMEOUT if connect_timeout is None else connect_timeout
        read_timeout = READ_TIMEOUT if read_timeout is None else read_timeout
        if key not in self._clients:
            from botocore.config import Config

            connect = connect_timeout
            if self.deadline is not None:
                connect = max(MIN_READ_TIMEOUT, min(connect, self.deadline.remaining()))
            attempts = self.max_attempts if max_attempts is None else max_attempts
            cfg = Config(
                retries={"mode": self.retry_mode, "total_max_attempts": attempts},
                connect_timeout=connect,
                read_timeout=read_timeout,
                user_agent_extra="nikkei-deepar",
            )
            started = time.perf_counter()
            with _collector_paused():
                client = self.session.client(service, region_name=region, config=cfg)
            self._clients[key] = client
            client.meta.events.register("before-parameter-build", _refuse_bad_shapes)
            _freeze_at_exit()
            events = client.meta.events
            events.register_first("needs-retry", self._needs_retry)
            if self.deadline is not None:
                fit = _fit_to_deadline(client, self.deadline, connect=connect_timeout, read=read_timeout)
                events.register_first("before-send", fit)
            if self._on_call is not None:
                self._on_call(f"{service} client ready in {time.perf_counter() - started:.2f}s")
                events.register("after-call", self._log_call)
        return self._clients[key]

    @property
    def read_timeout(self) -> float:
        """How long the last request could wait for an answer (less near a deadline)."""
        if self.deadline is not None:
            return max(MIN_READ_TIMEOUT, min(READ_TIMEOUT, self.deadline.seconds))
        return READ_TIMEOUT

    @property
    def region_name(self) -> str:
        return str(self.session.region_name)

    def _needs_retry(
        self, attempts: int, operation: Any, caught_exception: Any = None, response: Any = None, **_: Any
    ) -> None:
        """Runs before botocore's retry handler: no retry of a failed attempt once the deadline has
        passed, and never of a timed-out InvokeEndpoint (see the module docstring). Raising here ends
        the call with that exception; returning None leaves the decision to botocore."""
        import botocore.exceptions as bx

        status, code = _status(response)
        failed = caught_exception is not None or status >= 500 or status == 429 or code in THROTTLING
        if failed and self.deadline is not None and self.deadline.expired():
            what = f"{operation.service_model.service_name}.{operation.name}"
            raise self.deadline.silent(what, status=None if caught_exception is not None else status)
        if operation.name == "InvokeEndpoint" and isinstance(caught_exception, bx.ReadTimeoutError):
            raise caught_exception

    def _log_call(self, http_response: Any, parsed: Any, model: Any, **_: Any) -> None:
        if self._on_call is None:
            return
        meta = parsed.get("ResponseMetadata", {}) if isinstance(parsed, dict) else {}
        attempts = meta.get("RetryAttempts", 0)
        self._on_call(
            f"{model.service_model.service_name}.{model.name}: HTTP {meta.get('HTTPStatusCode')} "
            f"request-id {meta.get('RequestId', '-')}" + (f" after {attempts} retries" if attempts else "")
        )


def _fit_to_deadline(client: Any, deadline: Deadline, *, connect: float, read: float) -> Callable[..., None]:
    """A before-send handler for `client`: each attempt waits to connect and for an answer no longer
    than what is left of `deadline` (but long enough for one last look at it: a poll describes once
    more when its time is up)."""

    def fit(request: Any, **_: Any) -> None:
        left = deadline.remaining()
        request.context["read_timeout"] = max(MIN_READ_TIMEOUT, min(read, left))
        _bound_connect(client, max(MIN_READ_TIMEOUT, min(connect, left)))

    return fit


def _bound_connect(client: Any, seconds: float) -> None:
    """Set the connect timeout of `client`'s next attempt. botocore takes a request's read timeout from
    `request.context` but its connect timeout only from the client's HTTP session, so it is set there:
    a private attribute, hence the care. Should botocore move it, connects keep the timeout the client
    was built with (already cut to the deadline then) and the alarm (deadline.alarm) stays the backstop;
    tests/hostile/test_deadlines.py notices."""
    from urllib3.util.timeout import Timeout

    http = getattr(getattr(client, "_endpoint", None), "http_session", None)
    current = getattr(http, "_timeout", None)
    if isinstance(current, Timeout):
        http._timeout = Timeout(connect=seconds, read=current.read_timeout)  # type: ignore[union-attr]


def _status(response: Any) -> tuple[int, str]:
    """(HTTP status, error code) of a needs-retry `response`: (http_response, parsed) or None."""
    if not isinstance(response, tuple) or len(response) != 2:
        return 0, ""
    http_response, parsed = response
    code = parsed.get("Error", {}).get("Code", "") if isinstance(parsed, dict) else ""
    return int(getattr(http_response, "status_code", 0) or 0), str(code)


def _refuse_bad_shapes(params: dict[str, Any], model: Any, **_: Any) -> None:
    """The last line before anything is sent: a request its service model refuses (enum, pattern,
    length, range; see aws/shapes.py) never leaves the machine. The steps check their requests before
    the first mutating call; this catches whatever they did not foresee."""
    from nikkei_deepar.aws.shapes import operation_problems

    found = operation_problems(model, params)
    if found:
        raise ConfigError(
            f"{model.service_model.service_name} {model.name}: AWS would refuse this request "
            f"({len(found)} problem{'s' if len(found) != 1 else ''}); nothing was sent",
            problems=[p.line() for p in found[:10]],
            hint="`nikkei-deepar config validate` names the config key behind each value",
            code="request-shape",
        )


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while long-lived objects are built (see the module docstring)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


_exit_freeze_registered = False


def _freeze_at_exit() -> None:
    """At interpreter exit, freeze what is alive, so that the last collection skips botocore's models."""
    global _exit_freeze_registered
    if not _exit_freeze_registered:
        atexit.register(gc.freeze)
        _exit_freeze_registered = True
