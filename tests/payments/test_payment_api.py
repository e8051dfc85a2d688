"""The payments API as the eCommerce site and the ERP use it, against the Opayo simulator."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework.test import APIClient

from tests.payments import test_opayo_flows as flows

opayo, opayo_url = flows.opayo, flows.opayo_url


def test_register_capture_refund_over_http(
    api: APIClient, web_order: dict[str, Any], opayo: Any, django_capture_on_commit_callbacks: Any
) -> None:
    body = opayo.checkout("WEB-1001-1", kind="Deferred")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/payments/",
            {"order_external_id": "WEB-1001", "vendor_tx_code": "WEB-1001-1", "transaction_type": "Deferred",
             "amount": "59.97", "currency": "GBP", "transaction_id": body["transactionId"]},
            format="json",
        )  # fmt: skip
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "pending"  # Opayo's outcome is read right after the answer, in a worker
    payment = api.get(f"/api/v1/payments/{response.json()['id']}/").json()
    assert payment["status"] == "authorised" and payment["order_status"] == "authorised"
    assert "security_key" not in payment["transactions"][0]

    with django_capture_on_commit_callbacks(execute=True):
        captured = api.post(f"/api/v1/payments/{payment['id']}/capture/", {}, format="json")
    assert captured.status_code == 202
    assert api.get(f"/api/v1/payments/{payment['id']}/").json()["status"] == "captured"

    too_much = api.post(f"/api/v1/payments/{payment['id']}/refunds/", {"amount": "70.00", "reason": "x"}, format="json")
    assert too_much.status_code == 400 and too_much.json()["extra"]["refundable"] == "59.97"

    with django_capture_on_commit_callbacks(execute=True):
        asked = api.post(
            f"/api/v1/payments/{payment['id']}/refunds/", {"amount": "59.97", "reason": "returned"}, format="json"
        )
    assert asked.status_code == 202
    refunded = api.get(f"/api/v1/payments/{payment['id']}/")
    assert refunded.json()["status"] == "refunded" and refunded.json()["refunds"][0]["status"] == "succeeded"
    assert [e["to_status"] for e in refunded.json()["events"] if e["kind"] == "status_changed"] == [
        "authorised", "captured", "refunded",
    ]  # fmt: skip


def test_register_errors_are_clear(api: APIClient, web_order: dict[str, Any]) -> None:
    missing = api.post("/api/v1/payments/", {"vendor_tx_code": "X", "transaction_type": "Payment", "amount": "1",
                                             "currency": "GBP"}, format="json")  # fmt: skip
    assert missing.status_code == 400 and "order_id" in missing.json()["extra"]["fields"]
    wrong_currency = api.post(
        "/api/v1/payments/",
        {"order_id": web_order["id"], "vendor_tx_code": "WEB-1001-9", "transaction_type": "Payment", "amount": "1.00",
         "currency": "EUR", "transaction_id": "ABC"},
        format="json",
    )  # fmt: skip
    assert wrong_currency.status_code == 400 and "differs from the order's GBP" in wrong_currency.json()["message"]
    unknown = api.post("/api/v1/payments/", {"order_id": 999999, "vendor_tx_code": "X", "transaction_type": "Payment",
                                             "amount": "1", "currency": "GBP"}, format="json")  # fmt: skip
    assert unknown.status_code == 404


def test_amazon_orders_take_no_opayo_payment(api: APIClient, account: Any, mapped_skus: Any) -> None:
    from tests.orders.test_amazon_ingest import ingest, one

    ingest(account, one())
    from orders.models import Order

    order = Order.objects.get()
    body = {"order_id": order.pk, "vendor_tx_code": "A-1", "transaction_type": "Payment", "amount": "1.00",
            "currency": "GBP", "transaction_id": "X"}  # fmt: skip
    response = api.post("/api/v1/payments/", body, format="json")
    assert response.status_code == 400 and "Amazon collects the payment" in response.json()["message"]


def test_payment_admin_pages(
    admin_client: Any, web_order: dict[str, Any], opayo: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from orders.models import Order

    payment = flows.register(Order.objects.get(pk=web_order["id"]), opayo, django_capture_on_commit_callbacks)
    for url in [
        reverse("admin:payments_payment_changelist"),
        reverse("admin:payments_payment_change", args=[payment.pk]),
        reverse("admin:payments_paymenttransaction_changelist"),
        reverse("admin:payments_opayonotification_changelist"),
        reverse("admin:common_outboundrequest_changelist"),
        reverse("admin:orders_order_change", args=[payment.order_id]),
    ]:
        assert admin_client.get(url).status_code == 200, url
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:payments_payment_changelist"),
            {"action": "capture", "_selected_action": [payment.pk]},
            follow=True,
        )
    assert "capture sent" in response.content.decode()
    payment.refresh_from_db()
    assert payment.status == "captured"


def test_schema_documents_payments(api: APIClient) -> None:
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = ["/api/v1/payments/", "/api/v1/payments/{payment_id}/capture/", "/api/v1/payments/{payment_id}/refunds/",
             "/api/v1/orders/ecommerce/"]  # fmt: skip
    for path in paths:
        assert path in schema["paths"], path
