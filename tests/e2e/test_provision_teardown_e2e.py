"""The installed `nikkei-deepar` executable against a moto server: `provision` twice, then
`teardown --all --yes`, leaves the account exactly as it was, decoys untouched."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from ledger_edit import edited
from nikkei_deepar.ledger import Resource
from nikkei_deepar.state.local import LocalStateStore
from nikkei_deepar.workspace import Workspace
from sagemaker_script import create_hosting

pytestmark = pytest.mark.e2e

REGION = "ap-northeast-1"
OURS = {"project": "nikkei-deepar", "stage": "e2e", "managed-by": "nikkei-deepar"}
ROOT = "nikkei-deepar/nikkei-deepar/e2e"  # the workspace's keys: {prefix}/{project}/{stage}


def executable() -> str:
    found = shutil.which("nikkei-deepar") or str(Path(sys.executable).parent / "nikkei-deepar")
    assert Path(found).exists(), "the package must be installed (pip install -e .)"
    return found


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [executable(), *args],
        env=dict(os.environ),  # fake credentials, AWS_ENDPOINT_URL -> the moto server, tool home in tmp
        cwd=cwd,
        stdin=subprocess.DEVNULL,  # not a terminal, like cron
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def envelope(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(proc.stdout)  # exactly one JSON document on stdout
    assert doc["schema"] == "nikkei-deepar/result/v1"
    return doc


def write_config(tmp_path: Path, *, bucket: str, role: str, extra: str = "") -> Path:
    path = tmp_path / "nikkei-deepar.toml"
    path.write_text(
        f'[aws]\nregion = "{REGION}"\nbucket = "{bucket}"\nrole_name = "{role}"\nmax_attempts = 2\n'
        '[aws.tags]\nproject = "nikkei-deepar"\nstage = "e2e"\n' + extra,
        encoding="utf-8",
    )
    return path


def hosting(name: str, tags: dict[str, str]) -> None:
    """Someone else's (or our own) hosting resources, made with boto3 beside the tool."""
    client = boto3.client("sagemaker", region_name=REGION)
    create_hosting(client, name, tags, role_arn="arn:aws:iam::123456789012:role/whatever")


def make_decoys() -> None:
    hosting("users-untagged", {})
    hosting("someone-elses", {"managed-by": "someone-else", "team": "quant"})
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(
        Bucket="users-unrelated-bucket", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    s3.put_object(Bucket="users-unrelated-bucket", Key="notes.txt", Body=b"mine")


def snapshot() -> dict[str, Any]:
    """Everything a provision/teardown could touch, including the decoys' contents and tags."""
    sm = boto3.client("sagemaker", region_name=REGION)
    s3 = boto3.client("s3", region_name=REGION)
    iam = boto3.client("iam", region_name=REGION)
    buckets = sorted(b["Name"] for b in s3.list_buckets()["Buckets"])
    endpoints = {e["EndpointName"]: e["EndpointArn"] for e in sm.list_endpoints()["Endpoints"]}
    return {
        "buckets": buckets,
        "objects": {
            b: sorted(
                (v["Key"], v["VersionId"]) for v in s3.list_object_versions(Bucket=b).get("Versions", [])
            )
            for b in buckets
        },
        "roles": sorted(r["RoleName"] for r in iam.list_roles()["Roles"]),
        "role_policies": {
            r["RoleName"]: sorted(iam.list_role_policies(RoleName=r["RoleName"])["PolicyNames"])
            for r in iam.list_roles()["Roles"]
        },
        "endpoints": sorted(endpoints),
        "endpoint_tags": {n: sm.list_tags(ResourceArn=a)["Tags"] for n, a in sorted(endpoints.items())},
        "configs": sorted(c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]),
        "models": sorted(m["ModelName"] for m in sm.list_models()["Models"]),
    }


def simulate_deploy(home: Path, name: str) -> None:
    """What `deploy` leaves: tagged hosting resources (with their endpoint's name), each recorded in the
    ledger of the config's workspace (nikkei-deepar/e2e) under the tool's `home`."""
    hosting(name, {**OURS, "nikkei-deepar:endpoint": name})
    store = LocalStateStore(Workspace(OURS["project"], OURS["stage"]).folder(home))
    with edited(store) as ledger:
        for kind in ("model", "endpoint-config", "endpoint"):
            ledger.record_resource(Resource(kind=kind, name=name, region=REGION))  # type: ignore[arg-type]


def test_provision_twice_then_teardown_all_restores_the_account(
    moto_server: str, tmp_path: Path, tool_home: Path
) -> None:
    make_decoys()
    before = snapshot()
    write_config(tmp_path, bucket="nd-e2e-bucket", role="nd-e2e-role")

    dry = cli("provision", "--dry-run", "--json", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert {i["action"] for i in envelope(dry)["data"]["items"]} == {"create"}
    assert snapshot() == before  # a dry run changes nothing

    first = cli("provision", "--json", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    data = envelope(first)["data"]
    assert data["changed"] is True and data["role_arn"] == "arn:aws:iam::123456789012:role/nd-e2e-role"
    assert "created bucket nd-e2e-bucket" in first.stderr  # progress on stderr

    second = cli("provision", "--json", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert envelope(second)["data"]["changed"] is False
    assert {i["action"] for i in envelope(second)["data"]["items"]} == {"ok"}
    human = cli("provision", cwd=tmp_path)
    assert "no changes: everything was already in place" in human.stdout

    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket="nd-e2e-bucket", Key=f"{ROOT}/data/abc/train/train.json", Body=b"{}")
    s3.put_object(Bucket="nd-e2e-bucket", Key=f"{ROOT}/data/abc/train/train.json", Body=b"{}\n")
    s3.delete_object(Bucket="nd-e2e-bucket", Key=f"{ROOT}/data/abc/train/train.json")
    simulate_deploy(tool_home, "nd-e2e-endpoint")

    refused = cli("teardown", "--all", cwd=tmp_path)
    assert refused.returncode == 2
    assert "refusing to delete without confirmation: pass --yes" in refused.stderr
    assert "nd-e2e-endpoint" in snapshot()["endpoints"]

    gone = cli("teardown", "--all", "--yes", "--json", cwd=tmp_path)
    assert gone.returncode == 0, gone.stderr
    result = envelope(gone)["data"]
    assert result["deleted"] == [
        "endpoint nd-e2e-endpoint",
        "endpoint-config nd-e2e-endpoint",
        "model nd-e2e-endpoint",
        "role nd-e2e-role",
        "role nikkei-deepar-e2e-scheduler",  # {endpoint}-scheduler: the endpoint is {project}-{stage}
        "bucket nd-e2e-bucket",
    ]
    assert result["left_alone"] == ["endpoint someone-elses", "endpoint users-untagged"]

    assert snapshot() == before

    again = cli("teardown", "--all", "--yes", cwd=tmp_path)
    assert again.returncode == 0 and again.stdout.splitlines()[-1].startswith("nothing to delete")


def test_existing_bucket_and_role_survive_provision_and_teardown_all(
    moto_server: str, tmp_path: Path
) -> None:
    make_decoys()
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="users-data-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="users-data-bucket", Key="prices.csv", Body=b"date,close\n")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    boto3.client("iam", region_name=REGION).create_role(
        RoleName="users-sagemaker-role", AssumeRolePolicyDocument=json.dumps(trust)
    )
    before = snapshot()
    # endpoints that never expire: no scheduler role either, so provision creates nothing at all here
    no_expiry = '[endpoint]\nexpires_after = "off"\n'
    write_config(tmp_path, bucket="users-data-bucket", role="users-sagemaker-role", extra=no_expiry)

    for _ in range(2):
        run = cli("provision", "--json", cwd=tmp_path)
        assert run.returncode == 0, run.stderr
        items = {i["resource"]: i for i in envelope(run)["data"]["items"]}
        assert items["bucket"]["action"] == "use" and items["role"]["action"] == "use"
        assert items["bucket.write-access"]["status"] == "done"
        assert envelope(run)["data"]["changed"] is False
    assert snapshot() == before  # used as it is: nothing modified, the probe left no trace

    gone = cli("teardown", "--all", "--yes", "--json", cwd=tmp_path)
    assert gone.returncode == 0, gone.stderr
    result = envelope(gone)["data"]
    assert result["deleted"] == []
    assert "bucket users-data-bucket" in result["left_alone"]
    assert "role users-sagemaker-role" in result["left_alone"]
    human = cli("teardown", "--all", "--yes", cwd=tmp_path)
    assert "left alone" in human.stdout and "users-data-bucket" in human.stdout
    assert snapshot() == before


def test_wrong_region_bucket_exit_code_and_json(moto_server: str, tmp_path: Path) -> None:
    boto3.client("s3", region_name="eu-west-1").create_bucket(
        Bucket="users-irish-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    before = snapshot()
    write_config(tmp_path, bucket="users-irish-bucket", role="nd-e2e-role")
    run = cli("provision", "--json", cwd=tmp_path)
    assert run.returncode == 2
    doc = envelope(run)
    assert doc["status"] == "error" and doc["errors"][0]["code"] == "bucket-region"
    assert snapshot() == before
