"""What the listings, listings feed and FBA inventory client returns, its parsers, and the JSON_LISTINGS_FEED
document it sends (Listings Items 2021-08-01, Feeds 2021-06-30, FBA Inventory v1).

A payload without what the model requires (a sku, a feedId, a createdTime) or with a quantity that is not a whole
number is `malformed` (RetryableConnectorError); `raw` keeps each object as Amazon sent it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connectors.amazon.base import malformed

AVAILABILITY_PATH = "/attributes/fulfillment_availability"
DEFAULT_CHANNEL = "DEFAULT"  # the merchant-fulfilled channel
FINAL_STATUSES = frozenset({"CANCELLED", "DONE", "FATAL"})
MAX_FEED_MESSAGES = 25_000  # per JSON_LISTINGS_FEED (developer-docs changelog, 2025-05-06; 10,000 before)
MAX_FEED_BYTES = 10 * 1024 * 1024  # "Keep file size less than 10 MiB" (Amazon's recommendation)


@dataclass(frozen=True)
class ListingIssue:
    """An `Issue` of the Listings Items API (or a processing report line)."""

    code: str
    message: str
    severity: str  # ERROR | WARNING | INFO
    attribute_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    def __str__(self) -> str:
        where = f" [{', '.join(self.attribute_names)}]" if self.attribute_names else ""
        return f"{self.severity} {self.code}: {self.message}{where}"


@dataclass(frozen=True)
class ListingSubmission:
    """patchListingsItem's answer: ACCEPTED (queued), INVALID (with issues) or VALID (validation preview only)."""

    sku: str
    status: str
    submission_id: str
    issues: tuple[ListingIssue, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # as Amazon sent it

    @property
    def accepted(self) -> bool:
        return self.status == "ACCEPTED"

    @property
    def errors(self) -> tuple[ListingIssue, ...]:
        return tuple(i for i in self.issues if i.severity == "ERROR")


@dataclass(frozen=True)
class Listing:
    """getListingsItem in one marketplace: the merchant-fulfilled quantity (None when the listing has none)."""

    sku: str
    marketplace_id: str
    quantity: int | None
    status: tuple[str, ...] = ()  # BUYABLE, DISCOVERABLE
    product_type: str | None = None
    asin: str | None = None
    issues: tuple[ListingIssue, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Feed:
    """A `Feed` of the Feeds API; times are aware UTC datetimes."""

    feed_id: str
    feed_type: str
    processing_status: str
    created_time: datetime
    marketplace_ids: tuple[str, ...] = ()
    processing_start_time: datetime | None = None
    processing_end_time: datetime | None = None
    result_feed_document_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_final(self) -> bool:
        return self.processing_status in FINAL_STATUSES


@dataclass(frozen=True)
class FeedResult:
    """Where a listings feed stands. Once `done`: the report's counts, its ERROR issues per SKU (a SKU listed there
    was not applied), its warnings, and issues about the feed as a whole (why it is FATAL)."""

    feed_id: str
    status: str  # IN_QUEUE | IN_PROGRESS | DONE | FATAL | CANCELLED
    accepted: int = 0
    invalid: int = 0
    processed: int = 0
    issues_by_sku: dict[str, tuple[str, ...]] = field(default_factory=dict)
    warnings_by_sku: dict[str, tuple[str, ...]] = field(default_factory=dict)
    issues_by_message: dict[int, tuple[str, ...]] = field(default_factory=dict)
    feed_issues: tuple[str, ...] = ()
    result_document_id: str | None = None
    report: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def done(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def ok(self) -> bool:
        """DONE: every message was processed (each accepted unless it has issues). FATAL/CANCELLED: none was."""
        return self.status == "DONE"


@dataclass(frozen=True)
class InventorySummary:
    """An FBA `InventorySummary` (with details): quantities in units; `reserved` and `unfulfillable` are totals."""

    seller_sku: str
    asin: str
    fnsku: str
    condition: str
    product_name: str
    total_quantity: int
    fulfillable: int
    inbound_working: int
    inbound_shipped: int
    inbound_receiving: int
    reserved: int
    pending_customer_order: int
    pending_transshipment: int
    fc_processing: int
    unfulfillable: int
    researching: int
    last_updated: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def inbound(self) -> int:
        return self.inbound_working + self.inbound_shipped + self.inbound_receiving


@dataclass(frozen=True)
class InventoryPage:
    summaries: tuple[InventorySummary, ...]
    next_token: str | None
    rate_limit: float | None


# --- parsing -------------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _moment(value: Any, operation: str, name: str) -> datetime | None:
    """ISO 8601 → aware UTC datetime; None for a missing or empty value (Amazon's sandbox sends "")."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise malformed(operation, f"{name} {value!r}, not a date-time")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise malformed(operation, f"{name} {value!r}, not ISO 8601") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _units(value: Any, operation: str, name: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise malformed(operation, f"{name} {value!r}, not a whole number")
    return value


def parse_issue(raw: Any) -> ListingIssue:
    if not isinstance(raw, dict):
        return ListingIssue(code="", message=str(raw), severity="ERROR")
    names = raw.get("attributeNames") or ([raw["attributeName"]] if raw.get("attributeName") else [])
    return ListingIssue(
        code=_text(raw.get("code")),
        message=_text(raw.get("message")),
        severity=_text(raw.get("severity")) or "ERROR",
        attribute_names=tuple(str(n) for n in names) if isinstance(names, list) else (),
        categories=tuple(str(c) for c in raw.get("categories") or [] if isinstance(c, str)),
    )


def parse_submission(raw: Any, operation: str = "patchListingsItem") -> ListingSubmission:
    if not isinstance(raw, dict):
        raise malformed(operation, "a submission that is not an object")
    for key in ("sku", "status", "submissionId"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise malformed(operation, f"a submission without {key}")
    issues = raw.get("issues") or []
    return ListingSubmission(
        sku=raw["sku"],
        status=raw["status"],
        submission_id=raw["submissionId"],
        issues=tuple(parse_issue(i) for i in issues) if isinstance(issues, list) else (),
        raw=raw,
    )


def parse_listing(raw: Any, marketplace_id: str, operation: str = "getListingsItem") -> Listing:
    if not isinstance(raw, dict) or not isinstance(raw.get("sku"), str):
        raise malformed(operation, "an item without a sku")
    quantity: int | None = None
    for entry in raw.get("fulfillmentAvailability") or []:
        if isinstance(entry, dict) and entry.get("fulfillmentChannelCode") == DEFAULT_CHANNEL:
            value = entry.get("quantity")
            quantity = None if value is None else _units(value, operation, "quantity")
    summaries = [s for s in raw.get("summaries") or [] if isinstance(s, dict)]
    mine = [s for s in summaries if s.get("marketplaceId") == marketplace_id] or summaries
    summary = mine[0] if mine else {}
    status = summary.get("status") or []
    issues = raw.get("issues") or []
    return Listing(
        sku=raw["sku"],
        marketplace_id=marketplace_id,
        quantity=quantity,
        status=tuple(str(s) for s in status) if isinstance(status, list) else (),
        product_type=summary.get("productType") if isinstance(summary.get("productType"), str) else None,
        asin=summary.get("asin") if isinstance(summary.get("asin"), str) else None,
        issues=tuple(parse_issue(i) for i in issues) if isinstance(issues, list) else (),
        raw=raw,
    )


def parse_feed(raw: Any, operation: str = "getFeed") -> Feed:
    if not isinstance(raw, dict):
        raise malformed(operation, "a feed that is not an object")
    for key in ("feedId", "feedType", "processingStatus"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise malformed(operation, f"a feed without {key}")
    created = _moment(raw.get("createdTime"), operation, "createdTime")
    if created is None:
        raise malformed(operation, "a feed without createdTime")
    markets = raw.get("marketplaceIds") or []
    document = raw.get("resultFeedDocumentId")
    return Feed(
        feed_id=raw["feedId"],
        feed_type=raw["feedType"],
        processing_status=raw["processingStatus"],
        created_time=created,
        marketplace_ids=tuple(str(m) for m in markets) if isinstance(markets, list) else (),
        processing_start_time=_moment(raw.get("processingStartTime"), operation, "processingStartTime"),
        processing_end_time=_moment(raw.get("processingEndTime"), operation, "processingEndTime"),
        result_feed_document_id=document if isinstance(document, str) and document else None,
        raw=raw,
    )


def parse_summary(raw: Any, operation: str = "getInventorySummaries") -> InventorySummary:
    if not isinstance(raw, dict) or not isinstance(raw.get("sellerSku"), str) or not raw["sellerSku"]:
        raise malformed(operation, "an inventory summary without sellerSku")
    details = raw.get("inventoryDetails") or {}
    reserved = details.get("reservedQuantity") or {}
    unfulfillable = details.get("unfulfillableQuantity") or {}
    researching = details.get("researchingQuantity") or {}
    if not all(isinstance(part, dict) for part in (details, reserved, unfulfillable, researching)):
        raise malformed(operation, f"inventoryDetails of {raw['sellerSku']} that are not objects")
    return InventorySummary(
        seller_sku=raw["sellerSku"],
        asin=_text(raw.get("asin")),
        fnsku=_text(raw.get("fnSku")),
        condition=_text(raw.get("condition")),
        product_name=_text(raw.get("productName")),
        total_quantity=_units(raw.get("totalQuantity"), operation, "totalQuantity"),
        fulfillable=_units(details.get("fulfillableQuantity"), operation, "fulfillableQuantity"),
        inbound_working=_units(details.get("inboundWorkingQuantity"), operation, "inboundWorkingQuantity"),
        inbound_shipped=_units(details.get("inboundShippedQuantity"), operation, "inboundShippedQuantity"),
        inbound_receiving=_units(details.get("inboundReceivingQuantity"), operation, "inboundReceivingQuantity"),
        reserved=_units(reserved.get("totalReservedQuantity"), operation, "totalReservedQuantity"),
        pending_customer_order=_units(
            reserved.get("pendingCustomerOrderQuantity"), operation, "pendingCustomerOrderQuantity"
        ),
        pending_transshipment=_units(
            reserved.get("pendingTransshipmentQuantity"), operation, "pendingTransshipmentQuantity"
        ),
        fc_processing=_units(reserved.get("fcProcessingQuantity"), operation, "fcProcessingQuantity"),
        unfulfillable=_units(unfulfillable.get("totalUnfulfillableQuantity"), operation, "totalUnfulfillableQuantity"),
        researching=_units(researching.get("totalResearchingQuantity"), operation, "totalResearchingQuantity"),
        last_updated=_moment(raw.get("lastUpdatedTime"), operation, "lastUpdatedTime"),
        raw=raw,
    )


def availability_patch(quantity: int) -> list[dict[str, Any]]:
    """The JSON Patch that sets the merchant-fulfilled quantity (Amazon's listings feed example, messageId 4)."""
    value = [{"fulfillment_channel_code": DEFAULT_CHANNEL, "quantity": quantity}]
    return [{"op": "replace", "path": AVAILABILITY_PATH, "value": value}]


def check_quantity(quantity: Any) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise TypeError(f"quantity must be an int, not {quantity!r}")
    return quantity  # a negative quantity is Amazon's to refuse (INVALID), not ours to change


def listings_feed_document(*, seller_id: str, items: Sequence[tuple[str, int]], product_type: str = "PRODUCT") -> bytes:
    """A JSON_LISTINGS_FEED (schema v2) that sets each SKU's merchant-fulfilled quantity, as UTF-8 bytes; messageId is
    the item's position (1-based)."""
    if not items:
        raise ValueError("a listings feed needs at least one item")
    if len(items) > MAX_FEED_MESSAGES:
        raise ValueError(f"a listings feed takes at most {MAX_FEED_MESSAGES} messages, not {len(items)}")
    seen: set[str] = set()
    messages = []
    for position, (sku, quantity) in enumerate(items, start=1):
        if not isinstance(sku, str) or not sku:
            raise ValueError(f"item {position}: the SKU must be a non-empty string")
        if sku in seen:
            raise ValueError(f"item {position}: SKU {sku!r} is already in the feed")
        seen.add(sku)
        messages.append({
            "messageId": position, "sku": sku, "operationType": "PATCH", "productType": product_type,
            "patches": availability_patch(check_quantity(quantity)),
        })  # fmt: skip
    header = {"sellerId": seller_id, "version": "2.0", "issueLocale": "en_US"}
    data = json.dumps({"header": header, "messages": messages}, ensure_ascii=False, separators=(",", ":")).encode()
    if len(data) > MAX_FEED_BYTES:
        raise ValueError(f"the feed document is {len(data)} bytes; keep it under {MAX_FEED_BYTES} (split the items)")
    return data


def _issue_text(raw: dict[str, Any]) -> str:
    return str(parse_issue(raw))


def parse_feed_report(feed: Feed, report: dict[str, Any], skus: Sequence[str] | None) -> FeedResult:
    """A final feed and its processing report (getFeedDocument's download) → FeedResult. Issues carry their SKU in
    the report; `skus` (the items in the order they were sent) maps a messageId to its SKU when an issue does not."""
    given = report.get("summary")
    summary: dict[str, Any] = given if isinstance(given, dict) else {}
    errors: dict[str, list[str]] = {}
    warnings: dict[str, list[str]] = {}
    by_message: dict[int, list[str]] = {}
    whole: list[str] = []
    for raw in report.get("issues") or []:
        if not isinstance(raw, dict):
            continue
        text = _issue_text(raw)
        message_id = raw.get("messageId")
        if not isinstance(message_id, int) or isinstance(message_id, bool):
            whole.append(text)
            continue
        by_message.setdefault(message_id, []).append(text)
        sku = raw.get("sku")
        if not isinstance(sku, str) and skus is not None and 1 <= message_id <= len(skus):
            sku = skus[message_id - 1]
        if isinstance(sku, str):
            target = errors if (raw.get("severity") or "ERROR") == "ERROR" else warnings
            target.setdefault(sku, []).append(text)
    return FeedResult(
        feed_id=feed.feed_id,
        status=feed.processing_status,
        accepted=_units(summary.get("messagesAccepted"), "getFeedDocument", "messagesAccepted"),
        invalid=_units(summary.get("messagesInvalid"), "getFeedDocument", "messagesInvalid"),
        processed=_units(summary.get("messagesProcessed"), "getFeedDocument", "messagesProcessed"),
        issues_by_sku={sku: tuple(lines) for sku, lines in errors.items()},
        warnings_by_sku={sku: tuple(lines) for sku, lines in warnings.items()},
        issues_by_message={mid: tuple(lines) for mid, lines in by_message.items()},
        feed_issues=tuple(whole),
        result_document_id=feed.result_feed_document_id,
        report=report,
    )
