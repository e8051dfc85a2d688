"""What the Notifications v1 client returns (destinations, subscriptions) and the parsers of Amazon's shapes.
Model: https://github.com/amzn/selling-partner-api-models/blob/main/models/notifications-api-model/notifications.json
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from config.common.errors import PermanentConnectorError
from connectors.amazon.base import PROVIDER, malformed

SCOPE = "sellingpartnerapi::notifications"  # the grantless scope of the destination operations
CREATE_DESTINATION = "createDestination"
GET_DESTINATIONS = "getDestinations"
DELETE_DESTINATION = "deleteDestination"
CREATE_SUBSCRIPTION = "createSubscription"
GET_SUBSCRIPTION = "getSubscription"
DELETE_SUBSCRIPTION_BY_ID = "deleteSubscriptionById"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class NotificationDestination:
    destination_id: str
    name: str
    arn: str  # "" for non-SQS (EventBridge) destinations


@dataclass(frozen=True, slots=True)
class NotificationSubscription:
    subscription_id: str
    notification_type: str
    destination_id: str
    payload_version: str


class SubscriptionExists(PermanentConnectorError):
    """createSubscription answered 409: the seller already has this subscription for our application.
    `subscription_id` when Amazon's answer names it (its known answers do not), else None."""

    def __init__(self, message: str, *, subscription_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.subscription_id = subscription_id

    @classmethod
    def from_error(cls, error: PermanentConnectorError) -> SubscriptionExists:
        found = _UUID.search(f"{error.details or ''}")
        return cls(
            error.message, subscription_id=found.group(0) if found else None, provider=PROVIDER,
            operation=CREATE_SUBSCRIPTION, status_code=error.status_code, code=error.code, details=error.details,
        )  # fmt: skip


def parse_destination(raw: Any, operation: str) -> NotificationDestination:
    if not isinstance(raw, dict) or not isinstance(raw.get("destinationId"), str) or not raw["destinationId"]:
        raise malformed(operation, "a destination without a destinationId")
    resource = raw.get("resource") if isinstance(raw.get("resource"), dict) else {}
    sqs = resource.get("sqs") if isinstance(resource, dict) else None
    arn = sqs.get("arn") if isinstance(sqs, dict) else None
    return NotificationDestination(
        destination_id=raw["destinationId"], name=str(raw.get("name") or ""), arn=arn if isinstance(arn, str) else ""
    )


def parse_subscription(raw: Any, notification_type: str, operation: str) -> NotificationSubscription:
    if not isinstance(raw, dict) or not isinstance(raw.get("subscriptionId"), str) or not raw["subscriptionId"]:
        raise malformed(operation, "a subscription without a subscriptionId")
    return NotificationSubscription(
        subscription_id=raw["subscriptionId"],
        notification_type=notification_type,
        destination_id=str(raw.get("destinationId") or ""),
        payload_version=str(raw.get("payloadVersion") or ""),
    )
