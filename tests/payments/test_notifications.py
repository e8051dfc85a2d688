"""Opayo Server-protocol notification POSTs: stored raw, signature checked, applied once, always answered."""

from __future__ import annotations

import threading
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from django.test import Client

from config.common.models import ExceptionItem
from orders.models import Order
from payments.clients.opayo import server_notification_signature
from payments.models import OpayoNotification, Payment, PaymentEvent
from payments.services import payment_register
from tests.payments.conftest import AMOUNT
from tests.wsgi_server import django_server

SECURITY_KEY = "OUWLNYQTVT"
URL = "/webhooks/opayo/server/"


@pytest.fixture
def server_payment(web_order: dict[str, Any], settings: Any) -> Payment:
    settings.OPAYO_VENDOR_NAME = "MyVendor"
    order = Order.objects.get(pk=web_order["id"])
    tx = payment_register(
        order=order,
        vendor_tx_code="WEB-1001-1",
        transaction_type="Payment",
        amount=AMOUNT,
        currency="GBP",
        protocol="server",
        security_key=SECURITY_KEY,
        actor="api:shop",
    )
    return tx.payment


def notification(
    status: str = "OK", vps: str = "{5A1BC414-5409-48DD-9B8B-DCDF096CE0BE}", **extra: str
) -> dict[str, str]:
    fields = {
        "VPSProtocol": "4.00", "TxType": "PAYMENT", "VendorTxCode": "WEB-1001-1", "VPSTxId": vps, "Status": status,
        "StatusDetail": "0000 : The Authorisation was Successful.", "TxAuthNo": "9962", "AVSCV2": "ALL MATCH",
        "AddressResult": "MATCHED", "PostCodeResult": "MATCHED", "CV2Result": "MATCHED", "GiftAid": "0",
        "3DSecureStatus": "OK", "CAVV": "AAABARR5kwAAAAAAAAAAAAAAAAA=", "CardType": "VISA", "Last4Digits": "0006",
        "DeclineCode": "00", "ExpiryDate": "1229", "BankAuthCode": "999777", **extra,
    }  # fmt: skip
    fields["VPSSignature"] = server_notification_signature(fields, vendor_name="MyVendor", security_key=SECURITY_KEY)
    return fields


def post(client: Client, fields: dict[str, str]) -> str:
    response = client.post(URL, data=urlencode(fields), content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def test_ok_notification_captures_and_replies_ok(client: Client, server_payment: Payment) -> None:
    reply = post(client, notification())
    assert reply.startswith("Status=OK\r\nRedirectURL=https://shop.example.com/") and "StatusDetail=" in reply
    server_payment.refresh_from_db()
    assert server_payment.status == "captured" and server_payment.amount_captured == AMOUNT
    assert server_payment.order.status == "captured"
    tx = server_payment.transactions.get()
    assert tx.transaction_id == "5A1BC414-5409-48DD-9B8B-DCDF096CE0BE" and tx.last_four_digits == "0006"
    assert OpayoNotification.objects.get().outcome == "applied"


def test_bad_signature_is_stored_invalid_and_changes_nothing(client: Client, server_payment: Payment) -> None:
    fields = notification()
    fields["VPSSignature"] = "0" * 32
    reply = post(client, fields)
    assert reply.startswith("Status=INVALID") and "VPSSignature" in reply
    note = OpayoNotification.objects.get()
    assert note.outcome == "invalid" and not note.signature_valid and note.body
    server_payment.refresh_from_db()
    assert server_payment.status == "pending" and server_payment.order.status == "pending_payment"


@pytest.mark.parametrize("body", ["", "not a form at all", "VendorTxCode=NOPE&Status=OK&VPSSignature=X"])
def test_garbage_gets_an_answer(client: Client, db: None, body: str) -> None:
    response = client.post(URL, data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200 and response.content.decode().startswith("Status=INVALID")
    assert OpayoNotification.objects.get().outcome == "invalid"


def test_declined_then_abort(client: Client, server_payment: Payment) -> None:
    post(client, notification(status="NOTAUTHED", StatusDetail="2000 : The Authorisation was Declined by the bank."))
    server_payment.refresh_from_db()
    assert server_payment.status == "declined"
    order = server_payment.order
    assert order.status == "on_hold" and order.hold_code == "payment"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_100_concurrent_deliveries_have_one_effect(server_payment: Payment) -> None:
    fields = notification()
    barrier = threading.Barrier(100)
    replies: list[str] = []

    def deliver(base_url: str) -> None:
        with httpx.Client(timeout=60) as http:
            barrier.wait()
            response = http.post(
                f"{base_url}{URL}",
                content=urlencode(fields),
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            replies.append(response.text)

    with django_server(workers=16) as base_url:
        threads = [threading.Thread(target=deliver, args=(base_url,)) for _ in range(100)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(replies) == 100 and all(r.startswith("Status=OK") for r in replies)
    outcomes = sorted(OpayoNotification.objects.values_list("outcome", flat=True))
    assert outcomes.count("applied") == 1 and outcomes.count("duplicate") == 99
    assert PaymentEvent.objects.filter(kind="status_changed", to_status="captured").count() == 1
    assert Payment.objects.get().status == "captured"


def test_a_different_vps_tx_id_is_refused(client: Client, server_payment: Payment) -> None:
    post(client, notification())
    reply = post(client, notification(vps="{" + str(uuid.uuid4()).upper() + "}"))
    assert reply.startswith("Status=OK")  # signed with our key, so accepted; applying it is refused
    last = OpayoNotification.objects.order_by("-pk").first()
    assert last is not None and last.outcome == "invalid" and "VPSTxId" in last.detail
    assert ExceptionItem.objects.filter(kind="payment_problem", reference="WEB-1001-1").exists()
    assert Payment.objects.get().status == "captured"
