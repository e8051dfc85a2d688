"""Inventory between the ERP and Amazon.

ERP → Amazon (merchant-fulfilled SKUs): the ERP posts levels (item, site, on hand, allocated, as-of, version);
a level only replaces an older one (as-of and version both not older, one newer), decided by the database in
the upsert itself, so concurrent or out-of-order posts cannot go backwards. Each SKU mapped to a changed item
(SkuMapping with fulfillment channel MFN) gets its wanted quantity (available = on hand − allocated, summed over
the sites that sell on Amazon) and a new `generation`.

Pushes are coalesced: a SKU has at most one request on its way (a patchListingsItem, or a JSON_LISTINGS_FEED
for many SKUs at once); updates meanwhile only change the wanted quantity, which the request reads when it is
sent. When it comes back, a newer generation than the one it carried means one more push: however many updates,
Amazon ends with the latest value, and a burst of 1,000 updates to one SKU sends one call.

Amazon → ERP (FBA): getInventorySummaries on a schedule, kept per SKU for the ERP's API.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone

from config.common.db import bulk_update_rows
from config.common.errors import PermanentConnectorError, ThrottledError
from config.common.models import ApiClient, ExceptionItem, OutboundRequest
from config.common.outbound import outbound_enqueue, register_outbound
from config.common.reprocess import register_reprocessor
from config.common.services import exception_open, exceptions_resolve_many
from connectors.amazon.inventory import AmazonInventoryClient
from connectors.amazon.inventory_types import Listing
from fulfillment.models import FbaInventory, InventoryLevel, InventoryUpdate, ListingFeed, ListingSync
from mappings.models import SkuMapping
from orders.models import SellerAccount, SellerMarketplace

logger = logging.getLogger(__name__)
ACTOR = "system:inventory"
PATCH = "amazon.listing_quantity"
FEED = "amazon.listings_feed"
ACTIVE = (OutboundRequest.Status.PENDING, OutboundRequest.Status.IN_FLIGHT)


@dataclass(frozen=True)
class LevelRow:
    item_id: str
    site: str
    on_hand: int
    allocated: int
    as_of: datetime
    version: int


@dataclass
class InventoryPostResult:
    update_id: int
    applied: int = 0
    stale: int = 0
    unmapped: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)


_UPSERT = f"""
    INSERT INTO {InventoryLevel._meta.db_table} AS cur
        (item_id, site, on_hand, allocated, as_of, version, created_at, updated_at)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (item_id, site) DO UPDATE SET
        on_hand = excluded.on_hand, allocated = excluded.allocated, as_of = excluded.as_of,
        version = excluded.version, updated_at = excluded.updated_at
    WHERE excluded.as_of >= cur.as_of AND excluded.version >= cur.version
      AND (excluded.as_of > cur.as_of OR excluded.version > cur.version)
    RETURNING id
"""  # noqa: S608 (model table name only)


def inventory_levels_post(
    *, rows: Sequence[LevelRow], payload: Any, client: ApiClient | None = None
) -> InventoryPostResult:
    """Store the post as received, apply what is newer, and schedule the Amazon pushes it calls for."""
    update = InventoryUpdate.objects.create(client=client, payload=payload)
    result = InventoryPostResult(update_id=update.pk)
    now = timezone.now()
    changed: set[str] = set()
    with transaction.atomic():
        outcomes = _upsert_levels(rows, now)
        for row, applied in zip(rows, outcomes, strict=True):
            if applied:
                changed.add(row.item_id)
            result.rows.append({"item_id": row.item_id, "site": row.site, "outcome": "applied" if applied else "stale"})
        mapped = set(
            SkuMapping.objects.filter(erp_item_id__in={r.item_id for r in rows}, **_MFN).values_list(
                "erp_item_id", flat=True
            )
        )
        for entry in result.rows:
            if entry["item_id"] not in mapped:
                entry["note"] = "no merchant-fulfilled Amazon SKU is mapped to this item: stored, not sent"
        result.applied = sum(1 for r in result.rows if r["outcome"] == "applied")
        result.stale = len(result.rows) - result.applied
        result.unmapped = len({r.item_id for r in rows} - mapped)
        listing_syncs_refresh(item_ids=changed & mapped)
        InventoryUpdate.objects.filter(pk=update.pk).update(
            applied=result.applied, stale=result.stale, unmapped=result.unmapped
        )
    return result


def _upsert_levels(rows: Sequence[LevelRow], now: datetime) -> list[bool]:
    """Apply each row if newer; whether it was. One pipelined executemany (rows in order, so a
    later row of the same post for the same item and site sees the earlier one)."""
    params: list[list[Any]] = [[r.item_id, r.site, r.on_hand, r.allocated, r.as_of, r.version, now, now] for r in rows]
    with connection.cursor() as cursor:
        raw = cursor.cursor
        raw.executemany(_UPSERT, params, returning=True)
        outcomes = []
        while True:
            outcomes.append(raw.fetchone() is not None)
            if not raw.nextset():
                return outcomes


_MFN: dict[str, Any] = {
    "fulfillment_channel": "MFN", "is_active": True, "seller_account__isnull": False,
    "seller_account__is_active": True,
}  # fmt: skip


def _available(item_ids: Iterable[str]) -> dict[str, tuple[int, datetime | None]]:
    excluded = set(settings.INVENTORY_EXCLUDED_SITES)
    totals: dict[str, tuple[int, datetime | None]] = {}
    for item_id, site, on_hand, allocated, as_of in InventoryLevel.objects.filter(item_id__in=item_ids).values_list(
        "item_id", "site", "on_hand", "allocated", "as_of"
    ):
        if site in excluded:
            continue
        quantity, newest = totals.get(item_id, (0, None))
        totals[item_id] = (quantity + max(on_hand - allocated, 0), max(newest, as_of) if newest else as_of)
    return totals


def listing_syncs_refresh(*, item_ids: Iterable[str]) -> int:
    """Recompute the wanted quantity of every MFN listing of these items; schedule pushes. Returns SKUs changed."""
    item_ids = set(item_ids)
    if not item_ids:
        return 0
    with transaction.atomic():
        mappings = [
            m
            for m in SkuMapping.objects.filter(erp_item_id__in=item_ids, **_MFN).select_related("seller_account")
            if m.seller_account_id is not None
        ]
        marketplaces: dict[int, list[str]] = defaultdict(list)
        for account_id, marketplace_id in SellerMarketplace.objects.filter(
            account_id__in={m.seller_account_id for m in mappings}, is_active=True
        ).values_list("account_id", "marketplace_id"):
            marketplaces[account_id].append(marketplace_id)
        existing = {
            (s.seller_account_id, s.marketplace_id, s.seller_sku): s.pk
            for s in ListingSync.objects.filter(item_id__in=item_ids)
        }
        missing = [
            ListingSync(seller_account_id=owner, marketplace_id=mk, seller_sku=m.seller_sku, item_id=m.erp_item_id)
            for m in mappings if (owner := m.seller_account_id) is not None for mk in marketplaces[owner]
            if (owner, mk, m.seller_sku) not in existing
        ]  # fmt: skip
        ListingSync.objects.bulk_create(missing, ignore_conflicts=True)
        available = _available(item_ids)
        mapped = {(m.seller_account_id, m.seller_sku) for m in mappings}
        syncs = [
            s
            for s in ListingSync.objects.select_for_update().filter(item_id__in=item_ids).order_by("pk")
            if (s.seller_account_id, s.seller_sku) in mapped
        ]
        due: list[ListingSync] = []
        changed: list[ListingSync] = []
        for sync in syncs:
            quantity, as_of = available.get(sync.item_id, (0, None))
            if quantity != sync.desired_quantity or sync.generation == 0:
                sync.desired_quantity, sync.desired_as_of = quantity, as_of
                sync.generation += 1
                sync.status = ListingSync.Status.PENDING
                changed.append(sync)
            if sync.pushed_generation < sync.generation:
                due.append(sync)
        bulk_update_rows(changed, ["desired_quantity", "desired_as_of", "generation", "status"])
        listing_pushes_schedule(syncs=due)
    return len(due)


def _carried(syncs: Sequence[ListingSync]) -> set[int]:
    """Syncs whose current request is still on its way (it will read their newest quantity)."""
    request_ids = [s.request_id for s in syncs if s.request_id]
    active = set(OutboundRequest.objects.filter(pk__in=request_ids, status__in=ACTIVE).values_list("pk", flat=True))
    return {s.pk for s in syncs if s.request_id in active}


def listing_pushes_schedule(*, syncs: Sequence[ListingSync]) -> int:
    """One request per SKU not already carried by one: a feed per account and marketplace when many SKUs are
    due at once, else a patch each. The caller holds the syncs' row locks."""
    carried = _carried(syncs)
    groups: dict[tuple[int, str], list[ListingSync]] = defaultdict(list)
    for sync in syncs:
        if sync.pk not in carried:
            groups[sync.seller_account_id, sync.marketplace_id].append(sync)
    scheduled = 0
    for (account_id, marketplace_id), group in groups.items():
        for start in range(0, len(group), settings.INVENTORY_FEED_MAX_SKUS):
            chunk = group[start : start + settings.INVENTORY_FEED_MAX_SKUS]
            open_feed = _open_feed(account_id, marketplace_id, room=len(chunk))
            if open_feed is not None or len(chunk) >= settings.INVENTORY_FEED_THRESHOLD:
                items = [[s.pk, s.seller_sku, s.desired_quantity, s.generation] for s in chunk]
                if open_feed is not None:  # a feed not sent yet takes these SKUs too: one call for the lot
                    feed, request = open_feed
                    feed.items = feed.items + items
                    feed.save(update_fields=["items", "updated_at"])
                else:
                    feed = ListingFeed.objects.create(
                        seller_account_id=account_id, marketplace_id=marketplace_id, items=items
                    )
                    request = outbound_enqueue(
                        operation=FEED, provider="amazon", idempotency_key=f"listings-feed:{feed.pk}",
                        payload={"feed": feed.pk}, target=feed, max_attempts=20,
                    )  # fmt: skip
                ListingSync.objects.filter(pk__in=[s.pk for s in chunk]).update(request=request)
            else:
                for sync in chunk:
                    request = outbound_enqueue(
                        operation=PATCH, provider="amazon",
                        idempotency_key=f"listing:{sync.pk}:g{sync.generation}:{uuid.uuid4().hex[:12]}",
                        payload={"sync": sync.pk}, target=sync,
                    )  # fmt: skip
                    ListingSync.objects.filter(pk=sync.pk).update(request=request)
            scheduled += len(chunk)
    return scheduled


def _open_feed(account_id: int, marketplace_id: str, *, room: int) -> tuple[ListingFeed, OutboundRequest] | None:
    """The account's feed that is still waiting to be sent (locked), if it has room for `room` more SKUs."""
    for feed in ListingFeed.objects.select_for_update().filter(
        seller_account_id=account_id, marketplace_id=marketplace_id, status=ListingFeed.Status.NEW
    ):
        request = OutboundRequest.objects.filter(
            idempotency_key=f"listings-feed:{feed.pk}", status=OutboundRequest.Status.PENDING
        ).first()
        if request is not None and len(feed.items) + room <= settings.INVENTORY_FEED_MAX_SKUS:
            return feed, request
    return None


@dataclass(frozen=True)
class PushOutcome:
    sync_id: int
    quantity: int
    generation: int
    refused: str = ""  # Amazon's reason, when it did not take the quantity


def _record(sync_id: int, *, quantity: int, generation: int, refused: str = "") -> None:
    _record_many([PushOutcome(sync_id, quantity, generation, refused)])


def _record_many(outcomes: Sequence[PushOutcome]) -> None:
    """What pushes achieved (a patch, or every SKU of a feed at once); one more push for the SKUs whose quantity
    changed while theirs was on its way."""
    by_id = {o.sync_id: o for o in outcomes}
    now = timezone.now()
    with transaction.atomic():
        syncs = list(ListingSync.objects.select_for_update().filter(pk__in=by_id).order_by("pk"))
        accepted, refused, again = [], [], []
        for sync in syncs:
            outcome = by_id[sync.pk]
            if outcome.refused:
                sync.status, sync.last_error = ListingSync.Status.ERROR, outcome.refused
                refused.append(sync)
                continue
            if outcome.generation >= sync.pushed_generation:
                sync.pushed_quantity, sync.pushed_generation, sync.pushed_at = outcome.quantity, outcome.generation, now
                sync.last_error = ""
            if sync.pushed_generation >= sync.generation:
                sync.status = ListingSync.Status.IN_SYNC
            else:
                sync.request = None  # this request is done: the next one carries the newer quantity
                again.append(sync)
            accepted.append(sync)
        bulk_update_rows(accepted, ["pushed_quantity", "pushed_generation", "pushed_at", "last_error", "status"])
        bulk_update_rows(refused, ["status", "last_error"])
        for sync in refused:
            exception_open(
                kind=ExceptionItem.Kind.INVENTORY_SYNC, source=sync,
                summary=f"Amazon refused {by_id[sync.pk].quantity} for {sync.seller_sku} ({sync.marketplace_id})",
                detail=f"{sync.last_error}\nFix the listing or the SKU mapping, then reprocess to send it again.",
                reference=sync.seller_sku,
            )  # fmt: skip
        if accepted and ExceptionItem.objects.filter(kind=ExceptionItem.Kind.INVENTORY_SYNC, status="open").exists():
            exceptions_resolve_many(sources=accepted, actor=ACTOR, note="Amazon accepted the quantity")
        listing_pushes_schedule(syncs=again)


@register_outbound(PATCH)
def _patch(request: OutboundRequest) -> dict[str, Any]:
    sync = ListingSync.objects.select_related("seller_account").get(pk=request.payload["sync"])
    quantity, generation = sync.desired_quantity, sync.generation  # the newest, read when sent
    if sync.pushed_generation >= generation and sync.status == ListingSync.Status.IN_SYNC:
        return {"already": generation}
    account = sync.seller_account
    with AmazonInventoryClient.for_account(account, marketplace_id=sync.marketplace_id) as client:
        try:
            answer = client.patch_availability(
                seller_id=account.selling_partner_id, sku=sync.seller_sku, quantity=quantity,
                marketplace_id=sync.marketplace_id,
            )  # fmt: skip
        except PermanentConnectorError as exc:
            _record(sync.pk, quantity=quantity, generation=generation, refused=str(exc))
            return {"refused": str(exc)}
    if answer.status != "ACCEPTED":
        issues = "; ".join(str(i) for i in answer.issues) or answer.status
        _record(sync.pk, quantity=quantity, generation=generation, refused=f"Amazon: {issues}")
        return {"status": answer.status, "issues": issues}
    _record(sync.pk, quantity=quantity, generation=generation)
    return {"quantity": quantity, "generation": generation, "submission": answer.submission_id}


@register_outbound(FEED)
def _feed(request: OutboundRequest) -> dict[str, Any]:
    feed = ListingFeed.objects.select_related("seller_account").get(pk=request.payload["feed"])
    account = feed.seller_account
    if feed.status == ListingFeed.Status.NEW:
        with transaction.atomic():  # from here on no scheduler adds SKUs to this feed
            feed = ListingFeed.objects.select_for_update().select_related("seller_account").get(pk=feed.pk)
            # The newest quantities, read when sent (updates since the feed was made ride on it).
            latest = {
                s.pk: (s.desired_quantity, s.generation)
                for s in ListingSync.objects.filter(pk__in=[item[0] for item in feed.items])
            }
            feed.items = [[pk, sku, *latest.get(pk, (qty, gen))] for pk, sku, qty, gen in feed.items]
            feed.status = ListingFeed.Status.SENDING
            feed.save(update_fields=["items", "status", "updated_at"])
    with AmazonInventoryClient.for_account(account, marketplace_id=feed.marketplace_id) as client:
        if feed.status == ListingFeed.Status.SENDING:
            feed.feed_id = client.submit_listings_feed(
                seller_id=account.selling_partner_id, marketplace_id=feed.marketplace_id,
                items=[(sku, qty) for _, sku, qty, _ in feed.items],
            )  # fmt: skip
            feed.status = ListingFeed.Status.SUBMITTED
            feed.save(update_fields=["feed_id", "status", "updated_at"])  # kept even if the check below fails
        outcome = client.feed_result(feed.feed_id, skus=[sku for _, sku, _, _ in feed.items])
    if not outcome.done:
        raise _still_processing(feed)
    issues = outcome.issues_by_sku
    whole = "; ".join(outcome.feed_issues) or outcome.status
    results = []
    for pk, sku, quantity, generation in feed.items:
        if not outcome.ok:  # FATAL or CANCELLED: no message was applied
            results.append(PushOutcome(pk, quantity, generation, f"Amazon (feed {feed.feed_id}): {whole}"))
            continue
        refused = "; ".join(issues.get(sku, ()))
        results.append(
            PushOutcome(pk, quantity, generation, f"Amazon (feed {feed.feed_id}): {refused}" if refused else "")
        )
    _record_many(results)
    feed.status = ListingFeed.Status.DONE if outcome.status == "DONE" else ListingFeed.Status.FAILED
    feed.accepted, feed.invalid = outcome.accepted, outcome.invalid
    feed.result = {"status": outcome.status, "issues": {k: list(v) for k, v in issues.items()}, "feed": whole}
    feed.save(update_fields=["status", "accepted", "invalid", "result", "updated_at"])
    return {"feed_id": feed.feed_id, "accepted": outcome.accepted, "invalid": outcome.invalid}


def _still_processing(feed: ListingFeed) -> ThrottledError:
    # Not a failure: Amazon takes minutes. Checked again later without resubmitting (the feed id is kept).
    return ThrottledError(
        f"feed {feed.feed_id} still processing", retry_after=settings.INVENTORY_FEED_POLL_SECONDS,
        provider="amazon", operation="getFeed",
    )  # fmt: skip


def listing_syncs_due(*, limit: int = 10_000) -> int:
    """Pending SKUs with no request on its way (one failed, or the process died between steps): send them."""
    with transaction.atomic():
        # Lock the syncs only: PostgreSQL refuses FOR UPDATE on the nullable side of the outer join to the request.
        syncs = list(
            ListingSync.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=ListingSync.Status.PENDING)
            .filter(Q(request__isnull=True) | ~Q(request__status__in=ACTIVE))
            .order_by("pk")[:limit]
        )
        return listing_pushes_schedule(syncs=syncs)


def listing_syncs_push_now(*, sync_ids: Sequence[int]) -> int:
    """Send the ERP's current quantity of these SKUs to Amazon again (an operator's push, a reprocess): a new
    generation each, so a push already on its way is followed by one with today's quantity. Returns how many."""
    with transaction.atomic():
        syncs = list(ListingSync.objects.select_for_update().filter(pk__in=list(sync_ids)).order_by("pk"))
        for sync in syncs:
            sync.generation += 1
            sync.status = ListingSync.Status.PENDING
        bulk_update_rows(syncs, ["generation", "status"])
        return listing_pushes_schedule(syncs=syncs)


@register_reprocessor(ListingSync)
def _reprocess_sync(sync: models.Model, actor: str) -> None:
    listing_syncs_push_now(sync_ids=[sync.pk])


def listing_availability_check(*, limit: int = 50) -> int:
    """Read back what Amazon shows for the SKUs checked longest ago (drift detection), within the quota: when the
    quota is used up the check stops there (the SKUs not reached are the oldest next time). Returns SKUs checked."""
    syncs = list(
        ListingSync.objects.select_related("seller_account")
        .filter(seller_account__is_active=True)
        .order_by(models.F("amazon_checked_at").asc(nulls_first=True))[:limit]
    )
    clients: dict[tuple[int, str], AmazonInventoryClient] = {}
    checked = 0
    try:
        for sync in syncs:
            account = sync.seller_account
            client = clients.get((account.pk, sync.marketplace_id))
            if client is None:
                client = clients[(account.pk, sync.marketplace_id)] = AmazonInventoryClient.for_account(
                    account, marketplace_id=sync.marketplace_id
                )
            try:
                listing = client.get_listing(
                    seller_id=account.selling_partner_id, sku=sync.seller_sku, marketplace_id=sync.marketplace_id
                )
            except ThrottledError:
                break
            _availability_record(sync, listing)
            checked += 1
    finally:
        for client in clients.values():
            client.close()
    return checked


def _availability_record(sync: ListingSync, listing: Listing | None) -> None:
    ListingSync.objects.filter(pk=sync.pk).update(
        amazon_quantity=listing.quantity if listing else None, amazon_checked_at=timezone.now()
    )
    if listing is None or not listing.status:
        # Amazon accepts quantities for SKUs it does not list (an incomplete offer): only reading back tells.
        why = "not listed" if listing is None else "listed but not buyable (incomplete listing)"
        _record(sync.pk, quantity=sync.desired_quantity, generation=sync.generation,
                refused=f"Amazon shows SKU {sync.seller_sku} as {why} in {sync.marketplace_id}")  # fmt: skip


def fba_inventory_fetch(*, account: SellerAccount, marketplace_id: str, full: bool = False) -> int:
    """Amazon's FBA stock changed since the last fetch (all of it when `full`). Returns rows written."""
    latest = (
        FbaInventory.objects.filter(seller_account=account, marketplace_id=marketplace_id)
        .order_by("-amazon_updated_at")
        .values_list("amazon_updated_at", flat=True)
        .first()
    )
    start = None if full or latest is None else latest - timedelta(minutes=10)
    written = 0
    with AmazonInventoryClient.for_account(account, marketplace_id=marketplace_id) as client:
        for summary in client.inventory_summaries(marketplace_id=marketplace_id, start=start):
            FbaInventory.objects.update_or_create(
                seller_account=account, marketplace_id=marketplace_id, seller_sku=summary.seller_sku,
                defaults={
                    "fnsku": summary.fnsku, "asin": summary.asin, "fulfillable": summary.fulfillable,
                    "reserved": summary.reserved, "inbound_working": summary.inbound_working,
                    "inbound_shipped": summary.inbound_shipped, "inbound_receiving": summary.inbound_receiving,
                    "unfulfillable": summary.unfulfillable, "amazon_updated_at": summary.last_updated,
                    "raw": summary.raw,
                },
            )  # fmt: skip
            written += 1
    return written
