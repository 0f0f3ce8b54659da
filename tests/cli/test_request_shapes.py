"""What `config validate` and the commands accept, AWS accepts: every request the tool sends, for every
command and every inference mode (real-time, serverless, batch), passes botocore's service model; the
request plan that validate and provision check is the shape the commands really send; values AWS would
refuse are refused before anything is created (moto in-process, the scripted SageMaker)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from nikkei_deepar.aws import shapes
from nikkei_deepar.aws.session import AwsClients
from nikkei_deepar.backends.sagemaker import requests as sagemaker_requests
from nikkei_deepar.config import Settings
from sagemaker_script import (
    ACCOUNT,
    BUCKET,
    REGION,
    ROLE,
    clocked_factory,
    completed,
    deepar_response,
    endpoint,
    queue_endpoint_results,
    transform,
)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "prices" / "long" / "nikkei_en.csv"
CONFIG = f"""
[aws]
region = "{REGION}"
bucket = "{BUCKET}"
role_name = "{ROLE}"
"""
Sent = list[tuple[str, str, dict[str, Any]]]


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Sent:
    """Every request any client of the tool builds, as (service, operation, params), in order."""
    calls: Sent = []
    original = AwsClients.client

    def recording(self: AwsClients, service: str) -> Any:
        client = original(self, service)
        if not getattr(client, "_recorded", False):

            def record(params: dict[str, Any], model: Any, **_: Any) -> None:
                calls.append((model.service_model.service_name, model.name, copy.deepcopy(params)))

            client.meta.events.register("before-parameter-build", record)
            client._recorded = True
        return client

    monkeypatch.setattr(AwsClients, "client", recording)
    return calls


@pytest.fixture
def cli(aws: None, hermetic_env: Path, clock: Any, run_cli: Callable[..., Any]) -> Callable[..., Any]:
    """run_cli with CONFIG in the working directory (nothing provisioned or prepared), on a fake clock."""
    Path("nikkei-deepar.toml").write_text(CONFIG, encoding="utf-8")
    factory = clocked_factory(clock)

    def run(*args: str, expect: int = 0) -> Any:
        result = run_cli(*args, factory=factory)
        assert result.exit_code == expect, f"{args}: {result.exit_code}\n{result.stdout}\n{result.stderr}"
        return result

    return run


def _skeleton(value: Any) -> Any:
    """A request's structure without its values: member names all the way down, and scalar types."""
    if isinstance(value, dict):
        # ClientToken: botocore fills in idempotency tokens itself (CreateSchedule), the tool never does
        return {
            k: _skeleton(v) for k, v in sorted(value.items()) if k not in {"Tags", "TagSet", "ClientToken"}
        }
    if isinstance(value, list):
        return [_skeleton(value[0])] if value else []
    return type(value).__name__


# the default config trains on log returns: answers carry the sample paths prices come from
SAMPLES = [[0.5] * 17, [-0.5] * 17]


def _batch_line() -> str:
    return json.dumps(json.loads(deepar_response(17, samples=SAMPLES))["predictions"][0])


def test_every_request_of_every_command_passes_the_model_and_matches_the_plan(
    cli: Callable[..., Any], sent: Sent, sm_script: Any
) -> None:
    cli("config", "validate")
    cli("provision")
    cli("prepare", "--input", str(FIXTURE))
    sm_script.next_training(completed())
    cli("train", "--wait")
    sm_script.next_endpoint(endpoint("Creating"), endpoint("InService"))
    cli("deploy")  # real-time: CreateEndpoint
    queue_endpoint_results([deepar_response(17, samples=SAMPLES)], region=REGION)
    cli("predict")
    sm_script.next_transform(transform("InProgress"), transform("Completed"), output=_batch_line())
    cli("predict", "--batch")
    Path("nikkei-deepar.toml").write_text(CONFIG + "[endpoint]\nserverless = true\n", encoding="utf-8")
    sm_script.next_update("nikkei-deepar-dev", endpoint("Updating"))
    assert cli("deploy", "--json").json()["data"]["action"] == "updated"  # serverless: UpdateEndpoint
    queue_endpoint_results([deepar_response(17, samples=SAMPLES).replace("38000", "38001")], region=REGION)
    cli("predict")
    cli("status")
    cli("teardown", "--all", "--yes")

    operations = {operation for _, operation, _ in sent}
    for needed in (
        "CreateBucket",
        "PutBucketPolicy",
        "CreateRole",
        "PutRolePolicy",
        "PutObject",
        "CreateTrainingJob",
        "CreateModel",
        "CreateEndpointConfig",
        "CreateEndpoint",
        "UpdateEndpoint",
        "InvokeEndpoint",
        "CreateTransformJob",
        "DeleteEndpoint",
        "DeleteRole",
        "DeleteBucket",
    ):
        assert needed in operations, needed
    for service, operation, params in sent:
        assert shapes.problems(service, operation, params) == [], (service, operation)

    # the plan `config validate` and `provision` check has the shape the commands send
    settings = Settings.model_validate({"aws": {"region": REGION, "bucket": BUCKET, "role_name": ROLE}})
    serverless = settings.model_copy(
        update={"endpoint": settings.endpoint.model_copy(update={"serverless": True})}
    )
    planned: dict[str, list[Any]] = {}
    for variant in (settings, serverless):
        for request in sagemaker_requests.planned(variant, region=REGION, account=ACCOUNT):
            planned.setdefault(request.operation, []).append(_skeleton(request.params))
    for _, operation, params in sent:
        if operation in planned:
            assert _skeleton(params) in planned[operation], operation


def test_the_plan_has_no_problems_for_the_example_config_in_every_mode() -> None:
    root = Path(__file__).resolve().parents[2]
    import tomllib

    raw = tomllib.loads((root / "config.example.toml").read_text(encoding="utf-8"))
    raw["aws"]["bucket"] = BUCKET
    for serverless in (False, True):
        raw["endpoint"]["serverless"] = serverless
        settings = Settings.model_validate(raw)
        requests = sagemaker_requests.planned(settings, region=REGION, account=ACCOUNT)
        assert {r.command for r in requests} == set(sagemaker_requests.COMMANDS)
        assert sagemaker_requests.problems(requests, settings) == []


def test_the_expiry_requests_are_planned_and_fit_the_longest_endpoint_name() -> None:
    """With an expiry, provision plans the scheduler role and deploy the schedule; both fit AWS's limits
    even for the longest endpoint name the config allows (IAM role and schedule names stop at 64)."""
    longest = "e" * 50
    settings = Settings.model_validate(
        {"aws": {"bucket": BUCKET}, "endpoint": {"name": longest, "expires_after": "24h"}}
    )
    requests = sagemaker_requests.planned(settings, region=REGION, account=ACCOUNT)
    operations = {(r.command, r.service, r.operation) for r in requests}
    assert ("deploy", "scheduler", "CreateSchedule") in operations
    roles = [r.params["RoleName"] for r in requests if r.operation == "CreateRole"]
    assert settings.scheduler_role_name() in roles and len(settings.scheduler_role_name()) <= 64
    assert sagemaker_requests.problems(requests, settings) == []
    [schedule] = [r.params for r in requests if r.operation == "CreateSchedule"]
    assert json.loads(schedule["Target"]["Input"]) == {"EndpointName": longest}
    assert schedule["Target"]["RoleArn"].endswith(f":role/{settings.scheduler_role_name()}")
    off = Settings.model_validate({"aws": {"bucket": BUCKET}, "endpoint": {"expires_after": "off"}})
    assert all(
        r.service != "scheduler" for r in sagemaker_requests.planned(off, region=REGION, account=ACCOUNT)
    )


# -- refused before anything is created -----------------------------------------------------------------
def _nothing_created() -> None:
    assert boto3.client("s3", region_name=REGION).list_buckets()["Buckets"] == []
    roles = boto3.client("iam", region_name=REGION).list_roles()["Roles"]
    assert [r["RoleName"] for r in roles] == []


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ('[aws.tags]\nproject = "nikkei-deepar"\nstage = "' + "x" * 2049 + '"\n', "aws.tags"),
        ('kms_key_id = "my-key"\n', "aws.kms_key_id"),
        ('kms_key_id = "arn:aws:kms:ap-northeast-1:123456789012:key/*"\n', "aws.kms_key_id"),
        ('prefix = "*"\n', "aws.prefix"),
    ],
)
def test_provision_with_a_value_aws_refuses_creates_nothing(
    cli: Callable[..., Any], extra: str, key: str
) -> None:
    # a table is appended; plain keys go into the [aws] table
    text = (
        CONFIG + extra if extra.startswith("[") else CONFIG.replace('role_name = "', extra + 'role_name = "')
    )
    Path("nikkei-deepar.toml").write_text(text, encoding="utf-8")
    r = cli("provision", expect=2)
    problems = [line for line in r.stderr.splitlines() if f" {key}:" in line]
    assert len(problems) == 1, r.stderr
    assert max(len(line) for line in r.stderr.splitlines()) < 400
    _nothing_created()


def test_provision_refuses_an_instance_type_a_later_step_would_send_and_creates_nothing(
    cli: Callable[..., Any],
) -> None:
    Path("nikkei-deepar.toml").write_text(
        CONFIG + '[endpoint]\ninstance_type = "ml.t3.medium"\n', encoding="utf-8"
    )
    r = cli("provision", "--dry-run", "--json", expect=2)
    errors = r.json()["errors"]
    assert [e["code"] for e in errors] == ["request-shape"]
    assert errors[0]["message"].startswith("endpoint.instance_type: ml.t3.medium cannot host an endpoint")
    r = cli("provision", expect=2)
    assert "nothing was changed" in r.stdout
    _nothing_created()
    r = cli("config", "validate", expect=2)
    assert "endpoint.instance_type: ml.t3.medium cannot host an endpoint" in r.stderr


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            '[training]\ninstance_type = "ml.c5.large"\n',
            "training.instance_type: ml.c5.large cannot run a training",
        ),
        (
            '[predict]\nbatch_instance_type = "ml.r5.large"\n',
            "predict.batch_instance_type: ml.r5.large cannot run",
        ),
    ],
)
def test_config_validate_checks_each_instance_type_against_its_own_use(
    cli: Callable[..., Any], section: str, message: str
) -> None:
    Path("nikkei-deepar.toml").write_text(CONFIG + section, encoding="utf-8")
    r = cli("config", "validate", expect=2)
    assert message in r.stderr


def test_a_hosting_type_batch_cannot_use_is_a_warning_until_predict_batch_refuses_it(
    cli: Callable[..., Any], sm_script: Any
) -> None:
    Path("nikkei-deepar.toml").write_text(
        CONFIG + '[endpoint]\ninstance_type = "ml.t2.medium"\n', encoding="utf-8"
    )
    r = cli("config", "validate", "--json")
    warnings = r.json()["data"]["warnings"]
    assert len(warnings) == 1 and "ml.t2.medium cannot run a batch transform" in warnings[0]
    assert "batch_instance_type" in warnings[0]
    cli("provision")
    cli("prepare", "--input", str(FIXTURE))
    sm_script.next_training(completed())
    cli("train", "--wait")
    sm_script.next_endpoint(endpoint("InService"))
    cli("deploy")
    sm = boto3.client("sagemaker", region_name=REGION)
    models = sm.list_models()["Models"]
    r = cli("predict", "--batch", expect=2)
    assert "endpoint.instance_type: ml.t2.medium cannot run a batch transform" in r.stderr
    assert sm.list_models()["Models"] == models and sm.list_transform_jobs()["TransformJobSummaries"] == []


def test_spot_training_with_the_default_limits_sends_an_equal_wait(
    cli: Callable[..., Any], sent: Sent, sm_script: Any
) -> None:
    Path("nikkei-deepar.toml").write_text(CONFIG + "[training]\nspot = true\n", encoding="utf-8")
    cli("config", "validate")
    cli("provision")
    cli("prepare", "--input", str(FIXTURE))
    sm_script.next_training(completed())
    cli("train")
    request = next(params for _, operation, params in sent if operation == "CreateTrainingJob")
    assert request["EnableManagedSpotTraining"] is True
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 3600}


def test_a_request_the_model_refuses_never_leaves_the_machine(aws: None) -> None:
    from nikkei_deepar.aws.sagemaker import Gateway
    from nikkei_deepar.errors import ConfigError

    gateway = Gateway(AwsClients(region=REGION, profile=None, max_attempts=1))
    with pytest.raises(ConfigError) as info:
        gateway.create_endpoint("bad_name", config_name="c", tags={"k": "v*"})
    assert info.value.exit_code == 2 and info.value.code == "request-shape"
    assert any("EndpointName" in p for p in info.value.problems)
    assert any("Tags[0].Value" in p for p in info.value.problems)
    assert boto3.client("sagemaker", region_name=REGION).list_endpoints()["Endpoints"] == []


def test_deploy_refuses_an_instance_type_that_cannot_host_before_creating_a_model(
    cli: Callable[..., Any], sm_script: Any
) -> None:
    cli("provision")
    cli("prepare", "--input", str(FIXTURE))
    sm_script.next_training(completed())
    cli("train", "--wait")
    Path("nikkei-deepar.toml").write_text(
        CONFIG + '[endpoint]\ninstance_type = "ml.t3.medium"\n', encoding="utf-8"
    )
    r = cli("deploy", "--json", expect=2)
    error = r.json()["errors"][0]
    assert error["code"] == "request-shape"
    sm = boto3.client("sagemaker", region_name=REGION)
    assert sm.list_models()["Models"] == [] and sm.list_endpoint_configs()["EndpointConfigs"] == []
