"""The ledger's queries (`nikkei_deepar.ledger.Ledger`): each question a step asks, answered once.

The backend switch is the case that went wrong before the queries existed: a ledger holding deployments
of one endpoint by two backends must answer for the configured backend only, so `predict` never builds
a forecast for the other backend's job (its prediction length, its target)."""

from __future__ import annotations

from nikkei_deepar.ledger import Deployment, Job, Ledger, ServedModel

EP = "nikkei-deepar-dev"
CONFIG = ServedModel(job=None, prediction_length=7, target="price", hyperparameters={})


def _job(name: str, backend: str, *, length: int, target: str = "price", status: str = "Completed") -> Job:
    return Job(
        name=name,
        backend=backend,
        data_sha256="ab" * 32,
        hyperparameters={"prediction_length": str(length), "num_dynamic_feat": "auto"},
        config_hash="h",
        status=status,
        target=target,  # type: ignore[arg-type]
    )


def _deploy(job: str, backend: str) -> Deployment:
    return Deployment(endpoint=EP, model=f"m-{job}", endpoint_config=f"c-{job}", job=job, backend=backend)


def switched() -> Ledger:
    """SageMaker served `sm-1`, then the config switched to the local backend, which deployed `lo-1`
    (another horizon, another target) under the same endpoint name."""
    ledger = Ledger()
    ledger.upsert_job(_job("sm-1", "sagemaker", length=5))
    ledger.deployments.append(_deploy("sm-1", "sagemaker"))
    ledger.upsert_job(_job("lo-1", "local", length=9, target="log_return"))
    ledger.deployments.append(_deploy("lo-1", "local"))
    return ledger


def test_after_a_backend_switch_each_backend_is_told_its_own_model() -> None:
    ledger = switched()
    local = ledger.served(EP, backend="local", default=CONFIG)
    sagemaker = ledger.served(EP, backend="sagemaker", default=CONFIG)
    assert (local.job, local.prediction_length, local.target) == ("lo-1", 9, "log_return")
    assert (sagemaker.job, sagemaker.prediction_length, sagemaker.target) == ("sm-1", 5, "price")
    assert sagemaker.hyperparameters["num_dynamic_feat"] == "auto"


def test_switching_back_finds_the_last_deployment_of_that_backend_not_the_last_overall() -> None:
    ledger = switched()
    ledger.upsert_job(_job("sm-2", "sagemaker", length=6))
    ledger.deployments.append(_deploy("sm-2", "sagemaker"))
    ledger.deployments.append(_deploy("lo-1", "local"))  # local redeployed after it
    deployed = ledger.deployment(EP, backend="sagemaker")
    assert deployed is not None and deployed.job == "sm-2"
    assert ledger.served(EP, backend="sagemaker", default=CONFIG).prediction_length == 6


def test_an_endpoint_without_a_deployment_by_this_backend_gets_the_configs_values() -> None:
    ledger = switched()
    assert ledger.deployment("other-endpoint", backend="local") is None
    assert ledger.served("other-endpoint", backend="local", default=CONFIG) == CONFIG
    fresh = Ledger()
    fresh.upsert_job(_job("lo-1", "local", length=9))
    fresh.deployments.append(_deploy("lo-1", "local"))
    assert fresh.served(EP, backend="sagemaker", default=CONFIG) == CONFIG


def test_a_deployed_job_the_ledger_forgot_keeps_its_name_with_the_configs_values() -> None:
    ledger = Ledger()
    ledger.deployments.append(_deploy("gone-1", "sagemaker"))
    model = ledger.served(EP, backend="sagemaker", default=CONFIG)
    assert (model.job, model.prediction_length, model.target) == ("gone-1", 7, "price")


def test_a_job_without_a_recorded_prediction_length_falls_back_to_the_config() -> None:
    ledger = Ledger()
    job = _job("sm-1", "sagemaker", length=5)
    job.hyperparameters.pop("prediction_length")
    ledger.upsert_job(job)
    assert ledger.model_of("sm-1", default=CONFIG).prediction_length == 7


def test_completed_jobs_are_newest_first_and_filtered_by_backend() -> None:
    ledger = switched()
    ledger.upsert_job(_job("sm-2", "sagemaker", length=5, status="Failed"))
    ledger.upsert_job(_job("sm-3", "sagemaker", length=5))
    assert [j.name for j in ledger.completed_jobs(backend="sagemaker")] == ["sm-3", "sm-1"]
    assert [j.name for j in ledger.completed_jobs()] == ["sm-3", "lo-1", "sm-1"]
    assert [j.name for j in ledger.completed_jobs(backend="local")] == ["lo-1"]


def test_a_rerun_job_record_replaces_the_old_one_in_place() -> None:
    ledger = switched()
    ledger.upsert_job(_job("sm-1", "sagemaker", length=8))
    assert [j.name for j in ledger.jobs] == ["sm-1", "lo-1"]
    assert ledger.model_of("sm-1", default=CONFIG).prediction_length == 8
