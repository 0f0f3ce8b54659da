"""Times people read are shown in their zone, the zone named: `[output] timezone`, else $TZ, else the
machine's; --json keeps UTC (ISO 8601)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from nikkei_deepar.config import Settings
from nikkei_deepar.errors import ConfigError
from nikkei_deepar.expiry_view import ExpiryView
from nikkei_deepar.timezones import display_zone, local_time

NOON_UTC = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)


def test_the_setting_then_tz_then_the_machine() -> None:
    assert display_zone("Asia/Tokyo", env={"TZ": "Europe/London"}) == ZoneInfo("Asia/Tokyo")
    assert display_zone(None, env={"TZ": "Europe/London"}) == ZoneInfo("Europe/London")
    assert display_zone(None, env={"TZ": ":Asia/Tokyo"}) == ZoneInfo("Asia/Tokyo")  # glibc's spelling
    assert display_zone(None, env={"TZ": "JST-9"}) is None  # a POSIX rule: the machine's zone follows it
    assert display_zone(None, env={}) is None


def test_local_time_names_the_zone() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    assert local_time(NOON_UTC, tokyo) == "2026-12-07 12:00 JST"
    assert local_time("2026-12-07T03:00:00Z", tokyo) == "2026-12-07 12:00 JST"  # as the ledger keeps it
    assert local_time("2026-12-07T03:00:00", dt.UTC) == "2026-12-07 03:00 UTC"  # naive: UTC
    assert local_time(NOON_UTC, ZoneInfo("America/New_York")) == "2026-12-06 22:00 EST"
    assert local_time(None, tokyo) == "?" and local_time("soon", tokyo) == "soon"


def test_an_unknown_zone_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="not an IANA time zone"):
        Settings.model_validate({"output": {"timezone": "Tokyo/Japan"}})
    from nikkei_deepar.config import load_config

    path = Path("bad.toml")
    path.write_text('[output]\ntimezone = "JST"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert raised.value.problems == [
        "output.timezone: not an IANA time zone such as Asia/Tokyo or UTC (got 'JST')"
    ]


def test_the_expiry_line_in_tokyo_time() -> None:
    view = ExpiryView(at=NOON_UTC, now=NOON_UTC - dt.timedelta(hours=2), zone=ZoneInfo("Asia/Tokyo"))
    assert view.line() == "expires 2026-12-07 12:00 JST (in 2h)"
    assert view.to_data()["expires_at"] == "2026-12-07T03:00:00+00:00"  # --json: UTC


def test_status_shows_times_in_the_configured_zone_and_json_stays_utc(cli: Callable[..., Any]) -> None:
    config = Path("nikkei-deepar.toml")
    config.write_text(config.read_text(encoding="utf-8") + '\n[output]\ntimezone = "Asia/Tokyo"\n')
    human = cli("status")
    [data_line] = [line for line in human.stdout.splitlines() if line.startswith("data:")]
    prepared = cli("status", "--json").json()["data"]["data"]["prepared_at"]
    assert prepared.endswith("Z")  # --json: UTC
    shown = dt.datetime.fromisoformat(prepared.replace("Z", "+00:00")).astimezone(ZoneInfo("Asia/Tokyo"))
    assert data_line.endswith(f"prepared {shown:%Y-%m-%d %H:%M} JST")
