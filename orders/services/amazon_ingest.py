"""Raw Amazon orders in, canonical orders out.

Two steps, always in this order: `amazon_snapshots_store` keeps exactly what Amazon sent (one row per order id,
only ever moved forward in its last-updated time), then `amazon_snapshots_process` turns stored snapshots into
Order/OrderLine/Address/OrderEvent rows (and hands the FBM packages Amazon reports to fulfilment). Processing works a
page at a time with a handful of queries, is idempotent (a snapshot already applied at its last-updated time is a
no-op) and safe under concurrent pollers (page orders are locked in id order; a lost insert race retries the page).

Snapshots are Orders 2026-01-01 `Order` objects (items, ship-to, proceeds and packages inside); ones stored before
the switch are v0 (getOrders + getOrderItems + getOrderAddress) and still process through the v0 parsers.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from config.common.db import bulk_update_rows, copy_upsert_values, copy_values, ids_reserve, without_nul
from config.common.errors import MalformedPayloadError
from config.common.models import ExceptionItem
from config.common.services import exception_open, exceptions_resolve_many
from connectors.amazon.orders_2026_types import (
    AmazonPackage,
    describes_fully,
    order_key,
    order_last_updated,
    parse_order_2026,
)
from connectors.amazon.orders_types import (
    AmazonAddress,
    AmazonOrder,
    AmazonOrderItem,
    Money,
    parse_address,
    parse_datetime,
    parse_order,
    parse_order_items,
)
from mappings.models import StatusMapping
from mappings.selectors import sku_item_ids_resolve, status_map_get
from orders.facts import Derived, OrderFacts, order_status_derive
from orders.models import Address as OrderAddress
from orders.models import (
    AmazonOrderSnapshot,
    Order,
    OrderEvent,
    OrderHold,
    OrderLine,
    OrderStatus,
    SeenVia,
    SellerAccount,
)
from orders.services.addresses import address_normalize
from orders.services.status import (
    STATUS_FIELDS,
    order_event,
    order_holds_link,
    order_holds_sync,
    order_projection_settle,
    order_statuses_project,
)

logger = logging.getLogger(__name__)
ACTOR = "system:amazon"
V0, V2026 = AmazonOrderSnapshot.ApiVersion.V0, AmazonOrderSnapshot.ApiVersion.V2026
# The reason of the ERP-data hold for a ship-to Amazon withheld; a later snapshot with the address releases only it.
PII_HOLD_PREFIX = "Amazon withheld the ship-to address"
_ORDER_FIELDS = [
    "marketplace_id", "source_status", "fulfillment_channel", "sales_channel", "order_type",
    "ship_service_level", "purchased_at", "earliest_ship_date", "latest_ship_date", "currency",
    "total_amount", "is_business_order", "is_prime", "is_replacement",
]  # fmt: skip
_LINE_FIELDS = [
    "seller_sku", "asin", "item_id", "title", "quantity_ordered", "quantity_shipped", "item_price",
    "item_tax", "shipping_price", "shipping_tax", "shipping_discount", "promotion_discount", "is_gift",
]  # fmt: skip
_ADDRESS_FIELDS = [
    "name", "company", "line1", "line2", "line3", "city", "district", "state_or_region", "postal_code",
    "country_code", "phone", "address_type", "is_complete",
]  # fmt: skip


@dataclass
class IngestStats:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    held: int = 0

    def add(self, other: IngestStats) -> None:
        for name in ("created", "updated", "unchanged", "failed", "held"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Parsed:
    snapshot: AmazonOrderSnapshot
    order: AmazonOrder
    items: list[AmazonOrderItem]
    address: AmazonAddress | None
    mapped_status: str
    currency: str
    packages: list[AmazonPackage] = field(default_factory=list)
    pii_withheld: bool = False
    unchanged: bool = False  # already applied at this last-updated time
    lines: list[dict[str, Any]] = field(default_factory=list)
    unknown_skus: list[str] = field(default_factory=list)


# --- step 1: store raw -------------------------------------------------------------------------------


def snapshot_key(raw: Any) -> str:
    """The order id (2026-01-01 orderId, v0 AmazonOrderId), or for a payload without a usable one a content hash (so
    it is stored once)."""
    key = order_key(raw)
    if key:
        return key
    if isinstance(raw, dict) and isinstance(raw.get("AmazonOrderId"), str) and raw["AmazonOrderId"].strip():
        return str(raw["AmazonOrderId"]).strip()[:64]
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()
    return f"malformed:{digest[:54]}"


def _last_update(raw: Any) -> datetime | None:
    if isinstance(raw, dict) and "lastUpdatedTime" in raw:
        return order_last_updated(raw)
    try:
        return parse_datetime(raw.get("LastUpdateDate"), "LastUpdateDate") if isinstance(raw, dict) else None
    except MalformedPayloadError:
        return None


def _ready_state(raw: Any) -> str:
    """A 2026-01-01 order that describes itself fully is ready to process; one that does not is read again."""
    return AmazonOrderSnapshot.State.FETCHED if describes_fully(raw) else AmazonOrderSnapshot.State.RECEIVED


def amazon_snapshots_store(
    *, account: SellerAccount, marketplace_id: str, raw_orders: Sequence[Any], via: str = SeenVia.POLL
) -> list[AmazonOrderSnapshot]:
    """Store one searchOrders page (2026-01-01 orders) as received. Returns the snapshots that still need work.

    An older or identical payload never replaces what we have (pages overlap and repeat); a newer one replaces it.
    """
    latest: dict[str, tuple[datetime | None, Any, str]] = {}
    for raw in raw_orders:
        raw, text = _payload_text(raw)
        key, lud = snapshot_key(raw), _last_update(raw)
        if key in latest and latest[key][0] and lud and lud < latest[key][0]:  # type: ignore[operator]
            continue
        latest[key] = (lud, raw, text)
    if not latest:
        return []
    for attempt in range(3):
        try:
            with transaction.atomic():
                return _store(account, marketplace_id, latest, via)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _payload_text(raw: Any) -> tuple[Any, str]:
    """The payload (without NULs, which PostgreSQL cannot hold) and its JSON text, dumped once: the text is what the
    database stores. A NUL is escaped as \\u0000 in JSON text, so only a payload whose text shows one is walked."""
    try:
        text = orjson.dumps(raw).decode()
    except TypeError:  # beyond orjson (an integer over 64 bits, a lone surrogate): the standard library's JSON
        text = json.dumps(raw)
    if "\\u0000" in text:  # a NUL somewhere (or those six characters): the slow walk, which leaves the latter alone
        raw = without_nul(raw)
        text = json.dumps(raw)
    return raw, text


_SNAPSHOT_COLUMNS = [
    "id", "created_at", "updated_at", "account_id", "marketplace_id", "amazon_order_id", "api_version",
    "last_update_date", "order_payload", "state", "error", "attempts", "first_seen_via",
]  # fmt: skip


def _store(
    account: SellerAccount, marketplace_id: str, latest: dict[str, tuple[datetime | None, Any, str]], via: str
) -> list[AmazonOrderSnapshot]:
    existing = {
        s.amazon_order_id: s
        for s in AmazonOrderSnapshot.objects.select_for_update().filter(amazon_order_id__in=list(latest)).order_by("pk")
    }
    to_create: list[AmazonOrderSnapshot] = []
    to_update: list[AmazonOrderSnapshot] = []
    pending: list[AmazonOrderSnapshot] = []
    rows: list[list[Any]] = []
    now = timezone.now()
    for key, (lud, raw, text) in latest.items():
        snap = existing.get(key)
        if snap is None:
            state = _ready_state(raw)
            snap = AmazonOrderSnapshot(
                account=account,
                marketplace_id=marketplace_id,
                amazon_order_id=key,
                api_version=V2026,
                last_update_date=lud,
                order_payload=raw,
                state=state,
                first_seen_via=via,
                created_at=now,
                updated_at=now,
            )
            # COPY with the JSON text as received: no model preparation, no second serialisation.
            rows.append([None, now, now, account.pk, marketplace_id, key, V2026, lud, text, state, "", 0, via])
            to_create.append(snap)
            pending.append(snap)
            continue
        stale = lud is not None and snap.last_update_date is not None and lud < snap.last_update_date
        same = snap.order_payload == raw
        if stale or (same and snap.state in (snap.State.PROCESSED, snap.State.FAILED)):
            continue  # nothing new; a failed one waits for an operator's reprocess
        if not same:
            _replace_payload(snap, raw, lud)
            to_update.append(snap)
        pending.append(snap)
    if rows:
        for snap, row, pk in zip(to_create, rows, ids_reserve(AmazonOrderSnapshot, len(rows)), strict=True):
            snap.pk = row[0] = pk
            snap._state.adding, snap._state.db = False, connection.alias
        copy_values(AmazonOrderSnapshot, _SNAPSHOT_COLUMNS, rows)
    bulk_update_rows(to_update, [*_PAYLOAD_FIELDS, "error"])
    return pending


_PAYLOAD_FIELDS = ["order_payload", "api_version", "last_update_date", "items_payload", "address_payload", "state"]


def _replace_payload(snap: AmazonOrderSnapshot, raw: Any, lud: datetime | None) -> None:
    snap.order_payload, snap.api_version, snap.last_update_date = raw, V2026, lud
    snap.items_payload = snap.address_payload = None  # v0's side payloads: a 2026 order carries its own
    snap.state, snap.error = _ready_state(raw), ""


def amazon_snapshots_reread(*, orders: Mapping[int, Any]) -> None:
    """Store what getOrder returned for snapshots a page could not fully describe (or v0 ones whose items were never
    fetched): snapshot pk → the 2026-01-01 order. An answer older than what we have is ignored."""
    if not orders:
        return
    with transaction.atomic():
        snaps = list(AmazonOrderSnapshot.objects.select_for_update().filter(pk__in=list(orders)).order_by("pk"))
        changed = []
        for snap in snaps:
            raw = without_nul(orders[snap.pk])
            lud = _last_update(raw)
            if lud is not None and snap.last_update_date is not None and lud < snap.last_update_date:
                continue
            _replace_payload(snap, raw, lud)
            if snap.state == snap.State.RECEIVED:  # getOrder too left out what we need: processing says what
                snap.state = snap.State.FETCHED
            changed.append(snap)
        bulk_update_rows(changed, [*_PAYLOAD_FIELDS, "error"])


def snapshot_needs_reread(snapshot: AmazonOrderSnapshot) -> bool:
    """A snapshot that cannot be processed as stored: a 2026 order a page did not fully describe, or a v0 order
    whose items were never fetched (v0's reads are gone: getOrder 2026-01-01 reads it whole)."""
    return snapshot.state == snapshot.State.RECEIVED and not snapshot.amazon_order_id.startswith("malformed:")


# --- FBM packages Amazon reports: fulfilment records them as shipments -----------------------------------

PackagesHandler = Callable[[Mapping[int, Sequence[AmazonPackage]], str, Collection[int]], dict[int, list[str]]]
_PACKAGE_HANDLERS: list[PackagesHandler] = []


def register_amazon_packages_handler(fn: PackagesHandler) -> PackagesHandler:
    """Fulfilment owns shipments; it registers how Amazon's packages (order id → packages) become ones, inside the
    page's transaction and before the status projection, with the ids of the orders the page created (they have no
    shipments yet). It returns order id → notes for the order's history."""
    _PACKAGE_HANDLERS.append(fn)
    return fn


# --- step 2: process -------------------------------------------------------------------------------------


def _snapshot_fail(snapshot: AmazonOrderSnapshot, *, kind: str, summary: str, detail: str) -> None:
    AmazonOrderSnapshot.objects.filter(pk=snapshot.pk).update(
        state=AmazonOrderSnapshot.State.FAILED,
        error=detail,
        attempts=snapshot.attempts + 1,
        processed_at=timezone.now(),
    )
    snapshot.state, snapshot.error = AmazonOrderSnapshot.State.FAILED, detail
    exception_open(kind=kind, source=snapshot, summary=summary, detail=detail, reference=snapshot.amazon_order_id)


def _money_value(money: Money | None, currency: str, path: str) -> Decimal | None:
    if money is None:
        return None
    if money.currency != currency:
        raise MalformedPayloadError(f"currency {money.currency} differs from the order's {currency}", path=path)
    return money.amount


def _parse(snapshot: AmazonOrderSnapshot, status_map: dict[str, str]) -> _Parsed:
    packages: list[AmazonPackage] = []
    pii_withheld = False
    if snapshot.api_version == V2026:
        parsed = parse_order_2026(snapshot.order_payload)
        order, items, address = parsed.order, parsed.items, parsed.order.shipping_address
        packages, pii_withheld = parsed.packages, parsed.pii_withheld
    else:
        order = parse_order(snapshot.order_payload)
        if snapshot.items_payload is None:
            raise MalformedPayloadError("order items were never fetched", path=f"Order[{order.amazon_order_id}]")
        items = parse_order_items(snapshot.items_payload, amazon_order_id=order.amazon_order_id)
        address = (
            parse_address(snapshot.address_payload, f"Address[{order.amazon_order_id}]")
            if snapshot.address_payload
            else order.shipping_address
        )
    currencies = {m.currency for m in [order.order_total] if m} | {
        m.currency for i in items for m in (i.item_price, i.item_tax, i.shipping_price) if m
    }
    if len(currencies) > 1:
        raise MalformedPayloadError(
            f"mixed currencies {sorted(currencies)} in one order", path=f"Order[{order.amazon_order_id}]"
        )
    if order.order_total is not None and order.order_total.amount < 0:
        raise MalformedPayloadError("the order total is negative", path=f"Order[{order.amazon_order_id}]")
    currency = currencies.pop() if currencies else ""
    return _Parsed(
        snapshot=snapshot,
        order=order,
        items=items,
        address=address,
        mapped_status=status_map.get(order.order_status, ""),
        currency=currency,
        packages=packages,
        pii_withheld=pii_withheld,
    )


def _pii_hold(p: _Parsed) -> str | None:
    if not p.pii_withheld:
        return None
    account = p.snapshot.account
    return (
        f"{PII_HOLD_PREFIX} (name and street) of this merchant-fulfilled order: the app lacks the "
        f"Direct-to-Consumer Delivery role for seller {account.name} ({account.selling_partner_id}). Grant the role in "
        'Seller Central, then use "Refresh from Amazon" on the order.'
    )


def _line_values(item: AmazonOrderItem, currency: str, item_id: str, path: str) -> dict[str, Any]:
    return {
        "external_id": item.order_item_id,
        "seller_sku": item.seller_sku,
        "asin": item.asin,
        "item_id": item_id,
        "title": item.title[:500],
        "quantity_ordered": item.quantity_ordered,
        "quantity_shipped": item.quantity_shipped,
        "item_price": _money_value(item.item_price, currency, f"{path}.ItemPrice"),
        "item_tax": _money_value(item.item_tax, currency, f"{path}.ItemTax"),
        "shipping_price": _money_value(item.shipping_price, currency, f"{path}.ShippingPrice"),
        "shipping_tax": _money_value(item.shipping_tax, currency, f"{path}.ShippingTax"),
        "shipping_discount": _money_value(item.shipping_discount, currency, f"{path}.ShippingDiscount"),
        "promotion_discount": _money_value(item.promotion_discount, currency, f"{path}.PromotionDiscount"),
        "is_gift": item.is_gift,
    }


def _order_values(p: _Parsed) -> dict[str, Any]:
    o = p.order
    return {
        "marketplace_id": o.marketplace_id or p.snapshot.marketplace_id,
        "source_status": o.order_status,
        "fulfillment_channel": o.fulfillment_channel if o.fulfillment_channel in ("AFN", "MFN") else "",
        "sales_channel": o.sales_channel[:60],
        "order_type": o.order_type[:40],
        "ship_service_level": o.ship_service_level[:60],
        "purchased_at": o.purchase_date,
        "earliest_ship_date": o.earliest_ship_date,
        "latest_ship_date": o.latest_ship_date,
        "currency": p.currency,
        "total_amount": o.order_total.amount if o.order_total else None,
        "is_business_order": o.is_business_order,
        "is_prime": o.is_prime,
        "is_replacement": o.is_replacement_order,
    }


def _unknown_sku_hold(p: _Parsed) -> str | None:
    if not p.unknown_skus:
        return None
    skus = ", ".join(sorted(set(p.unknown_skus)))
    return f"Unknown SKU {skus}: add a SKU mapping, then reprocess the exception."


def _first_status(p: _Parsed) -> Derived:
    """A new order's status: the same derivation as every later change, from the only facts it has yet."""
    holds = {Order.HoldCode.UNKNOWN_SKU: _unknown_sku_hold(p), Order.HoldCode.ERP_DATA: _pii_hold(p)}
    return order_status_derive(
        OrderFacts(
            channel=Order.Channel.AMAZON,
            channel_status=p.mapped_status,
            channel_status_raw=p.order.order_status,
            holds={code: reason for code, reason in holds.items() if reason},
        )
    )


@dataclass
class PreparedSnapshots:
    """Stored snapshots parsed and resolved against the mappings, ready to apply (amazon_snapshots_prepare)."""

    groups: dict[int, list[_Parsed]] = field(default_factory=dict)  # seller account id → its orders
    stats: IngestStats = field(default_factory=IngestStats)  # the ones that failed already
    order_ids: list[int] = field(default_factory=list)  # reserved for the orders that turn out new


def amazon_snapshots_process(
    *, snapshots: Sequence[AmazonOrderSnapshot], actor: str = ACTOR, force: bool = False
) -> IngestStats:
    """Apply stored snapshots to the canonical model: amazon_snapshots_prepare, then amazon_snapshots_apply.

    Malformed payloads and unmapped statuses fail their snapshot (flagged, in the exception queue); unknown
    SKUs put the order on hold. `force` re-applies a snapshot even if the order already has its data
    (operator reprocess after a mapping fix).
    """
    return amazon_snapshots_apply(prepared=amazon_snapshots_prepare(snapshots=snapshots), actor=actor, force=force)


def amazon_snapshots_prepare(*, snapshots: Sequence[AmazonOrderSnapshot]) -> PreparedSnapshots:
    """Parse stored snapshots and resolve their statuses and SKUs against the mappings: everything but the write.
    Failures are recorded here (the snapshot failed, an exception opened). The polling cycle prepares the next page
    on another thread while it writes this one."""
    prepared = PreparedSnapshots()
    stats = prepared.stats
    if not snapshots:
        return prepared
    status_map = status_map_get(source=StatusMapping.Source.AMAZON_ORDER)
    parsed: list[_Parsed] = []
    for snap in snapshots:
        try:
            p = _parse(snap, status_map)
        except MalformedPayloadError as exc:
            _snapshot_fail(
                snap,
                kind=ExceptionItem.Kind.MALFORMED_PAYLOAD,
                summary=f"Malformed Amazon order {snap.amazon_order_id}: {exc.message}"[:300],
                detail=exc.message,
            )
            stats.failed += 1
            continue
        if not p.mapped_status:
            _snapshot_fail(
                snap,
                kind=ExceptionItem.Kind.UNKNOWN_STATUS,
                summary=f"Amazon status {p.order.order_status!r} has no status mapping",
                detail=(
                    f"Order {p.order.amazon_order_id} has OrderStatus {p.order.order_status!r}. Add it under "
                    "Mappings › Status mappings, then reprocess."
                ),
            )
            stats.failed += 1
            continue
        parsed.append(p)
    # Amazon may list an order twice in one batch (overlapping pages): apply the newest only.
    newest: dict[str, _Parsed] = {}
    for p in parsed:
        seen = newest.get(p.order.amazon_order_id)
        if seen is None or p.order.last_update_date >= seen.order.last_update_date:
            newest[p.order.amazon_order_id] = p
    by_account: dict[int, list[_Parsed]] = {}
    for p in newest.values():
        by_account.setdefault(p.snapshot.account_id, []).append(p)
    for account_id, group in by_account.items():
        prepared.groups[account_id] = _resolve_lines(account_id, group, stats)
    prepared.order_ids = ids_reserve(Order, sum(len(group) for group in prepared.groups.values()))
    return prepared


def _resolve_lines(account_id: int, parsed: list[_Parsed], stats: IngestStats) -> list[_Parsed]:
    """Each order's line values with its items' ERP ids; the orders whose lines are good."""
    skus = {i.seller_sku for p in parsed for i in p.items}
    item_ids = sku_item_ids_resolve(account_id=account_id, seller_skus=skus)
    good: list[_Parsed] = []
    for p in parsed:
        try:
            for index, item in enumerate(p.items):
                item_id = item_ids.get(item.seller_sku)
                # A cancelled order ships nothing, so an unmapped SKU on it is not worth holding it for.
                if item_id is None and p.mapped_status != OrderStatus.CANCELLED:
                    p.unknown_skus.append(item.seller_sku)
                path = f"OrderItems[{p.order.amazon_order_id}][{index}]"
                p.lines.append(_line_values(item, p.currency, item_id or "", path))
        except MalformedPayloadError as exc:
            _snapshot_fail(
                p.snapshot,
                kind=ExceptionItem.Kind.MALFORMED_PAYLOAD,
                summary=f"Malformed Amazon order {p.snapshot.amazon_order_id}: {exc.message}"[:300],
                detail=exc.message,
            )
            stats.failed += 1
            continue
        good.append(p)
    return good


def amazon_snapshots_apply(*, prepared: PreparedSnapshots, actor: str = ACTOR, force: bool = False) -> IngestStats:
    """Write prepared snapshots: one transaction per seller account's orders (retried if another poller inserted
    one of them first), then the exception queue's bookkeeping."""
    stats = IngestStats()
    stats.add(prepared.stats)
    for account_id, good in prepared.groups.items():
        for attempt in range(3):
            try:
                with transaction.atomic():
                    result = _apply(account_id, good, actor=actor, force=force, reserved=prepared.order_ids)
                break
            except IntegrityError:
                # Another poller inserted one of these orders first; its rows are visible now, so try again.
                if attempt == 2:
                    raise
        stats.add(result.stats)
        _record_outcomes(result)
    return stats


@dataclass
class _ApplyResult:
    stats: IngestStats
    processed: list[_Parsed]


_NEW_ORDER_COLUMNS = [
    "id", "created_at", "updated_at", "channel", "external_id", "seller_account_id", "status", "hold_code",
    "hold_reason", "source_updated_at", *_ORDER_FIELDS, "metadata",
]  # fmt: skip
_LINE_COLUMNS = ["created_at", "updated_at", "order_id", "external_id", *_LINE_FIELDS]
_ADDRESS_COLUMNS = ["created_at", "updated_at", "order_id", "kind", *_ADDRESS_FIELDS]
_EVENT_COLUMNS = ["order_id", "created_at", "kind", "from_status", "to_status", "actor", "message", "data"]


def _event_rows(events: Sequence[OrderEvent], now: datetime) -> list[tuple[Any, ...]]:
    """COPY rows of unsaved events (their orders saved): the values as the model holds them, data as JSON text."""
    return [
        (e.order_id, now, e.kind, e.from_status, e.to_status, e.actor, e.message, json.dumps(e.data)) for e in events
    ]


def _apply(account_id: int, parsed: list[_Parsed], *, actor: str, force: bool, reserved: list[int]) -> _ApplyResult:
    """One page in one transaction. Rows are built straight from the parsed orders and written by COPY: model objects
    only for the orders (the status writer and the exception queue take those)."""
    stats = IngestStats()
    now = timezone.now()
    ids = [p.order.amazon_order_id for p in parsed]
    orders = {
        o.external_id: o
        for o in Order.objects.select_for_update()
        .filter(channel=Order.Channel.AMAZON, external_id__in=ids)
        .order_by("pk")
    }
    # New orders first, so every later row can point at them.
    new_orders: list[Order] = []
    order_rows: list[list[Any]] = []
    for p in parsed:
        if p.order.amazon_order_id not in orders:
            first = _first_status(p)
            values = _order_values(p)
            order = Order(
                channel=Order.Channel.AMAZON,
                external_id=p.order.amazon_order_id,
                seller_account_id=account_id,
                status=first.status,
                hold_code=first.hold_code,
                hold_reason=first.hold_reason,
                source_updated_at=p.order.last_update_date,
                created_at=now,
                updated_at=now,
                **values,
            )
            new_orders.append(order)
            order_rows.append(
                [
                    None, now, now, Order.Channel.AMAZON, order.external_id, account_id, order.status, order.hold_code,
                    order.hold_reason, order.source_updated_at, *(values[name] for name in _ORDER_FIELDS), "{}",
                ]
            )  # fmt: skip
    if order_rows:
        # Ids reserved while the page was prepared (more if they do not suffice), so the COPY needs no look-up after.
        spare = reserved[: len(order_rows)]
        spare += ids_reserve(Order, len(order_rows) - len(spare))
        for order, row, pk in zip(new_orders, order_rows, spare, strict=True):
            order.pk = row[0] = pk
            order._state.adding, order._state.db = False, connection.alias
        # COPY: bulk_create's per-value work dominated a page. (A lost race with another poller: IntegrityError.)
        copy_values(Order, _NEW_ORDER_COLUMNS, order_rows)
    created = {o.external_id for o in new_orders}
    new_pks = frozenset(o.pk for o in new_orders)
    orders.update({o.external_id: o for o in new_orders})

    orders_by_pk = {o.pk: o for o in orders.values()}
    existing_ids = [o.pk for o in orders.values() if o.external_id not in created]
    complete_addresses = (
        set(
            OrderAddress.objects.filter(
                order_id__in=existing_ids, kind=OrderAddress.Kind.SHIPPING, is_complete=True
            ).values_list("order_id", flat=True)
        )
        if existing_ids
        else set()
    )
    events: list[OrderEvent] = []
    event_rows: list[tuple[Any, ...]] = []
    order_updates: list[Order] = []
    reasons: dict[int, str] = {}
    # Holds to open (a reason) or release (None); a new order has none to release, so it is named only to open one.
    unknown_sku_holds: dict[int, str | None] = {}
    pii_holds: dict[int, str | None] = {}
    packages: dict[int, list[AmazonPackage]] = {}
    # A new order's lines and address are plain inserts; an existing order's are upserts on their natural key.
    line_rows: dict[bool, list[tuple[Any, ...]]] = {True: [], False: []}
    address_rows: dict[bool, list[tuple[Any, ...]]] = {True: [], False: []}
    processed: list[_Parsed] = []
    applied: set[int] = set()
    page_actor = actor[:150]

    for p in parsed:
        order = orders[p.order.amazon_order_id]
        is_new = order.external_id in created
        if (
            not is_new
            and not force
            and order.source_updated_at is not None
            and p.order.last_update_date <= order.source_updated_at
        ):
            stats.unchanged += 1
            p.unchanged = True
            processed.append(p)
            continue
        applied.add(order.pk)
        sku_hold, pii_hold = _unknown_sku_hold(p), _pii_hold(p)
        if sku_hold is not None or not is_new:
            unknown_sku_holds[order.pk] = sku_hold
        if pii_hold is not None or not is_new:
            pii_holds[order.pk] = pii_hold
        if p.packages:
            packages[order.pk] = p.packages
        if is_new:
            stats.created += 1
            event_rows.append(
                (
                    order.pk, now, OrderEvent.Kind.CREATED, "", order.status, page_actor,
                    f"Imported from Amazon (OrderStatus {p.order.order_status}).",
                    json.dumps({"last_update_date": p.order.last_update_date.isoformat()}),
                )
            )  # fmt: skip
            if order.hold_code:
                event_rows.append(
                    (
                        order.pk, now, OrderEvent.Kind.HELD, "", order.status, page_actor, order.hold_reason,
                        json.dumps({"hold_code": order.hold_code}),
                    )
                )  # fmt: skip
        else:
            values = _order_values(p)
            changed = [name for name, value in values.items() if getattr(order, name) != value]
            for name in changed:
                setattr(order, name, values[name])
            order.source_updated_at = max(p.order.last_update_date, order.source_updated_at or p.order.last_update_date)
            if changed:
                events.append(
                    order_event(
                        order=order,
                        kind=OrderEvent.Kind.UPDATED,
                        actor=actor,
                        message="Updated from Amazon: " + ", ".join(changed),
                        data={"changed": changed, "last_update_date": p.order.last_update_date.isoformat()},
                    )
                )
            order_updates.append(order)
            reasons[order.pk] = f"Amazon OrderStatus {p.order.order_status}"
            stats.updated += 1
        line_rows[is_new].extend(
            (now, now, order.pk, v["external_id"], *(v[name] for name in _LINE_FIELDS)) for v in p.lines
        )
        if p.address is not None:
            addr_values = address_normalize(p.address)
            # A partial address (from getOrders) never overwrites a complete one (from getOrderAddress).
            if addr_values["is_complete"] or order.pk not in complete_addresses:
                address_rows[is_new].append(
                    (now, now, order.pk, OrderAddress.Kind.SHIPPING, *(addr_values[name] for name in _ADDRESS_FIELDS))
                )
        processed.append(p)

    if line_rows[True]:
        copy_values(OrderLine, _LINE_COLUMNS, line_rows[True])
    if line_rows[False]:
        copy_upsert_values(
            OrderLine, _LINE_COLUMNS, line_rows[False], unique=["order_id", "external_id"],
            update=[*_LINE_FIELDS, "updated_at"],
        )  # fmt: skip
    if address_rows[True]:
        copy_values(OrderAddress, _ADDRESS_COLUMNS, address_rows[True])
    if address_rows[False]:
        copy_upsert_values(
            OrderAddress, _ADDRESS_COLUMNS, address_rows[False], unique=["order_id", "kind"],
            update=[*_ADDRESS_FIELDS, "updated_at"],
        )  # fmt: skip
    # The status follows from the facts now stored (lines, holds) and from what the other apps know, by the one
    # derivation every path uses: an Amazon status that lags our own facts is recorded on the order, not an error.
    order_holds_sync(code=Order.HoldCode.UNKNOWN_SKU, wanted=unknown_sku_holds, actor=actor)
    order_holds_sync(code=Order.HoldCode.ERP_DATA, wanted=_pii_holds_wanted(pii_holds), actor=actor)
    for handler in _PACKAGE_HANDLERS:
        for order_id, notes in handler(packages, actor, new_pks).items():
            events.extend(
                order_event(order=orders_by_pk[order_id], kind=OrderEvent.Kind.NOTE, actor=actor, message=note)
                for note in notes
            )
    projection = order_statuses_project(orders=order_updates, actor=actor, reason="Amazon update", reasons=reasons)
    bulk_update_rows(order_updates, [*_ORDER_FIELDS, *STATUS_FIELDS, "source_updated_at"])
    event_rows.extend(_event_rows([*events, *projection.events], now))
    if event_rows:
        copy_values(OrderEvent, _EVENT_COLUMNS, event_rows)
    order_projection_settle(projection=projection, actor=actor)
    stats.held += sum(1 for o in orders.values() if o.pk in applied and o.status == OrderStatus.ON_HOLD)
    done = [p.snapshot for p in processed]
    for snap in done:
        snap.state, snap.error, snap.processed_at = AmazonOrderSnapshot.State.PROCESSED, "", now
        snap.order = orders.get(snap.amazon_order_id)
        snap.attempts += 1
    # One set-based UPDATE: every snapshot of the page gets the same state, and its order by id (known here; by the
    # snapshot's order id otherwise).
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE orders_amazonordersnapshot AS s SET state = %s, error = '', processed_at = %s, updated_at = %s, "
            "attempts = s.attempts + 1, order_id = COALESCE(v.order_id, (SELECT o.id FROM orders_order AS o "
            "WHERE o.channel = %s AND o.external_id = s.amazon_order_id)) "
            "FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, order_id) WHERE s.id = v.id",
            [
                AmazonOrderSnapshot.State.PROCESSED, now, now, Order.Channel.AMAZON, [snap.pk for snap in done],
                [snap.order.pk if snap.order is not None else None for snap in done],
            ],
        )  # fmt: skip
    return _ApplyResult(stats=stats, processed=processed)


def _pii_holds_wanted(pii_holds: dict[int, str | None]) -> dict[int, str | None]:
    """Open the hold where Amazon withheld the ship-to; release it only where it was that hold (the ERP handover's
    own data holds on the same code end when the ERP takes the order)."""
    releasing = [pk for pk, reason in pii_holds.items() if reason is None]
    if not releasing:
        return dict(pii_holds)
    ours = set(
        OrderHold.objects.filter(
            order_id__in=releasing,
            code=Order.HoldCode.ERP_DATA,
            released_at__isnull=True,
            reason__startswith=PII_HOLD_PREFIX,
        ).values_list("order_id", flat=True)
    )
    return {pk: reason for pk, reason in pii_holds.items() if reason is not None or pk in ours}


def _record_outcomes(result: _ApplyResult) -> None:
    """Exception-queue bookkeeping after the page committed: a few queries per page, one per problem order."""
    held = [p for p in result.processed if p.unknown_skus]
    for p in held:
        skus = ", ".join(sorted(set(p.unknown_skus)))
        item = exception_open(
            kind=ExceptionItem.Kind.UNKNOWN_SKU,
            source=p.snapshot,
            summary=f"Unknown SKU {skus} on Amazon order {p.order.amazon_order_id}",
            detail=(
                f"Seller SKU(s) {skus} have no active SKU mapping. The order is on hold. Add the mapping "
                "under Mappings › SKU mappings, then reprocess this exception."
            ),
            reference=p.order.amazon_order_id,
        )
        if p.snapshot.order_id is not None:
            order_holds_link(order_id=p.snapshot.order_id, code=Order.HoldCode.UNKNOWN_SKU, exception=item)
    for p in result.processed:
        if not p.pii_withheld or p.unchanged or p.snapshot.order_id is None:
            continue
        order = p.snapshot.order
        assert order is not None
        item = exception_open(
            kind=ExceptionItem.Kind.ERP_DATA,
            source=order,
            summary=f"Amazon withheld the ship-to address of order {p.order.amazon_order_id}"[:300],
            detail=str(_pii_hold(p)),
            reference=p.order.amazon_order_id,
        )
        order_holds_link(order_id=order.pk, code=Order.HoldCode.ERP_DATA, exception=item)
    # A snapshot seen for the first time cannot have exceptions yet; only re-processed ones may need closing.
    clean = [p.snapshot for p in result.processed if not p.unknown_skus and p.snapshot.attempts > 1]
    exceptions_resolve_many(sources=clean, actor=ACTOR, note="processed successfully")
    exceptions_resolve_many(
        sources=[p.snapshot for p in held if p.snapshot.attempts > 1],
        except_kinds=[ExceptionItem.Kind.UNKNOWN_SKU],
        actor=ACTOR,
        note="processed successfully",
    )
