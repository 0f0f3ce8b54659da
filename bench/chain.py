"""Time the seven-command chain against a moto server, next to its floor.

    .venv/bin/python bench/chain.py [--rounds 3]

chain: `provision -> prepare -> train -> wait -> deploy -> predict -> teardown --all --yes`, each the
installed `nikkei-deepar` executable in its own process, as a shell script runs them (no terminal).

floor: the very same AWS calls (recorded from the chain: operation and parameters, in order) replayed
from ONE Python process: one interpreter start-up, one `import boto3`, one client per service. That is
what the chain costs with no CLI, no config, no ledger and no repeated start-up; the target is a chain
no slower than twice the floor.

Every run starts from a freshly reset ThreadedMotoServer in this process; moto answers at once (jobs are
born Completed, endpoints InService), so this measures the tool's own overhead, not SageMaker. The replay
makes the same calls in the same order; the few whose answers depend on random ids (S3 version ids when
teardown empties the versioned bucket) fail fast instead, which if anything flatters the floor.
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (medians are reported)")
    parser.add_argument("--replay", type=Path, help=argparse.SUPPRESS)  # internal: the floor process
    args = parser.parse_args()
    if args.replay is not None:
        replay(args.replay)
        return

    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log on the terminal
    sys.path.insert(0, str(ROOT / "tests"))
    from moto.server import ThreadedMotoServer

    from sagemaker_script import deepar_response

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    _honour_secure_transport()
    canned = deepar_response(7)
    try:
        with tempfile.TemporaryDirectory(prefix="nikkei-bench-") as tmp:
            work = Path(tmp)
            recording = work / "calls.jsonl"
            _chain(url, work / "record", canned, record=recording)  # recorded, not timed
            chains = [_chain(url, work / f"round{i}", canned) for i in range(args.rounds)]
            floors = [_floor(url, recording, canned) for _ in range(args.rounds)]
            calls = [json.loads(line) for line in recording.read_text().splitlines()]
    finally:
        server.stop()

    print(f"nikkei-deepar chain vs floor: moto server, {args.rounds} rounds, medians, {sys.platform}")
    print(f"{'command':<28}{'seconds':>8}")
    for i, command in enumerate(CHAIN):
        label = " ".join("FILE" if a == str(FIXTURE) else a for a in command)
        print(f"{label:<28}{statistics.median(c[i] for c in chains):>8.2f}")
    chain = statistics.median(sum(c) for c in chains)
    floor = statistics.median(floors)
    services = sorted({c["service"] for c in calls})
    print(f"{'chain (7 processes)':<28}{chain:>8.2f}")
    print(
        f"{'floor (1 process)':<28}{floor:>8.2f}   {len(calls)} AWS calls, {len(services)} clients: "
        f"{', '.join(services)}"
    )
    print(f"{'ratio':<28}{chain / floor:>8.2f}x  (target <= 2x)")


def _chain(url: str, project: Path, canned: str, *, record: Path | None = None) -> list[float]:
    from sagemaker_script import queue_endpoint_results

    _reset(url)
    project.mkdir(parents=True)
    (project / "nikkei-deepar.toml").write_text(CONFIG, encoding="utf-8")
    env = _env(url, project)
    if record is not None:
        hook = project / "_hook"
        hook.mkdir()
        (hook / "sitecustomize.py").write_text(RECORDER, encoding="utf-8")
        env["PYTHONPATH"] = str(hook)
        env["NIKKEI_BENCH_RECORD"] = str(record)
    times = []
    for command in CHAIN:
        if command[0] == "predict":
            queue_endpoint_results([canned], region=REGION, server=url)
        started = time.perf_counter()
        done = subprocess.run([str(EXE), *command], cwd=project, env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)}: exit {done.returncode}\n{done.stderr}")
    return times


def _floor(url: str, recording: Path, canned: str) -> float:
    from sagemaker_script import queue_endpoint_results

    _reset(url)
    queue_endpoint_results([canned], region=REGION, server=url)
    with tempfile.TemporaryDirectory() as tmp:
        env = _env(url, Path(tmp))
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, __file__, "--replay", str(recording)], env=env, capture_output=True, text=True
        )
        elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"floor replay failed:\n{done.stderr}")
    return elapsed


def replay(recording: Path) -> None:
    """The floor: the recorded calls, in order, one client per service, from this one process."""
    import boto3
    from botocore import xform_name
    from botocore.config import Config
    from botocore.exceptions import ClientError

    session = boto3.Session()
    clients: dict[tuple[str, str], Any] = {}
    config = Config(retries={"mode": "standard", "total_max_attempts": 5})
    for line in recording.read_text(encoding="utf-8").splitlines():
        call = json.loads(line)
        key = (call["service"], call["region"])
        if key not in clients:
            clients[key] = session.client(call["service"], region_name=call["region"], config=config)
        method = getattr(clients[key], xform_name(call["operation"]))
        try:
            result = method(**_decode(call["params"]))
        except ClientError:  # the chain met the same answers ("not there yet" lookups)
            continue
        body = result.get("Body") if isinstance(result, dict) else None
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
    tests/sagemaker_script.py. Applied to this process, where the server runs."""
    import pytest

    from sagemaker_script import honour_secure_transport

    honour_secure_transport(pytest.MonkeyPatch())


if __name__ == "__main__":
    main()
