"""Shipments the ERP reports (own warehouse), and Amazon shipment confirmations for merchant-fulfilled orders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from config.common.errors import ApplicationError, PermanentConnectorError
from config.common.models import OutboundRequest
from config.common.outbound import outbound_enqueue, register_outbound
from connectors.amazon.orders import AmazonOrdersClient
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
