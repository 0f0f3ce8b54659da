"""Console links to a failed job's or endpoint's CloudWatch logs."""

from __future__ import annotations

from urllib.parse import unquote

from nikkei_deepar.console import endpoint_logs_url, training_job_logs_url


def _decoded_fragment(url: str) -> str:
    fragment = url.split("#", 1)[1]
    return unquote(unquote(fragment.replace("$", "%")))


def test_training_job_link_names_the_group_and_the_jobs_streams() -> None:
    url = training_job_logs_url("ap-northeast-1", "nikkei-deepar-20240101-120000-abcd")
    assert url.startswith(
        "https://ap-northeast-1.console.aws.amazon.com/cloudwatch/home?region=ap-northeast-1#"
    )
    assert "log-group/$252Faws$252Fsagemaker$252FTrainingJobs$3FlogStreamNameFilter$3D" in url
    assert _decoded_fragment(url) == (
        "logsV2:log-groups/log-group//aws/sagemaker/TrainingJobs?logStreamNameFilter="
        "nikkei-deepar-20240101-120000-abcd/"
    )


def test_endpoint_link_is_the_endpoints_own_group() -> None:
    url = endpoint_logs_url("us-east-1", "nikkei-deepar")
    assert url.endswith("#logsV2:log-groups/log-group/$252Faws$252Fsagemaker$252FEndpoints$252Fnikkei-deepar")
    assert "region=us-east-1" in url


def test_other_partitions_have_their_own_console() -> None:
    assert endpoint_logs_url("cn-north-1", "e").startswith("https://cn-north-1.console.amazonaws.cn/")
    assert endpoint_logs_url("us-gov-west-1", "e").startswith(
        "https://us-gov-west-1.console.amazonaws-us-gov.com/"
    )
