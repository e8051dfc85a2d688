"""The Fulfillment Outbound client returns dataclasses: getFulfillmentOrder and getFulfillmentPreview parsed in the
connector (Amazon's own examples, odd and broken shapes, and the simulator as a real server)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from config.common.errors import RetryableConnectorError
from connectors.amazon.fulfillment_outbound import AmazonFulfillmentOutboundClient
from connectors.amazon.fulfillment_outbound_types import (
    FulfillmentOrderDetails,
    FulfillmentShipmentItem,
    FulfillmentShipmentPackage,
    parse_fulfillment_order,
    parse_fulfillment_previews,
)
from orders.models import SellerAccount
from simulators.spapi.control import SpApiSimulatorControl
from tests.factories import UK
from tests.spapi_support import spapi_for

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "sp_api"


def example(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / name).read_text())["payload"])


def shipment(**fields: Any) -> dict[str, Any]:
    return {"amazonShipmentId": "S1", "fulfillmentShipmentStatus": "SHIPPED", **fields}


def with_shipments(*shipments: Any, status: Any = "Complete") -> dict[str, Any]:
    order = {"sellerFulfillmentOrderId": "WEB-1", "fulfillmentOrderStatus": status}
    return {"fulfillmentOrder": order, "fulfillmentShipments": list(shipments)}


def test_official_get_fulfillment_order_example() -> None:
    payload = example("getFulfillmentOrder_200.json")
    details = parse_fulfillment_order(payload)
    assert isinstance(details, FulfillmentOrderDetails) and details.raw == payload  # the answer as sent, for storing
    assert details.seller_fulfillment_order_id == "FBATestOrder-1"
    assert details.status == "Processing"  # Amazon's example writes PROCESSING; the model's enum says Processing
    [found] = details.shipments
    assert (found.amazon_shipment_id, found.status, found.packages) == ("DchKfcZ9N", "PENDING", ())
    assert found.shipping_date == datetime(2020, 2, 7, 2, 33, 23, tzinfo=UTC)
    assert found.items == (
        FulfillmentShipmentItem("OrderItemID2", 1, "PSMM-TEST-SKU-Jan-21_19_59_44-0738"),
        FulfillmentShipmentItem("OrderItemID1", 3, "CR-47K6-H6QN"),
    )
    assert found.raw == payload["fulfillmentShipments"][0]


def test_shipment_packages_statuses_and_lenient_optional_values() -> None:
    packages = [
        {"packageNumber": 1, "carrierCode": "Royal Mail", "trackingNumber": "RM1GB"},
        {"packageNumber": 2, "carrierCode": "", "trackingNumber": None},
    ]
    details = parse_fulfillment_order(
        with_shipments(
            shipment(fulfillmentShipmentStatus="shipped", fulfillmentShipmentPackage=packages, shippingDate="soon"),
            shipment(amazonShipmentId=None, fulfillmentShipmentStatus="CANCELLED_BY_SELLER"),
            {"fulfillmentShipmentItem": [{"sellerFulfillmentOrderItemId": 7, "quantity": "2"}, {"quantity": None}]},
            status="completepartialled",
        )
    )
    assert details.status == "CompletePartialled"
    first, cancelled, bare = details.shipments
    assert first.status == "SHIPPED" and first.shipping_date is None  # an unreadable date is an unknown one
    assert first.packages == (
        FulfillmentShipmentPackage("Royal Mail", "RM1GB", 1),
        FulfillmentShipmentPackage("", "", 2),
    )
    assert (cancelled.amazon_shipment_id, cancelled.status) == ("", "CANCELLED_BY_SELLER")  # the service skips it
    assert bare.status == "" and bare.items == (FulfillmentShipmentItem("7", 2), FulfillmentShipmentItem("", 0))
    # A status outside Amazon's enum comes back as sent (the service applies only Amazon's own); none is "".
    assert parse_fulfillment_order(with_shipments(status="Requested")).status == "Requested"
    assert parse_fulfillment_order(with_shipments(status=None)).status == ""
    assert parse_fulfillment_order({"fulfillmentOrder": {}}).shipments == ()


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        ({}, "getFulfillmentOrder answered without a fulfillmentOrder"),
        ({"fulfillmentOrder": "x"}, "without a fulfillmentOrder"),
        ({"fulfillmentOrder": {}, "fulfillmentShipments": {"S1": {}}}, "fulfillmentShipments that is not a list"),
        (with_shipments(["S1"]), "fulfillmentShipments that is not a list of objects"),
        (with_shipments(shipment(fulfillmentShipmentPackage={"carrierCode": "DHL"})), "fulfillmentShipmentPackage"),
        (with_shipments(shipment(fulfillmentShipmentItem=[{"quantity": "two"}])), "quantity 'two', not a number"),
    ],
)
def test_malformed_answers_are_retryable_errors(payload: Any, says: str) -> None:
    with pytest.raises(RetryableConnectorError, match=says) as raised:
        parse_fulfillment_order(payload)
    assert raised.value.provider == "amazon" and raised.value.operation == "getFulfillmentOrder"


def test_official_get_fulfillment_preview_example() -> None:
    [preview] = parse_fulfillment_previews(example("getFulfillmentPreview_200.json"))
    assert (preview.shipping_speed_category, preview.is_fulfillable, preview.marketplace_id) == (
        "Standard", True, "ATVPDKIKX0DER",
    )  # fmt: skip
    assert preview.unfulfillable_items == () and preview.order_unfulfillable_reasons == ()


# --- against the simulator ------------------------------------------------------------------------------


@pytest.fixture
def amazon(spapi_url: str, settings: Any, account: SellerAccount) -> Iterator[SpApiSimulatorControl]:
    with spapi_for(spapi_url, settings, account, rate_limits=False) as sim:
        yield sim


@pytest.mark.django_db
def test_client_returns_the_fulfillment_order_as_a_dataclass(
    amazon: SpApiSimulatorControl, account: SellerAccount
) -> None:
    amazon.set_fba_inventory(account.selling_partner_id, "FBA-MUG", 5)
    body = {
        "sellerFulfillmentOrderId": "WEB-1", "displayableOrderId": "WEB-1",
        "displayableOrderDate": "2026-11-20T10:15:00Z", "displayableOrderComment": "Thank you",
        "shippingSpeedCategory": "Standard",
        "destinationAddress": {"name": "Ada", "addressLine1": "1 Road", "postalCode": "SW1A 1AA", "countryCode": "GB"},
        "items": [{"sellerSku": "FBA-MUG", "sellerFulfillmentOrderItemId": "11", "quantity": 2}],
    }  # fmt: skip
    with AmazonFulfillmentOutboundClient.for_account(account, marketplace_id=UK) as client:
        previews = client.get_fulfillment_preview(body={"address": body["destinationAddress"], "items": body["items"]})
        assert previews and all(p.is_fulfillable for p in previews)
        client.create_fulfillment_order(body=body)
        assert client.get_fulfillment_order(seller_fulfillment_order_id="WEB-1").status == "New"
        for step in ("Received", "Planning", "Processing"):
            amazon.advance_fulfillment_order("WEB-1", step)
        amazon.advance_fulfillment_order("WEB-1", "Complete", shipments=[{
            "items": [{"sellerFulfillmentOrderItemId": "11", "quantity": 2}], "carrier_code": "Royal Mail",
            "tracking_number": "RM123456789GB", "status": "SHIPPED",
        }])  # fmt: skip
        details = client.get_fulfillment_order(seller_fulfillment_order_id="WEB-1")
        assert client.calls["getFulfillmentOrder"] == 2
    assert details.status == "Complete" and details.raw["fulfillmentOrder"]["sellerFulfillmentOrderId"] == "WEB-1"
    [shipped] = details.shipments
    assert shipped.status == "SHIPPED" and shipped.shipping_date is not None
    assert [(p.carrier_code, p.tracking_number) for p in shipped.packages] == [("Royal Mail", "RM123456789GB")]
    assert shipped.items == (FulfillmentShipmentItem("11", 2, "FBA-MUG"),)
