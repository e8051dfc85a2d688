"""One polling cycle for one seller account + marketplace: searchOrders (Orders 2026-01-01) by lastUpdated window,
page by page, each page carrying its orders whole (items, ship-to, proceeds, packages): no per-order calls.

Window: [synced_through − overlap, now − settle delay]. Amazon only guarantees searchOrders data two minutes after a
change, and a boundary order may sit exactly on either edge, so windows overlap and every write is an idempotent
upsert. Inside a window the saved paginationToken moves page by page together with that page's data (one
transaction); `synced_through` moves only when the last page is in. A failed page call is asked again a few times; a
throttled or failing cycle keeps its place and the next one resumes from the saved token. A token Amazon no longer
takes (they expire after 24 h) restarts the same window from its start.

`getOrder` is only for targeted re-reads: an order a page could not fully describe, a stored v0 order whose items
were never fetched, and `amazon_orders_refresh` (the operator's "Refresh from Amazon", the completeness check).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from config.common.db import thread_pool_shutdown
from config.common.errors import (
    ConnectorError,
    DemoCredentialsRefused,
    PermanentConnectorError,
    RetryableConnectorError,
    ThrottledError,
)
from config.common.models import ExceptionItem
from config.common.services import exception_open, exceptions_resolve_for
from connectors.amazon.orders import AmazonOrdersClient
from connectors.amazon.orders_2026_types import SearchOrdersPage
from orders.models import AmazonOrderSnapshot, Order, SeenVia, SellerAccount, SyncCursor
from orders.services.accounts import sp_api_client_for
from orders.services.amazon_ingest import (
    IngestStats,
    PreparedSnapshots,
    amazon_snapshots_apply,
    amazon_snapshots_prepare,
    amazon_snapshots_process,
    amazon_snapshots_reread,
    amazon_snapshots_store,
    snapshot_needs_reread,
)

logger = logging.getLogger(__name__)
MAX_BACKOFF = timedelta(minutes=30)
PENDING_BATCH = 500


@dataclass
class SyncResult:
    account: str
    marketplace_id: str
    outcome: str = "complete"  # complete | partial | busy | deferred | throttled | failed
    pages: int = 0
    orders_seen: int = 0
    stats: IngestStats = field(default_factory=IngestStats)
    api_calls: dict[str, int] = field(default_factory=dict)
    error: str = ""
    window_start: datetime | None = None
    window_end: datetime | None = None

    def summary(self) -> str:
        s = self.stats
        calls = ", ".join(f"{k}={v}" for k, v in sorted(self.api_calls.items())) or "none"
        text = (
            f"{self.account} {self.marketplace_id}: {self.outcome}; {self.pages} page(s), {self.orders_seen} "
            f"order(s) seen; created {s.created}, updated {s.updated}, unchanged {s.unchanged}, "
            f"failed {s.failed}, on hold {s.held}; API calls: {calls}"
        )
        return f"{text}; error: {self.error}" if self.error else text


def _lease_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def sync_cursor_get(*, account: SellerAccount, marketplace_id: str) -> SyncCursor:
    cursor, _ = SyncCursor.objects.get_or_create(
        account=account, marketplace_id=marketplace_id, feed=SyncCursor.Feed.ORDERS
    )
    return cursor


def sync_cursor_acquire(*, cursor: SyncCursor, owner: str, ttl: timedelta | None = None) -> bool:
    """Take (or renew) the cursor's lease in one conditional UPDATE; False if another live worker holds it."""
    now = timezone.now()
    taken = (
        SyncCursor.objects.filter(pk=cursor.pk)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now) | Q(lease_owner=owner))
        .update(lease_owner=owner, lease_expires_at=now + (ttl or settings.SP_API_SYNC_LEASE))
    )
    return taken == 1


def sync_cursor_release(*, cursor: SyncCursor, owner: str) -> None:
    SyncCursor.objects.filter(pk=cursor.pk, lease_owner=owner).update(lease_owner="", lease_expires_at=None)


def _snapshot_refused(snap: AmazonOrderSnapshot, exc: PermanentConnectorError) -> None:
    AmazonOrderSnapshot.objects.filter(pk=snap.pk).update(
        state=AmazonOrderSnapshot.State.FAILED, error=str(exc), attempts=F("attempts") + 1
    )
    snap.state = snap.State.FAILED
    exception_open(
        kind=ExceptionItem.Kind.CONNECTOR_ERROR,
        source=snap,
        summary=f"Amazon refused to read order {snap.amazon_order_id} again: {exc.message}"[:300],
        detail=f"{exc}\nThe order stays as last stored; reprocess this exception to try again.",
        reference=snap.amazon_order_id,
    )


def _reread(
    *, client: AmazonOrdersClient, snapshots: Sequence[AmazonOrderSnapshot], limit: int | None = None
) -> list[AmazonOrderSnapshot]:
    """getOrder for the snapshots that need it (at most `limit`); returns the snapshots ready to process, the others
    as stored. A retryable failure stops the re-reads (they wait for the next cycle); a refusal fails its order."""
    need = [s for s in snapshots if snapshot_needs_reread(s)][: limit if limit is not None else None]
    answers: dict[int, Any] = {}
    for snap in need:
        try:
            answers[snap.pk] = client.get_order(order_id=snap.amazon_order_id)
        except RetryableConnectorError:
            break
        except PermanentConnectorError as exc:
            _snapshot_refused(snap, exc)
    amazon_snapshots_reread(orders=answers)
    if answers:
        fresh = AmazonOrderSnapshot.objects.in_bulk(list(answers))
        snapshots = [fresh.get(s.pk, s) for s in snapshots]
    return [s for s in snapshots if s.state == s.State.FETCHED or s.amazon_order_id.startswith("malformed:")]


def _resume_pending(*, account: SellerAccount, marketplace_id: str, client: AmazonOrdersClient) -> IngestStats:
    """Finish snapshots a previous cycle stored but did not process (throttled, killed mid-page, waiting for a
    re-read), and stored v0 snapshots whose items were never fetched."""
    pending = list(
        AmazonOrderSnapshot.objects.filter(
            account=account,
            marketplace_id=marketplace_id,
            state__in=[AmazonOrderSnapshot.State.RECEIVED, AmazonOrderSnapshot.State.FETCHED],
        ).order_by("pk")[:PENDING_BATCH]
    )
    if not pending:
        return IngestStats()
    ready = _reread(client=client, snapshots=pending, limit=settings.SP_API_ORDERS_REREADS_PER_CYCLE)
    return amazon_snapshots_process(snapshots=ready)


def _record_failure(cursor: SyncCursor, exc: ConnectorError, now: datetime) -> None:
    failures = cursor.consecutive_failures + 1
    if isinstance(exc, ThrottledError):
        delay = timedelta(seconds=exc.retry_after or 60)
    else:
        delay = min(timedelta(seconds=30) * (2 ** min(failures - 1, 10)), MAX_BACKOFF)
    SyncCursor.objects.filter(pk=cursor.pk).update(
        consecutive_failures=0 if isinstance(exc, ThrottledError) else failures,
        last_error=str(exc)[:2000],
        not_before=now + delay,
    )


def amazon_orders_sync(
    *,
    account: SellerAccount,
    marketplace_id: str,
    client: AmazonOrdersClient | None = None,
    max_pages: int | None = None,
    owner: str | None = None,
    ignore_backoff: bool = False,
) -> SyncResult:
    """Run one polling cycle. Never raises for provider trouble: the outcome and error are in the result."""
    result = SyncResult(account=account.name, marketplace_id=marketplace_id)
    cursor = sync_cursor_get(account=account, marketplace_id=marketplace_id)
    now = timezone.now()
    if not ignore_backoff and cursor.not_before and cursor.not_before > now:
        result.outcome = "deferred"
        result.error = f"backing off until {cursor.not_before.isoformat()}: {cursor.last_error}"
        return result
    own_client = client is None
    try:
        client = client or sp_api_client_for(account=account, marketplace_id=marketplace_id)
    except DemoCredentialsRefused as exc:
        # Settings, not Amazon: nothing was sent, so no backoff; the operator sees why in the exception queue.
        result.outcome, result.error = "failed", str(exc)
        exception_open(
            kind=ExceptionItem.Kind.CONNECTOR_ERROR,
            source=cursor,
            summary=f"Polling {account.name} {marketplace_id} refused: {exc.message}"[:300],
            detail=str(exc),
            reference=account.selling_partner_id,
        )
        logger.error("orders sync %s %s: %s", account.name, marketplace_id, exc)
        return result
    owner = owner or _lease_owner()
    if not sync_cursor_acquire(cursor=cursor, owner=owner):
        result.outcome = "busy"
        if own_client:
            client.close()
        return result
    calls_before = Counter(client.calls)
    # While a page is written, the next one's raw orders are stored, parsed and mapped on another thread (its own
    # connection and transaction: the database work of one overlaps the other's), and the page after that is read on a
    # third (those calls wait for Amazon, and for retries' pauses, not for us). Another connection sees only what is
    # committed: inside a caller's transaction (a test's) the pages are stored on this one.
    pool = ThreadPoolExecutor(max_workers=1)
    reader = _PageReader(client, cursor)
    ahead = not transaction.get_connection().in_atomic_block
    try:
        cursor.refresh_from_db()
        SyncCursor.objects.filter(pk=cursor.pk).update(last_attempt_at=now)
        result.stats.add(_resume_pending(account=account, marketplace_id=marketplace_id, client=client))
        if cursor.window_end is None:
            _open_window(cursor, now)
        result.window_start, result.window_end = cursor.window_start, cursor.window_end
        limit = max_pages or settings.SP_API_ORDERS_MAX_PAGES_PER_CYCLE
        result.outcome = "partial"
        fetched: _Fetched | None = _fetch_and_store(
            reader, cursor.next_token or None, account, marketplace_id, read_next=limit > 1
        )
        while fetched is not None:
            page = fetched.page
            if fetched.prepared is None:
                fetched.prepared = _store_page(client, page, account, marketplace_id)
            result.pages += 1
            result.orders_seen += len(page.orders)
            upcoming: Future[_Fetched] | None = None
            if page.next_token and result.pages < limit:
                upcoming = pool.submit(
                    _fetch_and_store, reader, page.next_token, account, marketplace_id,
                    read_next=result.pages + 1 < limit, store=ahead,
                )  # fmt: skip
            with transaction.atomic():
                result.stats.add(amazon_snapshots_apply(prepared=fetched.prepared))
                _advance(cursor, page.next_token, owner)
            if not page.next_token:
                result.outcome = "complete"
            fetched = upcoming.result() if upcoming is not None else None  # its error (if any) ends the cycle here
    except ConnectorError as exc:
        result.outcome = "throttled" if isinstance(exc, ThrottledError) else "failed"
        result.error = str(exc)
        _record_failure(cursor, exc, timezone.now())
        if isinstance(exc, PermanentConnectorError):
            exception_open(
                kind=ExceptionItem.Kind.CONNECTOR_ERROR,
                source=cursor,
                summary=f"Polling {account.name} {marketplace_id} failed: {exc.message}"[:300],
                detail=f"{exc}\nThe poller keeps retrying with backoff; fix the cause (credentials, roles).",
                reference=account.selling_partner_id,
            )
        logger.warning("orders sync %s %s: %s", account.name, marketplace_id, exc)
    finally:
        thread_pool_shutdown(pool, workers=1)
        reader.close()
        sync_cursor_release(cursor=cursor, owner=owner)
        result.api_calls = dict(Counter(client.calls) - calls_before)
        if own_client:
            client.close()
    return result


def _open_window(cursor: SyncCursor, now: datetime) -> None:
    end = now - settings.SP_API_ORDERS_SETTLE_DELAY
    if cursor.synced_through:
        start = cursor.synced_through - settings.SP_API_ORDERS_OVERLAP
    else:
        start = now - settings.SP_API_ORDERS_INITIAL_LOOKBACK
    start = min(start, end)
    cursor.window_start, cursor.window_end, cursor.next_token, cursor.pages_in_window = start, end, "", 0
    cursor.save(update_fields=["window_start", "window_end", "next_token", "pages_in_window", "updated_at"])


def _search(client: AmazonOrdersClient, cursor: SyncCursor, token: str | None) -> SearchOrdersPage:
    """One searchOrders call, asked again on a failure that may pass (not on a throttle: the limiter waits for those,
    and a 429 means the quota is gone for minutes)."""
    assert cursor.window_start is not None and cursor.window_end is not None
    attempts = 1 + max(0, settings.SP_API_ORDERS_PAGE_RETRIES)
    for attempt in range(attempts):
        try:
            return client.search_orders(
                last_updated_after=cursor.window_start, last_updated_before=cursor.window_end, pagination_token=token
            )
        except ThrottledError:
            raise
        except RetryableConnectorError:
            if attempt == attempts - 1:
                raise
            time.sleep(min(0.05 * 2**attempt, 1.0))
    raise AssertionError("unreachable")  # pragma: no cover


def _get_page(client: AmazonOrdersClient, cursor: SyncCursor, token: str | None) -> SearchOrdersPage:
    try:
        return _search(client, cursor, token)
    except PermanentConnectorError as exc:
        if not token or exc.status_code != 400:
            raise
        # A saved paginationToken Amazon no longer accepts (they expire after 24 h): restart the window from its
        # start. Every page is an idempotent upsert, so pages read again cost calls, not correctness.
        logger.warning("paginationToken refused for %s, restarting the window: %s", cursor, exc)
        SyncCursor.objects.filter(pk=cursor.pk).update(next_token="", pages_in_window=0)
        return _search(client, cursor, None)


@dataclass
class _Fetched:
    page: SearchOrdersPage
    prepared: PreparedSnapshots | None  # its stored snapshots, parsed and mapped (None: not stored yet)


class _PageReader:
    """searchOrders pages read on a thread of their own, the next one started as soon as its token is known."""

    def __init__(self, client: AmazonOrdersClient, cursor: SyncCursor) -> None:
        self.client, self.cursor = client, cursor
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.started: dict[str | None, Future[SearchOrdersPage]] = {}

    def start(self, token: str | None) -> None:
        if token not in self.started:
            self.started[token] = self.pool.submit(_get_page, self.client, self.cursor, token)

    def get(self, token: str | None) -> SearchOrdersPage:
        """The page of `token`: read ahead, or (the cycle's first) read now on the calling thread."""
        started = self.started.pop(token, None)
        if started is None:
            return _get_page(self.client, self.cursor, token)
        return started.result()  # its error (if any) is raised here

    def close(self) -> None:
        thread_pool_shutdown(self.pool, workers=1)  # a page read ahead and not used is dropped


def _fetch_and_store(
    reader: _PageReader,
    token: str | None,
    account: SellerAccount,
    marketplace_id: str,
    *,
    read_next: bool,
    store: bool = True,
) -> _Fetched:
    """One page from Amazon (the next one started if `read_next`) and (`store`) its raw orders stored. Stored
    (committed) before the page is processed and the cursor moves: a cycle that ends in between leaves them to the
    next cycle's pending snapshots."""
    page = reader.get(token)
    if read_next and page.next_token:
        reader.start(page.next_token)
    return _Fetched(page=page, prepared=_store_page(reader.client, page, account, marketplace_id) if store else None)


def _store_page(
    client: AmazonOrdersClient, page: SearchOrdersPage, account: SellerAccount, marketplace_id: str
) -> PreparedSnapshots:
    """A page's raw orders stored, those it could not describe read again, and the ready ones parsed and mapped."""
    stored = amazon_snapshots_store(account=account, marketplace_id=marketplace_id, raw_orders=page.orders)
    ready = _reread(client=client, snapshots=stored, limit=settings.SP_API_ORDERS_REREADS_PER_CYCLE)
    return amazon_snapshots_prepare(snapshots=ready)


def _advance(cursor: SyncCursor, next_token: str | None, owner: str) -> None:
    """Called inside the transaction that wrote the page's data."""
    now = timezone.now()
    cursor.pages_in_window += 1
    cursor.lease_expires_at = now + settings.SP_API_SYNC_LEASE
    if next_token:
        cursor.next_token = next_token
    else:
        cursor.synced_through = cursor.window_end
        cursor.window_start = cursor.window_end = None
        cursor.next_token, cursor.pages_in_window = "", 0
        cursor.last_success_at = now
        cursor.consecutive_failures = 0
        cursor.last_error = ""
        cursor.not_before = None
    cursor.save(
        update_fields=[
            "pages_in_window", "lease_expires_at", "next_token", "synced_through", "window_start", "window_end",
            "last_success_at", "consecutive_failures", "last_error", "not_before", "updated_at",
        ]
    )  # fmt: skip
    if not next_token:
        exceptions_resolve_for(source=cursor, actor="system:amazon", note="polling succeeded again")


def amazon_orders_sync_account(*, account: SellerAccount, **kwargs: Any) -> list[SyncResult]:
    return [
        amazon_orders_sync(account=account, marketplace_id=m.marketplace_id, **kwargs)
        for m in account.marketplaces.filter(is_active=True)
    ]


@dataclass
class RefreshResult:
    """What `amazon_orders_refresh` did: per-order outcome in words, plus the ingestion counts."""

    stats: IngestStats = field(default_factory=IngestStats)
    refreshed: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # order id → why (retryable: try again later)
    throttled: dict[str, float] = field(default_factory=dict)  # of those, quota used up: seconds to the next slot
    api_calls: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        s = self.stats
        parts = [
            f"{len(self.refreshed)} read from Amazon (created {s.created}, updated {s.updated}, held {s.held}, "
            f"failed {s.failed})"
        ]
        if self.not_found:
            parts.append(f"Amazon has no order {', '.join(self.not_found)}")
        if self.failed:
            parts.append("not read: " + "; ".join(f"{k}: {v}" for k, v in self.failed.items()))
        return ". ".join(parts)


def amazon_orders_refresh(
    *,
    account: SellerAccount,
    marketplace_id: str,
    amazon_order_ids: Sequence[str],
    actor: str = "system:amazon",
    client: AmazonOrdersClient | None = None,
    via: str = SeenVia.REFRESH,
) -> RefreshResult:
    """Read these orders again with getOrder (2026-01-01) and apply them: the operator's "Refresh from Amazon", and
    orders Amazon lists elsewhere (its order report) that polling never saw. Stored raw first like a page; applied
    even when Amazon's last-updated time did not move (a role granted since, say, now shows the ship-to).
    Never raises for provider trouble: each order's outcome is in the result."""
    result = RefreshResult()
    ids = list(dict.fromkeys(i.strip() for i in amazon_order_ids if i and i.strip()))
    if not ids:
        return result
    own_client = client is None
    client = client or sp_api_client_for(account=account, marketplace_id=marketplace_id)
    calls_before = Counter(client.calls)
    raw_orders: list[dict[str, Any]] = []
    try:
        for order_id in ids:
            try:
                raw_orders.append(client.get_order(order_id=order_id))
            except PermanentConnectorError as exc:
                if exc.status_code == 404:
                    result.not_found.append(order_id)
                else:
                    result.failed[order_id] = str(exc)
            except ConnectorError as exc:
                result.failed[order_id] = str(exc)
                if isinstance(exc, ThrottledError):
                    result.throttled[order_id] = exc.retry_after or 2.0
    finally:
        result.api_calls = dict(Counter(client.calls) - calls_before)
        if own_client:
            client.close()
    stored = amazon_snapshots_store(account=account, marketplace_id=marketplace_id, raw_orders=raw_orders, via=via)
    keys = [s.amazon_order_id for s in stored]
    # An identical payload already processed is not returned by the store: process that one again too.
    again = AmazonOrderSnapshot.objects.filter(
        amazon_order_id__in=[str(r.get("orderId")) for r in raw_orders if isinstance(r, dict)]
    ).exclude(amazon_order_id__in=keys)
    ready = [s for s in [*stored, *again] if s.state != s.State.RECEIVED or s.amazon_order_id.startswith("malformed:")]
    result.stats = amazon_snapshots_process(snapshots=ready, actor=actor, force=True)
    result.refreshed = [s.amazon_order_id for s in ready]
    return result


def orders_refresh_from_amazon(*, order_ids: Sequence[int], actor: str) -> list[str]:
    """The operator's "Refresh from Amazon" on selected orders: one getOrder each (grouped by seller account and
    marketplace), applied. Returns what happened, in words, per group; orders that are not Amazon's are named."""
    orders = list(Order.objects.filter(pk__in=order_ids).select_related("seller_account").order_by("pk"))
    lines = [
        f"{o.external_id}: not an Amazon order"
        for o in orders
        if o.channel != Order.Channel.AMAZON or not o.seller_account
    ]
    groups: dict[tuple[int, str], list[Order]] = {}
    for order in orders:
        if order.channel == Order.Channel.AMAZON and order.seller_account is not None:
            groups.setdefault((order.seller_account.pk, order.marketplace_id), []).append(order)
    for (_, marketplace_id), group in groups.items():
        account = group[0].seller_account
        assert account is not None
        try:
            result = amazon_orders_refresh(
                account=account,
                marketplace_id=marketplace_id,
                amazon_order_ids=[o.external_id for o in group],
                actor=actor,
            )
        except DemoCredentialsRefused as exc:
            lines.append(f"{account.name}: {exc.message}")
            continue
        lines.append(f"{account.name} {marketplace_id}: {result.summary()}")
    return lines
