"""`predict`: the latest prepared series -> DeepAR (the endpoint, or a batch transform) -> a dated forecast.

The request carries the whole history (DeepAR's lags reach far past context_length) with the configured
quantiles and sample count; the answer is dated by the Tokyo Stock Exchange calendar under the same
calendar policy `prepare` used. `prediction_length` is the deployed model's (from the ledger), not
whatever the config says today: a model only ever forecasts the length it was trained for. Likewise the
target (prices or log returns) is the one the served job was trained on: a log-return model is sent
the history as returns, asked for samples, and its sample paths are turned back into prices here.
Either model's own forecast is refused (exit 4, naming the first bad step) when it moves more than a
market can in a session (`data.answer.check_moves`), before the random-walk blend could hide it.

Every forecast issued is kept in the forecast history (`ctx.history`, `nikkei_deepar.history`) as it
was printed (after the random-walk blend), with the random walk's own forecast from the same origin,
before any file is written: `score` judges them once the closes come. Data older than `[data]
max_age_sessions` Tokyo sessions is said to be stale (`lifecycle.freshness`) before anything is asked
of the endpoint; with `[data] on_stale = "fail"` nothing is forecast (exit 3).

Real-time predict changes nothing in the ledger and takes no lock. `--batch` creates a model (if none is
deployed) and a transform job, so it takes the ledger lock itself and records both.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nikkei_deepar.backends.base import JOB_COMPLETED, JOB_FAILED, ModelSpec, TransformState
from nikkei_deepar.backends.specs import resource_name, transform_spec
from nikkei_deepar.context import Context
from nikkei_deepar.data.blend import blend_with_random_walk, random_walk_points
from nikkei_deepar.data.horizon import configured_model, features_through
from nikkei_deepar.data.inference import (
    DatedPoint,
    Forecast,
    PriceAnchor,
    batch_input_line,
    build_request,
    dated_forecast,
    encode_request,
    parse_batch_output_line,
    parse_response,
)
from nikkei_deepar.data.series import Series
from nikkei_deepar.errors import JobFailedError, JobStoppedError, NotFoundError, UsageError
from nikkei_deepar.files import write_atomic
from nikkei_deepar.history import ForecastPoint, ForecastRecord, Workspace
from nikkei_deepar.ledger import DataVersion, Ledger, ServedModel, made_by, recording
from nikkei_deepar.lifecycle.freshness import check_freshness
from nikkei_deepar.lifecycle.polling import poll
from nikkei_deepar.lifecycle.series import prepared_series
from nikkei_deepar.output import Table

FORMATS = ("table", "csv", "json")
# `--json`'s data is the forecast document (`--format json`) plus these keys, about this run only
ENVELOPE_ONLY = ("output", "plot", "freshness", "history", "forecast_id")  # about this run, not the forecast
JSON_TYPE = "application/json"
JSONL = "application/jsonlines"
BATCH_INPUT = "series.jsonl"


@dataclass(frozen=True)
class PredictResult:
    source: str  # the endpoint, or the transform job
    mode: str  # "endpoint" | "batch" | "local" (the local backend's model, run in this process)
    job: str | None
    calendar: str
    last_date: str
    last_close: float | None
    prediction_length: int
    horizon: int
    random_walk_weight: float
    quantiles: list[str]
    points: list[dict[str, Any]]  # {"step", "date", "mean", "quantiles": {"0.1": ...}}
    fmt: str = "table"
    output: str | None = None
    plot: str | None = None
    notes: list[str] = field(default_factory=list)
    freshness: dict[str, Any] | None = None  # lifecycle.freshness.Freshness.to_data()
    history: str | None = None  # where the forecast was kept
    forecast_id: str | None = None  # its id in the history

    def document(self) -> dict[str, Any]:
        """The forecast document: what `--format json` prints and `--output FILE.json` holds; `--json`
        prints it as the envelope's `data`, with ENVELOPE_ONLY keys added."""
        return {
            "source": self.source,
            "mode": self.mode,
            "job": self.job,
            "calendar": self.calendar,
            "last_date": self.last_date,
            "last_close": self.last_close,
            "prediction_length": self.prediction_length,
            "horizon_trading_days": self.horizon,
            "random_walk_weight": self.random_walk_weight,
            "quantiles": self.quantiles,
            "forecast": self.points,
        }

    def to_data(self) -> dict[str, Any]:
        return {
            **self.document(),
            "output": self.output,
            "plot": self.plot,
            "freshness": self.freshness,
            "history": self.history,
            "forecast_id": self.forecast_id,
        }  # ENVELOPE_ONLY

    def csv_text(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["date", "step", "mean", *(f"q{q}" for q in self.quantiles)])
        for p in self.points:
            writer.writerow(
                [p["date"], p["step"], _num(p["mean"]), *(_num(p["quantiles"][q]) for q in self.quantiles)]
            )
        return buffer.getvalue()

    def json_text(self) -> str:
        return json.dumps(self.document(), indent=2, ensure_ascii=False) + "\n"

    def to_lines(self) -> list[str]:
        lines: list[str] = []
        if self.output is None and self.fmt == "csv":
            return self.csv_text().splitlines()
        if self.output is None and self.fmt == "json":
            return self.json_text().splitlines()
        close = f", last close {self.last_close:,.2f}" if self.last_close is not None else ""
        lines.append(
            f"forecast from {self.source} ({self.mode}, job {self.job or '?'}): {len(self.points)} trading "
            f"days after {self.last_date}{close}"
        )
        if self.output is not None:
            lines.append(f"wrote {self.fmt} to {self.output}")
        if self.plot is not None:
            lines.append(f"plot: {self.plot}")
        if self.history is not None:
            lines.append(f"kept in {self.history} (`nikkei-deepar score` judges it once its closes come)")
        lines += [f"note: {note}" for note in self.notes]
        return lines

    def to_table(self) -> Table | None:
        if self.output is not None or self.fmt != "table":
            return None
        return Table(
            columns=["date", "mean", *(f"q{q}" for q in self.quantiles)],
            rows=[[p["date"], p["mean"], *(p["quantiles"][q] for q in self.quantiles)] for p in self.points],
        )


def run(
    ctx: Context, *, fmt: str, output: Path | None, plot: Path | None, batch: bool, timeout: float | None
) -> PredictResult:
    fmt = _format(fmt, output)
    if plot is not None:
        from nikkei_deepar.plot import require_matplotlib

        require_matplotlib()  # fail before paying for a forecast
    settings = ctx.settings
    ledger = ctx.state.load()
    data, series = prepared_series(ctx, ledger)
    freshness = check_freshness(ctx, series.last_date, what="the forecast")  # before paying for one
    endpoint = settings.endpoint.name
    model = ledger.served(endpoint, backend=settings.backend, default=configured_model(settings))
    horizon = settings.forecast.horizon_trading_days
    weight = settings.forecast.random_walk_weight
    quantiles = list(settings.predict.quantiles)

    if batch:
        with ctx.state.lock(command="predict --batch", on_takeover=ctx.reporter.warn):
            source, forecast, model, ledger = _batch(ctx, ledger, series, served=model, timeout=timeout)
    else:
        request = build_request(
            series,
            quantiles=quantiles,
            num_samples=settings.predict.num_samples,
            features_through=features_through(model.hyperparameters),
            target=model.target,
        )
        ctx.reporter.info(f"invoking endpoint {endpoint} ({len(series)} points of history)")
        body = ctx.backend.invoke(endpoint, encode_request(request), content_type=JSON_TYPE, accept=JSON_TYPE)
        forecast = parse_response(
            body,
            quantiles=quantiles,
            prediction_length=model.prediction_length,
            anchor=PriceAnchor.of(series, model.prediction_length),
            target=model.target,
        )
        source = endpoint
    job, prediction_length = model.job, model.prediction_length

    points = dated_forecast(forecast, series, prediction_length=prediction_length, horizon=horizon)
    baseline = random_walk_points(points, series)
    if weight > 0.0 and points:
        points = blend_with_random_walk(points, series, weight=weight, baseline=baseline)
    keys = list(forecast.quantiles)
    mode = "batch" if batch else ctx.backend.predict_mode
    record = _record(
        ctx, data, series, points, baseline, quantiles=keys, weight=weight, job=job, mode=mode, source=source
    )
    kept = ctx.history.append(record)  # before any file: no forecast file without its record
    ctx.reporter.debug(f"forecast {record.id} kept in {kept}")
    result = PredictResult(
        source=source,
        mode=mode,
        job=job,
        calendar=series.policy,
        last_date=series.last_date.isoformat(),
        last_close=_last_close(series),
        prediction_length=prediction_length,
        horizon=horizon,
        random_walk_weight=weight,
        quantiles=keys,
        points=[_point(p) for p in points],
        fmt=fmt,
        output=str(output) if output is not None else None,
        plot=str(plot) if plot is not None else None,
        notes=_notes(points, prediction_length=prediction_length, horizon=horizon)
        + _backtest_notes(ledger, job, weight=weight),
        freshness=freshness.to_data(),
        history=kept,
        forecast_id=record.id,
    )
    if output is not None:
        write_atomic(output, (result.json_text() if fmt == "json" else result.csv_text()).encode())
    if plot is not None:
        from nikkei_deepar.plot import plot_forecast

        plot_forecast(
            plot,
            history=list(zip(series.dates, series.target, strict=True)),
            forecast=[(p.date, p.mean, p.quantiles) for p in points],
            title=f"Nikkei 225: {len(points)}-session forecast after the close of {series.last_date}",
        )
    return result


def _record(
    ctx: Context,
    data: DataVersion,
    series: Series,
    points: list[DatedPoint],
    baseline: list[DatedPoint],
    *,
    quantiles: list[str],
    weight: float,
    job: str | None,
    mode: str,
    source: str,
) -> ForecastRecord:
    """The forecast as printed, for the history, with the random walk from the same origin."""
    import numpy as np

    from nikkei_deepar.data.baselines import observed
    from nikkei_deepar.data.metrics import seasonal_error
    from nikkei_deepar.errors import DataError

    try:
        scale: float | None = seasonal_error(np.asarray(observed(series.target)), season=1)
    except DataError:  # a history without two different closes: MASE has no scale
        scale = None
    tags = ctx.settings.aws.tags
    return ForecastRecord(
        issued_at=ctx.now(),
        origin=series.last_date,
        last_close=float(observed(series.target)[-1]),
        calendar=series.policy,
        quantiles=quantiles,
        forecast=[_kept(p) for p in points],
        random_walk=[_kept(p) for p in baseline],
        random_walk_weight=weight,
        mase_scale=scale,
        job=job,
        data_sha256=data.sha256,
        backend=ctx.backend.name,
        workspace=Workspace(project=tags.get("project"), stage=tags.get("stage")),
        mode=mode,  # "endpoint" | "batch" | "local": checked by the model
        source=source,
    )


def _kept(point: DatedPoint) -> ForecastPoint:
    return ForecastPoint(step=point.step, date=point.date, mean=point.mean, quantiles=dict(point.quantiles))


# -- inputs ---------------------------------------------------------------------------------------------
def _format(fmt: str, output: Path | None) -> str:
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if output is not None and fmt == "table":  # a file gets data, not a picture of a table
        return "json" if output.suffix.lower() == ".json" else "csv"
    return fmt


# -- batch transform ------------------------------------------------------------------------------------
def _batch(
    ctx: Context, ledger: Ledger, series: Series, *, served: ServedModel, timeout: float | None
) -> tuple[str, Forecast, ServedModel, Ledger]:
    """A batch transform with the served model (or a new model of the last completed job): its name,
    the forecast, the model it used, and the ledger as saved after recording what was created."""
    settings = ctx.settings
    backend = ctx.backend
    backend.check_requests("predict --batch")  # before the model or the transform job exists
    model_name, model, ledger = _batch_model(ctx, ledger, served)
    name = resource_name(settings.endpoint.name, "t")
    input_uri = backend.put_artifact(
        f"predict/{name}/input/{BATCH_INPUT}",
        batch_input_line(
            series, features_through=features_through(model.hyperparameters), target=model.target
        ),
        content_type=JSONL,
    )
    output_uri = backend.artifact_uri(f"predict/{name}/output/")
    quantiles = list(settings.predict.quantiles)
    spec = transform_spec(
        settings,
        name=name,
        model_name=model_name,
        input_uri=input_uri,
        output_uri=output_uri,
        target=model.target,
    )
    arn = backend.start_transform(spec)
    transform = made_by(
        backend,
        "transform-job",
        name,
        arn=arn,
        model=model_name,
        job=model.job,
        input=input_uri,
        output=output_uri,
    )
    ledger = ctx.state.update(recording(transform))
    ctx.reporter.info(f"started batch transform {name} with model {model_name}")

    def describe() -> TransformState:
        state = backend.describe_transform(name)
        if state is None:
            raise NotFoundError(f"transform job {name} disappeared")
        return state

    try:
        final = poll(
            ctx,
            describe=describe,
            done=lambda s: s.terminal,
            render=lambda s, elapsed: f"transform {name}: {s.status}, {elapsed:.0f}s",
            timeout=timeout,
            what=f"transform job {name}",
            key=lambda s: s.status,
        )
    finally:
        ctx.reporter.close()
    if final.status == JOB_FAILED:
        raise JobFailedError(
            f"transform job {name} failed: {final.failure_reason or 'no reason given'}",
            hint="check its CloudWatch log (/aws/sagemaker/TransformJobs)",
        )
    if final.status != JOB_COMPLETED:
        raise JobStoppedError(f"transform job {name} ended {final.status}")
    raw = backend.get_artifact(output_uri + f"{BATCH_INPUT}.out")
    lines = [line for line in raw.decode("utf-8", errors="replace").splitlines() if line.strip()]
    if len(lines) != 1:
        raise JobFailedError(
            f"transform job {name} wrote {len(lines)} lines for 1 input line",
            hint="check the transform job's SingleRecord/Line settings and its log",
        )
    forecast = parse_batch_output_line(
        lines[0],
        quantiles=quantiles,
        prediction_length=model.prediction_length,
        anchor=PriceAnchor.of(series, model.prediction_length),
        target=model.target,
    )
    return name, forecast, model, ledger


def _batch_model(ctx: Context, ledger: Ledger, served: ServedModel) -> tuple[str, ServedModel, Ledger]:
    """The deployed model (when it still exists), else a new model from the last completed job: its
    name, what it was trained for, and the ledger as saved."""
    settings = ctx.settings
    endpoint = settings.endpoint.name
    deployed = ledger.deployment(endpoint, backend=settings.backend)
    if deployed is not None and ledger.live("model", deployed.model) is not None:
        return deployed.model, served, ledger
    completed = [j for j in ledger.completed_jobs(backend=settings.backend) if j.model_artifact]
    if not completed:
        raise NotFoundError(
            "no deployed model and no completed training job to make one from",
            hint="run `nikkei-deepar train --wait` first",
        )
    source = completed[0]
    backend = ctx.backend
    name = resource_name(endpoint, "m")
    arn = backend.create_model(
        ModelSpec(
            name=name,
            model_artifact=source.model_artifact or "",
            tags=settings.resource_tags(),
            job=source.name,
        )
    )
    model = made_by(
        backend, "model", name, arn=arn, job=source.name, endpoint=endpoint, artifact=source.model_artifact
    )
    ledger = ctx.state.update(recording(model))
    return name, ledger.model_of(source.name, default=configured_model(settings)), ledger


# -- output ---------------------------------------------------------------------------------------------
def _point(point: DatedPoint) -> dict[str, Any]:
    return {
        "step": point.step,
        "date": point.date.isoformat(),
        "mean": point.mean,
        "quantiles": dict(point.quantiles),
    }


def _last_close(series: Series) -> float | None:
    return next((v for v in reversed(series.target) if not math.isnan(v)), None)


def _notes(points: list[DatedPoint], *, prediction_length: int, horizon: int) -> list[str]:
    if len(points) < horizon:
        return [
            f"the model forecasts {prediction_length} steps, which reach only {len(points)} of the {horizon} "
            "trading days asked for ([forecast] horizon_trading_days): run `prepare` and `train` again"
        ]
    return []


def _backtest_notes(ledger: Ledger, job: str | None, *, weight: float) -> list[str]:
    """One line when the serving job's configuration lost to the random walk in its last backtest."""
    if job is None:
        return []
    from nikkei_deepar.verdict import verdict

    warning = verdict(ledger, job, random_walk_weight=weight).warning()
    return [] if warning is None else [warning]


def _num(value: float) -> str:
    return repr(round(float(value), 6))
