"""`deploy`: a completed job -> a new model and endpoint config -> the endpoint created or updated in place.

The artefact path is never typed: it comes from DescribeTraining. Every name is new (models and configs
carry a timestamp and a random suffix), so an update never collides with what the endpoint serves, and
"Cannot create already existing endpoint" cannot happen: an existing endpoint is updated (blue/green),
a Failed one is deleted and created again. SageMaker rolls back a failed update silently, so after the
wait the endpoint must really serve the new config, or deploy fails (exit 6).

Each resource goes into the ledger the moment it exists; afterwards the tool keeps the newest
`[endpoint] keep_models` models and configs it made for this endpoint and deletes older ones that
nothing uses. Deploying the job the endpoint already serves, with the same variant, changes nothing.

What deploy creates carries, besides managed-by and the [aws.tags], `nikkei-deepar:endpoint=<name>`. A
model or config created just before an interruption (after the Create call returned, before the
ledger write) is found by the next deploy through that tag and adopted into the ledger, so retention
and teardown treat it like any other: nothing is duplicated or orphaned. Only names with this
endpoint's prefixes are listed, and nothing without the tool's managed-by tag is ever adopted.

Cost and expiry (issue 15). Before anything is created, the endpoint is priced (`hosting_cost`:
`[costs]`, else the backend's live price, else the dated table) and refused (exit 2) above `[costs]
max_usd_per_day`. Once the endpoint is known to be the tool's (or absent), and still before anything is
created or changed, its deletion is set `[endpoint] expires_after` / `--expires-in` from now through the
backend's expiry keeper (SageMaker: an EventBridge Scheduler schedule, recorded in the ledger at once);
every deploy, even one that changes nothing else, moves it. `--redeploy` deploys the ledger's last
deployed job for this endpoint, which brings back an endpoint that expired.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

from nikkei_deepar import expiry_view as expiry_clock
from nikkei_deepar.backends.base import (
    ENDPOINT_FAILED,
    ENDPOINT_IN_SERVICE,
    JOB_COMPLETED,
    EndpointState,
    ModelSpec,
    TrainingState,
    Words,
)
from nikkei_deepar.backends.specs import endpoint_config_spec, endpoint_tags, resource_name
from nikkei_deepar.context import Context
from nikkei_deepar.costs import EndpointCost, hosting_cost, over_budget
from nikkei_deepar.errors import AwsError, JobFailedError, NotFoundError, UsageError
from nikkei_deepar.expiry_view import ExpiryView
from nikkei_deepar.ledger import Deployment, Ledger, Resource, deleting, made_by, recording
from nikkei_deepar.lifecycle.polling import ENDPOINT_BACKOFF, poll
from nikkei_deepar.lifecycle.training import record_training_state
from nikkei_deepar.ownership import (
    MANAGED_BY_KEY,
    OWNER_KEYS,
    adoption_note,
    is_ours,
    managed_by_tool,
    mismatch,
    mismatch_hint,
    whose,
)
from nikkei_deepar.timezones import local_time
from nikkei_deepar.verdict import Verdict, verdict

# What deploy names `{endpoint}-{letter}-...` (resource_name) and may have to adopt.
_ADOPTABLE = (("model", "m"), ("endpoint-config", "c"))
_NAME_TAIL = len("20240101-120000-abcd")  # what resource_name puts after `{base}-{kind}-`


@dataclass(frozen=True)
class DeployResult:
    endpoint: str
    action: str  # "created" | "updated" | "recreated" | "unchanged"
    job: str
    model: str
    endpoint_config: str
    variant: dict[str, Any]
    status: str
    previous_config: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    note: str | None = None  # the backend's word on a live endpoint (what it costs)
    cost: dict[str, Any] | None = None  # costs.EndpointCost.to_data() (None: nothing billed here)
    cost_note: str | None = None
    expiry: dict[str, Any] | None = None  # expiry.ExpiryView.to_data()
    expiry_note: str | None = None
    backtest: Verdict | None = None
    words: Words = field(default_factory=Words, compare=False, repr=False)  # how people are told

    def to_data(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "action": self.action,
            "status": self.status,
            "job": self.job,
            "model": self.model,
            "endpoint_config": self.endpoint_config,
            "previous_config": self.previous_config,
            "variant": self.variant,
            "metrics": self.metrics,
            "deleted": self.deleted,
            "note": self.note,
            "cost": self.cost,
            "expiry": self.expiry,
            "backtest": None if self.backtest is None else self.backtest.to_data(),
        }

    def to_lines(self) -> list[str]:
        status = self.words.status(self.status)
        lines = [f"endpoint {self.endpoint}: {status} ({self.action}), serving job {self.job}"]
        lines.append(
            f"  model {self.model}, config {self.endpoint_config} ({self.words.variant(self.variant)})"
        )
        if self.previous_config and self.previous_config != self.endpoint_config:
            lines.append(f"  replaced config {self.previous_config}")
        lines += [f"  deleted {name}" for name in self.deleted]
        if self.cost_note:
            lines.append(f"  cost: {self.cost_note}")
        if self.expiry_note:
            lines.append(f"  {self.expiry_note}")
        if self.note:
            lines.append(f"  {self.note}")
        if self.backtest is not None:
            lines.append(f"  {self.backtest.line()}")
        return lines


def run(
    ctx: Context,
    *,
    job: str | None,
    timeout: float | None,
    expires_in: str | None = None,
    redeploy: bool = False,
    warn_backtest: bool = True,
) -> DeployResult:
    settings = ctx.settings
    endpoint = settings.endpoint.name
    backend = ctx.backend
    ledger = ctx.state.load()
    wait_timeout = timeout if timeout is not None else float(settings.endpoint.wait_timeout_seconds)
    span = _expiry_span(ctx, expires_in)
    if redeploy:
        job = _last_deployed_job(ctx, ledger, endpoint, given=job)
    variant = _variant(ctx)
    cost = hosting_cost(ctx.backend, variant, ctx.settings.costs)
    _check_budget(ctx, cost)
    backend.check_requests("deploy")
    state, ledger = _completed_job(ctx, ledger, job)
    artifact = state.model_artifact
    if not artifact:
        raise NotFoundError(f"training job {state.name} is Completed but reports no model artefact")
    tags = deploy_tags(ctx, endpoint)
    ledger = adopt_unrecorded(ctx, ledger, endpoint)

    current = backend.describe_endpoint(endpoint)
    if current is not None:
        ledger = _check_ownership(ctx, ledger, endpoint)
    # before anything is created or changed, so an interrupted deploy leaves nothing without an expiry
    expiry, ledger = schedule_expiry(
        ctx, ledger, endpoint, span, cost=cost, created=current.created if current else None
    )
    action = "created"
    if current is not None:
        if not current.settled:
            ctx.reporter.info(f"endpoint {endpoint} is {current.status}: waiting for it to settle first")
            current = _wait_settled(ctx, endpoint, timeout=wait_timeout)
        if current.status == ENDPOINT_IN_SERVICE and _serves(
            ledger, current, job=state.name, variant=variant
        ):
            return replace(_unchanged(ctx, ledger, current, state, variant), **_cost_fields(cost, expiry))
        if current.status != ENDPOINT_IN_SERVICE:
            ledger = _delete_broken(ctx, current, timeout=wait_timeout)
            current, action = None, "recreated"
        else:
            action = "updated"

    model = resource_name(endpoint, "m")
    model_arn = backend.create_model(
        ModelSpec(name=model, model_artifact=artifact, tags=tags, job=state.name)
    )
    made = made_by(
        backend, "model", model, arn=model_arn, job=state.name, endpoint=endpoint, artifact=artifact
    )
    ledger = ctx.state.update(recording(made))
    config = resource_name(endpoint, "c")
    config_arn = backend.create_endpoint_config(
        endpoint_config_spec(settings, name=config, model_name=model, endpoint=endpoint)
    )
    made = made_by(
        backend,
        "endpoint-config",
        config,
        arn=config_arn,
        job=state.name,
        endpoint=endpoint,
        model=model,
        **variant,
    )
    ledger = ctx.state.update(recording(made))

    previous = current.config_name if current is not None else None
    if current is None:
        ctx.reporter.info(f"creating endpoint {endpoint} with {config}")
        arn = backend.create_endpoint(endpoint, config_name=config, tags=tags)
        made = made_by(backend, "endpoint", endpoint, arn=arn)
        ledger = ctx.state.update(recording(made))
    else:
        ctx.reporter.info(f"updating endpoint {endpoint}: {previous} -> {config} (blue/green)")
        backend.update_endpoint(endpoint, config_name=config)

    final = _wait_settled(ctx, endpoint, timeout=wait_timeout)
    if final.status == ENDPOINT_FAILED:
        link = backend.logs_link("endpoint", endpoint)
        raise JobFailedError(
            f"endpoint {endpoint} failed: {final.failure_reason or 'no reason given'}",
            hint="check the model's CloudWatch log (/aws/sagemaker/Endpoints/"
            + endpoint
            + "): "
            + (f"{link} ; " if link else "")
            + "deploy again to replace it",
            code="endpoint-failed",
        )
    if final.status != ENDPOINT_IN_SERVICE:
        raise JobFailedError(f"endpoint {endpoint} ended {final.status}", code="endpoint-failed")
    if final.config_name != config:
        reason = f" ({final.failure_reason})" if final.failure_reason else ""
        raise JobFailedError(
            f"endpoint {endpoint}: the update to {config} was rolled back by SageMaker{reason}; it still "
            f"serves {final.config_name}",
            hint="the old model keeps serving; check the new model's CloudWatch log"
            + (f" ({link})" if (link := backend.logs_link("endpoint", endpoint)) else "")
            + ", then deploy again",
            code="update-rolled-back",
        )

    deployment = Deployment(
        endpoint=endpoint,
        model=model,
        endpoint_config=config,
        job=state.name,
        backend=backend.name,
        metrics=dict(state.metrics),
    )
    ledger = ctx.state.update(lambda current: current.deployments.append(deployment))
    deleted, ledger = prune(ctx, ledger, endpoint, keep=settings.endpoint.keep_models, in_use={config, model})
    return DeployResult(
        endpoint=endpoint,
        action=action,
        job=state.name,
        model=model,
        endpoint_config=config,
        variant=variant,
        status=final.status,
        previous_config=previous,
        metrics=dict(state.metrics),
        deleted=deleted,
        note=ctx.backend.hosting_note,
        **_cost_fields(cost, expiry),
        backtest=_verdict(ctx, ledger, state.name, warn=warn_backtest),
        words=ctx.backend.words,
    )


def _verdict(ctx: Context, ledger: Ledger, job: str, *, warn: bool = True) -> Verdict:
    """The last backtest of the job's configuration; its one-line warning when DeepAR lost (unless
    the caller, `retrain`'s gate, has said it already)."""
    found = verdict(ledger, job, random_walk_weight=ctx.settings.forecast.random_walk_weight)
    warning = found.warning()
    if warning is not None and warn:
        ctx.reporter.warn(warning)
    return found


def _cost_fields(cost: EndpointCost | None, expiry: ExpiryView) -> dict[str, Any]:
    fields: dict[str, Any] = {"expiry": expiry.to_data(), "expiry_note": f"expiry: {expiry.line()}"}
    if cost is not None:
        fields.update(cost=cost.to_data(), cost_note=cost.describe())
    return fields


# -- cost and expiry ----------------------------------------------------------------------------------
SCHEDULE_KIND = "schedule"


def _check_budget(ctx: Context, cost: EndpointCost | None) -> None:
    """Refuse (exit 2) an endpoint whose projected daily cost is above `[costs] max_usd_per_day`."""
    limit = ctx.settings.costs.max_usd_per_day
    if limit is None or cost is None:
        return
    reason = over_budget(cost, limit)
    if reason is not None:
        raise UsageError(
            f"deploy refused: {reason}",
            hint="choose a smaller [endpoint] instance_type or instance_count, serverless = true, or raise "
            "[costs] max_usd_per_day; nothing was created",
            code="over-budget",
        )


def schedule_expiry(
    ctx: Context,
    ledger: Ledger,
    endpoint: str,
    span: dt.timedelta | None,
    *,
    cost: EndpointCost | None,
    created: dt.datetime | None,
) -> tuple[ExpiryView, Ledger]:
    """Delete `endpoint` `span` from now (moving an earlier expiry), or, with no span, cancel its expiry.
    Returns the expiry and the ledger as saved."""
    backend = ctx.backend
    keeper = backend.expiry_keeper()
    now = expiry_clock.utcnow()
    if span is None:
        recorded = [r for r in ledger.live_resources(SCHEDULE_KIND) if r.endpoint == endpoint]
        if recorded or not keeper.recorded:
            keeper.clear(endpoint)
        for r in recorded:
            ledger = ctx.state.update(deleting(SCHEDULE_KIND, r.name))
            ctx.reporter.info(f"endpoint {endpoint}: expiry removed (schedule {r.name} deleted)")
        return ExpiryView(at=None, now=now, cost=cost, zone=ctx.zone), ledger
    scheduled = keeper.set(endpoint, now + span)
    if scheduled.schedule is not None:
        extra = {"at": scheduled.at.isoformat(), "role_arn": scheduled.role_arn}
        schedule = Resource(
            kind=SCHEDULE_KIND,
            name=scheduled.schedule,
            backend=backend.name,
            region=backend.region,
            endpoint=endpoint,
            extra=extra,
        )

        def change(current: Ledger) -> None:
            existing = current.live(SCHEDULE_KIND, schedule.name)
            if existing is not None:
                existing.extra.update(extra)
            else:
                current.record_resource(schedule)

        ledger = ctx.state.update(change)
    ctx.reporter.info(
        f"endpoint {endpoint}: will be deleted at {local_time(scheduled.at, ctx.zone)} by {scheduled.by}"
    )
    view = ExpiryView(
        at=scheduled.at,
        now=now,
        created=created or now,
        cost=cost,
        schedule=scheduled.schedule,
        zone=ctx.zone,
    )
    return view, ledger


# -- options ------------------------------------------------------------------------------------------
def _expiry_span(ctx: Context, expires_in: str | None) -> dt.timedelta | None:
    """How long from now the endpoint lives (None: no expiry); a bad --expires-in is a usage error."""
    try:
        return ctx.settings.endpoint.expiry(expires_in)
    except ValueError as exc:
        raise UsageError(f"--expires-in: {exc}", code="bad-duration") from None


def _last_deployed_job(ctx: Context, ledger: Ledger, endpoint: str, *, given: str | None) -> str:
    """--redeploy: the job of this endpoint's last deployment in the ledger."""
    if given is not None:
        raise UsageError("--redeploy deploys the last deployed job: do not pass --job with it")
    last = ledger.deployment(endpoint, backend=ctx.settings.backend)
    if last is None:
        raise NotFoundError(
            f"--redeploy: nothing was ever deployed on endpoint {endpoint} (per the ledger)",
            hint="deploy a job first: `nikkei-deepar deploy` or `nikkei-deepar retrain`",
        )
    return last.job


# -- the job --------------------------------------------------------------------------------------------
def _completed_job(ctx: Context, ledger: Ledger, name: str | None) -> tuple[TrainingState, Ledger]:
    """The job to deploy, refreshed from the backend (and recorded: the ledger as saved); refused unless
    Completed."""
    if name is None:
        record = ledger.last_job
        if record is None:
            raise NotFoundError(
                "no training job in the ledger", hint="run `nikkei-deepar train --wait` first"
            )
        name = record.name
    state = ctx.backend.describe_training(name)
    if state is None:
        raise NotFoundError(
            f"training job {name} does not exist",
            hint="check --job NAME, the region and the profile",
        )
    ledger = record_training_state(ctx, state) or ledger
    if state.status != JOB_COMPLETED:
        completed = [j.name for j in ledger.completed_jobs() if j.name != name]
        hint = (
            "wait for it with `nikkei-deepar wait`"
            if not state.terminal
            else "train again, or deploy an earlier job"
        )
        if completed:
            hint += f" (the last completed job is {completed[0]}: --job {completed[0]})"
        raise UsageError(
            f"training job {name} is {state.status}, not Completed: there is no model to deploy",
            hint=hint,
            code="job-not-completed",
        )
    return state, ledger


# -- the endpoint ---------------------------------------------------------------------------------------
def _variant(ctx: Context) -> dict[str, Any]:
    ep = ctx.settings.endpoint
    if ep.serverless:
        return {"serverless": True, "memory_mb": ep.memory_mb, "max_concurrency": ep.max_concurrency}
    return {"serverless": False, "instance_type": ep.instance_type, "instance_count": ep.instance_count}


def deploy_tags(ctx: Context, endpoint: str) -> dict[str, str]:
    """The tags on what deploy creates: the tool's own (managed-by, [aws.tags]) and the endpoint's name."""
    return endpoint_tags(ctx.settings, endpoint)


def name_prefix(endpoint: str, letter: str) -> str:
    """What every `resource_name(endpoint, letter)` starts with: `{endpoint}-{letter}-`, with the endpoint
    shortened exactly as resource_name shortens it for a long name."""
    return resource_name(endpoint, letter)[:-_NAME_TAIL]


def adopt_unrecorded(ctx: Context, ledger: Ledger, endpoint: str) -> Ledger:
    """Record the models and configs deploy made for `endpoint` that no ledger lists (a deploy killed
    between a Create call and its ledger write). Returns their names.

    Adopted: tagged managed-by=nikkei-deepar, with this config's [aws.tags] and ENDPOINT_TAG_KEY = this
    endpoint, and not live in the ledger. Listing is limited to the endpoint's name prefixes (ListTags
    only for those). If the backend cannot be asked (e.g. no sagemaker:ListModels), deploy goes on: the
    warning says what could not be checked. Returns the ledger as saved."""
    backend = ctx.backend
    wanted = ctx.settings.aws.tags
    found: list[tuple[str, str]] = []
    try:
        for kind, letter in _ADOPTABLE:
            for name, tags in sorted(backend.find_tagged(kind, name_prefix(endpoint, letter)).items()):
                if not is_ours(tags, wanted, endpoint=endpoint):
                    continue
                if ledger.live(kind, name) is None:
                    found.append((kind, name))
    except AwsError as exc:
        ctx.reporter.warn(
            f"could not look for models and endpoint configs missing from the ledger: {exc.message}"
        )
        return ledger
    if not found:
        return ledger
    for kind, name in found:
        what = kind.replace("-", " ")
        ctx.reporter.warn(f"adopting {what} {name}: {adoption_note(ctx.settings.aws.tags)}")
    # names carry their creation time: in name order they are in the ledger's (creation) order, which is
    # the order retention keeps the newest by
    adopted = [
        Resource(
            kind=kind,
            name=name,
            backend=backend.name,
            region=backend.region,
            endpoint=endpoint,
            adopted=True,
        )
        for kind, name in found
    ]
    return ctx.state.update(recording(*adopted))


def _check_ownership(ctx: Context, ledger: Ledger, endpoint: str) -> Ledger:
    """Update only an endpoint this workspace made: tagged managed-by, with this config's project and
    stage and this endpoint's name (AWS's tags decide, now, never the ledger); one missing from the
    ledger is adopted. Returns the ledger as saved."""
    tags = ctx.backend.resource_tags("endpoint", endpoint) or {}
    if not managed_by_tool(tags):
        raise UsageError(
            f"endpoint {endpoint} exists but was not created by nikkei-deepar (no {MANAGED_BY_KEY} tag)",
            hint="set [endpoint] name to another name; this tool does not replace endpoints it does not own",
            code="endpoint-not-ours",
        )
    wanted = ctx.settings.aws.tags
    if not is_ours(tags, wanted, endpoint=endpoint):
        raise UsageError(
            f"endpoint {endpoint} belongs to another nikkei-deepar config ({whose(tags)}; this config: "
            f"{whose({k: v for k, v in wanted.items() if k in OWNER_KEYS})})",
            hint="set [endpoint] name to another name, or leave it unset: the default, {project}-{stage}, "
            "is different for every stage; this tool never replaces another project's or stage's endpoint",
            code="endpoint-not-ours",
        )
    if ledger.live("endpoint", endpoint) is not None:
        return ledger
    ctx.reporter.warn(f"adopting endpoint {endpoint}: {adoption_note(wanted)}")
    made = made_by(ctx.backend, "endpoint", endpoint)
    return ctx.state.update(recording(made))


def _serves(ledger: Ledger, current: EndpointState, *, job: str, variant: dict[str, Any]) -> bool:
    """Whether the endpoint already serves `job` with `variant` (per the ledger's record of its config)."""
    if current.config_name is None:
        return False
    config = ledger.live("endpoint-config", current.config_name)
    if config is None or config.job != job:
        return False
    return all(config.extra.get(key) == value for key, value in variant.items())


def _unchanged(
    ctx: Context, ledger: Ledger, current: EndpointState, state: TrainingState, variant: dict[str, Any]
) -> DeployResult:
    config = ledger.resource("endpoint-config", current.config_name or "")
    model = (config.model or "") if config is not None else ""
    ctx.reporter.info(f"endpoint {current.name} already serves job {state.name}: nothing to do")
    return DeployResult(
        endpoint=current.name,
        action="unchanged",
        job=state.name,
        model=model,
        endpoint_config=current.config_name or "",
        variant=variant,
        status=current.status,
        previous_config=current.config_name,
        metrics=dict(state.metrics),
        note=ctx.backend.hosting_note,
        backtest=_verdict(ctx, ledger, state.name),
        words=ctx.backend.words,
    )


def _wait_settled(ctx: Context, endpoint: str, *, timeout: float) -> EndpointState:
    backend = ctx.backend

    def describe() -> EndpointState:
        state = backend.describe_endpoint(endpoint)
        if state is None:
            raise NotFoundError(
                f"endpoint {endpoint} disappeared while deploying (deleted by someone else?)",
                hint="run `nikkei-deepar deploy` again",
            )
        return state

    def render(state: EndpointState, elapsed: float) -> str:
        return f"endpoint {endpoint}: {backend.words.status(state.status)}, {elapsed:.0f}s"

    try:
        return poll(
            ctx,
            describe=describe,
            done=lambda s: s.settled,
            render=render,
            timeout=timeout,
            what=f"endpoint {endpoint}",
            backoff=ENDPOINT_BACKOFF,
            key=lambda s: (s.status, s.config_name),
        )
    finally:
        ctx.reporter.close()


def _delete_broken(ctx: Context, current: EndpointState, *, timeout: float) -> Ledger:
    """A Failed (or OutOfService) endpoint cannot be updated: delete it and wait until it is gone."""
    backend = ctx.backend
    ctx.reporter.warn(
        f"endpoint {current.name} is {current.status}"
        + (f" ({current.failure_reason})" if current.failure_reason else "")
        + ": deleting it to create it again"
    )
    backend.delete_endpoint(current.name)
    poll(
        ctx,
        describe=lambda: backend.describe_endpoint(current.name),
        done=lambda s: s is None,
        render=lambda s, elapsed: f"endpoint {current.name}: {s.status if s else 'deleted'}, {elapsed:.0f}s",
        timeout=timeout,
        what=f"deleting endpoint {current.name}",
        backoff=ENDPOINT_BACKOFF,
    )
    ctx.reporter.close()
    return ctx.state.update(deleting("endpoint", current.name))


# -- retention ------------------------------------------------------------------------------------------
def prune(
    ctx: Context, ledger: Ledger, endpoint: str, *, keep: int, in_use: set[str]
) -> tuple[list[str], Ledger]:
    """Delete the models and configs this tool made for `endpoint`, beyond the newest `keep` of each,
    never one in `in_use` (the config the endpoint serves and its model). Returns what was deleted and
    the ledger as saved."""
    backend = ctx.backend
    deleted: list[str] = []
    # configs first: a model must outlive every config that names it
    for kind in ("endpoint-config", "model"):
        mine = [r for r in ledger.live_resources(kind) if r.endpoint == endpoint]
        needed = set(in_use)
        if kind == "model":  # e.g. an adopted model that never got a config makes the counts differ
            needed |= {c.model for c in ledger.live_resources("endpoint-config") if c.model}
        for old in mine[: max(0, len(mine) - keep)]:
            if old.name in needed:
                continue
            tags = backend.resource_tags(kind, old.name)  # AWS says whose it is, now
            if tags is not None and not is_ours(tags, ctx.settings.aws.tags, endpoint=endpoint):
                ctx.reporter.warn(
                    f"{mismatch(kind, old.name, tags)}: not deleted; {mismatch_hint(kind, old.name)}"
                )
                continue
            if tags is not None:
                if kind == "endpoint-config":
                    backend.delete_endpoint_config(old.name)
                else:
                    backend.delete_model(old.name)
                deleted.append(old.name)
                ctx.reporter.info(f"deleted old {kind} {old.name}")
            ledger = ctx.state.update(deleting(kind, old.name))
    return deleted, ledger
