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
