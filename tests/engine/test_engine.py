"""The local GluonTS DeepAR engine: training, the archive, SageMaker-shaped predict, determinism.

Needs the [local] extra (skipped without it). Kept fast: one tiny model (a ~300-day random walk with
weekends and a few more days missing, 1 epoch of 3 batches, 8 cells) trained once per module.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import local_extra

pytestmark = pytest.mark.local
local_extra.require()

from nikkei_deepar.engine import gluon as engine  # noqa: E402
from nikkei_deepar.errors import DataError, UsageError  # noqa: E402

PREDICTION_LENGTH = 7
DAYS = 300
HYPERPARAMETERS = {
    "time_freq": "D",
    "prediction_length": str(PREDICTION_LENGTH),
    "context_length": "14",
    "epochs": "1",
    "num_cells": "8",
    "num_layers": "1",
    "mini_batch_size": "16",
    "num_eval_samples": "20",
    "test_quantiles": "[0.1, 0.5, 0.9]",
}
REQUEST_CONFIG = {
    "num_samples": 20,
    "output_types": ["mean", "quantiles"],
    "quantiles": ["0.1", "0.5", "0.9"],
}


def _target(days: int = DAYS) -> list[float | str]:
    """A seeded calendar-day random walk; weekends and ~5% of other days are "NaN" (about a third)."""
    rng = np.random.default_rng(7)
    walk = 20_000 + np.cumsum(rng.normal(0, 150, days))
    weekday = (np.arange(days) + 5) % 7  # 2022-01-01 is a Saturday (weekday 5)
    missing = (weekday >= 5) | (rng.random(days) < 0.05)
    return ["NaN" if gap else round(float(v), 2) for v, gap in zip(walk, missing, strict=True)]


START = "2022-01-01 00:00:00"


def _channels(target: list[float | str]) -> tuple[bytes, bytes]:
    train = json.dumps({"start": START, "target": target[:-PREDICTION_LENGTH]}) + "\n"
    test = json.dumps({"start": START, "target": target}) + "\n"
    return train.encode(), test.encode()


def _train(out_dir: Path, **overrides: Any) -> engine.TrainResult:
    train_jsonl, test_jsonl = _channels(_target())
    kwargs: dict[str, Any] = {
        "train_jsonl": train_jsonl,
        "test_jsonl": test_jsonl,
        "hyperparameters": HYPERPARAMETERS,
        "seed": 11,
        "out_dir": out_dir,
        "num_batches_per_epoch": 3,
    }
    kwargs.update(overrides)
    return engine.train(**kwargs)


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[engine.TrainResult, list[tuple[int, int, Any]]]:
    calls: list[tuple[int, int, Any]] = []
    result = _train(tmp_path_factory.mktemp("model"), progress=lambda *a: calls.append(a))
    return result, calls


def _request(**config: Any) -> dict[str, Any]:
    return {
        "instances": [{"start": START, "target": _target()}],
        "configuration": {**REQUEST_CONFIG, **config},
    }


def _members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


def _write_tar(path: Path, members: dict[str, bytes]) -> Path:
    with gzip.open(path, "wb") as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture(params=["numpy", "gluonts"])
def predict(request: pytest.FixtureRequest) -> Any:
    """The request/response contract holds on both paths: `serving.predict` (the torch-free weights,
    what the local endpoint uses) and the GluonTS predictor (an older archive's path)."""
    from nikkei_deepar.engine import serving

    return serving.predict if request.param == "numpy" else engine.predict


# ------------------------------------------------------------------------------------ training


def test_the_data_is_a_third_missing() -> None:
    share = sum(v == "NaN" for v in _target()) / DAYS
    assert 0.25 < share < 0.4


def test_train_writes_a_small_archive_with_our_marker(trained: Any) -> None:
    result, _ = trained
    assert result.model_tar.name == "model.tar.gz"
    assert result.model_tar.stat().st_size < 200_000
    members = _members(result.model_tar)
    assert set(members) == {
        "nikkei-deepar.json",
        "predictor.json",
        "gluonts-config.json",
        "prediction-net-state.pt",
        "numpy-deepar.json",  # the torch-free form predict serves (engine.numpy_deepar)
        "numpy-deepar-weights.npz",
    }
    marker = json.loads(members["nikkei-deepar.json"])
    assert marker["engine"] == "gluonts-torch" and marker["inference"] == "numpy"
    assert marker["format"] == engine.FORMAT and marker["format_version"] == engine.FORMAT_VERSION
    assert marker["hyperparameters"] == HYPERPARAMETERS and marker["seed"] == 11
    # the default D lags reach 1,093 days back; those longer than the 293-day series are dropped
    assert max(marker["lags_seq"]) < DAYS - PREDICTION_LENGTH
    assert 1 in marker["lags_seq"] and 28 in marker["lags_seq"]


def test_train_reports_finite_sagemaker_metrics_and_progress(trained: Any) -> None:
    result, calls = trained
    expected = {
        "train:final_loss",
        "test:RMSE",
        "test:mean_wQuantileLoss",
        "test:wQuantileLoss[0.1]",
        "test:wQuantileLoss[0.5]",
        "test:wQuantileLoss[0.9]",
    }
    assert set(result.metrics) == expected
    assert all(math.isfinite(v) for v in result.metrics.values())
    assert result.epochs_run == 1
    assert result.seconds > 0
    assert calls == [(1, 1, result.metrics["train:final_loss"])]


def test_an_empty_test_channel_gives_the_train_loss_only(tmp_path: Path) -> None:
    result = _train(tmp_path, test_jsonl=b"")
    assert set(result.metrics) == {"train:final_loss"}


def test_training_prints_nothing_unless_verbose(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    _train(tmp_path)
    engine.predict(model_tar=tmp_path / "model.tar.gz", request=_request(), seed=1)
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


def test_early_stopping_patience_is_honoured(tmp_path: Path) -> None:
    hyperparameters = {**HYPERPARAMETERS, "epochs": "3", "early_stopping_patience": "1"}
    result = _train(tmp_path, hyperparameters=hyperparameters, num_batches_per_epoch=2)
    assert 1 <= result.epochs_run <= 3
    assert math.isfinite(result.metrics["train:final_loss"])


def test_training_past_the_max_runtime_is_ended_without_a_model(tmp_path: Path) -> None:
    hyperparameters = {**HYPERPARAMETERS, "epochs": "50"}
    with pytest.raises(engine.RuntimeLimitReached, match=r"max runtime of 0 s reached after 1 epoch") as hit:
        _train(tmp_path, hyperparameters=hyperparameters, num_batches_per_epoch=5, max_seconds=0)
    assert hit.value.epochs_run == 1  # ended after its first batch, not after 50 epochs
    assert not (tmp_path / "model.tar.gz").exists()


def test_a_max_runtime_that_is_not_reached_changes_nothing(tmp_path: Path) -> None:
    result = _train(tmp_path, max_seconds=3600)
    assert result.epochs_run == int(HYPERPARAMETERS["epochs"])
    assert result.model_tar.is_file()


def test_a_test_channel_with_nothing_to_score_fails_before_training(tmp_path: Path) -> None:
    target = _target()
    target[-PREDICTION_LENGTH:] = ["NaN"] * PREDICTION_LENGTH
    test_jsonl = (json.dumps({"start": START, "target": target}) + "\n").encode()
    with pytest.raises(DataError, match="only missing values in its last 7 points"):
        _train(tmp_path, test_jsonl=test_jsonl)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"likelihood": "beta"}, "likelihood 'beta' is not supported"),
        ({"likelihood": "deterministic-L1"}, "likelihood 'deterministic-L1' is not supported"),
        ({"num_epochs": "3"}, "unknown hyperparameter(s) for the local backend: num_epochs"),
        ({"epochs": "many"}, "epochs='many' is not an integer"),
        ({"time_freq": "B"}, "time_freq 'B' is not a DeepAR frequency"),
        ({"test_quantiles": "[0.5, 1.5]"}, "strictly between 0 and 1"),
    ],
)
def test_bad_hyperparameters_are_usage_errors(tmp_path: Path, change: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        _train(tmp_path, hyperparameters={**HYPERPARAMETERS, **change})
    assert not (tmp_path / "model.tar.gz").exists()


def test_supported_likelihoods_and_early_stopping_are_accepted() -> None:
    for likelihood in ("student-T", "gaussian", "negative-binomial"):
        assert (
            engine.parse_hyperparameters({**HYPERPARAMETERS, "likelihood": likelihood}).likelihood
            == likelihood
        )
    settings = engine.parse_hyperparameters(
        {
            **HYPERPARAMETERS,
            "early_stopping_patience": "3",
            "embedding_dimension": "10",
            "cardinality": "auto",
        }
    )
    assert settings.early_stopping_patience == 3


def test_a_missing_extra_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(engine, "_loaded", [])
    monkeypatch.setitem(sys.modules, "gluonts.torch.model.deepar", None)
    with pytest.raises(UsageError, match=r"needs the \[local\] extra") as caught:
        _train(tmp_path)
    assert caught.value.hint is not None and "torch==2.13.0" in caught.value.hint


def test_importing_the_engine_does_not_import_torch() -> None:
    code = (
        "import sys, nikkei_deepar.engine.gluon; "
        "print(sorted({'torch', 'gluonts', 'lightning'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ------------------------------------------------------------------------------------ predict


def test_predict_answers_in_sagemaker_shape(predict: Any, trained: Any) -> None:
    result, _ = trained
    response = predict(model_tar=result.model_tar, request=_request(), seed=1)
    assert set(response) == {"predictions"}
    (prediction,) = response["predictions"]
    assert set(prediction) == {"mean", "quantiles"}
    assert len(prediction["mean"]) == PREDICTION_LENGTH
    assert list(prediction["quantiles"]) == ["0.1", "0.5", "0.9"]
    q = {k: np.array(v) for k, v in prediction["quantiles"].items()}
    assert all(len(v) == PREDICTION_LENGTH for v in q.values())
    assert np.all(q["0.1"] <= q["0.5"]) and np.all(q["0.5"] <= q["0.9"])
    assert np.all(np.isfinite(prediction["mean"]))


def test_predict_takes_null_and_nan_as_missing(predict: Any, trained: Any) -> None:
    target: list[Any] = [None if v == "NaN" else v for v in _target()]
    request = {"instances": [{"start": START, "target": target}], "configuration": REQUEST_CONFIG}
    with_null = predict(model_tar=trained[0].model_tar, request=request, seed=1)
    assert with_null == predict(model_tar=trained[0].model_tar, request=_request(), seed=1)


def test_predict_can_return_samples_for_several_series(predict: Any, trained: Any) -> None:
    result, _ = trained
    request = _request(num_samples=5, output_types=["samples"], quantiles=[])
    request["instances"].append({"start": START, "target": _target()[:100]})
    response = predict(model_tar=result.model_tar, request=request, seed=1)
    assert len(response["predictions"]) == 2
    for prediction in response["predictions"]:
        assert set(prediction) == {"samples"}
        assert np.array(prediction["samples"]).shape == (5, PREDICTION_LENGTH)
    # seeded per series: a series' forecast does not depend on its neighbours in the request
    alone = predict(
        model_tar=result.model_tar,
        request=_request(num_samples=5, output_types=["samples"], quantiles=[]),
        seed=1,
    )
    assert alone["predictions"][0] == response["predictions"][0]


@pytest.mark.parametrize(
    ("request_body", "message"),
    [
        ({"instances": []}, "no instances"),
        ({"configuration": REQUEST_CONFIG}, "no instances"),
        ({"instances": [{"start": START, "target": [1.0, 2.0, 3.0]}]}, "at least context_length"),
        ({"instances": [{"start": START, "target": ["abc"] * 30}]}, "is not a number"),
        ({"instances": [{"start": START, "target": [True] * 30}]}, "is not a number"),
        ({"instances": [{"start": "2022/01/01", "target": [1.0] * 30}]}, "is not 'YYYY-MM-DD HH:MM:SS'"),
        ({"instances": [{"start": START, "target": [1.0] * 30, "cat": [0]}]}, "not supported"),
        (
            {"instances": [{"start": START, "target": [1.0] * 30}], "configuration": {"quantiles": ["1.5"]}},
            "not a level strictly between 0 and 1",
        ),
        (
            {
                "instances": [{"start": START, "target": [1.0] * 30}],
                "configuration": {"output_types": ["median"]},
            },
            "output_types",
        ),
    ],
)
def test_bad_requests_are_data_errors(
    predict: Any, trained: Any, request_body: dict[str, Any], message: str
) -> None:
    result, _ = trained
    with pytest.raises(DataError, match=message):
        predict(model_tar=result.model_tar, request=request_body, seed=1)


# ------------------------------------------------------------------------------------ archive safety


def test_an_archive_without_our_marker_is_refused(predict: Any, trained: Any, tmp_path: Path) -> None:
    members = _members(trained[0].model_tar)
    del members["nikkei-deepar.json"]
    archive = _write_tar(tmp_path / "model.tar.gz", members)
    with pytest.raises(UsageError, match=r"no nikkei-deepar\.json") as caught:
        predict(model_tar=archive, request=_request(), seed=1)
    assert caught.value.code == "model-archive"


def test_an_archive_with_a_parent_path_member_is_refused(predict: Any, trained: Any, tmp_path: Path) -> None:
    members = _members(trained[0].model_tar)
    members["../escaped.txt"] = b"x"
    archive = _write_tar(tmp_path / "model.tar.gz", members)
    with pytest.raises(UsageError, match=r"unexpected member '\.\./escaped\.txt'"):
        predict(model_tar=archive, request=_request(), seed=1)
    assert not (tmp_path.parent / "escaped.txt").exists()


def test_a_modified_predictor_is_refused(predict: Any, trained: Any, tmp_path: Path) -> None:
    members = _members(trained[0].model_tar)
    members["predictor.json"] = members["predictor.json"].replace(b"gluonts.torch.model.predictor", b"os")
    archive = _write_tar(tmp_path / "model.tar.gz", members)
    with pytest.raises(UsageError, match="does not match its digest"):
        predict(model_tar=archive, request=_request(), seed=1)


# ------------------------------------------------------------------------------------ determinism

_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from nikkei_deepar.engine import gluon as engine
    args = json.loads(sys.argv[1])
    result = engine.train(
        train_jsonl=args["train"].encode(), test_jsonl=args["test"].encode(), hyperparameters=args["hp"],
        seed=5, out_dir=Path(args["out"]), num_batches_per_epoch=3,
    )
    response = engine.predict(model_tar=result.model_tar, request=args["request"], seed=9)
    print(json.dumps({"metrics": result.metrics, "response": response}, sort_keys=True))
    """
)


def test_same_data_and_seed_give_identical_forecasts_across_processes(tmp_path: Path) -> None:
    """A fresh interpreter and this one (which has trained other models already) train and forecast the
    same bytes: the engine pins the seeds and torch's thread count itself."""
    train_jsonl, test_jsonl = _channels(_target())
    args = {
        "train": train_jsonl.decode(),
        "test": test_jsonl.decode(),
        "hp": HYPERPARAMETERS,
        "out": str(tmp_path / "a"),
        "request": _request(output_types=["mean", "quantiles", "samples"]),
    }
    fresh = subprocess.Popen(
        [sys.executable, "-c", _SCRIPT, json.dumps(args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    result = engine.train(
        train_jsonl=train_jsonl,
        test_jsonl=test_jsonl,
        hyperparameters=HYPERPARAMETERS,
        seed=5,
        out_dir=tmp_path / "b",
        num_batches_per_epoch=3,
    )
    response = engine.predict(model_tar=result.model_tar, request=args["request"], seed=9)
    here = json.dumps({"metrics": result.metrics, "response": response}, sort_keys=True)
    out, err = fresh.communicate(timeout=120)
    assert fresh.returncode == 0, err
    assert out.strip() == here
    assert json.loads(here)["response"]["predictions"][0]["samples"]
    archives = [(tmp_path / name / "model.tar.gz").read_bytes() for name in ("a", "b")]
    assert archives[0] == archives[1]


# ------------------------------------------------------------------------------------ dynamic_feat


def _features(length: int) -> list[list[float]]:
    """Two known-ahead rows, as `[data] calendar_features` sends: weekday and a weekend flag."""
    weekday = (np.arange(length) + 5) % 7  # START is a Saturday
    return [(weekday / 6 - 0.5).tolist(), np.where(weekday >= 5, 0.5, -0.5).tolist()]


@pytest.fixture(scope="module")
def trained_with_features(tmp_path_factory: pytest.TempPathFactory) -> engine.TrainResult:
    target = _target()
    train = {"start": START, "target": target[:-PREDICTION_LENGTH], "dynamic_feat": _features(DAYS)}
    train["dynamic_feat"] = [row[:-PREDICTION_LENGTH] for row in train["dynamic_feat"]]
    test = {"start": START, "target": target, "dynamic_feat": _features(DAYS)}
    return _train(
        tmp_path_factory.mktemp("features"),
        train_jsonl=(json.dumps(train) + "\n").encode(),
        test_jsonl=(json.dumps(test) + "\n").encode(),
    )


def test_dynamic_feat_are_trained_on_and_predicted_through_the_horizon(
    predict: Any,
    trained_with_features: engine.TrainResult,
) -> None:
    marker = json.loads(_members(trained_with_features.model_tar)[engine.MARKER])
    assert marker["num_dynamic_feat"] == 2
    assert math.isfinite(trained_with_features.metrics["test:mean_wQuantileLoss"])
    request = _request()
    request["instances"][0]["dynamic_feat"] = _features(DAYS + PREDICTION_LENGTH)
    answer = predict(model_tar=trained_with_features.model_tar, request=request, seed=1)
    prediction = answer["predictions"][0]
    assert len(prediction["mean"]) == PREDICTION_LENGTH
    assert all(math.isfinite(v) for v in prediction["mean"])


@pytest.mark.parametrize(
    ("features", "message"),
    [
        (None, "0 dynamic_feat row"),  # trained with them, sent none
        (_features(DAYS), f"dynamic_feat has {DAYS} points, expected {DAYS + PREDICTION_LENGTH}"),
        ([[0.0] * (DAYS + PREDICTION_LENGTH)], "1 dynamic_feat row"),
        (
            [[0.0] * (DAYS + PREDICTION_LENGTH), [math.nan] * (DAYS + PREDICTION_LENGTH)],
            "not a finite number",
        ),
    ],
)
def test_requests_must_carry_the_features_the_model_was_trained_with(
    predict: Any, trained_with_features: engine.TrainResult, features: Any, message: str
) -> None:
    request = _request()
    if features is not None:
        request["instances"][0]["dynamic_feat"] = features
    with pytest.raises(DataError, match=message):
        predict(model_tar=trained_with_features.model_tar, request=request, seed=1)


def test_a_model_trained_without_features_refuses_them(predict: Any, trained: Any) -> None:
    result, _ = trained
    request = _request()
    request["instances"][0]["dynamic_feat"] = _features(DAYS + PREDICTION_LENGTH)
    with pytest.raises(DataError, match=r"2 dynamic_feat row.*expects 0"):
        predict(model_tar=result.model_tar, request=request, seed=1)


def test_channel_features_must_match_their_target_and_num_dynamic_feat(tmp_path: Path) -> None:
    target = _target()
    short = {"start": START, "target": target, "dynamic_feat": _features(DAYS - 1)}
    with pytest.raises(DataError, match=f"dynamic_feat has {DAYS - 1} points, expected {DAYS}"):
        _train(tmp_path, train_jsonl=(json.dumps(short) + "\n").encode(), test_jsonl=b"")
    with pytest.raises(DataError, match="num_dynamic_feat is 3, the channels carry 0"):
        _train(tmp_path, hyperparameters={**HYPERPARAMETERS, "num_dynamic_feat": "3"})
    assert not (tmp_path / "model.tar.gz").exists()
