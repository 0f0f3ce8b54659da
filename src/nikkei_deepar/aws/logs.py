"""CloudWatch Logs gateway: a training job's log events, read incrementally.

SageMaker writes a job's logs to the group `/aws/sagemaker/TrainingJobs`, one stream per instance named
`{job}/algo-1-{epoch}`. Neither the group nor the streams exist until the instances start, so "not there
yet" is an empty answer, never an error. Reading resumes from each stream's `nextForwardToken`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import botocore.exceptions as bx

from nikkei_deepar.aws.errors import aws_errors, error_code
from nikkei_deepar.aws.session import AwsClients

TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
_MISSING = {"ResourceNotFoundException"}


@dataclass(frozen=True)
class LogLine:
    stream: str
    timestamp_ms: int
    message: str

    @property
    def timestamp(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.timestamp_ms / 1000, tz=dt.UTC)


class LogsGateway:
    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients

    @property
    def client(self) -> Any:
        return self._clients.client("logs")

    def stream_names(self, group: str, *, prefix: str) -> list[str]:
        """Streams in `group` whose names start with `prefix` ([] when the group does not exist yet)."""
        names: list[str] = []
        with aws_errors(f"listing log streams {group}/{prefix}*"):
            try:
                paginator = self.client.get_paginator("describe_log_streams")
                for page in paginator.paginate(logGroupName=group, logStreamNamePrefix=prefix):
                    names.extend(str(s["logStreamName"]) for s in page.get("logStreams", []))
            except bx.ClientError as exc:
                if error_code(exc) in _MISSING:
                    return []
                raise
        return names

    def events_after(
        self, group: str, stream: str, *, token: str | None, limit_pages: int = 20
    ) -> tuple[list[LogLine], str | None]:
        """Events of one stream after `token` (from the head when None), and the token to resume from.

        get_log_events pages forward until it hands back the same token: that means "no more for now".
        """
        lines: list[LogLine] = []
        with aws_errors(f"reading log stream {group}/{stream}"):
            for _ in range(limit_pages):
                request: dict[str, Any] = {
                    "logGroupName": group,
                    "logStreamName": stream,
                    "startFromHead": True,
                }
                if token:
                    request["nextToken"] = token
                try:
                    page = self.client.get_log_events(**request)
                except bx.ClientError as exc:
                    if error_code(exc) in _MISSING:
                        return lines, token
                    raise
                lines.extend(
                    LogLine(stream=stream, timestamp_ms=int(e["timestamp"]), message=str(e["message"]))
                    for e in page.get("events", [])
                )
                following = page.get("nextForwardToken")
                if not following or following == token:
                    break
                token = str(following)
        return lines, token

    def training_job_events(
        self, job: str, *, positions: Mapping[str, str]
    ) -> tuple[list[LogLine], dict[str, str]]:
        """New events of every stream of `job`, oldest first, and the updated per-stream positions."""
        updated = dict(positions)
        lines: list[LogLine] = []
        for stream in self.stream_names(TRAINING_LOG_GROUP, prefix=f"{job}/"):
            found, token = self.events_after(TRAINING_LOG_GROUP, stream, token=positions.get(stream))
            lines.extend(found)
            if token:
                updated[stream] = token
        lines.sort(key=lambda line: (line.timestamp_ms, line.stream))
        return lines, updated


Gateway = LogsGateway  # the name before gateways were typed; prefer LogsGateway
