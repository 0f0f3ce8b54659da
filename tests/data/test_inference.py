"""Inference payloads: the exact request, parsing good and malformed responses, dated forecast points."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from datetime import date, timedelta

import pytest

from nikkei_deepar.data.calendar import steps_for_horizon
from nikkei_deepar.data.channels import parse_series_line
from nikkei_deepar.data.inference import (
    DatedPoint,
    Forecast,
    PriceAnchor,
    batch_input_line,
    build_request,
    dated_forecast,
    encode_request,
    format_quantile,
    inference_config,
    parse_batch_output_line,
    parse_response,
)
from nikkei_deepar.data.series import CalendarPolicy, Series
from nikkei_deepar.errors import AwsError

Q = (0.1, 0.5, 0.9)
SERIES = Series(
    policy="calendar_days",
    start=date(2022, 1, 4),
    target=(29_301.79, math.nan, 29_332.16),
    dates=(date(2022, 1, 4), date(2022, 1, 5), date(2022, 1, 6)),
)


def response(h: int = 3, *, keys: tuple[str, ...] = ("0.1", "0.5", "0.9"), **extra: object) -> str:
    prediction: dict[str, object] = {
        "mean": [100.0 + i for i in range(h)],
        "quantiles": {key: [float(key) * 1000 + i for i in range(h)] for key in keys},
    }
    prediction.update(extra)
    return json.dumps({"predictions": [prediction]})


def series_ending(last: date, policy: str) -> Series:
    return Series(policy=policy, start=last, target=(1.0,), dates=(last,))  # type: ignore[arg-type]


# --- request -------------------------------------------------------------------------------------


def test_request_is_the_documented_json() -> None:
    request = build_request(SERIES, quantiles=Q, num_samples=100)

    assert encode_request(request) == (
        b'{"instances":[{"start":"2022-01-04 00:00:00","target":[29301.79,"NaN",29332.16]}],'
        b'"configuration":{"num_samples":100,"output_types":["mean","quantiles"],'
        b'"quantiles":["0.1","0.5","0.9"]}}'
    )


def test_request_can_ask_for_samples_too() -> None:
    request = build_request(
        SERIES, quantiles=[0.5], num_samples=50, output_types=("mean", "quantiles", "samples")
    )

    assert request["configuration"] == {
        "num_samples": 50,
        "output_types": ["mean", "quantiles", "samples"],
        "quantiles": ["0.5"],
    }


@pytest.mark.parametrize(
    ("quantile", "text"), [(0.1, "0.1"), (0.5, "0.5"), (0.05, "0.05"), (0.975, "0.975"), (1e-5, "0.00001")]
)
def test_quantiles_are_strings_without_float_noise(quantile: float, text: str) -> None:
    assert format_quantile(quantile) == text


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.5])
def test_quantiles_outside_0_1_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        format_quantile(bad)


def test_inference_config_is_the_request_configuration_for_batch_transform() -> None:
    config = inference_config(quantiles=Q, num_samples=100)

    assert config == build_request(SERIES, quantiles=Q, num_samples=100)["configuration"]
    assert json.dumps(config) == (
        '{"num_samples": 100, "output_types": ["mean", "quantiles"], "quantiles": ["0.1", "0.5", "0.9"]}'
    )


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"quantiles": Q, "num_samples": 0}, "num_samples"),
        ({"quantiles": Q, "num_samples": 10, "output_types": ("quantiles",)}, "include 'mean'"),
        ({"quantiles": Q, "num_samples": 10, "output_types": ("mean", "median")}, "include 'mean'"),
        ({"quantiles": Q, "num_samples": 10, "output_types": ("mean",)}, "not among output_types"),
        ({"quantiles": (0.1, 0.10), "num_samples": 10}, "repeat"),
    ],
)
def test_inference_config_refuses_inconsistent_settings(kwargs: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        inference_config(**kwargs)  # type: ignore[arg-type]


def test_mean_only_configuration_has_no_quantiles_key() -> None:
    assert inference_config(quantiles=(), num_samples=10, output_types=("mean",)) == {
        "num_samples": 10,
        "output_types": ["mean"],
    }


def test_batch_input_line_is_a_training_style_record() -> None:
    line = batch_input_line(SERIES)

    assert line == b'{"start": "2022-01-04 00:00:00", "target": [29301.79, "NaN", 29332.16]}\n'
    start, target = parse_series_line(line)
    assert start == SERIES.start and len(target) == 3


# --- response ------------------------------------------------------------------------------------


def test_good_response_is_parsed() -> None:
    forecast = parse_response(response().encode(), quantiles=Q, prediction_length=3)

    assert forecast == Forecast(
        mean=(100.0, 101.0, 102.0),
        quantiles={"0.1": (100.0, 101.0, 102.0), "0.5": (500.0, 501.0, 502.0), "0.9": (900.0, 901.0, 902.0)},
    )


def test_quantile_keys_are_matched_by_value_and_extras_ignored() -> None:
    body = response(keys=("0.10", "0.50", "0.90", "0.2"), samples=[[1.0, 2.0, 3.0]])

    forecast = parse_response(body, quantiles=Q, prediction_length=3)

    assert list(forecast.quantiles) == ["0.1", "0.5", "0.9"]
    assert forecast.quantiles["0.1"] == (100.0, 101.0, 102.0)


def test_integer_values_are_accepted_as_floats() -> None:
    body = '{"predictions":[{"mean":[1,2],"quantiles":{"0.5":[1,2]}}]}'

    forecast = parse_response(body, quantiles=[0.5], prediction_length=2)

    assert forecast.mean == (1.0, 2.0)


MALFORMED = {
    "not json": ("Internal Server Error", "is not JSON: 'Internal Server Error'"),
    "empty": ("", "is empty"),
    "json list": ("[1, 2]", "is not a JSON object"),
    "model error": (
        '{"message": "Unable to evaluate payload provided"}',
        "error instead of predictions: 'Unable to evaluate payload provided'",
    ),
    "no predictions": ('{"result": []}', "holds no predictions"),
    "empty predictions": ('{"predictions": []}', "1 prediction, found 0"),
    "two predictions": (
        json.dumps({"predictions": [json.loads(response())["predictions"][0]] * 2}),
        "1 prediction, found 2",
    ),
    "predictions not a list": ('{"predictions": {"mean": [1]}}', "1 prediction, found dict"),
    "prediction not an object": ('{"predictions": [[1, 2, 3]]}', "not a JSON object"),
    "no mean": ('{"predictions": [{"quantiles": {}}]}', "no mean list"),
    "short mean": (response(2), "mean has 2 values, expected prediction_length 3"),
    "short quantile": (
        '{"predictions":[{"mean":[1,2,3],"quantiles":{"0.1":[1],"0.5":[1,2,3],"0.9":[1,2,3]}}]}',
        "quantile 0.1 has 1 values",
    ),
    "missing quantile": (response(keys=("0.1", "0.5")), r"lacks quantiles 0.9 \(it has: 0.1, 0.5\)"),
    "quantiles not an object": ('{"predictions":[{"mean":[1,2,3],"quantiles":[1]}]}', "not an object"),
    "string in mean": ('{"predictions":[{"mean":[1,"abc",3]}]}', 'mean holds "abc"'),
    "null in mean": ('{"predictions":[{"mean":[1,null,3]}]}', "mean holds null"),
    "nan in mean": ('{"predictions":[{"mean":[1,NaN,3]}]}', "mean holds NaN"),
    "bool in mean": ('{"predictions":[{"mean":[1,true,3]}]}', "mean holds true"),
    "duplicate quantile": (
        '{"predictions":[{"mean":[1,2,3],"quantiles":{"0.5":[1,2,3],"0.50":[1,2,3]}}]}',
        "repeats quantile",
    ),
}


@pytest.mark.parametrize(("body", "problem"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_responses_are_one_line_aws_errors(body: str, problem: str) -> None:
    with pytest.raises(AwsError, match=problem) as caught:
        parse_response(body, quantiles=Q, prediction_length=3)

    assert "\n" not in str(caught.value)
    assert caught.value.hint


def test_error_quotes_are_truncated() -> None:
    body = "<html>" + "x" * 5000 + "\n</html>"

    with pytest.raises(AwsError) as caught:
        parse_response(body, quantiles=Q, prediction_length=3)

    message = str(caught.value)
    assert "'<html>xxx" in message and message.endswith("…'")
    assert len(message) < 300


def test_undecodable_bytes_are_an_aws_error() -> None:
    with pytest.raises(AwsError, match="not UTF-8"):
        parse_response(b"\xff\xfe\x00", quantiles=Q, prediction_length=3)


def test_model_error_hint_points_at_the_request() -> None:
    with pytest.raises(AwsError) as caught:
        parse_response('{"message": "Unable to evaluate payload provided"}', quantiles=Q, prediction_length=3)

    assert "malformed request" in (caught.value.hint or "")


# --- batch output ----------------------------------------------------------------------------------


def test_batch_output_line_is_one_prediction_object() -> None:
    line = json.dumps(json.loads(response())["predictions"][0]).encode() + b"\n"

    forecast = parse_batch_output_line(line, quantiles=Q, prediction_length=3)

    assert forecast.mean == (100.0, 101.0, 102.0)
    assert forecast.quantiles["0.9"] == (900.0, 901.0, 902.0)


def test_batch_output_line_wrapped_in_predictions_is_accepted() -> None:
    forecast = parse_batch_output_line(response(), quantiles=Q, prediction_length=3)

    assert forecast.mean == (100.0, 101.0, 102.0)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('{"message": "Unable to evaluate payload provided"}', "error instead of predictions"),
        ("", "is empty"),
        ("oops", "not JSON"),
        ('{"mean": [1, 2]}', "mean has 2 values"),
    ],
)
def test_bad_batch_output_lines_are_aws_errors(line: str, problem: str) -> None:
    with pytest.raises(AwsError, match=problem):
        parse_batch_output_line(line, quantiles=Q, prediction_length=3)


# --- dated forecast --------------------------------------------------------------------------------


def seven_steps() -> Forecast:
    return Forecast(
        mean=tuple(float(i) for i in range(1, 8)),
        quantiles={"0.5": tuple(10.0 * i for i in range(1, 8))},
    )


def test_trading_days_forecast_gets_the_next_sessions_across_the_year_end() -> None:
    points = dated_forecast(
        seven_steps(), series_ending(date(2025, 12, 30), "trading_days"), prediction_length=7
    )

    assert [point.date for point in points] == [
        date(2026, 1, 5),
        date(2026, 1, 6),
        date(2026, 1, 7),
        date(2026, 1, 8),
        date(2026, 1, 9),
        date(2026, 1, 13),  # Mon Jan 12: Coming of Age Day
        date(2026, 1, 14),
    ]
    assert points[0] == DatedPoint(step=1, date=date(2026, 1, 5), mean=1.0, quantiles={"0.5": 10.0})
    assert points[-1].step == 7


def test_calendar_days_forecast_drops_weekends() -> None:
    points = dated_forecast(
        seven_steps(), series_ending(date(2026, 3, 6), "calendar_days"), prediction_length=7
    )

    # steps are numbered by trading day; DeepAR's steps 1-2 (the weekend) are skipped
    assert [(point.step, point.date) for point in points] == [
        (step - 2, date(2026, 3, 6) + timedelta(days=step)) for step in range(3, 8)
    ]
    assert [point.mean for point in points] == [3.0, 4.0, 5.0, 6.0, 7.0]
    assert points[0].quantiles == {"0.5": 30.0}


def test_calendar_days_forecast_drops_golden_week_holidays() -> None:
    points = dated_forecast(
        seven_steps(), series_ending(date(2026, 5, 1), "calendar_days"), prediction_length=7
    )

    assert [(point.step, point.date) for point in points] == [(1, date(2026, 5, 7)), (2, date(2026, 5, 8))]
    assert [point.mean for point in points] == [6.0, 7.0]


def steps_of(n: int) -> Forecast:
    return Forecast(
        mean=tuple(float(i) for i in range(1, n + 1)),
        quantiles={"0.5": tuple(10.0 * i for i in range(1, n + 1))},
    )


@pytest.mark.parametrize(
    ("last", "expected"),
    [
        # the seed file ends on Fri 2025-12-26: the year-end closure (Dec 31 - Jan 3) lies ahead
        (
            date(2025, 12, 26),
            [date(2025, 12, 29), date(2025, 12, 30), date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 7)],
        ),
        # Golden Week 2026: Apr 29 (Wed), May 4-6 closed
        (
            date(2026, 4, 28),
            [date(2026, 4, 30), date(2026, 5, 1), date(2026, 5, 7), date(2026, 5, 8), date(2026, 5, 11)],
        ),
    ],
)
@pytest.mark.parametrize("policy", ["calendar_days", "trading_days"])
def test_a_horizon_of_five_trading_days_gives_five_dated_rows(
    policy: CalendarPolicy, last: date, expected: list[date]
) -> None:
    length = steps_for_horizon(policy, 5)
    points = dated_forecast(
        steps_of(length), series_ending(last, policy), prediction_length=length, horizon=5
    )

    assert [(point.step, point.date) for point in points] == list(enumerate(expected, start=1))


def test_a_model_too_short_for_the_horizon_gives_what_it_reaches() -> None:
    # an old model: 7 calendar days from Fri 2025-12-26 reach two sessions
    points = dated_forecast(
        seven_steps(), series_ending(date(2025, 12, 26), "calendar_days"), prediction_length=7, horizon=5
    )

    assert [(point.step, point.date) for point in points] == [
        (1, date(2025, 12, 29)),
        (2, date(2025, 12, 30)),
    ]


def test_dated_forecast_refuses_a_forecast_of_another_length() -> None:
    with pytest.raises(ValueError, match="7 steps, not 5"):
        dated_forecast(seven_steps(), series_ending(date(2026, 3, 6), "calendar_days"), prediction_length=5)


# --- a model trained on log returns ------------------------------------------------------------------

FRIDAY = Series(  # Thu 2026-03-05 and Fri 2026-03-06; DeepAR's steps 1-2 are the weekend
    policy="calendar_days",
    start=date(2026, 3, 5),
    target=(38_000.0, 38_380.0),
    dates=(date(2026, 3, 5), date(2026, 3, 6)),
)


def test_a_log_return_model_is_sent_returns_and_asked_for_samples() -> None:
    request = build_request(SERIES, quantiles=Q, num_samples=100, target="log_return")

    sent = request["instances"][0]["target"]
    assert sent[:2] == ["NaN", "NaN"]  # the first close has no return; the closed day stays missing
    assert sent[2] == pytest.approx(100 * math.log(29_332.16 / 29_301.79))
    assert request["configuration"]["output_types"] == ["mean", "quantiles", "samples"]
    assert request["instances"][0]["start"] == "2022-01-04 00:00:00"


def test_a_log_return_model_gets_samples_even_if_the_caller_asked_for_less() -> None:
    request = build_request(SERIES, quantiles=(), num_samples=10, output_types=("mean",), target="log_return")

    assert request["configuration"]["output_types"] == ["mean", "samples"]


def test_a_log_return_batch_line_holds_returns() -> None:
    start, target = parse_series_line(batch_input_line(SERIES, target="log_return"))

    assert start == SERIES.start
    assert math.isnan(target[0]) and math.isnan(target[1])
    assert target[2] == pytest.approx(100 * math.log(29_332.16 / 29_301.79))


def test_the_anchor_is_the_last_close_and_closed_steps_are_flagged() -> None:
    anchor = PriceAnchor.of(FRIDAY, 4)

    assert anchor.anchor == 38_380.0
    assert anchor.trading == (False, False, True, True)  # Sat, Sun, Mon, Tue
    assert PriceAnchor.of(replace(FRIDAY, policy="trading_days"), 3).trading == (True, True, True)


def returns_response(samples: list[list[float]]) -> str:
    h = len(samples[0])
    return response(h, samples=samples)


def test_a_log_return_answer_becomes_prices_near_the_last_close() -> None:
    samples = [[0.0, 0.0, 1.0, -0.5], [0.0, 0.0, -1.0, 0.5], [0.0, 0.0, 0.0, 0.0]]

    forecast = parse_response(
        returns_response(samples),
        quantiles=Q,
        prediction_length=4,
        anchor=PriceAnchor.of(FRIDAY, 4),
        target="log_return",
    )

    assert forecast.mean[:2] == (38_380.0, 38_380.0)  # the weekend keeps Friday's close
    assert forecast.quantiles["0.5"][2] == pytest.approx(38_380.0)
    assert forecast.quantiles["0.1"][2] < 38_380.0 < forecast.quantiles["0.9"][2]
    assert forecast.quantiles["0.9"][2] == pytest.approx(38_380.0 * math.exp(0.01), rel=3e-3)
    # DeepAR's own mean/quantiles (of returns, 100 + i) are not what comes back
    assert all(37_000 < v < 40_000 for v in forecast.mean)
    dated = dated_forecast(forecast, FRIDAY, prediction_length=4)
    assert [p.date for p in dated] == [date(2026, 3, 9), date(2026, 3, 10)]


def test_a_log_return_batch_line_becomes_prices() -> None:
    line = json.dumps(json.loads(returns_response([[0.0, 0.0, 2.0]]))["predictions"][0])

    forecast = parse_batch_output_line(
        line, quantiles=[0.5], prediction_length=3, anchor=PriceAnchor.of(FRIDAY, 3), target="log_return"
    )

    assert forecast.quantiles["0.5"][2] == pytest.approx(38_380.0 * math.exp(0.02))


def test_a_log_return_answer_without_samples_is_a_one_line_aws_error() -> None:
    with pytest.raises(AwsError, match="answered no samples") as caught:
        parse_response(
            response(4),
            quantiles=Q,
            prediction_length=4,
            anchor=PriceAnchor.of(FRIDAY, 4),
            target="log_return",
        )

    assert "\n" not in str(caught.value)
    assert "samples" in (caught.value.hint or "")


def test_bad_samples_in_a_log_return_answer_are_aws_errors() -> None:
    with pytest.raises(AwsError, match="expected prediction_length 4"):
        parse_response(
            returns_response([[1.0, 2.0]]),
            quantiles=Q,
            prediction_length=4,
            anchor=PriceAnchor.of(FRIDAY, 4),
            target="log_return",
        )


# --- answers no market can produce (issue 25): refused before any blend, naming the first bad step ---
TUESDAY = replace(FRIDAY, policy="trading_days")  # every step a session: step k is the k-th session


def price_answer(mean: list[float], spread: float = 100.0) -> str:
    quantiles = {"0.1": [m - spread for m in mean], "0.5": mean, "0.9": [m + spread for m in mean]}
    return json.dumps({"predictions": [{"mean": mean, "quantiles": quantiles}]})


@pytest.mark.parametrize(
    ("per_step", "message"),
    [
        (1000.0, "the prediction's mean at step 1 is 845,375,757.20, +2,202,547% from the last close"),
        (300.0, "the prediction's mean at step 1 is 770,882.91, +1,909% from the last close"),
        (-1000.0, "the prediction's mean at step 1 is 1.74, -100.0% from the last close"),
        (25.0, "the prediction's mean at step 1 is 49,280.90, +28.4% from the last close"),
    ],
)
def test_a_log_return_answer_no_market_can_produce_is_refused_at_its_first_step(
    per_step: float, message: str
) -> None:
    # the reviewer's endpoint: +1000 (100 * log return) a step gave a day-5 mean of 5.26e25 yen, exit 0
    body = returns_response([[per_step] * 5] * 3)
    with pytest.raises(AwsError) as caught:
        parse_response(
            body, quantiles=Q, prediction_length=5, anchor=PriceAnchor.of(TUESDAY, 5), target="log_return"
        )
    assert caught.value.message.startswith(
        f"{message} (38,380.00): no market moves more than 20% in a session: "
        """'{"predictions": [{"mean": [100.0, """
    )
    assert caught.value.exit_code == 4 and "\n" not in caught.value.message
    assert "train it again" in (caught.value.hint or "") and "-14.9%" in (caught.value.hint or "")


def test_a_move_on_a_later_session_names_that_step_and_the_session_before() -> None:
    body = returns_response([[0.5, 0.5, 0.5, -30.0, 0.5]] * 3)  # -26% on the 4th session
    with pytest.raises(AwsError, match=r"mean at step 4 is 28,862\.31, -25\.9% from the session before"):
        parse_response(
            body, quantiles=Q, prediction_length=5, anchor=PriceAnchor.of(TUESDAY, 5), target="log_return"
        )


def test_a_few_wild_samples_among_many_do_not_make_the_forecast_implausible() -> None:
    samples = [[0.3, -0.2, 0.1, 0.4, -0.1]] * 399 + [[40.0, 0.0, 0.0, 0.0, 0.0]]  # one +49% path in 400
    forecast = parse_response(
        returns_response(samples),
        quantiles=Q,
        prediction_length=5,
        anchor=PriceAnchor.of(TUESDAY, 5),
        target="log_return",
    )
    assert forecast.mean[0] == pytest.approx(38_380.0 * (0.9975 * math.exp(0.003) + 0.0025 * math.exp(0.4)))


@pytest.mark.parametrize(
    ("mean", "message"),
    [
        (
            [47_000.0, 47_100.0, 47_200.0],
            "mean at step 1 is 47,000.00, +22.5% from the last close (38,380.00)",
        ),
        (
            [38_400.0, 38_500.0, 25_000.0],
            "at step 3 is 25,000.00, -35.1% from the session before (38,500.00)",
        ),
        ([38_400.0, -5.0, 38_400.0], "mean at step 2 is -5.00, not a price: "),
        ([38_400.0, 38_400.0, 5.26e25], "mean at step 3 is 5.26e+25, +1.37e+23% from the session before"),
    ],
)
def test_a_price_answer_no_market_can_produce_is_refused(mean: list[float], message: str) -> None:
    with pytest.raises(AwsError, match=re.escape(message)):
        parse_response(
            price_answer(mean), quantiles=Q, prediction_length=3, anchor=PriceAnchor.of(TUESDAY, 3)
        )


def test_a_quantile_that_moves_too_far_is_named() -> None:
    body = price_answer([38_400.0, 38_450.0, 38_500.0], spread=9_000.0)  # q0.1 at 29,400: -23.4%
    with pytest.raises(
        AwsError, match=r"the prediction's quantile 0\.1 at step 1 is 29,400\.00, -23\.4% from"
    ):
        parse_response(body, quantiles=Q, prediction_length=3, anchor=PriceAnchor.of(TUESDAY, 3))


def test_closed_days_are_not_sessions_and_a_batch_line_is_checked_the_same() -> None:
    # calendar_days: steps 1-2 are the weekend, never shown; Monday (step 3) is compared with Friday
    weekend_junk = price_answer([1.0, 1e9, 38_500.0, 38_600.0])
    forecast = parse_response(
        weekend_junk, quantiles=Q, prediction_length=4, anchor=PriceAnchor.of(FRIDAY, 4)
    )
    assert forecast.mean[2:] == (38_500.0, 38_600.0)
    line = json.dumps(json.loads(price_answer([1.0, 1.0, 50_000.0, 50_000.0]))["predictions"][0])
    with pytest.raises(
        AwsError, match=r"at step 3 is 50,000\.00, \+30\.3% from the last close \(38,380\.00\)"
    ):
        parse_batch_output_line(line, quantiles=Q, prediction_length=4, anchor=PriceAnchor.of(FRIDAY, 4))


def test_without_an_anchor_a_price_answer_is_not_judged() -> None:
    assert parse_response(price_answer([1.0, 1e9, 2.0]), quantiles=Q, prediction_length=3).mean[1] == 1e9


def test_a_log_return_answer_needs_its_anchor() -> None:
    with pytest.raises(ValueError, match="PriceAnchor"):
        parse_response(returns_response([[0.0]]), quantiles=Q, prediction_length=1, target="log_return")


# --- answers Python itself chokes on (issue 25): one line, exit 4, never OverflowError/RecursionError ---
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (returns_response([[10**400, 0.0, 0.0]]), "the prediction's sample 0 holds 1000000000"),
        (response(3, mean=[1.0, 10**400, 3.0]), "the prediction's mean holds 100000000"),
        ("[" * 100_000, "the endpoint's response is JSON nested too deeply to be a DeepAR answer: '[[[["),
        ('{"predictions": ' + "[" * 100_000, "the endpoint's response is JSON nested too deeply"),
    ],
    ids=["400-digit-sample", "400-digit-mean", "deep-array", "deep-predictions"],
)
def test_an_answer_python_cannot_hold_is_one_aws_error(body: str, message: str) -> None:
    target = "log_return" if "samples" in body[:200] else "price"
    with pytest.raises(AwsError) as caught:
        parse_response(
            body, quantiles=Q, prediction_length=3, anchor=PriceAnchor.of(FRIDAY, 3), target=target
        )  # type: ignore[arg-type]
    assert caught.value.message.startswith(message), caught.value.message
    assert len(caught.value.message) < 400 and "\n" not in caught.value.message


def test_a_deep_batch_line_is_one_aws_error() -> None:
    with pytest.raises(AwsError, match="the batch output line is JSON nested too deeply"):
        parse_batch_output_line("[" * 100_000, quantiles=Q, prediction_length=3)
