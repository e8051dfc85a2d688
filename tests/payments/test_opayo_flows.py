"""Payment flows end to end: the real Opayo clients against the Opayo simulator (a real HTTP server)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from django.utils import timezone

from config.common.errors import ApplicationError
from config.common.models import ExceptionItem, OutboundRequest
from config.common.outbound import outbound_sweep
from orders.models import Order
from payments.models import Payment, PaymentTransaction
from payments.services import (
    payment_capture,
    payment_refund,
    payment_register,
    payment_transaction_refresh,
    payment_void,
)
from simulators.common import running_server
from simulators.opayo.app import create_app
from tests.payments.conftest import AMOUNT

VENDOR = {
    "vendor_name": "ledgerline",
    "integration_key": "key-123",
    "integration_password": "pw-456",
    "reporting_user": "reports",
    "reporting_password": "rp-789",
}


@pytest.fixture(scope="module")
def opayo_url() -> Iterator[str]:
    with running_server(create_app()) as url:
        yield url


class Opayo:
    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=30)

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.http.request(method, path, json=body)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def checkout(
        self, vendor_tx_code: str, *, card: str = "approve", kind: str = "Deferred", amount: int = 5997
    ) -> Any:
        return self.control(
            "POST",
            "/_sim/checkout",
            {
                "vendor_name": VENDOR["vendor_name"],
                "transaction_type": kind,
                "amount": amount,
                "currency": "GBP",
                "vendor_tx_code": vendor_tx_code,
                "card": card,
                "description": "Web order",
            },
        )

    def fault(self, **rule: Any) -> None:
        self.control("POST", "/_sim/faults", rule)

    def transaction(self, key: str) -> Any:
        return self.control("GET", f"/_sim/transactions/{key}")

    def pi(self, method: str, path: str, body: dict[str, Any]) -> httpx.Response:
        auth = base64.b64encode(f"{VENDOR['integration_key']}:{VENDOR['integration_password']}".encode()).decode()
        return self.http.request(method, f"/api/v1{path}", json=body, headers={"Authorization": f"Basic {auth}"})


@pytest.fixture
def opayo(opayo_url: str, settings: Any) -> Iterator[Opayo]:
    settings.OPAYO_PI_BASE_URL = f"{opayo_url}/api/v1"
    settings.OPAYO_REPORTING_URL = f"{opayo_url}/access/access.htm"
    settings.OPAYO_VENDOR_NAME = VENDOR["vendor_name"]
    settings.OPAYO_INTEGRATION_KEY = VENDOR["integration_key"]
    settings.OPAYO_INTEGRATION_PASSWORD = VENDOR["integration_password"]
    settings.OPAYO_REPORTING_USER = VENDOR["reporting_user"]
    settings.OPAYO_REPORTING_PASSWORD = VENDOR["reporting_password"]
    sim = Opayo(opayo_url)
    sim.control("POST", "/_sim/reset")
    sim.control("POST", "/_sim/vendors", VENDOR)
    yield sim
    sim.http.close()


@pytest.fixture
def order(web_order: dict[str, Any]) -> Order:
    return Order.objects.get(pk=web_order["id"])


def register(order: Order, opayo: Opayo, capture: Any, *, card: str = "approve", kind: str = "Deferred") -> Payment:
    body = opayo.checkout("WEB-1001-1", card=card, kind=kind)
    with capture(execute=True):
        tx = payment_register(
            order=order, vendor_tx_code="WEB-1001-1", transaction_type=kind, amount=AMOUNT, currency="GBP",
            transaction_id=body["transactionId"], actor="api:shop",
        )  # fmt: skip
    tx.payment.refresh_from_db()
    return tx.payment


def run(capture: Any, fn: Any, **kwargs: Any) -> Any:
    with capture(execute=True):
        return fn(**kwargs)


def test_approved_deferred_then_captured(opayo: Opayo, order: Order, django_capture_on_commit_callbacks: Any) -> None:
    payment = register(order, opayo, django_capture_on_commit_callbacks)
    assert payment.status == "authorised" and payment.amount_authorised == AMOUNT
    order.refresh_from_db()
    assert order.status == "authorised"

    run(django_capture_on_commit_callbacks, payment_capture, payment=payment, actor="user:ops")
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == "captured" and payment.amount_captured == AMOUNT and order.status == "captured"
    assert payment.transactions.get().state == PaymentTransaction.State.RELEASED


def test_double_capture_releases_once(opayo: Opayo, order: Order, django_capture_on_commit_callbacks: Any) -> None:
    payment = register(order, opayo, django_capture_on_commit_callbacks)
    run(django_capture_on_commit_callbacks, payment_capture, payment=payment, actor="user:ops")
    run(django_capture_on_commit_callbacks, payment_capture, payment=payment, actor="user:ops")
    assert OutboundRequest.objects.filter(operation="opayo.release").count() == 1
    calls = opayo.control("GET", "/_sim/calls")
    assert sum(calls.get("instruction", {}).values()) == 1


def test_release_over_the_limit_is_refused(opayo: Opayo, order: Order, django_capture_on_commit_callbacks: Any) -> None:
    payment = register(order, opayo, django_capture_on_commit_callbacks)
    with pytest.raises(ApplicationError, match=r"at most 59\.97"):
        payment_capture(payment=payment, actor="user:ops", amount=Decimal("60.00"))
    # Even if our own check were bypassed, Opayo's 403 1021 ends in the queue, not in a wrong ledger.
    response = opayo.pi("POST", f"/transactions/{payment.transactions.get().transaction_id}/instructions",
                        {"instructionType": "release", "amount": 6000})  # fmt: skip
    assert response.status_code == 403 and response.json()["code"] == "1021"


def test_decline_holds_the_order(opayo: Opayo, order: Order, django_capture_on_commit_callbacks: Any) -> None:
    payment = register(order, opayo, django_capture_on_commit_callbacks, card="decline", kind="Payment")
    order.refresh_from_db()
    assert payment.status == "declined" and order.status == "on_hold" and order.hold_code == "payment"
    tx = payment.transactions.get()
    assert (tx.opayo_status, tx.status_code, tx.bank_response_code) == ("NotAuthed", "2000", "05")


def test_3ds_challenge_then_completed(opayo: Opayo, order: Order, django_capture_on_commit_callbacks: Any) -> None:
    payment = register(order, opayo, django_capture_on_commit_callbacks, card="challenge", kind="Payment")
    order.refresh_from_db()
    assert payment.status == "requires_action" and order.status == "pending_payment"
    tx = payment.transactions.get()
    assert tx.next_poll_at is not None
    # The shopper answers the challenge; the site finishes it with Opayo.
    answer = opayo.http.post(f"/acs/{tx.transaction_id}/answer", json={"answer": "challenge"}).json()
    finished = opayo.pi("POST", f"/transactions/{tx.transaction_id}/3d-secure-challenge", {"cRes": answer["cres"]})
    assert finished.status_code == 201
    payment_transaction_refresh(tx_id=tx.pk)
    payment.refresh_from_db()
    assert payment.status == "captured"


def test_refunds_partial_then_full_never_more(
    opayo: Opayo, order: Order, django_capture_on_commit_callbacks: Any
) -> None:
    payment = register(order, opayo, django_capture_on_commit_callbacks, kind="Payment")
    assert payment.status == "captured"
    run(
        django_capture_on_commit_callbacks,
        payment_refund,
        payment=payment,
        amount=Decimal("9.99"),
        reason="mug broken",
        actor="user:ops",
    )
    payment.refresh_from_db()
    assert payment.status == "partially_refunded" and payment.amount_refunded == Decimal("9.99")
    with pytest.raises(ApplicationError, match=r"refundable 49\.98"):
        payment_refund(payment=payment, amount=Decimal("50.00"), reason="too much", actor="user:ops")
    run(
        django_capture_on_commit_callbacks,
        payment_refund,
        payment=payment,
        amount=Decimal("49.98"),
        reason="rest",
        actor="user:ops",
    )
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == "refunded" and order.status == "refunded"
    refund_tx = payment.transactions.filter(kind="refund").first()
    assert refund_tx is not None and refund_tx.vendor_tx_code == f"LL{order.pk:08d}-R1"
    assert refund_tx.description == "Order WEB-1001 SPRING26"  # the campaign id rides along via the field rule


def test_void_payment_and_abort_deferred(opayo: Opayo, order: Order, django_capture_on_commit_callbacks: Any) -> None:
    payment = register(order, opayo, django_capture_on_commit_callbacks)
    run(django_capture_on_commit_callbacks, payment_void, payment=payment, actor="user:ops")
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == "aborted" and order.status == "cancelled"


def test_void_a_captured_payment(opayo: Opayo, order: Order, django_capture_on_commit_callbacks: Any) -> None:
    payment = register(order, opayo, django_capture_on_commit_callbacks, kind="Payment")
    run(django_capture_on_commit_callbacks, payment_void, payment=payment, actor="user:ops")
    payment.refresh_from_db()
    assert payment.status == "voided" and payment.amount_captured == 0


def test_refund_timeout_after_commit_is_recovered_not_reposted(
    opayo: Opayo, order: Order, django_capture_on_commit_callbacks: Any
) -> None:
    payment = register(order, opayo, django_capture_on_commit_callbacks, kind="Payment")
    opayo.fault(operation="createTransaction", kind="timeout_after_commit", seconds=4, times=1)
    refund = run(
        django_capture_on_commit_callbacks,
        payment_refund,
        payment=payment,
        amount=Decimal("10.00"),
        reason="late",
        actor="user:ops",
    )
    request = OutboundRequest.objects.get(operation="opayo.refund")
    assert request.status == "pending" and request.attempts == 1 and "timed out" in request.last_error
    refund.refresh_from_db()
    assert refund.status == "requested" and refund.transaction.state == "unknown"

    OutboundRequest.objects.filter(pk=request.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert outbound_sweep().succeeded == 1
    refund.refresh_from_db()
    payment.refresh_from_db()
    assert refund.status == "succeeded" and refund.transaction.transaction_id
    assert payment.status == "partially_refunded" and payment.amount_refunded == Decimal("10.00")
    request.refresh_from_db()
    assert request.result is not None and "recovered_from_reporting" in request.result
    # Opayo holds exactly one refund: recovery never re-posted it.
    refunds = [
        t for t in opayo.control("GET", "/_sim/transactions")["transactions"] if t.get("transaction_type") == "Refund"
    ]
    assert len(refunds) == 1


def test_provider_outage_retries_with_backoff(
    opayo: Opayo, order: Order, django_capture_on_commit_callbacks: Any
) -> None:
    payment = register(order, opayo, django_capture_on_commit_callbacks)
    opayo.fault(operation="instruction", kind="error", status=503, times=1)
    run(django_capture_on_commit_callbacks, payment_capture, payment=payment, actor="user:ops")
    request = OutboundRequest.objects.get(operation="opayo.release")
    assert request.status == "pending" and request.next_attempt_at > timezone.now()
    OutboundRequest.objects.filter(pk=request.pk).update(next_attempt_at=timezone.now())
    outbound_sweep()
    payment.refresh_from_db()
    assert payment.status == "captured"


def test_refund_refused_by_opayo_goes_to_the_queue(
    opayo: Opayo, order: Order, django_capture_on_commit_callbacks: Any
) -> None:
    payment = register(order, opayo, django_capture_on_commit_callbacks, kind="Payment")
    # Void at Opayo behind our back: the refund is then not allowed (403 1017).
    opayo.pi(
        "POST", f"/transactions/{payment.transactions.get().transaction_id}/instructions", {"instructionType": "void"}
    )
    run(
        django_capture_on_commit_callbacks,
        payment_refund,
        payment=payment,
        amount=Decimal("5.00"),
        reason="x",
        actor="user:ops",
    )
    assert OutboundRequest.objects.get(operation="opayo.refund").status == "failed"
    assert ExceptionItem.objects.filter(kind="connector_error", status="open").exists()
    assert payment.refunds.get().status == "failed"


def test_a_declined_payment_holds_the_order_until_a_later_payment_succeeds(
    opayo: Opayo, order: Order, django_capture_on_commit_callbacks: Any
) -> None:
    payment = register(order, opayo, django_capture_on_commit_callbacks, card="decline", kind="Payment")
    order.refresh_from_db()
    assert (order.status, order.hold_code) == ("on_hold", "payment")
    held = ExceptionItem.objects.get(kind="order_held", status="open")  # the queue says why it is held
    assert held.reference == order.external_id and "declined" in held.summary
    body = opayo.checkout("WEB-1001-2", card="approve", kind="Payment")  # the shopper pays again
    with django_capture_on_commit_callbacks(execute=True):
        payment_register(
            order=order, vendor_tx_code="WEB-1001-2", transaction_type="Payment", amount=AMOUNT, currency="GBP",
            transaction_id=body["transactionId"], actor="api:shop",
        )  # fmt: skip
    order.refresh_from_db()
    payment.refresh_from_db()
    held.refresh_from_db()
    assert payment.status == "captured" and (order.status, order.hold_code) == ("captured", "")
    assert held.status == "resolved"
