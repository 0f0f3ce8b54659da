"""`predict` on `FakeBackend` (tests/fake_backend.py): the request it builds, the dated forecast in every
format, --output, --plot, --batch (transform jobs queued with the `.out` they write), and every unusable
answer as a clear error. No moto: what the SageMaker backend adds (the InvokeEndpoint headers, the
transform request as SageMaker gets it, SageMaker Runtime's errors) is tested end to end in
tests/backends/sagemaker/test_predict_on_sagemaker.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest

from fake_backend import FakeBackend, fake_context
from ledger_edit import edited, series_version
from nikkei_deepar.backends.base import JOB_COMPLETED, TrainingState, TransformState
from nikkei_deepar.data.baselines import random_walk
from nikkei_deepar.data.calendar import next_trading_days
from nikkei_deepar.errors import AwsError, ExitCode, JobFailedError, NotFoundError, UsageError
from nikkei_deepar.ledger import DataVersion
from nikkei_deepar.steps import deploy, predict, train
from sagemaker_script import deepar_response, demo_series, settings_for

EP = "nikkei-deepar-dev"  # the default: {project}-{stage}
SHA = "ab" * 32


def _completed() -> TrainingState:
    """A DeepAR job that ended well (its name is the step's: `queue_next_training` renames it)."""
    return TrainingState(
        name="placeholder",
        status=JOB_COMPLETED,
        secondary_status=JOB_COMPLETED,
        metrics={"test:RMSE": 412.5, "test:mean_wQuantileLoss": 0.0213},
        model_artifact="fake://store/output/model.tar.gz",
    )


def _context(home: Path, fake: FakeBackend, **sections: Any) -> Any:
    return fake_context(home, fake, settings_for(**sections))


def _seed_prepared(ctx: Any, fake: FakeBackend) -> DataVersion:
    """The ledger, the local series.json and the stored copy as `prepare` leaves them (the moto tests'
    `seed_prepared`, in the fake's store)."""
    from nikkei_deepar.data.series_io import dump_series

    settings = ctx.settings
    series = demo_series()
    local = ctx.home / "data" / SHA[:16]
    local.mkdir(parents=True, exist_ok=True)
    body = dump_series(series)
    (local / "series.json").write_bytes(body)
    uri = fake.put_artifact(f"data/{SHA[:16]}/series.json", body, content_type="application/json")
    version = series_version(
        settings,
        series,
        sha=SHA,
        local_dir=local,
        train_uri=fake.artifact_uri(f"data/{SHA[:16]}/train/"),
        test_uri=fake.artifact_uri(f"data/{SHA[:16]}/test/"),
        series_uri=uri,
    )
    with edited(ctx.state) as ledger:
        ledger.record_data(version)
    return version


def _trained(ctx: Any, fake: FakeBackend) -> str:
    fake.queue_next_training(_completed())
    return train.run(ctx, force=False, wait=True, timeout=None, logs=False).job


def _deployed(ctx: Any, fake: FakeBackend) -> Any:
    """Prepared, trained and deployed; the backend's record of calls starts empty after it."""
    _seed_prepared(ctx, fake)
    _trained(ctx, fake)
    deploy.run(ctx, job=None, timeout=None)
    fake.calls.clear()
    return ctx


@pytest.fixture
def fake() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def ctx(hermetic_env: Path, fake: FakeBackend) -> Any:
    """Prepared, trained (Completed with metrics) and deployed; the forecast is DeepAR's answer alone
    (random_walk_weight 0, not the shipped 0.8) so the tests can read the queued answer in it. The
    model is a price model (`[data] target = "price"`): its answer is the forecast, as queued; the
    log-return model's requests and answers have their own tests below."""
    context = _context(hermetic_env, fake, data={"target": "price"}, forecast={"random_walk_weight": 0.0})
    return _deployed(context, fake)


def _predict(ctx: Any, **options: Any) -> predict.PredictResult:
    values: dict[str, Any] = {"fmt": "table", "output": None, "plot": None, "batch": False, "timeout": None}
    values.update(options)
    return predict.run(ctx, **values)


def _invokes(fake: FakeBackend) -> list[dict[str, Any]]:
    return [args for verb, args in fake.calls if verb == "invoke"]


def _answer(text: str) -> bytes:
    return text.encode()


# -- real time ------------------------------------------------------------------------------------------
def test_the_request_is_the_whole_history_with_the_configured_quantiles(ctx: Any, fake: FakeBackend) -> None:
    fake.queue_answer(_answer(deepar_response(17)))
    _predict(ctx)
    sent = _invokes(fake)
    assert len(sent) == 1 and sent[0]["endpoint"] == EP
    assert sent[0]["content_type"] == "application/json" and sent[0]["accept"] == "application/json"
    body = json.loads(sent[0]["body"])
    series = json.loads((Path(ctx.state.load().last_data.local_dir) / "series.json").read_text())
    assert len(body["instances"]) == 1
    assert len(body["instances"][0]["target"]) == len(series["target"])
    assert body["instances"][0]["start"] == f"{series['start']} 00:00:00"
    assert body["configuration"] == {
        "num_samples": 400,  # the shipped [predict] num_samples
        "output_types": ["mean", "quantiles"],
        "quantiles": ["0.1", "0.5", "0.9"],
    }
    assert fake.verbs() == ["invoke"]  # real time: nothing created, nothing fetched (the series is local)


def test_the_forecast_is_dated_by_real_trading_days(ctx: Any, fake: FakeBackend) -> None:
    fake.queue_answer(_answer(deepar_response(17)))
    result = _predict(ctx)
    last = dt.date.fromisoformat(ctx.state.load().last_data.last)
    expected = next_trading_days(
        last, 5
    )  # [forecast] horizon_trading_days: 5 sessions, whatever lies between
    assert [(p["step"], p["date"]) for p in result.points] == [
        (step, d.isoformat()) for step, d in enumerate(expected, start=1)
    ]
    # each row is DeepAR's step on that calendar day (the queued answer rises by one a step)
    assert [p["mean"] for p in result.points] == [38000.0 + (d - last).days - 1 for d in expected]
    assert result.prediction_length == 17 and result.horizon == 5
    assert result.calendar == "calendar_days"
    assert result.job == ctx.state.load().deployments[-1].job
    assert result.last_close is not None
    table = result.to_table()
    assert table is not None and list(table.columns) == ["date", "mean", "q0.1", "q0.5", "q0.9"]
    assert len(table.rows) == 5
    assert not result.notes


def test_a_model_trained_for_seven_calendar_days_says_what_it_cannot_reach(
    ctx: Any, fake: FakeBackend
) -> None:
    # a model from before the horizon was counted in trading days: prediction_length 7 in the ledger
    with edited(ctx.state) as ledger:
        job = ledger.jobs[-1]
        job.hyperparameters["prediction_length"] = "7"
    fake.queue_answer(_answer(deepar_response(7)))
    result = _predict(ctx)
    assert 0 < len(result.points) < 5 or result.notes == []
    if len(result.points) < 5:
        assert any(
            "reach only" in line and "run `prepare` and `train` again" in line for line in result.to_lines()
        )


def test_the_random_walk_weight_mixes_the_random_walk_into_every_level(ctx: Any, fake: FakeBackend) -> None:
    fake.queue_answer(*[_answer(deepar_response(17))] * 3)
    alone = _predict(ctx)
    assert alone.random_walk_weight == 0.0
    ctx.settings.forecast.__dict__["random_walk_weight"] = 1.0
    walk = _predict(ctx)
    ctx.settings.forecast.__dict__["random_walk_weight"] = 0.25
    mixed = _predict(ctx)
    assert walk.random_walk_weight == 1.0 and walk.to_data()["random_walk_weight"] == 1.0
    last_close = walk.last_close
    assert all(p["mean"] == last_close for p in walk.points)  # the random walk: no change
    series = json.loads((Path(ctx.state.load().last_data.local_dir) / "series.json").read_text())
    closes = [v for v in series["target"] if v != "NaN" and v is not None]
    expected = random_walk(closes, horizon=5, quantiles=[0.1, 0.5, 0.9])  # what `backtest` scores
    for i, p in enumerate(walk.points):
        assert [p["quantiles"][k] for k in ("0.1", "0.5", "0.9")] == pytest.approx(
            [expected.quantile(t)[i] for t in (0.1, 0.5, 0.9)]
        )
    for a, w, m in zip(alone.points, walk.points, mixed.points, strict=True):
        assert m["date"] == a["date"] and m["step"] == a["step"]
        assert m["mean"] == pytest.approx(0.75 * a["mean"] + 0.25 * w["mean"])
        for key in ("0.1", "0.5", "0.9"):
            assert m["quantiles"][key] == pytest.approx(
                0.75 * a["quantiles"][key] + 0.25 * w["quantiles"][key]
            )


def test_csv_and_json_formats_for_scripts(ctx: Any, fake: FakeBackend) -> None:
    fake.queue_answer(_answer(deepar_response(17)), _answer(deepar_response(17, level=39000.0)))
    as_csv = _predict(ctx, fmt="csv")
    rows = list(csv.DictReader(io.StringIO("\n".join(as_csv.to_lines()))))
    assert list(rows[0]) == ["date", "step", "mean", "q0.1", "q0.5", "q0.9"]
    assert float(rows[0]["q0.1"]) < float(rows[0]["mean"]) < float(rows[0]["q0.9"])
    assert as_csv.to_table() is None

    as_json = _predict(ctx, fmt="json")
    document = json.loads("\n".join(as_json.to_lines()))
    assert document["forecast"][0]["quantiles"]["0.5"] == document["forecast"][0]["mean"]
    assert set(as_json.to_data()) >= {"forecast", "job", "last_date", "output", "plot"}


def test_output_file_is_written_atomically_in_the_chosen_format(
    ctx: Any, fake: FakeBackend, tmp_path: Path
) -> None:
    fake.queue_answer(_answer(deepar_response(17)))
    target = tmp_path / "out" / "forecast.json"
    result = _predict(ctx, output=target)  # --format table + a .json file: JSON
    assert json.loads(target.read_text())["prediction_length"] == 17
    assert [p.name for p in target.parent.iterdir()] == ["forecast.json"]
    assert result.to_lines()[1] == f"wrote json to {target}"
    assert result.to_table() is None


def test_bad_format_is_a_usage_error(ctx: Any, fake: FakeBackend) -> None:
    with pytest.raises(UsageError, match="--format 'xml'"):
        _predict(ctx, fmt="xml")
    assert fake.calls == []  # refused before anything was asked of the backend


def test_plot_draws_a_png(ctx: Any, fake: FakeBackend, tmp_path: Path) -> None:
    fake.queue_answer(_answer(deepar_response(17)))
    target = tmp_path / "fan.png"
    result = _predict(ctx, plot=target)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"plot: {target}" in result.to_lines()


def test_plot_without_matplotlib_names_the_extra(
    ctx: Any, fake: FakeBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(UsageError, match="matplotlib") as info:
        _predict(ctx, plot=tmp_path / "fan.png")
    assert info.value.hint == "pip install 'nikkei-deepar[plot]'"
    assert "invoke" not in fake.verbs()  # failed before paying for a forecast


def test_prediction_length_is_the_deployed_models(ctx: Any, fake: FakeBackend, hermetic_env: Path) -> None:
    """The config now says 21, but the endpoint's model was trained for 17: ask for (and expect) 17."""
    fake.queue_answer(_answer(deepar_response(17)))
    other = _context(hermetic_env, fake, training={"hyperparameters": {"prediction_length": 21}})
    assert _predict(other).prediction_length == 17


def test_a_model_trained_without_calendar_features_is_sent_none(
    ctx: Any, fake: FakeBackend, hermetic_env: Path
) -> None:
    """The config now turns calendar_features on, but the endpoint's model was trained without them."""
    fake.queue_answer(_answer(deepar_response(17)), _answer(deepar_response(17)))
    _predict(ctx)
    _predict(_context(hermetic_env, fake, data={"calendar_features": True}))
    sent = _invokes(fake)
    assert len(sent) == 2
    assert all("dynamic_feat" not in json.loads(r["body"])["instances"][0] for r in sent)


def test_a_model_trained_with_calendar_features_gets_them_through_the_horizon(
    hermetic_env: Path, fake: FakeBackend
) -> None:
    context = _deployed(
        _context(
            hermetic_env,
            fake,
            data={"calendar_features": True, "target": "price"},
            forecast={"random_walk_weight": 0.0},
        ),
        fake,
    )
    fake.queue_answer(_answer(deepar_response(17)))
    result = _predict(context)
    instance = json.loads(_invokes(fake)[0]["body"])["instances"][0]
    assert len(instance["dynamic_feat"]) == 3
    assert all(len(row) == len(instance["target"]) + 17 for row in instance["dynamic_feat"])
    assert all(isinstance(v, float) for row in instance["dynamic_feat"] for v in row)
    assert len(result.points) == 5


def test_the_series_comes_from_the_store_when_it_is_not_on_this_machine(ctx: Any, fake: FakeBackend) -> None:
    fake.queue_answer(_answer(deepar_response(17)))
    data = ctx.state.load().last_data
    (Path(data.local_dir) / "series.json").unlink()
    result = _predict(ctx)
    assert result.points
    assert f"fetching the prepared series from {data.series_uri}" in ctx.reporter.stream.getvalue()
    assert fake.verbs() == ["get_artifact", "invoke"]
    assert fake.calls[0][1] == {"uri": data.series_uri}


def test_no_prepared_data(hermetic_env: Path, fake: FakeBackend) -> None:
    with pytest.raises(NotFoundError, match="no prepared data"):
        _predict(_context(hermetic_env, fake))
    assert fake.calls == []


# -- unusable answers: exit 4, one clear line -----------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("<html>502 Bad Gateway</html>", "not JSON"),
        ('{"message": "Unable to evaluate payload provided"}', "answered with an error"),
        (json.dumps({"predictions": [{"mean": [1.0, 2.0]}]}), "2 values, expected prediction_length 17"),
        (json.dumps({"predictions": []}), "should hold 1 prediction"),
        ("", "empty"),
    ],
)
def test_malformed_answers_are_exit_4(ctx: Any, fake: FakeBackend, body: str, message: str) -> None:
    fake.queue_answer(_answer(body))
    with pytest.raises(AwsError, match=message) as info:
        _predict(ctx)
    assert info.value.exit_code == 4


# -- batch ----------------------------------------------------------------------------------------------
def _batch_line(prediction_length: int = 17) -> str:
    return json.dumps(json.loads(deepar_response(prediction_length))["predictions"][0])


def _transform(status: str, reason: str | None = None) -> TransformState:
    return TransformState(name="placeholder", status=status, failure_reason=reason)


def test_batch_runs_a_transform_with_the_deployed_model(ctx: Any, fake: FakeBackend) -> None:
    fake.queue_next_transform(
        _transform("InProgress"),
        _transform("InProgress"),
        _transform("Completed"),
        output=_batch_line().encode(),
    )
    result = _predict(ctx, batch=True)
    assert result.mode == "batch" and result.source.startswith(f"{EP}-t-")
    assert len(result.points) >= 1
    ledger = ctx.state.load()
    job = ledger.resource("transform-job", result.source)
    assert job is not None and job.model == ledger.deployments[-1].model
    assert fake.checked[-1] == "predict --batch"
    assert fake.verbs() == [
        "put_artifact",
        "start_transform",
        "describe_transform",
        "describe_transform",
        "describe_transform",
        "get_artifact",
    ]  # the deployed model serves: no model created, the transform polled to its end
    spec = fake.specs[("transform-job", result.source)]
    assert spec.model_name == ledger.deployments[-1].model
    assert spec.inference_config["quantiles"] == ["0.1", "0.5", "0.9"]
    line = fake.artifacts[spec.input_uri]
    assert line.count(b"\n") == 1 and json.loads(line)["start"].endswith("00:00:00")
    assert "transform" in ctx.reporter.stream.getvalue()


def test_batch_without_a_deployment_makes_a_model_from_the_last_job(
    hermetic_env: Path, fake: FakeBackend
) -> None:
    ctx = _context(hermetic_env, fake, data={"target": "price"})
    _seed_prepared(ctx, fake)
    job = _trained(ctx, fake)
    fake.queue_next_transform(_transform("Completed"), output=_batch_line().encode())
    result = _predict(ctx, batch=True)
    assert result.job == job
    models = ctx.state.load().live_resources("model")
    assert len(models) == 1 and models[0].job == job
    made = [args["spec"] for verb, args in fake.calls if verb == "create_model"]
    assert len(made) == 1 and made[0].job == job
    assert fake.specs[("transform-job", result.source)].model_name == made[0].name


def test_batch_failure_is_exit_6(ctx: Any, fake: FakeBackend) -> None:
    fake.queue_next_transform(
        _transform("InProgress"), _transform("Failed", "ClientError: See job logs for more information")
    )
    with pytest.raises(JobFailedError, match="See job logs") as info:
        _predict(ctx, batch=True)
    assert info.value.exit_code == 6


def test_batch_output_with_a_wrong_line_count_is_an_error(ctx: Any, fake: FakeBackend) -> None:
    fake.queue_next_transform(
        _transform("Completed"), output=(_batch_line() + "\n" + _batch_line() + "\n").encode()
    )
    with pytest.raises(JobFailedError, match="2 lines for 1 input line"):
        _predict(ctx, batch=True)


def test_a_forecast_whose_configuration_lost_its_backtest_says_so(ctx: Any, fake: FakeBackend) -> None:
    from nikkei_deepar.ledger import Backtest

    job = ctx.state.load().deployments[-1].job
    fake.queue_answer(_answer(deepar_response(17)), _answer(deepar_response(17)))
    assert not any("lost to the random walk" in line for line in _predict(ctx).to_lines())
    with edited(ctx.state) as ledger:
        record = ledger.job(job)
        ledger.record_backtest(
            Backtest(
                data_sha256=record.data_sha256,
                hyperparameters=record.hyperparameters,
                horizon=5,
                windows=30,
                scores={
                    "random-walk": {"mean_wql": 0.0119, "mase": 2.0, "coverage80": 0.79},
                    "deepar": {"mean_wql": 0.0203, "mase": 3.6, "coverage80": 0.65},
                },
            )
        )
    lines = _predict(ctx).to_lines()
    assert any(line.startswith("note: DeepAR lost to the random walk") and "1.71x" in line for line in lines)


# -- a model trained on log returns ([data] target = "log_return", the default) ------------------------
@pytest.fixture
def returns_ctx(hermetic_env: Path, fake: FakeBackend) -> Any:
    """Prepared with the default target (log returns), trained and deployed; DeepAR's answer alone."""
    return _deployed(_context(hermetic_env, fake, forecast={"random_walk_weight": 0.0}), fake)


def _series_doc(ctx: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (Path(ctx.state.load().last_data.local_dir) / "series.json").read_text()
    )
    return loaded


def _returns_answer(h: int = 17) -> str:
    # three sample paths: up 1% a step, flat, down 1% a step (DeepAR's own mean/quantiles are not read)
    return deepar_response(h, samples=[[1.0] * h, [0.0] * h, [-1.0] * h])


def test_the_job_records_the_target_of_its_data(returns_ctx: Any) -> None:
    ledger = returns_ctx.state.load()
    assert ledger.last_data.target == "log_return"
    assert ledger.job(ledger.deployments[-1].job).target == "log_return"


def test_a_log_return_model_is_sent_returns_and_asked_for_samples(
    returns_ctx: Any, fake: FakeBackend
) -> None:
    fake.queue_answer(_answer(_returns_answer()))
    _predict(returns_ctx)
    body = json.loads(_invokes(fake)[0]["body"])
    closes = _series_doc(returns_ctx)["target"]
    target = body["instances"][0]["target"]
    assert len(target) == len(closes)
    assert body["configuration"]["output_types"] == ["mean", "quantiles", "samples"]
    observed = [i for i, v in enumerate(closes) if v != "NaN" and v is not None]
    assert target[observed[0]] == "NaN"  # no return before the first close
    i, j = observed[-2], observed[-1]
    assert target[j] == pytest.approx(100 * math.log(closes[j] / closes[i]))
    assert all(target[k] == "NaN" for k in range(len(closes)) if k not in observed)


def test_a_log_return_answer_comes_back_as_prices_around_the_last_close(
    returns_ctx: Any, fake: FakeBackend
) -> None:
    fake.queue_answer(_answer(_returns_answer()))
    result = _predict(returns_ctx)
    last = result.last_close
    assert last is not None and len(result.points) == 5
    for k, point in enumerate(result.points, start=1):  # k sessions of +1%, 0, -1%
        q = point["quantiles"]
        assert q["0.1"] < q["0.5"] < q["0.9"]
        assert q["0.5"] == pytest.approx(last)
        assert last * math.exp(-0.01 * k) <= q["0.1"] and q["0.9"] <= last * math.exp(0.01 * k)
        assert q["0.9"] == pytest.approx(
            last * (0.2 + 0.8 * math.exp(0.01 * k)), rel=1e-9
        )  # linear: 1.8 of 0..2
        assert point["mean"] == pytest.approx(last * (math.exp(0.01 * k) + 1 + math.exp(-0.01 * k)) / 3)


def test_a_log_return_model_that_answers_no_samples_is_a_one_line_error(
    returns_ctx: Any, fake: FakeBackend
) -> None:
    fake.queue_answer(_answer(deepar_response(17)))
    with pytest.raises(AwsError, match="answered no samples") as info:
        _predict(returns_ctx)
    assert "\n" not in info.value.message
    assert info.value.exit_code == ExitCode.AWS


def test_a_price_model_in_the_ledger_is_still_sent_prices(ctx: Any, fake: FakeBackend) -> None:
    # today's config says log returns; the deployed job was trained on prices (as every job before)
    ctx.settings.data.__dict__["target"] = "log_return"
    assert ctx.state.load().jobs[-1].target == "price"
    fake.queue_answer(_answer(deepar_response(17)))
    result = _predict(ctx)
    body = json.loads(_invokes(fake)[0]["body"])
    closes = _series_doc(ctx)["target"]
    assert body["instances"][0]["target"] == closes
    assert body["configuration"]["output_types"] == ["mean", "quantiles"]
    assert result.points[0]["mean"] >= 38000.0  # the queued price answer, read as is


def test_batch_with_a_log_return_model_asks_for_samples_and_sends_returns(
    returns_ctx: Any, fake: FakeBackend
) -> None:
    line = json.dumps(json.loads(_returns_answer())["predictions"][0])
    fake.queue_next_transform(_transform("Completed"), output=line.encode())
    result = _predict(returns_ctx, batch=True)
    spec = fake.specs[("transform-job", result.source)]
    assert spec.inference_config["output_types"] == ["mean", "quantiles", "samples"]
    record = json.loads(fake.artifacts[spec.input_uri])
    closes = _series_doc(returns_ctx)["target"]
    assert len(record["target"]) == len(closes) and record["target"][0] == "NaN"
    assert all(isinstance(v, str) or abs(v) < 20 for v in record["target"])  # returns in %, not levels
    assert result.points[0]["quantiles"]["0.5"] == pytest.approx(result.last_close)
