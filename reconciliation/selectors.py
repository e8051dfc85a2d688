"""Reads of reconciliation data. Whether a line is matched is read here, by join, never stored."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from orders.models import Order
from reconciliation.models import Settlement, SettlementLine

ORDER_KINDS = [SettlementLine.Kind.ORDER, SettlementLine.Kind.REFUND]


def _amazon_order() -> QuerySet[Order]:
    return Order.objects.filter(channel=Order.Channel.AMAZON, external_id=OuterRef("amazon_order_id"))


def _our_order() -> QuerySet[Order]:
    # Our own orders (fulfilled by Amazon multi-channel) come back with our order number as merchant-order-id.
    return Order.objects.filter(channel=Order.Channel.ECOMMERCE, external_id=OuterRef("merchant_order_id"))


def settlement_lines_with_orders(*, lines: QuerySet[SettlementLine]) -> QuerySet[SettlementLine]:
    """Lines annotated with `order_pk`: the order a line belongs to, or None."""
    return lines.annotate(
        order_pk=Coalesce(Subquery(_amazon_order().values("pk")[:1]), Subquery(_our_order().values("pk")[:1]))
    )


def settlement_lines_matched_filter(*, matched: bool) -> Q:
    """Order and refund lines whose order Ledgerline has (matched) or has not (an exception)."""
    found = Exists(_amazon_order()) | Exists(_our_order())
    return Q(kind__in=ORDER_KINDS) & (found if matched else ~found)


def settlement_lines_unmatched(*, settlement: Settlement) -> QuerySet[SettlementLine]:
    return settlement.lines.filter(settlement_lines_matched_filter(matched=False))
