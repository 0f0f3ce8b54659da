"""Remote state end to end (issue 22): two "hosts" (two tool homes, as a cron server and a laptop have)
share one `[state] url` on the moto server, which honours S3's conditional writes as S3 does.

Races, a killed holder and its lease run the installed executable, one process per command; the
sequential scenarios (one host deploys, the other sees it; unlock; a missing bucket) are what the tool
decides and run the same app in this process (`run_app`, `in_process` below)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from e2e_shell import moto_env, run_app
from sagemaker_script import REGION, in_progress

pytestmark = pytest.mark.e2e

EXE = Path(sys.executable).parent / "nikkei-deepar"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "prices" / "long" / "nikkei_en.csv"
BUCKET = "nikkei-deepar-team-bucket"
STATE_BUCKET = "nikkei-deepar-team-state"
CONFIG = f"""
[aws]
region = "{REGION}"
bucket = "{BUCKET}"
max_attempts = 2

[aws.tags]
project = "nikkei-deepar"
stage = "prod"

[endpoint]
expires_after = "24h"

[state]
url = "s3://{STATE_BUCKET}/teams"
lease_seconds = 12  # renewed every 4 s: a killed holder's lease outlives it by 8-12 s
"""
Host = Callable[..., subprocess.CompletedProcess[str]]


def host_env(moto_server: str, tmp_path: Path, name: str) -> dict[str, str]:
    return {
        **moto_env(moto_server, tmp_path, region=REGION),
        "NIKKEI_DEEPAR_HOME": str(tmp_path / name / "home"),
    }


in_process = pytest.mark.parametrize("hosts", ["in-process"], indirect=True)


@pytest.fixture
def hosts(request: pytest.FixtureRequest, moto_server: str, tmp_path: Path) -> tuple[Host, Host]:
    """Two hosts' `run(*args, expect=0, background=False)`: the executable, or the app in-process."""
    here = getattr(request, "param", "executable") == "in-process"
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_server)
    s3.create_bucket(Bucket=STATE_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=STATE_BUCKET, VersioningConfiguration={"Status": "Enabled"})

    def make(name: str) -> Host:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "nikkei-deepar.toml").write_text(CONFIG, encoding="utf-8")
        env = host_env(moto_server, tmp_path, name)

        def run(*args: str, expect: int | None = 0, background: bool = False) -> Any:
            argv = [str(EXE), *args]
            if here and not background:
                done = run_app(list(args), env=env, cwd=folder)
            elif background:
                return subprocess.Popen(
                    argv, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
                )
            else:
                done = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, timeout=180)
            if expect is not None:
                assert done.returncode == expect, (
                    f"{name} {args}: {done.returncode}\n{done.stdout}\n{done.stderr}"
                )
            assert "Traceback" not in done.stderr
            return done

        return run

    return make("cron-server"), make("laptop")


def state(moto_server: str) -> dict[str, Any]:
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_server)
    body = s3.get_object(Bucket=STATE_BUCKET, Key="teams/nikkei-deepar/prod/state.json")["Body"].read()
    return dict(json.loads(body))


@in_process
def test_one_host_deploys_the_other_sees_it_and_tears_it_down(
    hosts: tuple[Host, Host], moto_server: str
) -> None:
    server, laptop = hosts
    server("provision")
    server("prepare", "--input", str(FIXTURE))
    job = json.loads(server("train", "--wait", "--json").stdout)["data"]["job"]
    server("deploy")

    seen = json.loads(laptop("status", "--json").stdout)["data"]
    assert seen["ledger"] == f"s3://{STATE_BUCKET}/teams/nikkei-deepar/prod/state.json"
    assert seen["job"]["name"] == job and seen["endpoint"]["status"] == "InService"
    assert seen["drift"] == {"missing": [], "untracked": []}
    shown = laptop("state", "show")
    assert "lock: free" in shown.stdout and "endpoint nikkei-deepar-prod" in shown.stdout

    laptop("teardown", "--yes")
    sm = boto3.client("sagemaker", region_name=REGION, endpoint_url=moto_server)
    assert sm.list_endpoints()["Endpoints"] == []
    after = json.loads(server("status", "--json").stdout)["data"]
    assert after["endpoint"] is None
    assert not [
        r for r in state(moto_server)["resources"] if r["kind"] == "endpoint" and r["deleted_at"] is None
    ]


def test_two_hosts_racing_train_and_deploy_lose_no_update(hosts: tuple[Host, Host], moto_server: str) -> None:
    server, laptop = hosts
    server("provision")
    server("prepare", "--input", str(FIXTURE))
    racers = [h("train", "--force", "--wait-lock", "60", "--json", background=True) for h in (server, laptop)]
    outs = [p.communicate(timeout=180) for p in racers]
    assert [p.returncode for p in racers] == [0, 0], outs
    jobs = {json.loads(out)["data"]["job"] for out, _ in outs}
    assert len(jobs) == 2 and jobs <= {j["name"] for j in state(moto_server)["jobs"]}

    racers = [h("deploy", "--wait-lock", "60", "--json", background=True) for h in (server, laptop)]
    outs = [p.communicate(timeout=180) for p in racers]
    assert [p.returncode for p in racers] == [0, 0], outs
    actions = sorted(json.loads(out)["data"]["action"] for out, _ in outs)
    assert actions == ["created", "unchanged"]
    recorded = state(moto_server)
    assert len(recorded["deployments"]) == 1 and jobs <= {j["name"] for j in recorded["jobs"]}
    live = {(r["kind"], r["name"]) for r in recorded["resources"] if r["deleted_at"] is None}
    assert ("endpoint", "nikkei-deepar-prod") in live and ("schedule", "nikkei-deepar-prod-expiry") in live


def test_a_host_killed_holding_the_lease_is_taken_over_after_it_expires(
    hosts: tuple[Host, Host], moto_server: str, sm_script: Any
) -> None:
    server, laptop = hosts
    server("provision")
    server("prepare", "--input", str(FIXTURE))
    sm_script.next_training(*[in_progress()] * 3)  # runs on and on: `train --wait` holds the lease
    holder = server("train", "--wait", background=True)
    deadline = time.monotonic() + 90
    while not [j for j in _jobs(moto_server) if j["status"] == "InProgress"]:  # recorded: now waiting
        assert time.monotonic() < deadline and holder.poll() is None
        time.sleep(0.2)
    holder.send_signal(signal.SIGKILL)  # the cron server dies: its lease stays behind
    holder.wait(timeout=30)

    refused = laptop("deploy", expect=9)
    assert "state.lease: held by pid" in refused.stderr and "running `nikkei-deepar train`" in refused.stderr
    assert "expires by itself" in refused.stderr
    done = laptop("wait", "--wait-lock", "60", "--timeout", "2", expect=8)  # the job still runs: timeout
    assert "took over the lease" in done.stderr and "which expired" in done.stderr
    assert "teams/nikkei-deepar/prod/state.lease" not in json.dumps(_keys(moto_server))  # released again


@in_process
def test_unlock_clears_a_dead_lease_after_saying_whose_it_is(
    hosts: tuple[Host, Host], moto_server: str
) -> None:
    server, laptop = hosts
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_server)
    lease = {
        "format": "nikkei-deepar/lease/v1",
        "id": "x",
        "host": "dead-box",
        "pid": 1,
        "command": "retrain",
        "started": "2026-12-07T00:00:00Z",
        "expires": "2099-01-01T00:00:00Z",
    }
    s3.put_object(
        Bucket=STATE_BUCKET, Key="teams/nikkei-deepar/prod/state.lease", Body=json.dumps(lease).encode()
    )
    refused = laptop("state", "unlock", expect=2)
    assert "dead-box" in refused.stderr and "--force" in refused.stderr
    laptop("state", "unlock", "--force")
    server("prepare", "--input", str(FIXTURE))  # not locked any more


@in_process
def test_a_missing_or_unversioned_state_bucket_is_one_line(
    hosts: tuple[Host, Host], moto_server: str
) -> None:
    server, _ = hosts
    server("provision")
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_server)
    s3.put_bucket_versioning(Bucket=STATE_BUCKET, VersioningConfiguration={"Status": "Suspended"})
    done = server("doctor", expect=2)
    assert "does not keep versions (Suspended)" in done.stdout + done.stderr
    s3.put_bucket_versioning(Bucket=STATE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    doctor = json.loads(server("doctor", "--json", expect=None).stdout)["data"]
    names = {c["name"]: c["status"] for c in doctor["checks"]}
    assert names["state-bucket"] == "ok" and names["state-conditional-writes"] == "ok"
    versions = s3.list_object_versions(Bucket=STATE_BUCKET)
    for v in [*versions.get("Versions", []), *versions.get("DeleteMarkers", [])]:
        s3.delete_object(Bucket=STATE_BUCKET, Key=v["Key"], VersionId=v["VersionId"])
    s3.delete_bucket(Bucket=STATE_BUCKET)
    gone = server("prepare", "--input", str(FIXTURE), expect=5)
    assert f"S3 bucket '{STATE_BUCKET}' does not exist" in gone.stderr
    assert len(gone.stderr.strip().splitlines()) <= 2  # the error and its hint


def _jobs(moto_server: str) -> list[dict[str, Any]]:
    try:
        return list(state(moto_server)["jobs"])
    except Exception:  # not written yet
        return []


def _keys(moto_server: str) -> list[str]:
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_server)
    return [o["Key"] for o in s3.list_objects_v2(Bucket=STATE_BUCKET).get("Contents", [])]
