"""The batch transform's DEEPAR_INFERENCE_CONFIG: what it asks DeepAR for, per the served model's target."""

from __future__ import annotations

import json

import pytest

from nikkei_deepar.backends.specs import transform_spec
from nikkei_deepar.config import Settings


def _spec(target: str | None) -> dict[str, object]:
    settings = Settings.model_validate({"predict": {"quantiles": [0.1, 0.5, 0.9], "num_samples": 40}})
    options = {} if target is None else {"target": target}
    spec = transform_spec(
        settings, name="t", model_name="m", input_uri="s3://b/in/", output_uri="s3://b/out/", **options
    )
    # what the environment variable carries: JSON that round-trips
    config: dict[str, object] = json.loads(json.dumps(spec.inference_config))
    return config


def test_a_log_return_model_is_asked_for_samples() -> None:
    assert _spec("log_return") == {
        "num_samples": 40,
        "output_types": ["mean", "quantiles", "samples"],
        "quantiles": ["0.1", "0.5", "0.9"],
    }


@pytest.mark.parametrize("target", ["price", None])
def test_a_price_model_is_asked_for_mean_and_quantiles_only(target: str | None) -> None:
    assert _spec(target)["output_types"] == ["mean", "quantiles"]
