from __future__ import annotations

from django.db.models import Prefetch

from payments.models import Payment, PaymentEvent, PaymentTransaction


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
