"""The one writer of Order.status: derive from the facts (orders.facts), lock in id order, save once, one event per
change. Every path goes through here: Amazon pages (in bulk), eCommerce orders, payments, fulfilment, the ERP and
operators. Holds are opened and released here too; each has its lifetime in orders.facts.HOLD_KINDS.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from config.common.db import bulk_update_rows
from config.common.errors import ApplicationError
from config.common.models import ExceptionItem
from config.common.services import (
    exception_close,
    exception_open,
    exceptions_resolve_for,
    register_exception_closed,
    register_exception_closing,
)
from mappings.models import StatusMapping
from orders.facts import HOLDS, STORED_HOLDS, Derived, OrderFacts, order_facts_provided, order_status_derive
from orders.models import ORDER_TRANSITIONS, Order, OrderEvent, OrderHold, OrderLine, OrderStatus

logger = logging.getLogger(__name__)
ACTOR = "system:orders"
STATUS_FIELDS = ["status", "hold_code", "hold_reason", "channel_lag_since"]
_SOURCES = {
    "channel": StatusMapping.Source.AMAZON_ORDER,
    "payment": StatusMapping.Source.PAYMENT,
    "fulfilment": StatusMapping.Source.FBA_FULFILLMENT,
}


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
    """An unsaved event (the writer bulk-creates them)."""
    return OrderEvent(
        order=order,
        kind=kind,
        actor=actor[:150],
        message=message,
        from_status=from_status,
        to_status=to_status,
        data=data or {},
    )


# --- Facts ---------------------------------------------------------------------------------------------------


def _status_maps() -> dict[str, dict[str, str]]:
    rows = StatusMapping.objects.filter(source__in=_SOURCES.values()).values_list(
        "source", "source_status", "canonical_status"
    )
    maps: dict[str, dict[str, str]] = {source: {} for source in _SOURCES.values()}
    for source, raw, canonical in rows:
        maps[source][raw] = canonical
    return maps


def _mapped(maps: Mapping[str, Mapping[str, str]], name: str, raw: str) -> str | None:
    if not raw:
        return None
    source = _SOURCES[name]
    mapped = maps[source].get(raw)
    if mapped is None:
        raise ApplicationError(
            f"{StatusMapping.Source(source).label} {raw!r} has no status mapping: add it under Mappings › Status "
            "mappings, then reprocess"
        )
    return mapped


def order_facts_get(*, orders: Sequence[Order]) -> list[OrderFacts]:
    """Each order's facts (in the order given), in a few queries for all of them."""
    ids = [o.pk for o in orders if o.pk is not None]
    provided = order_facts_provided(ids)
    maps = _status_maps()
    ordered = dict(
        OrderLine.objects.filter(order_id__in=ids)
        .values("order_id")
        .annotate(total=Sum("quantity_ordered"))
        .values_list("order_id", "total")
    )
    stored: dict[int, dict[str, str]] = {}
    for order_id, code, reason in OrderHold.objects.filter(order_id__in=ids, released_at__isnull=True).values_list(
        "order_id", "code", "reason"
    ):
        stored.setdefault(order_id, {})[code] = reason
    result: list[OrderFacts] = []
    for order in orders:
        given = provided.get(order.pk, {})
        payment_raw = given.get("payment_status_raw", "")
        if order.channel == Order.Channel.ECOMMERCE and not payment_raw:
            payment_raw = "pending"  # nothing registered yet: the site has not paid
        fulfilment_raw = given.get("fulfilment_status_raw", "")
        channel_raw = order.source_status if order.channel == Order.Channel.AMAZON else ""
        result.append(
            OrderFacts(
                channel=order.channel,
                recorded_status=order.status,
                channel_status=_mapped(maps, "channel", channel_raw),
                channel_status_raw=channel_raw,
                payment_status=_mapped(maps, "payment", payment_raw),
                payment_status_raw=payment_raw,
                fulfilment_status=_mapped(maps, "fulfilment", fulfilment_raw),
                fulfilment_status_raw=fulfilment_raw,
                quantity_ordered=int(ordered.get(order.pk, 0) or 0),
                quantity_shipped=int(given.get("quantity_shipped", 0) or 0),
                holds=stored.get(order.pk, {}),
            )
        )
    return result


# --- Projection ----------------------------------------------------------------------------------------------


@dataclass
class Projection:
    """What applying the facts did to a set of locked orders (in memory; the caller saves `changed`)."""

    events: list[OrderEvent] = field(default_factory=list)
    changed: list[Order] = field(default_factory=list)
    ended_holds: list[tuple[Order, str]] = field(default_factory=list)
    held_by_facts: list[Order] = field(default_factory=list)  # newly held by a derived hold (payment, FBA, Amazon)
    unheld_by_facts: list[Order] = field(default_factory=list)
    lag_over: list[Order] = field(default_factory=list)


def _apply(order: Order, derived: Derived, *, actor: str, reason: str, now: Any, out: Projection) -> None:
    before = (order.status, order.hold_code, order.hold_reason, order.channel_lag_since)
    was_derived_hold = order.hold_code and not HOLDS[order.hold_code].stored
    if derived.contradiction:
        out.events.append(
            order_event(
                order=order,
                kind=OrderEvent.Kind.CONTRADICTION,
                actor=actor,
                message=f"{derived.contradiction}: recorded, not applied.",
            )
        )
    if derived.lag and order.channel_lag_since is None:
        order.channel_lag_since = now
        out.events.append(order_event(order=order, kind=OrderEvent.Kind.LAGGING, actor=actor, message=derived.lag))
    elif not derived.lag and order.channel_lag_since is not None:
        order.channel_lag_since = None
        out.lag_over.append(order)
        out.events.append(
            order_event(
                order=order,
                kind=OrderEvent.Kind.NOTE,
                actor=actor,
                message=f"Amazon caught up: it reports {order.source_status}.",
            )
        )
    target = derived.status
    if target == OrderStatus.ON_HOLD:
        if (order.status, order.hold_code, order.hold_reason) != (target, derived.hold_code, derived.hold_reason):
            if order.status != OrderStatus.ON_HOLD and target not in ORDER_TRANSITIONS[order.status]:
                out.events.append(_refused(order, target, actor))
            else:
                if order.hold_code != derived.hold_code:
                    out.events.append(
                        order_event(
                            order=order,
                            kind=OrderEvent.Kind.HELD,
                            actor=actor,
                            message=derived.hold_reason,
                            from_status=order.status,
                            to_status=target,
                            data={"hold_code": derived.hold_code, "reason": reason},
                        )
                    )
                order.status, order.hold_code, order.hold_reason = target, derived.hold_code, derived.hold_reason
    elif order.status != target:
        if target not in ORDER_TRANSITIONS[order.status]:
            out.events.append(_refused(order, target, actor))
        else:
            released = order.status == OrderStatus.ON_HOLD
            out.events.append(
                order_event(
                    order=order,
                    kind=OrderEvent.Kind.RELEASED if released else OrderEvent.Kind.STATUS_CHANGED,
                    actor=actor,
                    message=reason,
                    from_status=order.status,
                    to_status=target,
                    data={"released_hold": order.hold_code} if released else {},
                )
            )
            order.status, order.hold_code, order.hold_reason = target, "", ""
    out.ended_holds.extend((order, code) for code in derived.ends_holds)
    is_derived_hold = order.hold_code and not HOLDS[order.hold_code].stored
    if is_derived_hold and (not was_derived_hold or before[1] != order.hold_code):
        out.held_by_facts.append(order)
    if was_derived_hold and order.hold_code != before[1]:
        out.unheld_by_facts.append(order)
    if (order.status, order.hold_code, order.hold_reason, order.channel_lag_since) != before:
        out.changed.append(order)


def _refused(order: Order, target: str, actor: str) -> OrderEvent:
    return order_event(
        order=order,
        kind=OrderEvent.Kind.CONTRADICTION,
        actor=actor,
        message=f"The facts now say {target}, but an order never goes from {order.status} to {target}: it stays "
        f"{order.status}.",
        from_status=order.status,
        to_status=target,
    )


def order_statuses_project(
    *, orders: Sequence[Order], actor: str, reason: str, reasons: Mapping[int, str] | None = None
) -> Projection:
    """Derive and apply (in memory) for orders the caller has locked in this transaction; `reasons` words an
    order's change more precisely than `reason`. The caller saves `changed` (STATUS_FIELDS) and the events, then
    calls `order_projection_settle`."""
    out = Projection()
    if not orders:
        return out  # (a page of new orders: nothing to look up)
    facts = order_facts_get(orders=orders)
    now = timezone.now()
    for order, order_facts in zip(orders, facts, strict=True):
        why = (reasons or {}).get(order.pk, reason)
        _apply(order, order_status_derive(order_facts), actor=actor, reason=why, now=now, out=out)
    return out


def order_projection_settle(*, projection: Projection, actor: str) -> None:
    """The exception queue follows the orders: moot holds closed with their exceptions; a hold the facts call for
    has its exception while it lasts; a channel lag that ended closes its exception."""
    for order, code in projection.ended_holds:
        _holds_close(order_ids=[order.pk], code=code, actor=actor, note=f"the order is {order.status}")
    for order in projection.held_by_facts:
        exception_open(
            kind=ExceptionItem.Kind.ORDER_HELD,
            source=order,
            summary=f"Order {order.external_id} on hold: {order.hold_reason}"[:300],
            detail=f"{order.hold_reason}\nThe hold ends by itself when the provider's status changes "
            f"({HOLDS[order.hold_code].lifetime.value}).",
            reference=order.external_id,
        )
    for order in projection.unheld_by_facts:
        if not (order.hold_code and not HOLDS[order.hold_code].stored):
            exceptions_resolve_for(
                source=order, kinds=[ExceptionItem.Kind.ORDER_HELD], actor=actor, note=f"now {order.status}"
            )
    for order in projection.lag_over:
        exceptions_resolve_for(
            source=order, kinds=[ExceptionItem.Kind.CHANNEL_LAG], actor=actor, note="the channel caught up"
        )


def order_status_sync(*, order_ids: Iterable[int], actor: str, reason: str) -> list[Order]:
    """THE writer: lock the orders in id order, derive each from its facts, save once, one event per change.
    Safe to call any number of times (the same facts change nothing)."""
    ids = sorted(set(order_ids))
    if not ids:
        return []
    with transaction.atomic():
        orders = list(Order.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
        projection = order_statuses_project(orders=orders, actor=actor, reason=reason)
        bulk_update_rows(projection.changed, STATUS_FIELDS)
        OrderEvent.objects.bulk_create(projection.events)
        order_projection_settle(projection=projection, actor=actor)
    return orders


def order_status_refresh(*, order_id: int, actor: str, reason: str) -> Order:
    """One order's status from today's facts (a payment or a shipment changed)."""
    return order_status_sync(order_ids=[order_id], actor=actor, reason=reason)[0]


# --- Holds ---------------------------------------------------------------------------------------------------


def _check_stored(code: str) -> None:
    if code not in STORED_HOLDS:
        raise ApplicationError(f"{Order.HoldCode(code).label} holds come from the facts, not from a service")


def order_hold_open(
    *, order_id: int, code: str, reason: str, actor: str, exception: ExceptionItem | None = None
) -> Order:
    """Open a hold (or refresh its reason and exception); the order shows it unless a stronger one is open."""
    _check_stored(code)
    if not reason:
        raise ApplicationError("A hold needs a reason")
    with transaction.atomic():
        Order.objects.select_for_update().filter(pk=order_id).first()  # lock before the hold rows, as the writer
        order_holds_sync(code=code, wanted={order_id: reason}, actor=actor)
        if exception is not None:
            OrderHold.objects.filter(order_id=order_id, code=code, released_at__isnull=True).update(exception=exception)
        return order_status_sync(order_ids=[order_id], actor=actor, reason=reason)[0]


def order_hold_release(*, order_id: int, code: str, actor: str, note: str) -> Order:
    """Release an open hold of kind `code` (its cause is gone) and close its exception; the facts decide the rest.
    No such hold open: nothing changes (the order as it is)."""
    _check_stored(code)
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if not _holds_close(order_ids=[order_id], code=code, actor=actor, note=note):
            return order
        return order_status_sync(order_ids=[order_id], actor=actor, reason=note)[0]


def order_holds_sync(*, code: str, wanted: Mapping[int, str | None], actor: str) -> None:
    """Bulk: for each order id, open `code` with the reason given (updating a changed reason) or, for None,
    release it. Statuses are not touched: the caller projects them afterwards (in the same transaction)."""
    _check_stored(code)
    if not wanted:
        return
    open_rows = {
        h.order_id: h for h in OrderHold.objects.filter(order_id__in=list(wanted), code=code, released_at__isnull=True)
    }
    new = [
        OrderHold(order_id=pk, code=code, reason=reason, opened_by=actor[:150])
        for pk, reason in wanted.items()
        if reason is not None and pk not in open_rows
    ]
    OrderHold.objects.bulk_create(new)
    changed = [h for pk, h in open_rows.items() if wanted[pk] is not None and h.reason != wanted[pk]]
    for hold in changed:
        hold.reason = str(wanted[hold.order_id])
    OrderHold.objects.bulk_update(changed, ["reason"])
    released = [pk for pk, reason in wanted.items() if reason is None and pk in open_rows]
    if released:
        _holds_close(order_ids=released, code=code, actor=actor, note="the cause is gone")


def _holds_close(*, order_ids: Sequence[int], code: str, actor: str, note: str) -> int:
    holds = list(
        OrderHold.objects.select_related("exception").filter(
            order_id__in=order_ids, code=code, released_at__isnull=True
        )
    )
    if not holds:
        return 0
    OrderHold.objects.filter(pk__in=[h.pk for h in holds]).update(
        released_at=timezone.now(), released_by=actor[:150], release_note=note
    )
    for hold in holds:
        if hold.exception is not None:
            exception_close(item=hold.exception, status=ExceptionItem.Status.RESOLVED, actor=actor, note=note)
    return len(holds)


def order_holds_link(*, order_id: int, code: str, exception: ExceptionItem) -> None:
    """Tie an open hold to the exception that explains it (opened after the page that held the order committed)."""
    OrderHold.objects.filter(order_id=order_id, code=code, released_at__isnull=True).update(exception=exception)


# Holds an operator decides with their own buttons (release, fraud release/reject), not by closing an exception.
_DECIDED_HOLDS = {Order.HoldCode.MANUAL, Order.HoldCode.FRAUD_REVIEW}


@register_exception_closing
def _exception_closing(item: ExceptionItem, actor: str) -> None:
    """An operator's own decision (a fraud review, a manual hold) is not taken by closing its exception."""
    hold = OrderHold.objects.filter(exception=item, released_at__isnull=True, code__in=_DECIDED_HOLDS).first()
    if hold is not None:
        where = (
            "Payments › Fraud assessments: release or reject"
            if hold.code == Order.HoldCode.FRAUD_REVIEW
            else ("the order: Release")
        )
        raise ApplicationError(
            f"This exception keeps the order on hold ({hold.get_code_display()}); decide it under {where}"
        )


@register_exception_closed
def _exception_closed(item: ExceptionItem, actor: str) -> None:
    """An operator resolved or discarded the exception behind a data hold: the hold goes with it (they never
    disagree)."""
    holds = OrderHold.objects.filter(exception=item, released_at__isnull=True).exclude(code__in=_DECIDED_HOLDS)
    for order_id, code in list(holds.values_list("order_id", "code")):
        order_hold_release(
            order_id=order_id, code=code, actor=actor, note=f"exception {item.get_status_display().lower()}"
        )


def order_hold(*, order_id: int, reason: str, actor: str) -> Order:
    """An operator's hold: lasts until an operator releases it, whatever the other facts say."""
    return order_hold_open(order_id=order_id, code=Order.HoldCode.MANUAL, reason=reason, actor=actor)


def order_release(*, order_id: int, actor: str, reason: str) -> Order:
    """Release an operator's hold; the other holds end with their own cause (fix and reprocess, a payment, ...)."""
    if not OrderHold.objects.filter(order_id=order_id, code=Order.HoldCode.MANUAL, released_at__isnull=True).exists():
        order = Order.objects.get(pk=order_id)
        if order.status != OrderStatus.ON_HOLD:
            return order
        raise ApplicationError(
            f"{order.get_hold_code_display()} holds are lifted by fixing the cause, not released: they last "
            f"{HOLDS[order.hold_code].lifetime.value}"
        )
    return order_hold_release(order_id=order_id, code=Order.HoldCode.MANUAL, actor=actor, note=reason or "released")


# --- Other writes other apps make through orders -------------------------------------------------------------


def order_note_add(*, order_id: int, actor: str, message: str, data: dict[str, Any] | None = None) -> OrderEvent:
    """A line in the order's history from another app (fulfilment requested, shipped by the ERP, ...)."""
    return OrderEvent.objects.create(
        order_id=order_id, kind=OrderEvent.Kind.NOTE, actor=actor[:150], message=message, data=data or {}
    )


def order_lines_shipped_set(*, order_id: int, shipped: Mapping[int, int]) -> int:
    """Shipped quantities per line id, as fulfilment counts them (never more than ordered). Returns lines changed."""
    lines = list(OrderLine.objects.filter(order_id=order_id, pk__in=list(shipped)))
    changed = []
    for line in lines:
        quantity = max(0, min(int(shipped[line.pk]), line.quantity_ordered))
        if line.quantity_shipped != quantity:
            line.quantity_shipped = quantity
            changed.append(line)
    return bulk_update_rows(changed, ["quantity_shipped"])


# --- A lag that lasts ----------------------------------------------------------------------------------------


def order_lags_check(*, now: Any = None) -> int:
    """Orders whose channel has trailed our facts for ORDER_CHANNEL_LAG_HOURS get an exception (e.g. Amazon has
    not taken the shipment confirmation). Returns how many are open. The writer closes it when Amazon catches up."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.ORDER_CHANNEL_LAG_HOURS)
    lagging = list(Order.objects.filter(channel_lag_since__lte=cutoff).order_by("pk")[:500])
    for order in lagging:
        hours = (now - order.channel_lag_since).total_seconds() / 3600 if order.channel_lag_since else 0
        exception_open(
            kind=ExceptionItem.Kind.CHANNEL_LAG,
            source=order,
            summary=f"Amazon has not taken the shipment confirmation of {order.external_id}: still "
            f"{order.source_status} after {hours:.0f} h",
            detail=f"Our records say {order.status}; Amazon still reports {order.source_status} "
            f"{hours:.0f} hours later. Check the shipment confirmation (Fulfilment › Shipments) and Seller Central.",
            reference=order.external_id,
        )
    return len(lagging)
