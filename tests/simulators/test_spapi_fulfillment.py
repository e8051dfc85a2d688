"""The SP-API simulator's Fulfillment Outbound 2020-07-01 (MCF) and Orders v0 confirmShipment.

All tests talk HTTP to a real server (uvicorn on a free port); see conftest.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sp_api.api import FulfillmentOutbound, Orders
from sp_api.auth import AccessTokenClient
from sp_api.base import Marketplaces
from sp_api.base.exceptions import SellingApiBadRequestException, SellingApiRequestThrottledException

from simulators.spapi import app as app_module
from simulators.spapi.control import SimulatorControlError, SpApiSimulatorControl
from tests.simulators.support import DE, SELLER, UK, lwa

FIXTURES = Path(__file__).resolve().parents[2] / "simulators" / "spapi" / "fixtures" / "fulfillment-outbound-2020-07-01"
SELLER_ID = SELLER["selling_partner_id"]
FBA = "/fba/outbound/2020-07-01/fulfillmentOrders"
ORDERS = "/orders/v0/orders"
QUOTA = {"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource."}


def sample(name: str) -> dict[str, Any]:
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    return {k: v for k, v in data.items() if not k.startswith("_")}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ago(**delta: float) -> str:
    return iso(datetime.now(UTC) - timedelta(**delta))


def order_body(key: str = "WEB-00001001", **overrides: Any) -> dict[str, Any]:
    """A valid createFulfillmentOrder body: two lines (TENT ×3, MUG ×2) to a UK address."""
    body: dict[str, Any] = {
        "marketplaceId": UK,
        "sellerFulfillmentOrderId": key,
        "displayableOrderId": "WEB-1001",
        "displayableOrderDate": "2026-11-20T10:15:00Z",
        "displayableOrderComment": "Thank you for your order.",
        "shippingSpeedCategory": "Standard",
        "destinationAddress": {
            "name": "Jane Doe",
            "addressLine1": "1 High Street",
            "addressLine2": "Flat 2",
            "city": "Leeds",
            "stateOrRegion": "West Yorkshire",
            "postalCode": "LS1 4AP",
            "countryCode": "GB",
            "phone": "+44 113 496 0000",
        },
        "fulfillmentAction": "Ship",
        "fulfillmentPolicy": "FillOrKill",
        "notificationEmails": ["jane@example.com"],
        "items": [
            {"sellerSku": "FBA-TENT", "sellerFulfillmentOrderItemId": "1", "quantity": 3,
             "perUnitDeclaredValue": {"currencyCode": "GBP", "value": "89.00"}},
            {"sellerSku": "FBA-MUG", "sellerFulfillmentOrderItemId": "2", "quantity": 2},
        ],
    }  # fmt: skip
    body.update(overrides)
    return body


def create(api: httpx.Client, key: str = "WEB-00001001", **overrides: Any) -> httpx.Response:
    return api.post(FBA, json=order_body(key, **overrides))


def get(api: httpx.Client, key: str) -> dict[str, Any]:
    response = api.get(f"{FBA}/{key}")
    assert response.status_code == 200, response.text
    return dict(response.json()["payload"])


def error_of(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    [error] = response.json()["errors"]
    return dict(error)


def item_of(payload: dict[str, Any], item_id: str) -> dict[str, Any]:
    return next(i for i in payload["fulfillmentOrderItems"] if i["sellerFulfillmentOrderItemId"] == item_id)


def packages(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for s in payload["fulfillmentShipments"] for p in s.get("fulfillmentShipmentPackage", [])]


def seed_order(
    sim: SpApiSimulatorControl,
    order_id: str = "202-1000001-1000001",
    *,
    quantities: tuple[int, ...] = (2, 1),
    seller: str = SELLER_ID,
    **fields: Any,
) -> str:
    """One merchant-fulfilled UK order, Unshipped, last updated 30 minutes ago; items "11", "12", …"""
    stamp = ago(minutes=30)
    items = [
        {"OrderItemId": f"{n}", "SellerSKU": f"SKU-{n}", "QuantityOrdered": q,
         "ItemPrice": {"CurrencyCode": "GBP", "Amount": f"{10 * q}.00"}}
        for n, q in enumerate(quantities, start=11)
    ]  # fmt: skip
    order = {"AmazonOrderId": order_id, "PurchaseDate": stamp, "LastUpdateDate": stamp, "MarketplaceId": UK,
             "OrderStatus": "Unshipped", "FulfillmentChannel": "MFN", **fields}  # fmt: skip
    address = {"Name": "Jane Doe", "AddressLine1": "1 High Street", "City": "Leeds", "PostalCode": "LS1 4AP",
               "CountryCode": "GB"}  # fmt: skip
    [key] = sim.upsert_orders(seller=seller, orders=[{"order": order, "items": items, "address": address}])
    return key


def confirmation(reference: str = "1", items: list[tuple[str, int]] | None = None, **detail: Any) -> dict[str, Any]:
    package: dict[str, Any] = {
        "packageReferenceId": reference,
        "carrierCode": "Royal Mail",
        "trackingNumber": "RM000111222GB",
        "shipDate": "2026-11-21T09:00:00Z",
        "orderItems": [{"orderItemId": i, "quantity": q} for i, q in (items or [("11", 2)])],
    }
    package.update(detail)
    return {"marketplaceId": UK, "packageDetail": package}


def confirm(api: httpx.Client, order_id: str, body: dict[str, Any]) -> httpx.Response:
    return api.post(f"{ORDERS}/{order_id}/shipmentConfirmation", json=body)


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Let the Orders handlers' clock run `seconds` ahead (getOrders only shows changes ≥ 2 minutes old)."""

    def shift(seconds: float) -> None:
        real = time.time
        monkeypatch.setattr(app_module, "time", SimpleNamespace(time=lambda: real() + seconds))

    return shift


# --- createFulfillmentOrder ------------------------------------------------------------------------------


def test_create_then_get_has_amazons_shape(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    created = create(api)
    assert created.status_code == 200 and created.json() == {}
    assert created.headers["x-amzn-RateLimit-Limit"] == "2" and created.headers["x-amzn-RequestId"]

    response = api.get(f"{FBA}/WEB-00001001")
    assert response.status_code == 200 and response.headers["x-amzn-RateLimit-Limit"] == "2"
    payload = response.json()["payload"]
    amazon = sample("getFulfillmentOrder_200")["payload"]
    assert list(payload) == list(amazon)
    order = payload["fulfillmentOrder"]
    assert list(order) == list(amazon["fulfillmentOrder"])  # same fields, same order
    for key, value in amazon["fulfillmentOrder"].items():
        assert type(order[key]) is type(value), key
    assert order["fulfillmentOrderStatus"] == "New" and order["receivedDate"] == order["statusUpdatedDate"]
    assert order["marketplaceId"] == UK and order["displayableOrderDate"] == "2026-11-20T10:15:00Z"
    assert order["destinationAddress"] == order_body()["destinationAddress"]
    tent, mug = payload["fulfillmentOrderItems"]
    assert list(tent) == list(amazon["fulfillmentOrderItems"][0])
    for key, value in amazon["fulfillmentOrderItems"][0].items():
        assert type(tent[key]) is type(value), key
    assert (tent["sellerSku"], tent["quantity"], tent["cancelledQuantity"], tent["unfulfillableQuantity"]) == (
        "FBA-TENT", 3, 0, 0,
    )  # fmt: skip
    assert tent["perUnitDeclaredValue"] == {"currencyCode": "GBP", "value": "89.00"}
    assert "perUnitDeclaredValue" not in mug and mug["estimatedArrivalDate"] > mug["estimatedShipDate"]
    assert payload["fulfillmentShipments"] == [] and payload["returnItems"] == payload["returnAuthorizations"] == []

    # In Processing the order has a PENDING shipment, shaped like Amazon's example (which is Processing too).
    processing = sim.advance_fulfillment_order("WEB-00001001", "Processing")
    [shipment] = get(api, "WEB-00001001")["fulfillmentShipments"]
    assert processing["fulfillmentShipments"] == [shipment]
    amazon_shipment = amazon["fulfillmentShipments"][0]
    assert list(shipment) == list(amazon_shipment) and shipment["fulfillmentShipmentStatus"] == "PENDING"
    for line in shipment["fulfillmentShipmentItem"]:
        assert set(line) <= set(amazon_shipment["fulfillmentShipmentItem"][1]) and line["packageNumber"] == 0
    assert [(line["sellerSku"], line["quantity"]) for line in shipment["fulfillmentShipmentItem"]] == [
        ("FBA-TENT", 3), ("FBA-MUG", 2),
    ]  # fmt: skip


def test_create_accepts_the_minimum_and_ignores_the_librarys_marketplace_keys(
    api: httpx.Client, sim: SpApiSimulatorControl
) -> None:
    body = order_body(marketplaceIds=[DE], MarketplaceIds=[DE])
    for optional in ("marketplaceId", "fulfillmentAction", "fulfillmentPolicy", "notificationEmails"):
        del body[optional]
    del body["destinationAddress"]["addressLine2"], body["destinationAddress"]["phone"]
    assert api.post(FBA, json=body).status_code == 200
    order = get(api, "WEB-00001001")["fulfillmentOrder"]
    # Defaults: the seller's marketplace in the destination country, Ship, FillOrKill.
    assert order["marketplaceId"] == UK and "notificationEmails" not in order
    assert (order["fulfillmentAction"], order["fulfillmentPolicy"]) == ("Ship", "FillOrKill")
    assert "marketplaceIds" not in sim.fulfillment_order("WEB-00001001")["_sim"]["request"]


@pytest.mark.parametrize(
    ("change", "field", "constraint"),
    [
        ({"sellerFulfillmentOrderId": None}, "sellerFulfillmentOrderId", "Member must not be null"),
        ({"sellerFulfillmentOrderId": "W" * 41}, "sellerFulfillmentOrderId", "less than or equal to 40"),
        ({"displayableOrderId": "D" * 41}, "displayableOrderId", "less than or equal to 40"),
        ({"displayableOrderId": ""}, "displayableOrderId", "greater than or equal to 1"),
        ({"displayableOrderDate": None}, "displayableOrderDate", "Member must not be null"),
        ({"displayableOrderDate": "20/11/2026"}, "displayableOrderDate", "ISO 8601"),
        ({"displayableOrderComment": "c" * 751}, "displayableOrderComment", "less than or equal to 750"),
        ({"displayableOrderComment": None}, "displayableOrderComment", "Member must not be null"),
        ({"shippingSpeedCategory": "NextDay"}, "shippingSpeedCategory",
         "enum value set: [Standard, Expedited, Priority, ScheduledDelivery]"),
        ({"fulfillmentAction": "Later"}, "fulfillmentAction", "enum value set: [Ship, Hold]"),
        ({"fulfillmentPolicy": "Whatever"}, "fulfillmentPolicy", "[FillOrKill, FillAll, FillAllAvailable]"),
        ({"shippingSpeedCategory": "ScheduledDelivery", "fulfillmentAction": "Hold"}, "fulfillmentAction",
         "Hold is not a valid"),
        ({"destinationAddress": None}, "destinationAddress", "Member must not be null"),
        ({"notificationEmails": ["x" * 65]}, "notificationEmails.1.member", "64 characters"),
        ({"items": []}, "items", "greater than or equal to 1"),
        ({"items": None}, "items", "Member must not be null"),
    ],
)  # fmt: skip
def test_create_validation_names_the_field(
    api: httpx.Client, sim: SpApiSimulatorControl, change: dict[str, Any], field: str, constraint: str
) -> None:
    body = {k: v for k, v in {**order_body(), **change}.items() if v is not None}
    error = error_of(api.post(FBA, json=body))
    assert error["code"] == "InvalidInput"
    assert error["message"].startswith("1 validation error detected: Value ")
    assert f"at '{field}' failed to satisfy constraint: " in error["message"] and constraint in error["message"]
    assert sim.fulfillment_orders() == []


@pytest.mark.parametrize(
    ("field", "value", "constraint"),
    [
        ("name", "N" * 51, "less than or equal to 50"),
        ("name", None, "Member must not be null"),
        ("addressLine1", "A" * 61, "less than or equal to 60"),
        ("addressLine1", None, "Member must not be null"),
        ("addressLine2", "A" * 61, "less than or equal to 60"),
        ("addressLine3", "A" * 61, "less than or equal to 60"),
        ("city", "C" * 51, "less than or equal to 50"),
        ("stateOrRegion", "S" * 151, "less than or equal to 150"),
        ("postalCode", "P" * 21, "less than or equal to 20"),
        ("postalCode", None, "Member must not be null"),
        ("countryCode", "GBR", "less than or equal to 2"),
        ("countryCode", "G1", "regular expression pattern"),
        ("countryCode", None, "Member must not be null"),
        ("phone", "0" * 21, "less than or equal to 20"),
    ],
)
def test_create_validates_the_destination_address(
    api: httpx.Client, field: str, value: str | None, constraint: str
) -> None:
    address = {k: v for k, v in {**order_body()["destinationAddress"], field: value}.items() if v is not None}
    error = error_of(api.post(FBA, json=order_body(destinationAddress=address)))
    assert f"at 'destinationAddress.{field}'" in error["message"] and constraint in error["message"]


@pytest.mark.parametrize(
    ("item", "field", "constraint"),
    [
        ({"sellerSku": None}, "items.1.member.sellerSku", "Member must not be null"),
        ({"sellerSku": "S" * 51}, "items.1.member.sellerSku", "less than or equal to 50"),
        ({"sellerFulfillmentOrderItemId": None}, "items.1.member.sellerFulfillmentOrderItemId", "must not be null"),
        ({"sellerFulfillmentOrderItemId": "I" * 51}, "items.1.member.sellerFulfillmentOrderItemId",
         "less than or equal to 50"),
        ({"quantity": 0}, "items.1.member.quantity", "greater than or equal to 1"),
        ({"quantity": "2"}, "items.1.member.quantity", "Member must be an integer"),
        ({"quantity": None}, "items.1.member.quantity", "Member must not be null"),
        ({"perUnitDeclaredValue": {"currencyCode": "GBP"}}, "items.1.member.perUnitDeclaredValue.value",
         "Member must not be null"),
        ({"perUnitDeclaredValue": {"currencyCode": "GBP", "value": "cheap"}},
         "items.1.member.perUnitDeclaredValue.value", "decimal"),
    ],
)  # fmt: skip
def test_create_validates_items(api: httpx.Client, item: dict[str, Any], field: str, constraint: str) -> None:
    first = {k: v for k, v in {**order_body()["items"][0], **item}.items() if v is not None}
    error = error_of(api.post(FBA, json=order_body(items=[first])))
    assert f"at '{field}'" in error["message"] and constraint in error["message"]


def test_create_reports_every_problem_at_once_and_checks_the_item_list(api: httpx.Client) -> None:
    body = order_body(displayableOrderId="D" * 41, shippingSpeedCategory="Fast")
    del body["destinationAddress"]["postalCode"]
    error = error_of(api.post(FBA, json=body))
    assert error["message"].startswith("3 validation errors detected: ")
    for field in ("displayableOrderId", "shippingSpeedCategory", "destinationAddress.postalCode"):
        assert f"at '{field}'" in error["message"]
    duplicate = [{"sellerSku": "A", "sellerFulfillmentOrderItemId": "1", "quantity": 1}] * 2
    assert "Duplicate sellerFulfillmentOrderItemId '1'" in error_of(create(api, items=duplicate))["message"]
    too_many = [{"sellerSku": "A", "sellerFulfillmentOrderItemId": str(n), "quantity": 200} for n in range(2)]
    assert "at most 250 units" in error_of(create(api, items=too_many))["message"]
    assert "marketplaceId is invalid" in error_of(create(api, marketplaceId="ATVPDKIKX0DER"))["message"]
    bad_json = api.post(FBA, content=b"{nope", headers={"content-type": "application/json"})
    assert error_of(bad_json)["code"] == "InvalidInput"


def test_create_is_idempotent_on_seller_fulfillment_order_id(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    assert create(api).status_code == 200
    sim.advance_fulfillment_order("WEB-00001001", "Received")
    again = api.post(FBA, json={**order_body(), "marketplaceIds": [UK]})  # the library's stray keys differ
    assert again.status_code == 200 and again.json() == {}
    [only] = sim.fulfillment_orders()
    assert only["fulfillmentOrder"]["fulfillmentOrderStatus"] == "Received"  # untouched by the repeat

    conflict = error_of(create(api, displayableOrderComment="Something else"))
    assert conflict["code"] == "InvalidInput"
    assert conflict["message"] == (
        "A fulfillment order with sellerFulfillmentOrderId 'WEB-00001001' already exists with different content."
    )
    assert get(api, "WEB-00001001")["fulfillmentOrder"]["displayableOrderComment"] == "Thank you for your order."
    assert len(sim.fulfillment_orders()) == 1
    assert sim.calls()["createFulfillmentOrder"] == {"200": 2, "400": 1}


def test_orders_belong_to_their_seller(spapi_url: str, api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    other = {"selling_partner_id": "A2OTHER", "refresh_token": "Atzr|o", "client_id": "c", "client_secret": "s"}
    sim.add_seller(**other, marketplace_ids=[UK])
    token = lwa(spapi_url, refresh_token="Atzr|o", client_id="c", client_secret="s").json()["access_token"]
    with httpx.Client(base_url=spapi_url, headers={"x-amz-access-token": token}) as theirs:
        assert create(theirs).status_code == 200
        assert create(theirs, displayableOrderComment="theirs").status_code == 400  # their id, their content
        for response in (api.get(f"{FBA}/WEB-00001001"), api.put(f"{FBA}/WEB-00001001/cancel")):
            error = error_of(response)
            assert error == {"code": "InvalidInput", "message": "Requested order 'WEB-00001001' not found",
                             "details": ""}  # fmt: skip
        assert create(api, displayableOrderComment="mine").status_code == 200  # the same id is free for us
        assert get(theirs, "WEB-00001001")["fulfillmentOrder"]["displayableOrderComment"] == "Thank you for your order."
    assert get(api, "WEB-00001001")["fulfillmentOrder"]["displayableOrderComment"] == "mine"
    assert len(sim.fulfillment_orders()) == 2 and len(sim.fulfillment_orders(seller="A2OTHER")) == 1
    assert sim.fulfillment_order("WEB-00001001", seller="A2OTHER")["_sim"]["seller"] == "A2OTHER"
    too_long = error_of(api.get(f"{FBA}/{'X' * 41}"))
    assert "at 'sellerFulfillmentOrderId'" in too_long["message"]


# --- cancelFulfillmentOrder ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["New", "Received", "Planning"])
def test_cancel_while_early(api: httpx.Client, sim: SpApiSimulatorControl, status: str) -> None:
    create(api)
    if status != "New":
        sim.advance_fulfillment_order("WEB-00001001", status)
    response = api.put(f"{FBA}/WEB-00001001/cancel")
    assert response.status_code == 200 and response.json() == {}
    assert response.headers["x-amzn-RateLimit-Limit"] == "2"
    payload = get(api, "WEB-00001001")
    assert payload["fulfillmentOrder"]["fulfillmentOrderStatus"] == "Cancelled"
    assert [(i["quantity"], i["cancelledQuantity"]) for i in payload["fulfillmentOrderItems"]] == [(3, 3), (2, 2)]
    assert all("estimatedShipDate" not in i for i in payload["fulfillmentOrderItems"])
    updated = payload["fulfillmentOrder"]["statusUpdatedDate"]
    assert api.put(f"{FBA}/WEB-00001001/cancel").status_code == 200  # again: nothing changes
    assert get(api, "WEB-00001001")["fulfillmentOrder"]["statusUpdatedDate"] == updated
    assert [h["status"] for h in sim.fulfillment_order("WEB-00001001")["_sim"]["history"]][-1] == "Cancelled"


@pytest.mark.parametrize("status", ["Processing", "Complete", "Unfulfillable", "Invalid"])
def test_cancel_refused_once_picking_started_or_final(
    api: httpx.Client, sim: SpApiSimulatorControl, status: str
) -> None:
    create(api)
    path = {"Processing": ["Processing"], "Complete": ["Processing", "Complete"]}.get(status, [status])
    for step in path:
        sim.advance_fulfillment_order("WEB-00001001", step)
    error = error_of(api.put(f"{FBA}/WEB-00001001/cancel"))
    assert error["code"] == "InvalidInput"
    assert error["message"] == (
        f"Fulfillment order 'WEB-00001001' cannot be cancelled: its status is {status}. Orders can be cancelled "
        "only while New, Received or Planning."
    )
    assert get(api, "WEB-00001001")["fulfillmentOrder"]["fulfillmentOrderStatus"] == status


# --- getFulfillmentPreview -------------------------------------------------------------------------------


def preview_body(**overrides: Any) -> dict[str, Any]:
    body = order_body()
    return {"address": body["destinationAddress"], "items": body["items"], **overrides}


def test_preview_has_amazons_shape_and_one_preview_per_speed(api: httpx.Client) -> None:
    response = api.post(f"{FBA}/preview", json=preview_body(featureConstraints=[
        {"featureName": "BLANK_BOX", "featureFulfillmentPolicy": "NotRequired"}]))  # fmt: skip
    assert response.status_code == 200 and response.headers["x-amzn-RateLimit-Limit"] == "2"
    previews = response.json()["payload"]["fulfillmentPreviews"]
    assert [p["shippingSpeedCategory"] for p in previews] == ["Standard", "Expedited", "Priority"]
    amazon = sample("getFulfillmentPreview_200")["payload"]["fulfillmentPreviews"][0]
    fees = {}
    for preview in previews:
        assert set(amazon) <= set(preview) and preview["isFulfillable"] is True and preview["isCODCapable"] is False
        for key, value in amazon.items():
            assert type(preview[key]) is type(value), key
        [shipment] = preview["fulfillmentPreviewShipments"]
        assert list(shipment) == list(amazon["fulfillmentPreviewShipments"][0])
        assert list(shipment["fulfillmentPreviewItems"][0]) == list(
            amazon["fulfillmentPreviewShipments"][0]["fulfillmentPreviewItems"][0]
        )
        assert [(i["sellerSku"], i["quantity"]) for i in shipment["fulfillmentPreviewItems"]] == [
            ("FBA-TENT", 3), ("FBA-MUG", 2),
        ]  # fmt: skip
        assert preview["estimatedShippingWeight"]["unit"] == "KILOGRAMS" and preview["unfulfillablePreviewItems"] == []
        assert preview["marketplaceId"] == UK
        [fee] = preview["estimatedFees"]
        assert fee["name"] == "FBAPerUnitFulfillmentFee" and fee["amount"]["currencyCode"] == "GBP"
        fees[preview["shippingSpeedCategory"]] = fee["amount"]["value"]
    assert fees == {"Standard": "17.50", "Expedited": "26.25", "Priority": "39.00"}  # 5 units × 3.50 / 5.25 / 7.80

    only = api.post(f"{FBA}/preview", json=preview_body(shippingSpeedCategories=["Priority", "ScheduledDelivery"]))
    priority, scheduled = only.json()["payload"]["fulfillmentPreviews"]
    assert priority["shippingSpeedCategory"] == "Priority" and priority["isFulfillable"] is True
    # ScheduledDelivery exists only in Japan.
    assert scheduled["isFulfillable"] is False and scheduled["orderUnfulfillableReasons"] == ["DeliverySLAUnavailable"]
    assert scheduled["fulfillmentPreviewShipments"] == [] and len(scheduled["unfulfillablePreviewItems"]) == 2

    us = api.post(f"{FBA}/preview", json=preview_body(address={**preview_body()["address"], "countryCode": "DE"}))
    assert us.json()["payload"]["fulfillmentPreviews"][0]["estimatedFees"][0]["amount"]["currencyCode"] == "EUR"


def test_preview_validation(api: httpx.Client) -> None:
    error = error_of(api.post(f"{FBA}/preview", json=preview_body(address=None, shippingSpeedCategories=["Slow"])))
    assert "at 'address'" in error["message"] and "at 'shippingSpeedCategories.1.member'" in error["message"]
    items = [{"sellerSku": "A", "quantity": 0, "sellerFulfillmentOrderItemId": "1"}]
    assert (
        "at 'items.1.member.quantity'"
        in error_of(api.post(f"{FBA}/preview", json=preview_body(items=items)))["message"]
    )


# --- strict inventory ------------------------------------------------------------------------------------


def test_strict_inventory_refuses_unknown_and_short_skus(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    assert create(api, "LOOSE-1").status_code == 200  # not strict: unknown SKUs are accepted
    assert sim.settings(strict_inventory=True)["strict_inventory"] is True
    sim.set_fba_inventory(SELLER_ID, "FBA-TENT", 10)

    unknown = error_of(create(api))
    assert unknown == {
        "code": "InvalidInput",
        "message": "the SellerSKU for Item Id: 2 is invalid.",
        "details": "SellerSKU 'FBA-MUG' is not in this seller's FBA inventory.",
    }
    sim.set_fba_inventory(SELLER_ID, "FBA-MUG", 1)
    short = error_of(create(api))
    assert short["message"] == "Not enough fulfillable inventory for SellerSKU 'FBA-MUG' (Item Id: 2): 1 available."
    assert [o["fulfillmentOrder"]["sellerFulfillmentOrderId"] for o in sim.fulfillment_orders()] == ["LOOSE-1"]

    [preview] = api.post(f"{FBA}/preview", json=preview_body(shippingSpeedCategories=["Standard"])).json()["payload"][
        "fulfillmentPreviews"
    ]
    assert preview["isFulfillable"] is False
    assert preview["unfulfillablePreviewItems"] == [
        {"sellerSku": "FBA-MUG", "quantity": 2, "sellerFulfillmentOrderItemId": "2",
         "itemUnfulfillableReasons": ["InventoryUnavailable"]},
    ]  # fmt: skip
    [shipment] = preview["fulfillmentPreviewShipments"]  # what can ship, and its fee
    assert [i["sellerSku"] for i in shipment["fulfillmentPreviewItems"]] == ["FBA-TENT"]
    assert preview["estimatedFees"][0]["amount"]["value"] == "10.50"
    sim.set_fba_inventory(SELLER_ID, "FBA-MUG", 2)
    [preview] = api.post(f"{FBA}/preview", json=preview_body(shippingSpeedCategories=["Standard"])).json()["payload"][
        "fulfillmentPreviews"
    ]
    assert preview["isFulfillable"] is True


def test_inventory_is_reserved_consumed_and_released(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    sim.settings(strict_inventory=True)
    sim.set_fba_inventory(SELLER_ID, "FBA-TENT", 4)
    sim.set_fba_inventory(SELLER_ID, "FBA-MUG", 5)

    def stock() -> dict[str, tuple[int, int]]:
        return {r["sku"]: (r["fulfillable"], r["reserved"]) for r in sim.fba_inventory()}

    assert create(api, "A").status_code == 200
    assert stock() == {"FBA-TENT": (1, 3), "FBA-MUG": (3, 2)}
    assert sim.fulfillment_order("A")["_sim"]["reserved"] == {"FBA-TENT": 3, "FBA-MUG": 2}
    assert create(api, "A").status_code == 200  # an idempotent repeat reserves nothing more
    assert stock() == {"FBA-TENT": (1, 3), "FBA-MUG": (3, 2)}
    assert error_of(create(api, "B"))["message"].startswith("Not enough fulfillable inventory for SellerSKU 'FBA-TENT'")

    sim.advance_fulfillment_order("A", "Processing")
    sim.advance_fulfillment_order("A", "CompletePartialled", unfulfillable=[
        {"sellerFulfillmentOrderItemId": "1", "quantity": 1}])  # fmt: skip
    assert stock() == {"FBA-TENT": (2, 0), "FBA-MUG": (3, 0)}  # 2 tents and 2 mugs shipped, 1 tent released

    three_mugs = [{"sellerSku": "FBA-MUG", "sellerFulfillmentOrderItemId": "1", "quantity": 3}]
    assert create(api, "C", items=three_mugs).status_code == 200
    assert stock()["FBA-MUG"] == (0, 3)
    api.put(f"{FBA}/C/cancel")
    assert stock()["FBA-MUG"] == (3, 0)
    assert sim.set_fba_inventory(SELLER_ID, "FBA-MUG", 7) == {
        "seller": SELLER_ID, "sku": "FBA-MUG", "fulfillable": 7, "reserved": 0,
    }  # fmt: skip
    with pytest.raises(SimulatorControlError):
        sim.set_fba_inventory("NOBODY", "FBA-MUG", 1)
    with pytest.raises(SimulatorControlError):
        sim.set_fba_inventory(SELLER_ID, "FBA-MUG", -1)


# --- status progression (control API) --------------------------------------------------------------------


def test_advance_through_every_state_to_complete(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    create(api)
    stamps = [get(api, "WEB-00001001")["fulfillmentOrder"]["statusUpdatedDate"]]
    for status in ("Received", "Planning", "Processing"):
        time.sleep(1.01 if status == "Processing" else 0)
        moved = sim.advance_fulfillment_order("WEB-00001001", status)
        assert moved["fulfillmentOrder"]["fulfillmentOrderStatus"] == status
        assert get(api, "WEB-00001001")["fulfillmentOrder"]["fulfillmentOrderStatus"] == status
    stamps.append(get(api, "WEB-00001001")["fulfillmentOrder"]["statusUpdatedDate"])
    assert stamps[1] > stamps[0]
    [pending] = get(api, "WEB-00001001")["fulfillmentShipments"]

    done = sim.advance_fulfillment_order("WEB-00001001", "Complete")
    payload = get(api, "WEB-00001001")
    assert done["fulfillmentShipments"] == payload["fulfillmentShipments"]
    [shipment] = payload["fulfillmentShipments"]
    assert shipment["amazonShipmentId"] == pending["amazonShipmentId"]  # the planned shipment left, same id
    assert shipment["fulfillmentShipmentStatus"] == "SHIPPED" and shipment["fulfillmentCenterId"] == "LTN4"
    [package] = shipment["fulfillmentShipmentPackage"]
    assert package["carrierCode"] == "UPS" and package["trackingNumber"].startswith("1Z")
    assert len(package["trackingNumber"]) == 18 and package["estimatedArrivalDate"] == shipment["estimatedArrivalDate"]
    assert {line["packageNumber"] for line in shipment["fulfillmentShipmentItem"]} == {package["packageNumber"]}
    assert payload["fulfillmentOrder"]["fulfillmentOrderStatus"] == "Complete"
    assert [h["status"] for h in sim.fulfillment_order("WEB-00001001")["_sim"]["history"]] == [
        "New", "Received", "Planning", "Processing", "Complete",
    ]  # fmt: skip
    assert all(i["unfulfillableQuantity"] == i["cancelledQuantity"] == 0 for i in payload["fulfillmentOrderItems"])


def test_complete_with_given_shipments_several_packages(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    create(api)
    sim.advance_fulfillment_order("WEB-00001001", "Processing")
    [planned] = get(api, "WEB-00001001")["fulfillmentShipments"]
    sim.advance_fulfillment_order(
        "WEB-00001001",
        "Complete",
        shipments=[
            {"items": [{"sellerFulfillmentOrderItemId": "1", "quantity": 3}], "carrier_code": "Royal Mail",
             "tracking_number": "RM123456789GB", "status": "SHIPPED"},
            {"items": [{"sellerFulfillmentOrderItemId": "2", "quantity": 2}], "carrier_code": "DPD",
             "tracking_number": "15501234567890"},
        ],
    )  # fmt: skip
    payload = get(api, "WEB-00001001")
    first, second = payload["fulfillmentShipments"]
    assert first["amazonShipmentId"] == planned["amazonShipmentId"] != second["amazonShipmentId"]
    assert [(p["carrierCode"], p["trackingNumber"]) for p in packages(payload)] == [
        ("Royal Mail", "RM123456789GB"), ("DPD", "15501234567890"),
    ]  # fmt: skip
    assert len({p["packageNumber"] for p in packages(payload)}) == 2
    assert payload["fulfillmentOrder"]["fulfillmentOrderStatus"] == "Complete"


def test_complete_partialled_with_unfulfillable_units_and_several_packages(
    api: httpx.Client, sim: SpApiSimulatorControl
) -> None:
    create(api)
    # Picking starts; one box of two tents leaves at once, the mugs are planned in a second shipment.
    sim.advance_fulfillment_order(
        "WEB-00001001",
        "Processing",
        shipments=[
            {"items": [{"sellerFulfillmentOrderItemId": "1", "quantity": 2}], "status": "SHIPPED",
             "carrier_code": "Royal Mail", "tracking_number": "RM1"},
            {"items": [{"sellerFulfillmentOrderItemId": "2", "quantity": 2}]},
        ],
    )  # fmt: skip
    payload = get(api, "WEB-00001001")
    assert [s["fulfillmentShipmentStatus"] for s in payload["fulfillmentShipments"]] == ["SHIPPED", "PENDING"]
    assert payload["fulfillmentOrder"]["fulfillmentOrderStatus"] == "Processing"
    assert "fulfillmentShipmentPackage" not in payload["fulfillmentShipments"][1]

    # The third tent is missing, and one mug is damaged: CompletePartialled ships the other mug.
    sim.advance_fulfillment_order(
        "WEB-00001001",
        "CompletePartialled",
        unfulfillable=[{"sellerFulfillmentOrderItemId": "1", "quantity": 1},
                       {"sellerFulfillmentOrderItemId": "2", "quantity": 1}],
    )  # fmt: skip
    payload = get(api, "WEB-00001001")
    assert payload["fulfillmentOrder"]["fulfillmentOrderStatus"] == "CompletePartialled"
    assert [(i["quantity"], i["unfulfillableQuantity"]) for i in payload["fulfillmentOrderItems"]] == [(3, 1), (2, 1)]
    assert [s["fulfillmentShipmentStatus"] for s in payload["fulfillmentShipments"]] == ["SHIPPED", "SHIPPED"]
    assert [[(line["sellerSku"], line["quantity"]) for line in s["fulfillmentShipmentItem"]]
            for s in payload["fulfillmentShipments"]] == [[("FBA-TENT", 2)], [("FBA-MUG", 1)]]  # fmt: skip
    first, second = packages(payload)
    assert (first["carrierCode"], first["trackingNumber"]) == ("Royal Mail", "RM1")
    assert second["trackingNumber"].startswith("1Z") and second["packageNumber"] != first["packageNumber"]

    # Given shipments that leave units over: CompletePartialled makes the rest unfulfillable.
    create(api, "WEB-2")
    sim.advance_fulfillment_order("WEB-2", "Processing")
    sim.advance_fulfillment_order("WEB-2", "CompletePartialled", shipments=[
        {"items": [{"sellerFulfillmentOrderItemId": "2", "quantity": 2}]}])  # fmt: skip
    payload = get(api, "WEB-2")
    assert [(i["sellerSku"], i["unfulfillableQuantity"]) for i in payload["fulfillmentOrderItems"]] == [
        ("FBA-TENT", 3), ("FBA-MUG", 0),
    ]  # fmt: skip
    assert "estimatedShipDate" not in item_of(payload, "1") and "estimatedShipDate" in item_of(payload, "2")


@pytest.mark.parametrize("to", ["Unfulfillable", "Invalid", "Cancelled"])
def test_final_states_from_the_early_ones(api: httpx.Client, sim: SpApiSimulatorControl, to: str) -> None:
    create(api)
    sim.advance_fulfillment_order("WEB-00001001", "Planning")
    sim.advance_fulfillment_order("WEB-00001001", to)
    payload = get(api, "WEB-00001001")
    assert payload["fulfillmentOrder"]["fulfillmentOrderStatus"] == to and payload["fulfillmentShipments"] == []
    expected = {"Unfulfillable": [(3, 0), (2, 0)], "Cancelled": [(0, 3), (0, 2)], "Invalid": [(0, 0), (0, 0)]}[to]
    items = payload["fulfillmentOrderItems"]
    assert [(i["unfulfillableQuantity"], i["cancelledQuantity"]) for i in items] == expected


def test_unfulfillable_in_processing_cancels_the_planned_shipment(
    api: httpx.Client, sim: SpApiSimulatorControl
) -> None:
    create(api)
    sim.advance_fulfillment_order("WEB-00001001", "Processing")
    sim.advance_fulfillment_order("WEB-00001001", "Unfulfillable")
    [shipment] = get(api, "WEB-00001001")["fulfillmentShipments"]
    assert shipment["fulfillmentShipmentStatus"] == "CANCELLED_BY_FULFILLER"
    assert "shippingDate" not in shipment and "estimatedArrivalDate" not in shipment


@pytest.mark.parametrize(
    ("path", "move", "message"),
    [
        ([], {"to": "Complete"}, "cannot move from New to Complete"),
        ([], {"to": "New"}, "cannot move from New to New"),
        (["Planning"], {"to": "Received"}, "cannot move from Planning to Received"),
        (["Processing"], {"to": "Cancelled"}, "cannot move from Processing to Cancelled"),
        (["Processing"], {"to": "Invalid"}, "cannot move from Processing to Invalid"),
        (["Processing"], {"to": "Planning"}, "cannot move from Processing to Planning"),
        (["Cancelled"], {"to": "Received"}, "Cancelled, a final status"),
        (["Processing", "Complete"], {"to": "CompletePartialled"}, "Complete, a final status"),
        ([], {"to": "Shipped"}, "unknown status 'Shipped'"),
        (["Processing"], {"to": "Complete", "unfulfillable": [{"sellerFulfillmentOrderItemId": "1", "quantity": 1}]},
         "unfulfillable quantities can be given only with"),
        ([], {"to": "Received", "shipments": []}, "shipments can be given only with"),
        (["Processing"], {"to": "Complete", "shipments": [
            {"items": [{"sellerFulfillmentOrderItemId": "1", "quantity": 3}]}]}, "Complete needs every unit shipped"),
        (["Processing"], {"to": "Complete", "shipments": [
            {"items": [{"sellerFulfillmentOrderItemId": "1", "quantity": 4}]}]}, "has 3 units to ship, not 4"),
        (["Processing"], {"to": "Complete", "shipments": [
            {"items": [{"sellerFulfillmentOrderItemId": "9", "quantity": 1}]}]}, "no item '9'"),
        (["Processing"], {"to": "Complete", "shipments": [
            {"items": [{"sellerFulfillmentOrderItemId": "1", "quantity": 0}]}]}, "must be a positive integer"),
        (["Processing"], {"to": "Complete", "shipments": [{"items": []}]}, "needs items"),
        (["Processing"], {"to": "Complete", "shipments": [
            {"items": [{"sellerFulfillmentOrderItemId": "1", "quantity": 1}], "status": "LOST"}]}, "status must be"),
        (["Processing"], {"to": "CompletePartialled"}, "needs some units shipped and some unfulfillable"),
        (["Processing"], {"to": "CompletePartialled", "unfulfillable": [
            {"sellerFulfillmentOrderItemId": "2", "quantity": 3}]}, "only 2 more units can be unfulfillable"),
    ],
)  # fmt: skip
def test_impossible_moves_are_refused_and_change_nothing(
    api: httpx.Client, sim: SpApiSimulatorControl, path: list[str], move: dict[str, Any], message: str
) -> None:
    create(api)
    for step in path:
        sim.advance_fulfillment_order("WEB-00001001", step)
    before = get(api, "WEB-00001001")
    response = sim.http.post("/_sim/fulfillment-orders/WEB-00001001/advance", json=move)
    assert response.status_code == 400 and message in response.json()["error"], response.text
    assert get(api, "WEB-00001001") == before


def test_unfulfillable_after_a_shipment_left_is_refused(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    create(api)
    sim.advance_fulfillment_order("WEB-00001001", "Processing", shipments=[
        {"items": [{"sellerFulfillmentOrderItemId": "2", "quantity": 2}], "status": "SHIPPED"}])  # fmt: skip
    with pytest.raises(SimulatorControlError, match="use CompletePartialled"):
        sim.advance_fulfillment_order("WEB-00001001", "Unfulfillable")
    with pytest.raises(SimulatorControlError) as missing:
        sim.advance_fulfillment_order("NO-SUCH-ORDER", "Received")
    assert missing.value.status == 404
    assert (
        sim.http.post("/_sim/fulfillment-orders/WEB-00001001/advance", json={"to": "Complete", "x": 1}).status_code
        == 400
    )


def test_auto_advance_moves_open_orders_to_complete(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    create(api, "AUTO-1")
    create(api, "HELD-1", fulfillmentAction="Hold")
    create(api, "GONE-1")
    api.put(f"{FBA}/GONE-1/cancel")
    assert sim.settings(auto_advance_seconds=0.2)["auto_advance_seconds"] == 0.2
    deadline = time.monotonic() + 15
    while get(api, "AUTO-1")["fulfillmentOrder"]["fulfillmentOrderStatus"] != "Complete":
        assert time.monotonic() < deadline, get(api, "AUTO-1")["fulfillmentOrder"]
        time.sleep(0.1)
    sim.settings(auto_advance_seconds=0)
    history = [h["status"] for h in sim.fulfillment_order("AUTO-1")["_sim"]["history"]]
    assert history == ["New", "Received", "Planning", "Processing", "Complete"]
    assert packages(get(api, "AUTO-1"))[0]["trackingNumber"].startswith("1Z")
    assert get(api, "HELD-1")["fulfillmentOrder"]["fulfillmentOrderStatus"] == "Received"  # held orders wait
    assert get(api, "GONE-1")["fulfillmentOrder"]["fulfillmentOrderStatus"] == "Cancelled"


# --- listAllFulfillmentOrders ----------------------------------------------------------------------------


def test_list_all_pages_with_next_token(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    keys = [f"LIST-{n}" for n in range(5)]
    for key in keys:
        assert create(api, key).status_code == 200
    sim.settings(fulfillment_page_size=2)
    first = api.get(FBA, params={"queryStartDate": ago(hours=1)})
    assert first.status_code == 200 and first.headers["x-amzn-RateLimit-Limit"] == "2"
    page = first.json()["payload"]
    amazon = sample("listAllFulfillmentOrders_200")["payload"]
    assert set(page) == {"fulfillmentOrders", "nextToken"} and set(amazon) <= set(page)
    seen = [o["sellerFulfillmentOrderId"] for o in page["fulfillmentOrders"]]
    assert set(amazon["fulfillmentOrders"][0]) - {"featureConstraints"} <= set(page["fulfillmentOrders"][0])
    pages = 1
    while "nextToken" in page:
        page = api.get(FBA, params={"nextToken": page["nextToken"], "queryStartDate": "ignored"}).json()["payload"]
        seen += [o["sellerFulfillmentOrderId"] for o in page["fulfillmentOrders"]]
        pages += 1
    assert sorted(seen) == keys and len(seen) == 5 and pages == 3

    everything = api.get(FBA).json()["payload"]  # no queryStartDate: all of them
    assert len(everything["fulfillmentOrders"]) == 2 and "nextToken" in everything
    assert api.get(FBA, params={"queryStartDate": ago(hours=-1)}).json()["payload"] == {"fulfillmentOrders": []}
    assert "at 'queryStartDate'" in error_of(api.get(FBA, params={"queryStartDate": "last week"}))["message"]
    assert error_of(api.get(FBA, params={"nextToken": "garbage"}))["message"] == "Invalid NextToken"


# --- usage plans and faults ------------------------------------------------------------------------------


def test_fulfillment_usage_plans_throttle_after_the_burst(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    create(api)
    codes = [api.get(f"{FBA}/WEB-00001001").status_code for _ in range(30)]  # one spent on nothing else
    throttled = api.get(f"{FBA}/WEB-00001001")
    assert codes == [200] * 30 and throttled.status_code == 429 and throttled.json() == {"errors": [QUOTA]}
    assert throttled.headers["x-amzn-RateLimit-Limit"] == "2" and throttled.headers["x-amzn-RequestId"]
    assert api.put(f"{FBA}/WEB-00001001/cancel").status_code == 200  # its own bucket
    limits = sim.rate_limits()["limits"]
    for operation in ("createFulfillmentOrder", "getFulfillmentOrder", "cancelFulfillmentOrder",
                      "getFulfillmentPreview", "listAllFulfillmentOrders"):  # fmt: skip
        assert limits[operation] == {"rate": 2.0, "burst": 30}
    assert limits["confirmShipment"] == {"rate": 2.0, "burst": 10}
    seed_order(sim)
    codes = [confirm(api, "202-1000001-1000001", {}).status_code for _ in range(11)]
    assert codes == [400] * 10 + [429]  # refused calls spend tokens too


def test_fault_on_create_fulfillment_order(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    sim.set_rate_limit("createFulfillmentOrder", rate=0, burst=1)
    sim.add_fault(operation="createFulfillmentOrder", kind="error", status=503, times=1)
    failed = create(api)
    assert failed.status_code == 503 and failed.json()["errors"][0]["code"] == "ServiceUnavailable"
    assert failed.headers["x-amzn-RateLimit-Limit"] == "0"
    assert sim.fulfillment_orders() == []
    assert create(api).status_code == 200  # the fault spent no token: the retry has the only one
    assert len(sim.fulfillment_orders()) == 1
    sim.add_fault(operation="createFulfillmentOrder", kind="throttle", times=1)
    assert create(api).json() == {"errors": [QUOTA]}
    assert sim.calls()["createFulfillmentOrder"] == {"200": 1, "429": 1, "503": 1}


# --- confirmShipment -------------------------------------------------------------------------------------


def test_confirm_shipment_ships_and_getorders_sees_it(
    api: httpx.Client, sim: SpApiSimulatorControl, later: Callable[[float], None]
) -> None:
    order_id = seed_order(sim)
    before = sim.get_order(order_id)["order"]["LastUpdateDate"]
    window = {"MarketplaceIds": UK, "LastUpdatedAfter": ago(hours=1)}
    assert [o["AmazonOrderId"] for o in api.get(ORDERS, params=window).json()["payload"]["Orders"]] == [order_id]

    response = confirm(api, order_id, confirmation("1", [("11", 2)]))
    assert response.status_code == 204 and response.content == b""
    assert "content-type" not in response.headers and response.headers["x-amzn-RateLimit-Limit"] == "2"
    order = api.get(f"{ORDERS}/{order_id}").json()["payload"]
    assert order["OrderStatus"] == "PartiallyShipped" and order["LastUpdateDate"] > before
    assert (order["NumberOfItemsShipped"], order["NumberOfItemsUnshipped"]) == (2, 1)
    items = api.get(f"{ORDERS}/{order_id}/orderItems").json()["payload"]["OrderItems"]
    assert [(i["OrderItemId"], i["QuantityShipped"]) for i in items] == [("11", 2), ("12", 0)]

    # getOrders shows changes once they are two minutes old: the order has left the old window for now ...
    assert api.get(ORDERS, params=window).json()["payload"]["Orders"] == []
    later(180)  # ... and the next poll, after the two minutes, brings it back with its new status.
    [polled] = api.get(ORDERS, params={**window, "LastUpdatedAfter": before}).json()["payload"]["Orders"]
    assert polled["AmazonOrderId"] == order_id and polled["OrderStatus"] == "PartiallyShipped"
    assert polled["LastUpdateDate"] == order["LastUpdateDate"]

    assert confirm(api, order_id, confirmation("2", [("12", 1)], trackingNumber="RM2")).status_code == 204
    order = sim.get_order(order_id)["order"]
    assert order["OrderStatus"] == "Shipped"
    assert (order["NumberOfItemsShipped"], order["NumberOfItemsUnshipped"]) == (3, 0)
    sent = sim.order_shipments(order_id)
    assert [(c["packageDetail"]["packageReferenceId"], c["repeats"]) for c in sent] == [("1", 0), ("2", 0)]
    assert sent[0]["packageDetail"] == confirmation("1", [("11", 2)])["packageDetail"] and sent[0]["received_at"]


def test_confirm_shipment_repeats_are_idempotent_per_package(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    order_id = seed_order(sim)
    body = confirmation("7", [("11", 1)])
    assert confirm(api, order_id, body).status_code == 204
    updated = sim.get_order(order_id)["order"]["LastUpdateDate"]
    time.sleep(1.01)
    assert confirm(api, order_id, body).status_code == 204  # sent again after a lost answer: no double count
    order = sim.get_order(order_id)
    assert order["items"][0]["QuantityShipped"] == 1 and order["order"]["LastUpdateDate"] == updated
    [sent] = sim.order_shipments(order_id)
    assert sent["repeats"] == 1

    conflict = error_of(confirm(api, order_id, confirmation("7", [("11", 1)], trackingNumber="OTHER")))
    assert conflict["message"] == (
        f"packageReferenceId 7 was already confirmed for order {order_id} with different content."
    )
    assert sim.get_order(order_id)["items"][0]["QuantityShipped"] == 1 and len(sim.order_shipments(order_id)) == 1
    assert sim.calls()["confirmShipment"] == {"204": 2, "400": 1}


def test_confirm_shipment_refuses_more_than_unshipped(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    order_id = seed_order(sim)
    over = error_of(confirm(api, order_id, confirmation("1", [("11", 3)])))
    assert over["message"] == (
        f"Quantity 3 for orderItemId 11 exceeds the 2 units of order {order_id} not yet shipped."
    )
    assert confirm(api, order_id, confirmation("1", [("11", 1)])).status_code == 204
    # The same item twice in one package counts twice.
    twice = error_of(confirm(api, order_id, confirmation("2", [("11", 1), ("11", 1)])))
    assert "Quantity 2 for orderItemId 11 exceeds the 1 units" in twice["message"]
    unknown = error_of(confirm(api, order_id, confirmation("3", [("99", 1)])))
    assert unknown["message"] == f"orderItemId 99 is not an item of order {order_id}."
    assert sim.get_order(order_id)["items"][0]["QuantityShipped"] == 1 and len(sim.order_shipments(order_id)) == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"FulfillmentChannel": "AFN"},
            "is fulfilled by Amazon (AFN); only merchant-fulfilled (MFN) orders can be confirmed.",
        ),
        ({"OrderStatus": "Pending"}, "is Pending: its shipment cannot be confirmed."),
        ({"OrderStatus": "Canceled"}, "is Canceled: its shipment cannot be confirmed."),
    ],
)
def test_confirm_shipment_refused_for_afn_pending_and_canceled_orders(
    api: httpx.Client, sim: SpApiSimulatorControl, fields: dict[str, Any], message: str
) -> None:
    order_id = seed_order(sim, **fields)
    error = error_of(confirm(api, order_id, confirmation()))
    assert error["code"] == "InvalidInput" and error["message"] == f"Order {order_id} {message}"
    assert sim.order_shipments(order_id) == []


def test_confirm_shipment_unknown_or_foreign_order_and_wrong_marketplace(
    api: httpx.Client, sim: SpApiSimulatorControl
) -> None:
    missing = error_of(confirm(api, "202-0000000-0000000", confirmation()), 404)
    assert missing["code"] == "NotFound" and missing["message"] == "Order not found"
    sim.add_seller(selling_partner_id="A2OTHER", refresh_token="Atzr|o", client_id="c", client_secret="s",
                   marketplace_ids=[UK])  # fmt: skip
    theirs = seed_order(sim, "202-2000002-2000002", seller="A2OTHER")
    assert error_of(confirm(api, theirs, confirmation()), 404)["code"] == "NotFound"
    mine = seed_order(sim)
    wrong = error_of(confirm(api, mine, {**confirmation(), "marketplaceId": DE}))
    assert wrong["message"] == f"marketplaceId {DE} does not match order {mine}'s marketplace."
    with pytest.raises(SimulatorControlError):
        sim.order_shipments("202-0000000-0000000")


@pytest.mark.parametrize(
    ("change", "field", "constraint"),
    [
        ({"marketplaceId": None}, "marketplaceId", "Member must not be null"),
        ({"packageDetail": None}, "packageDetail", "Member must not be null"),
        ({"codCollectionMethod": "Cash"}, "codCollectionMethod", "enum value set: [DirectPayment]"),
        ({"packageReferenceId": None}, "packageDetail.packageReferenceId", "Member must not be null"),
        ({"packageReferenceId": "PKG-1"}, "packageDetail.packageReferenceId", "positive number"),
        ({"packageReferenceId": "0"}, "packageDetail.packageReferenceId", "positive number"),
        ({"carrierCode": None}, "packageDetail.carrierCode", "Member must not be null"),
        ({"carrierCode": "Other"}, "packageDetail.carrierName", "Member must not be null"),
        ({"trackingNumber": None}, "packageDetail.trackingNumber", "Member must not be null"),
        ({"shipDate": None}, "packageDetail.shipDate", "Member must not be null"),
        ({"shipDate": "02/21/2022"}, "packageDetail.shipDate", "ISO 8601"),  # Amazon's own 400 sandbox case
        ({"orderItems": []}, "packageDetail.orderItems", "greater than or equal to 1"),
        ({"orderItems": [{"quantity": 1}]}, "packageDetail.orderItems.1.member.orderItemId", "must not be null"),
        ({"orderItems": [{"orderItemId": "11", "quantity": 0}]}, "packageDetail.orderItems.1.member.quantity",
         "greater than or equal to 1"),
    ],
)  # fmt: skip
def test_confirm_shipment_validation_names_the_field(
    api: httpx.Client, sim: SpApiSimulatorControl, change: dict[str, Any], field: str, constraint: str
) -> None:
    order_id = seed_order(sim)
    body = confirmation()
    top = {k: v for k, v in change.items() if k in body or k == "codCollectionMethod"}
    inner = {k: v for k, v in change.items() if k not in top}
    body = {k: v for k, v in {**body, **top}.items() if v is not None}
    if "packageDetail" in body:
        body["packageDetail"] = {k: v for k, v in {**body["packageDetail"], **inner}.items() if v is not None}
    error = error_of(confirm(api, order_id, body))
    assert error["code"] == "InvalidInput"
    assert f"at '{field}' failed to satisfy constraint: " in error["message"] and constraint in error["message"]
    assert sim.order_shipments(order_id) == [] and sim.get_order(order_id)["order"]["OrderStatus"] == "Unshipped"


def test_confirm_shipment_with_other_carrier_name(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    order_id = seed_order(sim)
    body = confirmation(carrierCode="Other", carrierName="Local Courier Ltd", shippingMethod="Next day")
    assert confirm(api, order_id, body).status_code == 204
    assert sim.order_shipments(order_id)[0]["packageDetail"]["carrierName"] == "Local Courier Ltd"


# --- python-amazon-sp-api against the simulator ----------------------------------------------------------


def test_python_amazon_sp_api_fulfillment_and_confirm_shipment(spapi_url: str, sim: SpApiSimulatorControl) -> None:
    host = spapi_url.removeprefix("http://")

    class LocalLWA(AccessTokenClient):
        scheme = "http://"

    LocalLWA.host = host
    credentials = {
        "refresh_token": SELLER["refresh_token"],
        "lwa_app_id": SELLER["client_id"],
        "lwa_client_secret": SELLER["client_secret"],
    }
    outbound = FulfillmentOutbound(
        credentials=credentials, marketplace=Marketplaces.UK, auth_token_client_class=LocalLWA
    )
    outbound.endpoint = spapi_url

    created = outbound.create_fulfillment_order(**order_body())
    assert created.payload == {} and created.rate_limit == "2" and created.headers["x-amzn-RequestId"]
    assert outbound.create_fulfillment_order(**order_body()).payload == {}  # a retry: the same order
    with pytest.raises(SellingApiBadRequestException) as conflict:
        outbound.create_fulfillment_order(**order_body(displayableOrderComment="changed"))
    assert conflict.value.amzn_code == "InvalidInput" and "already exists" in conflict.value.message
    # The library adds marketplaceIds/MarketplaceIds to the body; the simulator keeps them out of the order.
    assert "MarketplaceIds" not in sim.fulfillment_order("WEB-00001001")["_sim"]["request"]

    got = outbound.get_fulfillment_order("WEB-00001001")
    assert got.payload["fulfillmentOrder"]["fulfillmentOrderStatus"] == "New"
    assert [i["sellerSku"] for i in got.payload["fulfillmentOrderItems"]] == ["FBA-TENT", "FBA-MUG"]
    listed = outbound.list_all_fulfillment_orders(queryStartDate=ago(hours=1))
    assert [o["sellerFulfillmentOrderId"] for o in listed.payload["fulfillmentOrders"]] == ["WEB-00001001"]
    assert listed.next_token is None
    preview = outbound.get_fulfillment_preview(**preview_body(shippingSpeedCategories=["Expedited"]))
    assert preview.payload["fulfillmentPreviews"][0]["estimatedFees"][0]["amount"]["value"] == "26.25"

    assert outbound.cancel_fulfillment_order("WEB-00001001").payload == {}
    assert outbound.get_fulfillment_order("WEB-00001001").payload["fulfillmentOrder"]["fulfillmentOrderStatus"] == (
        "Cancelled"
    )
    create_other = order_body("WEB-2")
    outbound.create_fulfillment_order(**create_other)
    sim.advance_fulfillment_order("WEB-2", "Processing")
    with pytest.raises(SellingApiBadRequestException) as refused:
        outbound.cancel_fulfillment_order("WEB-2")
    assert "its status is Processing" in refused.value.message
    sim.set_rate_limit("getFulfillmentOrder", rate=0, burst=0)
    with pytest.raises(SellingApiRequestThrottledException) as throttled:
        outbound.get_fulfillment_order("WEB-2")
    assert throttled.value.amzn_code == "QuotaExceeded"

    order_id = seed_order(sim)
    orders = Orders(credentials=credentials, marketplace=Marketplaces.UK, auth_token_client_class=LocalLWA)
    orders.endpoint = spapi_url
    body = confirmation("1", [("11", 2), ("12", 1)])
    # 204 without a body: the library answers with {"status_code": 204} as the payload.
    confirmed = orders.confirm_shipment(order_id, **body)
    assert confirmed.payload == {"status_code": 204} and confirmed.rate_limit == "2"
    assert orders.confirm_shipment(order_id, **body).payload == {"status_code": 204}
    with pytest.raises(SellingApiBadRequestException) as different:
        orders.confirm_shipment(order_id, **confirmation("1", [("11", 1)]))
    assert "with different content" in different.value.message
    [sent] = sim.order_shipments(order_id)  # confirm_shipment adds no marketplace keys: the body as given
    assert {k: v for k, v in sent.items() if k not in ("received_at", "repeats")} == body and sent["repeats"] == 1
    assert orders.get_order(order_id).payload["OrderStatus"] == "Shipped"
