"""In-memory state of the SP-API simulator: sellers, access tokens, orders with sorted indexes, usage plans,
MCF fulfillment orders, FBA inventory, shipment confirmations, reports with their documents, listings (Listings
Items 2021-08-01) and feeds with their documents (Feeds 2021-06-30).

Times are kept as float epoch seconds (UTC) internally; the JSON carries ISO 8601 strings with `Z`.
"""

from __future__ import annotations

import secrets
import time
from bisect import bisect_left, bisect_right, insort
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from simulators.common import FaultInjector, TokenBucket

if TYPE_CHECKING:
    from simulators.spapi.notifications import DestinationRecord, SubscriptionRecord

# Amazon's published default usage plans (requests per second, burst), from the Orders v0, Fulfillment
# Outbound 2020-07-01, Reports 2021-06-30, Listings Items 2021-08-01, Feeds 2021-06-30, FBA Inventory v1 and
# Finances 2024-06-19 models.
DEFAULT_LIMITS: dict[str, tuple[float, int]] = {
    "getOrders": (0.0167, 20),
    "getOrder": (0.5, 30),
    "getOrderItems": (0.5, 30),
    "getOrderAddress": (0.5, 30),
    "searchOrders": (0.0056, 20),  # Orders 2026-01-01
    "getOrder2026": (0.5, 30),  # Orders 2026-01-01 getOrder (v0's getOrder keeps its name)
    "confirmShipment": (2.0, 10),
    "createFulfillmentOrder": (2.0, 30),
    "getFulfillmentOrder": (2.0, 30),
    "cancelFulfillmentOrder": (2.0, 30),
    "getFulfillmentPreview": (2.0, 30),
    "listAllFulfillmentOrders": (2.0, 30),
    "createReport": (0.0167, 15),
    "getReports": (0.0222, 10),
    "getReport": (2.0, 15),
    "cancelReport": (0.0222, 10),
    "getReportDocument": (0.0167, 15),
    "getListingsItem": (5.0, 10),
    "patchListingsItem": (5.0, 5),
    "createFeedDocument": (0.5, 15),
    "createFeed": (0.0083, 15),
    "getFeeds": (0.0222, 10),
    "getFeed": (2.0, 15),
    "cancelFeed": (2.0, 15),
    "getFeedDocument": (0.0222, 10),
    "getInventorySummaries": (2.0, 2),
    "listTransactions": (0.5, 10),  # Finances 2024-06-19
    # Notifications v1 (notifications.py): every operation 1/s, burst 5
    "createDestination": (1.0, 5),
    "getDestinations": (1.0, 5),
    "getDestination": (1.0, 5),
    "deleteDestination": (1.0, 5),
    "createSubscription": (1.0, 5),
    "getSubscription": (1.0, 5),
    "getSubscriptionById": (1.0, 5),
    "deleteSubscriptionById": (1.0, 5),
    # Not an operation: JSON_LISTINGS_FEED's own throttle on top of createFeed's plan, "five feed submissions per five
    # minutes" (developer-docs changelog "Feed size and rate limit changes for the JSON_LISTINGS_FEED", 2025-05-06).
    "createFeed.JSON_LISTINGS_FEED": (0.0167, 5),
}
OPERATIONS = tuple(DEFAULT_LIMITS)
JSON_FEED_PLAN = "createFeed.JSON_LISTINGS_FEED"
# Not SP-API operations: the download from a report document's pre-signed URL, and the upload to / download from a
# feed document's pre-signed URL (S3 on Amazon; no usage plan). Faults and call counts use these names.
DOCUMENT_DOWNLOAD = "reportDocumentDownload"
FEED_DOCUMENT_UPLOAD = "feedDocumentUpload"
FEED_DOCUMENT_DOWNLOAD = "feedDocumentDownload"
FAULT_OPERATIONS = (
    *(op for op in OPERATIONS if op != JSON_FEED_PLAN), "lwaToken", DOCUMENT_DOWNLOAD, FEED_DOCUMENT_UPLOAD,
    FEED_DOCUMENT_DOWNLOAD,
)  # fmt: skip
PENDING_STATUSES = frozenset({"Pending", "PendingAvailability"})
# What Amazon leaves out while an order is Pending (payment not yet authorised): money and the address.
PENDING_HIDDEN_ORDER_FIELDS = ("OrderTotal", "ShippingAddress")
PENDING_HIDDEN_ITEM_FIELDS = (
    "ItemPrice", "ItemTax", "ShippingPrice", "ShippingTax", "ShippingDiscount", "ShippingDiscountTax",
    "PromotionDiscount", "PromotionDiscountTax", "CODFee", "CODFeeDiscount", "PointsGranted", "PromotionIds",
)  # fmt: skip


class InvalidInput(Exception):
    """A 400 InvalidInput with this message (and optional details), raised by the API handlers."""

    def __init__(self, message: str, details: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


_EPOCH_DAY = date(1970, 1, 1)
_DAY_PREFIX: dict[int, str] = {}  # days since the epoch → "YYYY-MM-DD" (filled as times are formatted)
_DAY_EPOCH: dict[str, int] = {}  # "YYYY-MM-DD" → epoch seconds at midnight UTC (the reverse)


def parse_timestamp(value: Any) -> float | None:
    """ISO 8601 (`Z`, `+00:00`, other offsets, fractional seconds; naive = UTC) → epoch seconds, else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    if len(value) == 20 and value[10] == "T" and value[19] == "Z":  # fast path: 2017-01-20T19:49:35Z
        day = _DAY_EPOCH.get(value[:10])
        clock = value[11:13] + value[14:16] + value[17:19]
        if day is not None and value[13] == value[16] == ":" and clock.isascii() and clock.isdigit():
            hours, minutes, seconds = int(clock[:2]), int(clock[2:4]), int(clock[4:])
            if hours < 24 and minutes < 60 and seconds < 60:
                return float(day + hours * 3600 + minutes * 60 + seconds)
    text = value.strip()
    if text[-1] in "zZ":
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def format_timestamp(moment: float) -> str:
    """Epoch seconds → `2017-01-20T19:49:35Z` (whole seconds, as Amazon sends them)."""
    whole = int(moment // 1)
    day, rest = divmod(whole, 86400)
    prefix = _DAY_PREFIX.get(day)
    if prefix is None:
        prefix = _DAY_PREFIX[day] = (_EPOCH_DAY + timedelta(days=day)).isoformat()
        _DAY_EPOCH[prefix] = day * 86400
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{prefix}T{hours:02d}:{minutes:02d}:{seconds:02d}Z"


def format_time(moment: datetime) -> str:
    return format_timestamp(moment.timestamp())


@dataclass(slots=True)
class Seller:
    selling_partner_id: str
    refresh_token: str
    client_id: str
    client_secret: str
    marketplace_ids: list[str]
    # Orders 2026-01-01 PII roles of the app for this seller (orders2026.RESTRICTED_ROLES); default: all of them
    restricted_roles: tuple[str, ...] = ("DIRECT_TO_CONSUMER_DELIVERY", "TAX_INVOICING", "TAX_REMITTANCE")


@dataclass(slots=True)
class StoredOrder:
    key: str  # AmazonOrderId (or the `_key` of a raw order without one)
    seller: str
    marketplace_id: str
    updated: float  # LastUpdateDate as epoch seconds (now, if a raw order's is unparseable)
    created: float  # PurchaseDate as epoch seconds (falls back to `updated`)
    order: dict[str, Any]  # the Order JSON as served
    items: list[Any]  # the OrderItems as served
    address: dict[str, Any] | None  # the full shipping address (getOrderAddress)
    source: dict[str, Any]  # the order as seeded, before hiding Pending prices (what PATCH merges into)
    source_items: list[Any]
    raw: bool


@dataclass(slots=True)
class FulfillmentOrderRecord:
    """One MCF fulfillment order (Fulfillment Outbound 2020-07-01), keyed by (seller, sellerFulfillmentOrderId)."""

    key: str  # sellerFulfillmentOrderId
    seller: str
    request: dict[str, Any]  # the createFulfillmentOrder body, without the library's stray marketplace keys
    order: dict[str, Any]  # FulfillmentOrder as served (status and statusUpdatedDate included)
    items: list[dict[str, Any]]  # FulfillmentOrderItem as served
    shipments: list[dict[str, Any]]  # FulfillmentShipment as served
    received: float
    updated: float  # statusUpdatedDate as epoch seconds (listAllFulfillmentOrders' queryStartDate and order)
    reserved: dict[str, int]  # SKU → units this order still holds in the seller's FBA inventory
    history: list[dict[str, str]] = field(default_factory=list)  # [{"status", "at"}], for the control API

    @property
    def status(self) -> str:
        return str(self.order["fulfillmentOrderStatus"])


@dataclass(slots=True)
class InventoryRecord:
    """A seller's FBA stock of one SKU (served for every marketplace of the seller by getInventorySummaries).

    `fulfillable` is free to promise; `reserved` is held by open MCF orders (fulfillment.py reserves, consumes and
    releases it) and is reported as part of pendingCustomerOrderQuantity, with `pending_customer_order` (seeded
    reservations for other customer orders), `pending_transshipment` and `fc_processing`. `updated` is
    lastUpdatedTime (epoch seconds): every change of a quantity except the inbound ones moves it, as on Amazon.
    """

    fulfillable: int
    reserved: int = 0
    inbound_working: int = 0
    inbound_shipped: int = 0
    inbound_receiving: int = 0
    pending_customer_order: int = 0
    pending_transshipment: int = 0
    fc_processing: int = 0
    customer_damaged: int = 0
    warehouse_damaged: int = 0
    distributor_damaged: int = 0
    carrier_damaged: int = 0
    defective: int = 0
    expired: int = 0
    researching_short_term: int = 0
    researching_mid_term: int = 0
    researching_long_term: int = 0
    asin: str = ""
    fnsku: str = ""
    product_name: str = ""
    condition: str = "NewItem"
    updated: float = field(default_factory=time.time)


@dataclass(slots=True)
class ListingRecord:
    """One listings item (Listings Items 2021-08-01) of a seller in a marketplace, keyed by (seller, marketplace, SKU).

    `attributes` is the item's attribute data as patched (`fulfillment_availability` carries the merchant-fulfilled
    quantity). `complete` is False for an offer-only listing made by patching a SKU Amazon did not know.
    """

    seller: str
    marketplace_id: str
    sku: str
    product_type: str
    attributes: dict[str, Any]
    created: float
    updated: float
    complete: bool = True

    @property
    def quantity(self) -> int | None:
        """The DEFAULT (merchant-fulfilled) channel's quantity, or None when the listing has none."""
        for entry in self.attributes.get("fulfillment_availability") or []:
            if isinstance(entry, dict) and entry.get("fulfillment_channel_code") == "DEFAULT":
                quantity = entry.get("quantity")
                return quantity if isinstance(quantity, int) and not isinstance(quantity, bool) else None
        return None


@dataclass(slots=True)
class FeedDocumentRecord:
    """A feed document: an input uploaded to its pre-signed URL (`data` None until then), or a result (processing
    report) the simulator wrote. `data` is stored as served (gzip-compressed when `compression` is GZIP)."""

    document_id: str
    seller: str
    content_type: str
    kind: str  # "input" | "result"
    created: float
    data: bytes | None = None
    compression: str | None = None
    uploaded: float | None = None


@dataclass(slots=True)
class FeedRecord:
    """One feed (Feeds 2021-06-30). Moves IN_QUEUE → IN_PROGRESS → DONE by time (`feed_processing_seconds` when it
    was created; 0: done when next looked at) or by the control API; JSON_LISTINGS_FEED is applied when it is done."""

    feed_id: str
    seller: str
    feed_type: str
    marketplace_ids: list[str]
    created: float
    status: str
    input_document_id: str
    content: bytes | None  # the input document when createFeed was called (None: nothing had been uploaded)
    options: dict[str, str] = field(default_factory=dict)
    started: float | None = None
    ended: float | None = None
    result_document_id: str | None = None
    in_progress_at: float | None = None
    done_at: float | None = None
    report: dict[str, Any] | None = None  # the processing report (as in the result document)
    history: list[dict[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class ReportDocumentRecord:
    """The bytes behind a reportDocumentId, exactly as the pre-signed URL serves them (already gzip-compressed
    when `compression` is GZIP): in memory (`data`) or in a file (`path`), never both."""

    document_id: str
    seller: str
    compression: str | None  # "GZIP" or None
    content_type: str  # e.g. "text/plain; charset=UTF-8"
    size: int  # bytes served
    data: bytes | None = None
    path: str | None = None
    owned: bool = False  # `path` is a file the simulator wrote (deleted on reset)


@dataclass(slots=True)
class ReportRecord:
    """One report (Reports API 2021-06-30), requested with createReport or seeded through the control API.

    Times are epoch seconds. A requested report moves on by itself at `in_progress_at` and `done_at` (from the
    `report_processing_seconds` setting when it was created) or when the control API advances it.
    """

    report_id: str
    seller: str
    report_type: str
    marketplace_ids: list[str]
    created: float
    data_start: float
    data_end: float
    status: str
    requested: bool  # createReport (True) or the control API (False)
    options: dict[str, str] = field(default_factory=dict)
    started: float | None = None  # processingStartTime
    ended: float | None = None  # processingEndTime
    document_id: str | None = None
    in_progress_at: float | None = None
    done_at: float | None = None
    outcome: str = "DONE"  # what processing ends in: DONE, or FATAL for report types the simulator cannot make
    history: list[dict[str, str]] = field(default_factory=list)  # [{"status", "at"}], for the control API


class _SellerIndex:
    """One seller's orders as sorted (time, AmazonOrderId) lists, for keyset paging with bisect."""

    __slots__ = ("by_created", "by_updated", "dirty", "keys")

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.by_updated: list[tuple[float, str]] = []
        self.by_created: list[tuple[float, str]] = []
        self.dirty = False


def _remove(entries: list[tuple[float, str]], entry: tuple[float, str]) -> None:
    at = bisect_left(entries, entry)
    if at < len(entries) and entries[at] == entry:
        del entries[at]


@dataclass
class State:
    sellers: dict[str, Seller] = field(default_factory=dict)
    by_refresh_token: dict[str, Seller] = field(default_factory=dict)
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)  # access token → (seller id, expiry)
    # grantless access tokens (client_credentials, notifications scope) → (LWA client id, expiry)
    grantless_tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    orders: dict[str, StoredOrder] = field(default_factory=dict)
    indexes: dict[str, _SellerIndex] = field(default_factory=dict)
    limits: dict[str, tuple[float, int]] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    limiting: bool = True
    buckets: dict[tuple[str, str], TokenBucket] = field(default_factory=dict)
    faults: FaultInjector = field(default_factory=lambda: FaultInjector(operations=FAULT_OPERATIONS))
    calls: Counter[tuple[str, int]] = field(default_factory=Counter)
    last_orders_page: dict[str, bytes] = field(default_factory=dict)  # seller → last getOrders 200 body
    last_search_page: dict[str, bytes] = field(default_factory=dict)  # seller → last searchOrders 200 body
    pagination_token_ttl_seconds: float = 86400.0  # searchOrders: "The token will expire after 24 hours."
    pagination_tokens_valid_from: float = 0.0  # searchOrders tokens given before this epoch are expired
    visibility_delay_seconds: float = 0.0
    items_page_size: int = 100
    token_ttl_seconds: int = 3600
    token_secret: bytes = field(default_factory=lambda: secrets.token_bytes(16))
    # Fulfillment Outbound (MCF) and confirmShipment
    fulfillment_orders: dict[tuple[str, str], FulfillmentOrderRecord] = field(default_factory=dict)
    fba_inventory: dict[tuple[str, str], InventoryRecord] = field(default_factory=dict)  # (seller, SKU)
    shipment_confirmations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # AmazonOrderId → …
    strict_inventory: bool = False
    auto_advance_seconds: float = 0.0
    fulfillment_page_size: int = 50
    next_package_number: int = 212_794_778  # int32 package numbers, as in Amazon's example
    # Reports API 2021-06-30
    reports: dict[str, ReportRecord] = field(default_factory=dict)  # reportId → report
    report_documents: dict[str, ReportDocumentRecord] = field(default_factory=dict)  # reportDocumentId → …
    next_report_number: int = 50_001
    report_processing_seconds: float = 0.0  # 0: a requested report is DONE at once
    document_url_ttl_seconds: int = 300  # "This URL expires after 5 minutes." (ReportDocument.url)
    document_base_url: str = ""  # "" = the address the getReportDocument call came in on
    # Listings Items 2021-08-01, Feeds 2021-06-30 (JSON_LISTINGS_FEED) and FBA Inventory v1 (listings.py, feeds.py,
    # inventory.py); settings under /_sim/listings/settings
    listings: dict[tuple[str, str, str], ListingRecord] = field(default_factory=dict)  # (seller, marketplace, SKU)
    listing_history: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)  # (seller, SKU)
    feeds: dict[str, FeedRecord] = field(default_factory=dict)  # feedId → feed
    feed_documents: dict[str, FeedDocumentRecord] = field(default_factory=dict)  # feedDocumentId → document
    next_feed_number: int = 70_001
    unknown_sku: str = "accept"  # patching an unknown SKU: accept (Amazon) | invalid | not_found
    feed_processing_seconds: float = 0.0  # 0: a feed is DONE when next looked at
    feed_result_compression: str | None = None  # None or "GZIP" for processing reports
    max_feed_messages: int = 25_000  # JSON_LISTINGS_FEED messages per feed (Amazon, since 2025-05-06)
    max_feed_bytes: int = 0  # 0: not enforced (Amazon recommends < 10 MiB)
    inventory_page_size: int = 50
    inventory_token_ttl_seconds: float = 30.0  # getInventorySummaries nextToken lifetime
    # Finances 2024-06-19 (finances.py): transactionId → {"id", "seller", "posted", "transaction"}
    finance_transactions: dict[str, dict[str, Any]] = field(default_factory=dict)
    finances_page_size: int = 50
    # Orders Amazon's order searches (getOrders, searchOrders) leave out but its order report lists: the orders API
    # "misses orders now and then"; the completeness check must find them (POST /_sim/orders/{id}/hide).
    hidden_from_search: set[str] = field(default_factory=set)
    # Notifications v1 (notifications.py): destinations per application, subscriptions per application and seller
    destinations: dict[str, DestinationRecord] = field(default_factory=dict)  # destinationId → …
    subscriptions: dict[str, SubscriptionRecord] = field(default_factory=dict)  # subscriptionId → …

    # --- sellers and tokens ----------------------------------------------------------------------------

    def add_seller(self, seller: Seller) -> None:
        old = self.sellers.get(seller.selling_partner_id)
        if old is not None:
            self.by_refresh_token.pop(old.refresh_token, None)
        self.sellers[seller.selling_partner_id] = seller
        self.by_refresh_token[seller.refresh_token] = seller

    def issue_token(self, seller: Seller) -> str:
        token = "Atza|" + secrets.token_urlsafe(32)
        self.tokens[token] = (seller.selling_partner_id, time.time() + self.token_ttl_seconds)
        return token

    def issue_grantless_token(self, client_id: str) -> str:
        token = "Atc|" + secrets.token_urlsafe(32)
        self.grantless_tokens[token] = (client_id, time.time() + self.token_ttl_seconds)
        return token

    def expire_tokens(self) -> int:
        self.tokens = {token: (seller, 0.0) for token, (seller, _) in self.tokens.items()}
        self.grantless_tokens = {token: (app, 0.0) for token, (app, _) in self.grantless_tokens.items()}
        return len(self.tokens) + len(self.grantless_tokens)

    def app_credentials(self, client_id: str, client_secret: str) -> bool:
        """Whether (client_id, client_secret) is a registered application's (every seller names its app's)."""
        return any((s.client_id, s.client_secret) == (client_id, client_secret) for s in self.sellers.values())

    # --- orders -----------------------------------------------------------------------------------------

    def put_order(self, stored: StoredOrder, *, bulk: bool = False) -> None:
        """Insert or replace (by key). `bulk` defers re-sorting to the next read (for big batches)."""
        previous = self.orders.get(stored.key)
        if previous is not None:
            old = self.indexes[previous.seller]
            old.keys.discard(previous.key)
            if not old.dirty:
                _remove(old.by_updated, (previous.updated, previous.key))
                _remove(old.by_created, (previous.created, previous.key))
        self.orders[stored.key] = stored
        index = self.indexes.get(stored.seller)
        if index is None:
            index = self.indexes[stored.seller] = _SellerIndex()
        index.keys.add(stored.key)
        if bulk:
            index.dirty = True
        elif not index.dirty:
            insort(index.by_updated, (stored.updated, stored.key))
            insort(index.by_created, (stored.created, stored.key))

    def _index(self, seller: str) -> _SellerIndex:
        index = self.indexes.get(seller)
        if index is None:
            index = self.indexes[seller] = _SellerIndex()
        if index.dirty:
            mine = [self.orders[key] for key in index.keys]
            index.by_updated = sorted([(o.updated, o.key) for o in mine])
            index.by_created = sorted([(o.created, o.key) for o in mine])
            index.dirty = False
        return index

    def scan(
        self, seller: str, mode: str, *, start: float, end: float, after: tuple[float, str] | None
    ) -> Iterator[tuple[float, StoredOrder]]:
        """A seller's orders with start <= time <= end in (time, key) order, strictly after the `after` key."""
        index = self._index(seller)
        entries = index.by_updated if mode == "updated" else index.by_created
        position = bisect_left(entries, (start, ""))
        if after is not None:
            position = max(position, bisect_right(entries, after))
        orders = self.orders
        for at in range(position, len(entries)):
            moment, key = entries[at]
            if moment > end:
                return
            yield moment, orders[key]

    def scan_page(
        self,
        seller: str,
        query: dict[str, Any],
        *,
        after: tuple[float, str] | None,
        accept: Callable[[StoredOrder], bool],
    ) -> tuple[list[StoredOrder], tuple[float, str] | None, bool]:
        """One page of a search (getOrders v0, searchOrders 2026-01-01): the seller's orders in the query's window
        and marketplaces, old enough to be visible, that `accept` takes, in (time, key) order after `after`.
        Returns (orders, the last one's position for the next token, whether more follow)."""
        visible_until = time.time() - self.visibility_delay_seconds if self.visibility_delay_seconds else None
        markets, size = set(query["markets"]), int(query["size"])
        page: list[StoredOrder] = []
        last: tuple[float, str] | None = None
        scan = self.scan(seller, query["mode"], start=float(query["start"]), end=float(query["end"]), after=after)
        for moment, stored in scan:
            if stored.marketplace_id not in markets:
                continue
            if visible_until is not None and stored.updated > visible_until:
                continue
            if not accept(stored):
                continue
            if self.hidden_from_search and stored.key in self.hidden_from_search:
                continue
            if len(page) == size:
                return page, last, True
            page.append(stored)
            last = (moment, stored.key)
        return page, last, False

    def seller_orders(self, seller: str) -> list[StoredOrder]:
        index = self.indexes.get(seller)
        return [self.orders[key] for key in index.keys] if index is not None else []

    # --- usage plans ------------------------------------------------------------------------------------

    def take(self, seller: str, operation: str) -> bool:
        if not self.limiting:
            return True
        bucket = self.buckets.get((seller, operation))
        if bucket is None:
            limit = self.limits.get(operation)
            if limit is None:
                return True
            bucket = self.buckets[(seller, operation)] = TokenBucket(*limit)
        return bucket.take()

    def set_limit(self, operation: str, rate: float, burst: int) -> None:
        self.limits[operation] = (rate, burst)
        for key in [key for key in self.buckets if key[1] == operation]:
            del self.buckets[key]

    def refill(self) -> None:
        for bucket in self.buckets.values():
            bucket.refill()

    def rate_header(self, operation: str) -> str:
        rate = self.limits.get(operation, (0.0, 0))[0]
        return f"{rate:g}"
