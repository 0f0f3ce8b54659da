"""DeepAR as one of `backtest`'s models: trained with this engine at the first origin (or at every origin),
then asked for each window as an endpoint would be; models cached by what made them.

Always this engine, whatever `backend` says: a SageMaker training job per window would cost money. The
`backtest` step owns the windows, the scoring and the report; this module owns training, caching and
forecasting with the engine. Forecasts go through `engine.serving` (numpy, no torch import), so a
backtest whose models are all cached never imports GluonTS.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nikkei_deepar.engine import serving
from nikkei_deepar.engine.loader import batches_per_epoch, interrupts_kept, load_engine
from nikkei_deepar.engine.numpy_deepar import FORMAT as NUMPY_FORMAT
from nikkei_deepar.engine.numpy_deepar import FORMAT_VERSION as NUMPY_FORMAT_VERSION
from nikkei_deepar.errors import DataError
from nikkei_deepar.files import write_atomic

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from nikkei_deepar.config import Settings
    from nikkei_deepar.data.backtest import FloatArray
    from nikkei_deepar.data.baselines import QuantileForecast
    from nikkei_deepar.data.series import Series

CACHE_KEEP = 64  # newest model archives kept (about 100 KB each)
WORKERS = 2  # processes training `--retrain` models at once: this tool's machines have two cores


class BacktestDeepAR:
    """DeepAR as a `ForecastFn` over sessions: trained on the history before the first origin (or at
    every origin with `retrain`), then asked for each window with the whole DeepAR series before it
    (calendar days with NaN gaps, or sessions), as an endpoint would be. Its `prediction_length` steps
    are read at the positions of the next `horizon` sessions, as `predict` dates them. Forecasts are
    kept per origin, so scoring it alone and blended costs one forecast per window."""

    def __init__(
        self,
        settings: Settings,
        series: Series,
        sessions: NDArray[np.intp],
        *,
        prediction_length: int,
        quantiles: Sequence[float],
        retrain: bool,
        windows: int,
        workdir: Path,
        cache_dir: Path,
        live: Callable[[str], None],
        note: Callable[[str], None] | None = None,
        verbose: bool = False,
    ) -> None:
        from nikkei_deepar.data.calendar import calendar_features, horizon_dates
        from nikkei_deepar.data.horizon import features_through, hyperparameter_strings

        self.engine = load_engine()
        self.live = live
        self.note = note
        self.noted = False
        self.verbose = verbose
        self.series = series
        self.full = np.asarray(series.target, dtype=np.float64)
        # `[data] target`: what the models train on and are sent (prices come back from their samples)
        self.returns = settings.data.target == "log_return"
        if self.returns:
            from nikkei_deepar.data.returns import to_log_returns

            self.modelled = to_log_returns(self.full)
        else:
            self.modelled = self.full
        self.sessions = sessions
        self.prediction_length = prediction_length
        self.quantiles = list(quantiles)
        self.retrain = retrain
        self.windows = windows
        self.workdir = workdir
        training = settings.training
        self.hyperparameters = hyperparameter_strings(settings)
        # `[data] calendar_features`: every date's features, through the last window's horizon
        self.features = (
            None
            if features_through(self.hyperparameters) is None
            else calendar_features(horizon_dates(series, prediction_length))
        )
        self.seed = training.seed
        self.num_samples = training.hyperparameters.num_eval_samples
        self.batches = batches_per_epoch()
        self.model: Path | None = None
        self.trainings = 0
        self.window = 0
        self.cache: dict[int, QuantileForecast] = {}
        self.info: dict[str, Any] = {
            "retrain": retrain,
            "epochs": training.hyperparameters.epochs,
            "batches_per_epoch": self.batches,
            "seed": self.seed,
            "num_samples": self.num_samples,
            "prediction_length": prediction_length,
            "trainings": 0,
            "cached": 0,
            "processes": 1,
            "train_seconds": [],
            "cache": str(cache_dir),
        }
        self.cache_dir = cache_dir
        self.pretrained: dict[str, Path] = {}

    def __call__(self, history: FloatArray, horizon: int) -> QuantileForecast:
        n = len(history)
        if n not in self.cache:
            self.cache[n] = self._forecast(n, horizon)
        return self.cache[n]

    def _forecast(self, n: int, horizon: int) -> QuantileForecast:
        from nikkei_deepar.data.baselines import QuantileForecast
        from nikkei_deepar.data.channels import format_start, target_values
        from nikkei_deepar.data.inference import inference_config, output_types_for
        from nikkei_deepar.data.returns import price_forecast

        origin = int(self.sessions[n - 1]) + 1  # the DeepAR series up to the n-th close
        steps = self.sessions[n : n + horizon] - origin  # where the next sessions fall in its forecast
        if steps.size and int(steps[-1]) >= self.prediction_length:
            raise DataError(
                f"the {horizon} sessions after {self.series.dates[origin - 1]} end {int(steps[-1]) + 1} days "
                f"later, beyond prediction_length {self.prediction_length}",
                hint="the price file misses sessions there; check it, or raise prediction_length",
            )
        history = self.modelled[:origin]
        self.window += 1
        if self.model is None or self.retrain:
            self.model = self._train(self._train_line(origin))
        self.live(f"DeepAR: forecasting window {self.window}/{self.windows}")
        instance: dict[str, Any] = {
            "start": format_start(self.series.start),
            "target": target_values(history.tolist()),
        }
        if self.features is not None:  # through the forecast horizon, as SageMaker wants them
            instance["dynamic_feat"] = [row[: origin + self.prediction_length] for row in self.features]
        request = {
            "instances": [instance],
            "configuration": inference_config(
                quantiles=self.quantiles,
                num_samples=self.num_samples,
                output_types=output_types_for("log_return" if self.returns else "price"),
            ),
        }
        answer = serving.predict(model_tar=self.model, request=request, seed=self.seed, note=self._note_once)
        answer = answer["predictions"][0]
        if self.returns:  # price paths from the sampled returns, read at the next sessions
            ahead = self.sessions[n:] - origin  # the known sessions after the origin, as forecast steps
            trading = np.zeros(self.prediction_length, dtype=bool)
            trading[ahead[ahead < self.prediction_length]] = True
            prices = price_forecast(
                answer["samples"],
                anchor=float(self.full[int(self.sessions[n - 1])]),
                trading=trading.tolist(),
                quantiles=self.quantiles,
            )
            return QuantileForecast(
                mean=prices.mean[steps],
                quantiles={tau: prices.quantile(tau)[steps] for tau in self.quantiles},
            )
        by_level = {
            float(key): np.asarray(values, dtype=np.float64)[steps]
            for key, values in answer["quantiles"].items()
        }
        return QuantileForecast(
            mean=np.asarray(answer["mean"], dtype=np.float64)[steps],
            quantiles={tau: by_level[tau] for tau in self.quantiles},
        )

    def _note_once(self, message: str) -> None:
        """What serving says of an archive it serves through GluonTS: once per backtest, not per window."""
        if self.note is not None and not self.noted:
            self.noted = True
            self.note(message)

    def _train_line(self, origin: int) -> bytes:
        """The train channel of the series' first `origin` points (with their calendar features)."""
        from nikkei_deepar.data.channels import series_line

        rows = None if self.features is None else [row[:origin] for row in self.features]
        return series_line(self.series.start, self.modelled[:origin].tolist(), rows).encode() + b"\n"

    def _train(self, train_jsonl: bytes) -> Path:
        key = self._cache_key(train_jsonl)
        cached = self.cache_dir / f"{key}.tar.gz"
        if key in self.pretrained:  # trained by `pretrain`, in another process
            self.trainings += 1
            self.info["trainings"] = self.trainings
            return self._keep(self.pretrained.pop(key), cached)
        if cached.is_file():  # same data, hyperparameters, seed and library: the same model, to the bit
            self.info["cached"] += 1
            return cached
        self.trainings += 1
        self.info["trainings"] = self.trainings
        label = f"DeepAR training {self.trainings}/{self.windows if self.retrain else 1}"

        def progress(epoch: int, total: int, loss: float | None) -> None:
            text = f"{label}: epoch {epoch}/{total}" + ("" if loss is None else f", train loss {loss:.4f}")
            self.live(text)

        out = self.workdir / f"model-{self.trainings}"
        with interrupts_kept():  # Ctrl-C stays Ctrl-C (exit 130), not Lightning's exit 1
            result = self.engine.train(
                train_jsonl=train_jsonl,
                test_jsonl=b"",
                hyperparameters=self.hyperparameters,
                seed=self.seed,
                out_dir=out,
                num_batches_per_epoch=self.batches,
                progress=progress,
                verbose=self.verbose,
            )
        self.info["train_seconds"].append(round(result.seconds, 2))
        return self._keep(result.model_tar, cached)

    def _keep(self, path: Path, cached: Path) -> Path:
        write_atomic(cached, path.read_bytes())
        _prune(self.cache_dir, keep=CACHE_KEEP)
        return path

    def pretrain(self, origins: Sequence[int]) -> None:
        """`--retrain`: train the models of every origin not in the cache up front, `WORKERS` at a time
        (each in its own process, one torch thread each: the same models as one after another)."""
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        todo: dict[str, bytes] = {}
        for n in origins:
            jsonl = self._train_line(int(self.sessions[n - 1]) + 1)
            key = self._cache_key(jsonl)
            if not (self.cache_dir / f"{key}.tar.gz").is_file():
                todo[key] = jsonl
        if len(todo) < 2 or WORKERS < 2:
            return  # nothing to share out: train in this process, with progress per epoch
        workers = min(WORKERS, len(todo))
        self.info["processes"] = workers
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked torch state
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = {
                pool.submit(
                    _train_one, jsonl, self.hyperparameters, self.seed, self.batches, self.workdir / key
                ): key
                for key, jsonl in todo.items()
            }
            try:
                for done, future in enumerate(as_completed(futures), start=1):
                    model_tar, seconds = future.result()
                    self.pretrained[futures[future]] = model_tar
                    self.info["train_seconds"].append(round(seconds, 2))
                    self.live(f"DeepAR training: {done}/{len(todo)} models, {workers} at a time")
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise

    def _cache_key(self, train_jsonl: bytes) -> str:
        from importlib.metadata import version

        digest = hashlib.sha256(train_jsonl)
        for part in (
            json.dumps(self.hyperparameters, sort_keys=True),
            str(self.seed),
            str(self.batches),
            version("gluonts"),
            version("torch"),
            f"{NUMPY_FORMAT}/{NUMPY_FORMAT_VERSION}",  # not the models cached before torch-free weights
        ):
            digest.update(b"\0" + part.encode())
        return digest.hexdigest()[:32]


def _train_one(
    train_jsonl: bytes, hyperparameters: dict[str, str], seed: int, batches: int, out_dir: Path
) -> tuple[Path, float]:
    """One `--retrain` model, in a worker process (`BacktestDeepAR.pretrain`)."""
    result = load_engine().train(
        train_jsonl=train_jsonl,
        test_jsonl=b"",
        hyperparameters=hyperparameters,
        seed=seed,
        out_dir=out_dir,
        num_batches_per_epoch=batches,
    )
    return Path(result.model_tar), float(result.seconds)


def _prune(folder: Path, *, keep: int) -> None:
    """Keep the `keep` newest model archives of the cache."""
    archives = sorted(folder.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in archives[keep:]:
        old.unlink(missing_ok=True)
