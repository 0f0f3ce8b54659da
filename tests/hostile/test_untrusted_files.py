"""Files in the tool's home that something else may have replaced: the price cache (`prices.json`) and the
local backend's expiry records (`local/expiry/<endpoint>.json`).

A FIFO there used to hang `status` (and `deploy`, `predict`), a symlink to /dev/zero to fill the memory,
a 224 MB cache to take over 40 s, garbage bytes to raise UnicodeDecodeError (exit 1), and a cached price
of $1e-300 an hour to let `deploy` pass `[costs] max_usd_per_day` at "$0.00/day". Now: the cache is
ignored with one warning and rewritten, an implausible cached price is ignored with one warning, and a
broken local record is one `error:` line (exit 3). Everything that could block runs the installed
executable in a subprocess (kit.HANG_GUARD).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from e2e_shell import run_app
from hostile.kit import GOOD_PRICES, Run, assert_one_clean_error, run_exe
from nikkei_deepar.instance_prices import CACHE_FILE
from sagemaker_script import REGION, create_hosting

EP = "nikkei-deepar-dev"  # the default endpoint: {project}-{stage}
SAGEMAKER = f'[aws]\nregion = "{REGION}"\nbucket = "nikkei-deepar-hostile-test"\n'


def _break(path: Path, kind: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(path)  # nobody ever writes to it: opening it for reading blocks for ever
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")  # endless zeros
    elif kind == "huge":
        with path.open("wb") as fh:  # 224 MB on paper (sparse): nothing to read that fast
            fh.truncate(224 * 1024 * 1024)
    else:
        path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\xfd garbage " * 10)


def _warnings(r: Run) -> list[str]:
    return [line for line in r.stderr.splitlines() if "warning:" in line]


# -- the price cache ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "huge"])
def test_status_with_a_price_cache_that_is_no_file_ends_and_warns_once(
    kind: str, moto_server: str, tmp_path: Path, tool_home: Path
) -> None:
    # an endpoint to price: status asks the Price List (moto has none), after reading the cache
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    create_hosting(boto3.client("sagemaker", region_name=REGION), EP, {"managed-by": "x"}, role_arn=role)
    (tmp_path / "nikkei-deepar.toml").write_text(SAGEMAKER, encoding="utf-8")
    _break(tool_home / CACHE_FILE, kind)

    r = run_exe("status", "--json", cwd=tmp_path)

    assert r.exit_code == 0, r.stderr
    assert "Traceback" not in r.stderr
    [warning] = _warnings(r)
    assert f"{tool_home / CACHE_FILE}: the price cache is " in warning and "ignored" in warning
    assert r.json()["data"]["endpoint"]["cost"]["source"] == "built-in table"
    cache = tool_home / CACHE_FILE
    assert cache.is_file() and not cache.is_symlink() and cache.stat().st_size < 10_000  # rewritten


def test_a_cached_price_of_1e_300_does_not_pass_the_daily_budget(
    cli: Callable[..., Any], sm_script: Any, tool_home: Path
) -> None:
    from sagemaker_script import completed

    Path("nikkei-deepar.toml").write_text(
        Path("nikkei-deepar.toml").read_text() + "\n[costs]\nmax_usd_per_day = 1.0\n", encoding="utf-8"
    )
    now = dt.datetime.now(dt.UTC).isoformat()
    entry = {"usd_per_hour": 1e-300, "fetched_at": now, "reason": None}
    (tool_home / CACHE_FILE).write_text(
        json.dumps({"version": 1, "entries": {f"{REGION}/ml.m5.large": entry}}), encoding="utf-8"
    )
    sm_script.next_training(completed())
    assert cli("train", "--wait").exit_code == 0

    r = cli("deploy")

    line = assert_one_clean_error(
        Run(r.exit_code, r.stdout, r.stderr), 2, "about $3.58/day", "max_usd_per_day = 1"
    )
    assert "$0.00/day" not in line
    [warning] = _warnings(Run(r.exit_code, r.stdout, r.stderr))
    assert "cached price ignored: $1e-300/hour for ml.m5.large is more than 10x" in warning


# -- the local backend's expiry records -------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["fifo", "garbage"])
def test_status_and_predict_with_a_broken_expiry_record_say_so_in_one_line(
    kind: str, project: Path, hermetic_env: Path
) -> None:
    assert run_exe("prepare", "--input", str(GOOD_PRICES), cwd=project).exit_code == 0
    record = hermetic_env / "local" / "expiry" / f"{EP}.json"
    _break(record, kind)
    why = "a FIFO (named pipe), not a record" if kind == "fifo" else "corrupt (not UTF-8 text)"
    for command in ("status", "predict"):
        r = run_exe(command, cwd=project)
        assert_one_clean_error(r, 3, f"{record}: the local record is {why}")
        assert "move it away" in r.stderr


@pytest.mark.local
def test_deploy_with_a_broken_expiry_record_creates_nothing(project: Path, hermetic_env: Path) -> None:
    pytest.importorskip("gluonts")
    (project / "nikkei-deepar.toml").write_text(
        'backend = "local"\n[training.hyperparameters]\nepochs = 1\nnum_cells = 8\nnum_layers = 1\n'
        "num_eval_samples = 10\n",
        encoding="utf-8",
    )
    quick = {"NIKKEI_DEEPAR_LOCAL_BATCHES": "1"}
    # the scene: a trained model (in this process, which has imported torch once); the deploys below are
    # the installed executable's
    assert run_exe("prepare", "--input", str(GOOD_PRICES), cwd=project).exit_code == 0
    assert run_app(["train", "--wait"], env={**os.environ, **quick}, cwd=project).returncode == 0
    record = hermetic_env / "local" / "expiry" / f"{EP}.json"
    for kind, why in (("fifo", "a FIFO (named pipe), not a record"), ("garbage", "corrupt (not UTF-8 text)")):
        _break(record, kind)
        r = run_exe("deploy", cwd=project)
        assert_one_clean_error(r, 3, f"{record}: the local record is {why}")
        assert not (hermetic_env / "local" / "endpoints").exists()  # nothing half made
        record.unlink()
