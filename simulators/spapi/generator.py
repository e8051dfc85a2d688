"""Realistic random Orders v0 data: marketplace-appropriate ids, currencies, tax, names, addresses and statuses.

Money is computed in integer minor units (cents) and rounded half-up, so totals always add up:

- EU/UK marketplaces quote VAT-inclusive prices. `ItemTax`, `ShippingTax` and `PromotionDiscountTax` are the
  VAT share of `ItemPrice`, `ShippingPrice` and `PromotionDiscount`, and
  `OrderTotal = Σ (ItemPrice + ShippingPrice − PromotionDiscount − ShippingDiscount)`.
- US/CA marketplaces quote prices before tax; the tax fields are the (state/provincial) tax on top, and
  `OrderTotal = Σ (ItemPrice + ItemTax + ShippingPrice + ShippingTax − PromotionDiscount − PromotionDiscountTax
  − ShippingDiscount − ShippingDiscountTax)`.

Money is generated for Pending orders too; the simulator hides it while an order is Pending (no `OrderTotal`,
items without prices, taxes or promotions, as Amazon documents) and shows it once the order moves on.
`NumberOfItemsShipped`/`NumberOfItemsUnshipped` equal the items' `QuantityShipped` and the rest (both 0 for
Canceled orders). Merchant-fulfilled (MFN) orders get `EarliestShipDate`/`LatestShipDate`.
"""

from __future__ import annotations

import hashlib
import math
import random
from bisect import bisect
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from itertools import accumulate
from typing import Any, TypeVar

from simulators.spapi.state import PENDING_STATUSES, format_timestamp

T = TypeVar("T")
Order = dict[str, Any]
Item = dict[str, Any]
Address = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Place:
    city: str
    region: str
    postcode: str
    tax_bp: int = 0  # sales tax in basis points (US/CA), 0 for VAT marketplaces


@dataclass(frozen=True, slots=True)
class MarketplaceInfo:
    country: str
    currency: str
    sales_channel: str
    order_prefixes: tuple[str, ...]
    vat_bp: int | None  # VAT in basis points, prices VAT-inclusive; None = sales tax on top (per place)
    ship_service_level: str
    places: tuple[Place, ...]
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    streets: tuple[str, ...]
    street_format: str  # "{n} {street}" or "{street} {n}"
    phone_prefix: str
    phone_digits: int


MARKETPLACES: dict[str, MarketplaceInfo] = {
    "A1F83G8C2ARO7P": MarketplaceInfo(
        "GB", "GBP", "Amazon.co.uk", ("202", "203", "204", "205", "206"), 2000, "Std UK Dom_1",
        (Place("London", "Greater London", "SW1A 2AA"), Place("Manchester", "Greater Manchester", "M1 1AE"),
         Place("Leeds", "West Yorkshire", "LS1 4AP"), Place("Bristol", "City of Bristol", "BS1 5TR"),
         Place("Edinburgh", "Midlothian", "EH1 1YZ"), Place("Cardiff", "South Glamorgan", "CF10 1EP")),
        ("Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Jack", "Emily", "Charlotte", "Thomas"),
        ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Evans", "Patel"),
        ("High Street", "Station Road", "Church Lane", "Victoria Road", "Park Avenue", "Mill Lane"),
        "{n} {street}", "+44 7700 9", 5,
    ),
    "A1PA6795UKMFR9": MarketplaceInfo(
        "DE", "EUR", "Amazon.de", ("302", "303", "304", "305", "306"), 1900, "Std DE Dom_1",
        (Place("Berlin", "Berlin", "10115"), Place("München", "Bayern", "80331"), Place("Hamburg", "Hamburg", "20095"),
         Place("Köln", "Nordrhein-Westfalen", "50667"), Place("Frankfurt am Main", "Hessen", "60311")),
        ("Lukas", "Anna", "Leon", "Mia", "Felix", "Emma", "Paul", "Hannah", "Jonas", "Lea"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Schulz"),
        ("Hauptstraße", "Bahnhofstraße", "Gartenstraße", "Schulstraße", "Dorfstraße", "Lindenweg"),
        "{street} {n}", "+49 151 ", 8,
    ),
    "A13V1IB3VIYZZH": MarketplaceInfo(
        "FR", "EUR", "Amazon.fr", ("402", "403", "404", "405", "406"), 2000, "Std FR Dom_1",
        (Place("Paris", "Île-de-France", "75001"), Place("Lyon", "Rhône", "69001"),
         Place("Marseille", "Bouches-du-Rhône", "13001"), Place("Toulouse", "Haute-Garonne", "31000")),
        ("Lucas", "Léa", "Hugo", "Chloé", "Louis", "Manon", "Jules", "Camille", "Gabriel", "Inès"),
        ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau"),
        ("rue de la République", "avenue Victor Hugo", "rue Pasteur", "boulevard Voltaire", "rue des Lilas"),
        "{n} {street}", "+33 6 ", 8,
    ),
    "APJ6JRA9NG5V4": MarketplaceInfo(
        "IT", "EUR", "Amazon.it", ("402", "403", "404", "405", "406"), 2200, "Std IT Dom_1",
        (Place("Roma", "RM", "00184"), Place("Milano", "MI", "20121"), Place("Torino", "TO", "10121"),
         Place("Napoli", "NA", "80133")),
        ("Francesco", "Sofia", "Alessandro", "Giulia", "Lorenzo", "Aurora", "Matteo", "Alice", "Leonardo", "Ginevra"),
        ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco"),
        ("Via Roma", "Via Garibaldi", "Corso Italia", "Via Mazzini", "Via Dante"),
        "{street}, {n}", "+39 3", 9,
    ),
    "A1RKKUPIHCS9HS": MarketplaceInfo(
        "ES", "EUR", "Amazon.es", ("402", "403", "404", "405", "406"), 2100, "Std ES Dom_1",
        (Place("Madrid", "Madrid", "28001"), Place("Barcelona", "Barcelona", "08001"),
         Place("Valencia", "Valencia", "46001"), Place("Sevilla", "Sevilla", "41001")),
        ("Hugo", "Lucía", "Martín", "Sofía", "Pablo", "María", "Mateo", "Julia", "Daniel", "Paula"),
        ("García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Ruiz"),
        ("Calle Mayor", "Calle Real", "Avenida de la Constitución", "Calle del Sol", "Paseo del Prado"),
        "{street}, {n}", "+34 6", 8,
    ),
    "ATVPDKIKX0DER": MarketplaceInfo(
        "US", "USD", "Amazon.com", ("111", "112", "113", "114"), None, "Std US D2D Dom",
        (Place("Seattle", "WA", "98121-2778", 1025), Place("Austin", "TX", "78701", 825),
         Place("New York", "NY", "10001", 888), Place("Denver", "CO", "80202", 881),
         Place("Miami", "FL", "33101", 700), Place("Portland", "OR", "97201", 0)),
        ("James", "Mary", "Michael", "Patricia", "Robert", "Jennifer", "David", "Linda", "William", "Elizabeth"),
        ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez"),
        ("Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Washington Blvd", "Pine St"),
        "{n} {street}", "+1 206-555-0", 3,
    ),
    "A2EUQ1WTGCTBG2": MarketplaceInfo(
        "CA", "CAD", "Amazon.ca", ("701", "702"), None, "Std CA Dom",
        (Place("Toronto", "ON", "M5H 2N2", 1300), Place("Vancouver", "BC", "V6B 1A1", 1200),
         Place("Montréal", "QC", "H2Y 1C6", 1498), Place("Calgary", "AB", "T2P 1J9", 500)),
        ("Liam", "Olivia", "Noah", "Emma", "William", "Charlotte", "Benjamin", "Chloé", "Lucas", "Amelia"),
        ("Smith", "Brown", "Tremblay", "Martin", "Roy", "Wilson", "MacDonald", "Gagnon", "Johnson", "Taylor"),
        ("King St W", "Yonge St", "Rue Sainte-Catherine", "Granville St", "Jasper Ave"),
        "{n} {street}", "+1 416-555-0", 3,
    ),
}  # fmt: skip

ORDER_STATUSES = (
    "Pending", "Unshipped", "PartiallyShipped", "Shipped", "Canceled", "Unfulfillable", "InvoiceUnconfirmed",
    "PendingAvailability",
)  # fmt: skip
DEFAULT_STATUSES = {"Unshipped": 0.35, "Shipped": 0.4, "PartiallyShipped": 0.05, "Pending": 0.1, "Canceled": 0.1}
DEFAULT_CHANNELS = {"MFN": 0.5, "AFN": 0.5}
_SHIPPED_STATUSES = frozenset({"Shipped", "InvoiceUnconfirmed"})
_NOTHING_OPEN = frozenset({"Canceled", "Unfulfillable"})
_LINES = (1, 1, 1, 1, 1, 1, 1, 2, 2, 3)  # items per order: mostly one
_QUANTITIES = (1, 1, 1, 1, 1, 1, 1, 1, 2, 3)
_MFN_SHIPPING = (0, 0, 299, 399, 499)


_MONEY: dict[tuple[int, str], dict[str, str]] = {}


def _money(cents: int, currency: str) -> dict[str, str]:
    """A Money object. Memoised (generation speed): the dicts are shared, treat them as read-only."""
    money = _MONEY.get((cents, currency))
    if money is None:
        sign, whole = ("-" if cents < 0 else ""), abs(cents)
        money = {"CurrencyCode": currency, "Amount": f"{sign}{whole // 100}.{whole % 100:02d}"}
        if len(_MONEY) < 200_000:
            _MONEY[(cents, currency)] = money
    return money


def _share(gross: int, bp: int) -> int:
    """The VAT share of a VAT-inclusive amount, rounded half-up."""
    return (2 * gross * bp + 10000 + bp) // (2 * (10000 + bp))


def _tax(net: int, bp: int) -> int:
    """Tax on top of a net amount, rounded half-up."""
    return (2 * net * bp + 10000) // 20000


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


@lru_cache(maxsize=65536)
def sku_price_cents(sku: str) -> int:
    """A stable unit price per SKU, 4.99 to 149.99 (ending in 9)."""
    return 499 + (_digest(sku) % 1451) * 10


@lru_cache(maxsize=65536)
def sku_asin(sku: str) -> str:
    alphabet, n = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", _digest("asin:" + sku)
    return "B0" + "".join(alphabet[(n >> (6 * i)) % 36] for i in range(8))


@lru_cache(maxsize=65536)
def sku_title(sku: str) -> str:
    return f"{sku.replace('-', ' ').replace('_', ' ').title()} ({sku})"


class _Weighted:
    def __init__(self, weights: dict[str, float], allowed: Sequence[str], what: str) -> None:
        if not weights:
            raise ValueError(f"{what} weights must not be empty")
        unknown = set(weights) - set(allowed)
        if unknown:
            raise ValueError(f"unknown {what} {sorted(unknown)}; one of {list(allowed)}")
        if any(float(w) < 0 for w in weights.values()) or sum(float(w) for w in weights.values()) <= 0:
            raise ValueError(f"{what} weights must be non-negative and not all zero")
        self.values = list(weights)
        self.cumulative = list(accumulate(float(w) for w in weights.values()))

    def pick(self, rng: random.Random) -> str:
        return self.values[bisect(self.cumulative, rng.random() * self.cumulative[-1])]


def _choice(r: Callable[[], float], options: Sequence[T]) -> T:
    return options[int(r() * len(options))]


def _between(r: Callable[[], float], low: int, high: int) -> int:
    """An int in [low, high)."""
    return low + int(r() * (high - low))


def new_order_id(rng: random.Random, marketplace_id: str, taken: Container[str]) -> str:
    """A free Amazon-style order id, 3-7-7 digits (e.g. `202-1234567-1234567`)."""
    info = MARKETPLACES.get(marketplace_id) or MARKETPLACES["ATVPDKIKX0DER"]
    prefixes = info.order_prefixes
    while True:
        r = rng.random
        candidate = f"{_choice(r, prefixes)}-{int(r() * 10**7):07d}-{int(r() * 10**7):07d}"
        if candidate not in taken:
            return candidate


def generate_order(
    rng: random.Random,
    *,
    order_id: str,
    marketplace_id: str,
    skus: Sequence[str],
    purchased: float,
    latest: float,
    status: str,
    channel: str,
) -> tuple[Order, list[Item], Address]:
    """One order (epoch-second times; `latest` caps LastUpdateDate) with its items and full address."""
    info = MARKETPLACES[marketplace_id]
    r = rng.random  # plain floats are much cheaper than randrange/choice; this runs 100k times a request
    currency = info.currency
    pending = status in PENDING_STATUSES
    place = _choice(r, info.places)
    vat = info.vat_bp
    tax_bp = place.tax_bp
    lines = rng.sample(skus, k=min(len(skus), _choice(r, _LINES))) if len(skus) > 1 else list(skus)
    quantities = [_choice(r, _QUANTITIES) for _ in lines]
    units = sum(quantities)
    if status == "PartiallyShipped" and units < 2:
        status = "Shipped"
    if status == "PartiallyShipped":
        to_ship = _between(r, 1, units)
    elif status in _SHIPPED_STATUSES:
        to_ship = units
    else:
        to_ship = 0
    prime = channel == "AFN" and r() < 0.6
    shipping_charge = 0 if prime or channel == "AFN" else _choice(r, _MFN_SHIPPING)
    promoted = r() < 0.08
    items: list[Item] = []
    total = 0
    item_ids: set[str] = set()
    for index, (sku, quantity) in enumerate(zip(lines, quantities, strict=True)):
        shipped = min(quantity, to_ship)
        to_ship -= shipped
        item_id = f"{_between(r, 10**13, 10**14)}"
        while item_id in item_ids:
            item_id = f"{_between(r, 10**13, 10**14)}"
        item_ids.add(item_id)
        price = sku_price_cents(sku) * quantity
        ship = shipping_charge if index == 0 else 0
        promo = (price // 10) if promoted and index == 0 else 0
        if vat is not None:
            tax, ship_tax, promo_tax = _share(price, vat), _share(ship, vat), _share(promo, vat)
            total += price + ship - promo
        else:
            tax, ship_tax, promo_tax = _tax(price, tax_bp), _tax(ship, tax_bp), _tax(promo, tax_bp)
            total += price + tax + ship + ship_tax - promo - promo_tax
        zero = _money(0, currency)
        items.append(
            {
                "ASIN": sku_asin(sku),
                "OrderItemId": item_id,
                "SellerSKU": sku,
                "Title": sku_title(sku),
                "QuantityOrdered": quantity,
                "QuantityShipped": shipped,
                "ProductInfo": {"NumberOfItems": "1"},
                "ItemPrice": _money(price, currency),
                "ItemTax": _money(tax, currency),
                "ShippingPrice": _money(ship, currency),
                "ShippingTax": _money(ship_tax, currency),
                "ShippingDiscount": zero,
                "ShippingDiscountTax": zero,
                "PromotionDiscount": _money(promo, currency),
                "PromotionDiscountTax": _money(promo_tax, currency),
                "PromotionIds": [f"PLM-{info.country}-SPRING10"] if promo else [],
                "IsGift": "false",
                "ConditionId": "New",
                "ConditionSubtypeId": "New",
                "IsTransparency": False,
                "SerialNumberRequired": False,
            }
        )
    shipped_units = sum(item["QuantityShipped"] for item in items)

    if pending:
        updated = purchased
    elif status == "Unshipped":
        updated = purchased + _between(r, 30, 1800)
    elif status in _NOTHING_OPEN:
        updated = purchased + _between(r, 300, 86400)
    else:
        updated = purchased + _between(r, 3600, 3 * 86400)
    updated = max(purchased, min(updated, latest))
    expedited = r() < 0.15
    closed = status in _NOTHING_OPEN
    business = r() < 0.05
    order: Order = {
        "AmazonOrderId": order_id,
        "PurchaseDate": format_timestamp(purchased),
        "LastUpdateDate": format_timestamp(updated),
        "OrderStatus": status,
        "FulfillmentChannel": channel,
        "SalesChannel": info.sales_channel,
        "ShipServiceLevel": ("Expedited" if expedited else "Standard") if channel == "AFN" else info.ship_service_level,
        "OrderTotal": _money(total, currency),
        "NumberOfItemsShipped": 0 if closed else shipped_units,
        "NumberOfItemsUnshipped": 0 if closed else units - shipped_units,
        "PaymentMethod": "Other",
        "PaymentMethodDetails": ["Standard"],
        "IsReplacementOrder": False,
        "MarketplaceId": marketplace_id,
        "ShipmentServiceLevelCategory": "Expedited" if expedited else "Standard",
        "OrderType": "StandardOrder",
    }
    if channel == "MFN":
        order["EarliestShipDate"] = format_timestamp(purchased + 86400)
        order["LatestShipDate"] = format_timestamp(purchased + (2 if expedited else 3) * 86400)
        order["EarliestDeliveryDate"] = format_timestamp(purchased + 2 * 86400)
        order["LatestDeliveryDate"] = format_timestamp(purchased + (3 if expedited else 6) * 86400)
    order.update(
        IsBusinessOrder=business,
        IsPrime=prime,
        IsGlobalExpressEnabled=False,
        IsPremiumOrder=False,
        IsSoldByAB=False,
        IsIBA=False,
        IsISPU=False,
        IsAccessPointOrder=False,
        ShippingAddress={
            "City": place.city,
            "StateOrRegion": place.region,
            "PostalCode": place.postcode,
            "CountryCode": info.country,
        },
        ElectronicInvoiceStatus="NotRequired",
    )
    address: Address = {
        "Name": f"{_choice(r, info.first_names)} {_choice(r, info.last_names)}",
        "AddressLine1": info.street_format.format(n=_between(r, 1, 250), street=_choice(r, info.streets)),
        "City": place.city,
        "StateOrRegion": place.region,
        "PostalCode": place.postcode,
        "CountryCode": info.country,
        "Phone": f"{info.phone_prefix}{int(r() * 10**info.phone_digits):0{info.phone_digits}d}",
        "AddressType": "Commercial" if business else "Residential",
    }
    if r() < 0.2:
        address["AddressLine2"] = f"Flat {_between(r, 1, 40)}"
    return order, items, address


def generate(
    *,
    seed: int | None,
    count: int,
    marketplace_id: str,
    skus: Sequence[str],
    start: datetime | float,
    end: datetime | float,
    statuses: dict[str, float] | None = None,
    channels: dict[str, float] | None = None,
    taken: Container[str] = frozenset(),
) -> list[tuple[Order, list[Item], Address]]:
    """`count` orders purchased uniformly between `start` and `end` (LastUpdateDate never after `end`)."""
    if marketplace_id not in MARKETPLACES:
        raise ValueError(f"unknown marketplace {marketplace_id!r}; one of {sorted(MARKETPLACES)}")
    if not skus:
        raise ValueError("skus must not be empty")
    if count < 0:
        raise ValueError("count must not be negative")
    low = start.timestamp() if isinstance(start, datetime) else float(start)
    high = end.timestamp() if isinstance(end, datetime) else float(end)
    if high < low:
        raise ValueError("end is before start")
    status_pick = _Weighted(statuses or DEFAULT_STATUSES, ORDER_STATUSES, "statuses")
    channel_pick = _Weighted(channels or DEFAULT_CHANNELS, ("MFN", "AFN"), "fulfillment_channels")
    rng = random.Random(seed)
    first, last = math.ceil(low), math.floor(high)  # whole seconds inside [start, end]
    if last < first:
        first = last = int(low)
    span = last - first + 1
    skus = list(dict.fromkeys(skus))
    generated: list[tuple[Order, list[Item], Address]] = []
    seen: set[str] = set()
    for _ in range(count):
        order_id = new_order_id(rng, marketplace_id, _Either(seen, taken))
        seen.add(order_id)
        purchased = float(min(last, first + int(rng.random() * span)))
        generated.append(
            generate_order(
                rng,
                order_id=order_id,
                marketplace_id=marketplace_id,
                skus=skus,
                purchased=purchased,
                latest=max(high, purchased),
                status=status_pick.pick(rng),
                channel=channel_pick.pick(rng),
            )
        )
    return generated


class _Either(Container[str]):
    def __init__(self, first: Container[str], second: Container[str]) -> None:
        self.first, self.second = first, second

    def __contains__(self, item: object) -> bool:
        return item in self.first or item in self.second
