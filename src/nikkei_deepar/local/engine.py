"""Train and query GluonTS's DeepAR (PyTorch) on this machine, shaped like the SageMaker algorithm.

The only module that imports gluonts, torch and lightning, and only inside functions: importing
this module is cheap (`import gluonts.torch` alone takes 5-10 s). No network, no printing: progress
goes to the caller's `ProgressFn`, Lightning is silenced unless `verbose=True`.

Inputs and outputs are SageMaker's: the `train`/`test` JSON Lines channels, the string
hyperparameters of a CreateTrainingJob, the `{"instances": ..., "configuration": ...}` request and
the `{"predictions": [...]}` response. The model itself is GluonTS's, not AWS's (SageMaker runs an
MXNet build; neither can load the other's `model.tar.gz`).

Hyperparameters (strings, as SageMaker takes them) -> `gluonts.torch.model.deepar.DeepAREstimator`:

| SageMaker                   | default         | GluonTS DeepAREstimator                                    |
|-----------------------------|-----------------|------------------------------------------------------------|
| `time_freq` (required)      |                 | `freq` (`H` is passed as `h`, pandas' spelling)            |
| `prediction_length` (req.)  |                 | `prediction_length`                                        |
| `context_length` (required) |                 | `context_length`                                           |
| `epochs` (required)         |                 | `trainer_kwargs["max_epochs"]`                             |
| `num_cells`                 | 40              | `hidden_size`                                              |
| `num_layers`                | 2               | `num_layers`                                               |
| `dropout_rate`              | 0.1             | `dropout_rate`                                             |
| `learning_rate`             | 0.001           | `lr`                                                       |
| `mini_batch_size`           | 128             | `batch_size`                                               |
| `likelihood`                | student-T       | `distr_output`: student-T -> StudentTOutput,               |
|                             |                 | gaussian -> NormalOutput, negative-binomial ->             |
|                             |                 | NegativeBinomialOutput; beta, deterministic-L1: UsageError |
| `num_eval_samples`          | 100             | `num_parallel_samples`; samples per test series            |
| `test_quantiles`            | [0.1, ..., 0.9] | the quantiles of the test metrics                          |
| `early_stopping_patience`   | none            | Lightning `EarlyStopping` on the epoch's train loss        |
|                             |                 | (no validation set, as on SageMaker); GluonTS keeps        |
|                             |                 | the best epoch's weights                                   |
| `embedding_dimension`       | ignored         | only meaningful with `cat` (refused locally)               |
| `cardinality`               | ignored         | only meaningful with `cat` (refused locally)               |
| `num_dynamic_feat`          | ignored         | `auto`/`ignore` only: `dynamic_feat` is refused            |

Any other key is a UsageError. `num_batches_per_epoch` is not a SageMaker hyperparameter (SageMaker
sizes an epoch itself): it is an argument of `train`, GluonTS's default 50.

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
- `model.tar.gz` holds `predictor.serialize()`'s files plus `nikkei-deepar.json` (format, version,
  hyperparameters, seed, lags, file digests). `predict` only loads archives carrying that marker,
  with matching digests and only gluonts/builtin classes named in predictor.json, because loading
  a predictor instantiates the classes it names.
"""

from __future__ import annotations

import contextlib
import datetime
import gzip
import hashlib
import io
import json
import logging
import math
import os
import re
import sys
import tarfile
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nikkei_deepar.errors import DataError, NotFoundError, UsageError

FORMAT = "nikkei-deepar/gluonts-deepar"
FORMAT_VERSION = 1
MARKER = "nikkei-deepar.json"
ARCHIVE = "model.tar.gz"

EXTRA_MESSAGE = "the local backend needs the [local] extra"
EXTRA_HINT = "pip install 'nikkei-deepar[local]'  (install torch==2.13.0 first on a CPU-only machine)"
_ARCHIVE_HINT = "train a model with the local backend: it loads only archives that it wrote itself"

_START_FORMAT = "%Y-%m-%d %H:%M:%S"
_LIKELIHOODS = {
    "student-T": "StudentTOutput",
    "gaussian": "NormalOutput",
    "negative-binomial": "NegativeBinomialOutput",
}
_DEFAULT_QUANTILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
_OUTPUT_TYPES = ("mean", "quantiles", "samples")
# predict() without a "configuration": SageMaker's defaults are not in our facts sheet, so ours.
_DEFAULT_CONFIGURATION: dict[str, Any] = {
    "num_samples": 100,
    "output_types": ["mean", "quantiles"],
    "quantiles": ["0.1", "0.5", "0.9"],
}
_MAX_ARCHIVE_BYTES = 64 * 1024 * 1024  # a serialized predictor is ~100 KB
_SAFE_CLASSES = (
    "builtins.int",
    "builtins.float",
    "builtins.str",
    "builtins.bool",
    "numpy.float32",
    "numpy.float64",
    "numpy.int32",
    "numpy.int64",
)
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


@dataclass(frozen=True)
class Settings:
    """The hyperparameters, parsed and checked; `raw` is what the caller passed."""

    raw: dict[str, str]
    freq: str
    prediction_length: int
    context_length: int
    epochs: int
    hidden_size: int
    num_layers: int
    dropout_rate: float
    lr: float
    batch_size: int
    likelihood: str
    num_eval_samples: int
    test_quantiles: tuple[float, ...]
    early_stopping_patience: int | None


@dataclass(frozen=True)
class _Series:
    start: str
    target: NDArray[np.float32]


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
) -> TrainResult:
    """Train on the `train` channel, score on the `test` channel, write `<out_dir>/model.tar.gz`."""
    settings = parse_hyperparameters(hyperparameters)
    if num_batches_per_epoch < 1:
        raise UsageError(f"num_batches_per_epoch must be at least 1, got {num_batches_per_epoch}")
    train_series = _parse_channel(train_jsonl, "train", settings, required=True)
    test_series = _parse_channel(test_jsonl, "test", settings, required=False)
    for i, s in enumerate(train_series, 1):
        if len(s.target) <= settings.prediction_length:
            raise DataError(
                f"train line {i}: {len(s.target)} points, not more than prediction_length "
                f"({settings.prediction_length})"
            )
    gl = _backend()
    h = settings.prediction_length
    if test_series and all(np.isnan(s.target[-h:]).all() for s in test_series):
        # checked now rather than after training: nothing in the test channel could be scored
        raise DataError(f"every test series has only missing values in its last {h} points")
    lags = _usable_lags(settings.freq, max(len(s.target) for s in train_series))
    started = time.monotonic()
    with _quiet(verbose), tempfile.TemporaryDirectory(prefix="nikkei-deepar-") as tmp:
        _seed(gl, seed)
        recorder = _epoch_recorder(gl, settings.epochs, progress)
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
            distr_output=getattr(gl.distributions, _LIKELIHOODS[settings.likelihood])(),
            lags_seq=lags,
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
        metrics: dict[str, float] = {}
        if losses:
            metrics["train:final_loss"] = losses[-1]
        if test_series:
            metrics.update(_test_metrics(gl, predictor, test_series, settings, seed))
        model_dir = Path(tmp) / "model"
        model_dir.mkdir()
        predictor.serialize(model_dir)
        marker = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "hyperparameters": settings.raw,
            "seed": seed,
            "freq": settings.freq,
            "prediction_length": settings.prediction_length,
            "context_length": settings.context_length,
            "lags_seq": lags,
            "num_batches_per_epoch": num_batches_per_epoch,
            "epochs_run": len(losses),
            "gluonts": gl.gluonts_version,
            "torch": gl.torch.__version__,
            "files": {p.name: _sha256(p.read_bytes()) for p in sorted(model_dir.iterdir())},
        }
        (model_dir / MARKER).write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n")
        model_tar = _write_archive(model_dir, Path(out_dir))
    return TrainResult(
        model_tar=model_tar, metrics=metrics, seconds=time.monotonic() - started, epochs_run=len(losses)
    )


def predict(*, model_tar: Path, request: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """Answer a SageMaker DeepAR inference request with a model that `train` wrote."""
    model_tar = Path(model_tar)
    if not model_tar.is_file():
        raise NotFoundError(f"no model archive at {model_tar}", hint=_ARCHIVE_HINT)
    gl = _backend()
    with _quiet(verbose=False), tempfile.TemporaryDirectory(prefix="nikkei-deepar-") as tmp:
        model_dir = Path(tmp)
        marker = _extract_archive(model_tar, model_dir)
        settings = parse_hyperparameters(marker["hyperparameters"])
        instances, num_samples, output_types, quantiles = _parse_request(request, settings)
        predictor = gl.PyTorchPredictor.deserialize(model_dir, device="cpu")
        predictions = []
        for series in instances:
            samples = _sample(gl, predictor, series, settings.freq, num_samples, seed)
            answer: dict[str, Any] = {}
            if "mean" in output_types:
                answer["mean"] = samples.mean(axis=0).tolist()
            if "quantiles" in output_types:
                answer["quantiles"] = {
                    key: np.quantile(samples, tau, axis=0).tolist() for key, tau in quantiles
                }
            if "samples" in output_types:
                answer["samples"] = samples.tolist()
            predictions.append(answer)
    return {"predictions": predictions}


def parse_hyperparameters(hyperparameters: Mapping[str, str]) -> Settings:
    """Check SageMaker's string hyperparameters against what the local backend supports (no imports)."""
    raw = {str(k): str(v).strip() for k, v in hyperparameters.items()}
    known = {
        "time_freq",
        "prediction_length",
        "context_length",
        "epochs",
        "num_cells",
        "num_layers",
        "dropout_rate",
        "learning_rate",
        "mini_batch_size",
        "likelihood",
        "num_eval_samples",
        "test_quantiles",
        "early_stopping_patience",
        "embedding_dimension",
        "cardinality",
        "num_dynamic_feat",
    }
    unknown = sorted(set(raw) - known)
    if unknown:
        raise UsageError(
            f"unknown hyperparameter(s) for the local backend: {', '.join(unknown)}",
            hint=f"known: {', '.join(sorted(known))}",
        )
    missing = [k for k in ("time_freq", "prediction_length", "context_length", "epochs") if k not in raw]
    if missing:
        raise UsageError(f"missing required hyperparameter(s): {', '.join(missing)}")

    freq_match = re.fullmatch(r"([1-9][0-9]*)?(M|W|D|H|min)", raw["time_freq"])
    if freq_match is None:
        raise UsageError(
            f"time_freq {raw['time_freq']!r} is not a DeepAR frequency",
            hint="an integer multiple of M, W, D, H or min, e.g. D or 5min",
        )
    freq = (freq_match.group(1) or "") + ("h" if freq_match.group(2) == "H" else freq_match.group(2))
    likelihood = raw.get("likelihood", "student-T")
    if likelihood not in _LIKELIHOODS:
        raise UsageError(
            f"likelihood {likelihood!r} is not supported by the local backend",
            hint=f"use one of: {', '.join(_LIKELIHOODS)}",
        )
    if raw.get("num_dynamic_feat", "auto") not in ("auto", "ignore"):
        raise UsageError(
            "num_dynamic_feat: the local backend supports no dynamic_feat", hint="drop it, or set it to auto"
        )
    patience = raw.get("early_stopping_patience")
    return Settings(
        raw=raw,
        freq=freq,
        prediction_length=_int(raw, "prediction_length", None),
        context_length=_int(raw, "context_length", None),
        epochs=_int(raw, "epochs", None),
        hidden_size=_int(raw, "num_cells", 40),
        num_layers=_int(raw, "num_layers", 2),
        dropout_rate=_float(raw, "dropout_rate", 0.1, ok=lambda v: 0.0 <= v < 1.0),
        lr=_float(raw, "learning_rate", 1e-3, ok=lambda v: v > 0.0),
        batch_size=_int(raw, "mini_batch_size", 128),
        likelihood=likelihood,
        num_eval_samples=_int(raw, "num_eval_samples", 100),
        test_quantiles=_quantile_list(raw.get("test_quantiles")),
        early_stopping_patience=None if patience is None else _int(raw, "early_stopping_patience", None),
    )


# --------------------------------------------------------------------------- hyperparameters


def _int(raw: Mapping[str, str], key: str, default: int | None) -> int:
    if key not in raw:
        assert default is not None
        return default
    try:
        value = int(raw[key])
    except ValueError:
        raise UsageError(f"hyperparameter {key}={raw[key]!r} is not an integer") from None
    if value < 1:
        raise UsageError(f"hyperparameter {key}={raw[key]!r} must be at least 1")
    return value


def _float(raw: Mapping[str, str], key: str, default: float, *, ok: Callable[[float], bool]) -> float:
    if key not in raw:
        return default
    try:
        value = float(raw[key])
    except ValueError:
        raise UsageError(f"hyperparameter {key}={raw[key]!r} is not a number") from None
    if not (math.isfinite(value) and ok(value)):
        raise UsageError(f"hyperparameter {key}={raw[key]!r} is out of range")
    return value


def _quantile_list(text: str | None) -> tuple[float, ...]:
    if text is None:
        return _DEFAULT_QUANTILES
    try:
        values = json.loads(text)
        taus = tuple(float(v) for v in values)
    except (ValueError, TypeError):
        raise UsageError(
            f"test_quantiles {text!r} is not a list of numbers", hint='e.g. "[0.1, 0.5, 0.9]"'
        ) from None
    if not taus or not all(0.0 < t < 1.0 for t in taus):
        raise UsageError(f"test_quantiles {text!r} must list quantile levels strictly between 0 and 1")
    return taus


# --------------------------------------------------------------------------- data


def _parse_channel(data: bytes, name: str, settings: Settings, *, required: bool) -> list[_Series]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(f"the {name} channel is not UTF-8 text") from None
    series = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{name} line {number}: not JSON ({exc.msg})") from None
        series.append(_series(record, f"{name} line {number}"))
    if required and not series:
        raise DataError(f"the {name} channel holds no series")
    if name == "test":
        for number, s in enumerate(series, 1):
            if len(s.target) <= settings.prediction_length:
                raise DataError(
                    f"test line {number}: {len(s.target)} points; a test series needs more "
                    f"than prediction_length ({settings.prediction_length}) to be scored"
                )
    return series


def _series(record: Any, where: str) -> _Series:
    if not isinstance(record, dict):
        raise DataError(f"{where}: expected a JSON object with start and target")
    extra = sorted(set(record) - {"start", "target"})
    if extra:
        raise DataError(
            f"{where}: field(s) {', '.join(extra)} not supported by the local backend",
            hint="the local backend trains on start and target only (no cat, no dynamic_feat)",
        )
    start = record.get("start")
    if not isinstance(start, str):
        raise DataError(f"{where}: start must be a string 'YYYY-MM-DD HH:MM:SS'")
    try:
        datetime.datetime.strptime(start, _START_FORMAT)
    except ValueError:
        raise DataError(f"{where}: start {start!r} is not 'YYYY-MM-DD HH:MM:SS'") from None
    raw_target = record.get("target")
    if not isinstance(raw_target, list) or not raw_target:
        raise DataError(f"{where}: target must be a non-empty list of numbers")
    target = np.empty(len(raw_target), dtype=np.float32)
    for i, value in enumerate(raw_target):
        if value is None or value == "NaN":
            target[i] = np.nan
        elif (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and (math.isfinite(value) or math.isnan(value))
        ):
            target[i] = value
        else:
            raise DataError(f'{where}: target[{i}] = {value!r} is not a number, null or "NaN"')
    if np.isnan(target).all():
        raise DataError(f"{where}: every target value is missing")
    return _Series(start=start, target=target)


def _usable_lags(freq: str, longest: int) -> list[int]:
    """GluonTS's default lags for `freq`, minus those longer than every training series (see top)."""
    from gluonts.time_feature import get_lags_for_frequency

    lags = [int(lag) for lag in get_lags_for_frequency(freq_str=freq)]
    return [lag for lag in lags if lag < longest] or [1]


def _dataset(gl: _Backend, series: Sequence[_Series], freq: str) -> list[dict[str, Any]]:
    return [{"start": gl.pd.Period(s.start, freq=freq), "target": s.target} for s in series]


# --------------------------------------------------------------------------- model


def _test_metrics(
    gl: _Backend, predictor: Any, test: Sequence[_Series], settings: Settings, seed: int
) -> dict[str, float]:
    from nikkei_deepar.data.metrics import mean_weighted_quantile_loss, rmse, weighted_quantile_loss

    h = settings.prediction_length
    actual: list[FloatArray] = []
    means: list[FloatArray] = []
    by_tau: dict[float, list[FloatArray]] = {tau: [] for tau in settings.test_quantiles}
    for s in test:
        history = _Series(start=s.start, target=s.target[:-h])
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
    gl: _Backend, predictor: Any, series: _Series, freq: str, num_samples: int, seed: int
) -> FloatArray:
    """`num_samples` sample paths (num_samples x prediction_length) for one series, seeded."""
    _seed(gl, seed)
    forecast = next(iter(predictor.predict(_dataset(gl, [series], freq), num_samples=num_samples)))
    samples: FloatArray = np.asarray(forecast.samples, dtype=np.float64)
    return samples


def _epoch_recorder(gl: _Backend, total: int, progress: ProgressFn | None) -> Any:
    class EpochRecorder(gl.pl.Callback):  # type: ignore[misc,name-defined]
        """Collects each epoch's mean train loss and reports it."""

        def __init__(self) -> None:
            self.losses: list[float] = []

        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            value = trainer.callback_metrics.get("train_loss")
            loss = None if value is None else float(value)
            if loss is not None:
                self.losses.append(loss)
            if progress is not None:
                progress(trainer.current_epoch + 1, total, loss)

    return EpochRecorder()


# --------------------------------------------------------------------------- archive


def _write_archive(model_dir: Path, out_dir: Path) -> Path:
    """Tar+gzip the model folder (flat, fixed timestamps) atomically into `<out_dir>/model.tar.gz`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for path in sorted(model_dir.iterdir()):
            data = path.read_bytes()
            info = tarfile.TarInfo(path.name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    target = out_dir / ARCHIVE
    fd, tmp_name = tempfile.mkstemp(dir=out_dir, prefix=f".{ARCHIVE}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(buffer.getvalue())
        Path(tmp_name).chmod(0o644)  # mkstemp creates 0600; a model is not a secret
        Path(tmp_name).replace(target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def _extract_archive(model_tar: Path, dest: Path) -> dict[str, Any]:
    """Unpack a flat archive of regular files into `dest`, check our marker; return the marker."""

    def refuse(why: str) -> UsageError:
        return UsageError(
            f"{model_tar} is not a model archive this tool can load: {why}",
            hint=_ARCHIVE_HINT,
            code="model-archive",
        )

    files: dict[str, bytes] = {}
    try:
        with tarfile.open(model_tar, mode="r:gz") as tar:
            total = 0
            for member in tar:
                name = member.name[2:] if member.name.startswith("./") else member.name
                if member.isdir() and name in ("", "."):
                    continue
                if not member.isfile() or not name or "/" in name or "\\" in name or name in (".", ".."):
                    raise refuse(f"unexpected member {member.name!r}")
                total += member.size
                if total > _MAX_ARCHIVE_BYTES:
                    raise refuse("it is too large")
                handle = tar.extractfile(member)
                assert handle is not None
                files[name] = handle.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise refuse(f"unreadable ({exc})") from None
    if MARKER not in files:
        raise refuse(f"no {MARKER}")
    try:
        marker = json.loads(files[MARKER])
    except ValueError:
        raise refuse(f"{MARKER} is not JSON") from None
    if not isinstance(marker, dict) or marker.get("format") != FORMAT:
        raise refuse(f"{MARKER} does not name the format {FORMAT}")
    if marker.get("format_version") != FORMAT_VERSION:
        raise refuse(f"format version {marker.get('format_version')!r}, this tool reads {FORMAT_VERSION}")
    digests = marker.get("files")
    if not isinstance(digests, dict) or set(digests) != set(files) - {MARKER}:
        raise refuse("its files do not match the marker's list")
    for name, digest in digests.items():
        if _sha256(files[name]) != digest:
            raise refuse(f"{name} does not match its digest (modified or corrupted)")
    for name in ("gluonts-config.json", "predictor.json"):
        if name not in files:
            raise refuse(f"no {name}")
        try:
            classes = set(_class_names(json.loads(files[name])))
        except ValueError:
            raise refuse(f"{name} is not JSON") from None
        foreign = sorted(c for c in classes if not c.startswith("gluonts.") and c not in _SAFE_CLASSES)
        if foreign:
            raise refuse(f"{name} names classes outside gluonts: {', '.join(foreign)}")
    if not isinstance(marker.get("hyperparameters"), dict):
        raise refuse(f"{MARKER} has no hyperparameters")
    for name, data in files.items():
        (dest / name).write_bytes(data)
    return marker


def _class_names(node: Any) -> Iterator[str]:
    """Every class a GluonTS serde document would locate: `class` values and gluonts-config's `type`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("class", "type") and isinstance(value, str):
                yield value
            else:
                yield from _class_names(value)
    elif isinstance(node, list):
        for item in node:
            yield from _class_names(item)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- request


def _parse_request(
    request: Mapping[str, Any], settings: Settings
) -> tuple[list[_Series], int, list[str], list[tuple[str, float]]]:
    if not isinstance(request, Mapping):
        raise DataError("the request must be a JSON object with instances")
    instances = request.get("instances")
    if not isinstance(instances, list) or not instances:
        raise DataError(
            "the request has no instances", hint='{"instances": [{"start": ..., "target": [...]}]}'
        )
    config = request.get("configuration", _DEFAULT_CONFIGURATION)
    if not isinstance(config, Mapping):
        raise DataError("configuration must be a JSON object")
    unknown = sorted(set(config) - set(_DEFAULT_CONFIGURATION))
    if unknown:
        raise DataError(f"unknown configuration key(s): {', '.join(unknown)}")
    num_samples = config.get("num_samples", _DEFAULT_CONFIGURATION["num_samples"])
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise DataError(f"configuration.num_samples must be a positive integer, got {num_samples!r}")
    output_types = config.get("output_types", _DEFAULT_CONFIGURATION["output_types"])
    if (
        not isinstance(output_types, list)
        or not output_types
        or not all(t in _OUTPUT_TYPES for t in output_types)
    ):
        raise DataError(
            f"configuration.output_types must list some of {', '.join(_OUTPUT_TYPES)}, got {output_types!r}"
        )
    raw_quantiles = config.get("quantiles", _DEFAULT_CONFIGURATION["quantiles"])
    if not isinstance(raw_quantiles, list) or ("quantiles" in output_types and not raw_quantiles):
        raise DataError('configuration.quantiles must be a list like ["0.1", "0.5", "0.9"]')
    quantiles: list[tuple[str, float]] = []
    for q in raw_quantiles:
        try:
            tau = float(q) if isinstance(q, str | int | float) and not isinstance(q, bool) else math.nan
        except ValueError:
            tau = math.nan
        if not 0.0 < tau < 1.0:
            raise DataError(f"configuration.quantiles: {q!r} is not a level strictly between 0 and 1")
        quantiles.append((q if isinstance(q, str) else str(q), tau))

    series = []
    for i, instance in enumerate(instances):
        where = f"instances[{i}]"
        s = _series(instance, where)
        if len(s.target) < settings.context_length:
            raise DataError(
                f"{where}: target has {len(s.target)} points; the model needs at least "
                f"context_length ({settings.context_length})",
                hint="send the whole history: lags reach far past context_length",
            )
        if np.isnan(s.target[-settings.context_length :]).all():
            raise DataError(
                f"{where}: the last context_length ({settings.context_length}) points are all missing"
            )
        series.append(s)
    return series, num_samples, list(output_types), quantiles


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
