"""The local DeepAR's input checks: channel lines and inference requests, without gluonts or torch."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import pytest

from nikkei_deepar.engine.hyperparameters import parse_hyperparameters
from nikkei_deepar.engine.inputs import parse_channel, parse_request
from nikkei_deepar.errors import DataError

SETTINGS = parse_hyperparameters(
    {"time_freq": "D", "prediction_length": "3", "context_length": "5", "epochs": "1"}
)
START = "2022-01-03 00:00:00"


def _lines(*records: Any) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records).encode()


def test_a_channel_reads_every_series_with_missing_values_as_nan() -> None:
    data = _lines({"start": START, "target": [1.0, None, "NaN", 4]}, "", {"start": START, "target": [2]})
    series = parse_channel(data, "train", SETTINGS, required=True)
    assert [s.start for s in series] == [START, START]
    assert [None if math.isnan(v) else v for v in series[0].target.tolist()] == [1.0, None, None, 4.0]
    assert series[1].target.tolist() == [2.0]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe", "the train channel is not UTF-8 text"),
        (b"", "the train channel holds no series"),
        (_lines({"start": START, "target": [1]}, "{oops"), "train line 2: not JSON"),
        (_lines([1, 2]), "train line 1: expected a JSON object with start and target"),
        (_lines({"start": "2022/1/4", "target": [1]}), "train line 1: start '2022/1/4' is not"),
        (_lines({"start": START, "target": []}), "train line 1: target must be a non-empty list"),
        (_lines({"start": START, "target": [1, "x"]}), "train line 1: target[1] = 'x' is not a number"),
        (_lines({"start": START, "target": [None, "NaN"]}), "train line 1: every target value is missing"),
        (_lines({"start": START, "target": [1], "cat": [0]}), "field(s) cat not supported"),
    ],
)
def test_a_bad_channel_line_is_named(data: bytes, message: str) -> None:
    with pytest.raises(DataError) as info:
        parse_channel(data, "train", SETTINGS, required=True)
    assert message in info.value.message


def test_a_test_series_too_short_to_score_is_refused_and_an_empty_test_channel_is_allowed() -> None:
    assert parse_channel(b"", "test", SETTINGS, required=False) == []
    with pytest.raises(
        DataError, match=r"test line 1: 3 points; a test series needs more than prediction_length"
    ):
        parse_channel(_lines({"start": START, "target": [1, 2, 3]}), "test", SETTINGS, required=False)


def test_a_request_without_configuration_gets_the_defaults() -> None:
    request = parse_request({"instances": [{"start": START, "target": [1.0] * 5}]}, SETTINGS)
    assert len(request.instances) == 1
    assert (request.num_samples, request.output_types) == (100, ["mean", "quantiles"])
    assert request.quantiles == [("0.1", 0.1), ("0.5", 0.5), ("0.9", 0.9)]


def test_a_request_keeps_the_quantile_keys_as_spelled() -> None:
    body = {
        "instances": [{"start": START, "target": [1.0] * 6}],
        "configuration": {"num_samples": 7, "output_types": ["quantiles"], "quantiles": ["0.50", 0.9]},
    }
    request = parse_request(body, SETTINGS)
    assert request.num_samples == 7 and request.quantiles == [("0.50", 0.5), ("0.9", 0.9)]


@pytest.mark.parametrize(
    ("configuration", "message"),
    [
        ({"num_samples": 0}, "num_samples must be a positive integer"),
        ({"num_samples": True}, "num_samples must be a positive integer"),
        ({"temperature": 1}, "unknown configuration key(s): temperature"),
        ({"quantiles": "0.5"}, "configuration.quantiles must be a list"),
    ],
)
def test_a_bad_configuration_is_named(configuration: dict[str, Any], message: str) -> None:
    body = {"instances": [{"start": START, "target": [1.0] * 5}], "configuration": configuration}
    with pytest.raises(DataError) as info:
        parse_request(body, SETTINGS)
    assert message in info.value.message


def test_an_instance_whose_context_is_all_missing_is_refused() -> None:
    body = {"instances": [{"start": START, "target": [1.0] + [None] * 5}]}
    with pytest.raises(
        DataError, match=r"instances\[0\]: the last context_length \(5\) points are all missing"
    ):
        parse_request(body, SETTINGS)


def test_parsing_needs_neither_torch_nor_gluonts() -> None:
    import subprocess

    code = "import sys, nikkei_deepar.engine.inputs; print(sorted({'torch', 'gluonts'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"
