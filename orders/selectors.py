from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet

from orders.filters import OrderFilter
from orders.models import Address, Order, OrderEvent, OrderHold


def order_list(*, filters: dict[str, Any] | None = None) -> QuerySet[Order]:
    """Orders matching `filters` (OrderFilter fields), newest purchase first, lines and address prefetched."""
    qs = (
        Order.objects.select_related("seller_account")
        .prefetch_related("lines", Prefetch("addresses", queryset=Address.objects.order_by("kind")))
        .order_by("-purchased_at", "-pk")
    )
    filterset = OrderFilter(filters or {}, queryset=qs)
    if not filterset.is_valid():
        raise ValidationError(filterset.errors.as_data())
    return filterset.qs


def order_get(*, order_id: int) -> Order:
    return (
        Order.objects.select_related("seller_account")
        .prefetch_related(
            "lines", "addresses", Prefetch("events", queryset=OrderEvent.objects.order_by("created_at", "pk"))
        )
        .get(pk=order_id)
    )


def order_open_holds(*, order_id: int) -> dict[str, str]:
    """The holds open on an order (code → reason), whichever the order shows."""
    return dict(OrderHold.objects.filter(order_id=order_id, released_at__isnull=True).values_list("code", "reason"))
