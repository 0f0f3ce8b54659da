"""The backtest table in docs/forecast-quality(.ja).md is the committed results file, rendered (it cannot
drift), and the defaults it measured are the ones both example configs ship."""

from __future__ import annotations

import importlib.util
import json
import re
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "backtest_defaults", ROOT / "bench" / "backtest_defaults.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("lang", "page"), [("en", "docs/forecast-quality.md"), ("ja", "docs/forecast-quality.ja.md")]
)
def test_the_docs_table_is_the_results_file(lang: str, page: str) -> None:
    bench = _bench()
    assert bench.PAGES[lang] == ROOT / page
    results = json.loads((ROOT / "bench" / "results" / "backtest_defaults.json").read_text())
    text = (ROOT / page).read_text(encoding="utf-8")
    block = re.search(r"<!-- generated:backtest:start -->\n(.*?)<!-- generated:backtest:end -->", text, re.S)
    assert block is not None, f"{page} has no generated backtest block"
    assert block.group(1) == bench.render(results, lang) + "\n", (
        f"{page}: run `.venv/bin/python bench/backtest_defaults.py --readme-only`"
    )


def test_the_results_file_measured_the_shipped_defaults() -> None:
    bench = _bench()
    results = json.loads((ROOT / "bench" / "results" / "backtest_defaults.json").read_text())
    example = tomllib.loads((ROOT / "config.example.toml").read_text())
    assert results["config"]["forecast"] == ", ".join(f"{k} = {v}" for k, v in example["forecast"].items())
    hyperparameters = example["training"]["hyperparameters"]
    assert results["config"]["hyperparameters"] == ", ".join(
        f"{k} = {v}" for k, v in hyperparameters.items() if k not in ("test_quantiles", "time_freq")
    )
    assert results["config"]["calendar"] == example["data"]["calendar"]
    assert {f["windows"] for f in results["files"]} == {30} and len(results["seeds"]) == 3
    assert bench.SHIPPED in results["files"][0]["models"]


def test_the_local_example_ships_the_same_forecast_settings() -> None:
    example = tomllib.loads((ROOT / "config.example.toml").read_text())
    local = tomllib.loads((ROOT / "examples" / "local.toml").read_text())
    assert local["forecast"] == example["forecast"]
    assert local["data"]["calendar"] == example["data"]["calendar"]
    for key, value in local["training"]["hyperparameters"].items():
        assert example["training"]["hyperparameters"][key] == value, key
