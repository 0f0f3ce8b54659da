"""`status`: what the ledger says next to what the backend says now. Read-only: no lock, no writes.

Shows the last data version, the last training job (its recorded and its live status, its metrics), the
endpoint (status, instance type or serverless, what it costs per hour, day and month at the prices of
`costs.hosting_cost` (as `deploy` prices it): `[costs]`, the Price List API or the built-in table, and when it
expires and what it will have cost by then), the last deployment, every resource the ledger holds, and
drift both ways:
- missing: live in the ledger, gone from where it lives;
- untracked: tagged managed-by=nikkei-deepar with this config's project/stage tags, but not live in the
  ledger (an interrupted run, or a ledger restored from an old copy). `teardown` leaves those alone.

Last, one line on the kept forecasts' live score (`score`'s pooled row: wQL against the random walk's,
80% coverage), from the forecast history and the latest prepared data.

Drift is information, not an error: the exit code is 0 whenever the ledger and the backend could be
read, unless `--exit-code` asks for 12 when there is drift (as `terraform plan -detailed-exitcode` does,
so cron can alert without reading JSON; terraform's 2 is this tool's usage error). If AWS cannot be
asked (credentials, network), the ledger's view is still printed and the exit code is the AWS error's
(4). Nothing is written to the ledger: `wait` and `deploy` refresh it. (Two
writes that are not the ledger's: the day-long price cache, and the local backend deleting an endpoint
past its expiry when it is looked at, as AWS would have.)

Asking the backend whether a recorded resource exists, what else carries the tool's tags, and what an
endpoint config serves is the backend's probe's (`Backend.probe()`, one per backend, read-only); this module
turns the answers into views, drift and lines.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from nikkei_deepar import expiry_view as expiry_clock
from nikkei_deepar.backends.base import Words
from nikkei_deepar.backends.probe import Probe
from nikkei_deepar.context import Context
from nikkei_deepar.costs import hosting_cost
from nikkei_deepar.errors import AwsError, ExitCode
from nikkei_deepar.expiry_view import ExpiryView
from nikkei_deepar.ledger import Ledger, Resource
from nikkei_deepar.output import aligned, metric_lines, number
from nikkei_deepar.ownership import MANAGED_BY_KEY, MANAGED_BY_VALUE
from nikkei_deepar.timezones import local_time

if TYPE_CHECKING:
    from nikkei_deepar.backends.base import Backend


@dataclass(frozen=True)
class ResourceView:
    kind: str
    name: str
    backend: str
    in_ledger: bool
    exists: bool | None  # None: not checked (another backend or region, or AWS unreachable)
    drift: str | None  # "missing" | "untracked" | None
    detail: str

    def to_data(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "backend": self.backend,
            "in_ledger": self.in_ledger,
            "exists": self.exists,
            "drift": self.drift,
            "detail": self.detail,
        }

    @property
    def shown(self) -> str:
        if self.drift:
            return self.drift
        return {True: "ok", False: "gone", None: "unchecked"}[self.exists]


@dataclass(frozen=True)
class StatusResult:
    backend: str
    region: str | None
    ledger_path: str
    workspace: dict[str, str]  # project, stage
    checked: bool  # the backend was asked (False: only the ledger's view)
    data: dict[str, Any] | None
    job: dict[str, Any] | None
    endpoint: dict[str, Any] | None
    deployment: dict[str, Any] | None
    resources: tuple[ResourceView, ...]
    exit_code: int = int(ExitCode.OK)
    errors: tuple[dict[str, Any], ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    words: Words = field(default_factory=Words, compare=False, repr=False)  # how people are told
    score: dict[str, Any] | None = None  # the kept forecasts' score (`score`'s summary), or None
    zone: dt.tzinfo | None = dt.UTC  # where times are shown to people (None: this machine's zone)

    def drift(self, kind: str) -> list[str]:
        """ "kind name" of each resource with this drift ("missing" or "untracked")."""
        return [f"{r.kind} {r.name}" for r in self.resources if r.drift == kind]

    def to_data(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "region": self.region,
            "workspace": self.workspace,
            "ledger": self.ledger_path,
            "checked": self.checked,
            "data": self.data,
            "job": self.job,
            "endpoint": self.endpoint,
            "deployment": self.deployment,
            "resources": [r.to_data() for r in self.resources],
            "drift": {"missing": self.drift("missing"), "untracked": self.drift("untracked")},
            "score": self.score,
        }

    def to_lines(self) -> list[str]:
        where = f", {self.region}" if self.region else ""
        space = f"{self.workspace['project']}/{self.workspace['stage'] or '(no stage)'}"
        lines = [f"status ({self.backend}{where}; workspace {space}, state {self.ledger_path})"]
        data = _data_line(self.data, self.words, self.zone) if self.data else "none prepared yet"
        lines.append("data:     " + data)
        lines.append("job:      " + (_job_line(self.job) if self.job else "no training job yet"))
        if self.job and self.job.get("failure_reason"):
            lines.append(f"          failure reason: {self.job['failure_reason']}")
        if self.job:
            lines += metric_lines(self.job["metrics"], indent=" " * 10, prefix="test:")
        lines += _endpoint_lines(self.endpoint, self.words)
        if self.deployment:
            d = self.deployment
            wql = d["metrics"].get("test:mean_wQuantileLoss")
            score = f", test:mean_wQuantileLoss {number(wql)}" if wql is not None else ""
            when = local_time(d["deployed_at"], self.zone)
            lines.append(f"deployed: job {d['job']} at {when}{score}")
        if self.score is not None:
            lines.append(f"score:    {self.score['line']}")
        recorded = sum(1 for r in self.resources if r.in_ledger)
        lines.append(f"resources ({recorded} live in the ledger):")
        lines += aligned([(r.shown, r.kind, r.name, r.detail) for r in self.resources]) or ["  none"]
        missing, untracked = self.drift("missing"), self.drift("untracked")
        if not self.checked:
            lines.append("drift: not checked (the backend could not be asked; see the error)")
        elif missing or untracked:
            lines.append(f"drift: {len(missing)} missing, {len(untracked)} untracked")
        else:
            lines.append("drift: none (the ledger matches what exists)")
        lines += [f"note: {note}" for note in self.notes]
        return lines


def run(ctx: Context, *, exit_code: bool = False) -> StatusResult:
    """What the ledger and the backend say; with `exit_code`, drift exits 12 (ExitCode.DRIFT)."""
    result = _status(ctx)
    missing, untracked = result.drift("missing"), result.drift("untracked")
    if not exit_code or not result.checked or not (missing or untracked):
        return result
    said = f"drift: {len(missing)} missing, {len(untracked)} untracked"
    shown = ", ".join([*missing, *untracked][:3]) + (", ..." if len(missing) + len(untracked) > 3 else "")
    entry = {
        "code": "drift",
        "message": f"{said} ({shown})",
        "hint": "`nikkei-deepar status` lists each one; `teardown` deletes what the ledger holds, a "
        "resource missing from it is recreated by the command that made it",
    }
    ctx.reporter.error(f"{said} ({shown}); --exit-code: exit {int(ExitCode.DRIFT)}")
    return replace(result, exit_code=int(ExitCode.DRIFT), errors=(entry,))


def _status(ctx: Context) -> StatusResult:
    ledger = ctx.state.load()
    settings = ctx.settings
    base = _ledger_view(ctx, ledger)
    score = _score(ctx, ledger)
    try:
        backend = ctx.backend
        probe = backend.probe()
        region = backend.region
        job = _job(ledger, backend)
        endpoint = _endpoint(ctx, ledger, backend, probe)
        resources = _recorded(ledger, backend, probe, region)
        try:
            resources += [
                _untracked(kind, name, probe.backend, ledger) for kind, name in probe.untracked(ledger)
            ]
        except AwsError as exc:  # e.g. no sagemaker:ListModels: the rest of the picture still stands
            ctx.reporter.warn(f"could not look for untracked resources: {exc.message}")
    except AwsError as exc:  # show what the ledger knows, and say why AWS could not be asked
        ctx.reporter.warn(f"could not ask AWS: {exc.message}")
        entry: dict[str, Any] = {"code": exc.code, "message": exc.message}
        if exc.hint:
            entry["hint"] = exc.hint
        return StatusResult(
            backend=settings.backend,
            region=settings.aws.region,
            ledger_path=ctx.state.where,
            workspace={"project": ctx.workspace.project, "stage": ctx.workspace.stage},
            checked=False,
            resources=tuple(_unchecked(r) for r in ledger.live_resources()),
            exit_code=int(exc.exit_code),
            errors=(entry,),
            score=score,
            zone=ctx.zone,
            **base,
        )
    notes = []
    if backend.bills and endpoint and endpoint.get("status"):
        notes.append(
            "an endpoint bills every hour it exists, idle or not: `nikkei-deepar teardown` deletes it"
        )
    return StatusResult(
        backend=backend.name,
        region=region,
        ledger_path=ctx.state.where,
        workspace={"project": ctx.workspace.project, "stage": ctx.workspace.stage},
        checked=True,
        data=base["data"],
        job=job,
        endpoint=endpoint,
        deployment=base["deployment"],
        resources=tuple(resources),
        notes=tuple(notes),
        words=backend.words,
        score=score,
        zone=ctx.zone,
    )


def _score(ctx: Context, ledger: Ledger) -> dict[str, Any]:
    """The live score of the kept forecasts (`score`'s pooled row), in one line."""
    from nikkei_deepar.lifecycle.track_record import live_score

    card, line = live_score(ctx, ledger)
    found: dict[str, Any] = {"line": line}
    if card is not None:
        found.update(
            forecasts=len(card.outcomes),
            waiting=card.waiting,
            through=None if card.through is None else card.through.isoformat(),
            overall=card.overall.to_data(),
        )
    return found


# -- the ledger's side ----------------------------------------------------------------------------------
def _ledger_view(ctx: Context, ledger: Ledger) -> dict[str, Any]:
    data = ledger.last_data
    name = ctx.settings.endpoint.name
    deployments = [d for d in ledger.deployments if d.endpoint == name]
    job = ledger.last_job
    return {
        "data": None if data is None else data.model_dump(mode="json"),
        "job": None if job is None else {**_job_record(job), "status": None, "live": False},
        "endpoint": None,
        "deployment": None if not deployments else deployments[-1].model_dump(mode="json"),
    }


def _job_record(job: Any) -> dict[str, Any]:
    return {
        "name": job.name,
        "backend": job.backend,
        "data_sha256": job.data_sha256,
        "config_hash": job.config_hash,
        "ledger_status": job.status,
        "started_at": job.started_at,
        "ended_at": job.ended_at,
        "metrics": dict(job.metrics),
        "billable_seconds": job.billable_seconds,
        "model_artifact": job.model_artifact,
        "failure_reason": job.failure_reason,
    }


def _unchecked(r: Resource) -> ResourceView:
    return ResourceView(r.kind, r.name, r.backend, True, None, None, "not checked")


# -- the live side --------------------------------------------------------------------------------------
def _job(ledger: Ledger, backend: Backend) -> dict[str, Any] | None:
    job = ledger.last_job
    if job is None:
        return None
    view = _job_record(job)
    if job.backend != backend.name:
        return {**view, "status": None, "live": False}
    state = backend.describe_training(job.name)
    if state is None:
        return {**view, "status": None, "live": False, "note": "not found where it ran"}
    metrics = dict(state.metrics) or view["metrics"]
    return {
        **view,
        "status": state.status,
        "secondary_status": state.secondary_status,
        "failure_reason": state.failure_reason or view["failure_reason"],
        "metrics": metrics,
        "billable_seconds": state.billable_seconds or view["billable_seconds"],
        "model_artifact": state.model_artifact or view["model_artifact"],
        "live": True,
    }


def _endpoint(ctx: Context, ledger: Ledger, backend: Backend, probe: Probe) -> dict[str, Any] | None:
    name = ctx.settings.endpoint.name
    recorded = ledger.resource("endpoint", name)
    in_ledger = recorded is not None and recorded.live
    state = backend.describe_endpoint(name)
    if state is None:
        if not in_ledger:
            return None
        return {"name": name, "status": None, "in_ledger": True, "exists": False}
    config = ledger.resource("endpoint-config", state.config_name or "")
    variant = probe.variant(state.config_name) if state.config_name else None
    if variant is None and config is not None:
        recorded_as = {"job": config.job, "model": config.model}  # what the record held, in that order
        variant = {**{k: v for k, v in recorded_as.items() if v is not None}, **config.extra}
    view: dict[str, Any] = {
        "name": name,
        "status": state.status,
        "exists": True,
        "in_ledger": in_ledger,
        "config": state.config_name,
        "failure_reason": state.failure_reason,
        "serving_job": config.job if config is not None else None,
        "variant": variant,
        "cost": None,
    }
    cost = None
    if not backend.bills:
        view["cost_note"] = "runs on this machine: nothing is billed"
    else:
        cost = hosting_cost(ctx.backend, variant or {}, ctx.settings.costs)
        if cost is None:
            view["cost_note"] = "its variant is unknown: no price"
        else:
            view["cost"] = cost.to_data()
            view["cost_note"] = cost.describe()
    try:
        scheduled = backend.expiry_keeper().get(name)
    except AwsError as exc:  # e.g. no scheduler:GetSchedule: the rest of the picture still stands
        view["expiry_note"] = f"expiry: could not be read ({exc.message})"
        return view
    expiry = ExpiryView(
        at=scheduled.at if scheduled else None,
        now=expiry_clock.utcnow(),
        created=state.created,
        cost=cost,
        schedule=scheduled.schedule if scheduled else None,
        zone=ctx.zone,
    )
    view["expiry"] = expiry.to_data()
    view["expiry_note"] = "expiry: " + expiry.line()
    return view


def _recorded(ledger: Ledger, backend: Backend, probe: Probe, region: str | None) -> list[ResourceView]:
    views = []
    for r in ledger.live_resources():
        view = ResourceView(r.kind, r.name, r.backend, True, None, None, "")
        if r.backend != backend.name:
            views.append(_with(view, detail=f"not checked: a {r.backend} backend resource"))
            continue
        if r.region and region and r.region != region and r.kind not in {"role", "bucket"}:
            views.append(_with(view, detail=f"not checked: in {r.region} (use --region {r.region})"))
            continue
        exists = probe.exists(r)
        if exists is None:
            views.append(_with(view, detail="not checked"))
        elif exists:
            made = "created by nikkei-deepar provision" if r.created else "exists"
            views.append(_with(view, exists=True, detail=made))
        else:
            views.append(_with(view, exists=False, drift="missing", detail="in the ledger, but gone"))
    return views


def _with(view: ResourceView, **changes: Any) -> ResourceView:
    return replace(view, **changes)


def _untracked(kind: str, name: str, backend: str, ledger: Ledger) -> ResourceView:
    earlier = ledger.resource(kind, name)
    why = (
        "the ledger says it was deleted, but it exists"
        if earlier is not None
        else f"tagged {MANAGED_BY_KEY}={MANAGED_BY_VALUE} but not in the ledger"
    )
    return ResourceView(kind, name, backend, False, True, "untracked", why)


# -- lines for people -----------------------------------------------------------------------------------
def _data_line(d: dict[str, Any], words: Words, zone: dt.tzinfo | None) -> str:
    stored = "" if d.get("uploaded", True) else f", not {words.stored} yet"
    return (
        f"{d['sha256'][:16]} from {d['source']}: {d['first']} .. {d['last']}, {d['observations']} "
        f"observations ({d['calendar']}), prepared {local_time(d['prepared_at'], zone)}{stored}"
    )


def _job_line(j: dict[str, Any]) -> str:
    live = j.get("status")
    if live is None:
        status = f"{j['ledger_status']} (per the ledger; {j.get('note', 'not checked')})"
    elif live != j["ledger_status"]:
        status = f"{live} now (the ledger last saw {j['ledger_status']}: `wait` records it)"
    else:
        status = live
    return f"{j['name']}: {status}"


def _endpoint_lines(e: dict[str, Any] | None, words: Words) -> list[str]:
    if e is None:
        return ["endpoint: none"]
    if not e.get("exists"):
        return [f"endpoint: {e['name']}: gone (the ledger still lists it)"]
    shape = words.variant(e.get("variant") or {})
    serving = f", serving job {e['serving_job']}" if e.get("serving_job") else ""
    ours = "" if e.get("in_ledger") else " (not in the ledger)"
    lines = [f"endpoint: {e['name']}: {words.status(e['status'])}, {shape}{serving}{ours}"]
    if e.get("failure_reason"):
        lines.append(f"          failure reason: {e['failure_reason']}")
    if e.get("cost_note"):
        lines.append(f"          {e['cost_note']}")
    if e.get("expiry_note"):
        lines.append(f"          {e['expiry_note']}")
    return lines
