"""Fulfilment's SP-API notifications (registered with orders' dispatch, which stores them raw first):
FULFILLMENT_ORDER_STATUS → that fulfilment order read back (getFulfillmentOrder), as its poll would;
FEED_PROCESSING_FINISHED → that listings feed's result read now instead of at its next check."""

from __future__ import annotations

from typing import Any

from config.common.models import OutboundRequest
from config.common.outbound import outbound_send_now
from fulfillment.models import FulfillmentOrder, ListingFeed
from fulfillment.services.mcf import fba_fulfillment_refresh
from orders.models import SpApiNotification
from orders.services import NotificationIgnored, field_ci, register_notification_handler

ACTOR = "system:notifications"


@register_notification_handler("FULFILLMENT_ORDER_STATUS")
def fulfillment_order_status_notified(notification: SpApiNotification, payload: dict[str, Any]) -> str:
    fulfillment = FulfillmentOrder.objects.filter(
        seller_fulfillment_order_id=notification.subject, seller_account=notification.account
    ).first()
    if fulfillment is None:
        raise NotificationIgnored(f"no fulfilment order {notification.subject!r} of ours")
    before = fulfillment.status
    fulfillment = fba_fulfillment_refresh(fulfillment_id=fulfillment.pk, actor=ACTOR)
    told = field_ci(payload, "FulfillmentOrderStatus") or "?"
    sfo = fulfillment.seller_fulfillment_order_id
    return f"getFulfillmentOrder {sfo}: {before} → {fulfillment.status} (notified {told})"


@register_notification_handler("FEED_PROCESSING_FINISHED")
def listings_feed_notified(notification: SpApiNotification, payload: dict[str, Any]) -> str:
    feed = ListingFeed.objects.filter(feed_id=notification.subject, seller_account=notification.account).first()
    if feed is None:
        raise NotificationIgnored(f"no listings feed {notification.subject!r} of ours")
    if feed.status != ListingFeed.Status.SUBMITTED:
        raise NotificationIgnored(f"feed {feed.feed_id} is {feed.status}: its result is already in")
    request = OutboundRequest.objects.filter(idempotency_key=f"listings-feed:{feed.pk}").first()
    if request is None:
        raise NotificationIgnored(f"feed {feed.feed_id} has no request to finish")
    sent = outbound_send_now(request=request)
    feed.refresh_from_db()
    if sent is None:
        return f"feed {feed.feed_id}: its check is already running"
    return f"feed {feed.feed_id}: result read ({feed.status}, {feed.accepted} accepted, {feed.invalid} invalid)"
