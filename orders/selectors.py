from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, Max, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from config.common.errors import ApplicationError
from orders.filters import OrderFilter
from orders.models import (
    Address,
    AmazonOrderSnapshot,
    NotificationConsumer,
    NotificationSubscription,
    NotificationType,
    Order,
    OrderEvent,
    OrderHold,
    SeenVia,
    SpApiNotification,
)


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


class OrderLookupError(ApplicationError):
    """An order number that names no order, or more than one, in the scope the caller gave (a 400, never a 500)."""


def order_get_by_number(*, number: str, channel: str | None = None, selling_partner_id: str | None = None) -> Order:
    """The order whose channel order number (AmazonOrderId, the site's order number) is `number`. A number is only
    unique within its channel, so the same one can be an Amazon order and an eCommerce order: `channel` and/or
    `selling_partner_id` (the Amazon seller account) narrow the search. None found, or more than one, raises
    OrderLookupError naming the scope searched and the candidates (channel, account, order id)."""
    scope: dict[str, str] = {}
    orders = Order.objects.select_related("seller_account").filter(external_id=number)
    if channel:
        scope["channel"] = str(channel)
        orders = orders.filter(channel=channel)
    if selling_partner_id:
        scope["selling_partner_id"] = selling_partner_id
        orders = orders.filter(seller_account__selling_partner_id=selling_partner_id)
    found = list(orders.order_by("channel", "pk")[:20])
    where = "".join(f", {key} {value!r}" for key, value in scope.items())
    if not found:
        raise OrderLookupError(f"No order with number {number!r}{where}.", extra={"number": number, **scope})
    if len(found) > 1:
        candidates = [
            {
                "channel": order.channel,
                "selling_partner_id": order.seller_account.selling_partner_id if order.seller_account else None,
                "account": order.seller_account.name if order.seller_account else None,
                "order_id": order.pk,
            }
            for order in found
        ]
        named = "; ".join(
            f"{c['channel']}"
            + (f" (account {c['account']}, {c['selling_partner_id']})" if c["account"] else "")
            + f" order id {c['order_id']}"
            for c in candidates
        )
        raise OrderLookupError(
            f"Order number {number!r}{where} names {len(found)} orders: {named}. Give channel or selling_partner_id, "
            "or the order id.",
            extra={"number": number, **scope, "candidates": candidates},
        )
    return found[0]


def order_open_holds(*, order_id: int) -> dict[str, str]:
    """The holds open on an order (code → reason), whichever the order shows."""
    return dict(OrderHold.objects.filter(order_id=order_id, released_at__isnull=True).values_list("code", "reason"))


SHIPPED_STATUSES = (Order.Status.SHIPPED, Order.Status.DELIVERED)


def orders_shipped(
    *,
    seller_account_id: int | None = None,
    shipped_from: datetime | None = None,
    shipped_before: datetime | None = None,
) -> QuerySet[Order]:
    """Amazon orders Ledgerline has as shipped or delivered now, annotated with `shipped_at` (when Ledgerline's own
    history first recorded the order reaching shipped or delivered: its OrderEvent, the date accounting goes by),
    shipped in [shipped_from, shipped_before), oldest shipment first."""
    first_shipped = (
        OrderEvent.objects.filter(
            order=OuterRef("pk"), kind=OrderEvent.Kind.STATUS_CHANGED, to_status__in=SHIPPED_STATUSES
        )
        .order_by("created_at", "pk")
        .values("created_at")[:1]
    )
    qs = Order.objects.filter(channel=Order.Channel.AMAZON, status__in=SHIPPED_STATUSES)
    if seller_account_id is not None:
        qs = qs.filter(seller_account_id=seller_account_id)
    annotated = qs.annotate(shipped_at=Subquery(first_shipped)).filter(shipped_at__isnull=False)
    if shipped_from is not None:
        annotated = annotated.filter(shipped_at__gte=shipped_from)
    if shipped_before is not None:
        annotated = annotated.filter(shipped_at__lt=shipped_before)
    return annotated.order_by("shipped_at", "external_id")


def order_ids_known(*, amazon_order_ids: list[str]) -> set[str]:
    """Which of these Amazon order ids Ledgerline has: as orders, or as raw payloads it could not process yet (those
    are in the exception queue already)."""
    found = Order.objects.filter(channel=Order.Channel.AMAZON, external_id__in=amazon_order_ids)
    raw = AmazonOrderSnapshot.objects.filter(amazon_order_id__in=amazon_order_ids)
    return set(found.values_list("external_id", flat=True)) | set(raw.values_list("amazon_order_id", flat=True))


def orders_purchased_between(
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    channel: str | None = None,
    order_ids: list[int] | None = None,
) -> QuerySet[Order]:
    """Orders bought in [start, end) and/or with these ids, oldest first, without lines (reconciliation's view)."""
    qs = Order.objects.all()
    if start is not None:
        qs = qs.filter(purchased_at__gte=start)
    if end is not None:
        qs = qs.filter(purchased_at__lt=end)
    if order_ids is not None:
        qs = qs.filter(pk__in=order_ids)
    if channel:
        qs = qs.filter(channel=channel)
    return qs.order_by("purchased_at", "pk")


@dataclass(frozen=True)
class ConsumerState:
    name: str
    state: str  # "receiving" | "erring" | "stale" | "stopped"
    last_receive_at: datetime | None
    last_message_at: datetime | None
    consecutive_errors: int
    last_error: str


@dataclass(frozen=True)
class NotificationsHealth:
    """SP-API notifications over the last `hours`: how many, how late (seconds from Amazon's publish time, else the
    event time, to our stored row), the consumers, and orders first seen by polling although the account is
    subscribed to ORDER_CHANGE with no notification ever about them (notifications missed)."""

    enabled: bool
    messages: int
    last_message_at: datetime | None
    lag_median: float | None
    lag_max: float | None
    by_status: dict[str, int]
    consumers: list[ConsumerState]
    first_seen_by_notification: int
    first_seen_by_polling: int
    missed: int

    @property
    def consumer_state(self) -> str:
        states = {c.state for c in self.consumers}
        for state in ("receiving", "erring", "stale"):
            if state in states:
                return state
        return "none" if not self.consumers else "stopped"

    @property
    def missed_rate(self) -> float | None:
        total = self.first_seen_by_notification + self.first_seen_by_polling
        return self.missed / total if total else None


def notifications_health(*, hours: int = 1) -> NotificationsHealth:
    from django.conf import settings

    now = timezone.now()
    since = now - timedelta(hours=hours)
    recent = SpApiNotification.objects.filter(received_at__gte=since)
    lags = sorted(
        (received - sent).total_seconds()
        for received, sent in recent.annotate(sent=Coalesce("publish_time", "event_time"))
        .exclude(sent__isnull=True)
        .values_list("received_at", "sent")
    )
    stale = now - timedelta(seconds=settings.SP_API_NOTIFICATIONS_CONSUMER_STALE_SECONDS)
    consumers = []
    for c in NotificationConsumer.objects.order_by("-last_receive_at")[:10]:
        if c.stopped_at is not None:
            state = "stopped"
        elif c.consecutive_errors:
            state = "erring"
        elif c.last_receive_at is None or c.last_receive_at < stale:
            state = "stale"
        else:
            state = "receiving"
        consumers.append(
            ConsumerState(c.name, state, c.last_receive_at, c.last_message_at, c.consecutive_errors, c.last_error[:200])
        )
    # Orders that changed at Amazon while their account was subscribed to ORDER_CHANGE (history older than the
    # subscription was never going to be notified).
    since_subscribed = NotificationSubscription.objects.filter(
        account_id=OuterRef("account_id"),
        notification_type=NotificationType.ORDER_CHANGE,
        state=NotificationSubscription.State.SUBSCRIBED,
    ).values("subscribed_at")[:1]
    firsts = AmazonOrderSnapshot.objects.filter(created_at__gte=since).filter(
        last_update_date__gte=Subquery(since_subscribed)
    )
    told = SpApiNotification.objects.filter(
        notification_type=NotificationType.ORDER_CHANGE, subject=OuterRef("amazon_order_id")
    )
    counts = firsts.aggregate(
        by_notification=Count("pk", filter=Q(first_seen_via=SeenVia.NOTIFICATION)),
        by_polling=Count("pk", filter=Q(first_seen_via=SeenVia.POLL)),
        missed=Count("pk", filter=Q(Q(first_seen_via=SeenVia.POLL), ~Exists(told))),
    )
    return NotificationsHealth(
        enabled=bool(settings.SP_API_NOTIFICATIONS_QUEUE_URL),
        messages=recent.count(),
        last_message_at=SpApiNotification.objects.aggregate(last=Max("received_at"))["last"],
        lag_median=statistics.median(lags) if lags else None,
        lag_max=lags[-1] if lags else None,
        by_status=dict(recent.values_list("status").annotate(n=Count("pk")).order_by()),
        consumers=consumers,
        first_seen_by_notification=counts["by_notification"],
        first_seen_by_polling=counts["by_polling"],
        missed=counts["missed"],
    )
