"""The AWS gateways one command uses, typed: `ctx.aws.s3`, `.iam`, `.sts`, `.sagemaker`, `.runtime`, `.logs`,
`.scheduler` (endpoint expiry) and `.pricing` (the Price List API).

Each gateway is built on first use and then reused for the rest of the command; building one builds its
botocore client only when its first request is made (aws/session.py). Constructing `AwsServices` imports
neither boto3 nor any gateway module, so a command that never talks to AWS never pays for them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from nikkei_deepar.aws.session import AwsClients

if TYPE_CHECKING:
    from nikkei_deepar.aws.iam import IamGateway
    from nikkei_deepar.aws.logs import LogsGateway
    from nikkei_deepar.aws.pricing import PricingGateway
    from nikkei_deepar.aws.runtime import RuntimeGateway
    from nikkei_deepar.aws.s3 import S3Gateway
    from nikkei_deepar.aws.sagemaker import SageMakerGateway
    from nikkei_deepar.aws.scheduler import SchedulerGateway
    from nikkei_deepar.aws.sts import StsGateway
    from nikkei_deepar.deadline import Deadline


def connect(
    *,
    region: str | None,
    profile: str | None,
    retry_mode: Literal["legacy", "standard", "adaptive"] = "standard",
    max_attempts: int = 5,
    on_call: Callable[[str], None] | None = None,
    deadline: Deadline | None = None,
) -> AwsServices:
    """The gateways for one region and profile (the session is started on the first request); every
    request fits inside `deadline` (the command's --timeout) when there is one."""
    return AwsServices(
        AwsClients(
            region=region,
            profile=profile,
            retry_mode=retry_mode,
            max_attempts=max_attempts,
            on_call=on_call,
            deadline=deadline,
        )
    )


class AwsServices:
    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients

    @property
    def region_name(self) -> str:
        """The session's region (configured, AWS_REGION, or the profile's); AwsError when there is none."""
        return self.clients.region_name

    def client(self, service: str) -> Any:
        """The raw botocore client (tests inject errors through it); steps use the gateways."""
        return self.clients.client(service)

    @cached_property
    def s3(self) -> S3Gateway:
        from nikkei_deepar.aws.s3 import S3Gateway

        return S3Gateway(self.clients)

    @cached_property
    def iam(self) -> IamGateway:
        from nikkei_deepar.aws.iam import IamGateway

        return IamGateway(self.clients)

    @cached_property
    def sts(self) -> StsGateway:
        from nikkei_deepar.aws.sts import StsGateway

        return StsGateway(self.clients)

    @cached_property
    def sagemaker(self) -> SageMakerGateway:
        from nikkei_deepar.aws.sagemaker import SageMakerGateway

        return SageMakerGateway(self.clients)

    @cached_property
    def runtime(self) -> RuntimeGateway:
        from nikkei_deepar.aws.runtime import RuntimeGateway

        return RuntimeGateway(self.clients)

    @cached_property
    def logs(self) -> LogsGateway:
        from nikkei_deepar.aws.logs import LogsGateway

        return LogsGateway(self.clients)

    @cached_property
    def scheduler(self) -> SchedulerGateway:
        from nikkei_deepar.aws.scheduler import SchedulerGateway

        return SchedulerGateway(self.clients)

    @cached_property
    def pricing(self) -> PricingGateway:
        from nikkei_deepar.aws.pricing import PricingGateway

        return PricingGateway(self.clients)
