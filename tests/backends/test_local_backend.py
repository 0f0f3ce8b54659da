"""The local backend: every `Backend` verb on files and the GluonTS engine, determinism, failures as
Failed jobs, and the missing-extra message.

Training tests need the [local] extra (marked `local`, skipped without it). Kept fast: a ~400-point
random walk, 1 epoch of 2 batches, 8 cells; one model trained per module plus one twin for determinism.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nikkei_deepar.backends.base import (
    Backend,
    EndpointConfigSpec,
    LogCursor,
    ModelSpec,
    TrainingSpec,
    TransformSpec,
)
from nikkei_deepar.backends.local import LocalBackend
from nikkei_deepar.data.channels import make_channels
from nikkei_deepar.data.inference import (
    build_request,
    encode_request,
    inference_config,
    parse_batch_output_line,
    parse_response,
)
from nikkei_deepar.data.series import Series
from nikkei_deepar.engine.loader import BATCHES_ENV, batches_per_epoch
from nikkei_deepar.errors import AwsError, NotFoundError, UsageError
from nikkei_deepar.output import Reporter

H = 7
QUANTILES = [0.1, 0.5, 0.9]
HYPERPARAMETERS = {
    "time_freq": "D",
    "prediction_length": str(H),
    "context_length": "14",
    "epochs": "1",
    "num_cells": "8",
    "num_layers": "1",
    "mini_batch_size": "16",
    "num_eval_samples": "20",
    "test_quantiles": "[0.1, 0.5, 0.9]",
}


def _series(days: int = 400) -> Series:
    rng = np.random.default_rng(3)
    closes = 25_000 * np.exp(np.cumsum(rng.normal(0, 0.01, days)))
    start = dt.date(2023, 1, 2)
    dates = tuple(start + dt.timedelta(days=i) for i in range(days))
    return Series(policy="trading_days", start=start, target=tuple(float(c) for c in closes), dates=dates)


def _reporter() -> Reporter:
    return Reporter(interactive=False, color=False, stream=io.StringIO())


def _err(backend: LocalBackend) -> str:
    return str(backend._reporter.stream.getvalue())  # type: ignore[attr-defined]


def _backend(store: Path, seed: int = 5) -> LocalBackend:
    return LocalBackend(store, reporter=_reporter(), seed=seed)


def _store_channels(backend: LocalBackend) -> dict[str, str]:
    channels = make_channels(_series(), prediction_length=H, context_length=14)
    train = backend.put_artifact(
        "data/x/train/train.json", channels.train, content_type="application/jsonlines"
    )
    test = backend.put_artifact("data/x/test/test.json", channels.test, content_type="application/jsonlines")
    return {"train": train.rsplit("/", 1)[0] + "/", "test": test.rsplit("/", 1)[0] + "/"}


def _spec(
    name: str, channels: dict[str, str], *, max_runtime: int = 3600, **hyperparameters: str
) -> TrainingSpec:
    return TrainingSpec(
        name=name,
        hyperparameters={**HYPERPARAMETERS, **hyperparameters},
        channels=channels,
        output_uri="/unused/",
        instance_type="ml.m5.large",
        instance_count=1,
        volume_size_gb=10,
        max_runtime_seconds=max_runtime,
        tags={"managed-by": "nikkei-deepar"},
        seed=11,
    )


def _request_body(num_samples: int = 30) -> bytes:
    return encode_request(build_request(_series(), quantiles=QUANTILES, num_samples=num_samples))


# -- no extra needed -----------------------------------------------------------------------------------
def test_it_is_a_backend_and_create_backend_picks_it_without_importing_gluonts(tmp_path: Path) -> None:
    assert isinstance(_backend(tmp_path), Backend)
    config = tmp_path / "c.toml"
    config.write_text('backend = "local"\n')
    code = (
        "import sys; from pathlib import Path; from nikkei_deepar.config import load_config; "
        "from nikkei_deepar.context import Context; from nikkei_deepar.output import Reporter; "
        "from nikkei_deepar.state.local import LocalStateStore; "
        "from nikkei_deepar.history import LocalHistory; "
        f"ctx = Context(loaded=load_config(Path({str(config)!r})), "
        f"state=LocalStateStore(Path({str(tmp_path)!r})), home=Path({str(tmp_path)!r}), "
        f"workspace_dir=Path({str(tmp_path)!r}), "
        f"history=LocalHistory(Path({str(tmp_path)!r}) / 'history.jsonl'), "
        "reporter=Reporter(interactive=False, color=False)); b = ctx.backend; "
        "print(b.name, b.root, sorted({'torch', 'gluonts', 'lightning'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["local", str(tmp_path / "local"), "[]"]


def test_artifacts_are_files_under_the_store_and_round_trip(tmp_path: Path) -> None:
    backend = _backend(tmp_path / "store")
    assert backend.name == "local" and backend.region is None
    assert backend.artifact_uri("output/") == f"{tmp_path}/store/output/"
    uri = backend.put_artifact("data/abc/series.json", b"{}\n", content_type="application/json")
    assert uri == backend.artifact_uri("data/abc/series.json") == f"{tmp_path}/store/data/abc/series.json"
    assert backend.get_artifact(uri) == b"{}\n"
    assert backend.get_artifact("file://" + uri) == b"{}\n"
    with pytest.raises(NotFoundError):
        backend.get_artifact(f"{tmp_path}/store/data/abc/nothing.json")
    assert backend.exists(uri) and not backend.exists(f"{tmp_path}/store/data/abc/nothing.json")
    assert not backend.exists(f"{tmp_path}/store/data/abc")  # a folder is not a stored file
    for bad in ("../escape", "a/../../b", "/", ""):
        with pytest.raises(UsageError):
            backend.artifact_uri(bad)
    with pytest.raises(UsageError, match="not a local location"):
        backend.get_artifact("s3://bucket/key")


def test_hosting_records_need_their_parts(tmp_path: Path) -> None:
    backend = _backend(tmp_path)
    with pytest.raises(NotFoundError, match="does not exist"):
        backend.create_model(ModelSpec(name="m1", model_artifact=str(tmp_path / "none.tar.gz"), tags={}))
    with pytest.raises(NotFoundError, match="model m0"):
        backend.create_endpoint_config(EndpointConfigSpec(name="c1", model_name="m0", tags={}))
    with pytest.raises(NotFoundError, match="endpoint config c0"):
        backend.create_endpoint("e1", config_name="c0", tags={})
    with pytest.raises(NotFoundError):
        backend.update_endpoint("e0", config_name="c0")
    with pytest.raises(NotFoundError, match="does not exist"):
        backend.invoke("e0", b"{}", content_type="application/json", accept="application/json")
    assert backend.describe_endpoint("e0") is None and backend.resource_tags("endpoint", "e0") is None
    assert backend.describe_training("j0") is None and backend.describe_transform("t0") is None
    assert backend.find_trainings(name_contains="", status="Completed") == []
    assert [
        backend.delete_model("m0"),
        backend.delete_endpoint_config("c0"),
        backend.delete_endpoint("e0"),
    ] == [False] * 3
    with pytest.raises(UsageError, match="not valid"):
        backend.create_endpoint("../x", config_name="c0", tags={})


def test_the_batches_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert batches_per_epoch({}) == 50
    assert batches_per_epoch({BATCHES_ENV: "3"}) == 3
    for bad in ("0", "-1", "two"):
        with pytest.raises(UsageError, match=BATCHES_ENV):
            batches_per_epoch({BATCHES_ENV: bad})


def test_without_the_extra_the_model_verbs_say_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "gluonts", None)
    backend = _backend(tmp_path)
    channels = _store_channels(backend)  # storage works without it
    with pytest.raises(UsageError, match=r"needs the \[local\] extra") as caught:
        backend.start_training(_spec("j-noextra", channels))
    assert caught.value.hint is not None and "pip install 'nikkei-deepar[local]'" in caught.value.hint
    assert "torch==2.13.0" in caught.value.hint
    assert not (tmp_path / "jobs" / "j-noextra").exists()  # nothing recorded: no job was started
    # an archive from before torch-free weights: only GluonTS can serve it
    archive = _older_archive(tmp_path / "older")
    backend.create_model(ModelSpec(name="m", model_artifact=str(archive), tags={}))
    backend.create_endpoint_config(EndpointConfigSpec(name="c", model_name="m", tags={}))
    backend.create_endpoint("e", config_name="c", tags={})
    with pytest.raises(UsageError, match=r"needs the \[local\] extra"):
        backend.invoke("e", _request_body(), content_type="application/json", accept="application/json")
    assert "no torch-free weights" in _err(backend)


def _older_archive(folder: Path) -> Path:
    """A model archive as the tool wrote it before torch-free weights: marker, GluonTS's files only."""
    from nikkei_deepar.engine.archive import write_archive

    folder.mkdir()
    for name in ("predictor.json", "gluonts-config.json", "prediction-net-state.pt"):
        (folder / name).write_text("{}")
    return write_archive(folder, folder.parent / "out", metadata={"hyperparameters": HYPERPARAMETERS})


def test_a_job_whose_process_died_is_failed(tmp_path: Path) -> None:
    backend = _backend(tmp_path)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    job = tmp_path / "jobs" / "j-dead"
    job.mkdir(parents=True)
    import socket

    record = {"name": "j-dead", "status": "InProgress", "pid": int(gone.stdout), "host": socket.gethostname()}
    (job / "state.json").write_text(json.dumps(record))
    state = backend.describe_training("j-dead")
    assert state is not None and state.status == "Failed" and state.terminal
    assert state.failure_reason is not None and "ended before the job finished" in state.failure_reason
    record["pid"] = os.getpid()  # still running (this process): left alone
    (job / "state.json").write_text(json.dumps(record))
    assert backend.find_trainings(name_contains="dead", status="InProgress") == ["j-dead"]


# -- with the extra ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalBackend, str]]:
    pytest.importorskip("gluonts")
    backend = _backend(tmp_path_factory.mktemp("store"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(BATCHES_ENV, "2")
        channels = _store_channels(backend)
        arn = backend.start_training(_spec("job-a", channels))
    assert arn == "local:training-job/job-a"
    yield backend, "job-a"


@pytest.mark.local
def test_training_completes_with_metrics_a_model_and_a_log(trained: tuple[LocalBackend, str]) -> None:
    backend, name = trained
    state = backend.describe_training(name)
    assert state is not None and state.status == "Completed" and state.terminal
    assert state.failure_reason is None and state.billable_seconds is None
    assert set(state.metrics) >= {"test:RMSE", "test:mean_wQuantileLoss", "train:final_loss"}
    assert all(np.isfinite(v) for v in state.metrics.values())
    assert state.model_artifact == str(backend.root / "jobs" / name / "model.tar.gz")
    assert Path(state.model_artifact).is_file()
    assert state.hyperparameters == HYPERPARAMETERS
    assert state.channels["train"].endswith("/data/x/train/")
    assert state.created is not None and state.ended is not None and state.ended >= state.created
    record = json.loads((backend.root / "jobs" / name / "state.json").read_text())
    assert record["num_batches_per_epoch"] == 2 and record["seed"] == 11
    # progress: one plain line per epoch on stderr (not a terminal)
    assert f"{name}: epoch 1/1, train loss" in _err(backend)
    assert backend.find_trainings(name_contains="job-", status="Completed") == [name]
    assert backend.find_trainings(name_contains="job-", status="InProgress") == []
    assert backend.find_trainings(name_contains="other", status="Completed") == []


@pytest.mark.local
def test_training_logs_page_through_the_log(trained: tuple[LocalBackend, str]) -> None:
    backend, name = trained
    page = backend.training_logs(name)
    messages = [e.message for e in page.events]
    assert messages[0].startswith(f"training {name} with GluonTS DeepAR")
    assert any(m.startswith("epoch 1/1") for m in messages)
    assert any(m.startswith("#metric test:RMSE=") for m in messages)
    assert messages[-1].startswith("completed in")
    assert all(e.stream == "local" and e.timestamp.tzinfo is not None for e in page.events)
    again = backend.training_logs(name, cursor=page.cursor)
    assert again.events == () and again.cursor == page.cursor
    middle = backend.training_logs(name, cursor=LogCursor((("local", "1"),)))
    assert [e.message for e in middle.events] == messages[1:]
    assert backend.training_logs("no-such-job").events == ()


@pytest.mark.local
def test_a_failing_training_is_a_failed_job_not_an_exception(trained: tuple[LocalBackend, str]) -> None:
    backend, name = trained
    state = backend.describe_training(name)
    assert state is not None
    backend.start_training(_spec("job-beta", dict(state.channels), likelihood="beta"))
    failed = backend.describe_training("job-beta")
    assert failed is not None and failed.status == "Failed" and failed.model_artifact is None
    assert failed.failure_reason is not None and failed.failure_reason.startswith("ClientError: likelihood")
    backend.start_training(_spec("job-nodata", {"train": str(backend.root / "nothing") + "/"}))
    nodata = backend.describe_training("job-nodata")
    assert nodata is not None and nodata.status == "Failed"
    assert nodata.failure_reason is not None and "no data at" in nodata.failure_reason
    assert any("failed: ClientError" in e.message for e in backend.training_logs("job-nodata").events)
    with pytest.raises(UsageError, match="already exists") as taken:
        backend.start_training(_spec("job-beta", dict(state.channels)))
    assert taken.value.code == "name-taken"


@pytest.mark.local
def test_wait_reports_a_failed_local_job_with_exit_6(
    run_cli: Callable[..., Any], tmp_path: Path, hermetic_env: Path
) -> None:
    pytest.importorskip("gluonts")
    (tmp_path / "nikkei-deepar.toml").write_text('backend = "local"\n')
    local = hermetic_env / "local"
    failing = LocalBackend(local, reporter=_reporter(), seed=1)
    failing.start_training(_spec("job-fails", {"train": str(local / "missing") + "/"}))
    r = run_cli("wait", "--job", "job-fails")
    assert r.exit_code == 6
    assert "training job job-fails failed: ClientError: channel train: no data at" in r.stderr
    ok = run_cli("wait", "--job", "job-a")  # not in this store
    assert ok.exit_code == 5


@pytest.mark.local
def test_a_job_past_its_max_runtime_is_stopped_and_wait_says_what_to_raise(
    run_cli: Callable[..., Any], tmp_path: Path, hermetic_env: Path, trained: tuple[LocalBackend, str]
) -> None:
    backend, name = trained
    state = backend.describe_training(name)
    assert state is not None
    (tmp_path / "nikkei-deepar.toml").write_text('backend = "local"\n')
    local = LocalBackend(hermetic_env / "local", reporter=_reporter(), seed=1)
    local.start_training(_spec("job-slow", dict(state.channels), max_runtime=0, epochs="20"))
    stopped = local.describe_training("job-slow")
    assert stopped is not None and stopped.terminal
    assert (stopped.status, stopped.secondary_status) == ("Stopped", "MaxRuntimeExceeded")
    assert stopped.model_artifact is None and stopped.failure_reason is None
    assert any("max runtime of 0 s reached" in e.message for e in local.training_logs("job-slow").events)
    r = run_cli("wait", "--job", "job-slow")
    assert r.exit_code == 7
    assert "training job job-slow was stopped (MaxRuntimeExceeded); it has no model" in r.stderr
    assert "raise training.max_runtime_seconds" in r.stderr


@pytest.mark.local
def test_hosting_invoke_and_deletes(trained: tuple[LocalBackend, str]) -> None:
    backend, name = trained
    state = backend.describe_training(name)
    assert state is not None and state.model_artifact is not None
    tags = {"managed-by": "nikkei-deepar", "project": "p"}
    assert backend.create_model(
        ModelSpec(name="m-1", model_artifact=state.model_artifact, tags=tags, job=name)
    )
    assert backend.create_endpoint_config(EndpointConfigSpec(name="c-1", model_name="m-1", tags=tags))
    with pytest.raises(UsageError, match="already exists"):
        backend.create_model(ModelSpec(name="m-1", model_artifact=state.model_artifact, tags=tags))
    backend.create_endpoint("ep", config_name="c-1", tags=tags)
    endpoint = backend.describe_endpoint("ep")
    assert endpoint is not None and endpoint.status == "InService" and endpoint.settled
    assert endpoint.config_name == "c-1" and backend.resource_tags("endpoint", "ep") == tags
    with pytest.raises(UsageError, match="already exists"):
        backend.create_endpoint("ep", config_name="c-1", tags=tags)

    body = backend.invoke("ep", _request_body(), content_type="application/json", accept="application/json")
    forecast = parse_response(body, quantiles=QUANTILES, prediction_length=H)
    assert len(forecast.mean) == H and set(forecast.quantiles) == {"0.1", "0.5", "0.9"}
    assert all(lo <= mid <= hi for lo, mid, hi in zip(*forecast.quantiles.values(), strict=True))

    # update switches the config; the endpoint keeps serving after its old model record is deleted
    backend.create_model(ModelSpec(name="m-2", model_artifact=state.model_artifact, tags=tags))
    backend.create_endpoint_config(EndpointConfigSpec(name="c-2", model_name="m-2", tags=tags))
    backend.update_endpoint("ep", config_name="c-2")
    updated = backend.describe_endpoint("ep")
    assert updated is not None and updated.config_name == "c-2" and updated.status == "InService"
    assert (
        updated.modified is not None
        and endpoint.modified is not None
        and updated.modified > endpoint.modified
    )
    assert backend.delete_model("m-2") and backend.delete_endpoint_config("c-2")
    assert backend.invoke("ep", _request_body(), content_type="application/json", accept="application/json")

    with pytest.raises(AwsError, match="HTTP 415") as wrong_type:
        backend.invoke("ep", _request_body(), content_type="text/csv", accept="application/json")
    assert wrong_type.value.code == "model-error"
    with pytest.raises(AwsError, match="Unable to evaluate payload"):
        backend.invoke("ep", b"{not json", content_type="application/json", accept="application/json")
    with pytest.raises(AwsError, match="context_length"):
        short = json.dumps({"instances": [{"start": "2023-01-02 00:00:00", "target": [1.0, 2.0]}]}).encode()
        backend.invoke("ep", short, content_type="application/json", accept="application/json")

    assert backend.delete_endpoint("ep") is True and backend.delete_endpoint("ep") is False
    assert backend.describe_endpoint("ep") is None
    assert backend.delete_model("m-1") is True and backend.delete_model("m-1") is False
    assert backend.delete_endpoint_config("c-1") is True and backend.delete_endpoint_config("c-1") is False


@pytest.mark.local
def test_a_trained_model_is_served_without_the_extra(
    trained: tuple[LocalBackend, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend, name = trained
    artifact = backend.describe_training(name).model_artifact  # type: ignore[union-attr]
    backend.create_model(ModelSpec(name="nx-m", model_artifact=str(artifact), tags={}))
    backend.create_endpoint_config(EndpointConfigSpec(name="nx-c", model_name="nx-m", tags={}))
    backend.create_endpoint("nx", config_name="nx-c", tags={})
    before = backend.invoke("nx", _request_body(), content_type="application/json", accept="*/*")
    for module in ("gluonts", "torch", "lightning"):  # any import of them would now fail
        monkeypatch.setitem(sys.modules, module, None)
    assert backend.invoke("nx", _request_body(), content_type="application/json", accept="*/*") == before
    assert "torch-free" not in _err(backend)  # no note: nothing fell back


@pytest.mark.local
def test_damaged_torch_free_weights_are_a_model_error(
    trained: tuple[LocalBackend, str], tmp_path: Path
) -> None:
    """A model that cannot load answers as SageMaker's would: ModelError, HTTP 500, exit 4, one line."""
    from nikkei_deepar.engine.archive import read_archive, write_archive
    from nikkei_deepar.engine.numpy_deepar import WEIGHTS
    from nikkei_deepar.errors import ExitCode

    backend, name = trained
    artifact = Path(backend.describe_training(name).model_artifact)  # type: ignore[union-attr, arg-type]
    marker, files = read_archive(artifact)
    folder = tmp_path / "damaged"
    folder.mkdir()
    for member, data in files.items():
        if member != "nikkei-deepar.json":
            (folder / member).write_bytes(data[: len(data) // 2] if member == WEIGHTS else data)
    metadata = {k: v for k, v in marker.items() if k not in ("format", "format_version", "files")}
    damaged = write_archive(folder, tmp_path, metadata=metadata)
    backend.create_model(ModelSpec(name="dm-m", model_artifact=str(damaged), tags={}))
    backend.create_endpoint_config(EndpointConfigSpec(name="dm-c", model_name="dm-m", tags={}))
    backend.create_endpoint("dm", config_name="dm-c", tags={})
    with pytest.raises(AwsError, match=r"HTTP 500.*torch-free weights cannot be used") as refused:
        backend.invoke("dm", _request_body(), content_type="application/json", accept="*/*")
    assert refused.value.code == "model-error" and refused.value.exit_code == ExitCode.AWS
    assert "\n" not in refused.value.message


@pytest.mark.local
def test_same_data_config_and_seed_give_the_same_forecast(
    trained: tuple[LocalBackend, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend, name = trained
    state = backend.describe_training(name)
    assert state is not None
    monkeypatch.setenv(BATCHES_ENV, "2")
    backend.start_training(_spec("job-twin", dict(state.channels)))
    twin = backend.describe_training("job-twin")
    assert twin is not None and twin.status == "Completed"
    assert twin.metrics == state.metrics
    bodies = []
    for job, suffix in ((name, "a"), ("job-twin", "b")):
        artifact = backend.describe_training(job).model_artifact  # type: ignore[union-attr]
        backend.create_model(ModelSpec(name=f"det-m-{suffix}", model_artifact=str(artifact), tags={}))
        backend.create_endpoint_config(
            EndpointConfigSpec(name=f"det-c-{suffix}", model_name=f"det-m-{suffix}", tags={})
        )
        backend.create_endpoint(f"det-{suffix}", config_name=f"det-c-{suffix}", tags={})
        for _ in range(2):
            bodies.append(
                backend.invoke(
                    f"det-{suffix}", _request_body(), content_type="application/json", accept="*/*"
                )
            )
    assert len(set(bodies)) == 1
    other_seed = LocalBackend(backend.root, reporter=_reporter(), seed=backend._seed + 1)
    assert (
        other_seed.invoke("det-a", _request_body(), content_type="application/json", accept="*/*")
        != bodies[0]
    )


@pytest.mark.local
def test_a_transform_forecasts_every_line(trained: tuple[LocalBackend, str], tmp_path: Path) -> None:
    backend, name = trained
    artifact = backend.describe_training(name).model_artifact  # type: ignore[union-attr]
    backend.create_model(ModelSpec(name="tm", model_artifact=str(artifact), tags={}))
    series = _series()
    line = json.dumps(
        json.loads(encode_request(build_request(series, quantiles=QUANTILES, num_samples=10)))["instances"][0]
    )
    source = backend.put_artifact(
        "batch/in/input.jsonl", (line + "\n" + line + "\n").encode(), content_type="application/jsonlines"
    )
    config = inference_config(quantiles=QUANTILES, num_samples=10)
    spec = TransformSpec(
        name="tr-1",
        model_name="tm",
        input_uri=source,
        output_uri=backend.artifact_uri("batch/out/"),
        inference_config=config,
        instance_type="ml.m5.large",
        instance_count=1,
        tags={},
    )
    assert backend.start_transform(spec) == "local:transform-job/tr-1"
    state = backend.describe_transform("tr-1")
    assert (
        state is not None and state.status == "Completed" and state.terminal and state.failure_reason is None
    )
    out = Path(backend.artifact_uri("batch/out/input.jsonl.out")).read_bytes().splitlines()
    forecasts = [parse_batch_output_line(x, quantiles=QUANTILES, prediction_length=H) for x in out]
    assert len(forecasts) == 2 and forecasts[0] == forecasts[1]  # seeded per series
    with pytest.raises(NotFoundError):
        backend.start_transform(TransformSpec(**{**spec.__dict__, "name": "tr-2", "model_name": "none"}))
    bad = TransformSpec(**{**spec.__dict__, "name": "tr-3", "input_uri": str(tmp_path / "missing.jsonl")})
    backend.start_transform(bad)
    failed = backend.describe_transform("tr-3")
    assert failed is not None and failed.status == "Failed" and "no data" in (failed.failure_reason or "")


class _CtrlC(Reporter):
    """A reporter whose first progress line meets a Ctrl-C: raised inside Lightning's training loop."""

    def live(self, message: str) -> None:
        raise KeyboardInterrupt


@pytest.mark.local
def test_ctrl_c_during_training_stops_the_job_and_stays_a_keyboard_interrupt(
    trained: tuple[LocalBackend, str],
) -> None:
    import signal

    backend, name = trained
    state = backend.describe_training(name)
    assert state is not None
    before = signal.getsignal(signal.SIGINT)
    interrupted = LocalBackend(
        backend.root, reporter=_CtrlC(interactive=False, color=False, stream=io.StringIO()), seed=1
    )
    # Lightning turns it into sys.exit(1) and ignores SIGINT from then on: neither may leak out
    with pytest.raises(KeyboardInterrupt):
        interrupted.start_training(_spec("job-ctrl-c", dict(state.channels)))
    assert signal.getsignal(signal.SIGINT) is before
    stopped = backend.describe_training("job-ctrl-c")
    assert stopped is not None and stopped.status == "Stopped" and stopped.model_artifact is None
    assert any("interrupted" in e.message for e in backend.training_logs("job-ctrl-c").events)


@pytest.mark.local
def test_lightning_is_silent_unless_verbose(
    trained: tuple[LocalBackend, str], capfd: pytest.CaptureFixture[str]
) -> None:
    backend, name = trained
    state = backend.describe_training(name)
    assert state is not None
    capfd.readouterr()
    backend.start_training(_spec("job-quiet", dict(state.channels)))
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # the reporter writes to its own stream; Lightning says nothing
    loud = LocalBackend(
        backend.root,
        reporter=Reporter(interactive=False, color=False, verbose=True, stream=io.StringIO()),
        seed=1,
    )
    loud.start_training(_spec("job-loud", dict(state.channels)))
    out, err = capfd.readouterr()
    assert out == ""  # stdout is for results, even when verbose
    assert "Total params" in err  # the model summary (its log lines go to logging)
