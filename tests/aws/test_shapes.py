"""aws/shapes.py: requests checked offline against botocore's bundled service models."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from nikkei_deepar.aws import shapes

SERVICES = ("sagemaker", "iam", "s3", "sts", "logs", "sagemaker-runtime")


def _lines(service: str, operation: str, params: dict[str, object]) -> list[str]:
    return [p.line() for p in shapes.problems(service, operation, params)]


def test_every_pattern_in_the_models_the_tool_uses_translates_to_python() -> None:
    count = 0
    for service in SERVICES:
        model = shapes.service_model(service)
        for name in model.shape_names:
            pattern = model.shape_for(name).metadata.get("pattern")
            if pattern:
                shapes.python_pattern(pattern)  # raises PatternError when not understood
                count += 1
    assert count > 500


def test_the_tag_character_class_is_exactly_unicode_letters_numbers_and_separators() -> None:
    translated = shapes.python_pattern(r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*")
    wrong = []
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        wanted = unicodedata.category(char)[0] in "LNZ" or char in "_.:/=+-@"
        if bool(translated.fullmatch(char)) != wanted:
            wrong.append(hex(code))
    assert wrong == []


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        (r"[\w+=,.@-]+", "role-name", True),
        (r"[\w+=,.@-]+", "rôle", False),  # Java's \w is ASCII
        (r"[\S\s]*", "line\nnext", True),
        (r".*", "line\nnext", False),  # Java's . stops at line terminators
        (r"[a-z]+", "abc1", False),  # the whole value must match, not a prefix
        (r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*", "ok \U0001f600", True),
        (r"[^\p{L}]+", "12-", True),
        (r"[^\p{L}]+", "1a", False),
        (r"\p{ASCII}*", "abc", True),
        (r"\p{ASCII}*", "é", False),
    ],
)
def test_java_regex_semantics_are_kept(pattern: str, value: str, matches: bool) -> None:
    assert bool(shapes.python_pattern(pattern).fullmatch(value)) is matches


def test_instance_types_differ_per_use() -> None:
    training = shapes.enum("sagemaker", "TrainingInstanceType")
    hosting = shapes.enum("sagemaker", "ProductionVariantInstanceType")
    batch = shapes.enum("sagemaker", "TransformInstanceType")
    assert "ml.m5.large" in training and "ml.m5.large" in hosting and "ml.m5.large" in batch
    assert "ml.t3.medium" in training and "ml.t3.medium" not in hosting
    assert "ml.c5.large" in hosting and "ml.c5.large" not in training and "ml.c5.large" not in batch
    assert "ml.t2.medium" in hosting and "ml.t2.medium" not in batch
    assert "ml.r5.large" in hosting and "ml.r5.large" not in batch


def test_an_enum_value_outside_the_list_is_named_with_close_matches() -> None:
    found = shapes.problems(
        "sagemaker",
        "CreateTransformJob",
        {
            "TransformJobName": "t-1",
            "ModelName": "m-1",
            "TransformInput": {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/k"}}
            },
            "TransformOutput": {"S3OutputPath": "s3://b/o"},
            "TransformResources": {"InstanceType": "ml.c5.large", "InstanceCount": 1},
        },
    )
    assert [(p.path, p.kind, p.shape) for p in found] == [
        ("TransformResources.InstanceType", "enum", "TransformInstanceType")
    ]
    assert "did you mean ml.c5.xlarge" in found[0].message
    assert found[0].line().startswith("CreateTransformJob TransformResources.InstanceType: 'ml.c5.large' is ")


def test_patterns_lengths_and_counts_are_checked_at_every_depth() -> None:
    tags = [{"Key": f"k{i}", "Value": "v"} for i in range(50)] + [{"Key": "k", "Value": "x" * 257}]
    found = shapes.problems(
        "sagemaker", "CreateEndpoint", {"EndpointName": "bad_name", "EndpointConfigName": "c", "Tags": tags}
    )
    kinds = {(p.path, p.kind) for p in found}
    assert ("EndpointName", "pattern") in kinds
    assert ("Tags", "length") in kinds  # 51 tags: the model allows 50
    assert ("Tags[50].Value", "length") in kinds  # 257 characters: the model allows 256
    long_line = next(p.line() for p in found if p.path == "Tags[50].Value")
    assert "at most 256 characters (got 257)" in long_line


def test_map_entries_keys_and_number_limits() -> None:
    found = shapes.problems(
        "sagemaker",
        "CreateEndpointConfig",
        {
            "EndpointConfigName": "c",
            "ProductionVariants": [
                {
                    "VariantName": "AllTraffic",
                    "ServerlessConfig": {"MemorySizeInMB": 8192, "MaxConcurrency": 0},
                }
            ],
        },
    )
    assert {(p.path, p.kind) for p in found} == {
        ("ProductionVariants[0].ServerlessConfig.MemorySizeInMB", "range"),
        ("ProductionVariants[0].ServerlessConfig.MaxConcurrency", "range"),
    }
    many = {f"h{i}": "1" for i in range(101)}
    found = shapes.problems("sagemaker", "CreateTransformJob", _transform(Environment={"1bad": "x"}))
    assert [(p.path, p.kind) for p in found] == [("Environment (key: 1bad)", "pattern")]
    found = shapes.problems("sagemaker", "CreateTrainingJob", _training(HyperParameters=many))
    assert [(p.path, p.kind) for p in found] == [("HyperParameters", "length")]


def test_required_unknown_and_type_problems_come_from_botocores_validator() -> None:
    found = shapes.problems("sagemaker", "UpdateEndpoint", {"EndpointName": "e", "Colour": "red"})
    assert {(p.path, p.kind) for p in found} == {("EndpointConfigName", "required"), ("Colour", "unknown")}
    found = shapes.problems(
        "sagemaker",
        "CreateTrainingJob",
        _training(
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": True, "VolumeSizeInGB": 10}
        ),
    )
    assert [(p.path, p.kind) for p in found] == [("ResourceConfig.InstanceCount", "type")]


def test_a_valid_request_has_no_problems() -> None:
    assert shapes.problems("sagemaker", "CreateTrainingJob", _training()) == []
    assert shapes.problems("sagemaker", "CreateTransformJob", _transform()) == []


def test_long_values_are_shortened_in_messages() -> None:
    found = shapes.problems("iam", "TagRole", {"RoleName": "r", "Tags": [{"Key": "k", "Value": "*" * 2049}]})
    assert all(len(p.line()) < 300 for p in found)
    assert any("(2049 characters)" in p.line() for p in found)


def _training(**overrides: object) -> dict[str, object]:
    request: dict[str, object] = {
        "TrainingJobName": "job-1",
        "AlgorithmSpecification": {
            "TrainingImage": "633353088612.dkr.ecr.ap-northeast-1.amazonaws.com/forecasting-deepar:1",
            "TrainingInputMode": "File",
        },
        "RoleArn": "arn:aws:iam::123456789012:role/r",
        "OutputDataConfig": {"S3OutputPath": "s3://b/o/"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "HyperParameters": {"epochs": "20"},
    }
    request.update(overrides)
    return request


def _transform(**overrides: object) -> dict[str, object]:
    request: dict[str, object] = {
        "TransformJobName": "t-1",
        "ModelName": "m-1",
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/k"}}},
        "TransformOutput": {"S3OutputPath": "s3://b/o"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    request.update(overrides)
    return request


def test_the_price_table_prices_only_types_that_can_host_an_endpoint() -> None:
    from nikkei_deepar.costs import HOURLY_USD

    hosting = set(shapes.enum("sagemaker", "ProductionVariantInstanceType"))
    for region, prices in HOURLY_USD.items():
        assert set(prices) <= hosting, region
