"""The SP-API simulator honours Amazon's documented contract (every other connector test trusts it).

All tests talk HTTP to a real server (uvicorn on a free port); see conftest.py.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sp_api.api import Orders
from sp_api.auth import AccessTokenClient
from sp_api.auth.exceptions import AuthorizationError
from sp_api.base import Marketplaces
from sp_api.base.exceptions import SellingApiForbiddenException, SellingApiRequestThrottledException
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from simulators.common import FaultInjector, ServerThread, TokenBucket
from simulators.spapi.control import SimulatorControlError, SpApiSimulatorControl
from tests.simulators.support import DE, SELLER, UK, US, lwa

FIXTURES = Path(__file__).resolve().parents[2] / "simulators" / "spapi" / "fixtures" / "orders-v0"
SELLER_ID = SELLER["selling_partner_id"]
ORDERS = "/orders/v0/orders"
QUOTA = {"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource."}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ago(**delta: float) -> str:
    return iso(datetime.now(UTC) - timedelta(**delta))


def money(value: dict[str, str] | None) -> Decimal:
    return Decimal(value["Amount"]) if value else Decimal(0)


def seed(
    sim: SpApiSimulatorControl,
    count: int,
    *,
    minutes_ago: float = 30,
    marketplace: str = UK,
    seller: str = SELLER_ID,
    prefix: str = "202",
    items: int = 1,
    **order_fields: Any,
) -> list[str]:
    """`count` orders one second apart, the first `minutes_ago` minutes ago (raw=false: defaults filled in)."""
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes_ago)
    entries: list[dict[str, Any]] = [
        {
            "order": {
                "AmazonOrderId": f"{prefix}-{n:07d}-{n:07d}",
                "PurchaseDate": iso(base + timedelta(seconds=n)),
                "LastUpdateDate": iso(base + timedelta(seconds=n)),
                "MarketplaceId": marketplace,
                **order_fields,
            },
            "items": [
                {"SellerSKU": f"SKU-{i}", "QuantityOrdered": 1, "ItemPrice": {"CurrencyCode": "GBP", "Amount": "10.00"}}
                for i in range(items)
            ],
            "address": {
                "Name": "Jane Doe",
                "AddressLine1": "1 High Street",
                "City": "Leeds",
                "StateOrRegion": "West Yorkshire",
                "PostalCode": "LS1 4AP",
                "CountryCode": "GB",
                "Phone": "+44 113 496 0000",
                "AddressType": "Residential",
            },
        }
        for n in range(1, count + 1)
    ]
    return sim.upsert_orders(seller=seller, orders=entries)


def window(**extra: Any) -> dict[str, Any]:
    return {"MarketplaceIds": UK, "LastUpdatedAfter": ago(days=1), **extra}


def all_pages(api: httpx.Client, params: dict[str, Any], between: Callable[[], None] | None = None) -> list[str]:
    page = api.get(ORDERS, params=params).json()["payload"]
    seen = [o["AmazonOrderId"] for o in page["Orders"]]
    while "NextToken" in page:
        if between is not None:
            between()
        page = api.get(ORDERS, params={"MarketplaceIds": UK, "NextToken": page["NextToken"]}).json()["payload"]
        seen += [o["AmazonOrderId"] for o in page["Orders"]]
    return seen


def sample(name: str) -> dict[str, Any]:
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    return {k: v for k, v in data.items() if not k.startswith("_")}


# --- LWA and authentication ------------------------------------------------------------------------------


def test_lwa_token_exchange(spapi_url: str, sim: SpApiSimulatorControl) -> None:
    ok = lwa(spapi_url)
    assert ok.status_code == 200
    body = ok.json()
    assert body["access_token"].startswith("Atza|") and body["token_type"] == "bearer"
    assert body["expires_in"] == 3600 and body["refresh_token"] == SELLER["refresh_token"]
    assert lwa(spapi_url).json()["access_token"] != body["access_token"]

    bad_grant = lwa(spapi_url, refresh_token="Atzr|unknown")
    assert bad_grant.status_code == 400
    assert bad_grant.json() == {
        "error": "invalid_grant",
        "error_description": "The request has an invalid grant parameter : refresh_token",
    }
    for wrong in ({"client_id": "someone-else"}, {"client_secret": "wrong"}):
        bad_client = lwa(spapi_url, **wrong)
        assert bad_client.status_code == 401
        assert bad_client.json() == {"error": "invalid_client", "error_description": "Client authentication failed"}
    assert sim.calls()["lwaToken"] == {"200": 2, "400": 1, "401": 2}


def test_api_calls_need_a_live_access_token(spapi_url: str, sim: SpApiSimulatorControl, api: httpx.Client) -> None:
    denied = "Access to requested resource is denied."
    for headers in ({}, {"x-amz-access-token": "Atza|forged"}):
        response = httpx.get(f"{spapi_url}{ORDERS}", params=window(), headers=headers)
        assert response.status_code == 403
        assert response.json() == {
            "errors": [
                {
                    "code": "Unauthorized",
                    "message": denied,
                    "details": "The access token you provided is revoked, malformed or invalid.",
                }
            ]
        }
        assert response.headers["x-amzn-RequestId"] and response.headers["x-amzn-RateLimit-Limit"] == "0.0167"
    assert api.get(ORDERS, params=window()).status_code == 200

    sim.expire_tokens()
    expired = api.get(ORDERS, params=window())
    assert expired.status_code == 403
    assert expired.json()["errors"][0] == {
        "code": "Unauthorized",
        "message": denied,
        "details": "The access token you provided has expired.",
    }
    fresh = lwa(spapi_url).json()["access_token"]
    assert api.get(ORDERS, params=window(), headers={"x-amz-access-token": fresh}).status_code == 200


def test_access_tokens_expire_after_expires_in(spapi_url: str, sim: SpApiSimulatorControl) -> None:
    sim.settings(token_ttl_seconds=1)
    token = lwa(spapi_url).json()
    assert token["expires_in"] == 1
    headers = {"x-amz-access-token": token["access_token"]}
    assert httpx.get(f"{spapi_url}{ORDERS}", params=window(), headers=headers).status_code == 200
    time.sleep(1.1)
    expired = httpx.get(f"{spapi_url}{ORDERS}", params=window(), headers=headers)
    assert expired.status_code == 403 and "expired" in expired.json()["errors"][0]["details"]


def test_library_host_header_and_unknown_params_are_accepted(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    [order_id] = seed(sim, 1)
    # What python-amazon-sp-api sends: Host sliced as endpoint[8:], and four spellings of the marketplace.
    params = window(MarketplaceId=UK, marketplace_ids=UK, marketplaceIds=UK, SomethingNew="x")
    response = api.get(ORDERS, params=params, headers={"host": "27.0.0.1:1234"})
    assert response.status_code == 200
    assert [o["AmazonOrderId"] for o in response.json()["payload"]["Orders"]] == [order_id]


# --- getOrders -------------------------------------------------------------------------------------------

TOO_RECENT = "must be equal to or after the {0}After date and at least two minutes before current time."


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"MarketplaceIds": UK}, "Either the CreatedAfter parameter or the LastUpdatedAfter parameter is required."),
        ({"MarketplaceIds": UK, "CreatedAfter": "2026-01-01T00:00:00Z", "LastUpdatedAfter": "2026-01-01T00:00:00Z"},
         "not both"),
        ({"MarketplaceIds": UK, "LastUpdatedAfter": "2026-01-01T00:00:00Z", "CreatedBefore": "2026-01-02T00:00:00Z"},
         "CreatedBefore cannot be specified together with LastUpdatedAfter"),
        ({"MarketplaceIds": UK, "CreatedAfter": "2026-01-01T00:00:00Z", "LastUpdatedBefore": "2026-01-02T00:00:00Z"},
         "LastUpdatedBefore cannot be specified together with CreatedAfter"),
        ({"MarketplaceIds": UK, "LastUpdatedAfter": "2026-01-01T00:00:00Z", "LastUpdatedBefore": "NOW"},
         "LastUpdatedBefore " + TOO_RECENT.format("LastUpdated")),
        ({"MarketplaceIds": UK, "CreatedAfter": "2026-01-01T00:00:00Z", "CreatedBefore": "NOW"},
         "CreatedBefore " + TOO_RECENT.format("Created")),
        ({"MarketplaceIds": UK, "LastUpdatedAfter": "2026-01-02T00:00:00Z",
          "LastUpdatedBefore": "2026-01-01T00:00:00Z"}, "LastUpdatedBefore " + TOO_RECENT.format("LastUpdated")),
        ({"MarketplaceIds": UK, "CreatedAfter": "2026-01-02T00:00:00Z", "CreatedBefore": "2026-01-01T00:00:00Z"},
         "CreatedBefore " + TOO_RECENT.format("Created")),
        ({"MarketplaceIds": UK, "LastUpdatedAfter": "NOW"}, "LastUpdatedBefore " + TOO_RECENT.format("LastUpdated")),
        ({"MarketplaceIds": UK, "LastUpdatedAfter": "yesterday"}, "LastUpdatedAfter is not a valid ISO 8601"),
        ({"LastUpdatedAfter": "2026-01-01T00:00:00Z"}, "MarketplaceIds is required."),
        ({"MarketplaceIds": ",".join(["A"] * 51), "LastUpdatedAfter": "2026-01-01T00:00:00Z"}, "at most 50"),
        ({"MarketplaceIds": UK, "LastUpdatedAfter": "2026-01-01T00:00:00Z", "MaxResultsPerPage": "0"},
         "MaxResultsPerPage must be an integer between 1 and 100."),
        ({"MarketplaceIds": UK, "LastUpdatedAfter": "2026-01-01T00:00:00Z", "MaxResultsPerPage": "101"},
         "MaxResultsPerPage must be an integer between 1 and 100."),
        ({"MarketplaceIds": UK, "LastUpdatedAfter": "2026-01-01T00:00:00Z", "MaxResultsPerPage": "ten"},
         "MaxResultsPerPage must be an integer between 1 and 100."),
    ],
)  # fmt: skip
def test_get_orders_rejects_invalid_criteria(api: httpx.Client, params: dict[str, str], message: str) -> None:
    params = {k: (ago(seconds=30) if v == "NOW" else v) for k, v in params.items()}
    response = api.get(ORDERS, params=params)
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["code"] == "InvalidInput" and message in error["message"]
    assert response.headers["x-amzn-RateLimit-Limit"] == "0.0167" and response.headers["x-amzn-RequestId"]


def test_before_defaults_to_two_minutes_ago_and_is_echoed(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    [old, _recent] = [*seed(sim, 1, minutes_ago=10), *seed(sim, 1, minutes_ago=1, prefix="203")]
    payload = api.get(ORDERS, params=window()).json()["payload"]
    assert [o["AmazonOrderId"] for o in payload["Orders"]] == [old]  # updated < 2 minutes ago: not yet
    assert "NextToken" not in payload and "CreatedBefore" not in payload
    echoed = datetime.fromisoformat(payload["LastUpdatedBefore"])
    assert payload["LastUpdatedBefore"].endswith("Z")
    assert abs((datetime.now(UTC) - timedelta(minutes=2) - echoed).total_seconds()) < 5

    created = api.get(ORDERS, params={"MarketplaceIds": UK, "CreatedAfter": ago(days=1)}).json()["payload"]
    assert "CreatedBefore" in created and "LastUpdatedBefore" not in created
    explicit = ago(minutes=5)
    assert api.get(ORDERS, params=window(LastUpdatedBefore=explicit)).json()["payload"]["LastUpdatedBefore"] == explicit


def test_bounds_are_inclusive_and_time_formats_flexible(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    ids = seed(sim, 5, minutes_ago=30)
    first = sim.get_order(ids[1])["order"]["LastUpdateDate"]
    last = sim.get_order(ids[3])["order"]["LastUpdateDate"]
    stamp = datetime.fromisoformat(first)
    for after in (
        first,
        stamp.isoformat(),
        stamp.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        stamp.strftime("%Y-%m-%dT%H:%M:%S"),
    ):
        got = api.get(ORDERS, params=window(LastUpdatedAfter=after, LastUpdatedBefore=last)).json()["payload"]
        assert [o["AmazonOrderId"] for o in got["Orders"]] == ids[1:4], after


def test_created_mode_sorts_by_purchase_date(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    ids = seed(sim, 3, minutes_ago=60)
    # The oldest purchase is updated last: LastUpdated mode puts it last, Created mode first.
    sim.patch_order(ids[0], OrderStatus="Shipped", LastUpdateDate=ago(minutes=10))
    by_update = api.get(ORDERS, params=window()).json()["payload"]["Orders"]
    by_creation = api.get(ORDERS, params={"MarketplaceIds": UK, "CreatedAfter": ago(days=1)}).json()["payload"]
    assert [o["AmazonOrderId"] for o in by_update] == [ids[1], ids[2], ids[0]]
    assert [o["AmazonOrderId"] for o in by_creation["Orders"]] == ids
    assert by_creation["CreatedBefore"].endswith("Z")


def test_keyset_paging_survives_updates_between_pages(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    ids = seed(sim, 25)
    before = ago(minutes=3)
    first = api.get(ORDERS, params=window(MaxResultsPerPage=10, LastUpdatedBefore=before)).json()["payload"]
    assert [o["AmazonOrderId"] for o in first["Orders"]] == ids[:10] and first["LastUpdatedBefore"] == before
    # An order already delivered changes (its LastUpdateDate moves past the window): with offset paging the
    # next page would start one order late and skip ids[10].
    sim.patch_order(ids[3], OrderStatus="Shipped")
    seen = [o["AmazonOrderId"] for o in first["Orders"]]
    token = first["NextToken"]
    while token:
        page = api.get(ORDERS, params={"MarketplaceIds": UK, "NextToken": token}).json()["payload"]
        assert page["LastUpdatedBefore"] == before
        seen += [o["AmazonOrderId"] for o in page["Orders"]]
        token = page.get("NextToken")
    assert seen == ids


def test_paging_with_repeated_updates_never_skips_or_duplicates(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    ids = seed(sim, 60)
    delivered: list[str] = []

    def touch_a_delivered_order() -> None:
        sim.patch_order(ids[len(delivered) // 2], OrderStatus="Shipped")

    def collect() -> list[str]:
        page = api.get(ORDERS, params=window(MaxResultsPerPage=7)).json()["payload"]
        delivered.extend(o["AmazonOrderId"] for o in page["Orders"])
        while "NextToken" in page:
            touch_a_delivered_order()
            page = api.get(ORDERS, params={"MarketplaceIds": UK, "NextToken": page["NextToken"]}).json()["payload"]
            delivered.extend(o["AmazonOrderId"] for o in page["Orders"])
        return delivered

    assert collect() == ids


@pytest.mark.parametrize("kind", ["garbage", "tampered", "other_seller", "items_token"])
def test_invalid_next_token(spapi_url: str, api: httpx.Client, sim: SpApiSimulatorControl, kind: str) -> None:
    seed(sim, 3, items=3)
    sim.settings(items_page_size=1)
    token = api.get(ORDERS, params=window(MaxResultsPerPage=1)).json()["payload"]["NextToken"]
    if kind == "garbage":
        token = "2YgYW55IGNhcm5hbCBwbGVhc3VyZS4"
    elif kind == "tampered":
        wrapper = json.loads(base64.b64decode(token))
        wrapper["q"] = wrapper["q"].replace('"size":1', '"size":100')
        token = base64.b64encode(json.dumps(wrapper).encode()).decode()
    elif kind == "other_seller":
        sim.add_seller(
            selling_partner_id="A2OTHER", refresh_token="Atzr|o", client_id="c", client_secret="s", marketplace_ids=[UK]
        )
        seed(sim, 3, seller="A2OTHER", prefix="204")
        other_token = lwa(spapi_url, refresh_token="Atzr|o", client_id="c", client_secret="s").json()["access_token"]
        with httpx.Client(base_url=spapi_url, headers={"x-amz-access-token": other_token}) as other:
            token = other.get(ORDERS, params=window(MaxResultsPerPage=1)).json()["payload"]["NextToken"]
    else:
        order_id = "202-0000001-0000001"
        token = api.get(f"{ORDERS}/{order_id}/orderItems").json()["payload"]["NextToken"]
    response = api.get(ORDERS, params={"MarketplaceIds": UK, "NextToken": token})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "InvalidInput"
    assert response.json()["errors"][0]["message"] == "Invalid NextToken"


def test_next_token_overrides_other_criteria(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    ids = seed(sim, 5)
    first = api.get(ORDERS, params=window(MaxResultsPerPage=2)).json()["payload"]
    # Whatever else comes along (python-amazon-sp-api re-sends marketplaces) is ignored in favour of the token.
    noise = {"MarketplaceIds": DE, "CreatedAfter": "2000-01-01T00:00:00Z", "MaxResultsPerPage": "0"}
    second = api.get(ORDERS, params={**noise, "NextToken": first["NextToken"]})
    assert second.status_code == 200
    assert [o["AmazonOrderId"] for o in second.json()["payload"]["Orders"]] == ids[2:4]


def test_seller_and_marketplace_scoping(spapi_url: str, api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    uk = seed(sim, 3)
    de = seed(sim, 2, marketplace=DE, prefix="302")
    sim.add_seller(
        selling_partner_id="A2OTHER", refresh_token="Atzr|o", client_id="c", client_secret="s", marketplace_ids=[UK]
    )
    [theirs] = seed(sim, 1, seller="A2OTHER", prefix="204")

    def ids(**params: Any) -> list[str]:
        return [o["AmazonOrderId"] for o in api.get(ORDERS, params=window(**params)).json()["payload"]["Orders"]]

    assert ids() == uk
    assert ids(MarketplaceIds=DE) == de
    assert set(ids(MarketplaceIds=f"{UK},{DE}")) == set(uk + de)
    both = api.get(ORDERS, params=[("MarketplaceIds", UK), ("MarketplaceIds", DE), ("LastUpdatedAfter", ago(days=1))])
    assert {o["AmazonOrderId"] for o in both.json()["payload"]["Orders"]} == set(uk + de)
    assert ids(MarketplaceIds=US) == []
    for path in ("", "/orderItems", "/address"):
        response = api.get(f"{ORDERS}/{theirs}{path}")
        assert response.status_code == 404
        [error] = response.json()["errors"]
        assert error["code"] == "NotFound" and error["message"] == "Order not found"


def test_filters(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    ids = seed(sim, 6)
    sim.patch_order(ids[0], OrderStatus="Shipped", LastUpdateDate=ago(minutes=20))
    sim.patch_order(ids[1], OrderStatus="Canceled", LastUpdateDate=ago(minutes=20))
    sim.patch_order(ids[2], FulfillmentChannel="AFN", LastUpdateDate=ago(minutes=20))

    def ids_for(params: Any) -> set[str]:
        return {o["AmazonOrderId"] for o in api.get(ORDERS, params=params).json()["payload"]["Orders"]}

    base = list(window().items())
    assert ids_for([*base, ("OrderStatuses", "Shipped,Canceled")]) == {ids[0], ids[1]}
    assert ids_for([*base, ("OrderStatuses", "Shipped"), ("OrderStatuses", "Canceled")]) == {ids[0], ids[1]}
    assert ids_for([*base, ("FulfillmentChannels", "AFN")]) == {ids[2]}
    assert ids_for([*base, ("AmazonOrderIds", f"{ids[4]},{ids[5]}")]) == {ids[4], ids[5]}
    assert ids_for([*base, ("OrderStatuses", "Unshipped"), ("FulfillmentChannels", "MFN")]) == set(ids[3:])


def test_visibility_delay_hides_recent_changes(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    [order_id] = seed(sim, 1, minutes_ago=5)
    assert sim.settings(visibility_delay_seconds=600)["visibility_delay_seconds"] == 600
    assert api.get(ORDERS, params=window()).json()["payload"]["Orders"] == []
    sim.settings(visibility_delay_seconds=0)
    assert [o["AmazonOrderId"] for o in api.get(ORDERS, params=window()).json()["payload"]["Orders"]] == [order_id]


def test_a_hidden_order_is_left_out_of_the_searches_only(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    """Amazon's order searches miss an order now and then; getOrder and the order report still have it."""
    shown, hidden = seed(sim, 2)
    assert sim.hide_order(hidden) == [hidden]
    assert all_pages(api, window()) == [shown]
    search = api.get("/orders/2026-01-01/orders", params={"lastUpdatedAfter": ago(days=1), "marketplaceIds": UK})
    assert [o["orderId"] for o in search.json()["orders"]] == [shown]
    assert api.get(f"{ORDERS}/{hidden}").status_code == 200
    assert api.get(f"/orders/2026-01-01/orders/{hidden}").json()["order"]["orderId"] == hidden
    assert sim.hide_order(hidden, hidden=False) == []
    assert all_pages(api, window()) == [shown, hidden]


# --- getOrder, getOrderItems, getOrderAddress ------------------------------------------------------------


def test_get_order(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    [order_id] = seed(sim, 1)
    response = api.get(f"{ORDERS}/{order_id}")
    assert response.status_code == 200 and response.headers["x-amzn-RateLimit-Limit"] == "0.5"
    assert response.json() == {"payload": sim.get_order(order_id)["order"]}
    missing = api.get(f"{ORDERS}/999-9999999-9999999")
    assert missing.status_code == 404 and missing.json()["errors"][0]["message"] == "Order not found"


def test_order_items_paging(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    [order_id] = seed(sim, 1, items=5)
    whole = api.get(f"{ORDERS}/{order_id}/orderItems").json()["payload"]
    assert whole["AmazonOrderId"] == order_id and len(whole["OrderItems"]) == 5 and "NextToken" not in whole
    sim.settings(items_page_size=2)
    pages: list[list[str]] = []
    token: str | None = None
    while True:
        params: dict[str, str] = {"NextToken": token} if token else {}
        page = api.get(f"{ORDERS}/{order_id}/orderItems", params=params).json()["payload"]
        assert page["AmazonOrderId"] == order_id
        pages.append([item["SellerSKU"] for item in page["OrderItems"]])
        token = page.get("NextToken")
        if not token:
            break
    assert pages == [["SKU-0", "SKU-1"], ["SKU-2", "SKU-3"], ["SKU-4"]]
    bad = api.get(f"{ORDERS}/{order_id}/orderItems", params={"NextToken": "nope"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["message"] == "Invalid NextToken"


def test_address_is_full_while_the_order_carries_a_partial_one(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    [order_id] = seed(sim, 1)
    address = api.get(f"{ORDERS}/{order_id}/address")
    assert address.status_code == 200 and address.headers["x-amzn-RateLimit-Limit"] == "0.5"
    assert address.json()["payload"] == {
        "AmazonOrderId": order_id,
        "ShippingAddress": {
            "Name": "Jane Doe",
            "AddressLine1": "1 High Street",
            "City": "Leeds",
            "StateOrRegion": "West Yorkshire",
            "PostalCode": "LS1 4AP",
            "CountryCode": "GB",
            "Phone": "+44 113 496 0000",
            "AddressType": "Residential",
        },
    }
    order = api.get(f"{ORDERS}/{order_id}").json()["payload"]
    assert order["ShippingAddress"] == {
        "City": "Leeds",
        "StateOrRegion": "West Yorkshire",
        "PostalCode": "LS1 4AP",
        "CountryCode": "GB",
    }


def test_pending_orders_show_no_money_until_they_move_on(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    [order_id] = seed(sim, 1, OrderStatus="Pending", OrderTotal={"CurrencyCode": "GBP", "Amount": "10.00"})
    order = api.get(f"{ORDERS}/{order_id}").json()["payload"]
    [item] = api.get(f"{ORDERS}/{order_id}/orderItems").json()["payload"]["OrderItems"]
    assert order["OrderStatus"] == "Pending" and "OrderTotal" not in order and "ShippingAddress" not in order
    assert "ItemPrice" not in item and "ItemTax" not in item and item["SellerSKU"] == "SKU-0"
    assert "ShippingAddress" not in api.get(f"{ORDERS}/{order_id}/address").json()["payload"]

    sim.patch_order(order_id, OrderStatus="Unshipped")
    order = api.get(f"{ORDERS}/{order_id}").json()["payload"]
    [item] = api.get(f"{ORDERS}/{order_id}/orderItems").json()["payload"]["OrderItems"]
    assert order["OrderTotal"] == {"CurrencyCode": "GBP", "Amount": "10.00"} and order["ShippingAddress"]
    assert item["ItemPrice"] == {"CurrencyCode": "GBP", "Amount": "10.00"}
    assert api.get(f"{ORDERS}/{order_id}/address").json()["payload"]["ShippingAddress"]["Name"] == "Jane Doe"


def test_raw_orders_are_served_exactly_as_given(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    stamp = ago(minutes=20)
    malformed = {
        "AmazonOrderId": "202-7777777-7777777",
        "LastUpdateDate": stamp,
        "OrderStatus": "Unshipped",
        "MarketplaceId": UK,
        "OrderTotal": {"CurrencyCode": "GBP", "Amount": "abc"},
    }  # no PurchaseDate, no FulfillmentChannel
    no_id = {"_key": "raw-without-id", "LastUpdateDate": stamp, "OrderTotal": {"Amount": "12,50"}}
    items = [{"OrderItemId": "1", "QuantityOrdered": "two"}]
    keys = sim.upsert_orders(
        seller=SELLER_ID, orders=[{"order": malformed, "items": items}, {"order": no_id}], raw=True
    )
    assert keys == ["202-7777777-7777777", "raw-without-id"]
    orders = api.get(ORDERS, params=window()).json()["payload"]["Orders"]
    assert orders == [malformed, {"LastUpdateDate": stamp, "OrderTotal": {"Amount": "12,50"}}]
    assert api.get(f"{ORDERS}/202-7777777-7777777/orderItems").json()["payload"]["OrderItems"] == items
    with pytest.raises(SimulatorControlError):
        sim.upsert_orders(seller=SELLER_ID, orders=[{"order": {"OrderStatus": "Shipped"}}], raw=True)


def test_seeding_fills_realistic_defaults(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    [order_id] = sim.upsert_orders(
        seller=SELLER_ID,
        orders=[
            {
                "order": {"PurchaseDate": ago(minutes=10)},
                "items": [
                    {"SellerSKU": "A", "QuantityOrdered": 2, "ItemPrice": {"CurrencyCode": "GBP", "Amount": "20.00"}},
                    {"SellerSKU": "B", "ItemPrice": {"CurrencyCode": "GBP", "Amount": "5.50"},
                     "ShippingPrice": {"CurrencyCode": "GBP", "Amount": "2.99"}},
                ],
                "address": {"Name": "A B", "City": "Leeds", "PostalCode": "LS1 4AP", "CountryCode": "GB"},
            }
        ],
    )  # fmt: skip
    stored = sim.get_order(order_id)
    order, items = stored["order"], stored["items"]
    assert order_id.startswith(("202-", "203-", "204-", "205-", "206-")) and len(order_id) == 19
    assert order["MarketplaceId"] == UK and order["SalesChannel"] == "Amazon.co.uk"
    assert order["OrderStatus"] == "Unshipped" and order["FulfillmentChannel"] == "MFN"
    assert order["LastUpdateDate"] == order["PurchaseDate"]
    assert order["NumberOfItemsShipped"] == 0 and order["NumberOfItemsUnshipped"] == 3
    assert order["OrderTotal"] == {"CurrencyCode": "GBP", "Amount": "28.49"}
    assert order["ShippingAddress"] == {"City": "Leeds", "PostalCode": "LS1 4AP", "CountryCode": "GB"}
    assert [len(i["OrderItemId"]) for i in items] == [14, 14] and items[0]["OrderItemId"] != items[1]["OrderItemId"]
    assert all(i["ASIN"].startswith("B0") and i["QuantityShipped"] == 0 for i in items)
    assert api.get(f"{ORDERS}/{order_id}").json()["payload"] == order


def test_patch_bumps_last_update_and_replaces_items(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    [order_id] = seed(sim, 1, minutes_ago=30)
    before = datetime.now(UTC).replace(microsecond=0)
    patched = sim.patch_order(order_id, OrderStatus="Shipped", items=[{"SellerSKU": "NEW", "QuantityOrdered": 4}])
    order = patched["order"]
    assert order["OrderStatus"] == "Shipped" and datetime.fromisoformat(order["LastUpdateDate"]) >= before
    assert [(i["SellerSKU"], i["QuantityOrdered"], i["QuantityShipped"]) for i in patched["items"]] == [("NEW", 4, 4)]
    sim.patch_order(order_id, LastUpdateDate="2026-01-01T00:00:00Z")
    assert sim.get_order(order_id)["order"]["LastUpdateDate"] == "2026-01-01T00:00:00Z"


def test_amazon_samples_replay_exactly(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    order = sample("getOrder_200_test_case_200")["payload"]
    items = sample("getOrderItems_200_test_case_200")["payload"]
    address = sample("getOrderAddress_200_test_case_200")["payload"]
    iba = sample("getOrder_200_test_case_iba_200")["payload"]
    sim.add_seller(**SELLER, marketplace_ids=[UK, DE, US])
    sim.upsert_orders(
        seller=SELLER_ID,
        orders=[
            {"order": order, "items": items["OrderItems"], "address": address["ShippingAddress"]},
            {"order": iba, "items": []},
        ],
        raw=True,
    )
    order_id = order["AmazonOrderId"]
    assert api.get(f"{ORDERS}/{order_id}").json() == {"payload": order}
    assert api.get(f"{ORDERS}/{order_id}/orderItems").json() == {"payload": items}
    assert api.get(f"{ORDERS}/{order_id}/address").json() == {"payload": address}
    listed = api.get(ORDERS, params={"MarketplaceIds": f"{US},{DE}", "LastUpdatedAfter": "1970-01-01T00:00:00Z"})
    assert listed.json()["payload"]["Orders"] == [order, iba]  # 1970 before 2019, by LastUpdateDate


def test_generated_orders_have_amazons_field_names_and_types(sim: SpApiSimulatorControl) -> None:
    sample_order = sample("getOrder_200_test_case_200")["payload"]
    sample_item = sample("getOrderItems_200_test_case_200")["payload"]["OrderItems"][0]
    sample_address = sample("getOrderAddress_200_test_case_200")["payload"]["ShippingAddress"]
    extra_item_fields = {
        "ShippingPrice", "ShippingTax", "ShippingDiscount", "ShippingDiscountTax", "PromotionDiscountTax",
        "PromotionIds",
    }  # fmt: skip
    ids = sim.generate(seller=SELLER_ID, marketplace_id=US, count=60, skus=["A", "B", "C"], seed=3)
    for order_id in ids:
        stored = sim.get_order(order_id)
        order, items, address = stored["stored_order"], stored["items"], stored["address"]
        assert set(order) <= set(sample_order) | {"ShippingAddress"}, set(order) - set(sample_order)
        for key in set(order) & set(sample_order):
            assert type(order[key]) is type(sample_order[key]), key
        for item in items:
            assert set(item) <= set(sample_item) | extra_item_fields, set(item) - set(sample_item)
            for key in set(item) & set(sample_item):
                assert type(item[key]) is type(sample_item[key]), key
        assert set(address) <= set(sample_address) | {"AddressLine2"}


# --- usage plans -----------------------------------------------------------------------------------------


def test_usage_plan_throttles_after_the_burst(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    [order_id] = seed(sim, 1)
    codes = [api.get(f"{ORDERS}/{order_id}").status_code for _ in range(31)]
    assert codes == [200] * 30 + [429]
    throttled = api.get(f"{ORDERS}/{order_id}")
    assert throttled.status_code == 429 and throttled.json() == {"errors": [QUOTA]}
    assert throttled.headers["x-amzn-RateLimit-Limit"] == "0.5" and throttled.headers["x-amzn-RequestId"]
    # Buckets are per operation: getOrderItems still has its own burst.
    assert api.get(f"{ORDERS}/{order_id}/orderItems").status_code == 200
    sim.refill()
    assert api.get(f"{ORDERS}/{order_id}").status_code == 200
    assert sim.calls()["getOrder"] == {"200": 31, "429": 2}


def test_get_orders_has_amazons_tight_plan(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    codes = [api.get(ORDERS, params=window()).status_code for _ in range(21)]
    assert codes == [200] * 20 + [429]


def test_rate_limit_control(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    [order_id] = seed(sim, 1)
    path = f"{ORDERS}/{order_id}"
    plans = sim.set_rate_limit("getOrder", rate=20, burst=2)
    assert plans["limits"]["getOrder"] == {"rate": 20.0, "burst": 2}
    assert [api.get(path).status_code for _ in range(3)] == [200, 200, 429]
    assert api.get(path).headers["x-amzn-RateLimit-Limit"] == "20"
    time.sleep(0.15)  # 20/s refills about three tokens (capped at the burst of 2)
    assert [api.get(path).status_code for _ in range(3)] == [200, 200, 429]
    sim.set_rate_limit("getOrder", rate=0, burst=1)
    assert [api.get(path).status_code for _ in range(2)] == [200, 429]
    sim.refill()
    assert [api.get(path).status_code for _ in range(2)] == [200, 429]
    assert sim.set_rate_limiting(False)["enabled"] is False
    assert {api.get(path).status_code for _ in range(40)} == {200}
    assert sim.rate_limits()["enabled"] is False
    with pytest.raises(SimulatorControlError):
        sim.set_rate_limit("getNothing", rate=1, burst=1)


# --- fault injection -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [(500, "InternalFailure"), (503, "ServiceUnavailable"), (502, "BadGateway"), (418, "InvalidInput")],
)
def test_fault_error(api: httpx.Client, sim: SpApiSimulatorControl, status: int, code: str) -> None:
    [order_id] = seed(sim, 1)
    sim.add_fault(operation="getOrderItems", kind="error", status=status, times=1)
    assert api.get(f"{ORDERS}/{order_id}").status_code == 200  # another operation: untouched
    failed = api.get(f"{ORDERS}/{order_id}/orderItems")
    assert failed.status_code == status and failed.json()["errors"][0]["code"] == code
    assert failed.headers["x-amzn-RateLimit-Limit"] == "0.5" and failed.headers["x-amzn-RequestId"]
    assert api.get(f"{ORDERS}/{order_id}/orderItems").status_code == 200


def test_faults_do_not_spend_rate_limit_tokens(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    [order_id] = seed(sim, 1)
    path = f"{ORDERS}/{order_id}"
    sim.set_rate_limit("getOrder", rate=0, burst=2)
    sim.add_fault(operation="getOrder", kind="throttle", times=2)
    sim.add_fault(operation="getOrder", kind="error", status=500, times=1)
    codes = [api.get(path).status_code for _ in range(6)]
    assert codes == [429, 429, 500, 200, 200, 429]
    throttled = api.get(path)
    assert throttled.json() == {"errors": [QUOTA]}


def test_fault_latency_delays_and_spends_a_token(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    [order_id] = seed(sim, 1)
    path = f"{ORDERS}/{order_id}"
    sim.set_rate_limit("getOrder", rate=0, burst=1)
    sim.add_fault(operation="getOrder", kind="latency", ms=300, times=1)
    started = time.monotonic()
    assert api.get(path).status_code == 200
    assert time.monotonic() - started >= 0.3
    assert api.get(path).status_code == 429


def test_fault_timeout(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    [order_id] = seed(sim, 1)
    sim.add_fault(operation="getOrder", kind="timeout", seconds=3, times=1)
    with pytest.raises(httpx.ReadTimeout):
        api.get(f"{ORDERS}/{order_id}", timeout=0.5)
    assert api.get(f"{ORDERS}/{order_id}").status_code == 200


def test_fault_repeat_page(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    ids = seed(sim, 25)
    first = api.get(ORDERS, params=window(MaxResultsPerPage=10))
    sim.add_fault(operation="getOrders", kind="repeat_page", times=1)
    token = first.json()["payload"]["NextToken"]
    again = api.get(ORDERS, params={"MarketplaceIds": UK, "NextToken": token})
    assert again.status_code == 200 and again.content == first.content  # same orders, same NextToken
    assert again.headers["x-amzn-RequestId"] != first.headers["x-amzn-RequestId"]
    second = api.get(ORDERS, params={"MarketplaceIds": UK, "NextToken": token}).json()["payload"]
    assert [o["AmazonOrderId"] for o in second["Orders"]] == ids[10:20]


def test_fault_probability_is_reproducible(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    [order_id] = seed(sim, 1)
    sim.set_rate_limiting(False)

    def run() -> list[int]:
        sim.clear_faults()
        sim.settings(rng_seed=42)
        sim.add_fault(operation="getOrder", kind="error", status=503, probability=0.3)
        return [api.get(f"{ORDERS}/{order_id}").status_code for _ in range(40)]

    first, second = run(), run()
    assert first == second
    assert set(first) == {200, 503} and 4 <= first.count(503) <= 24


def test_fault_times_and_after(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    [order_id] = seed(sim, 1)
    rule = sim.add_fault(operation="getOrder", kind="error", status=500, times=2, after=1)
    assert [api.get(f"{ORDERS}/{order_id}").status_code for _ in range(5)] == [200, 500, 500, 200, 200]
    [listed] = sim.faults()
    assert listed["id"] == rule["id"] and listed["applied"] == 2 and listed["seen"] == 3


def test_fault_forever_wildcard_and_lwa(spapi_url: str, api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    [order_id] = seed(sim, 1)
    rule = sim.add_fault(operation="*", kind="throttle")
    assert api.get(f"{ORDERS}/{order_id}").status_code == 429
    assert api.get(f"{ORDERS}/{order_id}/address").status_code == 429
    assert lwa(spapi_url).status_code == 429
    sim.remove_fault(rule["id"])
    assert api.get(f"{ORDERS}/{order_id}").status_code == 200

    sim.add_fault(operation="lwaToken", kind="error", status=503, times=1)
    failed = lwa(spapi_url)
    assert failed.status_code == 503 and failed.json()["error"] == "server_error"
    assert lwa(spapi_url).status_code == 200


@pytest.mark.parametrize(
    "rule",
    [
        {"kind": "explode"},
        {"operation": "getNothing"},
        {"probability": 1.5},
        {"operation": "getOrder", "kind": "repeat_page"},
        {"status": 42},
        {"times": -1},
        {"color": "red"},
    ],
)
def test_fault_rules_are_validated(sim: SpApiSimulatorControl, rule: dict[str, Any]) -> None:
    response = sim.http.post("/_sim/faults", json=rule)
    assert response.status_code == 400 and "error" in response.json()
    assert sim.faults() == []


# --- generated orders ------------------------------------------------------------------------------------


def _half_up(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def test_generated_uk_orders_are_vat_inclusive_and_consistent(sim: SpApiSimulatorControl) -> None:
    start, end = ago(days=3), ago(minutes=5)
    ids = sim.generate(
        seller=SELLER_ID, marketplace_id=UK, count=300, skus=["A", "B", "C"], seed=5, start=start, end=end
    )
    assert len(set(ids)) == 300
    assert all([len(part) for part in i.split("-")] == [3, 7, 7] for i in ids)
    statuses, channels, promotions = set(), set(), 0
    for order_id in ids[:150]:
        stored = sim.get_order(order_id)
        order, items, address = stored["stored_order"], stored["stored_items"], stored["address"]
        statuses.add(order["OrderStatus"])
        channels.add(order["FulfillmentChannel"])
        assert order["MarketplaceId"] == UK and order["SalesChannel"] == "Amazon.co.uk"
        assert order["ShippingAddress"]["CountryCode"] == "GB" == address["CountryCode"]
        assert {"Name", "AddressLine1", "City", "PostalCode", "Phone"} <= set(address)
        assert start <= order["PurchaseDate"] <= order["LastUpdateDate"] <= end
        total = Decimal(0)
        for item in items:
            price = money(item["ItemPrice"])
            assert item["ItemPrice"]["CurrencyCode"] == "GBP"
            assert money(item["ItemTax"]) == _half_up(price / 6)  # the VAT share of a 20%-inclusive price
            total += price + money(item["ShippingPrice"]) - money(item["PromotionDiscount"])
            total -= money(item["ShippingDiscount"])
            promotions += bool(item["PromotionIds"])
        assert money(order["OrderTotal"]) == total and order["OrderTotal"]["CurrencyCode"] == "GBP"
        units = sum(i["QuantityOrdered"] for i in items)
        shipped = sum(i["QuantityShipped"] for i in items)
        if order["OrderStatus"] == "Canceled":
            assert (order["NumberOfItemsShipped"], order["NumberOfItemsUnshipped"]) == (0, 0)
        else:
            assert (order["NumberOfItemsShipped"], order["NumberOfItemsUnshipped"]) == (shipped, units - shipped)
        expected_shipped = {"Shipped": units, "Unshipped": 0, "Pending": 0, "Canceled": 0}
        if order["OrderStatus"] in expected_shipped:
            assert shipped == expected_shipped[order["OrderStatus"]]
        else:
            assert 0 < shipped < units
        is_mfn = order["FulfillmentChannel"] == "MFN"
        assert ("EarliestShipDate" in order) is is_mfn and ("LatestShipDate" in order) is is_mfn
    assert {"Pending", "Unshipped", "Shipped", "Canceled"} <= statuses and channels == {"MFN", "AFN"}
    assert promotions > 0


def test_generated_us_orders_add_tax_on_top(sim: SpApiSimulatorControl) -> None:
    ids = sim.generate(seller=SELLER_ID, marketplace_id=US, count=80, skus=["A", "B"], seed=8, statuses={"Shipped": 1})
    taxed = 0
    for order_id in ids:
        stored = sim.get_order(order_id)
        order, items = stored["order"], stored["items"]
        assert order["SalesChannel"] == "Amazon.com" and order["OrderTotal"]["CurrencyCode"] == "USD"
        total = sum(
            (
                money(i["ItemPrice"]) + money(i["ItemTax"]) + money(i["ShippingPrice"]) + money(i["ShippingTax"])
                - money(i["PromotionDiscount"]) - money(i["PromotionDiscountTax"])
                - money(i["ShippingDiscount"]) - money(i["ShippingDiscountTax"])
                for i in items
            ),
            Decimal(0),
        )  # fmt: skip
        assert money(order["OrderTotal"]) == total
        taxed += any(money(i["ItemTax"]) > 0 for i in items)
    assert taxed > 40


@pytest.mark.parametrize(
    ("marketplace", "currency", "channel", "country"),
    [
        ("A1F83G8C2ARO7P", "GBP", "Amazon.co.uk", "GB"),
        ("A1PA6795UKMFR9", "EUR", "Amazon.de", "DE"),
        ("A13V1IB3VIYZZH", "EUR", "Amazon.fr", "FR"),
        ("APJ6JRA9NG5V4", "EUR", "Amazon.it", "IT"),
        ("A1RKKUPIHCS9HS", "EUR", "Amazon.es", "ES"),
        ("ATVPDKIKX0DER", "USD", "Amazon.com", "US"),
        ("A2EUQ1WTGCTBG2", "CAD", "Amazon.ca", "CA"),
    ],
)
def test_generated_orders_fit_their_marketplace(
    sim: SpApiSimulatorControl, marketplace: str, currency: str, channel: str, country: str
) -> None:
    sim.add_seller(**SELLER, marketplace_ids=[marketplace])
    ids = sim.generate(seller=SELLER_ID, marketplace_id=marketplace, count=10, skus=["X"], statuses={"Unshipped": 1})
    for order_id in ids:
        stored = sim.get_order(order_id)
        assert stored["order"]["MarketplaceId"] == marketplace and stored["order"]["SalesChannel"] == channel
        assert stored["order"]["OrderTotal"]["CurrencyCode"] == currency
        assert stored["address"]["CountryCode"] == country == stored["order"]["ShippingAddress"]["CountryCode"]


def test_generated_pending_orders_have_no_prices(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    ids = sim.generate(
        seller=SELLER_ID, marketplace_id=UK, count=5, skus=["A"], seed=1, statuses={"Pending": 1},
        start=ago(hours=12), end=ago(minutes=5),
    )  # fmt: skip
    orders = api.get(ORDERS, params=window()).json()["payload"]["Orders"]
    assert sorted(o["AmazonOrderId"] for o in orders) == sorted(ids)
    assert all(o["OrderStatus"] == "Pending" and "OrderTotal" not in o for o in orders)
    for order_id in ids:
        for item in api.get(f"{ORDERS}/{order_id}/orderItems").json()["payload"]["OrderItems"]:
            assert not {"ItemPrice", "ItemTax", "PromotionDiscount", "ShippingPrice"} & set(item)
    sim.patch_order(ids[0], OrderStatus="Unshipped")
    assert "OrderTotal" in api.get(f"{ORDERS}/{ids[0]}").json()["payload"]


def test_generated_partially_shipped_and_canceled_quantities(sim: SpApiSimulatorControl) -> None:
    for status in ("PartiallyShipped", "Canceled"):
        ids = sim.generate(seller=SELLER_ID, marketplace_id=DE, count=30, skus=["A", "B", "C"], statuses={status: 1})
        for order_id in ids:
            stored = sim.get_order(order_id)
            order, items = stored["order"], stored["items"]
            units = sum(i["QuantityOrdered"] for i in items)
            shipped = sum(i["QuantityShipped"] for i in items)
            if order["OrderStatus"] == "PartiallyShipped":
                assert 0 < shipped < units and order["NumberOfItemsShipped"] == shipped
            elif status == "PartiallyShipped":
                assert order["OrderStatus"] == "Shipped" and units == 1  # one unit cannot ship partially
            else:
                assert order["OrderStatus"] == "Canceled" and order["NumberOfItemsUnshipped"] == 0


def test_generate_is_reproducible_with_a_seed(sim: SpApiSimulatorControl) -> None:
    options: dict[str, Any] = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-31T00:00:00Z", "seed": 11}
    first = sim.generate(seller=SELLER_ID, marketplace_id=UK, count=20, skus=["A", "B"], **options)
    first_orders = [sim.get_order(i)["order"] for i in first]
    sim.reset()
    sim.add_seller(**SELLER, marketplace_ids=[UK])
    second = sim.generate(seller=SELLER_ID, marketplace_id=UK, count=20, skus=["A", "B"], **options)
    assert second == first and [sim.get_order(i)["order"] for i in second] == first_orders


def test_generate_100k_orders_in_a_few_seconds(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    started = time.monotonic()
    ids = sim.generate(seller=SELLER_ID, marketplace_id=UK, count=100_000, skus=["A", "B", "C", "D"], seed=1)
    elapsed = time.monotonic() - started
    assert len(set(ids)) == 100_000
    assert elapsed < 20, f"generating 100k orders took {elapsed:.1f}s"
    sim.set_rate_limiting(False)
    page = api.get(ORDERS, params=window(LastUpdatedAfter=ago(days=8), OrderStatuses="Shipped")).json()["payload"]
    assert len(page["Orders"]) == 100 and "NextToken" in page


def test_generate_rejects_bad_input(sim: SpApiSimulatorControl) -> None:
    bad: list[dict[str, Any]] = [
        {"marketplace_id": "NOWHERE"},
        {"statuses": {"Lost": 1}},
        {"fulfillment_channels": {"MFN": 0}},
        {"start": "2026-02-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
        {"seller": "UNKNOWN"},
    ]
    for override in bad:
        body = {"seller": SELLER_ID, "marketplace_id": UK, "count": 1, "skus": ["A"], **override}
        assert sim.http.post("/_sim/generate", json=body).status_code == 400, override


# --- control API -----------------------------------------------------------------------------------------


def test_control_health_sellers_calls_and_reset(spapi_url: str, api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    seed(sim, 2)
    health = sim.health()
    assert health["ok"] is True and health["sellers"] == 1 and health["orders"] == 2
    assert [s["selling_partner_id"] for s in sim.sellers()] == [SELLER_ID]
    api.get(ORDERS, params=window())
    assert sim.calls()["getOrders"] == {"200": 1}
    sim.reset_calls()
    assert sim.calls() == {}
    # Upserting a seller with a new refresh token retires the old one.
    sim.add_seller(**{**SELLER, "refresh_token": "Atzr|rotated"}, marketplace_ids=[UK])
    assert lwa(spapi_url).json()["error"] == "invalid_grant"
    assert lwa(spapi_url, refresh_token="Atzr|rotated").status_code == 200
    sim.add_fault(kind="throttle")
    sim.settings(items_page_size=1, visibility_delay_seconds=30)
    sim.reset()
    assert sim.health()["orders"] == 0 and sim.faults() == [] and sim.calls() == {}
    assert sim.settings() == {
        "visibility_delay_seconds": 0.0, "items_page_size": 100, "token_ttl_seconds": 3600,
        "strict_inventory": False, "auto_advance_seconds": 0.0, "fulfillment_page_size": 50,
        "pagination_token_ttl_seconds": 86400.0,
    }  # fmt: skip
    assert sim.rate_limits()["limits"]["getOrders"] == {"rate": 0.0167, "burst": 20}


def test_control_rejects_bad_input(spapi_url: str, sim: SpApiSimulatorControl) -> None:
    assert sim.http.post("/_sim/orders", json={"seller": "NOBODY", "orders": []}).status_code == 400
    assert sim.http.post("/_sim/orders", content=b"{not json").status_code == 400
    assert sim.http.post("/_sim/settings", json={"colour": "blue"}).status_code == 400
    assert sim.http.get("/_sim/orders/404-0000000-0000000").status_code == 404
    assert sim.http.post("/_sim/sellers", json={"selling_partner_id": "X"}).status_code == 400
    unknown = httpx.get(f"{spapi_url}/orders/v0/unknown/path/here")
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["code"] == "NotFound"
    wrong_method = httpx.post(f"{spapi_url}{ORDERS}")
    assert wrong_method.status_code == 405 and "errors" in wrong_method.json()


def test_live_mode_adds_and_ships_orders(sim: SpApiSimulatorControl) -> None:
    seed(sim, 3)
    sim.start_live(seller=SELLER_ID, marketplace_id=UK, skus=["LIVE-1"], every_seconds=0.2)
    deadline = time.monotonic() + 10
    while sim.health()["orders"] < 6 and time.monotonic() < deadline:
        time.sleep(0.1)
    sim.stop_live()
    count = sim.health()["orders"]
    assert count >= 6
    shipped = [sim.get_order(f"202-{n:07d}-{n:07d}")["order"]["OrderStatus"] for n in (1, 2, 3)]
    assert "Shipped" in shipped
    time.sleep(0.5)
    assert sim.health()["orders"] == count  # stopped


# --- the shared building blocks --------------------------------------------------------------------------


def test_token_bucket_with_a_fake_clock() -> None:
    now = [100.0]
    bucket = TokenBucket(rate=2, burst=3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5  # one token back
    assert [bucket.take() for _ in range(2)] == [True, False]
    now[0] += 60
    assert bucket.available() == 3  # never above the burst
    bucket.take()
    bucket.refill()
    assert bucket.available() == 3


def test_fault_injector_matching() -> None:
    injector = FaultInjector(operations={"a", "b"}, seed=7)
    first = injector.add({"operation": "a", "kind": "error", "times": 1, "after": 2})
    second = injector.add({"operation": "*", "kind": "throttle", "times": 2})
    assert [injector.match("a") for _ in range(2)] == [second, second]  # a's rule lets two through first
    assert injector.match("a") is first and injector.match("a") is None and injector.match("b") is None
    with pytest.raises(ValueError, match="unknown operation"):
        injector.add({"operation": "c"})
    sampled = FaultInjector(seed=1)
    sampled.add({"probability": 0.5})
    pattern = [sampled.match("x") is not None for _ in range(50)]
    sampled.seed(1)
    assert [sampled.match("x") is not None for _ in range(50)] == pattern and 10 < sum(pattern) < 40


def test_server_thread_uses_a_free_port_and_stops_cleanly() -> None:
    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("hi")

    server = ServerThread(Starlette(routes=[Route("/", hello)]))
    assert server.port > 0
    with server as base_url:
        assert base_url == f"http://127.0.0.1:{server.port}"
        assert httpx.get(base_url).text == "hi"
    assert not server.thread.is_alive()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", server.port), timeout=1):
        pass


def test_module_entry_point_prints_its_address_and_serves() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    repo = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-m", "simulators.spapi", "--host", "127.0.0.1", "--port", str(port)],
        cwd=repo,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == f"SP-API simulator listening on http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/_sim/health").json()["ok"] is True
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- python-amazon-sp-api against the simulator ----------------------------------------------------------


def test_python_amazon_sp_api_end_to_end(spapi_url: str, sim: SpApiSimulatorControl) -> None:
    host = spapi_url.removeprefix("http://")

    class LocalLWA(AccessTokenClient):
        scheme = "http://"

    LocalLWA.host = host
    ids = seed(sim, 120, items=2)

    def client(**credentials: str) -> Orders:
        orders = Orders(
            credentials={
                "refresh_token": SELLER["refresh_token"],
                "lwa_app_id": SELLER["client_id"],
                "lwa_client_secret": SELLER["client_secret"],
                **credentials,
            },
            marketplace=Marketplaces.UK,
            auth_token_client_class=LocalLWA,
        )
        orders.endpoint = spapi_url
        return orders

    orders = client()
    page = orders.get_orders(LastUpdatedAfter=ago(days=1), MaxResultsPerPage=50)
    seen = [o["AmazonOrderId"] for o in page.payload["Orders"]]
    assert page.rate_limit == "0.0167" and page.headers["x-amzn-RequestId"]
    while page.next_token:
        page = orders.get_orders(NextToken=page.next_token)
        seen += [o["AmazonOrderId"] for o in page.payload["Orders"]]
    assert seen == ids

    order_id = ids[0]
    assert orders.get_order(order_id).payload == sim.get_order(order_id)["order"]
    items = orders.get_order_items(order_id)
    assert [i["SellerSKU"] for i in items.payload["OrderItems"]] == ["SKU-0", "SKU-1"] and items.rate_limit == "0.5"
    assert orders.get_order_address(order_id).payload["ShippingAddress"]["Name"] == "Jane Doe"

    for _ in range(29):  # the burst of 30 (one spent above)
        orders.get_order_items(order_id)
    with pytest.raises(SellingApiRequestThrottledException) as throttled:
        orders.get_order_items(order_id)
    assert throttled.value.amzn_code == "QuotaExceeded"
    assert throttled.value.headers["x-amzn-RateLimit-Limit"] == "0.5"

    sim.expire_tokens()  # the library still holds the old token in its cache ...
    with pytest.raises(SellingApiForbiddenException):
        orders.get_order(order_id)
    from sp_api.auth import access_token_client

    access_token_client.cache.clear()  # ... until it asks LWA again
    assert orders.get_order(order_id).payload["AmazonOrderId"] == order_id

    access_token_client.cache.clear()
    with pytest.raises(AuthorizationError) as refused:
        client(refresh_token="Atzr|revoked").get_order(order_id)
    assert refused.value.error_code == "invalid_grant"
    assert sim.calls()["getOrders"] == {"200": 3}
