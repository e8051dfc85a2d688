"""SP-API notifications: stored raw first (one row per NotificationId), then applied through the handler each type
registered.

Amazon's notifications come in two spellings (ORDER_CHANGE and FULFILLMENT_ORDER_STATUS, version 1.0, use
PascalCase keys; REPORT_ and FEED_PROCESSING_FINISHED, version 2020-09-04, camelCase): fields are read without regard
to the first letter's case.

Who applies what: ORDER_CHANGE is this app's own (a targeted getOrder, coalesced per order, `_apply_order_changes`);
the other types are registered by the apps that own their data (`register_notification_handler`: fulfilment for
FULFILLMENT_ORDER_STATUS and FEED_PROCESSING_FINISHED, reconciliation for REPORT_PROCESSING_FINISHED), as
`orders.facts.register_order_facts` does, so this app imports neither.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from config.common.errors import (
    ApplicationError,
    ConnectorError,
    DemoCredentialsRefused,
    MalformedPayloadError,
    RetryableConnectorError,
)
from config.common.models import ExceptionItem
from config.common.reprocess import register_reprocessor
from config.common.services import exception_open, exceptions_resolve_for
from orders.models import NotificationType, SeenVia, SellerAccount, SpApiNotification

logger = logging.getLogger(__name__)
ACTOR = "system:notifications"
ORDER_CHANGE = NotificationType.ORDER_CHANGE.value
CLAIM = timedelta(minutes=5)  # a row being applied; a consumer that dies mid-apply frees it after this

# Where each type keeps what it is about (inside the payload's one inner object).
_SUBJECT = {
    "ORDER_CHANGE": "AmazonOrderId",
    "FULFILLMENT_ORDER_STATUS": "SellerFulfillmentOrderId",
    "REPORT_PROCESSING_FINISHED": "reportId",
    "FEED_PROCESSING_FINISHED": "feedId",
}


class NotificationIgnored(Exception):
    """Raised by a handler: the notification is not ours or asks for nothing (a report type we do not read)."""


NotificationHandler = Callable[[SpApiNotification, dict[str, Any]], str]
_HANDLERS: dict[str, NotificationHandler] = {}


def register_notification_handler(
    notification_type: str,
) -> Callable[[NotificationHandler], NotificationHandler]:
    """`fn(notification, inner_payload) -> what it did, in words`. Raise NotificationIgnored for nothing to do; a
    RetryableConnectorError is tried again later; anything else fails the notification with an exception item."""

    def decorator(fn: NotificationHandler) -> NotificationHandler:
        _HANDLERS[notification_type] = fn
        return fn

    return decorator


def notification_types_handled() -> list[str]:
    return sorted({ORDER_CHANGE, *_HANDLERS})


# --- Parsing ----------------------------------------------------------------------------------------------------


def field_ci(obj: Any, name: str) -> Any:
    """obj[name] whatever the case of its letters (Amazon writes NotificationId and notificationId)."""
    if not isinstance(obj, dict):
        return None
    if name in obj:
        return obj[name]
    lowered = name.lower()
    for key, value in obj.items():
        if isinstance(key, str) and key.lower() == lowered:
            return value
    return None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class ParsedNotification:
    notification_id: str
    notification_type: str
    seller_id: str
    marketplace_id: str
    subject: str
    event_time: datetime | None
    publish_time: datetime | None
    inner: dict[str, Any]  # the payload's one object (OrderChangeNotification, reportProcessingFinishedNotification...)


def notification_parse(body: str) -> ParsedNotification:
    """Raises MalformedPayloadError for a body that is not an SP-API notification."""
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise MalformedPayloadError(f"not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise MalformedPayloadError("not a JSON object")
    meta = field_ci(doc, "NotificationMetadata")
    notification_id = field_ci(meta, "NotificationId")
    if not isinstance(notification_id, str) or not notification_id.strip():
        raise MalformedPayloadError("no NotificationMetadata.NotificationId", path="NotificationMetadata")
    ntype = field_ci(doc, "NotificationType")
    if not isinstance(ntype, str) or not ntype:
        raise MalformedPayloadError("no NotificationType")
    payload = field_ci(doc, "Payload")
    inner: dict[str, Any] = {}
    if isinstance(payload, dict):
        objects = [v for v in payload.values() if isinstance(v, dict)]
        inner = objects[0] if len(objects) == 1 else payload
    summary = field_ci(inner, "Summary")
    subject_key = _SUBJECT.get(ntype)
    return ParsedNotification(
        notification_id=notification_id.strip()[:100],
        notification_type=ntype[:60],
        seller_id=str(field_ci(inner, "SellerId") or "")[:32],
        marketplace_id=str(field_ci(summary, "MarketplaceId") or field_ci(inner, "MarketplaceId") or "")[:20],
        subject=str(field_ci(inner, subject_key) or "")[:100] if subject_key else "",
        event_time=_time(field_ci(doc, "EventTime")),
        publish_time=_time(field_ci(meta, "PublishTime")),
        inner=inner,
    )


# --- Storing ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboundMessage:
    body: str
    message_id: str = ""


def notifications_store(*, messages: Sequence[InboundMessage]) -> list[SpApiNotification]:
    """Store the messages as received, in one transaction; returns the rows that are new (a message seen before, by
    its NotificationId, or a malformed body seen before, by its digest, adds nothing). A malformed body or an
    unknown type is stored too, and opens an exception."""
    now = timezone.now()
    rows: dict[str, SpApiNotification] = {}
    problems: dict[str, tuple[str, str]] = {}  # key → (exception summary, detail)
    accounts = {a.selling_partner_id: a for a in SellerAccount.objects.all()}
    for message in messages:
        body = message.body.replace("\x00", "")
        try:
            parsed = notification_parse(body)
        except MalformedPayloadError as exc:
            key = "malformed:" + hashlib.sha256(body.encode("utf-8", "replace")).hexdigest()[:64]
            rows.setdefault(
                key,
                SpApiNotification(
                    notification_id=key, received_at=now, sqs_message_id=message.message_id[:100], body=body,
                    status=SpApiNotification.Status.FAILED, error=str(exc),
                ),
            )  # fmt: skip
            problems[key] = (f"Malformed SP-API notification (SQS message {message.message_id}): {exc}", body[:2000])
            continue
        account = accounts.get(parsed.seller_id)
        status, error = SpApiNotification.Status.RECEIVED, ""
        if parsed.notification_type not in notification_types_handled():
            status, error = SpApiNotification.Status.IGNORED, f"unknown notification type {parsed.notification_type}"
        elif account is None:
            status, error = SpApiNotification.Status.IGNORED, f"no seller account with id {parsed.seller_id!r}"
        if status == SpApiNotification.Status.IGNORED:
            problems[parsed.notification_id] = (f"SP-API notification ignored: {error}", body[:2000])
        rows.setdefault(
            parsed.notification_id,
            SpApiNotification(
                notification_id=parsed.notification_id, notification_type=parsed.notification_type,
                seller_id=parsed.seller_id, account=account, marketplace_id=parsed.marketplace_id,
                subject=parsed.subject, event_time=parsed.event_time, publish_time=parsed.publish_time,
                received_at=now, sqs_message_id=message.message_id[:100], body=body, status=status, error=error,
            ),
        )  # fmt: skip
    if not rows:
        return []
    with transaction.atomic():
        existing = set(
            SpApiNotification.objects.filter(notification_id__in=list(rows)).values_list("notification_id", flat=True)
        )
        fresh = [row for key, row in rows.items() if key not in existing]
        # ON CONFLICT DO NOTHING: a second consumer storing the same message at the same moment adds nothing.
        SpApiNotification.objects.bulk_create(fresh, ignore_conflicts=True)
        created = list(
            SpApiNotification.objects.filter(
                notification_id__in=[r.notification_id for r in fresh], received_at=now
            ).order_by("pk")
        )
        for row in created:
            if row.notification_id in problems:
                summary, detail = problems[row.notification_id]
                exception_open(
                    kind=ExceptionItem.Kind.MALFORMED_PAYLOAD, source=row, summary=summary, detail=detail,
                    reference=row.subject or row.notification_id,
                )  # fmt: skip
    return created


# --- Applying ---------------------------------------------------------------------------------------------------


@dataclass
class ApplyStats:
    applied: int = 0
    polled: int = 0
    ignored: int = 0
    failed: int = 0
    retry: int = 0
    get_orders: int = 0  # getOrder calls made
    details: list[str] = field(default_factory=list)

    def add(self, other: ApplyStats) -> None:
        for name in ("applied", "polled", "ignored", "failed", "retry", "get_orders"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.details += other.details


def _claim(*, ids: Sequence[int] | None, limit: int, force: bool = False) -> list[SpApiNotification]:
    """Take received rows for this consumer (skip those another is applying), oldest first."""
    now = timezone.now()
    with transaction.atomic():
        qs = SpApiNotification.objects.select_for_update(skip_locked=True, of=("self",)).filter(
            status=SpApiNotification.Status.RECEIVED
        )
        if ids is not None:
            qs = qs.filter(pk__in=list(ids))
        if not force:
            qs = qs.filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
        rows = list(qs.select_related("account").order_by("received_at", "pk")[:limit])
        SpApiNotification.objects.filter(pk__in=[r.pk for r in rows]).update(
            not_before=now + CLAIM, attempts=F("attempts") + 1
        )
    for row in rows:
        row.attempts += 1
    return rows


def _finish(row: SpApiNotification, status: str, *, outcome: str = "", error: str = "", resolve: bool = True) -> None:
    now = timezone.now()
    SpApiNotification.objects.filter(pk=row.pk).update(
        status=status, outcome=outcome[:4000], error=error[:4000], not_before=None,
        applied_at=now if status in (SpApiNotification.Status.APPLIED, SpApiNotification.Status.POLLED) else None,
        updated_at=now,
    )  # fmt: skip
    row.status, row.outcome, row.error = status, outcome, error
    if resolve and status != SpApiNotification.Status.FAILED:
        exceptions_resolve_for(source=row, actor=ACTOR, note=f"notification {status}")


def _defer(rows: Sequence[SpApiNotification], *, seconds: float) -> None:
    """Tried again after `seconds`, and the attempt it was claimed for is not counted against it."""
    SpApiNotification.objects.filter(pk__in=[r.pk for r in rows]).update(
        not_before=timezone.now() + timedelta(seconds=seconds), attempts=F("attempts") - 1, updated_at=timezone.now()
    )


def _failed(row: SpApiNotification, exc: Exception, stats: ApplyStats) -> None:
    """A failure: tried again later while it may pass and attempts remain, else failed with an exception."""
    if isinstance(exc, RetryableConnectorError) and row.attempts < settings.SP_API_NOTIFICATIONS_MAX_ATTEMPTS:
        delay = timedelta(seconds=exc.retry_after or min(30 * 2 ** (row.attempts - 1), 900))
        SpApiNotification.objects.filter(pk=row.pk).update(
            error=str(exc)[:4000], not_before=timezone.now() + delay, updated_at=timezone.now()
        )
        stats.retry += 1
        return
    _finish(row, SpApiNotification.Status.FAILED, error=str(exc))
    stats.failed += 1
    kind = ExceptionItem.Kind.MALFORMED_PAYLOAD
    if isinstance(exc, ConnectorError):
        kind = ExceptionItem.Kind.CONNECTOR_ERROR
    exception_open(
        kind=kind, source=row,
        summary=f"SP-API notification {row.notification_type} {row.subject} could not be applied: {exc}",
        detail=f"{exc}\nPolling's safety sweep still reads the change; reprocess this exception to apply it again.",
        reference=row.subject or row.notification_id,
    )  # fmt: skip


def notifications_apply(
    *, ids: Sequence[int] | None = None, limit: int = 500, force: bool = False, actor: str = ACTOR
) -> ApplyStats:
    """Apply stored notifications still `received` (these ids, or every one due). Safe to run twice and from
    several consumers at once: rows are claimed first, and a row leaves `received` once."""
    stats = ApplyStats()
    rows = _claim(ids=ids, limit=limit, force=force)
    order_changes: dict[tuple[int, str], list[SpApiNotification]] = {}
    for row in rows:
        if row.notification_type == ORDER_CHANGE and row.account is not None:
            marketplace = row.marketplace_id or _default_marketplace(row.account)
            order_changes.setdefault((row.account.pk, marketplace), []).append(row)
            continue
        stats.add(_apply_one(row))
    for (_, marketplace_id), group in order_changes.items():
        stats.add(_apply_order_changes(group, marketplace_id=marketplace_id, actor=actor))
    return stats


def _default_marketplace(account: SellerAccount) -> str:
    first = account.marketplaces.filter(is_active=True).order_by("pk").first()
    return first.marketplace_id if first else ""


def _apply_one(row: SpApiNotification) -> ApplyStats:
    stats = ApplyStats()
    handler = _HANDLERS.get(row.notification_type)
    if handler is None or row.account is None:
        _finish(row, SpApiNotification.Status.IGNORED, error=row.error or "no handler for this type")
        stats.ignored += 1
        return stats
    try:
        parsed = notification_parse(row.body)
        outcome = handler(row, parsed.inner)  # the owning app's services keep their own transactions
    except NotificationIgnored as exc:
        _finish(row, SpApiNotification.Status.IGNORED, outcome=str(exc))
        stats.ignored += 1
        return stats
    except Exception as exc:  # any failure is recorded on the row and queued; the consumer goes on
        logger.warning("notification %s failed: %s", row.notification_id, exc, exc_info=True)
        _failed(row, exc, stats)
        return stats
    _finish(row, SpApiNotification.Status.APPLIED, outcome=outcome)
    stats.applied += 1
    return stats


def _apply_order_changes(rows: list[SpApiNotification], *, marketplace_id: str, actor: str) -> ApplyStats:
    """ORDER_CHANGE of one account and marketplace: one getOrder per order however many changes it had (rows are
    claimed oldest first, so the read sees the newest state); orders beyond getOrder's budget are left to a poll,
    which reads 100 orders a call and is brought forward (polling stays at full rate while that happens)."""
    from orders.services.amazon_sync import amazon_orders_refresh
    from orders.services.schedules import order_polls_enqueue

    stats = ApplyStats()
    account = rows[0].account
    assert account is not None
    by_order: dict[str, list[SpApiNotification]] = {}
    for row in rows:
        if not row.subject:
            _failed(row, MalformedPayloadError("ORDER_CHANGE without an AmazonOrderId"), stats)
            continue
        by_order.setdefault(row.subject, []).append(row)
    order_ids = list(by_order)
    budget = max(0, settings.SP_API_NOTIFICATIONS_GETORDER_BUDGET)
    now_ids, later_ids = order_ids[:budget], order_ids[budget:]
    if later_ids:
        for order_id in later_ids:
            for row in by_order[order_id]:
                _finish(
                    row, SpApiNotification.Status.POLLED,
                    outcome=f"left to polling: {len(order_ids)} orders changed at once, getOrder's budget is {budget}",
                )  # fmt: skip
                stats.polled += 1
        order_polls_enqueue(account_ids=[account.pk])
    if not now_ids:
        return stats
    try:
        result = amazon_orders_refresh(
            account=account, marketplace_id=marketplace_id, amazon_order_ids=now_ids, actor=actor,
            via=SeenVia.NOTIFICATION,
        )  # fmt: skip
    except DemoCredentialsRefused as exc:
        for order_id in now_ids:
            for row in by_order[order_id]:
                _failed(row, exc, stats)
        return stats
    stats.get_orders += result.api_calls.get("getOrder", 0)
    refreshed = set(result.refreshed)
    for order_id in now_ids:
        group = by_order[order_id]
        if order_id in refreshed:
            outcome = f"getOrder: order {order_id} read and applied" + (
                f" ({len(group)} changes, one read)" if len(group) > 1 else ""
            )
            for row in group:
                _finish(row, SpApiNotification.Status.APPLIED, outcome=outcome)
                stats.applied += 1
            continue
        if order_id in result.throttled:
            # getOrder's quota (0.5/s after a burst of 30) is spent: not a failure, the next slot is known.
            _defer(group, seconds=result.throttled[order_id])
            stats.retry += len(group)
            continue
        if order_id in result.not_found:
            error: Exception = RetryableConnectorError(
                f"Amazon has no order {order_id} (yet)", provider="amazon", operation="getOrder", status_code=404
            )
        else:
            why = result.failed.get(order_id, "not read")
            error = RetryableConnectorError(why, provider="amazon", operation="getOrder")
        for row in group:
            _failed(row, error, stats)
    return stats


def notification_reprocess(*, notification: SpApiNotification, actor: str) -> SpApiNotification:
    """Apply a stored notification again (the exception queue's Reprocess): read from its body as stored, so a
    type registered since, or an account added since, now applies."""
    notification.refresh_from_db()
    try:
        parsed = notification_parse(notification.body)
    except MalformedPayloadError as exc:
        raise ApplicationError(f"Still not a notification: {exc}") from exc
    account = SellerAccount.objects.filter(selling_partner_id=parsed.seller_id).first()
    SpApiNotification.objects.filter(pk=notification.pk).update(
        status=SpApiNotification.Status.RECEIVED, account=account, not_before=None, attempts=0,
        notification_type=parsed.notification_type, subject=parsed.subject, marketplace_id=parsed.marketplace_id,
    )  # fmt: skip
    if parsed.notification_type not in notification_types_handled():
        _finish(notification, "ignored", error=f"unknown type {parsed.notification_type}", resolve=False)
        raise ApplicationError(f"No handler for notification type {parsed.notification_type}")
    if account is None:
        _finish(notification, "ignored", error=f"no seller account {parsed.seller_id!r}", resolve=False)
        raise ApplicationError(f"No seller account with selling partner id {parsed.seller_id!r}")
    notifications_apply(ids=[notification.pk], force=True, actor=actor)
    notification.refresh_from_db()
    if notification.status == SpApiNotification.Status.RECEIVED:
        raise ApplicationError(f"Not applied yet (will be tried again): {notification.error}")
    if notification.status == SpApiNotification.Status.FAILED:
        raise ApplicationError(f"Still fails: {notification.error}")
    return notification


@register_reprocessor(SpApiNotification)
def _reprocess_notification(obj: object, actor: str) -> None:
    assert isinstance(obj, SpApiNotification)
    notification_reprocess(notification=obj, actor=actor)
