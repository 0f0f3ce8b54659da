"""The example scripts in examples/ run as cron runs them, against the moto server, so they never rot.

Each script is run by `bash` in a fresh session (no controlling terminal, stdin /dev/null) with an
`env -i`-like environment: PATH (the venv's bin, /usr/bin, /bin), HOME and the tool's home in tmp, fake
AWS credentials, region and AWS_ENDPOINT_URL, and the config through NIKKEI_DEEPAR_CONFIG or the
argument. The config is examples/sagemaker.toml itself with its placeholder bucket and its `[data] source`
replaced, so the shipped config is what runs. What a test does by hand to set the scene (yesterday's
training and deploy) runs the same app in-process (`Cron.cli`, `run_app`); the scripts run the executable.

Checked: the exit code, the files the scripts write (a CSV whose dates are real Tokyo trading days, the
retrain JSON summary, the weekly score), the forecast history the daily run keeps, logs of plain
timestamped lines (no ANSI escapes), what cron would mail (nothing on success, one line on failure that
starts with ALERT, FIX or RETRY), and what is left on the server (no endpoint after a one-off).

The price file is the fixture's closes re-dated onto the Tokyo sessions that end with the last one
closed when the test runs: examples/sagemaker.toml refuses stale data (`[data] on_stale = "fail"`), as a
daily cron job should, so the scripts see the fresh download they would see in real life.

The moto server runs in this process: `sm_script` scripts the jobs' DeepAR metrics and a failing
InvokeEndpoint, and provision's TLS-only bucket policy is honoured as TLS
(conftest's `_moto_treats_requests_as_tls`).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from e2e_shell import FAST_POLLS, run_app
from nikkei_deepar.data.calendar import is_trading_day, next_trading_days, sessions_since
from sagemaker_script import (
    REGION,
    completed,
    deepar_response,
    failed,
    model_error,
    queue_endpoint_results,
)

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXE = Path(sys.executable).parent / "nikkei-deepar"
PRICES = Path(__file__).resolve().parents[1] / "fixtures" / "prices" / "long" / "stooq.csv"
BUCKET = "nikkei-deepar-examples-bucket"
STATE_BUCKET = "nikkei-deepar-examples-state"  # [state] url: the team's state bucket, made once by hand
ENDPOINT = "nikkei-deepar"  # examples/sagemaker.toml's
GOOD = {"test:RMSE": 400.0, "test:mean_wQuantileLoss": 0.0200, "train:final_loss": 5.0}
WORSE = {"test:RMSE": 450.0, "test:mean_wQuantileLoss": 0.0250, "train:final_loss": 5.2}
HEADER = ["date", "step", "mean", "q0.1", "q0.5", "q0.9"]
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{4} ")


@dataclass
class Cron:
    """A cron-like runner for the example scripts, in a tmp folder."""

    root: Path
    env: dict[str, str]
    config: Path
    prices: Path

    @property
    def home(self) -> Path:
        return Path(self.env["HOME"])

    @property
    def logs(self) -> Path:
        return self.home / "nikkei-deepar" / "logs"

    @property
    def forecasts(self) -> Path:
        return self.home / "nikkei-deepar" / "forecasts"

    def today(self) -> str:
        """`date +%F` as the scripts see it (same environment, same time zone)."""
        return self._run(["date", "+%F"]).stdout.strip()

    def script(
        self, name: str, *args: str, expect: int = 0, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        done = self._run(["bash", str(EXAMPLES / name), *args], env=env)
        assert done.returncode == expect, (
            f"{name} {args}: exit {done.returncode}, expected {expect}\n"
            f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}\nlogs:\n{self.all_logs()}"
        )
        return done

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A command run by hand to set the scene (the day before, a person's deploy): the same app in
        this process (`run_app`, same environment and folder); the example scripts run the executable."""
        done = run_app([*args, "--config", str(self.config)], env=self.env, cwd=self.root)
        assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    @property
    def last_close(self) -> dt.date:
        """The last session closed by now in Tokyo: the fresh file's last row."""
        return fresh_sessions(1)[0]

    def write_prices(self, *, drop_last: int = 0, stale: bool = False) -> None:
        """The price file `[data] source` names: the fixture's rows re-dated onto the sessions up to the
        last closed one (`stale`: the fixture as it is, its last close in 2024), without the last
        `drop_last` rows."""
        header, *rows = PRICES.read_text(encoding="utf-8").splitlines()
        if not stale:
            days = fresh_sessions(len(rows))
            rows = [
                ",".join([day.isoformat(), *row.split(",")[1:]]) for day, row in zip(days, rows, strict=True)
            ]
        kept = rows[: len(rows) - drop_last]
        self.prices.write_text("\n".join([header, *kept]) + "\n", encoding="utf-8")

    def first_close(self) -> dt.date:
        return fresh_sessions(len(PRICES.read_text(encoding="utf-8").splitlines()) - 1)[0]

    def all_logs(self) -> str:
        if not self.logs.is_dir():
            return "(no log folder)"
        return "\n".join(f"== {p.name}\n{p.read_text(encoding='utf-8')}" for p in sorted(self.logs.iterdir()))

    def _run(self, argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv,
            cwd=self.root,
            env=self.env if env is None else env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            start_new_session=True,  # no controlling terminal, as under cron
        )


def fresh_sessions(count: int) -> list[dt.date]:
    """The last `count` Tokyo sessions closed by now (a session counts from its 15:30 JST close)."""
    now = dt.datetime.now(dt.UTC)
    start = now.date() - dt.timedelta(days=2 * count + 30)
    days = next_trading_days(start, (now.date() - start).days)  # fewer sessions than days: past today
    # a session has closed when it is counted among the sessions closed since the day before it
    last = [d for d in days if sessions_since(d - dt.timedelta(days=1), now=now) >= 1][-1]
    return [d for d in days if d <= last][-count:]


def example_config(*, bucket: str, source: Path) -> str:
    """examples/sagemaker.toml with its placeholder bucket and its data source replaced."""
    text = (EXAMPLES / "sagemaker.toml").read_text(encoding="utf-8")
    placeholder = re.compile(r'^bucket = "CHANGE-ME[^"]*"$', re.MULTILINE)
    source_line = re.compile(r'^source = "fred"$', re.MULTILINE)
    assert len(placeholder.findall(text)) == 1 and len(source_line.findall(text)) == 1
    text = placeholder.sub(f'bucket = "{bucket}"', text)
    state = re.compile(r'^url = "s3://CHANGE-ME[^"/]*/', re.MULTILINE)
    assert len(state.findall(text)) == 1
    text = state.sub(f'url = "s3://{STATE_BUCKET}/', text)
    return source_line.sub(f"source = {json.dumps(str(source))}", text)


def _kept_forecasts(moto_server: str) -> list[dict[str, Any]]:
    """The forecasts kept beside the example's remote state: one object each under `.../history/`."""
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_server)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=STATE_BUCKET).get("Contents", [])]
    return [
        json.loads(s3.get_object(Bucket=STATE_BUCKET, Key=key)["Body"].read())
        for key in sorted(keys)
        if "/history/" in key
    ]


@pytest.fixture
def cron(moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cron:
    root = tmp_path / "cron"
    home = root / "home"
    home.mkdir(parents=True)
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_server)
    s3.create_bucket(Bucket=STATE_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=STATE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    prices = root / "prices.csv"
    config = root / "nikkei-deepar.toml"
    config.write_text(example_config(bucket=BUCKET, source=prices), encoding="utf-8")
    env = {  # what `env -i` leaves a cron job: PATH, HOME, and the AWS variables it is given
        "PATH": f"{EXE.parent}:/usr/bin:/bin",
        "HOME": str(home),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_MAX_ATTEMPTS": "2",
        "NIKKEI_DEEPAR_HOME": str(root / "ledger"),
        "NIKKEI_DEEPAR_CONFIG": str(config),
        **FAST_POLLS,  # moto's endpoints settle at once: no 10 s first pause
    }
    runner = Cron(root=root, env=env, config=config, prices=prices)
    runner.write_prices()
    return runner


def _sm(server: str) -> Any:
    return boto3.client("sagemaker", region_name=REGION, endpoint_url=server)


def _plain_log(text: str) -> list[str]:
    """The log's lines, each timestamped; no ANSI escapes, no carriage returns (no live lines)."""
    assert text, "empty log"
    assert "\x1b" not in text and "\r" not in text
    lines = text.splitlines()
    unstamped = [line for line in lines if not STAMP.match(line)]
    assert unstamped == [], f"lines without a timestamp: {unstamped}"
    return lines


def _forecast_rows(text: str, *, after: dt.date) -> list[dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and list(rows[0]) == HEADER
    dates = [dt.date.fromisoformat(r["date"]) for r in rows]
    assert dates == sorted(set(dates)) and dates[0] > after
    assert all(is_trading_day(d) for d in dates), dates
    assert all(float(r["q0.1"]) <= float(r["q0.5"]) <= float(r["q0.9"]) for r in rows)
    return rows


@contextlib.contextmanager
def lock_held(cron: Cron, seconds: float) -> Iterator[None]:
    """Another nikkei-deepar command (on another host: it shares only the remote state) holding the
    state's lease for `seconds`, from now."""
    code = (
        "import time\n"
        "from nikkei_deepar.aws.services import connect\n"
        "from nikkei_deepar.state.remote import S3StateStore\n"
        f"s3 = connect(region={REGION!r}, profile=None).s3\n"
        f"store = S3StateStore(lambda: s3, bucket={STATE_BUCKET!r}, "
        "key_root='nikkei-deepar-state/nikkei-deepar/dev')\n"
        "with store.lock(command='retrain'):\n"
        "    print('held', flush=True)\n"
        f"    time.sleep({seconds})\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=cron.env)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.wait(timeout=30)


# -- daily-forecast.sh --------------------------------------------------------------------------------
def test_daily_forecast_refreshes_the_data_and_writes_todays_csv(cron: Cron, moto_server: str) -> None:
    """Deployed last week on older data; tonight's run prepares the new file, brings the deployed model
    up, predicts from it and deletes the endpoint again, waiting for a lock another command holds,
    without training anything."""
    cron.write_prices(drop_last=5)
    cron.cli("provision")
    cron.cli("prepare")
    cron.cli("train", "--wait")
    cron.cli("deploy")
    sm = _sm(moto_server)
    jobs_before = sm.list_training_jobs()["TrainingJobSummaries"]
    config_before = sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"]

    cron.write_prices()  # today's download: five more sessions, up to the last close
    queue_endpoint_results(
        [deepar_response(17, samples=[[0.3] * 17, [-0.3] * 17])], region=REGION, server=moto_server
    )
    env = {k: v for k, v in cron.env.items() if k != "NIKKEI_DEEPAR_CONFIG"}  # the config as argument
    with lock_held(cron, 3.0):
        started = time.monotonic()
        done = cron.script("daily-forecast.sh", str(cron.config), env=env)
    # prepare waited for the lock (--wait-lock) rather than exiting 9; the margin absorbs a slow CI
    # machine reading the holder's 'held' line late
    assert time.monotonic() - started >= 2.0
    assert (done.stdout, done.stderr) == ("", "")  # nothing for cron to mail

    day = cron.today()
    assert [p.name for p in cron.forecasts.iterdir()] == [f"forecast-{day}.csv"]
    rows = _forecast_rows(
        (cron.forecasts / f"forecast-{day}.csv").read_text(encoding="utf-8"), after=cron.last_close
    )
    assert [dt.date.fromisoformat(r["date"]) for r in rows] == next_trading_days(cron.last_close, 5)
    # the forecast is kept, as written, in the forecast history beside the (remote) ledger
    [kept] = _kept_forecasts(moto_server)
    assert kept["origin"] == cron.last_close.isoformat() and kept["mode"] == "endpoint"
    assert [p["date"] for p in kept["forecast"]] == [r["date"] for r in rows]
    assert [round(p["mean"], 6) for p in kept["forecast"]] == [float(r["mean"]) for r in rows]
    assert kept["workspace"] == {"project": "nikkei-deepar", "stage": "dev"}

    lines = _plain_log((cron.logs / f"daily-forecast-{day}.log").read_text(encoding="utf-8"))
    log = "\n".join(lines)
    steps = [line.split("$ ", 1)[1].split()[1] for line in lines if "$ nikkei-deepar " in line]
    assert steps == ["prepare", "deploy", "predict", "teardown"]
    assert "$ nikkei-deepar deploy --redeploy --expires-in 2h" in log
    assert "$ nikkei-deepar predict --format csv --output" in log
    assert f"read {cron.prices}: 420 rows, {cron.first_close()} .. {cron.last_close}" in log  # refreshed
    assert f"kept in s3://{STATE_BUCKET}/" in log and "/history/" in log
    assert "stale data" not in log
    assert "uploaded s3://" in log
    assert "already serves job" in log  # the deployed model, brought up as it was
    assert "daily-forecast: endpoint deleted: nothing is left billing by the hour" in log
    assert lines[-1].endswith(f"daily-forecast: done: {cron.forecasts / f'forecast-{day}.csv'}")

    assert sm.list_training_jobs()["TrainingJobSummaries"] == jobs_before  # no retraining
    assert config_before and sm.list_endpoints()["Endpoints"] == []  # torn down after the forecast
    assert (
        boto3.client("scheduler", region_name=REGION, endpoint_url=moto_server).list_schedules()["Schedules"]
        == []
    )


def test_daily_forecast_leaves_nothing_billing_past_its_expiry_when_killed_before_teardown(
    cron: Cron, moto_server: str
) -> None:
    """The machine dies after predict, before the teardown line runs: the endpoint stays, but AWS
    has been told to delete it 2 hours after the deploy (the schedule moto stores, but runs no)."""
    cron.cli("provision")
    cron.cli("prepare")
    cron.cli("train", "--wait")
    cron.cli("deploy")  # the weekly retrain's deploy, with the config's 24 h
    queue_endpoint_results(
        [deepar_response(7, samples=[[0.3] * 7, [-0.3] * 7])], region=REGION, server=moto_server
    )
    dying = cron.root / "nikkei-deepar-dies-at-teardown"
    dying.write_text(
        "#!/usr/bin/env bash\n"
        "# the real executable, except that `teardown` kills the whole script first (SIGKILL: no trap runs)\n"
        "if [[ $1 == teardown ]]; then kill -KILL 0; fi\n"
        f'exec {EXE} "$@"\n',
        encoding="utf-8",
    )
    dying.chmod(0o755)
    started = dt.datetime.now(dt.UTC)
    cron.script("daily-forecast.sh", expect=-9, env={**cron.env, "NIKKEI_DEEPAR_BIN": str(dying)})

    log = (cron.logs / f"daily-forecast-{cron.today()}.log").read_text(encoding="utf-8")
    assert "$ nikkei-deepar teardown" in log and "daily-forecast: done" not in log  # it never finished
    sm = _sm(moto_server)
    assert [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]] == [ENDPOINT]  # still there...
    scheduler = boto3.client("scheduler", region_name=REGION, endpoint_url=moto_server)
    found = scheduler.get_schedule(Name=f"{ENDPOINT}-expiry")  # ...and AWS deletes it at its expiry
    assert found["Target"]["Arn"] == "arn:aws:scheduler:::aws-sdk:sagemaker:deleteEndpoint"
    assert json.loads(found["Target"]["Input"]) == {"EndpointName": ENDPOINT}
    role = boto3.client("iam", region_name=REGION, endpoint_url=moto_server).get_role(
        RoleName="nikkei-deepar-scheduler"
    )
    assert found["Target"]["RoleArn"] == role["Role"]["Arn"]
    assert (found["ScheduleExpressionTimezone"], found["ActionAfterCompletion"]) == ("UTC", "DELETE")
    expression = found["ScheduleExpression"]
    at = dt.datetime.fromisoformat(expression[3:-1]).replace(tzinfo=dt.UTC)
    # 2 h after the daily deploy (to the minute), not the 24 h of the earlier deploy
    assert (
        started + dt.timedelta(hours=2, minutes=-1) <= at <= dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    )


def test_daily_forecast_with_a_bad_price_file_exits_3_and_says_why(cron: Cron) -> None:
    cron.prices.write_text("Date,Close\nnot a date,not a price\n", encoding="utf-8")
    # cron's own PATH, the executable named by NIKKEI_DEEPAR_BIN, the config by NIKKEI_DEEPAR_CONFIG
    env = {**cron.env, "PATH": "/usr/bin:/bin", "NIKKEI_DEEPAR_BIN": str(EXE)}
    done = cron.script("daily-forecast.sh", expect=3, env=env)

    day = cron.today()
    log_file = cron.logs / f"daily-forecast-{day}.log"
    assert done.stdout == ""
    # one line for cron to mail, in the weekly script's words: how urgent, what, where to look
    assert done.stderr.startswith(
        f"FIX: daily-forecast exit 3 on {_hostname(cron)}: {cron.prices}: no data rows"
    )
    assert done.stderr.endswith(f"; see {log_file}\n") and done.stderr.count("\n") == 1
    log = "\n".join(_plain_log(log_file.read_text(encoding="utf-8")))
    assert f"error: {cron.prices}: no data rows" in log
    assert "$ nikkei-deepar predict" not in log  # stopped at the failing step
    assert "daily-forecast: FIX: exit 3: " in log.splitlines()[-1]
    assert not cron.forecasts.exists() or list(cron.forecasts.iterdir()) == []


def test_daily_forecast_refuses_stale_data_and_mails_one_fix_line(cron: Cron, moto_server: str) -> None:
    """The download brought nothing new for weeks (the fixture as it is: its last close in 2024):
    [data] on_stale = "fail" stops predict before the endpoint is asked; no CSV, no kept forecast, the
    endpoint torn down, and one FIX line for cron to mail."""
    cron.cli("provision")
    cron.cli("prepare")
    cron.cli("train", "--wait")
    cron.cli("deploy")
    cron.write_prices(stale=True)
    done = cron.script("daily-forecast.sh", expect=3)

    log_file = cron.logs / f"daily-forecast-{cron.today()}.log"
    assert done.stderr.startswith(f"FIX: daily-forecast exit 3 on {_hostname(cron)}: stale data: ")
    assert "the last close is 2024-09-17" in done.stderr and "max_age_sessions = 3" in done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.endswith(f"; see {log_file}\n")
    log = "\n".join(_plain_log(log_file.read_text(encoding="utf-8")))
    assert "daily-forecast: endpoint deleted: nothing is left billing by the hour" in log
    assert not cron.forecasts.exists() or list(cron.forecasts.iterdir()) == []
    assert _kept_forecasts(moto_server) == []
    assert _sm(moto_server).list_endpoints()["Endpoints"] == []


def test_daily_forecast_with_nothing_deployed_never_says_nothing_is_left_billing(cron: Cron) -> None:
    """deploy --redeploy has nothing to bring up (exit 5): the teardown finds nothing to delete, and the
    log says that, not that an endpoint was deleted."""
    cron.cli("provision")
    done = cron.script("daily-forecast.sh", expect=5)
    assert done.stderr.startswith(f"FIX: daily-forecast exit 5 on {_hostname(cron)}: ")
    log = (cron.logs / f"daily-forecast-{cron.today()}.log").read_text(encoding="utf-8")
    assert "nothing to delete" in log
    assert "daily-forecast: no endpoint was up: nothing to delete" in log
    assert "nothing is left billing" not in log and "endpoint deleted" not in log


def test_daily_forecast_refuses_the_unedited_example_config(cron: Cron) -> None:
    """No argument, no NIKKEI_DEEPAR_CONFIG: examples/sagemaker.toml, whose placeholder bucket is a
    configuration error (exit 2) rather than somebody else's bucket."""
    env = {k: v for k, v in cron.env.items() if k != "NIKKEI_DEEPAR_CONFIG"}
    cron.script("daily-forecast.sh", expect=2, env=env)
    log = (cron.logs / f"daily-forecast-{cron.today()}.log").read_text(encoding="utf-8")
    _plain_log(log)
    assert f"config {EXAMPLES / 'sagemaker.toml'}" in log
    assert "aws.bucket: S3 bucket names are" in log and "CHANGE-ME" in log
    assert not (EXAMPLES / ".nikkei-deepar").exists()  # NIKKEI_DEEPAR_HOME holds the ledger
    # both placeholders are named in the log; the mailed FIX line names one of them
    assert "state.url: the bucket 'CHANGE-ME" in log
    [fix] = [line for line in log.splitlines() if "daily-forecast: FIX: exit 2: " in line]
    assert "CHANGE-ME" in fix and ("aws.bucket" in fix or "state.url" in fix)


# -- weekly-retrain.sh --------------------------------------------------------------------------------
def test_weekly_retrain_deploys_then_keeps_the_better_model(
    cron: Cron, moto_server: str, sm_script: Any
) -> None:
    cron.write_prices(drop_last=2)  # two sessions behind: not yet stale
    cron.cli("provision")
    sm_script.next_training(completed(GOOD))
    done = cron.script("weekly-retrain.sh")
    assert (done.stdout, done.stderr) == ("", "")
    day = cron.today()
    first = _summary(cron, day)
    assert (first["status"], first["exit_code"]) == ("ok", 0)
    assert first["data"]["status"] == "deployed"
    assert first["data"]["gate"]["decision"] == "deploy"
    served = _sm(moto_server).describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"]

    # a week later: more data, a worse model; the gate keeps the deployed one and that is no error
    cron.write_prices()
    sm_script.next_training(completed(WORSE))
    done = cron.script("weekly-retrain.sh")
    assert (done.stdout, done.stderr) == ("", "")
    second = _summary(cron, day)  # same day here: the file is replaced
    assert second["data"]["status"] == "kept-current-model"
    assert second["data"]["gate"]["decision"] == "keep"
    assert second["data"]["job"] != first["data"]["job"]
    assert _sm(moto_server).describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"] == served

    lines = _plain_log((cron.logs / f"weekly-retrain-{day}.log").read_text(encoding="utf-8"))
    log = "\n".join(lines)
    assert "retrain: prepare" in log and "retrain: gate: keep: new 0.02500 > deployed 0.02000" in log
    assert f"weekly-retrain: retrain deployed (exit 0), job {first['data']['job']}, gate deploy" in log
    assert (
        f"weekly-retrain: retrain kept-current-model (exit 0), job {second['data']['job']}, gate keep" in log
    )
    assert "the deployed model stays (normal, not an error)" in log
    assert "ALERT" not in log and "FIX" not in log


def test_weekly_retrain_scores_the_forecasts_the_daily_runs_kept(
    cron: Cron, moto_server: str, sm_script: Any
) -> None:
    """The weekly job runs `score` after retrain: first nothing is kept, then the daily run's forecast is
    counted (its closes have not come yet: waiting, not guessed)."""
    day = cron.today()
    score_file = cron.logs / f"score-{day}.txt"
    cron.write_prices(drop_last=2)
    cron.cli("provision")
    sm_script.next_training(completed(GOOD))
    cron.script("weekly-retrain.sh")
    assert score_file.read_text(encoding="utf-8").startswith("score: nothing to score: no forecasts kept")

    cron.write_prices()
    queue_endpoint_results(
        [deepar_response(17, samples=[[0.3] * 17, [-0.3] * 17])], region=REGION, server=moto_server
    )
    cron.script("daily-forecast.sh")
    sm_script.next_training(completed(WORSE))
    done = cron.script("weekly-retrain.sh")
    assert (done.stdout, done.stderr) == ("", "")
    text = score_file.read_text(encoding="utf-8")
    assert text.startswith("score: 1 forecasts from ")
    assert f"origins {cron.last_close} .. {cron.last_close}" in text
    assert "0 scored at every step, 1 waiting for closes (counted, not guessed)" in text
    log = "\n".join(_plain_log((cron.logs / f"weekly-retrain-{day}.log").read_text(encoding="utf-8")))
    assert f"$ nikkei-deepar score --config {cron.config}" in log
    assert f"weekly-retrain: score (exit 0) in {score_file}" in log
    assert "score: 1 forecasts from " in log  # the score is in the log too


def test_weekly_retrain_alerts_when_the_training_job_fails(
    cron: Cron, moto_server: str, sm_script: Any
) -> None:
    cron.cli("provision")
    reason = "ClientError: Unable to parse the training data"
    sm_script.next_training(failed(reason))
    done = cron.script("weekly-retrain.sh", expect=6)

    day = cron.today()
    log_file = cron.logs / f"weekly-retrain-{day}.log"
    summary = _summary(cron, day)
    assert (summary["status"], summary["exit_code"], summary["data"]["status"]) == ("error", 6, "failed")
    # one line for cron to mail, saying it needs a human and why
    assert done.stdout == ""
    assert done.stderr.startswith(f"ALERT: weekly-retrain exit 6 on {_hostname(cron)}: ")
    assert reason in done.stderr and done.stderr.endswith(f"; see {log_file}\n")
    assert done.stderr.count("\n") == 1
    log = "\n".join(_plain_log(log_file.read_text(encoding="utf-8")))
    assert reason in log and "weekly-retrain: ALERT: exit 6" in log
    assert _sm(moto_server).list_endpoints()["Endpoints"] == []


def _summary(cron: Cron, day: str) -> dict[str, Any]:
    """The retrain JSON summary: exactly one JSON document."""
    document: dict[str, Any] = json.loads((cron.logs / f"retrain-{day}.json").read_text(encoding="utf-8"))
    assert document["schema"] == "nikkei-deepar/result/v1" and document["command"] == "retrain"
    return document


def _hostname(cron: Cron) -> str:
    return cron._run(["bash", "-c", 'printf %s "$HOSTNAME"']).stdout


# -- one-off-forecast.sh ------------------------------------------------------------------------------
def test_one_off_forecast_prints_the_forecast_and_leaves_nothing_billing(
    cron: Cron, moto_server: str
) -> None:
    queue_endpoint_results(
        [deepar_response(17, samples=[[0.3] * 17, [-0.3] * 17])], region=REGION, server=moto_server
    )
    env = {**cron.env, "NIKKEI_DEEPAR_TEARDOWN_ALL": "1"}
    done = cron.script("one-off-forecast.sh", str(cron.prices), env=env)

    _forecast_rows(done.stdout, after=cron.last_close)  # stdout is the forecast and nothing else
    lines = _plain_log(done.stderr)
    steps = [line.split("$ ", 1)[1].split()[1] for line in lines if "$ nikkei-deepar " in line]
    assert steps == ["prepare", "provision", "train", "deploy", "predict", "teardown"]
    assert "one-off: torn down: nothing is left billing by the hour" in done.stderr
    assert lines[-1].endswith("one-off: done")

    sm = _sm(moto_server)
    assert sm.list_endpoints()["Endpoints"] == []
    assert sm.list_endpoint_configs()["EndpointConfigs"] == []
    assert sm.list_models()["Models"] == []
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_server)
    # NIKKEI_DEEPAR_TEARDOWN_ALL=1: the bucket too; the state bucket is the team's, made by hand, and stays
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [STATE_BUCKET]


def test_one_off_forecast_tears_the_endpoint_down_when_predict_fails(
    cron: Cron, moto_server: str, sm_script: Any
) -> None:
    sm_script.fail_next_invoke(model_error(400, "Unable to parse the request"))
    done = cron.script("one-off-forecast.sh", str(cron.prices), expect=4)

    assert done.stdout == ""
    lines = _plain_log(done.stderr)
    log = "\n".join(lines)
    teardown = [line for line in lines if "$ nikkei-deepar teardown" in line]
    assert len(teardown) == 1 and "--yes" in teardown[0] and "--all" not in teardown[0]
    assert "one-off: torn down" in log
    assert lines[-1].endswith("one-off: FAILED with exit 4")
    sm = _sm(moto_server)
    assert sm.list_endpoints()["Endpoints"] == []
    assert sm.list_models()["Models"] == []
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_server)
    assert sorted(b["Name"] for b in s3.list_buckets()["Buckets"]) == [BUCKET, STATE_BUCKET]  # kept
