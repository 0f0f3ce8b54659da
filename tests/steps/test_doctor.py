"""`doctor` on the local backend, and through the CLI (its JSON envelope and exit code). The SageMaker
backend's checks (region, credentials, bucket, role, PassRole, ledger): tests/backends/sagemaker/
test_doctor_on_sagemaker.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nikkei_deepar.errors import ExitCode
from nikkei_deepar.output import ENVELOPE_KEYS
from nikkei_deepar.steps import doctor
from sagemaker_script import make_context, settings_for

BUCKET = "nikkei-deepar-doctor-bucket"


def _only_problem(result: doctor.DoctorResult) -> doctor.Check:
    problems = result.problems
    assert len(problems) == 1, [c.to_data() for c in problems]
    return problems[0]


# -- the local backend -----------------------------------------------------------------------------------
def test_local_backend_checks(hermetic_env: Path) -> None:
    pytest.importorskip("gluonts")
    result = doctor.run(make_context(hermetic_env, settings_for(backend="local")))
    assert [c.name for c in result.checks] == [
        "config",
        "local-extra",
        "local-store",
        "ledger",
        "ledger-lock",
    ]
    assert result.exit_code == ExitCode.OK, [c.to_data() for c in result.checks]


def test_local_backend_without_the_extra(hermetic_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "gluonts" else real(name, *a)
    )
    check = _only_problem(doctor.run(make_context(hermetic_env, settings_for(backend="local"))))
    assert (check.name, check.exit_code) == ("local-extra", ExitCode.USAGE)
    assert "pip install 'nikkei-deepar[local]'" in (check.fix or "")


def test_local_store_that_is_not_a_folder(hermetic_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nikkei_deepar.backends.local import checks as local_checks

    monkeypatch.setattr(
        local_checks, "_local_extra", lambda: doctor.ok("local-extra", "skipped in this test")
    )
    hermetic_env.mkdir(parents=True, exist_ok=True)
    (hermetic_env / "local").write_text("a file", encoding="utf-8")
    check = _only_problem(doctor.run(make_context(hermetic_env, settings_for(backend="local"))))
    assert (check.name, check.exit_code) == ("local-store", ExitCode.USAGE)


# -- the CLI -----------------------------------------------------------------------------------------------
def test_doctor_json_and_exit_code_through_the_cli(aws: None, run_cli: Any, tmp_path: Path) -> None:
    (tmp_path / "nikkei-deepar.toml").write_text(f'[aws]\nbucket = "{BUCKET}"\n')
    r = run_cli("doctor", "--json")
    assert r.exit_code == ExitCode.NOT_FOUND
    doc = r.json()
    assert tuple(doc) == ENVELOPE_KEYS
    assert (doc["command"], doc["status"], doc["exit_code"]) == ("doctor", "error", 5)
    assert doc["data"]["ok"] is False
    names = [c["name"] for c in doc["data"]["checks"]]
    assert names[:4] == ["config", "region", "credentials", "bucket"]
    assert doc["errors"][0]["code"] == "bucket-missing" and "provision" in doc["errors"][0]["hint"]
    human = run_cli("doctor")
    assert human.exit_code == 5 and "fix: run `nikkei-deepar provision`" in human.stdout


def test_a_broken_config_gets_the_config_exit_code(run_cli: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[training.hyperparameters]\nepochs = 0\n")
    r = run_cli("doctor", "--config", str(bad), "--json")
    assert r.exit_code == ExitCode.USAGE
    assert r.json()["errors"][0]["code"] == "config"
