"""The installed `nikkei-deepar prepare` as a subprocess against a moto server on 127.0.0.1.

Nothing is patched in the child: it finds the server through `AWS_ENDPOINT_URL` and the fake credentials
the hermetic fixture put in the environment, exactly as it would find AWS.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

EXE = Path(sys.executable).parent / "nikkei-deepar"
PRICES = Path(__file__).resolve().parents[1] / "fixtures" / "prices"
BUCKET = "nikkei-e2e-prepare"
CHANNELS = ("train/train.json", "test/test.json", "series.json")

pytestmark = pytest.mark.e2e


def _s3(endpoint: str) -> Any:
    import boto3

    region = os.environ["AWS_DEFAULT_REGION"]
    client = boto3.client("s3", region_name=region, endpoint_url=endpoint)
    location: Any = {"LocationConstraint": region}
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration=location)
    return client


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert EXE.is_file(), f"{EXE} is not installed (pip install -e .)"
    env = os.environ.copy()  # fake credentials, AWS_ENDPOINT_URL, NIKKEI_DEEPAR_HOME from the fixtures
    return subprocess.run(
        [str(EXE), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "nikkei-deepar.toml"
    path.write_text(f'[aws]\nbucket = "{BUCKET}"\n', encoding="utf-8")
    return path


def test_installed_prepare_uploads_channels_to_the_moto_server(
    moto_server: str, tmp_path: Path, hermetic_env: Path
) -> None:
    s3 = _s3(moto_server)
    path = PRICES / "long" / "investing_en_new.csv"

    r = _run("prepare", "--config", str(_config(tmp_path)), "--input", str(path), "--json", cwd=tmp_path)

    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)  # one JSON document and nothing else on stdout
    assert r.stdout.lstrip().startswith("{") and r.stdout.rstrip().endswith("}")
    assert (doc["command"], doc["status"], doc["exit_code"], doc["errors"]) == ("prepare", "ok", 0, [])
    data = doc["data"]
    assert data["read"]["rows"] == 420 and data["read"]["source"] == str(path)
    # progress goes to stderr only, as plain timestamped lines (not a terminal)
    progress = r.stderr.splitlines()
    assert all(re.match(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\S* ", line) for line in progress), r.stderr
    assert sum("uploaded s3://" in line for line in progress) == 3
    assert "{" not in r.stderr

    sha16 = data["sha256"][:16]
    root = f"nikkei-deepar/nikkei-deepar/dev/data/{sha16}"  # {prefix}/{project}/{stage}: the workspace's keys
    keys = {name: f"{root}/{name}" for name in CHANNELS}
    listed = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    assert {item["Key"] for item in listed} == set(keys.values())
    assert data["uris"] == {name: f"s3://{BUCKET}/{key}" for name, key in keys.items()}
    train = s3.get_object(Bucket=BUCKET, Key=f"{root}/train/train.json")["Body"].read()
    record = json.loads(train)
    assert record["start"] == "2023-01-04 00:00:00" and "NaN" in record["target"]
    ledger = json.loads((hermetic_env / "state.json").read_text(encoding="utf-8"))
    assert ledger["data"][-1]["train_uri"] == f"s3://{BUCKET}/{root}/train/"


def test_installed_prepare_bad_file_is_one_error_line_and_a_json_error(
    moto_server: str, tmp_path: Path, hermetic_env: Path
) -> None:
    s3 = _s3(moto_server)
    path = PRICES / "bad_number.csv"

    r = _run("prepare", "--config", str(_config(tmp_path)), "--input", str(path), "--json", cwd=tmp_path)

    assert r.returncode == 3
    doc = json.loads(r.stdout)
    assert doc["errors"][0]["code"] == "data" and doc["errors"][0]["message"].startswith(f"{path}:4:")
    errors = [line for line in r.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and f"{path}:4: cannot read close" in errors[0]
    assert "Traceback" not in r.stderr
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0
    assert not (hermetic_env / "state.json").exists()
