"""`config init`: a commented config from config.example.toml, from options (no terminal) or from answers.

CliRunner's stdin is never a terminal, so the CLI tests cover the non-interactive path; the questions are
tested on the step, with `ask` answering from a script (and STS on moto for the bucket suggestion).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nikkei_deepar.config import load_config
from nikkei_deepar.errors import AwsError, ExitCode, NikkeiError, UsageError
from nikkei_deepar.steps import configure

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "config.example.toml").read_text(encoding="utf-8")


def _comments(text: str) -> list[str]:
    """Every comment in a TOML text (whole-line and trailing), in order."""
    found = []
    for line in text.splitlines():
        line = re.sub(r"^# (\w+ = )", r"\1", line)  # a commented-out setting is a setting
        at = line.find("#")
        if at >= 0:
            found.append(line[at:].lstrip("# ").strip())
    return found


class Answers:
    """An `ask` callback that answers from a script and remembers what it was asked."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, str]] = []

    def __call__(self, question: str, default: str) -> str:
        self.asked.append((question, default))
        answer = self.answers.pop(0)
        return default if answer == "" else answer


# -- the CLI, without a terminal -----------------------------------------------------------------------


def test_options_write_a_commented_config_that_validates(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    r = run_cli(
        "config",
        "init",
        "--region",
        "eu-west-1",
        "--bucket",
        "acme-nikkei-1",
        "--endpoint-name",
        "nk-ep",
        "--role-name",
        "acme-sm-role",
        "--json",
    )
    assert r.exit_code == 0, r.stderr
    doc = r.json()
    target = tmp_path / "nikkei-deepar.toml"
    assert doc["command"] == "config init"
    assert doc["data"]["path"] == str(target) and doc["data"]["replaced"] is False
    assert doc["data"]["values"] == {
        "backend": "sagemaker",
        "aws.region": "eu-west-1",
        "aws.profile": None,
        "aws.bucket": "acme-nikkei-1",
        "aws.role_name": "acme-sm-role",
        "data.source": "data/nikkei_stock_average_daily_jp.csv",
        "endpoint.name": "nk-ep",
    }
    text = target.read_text(encoding="utf-8")
    # every comment of the example survives (the values are the only difference)
    assert _comments(text) == _comments(EXAMPLE)
    assert 'bucket = "acme-nikkei-1"' in text and 'name = "nk-ep"' in text
    assert 'role_name = "acme-sm-role"' in text and 'region = "eu-west-1"' in text
    # the tool's own check accepts it (found as ./nikkei-deepar.toml); the environment's region wins there
    r = run_cli("config", "show", "--json")
    assert r.exit_code == 0
    settings = r.json()["data"]["settings"]
    assert settings["aws"]["bucket"] == "acme-nikkei-1" and settings["endpoint"]["name"] == "nk-ep"
    assert run_cli("config", "validate").exit_code == 0


def test_human_output_names_the_file_and_the_next_step(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    r = run_cli("config", "init", "--bucket", "acme-nikkei-1")  # region from AWS_DEFAULT_REGION
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[0] == f"wrote {tmp_path / 'nikkei-deepar.toml'}"
    assert "aws.region    = ap-northeast-1" in r.stdout
    assert r.stdout.splitlines()[-1] == "next: nikkei-deepar provision"
    r = run_cli("config", "init", "--bucket", "acme-nikkei-1", "--config", "other/cfg.toml")
    assert r.exit_code == 0, r.stderr
    assert f"--config {tmp_path / 'other' / 'cfg.toml'}" in r.stdout.splitlines()[-1]


def test_never_overwrites_without_force(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    target = tmp_path / "mine.toml"
    target.write_text('[aws]\nbucket = "keep-me-123"\n', encoding="utf-8")
    r = run_cli("config", "init", "--config", str(target), "--bucket", "acme-nikkei-1")
    assert r.exit_code == ExitCode.USAGE
    assert f"{target}: already exists" in r.stderr and "--force" in r.stderr
    assert target.read_text(encoding="utf-8") == '[aws]\nbucket = "keep-me-123"\n'
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".mine")] == []  # no temp file left

    r = run_cli("config", "init", "--config", str(target), "--bucket", "acme-nikkei-1", "--force", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["data"]["replaced"] is True
    assert 'bucket = "acme-nikkei-1"' in target.read_text(encoding="utf-8")


def test_sagemaker_without_bucket_fails_naming_the_option(
    run_cli: Callable[..., Any], tmp_path: Path
) -> None:
    r = run_cli("config", "init", "--json")
    assert r.exit_code == ExitCode.USAGE
    error = r.json()["errors"][0]
    assert "--bucket" in error["message"] and "--region" not in error["message"]
    assert not (tmp_path / "nikkei-deepar.toml").exists()


def test_sagemaker_without_any_region_fails_naming_the_option(
    run_cli: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    r = run_cli("config", "init", "--bucket", "acme-nikkei-1")
    assert r.exit_code == ExitCode.USAGE
    assert "missing --region (or AWS_REGION)" in r.stderr
    assert not (tmp_path / "nikkei-deepar.toml").exists()


def test_local_backend_needs_no_bucket(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    r = run_cli("config", "init", "--backend", "local", "--no-input", "--json")
    assert r.exit_code == 0, r.stderr
    values = r.json()["data"]["values"]
    assert values["backend"] == "local" and values["aws.bucket"] is None
    text = (tmp_path / "nikkei-deepar.toml").read_text(encoding="utf-8")
    assert 'backend = "local"' in text
    assert '# bucket = "my-nikkei-deepar-bucket"' in text  # left unset, still documented
    assert run_cli("config", "validate").exit_code == 0


def test_bad_option_values_fail_before_writing(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    r = run_cli("config", "init", "--bucket", "Not_A_Bucket")
    assert r.exit_code == ExitCode.USAGE
    assert "--bucket 'Not_A_Bucket': S3 bucket names are" in r.stderr
    r = run_cli("config", "init", "--bucket", "acme-nikkei-1", "--backend", "cloud")
    assert r.exit_code == ExitCode.USAGE and "--backend 'cloud'" in r.stderr
    assert list(tmp_path.glob("*.toml")) == []


def test_data_source_is_written_relative_to_the_config(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    (tmp_path / "cfg" / "data").mkdir(parents=True)
    (tmp_path / "cfg" / "data" / "n225.csv").write_text("Date,Close\n", encoding="utf-8")
    r = run_cli(
        "config",
        "init",
        "--config",
        "cfg/n.toml",
        "--bucket",
        "acme-nikkei-1",
        "--data-source",
        "cfg/data/n225.csv",
        "--json",
    )
    assert r.exit_code == 0, r.stderr
    assert r.json()["data"]["values"]["data.source"] == "data/n225.csv"
    assert r.json()["warnings"] == []
    r = run_cli(
        "config", "init", "--config", "s.toml", "--backend", "local", "--data-source", "stooq", "--json"
    )
    assert r.json()["data"]["values"]["data.source"] == "stooq"


def test_without_a_terminal_nothing_is_asked(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    # CliRunner's stdin is not a terminal: typed input is ignored, options decide
    r = run_cli("config", "init", "--bucket", "acme-nikkei-1", input="eu-west-1\nother-bucket\nep\n")
    assert r.exit_code == 0, r.stderr
    assert "AWS region" not in r.stderr and "endpoint name" not in r.stderr
    text = (tmp_path / "nikkei-deepar.toml").read_text(encoding="utf-8")
    assert 'region = "ap-northeast-1"' in text
    # no --endpoint-name: the name stays the stage-aware default, commented out
    assert '# name = "nikkei-deepar-dev"' in text
    assert load_config(tmp_path / "nikkei-deepar.toml", env={}, cwd=tmp_path).settings.endpoint.name == (
        "nikkei-deepar-dev"
    )


# -- the step, with questions ----------------------------------------------------------------------------


def test_asks_region_bucket_and_endpoint_suggesting_a_bucket_from_sts(
    aws: None, step_context: Callable[..., Any], tmp_path: Path
) -> None:
    ctx = step_context()
    ask = Answers("", "", "nk-prod")  # accept the region and bucket suggestions
    result = configure.init(
        ctx, path=tmp_path / "n.toml", ask=ask, env={"AWS_DEFAULT_REGION": "ap-northeast-1"}
    )
    assert [default for _, default in ask.asked] == [
        "ap-northeast-1",
        "nikkei-deepar-123456789012-ap-northeast-1",
        "nikkei-deepar-dev",
    ]
    assert result.values["aws.bucket"] == "nikkei-deepar-123456789012-ap-northeast-1"
    assert result.values["endpoint.name"] == "nk-prod"
    text = (tmp_path / "n.toml").read_text(encoding="utf-8")
    assert 'bucket = "nikkei-deepar-123456789012-ap-northeast-1"' in text
    assert _comments(text) == _comments(EXAMPLE)
    assert ctx.reporter.warnings == []


def test_the_suggestion_follows_the_region_answer(
    aws: None, step_context: Callable[..., Any], tmp_path: Path
) -> None:
    ask = Answers("us-west-2", "", "")
    result = configure.init(step_context(), path=tmp_path / "n.toml", ask=ask, env={})
    assert ask.asked[0][1] == "ap-northeast-1"  # nothing in the environment: the Tokyo default
    assert result.values["aws.region"] == "us-west-2"
    assert result.values["aws.bucket"] == "nikkei-deepar-123456789012-us-west-2"


def test_without_working_credentials_the_suggestion_says_why(
    step_context: Callable[..., Any], tmp_path: Path
) -> None:
    def no_credentials(region: str, profile: str | None) -> str:
        raise AwsError("checking the AWS credentials (sts get-caller-identity): no AWS credentials found")

    ctx = step_context()
    ask = Answers("", "", "")
    result = configure.init(ctx, path=tmp_path / "n.toml", ask=ask, env={}, account_id=no_credentials)
    assert ask.asked[1][1] == "nikkei-deepar-ap-northeast-1"
    assert result.values["aws.bucket"] == "nikkei-deepar-ap-northeast-1"
    (warning,) = ctx.reporter.warnings
    assert "without the account id" in warning and "no AWS credentials found" in warning


def test_options_given_are_not_asked(step_context: Callable[..., Any], tmp_path: Path) -> None:
    def unused(region: str, profile: str | None) -> str:
        raise AssertionError("no suggestion needed when --bucket is given")

    ask = Answers("")
    result = configure.init(
        step_context(),
        path=tmp_path / "n.toml",
        region="eu-central-1",
        bucket="acme-nikkei-1",
        ask=ask,
        env={},
        account_id=unused,
    )
    assert [q for q, _ in ask.asked] == ["SageMaker endpoint name"]
    assert result.values["aws.region"] == "eu-central-1"


def test_a_bad_answer_is_asked_again_then_gives_up(step_context: Callable[..., Any], tmp_path: Path) -> None:
    ctx = step_context()
    ask = Answers("Tokyo", "ap-northeast-3", "", "")
    result = configure.init(
        ctx, path=tmp_path / "n.toml", ask=ask, env={}, account_id=lambda r, p: "111122223333"
    )
    assert result.values["aws.region"] == "ap-northeast-3"
    assert "not an AWS region name" in ctx.reporter.stream.getvalue()

    ask = Answers("Tokyo", "tokyo", "TOKYO")
    with pytest.raises(UsageError, match="after 3 tries") as err:
        configure.init(ctx, path=tmp_path / "m.toml", ask=ask, env={})
    assert err.value.hint == "pass --region instead"
    assert not (tmp_path / "m.toml").exists()


def test_existing_file_is_refused_before_any_question(
    step_context: Callable[..., Any], tmp_path: Path
) -> None:
    target = tmp_path / "n.toml"
    target.write_text("# mine\n", encoding="utf-8")
    ask = Answers()
    with pytest.raises(UsageError, match="already exists"):
        configure.init(step_context(), path=target, ask=ask, env={})
    assert ask.asked == [] and target.read_text(encoding="utf-8") == "# mine\n"


# -- the template --------------------------------------------------------------------------------------


def test_render_sets_uncomments_and_comments_out_by_table() -> None:
    text = configure.render_config(
        EXAMPLE, {"aws.profile": "work", "aws.bucket": None, "endpoint.name": 'we"ird'}
    )
    assert '\nprofile = "work"' in text  # the example's commented line, now set
    assert '\n# bucket = "my-nikkei-deepar-bucket"' in text
    assert 'name = "we\\"ird"' in text
    # [aws.tags] project / [training] and other tables are untouched
    assert text.count('"nikkei-deepar"') == EXAMPLE.count('"nikkei-deepar"')
    with pytest.raises(NikkeiError, match=r"no line for aws\.nothing"):
        configure.render_config(EXAMPLE, {"aws.nothing": "x"})


def test_rendered_example_round_trips_through_toml() -> None:
    import tomllib

    odd = "データ/日経 225\x7f.csv"
    parsed = tomllib.loads(configure.render_config(EXAMPLE, {"data.source": odd}))
    assert parsed["data"]["source"] == odd
    assert json.dumps(parsed["aws"]["tags"]) == '{"project": "nikkei-deepar", "stage": "dev"}'


def test_profile_option_is_written(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    # --profile names the credentials the later commands should use too, so it goes into the file
    r = run_cli("config", "init", "--bucket", "acme-nikkei-1", "--profile", "work", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["data"]["values"]["aws.profile"] == "work"
    text = (tmp_path / "nikkei-deepar.toml").read_text(encoding="utf-8")
    assert '\nprofile = "work"' in text and '# profile = "default"' not in text


def test_the_file_is_named_the_way_every_command_names_it(
    run_cli: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--config FILE, else $NIKKEI_DEEPAR_CONFIG, else ./nikkei-deepar.toml; the file is not read first."""
    monkeypatch.setenv("NIKKEI_DEEPAR_CONFIG", str(tmp_path / "from-env.toml"))
    r = run_cli("config", "init", "--backend", "local", "--no-input")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "from-env.toml").is_file() and "warning" not in r.stderr
    assert run_cli("config", "validate").exit_code == 0  # the next command reads the same file


def test_path_is_a_deprecated_alias_of_config(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    r = run_cli("config", "init", "--backend", "local", "--path", "old.toml", "--json")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "old.toml").is_file()
    assert r.json()["warnings"] == [
        "config init: --path is deprecated and will be removed: use --config FILE"
    ]
    r = run_cli("config", "init", "--backend", "local", "--path", "a.toml", "--config", "b.toml")
    assert r.exit_code == ExitCode.USAGE and "give only --config" in r.stderr
    assert not (tmp_path / "a.toml").exists() and not (tmp_path / "b.toml").exists()
    assert "--path" not in run_cli("config", "init", "--help").stdout  # hidden: one way is shown
