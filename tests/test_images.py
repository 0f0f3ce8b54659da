"""The DeepAR image table: URIs, registries, partitions."""

from __future__ import annotations

import re

import pytest

from nikkei_deepar.errors import ConfigError, ExitCode
from nikkei_deepar.images import (
    REGISTRIES,
    deepar_image_uri,
    deepar_registry,
    deepar_repository_arn,
    partition,
)


def test_tokyo_image_uri() -> None:
    assert deepar_image_uri("ap-northeast-1") == (
        "633353088612.dkr.ecr.ap-northeast-1.amazonaws.com/forecasting-deepar:1"
    )


def test_us_east_1_image_uri() -> None:
    expected = "522234722520.dkr.ecr.us-east-1.amazonaws.com/forecasting-deepar:1"
    assert deepar_image_uri("us-east-1") == expected


@pytest.mark.parametrize(
    ("region", "account"),
    [("cn-north-1", "390948362332"), ("cn-northwest-1", "387376663083")],
)
def test_china_uses_com_cn_and_aws_cn_partition(region: str, account: str) -> None:
    assert deepar_image_uri(region) == f"{account}.dkr.ecr.{region}.amazonaws.com.cn/forecasting-deepar:1"
    assert partition(region) == "aws-cn"
    assert deepar_repository_arn(region) == f"arn:aws-cn:ecr:{region}:{account}:repository/forecasting-deepar"


def test_govcloud_partition() -> None:
    assert partition("us-gov-west-1") == "aws-us-gov"
    assert deepar_repository_arn("us-gov-west-1").startswith("arn:aws-us-gov:ecr:us-gov-west-1:226302683700:")
    assert deepar_image_uri("us-gov-west-1").endswith(".amazonaws.com/forecasting-deepar:1")


def test_repository_arn() -> None:
    assert deepar_repository_arn("eu-west-1") == (
        "arn:aws:ecr:eu-west-1:224300973850:repository/forecasting-deepar"
    )


def test_table_is_complete_and_well_formed() -> None:
    assert len(REGISTRIES) == 33
    for region, account in REGISTRIES.items():
        assert re.fullmatch(r"\d{12}", account), region
        assert deepar_registry(region) == account
    # the seed's hard-coded registry is wrong everywhere
    assert "246618743249" not in REGISTRIES.values()


def test_unknown_region_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        deepar_image_uri("xx-nowhere-1")
    assert info.value.exit_code == ExitCode.USAGE
    assert "xx-nowhere-1" in info.value.message
    assert "ap-northeast-1" in (info.value.hint or "")
