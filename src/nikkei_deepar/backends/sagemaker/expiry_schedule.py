"""Endpoint expiry on AWS: one EventBridge Scheduler schedule per endpoint, run as the scheduler role.

The schedule (aws/scheduler.py) is a one-time `at(...)` in UTC whose universal target calls SageMaker
DeleteEndpoint with the endpoint's name, and deletes itself after running. It runs as
`[aws] scheduler_role_name`, which `provision` creates with policy.scheduler_trust_policy and
policy.scheduler_policy (DeleteEndpoint on this endpoint only). The role's ARN is looked up in IAM (one
GetRole) each time; a missing role is a NotFoundError naming `provision`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from nikkei_deepar.aws.scheduler import expiry_schedule_name
from nikkei_deepar.backends.expiry import Scheduled
from nikkei_deepar.errors import NotFoundError

if TYPE_CHECKING:
    from nikkei_deepar.aws.iam import IamGateway
    from nikkei_deepar.aws.scheduler import SchedulerGateway


class SchedulerExpiry:
    recorded = True  # the schedule is a resource of its own: deploy records it, teardown deletes it

    def __init__(
        self,
        *,
        scheduler: Callable[[], SchedulerGateway],
        iam: Callable[[], IamGateway],
        region: Callable[[], str],
        role_name: str,
    ) -> None:
        self._scheduler = scheduler
        self._iam = iam
        self._region = region
        self.role_name = role_name

    def role_arn(self) -> str:
        arn = self._iam().role_arn(self.role_name)
        if arn is None:
            raise NotFoundError(
                f"IAM role {self.role_name!r} (run by EventBridge Scheduler to delete the endpoint when it "
                "expires) does not exist",
                hint='run `nikkei-deepar provision` to create it, or set [endpoint] expires_after = "off" '
                "(or deploy --expires-in off) to deploy without an expiry",
                code="scheduler-role-missing",
            )
        return arn

    def set(self, endpoint: str, at: dt.datetime) -> Scheduled:
        role = self.role_arn()
        name = expiry_schedule_name(endpoint)
        self._scheduler().put_expiry(name, endpoint=endpoint, at=at, role_arn=role, region=self._region())
        return Scheduled(
            endpoint,
            at.astimezone(dt.UTC).replace(second=0, microsecond=0),
            f"EventBridge Scheduler schedule {name}",
            schedule=name,
            role_arn=role,
        )

    def get(self, endpoint: str) -> Scheduled | None:
        name = expiry_schedule_name(endpoint)
        found = self._scheduler().get_expiry(name)
        if found is None or found.at is None or not found.deletes(endpoint, region=self._region()):
            return None
        return Scheduled(
            endpoint,
            found.at,
            f"EventBridge Scheduler schedule {name}",
            schedule=name,
            role_arn=found.role_arn,
        )

    def clear(self, endpoint: str) -> bool:
        return self._scheduler().delete_expiry(expiry_schedule_name(endpoint))
