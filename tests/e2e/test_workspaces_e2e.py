"""Workspaces and ownership proven by AWS, end to end against the moto server, as users tried it (issue
21). State is keyed by project and stage; no copy of a config, no shared home, no shared role or schedule
name can make one stage change or delete another's resources.

What is tested here is what the tool decides, so the commands run in this process (`e2e_shell.run_app`:
the same app, environment and working directory, the moto server over HTTP); the headline scenario, a
prod config copied to dev, also runs through the installed executable with the default home."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from e2e_shell import moto_env, run_app
from sagemaker_script import ACCOUNT, REGION, completed

pytestmark = pytest.mark.e2e

EXE = Path(sys.executable).parent / "nikkei-deepar"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "prices" / "long" / "nikkei_en.csv"
BUCKET = "nikkei-deepar-shared-bucket"
OLD_DEFAULT_ROLE = "nikkei-deepar-sagemaker"  # what config init wrote into every config before workspaces
Cli = Callable[..., subprocess.CompletedProcess[str]]


def config(stage: str, *, bucket: str = BUCKET, extra_aws: str = "", extra: str = "") -> str:
    return (
        f'[aws]\nregion = "{REGION}"\nbucket = "{bucket}"\nmax_attempts = 2\n{extra_aws}'
        f'[aws.tags]\nproject = "nikkei-deepar"\nstage = "{stage}"\n'
        '[endpoint]\nexpires_after = "24h"\n' + extra
    )


HOMES = ["default-home", "shared-explicit-home"]
both_homes = pytest.mark.parametrize("cli", HOMES, indirect=True)  # where the home could make a difference
# the default home through the installed executable, the shared home in-process
executable_too = pytest.mark.parametrize("cli", ["executable", "shared-explicit-home"], indirect=True)


@pytest.fixture
def cli(request: pytest.FixtureRequest, moto_server: str, tmp_path: Path) -> Cli:
    """Run the executable from one project folder, the way a person with prod.toml and dev.toml beside each
    other would: with the default home (a fake $HOME), or, where a test asks for `both_homes`, also with
    one explicit NIKKEI_DEEPAR_HOME for both (the state of both stages under one home: the case where
    keying it by workspace is what keeps them apart). In-process (`run_app`) but for "executable"."""
    project = tmp_path / "project"
    project.mkdir()
    env = {
        **moto_env(moto_server, tmp_path, region=REGION, drop=("XDG_",)),
        "HOME": str(tmp_path / "user-home"),
    }
    home = getattr(request, "param", "default-home")
    if home == "shared-explicit-home":
        env["NIKKEI_DEEPAR_HOME"] = str(tmp_path / "one-home-for-all")

    def run(*args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        if home != "executable":
            done = run_app(list(args), env=env, cwd=project)
        else:
            argv = [str(EXE), *args]
            done = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=180)
        assert done.returncode == expect, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr
        return done

    run.project = project  # type: ignore[attr-defined]
    return run


def write(cli: Cli, name: str, text: str) -> str:
    (cli.project / name).write_text(text, encoding="utf-8")  # type: ignore[attr-defined]
    return name


def aws(server: str, service: str) -> Any:
    return boto3.client(service, region_name=REGION, endpoint_url=server)


def bucket_tags(server: str) -> dict[str, str]:
    tags = aws(server, "s3").get_bucket_tagging(Bucket=BUCKET)["TagSet"]
    return {t["Key"]: t["Value"] for t in tags}


def role_state(server: str, name: str) -> dict[str, Any]:
    iam = aws(server, "iam")
    tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=name)["Tags"]}
    policies = {
        p: iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"]
        for p in iam.list_role_policies(RoleName=name)["PolicyNames"]
    }
    return {"tags": tags, "policies": policies}


def roles(server: str) -> set[str]:
    return {r["RoleName"] for r in aws(server, "iam").list_roles()["Roles"]}


def schedules(server: str) -> set[str]:
    return {s["Name"] for s in aws(server, "scheduler").list_schedules()["Schedules"]}


def endpoints(server: str) -> set[str]:
    return {e["EndpointName"] for e in aws(server, "sagemaker").list_endpoints()["Endpoints"]}


def deploy_stage(cli: Cli, cfg: str) -> None:
    cli("provision", "-c", cfg)
    cli("prepare", "-c", cfg, "--input", str(FIXTURE))
    cli("train", "-c", cfg, "--wait")
    cli("deploy", "-c", cfg)


# -- the copied config --------------------------------------------------------------------------------------
@executable_too
def test_a_copied_config_with_the_old_shared_role_name_cannot_touch_prod(cli: Cli, moto_server: str) -> None:
    explicit = f'role_name = "{OLD_DEFAULT_ROLE}"\n'
    prod = write(cli, "prod.toml", config("prod", extra_aws=explicit))
    dev = write(cli, "dev.toml", config("dev", extra_aws=explicit))  # copied, only the stage changed
    deploy_stage(cli, prod)
    before = (bucket_tags(moto_server), role_state(moto_server, OLD_DEFAULT_ROLE))

    done = cli("provision", "-c", dev, expect=2)
    assert (
        f"IAM role {OLD_DEFAULT_ROLE} is another workspace's (project=nikkei-deepar, stage=prod"
        in done.stderr
    )
    assert (
        "s3:GetObject on arn:aws:s3:::nikkei-deepar-shared-bucket/nikkei-deepar/nikkei-deepar/dev/"
        in done.stderr
    )
    assert "fixed" not in done.stdout
    assert (bucket_tags(moto_server), role_state(moto_server, OLD_DEFAULT_ROLE)) == before

    gone = cli("teardown", "--all", "--yes", "-c", dev)
    assert "nothing to delete" in gone.stdout
    assert OLD_DEFAULT_ROLE in roles(moto_server)
    assert aws(moto_server, "s3").head_bucket(Bucket=BUCKET)
    assert schedules(moto_server) == {"nikkei-deepar-prod-expiry"}
    assert endpoints(moto_server) == {"nikkei-deepar-prod"}
    status = json.loads(cli("status", "-c", prod, "--json").stdout)["data"]
    assert status["drift"] == {"missing": [], "untracked": []}
    assert status["endpoint"]["expiry"]["enforced_by"] == "nikkei-deepar-prod-expiry"


def test_a_copied_config_on_the_default_role_gets_its_own_and_shares_the_bucket_safely(
    cli: Cli, moto_server: str
) -> None:
    prod = write(cli, "prod.toml", config("prod"))
    dev = write(cli, "dev.toml", config("dev"))
    deploy_stage(cli, prod)
    tags = bucket_tags(moto_server)

    done = cli("provision", "-c", dev)
    assert "another workspace's (project=nikkei-deepar, stage=prod" in done.stdout  # the bucket: said once
    assert bucket_tags(moto_server) == tags  # never re-tagged
    assert {"nikkei-deepar-prod-sagemaker", "nikkei-deepar-dev-sagemaker"} <= roles(moto_server)
    cli("prepare", "-c", dev, "--input", str(FIXTURE))
    cli("train", "-c", dev, "--wait")
    cli("deploy", "-c", dev)
    keys = [o["Key"] for o in aws(moto_server, "s3").list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert {k.split("/")[2] for k in keys} == {"prod", "dev"}  # the stage is part of every key

    cli("teardown", "--all", "--yes", "-c", dev)
    assert endpoints(moto_server) == {"nikkei-deepar-prod"}
    assert schedules(moto_server) == {"nikkei-deepar-prod-expiry"}
    assert "nikkei-deepar-dev-sagemaker" not in roles(moto_server)
    assert {"nikkei-deepar-prod-sagemaker", "nikkei-deepar-prod-scheduler"} <= roles(moto_server)
    assert bucket_tags(moto_server) == tags
    left = [o["Key"] for o in aws(moto_server, "s3").list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert left and all(k.split("/")[2] == "prod" for k in left)
    status = json.loads(cli("status", "-c", prod, "--json").stdout)["data"]
    assert status["drift"] == {"missing": [], "untracked": []}


@both_homes
def test_two_stages_in_one_home_keep_their_own_endpoint_and_expiry(cli: Cli, moto_server: str) -> None:
    prod = write(cli, "prod.toml", config("prod"))
    dev = write(cli, "dev.toml", config("dev"))
    deploy_stage(cli, prod)
    deploy_stage(cli, dev)
    assert schedules(moto_server) == {"nikkei-deepar-prod-expiry", "nikkei-deepar-dev-expiry"}

    cli("teardown", "--yes", "-c", dev)
    assert endpoints(moto_server) == {"nikkei-deepar-prod"}
    assert schedules(moto_server) == {"nikkei-deepar-prod-expiry"}
    status = cli("status", "-c", prod)
    assert "by schedule nikkei-deepar-prod-expiry" in status.stdout
    assert "drift: none" in status.stdout and "workspace nikkei-deepar/prod" in status.stdout


def test_a_scheduler_role_named_after_prods_is_refused_and_never_deleted(cli: Cli, moto_server: str) -> None:
    prod = write(cli, "prod.toml", config("prod"))
    cli("provision", "-c", prod)
    role = "nikkei-deepar-prod-scheduler"
    before = role_state(moto_server, role)
    dev = write(cli, "dev.toml", config("dev", extra_aws=f'scheduler_role_name = "{role}"\n'))
    done = cli("provision", "-c", dev, expect=2)
    assert f"IAM role {role} is another workspace's" in done.stderr
    assert (
        "sagemaker:DeleteEndpoint on arn:aws:sagemaker:ap-northeast-1:123456789012:endpoint/nikkei-deepar-dev"
        in done.stderr
    )
    assert role_state(moto_server, role) == before  # its policy was not rewritten
    cli("teardown", "--all", "--yes", "-c", dev)
    assert role in roles(moto_server) and role_state(moto_server, role) == before


def test_someone_elses_schedule_with_our_name_is_never_rewritten(cli: Cli, moto_server: str) -> None:
    dev = write(cli, "dev.toml", config("dev"))
    cli("provision", "-c", dev)
    cli("prepare", "-c", dev, "--input", str(FIXTURE))
    cli("train", "-c", dev, "--wait")
    scheduler = aws(moto_server, "scheduler")
    theirs = {
        "Name": "nikkei-deepar-dev-expiry",
        "ScheduleExpression": "rate(1 day)",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {
            "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:reports",
            "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/reporting",
            "Input": "{}",
        },
    }
    scheduler.create_schedule(**theirs)
    before = scheduler.get_schedule(Name=theirs["Name"])

    done = cli("deploy", "-c", dev, "--expires-in", "2h", expect=2)
    assert (
        "schedule nikkei-deepar-dev-expiry exists but is not the expiry of endpoint nikkei-deepar-dev"
        in done.stderr
    )
    after = scheduler.get_schedule(Name=theirs["Name"])
    assert (after["ScheduleExpression"], after["Target"]) == (before["ScheduleExpression"], before["Target"])
    assert endpoints(moto_server) == set()  # nothing was created before the expiry was in place


def test_two_configs_sharing_the_old_default_role(cli: Cli, moto_server: str) -> None:
    s3 = aws(moto_server, "s3")
    explicit = f'role_name = "{OLD_DEFAULT_ROLE}"\n'
    first = write(cli, "cron.toml", config("cron", bucket="cron-bucket-e2e", extra_aws=explicit))
    second = write(cli, "oneoff.toml", config("oneoff", bucket="oneoff-bucket-e2e", extra_aws=explicit))
    cli("provision", "-c", first)
    owner = role_state(moto_server, OLD_DEFAULT_ROLE)
    assert owner["tags"]["stage"] == "cron"

    done = cli("provision", "-c", second, expect=2)
    assert (
        "arn:aws:s3:::oneoff-bucket-e2e" in done.stderr
        and "an earlier run was interrupted" not in done.stderr
    )
    assert role_state(moto_server, OLD_DEFAULT_ROLE) == owner  # its S3 permissions were not rewritten
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert "oneoff-bucket-e2e" not in buckets  # a plan with a problem applies nothing
    cli("teardown", "--all", "--yes", "-c", second)
    assert OLD_DEFAULT_ROLE in roles(moto_server)
    cli("teardown", "--all", "--yes", "-c", first)
    assert OLD_DEFAULT_ROLE not in roles(moto_server)


def test_the_gate_compares_with_the_last_promoted_model_after_a_teardown(
    cli: Cli, moto_server: str, sm_script: Any
) -> None:
    prod = write(cli, "prod.toml", config("prod", extra="[retrain]\nmax_wql_regression = 0.0\n"))
    cli("provision", "-c", prod)
    lines = FIXTURE.read_bytes().splitlines(keepends=True)
    earlier = cli.project / "earlier.csv"  # type: ignore[attr-defined]
    earlier.write_bytes(b"".join([*lines[:-6], lines[-1]]))  # a week before: 5 sessions fewer
    sm_script.next_training(completed({"test:mean_wQuantileLoss": 0.02, "test:RMSE": 400.0}))
    first = json.loads(cli("retrain", "-c", prod, "--input", str(earlier), "--json").stdout)["data"]
    assert first["gate"]["decision"] == "deploy"
    cli("teardown", "--yes", "-c", prod)  # the daily script tears the endpoint down
    assert endpoints(moto_server) == set()

    sm_script.next_training(completed({"test:mean_wQuantileLoss": 0.03, "test:RMSE": 500.0}))
    second = json.loads(cli("retrain", "-c", prod, "--input", str(FIXTURE), "--json").stdout)["data"]
    assert second["gate"]["decision"] == "keep", second["gate"]
    assert second["gate"]["deployed_job"] == first["job"]
    assert "new 0.03000 > deployed 0.02000" in second["gate"]["reason"]
    assert second["status"] == "kept-current-model"
