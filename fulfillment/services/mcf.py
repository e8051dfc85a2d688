"""Amazon Multi-Channel Fulfillment for eCommerce orders: create once, follow the status, record shipments.

createFulfillmentOrder is an OutboundRequest (sellerFulfillmentOrderId derived from our order id is Amazon's
idempotency key, so a retry after a lost answer is harmless). A schedule reads open orders back
(getFulfillmentOrder) and records shipments and tracking; the order's status follows through the status map.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.common.errors import ApplicationError, PermanentConnectorError
from config.common.models import ExceptionItem, OutboundRequest
from config.common.outbound import outbound_enqueue, outbound_retry, register_outbound
from config.common.reprocess import register_reprocessor
from config.common.services import exception_open, exceptions_resolve_for
from connectors.amazon.fulfillment_outbound import AmazonFulfillmentOutboundClient
from connectors.amazon.fulfillment_outbound_types import FULFILLMENT_ORDER_STATUSES, FulfillmentOrderDetails
from connectors.amazon.marketplaces import MARKETPLACES
from fulfillment.models import FULFILLMENT_TRANSITIONS, FulfillmentOrder, Shipment, ShipmentLine
from fulfillment.selectors import shipped_quantities
from mappings.models import SkuMapping
from orders.models import Order, OrderLine, OrderStatus, SellerMarketplace
from orders.services import (
    order_hold_open,
    order_hold_release,
    order_lines_shipped_set,
    order_note_add,
    order_status_refresh,
)
from payments.selectors import fraud_review_pending

logger = logging.getLogger(__name__)
ACTOR = "system:fulfillment"
_SPEEDS = {"expedited": "Expedited", "priority": "Priority", "nextday": "Priority", "scheduled": "ScheduledDelivery"}
# Amazon's own limits for destinationAddress (FBA outbound model).
_LIMITS = {"name": 50, "addressLine1": 60, "addressLine2": 60, "addressLine3": 60, "city": 50, "stateOrRegion": 150,
           "postalCode": 20, "phone": 20}  # fmt: skip


def mcf_route(*, order: Order) -> SellerMarketplace | None:
    """The MCF marketplace that ships this order: one in the destination country, else any enabled one."""
    candidates = list(
        SellerMarketplace.objects.filter(mcf_enabled=True, is_active=True, account__is_active=True)
        .select_related("account")
        .order_by("pk")
    )
    if not candidates:
        return None
    address = order.addresses.filter(kind="shipping").first()
    country = address.country_code if address else ""
    for marketplace in candidates:
        known = MARKETPLACES.get(marketplace.marketplace_id)
        if known and known.country_code == country:
            return marketplace
    return candidates[0]


def fba_request_body(*, order: Order, marketplace: SellerMarketplace) -> dict[str, Any]:
    """createFulfillmentOrder's body; ApplicationError lists everything Amazon would refuse."""
    problems: list[str] = []
    address = order.addresses.filter(kind="shipping").first()
    if address is None:
        raise ApplicationError(f"order {order.external_id} has no shipping address")
    destination = {
        "name": address.name, "addressLine1": address.line1, "addressLine2": address.line2,
        "addressLine3": address.line3, "city": address.city, "stateOrRegion": address.state_or_region,
        "postalCode": address.postal_code, "countryCode": address.country_code, "phone": address.phone,
    }  # fmt: skip
    for required in ("name", "addressLine1", "city", "postalCode", "countryCode"):
        if not destination[required]:
            problems.append(f"shipping address has no {required}")
    for name, limit in _LIMITS.items():
        if len(destination[name]) > limit:
            problems.append(f"shipping address {name} is longer than Amazon's {limit} characters")
    destination = {k: v for k, v in destination.items() if v}
    items = []
    for line in order.lines.all().order_by("pk"):
        amazon_sku = _amazon_sku(line, marketplace)
        if amazon_sku is None:
            problems.append(f"no Amazon SKU is mapped to item {line.item_id or line.seller_sku!r}")
            continue
        item: dict[str, Any] = {
            "sellerSku": amazon_sku,
            "sellerFulfillmentOrderItemId": str(line.pk),
            "quantity": line.quantity_ordered,
        }
        if line.item_price is not None and order.currency:
            unit = (line.item_price / line.quantity_ordered).quantize(Decimal("0.01"))
            item["perUnitDeclaredValue"] = {"currencyCode": order.currency, "value": f"{unit}"}
        items.append(item)
    if problems:
        raise ApplicationError("; ".join(problems), extra={"problems": problems})
    speed = _SPEEDS.get(order.ship_service_level.replace(" ", "").lower(), "Standard")
    return {
        "marketplaceId": marketplace.marketplace_id,
        "sellerFulfillmentOrderId": f"{settings.OPAYO_VENDOR_TX_PREFIX}{order.pk:08d}",
        "displayableOrderId": order.external_id[:40],
        "displayableOrderDate": order.purchased_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "displayableOrderComment": settings.FULFILLMENT_DISPLAY_COMMENT[:750],
        "shippingSpeedCategory": speed,
        "destinationAddress": destination,
        "fulfillmentAction": "Ship",
        "fulfillmentPolicy": "FillOrKill",
        "items": items,
    }


def _amazon_sku(line: OrderLine, marketplace: SellerMarketplace) -> str | None:
    """The seller SKU Amazon stocks this line's ERP item under (the SKU map, read the other way).

    Only the seller account's own mappings count: a channel-wide mapping names a shop SKU, which Amazon's FBA
    stock is not held under, and sending it would fail at Amazon instead of here with a clear reason."""
    if not line.item_id:
        return None
    mapping = (
        SkuMapping.objects.filter(erp_item_id=line.item_id, is_active=True, seller_account=marketplace.account)
        .order_by("seller_sku")
        .first()
    )
    return mapping.seller_sku if mapping else None


def _hold(order: Order, reason: str, *, source: Any) -> None:
    item = exception_open(
        kind=ExceptionItem.Kind.FULFILLMENT_PROBLEM,
        source=source,
        summary=f"Cannot fulfil order {order.external_id}: {reason}"[:300],
        detail=f"{reason}\nFix the data (SKU mapping, address), then reprocess.",
        reference=order.external_id,
    )
    order_hold_open(order_id=order.pk, code=Order.HoldCode.FULFILLMENT_DATA, reason=reason, actor=ACTOR, exception=item)


def fba_fulfillment_request(*, order_id: int, actor: str = ACTOR) -> FulfillmentOrder | None:
    """Ask Amazon to ship a paid eCommerce order from FBA stock. Idempotent; None when not applicable."""
    order = Order.objects.get(pk=order_id)
    if order.channel != Order.Channel.ECOMMERCE or order.status != OrderStatus.CAPTURED:
        return FulfillmentOrder.objects.filter(order=order).first()
    existing = FulfillmentOrder.objects.filter(order=order).first()
    if existing is not None:
        return existing
    if fraud_review_pending(order_id=order.pk):
        return None  # awaiting a fraud decision (an operator's own hold may have replaced the fraud hold)
    marketplace = mcf_route(order=order)
    if marketplace is None:
        return None  # no MCF account: the ERP ships it and reports the shipment
    try:
        body = fba_request_body(order=order, marketplace=marketplace)
    except ApplicationError as exc:
        _hold(order, exc.message, source=order)
        return None
    with transaction.atomic():
        fulfillment = FulfillmentOrder.objects.create(
            order=order,
            seller_account=marketplace.account,
            marketplace_id=marketplace.marketplace_id,
            seller_fulfillment_order_id=body["sellerFulfillmentOrderId"],
            shipping_speed=body["shippingSpeedCategory"],
            request_payload=body,
        )
        order_note_add(
            order_id=order.pk,
            actor=actor,
            message=f"FBA fulfilment requested ({fulfillment.seller_fulfillment_order_id}, {marketplace}).",
        )
        outbound_enqueue(
            operation="amazon.create_fulfillment_order",
            provider="amazon",
            idempotency_key=f"mcf-create:{fulfillment.seller_fulfillment_order_id}",
            payload={"fulfillment_order": fulfillment.pk},
            target=fulfillment,
        )
        order_status_refresh(order_id=order.pk, actor=actor, reason="FBA fulfilment requested")
    exceptions_resolve_for(source=order, kinds=[ExceptionItem.Kind.FULFILLMENT_PROBLEM], actor=actor)
    return fulfillment


def fba_fulfillment_requests_due() -> int:
    """Sweep: paid eCommerce orders that have no fulfilment order yet (a lost trigger is never lost work)."""
    ids = list(
        Order.objects.filter(
            channel=Order.Channel.ECOMMERCE, status=OrderStatus.CAPTURED, fulfillment_order__isnull=True
        ).values_list("pk", flat=True)[:200]
    )
    for order_id in ids:
        fba_fulfillment_request(order_id=order_id)
    return len(ids)


def fulfillment_order_status_set(*, fulfillment: FulfillmentOrder, status: str, actor: str) -> bool:
    """THE writer of FulfillmentOrder.status, for a row the caller has locked: checked against
    FULFILLMENT_TRANSITIONS, saved, and written to the order's history. A status Amazon reports that would go back
    (an answer that lags) is recorded and not applied. Returns whether the status changed."""
    before = fulfillment.status
    if status == before:
        return False
    if status not in FULFILLMENT_TRANSITIONS[before]:
        order_note_add(
            order_id=fulfillment.order_id,
            actor=actor,
            message=f"Amazon fulfilment reports {status} after {before}: not applied (a fulfilment order never goes "
            "back).",
            data={"from": before, "reported": status},
        )
        return False
    fulfillment.status, fulfillment.status_updated_at = status, timezone.now()
    fulfillment.save(update_fields=["status", "status_updated_at", "updated_at"])
    order_note_add(
        order_id=fulfillment.order_id,
        actor=actor,
        message=f"Amazon fulfilment status: {status}",
        data={"from": before, "to": status},
    )
    return True


def _outbound_client(fulfillment: FulfillmentOrder) -> AmazonFulfillmentOutboundClient:
    account, marketplace_id = fulfillment.seller_account, fulfillment.marketplace_id
    return AmazonFulfillmentOutboundClient.for_account(account, marketplace_id=marketplace_id)


@register_outbound("amazon.create_fulfillment_order")
def _create(request: OutboundRequest) -> dict[str, Any]:
    fulfillment = FulfillmentOrder.objects.select_related("seller_account").get(pk=request.payload["fulfillment_order"])
    client = _outbound_client(fulfillment)
    try:
        client.create_fulfillment_order(body=fulfillment.request_payload)
    except PermanentConnectorError as exc:
        FulfillmentOrder.objects.filter(pk=fulfillment.pk).update(last_error=str(exc)[:2000])
        _hold(fulfillment.order, f"Amazon refused the fulfilment order: {exc.message}", source=fulfillment)
        raise
    finally:
        client.close()
    with transaction.atomic():
        fulfillment = FulfillmentOrder.objects.select_for_update().get(pk=fulfillment.pk)
        if fulfillment.status == FulfillmentOrder.Status.REQUESTED:
            fulfillment_order_status_set(fulfillment=fulfillment, status=FulfillmentOrder.Status.NEW, actor=ACTOR)
            FulfillmentOrder.objects.filter(pk=fulfillment.pk).update(next_poll_at=timezone.now(), last_error="")
    order_status_refresh(order_id=fulfillment.order_id, actor=ACTOR, reason="Amazon accepted the fulfilment order")
    return {"sellerFulfillmentOrderId": fulfillment.seller_fulfillment_order_id}


def fba_fulfillment_refresh(*, fulfillment_id: int, actor: str = ACTOR) -> FulfillmentOrder:
    """Read one fulfilment order back from Amazon and record status, shipments and tracking."""
    fulfillment = FulfillmentOrder.objects.select_related("seller_account").get(pk=fulfillment_id)
    client = _outbound_client(fulfillment)
    try:
        fetched = client.get_fulfillment_order(seller_fulfillment_order_id=fulfillment.seller_fulfillment_order_id)
    except Exception as exc:
        failures = fulfillment.poll_failures + 1
        FulfillmentOrder.objects.filter(pk=fulfillment.pk).update(
            poll_failures=failures,
            last_error=str(exc)[:2000],
            next_poll_at=timezone.now() + timedelta(minutes=settings.FULFILLMENT_POLL_MINUTES * min(failures, 12)),
        )
        raise
    finally:
        client.close()
    cancelled_now = False
    with transaction.atomic():
        fulfillment = FulfillmentOrder.objects.select_for_update().get(pk=fulfillment_id)
        # Only Amazon's own statuses apply (the connector spells them as the model does); others change nothing.
        status = fetched.status if fetched.status in FULFILLMENT_ORDER_STATUSES else ""
        changed = bool(status) and fulfillment_order_status_set(fulfillment=fulfillment, status=status, actor=actor)
        cancelled_now = changed and status == FulfillmentOrder.Status.CANCELLED
        fulfillment.last_payload, fulfillment.poll_failures, fulfillment.last_error = fetched.raw, 0, ""
        final = fulfillment.status in FulfillmentOrder.FINAL
        fulfillment.next_poll_at = (
            None if final else timezone.now() + timedelta(minutes=settings.FULFILLMENT_POLL_MINUTES)
        )
        fulfillment.save(update_fields=["last_payload", "poll_failures", "last_error", "next_poll_at", "updated_at"])
        _record_shipments(fulfillment, fetched)
        order_status_refresh(order_id=fulfillment.order_id, actor=actor, reason=f"FBA {fulfillment.status}")
    if cancelled_now:
        _after_cancellation(fulfillment)
    return fulfillment


def _record_shipments(fulfillment: FulfillmentOrder, fetched: FulfillmentOrderDetails) -> None:
    lines = {str(line.pk): line for line in fulfillment.order.lines.all()}
    for amazon_shipment in fetched.shipments:
        if not amazon_shipment.amazon_shipment_id:
            continue
        status = {
            "SHIPPED": Shipment.Status.SHIPPED,
            "CANCELLED_BY_FULFILLER": Shipment.Status.CANCELLED,
            "CANCELLED_BY_SELLER": Shipment.Status.CANCELLED,
        }.get(amazon_shipment.status, Shipment.Status.PENDING)
        shipment, _ = Shipment.objects.update_or_create(
            order=fulfillment.order,
            source=Shipment.Source.FBA,
            external_id=amazon_shipment.amazon_shipment_id,
            defaults={
                "fulfillment_order": fulfillment,
                "status": status,
                "carrier": ", ".join(sorted({p.carrier_code for p in amazon_shipment.packages if p.carrier_code})),
                "tracking_number": ", ".join(p.tracking_number for p in amazon_shipment.packages if p.tracking_number),
                "shipped_at": amazon_shipment.shipping_date if status == Shipment.Status.SHIPPED else None,
                "payload": amazon_shipment.raw,
            },
        )
        quantities: dict[str, int] = {}
        for item in amazon_shipment.items:
            key = item.seller_fulfillment_order_item_id
            quantities[key] = quantities.get(key, 0) + item.quantity
        for key, quantity in quantities.items():
            if key in lines and quantity > 0:
                ShipmentLine.objects.update_or_create(
                    shipment=shipment, order_line=lines[key], defaults={"quantity": quantity}
                )
    _sync_shipped_quantities(fulfillment.order)


def _sync_shipped_quantities(order: Order) -> None:
    """eCommerce lines show what our shipments sent (an Amazon order's lines show what Amazon reports)."""
    if order.channel == Order.Channel.ECOMMERCE:
        shipped = shipped_quantities(order_ids=[order.pk]).get(order.pk, {})
        lines = order.lines.values_list("pk", flat=True)
        order_lines_shipped_set(order_id=order.pk, shipped={pk: shipped.get(pk, 0) for pk in lines})


def _after_cancellation(fulfillment: FulfillmentOrder) -> None:
    """Amazon cancelled: give the money back per FULFILLMENT_CANCELLED_PAYMENT_ACTION."""
    if settings.FULFILLMENT_CANCELLED_PAYMENT_ACTION != "void_or_refund":
        return
    from payments.models import Payment
    from payments.services import payment_refund, payment_void

    payment = Payment.objects.filter(order_id=fulfillment.order_id).first()
    if payment is None or payment.amount_captured <= payment.amount_refunded:
        return
    try:
        payment_void(payment=payment, actor=ACTOR, reason="FBA fulfilment cancelled")
    except ApplicationError:
        remaining = payment.amount_captured - payment.amount_refunded
        payment_refund(payment=payment, amount=remaining, reason="FBA fulfilment cancelled", actor=ACTOR)


def fba_fulfillment_orders_poll_due(*, limit: int = 100) -> int:
    due = FulfillmentOrder.objects.filter(next_poll_at__lte=timezone.now()).exclude(
        status__in=[*FulfillmentOrder.FINAL, FulfillmentOrder.Status.REQUESTED]
    )
    count = 0
    for pk in list(due.order_by("next_poll_at").values_list("pk", flat=True)[:limit]):
        try:
            fba_fulfillment_refresh(fulfillment_id=pk)
        except Exception:
            logger.warning("FBA fulfilment %s could not be read", pk, exc_info=True)
        count += 1
    return count


def fba_fulfillment_cancel(*, fulfillment: FulfillmentOrder, actor: str) -> OutboundRequest:
    if fulfillment.status not in (
        FulfillmentOrder.Status.REQUESTED, FulfillmentOrder.Status.NEW, FulfillmentOrder.Status.RECEIVED,
        FulfillmentOrder.Status.PLANNING,
    ):  # fmt: skip
        raise ApplicationError(f"Amazon cannot cancel a fulfilment order that is {fulfillment.status}")
    return outbound_enqueue(
        operation="amazon.cancel_fulfillment_order",
        provider="amazon",
        idempotency_key=f"mcf-cancel:{fulfillment.seller_fulfillment_order_id}",
        payload={"fulfillment_order": fulfillment.pk, "by": actor},
        target=fulfillment,
    )


@register_outbound("amazon.cancel_fulfillment_order")
def _cancel(request: OutboundRequest) -> dict[str, Any]:
    fulfillment = FulfillmentOrder.objects.select_related("seller_account").get(pk=request.payload["fulfillment_order"])
    client = _outbound_client(fulfillment)
    try:
        client.cancel_fulfillment_order(seller_fulfillment_order_id=fulfillment.seller_fulfillment_order_id)
    finally:
        client.close()
    fba_fulfillment_refresh(fulfillment_id=fulfillment.pk)
    return {"cancelled": fulfillment.seller_fulfillment_order_id}


def order_fulfillment_retry(*, order: Order, actor: str) -> None:
    """After a data fix: lift the fulfilment-data hold and ask Amazon again."""
    order_hold_release(order_id=order.pk, code=Order.HoldCode.FULFILLMENT_DATA, actor=actor, note="reprocessed")
    fba_fulfillment_request(order_id=order.pk, actor=actor)


@register_reprocessor(FulfillmentOrder)
def _reprocess_fulfillment(obj: object, actor: str) -> None:
    """Amazon refused the order: rebuild the request from today's data (same id) and send it again."""
    assert isinstance(obj, FulfillmentOrder)
    marketplace = SellerMarketplace.objects.get(account=obj.seller_account, marketplace_id=obj.marketplace_id)
    body = fba_request_body(order=obj.order, marketplace=marketplace)
    with transaction.atomic():
        fulfillment = FulfillmentOrder.objects.select_for_update().get(pk=obj.pk)
        fulfillment_order_status_set(fulfillment=fulfillment, status=FulfillmentOrder.Status.REQUESTED, actor=actor)
        FulfillmentOrder.objects.filter(pk=obj.pk).update(request_payload=body)
    request = OutboundRequest.objects.get(idempotency_key=f"mcf-create:{obj.seller_fulfillment_order_id}")
    order_hold_release(order_id=obj.order_id, code=Order.HoldCode.FULFILLMENT_DATA, actor=actor, note="reprocessed")
    outbound_retry(request=request, actor=actor)
