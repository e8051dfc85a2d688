"""Demo eCommerce orders paid through the Opayo simulator, one per payment situation an operator meets."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from config.common.models import OutboundRequest
from config.common.outbound import outbound_claim, outbound_send
from mappings.models import SkuMapping
from orders.apis import EcommerceOrderInputSerializer
from orders.models import Order
from orders.services.ecommerce import ecommerce_order_create, ecommerce_submission_store
from payments.models import Payment
from payments.services import (
    opayo_batches_fetch,
    payment_capture,
    payment_refund,
    payment_register,
    payment_transaction_refresh,
    payment_void,
)
from simulators.opayo.control import OpayoSimulatorControl

ACTOR = "demo"
SERVER_ORDER = "WEB-100008"
SERVER_VTC = "WEB-100008-1"
SERVER_SECURITY_KEY = "DEMOKEY123"
# (order number, amount, Pi transaction type or "server", sandbox card, what happens next)
SCENARIOS = [
    ("WEB-100001", "79.98", "Deferred", "approve", "await capture"),
    ("WEB-100002", "149.00", "Deferred", "approve", "capture"),
    ("WEB-100003", "45.50", "Payment", "approve", "partial refund"),
    ("WEB-100004", "19.99", "Payment", "decline", ""),
    ("WEB-100005", "220.00", "Payment", "challenge", ""),
    ("WEB-100006", "64.00", "Deferred", "approve", "abort"),
    ("WEB-100007", "32.49", "Payment", "approve", "full refund"),
    (SERVER_ORDER, "58.00", "server", "", "notification"),
]


def _order(number: str, amount: str) -> Order:
    sku = "TENT-2P-GRN" if SkuMapping.objects.filter(seller_sku="TENT-2P-GRN").exists() else "WEB-ITEM"
    payload: dict[str, Any] = {
        "external_id": number,
        "purchased_at": timezone.now().isoformat(),
        "currency": "GBP",
        "total_amount": amount,
        "lines": [{"sku": sku, "title": "Two-person tent", "quantity": 1, "item_price": amount}],
        "shipping_address": {
            "name": "Sam Jones",
            "line1": "88 Station Road",
            "city": "Leeds",
            "postal_code": "LS1 4AP",
            "country_code": "GB",
        },
        "metadata": {"campaign_id": "WINTER26"},
    }
    submission = ecommerce_submission_store(payload=payload, submitted_by="demo-shop")
    serializer = EcommerceOrderInputSerializer(data=payload)
    serializer.is_valid(raise_exception=True)
    order, _ = ecommerce_order_create(submission=submission, data=serializer.validated_data, actor=ACTOR)
    return order


def load_payments_demo(sim: OpayoSimulatorControl) -> None:
    sim.add_vendor(
        vendor_name=settings.OPAYO_VENDOR_NAME,
        integration_key=settings.OPAYO_INTEGRATION_KEY,
        integration_password=settings.OPAYO_INTEGRATION_PASSWORD,
        reporting_user=settings.OPAYO_REPORTING_USER,
        reporting_password=settings.OPAYO_REPORTING_PASSWORD,
    )
    if Order.objects.filter(channel=Order.Channel.ECOMMERCE, external_id=SCENARIOS[0][0]).exists():
        return  # loaded on an earlier run; the simulator's memory of those transactions is gone, ours is not
    for number, amount, kind, card, then in SCENARIOS:
        order = _order(number, amount)
        if kind == "server":
            payment_register(
                order=order, vendor_tx_code=SERVER_VTC, transaction_type="Payment", amount=Decimal(amount),
                currency="GBP", protocol="server", security_key=SERVER_SECURITY_KEY, actor=ACTOR,
            )  # fmt: skip
            continue
        vendor_tx_code = f"{number}-1"
        body = sim.checkout(
            vendor_name=settings.OPAYO_VENDOR_NAME, amount=int(Decimal(amount) * 100), vendor_tx_code=vendor_tx_code,
            transaction_type=kind, card=card, description=f"Order {number}",
        )  # fmt: skip
        tx = payment_register(
            order=order, vendor_tx_code=vendor_tx_code, transaction_type=kind, amount=Decimal(amount),
            currency="GBP", transaction_id=body["transactionId"], actor=ACTOR,
        )  # fmt: skip
        payment_transaction_refresh(tx_id=tx.pk)
        payment = Payment.objects.get(pk=tx.payment_id)
        if then == "capture":
            payment_capture(payment=payment, actor=ACTOR)
        elif then == "abort":
            payment_void(payment=payment, actor=ACTOR, reason="customer cancelled")
        elif then == "partial refund":
            payment_refund(payment=payment, amount=Decimal("10.00"), reason="late delivery goodwill", actor=ACTOR)
        elif then == "full refund":
            payment_refund(payment=payment, amount=Decimal(amount), reason="returned", actor=ACTOR)
    settle_the_day(sim)


def settle_the_day(sim: OpayoSimulatorControl) -> None:
    """Send the captures, aborts and refunds now (not when the worker starts), close the day in the simulator
    (completed now, so today's batch is listed at once) and fetch the batch: Payments › Opayo batches shows it
    matched line by line to the ledger."""
    pending = OutboundRequest.objects.filter(provider="opayo", status=OutboundRequest.Status.PENDING)
    for pk in list(pending.values_list("pk", flat=True)):
        request = outbound_claim(pk=pk)
        if request is not None:
            outbound_send(request=request)
    sim.close_day(completed=timezone.now().isoformat())
    today = timezone.now().astimezone(ZoneInfo("Europe/London")).date()
    opayo_batches_fetch(start=today - timedelta(days=1), end=today, actor=ACTOR)


def deliver_server_notification(sim: OpayoSimulatorControl, webhook_url: str) -> dict[str, Any]:
    """Opayo posting the Server-protocol outcome of the demo's hosted-page order to our webhook."""
    return sim.server_notify(
        url=webhook_url,
        vendor=settings.OPAYO_VENDOR_NAME,
        security_key=SERVER_SECURITY_KEY,
        fields={"VendorTxCode": SERVER_VTC, "TxType": "PAYMENT", "Status": "OK"},
        times=3,
        concurrency=3,
    )
