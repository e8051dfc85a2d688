from __future__ import annotations

import re
from typing import Any

import pytest
from rest_framework.test import APIClient

from config.common.auth import api_client_issue
from orders.models import SellerAccount
from tests.amazon_payloads import amazon_item, amazon_order, full_address
from tests.orders.test_amazon_ingest import ingest


@pytest.fixture
def api(db: None) -> APIClient:
    """The ERP reads orders as an API client (its default scopes include `orders:read`)."""
    _, token = api_client_issue(name="erp", kind="erp")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def orders(account: SellerAccount, mapped_skus: list[str]) -> None:
    page: list[Any] = []
    for n in range(7):
        status = "Shipped" if n % 2 else "Unshipped"
        sku = "UNKNOWN" if n == 6 else "SKU-0001"
        page.append(
            (
                amazon_order(f"202-0000000-{n:07d}", status=status, purchased=f"2026-11-0{n + 1}T09:00:00Z"),
                [amazon_item(sku)],
                full_address(),
            )
        )
    ingest(account, page)


def test_requires_a_token(db: None) -> None:
    response = APIClient().get("/api/v1/orders/")
    assert response.status_code == 401
    assert response.json() == {"message": "Authentication credentials were not provided.", "extra": {}}


def test_list_is_paginated_newest_first_with_lines(api: APIClient, orders: None) -> None:
    body = api.get("/api/v1/orders/", {"page_size": 3}).json()
    assert body["count"] == 7 and body["next"] and len(body["results"]) == 3
    first = body["results"][0]
    assert first["external_id"] == "202-0000000-0000006"
    assert first["lines"][0]["seller_sku"] == "UNKNOWN" and first["lines"][0]["item_price"] == "23.98"
    assert first["addresses"][0]["postal_code"] == "SW1A 2AA"
    page3 = api.get(body["next"].replace("page=2", "page=3")).json()
    assert len(page3["results"]) == 1


@pytest.mark.parametrize(
    ("params", "count"),
    [
        ({"status": "shipped"}, 3),
        ({"status": ["shipped", "on_hold"]}, 4),
        ({"on_hold": "true"}, 1),
        ({"sku": "UNKNOWN"}, 1),
        ({"purchased_after": "2026-11-03T00:00:00Z", "purchased_before": "2026-11-05T00:00:00Z"}, 2),
        ({"selling_partner_id": "A1ACMEUK000001"}, 7),
        ({"external_id": "202-0000000-0000002"}, 1),
    ],
)
def test_filters(api: APIClient, orders: None, params: dict[str, Any], count: int) -> None:
    assert api.get("/api/v1/orders/", params).json()["count"] == count


def test_bad_filter_is_a_clear_400(api: APIClient, orders: None) -> None:
    response = api.get("/api/v1/orders/", {"purchased_after": "last tuesday", "status": "lost"})
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "Validation error"
    assert set(body["extra"]["fields"]) == {"purchased_after", "status"}


def test_detail_has_events(api: APIClient, orders: None) -> None:
    order_id = api.get("/api/v1/orders/", {"external_id": "202-0000000-0000006"}).json()["results"][0]["id"]
    body = api.get(f"/api/v1/orders/{order_id}/").json()
    assert body["status"] == "on_hold" and body["hold_code"] == "unknown_sku"
    assert [e["kind"] for e in body["events"]] == ["created", "held"]


def test_detail_404(api: APIClient, db: None) -> None:
    response = api.get("/api/v1/orders/999999/")
    assert response.status_code == 404 and response.json()["message"]


def test_schema_and_docs_are_served_without_cdn(api: APIClient, admin_client: Any) -> None:
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert "/api/v1/orders/" in schema["paths"]
    params = {p["name"] for p in schema["paths"]["/api/v1/orders/"]["get"]["parameters"]}
    assert {"status", "purchased_after", "page", "page_size", "sku"} <= params
    docs = admin_client.get("/api/docs/").content.decode()
    # Served from the sidecar, not a CDN: no asset comes from another host (a random CSRF token may spell "cdn").
    assert "swagger-ui" in docs and not re.search(r"""(src|href)=["']?(https?:)?//""", docs)
