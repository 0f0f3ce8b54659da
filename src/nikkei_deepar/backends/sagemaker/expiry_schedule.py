"""Endpoint expiry on AWS: one EventBridge Scheduler schedule per endpoint, run as the scheduler role.

The schedule (aws/scheduler.py) is a one-time `at(...)` in UTC whose universal target calls SageMaker
DeleteEndpoint with the endpoint's name, and deletes itself after running. It runs as
`[aws] scheduler_role_name`, which `provision` creates with policy.scheduler_trust_policy and
policy.scheduler_policy (DeleteEndpoint on this endpoint only). The role's ARN is looked up in IAM (one
GetRole) each time; a missing role is a NotFoundError naming `provision`.

Schedules carry no tags. One of the schedule's name is this config's while its target deletes this
config's endpoint and it runs as this config's scheduler role; anything else of that name (someone's
schedule that happens to be called `<endpoint>-expiry`, or ours retargeted by hand) is never moved or
deleted: exit 2, nothing changed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from nikkei_deepar.aws.scheduler import expiry_schedule_name
from nikkei_deepar.backends.expiry import Scheduled
from nikkei_deepar.errors import NotFoundError, UsageError

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

    def _check_ours(self, endpoint: str, name: str, role: str | None) -> None:
        """Before moving or deleting the schedule of this name: it must be this endpoint's expiry."""
        found = self._scheduler().get_expiry(name)
        if found is None or (found.targets(endpoint, region=self._region()) and found.role_arn == role):
            return
        raise UsageError(
            f"schedule {name} exists but is not the expiry of endpoint {endpoint}: it "
            f"{found.describe_target()}; nothing changed",
            hint="someone else's schedule has this name: delete or rename it, or set [endpoint] name to "
            'another name (or deploy with --expires-in off / [endpoint] expires_after = "off")',
            code="schedule-not-ours",
        )

    def set(self, endpoint: str, at: dt.datetime) -> Scheduled:
        role = self.role_arn()
        name = expiry_schedule_name(endpoint)
        self._check_ours(endpoint, name, role)
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
        name = expiry_schedule_name(endpoint)
        self._check_ours(endpoint, name, self._iam().role_arn(self.role_name))
        return self._scheduler().delete_expiry(name)
