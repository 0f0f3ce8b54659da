"""`backtest`: is DeepAR worth paying for on this series? Rolling-origin evaluation against baselines.

Takes the latest prepared series (the ledger's last data version, its `series.json`), cuts off the last
N non-overlapping `prediction_length` windows, forecasts each from the history before it, and scores
every model with the same code (`data.backtest.evaluate`): mean weighted quantile loss (SageMaker's
definition, over the configured `test_quantiles`), MASE (one-step naive scale), RMSE of the mean, and
the coverage of the 80% interval.

Models:
- `random-walk`: the last close repeated, quantiles from past h-step log returns (no training);
- `seasonal-naive`: the last season repeated, season 5 for `trading_days` (a trading week) and 7 for
  `calendar_days`; left out, with the reason, where it does not apply (a step whose phase was never
  observed: weekends in a calendar-day series);
- `deepar`: GluonTS's DeepAR with the config's hyperparameters and seed, trained once on the history
  before the first window (`--no-retrain`, the default) or again at every origin (`--retrain`).
  Always the local engine, whatever `backend` says: a SageMaker training job per window would cost
  money. Between origins the model is not retrained but is conditioned on the newer history, as an
  endpoint would be.

Reads only local files (the prepared `series.json`, or the backend's copy when the local one is gone);
trains in a temporary folder that is removed afterwards. A run that scored DeepAR and the random walk
is recorded in the ledger (data version, hyperparameters, blend weight, scores): `deploy`, `retrain`
and `predict` show it for a model of that configuration (`nikkei_deepar.verdict`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nikkei_deepar.context import Context
from nikkei_deepar.errors import DataError, LockHeldError, NotFoundError, UsageError
from nikkei_deepar.files import write_atomic
from nikkei_deepar.output import Table

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from nikkei_deepar.data.backtest import FloatArray, ModelScore
    from nikkei_deepar.data.baselines import QuantileForecast
    from nikkei_deepar.data.series import Series

RANDOM_WALK = "random-walk"
SEASONAL_NAIVE = "seasonal-naive"
DEEPAR = "deepar"
DEEPAR_ALONE = "deepar-alone"
MODELS = (RANDOM_WALK, SEASONAL_NAIVE, DEEPAR)
SEASON = 5  # a trading week
CACHE_DIR = Path("cache") / "backtest-models"  # under the tool's home: models keyed by what made them
CACHE_KEEP = 64  # newest model archives kept (about 100 KB each)
WORKERS = 2  # processes training `--retrain` models at once: this tool's machines have two cores
_METRICS = (("mean_wql", "mean wQL"), ("mase", "MASE"), ("rmse", "RMSE"), ("coverage80", "80% coverage"))


@dataclass(frozen=True)
class ModelRow:
    """One model's scores (`data.backtest.ModelScore`) with its label and how long it took."""

    key: str
    label: str
    mean_wql: float
    mase: float
    rmse: float
    coverage80: float
    windows: int
    seconds: float

    def to_data(self, baseline_wql: float | None) -> dict[str, Any]:
        return {
            "model": self.key,
            "label": self.label,
            "mean_wql": self.mean_wql,
            "mase": self.mase,
            "rmse": self.rmse,
            "coverage80": self.coverage80,
            "windows": self.windows,
            "seconds": round(self.seconds, 3),
            "wql_vs_random_walk": None if baseline_wql is None else self.mean_wql / baseline_wql,
        }


@dataclass(frozen=True)
class BacktestResult:
    source: str
    data_sha256: str
    calendar: str
    points: int
    first_window: str
    last_date: str
    horizon: int
    prediction_length: int
    random_walk_weight: float
    windows: int
    quantiles: list[float]
    rows: list[ModelRow]
    skipped: dict[str, str] = field(default_factory=dict)
    deepar: dict[str, Any] | None = None
    plot: str | None = None

    @property
    def baseline_wql(self) -> float | None:
        return next((r.mean_wql for r in self.rows if r.key == RANDOM_WALK), None)

    def to_data(self) -> dict[str, Any]:
        return {
            "series": {
                "source": self.source,
                "data_sha256": self.data_sha256,
                "calendar": self.calendar,
                "points": self.points,
                "last_date": self.last_date,
            },
            "horizon": self.horizon,
            "prediction_length": self.prediction_length,
            "random_walk_weight": self.random_walk_weight,
            "windows": self.windows,
            "first_window": self.first_window,
            "quantiles": self.quantiles,
            "models": [row.to_data(self.baseline_wql) for row in self.rows],
            "skipped": self.skipped,
            "deepar": self.deepar,
            "plot": self.plot,
        }

    def to_lines(self) -> list[str]:
        lines = [
            f"backtest on {self.source} ({self.calendar}, data {self.data_sha256[:16]}): the last "
            f"{self.windows} windows of {self.horizon} trading days, {self.first_window} .. {self.last_date}",
        ]
        if self.deepar is not None:
            how = (
                f"retrained at each of the {self.windows} origins"
                if self.deepar["retrain"]
                else "trained once before the first window"
            )
            lines.append(
                f"DeepAR (local engine): {how}; {self.deepar['epochs']} epochs of "
                f"{self.deepar['batches_per_epoch']} batches, seed {self.deepar['seed']}, "
                f"prediction_length {self.prediction_length}"
            )
        lines += [f"{key}: not scored ({why})" for key, why in self.skipped.items()]
        if self.plot:
            lines.append(f"plot: {self.plot}")
        return lines

    def to_table(self) -> Table:
        baseline = self.baseline_wql
        rows = []
        for row in self.rows:
            relative = "" if baseline is None else f"{row.mean_wql / baseline:.2f}x"
            rows.append([row.label, row.windows, row.mean_wql, row.mase, row.rmse, row.coverage80, relative])
        return Table(
            columns=["model", "windows", "mean wQL", "MASE", "RMSE", "80% coverage", "wQL vs RW"],
            rows=rows,
            title="lower is better, except coverage (0.80 is right)",
        )


def parse_models(text: str) -> list[str]:
    """`deepar,random-walk` -> the models in the canonical order; UsageError for an unknown name."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = sorted(set(names) - set(MODELS))
    if unknown or not names:
        raise UsageError(
            f"--models: unknown model(s) {', '.join(unknown)}" if unknown else "--models: no model named",
            hint=f"choose from {', '.join(MODELS)} (comma-separated)",
        )
    return [m for m in MODELS if m in names]


def run(ctx: Context, *, windows: int, retrain: bool, models: str, plot: Path | None) -> BacktestResult:
    chosen = parse_models(models)
    if windows < 1:
        raise UsageError(f"--windows must be at least 1, got {windows}")
    if plot is not None and importlib.util.find_spec("matplotlib") is None:
        raise UsageError(
            "--plot needs matplotlib (the [plot] extra)", hint="pip install 'nikkei-deepar[plot]'"
        )
    if DEEPAR in chosen:
        from nikkei_deepar.backends.local.jobs import load_engine

        try:
            load_engine()
        except UsageError as exc:
            raise UsageError(
                f"backtest: {exc.message} to train DeepAR",
                hint=f"{exc.hint}; or compare the baselines only: --models {RANDOM_WALK},{SEASONAL_NAIVE}",
            ) from None

    data, series = _latest_series(ctx)
    from nikkei_deepar.data.horizon import prediction_length_of

    horizon = ctx.settings.forecast.horizon_trading_days
    weight = ctx.settings.forecast.random_walk_weight
    prediction_length = prediction_length_of(ctx.settings)
    quantiles = list(ctx.settings.training.hyperparameters.test_quantiles)
    full = np.asarray(series.target, dtype=np.float64)
    sessions = np.flatnonzero(~np.isnan(full))  # the position of each close in the DeepAR series
    target = full[sessions]  # the closes, one per session: what every model is scored on

    from nikkei_deepar.data.backtest import rolling_windows

    first_origin = rolling_windows(target, horizon=horizon, windows=windows)[0].origin
    rows: list[ModelRow] = []
    skipped: dict[str, str] = {}
    deepar_info: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="nikkei-deepar-backtest-") as workdir:
        for key in chosen:
            started = time.monotonic()
            fn: Callable[[FloatArray, int], QuantileForecast]
            if key == RANDOM_WALK:
                label, fn = "random walk", _random_walk(quantiles)
            elif key == SEASONAL_NAIVE:
                label, fn = f"seasonal naive ({SEASON})", _seasonal_naive(SEASON, quantiles)
            else:
                deepar = _DeepAR(
                    ctx,
                    series,
                    sessions,
                    prediction_length=prediction_length,
                    quantiles=quantiles,
                    retrain=retrain,
                    windows=windows,
                    workdir=Path(workdir),
                )
                deepar_info = deepar.info
                if retrain:
                    windows_ = rolling_windows(target, horizon=horizon, windows=windows)
                    deepar.pretrain([w.origin for w in windows_])
                if weight > 0.0:
                    ctx.reporter.info(f"backtest: DeepAR (local) alone over {windows} windows")
                    score = _evaluate(
                        DEEPAR_ALONE, deepar, target, horizon=horizon, windows=windows, quantiles=quantiles
                    )
                    rows.append(_row(DEEPAR_ALONE, "DeepAR (local) alone", score, time.monotonic() - started))
                    started = time.monotonic()
                    label = f"DeepAR + random walk ({1 - weight:g}/{weight:g})"
                    fn = _blended(deepar, _random_walk(quantiles), weight)
                else:
                    label, fn = "DeepAR (local)", deepar
            ctx.reporter.info(f"backtest: {label} over {windows} windows")
            try:
                score = _evaluate(key, fn, target, horizon=horizon, windows=windows, quantiles=quantiles)
            except _NotApplicable as exc:
                skipped[key] = str(exc)  # said in the result
                continue
            rows.append(_row(key, label, score, time.monotonic() - started))
    ctx.reporter.close()

    result = BacktestResult(
        source=data.source,
        data_sha256=data.sha256,
        calendar=series.policy,
        points=len(series),
        first_window=series.dates[int(sessions[first_origin])].isoformat(),
        last_date=series.last_date.isoformat(),
        horizon=horizon,
        prediction_length=prediction_length,
        random_walk_weight=weight,
        windows=windows,
        quantiles=quantiles,
        rows=rows,
        skipped=skipped,
        deepar=deepar_info,
        plot=str(plot) if plot is not None else None,
    )
    if plot is not None:
        draw(result, plot)
    if DEEPAR in chosen and RANDOM_WALK in chosen:
        _record(ctx, data.sha256, result)
    return result


def _record(ctx: Context, data_sha256: str, result: BacktestResult) -> None:
    """Keep the scores in the ledger: `deploy` and `retrain` show them for a job of this configuration."""
    from nikkei_deepar.data.horizon import hyperparameter_strings
    from nikkei_deepar.state import Backtest

    record = Backtest(
        data_sha256=data_sha256,
        hyperparameters=hyperparameter_strings(ctx.settings),
        random_walk_weight=result.random_walk_weight,
        target=ctx.settings.data.target,
        horizon=result.horizon,
        windows=result.windows,
        scores={
            row.key: {"mean_wql": row.mean_wql, "mase": row.mase, "coverage80": row.coverage80}
            for row in result.rows
        },
    )
    try:
        with ctx.store.lock(wait_seconds=30, on_takeover=ctx.reporter.warn), ctx.store.update() as ledger:
            ledger.record_backtest(record)
    except LockHeldError as exc:  # the scores are printed anyway; only the record is lost
        ctx.reporter.warn(f"backtest not recorded in the ledger: {exc.message}")


# -- the models -------------------------------------------------------------------------------------------
class _NotApplicable(Exception):
    """A baseline that does not apply to this series (the reason is the message)."""


def _random_walk(quantiles: Sequence[float]) -> Callable[[FloatArray, int], QuantileForecast]:
    from nikkei_deepar.data.baselines import random_walk

    def forecast(history: FloatArray, horizon: int) -> QuantileForecast:
        return random_walk(history, horizon=horizon, quantiles=quantiles)

    return forecast


def _seasonal_naive(season: int, quantiles: Sequence[float]) -> Callable[[FloatArray, int], QuantileForecast]:
    from nikkei_deepar.data.baselines import seasonal_naive

    def forecast(history: FloatArray, horizon: int) -> QuantileForecast:
        result = seasonal_naive(history, horizon=horizon, season=season, quantiles=quantiles)
        if result is None:
            raise _NotApplicable(
                f"season {season}: some forecast step falls on a phase never observed in the history"
                " (a closed day of the week)"
            )
        return result

    return forecast


def _blended(
    model: Callable[[FloatArray, int], QuantileForecast],
    baseline: Callable[[FloatArray, int], QuantileForecast],
    weight: float,
) -> Callable[[FloatArray, int], QuantileForecast]:
    """The shipped forecast: `model` mixed with `baseline` as `predict` mixes them."""
    from nikkei_deepar.data.baselines import blend

    def forecast(history: FloatArray, horizon: int) -> QuantileForecast:
        return blend(model(history, horizon), baseline(history, horizon), weight=weight)

    return forecast


class _DeepAR:
    """DeepAR as a `ForecastFn` over sessions: trained on the history before the first origin (or at
    every origin with `retrain`), then asked for each window with the whole DeepAR series before it
    (calendar days with NaN gaps, or sessions), as an endpoint would be. Its `prediction_length` steps
    are read at the positions of the next `horizon` sessions, as `predict` dates them. Forecasts are
    kept per origin, so scoring it alone and blended costs one forecast per window."""

    def __init__(
        self,
        ctx: Context,
        series: Series,
        sessions: NDArray[np.intp],
        *,
        prediction_length: int,
        quantiles: Sequence[float],
        retrain: bool,
        windows: int,
        workdir: Path,
    ) -> None:
        from nikkei_deepar.backends.local.jobs import batches_per_epoch, load_engine
        from nikkei_deepar.data.calendar import calendar_features, horizon_dates
        from nikkei_deepar.data.horizon import features_through, hyperparameter_strings

        self.engine = load_engine()
        self.ctx = ctx
        self.series = series
        self.full = np.asarray(series.target, dtype=np.float64)
        # `[data] target`: what the models train on and are sent (prices come back from their samples)
        self.returns = ctx.settings.data.target == "log_return"
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
        training = ctx.settings.training
        self.hyperparameters = hyperparameter_strings(ctx.settings)
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
            "cache": str(ctx.home / CACHE_DIR),
        }
        self.cache_dir = ctx.home / CACHE_DIR
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
        self.ctx.reporter.live(f"DeepAR: forecasting window {self.window}/{self.windows}")
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
        answer = self.engine.predict(model_tar=self.model, request=request, seed=self.seed)["predictions"][0]
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

    def _train_line(self, origin: int) -> bytes:
        """The train channel of the series' first `origin` points (with their calendar features)."""
        from nikkei_deepar.data.channels import series_line

        rows = None if self.features is None else [row[:origin] for row in self.features]
        return series_line(self.series.start, self.modelled[:origin].tolist(), rows).encode() + b"\n"

    def _train(self, train_jsonl: bytes) -> Path:
        from nikkei_deepar.backends.local.jobs import interrupts_kept

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
            self.ctx.reporter.live(text)

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
                verbose=self.ctx.reporter.verbose,
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
                    self.ctx.reporter.live(f"DeepAR training: {done}/{len(todo)} models, {workers} at a time")
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
        ):
            digest.update(b"\0" + part.encode())
        return digest.hexdigest()[:32]


def _train_one(
    train_jsonl: bytes, hyperparameters: dict[str, str], seed: int, batches: int, out_dir: Path
) -> tuple[Path, float]:
    """One `--retrain` model, in a worker process (`_DeepAR.pretrain`)."""
    from nikkei_deepar.backends.local.jobs import load_engine

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


def _evaluate(
    key: str,
    fn: Callable[[FloatArray, int], QuantileForecast],
    target: FloatArray,
    *,
    horizon: int,
    windows: int,
    quantiles: Sequence[float],
) -> ModelScore:
    from nikkei_deepar.data.backtest import evaluate

    # MASE's scale is the one-step naive error for every model, so the MASE column compares like
    # with like (GluonTS's seasonality for daily data is 1 too).
    return evaluate(key, fn, target, horizon=horizon, windows=windows, quantiles=quantiles, season_for_mase=1)


def _row(key: str, label: str, score: ModelScore, seconds: float) -> ModelRow:
    return ModelRow(
        key=key,
        label=label,
        mean_wql=score.mean_wql,
        mase=score.mase,
        rmse=score.rmse,
        coverage80=score.coverage80,
        windows=score.windows,
        seconds=seconds,
    )


# -- data and plot ----------------------------------------------------------------------------------------
def _latest_series(ctx: Context) -> tuple[Any, Series]:
    """The ledger's last data version and its series (the local copy first, else the backend's)."""
    from nikkei_deepar.data.series_io import load_series

    data = ctx.store.load().last_data
    if data is None:
        raise NotFoundError("no prepared data in the ledger", hint="run `nikkei-deepar prepare` first")
    local = Path(data.local_dir) / "series.json" if data.local_dir else None
    if local is not None and local.is_file():
        return data, load_series(local.read_bytes(), where=str(local))
    if not data.series_uri:
        raise DataError(
            f"data version {data.sha256[:16]} has no stored series", hint="run `nikkei-deepar prepare` again"
        )
    return data, load_series(ctx.backend.get_artifact(data.series_uri), where=data.series_uri)


def draw(result: BacktestResult, path: Path) -> None:
    """One bar chart per score, a model per bar; the 80% line on the coverage chart."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [row.label for row in result.rows]
    colours = ["#7f7f7f" if row.key != DEEPAR else "#1f77b4" for row in result.rows]
    fig, axes = plt.subplots(1, len(_METRICS), figsize=(3.2 * len(_METRICS), 3.6))
    for ax, (attribute, title) in zip(axes, _METRICS, strict=True):
        values = [getattr(row, attribute) for row in result.rows]
        ax.bar(range(len(values)), values, color=colours)
        ax.set_xticks(range(len(values)), labels, rotation=20, ha="right", fontsize=8)
        ax.set_title(title)
        if attribute == "coverage80":
            ax.axhline(0.8, color="black", linestyle="--", linewidth=1)
            ax.set_ylim(0, 1)
    fig.suptitle(
        f"{Path(result.source).name}: last {result.windows} windows of {result.horizon} steps "
        f"({result.first_window} .. {result.last_date})",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
