"""`predict` keeps every forecast it issues (as printed, with the random walk from the same origin) and
says when the data is stale, on `FakeBackend`: no moto, no network."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fake_backend import FakeBackend, fake_context
from ledger_edit import edited
from nikkei_deepar.backends.base import TrainingState
from nikkei_deepar.data.horizon import prediction_length_of
from nikkei_deepar.errors import DataError, ExitCode
from nikkei_deepar.ledger import DataVersion, Job
from nikkei_deepar.steps import deploy, predict
from sagemaker_script import FakeClock, deepar_response, demo_series, settings_for

JOB = "nikkei-deepar-20250101-000000-abcd"
SERIES = demo_series()  # weekdays only (weekends NaN), 2023-01-04 ..
LAST = SERIES.last_date
FRESH = dt.datetime.combine(LAST, dt.time(7, 0), tzinfo=dt.UTC)  # 16:00 in Tokyo, the day of the close
LATER = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def fake() -> FakeBackend:
    return FakeBackend()


def _deployed(home: Path, fake: FakeBackend, clock: FakeClock, **sections: Any) -> Any:
    from nikkei_deepar.data.series_io import dump_series

    ctx = fake_context(home, fake, settings_for(**sections), clock=clock)
    uri = fake.put_artifact("data/series.json", dump_series(SERIES), content_type="application/json")
    with edited(ctx.state) as ledger:
        ledger.upsert_job(Job(name=JOB, data_sha256="ab" * 32, hyperparameters={}, config_hash="h"))
        ledger.record_data(
            DataVersion(
                sha256="ab" * 32,
                source="demo.csv",
                rows=len(SERIES),
                first=str(SERIES.start),
                last=str(LAST),
                column="close",
                calendar=SERIES.policy,
                prediction_length=prediction_length_of(ctx.settings),
                context_length=20,
                observations=SERIES.observations,
                backend="sagemaker",
                train_uri="fake://store/data/train/",
                test_uri="fake://store/data/test/",
                series_uri=uri,
            )
        )
    fake.queue_training(
        JOB, TrainingState(name=JOB, status="Completed", model_artifact=f"s3://b/{JOB}/model.tar.gz")
    )
    deploy.run(ctx, job=None, timeout=None)
    ctx.now = lambda: FRESH
    return ctx


@pytest.fixture
def ctx(hermetic_env: Path, fake: FakeBackend, clock: FakeClock) -> Any:
    return _deployed(hermetic_env, fake, clock)


def _predict(ctx: Any, fake: FakeBackend) -> predict.PredictResult:
    fake.queue_answer(deepar_response(prediction_length_of(ctx.settings)).encode())
    return predict.run(ctx, fmt="table", output=None, plot=None, batch=False, timeout=None)


def _walk_by_hand(closes: np.ndarray, steps: int, level: float) -> list[float]:
    """The random walk's quantile at each step, computed here: last close * exp(quantile of the k-session
    log returns of the whole history)."""
    out = []
    for k in range(1, steps + 1):
        returns = np.log(closes[k:] / closes[:-k])
        out.append(float(closes[-1] * np.exp(np.quantile(returns, level))))
    return out


def test_every_forecast_is_kept_as_printed_with_the_random_walk_from_the_same_origin(
    ctx: Any, fake: FakeBackend
) -> None:
    result = _predict(ctx, fake)
    records, problems = ctx.history.entries()
    assert problems == [] and len(records) == 1
    kept = records[0]
    assert (result.history, result.forecast_id) == (ctx.history.where, kept.id)
    assert kept.origin == LAST and kept.issued_at == FRESH
    assert (kept.job, kept.data_sha256, kept.backend, kept.mode) == (JOB, "ab" * 32, "sagemaker", "endpoint")
    assert kept.source == ctx.settings.endpoint.name
    assert (kept.workspace.project, kept.workspace.stage) == ("nikkei-deepar", "dev")
    assert kept.quantiles == ["0.1", "0.5", "0.9"] == result.quantiles
    # as printed: after the blend with the random walk (the shipped weight, 0.8)
    assert kept.random_walk_weight == 0.8
    printed = [(p["step"], p["date"], p["mean"], p["quantiles"]) for p in result.points]
    assert [(p.step, p.date.isoformat(), p.mean, p.quantiles) for p in kept.forecast] == printed
    # the random walk beside it: the same dates, the last close as its mean, its own quantiles
    closes = np.array([v for v in SERIES.target if v == v])
    assert [p.date for p in kept.random_walk] == [p.date for p in kept.forecast]
    assert all(p.mean == closes[-1] == kept.last_close for p in kept.random_walk)
    for level in ("0.1", "0.5", "0.9"):
        walk = [p.quantiles[level] for p in kept.random_walk]
        assert walk == pytest.approx(_walk_by_hand(closes, 5, float(level)), rel=1e-12)
    # the blend, checked by hand at one point: 0.2 * DeepAR + 0.8 * random walk
    deepar_first = 38000.0 + (kept.forecast[0].date - LAST).days - 1
    assert kept.forecast[0].mean == pytest.approx(0.2 * deepar_first + 0.8 * closes[-1])
    # MASE's scale: the mean absolute one-session change up to the origin
    assert kept.mase_scale == pytest.approx(float(np.mean(np.abs(np.diff(closes)))))
    assert result.to_data()["history"] == ctx.history.where


def test_a_second_forecast_for_the_same_origin_and_job_is_kept_beside_the_first(
    ctx: Any, fake: FakeBackend
) -> None:
    first = _predict(ctx, fake)
    second = _predict(ctx, fake)
    records, _ = ctx.history.entries()
    assert [r.id for r in records] == [first.forecast_id, second.forecast_id]
    assert records[0].origin == records[1].origin and records[0].job == records[1].job
    assert json.loads(Path(ctx.history.where).read_text().splitlines()[0])["id"] == first.forecast_id


def test_fresh_data_says_nothing(ctx: Any, fake: FakeBackend) -> None:
    result = _predict(ctx, fake)
    assert result.freshness == {
        "last_close": LAST.isoformat(),
        "sessions_since": 0,
        "max_age_sessions": 3,
        "stale": False,
        "on_stale": "warn",
    }
    assert ctx.reporter.warnings == []


def test_stale_data_is_said_in_one_line_and_in_json_and_the_forecast_still_made(
    ctx: Any, fake: FakeBackend
) -> None:
    ctx.now = lambda: LATER
    result = _predict(ctx, fake)
    assert result.freshness is not None and result.freshness["stale"] is True
    assert result.freshness["sessions_since"] > 600
    [warning] = ctx.reporter.warnings
    assert warning.startswith(f"stale data: the last close is {LAST}, and ")
    assert "Tokyo sessions have closed since (more than [data] max_age_sessions = 3)" in warning
    assert "\n" not in warning
    assert len(ctx.history.entries()[0]) == 1  # made, and kept, with the warning


def test_with_on_stale_fail_nothing_is_asked_of_the_endpoint_and_nothing_kept(
    hermetic_env: Path, fake: FakeBackend, clock: FakeClock
) -> None:
    ctx = _deployed(hermetic_env, fake, clock, data={"on_stale": "fail", "max_age_sessions": 5})
    ctx.now = lambda: LATER
    with pytest.raises(DataError) as raised:
        predict.run(ctx, fmt="table", output=None, plot=None, batch=False, timeout=None)
    assert raised.value.exit_code == ExitCode.DATA and raised.value.code == "stale-data"
    assert "more than [data] max_age_sessions = 5" in raised.value.message
    assert "invoke" not in fake.verbs()
    assert ctx.history.entries() == ([], [])


def test_a_forecast_file_is_never_written_without_its_record(
    ctx: Any, fake: FakeBackend, tmp_path: Path
) -> None:
    def refuse(record: Any) -> str:
        raise DataError("the history cannot be written")

    ctx.history.append = refuse
    fake.queue_answer(deepar_response(prediction_length_of(ctx.settings)).encode())
    out = tmp_path / "forecast.csv"
    with pytest.raises(DataError):
        predict.run(ctx, fmt="csv", output=out, plot=None, batch=False, timeout=None)
    assert not out.exists()
