"""The SP-API simulator honours Amazon's documented contract (it is what every other test trusts)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sp_api.api import Orders
from sp_api.auth import AccessTokenClient, access_token_client
from sp_api.base import Marketplaces
from sp_api.base.exceptions import SellingApiRequestThrottledException

from simulators.common import running_server
from simulators.spapi.app import create_app
from simulators.spapi.control import SpApiSimulatorControl

UK, DE = "A1F83G8C2ARO7P", "A1PA6795UKMFR9"
SELLER = {"selling_partner_id": "A1SIMTEST", "refresh_token": "Atzr|sim", "client_id": "cid", "client_secret": "cs"}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with running_server(create_app()) as base_url:
        yield base_url


@pytest.fixture
def ctl(url: str) -> Iterator[SpApiSimulatorControl]:
    control = SpApiSimulatorControl(url)
    control.reset()
    control.add_seller(**SELLER, marketplace_ids=[UK, DE])
    yield control
    control.close()


def token(url: str, **overrides: str) -> httpx.Response:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": SELLER["refresh_token"],
        "client_id": "cid",
        "client_secret": "cs",
    }
    return httpx.post(f"{url}/auth/o2/token", data={**form, **overrides})


@pytest.fixture
def api(url: str, ctl: SpApiSimulatorControl) -> Iterator[httpx.Client]:
    access = token(url).json()["access_token"]
    with httpx.Client(base_url=url, headers={"x-amz-access-token": access}) as client:
        yield client


def seed(ctl: SpApiSimulatorControl, count: int, *, minutes_ago: int = 30, marketplace: str = UK) -> list[str]:
    base = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    orders = [
        {
            "order": {
                "AmazonOrderId": f"202-{n:07d}-0000000",
                "PurchaseDate": iso(base + timedelta(seconds=n)),
                "LastUpdateDate": iso(base + timedelta(seconds=n)),
                "MarketplaceId": marketplace,
            },
            "items": [{"ASIN": "B000000001", "SellerSKU": f"S{i}"} for i in range(3)],
            "address": {"Name": "A", "AddressLine1": "1 St", "City": "X", "PostalCode": "1", "CountryCode": "GB"},
        }
        for n in range(count)
    ]
    return ctl.upsert_orders(seller=SELLER["selling_partner_id"], orders=orders)


def window(**extra: Any) -> dict[str, Any]:
    return {"MarketplaceIds": UK, "LastUpdatedAfter": iso(datetime.now(UTC) - timedelta(days=1)), **extra}


def test_lwa_token_exchange(url: str, ctl: SpApiSimulatorControl) -> None:
    ok = token(url).json()
    assert ok["token_type"] == "bearer" and ok["access_token"].startswith("Atza|") and ok["expires_in"] == 3600
    bad_grant = token(url, refresh_token="Atzr|nope")
    assert bad_grant.status_code == 400 and bad_grant.json()["error"] == "invalid_grant"
    bad_client = token(url, client_secret="wrong")
    assert bad_client.status_code == 401 and bad_client.json()["error"] == "invalid_client"


def test_api_needs_a_live_token(url: str, ctl: SpApiSimulatorControl, api: httpx.Client) -> None:
    anonymous = httpx.get(f"{url}/orders/v0/orders", params=window())
    assert anonymous.status_code == 403 and anonymous.json()["errors"][0]["code"] == "Unauthorized"
    assert api.get("/orders/v0/orders", params=window()).status_code == 200
    ctl.expire_tokens()
    expired = api.get("/orders/v0/orders", params=window())
    assert expired.status_code == 403 and "expired" in expired.json()["errors"][0]["details"]


@pytest.mark.parametrize(
    "params",
    [
        {"MarketplaceIds": UK},
        {"MarketplaceIds": UK, "CreatedAfter": "2026-01-01T00:00:00Z", "LastUpdatedAfter": "2026-01-01T00:00:00Z"},
        {"MarketplaceIds": UK, "LastUpdatedAfter": "2026-01-01T00:00:00Z", "CreatedBefore": "2026-01-02T00:00:00Z"},
        {"MarketplaceIds": UK, "LastUpdatedAfter": "2026-01-01T00:00:00Z", "LastUpdatedBefore": iso(datetime.now(UTC))},
        {"MarketplaceIds": UK, "LastUpdatedAfter": "2026-01-02T00:00:00Z", "LastUpdatedBefore": "2026-01-01T00:00:00Z"},
        {"MarketplaceIds": UK, "LastUpdatedAfter": "yesterday"},
        {"LastUpdatedAfter": "2026-01-01T00:00:00Z"},
        {"MarketplaceIds": UK, "LastUpdatedAfter": "2026-01-01T00:00:00Z", "MaxResultsPerPage": "0"},
        {"MarketplaceIds": UK, "LastUpdatedAfter": "2026-01-01T00:00:00Z", "MaxResultsPerPage": "101"},
        {"MarketplaceIds": UK, "NextToken": "forged"},
    ],
)
def test_get_orders_validation(api: httpx.Client, params: dict[str, str]) -> None:
    response = api.get("/orders/v0/orders", params=params)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "InvalidInput"
    assert response.headers["x-amzn-RateLimit-Limit"] == "0.0167" and response.headers["x-amzn-RequestId"]


def test_keyset_paging_survives_updates_between_pages(ctl: SpApiSimulatorControl, api: httpx.Client) -> None:
    ids = seed(ctl, 25)
    before = iso(datetime.now(UTC) - timedelta(minutes=3))
    first = api.get("/orders/v0/orders", params=window(MaxResultsPerPage=10, LastUpdatedBefore=before)).json()[
        "payload"
    ]
    assert [o["AmazonOrderId"] for o in first["Orders"]] == ids[:10] and first["LastUpdatedBefore"] == before
    ctl.patch_order(ids[0], OrderStatus="Shipped")  # moves out of the window: must not shift the rest
    seen = [o["AmazonOrderId"] for o in first["Orders"]]
    token_ = first["NextToken"]
    while token_:
        page = api.get("/orders/v0/orders", params={"MarketplaceIds": UK, "NextToken": token_}).json()["payload"]
        seen += [o["AmazonOrderId"] for o in page["Orders"]]
        token_ = page.get("NextToken")
    assert seen == ids


def test_filters_and_scoping(ctl: SpApiSimulatorControl, api: httpx.Client, url: str) -> None:
    uk = seed(ctl, 3)
    ctl.add_seller(
        selling_partner_id="OTHER", refresh_token="Atzr|o", client_id="c", client_secret="s", marketplace_ids=[UK]
    )
    ctl.upsert_orders(seller="OTHER", orders=[{"order": {"AmazonOrderId": "999-0000000-0000000"}, "items": []}])
    ctl.patch_order(uk[1], OrderStatus="Shipped", LastUpdateDate=iso(datetime.now(UTC) - timedelta(minutes=10)))
    got = api.get("/orders/v0/orders", params=window()).json()["payload"]["Orders"]
    assert {o["AmazonOrderId"] for o in got} == set(uk)
    shipped = api.get("/orders/v0/orders", params=window(OrderStatuses="Shipped")).json()["payload"]["Orders"]
    assert [o["AmazonOrderId"] for o in shipped] == [uk[1]]
    assert api.get("/orders/v0/orders", params=window(MarketplaceIds=DE)).json()["payload"]["Orders"] == []
    assert api.get("/orders/v0/orders/999-0000000-0000000").status_code == 404


def test_visibility_delay_hides_fresh_changes(ctl: SpApiSimulatorControl, api: httpx.Client) -> None:
    seed(ctl, 1, minutes_ago=3)
    ctl.settings(visibility_delay_seconds=600)
    assert api.get("/orders/v0/orders", params=window()).json()["payload"]["Orders"] == []


def test_items_paging_and_address(ctl: SpApiSimulatorControl, api: httpx.Client) -> None:
    [order_id] = seed(ctl, 1)
    ctl.settings(items_page_size=2)
    first = api.get(f"/orders/v0/orders/{order_id}/orderItems").json()["payload"]
    second = api.get(f"/orders/v0/orders/{order_id}/orderItems", params={"NextToken": first["NextToken"]}).json()[
        "payload"
    ]
    assert len(first["OrderItems"]) == 2 and len(second["OrderItems"]) == 1 and "NextToken" not in second
    address = api.get(f"/orders/v0/orders/{order_id}/address").json()["payload"]
    assert address["AmazonOrderId"] == order_id and address["ShippingAddress"]["Name"] == "A"


def test_usage_plan_throttles_after_the_burst(ctl: SpApiSimulatorControl, api: httpx.Client) -> None:
    [order_id] = seed(ctl, 1)
    codes = [api.get(f"/orders/v0/orders/{order_id}").status_code for _ in range(31)]
    assert codes[:30] == [200] * 30 and codes[30] == 429
    response = api.get(f"/orders/v0/orders/{order_id}")
    assert (
        response.json()["errors"][0]["code"] == "QuotaExceeded" and response.headers["x-amzn-RateLimit-Limit"] == "0.5"
    )
    ctl.refill()
    assert api.get(f"/orders/v0/orders/{order_id}").status_code == 200
    assert ctl.calls()["getOrder"] == {"200": 31, "429": 2}


def test_faults(ctl: SpApiSimulatorControl, api: httpx.Client) -> None:
    [order_id] = seed(ctl, 1)
    path = f"/orders/v0/orders/{order_id}"
    ctl.add_fault(operation="getOrder", kind="error", status=503, times=2, after=1)
    assert [api.get(path).status_code for _ in range(4)] == [200, 503, 503, 200]
    assert api.get(path).status_code == 200

    ctl.add_fault(operation="getOrder", kind="throttle", times=1)
    assert api.get(path).status_code == 429

    ctl.add_fault(operation="getOrder", kind="latency", ms=300, times=1)
    started = time.monotonic()
    assert api.get(path).status_code == 200 and time.monotonic() - started >= 0.3

    ctl.add_fault(operation="getOrder", kind="timeout", seconds=2, times=1)
    with pytest.raises(httpx.ReadTimeout):
        api.get(path, timeout=0.5)

    ctl.clear_faults()
    ctl.settings(rng_seed=42)
    ctl.add_fault(operation="getOrder", kind="error", status=500, times=None, probability=0.3)
    codes = [api.get(path).status_code for _ in range(25)]
    assert 2 <= codes.count(500) <= 15 and set(codes) == {200, 500}


def test_repeat_page_returns_the_previous_page_again(ctl: SpApiSimulatorControl, api: httpx.Client) -> None:
    seed(ctl, 15)
    first = api.get("/orders/v0/orders", params=window(MaxResultsPerPage=10)).json()
    ctl.add_fault(operation="getOrders", kind="repeat_page", times=1)
    again = api.get("/orders/v0/orders", params={"MarketplaceIds": UK, "NextToken": first["payload"]["NextToken"]})
    assert again.json() == first


def test_generate_is_realistic_and_consistent(ctl: SpApiSimulatorControl, url: str) -> None:
    ids = ctl.generate(
        seller=SELLER["selling_partner_id"], marketplace_id=UK, count=300, skus=["A", "B", "C"], seed=5,
        start=iso(datetime.now(UTC) - timedelta(days=3)), end=iso(datetime.now(UTC) - timedelta(minutes=5)),
    )  # fmt: skip
    assert len(set(ids)) == 300 and all(len(i.split("-")) == 3 for i in ids)
    statuses = set()
    for order_id in ids[:100]:
        stored = ctl.get_order(order_id)
        order, items = stored["order"], stored["items"]
        statuses.add(order["OrderStatus"])
        assert order["MarketplaceId"] == UK and order["SalesChannel"] == "Amazon.co.uk"
        if order["OrderStatus"] == "Pending":
            assert "OrderTotal" not in order and all("ItemPrice" not in i for i in items)
            continue
        gross = sum(
            Decimal(i["ItemPrice"]["Amount"])
            + Decimal(i["ShippingPrice"]["Amount"])
            - Decimal(i["PromotionDiscount"]["Amount"])
            for i in items
        )
        assert Decimal(order["OrderTotal"]["Amount"]) == gross and order["OrderTotal"]["CurrencyCode"] == "GBP"
        shipped = sum(i["QuantityShipped"] for i in items)
        assert order["NumberOfItemsShipped"] == shipped
    assert {"Pending", "Unshipped", "Shipped"} <= statuses


def test_generate_is_fast(ctl: SpApiSimulatorControl) -> None:
    started = time.monotonic()
    ctl.generate(seller=SELLER["selling_partner_id"], marketplace_id=UK, count=20000, skus=["A", "B"], seed=1)
    assert time.monotonic() - started < 10


def test_python_amazon_sp_api_end_to_end(url: str, ctl: SpApiSimulatorControl) -> None:
    access_token_client.cache.clear()
    host = url.removeprefix("http://")

    class LocalLWA(AccessTokenClient):
        scheme = "http://"

    LocalLWA.host = host
    [order_id] = seed(ctl, 1)
    orders = Orders(
        marketplace=Marketplaces.UK,
        credentials={"refresh_token": SELLER["refresh_token"], "lwa_app_id": "cid", "lwa_client_secret": "cs"},
        auth_token_client_class=LocalLWA,
    )
    orders.endpoint = url
    page = orders.get_orders(LastUpdatedAfter=iso(datetime.now(UTC) - timedelta(days=1)))
    assert [o["AmazonOrderId"] for o in page.payload["Orders"]] == [order_id] and page.rate_limit == "0.0167"
    assert len(orders.get_order_items(order_id).payload["OrderItems"]) == 3
    assert orders.get_order_address(order_id).payload["ShippingAddress"]["City"] == "X"
    ctl.add_fault(operation="getOrderItems", kind="throttle", times=1)
    with pytest.raises(SellingApiRequestThrottledException) as info:
        orders.get_order_items(order_id)
    assert info.value.headers["x-amzn-RateLimit-Limit"] == "0.5"
    access_token_client.cache.clear()
