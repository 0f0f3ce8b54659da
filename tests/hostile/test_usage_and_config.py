"""Usage errors under --json give the one envelope (exit 2), like every other error; without --json,
Click's own text is unchanged. Config values that AWS would refuse, or that hold control characters,
non-ASCII where AWS wants ASCII, inf or nan, are refused by `config validate` with one line each.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nikkei_deepar.output import ENVELOPE_KEYS, ENVELOPE_SCHEMA


@pytest.mark.parametrize(
    ("args", "command", "said"),
    [
        (["backtest", "--windows", "0"], "backtest", "--windows"),
        (["status", "--wait-lock", "abc"], "status", "--wait-lock"),
        (["wait", "--timeout", "soon"], "wait", "--timeout"),
        (["status", "--no-such-option"], "status", "--no-such-option"),
        (["config", "show", "--bogus"], "config show", "--bogus"),
        (["train", "--timeout", "-5x"], "train", "--timeout"),
        (["no-such-command"], "nikkei-deepar", "no-such-command"),
        (["--bogus"], "nikkei-deepar", "--bogus"),  # before any command: the root group's own options
    ],
)
def test_usage_errors_under_json_print_the_envelope(
    args: list[str], command: str, said: str, project: Path, run_cli: Callable[..., Any]
) -> None:
    # --json first or last: Click may stop parsing at the bad token, the envelope must not depend on it
    for argv in (
        ([*args, "--json"], [args[0], "--json", *args[1:]]) if args[0] != "config" else ([*args, "--json"],)
    ):
        r = run_cli(*argv)
        assert r.exit_code == 2, (argv, r.stdout, r.stderr)
        doc = json.loads(r.stdout)
        assert tuple(doc) == ENVELOPE_KEYS and doc["schema"] == ENVELOPE_SCHEMA
        assert doc["command"] == command and doc["status"] == "error" and doc["exit_code"] == 2
        [error] = doc["errors"]
        assert error["code"] == "usage" and said in error["message"] and "\n" not in error["message"]
        assert "--help" in error["hint"]
        assert f"error: {error['message']}" in r.stderr
        assert "Traceback" not in r.stderr


def test_without_json_click_speaks_as_before(project: Path, run_cli: Callable[..., Any]) -> None:
    r = run_cli("backtest", "--windows", "0")
    assert r.exit_code == 2 and r.stdout == ""
    assert "Usage: " in r.stderr and "Invalid value for '--windows'" in r.stderr


def test_json_after_a_double_dash_is_not_an_option(project: Path, run_cli: Callable[..., Any]) -> None:
    r = run_cli("status", "--bogus", "--", "--json")
    assert r.exit_code == 2 and r.stdout == "" and "Usage: " in r.stderr


@pytest.mark.parametrize(
    ("toml", "problem"),
    [
        (
            '[costs]\nhourly_usd = {"ml.m5.large" = inf}',
            "costs.hourly_usd.ml.m5.large: must be a finite number",
        ),
        (
            "[costs]\nserverless_gb_second_usd = nan",
            "costs.serverless_gb_second_usd: must be a finite number",
        ),
        ("[retrain]\nmax_wql_regression = inf", "retrain.max_wql_regression: must be a finite number"),
        ("[predict]\nquantiles = [0.1, nan]", "predict.quantiles.1: must be a finite number"),
        ('[aws]\nregion = "ap-northeast-1\\n"', "aws.region: holds a control character (U+000A)"),
        ('[aws]\nregion = "ap-northeast-1 "', "aws.region: not an AWS region name"),
        ('[aws]\nbucket = "my-bucket\\n"', "aws.bucket: holds a control character"),
        ('[aws]\nbucket = "My_Bucket"', "aws.bucket: S3 bucket names are"),
        ('[aws]\nrole_name = "rôle-sagemaker"', "aws.role_name: IAM role names are 1-64 characters of ASCII"),
        ('[aws]\nrole_name = "role\\u0000x"', "aws.role_name: holds a control character (U+0000)"),
        ('[aws]\nprofile = "dev profile"', "aws.profile: not a named profile"),
        ('[aws]\nkms_key_id = "my key"', "aws.kms_key_id: not a KMS key"),
        ('[aws]\nprefix = "データ"', "aws.prefix: must be a plain S3 key prefix"),
        ('[aws.tags]\nproject = "x\\u001b[31m"', "aws.tags: holds a control character (U+001B)"),
        ('[aws.tags]\nproject = "a;b"', "aws.tags: tag 'project': the value"),
        ('[endpoint]\nname = "ep-"', "endpoint.name: endpoint names are"),
        ('[endpoint]\nname = "ep\\n"', "endpoint.name: holds a control character"),
        ('[training]\ninstance_type = "ml.m5.large\\n"', "training.instance_type: holds a control character"),
        (
            '[training.hyperparameters]\ntime_freq = "D\\n"',
            "training.hyperparameters.time_freq: holds a control",
        ),
        ('[data]\nsource = "prices.csv\\u001b[2J"', "data.source: holds a control character (U+001B)"),
        ("[data]\nmax_input_bytes = 10", "data.max_input_bytes: must be >= 1024"),
        ("[data]\ndownload_timeout_seconds = inf", "data.download_timeout_seconds: must be a finite number"),
        # issue 25: an OverflowError (exit 1) before, or accepted although wrong
        (
            '[endpoint]\nexpires_after = "99999999999999999999d"',
            "endpoint.expires_after: an endpoint expiry must be between 15m and 365d",
        ),
        ('[endpoint]\nexpires_after = "２h"', "endpoint.expires_after: a duration is a number of days"),
        ('[endpoint]\nexpires_after = "2h\\n"', "endpoint.expires_after: holds a control character"),
        (
            "[training.hyperparameters]\nepochs = 99999999999999999999999",
            "training.hyperparameters.epochs: must be <= 10000 (got 99999999999999999999999)",
        ),
    ],
)
def test_config_values_aws_would_refuse(
    toml: str, problem: str, project: Path, run_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")  # the environment would override the file's region
    (project / "nikkei-deepar.toml").write_text(f'backend = "local"\n{toml}\n', encoding="utf-8")
    r = run_cli("config", "validate", "--json")
    assert r.exit_code == 2, r.stdout
    problems = r.json()["errors"][0]["problems"]
    assert any(p.startswith(problem) for p in problems), problems
    assert "\x1b" not in r.stderr and "$inf" not in r.stdout + r.stderr
    assert len([line for line in r.stderr.splitlines() if "error:" in line]) == 1 + len(problems)


@pytest.mark.parametrize(
    "toml",
    [
        '[aws]\nregion = "us-gov-west-1"\nprofile = "AWSAdministratorAccess-123456789012"',
        '[aws]\nkms_key_id = "arn:aws:kms:ap-northeast-1:123456789012:key/'
        '1234abcd-12ab-34cd-56ef-1234567890ab"',
        '[aws]\nkms_key_id = "alias/nikkei-deepar"\nrole_name = "svc+role=,.@_-1"',
        '[aws.tags]\nproject = "nikkei deepar: 日経/テスト"',  # tags may be Unicode letters
        '[costs]\nhourly_usd = {"ml.m5.large" = 0.149}',
    ],
)
def test_values_aws_accepts_still_pass(toml: str, project: Path, run_cli: Callable[..., Any]) -> None:
    (project / "nikkei-deepar.toml").write_text(f'backend = "local"\n{toml}\n', encoding="utf-8")
    r = run_cli("config", "validate")
    assert r.exit_code == 0, r.stderr


def test_a_job_name_with_control_characters_is_one_escaped_line(
    project: Path, hermetic_env: Path, run_cli: Callable[..., Any]
) -> None:
    r = run_cli("wait", "--job", "job-1\n\x1b[31mred")
    assert r.exit_code == 5
    [line] = [line for line in r.stderr.splitlines() if "error:" in line]
    assert "training job job-1\\n\\x1b[31mred does not exist" in line and "\x1b" not in r.stderr
    assert not (hermetic_env / "jobs").exists() and not (hermetic_env / "state.json").exists()


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("99999999999999999999d", "--expires-in: an endpoint expiry must be between 15m and 365d"),
        ("２h", "--expires-in: a duration is a number of days, hours and/or minutes in ASCII"),
        ("2h\n", "--expires-in: a duration is a number of days, hours and/or minutes such as"),
    ],
)
def test_deploy_expires_in_that_overflowed_or_looked_right_is_one_usage_line(
    value: str, said: str, project: Path, hermetic_env: Path, run_cli: Callable[..., Any]
) -> None:
    r = run_cli("deploy", "--expires-in", value, "--json")
    assert r.exit_code == 2, r.stdout
    [error] = r.json()["errors"]
    assert error["code"] == "bad-duration" and error["message"].startswith(said)
    assert "\n" not in error["message"] and "Traceback" not in r.stderr
    assert not (hermetic_env / "state.json").exists()


@pytest.mark.parametrize("command", ["provision", "deploy", "status"])
def test_an_expiry_past_any_timedelta_in_the_config_is_a_config_error_everywhere(
    command: str, project: Path, run_cli: Callable[..., Any]
) -> None:
    # OverflowError inside a pydantic validator: exit 1 in config validate and provision before
    (project / "nikkei-deepar.toml").write_text(
        'backend = "local"\n[endpoint]\nexpires_after = "99999999999999999999d"\n', encoding="utf-8"
    )
    r = run_cli(command)
    assert r.exit_code == 2
    assert "endpoint.expires_after: an endpoint expiry must be between 15m and 365d" in r.stderr
    assert "Traceback" not in r.stderr and "OverflowError" not in r.stderr


@pytest.mark.parametrize(
    ("args", "suggested"),
    [
        (["forecast"], "predict"),  # by meaning: no spelling is close
        (["destroy"], "teardown"),
        (["init"], "config init"),
        (["validate"], "config validate"),
        (["stauts"], "status"),  # by spelling
        (["predcit"], "predict"),
        (["config", "lint"], "validate"),  # meaning beats spelling (init looks closer)
        (["config", "shwo"], "show"),
    ],
)
def test_an_unknown_command_gets_the_closest_one(
    args: list[str], suggested: str, project: Path, run_cli: Callable[..., Any]
) -> None:
    r = run_cli(*args)
    assert r.exit_code == 2 and "Traceback" not in r.stderr
    # the closest first (Click may name a second close one after it: 'status', 'state')
    assert f"No such command '{args[-1]}'. Did you mean '{suggested}'" in r.stderr
    j = run_cli(*args, "--json")
    assert f"Did you mean '{suggested}'" in j.json()["errors"][0]["message"]


def test_a_word_that_means_nothing_here_gets_no_guess(project: Path, run_cli: Callable[..., Any]) -> None:
    r = run_cli("xyzzy")
    assert r.exit_code == 2 and "No such command 'xyzzy'." in r.stderr and "Did you mean" not in r.stderr


def test_doctor_with_a_missing_profile_blames_the_profile_not_the_region(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    (tmp_path / "nikkei-deepar.toml").write_text(
        '[aws]\nregion = "ap-northeast-1"\nbucket = "nikkei-deepar-hostile-test"\n', encoding="utf-8"
    )
    r = run_cli("doctor", "--profile", "no-such-profile", "--json")
    assert r.exit_code == 4, r.stdout  # an AWS/auth problem, as in every other command
    checks = {c["name"]: c for c in r.json()["data"]["checks"]}
    assert checks["profile"]["status"] == "problem" and checks["profile"]["code"] == "aws-profile"
    assert "AWS profile 'no-such-profile' not found" in checks["profile"]["detail"]
    assert "aws configure --profile no-such-profile" in checks["profile"]["fix"]
    assert checks["region"]["status"] == "skipped"  # the region is set: it is not what is wrong
    assert "region" not in checks["profile"]["fix"]
    human = run_cli("doctor", "--profile", "no-such-profile")
    assert "set [aws] region" not in human.stdout + human.stderr and "Traceback" not in human.stderr
