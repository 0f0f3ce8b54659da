"""Time the seven-command chain against a moto server, next to its floors; optionally, where it goes.

    .venv/bin/python bench/chain.py [--rounds 5] [--breakdown 3]
    .venv/bin/python bench/chain.py --smoke        # does it still run? (tests/test_bench_smoke.py)

chain: `provision -> prepare -> train -> wait -> deploy -> predict -> teardown --all --yes`, each the
installed `nikkei-deepar` executable in its own process, as a shell script runs them (no terminal).

floor: the very same AWS calls (recorded from the chain: operation and parameters, in order) replayed
from ONE Python process: one interpreter start-up, one `import boto3`, one client per service. That is
what the chain costs with no CLI, no config, no ledger and no repeated start-up; the target is a chain
no slower than twice the floor.

floor, one process per command: the same calls split as the chain makes them, each command's replayed
by its own bare process that imports only `nikkei_deepar.aws.session` (boto3 and the tool's client
set-up, garbage-collector handling included): no Typer, pydantic, config, ledger or step code. It is
the least any chain of seven processes can cost, so it shows what is the tool's and what is not.

Every run starts from a freshly reset ThreadedMotoServer in this process; moto answers at once (jobs are
born Completed, endpoints InService), so this measures the tool's own overhead, not SageMaker. The replay
makes the same calls in the same order; the few whose answers depend on random ids (S3 version ids when
teardown empties the versioned bucket) fail fast instead, which if anything flatters the floor. moto has
no Price List API (`deploy` asks it for the endpoint's hourly price): it answers 500, the tool tries
twice and falls back to its table, and the floors replay that call with the tool's own pricing client
(2 attempts, not the 5 of the other clients), so chain and floors pay for it alike. Rounds
interleave chain and floors, so that load from other processes falls on all of them alike; medians are
reported with the spread (min-max) beside them.

--breakdown N runs N more chains with a tracer loaded into every process (a sitecustomize on PYTHONPATH)
and prints, per command, the median milliseconds spent in: interpreter start-up, Typer/Click/Rich import,
pydantic import, the tool's own modules, pydantic model builds, config load, ledger reads/writes, boto3
import, session, client creation, AWS calls, pandas/numpy/exchange_calendars import, the XTKS calendar,
garbage collection, interpreter exit, and the rest. Each category counts its own time only (an import
inside a client creation counts as an import). The tracer costs a little, so these rounds are not timed.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).parent / "nikkei-deepar"
FIXTURE = ROOT / "tests" / "fixtures" / "prices" / "long" / "nikkei_en.csv"
REGION = "ap-northeast-1"
BUCKET = "nikkei-deepar-bench-bucket"
CHAIN: list[list[str]] = [
    ["provision"],
    ["prepare", "--input", str(FIXTURE)],
    ["train"],
    ["wait"],
    ["deploy"],
    ["predict", "--format", "csv"],
    ["teardown", "--all", "--yes"],
]
CONFIG = f"""
[aws]
region = "{REGION}"
bucket = "{BUCKET}"
"""

# Loaded by every chain process of the recording pass only (PYTHONPATH): appends each botocore API call
# (service, region, operation, parameters) to $NIKKEI_BENCH_RECORD. It hooks botocore.client when that
# is first imported, so a process that never talks to AWS pays nothing.
RECORDER = r"""
import base64, importlib.abc, importlib.util, json, os, sys

def _encode(value):
    if isinstance(value, (bytes, bytearray)):
        return {"__bytes__": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if hasattr(value, "read"):
        return {"__bytes__": base64.b64encode(value.read()).decode()}
    return value

def _patch(module):
    original = module.BaseClient._make_api_call
    def _make_api_call(self, operation_name, api_params):
        with open(os.environ["NIKKEI_BENCH_RECORD"], "a", encoding="utf-8") as fh:
            fh.write(json.dumps({
                "command": os.environ.get("NIKKEI_BENCH_COMMAND"),
                "service": self.meta.service_model.service_name,
                "region": self.meta.region_name,
                "operation": operation_name,
                "params": _encode(api_params),
            }, default=str) + "\n")
        return original(self, operation_name, api_params)
    module.BaseClient._make_api_call = _make_api_call

class _Hook(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "botocore.client":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module
        def exec_module(module):
            run(module)
            _patch(module)
        spec.loader.exec_module = exec_module
        return spec

if os.environ.get("NIKKEI_BENCH_RECORD"):
    sys.meta_path.insert(0, _Hook())
"""


# Loaded by every chain process of a --breakdown pass only (PYTHONPATH): self time per category, on a
# stack (an import inside a client creation counts as an import), written at exit to $NIKKEI_BENCH_TRACE.
TRACER = r"""
import time
_T0 = time.perf_counter()
import atexit, functools, gc, importlib.abc, importlib.util, json, os, sys

_stack = [["other", _T0]]
_spent = {}

def _push(category):
    now = time.perf_counter()
    top = _stack[-1]
    _spent[top[0]] = _spent.get(top[0], 0.0) + now - top[1]
    _stack.append([category, now])

def _pop():
    now = time.perf_counter()
    category, started = _stack.pop()
    _spent[category] = _spent.get(category, 0.0) + now - started
    _stack[-1][1] = now

_IMPORTS = {"typer": "typer", "click": "typer", "rich": "typer", "shellingham": "typer",
            "pydantic": "pydantic", "pydantic_core": "pydantic", "annotated_types": "pydantic",
            "typing_extensions": "pydantic", "typing_inspection": "pydantic",
            "nikkei_deepar": "ours",
            "boto3": "boto3", "botocore": "boto3", "s3transfer": "boto3", "urllib3": "boto3",
            "dateutil": "boto3", "jmespath": "boto3",
            "pandas": "pandas", "numpy": "pandas", "exchange_calendars": "pandas", "pytz": "pandas",
            "tzdata": "pandas", "pyluach": "pandas", "korean_lunar_calendar": "pandas", "toolz": "pandas"}
_WRAP = {"nikkei_deepar.config": [("load_config", "config")],
         "nikkei_deepar.state": [("StateStore.load", "ledger"), ("StateStore.save", "ledger")],
         "nikkei_deepar.data.calendar": [("_sessions", "calendar")],
         "boto3.session": [("Session.__init__", "session"), ("Session.client", "clients")],
         "botocore.client": [("BaseClient._make_api_call", "aws")],
         "pydantic._internal._model_construction": [("complete_model_class", "models")]}

def _timed(fn, category):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        _push(category)
        try:
            return fn(*args, **kwargs)
        finally:
            _pop()
    return wrapper

class _Hook(importlib.abc.MetaPathFinder):
    busy = False
    def find_spec(self, name, path, target=None):
        category = _IMPORTS.get(name.partition(".")[0])
        if self.busy or category is None:
            return None
        self.busy = True
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self.busy = False
        if spec is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run = spec.loader.exec_module
        def exec_module(module):
            _push("import " + category)
            try:
                run(module)
            finally:
                _pop()
            for dotted, wrapped in _WRAP.get(name, []):
                *owner_path, attr = dotted.split(".")
                owner = module
                for part in owner_path:
                    owner = getattr(owner, part)
                setattr(owner, attr, _timed(getattr(owner, attr), wrapped))
        spec.loader.exec_module = exec_module
        return spec

def _collecting(phase, info):
    _push("gc") if phase == "start" else _pop()

def _dump():
    end = time.perf_counter()
    while len(_stack) > 1:
        _pop()
    _spent["other"] = _spent.get("other", 0.0) + end - _stack[0][1]
    spawned = float(os.environ["NIKKEI_BENCH_SPAWN"])
    _spent["start"] = _T0 - spawned
    _spent["_end"] = end - spawned
    with open(os.environ["NIKKEI_BENCH_TRACE"], "w", encoding="utf-8") as fh:
        json.dump(_spent, fh)

if os.environ.get("NIKKEI_BENCH_TRACE"):
    sys.meta_path.insert(0, _Hook())
    gc.callbacks.append(_collecting)
    atexit.register(_dump)  # registered first, so it runs last of the exit handlers
"""
# (column, tracer category, what it is), in the order printed
BREAKDOWN = [
    ("start", "start", "interpreter start-up, up to site"),
    ("typer", "import typer", "import typer, click, rich"),
    ("pydant", "import pydantic", "import pydantic (Typer needs it too)"),
    ("ours", "import ours", "import the tool's own modules"),
    ("models", "models", "pydantic model builds (config, ledger)"),
    ("config", "config", "config load"),
    ("ledger", "ledger", "ledger reads and writes"),
    ("boto3", "import boto3", "import boto3, botocore, urllib3"),
    ("session", "session", "boto3 session"),
    ("clients", "clients", "client creation (service models, endpoints)"),
    ("aws", "aws", "AWS calls (moto's time included)"),
    ("pandas", "import pandas", "import pandas, numpy, exchange_calendars"),
    ("calndr", "calendar", "XTKS sessions"),
    ("gc", "gc", "garbage collection"),
    ("other", "other", "the rest: stdlib imports, Typer, step code, output"),
    ("exit", "exit", "interpreter exit, as the parent sees it"),
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (medians are reported)")
    parser.add_argument("--breakdown", type=int, default=0, metavar="N", help="N traced rounds (see above)")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="does it still run? (seconds) the recorded chain as the one round, one floor of each kind",
    )
    parser.add_argument("--replay", type=Path, help=argparse.SUPPRESS)  # internal: a floor process
    parser.add_argument("--command", help=argparse.SUPPRESS)  # internal: replay this command's calls
    args = parser.parse_args()
    if args.replay is not None:
        replay(args.replay, command=args.command)
        return

    import logging

    # no request log on the terminal, nor the traceback of moto's 500 for the Price List API it lacks
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    sys.path.insert(0, str(ROOT / "tests"))
    from moto.server import ThreadedMotoServer

    from sagemaker_script import deepar_response

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    _honour_secure_transport()
    h = _prediction_length()
    canned = deepar_response(h, samples=[[0.3] * h, [-0.3] * h])  # a log-return model reads its samples
    chains: list[list[float]] = []
    floors: list[float] = []
    splits: list[list[float]] = []
    traces: list[list[dict[str, float]]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="nikkei-bench-") as tmp:
            work = Path(tmp)
            recording = work / "calls.jsonl"
            recorded = _chain(url, work / "record", canned, record=recording)  # not timed, but in --smoke
            if args.smoke:
                chains.append(recorded)
                floors.append(_floor(url, recording, canned))
                splits.append(_floor_per_command(url, recording, canned))
            for i in range(0 if args.smoke else args.rounds):
                chains.append(_chain(url, work / f"round{i}", canned))
                floors.append(_floor(url, recording, canned))
                splits.append(_floor_per_command(url, recording, canned))
            for i in range(args.breakdown):
                traces.append(_traced_chain(url, work / f"traced{i}", canned))
            calls = [json.loads(line) for line in recording.read_text().splitlines()]
    finally:
        server.stop()

    rounds = "smoke: 1 recorded round, not a measurement" if args.smoke else f"{args.rounds} rounds"
    print(f"nikkei-deepar chain vs floor: moto server, {rounds}, medians (min-max), {sys.platform}")
    print(f"{'command':<28}{'chain s':>8}{'':>13}{'floor, 1 process per command':>32}")
    for i, command in enumerate(CHAIN):
        label = " ".join("FILE" if a == str(FIXTURE) else a for a in command)
        print(f"{label:<28}{_spread([c[i] for c in chains])}{'':>6}{_spread([s[i] for s in splits])}")
    chain = statistics.median(sum(c) for c in chains)
    floor = statistics.median(floors)
    split = statistics.median(sum(s) for s in splits)
    services = sorted({c["service"] for c in calls})
    print(f"{'chain (7 processes)':<28}{_spread([sum(c) for c in chains])}")
    print(
        f"{'floor (1 process)':<28}{_spread(floors)}   {len(calls)} AWS calls, {len(services)} clients: "
        f"{', '.join(services)}"
    )
    print(f"{'floor (1 process/command)':<28}{_spread([sum(s) for s in splits])}   boto3 and the calls only")
    alone = f"seven bare processes alone: {split / floor:.2f}x"
    print(f"{'ratio':<28}{chain / floor:>8.2f}x  (target <= 2x; {alone})")
    if traces:
        _print_breakdown(traces)


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):>8.2f} ({min(values):.2f}-{max(values):.2f})"


def _print_breakdown(traces: list[list[dict[str, float]]]) -> None:
    print(f"\nwhere the time goes: {len(traces)} traced rounds, median milliseconds per command")
    print(f"{'command':<10}" + "".join(f"{column:>8}" for column, _, _ in BREAKDOWN) + f"{'total':>8}")
    totals = dict.fromkeys([c for _, c, _ in BREAKDOWN] + ["total"], 0.0)
    for i, command in enumerate(CHAIN):
        row = {key: statistics.median(t[i].get(key, 0.0) for t in traces) for key in totals}
        for key, value in row.items():
            totals[key] += value
        print(
            f"{command[0]:<10}"
            + "".join(f"{row[c] * 1000:>8.0f}" for _, c, _ in BREAKDOWN)
            + f"{row['total'] * 1000:>8.0f}"
        )
    print(
        f"{'chain':<10}"
        + "".join(f"{totals[c] * 1000:>8.0f}" for _, c, _ in BREAKDOWN)
        + f"{totals['total'] * 1000:>8.0f}"
    )
    legend = "; ".join(f"{column}: {text}" for column, _, text in BREAKDOWN)
    print(textwrap.fill(legend, width=110, initial_indent="  ", subsequent_indent="  "))


def _chain(url: str, project: Path, canned: str, *, record: Path | None = None) -> list[float]:
    return [t for t, _ in _run_chain(url, project, canned, record=record)]


def _traced_chain(url: str, project: Path, canned: str) -> list[dict[str, float]]:
    return [trace for _, trace in _run_chain(url, project, canned, trace=True)]


def _run_chain(
    url: str, project: Path, canned: str, *, record: Path | None = None, trace: bool = False
) -> list[tuple[float, dict[str, float]]]:
    from sagemaker_script import queue_endpoint_results

    _reset(url)
    project.mkdir(parents=True)
    (project / "nikkei-deepar.toml").write_text(CONFIG, encoding="utf-8")
    env = _env(url, project)
    hook = project / "_hook"
    if record is not None or trace:
        hook.mkdir()
        (hook / "sitecustomize.py").write_text(RECORDER if record is not None else TRACER, encoding="utf-8")
        env["PYTHONPATH"] = str(hook)
    if record is not None:
        env["NIKKEI_BENCH_RECORD"] = str(record)
    results = []
    for command in CHAIN:
        if command[0] == "predict":
            queue_endpoint_results([canned], region=REGION, server=url)
        env["NIKKEI_BENCH_COMMAND"] = command[0]
        if trace:
            env["NIKKEI_BENCH_TRACE"] = str(hook / f"{command[0]}.json")
        started = time.perf_counter()
        env["NIKKEI_BENCH_SPAWN"] = repr(started)
        done = subprocess.run([str(EXE), *command], cwd=project, env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)}: exit {done.returncode}\n{done.stderr}")
        spent: dict[str, float] = {}
        if trace:
            spent = json.loads((hook / f"{command[0]}.json").read_text(encoding="utf-8"))
            spent["exit"] = elapsed - spent.pop("_end")
            spent["total"] = elapsed
        results.append((elapsed, spent))
    return results


def _floor(url: str, recording: Path, canned: str) -> float:
    from sagemaker_script import queue_endpoint_results

    _reset(url)
    queue_endpoint_results([canned], region=REGION, server=url)
    return _replay_process(url, recording)


def _floor_per_command(url: str, recording: Path, canned: str) -> list[float]:
    from sagemaker_script import queue_endpoint_results

    _reset(url)
    times = []
    for command in CHAIN:
        if command[0] == "predict":
            queue_endpoint_results([canned], region=REGION, server=url)
        times.append(_replay_process(url, recording, command=command[0]))
    return times


def _replay_process(url: str, recording: Path, *, command: str | None = None) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        env = _env(url, Path(tmp))
        argv = [sys.executable, __file__, "--replay", str(recording)]
        if command is not None:
            argv += ["--command", command]
        started = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"floor replay failed:\n{done.stderr}")
    return elapsed


def replay(recording: Path, *, command: str | None = None) -> None:
    """A floor: the recorded calls, in order, one client per service, from this one process.

    All the calls with plain boto3 (the floor); or, with `command`, that command's calls through the
    tool's own client set-up, `nikkei_deepar.aws.session` and nothing else of the tool.
    """
    from botocore import xform_name
    from botocore.exceptions import ClientError

    calls = [json.loads(line) for line in recording.read_text(encoding="utf-8").splitlines()]
    if command is None:
        import boto3
        from botocore.config import Config

        session = boto3.Session()
        config = Config(retries={"mode": "standard", "total_max_attempts": 5})
        # the tool's pricing client (aws/pricing.py): 2 attempts, short timeouts. moto has no Price List
        # API and answers 500: with 5 attempts the floors would pay 4 retries where the chain pays 1.
        pricing = Config(
            retries={"mode": "standard", "total_max_attempts": 2}, connect_timeout=5, read_timeout=10
        )

        def make(service: Any, region: str) -> Any:
            return session.client(
                service, region_name=region, config=pricing if service == "pricing" else config
            )

    else:
        from nikkei_deepar.aws.pricing import PricingGateway
        from nikkei_deepar.aws.session import AwsClients

        calls = [call for call in calls if call["command"] == command]
        per_region: dict[str, AwsClients] = {}

        def make(service: Any, region: str) -> Any:
            clients = per_region.setdefault(region, AwsClients(region=region, profile=None))
            if service == "pricing":  # the tool's own pricing client (see above)
                return PricingGateway(clients).client(region)
            return clients.client(service)

    clients: dict[tuple[str, str], Any] = {}
    for call in calls:
        key = (call["service"], call["region"])
        if key not in clients:
            clients[key] = make(*key)
        method = getattr(clients[key], xform_name(call["operation"]))
        try:
            result = method(**_decode(call["params"]))
        except ClientError:  # the chain met the same answers ("not there yet" lookups)
            continue
        body: Any = result.get("Body") if isinstance(result, dict) else None
        if hasattr(body, "read"):
            body.read()


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__bytes__"}:
            return base64.b64decode(value["__bytes__"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _env(url: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NIKKEI_DEEPAR_", "PYTHON"))}
    env.update(
        AWS_ENDPOINT_URL=url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=str(home / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        NIKKEI_DEEPAR_HOME=str(home / ".nikkei-deepar"),
    )
    return env


def _reset(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST")).read()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _honour_secure_transport() -> None:
    """moto ignores bucket policy conditions (provision's TLS-only policy would deny everything); see
    tests/moto_tls.py. Applied to this process, where the server runs."""
    from moto.s3.models import FakeBucket

    from moto_tls import tls_aware

    FakeBucket.get_permission = tls_aware(FakeBucket.get_permission)  # type: ignore[method-assign]


def _prediction_length() -> int:
    """The `prediction_length` the chain's model is trained for (CONFIG's, with the tool's defaults): the
    canned endpoint answer must have as many steps, or `predict` refuses it."""
    import tomllib

    from nikkei_deepar.config import Settings
    from nikkei_deepar.data.horizon import prediction_length_of

    return prediction_length_of(Settings.model_validate(tomllib.loads(CONFIG)))


if __name__ == "__main__":
    main()
