"""Ctrl-C (a real SIGINT to the installed executable) during `train --wait`, on both backends.

docs/guide.md's promise: on SageMaker, Ctrl-C stops the waiting, not the job (exit 130), and `wait`
follows it again; with the local backend the training runs inside the command, so Ctrl-C stops the job
itself (Stopped, no model, recorded in the ledger) and the hint says the next `train` starts anew: no
"resume" that does not happen.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

import boto3
import pytest

from nikkei_deepar.workspace import DEFAULT_PROJECT, DEFAULT_STAGE, Workspace
from sagemaker_script import REGION, in_progress

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXE = str(Path(sys.executable).parent / "nikkei-deepar")
SAMPLE = ROOT / "data" / "nikkei.csv"


def _interrupt_when(proc: subprocess.Popen[str], marker: str, *, within: float = 240) -> str:
    """Read the command's stderr until a line contains `marker`, send SIGINT, return all of stderr."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump(stream: IO[str]) -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    assert proc.stderr is not None
    threading.Thread(target=pump, args=(proc.stderr,), daemon=True).start()
    seen: list[str] = []
    sent = False
    while True:
        try:
            line = lines.get(timeout=within)
        except queue.Empty:
            proc.kill()
            pytest.fail(f"no {marker!r} within {within} s:\n{''.join(seen)}")
        if line is None:
            break
        seen.append(line)
        if not sent and marker in line:
            proc.send_signal(signal.SIGINT)
            sent = True
    proc.wait(timeout=60)
    assert sent, f"the command ended before {marker!r}:\n{''.join(seen)}"
    return "".join(seen)


def _last_job(tmp_path: Path) -> dict[str, object]:
    """The last job in the default workspace's ledger under the test's home."""
    folder = Workspace(DEFAULT_PROJECT, DEFAULT_STAGE).folder(tmp_path / "home")
    jobs: list[dict[str, object]] = json.loads((folder / "state.json").read_text())["jobs"]
    return jobs[-1]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NIKKEI_DEEPAR_"))},
        "NIKKEI_DEEPAR_HOME": str(tmp_path / "home"),
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        **extra,
    }


def _run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([EXE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stderr}"
    return done


def test_sagemaker_ctrl_c_stops_the_waiting_not_the_job(
    moto_server: str, sm_script: object, tmp_path: Path
) -> None:
    (tmp_path / "nikkei-deepar.toml").write_text(
        f'[aws]\nregion = "{REGION}"\nbucket = "nikkei-deepar-sigint"\n', encoding="utf-8"
    )
    env = _env(
        tmp_path,
        AWS_ENDPOINT_URL=moto_server,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
    )
    _run(env, tmp_path, "provision")
    _run(env, tmp_path, "prepare", "--input", str(SAMPLE))
    sm_script.next_training(in_progress("Starting"), in_progress("Training"))  # type: ignore[attr-defined]
    proc = subprocess.Popen(
        [EXE, "train", "--wait"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    stderr = _interrupt_when(proc, "InProgress")
    assert proc.returncode == 130, stderr
    assert "the job itself keeps running" in stderr
    assert "hint: `nikkei-deepar wait` follows it again" in stderr
    job = json.loads(
        (Workspace(DEFAULT_PROJECT, DEFAULT_STAGE).folder(tmp_path / "home") / "state.json").read_text()
    )["jobs"][-1]
    sagemaker = boto3.client("sagemaker", region_name=REGION, endpoint_url=moto_server)
    live = sagemaker.describe_training_job(TrainingJobName=job["name"])
    assert live["TrainingJobStatus"] == "InProgress"  # the job goes on
    assert job["status"] == "InProgress"


@pytest.mark.local
def test_local_ctrl_c_stops_the_job_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "nikkei-deepar.toml").write_text(
        'backend = "local"\n[training.hyperparameters]\nepochs = 1000\nnum_cells = 30\nnum_layers = 1\n',
        encoding="utf-8",
    )
    env = _env(tmp_path, NIKKEI_DEEPAR_LOCAL_BATCHES="1", AWS_ENDPOINT_URL="http://127.0.0.1:9")
    _run(env, tmp_path, "provision")
    _run(env, tmp_path, "prepare", "--input", str(SAMPLE))
    proc = subprocess.Popen(
        [EXE, "train", "--wait"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    stderr = _interrupt_when(proc, "epoch 1/1000")
    assert proc.returncode == 130, stderr
    started = stderr.index("started training job")
    assert started < stderr.index("epoch 1/1000")  # announced at its start, not after the epochs
    assert "ran inside this command and was stopped (Stopped, no model)" in stderr
    assert "hint: `nikkei-deepar train` starts a new job, from the first epoch" in stderr
    assert "resume" not in stderr
    job = json.loads(
        (Workspace(DEFAULT_PROJECT, DEFAULT_STAGE).folder(tmp_path / "home") / "state.json").read_text()
    )["jobs"][-1]
    assert job["status"] == "Stopped" and job["model_artifact"] is None
    status = json.loads(_run(env, tmp_path, "status", "--json").stdout)["data"]["job"]
    assert (status["name"], status["status"]) == (job["name"], "Stopped")
