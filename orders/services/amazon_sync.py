"""One polling cycle for one seller account + marketplace: getOrders by LastUpdateDate window, page by page.

Window: [synced_through − overlap, now − settle delay]. Amazon only guarantees getOrders data two minutes
after a change, and a boundary order may sit exactly on either edge, so windows overlap and every write is
an idempotent upsert. Inside a window the saved NextToken moves page by page together with that page's
data; `synced_through` moves only when the last page is in. A throttled or failed cycle keeps its place
and the next one resumes from the saved token.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections import Counter
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
from orders.models import AmazonOrderSnapshot, SellerAccount, SyncCursor
from orders.services.accounts import sp_api_client_for
from orders.services.amazon_ingest import (
    IngestStats,
    amazon_snapshots_attach_details,
    amazon_snapshots_process,
    amazon_snapshots_store,
    snapshot_needs_address,
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


@dataclass
class _Staged:
    """A page whose raw orders are stored and whose detail calls are in flight."""

    snapshots: list[AmazonOrderSnapshot]
    futures: list[tuple[AmazonOrderSnapshot, Future[Any]]]
    next_token: str | None = None


def _submit_details(
    *,
    client: AmazonOrdersClient,
    pool: ThreadPoolExecutor,
    snapshots: list[AmazonOrderSnapshot],
    stop: threading.Event,
    submitted: set[int] | None = None,
) -> _Staged:
    """Start getOrderItems (+ getOrderAddress for merchant-fulfilled orders) for snapshots that lack them.

    `submitted` holds the snapshots already being fetched in this cycle (a page Amazon delivers twice must
    not cost the calls twice); it is updated.
    """
    submitted = set() if submitted is None else submitted
    need = [
        s
        for s in snapshots
        if s.state == s.State.RECEIVED and not s.amazon_order_id.startswith("malformed:") and s.pk not in submitted
    ]
    submitted.update(s.pk for s in need)

    def fetch(snap: AmazonOrderSnapshot) -> tuple[list[dict[str, Any]] | None, dict[str, Any] | None]:
        if stop.is_set():  # throttled or failing: do not spend quota on calls that will fail too
            return None, None
        try:
            items = client.get_order_items(amazon_order_id=snap.amazon_order_id)
            address = None
            if snapshot_needs_address(snap):
                address = client.get_order_address(amazon_order_id=snap.amazon_order_id)
        except RetryableConnectorError:
            stop.set()
            raise
        return items, address

    return _Staged(snapshots=snapshots, futures=[(s, pool.submit(fetch, s)) for s in need])


def _collect_details(staged: _Staged, *, raise_errors: bool = True) -> list[AmazonOrderSnapshot]:
    """Wait for a page's detail calls and store what came back, even when some failed.

    A permanent error on one order fails only that order; a retryable one is raised after storing the
    rest. Returns the snapshots ready to process.
    """
    details: dict[int, tuple[list[dict[str, Any]] | None, dict[str, Any] | None]] = {}
    retry_error: RetryableConnectorError | None = None
    for snap, future in staged.futures:
        try:
            items, address = future.result()
        except RetryableConnectorError as exc:
            retry_error = retry_error or exc
            continue
        except PermanentConnectorError as exc:
            AmazonOrderSnapshot.objects.filter(pk=snap.pk).update(
                state=AmazonOrderSnapshot.State.FAILED, error=str(exc), attempts=F("attempts") + 1
            )
            snap.state = snap.State.FAILED
            exception_open(
                kind=ExceptionItem.Kind.CONNECTOR_ERROR,
                source=snap,
                summary=f"Amazon refused the details of order {snap.amazon_order_id}: {exc.message}"[:300],
                detail=str(exc),
                reference=snap.amazon_order_id,
            )
            continue
        if items is not None:
            details[snap.pk] = (items, address)
            snap.items_payload, snap.state = items, snap.State.FETCHED
            if address is not None:
                snap.address_payload = address
    amazon_snapshots_attach_details(details=details)
    if retry_error is not None and raise_errors:
        raise retry_error
    return [s for s in staged.snapshots if s.state == s.State.FETCHED or s.amazon_order_id.startswith("malformed:")]


def _fetch_details(
    *, client: AmazonOrdersClient, pool: ThreadPoolExecutor, snapshots: list[AmazonOrderSnapshot]
) -> list[AmazonOrderSnapshot]:
    staged = _submit_details(client=client, pool=pool, snapshots=snapshots, stop=threading.Event())
    return _collect_details(staged)


def _resume_pending(
    *, account: SellerAccount, marketplace_id: str, client: AmazonOrdersClient, pool: ThreadPoolExecutor
) -> IngestStats:
    """Finish snapshots a previous cycle stored but did not process (throttled or killed mid-page)."""
    pending = list(
        AmazonOrderSnapshot.objects.filter(
            account=account,
            marketplace_id=marketplace_id,
            state__in=[AmazonOrderSnapshot.State.RECEIVED, AmazonOrderSnapshot.State.FETCHED],
        ).order_by("pk")[:PENDING_BATCH]
    )
    if not pending:
        return IngestStats()
    ready = _fetch_details(client=client, pool=pool, snapshots=pending)
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
    workers = max(1, settings.SP_API_ITEM_FETCH_CONCURRENCY)
    pool = ThreadPoolExecutor(max_workers=workers)
    stop = threading.Event()
    try:
        cursor.refresh_from_db()
        SyncCursor.objects.filter(pk=cursor.pk).update(last_attempt_at=now)
        result.stats.add(_resume_pending(account=account, marketplace_id=marketplace_id, client=client, pool=pool))
        if cursor.window_end is None:
            _open_window(cursor, now)
        result.window_start, result.window_end = cursor.window_start, cursor.window_end
        limit = max_pages or settings.SP_API_ORDERS_MAX_PAGES_PER_CYCLE
        result.outcome = "partial"
        submitted: set[int] = set()

        def stage(token: str | None) -> _Staged:
            page = _get_page(client, cursor, token)
            result.pages += 1
            result.orders_seen += len(page.orders)
            stored = amazon_snapshots_store(account=account, marketplace_id=marketplace_id, raw_orders=page.orders)
            staged = _submit_details(client=client, pool=pool, snapshots=stored, stop=stop, submitted=submitted)
            staged.next_token = page.next_token
            return staged

        # Pipelined: while page N's detail calls run, page N+1 is fetched and its calls start; then page N is
        # processed. The cursor still only moves past page N in the transaction that writes page N.
        current: _Staged | None = stage(cursor.next_token or None)
        while current is not None:
            upcoming: _Staged | None = None
            prefetch_error: ConnectorError | None = None
            if current.next_token and result.pages < limit:
                try:
                    upcoming = stage(current.next_token)
                except ConnectorError as exc:
                    prefetch_error = exc  # finish the page in hand first
            try:
                ready = _collect_details(current)
            except ConnectorError:
                if upcoming is not None:
                    _collect_details(upcoming, raise_errors=False)  # keep what the next page already fetched
                raise
            with transaction.atomic():
                result.stats.add(amazon_snapshots_process(snapshots=ready))
                _advance(cursor, current.next_token, owner)
            if prefetch_error is not None:
                raise prefetch_error
            if not current.next_token:
                result.outcome = "complete"
            current = upcoming
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
        stop.set()  # detail calls still queued are not made: their page is not collected in this cycle
        thread_pool_shutdown(pool, workers=workers)
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


def _get_page(client: AmazonOrdersClient, cursor: SyncCursor, token: str | None) -> Any:
    assert cursor.window_start is not None and cursor.window_end is not None
    try:
        return client.get_orders(
            last_updated_after=cursor.window_start, last_updated_before=cursor.window_end, next_token=token
        )
    except PermanentConnectorError as exc:
        if not token or token != cursor.next_token or exc.status_code != 400:
            raise
        # A saved NextToken Amazon no longer accepts (they expire): restart the same window from its start.
        logger.warning("NextToken refused for %s, restarting the window: %s", cursor, exc)
        cursor.next_token, cursor.pages_in_window = "", 0
        cursor.save(update_fields=["next_token", "pages_in_window", "updated_at"])
        return client.get_orders(last_updated_after=cursor.window_start, last_updated_before=cursor.window_end)


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
