"""Polling while notifications flow: the orders poll stays scheduled at its usual rate, but for an account whose
ORDER_CHANGE notifications can be relied on it only runs as a safety sweep every
SP_API_NOTIFICATIONS_SAFETY_SWEEP_MINUTES. Relied on means all of: notifications are on (a queue URL), the account is
subscribed to ORDER_CHANGE, one of its notifications arrived within SP_API_NOTIFICATIONS_QUIET_MINUTES, a consumer
received from the queue within SP_API_NOTIFICATIONS_CONSUMER_STALE_SECONDS without errors, and none of its
notifications failed or was left to polling within the quiet window. Otherwise polling runs at full rate.
The sweep is an ordinary poll (same window and overlap), so a change whose notification was lost is read there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Min
from django.utils import timezone

from orders.models import (
    NotificationConsumer,
    NotificationSubscription,
    NotificationType,
    SellerAccount,
    SpApiNotification,
    SyncCursor,
)


@dataclass(frozen=True)
class PollMode:
    mode: str  # "full" | "sweep"
    due: bool  # whether a poll should run now
    reason: str


def notification_consumer_healthy() -> bool:
    cutoff = timezone.now() - timedelta(seconds=settings.SP_API_NOTIFICATIONS_CONSUMER_STALE_SECONDS)
    return NotificationConsumer.objects.filter(
        last_receive_at__gte=cutoff, consecutive_errors=0, stopped_at__isnull=True
    ).exists()


def notifications_flowing(*, account: SellerAccount) -> tuple[bool, str]:
    """(whether this account's ORDER_CHANGE notifications can stand in for polling, why in words)."""
    if not settings.SP_API_NOTIFICATIONS_QUEUE_URL:
        return False, "notifications are off (no queue URL)"
    if not NotificationSubscription.objects.filter(
        account=account,
        notification_type=NotificationType.ORDER_CHANGE,
        state=NotificationSubscription.State.SUBSCRIBED,
    ).exists():
        return False, "not subscribed to ORDER_CHANGE"
    if not notification_consumer_healthy():
        return False, "no healthy queue consumer"
    quiet = timezone.now() - timedelta(minutes=settings.SP_API_NOTIFICATIONS_QUIET_MINUTES)
    recent = SpApiNotification.objects.filter(account=account, received_at__gte=quiet)
    if not recent.exists():
        return False, f"no notification for {settings.SP_API_NOTIFICATIONS_QUIET_MINUTES} min (queue quiet)"
    if recent.filter(status__in=[SpApiNotification.Status.FAILED, SpApiNotification.Status.POLLED]).exists():
        return False, "recent notifications failed or were left to polling"
    return True, "notifications flowing"


def order_poll_mode(*, account: SellerAccount) -> PollMode:
    flowing, why = notifications_flowing(account=account)
    if not flowing:
        return PollMode("full", True, why)
    last = SyncCursor.objects.filter(
        account=account,
        feed=SyncCursor.Feed.ORDERS,
        marketplace_id__in=account.marketplaces.filter(is_active=True).values("marketplace_id"),
    ).aggregate(oldest=Min("last_success_at"))["oldest"]
    every = timedelta(minutes=settings.SP_API_NOTIFICATIONS_SAFETY_SWEEP_MINUTES)
    if last is None or timezone.now() - last >= every:
        return PollMode("sweep", True, f"{why}; safety sweep due")
    return PollMode("sweep", False, f"{why}; next safety sweep after {(last + every).isoformat()}")
