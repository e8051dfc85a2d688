"""What our services see of Fulfillment Outbound 2020-07-01 answers (Multi-Channel Fulfillment), and the parsers.

Only what the services use is typed; `raw` keeps each object as Amazon sent it (the fulfilment order's whole answer
is stored, and each shipment's object too). A shape the model rules out (a list that is not one, a quantity that is
not a number) is `malformed` (retryable, like the other clients); a missing optional value is empty, not an error,
because the services treat it so (a shipment without an id is skipped, a shipping date that does not parse is
unknown).
Model: https://github.com/amzn/selling-partner-api-models/blob/main/models/fulfillment-outbound-api-model/fulfillmentOutbound_2020-07-01.json
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.amazon.base import malformed
from connectors.amazon.orders_types import parse_datetime

# FulfillmentOrderStatus as the model spells it. Amazon's own examples write PROCESSING, so values are matched
# without regard to case and returned in this spelling.
FULFILLMENT_ORDER_STATUSES = (
    "New", "Received", "Planning", "Processing", "Cancelled", "Complete", "CompletePartialled", "Unfulfillable",
    "Invalid",
)  # fmt: skip
_STATUS_BY_LOWER = {status.lower(): status for status in FULFILLMENT_ORDER_STATUSES}


@dataclass(frozen=True)
class FulfillmentShipmentPackage:
    carrier_code: str  # "" when Amazon gives none
    tracking_number: str  # "" when Amazon gives none
    package_number: int | None = None


@dataclass(frozen=True)
class FulfillmentShipmentItem:
    seller_fulfillment_order_item_id: str  # ours: the OrderLine pk we sent as sellerFulfillmentOrderItemId; "" if none
    quantity: int
    seller_sku: str = ""


@dataclass(frozen=True)
class FulfillmentShipment:
    amazon_shipment_id: str  # "" when missing (the service skips such a shipment)
    status: str  # fulfillmentShipmentStatus upper-cased: PENDING | SHIPPED | CANCELLED_BY_FULFILLER | ...
    shipping_date: datetime | None  # None when absent or not a date-time
    packages: tuple[FulfillmentShipmentPackage, ...] = ()
    items: tuple[FulfillmentShipmentItem, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # as Amazon sent it


@dataclass(frozen=True)
class FulfillmentOrderDetails:
    """getFulfillmentOrder: the order's status and its shipments."""

    seller_fulfillment_order_id: str
    status: str  # a FULFILLMENT_ORDER_STATUSES value when Amazon's is one of them (any case), else as sent
    shipments: tuple[FulfillmentShipment, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # the whole payload as sent


@dataclass(frozen=True)
class UnfulfillablePreviewItem:
    seller_sku: str
    quantity: int
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class FulfillmentPreview:
    """One shipping speed of getFulfillmentPreview."""

    shipping_speed_category: str
    is_fulfillable: bool
    marketplace_id: str = ""
    order_unfulfillable_reasons: tuple[str, ...] = ()
    unfulfillable_items: tuple[UnfulfillablePreviewItem, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _id(value: Any) -> str:
    return "" if value is None else str(value)


def _objects(value: Any, operation: str, name: str) -> list[dict[str, Any]]:
    """An optional array of objects: absent or null is empty."""
    if not value:
        return []
    if not isinstance(value, list) or not all(isinstance(entry, dict) for entry in value):
        raise malformed(operation, f"{name} that is not a list of objects")
    return value


def _quantity(value: Any, operation: str, name: str) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        raise malformed(operation, f"{name} {value!r}, not a number") from None


def _shipping_date(value: Any) -> datetime | None:
    try:
        return parse_datetime(value, "shippingDate") if value else None
    except Exception:  # an unreadable date is an unknown one: the shipment itself still counts
        return None


def _order_status(value: Any) -> str:
    """Amazon's FulfillmentOrderStatus in the model's spelling (any case matches); an unknown value as sent."""
    text = _text(value)
    return _STATUS_BY_LOWER.get(text.lower(), text)


def parse_fulfillment_shipment(raw: dict[str, Any], operation: str = "getFulfillmentOrder") -> FulfillmentShipment:
    packages = tuple(
        FulfillmentShipmentPackage(
            carrier_code=str(p.get("carrierCode") or ""),
            tracking_number=str(p.get("trackingNumber") or ""),
            package_number=p["packageNumber"] if isinstance(p.get("packageNumber"), int) else None,
        )
        for p in _objects(raw.get("fulfillmentShipmentPackage"), operation, "fulfillmentShipmentPackage")
    )
    items = tuple(
        FulfillmentShipmentItem(
            seller_fulfillment_order_item_id=_id(item.get("sellerFulfillmentOrderItemId")),
            quantity=_quantity(item.get("quantity"), operation, "a shipment item quantity"),
            seller_sku=_text(item.get("sellerSku")),
        )
        for item in _objects(raw.get("fulfillmentShipmentItem"), operation, "fulfillmentShipmentItem")
    )
    return FulfillmentShipment(
        amazon_shipment_id=str(raw.get("amazonShipmentId") or ""),
        status=str(raw.get("fulfillmentShipmentStatus", "")).upper(),
        shipping_date=_shipping_date(raw.get("shippingDate")),
        packages=packages,
        items=items,
        raw=raw,
    )


def parse_fulfillment_order(payload: Any, operation: str = "getFulfillmentOrder") -> FulfillmentOrderDetails:
    """getFulfillmentOrder's payload (GetFulfillmentOrderResult) → FulfillmentOrderDetails."""
    if not isinstance(payload, dict) or not isinstance(payload.get("fulfillmentOrder"), dict):
        raise malformed(operation, "without a fulfillmentOrder")
    order = payload["fulfillmentOrder"]
    shipments = _objects(payload.get("fulfillmentShipments"), operation, "fulfillmentShipments")
    return FulfillmentOrderDetails(
        seller_fulfillment_order_id=_text(order.get("sellerFulfillmentOrderId")),
        status=_order_status(order.get("fulfillmentOrderStatus")),
        shipments=tuple(parse_fulfillment_shipment(raw, operation) for raw in shipments),
        raw=payload,
    )


def parse_fulfillment_previews(
    payload: Any, operation: str = "getFulfillmentPreview"
) -> tuple[FulfillmentPreview, ...]:
    """getFulfillmentPreview's payload → one FulfillmentPreview per shipping speed."""
    if not isinstance(payload, dict):
        raise malformed(operation, "without a payload object")
    previews = []
    for raw in _objects(payload.get("fulfillmentPreviews"), operation, "fulfillmentPreviews"):
        reasons = raw.get("orderUnfulfillableReasons") or []
        unfulfillable = _objects(raw.get("unfulfillablePreviewItems"), operation, "unfulfillablePreviewItems")
        previews.append(
            FulfillmentPreview(
                shipping_speed_category=_text(raw.get("shippingSpeedCategory")),
                is_fulfillable=raw.get("isFulfillable") is True,
                marketplace_id=_text(raw.get("marketplaceId")),
                order_unfulfillable_reasons=tuple(str(r) for r in reasons) if isinstance(reasons, list) else (),
                unfulfillable_items=tuple(
                    UnfulfillablePreviewItem(
                        seller_sku=_text(item.get("sellerSku")),
                        quantity=_quantity(item.get("quantity"), operation, "an unfulfillable item quantity"),
                        reasons=tuple(str(r) for r in item.get("itemUnfulfillableReasons") or []),
                    )
                    for item in unfulfillable
                ),
                raw=raw,
            )
        )
    return tuple(previews)
