from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Case, DateTimeField, Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce, Concat
from django.utils import timezone

from config.common.models import OutboundRequest
from orders.facts import register_order_facts
from orders.models import Order
from payments.models import (
    FraudAssessment,
    OpayoBatchTotal,
    OpayoBatchTransaction,
    Payment,
    PaymentEvent,
    PaymentTransaction,
)


def payment_get(*, payment_id: int) -> Payment:
    return (
        Payment.objects.select_related("order")
        .prefetch_related(
            Prefetch("transactions", queryset=PaymentTransaction.objects.order_by("created_at", "pk")),
            "refunds",
            Prefetch("events", queryset=PaymentEvent.objects.order_by("created_at", "pk")),
        )
        .get(pk=payment_id)
    )


def payment_transaction_captured_at() -> Case:
    """When a transaction's money was taken: creation for payments, repeats and refunds (they are Ok when
    created), the successful release for a Deferred (the row's last change when no release of ours is on record)."""
    release_done = OutboundRequest.objects.filter(
        idempotency_key=Concat(Value("release:"), OuterRef("vendor_tx_code")),
        status=OutboundRequest.Status.SUCCEEDED,
    ).values("completed_at")[:1]
    return Case(
        When(kind=PaymentTransaction.Kind.DEFERRED, then=Coalesce(Subquery(release_done), F("updated_at"))),
        default=F("created_at"),
        output_field=DateTimeField(),
    )


# Transactions that move money and so must reach an Opayo settlement batch.
SETTLEABLE = Q(
    kind__in=[PaymentTransaction.Kind.PAYMENT, PaymentTransaction.Kind.REPEAT, PaymentTransaction.Kind.REFUND],
    state=PaymentTransaction.State.OK,
) | Q(kind=PaymentTransaction.Kind.DEFERRED, state=PaymentTransaction.State.RELEASED)


def payment_transactions_unsettled(
    *, days: int, lookback_days: int, now: datetime | None = None
) -> QuerySet[PaymentTransaction]:
    """Captured between `lookback_days` and `days` days ago and in no Opayo batch line at all (annotated with
    `captured_at`)."""
    now = now or timezone.now()
    in_a_batch = OpayoBatchTransaction.objects.filter(payment_transaction=OuterRef("pk"))
    return (
        PaymentTransaction.objects.filter(SETTLEABLE)
        .annotate(captured_at=payment_transaction_captured_at())
        .filter(captured_at__lte=now - timedelta(days=days), captured_at__gte=now - timedelta(days=lookback_days))
        .filter(~Exists(in_a_batch))
        .select_related("payment__order")
        .order_by("captured_at", "pk")
    )


# --- fraud review ---------------------------------------------------------------------------------------------


def fraud_recent_orders_count(
    *, card_fingerprint: str = "", email_fingerprint: str = "", since: datetime, exclude_order_id: int
) -> int:
    """Other orders assessed since `since` that were paid with the same card (or by the same email)."""
    if bool(card_fingerprint) == bool(email_fingerprint):
        raise ValueError("give exactly one of card_fingerprint and email_fingerprint")
    match = {"card_fingerprint": card_fingerprint} if card_fingerprint else {"email_fingerprint": email_fingerprint}
    return FraudAssessment.objects.filter(**match, created_at__gte=since).exclude(order_id=exclude_order_id).count()


def fraud_usual_order_amounts(
    *, currency: str, since: datetime, exclude_order_id: int, limit: int = 1000
) -> list[Decimal]:
    """The totals of the shop's recent eCommerce orders in `currency` (newest first), to tell what is usual."""
    totals = (
        Order.objects.filter(
            channel=Order.Channel.ECOMMERCE, currency=currency, purchased_at__gte=since, total_amount__isnull=False
        )
        .exclude(pk=exclude_order_id)
        .order_by("-purchased_at")
        .values_list("total_amount", flat=True)[:limit]
    )
    return [t for t in totals if t is not None]


def fraud_review_pending(*, order_id: int) -> bool:
    """True while the order's payment waits for an operator's fraud decision, or was rejected."""
    return FraudAssessment.objects.filter(
        order_id=order_id, decision__in=[FraudAssessment.Decision.REVIEW, FraudAssessment.Decision.REJECTED]
    ).exists()


@register_order_facts("payment")
def payment_order_facts(order_ids: list[int]) -> dict[int, dict[str, str]]:
    """The payment ledger's status per order (raw; the orders app maps it through the payment status map)."""
    rows = Payment.objects.filter(order_id__in=order_ids).values_list("order_id", "status")
    return {order_id: {"payment_status_raw": status} for order_id, status in rows}


# --- settlement batches (read by reconciliation's bank matching and three-way view) ----------------------------


def opayo_batch_totals_between(*, currency: str, start: date, end: date) -> QuerySet[OpayoBatchTotal]:
    """Per-currency totals of the batches that settle from `start` to `end` (UK days), with their batch."""
    return (
        OpayoBatchTotal.objects.filter(currency=currency, batch__batch_date__gte=start, batch__batch_date__lte=end)
        .select_related("batch")
        .order_by("batch__batch_date", "batch__batch_id")
    )


def opayo_batch_lines_for_orders(*, order_ids: list[int]) -> QuerySet[OpayoBatchTransaction]:
    """Batch lines matched (or compared) to the transactions of these orders' payments, with batch and order."""
    return (
        OpayoBatchTransaction.objects.filter(payment_transaction__payment__order_id__in=order_ids)
        .select_related("batch", "payment_transaction__payment")
        .order_by("batch__batch_date", "pk")
    )


def payment_transactions_for_orders(*, order_ids: list[int]) -> QuerySet[PaymentTransaction]:
    """The money-moving transactions (captured payments, released deferreds, refunds) of these orders' payments."""
    return (
        PaymentTransaction.objects.filter(SETTLEABLE, payment__order_id__in=order_ids)
        .annotate(captured_at=payment_transaction_captured_at())
        .select_related("payment")
        .order_by("payment__order_id", "pk")
    )


def opayo_batch_totals_for_batches(*, batch_ids: set[int]) -> QuerySet[OpayoBatchTotal]:
    return OpayoBatchTotal.objects.filter(batch_id__in=batch_ids).select_related("batch")
