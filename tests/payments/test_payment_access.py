"""Issue 13, "Access": money and customer data through the API only for who the policy names.

Before the policy, the orders and payments endpoints only asked for a login: an ERP token scoped `erp:inventory`
refunded a captured payment (202, sent to Opayo), and the read-only Auditor did the same with the admin's session
cookie and a CSRF token.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from rest_framework.test import APIClient

from config.common.auth import api_client_issue
from config.common.models import OutboundRequest
from orders.models import Order
from payments.models import Payment, Refund
from payments.services import payment_capture
from tests.payments import test_opayo_flows as flows
from tests.payments.conftest import ecommerce_order_payload

opayo, opayo_url = flows.opayo, flows.opayo_url


@pytest.fixture
def captured(web_order: dict[str, Any], opayo: Any, django_capture_on_commit_callbacks: Any) -> Payment:
    payment = flows.register(Order.objects.get(pk=web_order["id"]), opayo, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        payment_capture(payment=payment, actor="test")
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED
    return payment


def _bearer(kind: str, scopes: list[str]) -> APIClient:
    _, token = api_client_issue(name=f"{kind}-{'-'.join(scopes)}", kind=kind, scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_an_inventory_only_erp_token_touches_no_payment_and_reads_no_order(captured: Payment) -> None:
    erp = _bearer("erp", ["erp:inventory"])
    outbound_before = OutboundRequest.objects.count()
    orders_before = Order.objects.count()
    pid = captured.pk
    answers = {
        "refund": erp.post(f"/api/v1/payments/{pid}/refunds/", {"amount": "10.00", "reason": "x"}, format="json"),
        "capture": erp.post(f"/api/v1/payments/{pid}/capture/", {}, format="json"),
        "void": erp.post(f"/api/v1/payments/{pid}/void/", {}, format="json"),
        "register": erp.post(
            "/api/v1/payments/",
            {
                "order_id": captured.order_id,
                "vendor_tx_code": "X-2",
                "transaction_type": "Payment",
                "amount": "1.00",
                "currency": "GBP",
                "transaction_id": "T",
            },
            format="json",
        ),
        "create order": erp.post("/api/v1/orders/ecommerce/", ecommerce_order_payload("WEB-EVIL"), format="json"),
        "read payment": erp.get(f"/api/v1/payments/{pid}/"),
        "list orders": erp.get("/api/v1/orders/"),
        "read order": erp.get(f"/api/v1/orders/{captured.order_id}/"),
    }
    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(answers, 403)
    assert "Ada Lovelace" not in str([r.content for r in answers.values()])
    assert OutboundRequest.objects.count() == outbound_before  # no refund, capture or void queued for Opayo
    assert not Refund.objects.filter(payment=captured).exists()
    assert Order.objects.count() == orders_before
    # The same token still does its own job.
    assert erp.get("/api/v1/erp/inventory/fba/").status_code == 200


def test_the_auditor_cannot_refund_with_the_admin_session_and_csrf_token(captured: Payment) -> None:
    user = User.objects.create_user("audrey", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="Auditor"))
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    page = browser.get("/admin/")  # the admin sets the CSRF cookie
    assert page.status_code == 200
    csrf = browser.cookies["csrftoken"].value
    refund = browser.post(
        f"/api/v1/payments/{captured.pk}/refunds/",
        {"amount": "10.00", "reason": "x"},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert refund.status_code == 403
    assert not Refund.objects.filter(payment=captured).exists()
    # Reading is the Auditor's job.
    assert browser.get(f"/api/v1/payments/{captured.pk}/").status_code == 200


def test_finance_and_the_shop_may_refund(captured: Payment, api: APIClient) -> None:
    user = User.objects.create_user("fiona", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="Finance"))
    finance = APIClient()
    finance.force_login(user)
    response = finance.post(
        f"/api/v1/payments/{captured.pk}/refunds/", {"amount": "10.00", "reason": "goodwill"}, format="json"
    )
    assert response.status_code == 202, response.json()
    # `api` is the eCommerce client (default scopes): it refunds its own orders' payments too.
    response = api.post(f"/api/v1/payments/{captured.pk}/refunds/", {"amount": "5.00", "reason": "late"}, format="json")
    assert response.status_code == 202, response.json()
    assert Refund.objects.filter(payment=captured).count() == 2
    # Operations reads payments but moves no money.
    ops = User.objects.create_user("otto", is_staff=True)
    ops.groups.add(Group.objects.get(name="Operations"))
    operations = APIClient()
    operations.force_login(ops)
    assert operations.get(f"/api/v1/payments/{captured.pk}/").status_code == 200
    assert operations.post(f"/api/v1/payments/{captured.pk}/void/", {}, format="json").status_code == 403
