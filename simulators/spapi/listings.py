"""Listings Items 2021-08-01 for the SP-API simulator: getListingsItem and patchListingsItem, and the listing state
they share with JSON_LISTINGS_FEED (`feeds.py` applies each feed message through `Listings.apply`).

Paths, parameters, enums and shapes follow Amazon's model (`listingsItems_2021-08-01.json`: `Item`,
`ItemSummaryByMarketplace`, `Issue`, `FulfillmentAvailability`, `PatchOperation`, `ListingsItemPatchRequest`,
`ListingsItemSubmissionResponse`) and its sandbox examples (`fixtures/listings-items-2021-08-01/`). Error and issue
wording comes from Amazon's answers quoted in public issues where one was found (cited below); the rest is the
simulator's choice, listed in README.md.

A listing is keyed by (seller, marketplace, SKU) and holds its attributes; the merchant-fulfilled quantity is the
`quantity` of the `fulfillment_availability` entry whose `fulfillment_channel_code` is DEFAULT. Every accepted
submission (patch or feed message) is appended to the (seller, SKU) history, for tests.
"""

from __future__ import annotations

import copy
import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from simulators.common import error_body, json_response, read_json_object
from simulators.spapi import generator
from simulators.spapi.state import InvalidInput, ListingRecord, Seller, State, format_timestamp

if TYPE_CHECKING:
    from simulators.spapi.app import SpApiSimulator

ApiResult = tuple[int, Any]

GET_INCLUDED = (
    "summaries", "attributes", "issues", "offers", "fulfillmentAvailability", "procurement", "relationships",
    "productTypes",
)  # fmt: skip
PATCH_INCLUDED = ("identifiers", "issues")
PATCH_OPS = ("add", "replace", "merge", "delete")
VALIDATION_PREVIEW = "VALIDATION_PREVIEW"
AVAILABILITY = "fulfillment_availability"
DEFAULT_CHANNEL = "DEFAULT"
UNKNOWN_SKU_MODES = ("accept", "invalid", "not_found")
ATTRIBUTE_NAME = re.compile(r"[a-z][a-z0-9_]*")  # Amazon's attribute names are snake_case (jlevers/...#861)
# Amazon's 400 for a body it cannot parse (jlevers/selling-partner-api#240, amazon-php/sp-api-sdk#172).
UNPARSEABLE = "Request has missing or invalid parameters and cannot be parsed."
# Issue codes and wording seen in Amazon's answers: 90000900 "The attributes are invalid." with the attribute in
# attributeNames (jlevers/selling-partner-api#861; the model's VALIDATION_INVALID example); 4000001 "The provided value
# for '…' is invalid." (amzn/selling-partner-api-models#5219); 90220 "'…' is required but not supplied." (the model's
# getListingsItem example and the JSON_LISTINGS_FEED processing report example).
INVALID_ATTRIBUTES = "90000900"
INVALID_VALUE = "4000001"
MISSING_VALUE = "90220"
# Simulator choice: no Amazon code is known for "this SKU is not listed" (Amazon accepts such patches).
UNKNOWN_SKU_CODE = "SIM_UNKNOWN_SKU"
UNSET: Any = object()


def issue(
    code: str, message: str, *, attribute: str | None = None, category: str | None = None, severity: str = "ERROR"
) -> dict[str, Any]:
    """An `Issue` (the model's field order: code, message, severity, attributeNames, categories)."""
    answer: dict[str, Any] = {"code": code, "message": message, "severity": severity}
    if attribute is not None:
        answer["attributeNames"] = [attribute]
    answer["categories"] = [category] if category else []
    return answer


def invalid_value(attribute: str, label: str) -> dict[str, Any]:
    return issue(INVALID_VALUE, f"The provided value for '{label}' is invalid.", attribute=attribute,
                 category="INVALID_ATTRIBUTE")  # fmt: skip


def missing_value(attribute: str, what: str | None = None) -> dict[str, Any]:
    return issue(MISSING_VALUE, f"'{what or attribute}' is required but not supplied.", attribute=attribute,
                 category="MISSING_ATTRIBUTE")  # fmt: skip


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _multi(request: Request, name: str) -> list[str]:
    """A list query parameter: repeated keys and/or comma-separated values."""
    values: list[str] = []
    for raw in request.query_params.getlist(name):
        values.extend(part.strip() for part in raw.split(",") if part.strip())
    return values


@dataclass
class Submission:
    """A checked submission for one listing: `issues` (INVALID when any is an ERROR) and, if valid, the
    operations to apply in order: (op, attribute, value) with op add|replace|merge|delete, or ("put", "", attrs)."""

    issues: list[dict[str, Any]] = field(default_factory=list)
    operations: list[tuple[str, str, Any]] = field(default_factory=list)
    creates: bool = False  # a full UPDATE: makes a complete listing when the SKU is new

    @property
    def invalid(self) -> bool:
        return any(i.get("severity") == "ERROR" for i in self.issues)


def availability_issues(value: Any) -> list[dict[str, Any]]:
    """Check a `fulfillment_availability` value: a list of objects with a string `fulfillment_channel_code`; the
    DEFAULT (merchant-fulfilled) entry needs a whole `quantity` of 0 or more (FulfillmentAvailability.quantity has
    minimum 0)."""
    if not isinstance(value, list) or not value:
        return [invalid_value(AVAILABILITY, "Fulfillment Availability")]
    problems: list[dict[str, Any]] = []
    for entry in value:
        if not isinstance(entry, dict):
            problems.append(invalid_value(AVAILABILITY, "Fulfillment Availability"))
            continue
        code = entry.get("fulfillment_channel_code")
        if not isinstance(code, str) or not code.strip():
            problems.append(missing_value(AVAILABILITY, "fulfillment_channel_code"))
            continue
        if entry.get("quantity") is None:
            if code == DEFAULT_CHANNEL:
                problems.append(missing_value(AVAILABILITY, "quantity"))
            continue
        if not _is_count(entry["quantity"]):
            problems.append(invalid_value(AVAILABILITY, "Quantity"))
    return problems


def attribute_issues(name: str, value: Any, *, op: str) -> list[dict[str, Any]]:
    if not ATTRIBUTE_NAME.fullmatch(name):
        return [issue(INVALID_ATTRIBUTES, "The attributes are invalid.", attribute=name, category="INVALID_ATTRIBUTE")]
    if op == "delete":
        return []
    if name == AVAILABILITY:
        return availability_issues(value)
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        return [invalid_value(name, name)]
    return []


def check_patches(patches: Any) -> Submission:
    """A PATCH's operations (patchListingsItem body or a feed message), as issues or operations.

    Only top-level attributes can be patched ("Patching nested attributes is not supported."): the path must be
    `/attributes/<name>`."""
    result = Submission()
    if not isinstance(patches, list) or not patches:
        result.issues.append(missing_value("patches"))
        return result
    for patch in patches:
        if not isinstance(patch, dict) or patch.get("op") not in PATCH_OPS or not isinstance(patch.get("path"), str):
            result.issues.append(invalid_value("patches", "patches"))
            continue
        path = str(patch["path"])
        name = path.removeprefix("/attributes/") if path.startswith("/attributes/") else ""
        if not name or "/" in name:
            result.issues.append(issue(INVALID_ATTRIBUTES, "The attributes are invalid.", attribute=path,
                                       category="INVALID_ATTRIBUTE"))  # fmt: skip
            continue
        op = str(patch["op"])
        value = patch.get("value")
        if op != "delete" and value is None:
            result.issues.append(missing_value(name, "value"))
            continue
        found = attribute_issues(name, value, op=op)
        result.issues.extend(found)
        if not found:
            result.operations.append((op, name, copy.deepcopy(value)))
    return result


def check_attributes(attributes: Any, *, full: bool) -> Submission:
    """UPDATE (`full`: the attributes replace the listing's) or PARTIAL_UPDATE (each given attribute is replaced)."""
    result = Submission(creates=full)
    if not isinstance(attributes, dict) or (full and not attributes):
        result.issues.append(missing_value("attributes"))
        return result
    for name, value in attributes.items():
        result.issues.extend(attribute_issues(str(name), value, op="replace"))
    if not result.invalid:
        if full:
            result.operations.append(("put", "", copy.deepcopy(attributes)))
        else:
            result.operations.extend(("replace", str(n), copy.deepcopy(v)) for n, v in attributes.items())
    return result


def merged_availability(old: Any, new: list[Any]) -> list[Any]:
    """`merge` on fulfillment_availability: entries replace the old ones with the same channel code."""
    codes = {entry.get("fulfillment_channel_code") for entry in new if isinstance(entry, dict)}
    kept = [e for e in old or [] if isinstance(e, dict) and e.get("fulfillment_channel_code") not in codes]
    return kept + new


class Listings:
    """The Listings Items handlers of one `SpApiSimulator` (which holds the state)."""

    def __init__(self, sim: SpApiSimulator) -> None:
        self.sim = sim

    @property
    def state(self) -> State:
        return self.sim.state  # read per call: /_sim/reset replaces it

    # --- listing state (shared with feeds.py and the control API) -----------------------------------

    def catch_up(self) -> None:
        """Let feeds that are due be applied first, so listings read the same whatever is asked first."""
        self.sim.feeds.catch_up(time.time())

    def new_listing(self, seller: str, marketplace: str, sku: str, product_type: str, *, complete: bool,
                    now: float) -> ListingRecord:  # fmt: skip
        attributes: dict[str, Any] = {}
        if complete:
            attributes["item_name"] = [{"value": generator.sku_title(sku), "marketplace_id": marketplace}]
        return ListingRecord(seller=seller, marketplace_id=marketplace, sku=sku, product_type=product_type,
                             attributes=attributes, created=now, updated=now, complete=complete)  # fmt: skip

    def unknown_sku_issue(self, sku: str, marketplace: str) -> dict[str, Any]:
        return issue(UNKNOWN_SKU_CODE, f"SKU '{sku}' is not listed in marketplace {marketplace}.",
                     category="INVALID_ATTRIBUTE")  # fmt: skip

    def apply(
        self,
        seller: str,
        marketplace: str,
        sku: str,
        product_type: str,
        submission: Submission,
        *,
        source: dict[str, Any],
        now: float,
        delete: bool = False,
    ) -> None:
        """Apply a valid submission (or a DELETE) to the listing and record it in the history."""
        key = (seller, marketplace, sku)
        record = self.state.listings.get(key)
        previous = record.quantity if record is not None else None
        created = False
        if delete:
            if record is not None:
                del self.state.listings[key]
            quantity = None
        else:
            if record is None:
                record = self.new_listing(seller, marketplace, sku, product_type, complete=submission.creates, now=now)
                self.state.listings[key] = record
                created = True
            for op, name, value in submission.operations:
                if op == "put":
                    record.attributes = value
                    record.product_type = product_type
                    record.complete = True
                elif op == "delete":
                    record.attributes.pop(name, None)
                elif op == "merge" and name == AVAILABILITY:
                    record.attributes[name] = merged_availability(record.attributes.get(name), value)
                else:  # add, replace (and merge of other attributes: replaced, a simulator choice)
                    record.attributes[name] = value
            record.updated = now
            quantity = record.quantity
        entry = {
            "marketplace_id": marketplace, **source, "created": created, "deleted": delete,
            "previous": previous, "quantity": quantity, "at": format_timestamp(now),
        }  # fmt: skip
        self.state.listing_history.setdefault((seller, sku), []).append(entry)

    # --- JSON shapes ---------------------------------------------------------------------------------

    @staticmethod
    def status(record: ListingRecord) -> list[str]:
        if not record.complete:
            return []
        quantity = record.quantity
        return ["BUYABLE", "DISCOVERABLE"] if quantity else ["DISCOVERABLE"]

    @staticmethod
    def issues(record: ListingRecord) -> list[dict[str, Any]]:
        """The listing's own issues: an incomplete (offer-only) listing misses its product data."""
        if record.complete or "item_name" in record.attributes:
            return []
        return [missing_value("item_name")]

    def summary(self, record: ListingRecord) -> dict[str, Any]:
        """`ItemSummaryByMarketplace`, in the model example's field order."""
        answer: dict[str, Any] = {"marketplaceId": record.marketplace_id}
        if record.complete:
            answer["asin"] = generator.sku_asin(record.sku)
        answer["productType"] = record.product_type
        answer["conditionType"] = "new_new"
        answer["status"] = self.status(record)
        names = record.attributes.get("item_name")
        if isinstance(names, list) and names and isinstance(names[0], dict) and "value" in names[0]:
            answer["itemName"] = names[0]["value"]
        answer["createdDate"] = format_timestamp(record.created)
        answer["lastUpdatedDate"] = format_timestamp(record.updated)
        return answer

    def item_json(self, record: ListingRecord, included: Iterable[str]) -> dict[str, Any]:
        """`Item` with the requested data sets, in the model's property order."""
        wanted = set(included)
        item: dict[str, Any] = {"sku": record.sku}
        if "summaries" in wanted:
            item["summaries"] = [self.summary(record)]
        if "attributes" in wanted:
            item["attributes"] = copy.deepcopy(record.attributes)
        if "issues" in wanted:
            item["issues"] = self.issues(record)
        if "offers" in wanted:
            item["offers"] = []
        if "fulfillmentAvailability" in wanted:
            availability = []
            for entry in record.attributes.get(AVAILABILITY) or []:
                if isinstance(entry, dict) and isinstance(entry.get("fulfillment_channel_code"), str):
                    one: dict[str, Any] = {"fulfillmentChannelCode": entry["fulfillment_channel_code"]}
                    if _is_count(entry.get("quantity")):
                        one["quantity"] = entry["quantity"]
                    availability.append(one)
            item["fulfillmentAvailability"] = availability
        if "procurement" in wanted:
            item["procurement"] = []
        if "relationships" in wanted:
            item["relationships"] = [{"marketplaceId": record.marketplace_id, "relationships": []}]
        if "productTypes" in wanted:
            item["productTypes"] = [{"marketplaceId": record.marketplace_id, "productType": record.product_type}]
        return item

    # --- request checks ---------------------------------------------------------------------------------

    @staticmethod
    def own_seller(request: Request, seller: Seller) -> ApiResult | None:
        """The path's sellerId must be the token's selling partner (simulator choice: 403, like a token without
        rights to the resource)."""
        if request.path_params["seller_id"] != seller.selling_partner_id:
            details = f"The access token does not belong to selling partner {request.path_params['seller_id']}."
            return 403, error_body("Unauthorized", "Access to requested resource is denied.", details)
        return None

    @staticmethod
    def marketplace(request: Request, seller: Seller) -> str:
        markets = _multi(request, "marketplaceIds")
        if not markets:
            raise InvalidInput(UNPARSEABLE, "Missing required parameter: marketplaceIds.")
        if len(markets) > 1:  # the model: maxItems 1
            raise InvalidInput(UNPARSEABLE, "marketplaceIds: expected a maximum of 1 value.")
        marketplace = markets[0]
        if seller.marketplace_ids and marketplace not in seller.marketplace_ids:
            raise InvalidInput(f"Value {marketplace} for parameter marketplaceIds is invalid.", "")
        return marketplace

    @staticmethod
    def included(request: Request, allowed: tuple[str, ...], default: list[str]) -> list[str]:
        values = _multi(request, "includedData")
        for value in values:
            if value not in allowed:
                raise InvalidInput(UNPARSEABLE, f"includedData: '{value}' is not one of {', '.join(allowed)}.")
        return values or default

    # --- getListingsItem -------------------------------------------------------------------------------

    @staticmethod
    def not_found(sku: str, marketplace: str) -> ApiResult:
        # amzn/selling-partner-api-models#4283 (404, code NOT_FOUND); the message as quoted in
        # jrl84/amazon-sp-api#176: "SKU '…' not found in marketplace ATVPDKIKX0DER".
        return 404, error_body("NOT_FOUND", f"SKU '{sku}' not found in marketplace {marketplace}", "")

    async def get(self, request: Request, seller: Seller) -> ApiResult:
        refused = self.own_seller(request, seller)
        if refused is not None:
            return refused
        marketplace = self.marketplace(request, seller)
        included = self.included(request, GET_INCLUDED, ["summaries"])
        self.catch_up()
        sku = request.path_params["sku"]
        record = self.state.listings.get((seller.selling_partner_id, marketplace, sku))
        if record is None:
            return self.not_found(sku, marketplace)
        return 200, self.item_json(record, included)

    # --- patchListingsItem -----------------------------------------------------------------------------

    async def patch(self, request: Request, seller: Seller) -> ApiResult:
        refused = self.own_seller(request, seller)
        if refused is not None:
            return refused
        marketplace = self.marketplace(request, seller)
        included = self.included(request, PATCH_INCLUDED, ["issues"])
        mode = request.query_params.get("mode")
        if mode is not None and mode != VALIDATION_PREVIEW:
            raise InvalidInput(UNPARSEABLE, f"mode: '{mode}' is not one of {VALIDATION_PREVIEW}.")
        if "identifiers" in included and mode != VALIDATION_PREVIEW:
            raise InvalidInput(UNPARSEABLE, "includedData identifiers needs mode VALIDATION_PREVIEW.")
        try:
            body = await read_json_object(request)
        except ValueError as exc:
            raise InvalidInput(UNPARSEABLE, str(exc)) from None
        product_type = body.get("productType")
        patches = body.get("patches")
        if not isinstance(product_type, str) or not product_type.strip():
            raise InvalidInput(UNPARSEABLE, "productType is required.")
        if not isinstance(patches, list) or not patches:
            raise InvalidInput(UNPARSEABLE, "patches is required and must hold at least one operation.")
        for n, patch in enumerate(patches, start=1):
            if not isinstance(patch, dict) or not isinstance(patch.get("path"), str):
                raise InvalidInput(UNPARSEABLE, f"patches[{n}]: an object with op and path is required.")
            if patch.get("op") not in PATCH_OPS:
                raise InvalidInput(UNPARSEABLE, f"patches[{n}].op must be one of {', '.join(PATCH_OPS)}.")
            if "value" in patch and not isinstance(patch["value"], list):
                raise InvalidInput(UNPARSEABLE, f"patches[{n}].value must be an array.")
        self.catch_up()
        sku = request.path_params["sku"]
        seller_id = seller.selling_partner_id
        submission = check_patches(patches)
        known = (seller_id, marketplace, sku) in self.state.listings
        if not known and self.state.unknown_sku == "not_found":
            return self.not_found(sku, marketplace)
        if not known and self.state.unknown_sku == "invalid":
            submission.issues.insert(0, self.unknown_sku_issue(sku, marketplace))
        preview = mode == VALIDATION_PREVIEW
        submission_id = uuid.uuid4().hex
        if submission.invalid:
            status = "INVALID"
        elif preview:
            status = "VALID"
        else:
            status = "ACCEPTED"
            source = {"source": "patchListingsItem", "submission_id": submission_id, "operation": "PATCH",
                      "patches": copy.deepcopy(patches)}  # fmt: skip
            self.apply(seller_id, marketplace, sku, product_type, submission, source=source, now=time.time())
        answer: dict[str, Any] = {"sku": sku, "status": status, "submissionId": submission_id}
        if "identifiers" in included:  # a SKU Amazon does not list has no catalog match yet (the model's example)
            answer["identifiers"] = [{"marketplaceId": marketplace, "asin": generator.sku_asin(sku)}] if known else []
        if "issues" in included:
            answer["issues"] = submission.issues
        return 200, answer

    # --- control API -----------------------------------------------------------------------------------

    def record_json(self, record: ListingRecord) -> dict[str, Any]:
        return {
            "seller": record.seller, "marketplace_id": record.marketplace_id, "sku": record.sku,
            "quantity": record.quantity, "product_type": record.product_type, "complete": record.complete,
            "attributes": copy.deepcopy(record.attributes), "created": format_timestamp(record.created),
            "updated": format_timestamp(record.updated),
        }  # fmt: skip

    def seller_listings(self, seller: str, marketplace: str) -> dict[str, int | None]:
        return {
            sku: record.quantity
            for (owner, market, sku), record in sorted(self.state.listings.items())
            if owner == seller and market == marketplace
        }

    async def control_listings(self, request: Request) -> Any:
        self.catch_up()
        if request.method == "GET":
            owner = request.query_params.get("seller", "")
            market = request.query_params.get("marketplace_id", "")
            if not owner or not market:
                raise ValueError("seller and marketplace_id are required")
            return {"listings": self.seller_listings(owner, market)}
        data = await read_json_object(request)
        unknown = set(data) - {"seller", "marketplace_id", "listings", "product_type"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}; allowed: seller, marketplace_id, listings, product_type")
        seller = self.sim.seller_of(data)
        marketplace = str(data.get("marketplace_id") or "")
        if not marketplace:
            raise ValueError("marketplace_id is required")
        listings = data.get("listings")
        if not isinstance(listings, dict):
            raise ValueError("listings must be an object {sku: quantity or null}")
        for sku, quantity in listings.items():
            if not sku or (quantity is not None and not _is_count(quantity)):
                raise ValueError(f"listing {sku!r}: quantity must be a whole number of 0 or more, or null")
        product_type = str(data.get("product_type") or "PRODUCT")
        now = time.time()
        for sku, quantity in listings.items():
            key = (seller.selling_partner_id, marketplace, str(sku))
            record = self.state.listings.get(key)
            if record is None:
                record = self.new_listing(key[0], marketplace, key[2], product_type, complete=True, now=now)
                self.state.listings[key] = record
            record.product_type = product_type
            record.complete = True
            if quantity is None:
                record.attributes.pop(AVAILABILITY, None)
            else:
                record.attributes[AVAILABILITY] = [{"fulfillment_channel_code": DEFAULT_CHANNEL, "quantity": quantity}]
            record.updated = now
        return {"listings": self.seller_listings(seller.selling_partner_id, marketplace)}

    async def control_listing(self, request: Request) -> Any:
        self.catch_up()
        q = request.query_params
        record = self.state.listings.get((q.get("seller", ""), q.get("marketplace_id", ""), q.get("sku", "")))
        if record is None:
            return json_response({"error": "no such listing (give seller, marketplace_id and sku)"}, 404)
        return self.record_json(record)

    async def control_history(self, request: Request) -> Any:
        self.catch_up()
        q = request.query_params
        entries = self.state.listing_history.get((q.get("seller", ""), q.get("sku", "")), [])
        marketplace = q.get("marketplace_id")
        return {"history": [e for e in entries if marketplace in (None, e["marketplace_id"])]}

    async def control_settings(self, request: Request) -> Any:
        state = self.state
        if request.method == "POST":
            data = await read_json_object(request)
            allowed = {
                "unknown_sku", "feed_processing_seconds", "feed_result_compression", "max_feed_messages",
                "max_feed_bytes", "inventory_page_size", "inventory_token_ttl_seconds",
            }  # fmt: skip
            unknown = set(data) - allowed
            if unknown:
                raise ValueError(f"unknown listing settings {sorted(unknown)}; allowed: {sorted(allowed)}")
            changes: dict[str, Any] = {}
            if "unknown_sku" in data:
                if data["unknown_sku"] not in UNKNOWN_SKU_MODES:
                    raise ValueError(f"unknown_sku must be one of {list(UNKNOWN_SKU_MODES)}")
                changes["unknown_sku"] = data["unknown_sku"]
            if "feed_processing_seconds" in data:
                changes["feed_processing_seconds"] = max(0.0, float(data["feed_processing_seconds"] or 0))
            if "feed_result_compression" in data:
                if data["feed_result_compression"] not in (None, "GZIP"):
                    raise ValueError("feed_result_compression must be null or GZIP")
                changes["feed_result_compression"] = data["feed_result_compression"]
            for name, minimum in (("max_feed_messages", 1), ("max_feed_bytes", 0), ("inventory_page_size", 1)):
                if name in data:
                    value = data[name]
                    if not _is_count(value) or value < minimum:
                        raise ValueError(f"{name} must be a whole number of at least {minimum}")
                    changes[name] = value
            if "inventory_token_ttl_seconds" in data:
                ttl = float(data["inventory_token_ttl_seconds"])
                if ttl <= 0:
                    raise ValueError("inventory_token_ttl_seconds must be positive")
                changes["inventory_token_ttl_seconds"] = ttl
            for name, value in changes.items():  # all checked first: a refused change changes nothing
                setattr(state, name, value)
        return {
            "unknown_sku": state.unknown_sku,
            "feed_processing_seconds": state.feed_processing_seconds,
            "feed_result_compression": state.feed_result_compression,
            "max_feed_messages": state.max_feed_messages,
            "max_feed_bytes": state.max_feed_bytes,
            "inventory_page_size": state.inventory_page_size,
            "inventory_token_ttl_seconds": state.inventory_token_ttl_seconds,
        }
