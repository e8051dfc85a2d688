"""The payment ledger: Opayo's facts onto PaymentTransaction rows, and the one writer of Payment.status.

Payment.status and its amounts are derived from the ledger (never set by hand), then moved through
PAYMENT_TRANSITIONS with a PaymentEvent, and the order's status is re-derived from the result. A change of status
is also where the fraud review reacts (payments.services.fraud: assess when authorised or captured).
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.common.errors import InvalidTransition
from orders.models import Order
from orders.services import order_status_refresh
from payments.clients.opayo_types import OpayoTransaction, ReportingTransaction
from payments.models import Payment, PaymentEvent, PaymentTransaction
from payments.services.fraud import fraud_payment_outcome

S, T = Payment.Status, PaymentTransaction.State
_RETRYABLE = {S.DECLINED, S.FAILED, S.PENDING, S.REQUIRES_ACTION}  # a new attempt may follow these
PAYMENT_TRANSITIONS: dict[str, set[str]] = {
    S.PENDING: {S.REQUIRES_ACTION, S.AUTHORISED, S.CAPTURED, S.DECLINED, S.FAILED, S.VOIDED, S.ABORTED},
    S.REQUIRES_ACTION: {S.PENDING, S.AUTHORISED, S.CAPTURED, S.DECLINED, S.FAILED},
    S.AUTHORISED: {S.CAPTURED, S.ABORTED, S.VOIDED, S.FAILED},
    S.CAPTURED: {S.PARTIALLY_REFUNDED, S.REFUNDED, S.VOIDED},
    S.PARTIALLY_REFUNDED: {S.REFUNDED},
    S.DECLINED: _RETRYABLE | {S.AUTHORISED, S.CAPTURED},
    S.FAILED: _RETRYABLE | {S.AUTHORISED, S.CAPTURED},
    S.REFUNDED: set(),
    S.VOIDED: set(),
    S.ABORTED: set(),
}
# Pi statusCode of a GET after an instruction (Opayo's legacy code list; configurable in the simulator).
INSTRUCTION_CODES = {"2004": T.RELEASED, "2005": T.VOIDED, "2006": T.ABORTED, "2012": T.ABORTED}
_FINAL_BY_US = {T.RELEASED, T.VOIDED, T.ABORTED}
# Reporting API txstateid → ledger state (lori698/sagepay-reporting-wrapper, Sage Pay FAQ).
_TX_STATES = {1: T.FAILED, 10: T.DECLINED, 12: T.DECLINED, 14: T.OK, 15: T.OK, 16: T.OK, 18: T.VOIDED, 19: T.ABORTED,
              21: T.PENDING, 22: T.ABORTED, 27: T.ABORTED}  # fmt: skip


def vendor_tx_code_for(*, order: Order, letter: str, n: int) -> str:
    """Our own vendorTxCodes encode the order, so Opayo's reports map back to it: LL00000123-R1."""
    return f"{settings.OPAYO_VENDOR_TX_PREFIX}{order.pk:08d}-{letter}{n}"[:40]


def order_id_from_vendor_tx_code(code: str) -> int | None:
    match = re.match(rf"^{re.escape(settings.OPAYO_VENDOR_TX_PREFIX)}(\d+)-", code)
    return int(match.group(1)) if match else None


def state_for_result(tx: PaymentTransaction, result: OpayoTransaction) -> str:
    if result.status == "Ok" or result.status in ("Authenticated", "Registered"):
        by_code = INSTRUCTION_CODES.get(result.status_code)
        if by_code is not None:
            return by_code
        return tx.state if tx.state in _FINAL_BY_US else T.OK
    if result.status in ("NotAuthed", "Rejected"):
        return T.DECLINED
    if result.status == "3DAuth":
        return T.REQUIRES_ACTION
    return T.FAILED  # Malformed, Invalid, Error, or anything Opayo adds later


def transaction_apply_result(*, tx: PaymentTransaction, result: OpayoTransaction) -> list[str]:
    """Record a Pi answer on a locked ledger row (unsaved); returns the changed field names."""
    before = {f: getattr(tx, f) for f in _RESULT_FIELDS}
    tx.state = state_for_result(tx, result)
    tx.transaction_id = tx.transaction_id or result.transaction_id or None
    tx.opayo_status, tx.status_code, tx.status_detail = result.status, result.status_code, result.status_detail[:300]
    for name in ("retrieval_reference", "bank_authorisation_code", "bank_response_code", "card_type",
                 "last_four_digits", "avs_cvc_status", "three_d_secure_status"):  # fmt: skip
        value = getattr(result, name)
        if value:
            setattr(tx, name, value[: tx._meta.get_field(name).max_length])  # type: ignore[union-attr]
    tx.last_response = result.raw
    _schedule_poll(tx)
    return [f for f in _RESULT_FIELDS if getattr(tx, f) != before[f]]


def transaction_apply_report(*, tx: PaymentTransaction, report: ReportingTransaction) -> list[str]:
    """Record what the Reporting API says of a transaction we could not hear back about."""
    before = {f: getattr(tx, f) for f in _RESULT_FIELDS}
    state = _TX_STATES.get(report.tx_state_id or -1)
    if state is None:
        state = T.OK if report.status.upper().startswith(("OK", "SUCCESS", "AUTHORISED")) else T.UNKNOWN
    tx.state = tx.state if tx.state in _FINAL_BY_US else state
    tx.transaction_id = tx.transaction_id or report.vps_tx_id or None
    tx.opayo_status = tx.opayo_status or report.status[:20]
    tx.retrieval_reference = tx.retrieval_reference or report.vps_auth_code[:40]
    tx.bank_authorisation_code = tx.bank_authorisation_code or report.bank_auth_code[:20]
    tx.last_response = {"reporting": report.raw}
    _schedule_poll(tx)
    return [f for f in _RESULT_FIELDS if getattr(tx, f) != before[f]]


_RESULT_FIELDS = [
    "state", "transaction_id", "opayo_status", "status_code", "status_detail", "retrieval_reference",
    "bank_authorisation_code", "bank_response_code", "card_type", "last_four_digits", "avs_cvc_status",
    "three_d_secure_status", "last_response", "next_poll_at",
]  # fmt: skip


def _schedule_poll(tx: PaymentTransaction) -> None:
    if tx.state in (T.PENDING, T.UNKNOWN, T.REQUIRES_ACTION):
        tx.next_poll_at = timezone.now() + timedelta(minutes=settings.OPAYO_POLL_MINUTES)
    else:
        tx.next_poll_at = None


def payment_facts(transactions: list[PaymentTransaction]) -> tuple[str, Decimal, Decimal, Decimal]:
    """(status, authorised, captured, refunded) from the ledger. The latest non-refund row is the payment."""
    attempts = [t for t in transactions if t.kind != PaymentTransaction.Kind.REFUND]
    if not attempts:
        return S.PENDING, Decimal(0), Decimal(0), Decimal(0)
    main = max(attempts, key=lambda t: (t.created_at, t.pk))
    refunded = sum(
        (t.amount for t in transactions if t.kind == PaymentTransaction.Kind.REFUND and t.state == T.OK), Decimal(0)
    )
    captured = main.captured_amount
    authorised = main.amount if main.state in (T.OK, T.RELEASED) else captured
    status = {
        T.PENDING: S.PENDING,
        T.UNKNOWN: S.PENDING,
        T.REQUIRES_ACTION: S.REQUIRES_ACTION,
        T.DECLINED: S.DECLINED,
        T.FAILED: S.FAILED,
        T.VOIDED: S.VOIDED,
        T.ABORTED: S.ABORTED,
        T.RELEASED: S.CAPTURED,
        T.OK: S.AUTHORISED if main.kind == PaymentTransaction.Kind.DEFERRED else S.CAPTURED,
    }[T(main.state)]
    if refunded > 0 and captured > 0:
        status = S.REFUNDED if refunded >= captured else S.PARTIALLY_REFUNDED
    return status, authorised, captured, refunded


def payment_recompute(*, payment_id: int, actor: str, reason: str, data: dict[str, Any] | None = None) -> Payment:
    """Re-derive the payment from its ledger (the only writer of Payment.status), then the order's status."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        status, authorised, captured, refunded = payment_facts(list(payment.transactions.all()))
        before = payment.status
        if status != before and status not in PAYMENT_TRANSITIONS[before]:
            raise InvalidTransition(
                f"Payment of order {payment.order_id} cannot go from {before} to {status}",
                extra={"payment_id": payment.pk},
            )
        payment.status = status
        payment.amount_authorised, payment.amount_captured, payment.amount_refunded = authorised, captured, refunded
        payment.save(update_fields=["status", "amount_authorised", "amount_captured", "amount_refunded", "updated_at"])
        if status != before:
            PaymentEvent.objects.create(
                payment=payment,
                kind="status_changed",
                from_status=before,
                to_status=status,
                actor=actor,
                message=reason,
                data=data or {},
            )
        order = order_status_refresh(order_id=payment.order_id, actor=actor, reason=reason)
        if status != before:
            # Assess when authorised or captured: a high score holds the order, so fulfilment is not asked below.
            fraud_payment_outcome(payment=payment, actor=actor)
            order.refresh_from_db(fields=["status", "hold_code", "hold_reason"])
        if status != before and status == S.CAPTURED and order.status == "captured":
            # Paid: ask for fulfilment (the fulfillment app, by name, so payments does not depend on it).
            order_id = order.pk
            transaction.on_commit(lambda: _async("fulfillment.tasks.fba_fulfillment_request_task", order_id))
    return payment


def _async(func: str, *args: Any) -> None:
    from django_q.tasks import async_task

    async_task(func, *args)


def payment_event(*, payment: Payment, kind: str, actor: str, message: str, data: dict[str, Any] | None = None) -> None:
    PaymentEvent.objects.create(payment=payment, kind=kind, actor=actor[:150], message=message, data=data or {})
