"""Subscriptions to SP-API notifications, per seller account and type, through the Notifications API.

The destination (our SQS queue, by its ARN) is created once per application and queue and reused by every
subscription; an existing one at Amazon (createDestination answers 409) is adopted. A subscription Amazon already
has (createSubscription answers 409) is adopted too, through getSubscription. Rows are never deleted by credential
changes: Amazon keeps a subscription per selling partner and application, whatever refresh token reads it.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils import timezone

from config.common.errors import ApplicationError, ConnectorError, PermanentConnectorError
from connectors.amazon.notifications import AmazonNotificationsClient
from connectors.amazon.notifications_types import SubscriptionExists
from connectors.aws.sqs import SqsQueueClient
from orders.models import NotificationDestination, NotificationSubscription, NotificationType, SellerAccount

logger = logging.getLogger(__name__)
PAYLOAD_VERSIONS = {
    NotificationType.ORDER_CHANGE: "1.0",
    NotificationType.FULFILLMENT_ORDER_STATUS: "1.0",
    NotificationType.REPORT_PROCESSING_FINISHED: "2020-09-04",
    NotificationType.FEED_PROCESSING_FINISHED: "2020-09-04",
}


def _client(account: SellerAccount) -> AmazonNotificationsClient:
    return AmazonNotificationsClient.for_account(account)


def notification_destination_ensure(
    *, account: SellerAccount, client: AmazonNotificationsClient | None = None
) -> NotificationDestination:
    """Our queue as a Notifications API destination (created at Amazon the first time, then read from our row)."""
    queue_url = settings.SP_API_NOTIFICATIONS_QUEUE_URL
    if not queue_url:
        raise ApplicationError("Notifications are off: set SP_API_NOTIFICATIONS_QUEUE_URL first.")
    with SqsQueueClient(queue_url) as sqs:
        arn = sqs.queue_arn()
    known = NotificationDestination.objects.filter(arn=arn).first()
    if known is not None:
        return known
    own = client is None
    client = client or _client(account)
    try:
        found = next((d for d in client.destinations_list() if d.arn == arn), None)
        if found is None:
            found = client.destination_create(name=settings.SP_API_NOTIFICATIONS_DESTINATION_NAME, arn=arn)
    finally:
        if own:
            client.close()
    destination, _ = NotificationDestination.objects.update_or_create(
        arn=arn, defaults={"name": found.name, "destination_id": found.destination_id}
    )
    return destination


def _row(account: SellerAccount, notification_type: str) -> NotificationSubscription:
    row, _ = NotificationSubscription.objects.get_or_create(account=account, notification_type=notification_type)
    return row


def notification_subscribe(*, account: SellerAccount, notification_type: str, actor: str) -> NotificationSubscription:
    """Subscribe the account to one type (adopting Amazon's existing subscription). A failure is recorded on the
    row (state failed, last error) and raised as an ApplicationError for the admin to show."""
    if notification_type not in NotificationType.values:
        raise ApplicationError(f"Unknown notification type {notification_type}")
    row = _row(account, notification_type)
    now = timezone.now()
    with _client(account) as client:
        try:
            destination = notification_destination_ensure(account=account, client=client)
            version = PAYLOAD_VERSIONS.get(NotificationType(notification_type), "1.0")
            try:
                sub = client.subscription_create(
                    notification_type, destination_id=destination.destination_id, payload_version=version
                )
            except SubscriptionExists:
                existing = client.subscription_get(notification_type)
                if existing is None:
                    raise ApplicationError("Amazon says a subscription exists but returns none; try again") from None
                sub = existing
        except (ConnectorError, ApplicationError) as exc:
            row.state, row.last_error, row.checked_at = NotificationSubscription.State.FAILED, str(exc), now
            row.save(update_fields=["state", "last_error", "checked_at", "updated_at"])
            logger.warning("subscribe %s %s (%s) failed: %s", account, notification_type, actor, exc)
            raise ApplicationError(f"{account.name} {notification_type}: {exc}") from exc
    row.state, row.subscription_id = NotificationSubscription.State.SUBSCRIBED, sub.subscription_id
    row.destination_id, row.payload_version = sub.destination_id, sub.payload_version
    row.last_error, row.checked_at, row.subscribed_at = "", now, row.subscribed_at or now
    row.save()
    logger.info("%s subscribed %s to %s (%s)", actor, account, notification_type, sub.subscription_id)
    return row


def notification_unsubscribe(*, account: SellerAccount, notification_type: str, actor: str) -> NotificationSubscription:
    row = _row(account, notification_type)
    now = timezone.now()
    with _client(account) as client:
        try:
            subscription_id = row.subscription_id
            if not subscription_id:
                found = client.subscription_get(notification_type)
                subscription_id = found.subscription_id if found else ""
            if subscription_id:
                try:
                    client.subscription_delete(notification_type, subscription_id)
                except PermanentConnectorError as exc:
                    if exc.status_code != 404:  # already gone at Amazon: what we wanted
                        raise
        except ConnectorError as exc:
            row.last_error, row.checked_at = str(exc), now
            row.save(update_fields=["last_error", "checked_at", "updated_at"])
            raise ApplicationError(f"{account.name} {notification_type}: {exc}") from exc
    row.state, row.subscription_id, row.last_error = NotificationSubscription.State.UNSUBSCRIBED, "", ""
    row.subscribed_at, row.checked_at = None, now
    row.save()
    logger.info("%s unsubscribed %s from %s", actor, account, notification_type)
    return row


def notification_subscriptions_check(*, account: SellerAccount) -> list[NotificationSubscription]:
    """Ask Amazon for each type's subscription and record what it says (the admin's re-check)."""
    rows = []
    now = timezone.now()
    with _client(account) as client:
        for notification_type in NotificationType.values:
            row = _row(account, notification_type)
            try:
                found = client.subscription_get(notification_type)
            except ConnectorError as exc:
                row.last_error, row.checked_at = str(exc), now
                row.save(update_fields=["last_error", "checked_at", "updated_at"])
                rows.append(row)
                continue
            if found is None:
                row.state, row.subscription_id = NotificationSubscription.State.UNSUBSCRIBED, ""
                row.subscribed_at = None
            else:
                row.state, row.subscription_id = NotificationSubscription.State.SUBSCRIBED, found.subscription_id
                row.destination_id, row.payload_version = found.destination_id, found.payload_version
                row.subscribed_at = row.subscribed_at or now
            row.last_error, row.checked_at = "", now
            row.save()
            rows.append(row)
    return rows
