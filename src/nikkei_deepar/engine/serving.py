"""Answer a SageMaker DeepAR inference request with a model the local engine trained: `predict`.

The local endpoint (`invoke`), batch transforms and `backtest`'s forecasts all come here. An archive
whose marker says `"inference": "numpy"` is served by `engine.numpy_deepar`, which imports neither
torch, lightning, gluonts nor pandas: about 0.1 s instead of the 5-10 s GluonTS takes to import. An
older archive (or one whose network could not be exported, the marker says why) is served by GluonTS,
as before, and `note` is told so in one line. An archive that promises numpy weights but whose weights
are missing, unreadable or misshapen is refused with one `ModelFileError` line, never a fallback that
would hide a damaged model.

Request and response are SageMaker's (`engine.inputs`): the same checks, the same JSON, whichever
path answers. Forecasts are seeded per series: the same archive, request and seed give the same
answer, bit for bit, in any process (numpy's matrix products run on one BLAS thread: `engine.blas`).
Local files only, no network, no printing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from nikkei_deepar.engine.archive import ARCHIVE_HINT, read_archive
from nikkei_deepar.engine.hyperparameters import parse_hyperparameters
from nikkei_deepar.engine.inputs import parse_request
from nikkei_deepar.errors import ModelFileError, NotFoundError

NUMPY = "numpy"


def predict(
    *,
    model_tar: Path,
    request: Mapping[str, Any],
    seed: int,
    note: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The `{"predictions": [...]}` answer to `request` from the model in `model_tar`, seeded with `seed`;
    `note` hears, in one line, when the archive has to be served through GluonTS."""
    model_tar = Path(model_tar)
    if not model_tar.is_file():
        raise NotFoundError(f"no model archive at {model_tar}", hint=ARCHIVE_HINT)
    marker, files = read_archive(model_tar)
    settings = parse_hyperparameters(marker["hyperparameters"])
    num_dynamic_feat = int(marker.get("num_dynamic_feat", 0))
    parsed = parse_request(request, settings, num_dynamic_feat=num_dynamic_feat)
    if marker.get("inference") != NUMPY:
        if note is not None:
            why = marker.get("inference_why") or "it was written before torch-free inference"
            note(
                f"{model_tar.name} has no torch-free weights ({why}): predicting through GluonTS, which "
                "takes 5-10 s to import; a model trained now predicts in about a second"
            )
        from nikkei_deepar.engine.loader import load_engine

        answer: dict[str, Any] = load_engine().predict(model_tar=model_tar, request=request, seed=seed)
        return answer

    from nikkei_deepar.engine.blas import one_blas_thread
    from nikkei_deepar.engine.numpy_deepar import NumpyDeepAR

    model = NumpyDeepAR.load(files, where=str(model_tar))
    manifest = model.manifest
    agreed = (
        manifest.prediction_length == settings.prediction_length
        and manifest.context_length == settings.context_length
        and manifest.num_feat_dynamic_real == num_dynamic_feat
    )
    if not agreed:
        raise ModelFileError(
            f"{model_tar}: its torch-free weights are for another model (prediction_length, "
            "context_length or dynamic_feat rows differ from the archive's marker)",
            hint="train the model again (`nikkei-deepar train`)",
        )
    with one_blas_thread():
        predictions = [
            parsed.answer(model.sample(series, num_samples=parsed.num_samples, seed=seed))
            for series in parsed.instances
        ]
    return {"predictions": predictions}
