"""`retrain` on the local backend: a tiny real training (GluonTS, 1 epoch of 2 batches), deployed, then a
second run that reuses it, and `status` reading the endpoint. The step + local backend pair end to end
in-process (marked `local`: needs the [local] extra).

The step's own logic is tested on `FakeBackend` in tests/steps/test_retrain.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nikkei_deepar.steps import retrain, status
from sagemaker_script import FakeClock, make_context, settings_for

PRICES = Path(__file__).resolve().parents[1] / "fixtures" / "prices" / "long" / "nikkei_en.csv"


@pytest.mark.local
def test_local_backend_retrain(hermetic_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("gluonts")
    monkeypatch.setenv("NIKKEI_DEEPAR_LOCAL_BATCHES", "2")
    settings = settings_for(
        backend="local",
        data={"calendar": "trading_days"},
        training={
            "seed": 7,
            "hyperparameters": {
                "context_length": 10,
                "epochs": 1,
                "num_cells": 30,
                "num_layers": 1,
                "num_eval_samples": 20,
            },
        },
        endpoint={"name": "nikkei-local"},
    )
    ctx = make_context(hermetic_env, settings, clock=FakeClock())
    result = retrain.run(ctx, input_file=PRICES)
    assert (result.status, result.exit_code) == ("deployed", 0), result.to_data()
    assert result.stages[2].result is not None
    assert "test:mean_wQuantileLoss" in result.stages[2].result["metrics"]
    again = retrain.run(make_context(hermetic_env, settings, clock=FakeClock()), input_file=PRICES)
    assert (again.status, again.job) == ("already-deployed", result.job)
    assert {s.name: s.status for s in again.stages}["train"] == "reused"

    seen = status.run(make_context(hermetic_env, settings)).to_data()
    assert seen["endpoint"]["serving_job"] == result.job and seen["endpoint"]["cost"] is None
    assert seen["drift"] == {"missing": [], "untracked": []}
