"""Every command is bounded by default: against a fake AWS on 127.0.0.1 that accepts connections and
never answers, each command that talks to AWS ends by its own default deadline, with no --timeout given,
exit 8 and one line naming that deadline.

The defaults are minutes to hours (deadline.py, cli.py), so each case scales its command's default to
about `SCALED_TO` seconds with $NIKKEI_DEEPAR_DEFAULT_TIMEOUT_SCALE: the rule, the scaling and the
whole path (config -> default -> deadline -> botocore's timeouts and retries -> the alarm) are the real
ones. The ledger is seeded so that each command reaches AWS: prepared data (stored in S3 only, for
backtest), a completed job, a live endpoint.
"""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from hostile.kit import GOOD_PRICES, Run, assert_one_clean_error, run_exe, stalled_server
from ledger_edit import edited
from nikkei_deepar.aws.session import MIN_READ_TIMEOUT, AwsClients
from nikkei_deepar.cli import DEADLINES
from nikkei_deepar.config import load_config
from nikkei_deepar.deadline import SCALE_ENV, Deadline
from nikkei_deepar.errors import WaitTimeoutError
from nikkei_deepar.ledger import Job, Resource
from nikkei_deepar.lifecycle.polling import POLL_SCALE_ENV
from nikkei_deepar.workspace import DEFAULT_PROJECT, DEFAULT_STAGE, Workspace
from sagemaker_script import BUCKET, REGION, ROLE, make_context, seed_prepared, settings_for

SCALED_TO = 5.0  # seconds: each command's default deadline, scaled (its local work fits in it)
MARGIN = 8.0  # start-up (imports) on a loaded machine, and the 2 s last look a request may take
CONFIG = f'[aws]\nregion = "{REGION}"\nbucket = "{BUCKET}"\nrole_name = "{ROLE}"\n'
JOB = "nikkei-deepar-dev-20250101-000000-abcd"


@pytest.fixture
def seeded(tmp_path: Path, hermetic_env: Path) -> Path:
    """A SageMaker project whose ledger has prepared data, a completed job and a live endpoint."""
    return seed_project(tmp_path, hermetic_env)


def seed_project(project: Path, folder: Path) -> Path:
    """`project` with the config, its workspace `folder` with the ledger `seeded` describes."""
    (project / "nikkei-deepar.toml").write_text(CONFIG, encoding="utf-8")
    ctx = make_context(folder, settings_for())
    version = seed_prepared(ctx, with_role=False, upload=False)
    with edited(ctx.state) as ledger:
        ledger.upsert_job(
            Job(
                name=JOB,
                data_sha256=version.sha256,
                hyperparameters={"prediction_length": str(version.prediction_length)},
                config_hash="c" * 16,
                status="Completed",
                model_artifact=f"s3://{BUCKET}/output/{JOB}/output/model.tar.gz",
                target=version.target,
            )
        )
        ledger.record_resource(
            Resource(kind="endpoint", name=ctx.settings.endpoint.name, region=REGION, job=JOB)
        )
    return project


# (command, its arguments, the options its default deadline reads)
CASES: list[tuple[str, list[str], dict[str, Any]]] = [
    ("status", [], {}),
    ("doctor", [], {}),
    ("teardown", ["--dry-run"], {"dry_run": True}),
    ("teardown", ["--yes"], {}),
    ("provision", ["--dry-run"], {"dry_run": True}),
    ("provision", [], {}),
    ("prepare", ["--input", str(GOOD_PRICES)], {}),
    ("train", [], {}),
    ("train", ["--wait"], {"wait": True}),
    ("wait", [], {}),
    ("deploy", [], {}),
    ("predict", [], {}),
    ("predict", ["--batch"], {"batch": True}),
    ("backtest", ["--models", "random-walk"], {}),
    ("retrain", ["--input", str(GOOD_PRICES)], {}),
]
# Commands that read and check a price file first need longer than the others before they ask AWS.
LOCAL_WORK = {"prepare", "retrain", "train"}  # train hashes and checks the prepared channels first
# how long the cases take beyond their deadline's start, measured on a loaded 2-core machine: they start
# longest first, so that the last to start are short (deploy takes a 2 s last look at the endpoint)
SECONDS = {**dict.fromkeys(LOCAL_WORK, 12), "deploy": 10}


IDS = [" ".join([c, *a[:1]]) for c, a, _ in CASES]
CONCURRENT = 5  # cases run at a time: each mostly waits on its silent server; start-up is what they share
_ran: dict[str, tuple[Run, float, int, float]] = {}  # case id -> (run, seconds, connections, scaled to)


def _run_every_case(root: Path) -> None:
    """Every case at once, CONCURRENT at a time, each in its own seeded project and home against its own
    silent server, the longer ones first: the file takes about two deadlines, not fifteen. Each case is
    timed on its own."""

    def one(case: int) -> tuple[str, tuple[Run, float, int, float]]:
        command, args, options = CASES[case]
        project = root / f"case-{case}"
        project.mkdir()
        home = project / "home"
        folder = Workspace(DEFAULT_PROJECT, DEFAULT_STAGE).folder(home)
        seed_project(project, folder)
        settings = load_config(project / "nikkei-deepar.toml").settings
        default = DEADLINES[command].seconds(settings, options)
        scaled_to = SCALED_TO * 2 if command in LOCAL_WORK else SCALED_TO
        if command == "backtest":  # the series is only in S3: backtest has to fetch it
            shutil.rmtree(folder / "data")
        with stalled_server() as (url, accepted):
            env = {
                "AWS_ENDPOINT_URL": url,
                SCALE_ENV: repr(scaled_to / default),
                "NIKKEI_DEEPAR_HOME": str(home),
            }
            started = time.monotonic()
            r = run_exe(command, *args, cwd=project, env=env)
            took = time.monotonic() - started
            return IDS[case], (r, took, len(accepted), scaled_to)

    longest_first = sorted(range(len(CASES)), key=lambda case: -SECONDS.get(CASES[case][0], 0))
    with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        _ran.update(pool.map(one, longest_first))


# All cases run from the first one a worker reaches: under pytest-xdist this module stays on one worker
# (scripts/test.sh runs --dist loadscope), or each worker would run them all.
@pytest.mark.parametrize(("command", "args", "options"), CASES, ids=IDS)
def test_a_silent_aws_ends_each_command_by_its_default_deadline(
    command: str, args: list[str], options: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    if not _ran:
        _run_every_case(tmp_path_factory.mktemp("silent-aws"))
    r, took, connections, scaled_to = _ran[" ".join([command, *args[:1]])]
    line = assert_one_clean_error(r, 8, f"default deadline of {scaled_to:g} s")
    assert connections, "the command never asked AWS: the case does not test what it says"
    assert took < scaled_to + MARGIN, (took, line)
    assert "--timeout" in r.stderr  # the hint says how to give it longer


def test_the_json_envelope_names_the_default_too(seeded: Path) -> None:
    with stalled_server() as (url, _):
        r = run_exe("status", "--json", cwd=seeded, env={"AWS_ENDPOINT_URL": url, SCALE_ENV: "0.05"})
    assert r.exit_code == 8
    [error] = r.json()["errors"]
    assert error["code"] == "aws-silent"
    assert "AWS did not answer within 3 s (its default deadline of 3 s)" in error["message"]
    assert "pass a longer --timeout" in error["hint"]


def test_timeout_replaces_the_default_and_is_never_scaled(seeded: Path) -> None:
    with stalled_server() as (url, _):
        started = time.monotonic()
        r = run_exe("doctor", "--timeout", "1.5", cwd=seeded, env={"AWS_ENDPOINT_URL": url, SCALE_ENV: "100"})
        took = time.monotonic() - started
    assert_one_clean_error(r, 8, "AWS did not answer within 1.5 s (--timeout 1.5)")
    assert took < 1.5 + MARGIN


@pytest.mark.parametrize(
    ("name", "scale"),
    [
        *((SCALE_ENV, s) for s in ["0", "-1", "nan", "inf", "fast", "1e9"]),
        (POLL_SCALE_ENV, "0"),
        (POLL_SCALE_ENV, "fast"),
    ],
)
def test_a_bad_scale_is_one_usage_line(name: str, scale: str, seeded: Path) -> None:
    r = run_exe("status", cwd=seeded, env={name: scale})
    assert_one_clean_error(r, 2, name, "not a number from above 0 to 1000")


@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf", "1e300"])
def test_a_timeout_that_is_no_deadline_is_refused(value: str, seeded: Path) -> None:
    r = run_exe("status", "--timeout", value, cwd=seeded)
    assert r.exit_code == 2 and "Traceback" not in r.stderr
    assert "Invalid value for '--timeout': expected seconds above 0" in r.stderr


# -- botocore's own timeouts, per attempt ----------------------------------------------------------------
@pytest.fixture
def blackhole() -> Iterator[str]:
    """A listening socket whose backlog is full and never accepted: a new connection never completes
    (the kernel drops its SYN), as with a firewall that drops packets."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    filler = socket.create_connection(listener.getsockname(), timeout=2)  # fills the backlog
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        filler.close()
        listener.close()


def test_a_connect_is_cut_to_what_is_left_of_the_deadline(
    blackhole: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client is built with 10 s to connect while the deadline is far; by the time it is used only
    a moment is left, and the attempt waits that long (at least the 2 s last look), not 10 s."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", blackhole)
    shift = [0.0]
    deadline = Deadline.start(60, clock=lambda: time.monotonic() + shift[0])
    clients = AwsClients(region=REGION, profile=None, max_attempts=3, deadline=deadline)
    client = clients.client("sts")  # built now, with a 10 s connect timeout
    shift[0] = 59.5  # then half a second is left
    started = time.monotonic()
    with pytest.raises(WaitTimeoutError, match="AWS did not answer within 60 s"):
        client.get_caller_identity()
    assert time.monotonic() - started < MIN_READ_TIMEOUT + 1.5  # not 10 s, and no retry after it


def test_the_installed_executable_against_dropped_connections(blackhole: str, seeded: Path) -> None:
    started = time.monotonic()
    r = run_exe("wait", "--timeout", "2", cwd=seeded, env={"AWS_ENDPOINT_URL": blackhole})
    took = time.monotonic() - started
    assert_one_clean_error(r, 8, "sagemaker.DescribeTrainingJob", "AWS did not answer within 2 s")
    assert took < 2 + MARGIN


# -- a question to the user does not count ---------------------------------------------------------------
def test_time_at_a_prompt_is_not_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    from nikkei_deepar import deadline as deadline_module
    from nikkei_deepar.deadline import DeadlineInterrupt, alarm

    monkeypatch.setattr(deadline_module, "ALARM_GRACE", 0.0)
    deadline = Deadline.start(0.3, clock=time.monotonic)
    with alarm(0.3):
        with deadline.paused():  # the user takes 0.6 s to answer: more than the whole deadline
            time.sleep(0.6)
        assert 0.1 < deadline.remaining() <= 0.3  # what was left before the question is left after
        with pytest.raises(DeadlineInterrupt):
            time.sleep(2)  # the alarm, moved by the pause, still fires


def test_teardown_waits_for_an_answer_longer_than_its_timeout(
    seeded: Path, run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user takes longer to answer teardown's question than --timeout allows for the whole command."""
    from nikkei_deepar import cli
    from nikkei_deepar import deadline as deadline_module
    from nikkei_deepar.errors import UsageError
    from nikkei_deepar.steps import teardown as teardown_step

    def run(ctx: Any, *, confirm: Any, **_: Any) -> Any:
        if not confirm("delete endpoint nikkei-deepar-dev?"):
            raise UsageError("teardown: not confirmed; nothing was deleted")

    monkeypatch.setattr(deadline_module, "ALARM_GRACE", 0.0)  # the alarm at the deadline itself
    monkeypatch.setattr(cli, "_confirm", lambda question: time.sleep(1.5) or False)
    monkeypatch.setattr(teardown_step, "run", run)
    r = run_cli("teardown", "--timeout", "1")
    assert r.exit_code == 2, r.stderr  # the user's "no", not the deadline (8)
    assert "not confirmed; nothing was deleted" in r.stderr
