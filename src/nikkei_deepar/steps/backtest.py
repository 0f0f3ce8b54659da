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

import datetime as dt
import importlib.util
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nikkei_deepar.context import Context
from nikkei_deepar.engine.backtest import BacktestDeepAR
from nikkei_deepar.engine.loader import load_engine
from nikkei_deepar.errors import LockHeldError, UsageError
from nikkei_deepar.lifecycle.series import prepared_series
from nikkei_deepar.output import Table

if TYPE_CHECKING:
    from nikkei_deepar.data.backtest import FloatArray, ModelScore
    from nikkei_deepar.data.baselines import QuantileForecast

RANDOM_WALK = "random-walk"
SEASONAL_NAIVE = "seasonal-naive"
DEEPAR = "deepar"
DEEPAR_ALONE = "deepar-alone"
MODELS = (RANDOM_WALK, SEASONAL_NAIVE, DEEPAR)
SEASON = 5  # a trading week
CACHE_DIR = Path("cache") / "backtest-models"  # under the tool's home: models keyed by what made them
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
    # each window's origin (an index into `BacktestResult.closes`) and forecast, for the plot
    origins: tuple[int, ...] = field(default=(), repr=False, compare=False)
    forecasts: tuple[QuantileForecast, ...] = field(default=(), repr=False, compare=False)

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
    # the closes scored, one per session, and their dates (for the plot)
    days: tuple[dt.date, ...] = field(default=(), repr=False, compare=False)
    closes: tuple[float, ...] = field(default=(), repr=False, compare=False)

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
        try:
            load_engine()
        except UsageError as exc:
            raise UsageError(
                f"backtest: {exc.message} to train DeepAR",
                hint=f"{exc.hint}; or compare the baselines only: --models {RANDOM_WALK},{SEASONAL_NAIVE}",
            ) from None

    data, series = prepared_series(ctx, ctx.state.load())
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
                deepar = BacktestDeepAR(
                    ctx.settings,
                    series,
                    sessions,
                    prediction_length=prediction_length,
                    quantiles=quantiles,
                    retrain=retrain,
                    windows=windows,
                    workdir=Path(workdir),
                    cache_dir=ctx.home / CACHE_DIR,
                    live=ctx.reporter.live,
                    note=ctx.reporter.warn,
                    verbose=ctx.reporter.verbose,
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
        days=tuple(series.dates[int(i)] for i in sessions),
        closes=tuple(float(v) for v in target),
    )
    if plot is not None:
        draw(result, plot)
    if DEEPAR in chosen and RANDOM_WALK in chosen:
        _record(ctx, data.sha256, result)
    return result


def _record(ctx: Context, data_sha256: str, result: BacktestResult) -> None:
    """Keep the scores in the ledger: `deploy` and `retrain` show them for a job of this configuration."""
    from nikkei_deepar.data.horizon import hyperparameter_strings
    from nikkei_deepar.ledger import Backtest

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
        with ctx.state.lock(command="backtest", wait_seconds=30, on_takeover=ctx.reporter.warn):
            ctx.state.update(lambda ledger: ledger.record_backtest(record))
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
        origins=score.origins,
        forecasts=score.forecasts,
    )


# -- plot -------------------------------------------------------------------------------------------------
def draw(result: BacktestResult, path: Path) -> None:
    """Each window's forecast (the shipped model's: DeepAR, blended as configured, when it was scored)
    against the closes, with the random walk's median; the scores as bars below."""
    from nikkei_deepar.plot import ScoreBar, WindowForecast, plot_backtest

    rows = {row.key: row for row in result.rows}
    shown = rows.get(DEEPAR) or next((r for r in result.rows if r.key != RANDOM_WALK), rows.get(RANDOM_WALK))
    if shown is None or not shown.origins:
        return
    begin = max(0, shown.origins[0] - 3 * result.horizon)

    def windows(row: ModelRow | None, *, bands: bool) -> list[WindowForecast]:
        if row is None:
            return []
        return [
            WindowForecast(
                start=origin - begin,
                median=list(_level(forecast, 0.5, forecast.mean)),
                lower=list(_level(forecast, 0.1, None)) if bands else None,
                upper=list(_level(forecast, 0.9, None)) if bands else None,
            )
            for origin, forecast in zip(row.origins, row.forecasts, strict=True)
        ]

    plot_backtest(
        path,
        days=result.days[begin:],
        closes=result.closes[begin:],
        model=shown.label,
        windows=windows(shown, bands=True),
        walk=windows(rows.get(RANDOM_WALK), bands=False) if shown.key != RANDOM_WALK else [],
        band="10-90%",
        bars=[
            ScoreBar(
                label=row.label,
                highlight=row.key == DEEPAR,
                values={attribute: getattr(row, attribute) for attribute, _ in _METRICS},
            )
            for row in result.rows
        ],
        metrics=_METRICS,
        title=f"{Path(result.source).name}: the last {result.windows} windows of {result.horizon} sessions "
        f"({result.first_window} .. {result.last_date}): {shown.label} against the closes",
    )


def _level(forecast: QuantileForecast, tau: float, default: Any) -> Any:
    try:
        return forecast.quantile(tau)
    except KeyError:
        if default is None:
            raise
        return default
