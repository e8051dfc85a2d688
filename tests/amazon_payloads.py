"""Builders of SP-API Orders v0 payloads in Amazon's own shape (see tests/fixtures/sp_api/)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.factories import UK


def amazon_order(
    order_id: str = "202-0000001-0000001",
    *,
    status: str = "Unshipped",
    last_update: str = "2026-11-01T10:00:00Z",
    purchased: str = "2026-11-01T09:00:00Z",
    channel: str = "MFN",
    marketplace_id: str = UK,
    total: str | None = "23.98",
    currency: str = "GBP",
    **extra: Any,
) -> dict[str, Any]:
    order: dict[str, Any] = {
        "AmazonOrderId": order_id,
        "PurchaseDate": purchased,
        "LastUpdateDate": last_update,
        "OrderStatus": status,
        "FulfillmentChannel": channel,
        "SalesChannel": "Amazon.co.uk",
        "ShipServiceLevel": "Std UK Dom_1",
        "NumberOfItemsShipped": 0,
        "NumberOfItemsUnshipped": 2,
        "PaymentMethod": "Other",
        "PaymentMethodDetails": ["Standard"],
        "MarketplaceId": marketplace_id,
        "ShipmentServiceLevelCategory": "Standard",
        "OrderType": "StandardOrder",
        "IsBusinessOrder": False,
        "IsPrime": False,
        "IsReplacementOrder": "false",
        "ShippingAddress": {"City": "LONDON", "PostalCode": "sw1a1aa", "CountryCode": "GB"},
    }
    if total is not None and status != "Pending":
        order["OrderTotal"] = {"CurrencyCode": currency, "Amount": total}
    order.update(extra)
    return order


def amazon_item(
    sku: str = "SKU-0001",
    *,
    item_id: str = "10000000000001",
    quantity: int = 2,
    unit_price: str = "11.99",
    currency: str = "GBP",
    pending: bool = False,
    shipped: int = 0,
    asin: str = "B000000001",
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "ASIN": asin,
        "OrderItemId": item_id,
        "SellerSKU": sku,
        "Title": f"Widget {sku}",
        "QuantityOrdered": quantity,
        "QuantityShipped": shipped,
        "IsGift": "false",
        "ConditionId": "New",
    }
    if not pending:
        line = Decimal(unit_price) * quantity
        item["ItemPrice"] = {"CurrencyCode": currency, "Amount": f"{line:.2f}"}
        item["ItemTax"] = {"CurrencyCode": currency, "Amount": f"{(line / 6):.2f}"}
        item["PromotionDiscount"] = {"CurrencyCode": currency, "Amount": "0.00"}
    return item


def full_address(**extra: Any) -> dict[str, Any]:
    address = {
        "Name": "  Jane   Doe ",
        "AddressLine1": "",
        "AddressLine2": "10 Downing Street",
        "City": "London",
        "PostalCode": "sw1a2aa",
        "CountryCode": "GB",
        "Phone": "+44 20 7946 0000",
        "AddressType": "Residential",
    }
    address.update(extra)
    return address


# --- Orders 2026-01-01 --------------------------------------------------------------------------------------------

ALL_ROLES = ("DIRECT_TO_CONSUMER_DELIVERY", "TAX_INVOICING", "TAX_REMITTANCE")
INCLUDED = frozenset({"FULFILLMENT", "RECIPIENT", "PROCEEDS", "PACKAGES"})


def order_2026(
    order: dict[str, Any],
    items: list[dict[str, Any]] | None,
    address: dict[str, Any] | None = None,
    *,
    roles: tuple[str, ...] = ALL_ROLES,
    included: frozenset[str] = INCLUDED,
) -> dict[str, Any]:
    """The Orders 2026-01-01 `Order` Amazon serves for a v0 order + items + address: the SP-API simulator's own mapping
    (simulators/spapi/orders2026.py), so tests build payloads the way they are written above. Pending orders show no
    money, as the simulator's store hides it."""
    from types import SimpleNamespace

    from simulators.spapi.orders2026 import Orders2026
    from simulators.spapi.state import State, StoredOrder

    served = dict(order)
    served_items = [dict(i) for i in items or []]
    if order.get("OrderStatus") == "Pending":
        served.pop("OrderTotal", None)
        for item in served_items:
            for key in ("ItemPrice", "ItemTax", "PromotionDiscount"):
                item.pop(key, None)
    stored = StoredOrder(
        key=str(order.get("AmazonOrderId", "")), seller="A1TEST", marketplace_id=str(order.get("MarketplaceId", UK)),
        updated=0.0, created=0.0, order=served, items=served_items, address=address, source=order,
        source_items=items or [], raw=False,
    )  # fmt: skip
    mapper = Orders2026(SimpleNamespace(state=State()))  # type: ignore[arg-type]
    return mapper.order_json(stored, included, frozenset(roles))
