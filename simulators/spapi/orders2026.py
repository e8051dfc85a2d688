"""Orders API v2026-01-01: searchOrders and getOrder, served from the same stored orders as Orders v0.

The simulator keeps one store of v0-shaped orders (order, items, full address; see `state.StoredOrder`) and maps
each to the 2026-01-01 `Order` when it is served, so seeding, the generator, the live demo and confirmShipment feed
both APIs consistently. Shapes, enums and limits from `models/orders_2026-01-01.json` and its examples; PII rules
from Amazon's "Access Orders PII" guide (no Restricted Data Token; roles per seller, see `Seller.restricted_roles`).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import Counter
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from simulators.spapi import generator
from simulators.spapi.state import InvalidInput, Seller, State, StoredOrder, format_timestamp, parse_timestamp

if TYPE_CHECKING:
    from simulators.spapi.app import SpApiSimulator

SEARCH_ORDERS = "searchOrders"
GET_ORDER = "getOrder2026"  # the operation is also called getOrder; v0's keeps that name in faults, plans and calls
INCLUDED_DATA = (
    "BUYER", "RECIPIENT", "PROCEEDS", "EXPENSE", "PROMOTION", "CANCELLATION", "FULFILLMENT", "PACKAGES", "TAX",
    "PAYMENT", "FULFILLMENT_ORDERS",
)  # fmt: skip
FULFILLMENT_STATUSES = (
    "PENDING_AVAILABILITY", "PENDING", "UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED", "CANCELLED", "UNFULFILLABLE",
)  # fmt: skip
FULFILLED_BY = ("MERCHANT", "AMAZON")
# v0 OrderStatus → 2026 fulfillmentStatus. InvoiceUnconfirmed (shipped, invoice not yet confirmed) has no 2026 value.
STATUS_2026 = {
    "PendingAvailability": "PENDING_AVAILABILITY",
    "Pending": "PENDING",
    "Unshipped": "UNSHIPPED",
    "PartiallyShipped": "PARTIALLY_SHIPPED",
    "Shipped": "SHIPPED",
    "InvoiceUnconfirmed": "SHIPPED",
    "Canceled": "CANCELLED",
    "Unfulfillable": "UNFULFILLABLE",
}
CHANNEL_2026 = {"MFN": "MERCHANT", "AFN": "AMAZON"}
SERVICE_LEVEL_2026 = {
    "Expedited": "EXPEDITED", "FreeEconomy": "FREE_ECONOMY", "NextDay": "NEXT_DAY", "Priority": "PRIORITY",
    "SameDay": "SAME_DAY", "SecondDay": "SECOND_DAY", "Scheduled": "SCHEDULED", "Standard": "STANDARD",
}  # fmt: skip
# Restricted roles ("Access Orders PII"): Direct-to-Consumer Delivery gives the ship-to address and the buyer's
# email (merchant-fulfilled orders); the two tax roles give the buyer's name.
ROLE_DELIVERY = "DIRECT_TO_CONSUMER_DELIVERY"
ROLE_TAX_INVOICING = "TAX_INVOICING"
ROLE_TAX_REMITTANCE = "TAX_REMITTANCE"
RESTRICTED_ROLES = (ROLE_DELIVERY, ROLE_TAX_INVOICING, ROLE_TAX_REMITTANCE)
PII_STATUSES = frozenset({"UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED"})
# "In the US, Japan, and Singapore marketplaces, developers with the Tax Invoicing (Restricted) role and the Tax
# Remittance (Restricted) role are not permitted to access buyer's name."
NO_TAX_ROLE_NAME = frozenset({"ATVPDKIKX0DER", "A1VC38T7YXB528", "A19VAU5U5O7RUS"})
ADDRESS_PII = ("name", "addressLine1", "addressLine2", "addressLine3", "postalCode", "phone", "extendedFields")
MAX_MARKETPLACES = 50
TWO_MINUTES = 120.0
# Amazon's answer to a token whose request differs (quoted in amzn/selling-partner-api-sdk#717).
INVALID_TOKEN = (
    "The paginationToken you have submitted is not valid. All parameters must match the original request except "
    "maxResultsPerPage."
)
EXPIRED_TOKEN = (
    "The paginationToken you have submitted has expired. Pagination tokens expire after 24 hours: search again."
)
CARRIERS = {
    "GB": "Royal Mail", "DE": "DHL", "FR": "Colissimo", "IT": "BRT", "ES": "Correos", "US": "USPS", "CA": "Canada Post",
}  # fmt: skip
ADDRESS_FIELDS = (
    ("Name", "name"), ("CompanyName", "companyName"), ("AddressLine1", "addressLine1"),
    ("AddressLine2", "addressLine2"), ("AddressLine3", "addressLine3"), ("City", "city"),
    ("County", "districtOrCounty"), ("District", "districtOrCounty"), ("StateOrRegion", "stateOrRegion"),
    ("Municipality", "municipality"), ("PostalCode", "postalCode"), ("CountryCode", "countryCode"), ("Phone", "phone"),
)  # fmt: skip
SEARCH_PARAMETERS = (
    "createdAfter", "createdBefore", "lastUpdatedAfter", "lastUpdatedBefore", "fulfillmentStatuses", "marketplaceIds",
    "fulfilledBy",
)  # fmt: skip


def _multi(request: Request, name: str) -> list[str]:
    """An array query parameter: comma-separated (the model's default collection format) and/or repeated."""
    values: list[str] = []
    for raw in request.query_params.getlist(name):
        values.extend(part.strip() for part in raw.split(",") if part.strip())
    return values


def _enum_error(values: list[str], name: str, allowed: tuple[str, ...]) -> InvalidInput:
    # AWS's validation format, which SP-API answers with (see README, "Validation messages").
    return InvalidInput(
        f"1 validation error detected: Value '[{', '.join(values)}]' at '{name}' failed to satisfy constraint: "
        f"Member must satisfy enum value set: [{', '.join(allowed)}]"
    )


def included_data(request: Request) -> frozenset[str]:
    values = _multi(request, "includedData")
    if any(v not in INCLUDED_DATA for v in values):
        raise _enum_error(values, "includedData", INCLUDED_DATA)
    return frozenset(values)


def _decimal(money: Any) -> Decimal | None:
    if not isinstance(money, dict):
        return None
    try:
        return Decimal(str(money.get("Amount")))
    except (InvalidOperation, ValueError):
        return None


def _money(amount: Decimal, currency: str, places: int) -> dict[str, str]:
    quantum = Decimal(1).scaleb(-places)
    return {"amount": str(amount.quantize(quantum)), "currencyCode": currency}


def _convert_money(money: Any) -> dict[str, str] | None:
    if not isinstance(money, dict) or "Amount" not in money:
        return None
    return {"amount": str(money.get("Amount")), "currencyCode": str(money.get("CurrencyCode", ""))}


def _places(money: Any) -> int:
    amount = str(money.get("Amount", "")) if isinstance(money, dict) else ""
    return len(amount.split(".", 1)[1]) if "." in amount else (0 if amount else 2)


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def fulfillment_status(order: dict[str, Any]) -> str:
    status = str(order.get("OrderStatus", ""))
    mapped = STATUS_2026.get(status)
    if mapped is not None:
        return mapped
    # A raw order with a status the simulator does not know: Amazon's casing, so filters can still match it.
    return "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(status)).upper()


def _range(earliest: Any, latest: Any) -> dict[str, str] | None:
    window = {}
    if isinstance(earliest, str) and earliest:
        window["earliestDateTime"] = earliest
    if isinstance(latest, str) and latest:
        window["latestDateTime"] = latest
    return window or None


class Orders2026:
    """searchOrders and getOrder (2026-01-01) of one `SpApiSimulator` (which holds the state)."""

    def __init__(self, sim: SpApiSimulator) -> None:
        self.sim = sim

    @property
    def state(self) -> State:
        return self.sim.state  # read per call: /_sim/reset replaces it

    # --- mapping a stored order -------------------------------------------------------------------------

    def order_json(self, stored: StoredOrder, included: frozenset[str], roles: frozenset[str]) -> dict[str, Any]:
        """The 2026-01-01 Order for a stored order, with the datasets in `included` that `roles` may see."""
        source = stored.order  # what v0 serves (money hidden while Pending)
        status = fulfillment_status(source)
        channel = str(source.get("FulfillmentChannel", ""))
        pending = status in ("PENDING", "PENDING_AVAILABILITY")
        pii = status in PII_STATUSES
        order: dict[str, Any] = {"orderId": stored.key}
        seller_order_id = source.get("SellerOrderId")
        if isinstance(seller_order_id, str) and seller_order_id and seller_order_id != stored.key:
            order["orderAliases"] = [{"aliasId": seller_order_id, "aliasType": "SELLER_ORDER_ID"}]
        order["createdTime"] = source.get("PurchaseDate") or format_timestamp(stored.created)
        order["lastUpdatedTime"] = source.get("LastUpdateDate") or format_timestamp(stored.updated)
        programs = self.programs(source)
        if programs:
            order["programs"] = programs
        replaced = source.get("ReplacedOrderId")
        if source.get("IsReplacementOrder") in (True, "true") and isinstance(replaced, str) and replaced:
            order["associatedOrders"] = [{"orderId": replaced, "associationType": "REPLACEMENT_ORIGINAL_ID"}]
        sales_channel = str(source.get("SalesChannel") or "")
        channel_json = {"channelName": "NON_AMAZON" if sales_channel.lower().startswith("non-amazon") else "AMAZON"}
        channel_json["marketplaceId"] = stored.marketplace_id
        if sales_channel:
            channel_json["marketplaceName"] = sales_channel
        order["salesChannel"] = channel_json
        if "BUYER" in included and not pending:
            buyer = self.buyer(stored, channel, pii, roles)
            if buyer:
                order["buyer"] = buyer
        if "RECIPIENT" in included and not pending:
            address = self.delivery_address(stored, channel, pii and ROLE_DELIVERY in roles)
            if address:
                order["recipient"] = {"deliveryAddress": address}
        items = [i for i in stored.items if isinstance(i, dict)]
        item_proceeds = [self.item_proceeds(stored, item) for item in items] if "PROCEEDS" in included else []
        if "PROCEEDS" in included and not pending:
            proceeds = self.order_proceeds(source, item_proceeds)
            if proceeds:
                order["proceeds"] = proceeds
        if "FULFILLMENT" in included:
            fulfillment: dict[str, Any] = {"fulfillmentStatus": status}
            if channel in CHANNEL_2026:
                fulfillment["fulfilledBy"] = CHANNEL_2026[channel]
            level = source.get("ShipmentServiceLevelCategory")
            if isinstance(level, str) and level:
                fulfillment["fulfillmentServiceLevel"] = SERVICE_LEVEL_2026.get(level, level.upper())
            for key, first, last in (
                ("shipByWindow", "EarliestShipDate", "LatestShipDate"),
                ("deliverByWindow", "EarliestDeliveryDate", "LatestDeliveryDate"),
            ):
                window = _range(source.get(first), source.get(last))
                if window:
                    fulfillment[key] = window
            order["fulfillment"] = fulfillment
        order["orderItems"] = [
            self.item_json(item, included, status, pii and bool(roles), item_proceeds[n] if item_proceeds else None)
            for n, item in enumerate(items)
        ]
        if "PACKAGES" in included and channel == "MFN":
            packages = self.packages(stored)
            if packages:
                order["packages"] = packages
        return order

    @staticmethod
    def programs(source: dict[str, Any]) -> list[str]:
        flags = (
            ("IsBusinessOrder", "AMAZON_BUSINESS"), ("IsISPU", "IN_STORE_PICK_UP"), ("IsPremiumOrder", "PREMIUM"),
            ("IsPrime", "PRIME"),
        )  # fmt: skip
        programs = [name for flag, name in flags if source.get(flag) in (True, "true")]
        if source.get("EasyShipShipmentStatus"):
            programs.append("AMAZON_EASY_SHIP")
        if source.get("OrderType") == "Preorder":
            programs.append("PREORDER")
        return sorted(programs)

    def buyer(self, stored: StoredOrder, channel: str, pii: bool, roles: frozenset[str]) -> dict[str, Any]:
        raw_info = stored.order.get("BuyerInfo")
        info: dict[str, Any] = raw_info if isinstance(raw_info, dict) else {}
        address = stored.address or {}
        buyer: dict[str, Any] = {}
        tax_role = ROLE_TAX_INVOICING in roles or ROLE_TAX_REMITTANCE in roles
        if stored.marketplace_id in NO_TAX_ROLE_NAME:
            tax_role = False
        name_allowed = pii and (tax_role or (channel == "MFN" and ROLE_DELIVERY in roles))
        name = info.get("BuyerName") or address.get("Name")
        if name_allowed and isinstance(name, str) and name:
            buyer["buyerName"] = name
        if pii and channel == "MFN" and ROLE_DELIVERY in roles:
            email = info.get("BuyerEmail") or self.buyer_email(stored)
            if email:
                buyer["buyerEmail"] = email
        company = info.get("BuyerCompanyName") or address.get("CompanyName")
        if isinstance(company, str) and company:
            buyer["buyerCompanyName"] = company
        purchase_order = info.get("PurchaseOrderNumber")
        if isinstance(purchase_order, str) and purchase_order:
            buyer["buyerPurchaseOrderNumber"] = purchase_order
        return buyer

    @staticmethod
    def buyer_email(stored: StoredOrder) -> str | None:
        """An anonymised Amazon relay address, stable per order (Amazon's are per buyer and marketplace)."""
        sales_channel = str(stored.order.get("SalesChannel") or "")
        if not sales_channel.lower().startswith("amazon."):
            return None
        alphabet, n = "abcdefghijklmnopqrstuvwxyz0123456789", _digest("buyer:" + stored.key)
        local = "".join(alphabet[(n >> (5 * i)) % 36] for i in range(12))
        return f"{local}@marketplace.{sales_channel.lower()}"

    @staticmethod
    def delivery_address(stored: StoredOrder, channel: str, pii: bool) -> dict[str, Any]:
        """CustomerAddress from the full address (getOrderAddress's), else the order's partial one; PII only with
        the delivery role and an UNSHIPPED/PARTIALLY_SHIPPED/SHIPPED order; no phone for FBA orders (model)."""
        raw = stored.address if isinstance(stored.address, dict) else stored.order.get("ShippingAddress")
        if not isinstance(raw, dict):
            return {}
        address: dict[str, Any] = {}
        for old, new in ADDRESS_FIELDS:
            value = raw.get(old)
            if isinstance(value, str) and value and new not in address:
                address[new] = value
        kind = raw.get("AddressType")
        if isinstance(kind, str) and kind:
            address["addressType"] = kind.upper()
        if not pii:
            address = {k: v for k, v in address.items() if k not in ADDRESS_PII}
        elif channel == "AFN":
            address.pop("phone", None)
        return address

    def item_proceeds(self, stored: StoredOrder, item: dict[str, Any]) -> dict[str, Any] | None:
        """ItemProceeds: ITEM, SHIPPING, TAX (only where tax is charged on top, as in Amazon's US example; VAT- and
        consumption-tax-inclusive prices show no TAX, as in the UK and JP examples) and DISCOUNT; the breakdowns
        add up to proceedsTotal (= the item's share of v0's OrderTotal)."""
        price = item.get("ItemPrice")
        base = _decimal(price)
        if base is None:
            return None
        currency = str(price.get("CurrencyCode", "")) if isinstance(price, dict) else ""
        places = _places(price)
        info = generator.MARKETPLACES.get(stored.marketplace_id)
        tax_on_top = info is None or info.vat_bp is None

        def amount(key: str) -> Decimal:
            return _decimal(item.get(key)) or Decimal(0)

        breakdowns: list[dict[str, Any]] = [{"type": "ITEM", "subtotal": _money(base, currency, places)}]
        total = base
        shipping = amount("ShippingPrice")
        if shipping:
            breakdowns.append({"type": "SHIPPING", "subtotal": _money(shipping, currency, places)})
            total += shipping
        if tax_on_top:
            parts = [
                ("ITEM", amount("ItemTax")),
                ("SHIPPING", amount("ShippingTax")),
                ("DISCOUNT", -(amount("PromotionDiscountTax") + amount("ShippingDiscountTax"))),
            ]
            tax = sum((value for _, value in parts), Decimal(0))
            if any(value for _, value in parts):
                breakdowns.append(
                    {
                        "type": "TAX",
                        "subtotal": _money(tax, currency, places),
                        "detailedBreakdowns": [
                            {"subtype": kind, "value": _money(value, currency, places)}
                            for kind, value in parts
                            if value
                        ],
                    }
                )
                total += tax
        discounts = [("ITEM", -amount("PromotionDiscount")), ("SHIPPING", -amount("ShippingDiscount"))]
        discount = sum((value for _, value in discounts), Decimal(0))
        if discount:
            breakdowns.append(
                {
                    "type": "DISCOUNT",
                    "subtotal": _money(discount, currency, places),
                    "detailedBreakdowns": [
                        {"subtype": kind, "value": _money(value, currency, places)}
                        for kind, value in discounts
                        if value
                    ],
                }
            )
            total += discount
        return {"proceedsTotal": _money(total, currency, places), "breakdowns": breakdowns}

    @staticmethod
    def order_proceeds(source: dict[str, Any], item_proceeds: list[dict[str, Any] | None]) -> dict[str, Any]:
        proceeds: dict[str, Any] = {}
        total = _convert_money(source.get("OrderTotal"))
        if total is not None:
            proceeds["grandTotal"] = total
        sums: dict[str, Decimal] = {}
        currency, places = "", 2
        for entry in item_proceeds:
            if entry is None:
                continue
            for breakdown in entry["breakdowns"]:
                subtotal = breakdown["subtotal"]
                currency = subtotal["currencyCode"]
                places = _places({"Amount": subtotal["amount"]})
                sums[breakdown["type"]] = sums.get(breakdown["type"], Decimal(0)) + Decimal(subtotal["amount"])
        if sums:
            proceeds["breakdowns"] = [
                {"type": kind, "subtotal": _money(value, currency, places)} for kind, value in sums.items()
            ]
        return proceeds

    @staticmethod
    def item_json(
        item: dict[str, Any], included: frozenset[str], status: str, pii: bool, proceeds: dict[str, Any] | None
    ) -> dict[str, Any]:
        ordered = item.get("QuantityOrdered")
        entry: dict[str, Any] = {
            "orderItemId": str(item.get("OrderItemId", "")),
            "quantityOrdered": ordered if isinstance(ordered, int) else 0,
        }
        if item.get("IsTransparency") in (True, "true"):
            entry["programs"] = ["TRANSPARENCY"]
        product: dict[str, Any] = {}
        for old, new in (("ASIN", "asin"), ("Title", "title"), ("SellerSKU", "sellerSku")):
            value = item.get(old)
            if isinstance(value, str) and value:
                product[new] = value
        condition = {}
        for old, new in (("ConditionId", "conditionType"), ("ConditionSubtypeId", "conditionSubtype")):
            value = item.get(old)
            if isinstance(value, str) and value:
                condition[new] = "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(value)).upper()
        note = item.get("ConditionNote")
        if isinstance(note, str):
            condition["conditionNote"] = note
        if condition:
            product["condition"] = condition
        price = item.get("ItemPrice")
        base = _decimal(price)
        if base is not None and isinstance(ordered, int) and ordered > 0 and isinstance(price, dict):
            unit = _money(base / ordered, str(price.get("CurrencyCode", "")), _places(price))
            product["price"] = {"unitPrice": unit}
        serials = item.get("SerialNumbers")
        if isinstance(serials, list) and serials:
            product["serialNumbers"] = [str(s) for s in serials]
        entry["product"] = product
        if "PROCEEDS" in included and proceeds is not None:
            entry["proceeds"] = proceeds
        points = item.get("PointsGranted")
        if "EXPENSE" in included and isinstance(points, dict):
            granted: dict[str, Any] = {}
            if isinstance(points.get("PointsNumber"), int):
                granted["pointsNumber"] = points["PointsNumber"]
            value = _convert_money(points.get("PointsMonetaryValue"))
            if value is not None:
                granted["pointsMonetaryValue"] = value
            entry["expense"] = {"pointsCost": {"pointsGranted": granted}}
        promotions = item.get("PromotionIds")
        if "PROMOTION" in included and isinstance(promotions, list) and promotions:
            entry["promotion"] = {"breakdowns": [{"promotionId": str(p)} for p in promotions]}
        if "CANCELLATION" in included and item.get("BuyerRequestedCancel"):
            cancel = item["BuyerRequestedCancel"]
            request = {"requester": "BUYER"}
            if isinstance(cancel, dict) and cancel.get("BuyerCancelReason"):
                request["cancelReason"] = str(cancel["BuyerCancelReason"])
            entry["cancellation"] = {"cancellationRequest": request}
        if "FULFILLMENT" in included:
            shipped = item.get("QuantityShipped")
            done = shipped if isinstance(shipped, int) else 0
            total = ordered if isinstance(ordered, int) else 0
            open_units = 0 if status in ("CANCELLED", "UNFULFILLABLE") else max(0, total - done)
            fulfillment: dict[str, Any] = {"quantityFulfilled": done, "quantityUnfulfilled": open_units}
            if item.get("IsGift") in (True, "true"):
                gift: dict[str, Any] = {}
                message = item.get("GiftMessageText")
                if pii and isinstance(message, str) and message:  # a gift message is PII
                    gift["giftMessage"] = message
                level = item.get("GiftWrapLevel")
                if isinstance(level, str) and level:
                    gift["giftWrapLevel"] = level
                if gift:
                    fulfillment["packing"] = {"giftOption": gift}
            entry["fulfillment"] = fulfillment
        collection = item.get("TaxCollection")
        if "TAX" in included and isinstance(collection, dict):
            tax_collection = {}
            if collection.get("Model"):
                tax_collection["model"] = (
                    str(collection["Model"]).upper().replace("MARKETPLACEFACILITATOR", "MARKETPLACE_FACILITATOR")
                )
            if collection.get("ResponsibleParty"):
                tax_collection["responsibleParty"] = str(collection["ResponsibleParty"])
            entry["tax"] = {"taxCollections": [tax_collection]}
        return entry

    def packages(self, stored: StoredOrder) -> list[dict[str, Any]]:
        """FBM packages: one per accepted confirmShipment, plus one for units the order shows shipped that no
        confirmation covers (shipped outside this API, e.g. seeded Shipped or the live demo's shipments)."""
        packages: list[dict[str, Any]] = []
        confirmed: Counter[str] = Counter()
        for confirmation in self.state.shipment_confirmations.get(stored.key, []):
            detail = confirmation.get("packageDetail") or {}
            package: dict[str, Any] = {
                "packageReferenceId": str(detail.get("packageReferenceId", "")),
                "createdTime": confirmation.get("received_at"),
                "packageStatus": {"status": "SHIPPED"},
                "carrier": detail.get("carrierName") or detail.get("carrierCode"),
                "shipTime": detail.get("shipDate"),
            }
            if detail.get("shippingMethod"):
                package["shippingService"] = detail["shippingMethod"]
            package["trackingNumber"] = detail.get("trackingNumber")
            lines = []
            for line in detail.get("orderItems") or []:
                item_id, quantity = str(line.get("orderItemId")), int(line.get("quantity", 1))
                entry: dict[str, Any] = {"orderItemId": item_id, "quantity": quantity}
                if line.get("transparencyCodes"):
                    entry["transparencyCodes"] = list(line["transparencyCodes"])
                confirmed[item_id] += quantity
                lines.append(entry)
            package["packageItems"] = lines
            packages.append({k: v for k, v in package.items() if v is not None})
        rest = []
        for item in stored.items:
            if not isinstance(item, dict):
                continue
            item_id, shipped = str(item.get("OrderItemId", "")), item.get("QuantityShipped")
            left = (shipped if isinstance(shipped, int) else 0) - confirmed[item_id]
            if left > 0:
                rest.append({"orderItemId": item_id, "quantity": left})
        if rest:
            when = str(stored.order.get("LastUpdateDate") or format_timestamp(stored.updated))
            country = str((stored.address or {}).get("CountryCode") or "")
            digits = f"{_digest('tracking:' + stored.key) % 10**12:012d}"
            package = {
                "packageReferenceId": str(len(packages) + 1),
                "createdTime": when,
                "packageStatus": {"status": "SHIPPED"},
                "carrier": CARRIERS.get(country, "UPS"),
                "shipTime": when,
                "shippingService": str(stored.order.get("ShipServiceLevel") or "Standard"),
                "trackingNumber": f"SIM{country or 'XX'}{digits}",
                "packageItems": rest,
            }
            packages.append(package)
        return packages

    # --- searchOrders -----------------------------------------------------------------------------------

    def criteria(self, request: Request, seller: Seller) -> tuple[dict[str, Any], dict[str, Any]]:
        """Validate searchOrders' parameters: (the criteria as given, which a paginationToken must match; the query
        with defaults filled in)."""
        q = request.query_params
        created_after, updated_after = q.get("createdAfter"), q.get("lastUpdatedAfter")
        created_before, updated_before = q.get("createdBefore"), q.get("lastUpdatedBefore")
        if bool(created_after) == bool(updated_after):
            raise InvalidInput("Exactly one of createdAfter and lastUpdatedAfter must be provided.")
        if created_after and updated_before:
            raise InvalidInput(
                "If createdAfter is provided, neither lastUpdatedAfter nor lastUpdatedBefore may be provided."
            )
        if updated_after and created_before:
            raise InvalidInput(
                "If lastUpdatedAfter is provided, neither createdAfter nor createdBefore may be provided."
            )
        mode, prefix = ("created", "created") if created_after else ("updated", "lastUpdated")
        start = parse_timestamp(created_after or updated_after)
        if start is None:
            raise InvalidInput(f"{prefix}After is not a valid ISO 8601 date-time.")
        before = created_before if mode == "created" else updated_before
        latest = math.floor(time.time() - TWO_MINUTES)
        end = parse_timestamp(before) if before else float(latest)
        if end is None:
            raise InvalidInput(f"{prefix}Before is not a valid ISO 8601 date-time.")
        if end < start or end > latest + 1:
            raise InvalidInput(
                f"{prefix}Before must be equal to or after the {prefix}After date and at least two minutes before the "
                "time of the request."
            )
        statuses = _multi(request, "fulfillmentStatuses")
        if any(s not in FULFILLMENT_STATUSES for s in statuses):
            raise _enum_error(statuses, "fulfillmentStatuses", FULFILLMENT_STATUSES)
        fulfilled_by = _multi(request, "fulfilledBy")
        if any(f not in FULFILLED_BY for f in fulfilled_by):
            raise _enum_error(fulfilled_by, "fulfilledBy", FULFILLED_BY)
        markets = _multi(request, "marketplaceIds")
        if len(markets) > MAX_MARKETPLACES:
            raise InvalidInput(
                f"1 validation error detected: Value '[{', '.join(markets)}]' at 'marketplaceIds' failed to satisfy "
                f"constraint: Member must have length less than or equal to {MAX_MARKETPLACES}"
            )
        raw_size = q.get("maxResultsPerPage", "100")
        try:
            size = int(raw_size)
        except ValueError:
            size = 0
        if not 1 <= size <= 100:
            raise InvalidInput("maxResultsPerPage must be an integer between 1 and 100.")
        given = {
            "mode": mode,
            "start": start,
            "before": end if before else None,
            "statuses": sorted(set(statuses)),
            "fulfilledBy": sorted(set(fulfilled_by)),
            "markets": sorted(set(markets)),
        }
        query = {
            "mode": mode,
            "start": start,
            "end": end,
            "before": before if before else format_timestamp(end),
            "statuses": sorted(set(statuses)),
            "channels": sorted(k for k, v in CHANNEL_2026.items() if v in fulfilled_by),
            "markets": sorted(set(markets)) or sorted(seller.marketplace_ids),
            "size": size,
        }
        return given, query

    async def search(self, request: Request, seller: Seller) -> tuple[int, Any]:
        state = self.state
        included = included_data(request)
        given, query = self.criteria(request, seller)
        position: tuple[float, str] | None = None
        token = request.query_params.get("paginationToken")
        if token:
            try:
                carried = self.sim.unsign(token)
            except InvalidInput:
                raise InvalidInput(INVALID_TOKEN) from None
            if carried.get("t") != "search" or carried.get("seller") != seller.selling_partner_id:
                raise InvalidInput(INVALID_TOKEN)
            if carried.get("given") != given:
                raise InvalidInput(INVALID_TOKEN)
            issued = float(carried.get("iat", 0))
            if issued < state.pagination_tokens_valid_from or time.time() - issued > state.pagination_token_ttl_seconds:
                raise InvalidInput(EXPIRED_TOKEN)
            after = carried.get("after")
            position = (float(after[0]), str(after[1])) if isinstance(after, list) and len(after) == 2 else None
            query = {**query, "end": carried["end"], "before": carried["before"]}
        statuses, channels = set(query["statuses"]), set(query["channels"])
        roles = frozenset(seller.restricted_roles)

        def accept(stored: StoredOrder) -> bool:
            return (not statuses or fulfillment_status(stored.order) in statuses) and (
                not channels or stored.order.get("FulfillmentChannel") in channels
            )

        found, last, more = state.scan_page(seller.selling_partner_id, query, after=position, accept=accept)
        page = [self.order_json(stored, included, roles) for stored in found]
        body: dict[str, Any] = {"orders": page}
        if more and last is not None:
            carried = {
                "t": "search",
                "seller": seller.selling_partner_id,
                "given": given,
                "end": query["end"],
                "before": query["before"],
                "after": [last[0], last[1]],
                "iat": time.time(),  # each token lives pagination_token_ttl_seconds (24 h) from when it was given
            }
            body["pagination"] = {"nextToken": self.sim.sign(carried)}
        body["lastUpdatedBefore" if query["mode"] == "updated" else "createdBefore"] = query["before"]
        return 200, body

    # --- getOrder ---------------------------------------------------------------------------------------

    async def get(self, request: Request, seller: Seller) -> tuple[int, Any]:
        included = included_data(request)
        order_id = request.path_params["order_id"]
        stored = self.state.orders.get(order_id)
        if stored is None or stored.seller != seller.selling_partner_id:
            return self.sim.not_found(order_id)
        return 200, {"order": self.order_json(stored, included, frozenset(seller.restricted_roles))}
