"""`predict` against an endpoint (or a batch transform) that answers what no market can produce, or what
Python itself cannot hold: per-step returns of +1000, +300 or -1000 (100 * log return), a price model
jumping 25 % a session, a 400-digit integer, an answer nested 100,000 levels deep.

Each case: exit 4, one `error:` line naming the first bad step (or what is wrong), no traceback, no
forecast printed. The shipped random-walk blend (weight 0.8) is on throughout: it used to turn -1000 a
step into a calm "-20 %", which is why the model's own answer is checked before the blend.

In process, on moto (`cli`, scripted answers): nothing here can block, so no subprocess is needed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hostile.kit import Run, assert_one_clean_error
from sagemaker_script import (
    LIFECYCLE_CONFIG,
    REGION,
    clocked_factory,
    completed,
    deepar_response,
    demo_series,
    make_context,
    queue_endpoint_results,
    seed_prepared,
    settings_for,
    transform,
)

H = 17  # the served model's prediction_length (the shipped 5-session horizon in calendar days)


def _run(result: Any) -> Run:
    return Run(result.exit_code, result.stdout, result.stderr)


def returns_answer(per_step: float | int) -> str:
    """A log-return model's answer whose every sample moves `per_step` (100 * log return) a step."""
    return deepar_response(H, samples=[[per_step] * H] * 3)


@pytest.fixture
def returns_model(cli: Callable[..., Any], sm_script: Any) -> Callable[..., Any]:
    """The shipped config: a model trained on log returns, deployed; the blend at its shipped 0.8."""
    sm_script.next_training(completed())
    assert cli("train", "--wait").exit_code == 0
    assert cli("deploy").exit_code == 0
    return cli


@pytest.fixture
def price_model(
    aws: None, hermetic_env: Path, clock: Any, run_cli: Callable[..., Any], sm_script: Any
) -> Callable[..., Any]:
    """`[data] target = "price"`: the model's mean and quantiles are the forecast, as answered."""
    Path("nikkei-deepar.toml").write_text(LIFECYCLE_CONFIG + '\n[data]\ntarget = "price"\n', encoding="utf-8")
    seed_prepared(make_context(hermetic_env, settings_for(data={"target": "price"})))
    factory = clocked_factory(clock)

    def invoke(*args: str) -> Any:
        return run_cli(*args, factory=factory)

    sm_script.next_training(completed())
    assert invoke("train", "--wait").exit_code == 0
    assert invoke("deploy").exit_code == 0
    return invoke


@pytest.mark.parametrize(
    ("per_step", "said"),
    [
        (1000, "the prediction's mean at step 1 is "),  # was exit 0 and a day-5 mean of 5.26e25 yen
        (300, "the prediction's mean at step 1 is "),  # was 3.3e10
        (-1000, "-100.0% from the last close"),  # was a flat -20%: only the random walk's share
    ],
)
def test_returns_no_market_can_produce_are_refused_with_the_first_bad_step(
    per_step: int, said: str, returns_model: Callable[..., Any]
) -> None:
    queue_endpoint_results([returns_answer(per_step)], region=REGION)
    r = _run(returns_model("predict"))
    line = assert_one_clean_error(r, 4, said, "no market moves more than 20% in a session")
    assert "at step 1" in line
    assert r.stdout == ""  # no forecast table
    assert "train it again" in r.stderr


def test_the_json_envelope_carries_the_same_refusal(returns_model: Callable[..., Any]) -> None:
    queue_endpoint_results([returns_answer(1000)], region=REGION)
    r = returns_model("predict", "--json")
    assert r.exit_code == 4
    [error] = r.json()["errors"]
    assert error["code"] == "aws" and "at step 1 is" in error["message"] and "\n" not in error["message"]
    assert r.json()["data"] is None or "forecast" not in (r.json()["data"] or {})


def test_a_calm_answer_still_gives_a_forecast(returns_model: Callable[..., Any]) -> None:
    queue_endpoint_results([returns_answer(0.5)], region=REGION)
    r = returns_model("predict", "--format", "csv")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith("date,step,mean,")


@pytest.mark.parametrize(
    ("shift", "said"),
    [(1.25, "+25.0% from the last close"), (0.5, "-50.0% from the last close")],
)
def test_a_price_model_jumping_beyond_a_session_is_refused(
    shift: float, said: str, price_model: Callable[..., Any]
) -> None:
    last_close = demo_series().target[-1]  # what seed_prepared prepared
    queue_endpoint_results([deepar_response(H, level=last_close * shift)], region=REGION)
    r = _run(price_model("predict"))
    assert_one_clean_error(r, 4, "the prediction's mean at step 1 is", said)
    assert r.stdout == ""


def test_a_batch_answer_is_checked_like_an_endpoint_answer(
    price_model: Callable[..., Any], sm_script: Any
) -> None:
    line = json.loads(deepar_response(H, level=90_000.0))["predictions"][0]
    sm_script.next_transform(transform("Completed"), output=json.dumps(line))
    r = _run(price_model("predict", "--batch"))
    assert_one_clean_error(r, 4, "the prediction's mean at step 1 is 90,000.00", "from the last close")


@pytest.mark.parametrize(
    ("body", "said"),
    [
        # a 400-digit integer is valid JSON and no float: OverflowError (exit 1) before
        (deepar_response(H, samples=[[10**400] + [0.0] * (H - 1)]), "the prediction's sample 0 holds 1000"),
        # 100,000 levels deep: RecursionError (exit 1) before
        ('{"predictions": ' + "[" * 100_000, "the endpoint's response is JSON nested too deeply"),
    ],
    ids=["400-digit-integer", "nested-100000-deep"],
)
def test_answers_python_cannot_hold_are_one_line(
    body: str, said: str, returns_model: Callable[..., Any]
) -> None:
    queue_endpoint_results([body], region=REGION)
    r = _run(returns_model("predict"))
    line = assert_one_clean_error(r, 4, said)
    assert len(line) < 500
    assert "OverflowError" not in r.stderr and "RecursionError" not in r.stderr
