"""FBA Inventory v1 getInventorySummaries for the SP-API simulator, and the control API of the FBA stock.

The stock is the one `fulfillment.py` reserves, consumes and releases for MCF orders (`State.fba_inventory`, per
seller and SKU, served for every marketplace of the seller). Paths, parameters and shapes follow Amazon's model
(`fbaInventory.json`: `GetInventorySummariesResponse`, `InventorySummary`, `InventoryDetails`, `ReservedQuantity`,
`ResearchingQuantity`, `UnfulfillableQuantity`, `Pagination`) and its sandbox example; the usage plan (2/s, burst 2)
and the rules on `startDateTime` + `nextToken` from Amazon's current reference and changelog. Wording from Amazon's
answers quoted in public issues where one was found (cited below); the rest is listed in README.md.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from simulators.common import read_json_object
from simulators.spapi import generator
from simulators.spapi.fulfillment import _fnsku
from simulators.spapi.state import InvalidInput, InventoryRecord, Seller, State, format_timestamp, parse_timestamp

if TYPE_CHECKING:
    from simulators.spapi.app import SpApiSimulator

ApiResult = tuple[int, Any]

MAX_SKUS = 50  # sellerSkus maxItems
HISTORY_SECONDS = 18 * 30.44 * 86400  # startDateTime: "no earlier than 18 months prior to" now
# Control-API names of the seeded quantities → InventoryRecord fields. `fulfillable` moves lastUpdatedTime; the
# inbound ones do not ("Changes in inboundWorkingQuantity, inboundShippedQuantity and inboundReceivingQuantity are
# not detected.", the model's startDateTime description).
INBOUND = ("inbound_working", "inbound_shipped", "inbound_receiving")
RESERVED = ("pending_customer_order", "pending_transshipment", "fc_processing")
UNFULFILLABLE = {
    "customer_damaged": "customerDamagedQuantity",
    "warehouse_damaged": "warehouseDamagedQuantity",
    "distributor_damaged": "distributorDamagedQuantity",
    "carrier_damaged": "carrierDamagedQuantity",
    "defective": "defectiveQuantity",
    "expired": "expiredQuantity",
}
RESEARCHING = {
    "short_term": ("researching_short_term", "researchingQuantityInShortTerm"),
    "mid_term": ("researching_mid_term", "researchingQuantityInMidTerm"),
    "long_term": ("researching_long_term", "researchingQuantityInLongTerm"),
}
# amzn/selling-partner-api-models#4946 ("Next token is invalid or expired"); selling-partner-api-docs#1595 (a bad
# startDateTime: "Query parameter [startDateTime] value is not a valid ISO date-time object").
TOKEN_REFUSED = "Next token is invalid or expired"


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer")
    return value


def _multi(request: Request, name: str) -> list[str]:
    values: list[str] = []
    for raw in request.query_params.getlist(name):
        values.extend(part.strip() for part in raw.split(",") if part.strip())
    return values


def reserved_total(stock: InventoryRecord) -> int:
    return stock.reserved + stock.pending_customer_order + stock.pending_transshipment + stock.fc_processing


def unfulfillable_total(stock: InventoryRecord) -> int:
    return sum(int(getattr(stock, name)) for name in UNFULFILLABLE)


def researching_total(stock: InventoryRecord) -> int:
    return stock.researching_short_term + stock.researching_mid_term + stock.researching_long_term


def total_quantity(stock: InventoryRecord) -> int:
    """totalQuantity: "The total number of units in an inbound shipment or in Amazon fulfillment centers." """
    inbound = stock.inbound_working + stock.inbound_shipped + stock.inbound_receiving
    return stock.fulfillable + inbound + reserved_total(stock) + unfulfillable_total(stock) + researching_total(stock)


def summary_json(seller: str, sku: str, stock: InventoryRecord, *, details: bool) -> dict[str, Any]:
    """An `InventorySummary`, in the model example's field order."""
    summary: dict[str, Any] = {
        "asin": stock.asin or generator.sku_asin(sku),
        "fnSku": stock.fnsku or _fnsku(seller, sku),
        "sellerSku": sku,
        "condition": stock.condition,
    }
    if details:
        summary["inventoryDetails"] = {
            "fulfillableQuantity": stock.fulfillable,
            "inboundWorkingQuantity": stock.inbound_working,
            "inboundShippedQuantity": stock.inbound_shipped,
            "inboundReceivingQuantity": stock.inbound_receiving,
            "reservedQuantity": {
                "totalReservedQuantity": reserved_total(stock),
                "pendingCustomerOrderQuantity": stock.reserved + stock.pending_customer_order,
                "pendingTransshipmentQuantity": stock.pending_transshipment,
                "fcProcessingQuantity": stock.fc_processing,
            },
            "researchingQuantity": {
                "totalResearchingQuantity": researching_total(stock),
                "researchingQuantityBreakdown": [
                    {"name": name, "quantity": int(getattr(stock, field))} for field, name in RESEARCHING.values()
                ],
            },
            "unfulfillableQuantity": {
                "totalUnfulfillableQuantity": unfulfillable_total(stock),
                **{name: int(getattr(stock, field)) for field, name in UNFULFILLABLE.items()},
            },
        }
    summary["lastUpdatedTime"] = format_timestamp(stock.updated)
    summary["productName"] = stock.product_name or generator.sku_title(sku)
    summary["totalQuantity"] = total_quantity(stock)
    return summary


class Inventory:
    """The FBA Inventory handlers of one `SpApiSimulator` (which holds the state)."""

    def __init__(self, sim: SpApiSimulator) -> None:
        self.sim = sim

    @property
    def state(self) -> State:
        return self.sim.state  # read per call: /_sim/reset replaces it

    # --- getInventorySummaries ------------------------------------------------------------------------

    def query(self, request: Request, seller: Seller, now: float) -> dict[str, Any]:
        q = request.query_params
        granularity_type, granularity_id = q.get("granularityType"), q.get("granularityId")
        markets = _multi(request, "marketplaceIds")
        missing = [name for name, value in (("granularityType", granularity_type), ("granularityId", granularity_id),
                                            ("marketplaceIds", markets)) if not value]  # fmt: skip
        if missing:
            raise InvalidInput("One or more required parameters missing", "".join(f"{name};" for name in missing))
        if granularity_type != "Marketplace":
            raise InvalidInput(f"Invalid granularityType {granularity_type}: the only value is Marketplace.", "")
        if len(markets) > 1:
            raise InvalidInput("marketplaceIds may contain only one marketplace.", "")
        if granularity_id != markets[0]:
            raise InvalidInput("granularityId must be the marketplace given in marketplaceIds.", "")
        if seller.marketplace_ids and granularity_id not in seller.marketplace_ids:
            raise InvalidInput(f"Value {granularity_id} for parameter marketplaceIds is invalid.", "")
        details = q.get("details", "false").strip().lower()
        if details not in ("true", "false"):
            raise InvalidInput(f"Query parameter [details] value '{q.get('details')}' is not a valid boolean.", "")
        start: float | None = None
        raw_start = q.get("startDateTime")
        if raw_start is not None:
            start = parse_timestamp(raw_start)
            if start is None:
                raise InvalidInput("Query parameter [startDateTime] value is not a valid ISO date-time object", "")
            if start < now - HISTORY_SECONDS:
                raise InvalidInput("startDateTime must be no earlier than 18 months before the current time.", "")
        skus = _multi(request, "sellerSkus")
        if len(skus) > MAX_SKUS:
            raise InvalidInput(f"sellerSkus may contain at most {MAX_SKUS} values.", "")
        single = q.get("sellerSku")
        # "When startDateTime is provided, ... The sellerSkus and sellerSku parameters are ignored." sellerSkus wins
        # over sellerSku.
        chosen = [] if start is not None else (skus or ([single] if single else []))
        return {"market": granularity_id, "details": details == "true", "start": start, "skus": chosen}

    async def summaries(self, request: Request, seller: Seller) -> ApiResult:
        state = self.state
        now = time.time()
        seller_id = seller.selling_partner_id
        query = self.query(request, seller, now)
        token = request.query_params.get("nextToken")
        after: str | None = None
        if token:
            try:
                carried = self.sim.unsign(token)
            except InvalidInput:
                raise InvalidInput(TOKEN_REFUSED, "") from None
            if carried.get("t") != "inventory" or carried.get("seller") != seller_id:
                raise InvalidInput(TOKEN_REFUSED, "")
            if now > float(carried.get("issued", 0)) + state.inventory_token_ttl_seconds:
                raise InvalidInput(TOKEN_REFUSED, "")
            # "use both startDateTime and nextToken to get the next page ... passing only nextToken in subsequent
            # requests after initiating the request with startDateTime will result in an error" (changelog 2022).
            if carried.get("start") is not None and query["start"] is None:
                raise InvalidInput(
                    "startDateTime is required with a nextToken from a request made with startDateTime.", ""
                )
            query = {**query, "start": carried.get("start"), "skus": carried.get("skus") or [],
                     "market": carried.get("market")}  # fmt: skip
            after = str(carried.get("after"))
        start, wanted = query["start"], set(query["skus"])
        rows = sorted(
            (
                (sku, stock)
                for (owner, sku), stock in state.fba_inventory.items()
                if owner == seller_id
                and (start is None or stock.updated >= start)
                and (not wanted or sku in wanted)
                and (after is None or sku > after)
            ),
            key=lambda row: row[0],
        )  # by SKU, as Amazon pages them (selling-partner-api-docs#2312)
        size = state.inventory_page_size
        page = rows[:size]
        answer: dict[str, Any] = {
            "payload": {
                "granularity": {"granularityType": "Marketplace", "granularityId": query["market"]},
                "inventorySummaries": [
                    summary_json(seller_id, sku, stock, details=query["details"]) for sku, stock in page
                ],
            }
        }
        if len(rows) > size:
            carried = {"t": "inventory", "seller": seller_id, "market": query["market"], "start": start,
                       "skus": sorted(wanted), "after": page[-1][0], "issued": now}  # fmt: skip
            answer["pagination"] = {"nextToken": self.sim.sign(carried)}
        return 200, answer

    # --- control API -----------------------------------------------------------------------------------

    @staticmethod
    def short_json(seller: str, sku: str, stock: InventoryRecord) -> dict[str, Any]:
        """What POST /_sim/fba-inventory has always answered: free units and units held by open MCF orders."""
        return {"seller": seller, "sku": sku, "fulfillable": stock.fulfillable, "reserved": stock.reserved}

    @staticmethod
    def full_json(seller: str, sku: str, stock: InventoryRecord) -> dict[str, Any]:
        return {
            "seller": seller, "sku": sku, "fulfillable": stock.fulfillable, "reserved": stock.reserved,
            **{name: int(getattr(stock, name)) for name in (*INBOUND, *RESERVED)},
            "unfulfillable": {name: int(getattr(stock, name)) for name in UNFULFILLABLE},
            "researching": {name: int(getattr(stock, field)) for name, (field, _) in RESEARCHING.items()},
            "asin": stock.asin or generator.sku_asin(sku), "fnsku": stock.fnsku or _fnsku(seller, sku),
            "product_name": stock.product_name or generator.sku_title(sku), "condition": stock.condition,
            "total": total_quantity(stock), "last_updated": format_timestamp(stock.updated),
        }  # fmt: skip

    async def control(self, request: Request) -> Any:
        state = self.state
        if request.method == "GET":
            seller_filter = request.query_params.get("seller")
            sku_filter = request.query_params.get("sku")
            return {
                "inventory": [
                    self.full_json(seller, sku, stock)
                    for (seller, sku), stock in sorted(state.fba_inventory.items())
                    if seller_filter in (None, seller) and sku_filter in (None, sku)
                ]
            }
        data = await read_json_object(request)
        allowed = {
            "seller", "sku", "fulfillable", *INBOUND, *RESERVED, "unfulfillable", "researching", "asin", "fnsku",
            "product_name", "condition", "last_updated",
        }  # fmt: skip
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}")
        seller = str(data.get("seller", ""))
        if seller not in state.sellers:
            raise ValueError(f"unknown seller {seller!r}: register it with POST /_sim/sellers first")
        sku = data.get("sku")
        if not isinstance(sku, str) or not sku:
            raise ValueError("sku must be a non-empty string")
        stock = state.fba_inventory.get((seller, sku))
        if stock is None and "fulfillable" not in data:
            raise ValueError("fulfillable is required for a SKU the seller has no stock of yet")
        # Everything is checked before anything changes.
        changes: dict[str, Any] = {}
        for name in ("fulfillable", *INBOUND, *RESERVED):
            if name in data:
                changes[name] = _count(data[name], name)
        for key, names in (("unfulfillable", tuple(UNFULFILLABLE)), ("researching", tuple(RESEARCHING))):
            if key in data:
                given = data[key]
                if not isinstance(given, dict) or set(given) - set(names):
                    raise ValueError(f"{key} must be an object with keys among {list(names)}")
                for name, value in given.items():
                    field = RESEARCHING[name][0] if key == "researching" else name
                    changes[field] = _count(value, f"{key}.{name}")
        for name in ("asin", "fnsku", "product_name", "condition"):
            if name in data:
                if not isinstance(data[name], str):
                    raise ValueError(f"{name} must be a string")
                changes[name] = data[name]
        moment = None
        if data.get("last_updated") is not None:
            moment = parse_timestamp(data["last_updated"])
            if moment is None:
                raise ValueError("last_updated must be an ISO 8601 date-time")
        if stock is None:
            stock = state.fba_inventory[(seller, sku)] = InventoryRecord(fulfillable=0)
        moved = any(name not in (*INBOUND, "asin", "fnsku", "product_name", "condition") for name in changes)
        for name, value in changes.items():
            setattr(stock, name, value)
        if moment is not None:
            stock.updated = moment
        elif moved:
            stock.updated = time.time()
        return self.short_json(seller, sku, stock)
