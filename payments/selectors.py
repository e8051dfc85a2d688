from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Case, DateTimeField, Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce, Concat
from django.utils import timezone

from config.common.models import OutboundRequest
from payments.models import OpayoBatchTransaction, Payment, PaymentEvent, PaymentTransaction


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
