"""`--timeout` is a wall-clock bound on the whole command, against a fake AWS on 127.0.0.1 that accepts
connections and never answers (`AWS_ENDPOINT_URL`).

Left alone, botocore would wait 70 s per attempt and retry five times (351 s); here `wait --timeout 2`
ends after about 2 s with exit 8 and says that AWS did not answer (not that the job is still running),
a real-time InvokeEndpoint that got no answer is not retried and does not blame the history length,
and a command stuck elsewhere is ended by the alarm a few seconds after its deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hostile.kit import assert_one_clean_error, run_exe, stalled_server, written
from nikkei_deepar.aws import session as aws_session
from nikkei_deepar.aws.runtime import RuntimeGateway as Runtime
from nikkei_deepar.aws.session import AwsClients
from nikkei_deepar.deadline import Deadline
from nikkei_deepar.errors import WaitTimeoutError

SAGEMAKER = '[aws]\nbucket = "nikkei-deepar-hostile-test"\n'


def test_wait_against_a_silent_aws_ends_at_its_timeout_with_exit_8(
    tmp_path: Path, hermetic_env: Path
) -> None:
    (tmp_path / "nikkei-deepar.toml").write_text(SAGEMAKER, encoding="utf-8")
    with stalled_server() as (url, accepted):
        r = run_exe(
            "wait",
            "--job",
            "nikkei-deepar-job-1",
            "--timeout",
            "2",
            cwd=tmp_path,
            env={"AWS_ENDPOINT_URL": url},
        )
    line = assert_one_clean_error(r, 8, "sagemaker.DescribeTrainingJob", "AWS did not answer within 2 s")
    assert "still not finished" not in line  # it never was asked: the job may be done
    assert "check the network" in r.stderr
    assert len(accepted) == 1  # one attempt, cut to the deadline: no retry after it
    assert written(hermetic_env) == []


def test_the_json_envelope_says_the_same(tmp_path: Path, hermetic_env: Path) -> None:
    (tmp_path / "nikkei-deepar.toml").write_text(SAGEMAKER, encoding="utf-8")
    with stalled_server() as (url, _):
        r = run_exe(
            "wait", "--job", "j", "--timeout", "1", "--json", cwd=tmp_path, env={"AWS_ENDPOINT_URL": url}
        )
    assert r.exit_code == 8
    [error] = r.json()["errors"]
    assert error["code"] == "aws-silent" and "AWS did not answer within 1 s" in error["message"]


def test_invoke_endpoint_inside_a_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    with stalled_server() as (url, accepted):
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        clients = AwsClients(
            region="ap-northeast-1", profile=None, deadline=Deadline.start(1.0, clock=time.monotonic)
        )
        with pytest.raises(WaitTimeoutError, match=r"InvokeEndpoint: AWS did not answer within 1 s"):
            Runtime(clients).invoke_endpoint(
                "ep", b"{}", content_type="application/json", accept="application/json"
            )
    assert len(accepted) == 1


def test_a_silent_invoke_endpoint_is_not_retried_and_blames_no_history(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(aws_session, "READ_TIMEOUT", 1.0)  # 70 s in real life
    with stalled_server() as (url, accepted):
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        clients = AwsClients(region="ap-northeast-1", profile=None, max_attempts=5)
        started = time.monotonic()
        with pytest.raises(WaitTimeoutError, match="SageMaker Runtime did not answer within 1 s") as caught:
            Runtime(clients).invoke_endpoint(
                "ep", b"{}", content_type="application/json", accept="application/json"
            )
    assert time.monotonic() - started < 30  # the 1 s the message quotes, not the 70 s it once waited
    assert len(accepted) == 1  # not 5
    assert "history" not in caught.value.message + (caught.value.hint or "")


def test_a_command_stuck_elsewhere_is_ended_by_the_alarm(
    tmp_path: Path, run_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from nikkei_deepar.steps import wait as wait_step

    monkeypatch.chdir(tmp_path)
    (tmp_path / "nikkei-deepar.toml").write_text('backend = "local"\n', encoding="utf-8")

    def stuck(*_: Any, **__: Any) -> Any:
        time.sleep(60)  # something that is not AWS and knows nothing of deadlines

    monkeypatch.setattr(wait_step, "run", stuck)
    r = run_cli("wait", "--timeout", "0.5", "--json")
    assert r.exit_code == 8
    [error] = r.json()["errors"]
    assert error["code"] == "timeout" and "--timeout of 0.5 s ran out" in error["message"]
