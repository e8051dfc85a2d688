"""Shipments the ERP reports (own warehouse), and Amazon shipment confirmations for merchant-fulfilled orders."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from config.common.db import copy_insert
from config.common.errors import ApplicationError, PermanentConnectorError
from config.common.models import OutboundRequest
from config.common.outbound import outbound_enqueue, register_outbound
from connectors.amazon.orders import AmazonOrdersClient
from connectors.amazon.orders_2026_types import PACKAGE_SHIPPED, AmazonPackage
from fulfillment.models import Shipment, ShipmentConfirmation, ShipmentLine
from fulfillment.selectors import shipped_quantities
from orders.models import Order, OrderLine
from orders.services import order_lines_shipped_set, order_note_add, order_status_refresh

ACTOR = "system:fulfillment"
# Carrier codes Amazon knows for confirmShipment; anything else goes as "Other" with the name.
AMAZON_CARRIERS = {
    "UPS", "USPS", "FedEx", "DHL", "DHL eCommerce", "Royal Mail", "Parcelforce", "DPD", "Hermes", "Evri", "Yodel",
    "GLS", "TNT", "Canada Post", "Purolator", "Deutsche Post", "Colissimo", "Chronopost", "Poste Italiane", "Correos",
    "Amazon Shipping",
}  # fmt: skip


def erp_shipment_report(
    *,
    order: Order,
    shipment_ref: str,
    carrier: str,
    tracking_number: str,
    shipped_at: datetime,
    lines: list[tuple[OrderLine, int]],
    actor: str,
    raw: dict[str, Any],
) -> tuple[Shipment, bool]:
    """Record a shipment the ERP made. Idempotent on the ERP's shipment reference: the same report again
    returns the first (False); a different one under the same reference is refused."""
    if order.channel == Order.Channel.AMAZON and order.fulfillment_channel == Order.FulfillmentChannel.AFN:
        raise ApplicationError(f"order {order.external_id} is fulfilled by Amazon; the ERP cannot ship it")
    if not lines:
        raise ApplicationError("a shipment needs at least one line")
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        existing = Shipment.objects.filter(order=order, source=Shipment.Source.ERP, external_id=shipment_ref).first()
        wanted = sorted((line.pk, qty) for line, qty in lines)
        if existing is not None:
            had = sorted(existing.lines.values_list("order_line_id", "quantity"))
            if had != wanted or (existing.carrier, existing.tracking_number) != (carrier, tracking_number):
                raise ApplicationError(f"shipment {shipment_ref} was already reported with different content")
            return existing, False
        for line, quantity in lines:
            if line.order_id != order.pk:
                raise ApplicationError(f"line {line.pk} does not belong to order {order.external_id}")
            shipped = (
                ShipmentLine.objects.filter(order_line=line, shipment__status=Shipment.Status.SHIPPED).aggregate(
                    total=Sum("quantity")
                )["total"]
                or 0
            )
            if quantity <= 0 or shipped + quantity > line.quantity_ordered:
                raise ApplicationError(
                    f"line {line.pk} ({line.seller_sku}): shipping {quantity} would exceed the {line.quantity_ordered} "
                    f"ordered ({shipped} already shipped)"
                )
        shipment = Shipment.objects.create(
            order=order, source=Shipment.Source.ERP, external_id=shipment_ref, status=Shipment.Status.SHIPPED,
            carrier=carrier, tracking_number=tracking_number, shipped_at=shipped_at, reported_by=actor, payload=raw,
        )  # fmt: skip
        ShipmentLine.objects.bulk_create(
            ShipmentLine(shipment=shipment, order_line=line, quantity=q) for line, q in lines
        )
        order_note_add(
            order_id=order.pk, actor=actor, message=f"Shipped by the ERP: {carrier} {tracking_number} ({shipment_ref})."
        )
        if order.channel == Order.Channel.AMAZON:
            _confirm_to_amazon(order, shipment, lines)  # Amazon's own shipped quantities arrive with the next sync
        else:
            shipped = shipped_quantities(order_ids=[order.pk]).get(order.pk, {})
            order_lines_shipped_set(order_id=order.pk, shipped=shipped)
        order_status_refresh(order_id=order.pk, actor=actor, reason=f"shipment {shipment_ref}")
    return shipment, True


def amazon_packages_record(
    packages: Mapping[int, Sequence[AmazonPackage]], actor: str, new: Collection[int] = ()
) -> dict[int, list[str]]:
    """Merchant-fulfilled packages Amazon reports (order id → packages) that Ledgerline did not send become shipments,
    once each: those of our own confirmShipment (same packageReferenceId) or with the tracking number of one of our
    shipments are ours already; one that would ship more than was ordered is left out with a note. Set-based: a few
    queries per page; orders in `new` (created by this page) have no shipments to look up. Returns order id → notes
    for the order's history."""
    candidates = {
        order_id: [p for p in found if p.status in PACKAGE_SHIPPED and p.items] for order_id, found in packages.items()
    }
    order_ids = [order_id for order_id, found in candidates.items() if found]
    if not order_ids:
        return {}
    known = [order_id for order_id in order_ids if order_id not in new]
    ours: set[tuple[int, str]] = set()
    tracking: set[tuple[int, str]] = set()
    recorded: set[tuple[int, str]] = set()
    shipped: dict[int, dict[int, int]] = {}
    if known:
        ours = set(
            ShipmentConfirmation.objects.filter(shipment__order_id__in=known).values_list(
                "shipment__order_id", "package_reference_id"
            )
        )
        for order_id, source, external_id, number in Shipment.objects.filter(order_id__in=known).values_list(
            "order_id", "source", "external_id", "tracking_number"
        ):
            if source == Shipment.Source.AMAZON:
                recorded.add((order_id, external_id))
            elif number:
                tracking.add((order_id, number))
        shipped = shipped_quantities(order_ids=known)
    # (order, Amazon item id) → (line id, quantity ordered)
    lines: dict[tuple[int, str], tuple[int, int]] = {
        (order_id, external_id): (pk, quantity)
        for pk, order_id, external_id, quantity in OrderLine.objects.filter(order_id__in=order_ids).values_list(
            "pk", "order_id", "external_id", "quantity_ordered"
        )
    }
    notes: dict[int, list[str]] = {}
    recorded_now: list[tuple[Shipment, list[tuple[tuple[int, int], int]]]] = []
    for order_id in order_ids:
        sent = dict(shipped.get(order_id, {}))
        for package in candidates[order_id]:
            external_id = f"package-{package.reference_id}"
            if (order_id, package.reference_id) in ours or (order_id, external_id) in recorded:
                continue
            if package.tracking_number and (order_id, package.tracking_number) in tracking:
                continue
            wanted = [(lines.get((order_id, item_id)), quantity) for item_id, quantity in package.items]
            fits = all(line is not None and 0 < quantity <= line[1] - sent.get(line[0], 0) for line, quantity in wanted)
            label = f"{package.carrier} {package.tracking_number}".strip() or "no tracking"
            if not fits:
                notes.setdefault(order_id, []).append(
                    f"Amazon reports package {package.reference_id} ({label}) with more than is left to ship, or an "
                    "item the order does not have: not recorded as a shipment."
                )
                continue
            for line, quantity in wanted:
                assert line is not None
                sent[line[0]] = sent.get(line[0], 0) + quantity
            shipment = Shipment(
                order_id=order_id,
                source=Shipment.Source.AMAZON,
                external_id=external_id,
                status=Shipment.Status.SHIPPED,
                carrier=package.carrier[:60],
                tracking_number=package.tracking_number[:100],
                shipped_at=package.shipped_at,
                reported_by=actor[:150],
                payload={
                    "packageReferenceId": package.reference_id,
                    "status": package.status,
                    "shippingService": package.shipping_service,
                    "items": [list(i) for i in package.items],
                },
            )
            recorded_now.append((shipment, [(line, q) for line, q in wanted if line is not None]))
            notes.setdefault(order_id, []).append(
                f"Shipped outside Ledgerline, as Amazon reports: package {package.reference_id}, {label}."
            )
    # COPY (a page of orders can bring a hundred packages): bulk_create's per-value work cost more than the database's.
    copy_insert([shipment for shipment, _ in recorded_now], key=["order", "source", "external_id"])
    copy_insert(
        [
            ShipmentLine(shipment=shipment, order_line_id=line[0], quantity=quantity)
            for shipment, shipment_lines in recorded_now
            for line, quantity in shipment_lines
        ]
    )
    return notes


def _confirm_to_amazon(order: Order, shipment: Shipment, lines: list[tuple[OrderLine, int]]) -> None:
    """An FBM shipment becomes one confirmShipment call, made once (packageReferenceId = our shipment id)."""
    carrier = shipment.carrier.strip()
    detail: dict[str, Any] = {
        "packageReferenceId": str(shipment.pk),  # Amazon: positive numeric, unique within the order
        "carrierCode": carrier if carrier in AMAZON_CARRIERS else "Other",
        "trackingNumber": shipment.tracking_number,
        "shipDate": (shipment.shipped_at or timezone.now()).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "orderItems": [{"orderItemId": line.external_id, "quantity": quantity} for line, quantity in lines],
    }
    if detail["carrierCode"] == "Other":
        detail["carrierName"] = carrier
    body = {"marketplaceId": order.marketplace_id, "packageDetail": detail}
    confirmation = ShipmentConfirmation.objects.create(
        shipment=shipment, package_reference_id=str(shipment.pk), request_payload=body
    )
    outbound_enqueue(
        operation="amazon.confirm_shipment",
        provider="amazon",
        idempotency_key=f"confirm-shipment:{shipment.pk}",
        payload={"confirmation": confirmation.pk},
        target=confirmation,
    )


@register_outbound("amazon.confirm_shipment")
def _confirm(request: OutboundRequest) -> dict[str, Any]:
    confirmation = ShipmentConfirmation.objects.select_related("shipment__order__seller_account").get(
        pk=request.payload["confirmation"]
    )
    if confirmation.status == ShipmentConfirmation.Status.SENT:
        return {"already": "sent"}
    order = confirmation.shipment.order
    assert order.seller_account is not None
    client = AmazonOrdersClient.for_account(order.seller_account, marketplace_id=order.marketplace_id)
    try:
        client.confirm_shipment(amazon_order_id=order.external_id, body=confirmation.request_payload)
    except PermanentConnectorError:
        ShipmentConfirmation.objects.filter(pk=confirmation.pk).update(status=ShipmentConfirmation.Status.FAILED)
        raise
    finally:
        client.close()
    ShipmentConfirmation.objects.filter(pk=confirmation.pk).update(
        status=ShipmentConfirmation.Status.SENT, sent_at=timezone.now()
    )
    order_note_add(
        order_id=order.pk,
        actor=ACTOR,
        message=f"Shipment confirmed to Amazon (package {confirmation.package_reference_id}).",
    )
    return {"confirmed": confirmation.package_reference_id}
