"""`assert_deployed_picture(result, deployed, kinds=)`: what `status` shows of a trained and deployed
workspace, the same on every backend (tests/steps/test_status.py on FakeBackend, tests/backends/sagemaker/
test_status_on_sagemaker.py on moto); returns (to_data(), the text) for each backend's own extras."""

from __future__ import annotations

from typing import Any

import pytest

from nikkei_deepar import costs
from nikkei_deepar.errors import ExitCode
from sagemaker_script import REGION

EP = "nikkei-deepar-dev"  # the default endpoint: {project}-{stage}


def assert_deployed_picture(result: Any, deployed: Any, *, kinds: list[str]) -> tuple[dict[str, Any], str]:
    data: dict[str, Any] = result.to_data()
    assert result.exit_code == ExitCode.OK and data["checked"] is True
    assert (data["backend"], data["region"]) == ("sagemaker", REGION)
    assert data["data"]["sha256"] == "ab" * 32
    job = data["job"]
    assert (job["name"], job["status"], job["ledger_status"]) == (deployed.job, "Completed", "Completed")
    assert job["metrics"]["test:mean_wQuantileLoss"] == pytest.approx(0.0213)
    endpoint = data["endpoint"]
    assert (endpoint["status"], endpoint["serving_job"], endpoint["config"]) == (
        "InService",
        deployed.job,
        deployed.endpoint_config,
    )
    assert endpoint["variant"] == {"serverless": False, "instance_type": "ml.m5.large", "instance_count": 1}
    cost = endpoint["cost"]
    assert cost["hourly_usd"] == pytest.approx(costs.HOURLY_USD[REGION]["ml.m5.large"])
    assert cost["monthly_usd"] == pytest.approx(costs.HOURLY_USD[REGION]["ml.m5.large"] * 730, abs=0.01)
    assert (cost["source"], cost["price_date"], cost["approximate"]) == (
        "built-in table",
        costs.PRICE_DATE,
        True,
    )
    assert data["deployment"]["job"] == deployed.job
    assert data["drift"] == {"missing": [], "untracked": []}
    assert all(r["exists"] for r in data["resources"])
    assert sorted(r["kind"] for r in data["resources"]) == kinds

    lines = result.to_lines()
    text = "\n".join(lines)
    # the job's test metrics one per line, aligned, under the job line (not 11 on one line)
    job_line = next(i for i, line in enumerate(lines) if line.startswith("job:"))
    assert lines[job_line + 1 : job_line + 3] == [
        "          test:RMSE                412.50",
        "          test:mean_wQuantileLoss  0.02130",
    ]
    assert f"endpoint: {EP}: InService, ml.m5.large x1, serving job {deployed.job}" in text
    assert f"/hour, ${cost['monthly_usd']:,.2f}/month" in text and f"as of {costs.PRICE_DATE}" in text
    assert "drift: none" in text and "bills every hour" in text
    return data, text
