"""Inbound endpoints refuse bodies larger than they can sensibly take (413), before reading them."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_oversized_bodies_are_refused_per_endpoint() -> None:
    client = Client()
    big = "x" * (40 * 1024)
    response = client.post("/webhooks/opayo/server/", data=big, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413 and "at most 32768" in response.json()["message"]
    huge = "{" + " " * (2 * 1024 * 1024) + "}"
    assert client.post("/api/v1/orders/ecommerce/", data=huge, content_type="application/json").status_code == 413
    # The ERP's inventory post may be larger than other API bodies (it is still authenticated afterwards).
    assert client.post("/api/v1/erp/inventory/", data=huge, content_type="application/json").status_code in (401, 403)


def test_card_like_numbers_are_refused_by_every_json_endpoint(caplog: pytest.LogCaptureFixture) -> None:
    """No endpoint stores card data: a body carrying a card-like number anywhere is a 400 that names the field
    (never the number) before any view keeps it raw."""
    from fulfillment.models import InventoryUpdate
    from tests.fulfillment.conftest import erp_api

    level = {"item_id": "4929 0000 0000 6", "site": "MAIN", "on_hand": 1, "allocated": 0, "version": 1,
             "as_of": "2026-11-30T09:00:00Z"}  # fmt: skip
    response = erp_api().post("/api/v1/erp/inventory/", {"levels": [level]}, format="json")
    assert response.status_code == 400 and response.json()["extra"]["fields"] == ["levels.0.item_id"]
    assert "4929" not in response.content.decode() and "4929" not in caplog.text
    assert not InventoryUpdate.objects.exists()
    fine = {"levels": [{**level, "item_id": "TENT-2P"}]}
    answer = erp_api("Other ERP").post("/api/v1/erp/inventory/", fine, format="json")
    assert answer.status_code == 200, answer.json()
