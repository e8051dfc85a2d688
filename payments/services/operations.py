"""Payment operations: registration of the site's transaction, capture, void/abort, refunds, status polling.

Everything that changes money at Opayo is an OutboundRequest first (idempotency key = the action on our
vendorTxCode), sent by the outbound machinery with retries and backoff; the handlers below do the call and
record the result. A create that may have reached Opayo (timeout, 5xx) is looked up by vendorTxCode in the
Reporting API before anything is sent again.
"""

from __future__ import annotations

import logging
import re
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from config.common.errors import ApplicationError, ConnectorError, RetryableConnectorError
from config.common.models import ExceptionItem, OutboundRequest
from config.common.outbound import outbound_enqueue, register_outbound
from config.common.services import exception_open
from mappings.models import FieldRule
from mappings.selectors import field_rule_render
from orders.models import Order
from payments.clients.opayo import (
    DuplicateVendorTxCode,
    OpayoPiClient,
    OpayoReportingClient,
    OperationNotAllowed,
    TransactionNotFound,
)
from payments.models import VENDOR_TX_CODE_RE, Payment, PaymentTransaction, Refund
from payments.services.ledger import (
    INSTRUCTION_CODES,
    payment_event,
    payment_recompute,
    transaction_apply_report,
    transaction_apply_result,
    vendor_tx_code_for,
)

logger = logging.getLogger(__name__)
ACTOR = "system:opayo"
T = PaymentTransaction.State
_KINDS = {"Payment": PaymentTransaction.Kind.PAYMENT, "Deferred": PaymentTransaction.Kind.DEFERRED}
MAX_POLLS = 30


def _field_context(order: Order, amount: Decimal, kind: str) -> dict[str, Any]:
    return {
        "order_id": order.pk,
        "external_id": order.external_id,
        "channel": order.channel,
        "currency": order.currency,
        "amount": f"{amount}",
        "kind": kind,
        "metadata": order.metadata if isinstance(order.metadata, dict) else {},
    }


# --- registration -----------------------------------------------------------------------------------------


@transaction.atomic
def payment_register(
    *,
    order: Order,
    vendor_tx_code: str,
    transaction_type: str,
    amount: Decimal,
    currency: str,
    actor: str,
    protocol: str = Payment.Protocol.PI,
    transaction_id: str = "",
    security_key: str = "",
) -> PaymentTransaction:
    """Attach the eCommerce site's Opayo transaction to an order. Idempotent on vendorTxCode.

    The site created the transaction with Opayo (cards never reach us); Pi transactions are then read back
    from Opayo to learn their outcome, Server-protocol ones wait for Opayo's notification.
    """
    if order.channel != Order.Channel.ECOMMERCE:
        raise ApplicationError(
            "Amazon collects the payment of Amazon orders; only eCommerce orders take Opayo payments"
        )
    if transaction_type not in _KINDS:
        raise ApplicationError(f"transaction_type must be Payment or Deferred, not {transaction_type!r}")
    if not re.match(VENDOR_TX_CODE_RE, vendor_tx_code):
        raise ApplicationError("vendor_tx_code must be 1-40 letters, digits or . _ - { }")
    if amount <= 0:
        raise ApplicationError("amount must be positive")
    currency = currency.upper()
    if order.currency and currency != order.currency:
        raise ApplicationError(f"currency {currency} differs from the order's {order.currency}")
    if order.total_amount is not None and amount > order.total_amount:
        raise ApplicationError(f"amount {amount} exceeds the order total {order.total_amount}")
    if protocol == Payment.Protocol.PI and not transaction_id:
        raise ApplicationError("a Pi transaction needs its transaction_id")
    if protocol == Payment.Protocol.SERVER and not security_key:
        raise ApplicationError("a Server-protocol transaction needs the SecurityKey Opayo returned at registration")

    existing = PaymentTransaction.objects.filter(vendor_tx_code=vendor_tx_code).select_related("payment").first()
    if existing is not None:
        same = (existing.payment.order_id, existing.amount, existing.currency) == (order.pk, amount, currency)
        if not same:
            raise ApplicationError(f"vendor_tx_code {vendor_tx_code} is already registered for another payment")
        return existing
    payment, _ = Payment.objects.select_for_update().get_or_create(
        order=order, defaults={"currency": currency, "protocol": protocol}
    )
    if payment.currency != currency:
        raise ApplicationError(f"currency {currency} differs from the payment's {payment.currency}")
    live = payment.transactions.exclude(kind=PaymentTransaction.Kind.REFUND).exclude(
        state__in=[T.DECLINED, T.FAILED, T.VOIDED, T.ABORTED]
    )
    if live.exists():
        raise ApplicationError("the order already has a live payment; void or abort it before registering another")
    tx = PaymentTransaction.objects.create(
        payment=payment,
        kind=_KINDS[transaction_type],
        vendor_tx_code=vendor_tx_code,
        transaction_id=transaction_id.strip("{}") or None,
        amount=amount,
        currency=currency,
        security_key=security_key,
        next_poll_at=timezone.now() if protocol == Payment.Protocol.PI else None,
    )
    payment_event(
        payment=payment,
        kind="registered",
        actor=actor,
        message=f"{transaction_type} {vendor_tx_code} for {amount} {currency} ({protocol})",
    )
    payment_recompute(payment_id=payment.pk, actor=actor, reason=f"{transaction_type} registered")
    if protocol == Payment.Protocol.PI:
        pk = tx.pk
        transaction.on_commit(lambda: _async("payments.tasks.payment_transaction_refresh_task", pk))
    return tx


def _async(func: str, *args: Any) -> None:
    from django_q.tasks import async_task

    async_task(func, *args)


# --- reading Opayo's state ------------------------------------------------------------------------------------


def payment_transaction_refresh(*, tx_id: int, actor: str = ACTOR) -> PaymentTransaction:
    """Read one transaction's state from Opayo (Pi GET, or Reporting by vendorTxCode when we have no id)."""
    tx = PaymentTransaction.objects.select_related("payment").get(pk=tx_id)
    try:
        if tx.transaction_id:
            with OpayoPiClient.from_settings() as pi:
                result = pi.get_transaction(transaction_id=tx.transaction_id, currency_hint=tx.currency)
            report = None
        else:
            with OpayoReportingClient.from_settings() as reporting:
                report = reporting.get_transaction_detail(vendor_tx_code=tx.vendor_tx_code)
            result = None
    except (RetryableConnectorError, TransactionNotFound) as exc:
        # Opayo may answer 404 for a while right after 3-D Secure: keep polling, then give up visibly.
        return _poll_failed(tx, exc)
    with transaction.atomic():
        tx = PaymentTransaction.objects.select_for_update().get(pk=tx_id)
        if result is not None:
            changed = transaction_apply_result(tx=tx, result=result)
        elif report is not None:
            changed = transaction_apply_report(tx=tx, report=report)
        else:
            return _poll_failed(tx, None)
        tx.poll_attempts = 0
        tx.save(update_fields=[*changed, "poll_attempts", "updated_at"])
        payment_recompute(payment_id=tx.payment_id, actor=actor, reason=f"Opayo: {tx.opayo_status} {tx.status_detail}")
    return tx


def _poll_failed(tx: PaymentTransaction, exc: ConnectorError | None) -> PaymentTransaction:
    from config.common.outbound import backoff_delay

    attempts = tx.poll_attempts + 1
    reason = str(exc) if exc else "Opayo has no record of it (yet)"
    if attempts >= MAX_POLLS:
        PaymentTransaction.objects.filter(pk=tx.pk).update(poll_attempts=attempts, next_poll_at=None)
        exception_open(
            kind=ExceptionItem.Kind.PAYMENT_PROBLEM,
            source=tx,
            summary=f"Cannot learn the outcome of {tx.vendor_tx_code}: {reason}"[:300],
            detail=f"{reason}\nPolled {attempts} times. Check the transaction in MyOpayo, then reprocess.",
            reference=tx.vendor_tx_code,
        )
    else:
        PaymentTransaction.objects.filter(pk=tx.pk).update(
            poll_attempts=attempts, next_poll_at=timezone.now() + backoff_delay(attempt=attempts)
        )
    tx.refresh_from_db()
    return tx


def payment_transactions_poll_due(*, limit: int = 100) -> int:
    due = PaymentTransaction.objects.filter(
        next_poll_at__lte=timezone.now(), state__in=[T.PENDING, T.UNKNOWN, T.REQUIRES_ACTION]
    ).order_by("next_poll_at")[:limit]
    count = 0
    for pk in list(due.values_list("pk", flat=True)):
        payment_transaction_refresh(tx_id=pk)
        count += 1
    return count


# --- capture, void, abort -----------------------------------------------------------------------------------


def _main_transaction(payment: Payment) -> PaymentTransaction:
    main = payment.transactions.exclude(kind=PaymentTransaction.Kind.REFUND).order_by("-created_at", "-pk").first()
    if main is None:
        raise ApplicationError("the payment has no transaction")
    return main


@transaction.atomic
def payment_capture(*, payment: Payment, actor: str, amount: Decimal | None = None) -> OutboundRequest:
    """Release an authorised Deferred transaction (once, up to its amount). Safe to ask twice."""
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    main = _main_transaction(payment)
    if main.kind != PaymentTransaction.Kind.DEFERRED:
        raise ApplicationError("only a Deferred transaction is captured; a Payment is captured when authorised")
    amount = main.amount if amount is None else amount
    if amount <= 0 or amount > main.amount:
        raise ApplicationError(f"capture amount {amount} must be more than 0 and at most {main.amount} {main.currency}")
    key = f"release:{main.vendor_tx_code}"
    previous = OutboundRequest.objects.filter(idempotency_key=key).first()
    if previous is None and main.state != T.OK:
        raise ApplicationError(f"the deferred transaction is {main.get_state_display().lower()}, not capturable")
    if previous is not None and previous.payload.get("amount") != str(amount):
        raise ApplicationError(
            f"a capture of {previous.payload.get('amount')} was already requested; Opayo releases once"
        )
    request = outbound_enqueue(
        operation="opayo.release",
        provider="opayo",
        idempotency_key=key,
        payload={"transaction": main.pk, "amount": str(amount)},
        target=main,
    )
    if previous is None:
        payment_event(
            payment=payment, kind="capture_requested", actor=actor, message=f"Release {amount} {main.currency}"
        )
    return request


@transaction.atomic
def payment_void(*, payment: Payment, actor: str, reason: str = "") -> OutboundRequest:
    """Cancel before settlement: abort an unreleased Deferred, void anything else captured today."""
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    main = _main_transaction(payment)
    if payment.refunds.exists():
        raise ApplicationError("a refunded payment cannot be voided; refund the rest instead")
    if main.kind == PaymentTransaction.Kind.DEFERRED and main.state == T.OK:
        operation = "abort"
    elif main.state in (T.OK, T.RELEASED):
        operation = "void"
    else:
        raise ApplicationError(f"a {main.get_state_display().lower()} transaction cannot be voided")
    request = outbound_enqueue(
        operation=f"opayo.{operation}",
        provider="opayo",
        idempotency_key=f"{operation}:{main.vendor_tx_code}",
        payload={"transaction": main.pk},
        target=main,
    )
    payment_event(payment=payment, kind=f"{operation}_requested", actor=actor, message=reason or operation)
    return request


@transaction.atomic
def payment_refund(*, payment: Payment, amount: Decimal, reason: str, actor: str) -> Refund:
    """Refund part or all of what was captured; never more than captured minus refunds already made or asked."""
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    main = _main_transaction(payment)
    if not reason.strip():
        raise ApplicationError("a refund needs a reason")
    captured = main.captured_amount
    if captured <= 0:
        raise ApplicationError(f"nothing was captured (payment is {payment.get_status_display().lower()})")
    asked = payment.refunds.exclude(status=Refund.Status.FAILED).aggregate(total=Sum("amount"))["total"] or Decimal(0)
    refundable = captured - asked
    if amount <= 0 or amount > refundable:
        raise ApplicationError(
            f"refund {amount} {payment.currency} must be more than 0 and at most the refundable {refundable}",
            extra={"refundable": str(refundable)},
        )
    n = payment.transactions.filter(kind=PaymentTransaction.Kind.REFUND).count() + 1
    order = payment.order
    context = _field_context(order, amount, "refund")
    tx = PaymentTransaction.objects.create(
        payment=payment,
        parent=main,
        kind=PaymentTransaction.Kind.REFUND,
        vendor_tx_code=vendor_tx_code_for(order=order, letter="R", n=n),
        amount=amount,
        currency=payment.currency,
        description=field_rule_render(
            target=FieldRule.Target.OPAYO_DESCRIPTION, context=context, default="Refund for order {external_id}"
        ),
        settlement_reference_text=field_rule_render(
            target=FieldRule.Target.OPAYO_SETTLEMENT_REFERENCE, context=context, default="{external_id}"
        ),
    )
    refund = Refund.objects.create(
        payment=payment, transaction=tx, amount=amount, currency=payment.currency, reason=reason, requested_by=actor
    )
    outbound_enqueue(
        operation="opayo.refund",
        provider="opayo",
        idempotency_key=f"refund:{tx.vendor_tx_code}",
        payload={"transaction": tx.pk},
        target=refund,
    )
    payment_event(
        payment=payment, kind="refund_requested", actor=actor, message=f"{amount} {payment.currency}: {reason}"
    )
    return refund


# --- outbound handlers ---------------------------------------------------------------------------------------


def _instruction(request: OutboundRequest, instruction_type: str, done_state: str) -> dict[str, Any]:
    tx = PaymentTransaction.objects.get(pk=request.payload["transaction"])
    if tx.state == done_state:
        return {"already": done_state}
    amount = Decimal(request.payload["amount"]) if "amount" in request.payload else None
    assert tx.transaction_id, "registered Pi transactions always have an id"
    with OpayoPiClient.from_settings() as pi:
        try:
            answer = pi.instruction(
                transaction_id=tx.transaction_id, instruction_type=instruction_type, amount=amount, currency=tx.currency
            )
            outcome: dict[str, Any] = {"instructionType": answer.instruction_type, "date": answer.date}
        except OperationNotAllowed:
            # Perhaps our earlier attempt succeeded and only its answer was lost: ask Opayo what is true.
            now = pi.get_transaction(transaction_id=tx.transaction_id, currency_hint=tx.currency)
            if not _matches(now.status_code, done_state):
                raise
            outcome = {"confirmed_by_get": now.status_code}
    with transaction.atomic():
        tx = PaymentTransaction.objects.select_for_update().get(pk=tx.pk)
        tx.state = done_state
        fields = ["state", "updated_at"]
        if amount is not None:
            tx.released_amount = amount
            fields.append("released_amount")
        tx.save(update_fields=fields)
        payment_recompute(payment_id=tx.payment_id, actor=ACTOR, reason=f"Opayo {instruction_type} done", data=outcome)
    return outcome


def _matches(status_code: str, done_state: str) -> bool:
    return INSTRUCTION_CODES.get(status_code) == done_state


@register_outbound("opayo.release")
def _release(request: OutboundRequest) -> dict[str, Any]:
    return _instruction(request, "release", T.RELEASED)


@register_outbound("opayo.void")
def _void(request: OutboundRequest) -> dict[str, Any]:
    return _instruction(request, "void", T.VOIDED)


@register_outbound("opayo.abort")
def _abort(request: OutboundRequest) -> dict[str, Any]:
    return _instruction(request, "abort", T.ABORTED)


@register_outbound("opayo.refund")
def _refund(request: OutboundRequest) -> dict[str, Any]:
    tx = PaymentTransaction.objects.select_related("parent", "payment__order").get(pk=request.payload["transaction"])
    if tx.state in (T.OK, T.DECLINED, T.FAILED):
        return {"already": tx.state}
    if request.attempts > 0 or tx.state == T.UNKNOWN:
        # An earlier attempt may have reached Opayo: never post again before asking.
        found = _lookup(tx)
        if found is not None:
            return found
    PaymentTransaction.objects.filter(pk=tx.pk).update(state=T.UNKNOWN)
    assert tx.parent is not None and tx.parent.transaction_id
    with OpayoPiClient.from_settings() as pi:
        try:
            result = pi.create_transaction(
                transaction_type="Refund",
                vendor_tx_code=tx.vendor_tx_code,
                amount=tx.amount,
                currency=tx.currency,
                description=tx.description or f"Refund {tx.vendor_tx_code}",
                reference_transaction_id=tx.parent.transaction_id,
                settlement_reference_text=tx.settlement_reference_text,
            )
        except DuplicateVendorTxCode:
            found = _lookup(tx)
            if found is None:
                raise RetryableConnectorError(
                    "Opayo says the refund exists but cannot show it yet", provider="opayo", operation="refund"
                ) from None
            return found
        except OperationNotAllowed as exc:
            _refund_failed(tx, str(exc))
            raise
    with transaction.atomic():
        locked = PaymentTransaction.objects.select_for_update().get(pk=tx.pk)
        changed = transaction_apply_result(tx=locked, result=result)
        locked.save(update_fields=[*changed, "updated_at"])
        _refund_settle(locked)
    return {"transactionId": result.transaction_id, "status": result.status, "statusCode": result.status_code}


def _lookup(tx: PaymentTransaction) -> dict[str, Any] | None:
    with OpayoReportingClient.from_settings() as reporting:
        report = reporting.get_transaction_detail(vendor_tx_code=tx.vendor_tx_code)
    if report is None:
        return None
    with transaction.atomic():
        locked = PaymentTransaction.objects.select_for_update().get(pk=tx.pk)
        changed = transaction_apply_report(tx=locked, report=report)
        locked.save(update_fields=[*changed, "updated_at"])
        _refund_settle(locked)
    return {"recovered_from_reporting": report.vps_tx_id, "tx_state_id": report.tx_state_id}


def _refund_settle(tx: PaymentTransaction) -> None:
    """Inside the transaction that recorded the refund's outcome."""
    refund = Refund.objects.select_for_update().get(transaction=tx)
    if tx.state == T.OK:
        refund.status = Refund.Status.SUCCEEDED
    elif tx.state in (T.DECLINED, T.FAILED):
        refund.status, refund.failure = Refund.Status.FAILED, f"{tx.opayo_status} {tx.status_code} {tx.status_detail}"
        exception_open(
            kind=ExceptionItem.Kind.PAYMENT_PROBLEM,
            source=refund,
            summary=f"Refund {tx.vendor_tx_code} of {refund.amount} {refund.currency} was refused by Opayo",
            detail=refund.failure,
            reference=tx.vendor_tx_code,
        )
    refund.save(update_fields=["status", "failure", "updated_at"])
    payment_recompute(payment_id=tx.payment_id, actor=ACTOR, reason=f"Refund {tx.vendor_tx_code}: {tx.state}")


def _refund_failed(tx: PaymentTransaction, message: str) -> None:
    with transaction.atomic():
        PaymentTransaction.objects.filter(pk=tx.pk).update(state=T.FAILED, status_detail=message[:300])
        Refund.objects.filter(transaction=tx).update(status=Refund.Status.FAILED, failure=message)
