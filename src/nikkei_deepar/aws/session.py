"""boto3 sessions and clients, created lazily and once, with botocore's retry modes.

Nothing here runs at import time: `import boto3` happens on the first client a command asks for, so
`--help` and the local backend never pay for it. `AWS_ENDPOINT_URL` (used by the tests' moto server) is
honoured by boto3 itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from nikkei_deepar.aws.errors import aws_errors
from nikkei_deepar.errors import AwsError


class AwsClients:
    """One boto3 session per command; each service client is built the first time it is used."""

    def __init__(
        self,
        *,
        region: str | None,
        profile: str | None,
        retry_mode: str = "standard",
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
            import boto3
            import botocore.exceptions

            with aws_errors("starting an AWS session"):
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
            self._clients[service] = self.session.client(service, config=cfg)
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
