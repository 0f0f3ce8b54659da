"""Two stages side by side: prod.toml and dev.toml differ only in bucket, role and `stage` tag, and share
a folder (and so a ledger). What dev does never adopts, swaps or deletes what prod made (moto
in-process, the scripted SageMaker, the real CLI)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from sagemaker_script import REGION, clocked_factory, completed, endpoint

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "prices" / "long" / "nikkei_en.csv"


def _config(stage: str, *, endpoint_name: str | None = None) -> str:
    text = f"""
[aws]
region = "{REGION}"
bucket = "nd-{stage}-bucket"
role_name = "nd-{stage}-role"

[aws.tags]
project = "nikkei-deepar"
stage = "{stage}"
"""
    return text + (f'\n[endpoint]\nname = "{endpoint_name}"\n' if endpoint_name else "")


@pytest.fixture
def nd(
    aws: None, hermetic_env: Path, clock: Any, run_cli: Callable[..., Any], sm_script: Any
) -> Callable[..., Any]:
    """`nd("prod", "deploy", expect=0)`: the CLI with that stage's config file, on a fake clock."""
    factory = clocked_factory(clock)

    def run(stage: str, *args: str, expect: int = 0) -> Any:
        result = run_cli(*args, "--config", f"{stage}.toml", factory=factory)
        assert result.exit_code == expect, (
            f"{stage} {args}: {result.exit_code}\n{result.stdout}\n{result.stderr}"
        )
        return result

    return run


def _up_to_deploy(nd: Callable[..., Any], sm_script: Any, stage: str) -> Any:
    nd(stage, "provision")
    nd(stage, "prepare", "--input", str(FIXTURE))
    sm_script.next_training(completed())
    nd(stage, "train", "--wait")
    sm_script.next_endpoint(endpoint("InService"))
    return nd(stage, "deploy", "--json").json()["data"]


def test_dev_never_touches_prods_endpoint(nd: Callable[..., Any], sm_script: Any) -> None:
    Path("prod.toml").write_text(_config("prod"), encoding="utf-8")
    Path("dev.toml").write_text(_config("dev"), encoding="utf-8")
    prod = _up_to_deploy(nd, sm_script, "prod")
    assert prod["endpoint"] == "nikkei-deepar-prod"  # the default name carries the stage

    dev = _up_to_deploy(nd, sm_script, "dev")
    assert (dev["endpoint"], dev["action"]) == ("nikkei-deepar-dev", "created")  # not adopted, not swapped
    nd("dev", "teardown", "--yes")

    sm = boto3.client("sagemaker", region_name=REGION)
    described = sm.describe_endpoint(EndpointName="nikkei-deepar-prod")
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == (
        "InService",
        prod["endpoint_config"],
    )
    assert sm.describe_model(ModelName=prod["model"])["ModelName"] == prod["model"]
    assert [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]] == ["nikkei-deepar-prod"]


def test_an_endpoint_with_another_stages_tags_is_refused_and_left_alone(
    nd: Callable[..., Any], sm_script: Any
) -> None:
    Path("prod.toml").write_text(_config("prod", endpoint_name="forecast"), encoding="utf-8")
    Path("dev.toml").write_text(_config("dev", endpoint_name="forecast"), encoding="utf-8")
    prod = _up_to_deploy(nd, sm_script, "prod")

    # the same endpoint name means the same default expiry role: prod's, which dev may not use
    shared_role = nd("dev", "provision", "--json", expect=2).json()["errors"][0]
    assert "forecast-scheduler" in shared_role["message"] and "stage=prod" in shared_role["message"]
    Path("dev.toml").write_text(
        _config("dev", endpoint_name="forecast") + 'expires_after = "off"\n', encoding="utf-8"
    )
    nd("dev", "provision")
    nd("dev", "prepare", "--input", str(FIXTURE))
    sm_script.next_training(completed())
    nd("dev", "train", "--wait")
    refused = nd("dev", "deploy", "--json", expect=2).json()["errors"][0]
    assert refused["code"] == "endpoint-not-ours"
    assert "stage=prod" in refused["message"] and "[endpoint] name" in refused["hint"]
    models = boto3.client("sagemaker", region_name=REGION).list_models()["Models"]
    assert [m["ModelName"] for m in models] == [prod["model"]]  # refused before creating anything

    torn = nd("dev", "teardown", "--yes", "--json").json()["data"]
    left = {item["name"]: item for item in torn["items"] if item["kind"] == "endpoint"}
    assert (
        left["forecast"]["action"] == "leave" and "stage=prod" in left["forecast"]["reason"]
    )  # not in its state
    sm = boto3.client("sagemaker", region_name=REGION)
    described = sm.describe_endpoint(EndpointName="forecast")
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == (
        "InService",
        prod["endpoint_config"],
    )

    nd("prod", "teardown", "--yes")  # prod's own teardown still removes it
    assert sm.list_endpoints()["Endpoints"] == []
