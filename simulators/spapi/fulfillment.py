"""Fulfillment Outbound 2020-07-01 (Multi-Channel Fulfillment) and Orders v0 confirmShipment for the simulator.

Shapes, required fields, enums and usage plans follow Amazon's models (`fulfillmentOutbound_2020-07-01.json`,
`ordersV0.json`, see `fixtures/fulfillment-outbound-2020-07-01/`). Validation errors use the AWS "N validation
error(s) detected: Value … at '<field>' failed to satisfy constraint: …" wording that SP-API answers with, so the
message always names the field. Where Amazon's docs are silent the simulator's choice is listed in README.md.

Fulfillment orders only move when the control API says so (`POST /_sim/fulfillment-orders/{id}/advance`), or
every `auto_advance_seconds` when that setting is on. The seller's FBA stock is a control-API concept
(`POST /_sim/fba-inventory`, in `inventory.py`, which also serves getInventorySummaries): creating an order reserves
units, shipping consumes them, and a final status releases whatever was not shipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import json
import string
import time
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from simulators.common import error_body, json_response, read_json_object
from simulators.spapi import generator
from simulators.spapi.state import (
    PENDING_STATUSES,
    FulfillmentOrderRecord,
    InvalidInput,
    Seller,
    State,
    format_timestamp,
    parse_timestamp,
)

if TYPE_CHECKING:
    from simulators.spapi.app import SpApiSimulator

ApiResult = tuple[int, Any]

SPEEDS = ("Standard", "Expedited", "Priority", "ScheduledDelivery")
DEFAULT_PREVIEW_SPEEDS = ("Standard", "Expedited", "Priority")
ACTIONS = ("Ship", "Hold")
POLICIES = ("FillOrKill", "FillAll", "FillAllAvailable")
STATUSES = (
    "New", "Received", "Planning", "Processing", "Cancelled", "Complete", "CompletePartialled", "Unfulfillable",
    "Invalid",
)  # fmt: skip
MAIN_LINE = ("New", "Received", "Planning", "Processing")
EARLY = frozenset({"New", "Received", "Planning"})  # Amazon: the seller can cancel in Received and Planning
TERMINAL = frozenset({"Cancelled", "Complete", "CompletePartialled", "Unfulfillable", "Invalid"})
FINISHED = frozenset({"Complete", "CompletePartialled"})
GIVEN_SHIPMENT_STATUSES = ("PENDING", "SHIPPED", "CANCELLED_BY_FULFILLER")
LIVE_SHIPMENT = frozenset({"PENDING", "SHIPPED"})  # shipment statuses that hold units
# Simulator choices (Amazon publishes no numbers here): days in transit and the per-unit fee per speed.
TRANSIT_DAYS = {"Standard": 4, "Expedited": 2, "Priority": 1, "ScheduledDelivery": 2}
UNIT_FEES = {"Standard": Decimal("3.50"), "Expedited": Decimal("5.25"), "Priority": Decimal("7.80"),
             "ScheduledDelivery": Decimal("6.40")}  # fmt: skip
ADDRESS_LIMITS = {
    "name": 50, "addressLine1": 60, "addressLine2": 60, "addressLine3": 60, "city": 50, "districtOrCounty": 150,
    "stateOrRegion": 150, "postalCode": 20, "countryCode": 2, "phone": 20,
}  # fmt: skip
ADDRESS_REQUIRED = frozenset({"name", "addressLine1", "postalCode", "countryCode"})  # the model's Address.required
IGNORED_BODY_KEYS = frozenset({"marketplaceIds", "MarketplaceIds"})  # python-amazon-sp-api adds these to POSTs
FULFILLMENT_CENTERS = {"GB": "LTN4", "DE": "FRA7", "FR": "ORY1", "IT": "MXP5", "ES": "MAD4", "US": "RNO1", "CA": "YYZ4"}
MAX_LINES, MAX_UNITS = 100, 250  # "Maximum of 100 line items with a maximum of 250 units per order."
DAY = 86400.0
OTHER_CARRIERS = frozenset({"Other", "Others"})  # carrierName is required with these (ordersV0 PackageDetail)


def _show(value: Any) -> str:
    if value is None:
        return "null"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return f"'{text[:57]}...'" if len(text) > 60 else f"'{text}'"


class Problems:
    """Collects validation errors; `check()` raises one InvalidInput in AWS's wording, naming every field."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, value: Any, path: str, constraint: str) -> None:
        self.messages.append(f"Value {_show(value)} at '{path}' failed to satisfy constraint: {constraint}")

    def check(self) -> None:
        if self.messages:
            count = len(self.messages)
            plural = "s" if count != 1 else ""
            raise InvalidInput(f"{count} validation error{plural} detected: " + "; ".join(self.messages))

    def string(
        self, data: dict[str, Any], key: str, path: str, *, required: bool = False, max_len: int | None = None
    ) -> str | None:
        value = data.get(key)
        if value is None:
            if required:
                self.add(None, path, "Member must not be null")
            return None
        if not isinstance(value, str):
            self.add(value, path, "Member must be a string")
            return None
        if required and not value.strip():
            self.add(value, path, "Member must have length greater than or equal to 1")
        if max_len is not None and len(value) > max_len:
            self.add(value, path, f"Member must have length less than or equal to {max_len}")
        return value

    def enum(
        self, data: dict[str, Any], key: str, path: str, allowed: Iterable[str], *, required: bool = False
    ) -> str | None:
        value = data.get(key)
        allowed = tuple(allowed)
        if value is None:
            if required:
                self.add(None, path, "Member must not be null")
            return None
        if value not in allowed:
            self.add(value, path, f"Member must satisfy enum value set: [{', '.join(allowed)}]")
            return None
        return str(value)

    def integer(self, data: dict[str, Any], key: str, path: str, *, minimum: int) -> int | None:
        value = data.get(key)
        if value is None:
            self.add(None, path, "Member must not be null")
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(value, path, "Member must be an integer")
            return None
        if value < minimum:
            self.add(value, path, f"Member must have value greater than or equal to {minimum}")
            return None
        return value

    def obj(self, data: dict[str, Any], key: str, path: str, *, required: bool = False) -> dict[str, Any] | None:
        value = data.get(key)
        if value is None:
            if required:
                self.add(None, path, "Member must not be null")
            return None
        if not isinstance(value, dict):
            self.add(value, path, "Member must be an object")
            return None
        return value

    def array(self, data: dict[str, Any], key: str, path: str, *, required: bool = False) -> list[Any] | None:
        value = data.get(key)
        if value is None:
            if required:
                self.add(None, path, "Member must not be null")
            return None
        if not isinstance(value, list):
            self.add(value, path, "Member must be an array")
            return None
        if required and not value:
            self.add(value, path, "Member must have length greater than or equal to 1")
        return value

    def timestamp(self, data: dict[str, Any], key: str, path: str, *, required: bool = False) -> float | None:
        value = self.string(data, key, path, required=required)
        if value is None or not value.strip():
            return None
        moment = parse_timestamp(value)
        if moment is None:
            self.add(value, path, "Member must be an ISO 8601 date-time")
        return moment

    def money(self, data: dict[str, Any], key: str, path: str) -> None:
        money = self.obj(data, key, path)
        if money is None:
            return
        currency = self.string(money, "currencyCode", f"{path}.currencyCode", required=True, max_len=3)
        if currency is not None and len(currency) != 3:
            self.add(currency, f"{path}.currencyCode", "Member must have length greater than or equal to 3")
        value = self.string(money, "value", f"{path}.value", required=True)
        if value is not None and value.strip():
            try:
                ok = Decimal(value).is_finite() and Decimal(value) >= 0
            except InvalidOperation:
                ok = False
            if not ok:
                self.add(value, f"{path}.value", "Member must be a non-negative decimal number")

    def address(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        address = self.obj(data, key, key, required=True)
        if address is None:
            return {}
        for name, limit in ADDRESS_LIMITS.items():
            self.string(address, name, f"{key}.{name}", required=name in ADDRESS_REQUIRED, max_len=limit)
        country = address.get("countryCode")
        if isinstance(country, str) and country and not (len(country) == 2 and country.isascii() and country.isalpha()):
            self.add(country, f"{key}.countryCode", "Member must satisfy regular expression pattern: [A-Za-z]{2}")
        return address

    def items(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        """createFulfillmentOrder / getFulfillmentPreview items (the same required fields and limits)."""
        items = self.array(data, "items", "items", required=True)
        valid: list[dict[str, Any]] = []
        for n, item in enumerate(items or [], start=1):
            path = f"items.{n}.member"
            if not isinstance(item, dict):
                self.add(item, path, "Member must be an object")
                continue
            self.string(item, "sellerSku", f"{path}.sellerSku", required=True, max_len=50)
            self.string(item, "sellerFulfillmentOrderItemId", f"{path}.sellerFulfillmentOrderItemId", required=True,
                        max_len=50)  # fmt: skip
            self.integer(item, "quantity", f"{path}.quantity", minimum=1)
            self.string(item, "giftMessage", f"{path}.giftMessage", max_len=512)
            self.string(item, "displayableComment", f"{path}.displayableComment", max_len=250)
            for money in ("perUnitDeclaredValue", "perUnitPrice", "perUnitTax"):
                self.money(item, money, f"{path}.{money}")
            valid.append(item)
        return valid


def _line_checks(items: list[dict[str, Any]]) -> None:
    """Checks on the item list as a whole (after the per-field checks passed)."""
    seen: set[str] = set()
    for item in items:
        item_id = item["sellerFulfillmentOrderItemId"]
        if item_id in seen:
            raise InvalidInput(f"Duplicate sellerFulfillmentOrderItemId '{item_id}' in items.")
        seen.add(item_id)
    if len(items) > MAX_LINES:
        raise InvalidInput(f"A fulfillment order can have at most {MAX_LINES} line items; got {len(items)}.")
    units = sum(int(item["quantity"]) for item in items)
    if units > MAX_UNITS:
        raise InvalidInput(f"A fulfillment order can have at most {MAX_UNITS} units; got {units}.")


def _without_stray_keys(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in IGNORED_BODY_KEYS}


def _fnsku(seller: str, sku: str) -> str:
    """A stable FNSKU-looking id (X00 + 7) for a seller's SKU."""
    digest = int.from_bytes(hashlib.sha256(f"{seller}/{sku}".encode()).digest()[:8], "big")
    alphabet = string.digits + string.ascii_uppercase
    chars = []
    for _ in range(7):
        digest, rest = divmod(digest, 36)
        chars.append(alphabet[rest])
    return "X00" + "".join(chars)


def _unit_weight_kg(sku: str) -> Decimal:
    grams = 100 + int.from_bytes(hashlib.sha256(sku.encode()).digest()[:2], "big") % 2400
    return Decimal(grams) / 1000


async def _body(request: Request) -> dict[str, Any]:
    try:
        return await read_json_object(request)
    except ValueError as exc:
        raise InvalidInput(f"Invalid Input: the request body must be a JSON object ({exc}).") from None


class Fulfillment:
    """The MCF and confirmShipment handlers of one `SpApiSimulator` (which holds the state)."""

    def __init__(self, sim: SpApiSimulator) -> None:
        self.sim = sim
        self.auto_task: asyncio.Task[None] | None = None

    @property
    def state(self) -> State:
        return self.sim.state  # read per call: /_sim/reset replaces it

    # --- helpers ----------------------------------------------------------------------------------------

    @staticmethod
    def not_found(key: str) -> ApiResult:
        return 400, error_body("InvalidInput", f"Requested order '{key}' not found", "")

    def marketplace_for(self, seller: Seller, requested: str | None, country: str) -> str:
        if requested:
            if seller.marketplace_ids and requested not in seller.marketplace_ids:
                raise InvalidInput(f"Value {requested} for parameter marketplaceId is invalid.")
            return requested
        for marketplace in seller.marketplace_ids:
            info = generator.MARKETPLACES.get(marketplace)
            if info is not None and info.country == country.upper():
                return marketplace
        return seller.marketplace_ids[0] if seller.marketplace_ids else "ATVPDKIKX0DER"

    def shortages(self, seller: str, items: list[dict[str, Any]]) -> dict[str, str]:
        """With strict inventory: SKU → reason ("InvalidSKU" | "InventoryUnavailable") for SKUs that cannot ship."""
        if not self.state.strict_inventory:
            return {}
        wanted: Counter[str] = Counter()
        for item in items:
            wanted[str(item["sellerSku"])] += int(item["quantity"])
        reasons: dict[str, str] = {}
        for sku, units in wanted.items():
            stock = self.state.fba_inventory.get((seller, sku))
            if stock is None:
                reasons[sku] = "InvalidSKU"
            elif stock.fulfillable < units:
                reasons[sku] = "InventoryUnavailable"
        return reasons

    def reserve(self, record: FulfillmentOrderRecord) -> None:
        wanted: Counter[str] = Counter()
        for item in record.items:
            wanted[str(item["sellerSku"])] += int(item["quantity"])
        for sku, units in wanted.items():
            stock = self.state.fba_inventory.get((record.seller, sku))
            take = min(units, max(stock.fulfillable, 0)) if stock is not None else 0
            if stock is not None and take:
                stock.fulfillable -= take
                stock.reserved += take
                stock.updated = time.time()  # lastUpdatedTime in getInventorySummaries
                record.reserved[sku] = take

    def consume(self, record: FulfillmentOrderRecord, sku: str, units: int) -> None:
        take = min(units, record.reserved.get(sku, 0))
        stock = self.state.fba_inventory.get((record.seller, sku))
        if take and stock is not None:
            record.reserved[sku] -= take
            stock.reserved = max(0, stock.reserved - take)
            stock.updated = time.time()
        if not record.reserved.get(sku):
            record.reserved.pop(sku, None)

    def release(self, record: FulfillmentOrderRecord) -> None:
        for sku, units in record.reserved.items():
            stock = self.state.fba_inventory.get((record.seller, sku))
            if stock is not None:
                stock.fulfillable += units
                stock.reserved = max(0, stock.reserved - units)
                stock.updated = time.time()
        record.reserved.clear()

    def shipment_id(self) -> str:
        alphabet = string.ascii_letters + string.digits
        return "D" + "".join(self.sim.rng.choice(alphabet) for _ in range(8))

    def tracking_number(self) -> str:
        alphabet = string.ascii_uppercase + string.digits
        middle = "".join(self.sim.rng.choice(alphabet) for _ in range(6))
        return f"1Z{middle}03{self.sim.rng.randrange(10**8):08d}"

    def package_number(self) -> int:
        number = self.state.next_package_number
        self.state.next_package_number += 1
        return number

    @staticmethod
    def payload(record: FulfillmentOrderRecord) -> dict[str, Any]:
        return {
            "fulfillmentOrder": record.order,
            "fulfillmentOrderItems": record.items,
            "fulfillmentShipments": record.shipments,
            "returnItems": [],
            "returnAuthorizations": [],
        }

    def control_json(self, record: FulfillmentOrderRecord) -> dict[str, Any]:
        """getFulfillmentOrder's payload plus what only the simulator knows, under `_sim`."""
        return {
            **self.payload(record),
            "_sim": {
                "seller": record.seller,
                "status": record.status,
                "request": record.request,
                "reserved": dict(record.reserved),
                "history": list(record.history),
            },
        }

    # --- createFulfillmentOrder -------------------------------------------------------------------------

    async def create(self, request: Request, seller: Seller) -> ApiResult:
        body = await _body(request)
        p = Problems()
        p.string(body, "marketplaceId", "marketplaceId")
        key = p.string(body, "sellerFulfillmentOrderId", "sellerFulfillmentOrderId", required=True, max_len=40)
        p.string(body, "displayableOrderId", "displayableOrderId", required=True, max_len=40)
        p.timestamp(body, "displayableOrderDate", "displayableOrderDate", required=True)
        p.string(body, "displayableOrderComment", "displayableOrderComment", required=True, max_len=750)
        speed = p.enum(body, "shippingSpeedCategory", "shippingSpeedCategory", SPEEDS, required=True)
        address = p.address(body, "destinationAddress")
        action = p.enum(body, "fulfillmentAction", "fulfillmentAction", ACTIONS)
        p.enum(body, "fulfillmentPolicy", "fulfillmentPolicy", POLICIES)
        emails = p.array(body, "notificationEmails", "notificationEmails")
        for n, email in enumerate(emails or [], start=1):
            if not isinstance(email, str) or len(email) > 64:
                p.add(email, f"notificationEmails.{n}.member", "Member must be a string of at most 64 characters")
        items = p.items(body)
        if speed == "ScheduledDelivery" and action == "Hold":
            p.add(action, "fulfillmentAction", "Hold is not a valid fulfillmentAction for ScheduledDelivery")
        p.check()
        _line_checks(items)
        assert key is not None
        request_body = _without_stray_keys(body)
        existing = self.state.fulfillment_orders.get((seller.selling_partner_id, key))
        if existing is not None:
            if existing.request == request_body:
                return 200, {}  # the same order again: nothing new (simulator choice, see README)
            raise InvalidInput(
                f"A fulfillment order with sellerFulfillmentOrderId '{key}' already exists with different content."
            )
        marketplace = self.marketplace_for(seller, body.get("marketplaceId"), str(address.get("countryCode", "")))
        for sku, reason in self.shortages(seller.selling_partner_id, items).items():
            item = next(i for i in items if i["sellerSku"] == sku)
            item_id = item["sellerFulfillmentOrderItemId"]
            if reason == "InvalidSKU":
                detail = f"SellerSKU '{sku}' is not in this seller's FBA inventory."
                raise InvalidInput(f"the SellerSKU for Item Id: {item_id} is invalid.", detail)
            stock = self.state.fba_inventory[(seller.selling_partner_id, sku)]
            raise InvalidInput(
                f"Not enough fulfillable inventory for SellerSKU '{sku}' (Item Id: {item_id}): "
                f"{max(stock.fulfillable, 0)} available.",
                "InventoryUnavailable",
            )
        record = self.new_record(seller, key, request_body, marketplace, time.time())
        self.state.fulfillment_orders[(seller.selling_partner_id, key)] = record
        self.reserve(record)
        if self.state.subscriptions:
            self.sim.notifications.fulfillment_changed(
                record, status_changed=True, new_shipments=[], cancelled_shipments=[]
            )
        return 200, {}

    def new_record(
        self, seller: Seller, key: str, body: dict[str, Any], marketplace: str, now: float
    ) -> FulfillmentOrderRecord:
        now = float(int(now))
        stamp = format_timestamp(now)
        address_in = body["destinationAddress"]
        order: dict[str, Any] = {
            "sellerFulfillmentOrderId": key,
            "marketplaceId": marketplace,
            "displayableOrderId": body["displayableOrderId"],
            "displayableOrderDate": format_timestamp(parse_timestamp(body["displayableOrderDate"]) or now),
            "displayableOrderComment": body["displayableOrderComment"],
            "shippingSpeedCategory": body["shippingSpeedCategory"],
        }
        if "deliveryWindow" in body:
            order["deliveryWindow"] = body["deliveryWindow"]
        order["destinationAddress"] = {k: address_in[k] for k in ADDRESS_LIMITS if address_in.get(k) is not None}
        order["fulfillmentAction"] = body.get("fulfillmentAction") or "Ship"
        order["fulfillmentPolicy"] = body.get("fulfillmentPolicy") or "FillOrKill"
        if "codSettings" in body:
            order["codSettings"] = body["codSettings"]
        order["receivedDate"] = stamp
        order["fulfillmentOrderStatus"] = "New"
        order["statusUpdatedDate"] = stamp
        if body.get("notificationEmails"):
            order["notificationEmails"] = body["notificationEmails"]
        if "featureConstraints" in body:
            order["featureConstraints"] = body["featureConstraints"]
        ship = now + DAY
        arrive = ship + TRANSIT_DAYS[body["shippingSpeedCategory"]] * DAY
        items = []
        for given in body["items"]:
            item: dict[str, Any] = {
                "sellerSku": given["sellerSku"],
                "sellerFulfillmentOrderItemId": given["sellerFulfillmentOrderItemId"],
                "quantity": given["quantity"],
            }
            for optional in ("giftMessage", "displayableComment"):
                if given.get(optional) is not None:
                    item[optional] = given[optional]
            item["fulfillmentNetworkSku"] = given.get("fulfillmentNetworkSku") or _fnsku(
                seller.selling_partner_id, given["sellerSku"]
            )
            item["orderItemDisposition"] = "Sellable"
            item["cancelledQuantity"] = 0
            item["unfulfillableQuantity"] = 0
            item["estimatedShipDate"] = format_timestamp(ship)
            item["estimatedArrivalDate"] = format_timestamp(arrive)
            for money in ("perUnitPrice", "perUnitTax", "perUnitDeclaredValue"):
                if given.get(money) is not None:
                    item[money] = given[money]
            items.append(item)
        return FulfillmentOrderRecord(
            key=key, seller=seller.selling_partner_id, request=body, order=order, items=items, shipments=[],
            received=now, updated=now, reserved={}, history=[{"status": "New", "at": stamp}],
        )  # fmt: skip

    # --- getFulfillmentOrder, listAllFulfillmentOrders, cancelFulfillmentOrder --------------------------

    async def get(self, request: Request, seller: Seller) -> ApiResult:
        key = request.path_params["order_id"]
        if len(key) > 40:
            raise InvalidInput(
                f"1 validation error detected: Value {_show(key)} at 'sellerFulfillmentOrderId' failed to satisfy "
                "constraint: Member must have length less than or equal to 40"
            )
        record = self.state.fulfillment_orders.get((seller.selling_partner_id, key))
        if record is None:
            return self.not_found(key)
        return 200, {"payload": self.payload(record)}

    async def list_all(self, request: Request, seller: Seller) -> ApiResult:
        token = request.query_params.get("nextToken")
        if token:  # a nextToken carries the query (like getOrders' NextToken)
            query = self.sim.unsign(token)
            after_raw = query.get("after")
            if query.get("t") != "fo" or query.get("seller") != seller.selling_partner_id or not after_raw:
                raise InvalidInput("Invalid NextToken")
            start = query.get("start")
            after: tuple[float, str] | None = (float(after_raw[0]), str(after_raw[1]))
        else:
            raw = request.query_params.get("queryStartDate")
            start = None
            if raw:
                start = parse_timestamp(raw)
                if start is None:
                    raise InvalidInput(
                        f"1 validation error detected: Value {_show(raw)} at 'queryStartDate' failed to satisfy "
                        "constraint: Member must be an ISO 8601 date-time"
                    )
            after = None
        mine = [
            (record.updated, record.key)
            for (owner, _), record in self.state.fulfillment_orders.items()
            if owner == seller.selling_partner_id and (start is None or record.updated >= float(start))
        ]
        mine.sort()
        if after is not None:
            mine = [entry for entry in mine if entry > after]
        size = self.state.fulfillment_page_size
        page = mine[:size]
        payload: dict[str, Any] = {
            "fulfillmentOrders": [
                self.state.fulfillment_orders[(seller.selling_partner_id, key)].order for _, key in page
            ]
        }
        if len(mine) > size:
            last = page[-1]
            payload["nextToken"] = self.sim.sign(
                {"t": "fo", "seller": seller.selling_partner_id, "start": start, "after": [last[0], last[1]]}
            )
        return 200, {"payload": payload}

    async def cancel(self, request: Request, seller: Seller) -> ApiResult:
        key = request.path_params["order_id"]
        record = self.state.fulfillment_orders.get((seller.selling_partner_id, key))
        if record is None:
            return self.not_found(key)
        status = record.status
        if status == "Cancelled":
            return 200, {}  # already cancelled: nothing to do
        if status not in EARLY:
            raise InvalidInput(
                f"Fulfillment order '{key}' cannot be cancelled: its status is {status}. Orders can be cancelled "
                "only while New, Received or Planning."
            )
        self.move(record, "Cancelled", None, None, time.time())
        return 200, {}

    # --- getFulfillmentPreview --------------------------------------------------------------------------

    async def preview(self, request: Request, seller: Seller) -> ApiResult:
        body = await _body(request)
        p = Problems()
        p.string(body, "marketplaceId", "marketplaceId")
        address = p.address(body, "address")
        items = p.items(body)
        speeds_raw = p.array(body, "shippingSpeedCategories", "shippingSpeedCategories")
        for n, speed in enumerate(speeds_raw or [], start=1):
            if speed not in SPEEDS:
                p.add(speed, f"shippingSpeedCategories.{n}.member",
                      f"Member must satisfy enum value set: [{', '.join(SPEEDS)}]")  # fmt: skip
        p.check()
        _line_checks(items)
        speeds = list(dict.fromkeys(speeds_raw)) if speeds_raw else list(DEFAULT_PREVIEW_SPEEDS)
        country = str(address.get("countryCode", "")).upper()
        marketplace = self.marketplace_for(seller, body.get("marketplaceId"), country)
        info = generator.MARKETPLACES.get(marketplace)
        currency = info.currency if info is not None else "USD"
        pounds = info is None or info.country == "US"
        reasons = self.shortages(seller.selling_partner_id, items)
        now = float(int(time.time()))
        previews = []
        for speed in speeds:
            previews.append(self.one_preview(speed, items, reasons, marketplace, currency, pounds, country, now, body))
        return 200, {"payload": {"fulfillmentPreviews": previews}}

    @staticmethod
    def weight(kg: Decimal, pounds: bool) -> dict[str, str]:
        if pounds:
            return {"unit": "POUNDS", "value": f"{kg * Decimal('2.20462'):.2f}"}
        return {"unit": "KILOGRAMS", "value": f"{kg:.2f}"}

    def one_preview(
        self,
        speed: str,
        items: list[dict[str, Any]],
        reasons: dict[str, str],
        marketplace: str,
        currency: str,
        pounds: bool,
        country: str,
        now: float,
        body: dict[str, Any],
    ) -> dict[str, Any]:
        no_sla = speed == "ScheduledDelivery" and country != "JP"  # Amazon: ScheduledDelivery is JP only
        ok = [] if no_sla else [i for i in items if i["sellerSku"] not in reasons]
        bad = items if no_sla else [i for i in items if i["sellerSku"] in reasons]
        preview: dict[str, Any] = {"shippingSpeedCategory": speed, "isFulfillable": not bad, "isCODCapable": False}
        shipments = []
        if ok:
            total_kg = sum((_unit_weight_kg(i["sellerSku"]) * i["quantity"] for i in ok), Decimal(0))
            units = sum(int(i["quantity"]) for i in ok)
            preview["estimatedShippingWeight"] = self.weight(total_kg, pounds)
            fee = UNIT_FEES[speed] * units
            preview["estimatedFees"] = [
                {"name": "FBAPerUnitFulfillmentFee", "amount": {"currencyCode": currency, "value": f"{fee:.2f}"}}
            ]
            ship = now + DAY
            arrive = ship + TRANSIT_DAYS[speed] * DAY
            shipments.append(
                {
                    "earliestShipDate": format_timestamp(ship),
                    "latestShipDate": format_timestamp(ship),
                    "earliestArrivalDate": format_timestamp(arrive),
                    "latestArrivalDate": format_timestamp(arrive + DAY),
                    "fulfillmentPreviewItems": [
                        {
                            "sellerSku": i["sellerSku"],
                            "quantity": i["quantity"],
                            "sellerFulfillmentOrderItemId": i["sellerFulfillmentOrderItemId"],
                            "estimatedShippingWeight": self.weight(
                                _unit_weight_kg(i["sellerSku"]) * i["quantity"], pounds
                            ),
                            "shippingWeightCalculationMethod": "Package",
                        }
                        for i in ok
                    ],
                }
            )
        preview["fulfillmentPreviewShipments"] = shipments
        preview["unfulfillablePreviewItems"] = [
            {
                "sellerSku": i["sellerSku"],
                "quantity": i["quantity"],
                "sellerFulfillmentOrderItemId": i["sellerFulfillmentOrderItemId"],
                "itemUnfulfillableReasons": ["DeliverySLAUnavailable" if no_sla else reasons[i["sellerSku"]]],
            }
            for i in bad
        ]
        if no_sla:
            preview["orderUnfulfillableReasons"] = ["DeliverySLAUnavailable"]
        preview["marketplaceId"] = marketplace
        if "featureConstraints" in body:
            preview["featureConstraints"] = body["featureConstraints"]
        return preview

    # --- status progression (control API and auto-advance) ----------------------------------------------

    def allowed_moves(self, record: FulfillmentOrderRecord) -> list[str]:
        status = record.status
        if status in TERMINAL:
            return []
        moves = list(MAIN_LINE[MAIN_LINE.index(status) + 1 :])
        if status in EARLY:
            moves += ["Cancelled", "Unfulfillable", "Invalid"]
        else:  # Processing
            moves += ["Complete", "CompletePartialled", "Unfulfillable"]
        return moves

    def move(
        self,
        record: FulfillmentOrderRecord,
        to: str,
        shipments: list[Any] | None,
        unfulfillable: list[Any] | None,
        now: float,
    ) -> None:
        """Move an order to `to` (ValueError, and nothing changed, for an impossible move)."""
        now = float(int(now))
        current = record.status
        if to not in STATUSES:
            raise ValueError(f"unknown status {to!r}; one of {list(STATUSES)}")
        if current in TERMINAL:
            raise ValueError(f"fulfillment order {record.key} is {current}, a final status: it cannot move to {to}")
        updating = to == current == "Processing" and bool(shipments or unfulfillable)
        if to not in self.allowed_moves(record) and not updating:
            raise ValueError(
                f"fulfillment order {record.key} cannot move from {current} to {to}; "
                f"allowed: {self.allowed_moves(record)}"
            )
        if shipments is not None and to not in ("Processing", *FINISHED):
            raise ValueError("shipments can be given only with Processing, Complete or CompletePartialled")
        if unfulfillable and to not in ("Processing", "CompletePartialled"):
            raise ValueError("unfulfillable quantities can be given only with Processing or CompletePartialled")
        items = copy.deepcopy(record.items)
        by_id = {str(i["sellerFulfillmentOrderItemId"]): i for i in items}
        work = copy.deepcopy(record.shipments)
        replaced: list[dict[str, Any]] = []  # PENDING shipments whose ids the given shipments take over
        if shipments is not None:
            replaced = [s for s in work if s["fulfillmentShipmentStatus"] == "PENDING"]
            work = [s for s in work if s["fulfillmentShipmentStatus"] != "PENDING"]
        pool = self.open_units(items, work)
        for item_id, quantity in self.parse_lines(unfulfillable or [], by_id, "unfulfillable"):
            take = min(quantity, pool[item_id])
            pool[item_id] -= take
            missing = quantity - take
            if missing:
                missing = self.take_from_pending(work, item_id, missing)
            if missing:
                raise ValueError(f"item {item_id}: only {quantity - missing} more units can be unfulfillable")
            by_id[item_id]["unfulfillableQuantity"] += quantity
        marketplace = record.order["marketplaceId"]
        info = generator.MARKETPLACES.get(marketplace)
        centre = FULFILLMENT_CENTERS.get(info.country if info else "US", "RNO1")
        speed = record.order["shippingSpeedCategory"]
        for n, spec in enumerate(shipments or [], start=1):
            if not isinstance(spec, dict):
                raise ValueError(f"shipments[{n}] must be an object")
            status = str(spec.get("status") or ("PENDING" if to == "Processing" else "SHIPPED")).upper()
            if status not in GIVEN_SHIPMENT_STATUSES:
                raise ValueError(f"shipments[{n}].status must be one of {list(GIVEN_SHIPMENT_STATUSES)}")
            lines = self.parse_lines(spec.get("items") or [], by_id, f"shipments[{n}].items")
            if not lines:
                raise ValueError(f"shipments[{n}] needs items")
            if status in LIVE_SHIPMENT:
                for item_id, quantity in lines:
                    if quantity > pool[item_id]:
                        have = pool[item_id]
                        raise ValueError(f"shipments[{n}]: item {item_id} has {have} units to ship, not {quantity}")
                    pool[item_id] -= quantity
            reuse = replaced.pop(0) if replaced and status in LIVE_SHIPMENT else None
            shipment = self.new_shipment(
                reuse["amazonShipmentId"] if reuse else self.shipment_id(),
                str(spec.get("fulfillment_center_id") or (reuse["fulfillmentCenterId"] if reuse else centre)),
                [(by_id[i], q) for i, q in lines],
                status,
                speed,
                now,
            )
            if status == "SHIPPED":
                self.ship(shipment, speed, now, spec.get("carrier_code"), spec.get("tracking_number"))
            work.append(shipment)
        for leftover in replaced:  # planned shipments the given ones did not take over: the FC gave up on them
            self.cancel_shipment(leftover, "CANCELLED_BY_FULFILLER")
            work.append(leftover)
        if to == "Processing" and current != "Processing" and shipments is None and any(pool.values()):
            lines_left = [(by_id[i], q) for i, q in pool.items() if q > 0]
            work.append(self.new_shipment(self.shipment_id(), centre, lines_left, "PENDING", speed, now))
            pool = Counter()
        if to in FINISHED:
            if shipments is None:
                for shipment in work:
                    if shipment["fulfillmentShipmentStatus"] == "PENDING":
                        self.ship(shipment, speed, now, None, None)
                if any(pool.values()):
                    lines_left = [(by_id[i], q) for i, q in pool.items() if q > 0]
                    shipment = self.new_shipment(self.shipment_id(), centre, lines_left, "SHIPPED", speed, now)
                    self.ship(shipment, speed, now, None, None)
                    work.append(shipment)
            else:
                for shipment in work:
                    if shipment["fulfillmentShipmentStatus"] == "PENDING":
                        self.ship(shipment, speed, now, None, None)
            left = {i: q for i, q in self.open_units(items, work).items() if q > 0}
            if left and to == "Complete":
                raise ValueError(
                    f"Complete needs every unit shipped, but {left} are neither shipped nor unfulfillable; "
                    "give more shipments or use CompletePartialled"
                )
            for item_id, quantity in left.items():
                by_id[item_id]["unfulfillableQuantity"] += quantity
            shipped = sum(self.shipped_units(work).values())
            short = sum(int(i["unfulfillableQuantity"]) + int(i["cancelledQuantity"]) for i in items)
            if to == "Complete" and short:
                raise ValueError(f"{short} units are unfulfillable or cancelled: use CompletePartialled, not Complete")
            if to == "CompletePartialled" and (not shipped or not short):
                raise ValueError("CompletePartialled needs some units shipped and some unfulfillable")
        elif to == "Cancelled":
            for item in items:
                item["cancelledQuantity"] = int(item["quantity"]) - int(item["unfulfillableQuantity"])
            for shipment in work:
                if shipment["fulfillmentShipmentStatus"] == "PENDING":
                    self.cancel_shipment(shipment, "CANCELLED_BY_SELLER")
        elif to == "Unfulfillable":
            if self.shipped_units(work):
                raise ValueError("units have shipped already: use CompletePartialled, not Unfulfillable")
            for item in items:
                item["unfulfillableQuantity"] = int(item["quantity"]) - int(item["cancelledQuantity"])
            for shipment in work:
                if shipment["fulfillmentShipmentStatus"] == "PENDING":
                    self.cancel_shipment(shipment, "CANCELLED_BY_FULFILLER")
        # Commit: nothing above raised, so the move is possible.
        before = {str(x["amazonShipmentId"]): str(x["fulfillmentShipmentStatus"]) for x in record.shipments}
        shipped_before = self.shipped_by_sku(record.shipments, record.items)
        shipped_after = self.shipped_by_sku(work, items)
        for item in items:
            if int(item["cancelledQuantity"]) + int(item["unfulfillableQuantity"]) >= int(item["quantity"]):
                item.pop("estimatedShipDate", None)
                item.pop("estimatedArrivalDate", None)
        record.items, record.shipments = items, work
        for sku, units in shipped_after.items():
            if units > shipped_before.get(sku, 0):
                self.consume(record, sku, units - shipped_before.get(sku, 0))
        if to != current:
            stamp = format_timestamp(now)
            record.order["fulfillmentOrderStatus"] = to
            record.order["statusUpdatedDate"] = stamp
            record.updated = now
            record.history.append({"status": to, "at": stamp})
        if to in TERMINAL:
            self.release(record)
        if self.state.subscriptions:
            created = [x for x in work if str(x["amazonShipmentId"]) not in before]
            cancelled = [
                x for x in work
                if str(x["fulfillmentShipmentStatus"]).startswith("CANCELLED")
                and not before.get(str(x["amazonShipmentId"]), "CANCELLED").startswith("CANCELLED")
            ]  # fmt: skip
            self.sim.notifications.fulfillment_changed(
                record, status_changed=to != current, new_shipments=created, cancelled_shipments=cancelled
            )

    @staticmethod
    def parse_lines(lines: Any, by_id: dict[str, dict[str, Any]], where: str) -> list[tuple[str, int]]:
        if not isinstance(lines, list):
            raise ValueError(f"{where} must be a list of {{sellerFulfillmentOrderItemId, quantity}}")
        parsed = []
        for line in lines:
            if not isinstance(line, dict):
                raise ValueError(f"{where}: each entry must be {{sellerFulfillmentOrderItemId, quantity}}")
            item_id = str(line.get("sellerFulfillmentOrderItemId"))
            quantity = line.get("quantity")
            if item_id not in by_id:
                raise ValueError(f"{where}: no item {item_id!r} in this fulfillment order")
            if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
                raise ValueError(f"{where}: quantity for {item_id} must be a positive integer")
            parsed.append((item_id, quantity))
        return parsed

    @staticmethod
    def open_units(items: list[dict[str, Any]], shipments: list[dict[str, Any]]) -> Counter[str]:
        """Units per item that are neither cancelled, unfulfillable, nor in a pending or shipped shipment."""
        pool: Counter[str] = Counter()
        for item in items:
            pool[str(item["sellerFulfillmentOrderItemId"])] = (
                int(item["quantity"]) - int(item["cancelledQuantity"]) - int(item["unfulfillableQuantity"])
            )
        for shipment in shipments:
            if shipment["fulfillmentShipmentStatus"] in LIVE_SHIPMENT:
                for line in shipment["fulfillmentShipmentItem"]:
                    pool[str(line["sellerFulfillmentOrderItemId"])] -= int(line["quantity"])
        return pool

    @staticmethod
    def shipped_units(shipments: list[dict[str, Any]]) -> Counter[str]:
        shipped: Counter[str] = Counter()
        for shipment in shipments:
            if shipment["fulfillmentShipmentStatus"] == "SHIPPED":
                for line in shipment["fulfillmentShipmentItem"]:
                    shipped[str(line["sellerFulfillmentOrderItemId"])] += int(line["quantity"])
        return shipped

    def shipped_by_sku(self, shipments: list[dict[str, Any]], items: list[dict[str, Any]]) -> Counter[str]:
        skus = {str(i["sellerFulfillmentOrderItemId"]): str(i["sellerSku"]) for i in items}
        by_sku: Counter[str] = Counter()
        for item_id, units in self.shipped_units(shipments).items():
            by_sku[skus[item_id]] += units
        return by_sku

    @staticmethod
    def take_from_pending(shipments: list[dict[str, Any]], item_id: str, units: int) -> int:
        """Take up to `units` of an item out of pending shipments; returns what could not be taken."""
        for shipment in shipments:
            if shipment["fulfillmentShipmentStatus"] != "PENDING" or not units:
                continue
            for line in shipment["fulfillmentShipmentItem"]:
                if str(line["sellerFulfillmentOrderItemId"]) == item_id and units:
                    take = min(units, int(line["quantity"]))
                    line["quantity"] -= take
                    units -= take
            shipment["fulfillmentShipmentItem"] = [
                line for line in shipment["fulfillmentShipmentItem"] if line["quantity"] > 0
            ]
        shipments[:] = [
            s for s in shipments if s["fulfillmentShipmentStatus"] != "PENDING" or s["fulfillmentShipmentItem"]
        ]
        return units

    @staticmethod
    def new_shipment(
        shipment_id: str,
        centre: str,
        lines: list[tuple[dict[str, Any], int]],
        status: str,
        speed: str,
        now: float,
    ) -> dict[str, Any]:
        shipment: dict[str, Any] = {
            "amazonShipmentId": shipment_id,
            "fulfillmentCenterId": centre,
            "fulfillmentShipmentStatus": "PENDING" if status == "SHIPPED" else status,
        }
        if status in LIVE_SHIPMENT:
            shipment["shippingDate"] = format_timestamp(now + DAY)  # PENDING: the estimated departure
            shipment["estimatedArrivalDate"] = format_timestamp(now + DAY + TRANSIT_DAYS[speed] * DAY)
        shipment["fulfillmentShipmentItem"] = [
            {
                "sellerSku": item["sellerSku"],
                "sellerFulfillmentOrderItemId": item["sellerFulfillmentOrderItemId"],
                "quantity": quantity,
                "packageNumber": 0,
            }
            for item, quantity in lines
        ]
        return shipment

    def ship(self, shipment: dict[str, Any], speed: str, now: float, carrier: Any, tracking: Any) -> None:
        """A PENDING shipment leaves the fulfillment center in one package."""
        number = self.package_number()
        arrival = format_timestamp(now + TRANSIT_DAYS[speed] * DAY)
        shipment["fulfillmentShipmentStatus"] = "SHIPPED"
        shipment["shippingDate"] = format_timestamp(now)
        shipment["estimatedArrivalDate"] = arrival
        for line in shipment["fulfillmentShipmentItem"]:
            line["packageNumber"] = number
        shipment["fulfillmentShipmentPackage"] = [
            {
                "packageNumber": number,
                "carrierCode": str(carrier) if carrier else "UPS",
                "trackingNumber": str(tracking) if tracking else self.tracking_number(),
                "estimatedArrivalDate": arrival,
            }
        ]

    @staticmethod
    def cancel_shipment(shipment: dict[str, Any], status: str) -> None:
        shipment["fulfillmentShipmentStatus"] = status
        shipment.pop("shippingDate", None)  # Amazon: not returned for cancelled shipments
        shipment.pop("estimatedArrivalDate", None)

    def step(self, record: FulfillmentOrderRecord, now: float) -> None:
        """Auto-advance: one step along New → Received → Planning → Processing → Complete (held orders wait
        in Received; an order with unfulfillable units ends CompletePartialled)."""
        status = record.status
        if status == "Received" and record.order.get("fulfillmentAction") == "Hold":
            return
        if status in MAIN_LINE[:-1]:
            self.move(record, MAIN_LINE[MAIN_LINE.index(status) + 1], None, None, now)
            return
        try:
            self.move(record, "Complete", None, None, now)
        except ValueError:
            with contextlib.suppress(ValueError):
                self.move(record, "CompletePartialled", None, None, now)

    def start_auto_advance(self) -> None:
        self.stop_auto_advance()
        if self.state.auto_advance_seconds > 0:
            self.auto_task = asyncio.create_task(self.auto_advance_loop())

    def stop_auto_advance(self) -> None:
        if self.auto_task is not None:
            self.auto_task.cancel()
            self.auto_task = None

    async def auto_advance_loop(self) -> None:
        while True:
            every = self.state.auto_advance_seconds
            if every <= 0:
                return
            await asyncio.sleep(min(every, 1.0))
            now = time.time()
            for record in list(self.state.fulfillment_orders.values()):
                if record.status not in TERMINAL and now - record.updated >= every:
                    self.step(record, now)

    # --- control API --------------------------------------------------------------------------------------

    def find(self, request: Request) -> FulfillmentOrderRecord:
        key = request.path_params["order_id"]
        seller = request.query_params.get("seller")
        for (owner, order_key), record in self.state.fulfillment_orders.items():
            if order_key == key and (seller is None or owner == seller):
                return record
        raise LookupError(key)

    async def control_orders(self, request: Request) -> Any:
        seller = request.query_params.get("seller")
        records = sorted(self.state.fulfillment_orders.values(), key=lambda r: (r.received, r.key))
        return {"fulfillment_orders": [self.control_json(r) for r in records if seller in (None, r.seller)]}

    async def control_order(self, request: Request) -> Any:
        try:
            record = self.find(request)
        except LookupError:
            return json_response({"error": f"no fulfillment order {request.path_params['order_id']}"}, 404)
        if request.method == "POST":
            data = await read_json_object(request)
            unknown = set(data) - {"to", "shipments", "unfulfillable"}
            if unknown:
                raise ValueError(f"unknown keys {sorted(unknown)}; allowed: to, shipments, unfulfillable")
            shipments = data.get("shipments")
            if shipments is not None and not isinstance(shipments, list):
                raise ValueError("shipments must be a list")
            self.move(record, str(data.get("to", "")), shipments, data.get("unfulfillable"), time.time())
        return self.control_json(record)

    async def order_shipments(self, request: Request) -> Any:
        order_id = request.path_params["order_id"]
        if order_id not in self.state.orders:
            return json_response({"error": f"order {order_id} not found"}, 404)
        return {"order_id": order_id, "confirmations": self.state.shipment_confirmations.get(order_id, [])}

    # --- Orders v0 confirmShipment ------------------------------------------------------------------------

    async def confirm_shipment(self, request: Request, seller: Seller) -> ApiResult:
        body = await _body(request)
        p = Problems()
        marketplace = p.string(body, "marketplaceId", "marketplaceId", required=True)
        p.enum(body, "codCollectionMethod", "codCollectionMethod", ("DirectPayment",))
        detail = p.obj(body, "packageDetail", "packageDetail", required=True)
        if detail is not None:
            path = "packageDetail"
            reference = p.string(detail, "packageReferenceId", f"{path}.packageReferenceId", required=True)
            if reference and reference.strip() and not (reference.isascii() and reference.isdigit() and int(reference)):
                p.add(reference, f"{path}.packageReferenceId", "Member must be a positive number")
            carrier = p.string(detail, "carrierCode", f"{path}.carrierCode", required=True)
            p.string(detail, "carrierName", f"{path}.carrierName", required=carrier in OTHER_CARRIERS)
            p.string(detail, "shippingMethod", f"{path}.shippingMethod")
            p.string(detail, "trackingNumber", f"{path}.trackingNumber", required=True)
            p.timestamp(detail, "shipDate", f"{path}.shipDate", required=True)
            p.string(detail, "shipFromSupplySourceId", f"{path}.shipFromSupplySourceId")
            lines = p.array(detail, "orderItems", f"{path}.orderItems", required=True)
            for n, line in enumerate(lines or [], start=1):
                where = f"{path}.orderItems.{n}.member"
                if not isinstance(line, dict):
                    p.add(line, where, "Member must be an object")
                    continue
                p.string(line, "orderItemId", f"{where}.orderItemId", required=True)
                p.integer(line, "quantity", f"{where}.quantity", minimum=1)
                p.array(line, "transparencyCodes", f"{where}.transparencyCodes")
        p.check()
        assert detail is not None
        order_id = request.path_params["order_id"]
        stored = self.state.orders.get(order_id)
        if stored is None or stored.seller != seller.selling_partner_id:
            return self.sim.not_found(order_id)
        content = _without_stray_keys(body)
        reference = str(detail["packageReferenceId"])
        confirmations = self.state.shipment_confirmations.get(order_id, [])
        for confirmation in confirmations:
            if confirmation["packageDetail"]["packageReferenceId"] == reference:
                sent = {k: v for k, v in confirmation.items() if k not in ("received_at", "repeats")}
                if sent != content:
                    raise InvalidInput(
                        f"packageReferenceId {reference} was already confirmed for order {order_id} with different "
                        "content."
                    )
                confirmation["repeats"] += 1
                return 204, None  # the same package again: already confirmed (simulator choice, see README)
        order = stored.source
        if marketplace != stored.marketplace_id:
            raise InvalidInput(f"marketplaceId {marketplace} does not match order {order_id}'s marketplace.")
        if order.get("FulfillmentChannel") != "MFN":
            raise InvalidInput(
                f"Order {order_id} is fulfilled by Amazon ({order.get('FulfillmentChannel')}); only merchant-fulfilled "
                "(MFN) orders can be confirmed."
            )
        status = order.get("OrderStatus")
        if status in PENDING_STATUSES or status in ("Canceled", "Unfulfillable"):
            raise InvalidInput(f"Order {order_id} is {status}: its shipment cannot be confirmed.")
        wanted: Counter[str] = Counter()
        for line in detail["orderItems"]:
            wanted[str(line["orderItemId"])] += int(line["quantity"])
        by_id = {str(item.get("OrderItemId")): item for item in stored.source_items if isinstance(item, dict)}
        for item_id, quantity in wanted.items():
            item = by_id.get(item_id)
            if item is None:
                raise InvalidInput(f"orderItemId {item_id} is not an item of order {order_id}.")
            ordered, shipped = item.get("QuantityOrdered"), item.get("QuantityShipped", 0)
            if not isinstance(ordered, int) or not isinstance(shipped, int):
                raise InvalidInput(f"Order item {item_id} of order {order_id} has no usable quantities.")
            if quantity > ordered - shipped:
                raise InvalidInput(
                    f"Quantity {quantity} for orderItemId {item_id} exceeds the {ordered - shipped} units of order "
                    f"{order_id} not yet shipped."
                )
        now = time.time()
        items = [
            {**item, "QuantityShipped": item.get("QuantityShipped", 0) + wanted[str(item.get("OrderItemId"))]}
            if isinstance(item, dict) and str(item.get("OrderItemId")) in wanted
            else item
            for item in stored.source_items
        ]
        ordered_units = sum(int(i.get("QuantityOrdered", 0)) for i in items if isinstance(i, dict))
        shipped_units = sum(int(i.get("QuantityShipped", 0)) for i in items if isinstance(i, dict))
        updated = {
            **order,
            "OrderStatus": "Shipped" if shipped_units >= ordered_units else "PartiallyShipped",
            "LastUpdateDate": format_timestamp(now),
            "NumberOfItemsShipped": shipped_units,
            "NumberOfItemsUnshipped": ordered_units - shipped_units,
        }
        owner = self.state.sellers[stored.seller]
        self.sim.store(owner, updated, items, stored.address, raw=stored.raw, complete=True)
        self.state.shipment_confirmations.setdefault(order_id, []).append(
            {**content, "received_at": format_timestamp(now), "repeats": 0}
        )
        return 204, None
