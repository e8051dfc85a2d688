"""Reads of fulfilment data for other apps (the order status facts) and the APIs."""

from __future__ import annotations

from typing import Any

from django.db.models import Sum

from fulfillment.models import FulfillmentOrder, Shipment, ShipmentLine
from orders.facts import register_order_facts


def shipped_quantities(*, order_ids: list[int]) -> dict[int, dict[int, int]]:
    """order id → order line id → quantity in shipments that left (ERP or FBA)."""
    rows = (
        ShipmentLine.objects.filter(shipment__order_id__in=order_ids, shipment__status=Shipment.Status.SHIPPED)
        .values("shipment__order_id", "order_line_id")
        .annotate(total=Sum("quantity"))
        .values_list("shipment__order_id", "order_line_id", "total")
    )
    result: dict[int, dict[int, int]] = {}
    for order_id, line_id, total in rows:
        result.setdefault(order_id, {})[line_id] = int(total or 0)
    return result


@register_order_facts("fulfilment")
def fulfillment_order_facts(order_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Per order: the FBA fulfilment order's status (raw, mapped by the orders app) and the quantity our own
    shipments have sent (each line counted up to what was ordered is the orders app's business)."""
    facts: dict[int, dict[str, Any]] = {}
    for order_id, status in FulfillmentOrder.objects.filter(order_id__in=order_ids).values_list("order_id", "status"):
        facts.setdefault(order_id, {})["fulfilment_status_raw"] = status
    for order_id, lines in shipped_quantities(order_ids=order_ids).items():
        facts.setdefault(order_id, {})["quantity_shipped"] = sum(lines.values())
    return facts
