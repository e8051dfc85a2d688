"""Orders API v2026-01-01 in the SP-API simulator: searchOrders and getOrder against Amazon's model.

Bodies are validated against the model's own JSON schemas, made strict (no property the model does not define), so
field names and nesting are exactly Amazon's. The same stored orders serve v0 and 2026-01-01.
"""

from __future__ import annotations

import copy
import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from sp_api.api import Orders
from sp_api.auth import AccessTokenClient
from sp_api.base import Marketplaces

from simulators.spapi.control import SpApiSimulatorControl
from simulators.spapi.orders2026 import EXPIRED_TOKEN, INVALID_TOKEN
from tests.simulators.support import DE, SELLER, UK, US, lwa

FIXTURES = Path(__file__).resolve().parents[2] / "simulators" / "spapi" / "fixtures"
MODEL_PATH = FIXTURES / "models" / "orders_2026-01-01.json"  # Amazon's model, verbatim (Apache-2.0)
EXAMPLES = FIXTURES / "orders-2026-01-01"  # its static-sandbox examples

SEARCH = "/orders/2026-01-01/orders"
SELLER_ID = SELLER["selling_partner_id"]
ALL_DATA = "BUYER,RECIPIENT,PROCEEDS,EXPENSE,PROMOTION,CANCELLATION,FULFILLMENT,PACKAGES,TAX,PAYMENT,FULFILLMENT_ORDERS"
ADDRESS_PII = {"name", "addressLine1", "addressLine2", "addressLine3", "postalCode", "phone", "extendedFields"}


def _strict(node: Any) -> Any:
    """The model's schemas, refusing properties they do not define (the model leaves additionalProperties open)."""
    if isinstance(node, dict):
        out = {k: _strict(v) for k, v in node.items() if not k.startswith("x-")}
        if out.get("type") == "object" and "properties" in out:
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


@pytest.fixture(scope="module")
def schema() -> Any:
    definitions = _strict(copy.deepcopy(json.loads(MODEL_PATH.read_text())["definitions"]))

    def validate(body: Any, name: str) -> None:
        jsonschema.Draft4Validator(
            {"$ref": f"#/definitions/{name}", "definitions": definitions},
            format_checker=jsonschema.FormatChecker(),
        ).validate(body)

    return validate


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ago(**delta: float) -> str:
    return iso(datetime.now(UTC) - timedelta(**delta))


def example(name: str) -> dict[str, Any]:
    return {k: v for k, v in json.loads((EXAMPLES / name).read_text()).items() if not k.startswith("_")}


def seed(sim: SpApiSimulatorControl, count: int, *, minutes_ago: float = 30, **fields: Any) -> list[str]:
    """`count` UK orders one second apart (2 × SKU-1 for 20.00 GBP, a full address), raw=false."""
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes_ago)
    price = {"CurrencyCode": "GBP", "Amount": "20.00"}
    address = {
        "Name": "Jane Doe", "AddressLine1": "1 High St", "City": "London", "PostalCode": "SW1A 2AA",
        "CountryCode": "GB", "Phone": "+44 20 7946 0000", "AddressType": "Residential",
    }  # fmt: skip
    entries: list[dict[str, Any]] = [
        {
            "order": {
                "AmazonOrderId": f"202-{n:07d}-{n:07d}",
                "PurchaseDate": iso(base + timedelta(seconds=n)),
                "LastUpdateDate": iso(base + timedelta(seconds=n)),
                "MarketplaceId": UK,
                **fields,
            },
            "items": [{"SellerSKU": "SKU-1", "QuantityOrdered": 2, "ItemPrice": price}],
            "address": address,
        }
        for n in range(count)
    ]
    return sim.upsert_orders(seller=SELLER_ID, orders=entries)


def search(api: httpx.Client, **params: Any) -> httpx.Response:
    if "createdAfter" not in params:
        params.setdefault("lastUpdatedAfter", ago(days=30))
    return api.get(SEARCH, params={k: v for k, v in params.items() if v is not None})


def search_all(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    orders: list[dict[str, Any]] = []
    while True:
        body = search(api, **params).json()
        orders += body["orders"]
        token = body.get("pagination", {}).get("nextToken")
        if not token:
            return orders
        params["paginationToken"] = token


def add_other_seller(sim: SpApiSimulatorControl) -> None:
    sim.add_seller(
        selling_partner_id="OTHER", refresh_token="r2", client_id="c2", client_secret="s2", marketplace_ids=[UK]
    )


def error(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    [err] = response.json()["errors"]
    assert err["code"] == "InvalidInput"
    return str(err["message"])


# --- shapes ---------------------------------------------------------------------------------------------


def test_the_strict_schemas_accept_amazons_examples(schema: Any) -> None:
    for name in ("searchOrders_200.json", "searchOrders_200_2.json", "searchOrders_200_page2.json"):
        schema(example(name), "SearchOrdersResponse")
    for name in ("getOrder_200.json", "getOrder_200_1.json", "getOrder_200_2.json"):
        schema(example(name), "GetOrderResponse")
    with pytest.raises(jsonschema.ValidationError):
        wrong = {**example("getOrder_200.json")["order"], "OrderStatus": "Shipped"}  # a v0 field
        schema({"orders": [wrong]}, "SearchOrdersResponse")


def test_generated_orders_validate_against_the_model(
    api: httpx.Client, sim: SpApiSimulatorControl, schema: Any
) -> None:
    ids = sim.generate(seller=SELLER_ID, marketplace_id=UK, count=60, skus=["A", "B", "C"], seed=7)
    sim.generate(seller=SELLER_ID, marketplace_id=DE, count=20, skus=["A"], seed=8)
    for included in ("", "FULFILLMENT", ALL_DATA):
        response = search(api, includedData=included, marketplaceIds=UK) if included else search(api, marketplaceIds=UK)
        assert response.status_code == 200
        body = response.json()
        schema(body, "SearchOrdersResponse")
        assert body["lastUpdatedBefore"] and "createdBefore" not in body
    everything = search_all(api, includedData=ALL_DATA, marketplaceIds=UK)
    assert sorted(o["orderId"] for o in everything) == sorted(ids)
    for order_id in ids[:10]:
        response = api.get(f"{SEARCH}/{order_id}", params={"includedData": ALL_DATA})
        assert response.status_code == 200
        schema(response.json(), "GetOrderResponse")
    # Key order and nesting as in Amazon's examples (a shipped FBM order has every dataset the page2 example has).
    shipped = next(o for o in everything if o["fulfillment"] == {**o["fulfillment"], "fulfillmentStatus": "SHIPPED",
                   "fulfilledBy": "MERCHANT"})  # fmt: skip
    reference = example("searchOrders_200_page2.json")["orders"][0]
    common = [k for k in reference if k in shipped]
    assert common == [k for k in shipped if k in reference]
    assert {"orderId", "createdTime", "lastUpdatedTime", "salesChannel", "buyer", "recipient", "proceeds",
            "fulfillment", "orderItems", "packages"} <= set(shipped)  # fmt: skip
    assert shipped["salesChannel"] == {"channelName": "AMAZON", "marketplaceId": UK, "marketplaceName": "Amazon.co.uk"}


def test_get_order_unknown_and_other_sellers_orders_are_404(
    api: httpx.Client, sim: SpApiSimulatorControl, schema: Any
) -> None:
    add_other_seller(sim)
    sim.upsert_orders(seller="OTHER", orders=[{"order": {"AmazonOrderId": "203-0000000-0000001"}, "items": []}])
    for order_id in ("203-0000000-0000001", "999-9999999-9999999"):
        response = api.get(f"{SEARCH}/{order_id}")
        assert response.status_code == 404
        schema(response.json(), "ErrorList")
        assert response.headers["x-amzn-RateLimit-Limit"] == "0.5"


# --- parameters ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "Exactly one of createdAfter and lastUpdatedAfter must be provided."),
        ({"createdAfter": "2026-01-01T00:00:00Z", "lastUpdatedAfter": "2026-01-01T00:00:00Z"}, "Exactly one of"),
        ({"createdAfter": "2026-01-01T00:00:00Z", "lastUpdatedBefore": "2026-01-02T00:00:00Z"},
         "If createdAfter is provided, neither lastUpdatedAfter nor lastUpdatedBefore may be provided."),
        ({"lastUpdatedAfter": "2026-01-01T00:00:00Z", "createdBefore": "2026-01-02T00:00:00Z"},
         "If lastUpdatedAfter is provided, neither createdAfter nor createdBefore may be provided."),
        ({"createdAfter": "yesterday"}, "createdAfter is not a valid ISO 8601 date-time."),
        ({"lastUpdatedAfter": "2026-01-01T00:00:00Z", "lastUpdatedBefore": "soon"},
         "lastUpdatedBefore is not a valid ISO 8601 date-time."),
        ({"createdAfter": "2026-01-02T00:00:00Z", "createdBefore": "2026-01-01T00:00:00Z"},
         "createdBefore must be equal to or after the createdAfter date and at least two minutes before the time of "
         "the request."),
        ({"lastUpdatedAfter": "2026-01-01T00:00:00Z", "lastUpdatedBefore": "NOW"}, "lastUpdatedBefore must be equal"),
        ({"lastUpdatedAfter": "2026-01-01T00:00:00Z", "maxResultsPerPage": "0"},
         "maxResultsPerPage must be an integer between 1 and 100."),
        ({"lastUpdatedAfter": "2026-01-01T00:00:00Z", "maxResultsPerPage": "101"}, "between 1 and 100"),
        ({"lastUpdatedAfter": "2026-01-01T00:00:00Z", "maxResultsPerPage": "ten"}, "between 1 and 100"),
        ({"lastUpdatedAfter": "2026-01-01T00:00:00Z", "fulfillmentStatuses": "SHIPPED,Shipped"},
         "1 validation error detected: Value '[SHIPPED, Shipped]' at 'fulfillmentStatuses' failed to satisfy "
         "constraint: Member must satisfy enum value set: [PENDING_AVAILABILITY, PENDING, UNSHIPPED, "
         "PARTIALLY_SHIPPED, SHIPPED, CANCELLED, UNFULFILLABLE]"),
        ({"lastUpdatedAfter": "2026-01-01T00:00:00Z", "fulfilledBy": "MFN"},
         "Value '[MFN]' at 'fulfilledBy' failed to satisfy constraint: Member must satisfy enum value set: "
         "[MERCHANT, AMAZON]"),
        ({"lastUpdatedAfter": "2026-01-01T00:00:00Z", "includedData": "BUYER,ITEMS"},
         "Value '[BUYER, ITEMS]' at 'includedData' failed to satisfy constraint"),
        ({"lastUpdatedAfter": "2026-01-01T00:00:00Z", "marketplaceIds": ",".join(f"M{n}" for n in range(51))},
         "at 'marketplaceIds' failed to satisfy constraint: Member must have length less than or equal to 50"),
        ({"lastUpdatedAfter": "2026-01-01T00:00:00Z", "paginationToken": "garbage"}, INVALID_TOKEN),
    ],
)  # fmt: skip
def test_parameter_validation_in_amazons_words(
    api: httpx.Client, sim: SpApiSimulatorControl, schema: Any, params: dict[str, str], message: str
) -> None:
    if params.get("lastUpdatedBefore") == "NOW":
        params["lastUpdatedBefore"] = ago(seconds=30)
    response = api.get(SEARCH, params=params)
    assert message in error(response)
    schema(response.json(), "ErrorList")
    assert response.headers["x-amzn-RateLimit-Limit"] == "0.0056" and response.headers["x-amzn-RequestId"]
    assert api.get(f"{SEARCH}/202-0000000-0000000", params={"includedData": "ITEMS"}).status_code == 400


def test_filters_windows_and_defaults(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    sim.add_seller(**SELLER, marketplace_ids=[UK, DE, US])
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    rows = [  # (id, marketplace, channel, v0 status, minutes after base)
        ("202-0000001-0000001", UK, "MFN", "Unshipped", 0), ("202-0000002-0000002", UK, "AFN", "Shipped", 10),
        ("302-0000003-0000003", DE, "MFN", "Canceled", 20), ("111-0000004-0000004", US, "MFN", "Pending", 30),
        ("202-0000005-0000005", UK, "MFN", "InvoiceUnconfirmed", 40),
        ("202-0000006-0000006", UK, "MFN", "PartiallyShipped", 50),
    ]  # fmt: skip
    for order_id, market, channel, status, minutes in rows:
        moment = iso(base + timedelta(minutes=minutes))
        sim.upsert_orders(seller=SELLER_ID, orders=[{
            "order": {"AmazonOrderId": order_id, "MarketplaceId": market, "FulfillmentChannel": channel,
                      "OrderStatus": status, "PurchaseDate": moment, "LastUpdateDate": moment},
            "items": [{"SellerSKU": "S", "QuantityOrdered": 2,
                       "QuantityShipped": 1 if status == "PartiallyShipped" else (2 if "Ship" in status else 0)}],
        }])  # fmt: skip

    def ids(**params: Any) -> list[str]:
        return [o["orderId"] for o in search_all(api, includedData="FULFILLMENT", **params)]

    everything = ids(createdAfter=iso(base))
    assert everything == [r[0] for r in rows]  # no marketplaceIds: every marketplace of the seller, oldest first
    assert ids(createdAfter=iso(base), marketplaceIds=f"{UK},{DE}") == [r[0] for r in rows if r[1] != US]
    assert ids(createdAfter=iso(base), marketplaceIds=DE) == ["302-0000003-0000003"]
    assert ids(createdAfter=iso(base), fulfilledBy="AMAZON") == ["202-0000002-0000002"]
    assert ids(createdAfter=iso(base), fulfilledBy="MERCHANT,AMAZON") == everything
    shipped = ids(createdAfter=iso(base), fulfillmentStatuses="SHIPPED")
    assert shipped == ["202-0000002-0000002", "202-0000005-0000005"]  # InvoiceUnconfirmed is SHIPPED
    assert ids(createdAfter=iso(base), fulfillmentStatuses=["CANCELLED", "PENDING"]) == [
        "302-0000003-0000003", "111-0000004-0000004"]  # fmt: skip
    # Inclusive bounds on both ends; createdBefore echoed back.
    window = search(api, lastUpdatedAfter=None, createdAfter=iso(base + timedelta(minutes=10)),
                    createdBefore=iso(base + timedelta(minutes=30))).json()  # fmt: skip
    assert [o["orderId"] for o in window["orders"]] == [r[0] for r in rows[1:4]]
    assert window["createdBefore"] == iso(base + timedelta(minutes=30)) and "lastUpdatedBefore" not in window
    statuses = {o["orderId"]: o["fulfillment"] for o in search_all(api, createdAfter=iso(base),
                                                                    includedData="FULFILLMENT")}  # fmt: skip
    assert statuses["202-0000006-0000006"] == {"fulfillmentStatus": "PARTIALLY_SHIPPED", "fulfilledBy": "MERCHANT",
                                               "fulfillmentServiceLevel": "STANDARD"}  # fmt: skip


# --- pagination ------------------------------------------------------------------------------------------


def test_pagination_tokens(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    ids = seed(sim, 25)
    since = ago(days=1)
    first = search(api, lastUpdatedAfter=since, maxResultsPerPage=10).json()
    token = first["pagination"]["nextToken"]
    assert len(first["orders"]) == 10
    # maxResultsPerPage and includedData may change between pages; every other parameter must not.
    second = search(api, lastUpdatedAfter=since, maxResultsPerPage=5, includedData="BUYER", paginationToken=token)
    assert second.status_code == 200 and len(second.json()["orders"]) == 5
    token2 = second.json()["pagination"]["nextToken"]
    third = search(api, lastUpdatedAfter=since, maxResultsPerPage=100, paginationToken=token2).json()
    assert "pagination" not in third
    assert [o["orderId"] for o in first["orders"] + second.json()["orders"] + third["orders"]] == ids
    assert third["lastUpdatedBefore"] == first["lastUpdatedBefore"]  # the window is the first page's
    for changed in (
        {"lastUpdatedAfter": ago(days=2)},
        {"lastUpdatedAfter": since, "marketplaceIds": UK},
        {"lastUpdatedAfter": since, "fulfillmentStatuses": "UNSHIPPED"},
        {"lastUpdatedAfter": since, "fulfilledBy": "MERCHANT"},
        {"lastUpdatedAfter": since, "lastUpdatedBefore": ago(minutes=5)},
    ):
        assert error(search(api, **changed, paginationToken=token)) == INVALID_TOKEN
    # Another seller's token is refused too.
    add_other_seller(sim)
    other = lwa(str(api.base_url), refresh_token="r2", client_id="c2", client_secret="s2").json()["access_token"]
    response = api.get(SEARCH, params={"lastUpdatedAfter": since, "paginationToken": token},
                       headers={"x-amz-access-token": other})  # fmt: skip
    assert error(response) == INVALID_TOKEN


def test_pagination_tokens_expire(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    seed(sim, 5)
    since = ago(days=1)
    assert sim.settings()["pagination_token_ttl_seconds"] == 86400
    token = search(api, lastUpdatedAfter=since, maxResultsPerPage=2).json()["pagination"]["nextToken"]
    assert search(api, lastUpdatedAfter=since, maxResultsPerPage=2, paginationToken=token).status_code == 200
    sim.expire_pagination_tokens()
    assert error(search(api, lastUpdatedAfter=since, paginationToken=token)) == EXPIRED_TOKEN
    # A search started again gets fresh tokens; with a short TTL they lapse by time.
    sim.settings(pagination_token_ttl_seconds=1)
    fresh = search(api, lastUpdatedAfter=since, maxResultsPerPage=2).json()["pagination"]["nextToken"]
    assert search(api, lastUpdatedAfter=since, maxResultsPerPage=2, paginationToken=fresh).status_code == 200
    time.sleep(1.1)
    assert error(search(api, lastUpdatedAfter=since, paginationToken=fresh)) == EXPIRED_TOKEN


def test_order_updated_through_the_control_api_enters_the_lastupdatedafter_window(
    api: httpx.Client, sim: SpApiSimulatorControl
) -> None:
    ids = seed(sim, 3, minutes_ago=120, OrderStatus="Unshipped", FulfillmentChannel="MFN")
    since = ago(minutes=60)
    assert search_all(api, lastUpdatedAfter=since) == []
    assert error(search(api, lastUpdatedAfter=ago(minutes=1))).startswith("lastUpdatedBefore must be equal")
    # A change is listed once it is two minutes old (the default lastUpdatedBefore is now − 2 minutes, as on Amazon).
    sim.patch_order(ids[1], OrderStatus="Canceled")
    assert search_all(api, lastUpdatedAfter=since) == []
    sim.patch_order(ids[1], LastUpdateDate=ago(minutes=3))
    [order] = search_all(api, lastUpdatedAfter=since, includedData="FULFILLMENT")
    assert order["orderId"] == ids[1] and order["fulfillment"]["fulfillmentStatus"] == "CANCELLED"
    assert order["orderItems"][0]["fulfillment"] == {"quantityFulfilled": 0, "quantityUnfulfilled": 0}
    assert order["lastUpdatedTime"] >= since


# --- includedData and PII --------------------------------------------------------------------------------


def test_included_data_selects_the_datasets(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    [order_id] = seed(sim, 1, OrderStatus="Shipped", FulfillmentChannel="MFN")
    basic = api.get(f"{SEARCH}/{order_id}").json()["order"]
    assert set(basic) == {"orderId", "createdTime", "lastUpdatedTime", "salesChannel", "orderItems"}
    assert basic["orderItems"] == [{"orderItemId": basic["orderItems"][0]["orderItemId"], "quantityOrdered": 2,
        "product": {"asin": basic["orderItems"][0]["product"]["asin"], "sellerSku": "SKU-1",
                    "price": {"unitPrice": {"amount": "10.00", "currencyCode": "GBP"}}}}]  # fmt: skip
    datasets = {"BUYER": "buyer", "RECIPIENT": "recipient", "PROCEEDS": "proceeds", "FULFILLMENT": "fulfillment",
                "PACKAGES": "packages"}  # fmt: skip
    for value, key in datasets.items():
        order = api.get(f"{SEARCH}/{order_id}", params={"includedData": value}).json()["order"]
        assert set(order) - set(basic) == {key}, value
    both = api.get(f"{SEARCH}/{order_id}", params=[("includedData", "RECIPIENT"), ("includedData", "PACKAGES")])
    assert set(both.json()["order"]) - set(basic) == {"recipient", "packages"}  # repeated keys work like commas
    full = api.get(f"{SEARCH}/{order_id}", params={"includedData": ALL_DATA}).json()["order"]
    assert full["recipient"]["deliveryAddress"] == {
        "name": "Jane Doe", "addressLine1": "1 High St", "city": "London", "postalCode": "SW1A 2AA",
        "countryCode": "GB", "phone": "+44 20 7946 0000", "addressType": "RESIDENTIAL",
    }  # fmt: skip
    assert full["buyer"]["buyerName"] == "Jane Doe"
    assert full["buyer"]["buyerEmail"].endswith("@marketplace.amazon.co.uk")
    gbp20 = {"amount": "20.00", "currencyCode": "GBP"}
    assert full["proceeds"] == {"grandTotal": gbp20, "breakdowns": [{"type": "ITEM", "subtotal": gbp20}]}
    [package] = full["packages"]  # shipped outside the API: one package for the shipped units
    assert package["packageStatus"] == {"status": "SHIPPED"} and package["trackingNumber"]
    assert package["packageItems"] == [{"orderItemId": full["orderItems"][0]["orderItemId"], "quantity": 2}]


def test_pending_orders_show_no_money_address_or_buyer(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    [order_id] = seed(sim, 1, OrderStatus="Pending")
    order = api.get(f"{SEARCH}/{order_id}", params={"includedData": ALL_DATA}).json()["order"]
    assert not {"buyer", "recipient", "proceeds", "packages"} & set(order)
    assert order["fulfillment"]["fulfillmentStatus"] == "PENDING"
    assert "price" not in order["orderItems"][0]["product"] and "proceeds" not in order["orderItems"][0]


def test_seller_without_pii_roles_gets_no_pii(api: httpx.Client, sim: SpApiSimulatorControl, spapi_url: str) -> None:
    sim.add_seller(**SELLER, marketplace_ids=[UK, DE], restricted_roles=[])
    assert sim.sellers()[0]["restricted_roles"] == []
    [order_id] = seed(sim, 1, OrderStatus="Unshipped", FulfillmentChannel="MFN")
    full = api.get(f"{SEARCH}/{order_id}", params={"includedData": "BUYER,RECIPIENT"}).json()["order"]
    assert full["recipient"]["deliveryAddress"] == {"city": "London", "countryCode": "GB", "addressType": "RESIDENTIAL"}
    assert "buyer" not in full
    [listed] = search_all(api, includedData="BUYER,RECIPIENT")
    assert not ADDRESS_PII & set(listed["recipient"]["deliveryAddress"]) and "buyer" not in listed
    # Tax roles give the buyer's name (not in the US, JP or SG), never the address or the email.
    sim.add_seller(**SELLER, marketplace_ids=[UK, DE], restricted_roles=["TAX_REMITTANCE"])
    order = api.get(f"{SEARCH}/{order_id}", params={"includedData": "BUYER,RECIPIENT"}).json()["order"]
    assert order["buyer"] == {"buyerName": "Jane Doe"} and "name" not in order["recipient"]["deliveryAddress"]
    with pytest.raises(Exception, match="restricted_roles"):
        sim.add_seller(**SELLER, marketplace_ids=[UK], restricted_roles=["EVERYTHING"])


# --- usage plans and faults ------------------------------------------------------------------------------


def test_usage_plans_throttle_at_the_published_burst(
    api: httpx.Client, sim: SpApiSimulatorControl, schema: Any
) -> None:
    [order_id] = seed(sim, 1)
    limits = sim.rate_limits()["limits"]
    assert limits["searchOrders"] == {"rate": 0.0056, "burst": 20}
    assert limits["getOrder2026"] == {"rate": 0.5, "burst": 30}
    for _ in range(20):
        assert search(api).status_code == 200
    throttled = search(api)
    assert throttled.status_code == 429 and throttled.headers["x-amzn-RateLimit-Limit"] == "0.0056"
    schema(throttled.json(), "ErrorList")
    assert throttled.json()["errors"][0]["code"] == "QuotaExceeded"
    for _ in range(30):
        assert api.get(f"{SEARCH}/{order_id}").status_code == 200
    assert api.get(f"{SEARCH}/{order_id}").status_code == 429
    assert api.get(f"/orders/v0/orders/{order_id}").status_code == 200  # v0 getOrder has its own bucket
    assert sim.calls()["searchOrders"] == {"200": 20, "429": 1}
    assert sim.calls()["getOrder2026"] == {"200": 30, "429": 1}


def test_faults_match_the_operations_by_name(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    [order_id] = seed(sim, 1)
    sim.add_fault(operation="searchOrders", kind="error", status=503, times=1)
    sim.add_fault(operation="getOrder2026", kind="throttle", times=1)
    sim.add_fault(operation="getOrder", kind="error", status=500)  # v0's getOrder only
    assert search(api).status_code == 503 and search(api).status_code == 200
    assert api.get(f"{SEARCH}/{order_id}").status_code == 429
    assert api.get(f"{SEARCH}/{order_id}").status_code == 200
    sim.clear_faults()
    # repeat_page replays the previous searchOrders page byte for byte (a duplicate page).
    seed(sim, 3)
    page = search(api, maxResultsPerPage=2)
    sim.add_fault(operation="searchOrders", kind="repeat_page", times=1)
    repeated = search(api, maxResultsPerPage=2, paginationToken=page.json()["pagination"]["nextToken"])
    assert repeated.content == page.content


# --- one store for both APIs -----------------------------------------------------------------------------


def test_v0_and_2026_agree_on_the_same_orders(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    sim.add_seller(**SELLER, marketplace_ids=[UK, US])
    sim.set_rate_limiting(False)
    ids = sim.generate(seller=SELLER_ID, marketplace_id=UK, count=40, skus=["A", "B", "C"], seed=3)
    ids += sim.generate(seller=SELLER_ID, marketplace_id=US, count=40, skus=["A", "B", "C"], seed=4)
    new = {o["orderId"]: o for o in search_all(api, includedData="PROCEEDS,FULFILLMENT,PROMOTION")}
    assert sorted(new) == sorted(ids)
    statuses = {"Pending": "PENDING", "Unshipped": "UNSHIPPED", "PartiallyShipped": "PARTIALLY_SHIPPED",
                "Shipped": "SHIPPED", "Canceled": "CANCELLED"}  # fmt: skip
    for order_id in ids:
        old = api.get(f"/orders/v0/orders/{order_id}").json()["payload"]
        old_items = api.get(f"/orders/v0/orders/{order_id}/orderItems").json()["payload"]["OrderItems"]
        order = new[order_id]
        assert api.get(f"{SEARCH}/{order_id}", params={"includedData": "PROCEEDS,FULFILLMENT,PROMOTION"}).json() == {
            "order": order}  # fmt: skip
        assert order["createdTime"] == old["PurchaseDate"] and order["lastUpdatedTime"] == old["LastUpdateDate"]
        assert order["fulfillment"]["fulfillmentStatus"] == statuses[old["OrderStatus"]]
        assert order["fulfillment"]["fulfilledBy"] == {"MFN": "MERCHANT", "AFN": "AMAZON"}[old["FulfillmentChannel"]]
        assert order["salesChannel"]["marketplaceId"] == old["MarketplaceId"]
        assert ("PRIME" in order.get("programs", [])) == old["IsPrime"]
        if "OrderTotal" in old:
            assert order["proceeds"]["grandTotal"] == {"amount": old["OrderTotal"]["Amount"],
                                                       "currencyCode": old["OrderTotal"]["CurrencyCode"]}  # fmt: skip
            assert sum(Decimal(i["proceeds"]["proceedsTotal"]["amount"]) for i in order["orderItems"]) == Decimal(
                old["OrderTotal"]["Amount"])  # fmt: skip
        else:
            assert "proceeds" not in order
        assert [i["orderItemId"] for i in order["orderItems"]] == [i["OrderItemId"] for i in old_items]
        for item, old_item in zip(order["orderItems"], old_items, strict=True):
            assert item["product"]["sellerSku"] == old_item["SellerSKU"] and item["product"]["asin"] == old_item["ASIN"]
            assert item["quantityOrdered"] == old_item["QuantityOrdered"]
            assert item["fulfillment"]["quantityFulfilled"] == old_item["QuantityShipped"]
            if "ItemPrice" not in old_item:
                continue
            breakdowns = {b["type"]: b for b in item["proceeds"]["breakdowns"]}
            assert breakdowns["ITEM"]["subtotal"]["amount"] == old_item["ItemPrice"]["Amount"]
            unit = Decimal(item["product"]["price"]["unitPrice"]["amount"]) * old_item["QuantityOrdered"]
            assert unit == Decimal(old_item["ItemPrice"]["Amount"])
            if Decimal(old_item["ShippingPrice"]["Amount"]):
                assert breakdowns["SHIPPING"]["subtotal"]["amount"] == old_item["ShippingPrice"]["Amount"]
            if old["MarketplaceId"] == US and Decimal(old_item["ItemTax"]["Amount"]):
                [item_tax] = [d for d in breakdowns["TAX"]["detailedBreakdowns"] if d["subtype"] == "ITEM"]
                assert item_tax["value"]["amount"] == old_item["ItemTax"]["Amount"]
            if old["MarketplaceId"] == UK:
                assert "TAX" not in breakdowns  # VAT-inclusive prices, as in Amazon's UK example
            if Decimal(old_item["PromotionDiscount"]["Amount"]):
                [promo] = [d for d in breakdowns["DISCOUNT"]["detailedBreakdowns"] if d["subtype"] == "ITEM"]
                assert Decimal(promo["value"]["amount"]) == -Decimal(old_item["PromotionDiscount"]["Amount"])
                assert item["promotion"] == {"breakdowns": [{"promotionId": p} for p in old_item["PromotionIds"]]}


def test_confirm_shipment_shows_up_as_a_package(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    [order_id] = seed(sim, 1, OrderStatus="Unshipped", FulfillmentChannel="MFN")
    before = api.get(f"{SEARCH}/{order_id}", params={"includedData": "PACKAGES,FULFILLMENT"}).json()["order"]
    assert "packages" not in before
    item_id = before["orderItems"][0]["orderItemId"]
    shipped_at = ago(minutes=1)
    detail = {
        "packageReferenceId": "1", "carrierCode": "Royal Mail", "shippingMethod": "Tracked 48",
        "trackingNumber": "RM123456785GB", "shipDate": shipped_at,
        "orderItems": [{"orderItemId": item_id, "quantity": 1}],
    }  # fmt: skip
    body = {"marketplaceId": UK, "packageDetail": detail}
    assert api.post(f"/orders/v0/orders/{order_id}/shipmentConfirmation", json=body).status_code == 204
    changed = api.get(f"{SEARCH}/{order_id}", params={"includedData": "PACKAGES,FULFILLMENT"}).json()["order"]
    assert changed["lastUpdatedTime"] > before["lastUpdatedTime"]
    assert changed["fulfillment"]["fulfillmentStatus"] == "PARTIALLY_SHIPPED"
    [package] = changed["packages"]
    assert package == {
        "packageReferenceId": "1", "createdTime": package["createdTime"], "packageStatus": {"status": "SHIPPED"},
        "carrier": "Royal Mail", "shipTime": shipped_at, "shippingService": "Tracked 48",
        "trackingNumber": "RM123456785GB", "packageItems": [{"orderItemId": item_id, "quantity": 1}],
    }  # fmt: skip
    # AFN orders have no packages (the model: merchant-fulfilled only).
    [afn] = seed(sim, 1, OrderStatus="Shipped", FulfillmentChannel="AFN", minutes_ago=10)
    assert "packages" not in api.get(f"{SEARCH}/{afn}", params={"includedData": "PACKAGES"}).json()["order"]


# --- the real client -------------------------------------------------------------------------------------


def test_python_amazon_sp_api_orders_2026_client(spapi_url: str, sim: SpApiSimulatorControl) -> None:
    class LocalLWA(AccessTokenClient):
        scheme = "http://"

    LocalLWA.host = spapi_url.removeprefix("http://")
    ids = seed(sim, 7)
    orders = Orders(
        version="2026-01-01",
        credentials={"refresh_token": SELLER["refresh_token"], "lwa_app_id": SELLER["client_id"],
                     "lwa_client_secret": SELLER["client_secret"]},
        marketplace=Marketplaces.UK,
        auth_token_client_class=LocalLWA,
    )  # fmt: skip
    assert type(orders).__name__ == "OrdersV20260101"
    orders.endpoint = spapi_url
    since = ago(days=1)
    page = orders.search_orders(lastUpdatedAfter=since, maxResultsPerPage=3, includedData=["FULFILLMENT", "RECIPIENT"])
    seen = [o["orderId"] for o in page.payload["orders"]]
    assert page.rate_limit == "0.0056" and page.next_token
    while page.next_token:
        page = orders.search_orders(lastUpdatedAfter=since, maxResultsPerPage=3, paginationToken=page.next_token)
        seen += [o["orderId"] for o in page.payload["orders"]]
    assert seen == ids
    one = orders.get_order(ids[0], includedData=["BUYER", "PROCEEDS"])
    assert one.payload["order"]["orderId"] == ids[0] and one.rate_limit == "0.5"
    assert one.payload["order"]["proceeds"]["grandTotal"] == {"amount": "20.00", "currencyCode": "GBP"}
