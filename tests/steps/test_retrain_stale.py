"""`retrain` on stale data: a warning (and the answer in --json), or with `[data] on_stale = "fail"` the
prepare stage fails with exit 3 before a training job is paid for. On `FakeBackend`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fake_backend import FakeBackend, fake_context
from nikkei_deepar.backends.base import TrainingState
from nikkei_deepar.steps import retrain
from sagemaker_script import FakeClock, settings_for

PRICES = Path(__file__).resolve().parents[1] / "fixtures" / "prices" / "long" / "nikkei_en.csv"
LAST = dt.date(2024, 9, 17)  # the fixture's last close (a Tuesday)


def _ctx(home: Path, clock: FakeClock, now: dt.datetime, **data: Any) -> tuple[Any, FakeBackend]:
    fake = FakeBackend()
    ctx = fake_context(home, fake, settings_for(data=data), clock=clock)
    ctx.now = lambda: now
    fake.queue_next_training(
        TrainingState(
            name="placeholder",
            status="Completed",
            metrics={"test:mean_wQuantileLoss": 0.05},
            model_artifact="s3://b/model.tar.gz",
        )
    )
    return ctx, fake


def test_fresh_data_trains_and_says_how_fresh(hermetic_env: Path, clock: FakeClock) -> None:
    # Thursday 2024-09-19 16:00 in Tokyo: one session (the 18th) closed since the 17th
    ctx, fake = _ctx(hermetic_env, clock, dt.datetime(2024, 9, 19, 7, 0, tzinfo=dt.UTC))
    result = retrain.run(ctx, input_file=PRICES)
    assert result.exit_code == 0 and "start_training" in fake.verbs()
    assert result.to_data()["freshness"] == {
        "last_close": LAST.isoformat(),
        "sessions_since": 2,  # the 18th and the 19th (closed at 15:30 JST)
        "max_age_sessions": 3,
        "stale": False,
        "on_stale": "warn",
    }
    assert ctx.reporter.warnings == []


def test_stale_data_warns_and_trains(hermetic_env: Path, clock: FakeClock) -> None:
    ctx, fake = _ctx(hermetic_env, clock, dt.datetime(2024, 9, 30, 7, 0, tzinfo=dt.UTC))
    result = retrain.run(ctx, input_file=PRICES)
    assert result.exit_code == 0 and "start_training" in fake.verbs()
    assert result.freshness is not None and result.freshness["stale"] is True
    # 18, 19, 20, (23 a holiday), 24, 25, 26, 27, 30: eight sessions
    assert result.freshness["sessions_since"] == 8
    [warning] = ctx.reporter.warnings
    assert warning == (
        "stale data: the last close is 2024-09-17, and 8 Tokyo sessions have closed since (more than "
        "[data] max_age_sessions = 3): the new model starts from old prices"
    )


def test_stale_data_with_on_stale_fail_stops_before_training(hermetic_env: Path, clock: FakeClock) -> None:
    now = dt.datetime(2024, 9, 30, 7, 0, tzinfo=dt.UTC)
    ctx, fake = _ctx(hermetic_env, clock, now, on_stale="fail")
    result = retrain.run(ctx, input_file=PRICES)
    assert result.exit_code == 3 and result.status == "failed"
    stages = {s.name: (s.status, s.exit_code) for s in result.stages}
    assert stages["prepare"] == ("failed", 3)
    assert stages["train"][0] == "skipped"
    assert "start_training" not in fake.verbs()
    assert result.errors[0]["code"] == "stale-data"
    stage = next(s for s in result.stages if s.name == "prepare")
    assert stage.result is not None and stage.result["freshness"]["stale"] is True  # in --json too
