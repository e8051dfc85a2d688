from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from config.common.auth import api_client_issue
from tests.factories import SkuMappingFactory


def ecommerce_order_payload(external_id: str = "WEB-1001", **overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "external_id": external_id,
        "purchased_at": "2026-11-20T10:00:00Z",
        "currency": "GBP",
        "total_amount": "59.97",
        "lines": [
            {
                "external_id": "1",
                "sku": "WEB-TENT",
                "title": "Tent",
                "quantity": 1,
                "item_price": "49.98",
                "item_tax": "8.33",
            },
            {"external_id": "2", "sku": "WEB-MUG", "title": "Mug", "quantity": 1, "item_price": "9.99"},
        ],
        "shipping_address": {
            "name": "Ada Lovelace",
            "line1": "12 St James's Square",
            "city": "London",
            "postal_code": "sw1y4jh",
            "country_code": "gb",
        },
        "metadata": {"campaign_id": "SPRING26"},
    }
    payload.update(overrides)
    return payload


@pytest.fixture
def web_skus(db: None) -> None:
    SkuMappingFactory.create(seller_sku="WEB-TENT", erp_item_id="TNT-0002")
    SkuMappingFactory.create(seller_sku="WEB-MUG", erp_item_id="MUG-0001")


@pytest.fixture
def api(db: None) -> APIClient:
    """The eCommerce site: an API client of that kind, with its default scopes (orders and payments)."""
    _, token = api_client_issue(name="shop", kind="ecommerce")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def web_order(api: APIClient, web_skus: None) -> dict[str, Any]:
    response = api.post("/api/v1/orders/ecommerce/", ecommerce_order_payload(), format="json")
    assert response.status_code == 201, response.json()
    return dict(response.json())


AMOUNT = Decimal("59.97")
