"""Planted secrets through every output path: the error line, the hint, the --json envelope, progress and
--verbose lines, a --debug traceback. None may carry an access key id, a secret key, a session token, a
SigV4 signature or a URL credential, however the text got there (a botocore message quoting a request
header, an exception from a bug, a value in the environment).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nikkei_deepar.redact import clean, escape_controls, redact, redact_tree

KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLETOKENxyz0123456789abcdefFAKE=="
SIGNATURE = "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"
# what botocore raised when a region with a trailing newline reached the Host header (issue 12)
INVALID_HEADER = (
    "Invalid header value b'AWS4-HMAC-SHA256 Credential="
    f"{KEY_ID}/20250101/ap-northeast-1/sagemaker/aws4_request, "
    f"SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature={SIGNATURE}'"
)
PRESIGNED = (
    "https://bucket.s3.amazonaws.com/key?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    f"&X-Amz-Credential={KEY_ID}%2F20250101%2Fap-northeast-1%2Fs3%2Faws4_request&X-Amz-Date=20250101T000000Z"
    f"&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Security-Token={TOKEN}&X-Amz-Signature={SIGNATURE}"
)
PLANTED = [KEY_ID, SECRET, TOKEN, SIGNATURE, "s3cr3t-pa55", "tok-123456789"]


@pytest.fixture
def planted_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "nikkei-deepar.toml").write_text('backend = "local"\n', encoding="utf-8")
    return tmp_path


def assert_clean(*texts: str) -> None:
    for text in texts:
        for secret in PLANTED:
            assert secret not in text, (secret, text)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (INVALID_HEADER, ["Invalid header value", "AWS4-HMAC-SHA256 ***"]),
        (
            f"Authorization: AWS4-HMAC-SHA256 Credential={KEY_ID}/x, Signature={SIGNATURE}",
            ["Authorization: ***"],
        ),
        (
            f"'Authorization': 'Basic dXNlcjpwYXNz', 'X-Amz-Security-Token': '{TOKEN}'",
            ["'X-Amz-Security-Token': '***"],
        ),
        (
            PRESIGNED,
            ["X-Amz-Credential=***", "X-Amz-Signature=***", "X-Amz-Expires=3600", "bucket.s3.amazonaws.com"],
        ),
        (
            "http://alice:s3cr3t-pa55@example.com/p?token=tok-123456789&id=NIKKEI225",
            ["http://***@example.com/p"],
        ),
        (f"aws_secret_access_key = {SECRET}", ["aws_secret_access_key = ***"]),
        (f"key id {KEY_ID} and ASIAEXAMPLEEXAMPLE12", ["AKIA***", "ASIA***"]),
    ],
)
def test_redact_patterns(text: str, kept: list[str]) -> None:
    out = redact(text, env={})
    assert_clean(out)
    for piece in kept:
        assert piece in out, (piece, out)


def test_secrets_from_the_environment_are_masked_wherever_they_appear() -> None:
    env = {"AWS_SECRET_ACCESS_KEY": SECRET, "AWS_SESSION_TOKEN": TOKEN}
    assert redact(f"odd message {SECRET} and {TOKEN}", env=env) == "odd message *** and ***"
    assert redact("testing", env={"AWS_SECRET_ACCESS_KEY": "testing"}) == "testing"  # too short to hunt


def test_redact_tree_and_control_escapes() -> None:
    doc = {"errors": [{"message": INVALID_HEADER}], "n": 3, KEY_ID: [PRESIGNED, None]}
    assert_clean(str(redact_tree(doc)))
    assert redact_tree(doc)["n"] == 3
    assert escape_controls("a\nb\x1b[31m\x00\x7f\u2028\tc") == "a\\nb\\x1b[31m\\x00\\x7f\\x2028\tc"
    assert clean(f"name\n{KEY_ID}") == "name\\nAKIA***"


def _plant(monkeypatch: pytest.MonkeyPatch, failure: Callable[[], Any]) -> None:
    from nikkei_deepar.steps import status

    def run(ctx: Any, **_: Any) -> Any:
        ctx.reporter.info(f"progress with {PRESIGNED}")
        ctx.reporter.debug(
            f"verbose: request headers {{'Authorization': 'AWS4-HMAC-SHA256 Credential={KEY_ID}/x'}}"
        )
        ctx.reporter.warn(f"odd credentials {SECRET}")
        failure()

    monkeypatch.setattr(status, "run", run)


def _botocore_failure() -> None:
    import botocore.exceptions as bx

    from nikkei_deepar.aws.errors import aws_errors

    with aws_errors("creating bucket b"):
        raise bx.HTTPClientError(error=ValueError(INVALID_HEADER))


def _bug() -> None:
    raise ValueError(INVALID_HEADER + f" token={TOKEN}")


@pytest.mark.parametrize("failure", [_botocore_failure, _bug], ids=["aws-error", "internal-error"])
@pytest.mark.parametrize(
    "flags", [[], ["--json"], ["--verbose"], ["--debug"], ["--json", "--debug", "--verbose"]]
)
def test_no_output_path_carries_a_planted_secret(
    failure: Callable[[], Any],
    flags: list[str],
    planted_env: Path,
    run_cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _plant(monkeypatch, failure)
    r = run_cli("status", *flags)
    assert r.exit_code == (4 if failure is _botocore_failure else 1)
    assert "Invalid header value" in r.stderr  # the error is still told, only the secrets are not
    assert_clean(r.stdout, r.stderr)
    if "--debug" in flags and failure is _bug:
        assert "Traceback (most recent call last)" in r.stderr
    if "--json" in flags:
        assert "AWS4-HMAC-SHA256 ***" in r.json()["errors"][0]["message"]


def test_a_region_with_a_trailing_newline_is_refused_before_any_request(
    planted_env: Path, run_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    (planted_env / "nikkei-deepar.toml").write_text('[aws]\nbucket = "b-hostile-test"\n', encoding="utf-8")
    monkeypatch.setenv("AWS_REGION", "ap-northeast-1\n")
    r = run_cli("provision", "--json")
    assert r.exit_code == 2
    assert r.json()["errors"][0]["problems"] == [
        "aws.region: holds a control character (U+000A) (got 'ap-northeast-1\\n')"
    ]
    assert_clean(r.stdout, r.stderr)
