"""STS gateway: who is calling, and in which account. Read-only."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from nikkei_deepar.aws.errors import aws_errors
from nikkei_deepar.aws.session import AwsClients


class StsGateway:
    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients

    @property
    def client(self) -> Any:
        return self._clients.client("sts")

    @cached_property
    def identity(self) -> dict[str, str]:
        """`Account`, `Arn` and `UserId` of the caller (asked once per command)."""
        with aws_errors("checking the AWS credentials (sts get-caller-identity)"):
            found = self.client.get_caller_identity()
        return {k: str(found[k]) for k in ("Account", "Arn", "UserId")}

    def account_id(self) -> str:
        return self.identity["Account"]

    def caller_arn(self) -> str:
        return self.identity["Arn"]


Gateway = StsGateway  # the name before gateways were typed; prefer StsGateway
