"""Train and query GluonTS's DeepAR (PyTorch) on this machine, shaped like the SageMaker algorithm.

Owns the orchestration: `train` and `predict`, the estimator, the test metrics and the seeding.
Checking the JSON Lines channels and the inference request is `local.inputs`'s; the SageMaker
hyperparameters and their mapping to GluonTS are `local.hyperparameters`'s; writing and checking
`model.tar.gz` is `local.archive`'s (the last two re-exported here, so callers need only this module).

The only module that imports gluonts, torch and lightning, and only inside functions: importing
this module is cheap (`import gluonts.torch` alone takes 5-10 s). No network, no printing: progress
goes to the caller's `ProgressFn`, Lightning is silenced unless `verbose=True`.

Inputs and outputs are SageMaker's: the `train`/`test` JSON Lines channels, the string
hyperparameters of a CreateTrainingJob, the `{"instances": ..., "configuration": ...}` request and
the `{"predictions": [...]}` response. The model itself is GluonTS's, not AWS's (SageMaker runs an
MXNet build; neither can load the other's `model.tar.gz`).

Choices made here, where GluonTS or SageMaker leave room:

- Missing values: `"NaN"`/null targets become NaN; GluonTS's `AddObservedValuesIndicator` masks
  them out of the loss and the scale and feeds 0 in their place as RNN input (lags included).
- Lags: GluonTS's default lags for `D` reach 1,093 steps back, past a 4-year series. GluonTS pads
  the missing past (with 0, marked unobserved), so nothing breaks, but a lag longer than every
  training series only ever sees padding. Such lags are dropped: a lag is kept if it is shorter than
  the longest training series. The lags used are written to the archive's marker.
- Test metrics: each test series' last `prediction_length` points are forecast from the points
  before, with `num_eval_samples` samples; RMSE of the sample mean and wQuantileLoss pool every
  observed point (`data.metrics`). An empty test channel gives train:final_loss only.
- Determinism: one torch thread; python/numpy/torch seeded before training, before the test
  metrics and before each predicted series (so a series' forecast does not depend on the other
  series in the request). Same data, hyperparameters and seed -> bit-identical forecasts.
- `model.tar.gz` holds `predictor.serialize()`'s files, the network's torch-free form
  (`engine.export`: what `engine.serving` predicts with, on numpy) and the marker written by
  `engine.archive`, which also decides which archives `predict` may load.
- `predict` here is the GluonTS path: `engine.serving` uses it for archives without the torch-free
  form (older ones), and the tests use it as the reference the numpy path is held to.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nikkei_deepar.engine.archive import (
    ARCHIVE,
    ARCHIVE_HINT,
    FORMAT,
    FORMAT_VERSION,
    MARKER,
    extract_archive,
    write_archive,
)
from nikkei_deepar.engine.hyperparameters import LIKELIHOODS, Settings, parse_hyperparameters
from nikkei_deepar.engine.inputs import InputSeries, parse_channel, parse_request
from nikkei_deepar.errors import DataError, NotFoundError, UsageError

__all__ = [
    "ARCHIVE",
    "EXTRA_HINT",
    "EXTRA_MESSAGE",
    "FORMAT",
    "FORMAT_VERSION",
    "MARKER",
    "ProgressFn",
    "Settings",
    "TrainResult",
    "parse_hyperparameters",
    "predict",
    "train",
]

EXTRA_MESSAGE = "the local backend needs the [local] extra"
EXTRA_HINT = (
    "scripts/setup.sh in a clone, or pip install 'nikkei-deepar[local]' && pip install --no-deps "
    "gluonts==0.17.0  (install torch==2.13.0 first on a CPU-only machine)"
)

TRAINED_BY = "gluonts-torch"  # the engine that trains: the archive's marker records it
_LIGHTNING_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning")

FloatArray = NDArray[np.float64]
ProgressFn = Callable[[int, int, float | None], None]
"""(epochs done, total epochs, the epoch's mean train loss or None) after each epoch."""


@dataclass(frozen=True)
class TrainResult:
    """What `train` made. `seconds` is the training and scoring time, without the library import."""

    model_tar: Path
    metrics: dict[str, float]
    seconds: float
    epochs_run: int


class RuntimeLimitReached(Exception):
    """Training ran past the job's max runtime and was ended, as SageMaker ends such a job: no model."""

    def __init__(self, seconds: float, epochs_run: int) -> None:
        super().__init__(f"max runtime of {seconds:g} s reached after {epochs_run} epoch(s)")
        self.seconds = seconds
        self.epochs_run = epochs_run


# --------------------------------------------------------------------------- public API


def train(
    *,
    train_jsonl: bytes,
    test_jsonl: bytes,
    hyperparameters: Mapping[str, str],
    seed: int,
    out_dir: Path,
    num_batches_per_epoch: int = 50,
    progress: ProgressFn | None = None,
    verbose: bool = False,
    max_seconds: float | None = None,
) -> TrainResult:
    """Train on the `train` channel, score on the `test` channel, write `<out_dir>/model.tar.gz`.

    With `max_seconds`, training that is still running that long after it started is ended at the
    next batch and `RuntimeLimitReached` is raised instead of writing a model (SageMaker's
    MaxRuntimeInSeconds; DeepAR keeps no checkpoint, so a stopped job has nothing to deploy)."""
    settings = parse_hyperparameters(hyperparameters)
    if num_batches_per_epoch < 1:
        raise UsageError(f"num_batches_per_epoch must be at least 1, got {num_batches_per_epoch}")
    train_series = parse_channel(train_jsonl, "train", settings, required=True)
    test_series = parse_channel(test_jsonl, "test", settings, required=False)
    for i, s in enumerate(train_series, 1):
        if len(s.target) <= settings.prediction_length:
            raise DataError(
                f"train line {i}: {len(s.target)} points, not more than prediction_length "
                f"({settings.prediction_length})"
            )
    train_series, test_series, num_feat = _features(settings, train_series, test_series)
    gl = _backend()
    h = settings.prediction_length
    if test_series and all(np.isnan(s.target[-h:]).all() for s in test_series):
        # checked now rather than after training: nothing in the test channel could be scored
        raise DataError(f"every test series has only missing values in its last {h} points")
    lags = _usable_lags(settings.freq, max(len(s.target) for s in train_series))
    started = time.monotonic()
    with _quiet(verbose), tempfile.TemporaryDirectory(prefix="nikkei-deepar-") as tmp:
        _seed(gl, seed)
        deadline = None if max_seconds is None else started + max_seconds
        recorder = _epoch_recorder(gl, settings.epochs, progress, deadline=deadline)
        callbacks: list[Any] = [recorder]
        if settings.early_stopping_patience is not None:
            callbacks.append(
                gl.pl.callbacks.EarlyStopping(
                    monitor="train_loss", mode="min", patience=settings.early_stopping_patience
                )
            )
        estimator = gl.DeepAREstimator(
            freq=settings.freq,
            prediction_length=settings.prediction_length,
            context_length=settings.context_length,
            num_layers=settings.num_layers,
            hidden_size=settings.hidden_size,
            lr=settings.lr,
            dropout_rate=settings.dropout_rate,
            distr_output=getattr(gl.distributions, LIKELIHOODS[settings.likelihood])(),
            lags_seq=lags,
            num_feat_dynamic_real=num_feat,
            num_parallel_samples=settings.num_eval_samples,
            batch_size=settings.batch_size,
            num_batches_per_epoch=num_batches_per_epoch,
            trainer_kwargs={
                "max_epochs": settings.epochs,
                "accelerator": "cpu",
                "devices": 1,
                "logger": False,
                "enable_progress_bar": False,
                "enable_model_summary": verbose,
                "default_root_dir": tmp,
                "callbacks": callbacks,
            },
        )
        predictor = estimator.train(_dataset(gl, train_series, settings.freq), cache_data=True)
        losses: list[float] = recorder.losses
        if recorder.out_of_time and max_seconds is not None:
            raise RuntimeLimitReached(max_seconds, len(losses))
        metrics: dict[str, float] = {}
        if losses:
            metrics["train:final_loss"] = losses[-1]
        if test_series:
            metrics.update(_test_metrics(gl, predictor, test_series, settings, seed))
        model_dir = Path(tmp) / "model"
        model_dir.mkdir()
        predictor.serialize(model_dir)
        inference = _write_numpy_model(gl, predictor, settings.freq, model_dir)
        model_tar = write_archive(
            model_dir,
            Path(out_dir),
            metadata={
                "hyperparameters": settings.raw,
                "seed": seed,
                "freq": settings.freq,
                "prediction_length": settings.prediction_length,
                "context_length": settings.context_length,
                "lags_seq": lags,
                "num_dynamic_feat": num_feat,
                "num_batches_per_epoch": num_batches_per_epoch,
                "epochs_run": len(losses),
                "engine": TRAINED_BY,
                "gluonts": gl.gluonts_version,
                "torch": gl.torch.__version__,
                **inference,
            },
        )
    return TrainResult(
        model_tar=model_tar, metrics=metrics, seconds=time.monotonic() - started, epochs_run=len(losses)
    )


def predict(*, model_tar: Path, request: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """Answer a SageMaker DeepAR inference request with a model that `train` wrote."""
    model_tar = Path(model_tar)
    if not model_tar.is_file():
        raise NotFoundError(f"no model archive at {model_tar}", hint=ARCHIVE_HINT)
    gl = _backend()
    with _quiet(verbose=False), tempfile.TemporaryDirectory(prefix="nikkei-deepar-") as tmp:
        model_dir = Path(tmp)
        marker = extract_archive(model_tar, model_dir)
        settings = parse_hyperparameters(marker["hyperparameters"])
        parsed = parse_request(request, settings, num_dynamic_feat=int(marker.get("num_dynamic_feat", 0)))
        predictor = gl.PyTorchPredictor.deserialize(model_dir, device="cpu")
        predictions = [
            parsed.answer(_sample(gl, predictor, series, settings.freq, parsed.num_samples, seed))
            for series in parsed.instances
        ]
    return {"predictions": predictions}


def _write_numpy_model(gl: _Backend, predictor: Any, freq: str, model_dir: Path) -> dict[str, str]:
    """The predictor's torch-free form into `model_dir` (`engine.export`); the marker's `inference`
    entry: "numpy" when written, else "gluonts" and why (predict then serves it through GluonTS)."""
    from nikkei_deepar.engine.export import Unexportable, numpy_files

    written_by = {"engine": TRAINED_BY, "gluonts": gl.gluonts_version, "torch": str(gl.torch.__version__)}
    try:
        files = numpy_files(predictor, freq=freq, written_by=written_by)
    except Unexportable as exc:
        return {"inference": "gluonts", "inference_why": str(exc)}
    for name, data in files.items():
        (model_dir / name).write_bytes(data)
    return {"inference": "numpy"}


# --------------------------------------------------------------------------- datasets


def _usable_lags(freq: str, longest: int) -> list[int]:
    """GluonTS's default lags for `freq`, minus those longer than every training series (see top)."""
    from gluonts.time_feature import get_lags_for_frequency

    lags = [int(lag) for lag in get_lags_for_frequency(freq_str=freq)]
    return [lag for lag in lags if lag < longest] or [1]


def _features(
    settings: Settings, train: list[InputSeries], test: list[InputSeries]
) -> tuple[list[InputSeries], list[InputSeries], int]:
    """The series to use and their dynamic_feat row count, by `num_dynamic_feat` (see hyperparameters):
    every train and test series must carry as many rows as the first train series."""
    if settings.num_dynamic_feat == "ignore":
        strip = [InputSeries(start=s.start, target=s.target) for s in train]
        return strip, [InputSeries(start=s.start, target=s.target) for s in test], 0
    first = train[0].dynamic_feat
    rows = 0 if first is None else int(first.shape[0])
    for i, s in enumerate(test, 1):
        found = 0 if s.dynamic_feat is None else int(s.dynamic_feat.shape[0])
        if found != rows:
            raise DataError(f"test line {i}: {found} dynamic_feat row(s), the train channel has {rows}")
    if isinstance(settings.num_dynamic_feat, int) and settings.num_dynamic_feat != rows:
        raise DataError(
            f"num_dynamic_feat is {settings.num_dynamic_feat}, the channels carry {rows} dynamic_feat row(s)",
            hint="set num_dynamic_feat to auto, or send that many rows",
        )
    return train, test, rows


def _dataset(gl: _Backend, series: Sequence[InputSeries], freq: str) -> list[dict[str, Any]]:
    entries = []
    for s in series:
        entry: dict[str, Any] = {"start": gl.pd.Period(s.start, freq=freq), "target": s.target}
        if s.dynamic_feat is not None:
            entry["feat_dynamic_real"] = s.dynamic_feat
        entries.append(entry)
    return entries


# --------------------------------------------------------------------------- model


def _test_metrics(
    gl: _Backend, predictor: Any, test: Sequence[InputSeries], settings: Settings, seed: int
) -> dict[str, float]:
    from nikkei_deepar.data.metrics import mean_weighted_quantile_loss, rmse, weighted_quantile_loss

    h = settings.prediction_length
    actual: list[FloatArray] = []
    means: list[FloatArray] = []
    by_tau: dict[float, list[FloatArray]] = {tau: [] for tau in settings.test_quantiles}
    for s in test:
        history = InputSeries(start=s.start, target=s.target[:-h], dynamic_feat=s.dynamic_feat)
        samples = _sample(gl, predictor, history, settings.freq, settings.num_eval_samples, seed)
        actual.append(s.target[-h:].astype(np.float64))
        means.append(samples.mean(axis=0))
        for tau in settings.test_quantiles:
            by_tau[tau].append(np.quantile(samples, tau, axis=0))
    y = np.stack(actual)
    quantile_preds = {tau: np.stack(preds) for tau, preds in by_tau.items()}
    metrics = {
        "test:RMSE": rmse(y, np.stack(means)),
        "test:mean_wQuantileLoss": mean_weighted_quantile_loss(y, quantile_preds),
    }
    for tau, preds in quantile_preds.items():
        metrics[f"test:wQuantileLoss[{tau!r}]"] = weighted_quantile_loss(y, preds, tau)
    return metrics


def _sample(
    gl: _Backend, predictor: Any, series: InputSeries, freq: str, num_samples: int, seed: int
) -> FloatArray:
    """`num_samples` sample paths (num_samples x prediction_length) for one series, seeded."""
    _seed(gl, seed)
    forecast = next(iter(predictor.predict(_dataset(gl, [series], freq), num_samples=num_samples)))
    samples: FloatArray = np.asarray(forecast.samples, dtype=np.float64)
    return samples


def _epoch_recorder(
    gl: _Backend, total: int, progress: ProgressFn | None, *, deadline: float | None = None
) -> Any:
    class EpochRecorder(gl.pl.Callback):  # type: ignore[misc,name-defined]
        """Collects each epoch's mean train loss and reports it; ends training at `deadline`."""

        def __init__(self) -> None:
            self.losses: list[float] = []
            self.out_of_time = False

        def on_train_batch_end(self, trainer: Any, *args: Any) -> None:
            if deadline is not None and time.monotonic() >= deadline:
                self.out_of_time = True
                trainer.should_stop = True

        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            value = trainer.callback_metrics.get("train_loss")
            loss = None if value is None else float(value)
            if loss is not None:
                self.losses.append(loss)
            if progress is not None:
                progress(trainer.current_epoch + 1, total, loss)

    return EpochRecorder()


# --------------------------------------------------------------------------- gluonts/torch plumbing


@dataclass(frozen=True)
class _Backend:
    """The optional modules, imported once on first use."""

    torch: Any
    pl: Any
    pd: Any
    DeepAREstimator: Any
    PyTorchPredictor: Any
    distributions: Any
    gluonts_version: str


_loaded: list[_Backend] = []


def _backend() -> _Backend:
    if _loaded:
        return _loaded[0]
    try:
        import gluonts
        import gluonts.torch.distributions as distributions
        import lightning.pytorch as pl
        import pandas as pd
        import torch
        from gluonts.torch.model.deepar import DeepAREstimator
        from gluonts.torch.model.predictor import PyTorchPredictor
    except ImportError as exc:
        raise UsageError(EXTRA_MESSAGE, hint=EXTRA_HINT) from exc
    # Lightning sets its loggers to INFO when imported; _quiet() sets them per call.
    backend = _Backend(
        torch=torch,
        pl=pl,
        pd=pd,
        DeepAREstimator=DeepAREstimator,
        PyTorchPredictor=PyTorchPredictor,
        distributions=distributions,
        gluonts_version=str(gluonts.__version__),
    )
    _loaded.append(backend)
    return backend


def _seed(gl: _Backend, seed: int) -> None:
    # one thread: fastest here, and bit-identical results need the same thread count every time
    gl.torch.set_num_threads(1)
    gl.pl.seed_everything(seed, verbose=False)  # python, numpy and torch


@contextlib.contextmanager
def _quiet(verbose: bool) -> Iterator[None]:
    """Lightning's INFO lines and Python warnings off unless verbose; GluonTS's logger untouched.

    Whatever Lightning prints anyway (its model summary, when verbose) goes to stderr: stdout is the
    caller's, for results (`--json | jq`).
    """
    level = logging.INFO if verbose else logging.ERROR
    for name in _LIGHTNING_LOGGERS:
        logging.getLogger(name).setLevel(level)
    with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
        if not verbose:
            warnings.simplefilter("ignore")
        yield
