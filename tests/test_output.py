"""Progress on stderr: a live line on a terminal; plain timestamped lines for logs; quiet is quiet."""

from __future__ import annotations

import io
import re

import pytest

from nikkei_deepar.output import Reporter

STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{4} ")


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_not_a_terminal_gives_timestamped_plain_lines() -> None:
    stream = io.StringIO()
    reporter = Reporter.for_environment(quiet=False, verbose=False, json_mode=False, stream=stream)
    reporter.live("InProgress Training 0m30s")
    reporter.live("InProgress Training 1m00s")
    reporter.warn("careful")
    reporter.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3 and all(STAMP.match(line) for line in lines)
    assert "\r" not in stream.getvalue() and "\x1b[" not in stream.getvalue()
    assert lines[2].endswith("warning: careful")


def test_terminal_gets_one_live_line_and_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm")
    stream = Tty()
    reporter = Reporter.for_environment(quiet=False, verbose=False, json_mode=False, stream=stream)
    reporter.live("InProgress 0m30s")
    reporter.live("Completed 1m00s")
    reporter.error("boom")
    reporter.close()
    out = stream.getvalue()
    assert "\rInProgress 0m30s" in out and "\rCompleted 1m00s" in out
    assert "\x1b[31merror: boom\x1b[0m" in out
    assert not STAMP.match(out)


@pytest.mark.parametrize("setting", ["NO_COLOR", "json", "quiet"])
def test_no_colour_or_live_line_when_asked(setting: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm")
    if setting == "NO_COLOR":
        monkeypatch.setenv("NO_COLOR", "1")
    stream = Tty()
    reporter = Reporter.for_environment(
        quiet=setting == "quiet", verbose=False, json_mode=setting == "json", stream=stream
    )
    reporter.info("step")
    reporter.error("boom")
    assert "\x1b[" not in stream.getvalue()
    if setting == "quiet":
        assert "step" not in stream.getvalue() and "error: boom" in stream.getvalue()


def test_verbose_adds_debug_lines() -> None:
    quiet, chatty = io.StringIO(), io.StringIO()
    Reporter.for_environment(quiet=False, verbose=False, json_mode=False, stream=quiet).debug("request-id 1")
    Reporter.for_environment(quiet=False, verbose=True, json_mode=False, stream=chatty).debug("request-id 1")
    assert quiet.getvalue() == "" and "request-id 1" in chatty.getvalue()


def test_verbose_cli_shows_aws_request_ids(aws: None, run_cli: object, tmp_path: object) -> None:
    from pathlib import Path

    import boto3
    from tests.conftest import REGION

    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket="verbose-bucket", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    Path("nikkei-deepar.toml").write_text('[aws]\nbucket = "verbose-bucket"\n', encoding="utf-8")
    fixture = Path(__file__).resolve().parent / "fixtures" / "prices" / "long" / "yahoo.csv"
    r = run_cli("prepare", "--input", str(fixture), "--verbose")  # type: ignore[operator]
    assert r.exit_code == 0, r.stderr
    assert re.search(r"s3\.PutObject: HTTP 200 request-id \S+", r.stderr)
    r = run_cli("prepare", "--input", str(fixture))  # type: ignore[operator]
    assert "request-id" not in r.stderr


def test_numbers_have_one_precision_rule() -> None:
    from nikkei_deepar.output import number

    # 4 significant digits with trailing zeros kept: a column never mixes 3.08 with 3.845
    assert [number(v) for v in (3.08, 3.845, 0.0213, 0.00581234)] == ["3.080", "3.845", "0.02130", "0.005812"]
    assert [number(v) for v in (412.5, 50750.39, 1292.0)] == ["412.50", "50,750.39", "1,292.00"]
    assert number(0.0) == "0" and number(float("nan")) == "nan"
    assert number(0.0213456, digits=6) == "0.0213456"


def test_metrics_are_one_per_line_with_the_quantile_losses_together() -> None:
    from nikkei_deepar.output import metric_lines

    metrics = {f"test:wQuantileLoss[0.{q}]": 0.001 * q for q in range(1, 10)}
    metrics |= {"test:RMSE": 412.5, "test:mean_wQuantileLoss": 0.0058, "train:final_loss": 5.91}
    assert metric_lines(metrics, indent="  ", prefix="test:") == [
        "  test:RMSE                412.50",
        "  test:mean_wQuantileLoss  0.005800",
        "  test:wQuantileLoss       0.1: 0.001000  0.2: 0.002000  0.3: 0.003000  0.4: 0.004000  "
        "0.5: 0.005000  0.6: 0.006000  0.7: 0.007000  0.8: 0.008000  0.9: 0.009000",
    ]
    assert len(metric_lines(metrics, indent="")) == 4  # train:final_loss too, without a prefix


def test_the_gate_shows_two_close_scores_as_different() -> None:
    from nikkei_deepar.steps.retrain import _distinct

    assert _distinct(0.025, 0.02) == ("0.02500", "0.02000")
    assert _distinct(0.021341, 0.021344) == ("0.021341", "0.021344")  # 4 digits: both 0.02134
    assert _distinct(0.02, 0.02) == ("0.02000", "0.02000")
