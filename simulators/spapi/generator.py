"""Realistic random Orders v0 data: marketplace-appropriate ids, currencies, tax, addresses and statuses."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Container
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from simulators.spapi.state import format_time

CENT = Decimal("0.01")


@dataclass(frozen=True)
class MarketplaceInfo:
    country: str
    currency: str
    sales_channel: str
    order_prefixes: tuple[str, ...]
    vat: Decimal | None  # VAT-inclusive prices with ItemTax as the VAT share; None = US-style sales tax on top
    sales_tax: Decimal
    places: tuple[tuple[str, str, str], ...]  # (city, state/region, postcode)


MARKETPLACES: dict[str, MarketplaceInfo] = {
    "A1F83G8C2ARO7P": MarketplaceInfo(
        "GB", "GBP", "Amazon.co.uk", ("202", "203", "204", "205", "206"), Decimal("0.20"), Decimal(0),
        (("London", "", "SW1A 2AA"), ("Manchester", "Greater Manchester", "M1 1AE"),
         ("Leeds", "West Yorkshire", "LS1 4AP"), ("Bristol", "", "BS1 5TR"), ("Edinburgh", "", "EH1 1YZ")),
    ),
    "A1PA6795UKMFR9": MarketplaceInfo(
        "DE", "EUR", "Amazon.de", ("302", "303", "304", "305", "306"), Decimal("0.19"), Decimal(0),
        (("Berlin", "Berlin", "10115"), ("München", "Bayern", "80331"), ("Hamburg", "Hamburg", "20095"),
         ("Köln", "NRW", "50667")),
    ),
    "A13V1IB3VIYZZH": MarketplaceInfo(
        "FR", "EUR", "Amazon.fr", ("402", "403", "404", "405", "406"), Decimal("0.20"), Decimal(0),
        (("Paris", "Île-de-France", "75001"), ("Lyon", "Rhône", "69001"), ("Marseille", "Bouches-du-Rhône", "13001")),
    ),
    "APJ6JRA9NG5V4": MarketplaceInfo(
        "IT", "EUR", "Amazon.it", ("402", "403", "404", "405", "406"), Decimal("0.22"), Decimal(0),
        (("Roma", "RM", "00184"), ("Milano", "MI", "20121"), ("Torino", "TO", "10121")),
    ),
    "A1RKKUPIHCS9HS": MarketplaceInfo(
        "ES", "EUR", "Amazon.es", ("402", "403", "404", "405", "406"), Decimal("0.21"), Decimal(0),
        (("Madrid", "Madrid", "28001"), ("Barcelona", "Barcelona", "08001"), ("Valencia", "Valencia", "46001")),
    ),
    "ATVPDKIKX0DER": MarketplaceInfo(
        "US", "USD", "Amazon.com", ("111", "112", "113", "114"), None, Decimal("0.0825"),
        (("Seattle", "WA", "98121-2778"), ("Austin", "TX", "78701"), ("New York", "NY", "10001"),
         ("Denver", "CO", "80202"), ("Miami", "FL", "33101")),
    ),
    "A2EUQ1WTGCTBG2": MarketplaceInfo(
        "CA", "CAD", "Amazon.ca", ("701", "702"), None, Decimal("0.13"),
        (("Toronto", "ON", "M5H 2N2"), ("Vancouver", "BC", "V6B 1A1"), ("Montréal", "QC", "H2Y 1C6")),
    ),
}  # fmt: skip

FIRST_NAMES = ["Alex", "Sam", "Jamie", "Chris", "Robin", "Maria", "Jan", "Lena", "Luca", "Sofia", "Noah", "Emma"]
LAST_NAMES = ["Smith", "Jones", "Müller", "Schmidt", "Martin", "Rossi", "García", "Taylor", "Brown", "Dubois"]
STREETS = ["High Street", "Station Road", "Hauptstraße", "Rue de la Paix", "Main Street", "Via Roma", "Calle Mayor"]
DEFAULT_STATUSES = {"Unshipped": 0.35, "Shipped": 0.4, "PartiallyShipped": 0.05, "Pending": 0.1, "Canceled": 0.1}
DEFAULT_CHANNELS = {"MFN": 0.5, "AFN": 0.5}


def money(amount: Decimal, currency: str) -> dict[str, str]:
    return {"CurrencyCode": currency, "Amount": str(amount.quantize(CENT, rounding=ROUND_HALF_UP))}


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def sku_price(sku: str) -> Decimal:
    """A stable unit price per SKU (5.00 to 149.99)."""
    return (Decimal(500 + _digest(sku) % 14500) / 100).quantize(CENT)


def sku_asin(sku: str) -> str:
    alphabet, n = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", _digest("asin" + sku)
    return "B0" + "".join(alphabet[(n >> (5 * i)) % 36] for i in range(8))


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def generate_order(
    rng: random.Random,
    *,
    order_id: str,
    marketplace_id: str,
    skus: list[str],
    purchased: datetime,
    latest: datetime,
    status: str,
    channel: str,
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    info = MARKETPLACES[marketplace_id]
    pending = status in ("Pending", "PendingAvailability")
    lines = rng.sample(skus, k=min(len(skus), rng.choices([1, 2, 3], weights=[70, 22, 8])[0]))
    items: list[dict[str, Any]] = []
    total = Decimal(0)
    units = sum_shipped = 0
    for index, sku in enumerate(lines):
        quantity = rng.choices([1, 2, 3], weights=[80, 15, 5])[0]
        units += quantity
        shipped = quantity if status == "Shipped" else (quantity if status == "PartiallyShipped" and index == 0 else 0)
        sum_shipped += shipped
        item: dict[str, Any] = {
            "ASIN": sku_asin(sku),
            "OrderItemId": f"{rng.randrange(10**13, 10**14)}",
            "SellerSKU": sku,
            "Title": f"{sku.replace('-', ' ').title()}",
            "QuantityOrdered": quantity,
            "QuantityShipped": shipped,
            "ProductInfo": {"NumberOfItems": "1"},
            "IsGift": "false",
            "ConditionId": "New",
            "ConditionSubtypeId": "New",
            "IsTransparency": False,
        }
        if not pending:
            price = sku_price(sku) * quantity
            shipping = Decimal("3.99") if index == 0 and rng.random() < 0.4 else Decimal(0)
            promotion = (price * Decimal("0.10")).quantize(CENT) if rng.random() < 0.1 else Decimal(0)
            if info.vat is not None:  # VAT-inclusive: tax is the VAT share of the gross price
                tax = price * info.vat / (1 + info.vat)
                shipping_tax = shipping * info.vat / (1 + info.vat)
                total += price + shipping - promotion
            else:
                tax, shipping_tax = price * info.sales_tax, shipping * info.sales_tax
                total += price + tax + shipping + shipping_tax - promotion
            item.update(
                ItemPrice=money(price, info.currency),
                ItemTax=money(tax, info.currency),
                ShippingPrice=money(shipping, info.currency),
                ShippingTax=money(shipping_tax, info.currency),
                ShippingDiscount=money(Decimal(0), info.currency),
                ShippingDiscountTax=money(Decimal(0), info.currency),
                PromotionDiscount=money(promotion, info.currency),
                PromotionDiscountTax=money(Decimal(0), info.currency),
                PromotionIds=["PLM-SPRING"] if promotion else [],
            )
        items.append(item)
    if status == "PartiallyShipped" and sum_shipped in (0, units):
        status = "Shipped" if sum_shipped else "Unshipped"
    city, region, postcode = rng.choice(info.places)
    updated = purchased if pending else min(latest, purchased + timedelta(seconds=rng.randrange(60, 2 * 86400)))
    order: dict[str, Any] = {
        "AmazonOrderId": order_id,
        "PurchaseDate": format_time(purchased),
        "LastUpdateDate": format_time(updated),
        "OrderStatus": status,
        "FulfillmentChannel": channel,
        "SalesChannel": info.sales_channel,
        "ShipServiceLevel": "Std Dom",
        "NumberOfItemsShipped": sum_shipped,
        "NumberOfItemsUnshipped": 0 if status == "Canceled" else units - sum_shipped,
        "PaymentMethod": "Other",
        "PaymentMethodDetails": ["Standard"],
        "MarketplaceId": marketplace_id,
        "ShipmentServiceLevelCategory": rng.choice(["Standard", "Standard", "Expedited"]),
        "OrderType": "StandardOrder",
        "IsBusinessOrder": rng.random() < 0.05,
        "IsPrime": channel == "AFN" and rng.random() < 0.6,
        "IsPremiumOrder": False,
        "IsGlobalExpressEnabled": False,
        "IsReplacementOrder": "false",
        "IsSoldByAB": False,
        "IsISPU": False,
        "IsAccessPointOrder": False,
        "ShippingAddress": {"City": city, "StateOrRegion": region, "PostalCode": postcode, "CountryCode": info.country},
    }
    if not pending:
        order["OrderTotal"] = money(total, info.currency)
    if channel == "MFN":
        order["EarliestShipDate"] = format_time(purchased + timedelta(days=1))
        order["LatestShipDate"] = format_time(purchased + timedelta(days=3))
    address = {
        "Name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
        "AddressLine1": f"{rng.randrange(1, 250)} {rng.choice(STREETS)}",
        "City": city,
        "StateOrRegion": region,
        "PostalCode": postcode,
        "CountryCode": info.country,
        "Phone": f"+{rng.randrange(10**10, 10**11)}",
        "AddressType": "Residential",
    }
    return order, items, address


def new_order_id(rng: random.Random, marketplace_id: str, taken: Container[str]) -> str:
    prefixes = MARKETPLACES[marketplace_id].order_prefixes
    while True:
        candidate = f"{rng.choice(prefixes)}-{rng.randrange(10**7):07d}-{rng.randrange(10**7):07d}"
        if candidate not in taken:
            return candidate


def generate(
    *,
    seed: int | None,
    count: int,
    marketplace_id: str,
    skus: list[str],
    start: datetime,
    end: datetime,
    statuses: dict[str, float] | None = None,
    channels: dict[str, float] | None = None,
    taken: Container[str],
) -> list[tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]]:
    if marketplace_id not in MARKETPLACES:
        raise ValueError(f"unknown marketplace {marketplace_id!r}; one of {sorted(MARKETPLACES)}")
    if not skus:
        raise ValueError("skus must not be empty")
    if end < start:
        raise ValueError("end is before start")
    rng = random.Random(seed)
    span = max((end - start).total_seconds(), 1.0)
    generated = []
    seen: set[str] = set()
    for _ in range(count):
        order_id = new_order_id(rng, marketplace_id, _Union(seen, taken))
        seen.add(order_id)
        purchased = start + timedelta(seconds=rng.random() * span)
        generated.append(
            generate_order(
                rng,
                order_id=order_id,
                marketplace_id=marketplace_id,
                skus=skus,
                purchased=purchased.replace(microsecond=0),
                latest=end,
                status=_pick(rng, statuses or DEFAULT_STATUSES),
                channel=_pick(rng, channels or DEFAULT_CHANNELS),
            )
        )
    return generated


class _Union(Container[str]):
    def __init__(self, *sets: Container[str]) -> None:
        self.sets = sets

    def __contains__(self, item: object) -> bool:
        return any(item in s for s in self.sets)
