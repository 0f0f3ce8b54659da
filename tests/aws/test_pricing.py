"""The Price List gateway with scripted answers (moto has no Price List API)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber

from nikkei_deepar.aws.pricing import (
    PriceUnavailable,
    PricingGateway,
    hosting_filters,
    parse_hosting_price,
    pricing_region,
)
from nikkei_deepar.aws.session import AwsClients


def product(
    price: str, *, instance: str = "ml.m5.large", region: str = "ap-northeast-1", unit: str = "Hrs"
) -> str:
    """One GetProducts PriceList entry shaped like AWS's (aws_v1)."""
    sku = f"SKU{abs(hash((price, instance, region))) % 10**6}"
    return json.dumps(
        {
            "product": {
                "productFamily": "ML Instance",
                "attributes": {
                    "instanceName": instance,
                    "regionCode": region,
                    "platoinstancetype": "Hosting",
                    "servicecode": "AmazonSageMaker",
                },
                "sku": sku,
            },
            "serviceCode": "AmazonSageMaker",
            "terms": {
                "OnDemand": {
                    f"{sku}.JRTCKXETXF": {
                        "priceDimensions": {
                            f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
                                "unit": unit,
                                "pricePerUnit": {"USD": price},
                                "description": f"${price} per Hosting {instance} hour",
                            }
                        },
                        "sku": sku,
                    }
                }
            },
            "publicationDate": "2026-11-20T10:00:00Z",
        }
    )


@pytest.fixture
def gateway() -> Iterator[PricingGateway]:
    yield PricingGateway(AwsClients(region="ap-northeast-1", profile=None, max_attempts=1))


def test_the_hosting_price_of_the_instance_in_the_region(gateway: PricingGateway) -> None:
    client = gateway.client("ap-northeast-1")
    assert client.meta.region_name == "ap-south-1"
    with Stubber(client) as stub:
        stub.add_response(
            "get_products",
            {"PriceList": [product("0.1490000000")], "FormatVersion": "aws_v1"},
            {
                "ServiceCode": "AmazonSageMaker",
                "Filters": hosting_filters("ml.m5.large", "ap-northeast-1"),
                "FormatVersion": "aws_v1",
                "MaxResults": 20,
            },
        )
        price = gateway.hosting_price("ml.m5.large", "ap-northeast-1")
        stub.assert_no_pending_responses()
    assert price.usd_per_hour == pytest.approx(0.149)
    assert price.published == "2026-11-20T10:00:00Z"


def test_filters_name_sagemaker_hosting() -> None:
    fields = {f["Field"]: f["Value"] for f in hosting_filters("ml.c5.large", "us-east-1")}
    assert fields == {
        "productFamily": "ML Instance",
        "regionCode": "us-east-1",
        "instanceName": "ml.c5.large",
        "platoinstancetype": "Hosting",
    }


@pytest.mark.parametrize(
    ("region", "endpoint"),
    [
        ("us-east-1", "us-east-1"),
        ("us-west-2", "us-east-1"),
        ("ap-northeast-1", "ap-south-1"),
        ("eu-west-1", "eu-central-1"),
        ("cn-north-1", "cn-northwest-1"),
        ("us-gov-west-1", None),
    ],
)
def test_which_price_list_endpoint(region: str, endpoint: str | None) -> None:
    assert pricing_region(region) == endpoint


@pytest.mark.parametrize(
    ("price_list", "reason"),
    [
        ([], "no on-demand hosting price for ml.m5.large in ap-northeast-1"),
        ([product("0.0000000000")], "no on-demand hosting price"),
        ([product("0.149", unit="GB-Mo")], "no on-demand hosting price"),
        ([product("0.149", instance="ml.m5.xlarge")], "no on-demand hosting price"),
        (
            [product("0.149"), product("0.2")],
            "several hosting prices for ml.m5.large in ap-northeast-1 ($0.149, $0.2)",
        ),
        (["{not json"], "could not be read"),
    ],
)
def test_unusable_answers_say_why(price_list: list[Any], reason: str) -> None:
    with pytest.raises(
        PriceUnavailable, match=reason.replace("$", r"\$").replace("(", r"\(").replace(")", r"\)")
    ):
        parse_hosting_price(price_list, instance_type="ml.m5.large", region="ap-northeast-1")


def test_the_same_price_twice_is_one_price() -> None:
    found = parse_hosting_price(
        [product("0.149"), product("0.1490")], instance_type="ml.m5.large", region="ap-northeast-1"
    )
    assert found.usd_per_hour == pytest.approx(0.149)


def test_refusals_and_unreachable_api_become_price_unavailable(gateway: PricingGateway) -> None:
    with Stubber(gateway.client("ap-northeast-1")) as stub:
        stub.add_client_error("get_products", "AccessDeniedException", "no pricing:GetProducts", 400)
        with pytest.raises(PriceUnavailable, match=r"refused \(AccessDeniedException\)"):
            gateway.hosting_price("ml.m5.large", "ap-northeast-1")


def test_govcloud_has_no_price_list(gateway: PricingGateway) -> None:
    with pytest.raises(PriceUnavailable, match="does not serve us-gov-west-1"):
        gateway.hosting_price("ml.m5.large", "us-gov-west-1")
