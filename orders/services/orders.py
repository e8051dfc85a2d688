"""The order state machine: the only code that writes Order.status, and it always logs an OrderEvent."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from config.common.errors import ApplicationError, InvalidTransition
from orders.models import ORDER_TRANSITIONS, Order, OrderEvent, OrderStatus


def transition_check(*, order: Order, to_status: str) -> None:
    if to_status not in ORDER_TRANSITIONS[order.status]:
        raise InvalidTransition(
            f"Order {order.external_id} cannot go from {order.status} to {to_status}",
            extra={"order_id": order.pk, "from": order.status, "to": to_status},
        )


def order_event(
    *,
    order: Order,
    kind: str,
    actor: str,
    message: str = "",
    from_status: str = "",
    to_status: str = "",
    data: dict[str, Any] | None = None,
) -> OrderEvent:
    """An unsaved event (ingestion bulk-creates them; single-order services save them at once)."""
    return OrderEvent(
        order=order,
        kind=kind,
        actor=actor[:150],
        message=message,
        from_status=from_status,
        to_status=to_status,
        data=data or {},
    )


def apply_status(
    *, order: Order, to_status: str, actor: str, reason: str, hold_code: str = "", hold_reason: str = ""
) -> list[OrderEvent]:
    """Move an order (already locked by the caller) to `to_status` in memory; returns the events to save.

    Holding sets the hold fields; leaving on_hold clears them. Same status is a no-op, so it is safe to
    apply the same facts twice.
    """
    events: list[OrderEvent] = []
    if to_status == OrderStatus.ON_HOLD:
        if not hold_code or not hold_reason:
            raise ApplicationError("Putting an order on hold needs a hold code and a reason")
        if order.status == OrderStatus.ON_HOLD and (order.hold_code, order.hold_reason) == (
            hold_code,
            hold_reason,
        ):
            return events
        if order.status != OrderStatus.ON_HOLD:
            transition_check(order=order, to_status=to_status)
        events.append(
            order_event(
                order=order,
                kind=OrderEvent.Kind.HELD,
                actor=actor,
                message=hold_reason,
                from_status=order.status,
                to_status=to_status,
                data={"hold_code": hold_code},
            )
        )
        order.status, order.hold_code, order.hold_reason = to_status, hold_code, hold_reason
        return events
    if order.status == to_status:
        return events
    transition_check(order=order, to_status=to_status)
    released = order.status == OrderStatus.ON_HOLD
    events.append(
        order_event(
            order=order,
            kind=OrderEvent.Kind.RELEASED if released else OrderEvent.Kind.STATUS_CHANGED,
            actor=actor,
            message=reason,
            from_status=order.status,
            to_status=to_status,
            data={"released_hold": order.hold_code} if released else {},
        )
    )
    order.status, order.hold_code, order.hold_reason = to_status, "", ""
    return events


@transaction.atomic
def order_transition(
    *,
    order_id: int,
    to_status: str,
    actor: str,
    reason: str = "",
    hold_code: str = "",
    hold_reason: str = "",
) -> Order:
    """Lock the order, check the move against ORDER_TRANSITIONS, write it and its event. Idempotent."""
    order = Order.objects.select_for_update().get(pk=order_id)
    events = apply_status(
        order=order,
        to_status=to_status,
        actor=actor,
        reason=reason,
        hold_code=hold_code,
        hold_reason=hold_reason,
    )
    if events:
        order.save(update_fields=["status", "hold_code", "hold_reason", "updated_at"])
        OrderEvent.objects.bulk_create(events)
    return order


def order_hold(*, order_id: int, reason: str, actor: str) -> Order:
    return order_hold_set(order_id=order_id, code=Order.HoldCode.MANUAL, reason=reason, actor=actor)


def _mapped(source: str, fact: str) -> str:
    from mappings.models import StatusMapping
    from mappings.selectors import status_map_get

    mapped = status_map_get(source=source).get(fact)
    if mapped is None:
        raise ApplicationError(f"{StatusMapping.Source(source).label} {fact!r} has no status mapping")
    return mapped


# Order of progress; refunds and cancellation are handled before this ranking applies.
_PROGRESS = [
    OrderStatus.PENDING_PAYMENT, OrderStatus.AUTHORISED, OrderStatus.CAPTURED, OrderStatus.FULFILMENT_REQUESTED,
    OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED, OrderStatus.DELIVERED,
]  # fmt: skip


def _shipping_fact(order: Order) -> tuple[str | None, str]:
    """What fulfilment says: an FBA order's mapped status, else the ERP's shipped quantities."""
    from mappings.models import StatusMapping

    fulfillment = getattr(order, "fulfillment_order", None)  # reverse one-to-one: absent raises AttributeError
    if fulfillment is not None:
        return _mapped(StatusMapping.Source.FBA_FULFILLMENT, fulfillment.status), fulfillment.status
    shipped = 0
    for shipment in order.shipments.filter(status="shipped").prefetch_related("lines"):
        shipped += sum(line.quantity for line in shipment.lines.all())
    if not shipped:
        return None, ""
    ordered = sum(order.lines.values_list("quantity_ordered", flat=True))
    return (
        OrderStatus.SHIPPED if shipped >= ordered else OrderStatus.PARTIALLY_SHIPPED
    ), f"{shipped}/{ordered} shipped"


def order_facts_status(*, order: Order) -> tuple[str, str, str]:
    """(status, hold code, hold reason) that the facts give, through the editable status maps.

    Amazon orders: Amazon's OrderStatus, or the ERP's shipments when further along. eCommerce orders: the
    payment's status and the fulfilment's, combined:
    a hold from either wins, then a full refund, then cancellation, then a partial refund, then whichever of
    the two is further along. Operator and unknown-SKU holds are not facts; callers keep them.
    """
    from mappings.models import StatusMapping

    if order.channel == Order.Channel.AMAZON:
        mapped = _mapped(StatusMapping.Source.AMAZON_ORDER, order.source_status)
        if mapped == OrderStatus.ON_HOLD:
            return mapped, Order.HoldCode.CHANNEL_STATUS, f"Amazon reports the order as {order.source_status}."
        # A merchant-fulfilled order the ERP has shipped is shipped now, not when Amazon next reports it.
        shipped, _ = _shipping_fact(order) if order.pk and mapped in _PROGRESS else (None, "")
        if shipped is not None and _PROGRESS.index(OrderStatus(shipped)) > _PROGRESS.index(OrderStatus(mapped)):
            return shipped, "", ""
        return mapped, "", ""
    payment = getattr(order, "payment", None) if order.pk else None
    payment_fact = payment.status if payment is not None else "pending"
    paid = _mapped(StatusMapping.Source.PAYMENT, payment_fact)
    shipping, shipping_fact = _shipping_fact(order) if order.pk else (None, "")
    if paid == OrderStatus.ON_HOLD:
        return (
            paid,
            Order.HoldCode.PAYMENT,
            f"Payment {payment_fact}: the customer must pay again or the order be cancelled.",
        )
    if shipping == OrderStatus.ON_HOLD:
        return shipping, Order.HoldCode.FULFILLMENT, f"Amazon fulfilment reports {shipping_fact}: review the order."
    facts = {paid, shipping}
    for decisive in (OrderStatus.REFUNDED, OrderStatus.CANCELLED, OrderStatus.PARTIALLY_REFUNDED):
        if decisive in facts:
            return decisive, "", ""
    return max((f for f in facts if f in _PROGRESS), key=lambda f: _PROGRESS.index(OrderStatus(f))), "", ""


# Holds that no fact clears: an operator's, and data problems only a fix and a reprocess clear.
_STICKY_HOLDS = {
    Order.HoldCode.MANUAL, Order.HoldCode.UNKNOWN_SKU, Order.HoldCode.FULFILLMENT_DATA, Order.HoldCode.ERP_DATA,
    Order.HoldCode.FRAUD_REVIEW,
}  # fmt: skip


def order_hold_set(*, order_id: int, code: str, reason: str, actor: str) -> Order:
    """Put an order on hold for `code` (an existing operator hold is kept: it is the stronger one)."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.hold_code == Order.HoldCode.MANUAL and code != Order.HoldCode.MANUAL:
            return order
        events = apply_status(
            order=order, to_status=OrderStatus.ON_HOLD, actor=actor, reason=reason, hold_code=code, hold_reason=reason
        )
        if events:
            order.save(update_fields=["status", "hold_code", "hold_reason", "updated_at"])
            OrderEvent.objects.bulk_create(events)
        return order


def order_hold_clear(*, order_id: int, code: str, actor: str, reason: str) -> Order:
    """Lift a hold of kind `code` (its cause is fixed); the facts decide the status again."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.hold_code != code:
            return order
        target, fact_code, why = order_facts_status(order=order)
        events = apply_status(
            order=order, to_status=target, actor=actor, reason=reason, hold_code=fact_code, hold_reason=why
        )
        order.save(update_fields=["status", "hold_code", "hold_reason", "updated_at"])
        OrderEvent.objects.bulk_create(events)
        return order


def order_status_refresh(*, order_id: int, actor: str, reason: str) -> Order:
    """Re-derive the order's status from today's facts and apply it. Safe to call any number of times."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.hold_code in _STICKY_HOLDS:
            return order
        target, code, why = order_facts_status(order=order)
        events = apply_status(
            order=order, to_status=target, actor=actor, reason=reason, hold_code=code, hold_reason=why
        )
        if events:
            order.save(update_fields=["status", "hold_code", "hold_reason", "updated_at"])
            OrderEvent.objects.bulk_create(events)
        return order


def order_release(*, order_id: int, actor: str, reason: str) -> Order:
    """Release an operator's hold; automatic holds clear themselves when their cause is fixed and reprocessed."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status != OrderStatus.ON_HOLD:
            return order
        if order.hold_code != Order.HoldCode.MANUAL:
            raise ApplicationError(
                f"{order.get_hold_code_display()} holds are lifted by fixing the cause and reprocessing"
            )
        target, _, why = order_facts_status(order=order)
        if target == OrderStatus.ON_HOLD:
            raise ApplicationError(f"The facts themselves call for review ({why}); the order stays on hold")
        events = apply_status(order=order, to_status=target, actor=actor, reason=reason or "released")
        order.save(update_fields=["status", "hold_code", "hold_reason", "updated_at"])
        OrderEvent.objects.bulk_create(events)
        return order
