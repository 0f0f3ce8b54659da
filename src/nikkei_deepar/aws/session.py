"""boto3 sessions and clients, created lazily and once, with botocore's retry modes.

Nothing here runs at import time: `import boto3` happens on the first client a command asks for, so
`--help` and the local backend never pay for it. `AWS_ENDPOINT_URL` (used by the tests' moto server) is
honoured by boto3 itself. Every client checks each request against its service model before sending
it (`_refuse_bad_shapes`, aws/shapes.py).

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

from nikkei_deepar.aws.errors import aws_errors
from nikkei_deepar.errors import AwsError, ConfigError


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
    ) -> None:
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
                    raise AwsError(
                        f"AWS profile {self.profile!r} not found",
                        hint="check [aws] profile / AWS_PROFILE / --profile, or run `aws configure "
                        f"--profile {self.profile}`",
                        code="aws-profile",
                    ) from None
            if not self._session.region_name:
                raise AwsError(
                    "no AWS region configured",
                    hint="set [aws] region in the config, AWS_REGION, or pass --region",
                    code="aws-region",
                )
        return self._session

    def client(self, service: str) -> Any:
        if service not in self._clients:
            from botocore.config import Config

            cfg = Config(
                retries={"mode": self.retry_mode, "total_max_attempts": self.max_attempts},
                connect_timeout=10,
                read_timeout=70,  # invoke_endpoint may take up to 60 s
                user_agent_extra="nikkei-deepar",
            )
            started = time.perf_counter()
            with _collector_paused():
                self._clients[service] = self.session.client(service, config=cfg)
            self._clients[service].meta.events.register("before-parameter-build", _refuse_bad_shapes)
            _freeze_at_exit()
            if self._on_call is not None:
                self._on_call(f"{service} client ready in {time.perf_counter() - started:.2f}s")
                self._clients[service].meta.events.register("after-call", self._log_call)
        return self._clients[service]

    @property
    def region_name(self) -> str:
        return str(self.session.region_name)

    def _log_call(self, http_response: Any, parsed: Any, model: Any, **_: Any) -> None:
        if self._on_call is None:
            return
        meta = parsed.get("ResponseMetadata", {}) if isinstance(parsed, dict) else {}
        attempts = meta.get("RetryAttempts", 0)
        self._on_call(
            f"{model.service_model.service_name}.{model.name}: HTTP {meta.get('HTTPStatusCode')} "
            f"request-id {meta.get('RequestId', '-')}" + (f" after {attempts} retries" if attempts else "")
        )


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
