"""[endpoint] expires_after, deploy --expires-in values, [costs] max_usd_per_day and the refused idle key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from nikkei_deepar.config import EndpointSettings, load_config
from nikkei_deepar.durations import format_duration, parse_duration
from nikkei_deepar.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("24h", dt.timedelta(hours=24)),
        ("90m", dt.timedelta(minutes=90)),
        ("7d", dt.timedelta(days=7)),
        ("1d12h", dt.timedelta(days=1, hours=12)),
        ("2h30m", dt.timedelta(hours=2, minutes=30)),
        (" 3H ", dt.timedelta(hours=3)),
    ],
)
def test_durations(text: str, span: dt.timedelta) -> None:
    assert parse_duration(text) == span
    assert parse_duration(format_duration(span)) == span


@pytest.mark.parametrize("text", ["", "h", "24", "1.5h", "-1h", "1h1d", "24 hours", "1w", "off"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="a duration is"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["２h", "2h\n", "\t2h", "2h\x00", "١h", "2ｈ"])
def test_only_ascii_durations_without_control_characters_are_read(text: str) -> None:
    # `\d` matches the full-width "２" and int() reads it as 2: "２h" looked like 2 hours and was taken
    with pytest.raises(ValueError, match="a duration is") as caught:
        parse_duration(text)
    assert repr(text) in str(caught.value) and "\n" not in str(caught.value)
    if not text.isascii():
        assert "in ASCII digits and letters" in str(caught.value)


@pytest.mark.parametrize("text", ["99999999999999999999d", "999999999999999m", "1" * 5000 + "h"])
def test_a_duration_past_any_timedelta_is_a_value_error_not_an_overflow(text: str) -> None:
    with pytest.raises(ValueError, match="longer than any this tool can count"):
        parse_duration(text)
    with pytest.raises(ValueError, match="between 15m and 365d") as caught:
        EndpointSettings().expiry(text)
    assert len(str(caught.value)) < 200


def test_real_time_endpoints_expire_after_a_day_by_default() -> None:
    assert EndpointSettings().expiry() == dt.timedelta(hours=24)
    assert EndpointSettings(expires_after="6h").expiry() == dt.timedelta(hours=6)
    assert EndpointSettings(expires_after="off").expiry() is None
    assert EndpointSettings(expires_after="OFF").expires_after == "off"


def test_serverless_endpoints_do_not_expire_unless_asked() -> None:
    assert EndpointSettings(serverless=True).expiry() is None
    assert EndpointSettings(serverless=True, expires_after="24h").expiry() == dt.timedelta(hours=24)


def test_expires_in_overrides_the_config() -> None:
    settings = EndpointSettings(expires_after="24h")
    assert settings.expiry("2h") == dt.timedelta(hours=2)
    assert settings.expiry("off") is None
    assert EndpointSettings(serverless=True).expiry("1h") == dt.timedelta(hours=1)
    with pytest.raises(ValueError, match="between 15m and 365d"):
        settings.expiry("5m")


def _load(tmp_path: Path, text: str) -> ConfigError:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={}, cwd=tmp_path)
    return info.value


def test_expiry_bounds_and_garbage_are_config_errors(tmp_path: Path) -> None:
    err = _load(tmp_path, '[endpoint]\nexpires_after = "10m"\n')
    assert err.problems == [
        "endpoint.expires_after: an endpoint expiry must be between 15m and 365d (got '10m'); "
        'use "off" for no expiry'
    ]
    err = _load(tmp_path, '[endpoint]\nexpires_after = "soon"\n')
    assert err.problems[0].startswith("endpoint.expires_after: a duration is a number of days")
    assert (
        _load(tmp_path, '[endpoint]\nexpires_after = "400d"\n')
        .problems[0]
        .startswith("endpoint.expires_after: an endpoint expiry must be between")
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ('"99999999999999999999d"', "an endpoint expiry must be between 15m and 365d"),
        ('"２h"', "a duration is a number of days, hours and/or minutes in ASCII"),
        ('"2h\\n"', "holds a control character (U+000A)"),
    ],
)
def test_expires_after_that_overflowed_or_looked_right_is_a_config_error(
    tmp_path: Path, value: str, problem: str
) -> None:
    err = _load(tmp_path, f"[endpoint]\nexpires_after = {value}\n")
    assert any(p.startswith(f"endpoint.expires_after: {problem}") for p in err.problems), err.problems


def test_idle_deletion_is_refused_with_the_reason(tmp_path: Path) -> None:
    err = _load(tmp_path, '[endpoint]\ndelete_when_idle_for = "6h"\n')
    [line] = err.problems
    assert line.startswith("endpoint: delete_when_idle_for is not supported: no CloudWatch alarm action")
    assert "expires_after" in line


@pytest.mark.parametrize("value", ["0", "-1.0", "inf", "nan", '"ten"'])
def test_max_usd_per_day_must_be_a_positive_number(tmp_path: Path, value: str) -> None:
    err = _load(tmp_path, f"[costs]\nmax_usd_per_day = {value}\n")
    assert err.problems[0].startswith("costs.max_usd_per_day:")


def test_example_config_expires_real_time_endpoints_after_24h() -> None:
    settings = load_config(ROOT / "config.example.toml", env={}).settings
    assert settings.endpoint.expires_after == "24h"
    assert settings.endpoint.expiry() == dt.timedelta(hours=24)
    assert settings.costs.max_usd_per_day is None
    assert settings.costs.live_prices is True
