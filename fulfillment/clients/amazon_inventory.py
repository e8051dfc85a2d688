"""Amazon SP-API listing quantities and FBA stock: Listings Items 2021-08-01 (getListingsItem, patchListingsItem),
Feeds 2021-06-30 for JSON_LISTINGS_FEED (createFeedDocument, the upload, createFeed, getFeed, getFeedDocument and the
processing report) and FBA Inventory v1 (getInventorySummaries).

Built on the orders client (`orders.clients.sp_api.SpApiClient`), like `reconciliation.clients.amazon_reports`: the
same hosts (Amazon or the simulator), LWA token handling, per-operation call counts and typed errors
(RetryableConnectorError / ThrottledError with the wait from `x-amzn-RateLimit-Limit` / PermanentConnectorError).
Feed documents do not go through the library (it uploads `str` bodies as iso-8859-1, expects JSON from S3 when an
upload fails, and decodes reports by guessing): the document is uploaded as UTF-8 bytes and the processing report
downloaded with httpx, gunzipped when `compressionAlgorithm` is GZIP. Returns frozen dataclasses and never touches
the database.

Amazon's behaviour worth knowing (see simulators/spapi/README.md for the sources):
- patchListingsItem answers 200 for a valid request, `status` ACCEPTED (queued: Amazon applies it within minutes) or
  INVALID with `issues`; `patch_availability` returns both. A SKU Amazon does not list is ACCEPTED too (it becomes an
  incomplete, offer-only listing): only getListingsItem says 404. A 404 from patchListingsItem (which the simulator
  can be told to answer) is a PermanentConnectorError naming the SKU.
- JSON_LISTINGS_FEED takes one marketplace per feed, up to 25,000 messages (keep documents under 10 MiB); its
  processing report lists issues per messageId. A FATAL feed has no per-SKU issues: treat none of its items as done.
- getInventorySummaries pages 50 summaries at a time by SKU; with `startDateTime` it ignores `sellerSkus` and every
  next page must carry the same `startDateTime`; a nextToken is short-lived (seconds), so pages are fetched at once.
Docs: https://developer-docs.amazon.com/sp-api/docs/listings-items-api-v2021-08-01-reference,
https://developer-docs.amazon.com/sp-api/docs/feeds-api-v2021-06-30-reference,
https://developer-docs.amazon.com/sp-api/docs/fbainventory-api-v1-reference
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from sp_api.api import FeedsV20210630, Inventories, ListingsItemsV20210801
from sp_api.base import fill_query_params

from config.common.errors import PermanentConnectorError, RetryableConnectorError
from config.common.http import transport_error
from orders.clients.sp_api import PROVIDER, PresignedUrlRefused, SpApiClient, _iso, _rate_limit, presigned_url_error
from reconciliation.clients.amazon_reports import _malformed

JSON_LISTINGS_FEED = "JSON_LISTINGS_FEED"
FEED_CONTENT_TYPE = "application/json; charset=UTF-8"
AVAILABILITY_PATH = "/attributes/fulfillment_availability"
DEFAULT_CHANNEL = "DEFAULT"  # the merchant-fulfilled channel
FINAL_STATUSES = frozenset({"CANCELLED", "DONE", "FATAL"})
MAX_FEED_MESSAGES = 25_000  # per JSON_LISTINGS_FEED (developer-docs changelog, 2025-05-06; 10,000 before)
MAX_FEED_BYTES = 10 * 1024 * 1024  # "Keep file size less than 10 MiB" (Amazon's recommendation)
MAX_SKUS = 50  # getInventorySummaries sellerSkus
FEED_UPLOAD = "feedDocumentUpload"  # the pre-signed upload URL (S3 on Amazon): counted under this name
FEED_DOWNLOAD = "feedDocumentDownload"  # the pre-signed download URL of a feed document
_GZIP_MAGIC = b"\x1f\x8b"


# --- results -------------------------------------------------------------------------------------------


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
        raise _malformed(operation, f"{name} {value!r}, not a date-time")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _malformed(operation, f"{name} {value!r}, not ISO 8601") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _units(value: Any, operation: str, name: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise _malformed(operation, f"{name} {value!r}, not a whole number")
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
        raise _malformed(operation, "a submission that is not an object")
    for key in ("sku", "status", "submissionId"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise _malformed(operation, f"a submission without {key}")
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
        raise _malformed(operation, "an item without a sku")
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
        raise _malformed(operation, "a feed that is not an object")
    for key in ("feedId", "feedType", "processingStatus"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise _malformed(operation, f"a feed without {key}")
    created = _moment(raw.get("createdTime"), operation, "createdTime")
    if created is None:
        raise _malformed(operation, "a feed without createdTime")
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
        raise _malformed(operation, "an inventory summary without sellerSku")
    details = raw.get("inventoryDetails") or {}
    reserved = details.get("reservedQuantity") or {}
    unfulfillable = details.get("unfulfillableQuantity") or {}
    researching = details.get("researchingQuantity") or {}
    if not all(isinstance(part, dict) for part in (details, reserved, unfulfillable, researching)):
        raise _malformed(operation, f"inventoryDetails of {raw['sellerSku']} that are not objects")
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


def _check_quantity(quantity: Any) -> int:
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
            "patches": availability_patch(_check_quantity(quantity)),
        })  # fmt: skip
    header = {"sellerId": seller_id, "version": "2.0", "issueLocale": "en_US"}
    data = json.dumps({"header": header, "messages": messages}, ensure_ascii=False, separators=(",", ":")).encode()
    if len(data) > MAX_FEED_BYTES:
        raise ValueError(f"the feed document is {len(data)} bytes; keep it under {MAX_FEED_BYTES} (split the items)")
    return data


def _issue_text(raw: dict[str, Any]) -> str:
    return str(parse_issue(raw))


# --- the client ----------------------------------------------------------------------------------------


class AmazonInventoryClient(SpApiClient):
    """Listings quantities, listings feeds and FBA stock of one seller account. Thread-safe like SpApiClient.

    Usage plans (Amazon's defaults): getListingsItem 5/s burst 10, patchListingsItem 5/s burst 5, createFeedDocument
    0.5/s burst 15, createFeed 0.0083/s burst 15 (and JSON_LISTINGS_FEED: 5 feeds per 5 minutes), getFeed 2/s burst 15,
    getFeedDocument 0.0222/s burst 10, getInventorySummaries 2/s burst 2. A 429 is a ThrottledError whose
    `retry_after` is one token's refill time.
    """

    # --- Listings Items 2021-08-01 ------------------------------------------------------------------

    def get_listing(self, *, seller_id: str, sku: str, marketplace_id: str) -> Listing | None:
        """getListingsItem with summaries, fulfillmentAvailability and issues; None when Amazon has no such listing
        (404)."""

        def call(api: Any) -> Any:
            return api.get_listings_item(
                seller_id, sku, marketplaceIds=[marketplace_id],
                includedData=["summaries", "fulfillmentAvailability", "issues"],
            )  # fmt: skip

        try:
            response = self._call("getListingsItem", call, ListingsItemsV20210801)
        except PermanentConnectorError as exc:
            if exc.status_code == 404:
                return None
            raise
        return parse_listing(response.payload, marketplace_id)

    def get_availability(self, *, seller_id: str, sku: str, marketplace_id: str) -> int | None:
        """The merchant-fulfilled quantity Amazon shows; None when the listing has none or does not exist. (Amazon
        applies an accepted patch within minutes, so a read right after a patch may show the old value.)"""
        listing = self.get_listing(seller_id=seller_id, sku=sku, marketplace_id=marketplace_id)
        return None if listing is None else listing.quantity

    def patch_availability(
        self,
        *,
        seller_id: str,
        sku: str,
        quantity: int,
        marketplace_id: str,
        product_type: str = "PRODUCT",
        validate_only: bool = False,
    ) -> ListingSubmission:
        """patchListingsItem replacing `fulfillment_availability` with the DEFAULT channel's `quantity`.

        ACCEPTED and INVALID answers are returned (an INVALID one carries Amazon's issues); VALID with
        `validate_only` (mode VALIDATION_PREVIEW: checked, nothing changed). A 404 (the SKU is not listed) is a
        PermanentConnectorError naming the SKU; other 4xx are PermanentConnectorError, 429 ThrottledError, 5xx and
        timeouts RetryableConnectorError. Setting a quantity is idempotent: repeating it after a timeout is safe."""
        body = {"productType": product_type, "patches": availability_patch(_check_quantity(quantity))}
        params: dict[str, Any] = {"marketplaceIds": [marketplace_id], "includedData": ["issues"]}
        if validate_only:
            params["mode"] = "VALIDATION_PREVIEW"

        def call(api: Any) -> Any:
            return api.patch_listings_item(seller_id, sku, body=body, **params)

        try:
            response = self._call("patchListingsItem", call, ListingsItemsV20210801)
        except PermanentConnectorError as exc:
            if exc.status_code != 404:
                raise
            raise PermanentConnectorError(
                f"SKU {sku!r} is not listed for seller {seller_id} in marketplace {marketplace_id} ({exc.message})",
                provider=PROVIDER, operation="patchListingsItem", status_code=404, code=exc.code, details=exc.details,
            ) from exc  # fmt: skip
        return parse_submission(response.payload)

    # --- Feeds 2021-06-30: JSON_LISTINGS_FEED --------------------------------------------------------

    def submit_listings_feed(
        self,
        *,
        seller_id: str,
        marketplace_id: str,
        items: Sequence[tuple[str, int]],
        product_type: str = "PRODUCT",
    ) -> str:
        """Send (SKU, quantity) pairs as one JSON_LISTINGS_FEED (messageId = position, starting at 1): createFeed-
        Document, upload, createFeed. Returns the feedId; follow it with `feed_result`.

        ValueError for an empty feed, a repeated SKU, more than 25,000 items or a document over 10 MiB. A timeout on
        createFeed leaves it unknown whether the feed exists: sending the same quantities again is harmless."""
        data = listings_feed_document(seller_id=seller_id, items=items, product_type=product_type)
        for attempt in (1, 2):
            document_id, url = self._create_feed_document()
            try:
                self._upload(url, data)
                break
            except PresignedUrlRefused as refused:  # e.g. the URL expired before the upload: a fresh document, once
                if attempt == 2:
                    raise refused.error from None
        response = self._call(
            "createFeed",
            lambda api: api.create_feed(JSON_LISTINGS_FEED, document_id, marketplaceIds=[marketplace_id]),
            FeedsV20210630,
            plans=(f"createFeed.{JSON_LISTINGS_FEED}",),
        )
        payload = response.payload
        if not isinstance(payload, dict) or not isinstance(payload.get("feedId"), str) or not payload["feedId"]:
            raise _malformed("createFeed", "without a feedId")
        return str(payload["feedId"])

    def _create_feed_document(self) -> tuple[str, str]:
        response = self._call(
            "createFeedDocument", lambda api: api.create_feed_document(None, FEED_CONTENT_TYPE), FeedsV20210630
        )
        payload = response.payload
        if not isinstance(payload, dict) or not payload.get("feedDocumentId") or not payload.get("url"):
            raise _malformed("createFeedDocument", "without a feedDocumentId and url")
        return str(payload["feedDocumentId"]), str(payload["url"])

    def _upload(self, url: str, data: bytes) -> None:
        with self._lock:
            self.calls[FEED_UPLOAD] += 1
        try:
            with httpx.Client(timeout=self.timeout, follow_redirects=False) as http:
                response = http.put(url, content=data, headers={"Content-Type": FEED_CONTENT_TYPE})
        except httpx.TransportError as exc:
            raise transport_error(exc, provider=PROVIDER, operation=FEED_UPLOAD) from exc
        if response.status_code >= 300:
            error = presigned_url_error(response, FEED_UPLOAD)
            if response.status_code == 403:
                raise PresignedUrlRefused(error)
            raise error

    def get_feed(self, feed_id: str) -> Feed:
        response = self._call("getFeed", lambda api: api.get_feed(feed_id), FeedsV20210630)
        return parse_feed(response.payload)

    def feed_result(self, feed_id: str, *, skus: Sequence[str] | None = None) -> FeedResult:
        """getFeed; once the feed is final, its processing report (getFeedDocument + download) summed up. Issues
        carry their SKU in the report; `skus` (the items in the order they were sent) maps a messageId to its SKU
        when an issue does not."""
        feed = self.get_feed(feed_id)
        if not feed.is_final:
            return FeedResult(feed_id=feed_id, status=feed.processing_status)
        if feed.result_feed_document_id is None:
            reason = () if feed.processing_status != "FATAL" else ("FATAL without a processing report",)
            return FeedResult(feed_id=feed_id, status=feed.processing_status, feed_issues=reason)
        report = self.download_feed_report(feed.result_feed_document_id)
        return self._summarise(feed, report, skus)

    def _summarise(self, feed: Feed, report: dict[str, Any], skus: Sequence[str] | None) -> FeedResult:
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

    def download_feed_report(self, document_id: str) -> dict[str, Any]:
        """getFeedDocument and the download of its pre-signed URL (gunzipped when GZIP), parsed as JSON. A URL
        refused with 403 (expired) is fetched afresh once; a cut or garbled download is RetryableConnectorError."""
        for attempt in (1, 2):
            url, compression = self._feed_document(document_id)
            try:
                data = self._download(url)
                break
            except PresignedUrlRefused as refused:
                if attempt == 2:
                    raise refused.error from None
        try:
            if compression == "GZIP" or data.startswith(_GZIP_MAGIC):
                data = gzip.decompress(data)
            report = json.loads(data.decode("utf-8"))
        except (OSError, EOFError, zlib.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RetryableConnectorError(
                f"the processing report {document_id} is not readable JSON ({exc})", provider=PROVIDER,
                operation=FEED_DOWNLOAD,
            ) from exc  # fmt: skip
        if not isinstance(report, dict):
            raise RetryableConnectorError(
                f"the processing report {document_id} is not a JSON object", provider=PROVIDER, operation=FEED_DOWNLOAD
            )
        return report

    def _feed_document(self, document_id: str) -> tuple[str, str | None]:
        path = fill_query_params("/feeds/2021-06-30/documents/{}", document_id)
        # The library's get_feed_document downloads and decodes by guess: ask for the URL only.
        response = self._call(
            "getFeedDocument", lambda api: api._request(path, params={}, add_marketplace=False), FeedsV20210630
        )
        payload = response.payload
        if not isinstance(payload, dict) or not isinstance(payload.get("url"), str) or not payload["url"]:
            raise _malformed("getFeedDocument", "without a url")
        compression = payload.get("compressionAlgorithm")
        return payload["url"], compression if isinstance(compression, str) and compression else None

    def _download(self, url: str) -> bytes:
        with self._lock:
            self.calls[FEED_DOWNLOAD] += 1
        try:
            with httpx.Client(timeout=self.timeout, follow_redirects=False) as http:
                response = http.get(url)
        except httpx.TransportError as exc:
            raise transport_error(exc, provider=PROVIDER, operation=FEED_DOWNLOAD) from exc
        if response.status_code >= 300:
            error = presigned_url_error(response, FEED_DOWNLOAD)
            if response.status_code == 403:
                raise PresignedUrlRefused(error)
            raise error
        return response.content

    # --- FBA Inventory v1 ----------------------------------------------------------------------------

    def inventory_summaries_page(
        self,
        *,
        marketplace_id: str,
        start: datetime | None = None,
        skus: Sequence[str] | None = None,
        next_token: str | None = None,
    ) -> InventoryPage:
        """One page of getInventorySummaries with details (≤ 50 summaries, by SKU). Amazon ignores `skus` (≤ 50)
        when `start` is given; pass the same `start` with `next_token` (Amazon requires it)."""
        if skus is not None and len(skus) > MAX_SKUS:
            raise ValueError(f"at most {MAX_SKUS} SKUs per call, not {len(skus)}")
        params: dict[str, Any] = {
            "details": True, "granularityType": "Marketplace", "granularityId": marketplace_id,
            "marketplaceIds": [marketplace_id],
        }  # fmt: skip
        if start is not None:
            params["startDateTime"] = _iso(start)
        if skus:
            params["sellerSkus"] = list(skus)
        if next_token:
            params["nextToken"] = next_token

        def call(api: Any) -> Any:
            return api.get_inventory_summary_marketplace(**dict(params))

        response = self._call("getInventorySummaries", call, Inventories)
        payload = response.payload
        if not isinstance(payload, dict) or not isinstance(payload.get("inventorySummaries"), list):
            raise _malformed("getInventorySummaries", "without an inventorySummaries list")
        return InventoryPage(
            summaries=tuple(parse_summary(raw) for raw in payload["inventorySummaries"]),
            next_token=response.next_token or None,
            rate_limit=_rate_limit(response.headers),
        )

    def inventory_summaries(
        self, *, marketplace_id: str, start: datetime | None = None, skus: Sequence[str] | None = None
    ) -> Iterator[InventorySummary]:
        """Every FBA summary of the marketplace (or those changed since `start`, or those of `skus`, asked 50 at a
        time), following nextToken. With both `start` and `skus`, the changed ones among `skus` (Amazon ignores
        sellerSkus with startDateTime, so they are filtered here)."""
        if skus is not None and start is None:
            wanted = list(dict.fromkeys(skus))
            for at in range(0, len(wanted), MAX_SKUS):
                yield from self._pages(marketplace_id=marketplace_id, start=None, skus=wanted[at : at + MAX_SKUS])
            return
        keep = None if skus is None else set(skus)
        for summary in self._pages(marketplace_id=marketplace_id, start=start, skus=None):
            if keep is None or summary.seller_sku in keep:
                yield summary

    def _pages(
        self, *, marketplace_id: str, start: datetime | None, skus: Sequence[str] | None
    ) -> Iterator[InventorySummary]:
        token: str | None = None
        while True:
            page = self.inventory_summaries_page(
                marketplace_id=marketplace_id, start=start, skus=skus, next_token=token
            )
            yield from page.summaries
            token = page.next_token
            if not token:
                return


AmazonListingsClient = AmazonInventoryClient  # the same client, by the name of its other half
