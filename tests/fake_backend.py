"""`FakeBackend`: the `Backend` interface in memory, with queued states and answers and a record of calls.

The step tests' double (as llm's MockModel is for its commands): a test queues what the backend will
report (`queue_training("job", in_progress, completed)`, `queue_endpoint(...)`, `queue_answer(...)`),
runs a step on a context holding the fake (`fake_context`), then asserts on what the step did: its
result, the ledger, and `fake.calls` (every verb, in order, with its arguments). moto stays for the
gateway tests (tests/aws) and the end-to-end tests.

Describes walk their queue: each call takes the next state, and the last one sticks (a job that reached
Completed stays Completed). Creating a resource records it with its tags, so `resource_tags` and
`find_tagged` answer as a backend would; deleting it removes it. An exception queued as an answer is
raised by `invoke` instead of returned.

`probe()` (status) and `remover(ledger)` (teardown) answer from the same records, but never decide whose
a resource is: that is read from AWS tags by the real backends (tested on moto in tests/backends/
sagemaker/). A test states the answer instead: `untracked` (what the probe finds outside the ledger),
`verdicts[(kind, name)] = (action, reason)` (the remover's refuse / keep / empty / stop ...), `removed`
and `teardown_others`.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import deque
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from nikkei_deepar.backends.base import (
    ENDPOINT_IN_SERVICE,
    JOB_COMPLETED,
    EndpointConfigSpec,
    EndpointState,
    LogCursor,
    LogEvent,
    LogPage,
    ModelSpec,
    TrainingSpec,
    TrainingState,
    TransformSpec,
    TransformState,
    Words,
)
from nikkei_deepar.backends.expiry import Scheduled
from nikkei_deepar.backends.removal import Removed, TeardownItem
from nikkei_deepar.errors import NotFoundError

_KINDS = ("model", "endpoint-config", "endpoint")


class FakeBackend:
    """Everything in memory; `calls` records (verb, arguments) for every verb the steps use."""

    def __init__(self, *, name: str = "sagemaker", region: str | None = "ap-northeast-1") -> None:
        self.name = name
        self.region = region
        self.hosting_note: str | None = "a fake endpoint: costs nothing"
        self.bills = name == "sagemaker"
        self.predict_mode = "endpoint" if name == "sagemaker" else "local"
        self.first_step = "provision"
        self.words = Words()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.artifacts: dict[str, bytes] = {}
        self.trainings: dict[str, deque[TrainingState]] = {}
        self.endpoints: dict[str, deque[EndpointState]] = {}
        self.transforms: dict[str, deque[TransformState]] = {}
        self.logs: dict[str, list[LogEvent]] = {}
        self.answers: deque[bytes | Exception] = deque()
        self.next_training: list[TrainingState] = []  # what the next started job will report
        self.next_endpoint: list[EndpointState] = []  # what the next created endpoint will report
        self.next_endpoint_configured = False  # fill their config_name with the one it is created with
        self.next_update: tuple[list[EndpointState], bool, str | None] | None = None  # queue_next_update
        self.next_transform: list[TransformState] = []  # what the next started transform job will report
        self.next_transform_output: bytes | None = None  # the `<input>.out` it will write
        self.tagged: dict[tuple[str, str], dict[str, str]] = {}
        self.specs: dict[tuple[str, str], Any] = {}
        self.expiry = FakeExpiry(self)
        self.prices: dict[str, Any] = {}  # instance type -> prices.LivePrice the Price List "answers"
        self.checked: list[str] = []
        self.refuse: dict[str, Exception] = {}
        self.problems: list[str] = []
        self.warnings: list[str] = []
        # what `probe().untracked` reports: which resources carry this workspace's tags is the real
        # backends' to decide (AWS tags: tests/backends/sagemaker); a status test lists the answer here
        self.untracked: list[tuple[str, str]] = []
        # what `remover(ledger)` answers (teardown): whose a resource is, by AWS tags, is likewise the real
        # backends' to decide; a teardown test sets a verdict (action, reason) for (kind, name) here
        self.verdicts: dict[tuple[str, str], tuple[str, str]] = {}
        self.removed: dict[tuple[str, str], str] = {}  # what a deletion says, when not deleted / gone
        self.teardown_others: list[Any] = []  # the TeardownItems `others` lists (left alone, ...)

    # -- what a test queues -------------------------------------------------------------------------
    def queue_training(self, name: str, *states: TrainingState) -> None:
        self.trainings.setdefault(name, deque()).extend(replace(s, name=name) for s in states)

    def queue_endpoint(self, name: str, *states: EndpointState) -> None:
        self.endpoints.setdefault(name, deque()).extend(replace(s, name=name) for s in states)

    def queue_transform(self, name: str, *states: TransformState) -> None:
        self.transforms.setdefault(name, deque()).extend(replace(s, name=name) for s in states)

    def queue_next_training(self, *states: TrainingState) -> None:
        """What the next job a step starts will report (its name is the step's to choose)."""
        self.next_training = list(states)

    def queue_next_endpoint(self, *states: EndpointState, configured: bool = False) -> None:
        """What the next endpoint a step creates will report (default: InService at once).

        configured=True: each state without a config_name reports the config the endpoint was created
        with, as SageMaker's DescribeEndpoint does (the step chooses that name, so a test cannot)."""
        self.next_endpoint = list(states)
        self.next_endpoint_configured = configured

    def queue_next_update(
        self, *states: EndpointState, rollback: bool = False, reason: str | None = None
    ) -> None:
        """What the next `update_endpoint` will report: `states` while it rolls (those without a config
        report the old one), then InService on the new config; rollback=True: InService on the OLD
        config with `reason` as its failure reason, as SageMaker reports an update it rolled back.
        Without this, an update succeeds at once (see update_endpoint)."""
        self.next_update = (list(states), rollback, reason)

    def queue_next_transform(self, *states: TransformState, output: bytes | None = None) -> None:
        """What the next transform job a step starts will report (its name is the step's to choose), and
        the `<input>.out` it writes under its output prefix when it starts (as SageMaker would, when done)."""
        self.next_transform = list(states)
        self.next_transform_output = output

    def queue_answer(self, *answers: bytes | Exception) -> None:
        self.answers.extend(answers)

    def verbs(self) -> list[str]:
        return [verb for verb, _ in self.calls]

    def _call(self, verb: str, **args: Any) -> None:
        self.calls.append((verb, args))

    @staticmethod
    def _walk(queue: deque[Any] | None) -> Any:
        if not queue:
            return None
        return queue.popleft() if len(queue) > 1 else queue[0]

    # -- request checks: `checked` lists the commands checked; `refuse[command]` is raised for one -------
    def request_problems(self) -> tuple[list[str], list[str]]:
        return list(self.problems), list(self.warnings)

    def check_requests(self, command: str) -> None:
        self.checked.append(command)
        if command in self.refuse:
            raise self.refuse[command]

    # -- storage -------------------------------------------------------------------------------------
    def artifact_uri(self, key: str) -> str:
        return f"fake://store/{key}"

    def put_artifact(self, key: str, body: bytes, *, content_type: str) -> str:
        self._call("put_artifact", key=key, content_type=content_type)
        uri = self.artifact_uri(key)
        self.artifacts[uri] = body
        return uri

    def get_artifact(self, uri: str) -> bytes:
        self._call("get_artifact", uri=uri)
        if uri not in self.artifacts:
            raise NotFoundError(f"{uri} does not exist")
        return self.artifacts[uri]

    def exists(self, uri: str) -> bool:
        return uri in self.artifacts

    # -- training ------------------------------------------------------------------------------------
    def start_training(self, spec: TrainingSpec) -> str:
        self._call("start_training", spec=spec)
        self.specs[("training-job", spec.name)] = spec
        if self.next_training:
            self.queue_training(spec.name, *self.next_training)
            self.next_training = []
        return f"arn:fake:training-job/{spec.name}"

    def describe_training(self, name: str) -> TrainingState | None:
        self._call("describe_training", name=name)
        return self._walk(self.trainings.get(name))  # type: ignore[no-any-return]

    def find_trainings(self, *, name_contains: str, status: str) -> list[str]:
        self._call("find_trainings", name_contains=name_contains, status=status)
        return sorted(
            n for n, q in self.trainings.items() if name_contains in n and q and q[0].status == status
        )

    def training_logs(self, name: str, *, cursor: LogCursor | None = None) -> LogPage:
        self._call("training_logs", name=name)
        seen = int(cursor.get("fake") or 0) if cursor else 0
        events = self.logs.get(name, [])
        return LogPage(events=tuple(events[seen:]), cursor=LogCursor((("fake", str(len(events))),)))

    # -- hosting -------------------------------------------------------------------------------------
    def create_model(self, spec: ModelSpec) -> str:
        self._call("create_model", spec=spec)
        return self._create("model", spec.name, spec.tags, spec)

    def create_endpoint_config(self, spec: EndpointConfigSpec) -> str:
        self._call("create_endpoint_config", spec=spec)
        return self._create("endpoint-config", spec.name, spec.tags, spec)

    def create_endpoint(self, name: str, *, config_name: str, tags: Mapping[str, str]) -> str:
        self._call("create_endpoint", name=name, config_name=config_name)
        states = self.next_endpoint or [EndpointState(name, ENDPOINT_IN_SERVICE, config_name=config_name)]
        if self.next_endpoint_configured:
            states = [s if s.config_name else replace(s, config_name=config_name) for s in states]
        self.next_endpoint = []
        self.next_endpoint_configured = False
        self.endpoints.pop(name, None)
        self.queue_endpoint(name, *states)
        return self._create("endpoint", name, tags, config_name)

    def update_endpoint(self, name: str, *, config_name: str) -> None:
        self._call("update_endpoint", name=name, config_name=config_name)
        queue = self.endpoints.get(name)
        if self.next_update is not None:  # queue_next_update: scripted
            states, rollback, reason = self.next_update
            self.next_update = None
            old = queue[0].config_name if queue else None
            end = (
                EndpointState(name, ENDPOINT_IN_SERVICE, config_name=old, failure_reason=reason)
                if rollback
                else EndpointState(name, ENDPOINT_IN_SERVICE, config_name=config_name)
            )
            self.endpoints[name] = deque()
            self.queue_endpoint(
                name, *(s if s.config_name else replace(s, config_name=old) for s in states), end
            )
            return
        if queue is not None and len(queue) == 1:  # nothing more queued: the update simply succeeds
            queue[0] = replace(queue[0], status=ENDPOINT_IN_SERVICE, config_name=config_name)

    def describe_endpoint(self, name: str) -> EndpointState | None:
        self._call("describe_endpoint", name=name)
        return self._walk(self.endpoints.get(name))  # type: ignore[no-any-return]

    def resource_tags(self, kind: str, name: str) -> dict[str, str] | None:
        self._call("resource_tags", kind=kind, name=name)
        found = self.tagged.get((kind, name))
        return None if found is None else dict(found)

    def tag(self, kind: str, name: str, tags: Mapping[str, str]) -> str | None:
        self._call("tag", kind=kind, name=name, tags=dict(tags))
        if (kind, name) not in self.tagged:
            raise NotFoundError(f"{kind} {name} does not exist")
        self.tagged[(kind, name)] = {**self.tagged[(kind, name)], **tags}
        return f"arn:fake:{kind}/{name}"

    def find_tagged(self, kind: str, name_prefix: str) -> dict[str, dict[str, str]]:
        self._call("find_tagged", kind=kind, name_prefix=name_prefix)
        if kind not in _KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        return {
            n: dict(t) for (k, n), t in sorted(self.tagged.items()) if k == kind and n.startswith(name_prefix)
        }

    def invoke(self, endpoint: str, body: bytes, *, content_type: str, accept: str) -> bytes:
        self._call("invoke", endpoint=endpoint, body=body, content_type=content_type, accept=accept)
        if not self.answers:
            raise AssertionError("FakeBackend.invoke: no answer queued")
        answer = self.answers.popleft()
        if isinstance(answer, Exception):
            raise answer
        return answer

    # -- batch ---------------------------------------------------------------------------------------
    def start_transform(self, spec: TransformSpec) -> str:
        self._call("start_transform", spec=spec)
        self.specs[("transform-job", spec.name)] = spec
        if self.next_transform and spec.name not in self.transforms:
            self.queue_transform(spec.name, *self.next_transform)
            self.next_transform = []
        if self.next_transform_output is not None:
            out = spec.output_uri.rstrip("/") + "/" + spec.input_uri.rsplit("/", 1)[-1] + ".out"
            self.artifacts[out] = self.next_transform_output
            self.next_transform_output = None
        if spec.name not in self.transforms:
            self.queue_transform(spec.name, TransformState(spec.name, JOB_COMPLETED))
        return f"arn:fake:transform-job/{spec.name}"

    def describe_transform(self, name: str) -> TransformState | None:
        self._call("describe_transform", name=name)
        return self._walk(self.transforms.get(name))  # type: ignore[no-any-return]

    # -- deletion ------------------------------------------------------------------------------------
    def delete_model(self, name: str) -> bool:
        self._call("delete_model", name=name)
        return self._delete("model", name)

    def delete_endpoint_config(self, name: str) -> bool:
        self._call("delete_endpoint_config", name=name)
        return self._delete("endpoint-config", name)

    def delete_endpoint(self, name: str) -> bool:
        self._call("delete_endpoint", name=name)
        self.endpoints.pop(name, None)
        return self._delete("endpoint", name)

    # -- expiry, logs, prices ------------------------------------------------------------------------
    def expiry_keeper(self) -> FakeExpiry:
        return self.expiry

    def logs_link(self, kind: str, name: str) -> str | None:
        return f"https://console.example/{kind}/{name}"

    def live_price(self, instance_type: str) -> Any:
        self._call("live_price", instance_type=instance_type)
        return self.prices.get(instance_type)

    # -- what else differs by backend: not what these step tests exercise ---------------------------
    def provisioner(self) -> Any:
        raise AssertionError("FakeBackend has no provisioner: provision is tested against moto")

    def remover(self, ledger: Any) -> FakeRemover:
        return FakeRemover(self)

    def probe(self) -> FakeProbe:
        return FakeProbe(self)

    def checks(self) -> list[Any]:
        return []

    # -- records ---------------------------------------------------------------------------------------
    def _create(self, kind: str, name: str, tags: Mapping[str, str], spec: Any) -> str:
        self.tagged[(kind, name)] = dict(tags)
        self.specs[(kind, name)] = spec
        return f"arn:fake:{kind}/{name}"

    def _delete(self, kind: str, name: str) -> bool:
        self.specs.pop((kind, name), None)
        return self.tagged.pop((kind, name), None) is not None


class FakeProbe:
    """`status`'s probe, in memory: a recorded resource exists while `tagged` holds it (a test adds a role,
    a bucket or a schedule there by hand); `untracked` answers `FakeBackend.untracked`; `variant` reads
    the endpoint config's spec as the SageMaker probe reads its ProductionVariants."""

    def __init__(self, backend: FakeBackend) -> None:
        self._backend = backend
        self.backend = backend.name

    def exists(self, r: Any) -> bool | None:
        self._backend._call("exists", kind=r.kind, name=r.name)
        return (r.kind, r.name) in self._backend.tagged

    def untracked(self, ledger: Any) -> list[tuple[str, str]]:
        self._backend._call("untracked")
        return list(self._backend.untracked)

    def variant(self, config_name: str) -> dict[str, Any] | None:
        spec = self._backend.specs.get(("endpoint-config", config_name))
        if not isinstance(spec, EndpointConfigSpec):
            return None
        if spec.serverless is not None:
            return {
                "serverless": True,
                "memory_mb": spec.serverless.memory_mb,
                "max_concurrency": spec.serverless.max_concurrency,
            }
        return {
            "serverless": False,
            "instance_type": spec.instance_type,
            "instance_count": spec.instance_count,
        }


class FakeRemover:
    """`teardown`'s remover, in memory. `inspect`: the test's verdict from `FakeBackend.verdicts`, else
    "gone" when `tagged` no longer holds it, else "delete". `delete`: models, endpoint configs and
    endpoints through the backend's delete verbs, anything else recorded as `delete_<kind>`
    (`stop_transform` for a transform job); "deleted" or "gone", or `FakeBackend.removed[(kind, name)]`
    ("kept": a bucket emptied of this workspace's keys that holds others'). `others`: `teardown_others`."""

    def __init__(self, backend: FakeBackend) -> None:
        self._backend = backend

    def inspect(self, r: Any) -> TeardownItem:
        self._backend._call("inspect", kind=r.kind, name=r.name)
        verdict = self._backend.verdicts.get((r.kind, r.name))
        if verdict is not None:
            action, reason = verdict
        elif (r.kind, r.name) in self._backend.tagged:
            action, reason = "delete", "the fake's"
        else:
            action, reason = "gone", "not found: already deleted"
        return TeardownItem(r.kind, r.name, action, reason, backend=r.backend)  # type: ignore[arg-type]

    def delete(self, r: Any) -> Removed:
        fake = self._backend
        verbs = {
            "model": fake.delete_model,
            "endpoint-config": fake.delete_endpoint_config,
            "endpoint": fake.delete_endpoint,
        }
        if r.kind in verbs:
            existed = verbs[r.kind](r.name)
        else:
            fake._call("stop_transform" if r.kind == "transform-job" else f"delete_{r.kind}", name=r.name)
            existed = fake._delete(r.kind, r.name)
        said = fake.removed.get((r.kind, r.name))
        if said is not None:
            return said  # type: ignore[return-value]
        return "deleted" if existed else "gone"

    def others(self, ledger: Any, *, include_all: bool) -> list[TeardownItem]:
        self._backend._call("others", include_all=include_all)
        return list(self._backend.teardown_others)


class FakeExpiry:
    """The endpoint expiry keeper, in memory (a file-like expiry: not a ledger resource of its own)."""

    recorded = False
    # Set `schedule` (a name) and `recorded = True` on an instance to make it a keeper whose expiry is a
    # resource of its own, as SageMaker's schedule is: `set` names it, so deploy records it in the ledger.
    schedule: str | None = None
    refuse: Exception | None = None  # raised by `set` (e.g. what runs the deletion is missing)

    def __init__(self, backend: FakeBackend) -> None:
        self._backend = backend
        self.times: dict[str, dt.datetime] = {}

    def set(self, endpoint: str, at: dt.datetime) -> Scheduled:
        self._backend._call("set_expiry", endpoint=endpoint, at=at)
        if self.refuse is not None:
            raise self.refuse
        self.times[endpoint] = at
        if self.schedule is not None:
            return Scheduled(endpoint, at, f"the fake schedule {self.schedule}", schedule=self.schedule)
        return Scheduled(endpoint, at, "the fake")

    def get(self, endpoint: str) -> Scheduled | None:
        at = self.times.get(endpoint)
        return None if at is None else Scheduled(endpoint, at, "the fake")

    def clear(self, endpoint: str) -> bool:
        self._backend._call("clear_expiry", endpoint=endpoint)
        return self.times.pop(endpoint, None) is not None


def fake_context(home: Path, fake: FakeBackend, settings: Any = None, *, clock: Any = None) -> Any:
    """A step context whose backend is `fake` (ledger in `home`, progress captured, time on `clock`)."""
    from nikkei_deepar.config import LoadedConfig, Settings
    from nikkei_deepar.context import Context
    from nikkei_deepar.history import HISTORY_FILE, LocalHistory
    from nikkei_deepar.output import Reporter
    from nikkei_deepar.state.local import LocalStateStore
    from sagemaker_script import FakeClock

    clock = clock or FakeClock()
    ctx = Context(
        loaded=LoadedConfig(settings=settings or Settings(), path=None, origin="test"),
        state=LocalStateStore(home),
        history=LocalHistory(home / HISTORY_FILE),
        home=home,
        workspace_dir=home,
        reporter=Reporter(interactive=False, color=False, stream=io.StringIO()),
        sleep=clock.sleep,
        clock=clock,
    )
    ctx.backend = fake  # type: ignore[assignment]
    return ctx
