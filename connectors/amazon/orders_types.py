"""The shapes our services see of SP-API Orders v0 data, and the strict parsers that build them.

The ingestion stores Amazon's objects raw first; these parsers run on the stored v0 payloads (snapshots stored
before the switch to Orders 2026-01-01), and `field_str` / `field_datetime` serve the 2026 parsers too.

Parsers never guess: a missing required field, an unparsable date or an amount that is not a plain
decimal with at most two places raises MalformedPayloadError naming the field, so the raw payload can be
flagged for an operator instead of silently becoming wrong money.
Model: https://github.com/amzn/selling-partner-api-models/blob/main/models/orders-api-model/ordersV0.json
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from config.common.errors import MalformedPayloadError

_AMOUNT = re.compile(r"^-?\d{1,15}(\.\d{1,2})?$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class AmazonAddress:
    name: str = ""
    company: str = ""
    line1: str = ""
    line2: str = ""
    line3: str = ""
    city: str = ""
    district: str = ""
    state_or_region: str = ""
    postal_code: str = ""
    country_code: str = ""
    phone: str = ""
    address_type: str = ""


@dataclass(frozen=True)
class AmazonOrderItem:
    order_item_id: str
    asin: str
    seller_sku: str
    title: str
    quantity_ordered: int
    quantity_shipped: int
    item_price: Money | None
    item_tax: Money | None
    shipping_price: Money | None
    shipping_tax: Money | None
    shipping_discount: Money | None
    promotion_discount: Money | None
    is_gift: bool


@dataclass(frozen=True)
class AmazonOrder:
    amazon_order_id: str
    purchase_date: datetime
    last_update_date: datetime
    order_status: str
    fulfillment_channel: str
    sales_channel: str
    marketplace_id: str
    order_type: str
    order_total: Money | None
    ship_service_level: str
    earliest_ship_date: datetime | None
    latest_ship_date: datetime | None
    is_business_order: bool
    is_prime: bool
    is_replacement_order: bool
    shipping_address: AmazonAddress | None


# --- field helpers --------------------------------------------------------------------------------


def _require(obj: dict[str, Any], key: str, path: str) -> Any:
    if key not in obj or obj[key] in (None, ""):
        raise MalformedPayloadError("required field is missing", path=f"{path}.{key}")
    return obj[key]


def field_str(obj: dict[str, Any], key: str, path: str, *, required: bool = False) -> str:
    """A string field ("" when absent); `required`: absent or empty is malformed. Both Orders versions use it."""
    value = _require(obj, key, path) if required else obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedPayloadError(f"expected a string, got {type(value).__name__}", path=f"{path}.{key}")
    return value


def parse_datetime(value: Any, path: str) -> datetime:
    if not isinstance(value, str):
        raise MalformedPayloadError(f"expected an ISO 8601 date-time, got {value!r}", path=path)
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise MalformedPayloadError(f"not an ISO 8601 date-time: {value!r}", path=path) from None
    if parsed.tzinfo is None:
        raise MalformedPayloadError(f"date-time without a time zone: {value!r}", path=path)
    return parsed


def field_datetime(obj: dict[str, Any], key: str, path: str, *, required: bool = False) -> datetime | None:
    """An ISO 8601 date-time field (None when absent); `required`: absent or empty is malformed."""
    value = _require(obj, key, path) if required else obj.get(key)
    if value in (None, ""):
        return None
    return parse_datetime(value, f"{path}.{key}")


def _int(obj: dict[str, Any], key: str, path: str, *, required: bool = False, default: int = 0) -> int:
    value = _require(obj, key, path) if required else obj.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MalformedPayloadError(f"expected an integer, got {value!r}", path=f"{path}.{key}")
    try:
        number = int(value)
    except ValueError:
        raise MalformedPayloadError(f"expected an integer, got {value!r}", path=f"{path}.{key}") from None
    if number < 0:
        raise MalformedPayloadError(f"must not be negative, got {number}", path=f"{path}.{key}")
    return number


def _bool(obj: dict[str, Any], key: str) -> bool:
    # Amazon sends some booleans as strings ("IsGift": "false").
    value = obj.get(key)
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def parse_money(value: Any, path: str) -> Money:
    if not isinstance(value, dict):
        raise MalformedPayloadError(f"expected a Money object, got {value!r}", path=path)
    currency = value.get("CurrencyCode")
    amount = value.get("Amount")
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise MalformedPayloadError(f"invalid CurrencyCode {currency!r}", path=f"{path}.CurrencyCode")
    if not isinstance(amount, str) or not _AMOUNT.match(amount.strip()):
        raise MalformedPayloadError(
            f"invalid Amount {amount!r} (expected a decimal string with at most 2 places)",
            path=f"{path}.Amount",
        )
    try:
        return Money(Decimal(amount.strip()), currency)
    except InvalidOperation:  # pragma: no cover - the regex already guarantees a valid decimal
        raise MalformedPayloadError(f"invalid Amount {amount!r}", path=f"{path}.Amount") from None


def _money(obj: dict[str, Any], key: str, path: str) -> Money | None:
    value = obj.get(key)
    if value is None:
        return None
    return parse_money(value, f"{path}.{key}")


# --- parsers -----------------------------------------------------------------------------------------


def parse_address(raw: Any, path: str = "ShippingAddress") -> AmazonAddress:
    if not isinstance(raw, dict):
        raise MalformedPayloadError(f"expected an Address object, got {raw!r}", path=path)
    return AmazonAddress(
        name=field_str(raw, "Name", path),
        company=field_str(raw, "CompanyName", path),
        line1=field_str(raw, "AddressLine1", path),
        line2=field_str(raw, "AddressLine2", path),
        line3=field_str(raw, "AddressLine3", path),
        city=field_str(raw, "City", path),
        district=field_str(raw, "County", path) or field_str(raw, "District", path),
        state_or_region=field_str(raw, "StateOrRegion", path),
        postal_code=field_str(raw, "PostalCode", path),
        country_code=field_str(raw, "CountryCode", path, required=True),
        phone=field_str(raw, "Phone", path),
        address_type=field_str(raw, "AddressType", path),
    )


def parse_order(raw: Any) -> AmazonOrder:
    """One Order object of getOrders/getOrder."""
    path = "Order"
    if not isinstance(raw, dict):
        raise MalformedPayloadError(f"expected an Order object, got {type(raw).__name__}", path=path)
    order_id = field_str(raw, "AmazonOrderId", path, required=True)
    path = f"Order[{order_id}]"
    address = raw.get("ShippingAddress")
    return AmazonOrder(
        amazon_order_id=order_id,
        purchase_date=field_datetime(raw, "PurchaseDate", path, required=True),  # type: ignore[arg-type]
        last_update_date=field_datetime(raw, "LastUpdateDate", path, required=True),  # type: ignore[arg-type]
        order_status=field_str(raw, "OrderStatus", path, required=True),
        fulfillment_channel=field_str(raw, "FulfillmentChannel", path),
        sales_channel=field_str(raw, "SalesChannel", path),
        marketplace_id=field_str(raw, "MarketplaceId", path),
        order_type=field_str(raw, "OrderType", path),
        order_total=_money(raw, "OrderTotal", path),
        ship_service_level=field_str(raw, "ShipmentServiceLevelCategory", path)
        or field_str(raw, "ShipServiceLevel", path),
        earliest_ship_date=field_datetime(raw, "EarliestShipDate", path),
        latest_ship_date=field_datetime(raw, "LatestShipDate", path),
        is_business_order=_bool(raw, "IsBusinessOrder"),
        is_prime=_bool(raw, "IsPrime"),
        is_replacement_order=_bool(raw, "IsReplacementOrder"),
        shipping_address=parse_address(address, f"{path}.ShippingAddress") if address else None,
    )


def parse_order_items(raw: Any, *, amazon_order_id: str) -> list[AmazonOrderItem]:
    """All OrderItems of getOrderItems (every page, concatenated)."""
    path = f"OrderItems[{amazon_order_id}]"
    if not isinstance(raw, list):
        raise MalformedPayloadError(f"expected a list, got {type(raw).__name__}", path=path)
    if not raw:
        raise MalformedPayloadError("an order must have at least one item", path=path)
    items: list[AmazonOrderItem] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        item_path = f"{path}[{index}]"
        if not isinstance(item, dict):
            raise MalformedPayloadError("expected an OrderItem object", path=item_path)
        item_id = field_str(item, "OrderItemId", item_path, required=True)
        if item_id in seen:
            raise MalformedPayloadError(f"duplicate OrderItemId {item_id}", path=item_path)
        seen.add(item_id)
        quantity = _int(item, "QuantityOrdered", item_path, required=True)
        shipped = _int(item, "QuantityShipped", item_path)
        if shipped > quantity:
            raise MalformedPayloadError(f"QuantityShipped {shipped} exceeds QuantityOrdered {quantity}", path=item_path)
        sku = field_str(item, "SellerSKU", item_path, required=True)
        items.append(
            AmazonOrderItem(
                order_item_id=item_id,
                asin=field_str(item, "ASIN", item_path, required=True),
                seller_sku=sku,
                title=field_str(item, "Title", item_path),
                quantity_ordered=quantity,
                quantity_shipped=shipped,
                item_price=_money(item, "ItemPrice", item_path),
                item_tax=_money(item, "ItemTax", item_path),
                shipping_price=_money(item, "ShippingPrice", item_path),
                shipping_tax=_money(item, "ShippingTax", item_path),
                shipping_discount=_money(item, "ShippingDiscount", item_path),
                promotion_discount=_money(item, "PromotionDiscount", item_path),
                is_gift=_bool(item, "IsGift"),
            )
        )
    return items
