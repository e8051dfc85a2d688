from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from config.common.auth import api_client_issue
from config.common.models import ApiClient
from orders.models import Order, SellerAccount
from tests.amazon_payloads import amazon_item, amazon_order, full_address
from tests.orders.test_amazon_ingest import ingest
from tests.payments.conftest import api, ecommerce_order_payload, web_order, web_skus  # noqa: F401


def erp_api(name: str = "Dynamics SL") -> APIClient:
    _, token = api_client_issue(name=name, kind=ApiClient.Kind.ERP)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def erp(db: None) -> APIClient:
    return erp_api()


@pytest.fixture
def fbm_order(account: SellerAccount, mapped_skus: list[str]) -> Order:
    """An Amazon merchant-fulfilled order ready to ship, with two lines."""
    items = [amazon_item("SKU-0001", item_id="11"), amazon_item("SKU-0002", item_id="12", quantity=1)]
    ingest(account, [(amazon_order("202-1111111-1111111", total="35.97"), items, full_address())])
    return Order.objects.get(external_id="202-1111111-1111111")


def pull(erp: APIClient, kind: str = "sales-orders", limit: int = 50) -> dict[str, Any]:
    response = erp.post(f"/api/v1/erp/{kind}/pull/", {"limit": limit}, format="json")
    assert response.status_code == 200, response.content
    return dict(response.json())


def ack(erp: APIClient, batch_id: int, kind: str = "sales-orders") -> dict[str, Any]:
    response = erp.post(f"/api/v1/erp/{kind}/ack/", {"batch_id": batch_id}, format="json")
    assert response.status_code == 200, response.content
    return dict(response.json())
