"""AwsClients pauses the garbage collector only while it builds clients, and freezes only at exit."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from nikkei_deepar.aws import session
from nikkei_deepar.aws.session import AwsClients, _collector_paused
from nikkei_deepar.errors import AwsError

REGION = "ap-northeast-1"


def test_the_collector_runs_again_after_a_client_is_built(aws: None) -> None:
    assert gc.isenabled()
    clients = AwsClients(region=REGION, profile=None, max_attempts=1)

    assert clients.client("s3") is clients.client("s3")  # built once
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0  # nothing frozen while the process runs
    assert session._exit_freeze_registered


def test_the_collector_runs_again_after_a_failed_session() -> None:
    clients = AwsClients(region=REGION, profile="nope", max_attempts=1)

    with pytest.raises(AwsError, match="profile 'nope' not found"):
        clients.client("s3")
    assert gc.isenabled()


def test_a_pause_leaves_a_disabled_collector_disabled() -> None:
    gc.disable()
    try:
        with _collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(RuntimeError), _collector_paused():
        assert not gc.isenabled()
        raise RuntimeError
    assert gc.isenabled()


def test_a_process_that_built_a_client_freezes_at_exit_and_not_before() -> None:
    code = (
        "import atexit, gc\n"
        "atexit.register(lambda: print('at exit:', gc.get_freeze_count() > 0))\n"  # first in, last out
        "from nikkei_deepar.aws.session import AwsClients\n"
        "AwsClients(region='ap-northeast-1', profile=None).client('sts')\n"
        "print('running:', gc.get_freeze_count())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert done.stdout.splitlines() == ["running: 0", "at exit: True"]
