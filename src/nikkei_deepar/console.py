"""AWS console links to the CloudWatch logs of a training job or an endpoint. Pure: no network.

A failed job or endpoint is explained in its log, and finding that log by hand (which group, which
stream) is the slow part, so failures print the link. SageMaker writes training jobs to the log group
`/aws/sagemaker/TrainingJobs` (streams `{job}/algo-1-...`) and endpoints to
`/aws/sagemaker/Endpoints/{endpoint}`. The console's `#logsV2:` fragment wants the group name encoded
twice with `$` in place of `%`, and the query separators (`?`, `=`) encoded once.
"""

from __future__ import annotations

from urllib.parse import quote

TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"


def endpoint_log_group(endpoint: str) -> str:
    return f"/aws/sagemaker/Endpoints/{endpoint}"


def console_host(region: str) -> str:
    if region.startswith("cn-"):
        return f"https://{region}.console.amazonaws.cn"
    if region.startswith("us-gov-"):
        return f"https://{region}.console.amazonaws-us-gov.com"
    return f"https://{region}.console.aws.amazon.com"


def _fragment(text: str) -> str:
    return quote(quote(text, safe=""), safe="").replace("%", "$")


def log_group_url(region: str, group: str, *, stream_prefix: str | None = None) -> str:
    """The CloudWatch console page of `group` in `region`, its streams filtered by `stream_prefix`."""
    page = f"{console_host(region)}/cloudwatch/home?region={region}"
    url = f"{page}#logsV2:log-groups/log-group/{_fragment(group)}"
    if stream_prefix:
        url += "$3FlogStreamNameFilter$3D" + _fragment(stream_prefix)
    return url


def training_job_logs_url(region: str, job: str) -> str:
    return log_group_url(region, TRAINING_LOG_GROUP, stream_prefix=f"{job}/")


def endpoint_logs_url(region: str, endpoint: str) -> str:
    return log_group_url(region, endpoint_log_group(endpoint))
