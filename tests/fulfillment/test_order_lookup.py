"""Order numbers are unique per channel only: an eCommerce order may carry an Amazon order's number. Lookups by
number (ERP shipments, payment registration) are scoped by channel/account and say which orders they could mean."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from fulfillment.models import Shipment
from orders.models import Order
from tests.fulfillment.conftest import erp_api
from tests.payments.conftest import ecommerce_order_payload

pytestmark = pytest.mark.django_db
NUMBER = "202-1111111-1111111"  # the Amazon order of the fbm_order fixture


@pytest.fixture
def same_number_web_order(api: APIClient, web_skus: None, fbm_order: Order) -> Order:
    response = api.post("/api/v1/orders/ecommerce/", ecommerce_order_payload(external_id=NUMBER), format="json")
    assert response.status_code == 201, response.json()
    return Order.objects.get(pk=response.json()["id"])


def shipment(order: Order, **lookup: Any) -> dict[str, Any]:
    line = order.lines.order_by("pk").first()
    assert line is not None
    return {"shipment_ref": "SL-1", "carrier": "Royal Mail", "tracking_number": "RM1", **lookup,
            "ship_date": "2026-11-21T09:00:00Z", "lines": [{"line_ref": line.pk, "quantity": 1}]}  # fmt: skip


def post(body: dict[str, Any]) -> Any:
    client = erp_api()
    client.raise_request_exception = False  # a server error is an answer here, not a test crash
    return client.post("/api/v1/erp/shipments/", body, format="json")


def test_a_number_two_channels_use_is_refused_naming_both(fbm_order: Order, same_number_web_order: Order) -> None:
    response = post(shipment(fbm_order, order_nbr=NUMBER))
    assert response.status_code == 400, response.content
    body = response.json()
    assert "names 2 orders" in body["message"] and "Give channel or selling_partner_id" in body["message"]
    assert body["extra"]["candidates"] == [
        {"channel": "amazon", "selling_partner_id": "A1ACMEUK000001", "account": "Acme UK", "order_id": fbm_order.pk},
        {"channel": "ecommerce", "selling_partner_id": None, "account": None, "order_id": same_number_web_order.pk},
    ]
    assert not Shipment.objects.exists()


@pytest.mark.parametrize("scope", [{"channel": "amazon"}, {"selling_partner_id": "A1ACMEUK000001"}])
def test_channel_or_account_picks_the_order(
    fbm_order: Order, same_number_web_order: Order, scope: dict[str, str]
) -> None:
    response = post(shipment(fbm_order, order_nbr=NUMBER, **scope))
    assert response.status_code == 201, response.content
    assert response.json()["order_id"] == fbm_order.pk
    assert Shipment.objects.get().order == fbm_order


def test_unknown_numbers_are_a_clear_400(fbm_order: Order) -> None:
    response = post(shipment(fbm_order, order_nbr="202-0000000-0000000"))
    assert response.status_code == 400
    assert response.json()["message"] == "No order with number '202-0000000-0000000'."
    response = post(shipment(fbm_order, order_nbr=NUMBER, channel="ecommerce"))
    assert response.status_code == 400
    assert response.json()["message"] == f"No order with number {NUMBER!r}, channel 'ecommerce'."
    response = post(shipment(fbm_order, order_nbr=NUMBER, selling_partner_id="A9OTHER"))
    assert response.status_code == 400 and "selling_partner_id 'A9OTHER'" in response.json()["message"]
    response = post(shipment(fbm_order, order_nbr=NUMBER, channel="ebay"))
    assert response.status_code == 400 and "channel" in response.json()["extra"]["fields"]


def test_payment_registration_by_number_takes_the_ecommerce_order(
    api: APIClient, fbm_order: Order, same_number_web_order: Order
) -> None:
    body = {"order_external_id": "WEB-404", "vendor_tx_code": "WEB-404-1", "transaction_type": "Deferred",
            "amount": "59.97", "currency": "GBP", "transaction_id": "T-1"}  # fmt: skip
    response = api.post("/api/v1/payments/", body, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == "No order with number 'WEB-404', channel 'ecommerce'."
    # The Amazon order with the same number is never a candidate: Opayo payments are the site's.
    from orders.selectors import order_get_by_number

    assert order_get_by_number(number=NUMBER, channel="ecommerce") == same_number_web_order
