"""`retrain` on `FakeBackend` with queued jobs and endpoints, and a fake clock: the happy path, the
promotion gate (refuses, allows within the threshold, --force-deploy, other targets), resuming (after a
Failed job, after a --timeout, after a failed deploy, a second run that finds everything done), an
interruption, and the one JSON summary through the CLI.

The step + real backend pairs end to end: tests/backends/sagemaker/test_retrain_on_sagemaker.py (moto) and
tests/backends/test_local_retrain.py (a tiny local training).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fake_backend import FakeBackend, fake_context
from nikkei_deepar.backends.base import ENDPOINT_IN_SERVICE, EndpointState, TrainingState
from nikkei_deepar.errors import ExitCode
from nikkei_deepar.output import ENVELOPE_KEYS
from nikkei_deepar.steps import retrain
from sagemaker_script import FakeClock, settings_for

EP = "nikkei-deepar-dev"  # the default: {project}-{stage}
PRICES = Path(__file__).resolve().parents[1] / "fixtures" / "prices" / "long" / "nikkei_en.csv"
GOOD = {"test:RMSE": 400.0, "test:mean_wQuantileLoss": 0.0200, "train:final_loss": 5.0}
WORSE = {"test:RMSE": 450.0, "test:mean_wQuantileLoss": 0.0250, "train:final_loss": 5.2}


def in_progress(secondary: str = "Training") -> TrainingState:
    return TrainingState(name="placeholder", status="InProgress", secondary_status=secondary)


def completed(metrics: dict[str, float]) -> TrainingState:
    return TrainingState(
        name="placeholder",
        status="Completed",
        secondary_status="Completed",
        metrics=metrics,
        model_artifact="fake://store/output/model.tar.gz",
    )


def failed(reason: str) -> TrainingState:
    return TrainingState(
        name="placeholder", status="Failed", secondary_status="Failed", failure_reason=reason
    )


@pytest.fixture
def fake() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def ctx(hermetic_env: Path, fake: FakeBackend) -> Any:
    """A context on `fake`; no data prepared yet."""
    return fake_context(hermetic_env, fake, settings_for(), clock=FakeClock())


@pytest.fixture
def newer_prices(tmp_path: Path) -> Path:
    """The same file without its first day: other data, so a new data version (and a new job)."""
    lines = PRICES.read_bytes().split(b"\n")
    path = tmp_path / "newer.csv"
    path.write_bytes(b"\n".join([lines[0], *lines[2:]]))
    return path


def _run(ctx: Any, prices: Path = PRICES, **options: Any) -> retrain.RetrainResult:
    return retrain.run(ctx, input_file=prices, **options)


def _stages(result: retrain.RetrainResult) -> dict[str, str]:
    return {s.name: s.status for s in result.stages}


def _count(fake: FakeBackend, verb: str) -> int:
    return fake.verbs().count(verb)


def _models(fake: FakeBackend) -> list[str]:
    return [name for kind, name in fake.tagged if kind == "model"]


def _serving(fake: FakeBackend) -> str | None:
    """The endpoint config the endpoint serves, as the backend describes it."""
    state = fake.describe_endpoint(EP)
    assert state is not None and state.status == ENDPOINT_IN_SERVICE
    return state.config_name


# -- the happy path -------------------------------------------------------------------------------------
def test_first_retrain_prepares_trains_waits_and_deploys(ctx: Any, fake: FakeBackend) -> None:
    fake.queue_next_training(in_progress("Starting"), in_progress("Training"), completed(GOOD))
    result = _run(ctx)
    assert (result.status, result.exit_code, result.errors) == ("deployed", 0, [])
    assert _stages(result) == {
        "prepare": "done",
        "train": "done",
        "wait": "done",
        "gate": "done",
        "deploy": "done",
    }
    assert result.gate is not None and result.gate.decision == "deploy"
    assert "no model was ever promoted" in result.gate.reason
    ledger = ctx.state.load()
    assert result.data_sha256 == ledger.last_data.sha256  # type: ignore[union-attr]
    assert ledger.deployments[-1].job == result.job
    assert ledger.deployments[-1].metrics["test:mean_wQuantileLoss"] == pytest.approx(0.02)
    [spec] = [args["spec"] for verb, args in fake.calls if verb == "start_training"]
    assert spec.name == result.job
    assert dict(spec.channels) == {"train": ledger.last_data.train_uri, "test": ledger.last_data.test_uri}  # type: ignore[union-attr]
    assert fake.verbs().index("put_artifact") < fake.verbs().index("start_training")  # prepare stored first
    assert _serving(fake) == ledger.deployments[-1].endpoint_config
    data = result.to_data()
    assert set(data) == {
        "status",
        "exit_code",
        "data_sha256",
        "freshness",
        "job",
        "endpoint",
        "gate",
        "stages",
    }
    assert data["gate"]["new"] == pytest.approx(0.02) and data["gate"]["deployed"] is None
    assert data["stages"][2]["result"]["metrics"]["test:mean_wQuantileLoss"] == pytest.approx(0.02)
    log = ctx.reporter.stream.getvalue()
    for stage in ("prepare", "train", "wait", "gate", "deploy"):
        assert f"retrain: {stage}" in log


def test_a_second_run_on_the_same_data_changes_nothing(ctx: Any, fake: FakeBackend) -> None:
    fake.queue_next_training(completed(GOOD))
    first = _run(ctx)
    again = _run(ctx)
    assert (again.status, again.exit_code, again.job) == ("already-deployed", 0, first.job)
    assert _stages(again) == {
        "prepare": "reused",
        "train": "reused",
        "wait": "reused",
        "gate": "done",
        "deploy": "skipped",
    }
    assert again.gate is not None and again.gate.decision == "already-deployed"
    assert _count(fake, "start_training") == 1
    assert _count(fake, "create_endpoint") == 1 and _count(fake, "update_endpoint") == 0
    assert _count(fake, "create_model") == 1 and len(_models(fake)) == 1
    assert len(ctx.state.load().deployments) == 1


# -- the gate -------------------------------------------------------------------------------------------
def test_the_gate_keeps_a_better_deployed_model_and_exits_0(
    ctx: Any, fake: FakeBackend, newer_prices: Path
) -> None:
    fake.queue_next_training(completed(GOOD))
    first = _run(ctx)
    serving = _serving(fake)
    fake.queue_next_training(completed(WORSE))
    result = _run(ctx, newer_prices)
    assert (result.status, result.exit_code) == ("kept-current-model", ExitCode.OK)
    assert result.job != first.job
    gate = result.gate
    assert gate is not None
    assert (gate.decision, gate.new, gate.deployed, gate.deployed_job) == ("keep", 0.025, 0.02, first.job)
    assert gate.limit == pytest.approx(0.02)
    assert _stages(result) == {
        "prepare": "done",
        "train": "done",
        "wait": "done",
        "gate": "done",
        "deploy": "skipped",
    }
    assert _serving(fake) == serving
    assert len(_models(fake)) == 1  # nothing was created for the worse model
    assert _count(fake, "update_endpoint") == 0
    assert ctx.state.load().deployments[-1].job == first.job
    lines = "\n".join(result.to_lines())
    assert "retrain: kept-current-model (exit 0)" in lines and "not an error" in lines
    assert "new 0.02500 > deployed 0.02000" in lines


def test_the_threshold_allows_a_small_regression(
    hermetic_env: Path, fake: FakeBackend, newer_prices: Path
) -> None:
    ctx = fake_context(
        hermetic_env, fake, settings_for(retrain={"max_wql_regression": 0.3}), clock=FakeClock()
    )
    fake.queue_next_training(completed(GOOD))
    _run(ctx)
    fake.queue_next_training(completed(WORSE))  # 0.025 <= 0.02 * 1.3 = 0.026
    result = _run(ctx, newer_prices)
    assert (result.status, result.exit_code) == ("deployed", 0)
    assert result.gate is not None and result.gate.limit == pytest.approx(0.026)
    assert _count(fake, "update_endpoint") == 1
    assert result.stages[4].result is not None
    assert _serving(fake) == result.stages[4].result["endpoint_config"]


def test_force_deploy_skips_the_gate(ctx: Any, fake: FakeBackend, newer_prices: Path) -> None:
    fake.queue_next_training(completed(GOOD))
    _run(ctx)
    fake.queue_next_training(completed(WORSE))
    result = _run(ctx, newer_prices, force_deploy=True)
    assert (result.status, result.exit_code) == ("deployed", 0)
    assert result.gate is not None and result.gate.decision == "forced"
    assert _stages(result)["gate"] == "skipped"
    assert ctx.state.load().deployments[-1].job == result.job
    assert _count(fake, "update_endpoint") == 1


def test_a_new_job_without_the_metric_does_not_replace_a_scored_model(
    ctx: Any, fake: FakeBackend, newer_prices: Path
) -> None:
    fake.queue_next_training(completed(GOOD))
    _run(ctx)
    fake.queue_next_training(completed({"train:final_loss": 5.0}))
    result = _run(ctx, newer_prices)
    assert (result.status, result.exit_code) == ("kept-current-model", 0)
    assert result.gate is not None and "cannot be shown to be no worse" in result.gate.reason
    assert _count(fake, "update_endpoint") == 0


def test_the_gate_does_not_compare_a_log_return_model_with_a_price_model(
    hermetic_env: Path, fake: FakeBackend
) -> None:
    """DeepAR's test wQL is measured on what it models: a log-return model's loss on returns (large) and
    a price model's on prices (small) are not comparable, either way round; the model stays until
    --force-deploy (or a backtest and a deploy) decides."""
    prices = fake_context(hermetic_env, fake, settings_for(data={"target": "price"}), clock=FakeClock())
    fake.queue_next_training(completed(WORSE))
    first = _run(prices)
    assert ctx_job_target(prices, first.job) == "price"
    returns = fake_context(hermetic_env, fake, settings_for(data={"target": "log_return"}), clock=FakeClock())
    fake.queue_next_training(completed(GOOD))  # a better figure, on another scale
    result = _run(returns)
    assert ctx_job_target(returns, result.job) == "log_return"
    assert (result.status, result.exit_code) == ("kept-current-model", ExitCode.OK)
    assert result.gate is not None and result.gate.decision == "keep"
    assert "trained on log returns" in result.gate.reason and "cannot be compared" in result.gate.reason
    assert returns.state.load().deployments[-1].job == first.job
    forced = _run(returns, force_deploy=True)  # the same data and settings: the same job, deployed
    assert forced.job == result.job
    assert (forced.status, forced.gate.decision if forced.gate else None) == ("deployed", "forced")
    assert returns.state.load().deployments[-1].job == forced.job
    assert _count(fake, "start_training") == 2


def ctx_job_target(ctx: Any, name: str | None) -> str:
    job = ctx.state.load().job(name or "")
    assert job is not None
    return job.target


# -- resuming -------------------------------------------------------------------------------------------
def test_resume_after_a_failed_job_starts_a_new_one(ctx: Any, fake: FakeBackend) -> None:
    fake.queue_next_training(in_progress(), failed("AlgorithmError: out of memory"))
    broken = _run(ctx)
    assert (broken.status, broken.exit_code) == ("failed", ExitCode.JOB_FAILED)
    assert _stages(broken) == {
        "prepare": "done",
        "train": "done",
        "wait": "failed",
        "gate": "skipped",
        "deploy": "skipped",
    }
    assert broken.errors[0]["code"] == "job-failed" and "out of memory" in broken.errors[0]["message"]
    assert broken.stages[2].result is not None and broken.stages[2].result["status"] == "Failed"
    assert "not reached" in broken.stages[3].detail
    assert ctx.state.load().job(broken.job).status == "Failed"  # type: ignore[arg-type,union-attr]
    assert _count(fake, "create_model") == 0

    fake.queue_next_training(completed(GOOD))
    fixed = _run(ctx)
    assert (fixed.status, fixed.exit_code) == ("deployed", 0)
    assert fixed.job != broken.job
    assert _stages(fixed)["prepare"] == "reused" and _stages(fixed)["train"] == "done"
    assert _count(fake, "start_training") == 2


def test_resume_after_a_timeout_waits_for_the_same_job(ctx: Any, fake: FakeBackend) -> None:
    fake.queue_next_training(in_progress())
    waiting = _run(ctx, timeout=60)
    assert (waiting.status, waiting.exit_code) == ("failed", ExitCode.TIMEOUT)
    assert _stages(waiting)["wait"] == "failed"
    job = waiting.job
    assert job is not None
    fake.trainings[job].clear()
    fake.queue_training(job, in_progress(), completed(GOOD))
    resumed = _run(ctx)
    assert (resumed.status, resumed.exit_code, resumed.job) == ("deployed", 0, job)
    assert _stages(resumed)["train"] == "reused" and "waiting for it" in resumed.stages[1].detail
    assert _stages(resumed)["wait"] == "done"
    assert _count(fake, "start_training") == 1  # never paid twice


def test_resume_after_a_failed_deploy_reuses_the_completed_job(ctx: Any, fake: FakeBackend) -> None:
    fake.queue_next_training(completed(GOOD))
    fake.queue_next_endpoint(
        EndpointState(EP, "Creating"),
        EndpointState(
            EP, "Failed", failure_reason="The primary container did not pass the ping health check."
        ),
    )
    broken = _run(ctx)
    assert (broken.status, broken.exit_code) == ("failed", ExitCode.JOB_FAILED)
    assert _stages(broken)["deploy"] == "failed" and "ping health check" in broken.stages[4].detail
    resumed = _run(ctx)
    assert (resumed.status, resumed.exit_code, resumed.job) == ("deployed", 0, broken.job)
    assert _stages(resumed) == {
        "prepare": "reused",
        "train": "reused",
        "wait": "reused",
        "gate": "done",
        "deploy": "done",
    }
    assert "already Completed" in resumed.stages[1].detail
    assert _count(fake, "start_training") == 1
    assert resumed.stages[4].result is not None and resumed.stages[4].result["action"] == "recreated"
    assert (
        _count(fake, "create_endpoint") == 2 and _serving(fake) == resumed.stages[4].result["endpoint_config"]
    )


def test_a_changed_setting_is_not_the_same_job(ctx: Any, fake: FakeBackend, hermetic_env: Path) -> None:
    fake.queue_next_training(completed(GOOD))
    first = _run(ctx)
    changed = fake_context(
        hermetic_env, fake, settings_for(training={"hyperparameters": {"epochs": 30}}), clock=FakeClock()
    )
    fake.queue_next_training(completed(GOOD))
    second = _run(changed)
    assert second.job != first.job and _stages(second)["train"] == "done"
    assert _count(fake, "start_training") == 2


def test_an_interruption_is_reported_and_the_rerun_resumes(hermetic_env: Path, fake: FakeBackend) -> None:
    ctx = fake_context(hermetic_env, fake, settings_for(), clock=FakeClock(interrupt_at=1))
    fake.queue_next_training(in_progress(), in_progress(), completed(GOOD))
    stopped = _run(ctx)
    assert (stopped.status, stopped.exit_code) == ("interrupted", ExitCode.INTERRUPTED)
    assert _stages(stopped)["wait"] == "failed"
    ledger = ctx.state.load()  # still valid, and knows the job
    assert ledger.job(stopped.job).status == "InProgress"  # type: ignore[arg-type,union-attr]
    again = _run(fake_context(hermetic_env, fake, settings_for(), clock=FakeClock()))
    assert (again.status, again.job) == ("deployed", stopped.job)
    assert _count(fake, "start_training") == 1


def test_a_prepare_failure_stops_everything_with_its_exit_code(
    ctx: Any, fake: FakeBackend, tmp_path: Path
) -> None:
    missing = tmp_path / "nope.csv"
    result = _run(ctx, missing)
    assert result.status == "failed" and result.exit_code == result.stages[0].exit_code != 0
    assert _stages(result) == {
        "prepare": "failed",
        "train": "skipped",
        "wait": "skipped",
        "gate": "skipped",
        "deploy": "skipped",
    }
    assert "error: retrain: prepare failed" in ctx.reporter.stream.getvalue()
    assert fake.calls == []


# -- one JSON document through the CLI ---------------------------------------------------------------------
def test_retrain_json_is_one_document(run_cli: Any, tmp_path: Path, fake: FakeBackend) -> None:
    from nikkei_deepar.factory import ContextFactory
    from sagemaker_script import BUCKET

    class OnFake(ContextFactory):
        """The CLI's own contexts, with `fake` as their backend and a fake clock."""

        def create(self, *args: Any, **kwargs: Any) -> Any:
            context = super().create(*args, **kwargs)
            context.backend = fake
            return context

    clock = FakeClock()
    (tmp_path / "nikkei-deepar.toml").write_text(f'[aws]\nbucket = "{BUCKET}"\n')
    fake.queue_next_training(completed(GOOD))
    r = run_cli("retrain", "--input", str(PRICES), "--json", factory=OnFake(sleep=clock.sleep, clock=clock))
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)  # the whole of stdout: one document
    assert tuple(doc) == ENVELOPE_KEYS
    assert (doc["command"], doc["status"], doc["data"]["status"]) == ("retrain", "ok", "deployed")
    assert [s["status"] for s in doc["data"]["stages"]] == ["done"] * 5
    assert "retrain: deploy" in r.stderr
    assert _count(fake, "start_training") == 1 and _count(fake, "create_endpoint") == 1
