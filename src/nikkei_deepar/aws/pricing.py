"""AWS Price List gateway: the on-demand price of a SageMaker hosting instance in a region.

The Price List Query API (`pricing` client) answers only in a few regions (us-east-1, ap-south-1,
eu-central-1; China has its own in cn-northwest-1); it prices every region from there. The product is
filtered to one SKU: service AmazonSageMaker, product family "ML Instance", the region's code, the
instance name and `platoinstancetype = Hosting` (real-time inference). The on-demand term's per-hour
USD price is the answer.

Prices are a convenience, never a reason to fail: every problem (no permission, no network, an
unexpected answer, several different prices) becomes `PriceUnavailable` with a short reason, and the
caller falls back to the built-in table (costs.py). The client has a short timeout and few retries so
a price never holds a command up for long.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from nikkei_deepar.aws.session import AwsClients

SERVICE_CODE = "AmazonSageMaker"
SOURCE = "AWS Price List API"


class PriceUnavailable(Exception):
    """The Price List API gave no usable price; `reason` says why, in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class HostingPrice:
    usd_per_hour: float
    sku: str
    published: str | None  # the price list's publicationDate, when the answer carries one


def pricing_region(region: str) -> str | None:
    """Where to ask: the Price List endpoint nearest to `region`; None where the API has no endpoint for
    the partition (GovCloud, ISO)."""
    if region.startswith("cn-"):
        return "cn-northwest-1"
    if region.startswith(("us-gov-", "us-iso")):
        return None
    if region.startswith(("ap-", "me-", "af-", "il-")):
        return "ap-south-1"
    if region.startswith("eu-"):
        return "eu-central-1"
    return "us-east-1"


def hosting_filters(instance_type: str, region: str) -> list[dict[str, str]]:
    return [
        {"Type": "TERM_MATCH", "Field": "productFamily", "Value": "ML Instance"},
        {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
        {"Type": "TERM_MATCH", "Field": "instanceName", "Value": instance_type},
        {"Type": "TERM_MATCH", "Field": "platoinstancetype", "Value": "Hosting"},
    ]


def parse_hosting_price(price_list: list[Any], *, instance_type: str, region: str) -> HostingPrice:
    """The one on-demand USD-per-hour price in a GetProducts PriceList (JSON strings), or
    PriceUnavailable when there is none or several different ones."""
    found: dict[float, HostingPrice] = {}
    for raw in price_list:
        try:
            item = json.loads(raw) if isinstance(raw, str) else raw
            product = item["product"]
            attributes = product.get("attributes", {})
        except (ValueError, KeyError, TypeError, AttributeError):
            raise PriceUnavailable("the Price List answer could not be read") from None
        if attributes.get("instanceName", instance_type) != instance_type:
            continue
        if attributes.get("regionCode", region) != region:
            continue
        for term in (item.get("terms") or {}).get("OnDemand", {}).values():
            for dimension in (term.get("priceDimensions") or {}).values():
                if str(dimension.get("unit", "")).lower() not in {"hrs", "hours", "hour"}:
                    continue
                try:
                    usd = float(dimension.get("pricePerUnit", {}).get("USD"))
                except (TypeError, ValueError):
                    continue
                if usd > 0 and usd == usd and usd != float("inf"):
                    found[usd] = HostingPrice(usd, str(product.get("sku", "")), item.get("publicationDate"))
    if not found:
        raise PriceUnavailable(f"no on-demand hosting price for {instance_type} in {region}")
    if len(found) > 1:
        listed = ", ".join(f"${p:g}" for p in sorted(found))
        raise PriceUnavailable(f"several hosting prices for {instance_type} in {region} ({listed})")
    return next(iter(found.values()))


class PricingGateway:
    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients

    def client(self, region: str) -> Any:
        """The pricing client for the Price List endpoint that serves `region`."""
        where = pricing_region(region)
        if where is None:
            raise PriceUnavailable(f"the Price List API does not serve {region}")
        # Prices are optional: a short wait and one retry, never the command's full retry budget (and,
        # like every request, never past the command's deadline).
        return self._clients.client(
            "pricing", region=where, connect_timeout=5, read_timeout=10, max_attempts=2
        )

    def hosting_price(self, instance_type: str, region: str) -> HostingPrice:
        """The on-demand price of one `instance_type` hosting instance-hour in `region`."""
        import botocore.exceptions as bx

        from nikkei_deepar.aws.errors import error_code
        from nikkei_deepar.errors import NikkeiError

        try:
            answer = self.client(region).get_products(
                ServiceCode=SERVICE_CODE,
                Filters=hosting_filters(instance_type, region),
                FormatVersion="aws_v1",
                MaxResults=20,
            )
        except bx.ClientError as exc:
            raise PriceUnavailable(f"the Price List API refused ({error_code(exc) or 'error'})") from None
        except (bx.BotoCoreError, NikkeiError) as exc:
            raise PriceUnavailable(
                f"the Price List API could not be reached ({type(exc).__name__})"
            ) from None
        return parse_hosting_price(answer.get("PriceList") or [], instance_type=instance_type, region=region)
