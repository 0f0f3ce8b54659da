"""The forecast horizon in trading days, and the DeepAR `prediction_length` that delivers it.

Pure: reads the settings it is given and the XTKS session table (`data.calendar`); no I/O beyond that
table, no printing. `prepare`, `train`, `retrain`, `predict` and `backtest` all take DeepAR's
`prediction_length` from here, so a model, its channels and the forecast's rows always agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from nikkei_deepar.data.calendar import CALENDAR_FEATURES, deepar_prediction_length
from nikkei_deepar.ledger import ServedModel

if TYPE_CHECKING:
    from nikkei_deepar.config import Settings


def prediction_length_of(settings: Settings) -> int:
    """DeepAR's `prediction_length` for this config: `[forecast] horizon_trading_days` sessions under
    `[data] calendar` (derived from the XTKS calendar), or the configured value if it is long enough."""
    return deepar_prediction_length(
        settings.data.calendar,
        settings.forecast.horizon_trading_days,
        settings.training.hyperparameters.prediction_length,
    )


def configured_model(settings: Settings) -> ServedModel:
    """The model this config would train: what stands in for a served model the ledger does not know."""
    return ServedModel(
        job=None,
        prediction_length=prediction_length_of(settings),
        target=settings.data.target,
        hyperparameters=hyperparameter_strings(settings),
    )


def hyperparameter_strings(settings: Settings) -> dict[str, str]:
    """The hyperparameters a training job gets (strings), with the derived `prediction_length`, and
    `num_dynamic_feat` (the calendar features' count) when `[data] calendar_features` is on."""
    strings = settings.training.hyperparameters.as_strings(prediction_length=prediction_length_of(settings))
    if settings.data.calendar_features:
        strings["num_dynamic_feat"] = str(len(CALENDAR_FEATURES))
    return strings


def features_through(hyperparameters: Mapping[str, str]) -> int | None:
    """For a model trained with these hyperparameters: its `prediction_length` if it was trained with
    the calendar features (so requests must carry them through the horizon), else None (send none)."""
    if hyperparameters.get("num_dynamic_feat", "auto").isdigit() and "prediction_length" in hyperparameters:
        return int(hyperparameters["prediction_length"])
    return None
