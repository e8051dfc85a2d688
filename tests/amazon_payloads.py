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
