"""EventBridge Scheduler gateway: the one-time schedule that deletes an endpoint when it expires.

The expiry is enforced by AWS, not by this machine: a one-time schedule (`at(...)` in UTC, no flexible
window) whose universal target calls SageMaker DeleteEndpoint with the endpoint's name, run by the
expiry role (policy.scheduler_policy). `ActionAfterCompletion = DELETE` makes the schedule remove
itself once it has run, so nothing is left behind. Schedules carry no tags (the API has none for
schedules): ours are known by name (`expiry_schedule_name`) and by the ledger.

Methods are named by intent; "not found" is a normal answer (None / False).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from nikkei_deepar.aws.errors import aws_errors, error_code
from nikkei_deepar.aws.session import AwsClients

GROUP = "default"
_AT_RE = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
# Schedule names: 1-64 of [0-9a-zA-Z-_.] (botocore's model); endpoint names here are at most 50.
_SUFFIX = "-expiry"


def expiry_schedule_name(endpoint: str) -> str:
    return f"{endpoint}{_SUFFIX}"[:64]


def delete_endpoint_target(region: str) -> str:
    """The universal target that calls sagemaker:DeleteEndpoint (partition-aware)."""
    from nikkei_deepar.images import partition

    return f"arn:{partition(region)}:scheduler:::aws-sdk:sagemaker:deleteEndpoint"


def at_expression(when: dt.datetime) -> str:
    """`at(yyyy-mm-ddThh:mm:ss)` for a time in UTC (seconds dropped: the schedule is per minute anyway)."""
    utc = when.astimezone(dt.UTC).replace(second=0, microsecond=0)
    return f"at({utc:%Y-%m-%dT%H:%M:%S})"


def parse_at_expression(expression: str, timezone: str | None = "UTC") -> dt.datetime | None:
    """The time an `at(...)` expression names, in UTC; None for anything else (rate/cron, other zones)."""
    match = _AT_RE.match(expression or "")
    if match is None or (timezone or "UTC") != "UTC":
        return None
    return dt.datetime.fromisoformat(match.group(1)).replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Expiry:
    """What an expiry schedule says, as AWS holds it."""

    name: str
    arn: str
    at: dt.datetime | None  # None: not a one-time UTC schedule (someone edited it)
    expression: str
    target_arn: str
    endpoint: str | None  # the EndpointName in the target's input
    role_arn: str
    state: str  # ENABLED | DISABLED
    after_completion: str | None

    def deletes(self, endpoint: str, *, region: str) -> bool:
        """Whether this schedule, when it runs, deletes `endpoint` (and nothing else)."""
        return (
            self.target_arn == delete_endpoint_target(region)
            and self.endpoint == endpoint
            and self.state == "ENABLED"
            and self.at is not None
        )

    def targets(self, endpoint: str, *, region: str) -> bool:
        """Whether its target is SageMaker DeleteEndpoint on `endpoint` (whatever its time or state): the
        schedule is that endpoint's expiry, which this tool may move or delete."""
        return self.target_arn == delete_endpoint_target(region) and self.endpoint == endpoint

    def describe_target(self) -> str:
        """What it runs, for a message: "deletes endpoint x as role r" or "runs arn:... (rate(1 day))"."""
        if self.endpoint is not None and self.target_arn.endswith(":deleteEndpoint"):
            return f"deletes endpoint {self.endpoint} as {self.role_arn or 'no role'}"
        return f"runs {self.target_arn or 'no target'} ({self.expression})"

    def to_data(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "arn": self.arn,
            "at": self.at.isoformat() if self.at else None,
            "expression": self.expression,
            "target": self.target_arn,
            "endpoint": self.endpoint,
            "role_arn": self.role_arn,
            "state": self.state,
            "action_after_completion": self.after_completion,
        }


def _expiry(found: dict[str, Any]) -> Expiry:
    target = found.get("Target") or {}
    try:
        payload = json.loads(target.get("Input") or "{}")
    except ValueError:
        payload = {}
    endpoint = payload.get("EndpointName") if isinstance(payload, dict) else None
    expression = str(found.get("ScheduleExpression", ""))
    return Expiry(
        name=str(found["Name"]),
        arn=str(found.get("Arn", "")),
        at=parse_at_expression(expression, found.get("ScheduleExpressionTimezone")),
        expression=expression,
        target_arn=str(target.get("Arn", "")),
        endpoint=str(endpoint) if endpoint is not None else None,
        role_arn=str(target.get("RoleArn", "")),
        state=str(found.get("State", "ENABLED")),
        after_completion=found.get("ActionAfterCompletion"),
    )


def schedule_request(
    name: str, *, endpoint: str, at: dt.datetime, role_arn: str, region: str
) -> dict[str, Any]:
    """CreateSchedule / UpdateSchedule's request: a one-time `at(...)` in UTC that deletes `endpoint`,
    run as `role_arn`, deleting itself afterwards (also checked offline by the request plan)."""
    return {
        "Name": name,
        "GroupName": GROUP,
        "Description": f"nikkei-deepar: delete SageMaker endpoint {endpoint} when it expires",
        "ScheduleExpression": at_expression(at),
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "ActionAfterCompletion": "DELETE",
        "State": "ENABLED",
        "Target": {
            "Arn": delete_endpoint_target(region),
            "RoleArn": role_arn,
            "Input": json.dumps({"EndpointName": endpoint}),
            # A failed delete (e.g. the endpoint is Updating) is retried by the scheduler for a while.
            "RetryPolicy": {"MaximumEventAgeInSeconds": 6 * 3600, "MaximumRetryAttempts": 20},
        },
    }


class SchedulerGateway:
    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients

    @property
    def client(self) -> Any:
        return self._clients.client("scheduler")

    def get_expiry(self, name: str) -> Expiry | None:
        import botocore.exceptions as bx

        with aws_errors(f"reading schedule {name}"):
            try:
                found = self.client.get_schedule(Name=name, GroupName=GROUP)
            except bx.ClientError as exc:
                if error_code(exc) == "ResourceNotFoundException":
                    return None
                raise
        return _expiry(found)

    def put_expiry(self, name: str, *, endpoint: str, at: dt.datetime, role_arn: str, region: str) -> str:
        """Create the schedule, or move an existing one (UpdateSchedule replaces every field, so both
        send the whole definition). Returns "created" or "updated"."""
        import botocore.exceptions as bx

        request = schedule_request(name, endpoint=endpoint, at=at, role_arn=role_arn, region=region)
        with aws_errors(f"scheduling the expiry of endpoint {endpoint} ({name})"):
            try:
                self.client.create_schedule(**request)
                return "created"
            except bx.ClientError as exc:
                if error_code(exc) != "ConflictException":
                    raise
            self.client.update_schedule(**request)
            return "updated"

    def delete_expiry(self, name: str) -> bool:
        """True when deleted now, False when it was already gone (it may have run and removed itself)."""
        import botocore.exceptions as bx

        with aws_errors(f"deleting schedule {name}"):
            try:
                self.client.delete_schedule(Name=name, GroupName=GROUP)
            except bx.ClientError as exc:
                if error_code(exc) == "ResourceNotFoundException":
                    return False
                raise
        return True
