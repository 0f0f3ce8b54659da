"""Done means: `retrain --json` run the way cron runs it, against the moto server.

The crontab line below (docs/guide.md's, with this test's paths) is run by `/bin/sh -c` under `env -i` with
only PATH, HOME and AWS variables (plus NIKKEI_DEEPAR_HOME in tmp): no terminal (a new session, stdin
/dev/null), stdout and stderr redirected to files by the line itself. The credentials and region come
from `~/.aws/` in the fake HOME, as they would for a cron job; AWS_ENDPOINT_URL points at the moto
server, so nothing can reach a real account.

Checked: exit 0, exactly one parseable JSON document on stdout, and a log of plain timestamped lines
(no ANSI escapes, no carriage returns). A second run on newer data with a worse model keeps the
deployed model and still exits 0. docs/guide.md's shell-script version of the same chain (single
subcommands, jq for the gate) is run the same way.

The moto server runs in this process, so `sm_script` scripts the jobs' DeepAR metrics; moto ignores
bucket policy conditions, so provision's TLS-only policy is honoured as TLS
(conftest's `_moto_treats_requests_as_tls`).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from e2e_shell import FAST_POLLS
from sagemaker_script import REGION, completed

pytestmark = pytest.mark.e2e

EXE = Path(sys.executable).parent / "nikkei-deepar"
PRICES = Path(__file__).resolve().parents[1] / "fixtures" / "prices" / "long" / "nikkei_en.csv"
BUCKET = "nikkei-deepar-cron-bucket"
GOOD = {"test:RMSE": 400.0, "test:mean_wQuantileLoss": 0.0200, "train:final_loss": 5.0}
WORSE = {"test:RMSE": 450.0, "test:mean_wQuantileLoss": 0.0250, "train:final_loss": 5.2}

# docs/guide.md's crontab line: weekdays at 07:17, after Tokyo's close has been published.
CRONTAB = "17 7 * * 1-5  cd {project} && {exe} retrain --json > last-retrain.json 2>> retrain.log"

# docs/guide.md's shell-script version of the same chain, one subcommand at a time (jq for the gate).
SCRIPT = r"""#!/bin/sh
# retrain.sh: prepare -> train -> wait -> (gate) -> deploy with the single subcommands.
set -eu
nd=nikkei-deepar
$nd prepare
$nd train --json > train.json   # a failure stops the script with train's exit code (set -e)
job=$(jq -r .data.job train.json)
# exits 6 Failed, 7 Stopped, 8 timeout: set -e ends the script with that code
$nd wait --job "$job" --timeout 7200 --json > wait.json
new=$(jq -r '.data.metrics["test:mean_wQuantileLoss"] // empty' wait.json)
old=$($nd status --json | jq -r 'select(.data.endpoint.exists == true)
  | .data.deployment.metrics["test:mean_wQuantileLoss"] // "none"')
if [ -n "$old" ] && [ "$old" != none ]; then
  if [ -z "$new" ] || ! awk -v n="$new" -v o="$old" 'BEGIN { exit !(n <= o) }'; then
    echo "keeping the deployed model: new ${new:-unscored}, deployed $old" >&2
    exit 0
  fi
fi
$nd deploy --job "$job"
"""

CONFIG = f"""
[aws]
region = "{REGION}"
bucket = "{BUCKET}"

[data]
source = "prices.csv"

[endpoint]
name = "nikkei-cron"
"""
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{4} ")


@pytest.fixture
def project(moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "nikkei-deepar.toml").write_text(CONFIG, encoding="utf-8")
    (folder / "prices.csv").write_bytes(PRICES.read_bytes())
    home = tmp_path / "cron-home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(
        "[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n", encoding="utf-8"
    )
    (home / ".aws" / "config").write_text(f"[default]\nregion = {REGION}\n", encoding="utf-8")
    return folder


def _env(project: Path, server: str, *, path: str = "/usr/bin:/bin") -> list[str]:
    """What `env -i` keeps: PATH, HOME and AWS variables, and the tool's home in tmp."""
    home = project.parent / "cron-home"
    values = {
        "PATH": path,
        "HOME": str(home),
        "AWS_ENDPOINT_URL": server,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_MAX_ATTEMPTS": "2",
        "NIKKEI_DEEPAR_HOME": str(project.parent / "tool-home"),
        **FAST_POLLS,  # moto's jobs and endpoints settle at once: no 5-10 s first pause
    }
    return [f"{key}={value}" for key, value in values.items()]


def _cron(project: Path, server: str, command: str, *, path: str = "/usr/bin:/bin") -> int:
    """Run `command` as cron would: `env -i ... /bin/sh -c`, no terminal, nothing inherited."""
    done = subprocess.run(
        ["/usr/bin/env", "-i", *_env(project, server, path=path), "/bin/sh", "-c", command],
        cwd="/",
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # no controlling terminal
        timeout=300,
        check=False,
    )
    return done.returncode


def _line(project: Path) -> str:
    """The crontab line's command: everything after the five schedule fields."""
    entry = CRONTAB.format(project=project, exe=EXE)
    return entry.split(None, 5)[5]


def _check_log(log: str) -> None:
    assert log.strip(), "no progress in the log"
    assert "\x1b" not in log and "\r" not in log
    for line in log.splitlines():
        assert STAMP.match(line), f"not a timestamped line: {line!r}"


def test_retrain_from_cron(project: Path, moto_server: str, sm_script: Any) -> None:
    assert EXE.is_file(), f"the package is not installed in {EXE.parent}"
    # once, by hand: the bucket and the role
    assert _cron(project, moto_server, f"cd {project} && {EXE} provision 2>> setup.log") == 0
    # the preflight passes; the moto server answers SimulatePrincipalPolicy with a 500: a warning only
    code = _cron(project, moto_server, f"cd {project} && {EXE} doctor --json > doctor.json 2> doctor.log")
    assert code == 0, (project / "doctor.json").read_text() + (project / "doctor.log").read_text()
    checks = {c["name"]: c for c in json.loads((project / "doctor.json").read_text())["data"]["checks"]}
    assert checks["pass-role"]["status"] == "warning"
    assert all(c["status"] == "ok" for name, c in checks.items() if not name.endswith("pass-role"))

    sm_script.next_training(completed(GOOD))
    assert _cron(project, moto_server, _line(project)) == 0
    document = json.loads((project / "last-retrain.json").read_text(encoding="utf-8"))  # one document
    assert (document["command"], document["status"], document["exit_code"]) == ("retrain", "ok", 0)
    first = document["data"]
    assert first["status"] == "deployed"
    assert [s["status"] for s in first["stages"]] == ["done"] * 5
    assert first["gate"]["decision"] == "deploy" and first["gate"]["new"] == pytest.approx(0.02)
    log = (project / "retrain.log").read_text(encoding="utf-8")
    _check_log(log)
    for stage in ("prepare", "train", "wait", "gate", "deploy"):
        assert f" retrain: {stage}" in log
    sm = boto3.client("sagemaker", region_name=REGION, endpoint_url=moto_server)
    serving = sm.describe_endpoint(EndpointName="nikkei-cron")["EndpointConfigName"]

    # the next weekday: one more day of prices (here: the first day dropped), and a worse model
    lines = (project / "prices.csv").read_bytes().split(b"\n")
    (project / "prices.csv").write_bytes(b"\n".join([lines[0], *lines[2:]]))
    sm_script.next_training(completed(WORSE))
    assert _cron(project, moto_server, _line(project)) == 0  # not better is not an alarm
    second = json.loads((project / "last-retrain.json").read_text(encoding="utf-8"))["data"]
    assert second["status"] == "kept-current-model"
    assert (second["gate"]["decision"], second["gate"]["deployed_job"]) == ("keep", first["job"])
    assert sm.describe_endpoint(EndpointName="nikkei-cron")["EndpointConfigName"] == serving
    log = (project / "retrain.log").read_text(encoding="utf-8")
    _check_log(log)
    assert log.count(" retrain: prepare") == 2 and " retrain: gate: keep" in log

    # and `status` from cron agrees: the endpoint serves the first job, no drift
    assert _cron(project, moto_server, f"cd {project} && {EXE} status --json > status.json") == 0
    seen = json.loads((project / "status.json").read_text(encoding="utf-8"))["data"]
    assert seen["endpoint"]["serving_job"] == first["job"]
    assert seen["drift"] == {"missing": [], "untracked": []}


def test_the_shell_script_version_of_the_chain(project: Path, moto_server: str, sm_script: Any) -> None:
    (project / "retrain.sh").write_text(SCRIPT, encoding="utf-8")
    path = f"{EXE.parent}:/usr/bin:/bin"
    assert _cron(project, moto_server, f"cd {project} && {EXE} provision 2>> setup.log") == 0

    sm_script.next_training(completed(GOOD))
    run = f"cd {project} && sh retrain.sh > script.out 2>> script.log"
    assert _cron(project, moto_server, run, path=path) == 0
    sm = boto3.client("sagemaker", region_name=REGION, endpoint_url=moto_server)
    serving = sm.describe_endpoint(EndpointName="nikkei-cron")["EndpointConfigName"]
    assert "endpoint nikkei-cron: InService (created)" in (project / "script.out").read_text(encoding="utf-8")

    sm_script.next_training(completed(WORSE))
    assert _cron(project, moto_server, run, path=path) == 0
    assert "keeping the deployed model: new 0.025, deployed 0.02" in (project / "script.log").read_text(
        encoding="utf-8"
    )
    assert sm.describe_endpoint(EndpointName="nikkei-cron")["EndpointConfigName"] == serving
    _check_log(
        "\n".join(
            line
            for line in (project / "script.log").read_text(encoding="utf-8").splitlines()
            if not line.startswith("keeping")  # the script's own echo
        )
    )
