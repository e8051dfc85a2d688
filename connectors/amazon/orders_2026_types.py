"""The shapes our services see of Orders API v2026-01-01 data, and the strict parser that builds them.

A 2026-01-01 `Order` carries in one object what v0 spread over getOrders, getOrderItems and getOrderAddress (with
`includedData`), so the parser returns the same `AmazonOrder` / `AmazonOrderItem` / `AmazonAddress` as the v0
parsers (the canonical model is fed one way), plus what only 2026 has: the FBM packages Amazon knows of and whether
Amazon withheld the ship-to's personal data.

Field mapping (v0 → 2026-01-01): OrderStatus → fulfillment.fulfillmentStatus; FulfillmentChannel AFN/MFN →
fulfillment.fulfilledBy AMAZON/MERCHANT; OrderTotal → proceeds.grandTotal; ShipmentServiceLevelCategory →
fulfillment.fulfillmentServiceLevel; Earliest/LatestShipDate → fulfillment.shipByWindow; IsPrime/IsBusinessOrder →
programs PRIME/AMAZON_BUSINESS; IsReplacementOrder → associatedOrders REPLACEMENT_ORIGINAL_ID; item prices, tax and
discounts → the item's proceeds.breakdowns (ITEM, SHIPPING, TAX, DISCOUNT; discounts are negative there, positive in
v0); QuantityShipped → the item's fulfillment.quantityFulfilled.
Model: https://github.com/amzn/selling-partner-api-models/blob/main/models/orders-api-model/orders_2026-01-01.json
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from config.common.errors import MalformedPayloadError
from connectors.amazon.orders_types import (
    AmazonAddress,
    AmazonOrder,
    AmazonOrderItem,
    Money,
    field_datetime,
    field_str,
    parse_datetime,
    parse_money,
)

API_VERSION = "2026-01-01"
# What the ingestion asks for: status and items (FULFILLMENT), ship-to (RECIPIENT), money (PROCEEDS), FBM tracking
# (PACKAGES). BUYER is not asked for: nothing downstream uses the buyer's name or e-mail.
INGEST_INCLUDED_DATA = ("FULFILLMENT", "RECIPIENT", "PROCEEDS", "PACKAGES")
# Statuses at which Amazon gives the ship-to's personal data to a seller with the Direct-to-Consumer Delivery role.
PII_STATUSES = frozenset({"UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED"})
FULFILLED_BY = {"AMAZON": "AFN", "MERCHANT": "MFN"}
# v0's ShipmentServiceLevelCategory values, which the ERP and shipping rules already know.
SERVICE_LEVELS = {
    "EXPEDITED": "Expedited", "FREE_ECONOMY": "FreeEconomy", "NEXT_DAY": "NextDay", "PRIORITY": "Priority",
    "SAME_DAY": "SameDay", "SECOND_DAY": "SecondDay", "SCHEDULED": "Scheduled", "STANDARD": "Standard",
}  # fmt: skip
# A package at one of these has left the seller: it is a shipment.
PACKAGE_SHIPPED = frozenset({"SHIPPED", "IN_TRANSIT", "DELIVERED", "UNDELIVERABLE"})


@dataclass(frozen=True)
class SearchOrdersPage:
    orders: list[dict[str, Any]]  # raw 2026-01-01 Order objects, exactly as Amazon sent them
    next_token: str | None
    last_updated_before: str  # the window's end Amazon applied (it fills in now − 2 min when none is given)
    rate_limit: float | None


@dataclass(frozen=True)
class AmazonPackage:
    reference_id: str
    status: str
    carrier: str
    tracking_number: str
    shipping_service: str
    shipped_at: datetime | None
    items: tuple[tuple[str, int], ...]  # (orderItemId, quantity)


@dataclass(frozen=True)
class AmazonOrder2026:
    order: AmazonOrder
    items: list[AmazonOrderItem]
    packages: list[AmazonPackage]
    # The order is at a status where its ship-to should be there, merchant-fulfilled, and Amazon sent no name or
    # street: the seller's app lacks the restricted role (Amazon's "Access Orders PII").
    pii_withheld: bool


def order_key(raw: Any) -> str | None:
    value = raw.get("orderId") if isinstance(raw, dict) else None
    return value.strip()[:64] if isinstance(value, str) and value.strip() else None


def order_last_updated(raw: Any) -> datetime | None:
    try:
        return parse_datetime(raw.get("lastUpdatedTime"), "lastUpdatedTime") if isinstance(raw, dict) else None
    except MalformedPayloadError:
        return None


def describes_fully(raw: Any) -> bool:
    """Whether a searchOrders entry has what ingestion needs (a status and items with SKUs); one that does not is
    read again with getOrder before it is processed."""
    if not isinstance(raw, dict):
        return True  # nothing to re-read by: processing flags it
    fulfillment = raw.get("fulfillment")
    items = raw.get("orderItems")
    if not isinstance(fulfillment, dict) or not fulfillment.get("fulfillmentStatus"):
        return False
    if not isinstance(items, list) or not items:
        return False
    return all(
        isinstance(i, dict) and isinstance(i.get("product"), dict) and i["product"].get("sellerSku") for i in items
    )


# --- field helpers ------------------------------------------------------------------------------------


def _obj(raw: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedPayloadError(f"expected an object, got {type(value).__name__}", path=f"{path}.{key}")
    return value


def _list(raw: dict[str, Any], key: str, path: str) -> list[Any]:
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedPayloadError(f"expected a list, got {type(value).__name__}", path=f"{path}.{key}")
    return value


def _int(raw: dict[str, Any], key: str, path: str, *, required: bool = False) -> int:
    value = raw.get(key)
    if value is None:
        if required:
            raise MalformedPayloadError("required field is missing", path=f"{path}.{key}")
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedPayloadError(f"expected a non-negative integer, got {value!r}", path=f"{path}.{key}")
    return value


def parse_money_2026(value: Any, path: str) -> Money:
    """2026-01-01 Money: `{"amount": "12.34", "currencyCode": "GBP"}` (lowerCamel keys; v0 had Amount/CurrencyCode)."""
    if not isinstance(value, dict):
        raise MalformedPayloadError(f"expected a Money object, got {value!r}", path=path)
    try:
        return parse_money({"Amount": value.get("amount"), "CurrencyCode": value.get("currencyCode")}, path)
    except MalformedPayloadError as exc:  # name the 2026 fields, not v0's
        words = exc.message[len(exc.path) + 2 :] if exc.path and exc.message.startswith(exc.path) else exc.message
        field = "currencyCode" if exc.path.endswith("CurrencyCode") else "amount"
        raise MalformedPayloadError(
            words.replace("CurrencyCode", "currencyCode").replace("Amount", "amount"), path=f"{path}.{field}"
        ) from None


def _money(raw: dict[str, Any], key: str, path: str) -> Money | None:
    value = raw.get(key)
    return None if value is None else parse_money_2026(value, f"{path}.{key}")


def _negated(money: Money | None) -> Money | None:
    return None if money is None else Money(-money.amount, money.currency)


# --- parsers ------------------------------------------------------------------------------------------


def parse_customer_address(raw: Any, path: str) -> AmazonAddress:
    if not isinstance(raw, dict):
        raise MalformedPayloadError(f"expected a CustomerAddress object, got {raw!r}", path=path)
    return AmazonAddress(
        name=field_str(raw, "name", path),
        company=field_str(raw, "companyName", path),
        line1=field_str(raw, "addressLine1", path),
        line2=field_str(raw, "addressLine2", path),
        line3=field_str(raw, "addressLine3", path),
        city=field_str(raw, "city", path),
        district=field_str(raw, "districtOrCounty", path) or field_str(raw, "municipality", path),
        state_or_region=field_str(raw, "stateOrRegion", path),
        postal_code=field_str(raw, "postalCode", path),
        country_code=field_str(raw, "countryCode", path, required=True),
        phone=field_str(raw, "phone", path),
        # v0 spelled these Residential / Commercial; the ERP and the address rules know that spelling.
        address_type=field_str(raw, "addressType", path).capitalize(),
    )


def _item_money(proceeds: dict[str, Any], path: str) -> dict[str, Money | None]:
    """v0's per-item money from the 2026 proceeds breakdowns (ITEM, SHIPPING, TAX, DISCOUNT)."""
    found: dict[str, Money | None] = {}
    for index, entry in enumerate(_list(proceeds, "breakdowns", path)):
        entry_path = f"{path}.breakdowns[{index}]"
        if not isinstance(entry, dict):
            raise MalformedPayloadError("expected a breakdown object", path=entry_path)
        kind = field_str(entry, "type", entry_path, required=True)
        subtotal = parse_money_2026(entry.get("subtotal"), f"{entry_path}.subtotal")
        details: dict[str, Money] = {}
        for n, detail in enumerate(_list(entry, "detailedBreakdowns", entry_path)):
            detail_path = f"{entry_path}.detailedBreakdowns[{n}]"
            if not isinstance(detail, dict):
                raise MalformedPayloadError("expected a detailed breakdown object", path=detail_path)
            details[field_str(detail, "subtype", detail_path)] = parse_money_2026(
                detail.get("value"), f"{detail_path}.value"
            )
        if kind == "ITEM":
            found["item_price"] = subtotal
        elif kind == "SHIPPING":
            found["shipping_price"] = subtotal
        elif kind == "TAX":
            # Without detailed breakdowns (Amazon's US example) all of it is the item's tax.
            shipping_tax = details.get("SHIPPING")
            found["shipping_tax"] = shipping_tax
            item_tax = subtotal.amount - (shipping_tax.amount if shipping_tax else Decimal(0))
            found["item_tax"] = Money(item_tax, subtotal.currency)
        elif kind == "DISCOUNT":
            # Negative in 2026, positive (an amount taken off) in v0 and in our lines.
            shipping = details.get("SHIPPING")
            found["shipping_discount"] = _negated(shipping)
            item = details.get("ITEM") if details else subtotal
            found["promotion_discount"] = _negated(item)
    return found


def _parse_item(raw: Any, path: str, seen: set[str]) -> AmazonOrderItem:
    if not isinstance(raw, dict):
        raise MalformedPayloadError("expected an OrderItem object", path=path)
    item_id = field_str(raw, "orderItemId", path, required=True)
    if item_id in seen:
        raise MalformedPayloadError(f"duplicate orderItemId {item_id}", path=path)
    seen.add(item_id)
    product = _obj(raw, "product", path)
    product_path = f"{path}.product"
    quantity = _int(raw, "quantityOrdered", path, required=True)
    fulfillment = _obj(raw, "fulfillment", path)
    shipped = _int(fulfillment, "quantityFulfilled", f"{path}.fulfillment")
    if shipped > quantity:
        raise MalformedPayloadError(f"quantityFulfilled {shipped} exceeds quantityOrdered {quantity}", path=path)
    money = _item_money(_obj(raw, "proceeds", path), f"{path}.proceeds")
    if "item_price" not in money:
        # No ITEM breakdown (proceeds not included, or a Pending order): the unit price × quantity, as v0's ItemPrice.
        unit = _money(_obj(product, "price", product_path), "unitPrice", f"{product_path}.price")
        money["item_price"] = Money(unit.amount * quantity, unit.currency) if unit else None
    packing = _obj(fulfillment, "packing", f"{path}.fulfillment")
    return AmazonOrderItem(
        order_item_id=item_id,
        asin=field_str(product, "asin", product_path, required=True),
        seller_sku=field_str(product, "sellerSku", product_path, required=True),
        title=field_str(product, "title", product_path),
        quantity_ordered=quantity,
        quantity_shipped=shipped,
        item_price=money.get("item_price"),
        item_tax=money.get("item_tax"),
        shipping_price=money.get("shipping_price"),
        shipping_tax=money.get("shipping_tax"),
        shipping_discount=money.get("shipping_discount"),
        promotion_discount=money.get("promotion_discount"),
        is_gift=bool(packing.get("giftOption")),
    )


def _parse_package(raw: Any, path: str) -> AmazonPackage:
    if not isinstance(raw, dict):
        raise MalformedPayloadError("expected an OrderPackage object", path=path)
    lines: list[tuple[str, int]] = []
    for index, line in enumerate(_list(raw, "packageItems", path)):
        line_path = f"{path}.packageItems[{index}]"
        if not isinstance(line, dict):
            raise MalformedPayloadError("expected a PackageItem object", path=line_path)
        lines.append(
            (field_str(line, "orderItemId", line_path, required=True), _int(line, "quantity", line_path, required=True))
        )
    status = _obj(raw, "packageStatus", path)
    return AmazonPackage(
        reference_id=field_str(raw, "packageReferenceId", path, required=True),
        status=field_str(status, "status", f"{path}.packageStatus"),
        carrier=field_str(raw, "carrier", path),
        tracking_number=field_str(raw, "trackingNumber", path),
        shipping_service=field_str(raw, "shippingService", path),
        shipped_at=field_datetime(raw, "shipTime", path),
        items=tuple(lines),
    )


def parse_order_2026(raw: Any) -> AmazonOrder2026:
    """One Order of searchOrders/getOrder 2026-01-01, asked for with at least FULFILLMENT."""
    path = "order"
    if not isinstance(raw, dict):
        raise MalformedPayloadError(f"expected an Order object, got {type(raw).__name__}", path=path)
    order_id = field_str(raw, "orderId", path, required=True)
    path = f"order[{order_id}]"
    fulfillment = _obj(raw, "fulfillment", path)
    status = field_str(fulfillment, "fulfillmentStatus", f"{path}.fulfillment", required=True)
    fulfilled_by = field_str(fulfillment, "fulfilledBy", f"{path}.fulfillment")
    channel = FULFILLED_BY.get(fulfilled_by, "")
    sales_channel = _obj(raw, "salesChannel", path)
    programs = {p for p in _list(raw, "programs", path) if isinstance(p, str)}
    associated = _list(raw, "associatedOrders", path)
    replacement = any(isinstance(a, dict) and a.get("associationType") == "REPLACEMENT_ORIGINAL_ID" for a in associated)
    window = _obj(fulfillment, "shipByWindow", f"{path}.fulfillment")
    level = field_str(fulfillment, "fulfillmentServiceLevel", f"{path}.fulfillment")
    recipient = _obj(raw, "recipient", path)
    delivery = recipient.get("deliveryAddress")
    address = parse_customer_address(delivery, f"{path}.recipient.deliveryAddress") if delivery else None
    seen: set[str] = set()
    items_raw = _list(raw, "orderItems", path)
    if not items_raw:
        raise MalformedPayloadError("an order must have at least one item", path=f"{path}.orderItems")
    items = [_parse_item(item, f"{path}.orderItems[{n}]", seen) for n, item in enumerate(items_raw)]
    packages = [_parse_package(p, f"{path}.packages[{n}]") for n, p in enumerate(_list(raw, "packages", path))]
    for package in packages:
        for item_id, _ in package.items:
            if item_id not in seen:
                raise MalformedPayloadError(f"package names unknown orderItemId {item_id}", path=f"{path}.packages")
    order = AmazonOrder(
        amazon_order_id=order_id,
        purchase_date=field_datetime(raw, "createdTime", path, required=True),  # type: ignore[arg-type]
        last_update_date=field_datetime(raw, "lastUpdatedTime", path, required=True),  # type: ignore[arg-type]
        order_status=status,
        fulfillment_channel=channel,
        sales_channel=field_str(sales_channel, "marketplaceName", f"{path}.salesChannel"),
        marketplace_id=field_str(sales_channel, "marketplaceId", f"{path}.salesChannel"),
        order_type="Preorder" if "PREORDER" in programs else "StandardOrder",
        order_total=_money(_obj(raw, "proceeds", path), "grandTotal", f"{path}.proceeds"),
        ship_service_level=SERVICE_LEVELS.get(level, level),
        earliest_ship_date=field_datetime(window, "earliestDateTime", f"{path}.fulfillment.shipByWindow"),
        latest_ship_date=field_datetime(window, "latestDateTime", f"{path}.fulfillment.shipByWindow"),
        is_business_order="AMAZON_BUSINESS" in programs,
        is_prime="PRIME" in programs,
        is_replacement_order=replacement,
        shipping_address=address,
    )
    pii_withheld = (
        channel == "MFN"
        and status in PII_STATUSES
        and (address is None or not (address.name and (address.line1 or address.line2 or address.line3)))
    )
    return AmazonOrder2026(order=order, items=items, packages=packages, pii_withheld=pii_withheld)


# v0's OrderStatus for each 2026 fulfillmentStatus (InvoiceUnconfirmed has no 2026 value: it reads as SHIPPED).
V0_STATUSES = {
    "PENDING_AVAILABILITY": "PendingAvailability", "PENDING": "Pending", "UNSHIPPED": "Unshipped",
    "PARTIALLY_SHIPPED": "PartiallyShipped", "SHIPPED": "Shipped", "CANCELLED": "Canceled",
    "UNFULFILLABLE": "Unfulfillable",
}  # fmt: skip


def order_v0_view(raw: Any) -> dict[str, Any]:
    """v0's names for a 2026-01-01 order's header fields, so what was written against v0 (ERP field rules such as
    `amazon.IsPrime`) keeps its meaning after the switch. Empty for a payload the parser refuses."""
    try:
        parsed = parse_order_2026(raw)
    except MalformedPayloadError:
        return {}
    o = parsed.order
    view: dict[str, Any] = {
        "AmazonOrderId": o.amazon_order_id,
        "PurchaseDate": raw.get("createdTime"),
        "LastUpdateDate": raw.get("lastUpdatedTime"),
        "OrderStatus": V0_STATUSES.get(o.order_status, o.order_status),
        "FulfillmentChannel": o.fulfillment_channel,
        "SalesChannel": o.sales_channel,
        "MarketplaceId": o.marketplace_id,
        "OrderType": o.order_type,
        "ShipmentServiceLevelCategory": o.ship_service_level,
        "IsPrime": o.is_prime,
        "IsBusinessOrder": o.is_business_order,
        "IsReplacementOrder": o.is_replacement_order,
    }
    window = (raw.get("fulfillment") or {}).get("shipByWindow") or {}
    if window.get("earliestDateTime"):
        view["EarliestShipDate"] = window["earliestDateTime"]
    if window.get("latestDateTime"):
        view["LatestShipDate"] = window["latestDateTime"]
    if o.order_total is not None:
        view["OrderTotal"] = {"CurrencyCode": o.order_total.currency, "Amount": str(o.order_total.amount)}
    return view
