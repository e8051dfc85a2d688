"""SP-API Notifications v1: the SQS destination of our application and each seller's subscriptions to it.
Docs: https://developer-docs.amazon.com/sp-api/docs/notifications-api-v1-reference

Destinations belong to the application (the LWA client): createDestination, getDestinations and deleteDestination
are grantless, so the library fetches a `client_credentials` token for `sellingpartnerapi::notifications` (cached
module-wide by python-amazon-sp-api). Subscriptions belong to the application and the seller, not to a refresh
token: rotating either credential leaves them in place. deleteSubscriptionById is documented as grantless, but the
library calls it with the seller's token and Amazon takes that (saleweaver/python-amazon-sp-api#373); we keep the
library's call. Every operation: 1 request per second, burst 5 (USAGE_PLANS).
"""

from __future__ import annotations

from sp_api.api import Notifications
from sp_api.auth import access_token_client as _token_module
from sp_api.auth._core import build_cache_key

from config.common.errors import PermanentConnectorError
from connectors.amazon.base import SpApiClient, malformed
from connectors.amazon.notifications_types import (
    CREATE_DESTINATION,
    CREATE_SUBSCRIPTION,
    DELETE_DESTINATION,
    DELETE_SUBSCRIPTION_BY_ID,
    GET_DESTINATIONS,
    GET_SUBSCRIPTION,
    SCOPE,
    NotificationDestination,
    NotificationSubscription,
    SubscriptionExists,
    parse_destination,
    parse_subscription,
)

__all__ = [
    "AmazonNotificationsClient",
    "NotificationDestination",
    "NotificationSubscription",
    "SubscriptionExists",
]


class AmazonNotificationsClient(SpApiClient):
    """Notifications v1 for one seller account (destinations are the application's, shared by every account)."""

    def _forget_access_token(self) -> None:
        super()._forget_access_token()
        _token_module.grantless_cache.pop(build_cache_key(self.credentials.refresh_token, SCOPE), None)

    # --- destinations (grantless) -------------------------------------------------------------------

    def destinations_list(self) -> list[NotificationDestination]:
        response = self._call(GET_DESTINATIONS, lambda api: api.get_destinations(), Notifications)
        payload = response.payload
        if payload in ({}, None):  # the library turns an empty list into {}
            return []
        if not isinstance(payload, list):
            raise malformed(GET_DESTINATIONS, "without a destination list")
        return [parse_destination(raw, GET_DESTINATIONS) for raw in payload]

    def destination_create(self, *, name: str, arn: str) -> NotificationDestination:
        """An SQS destination for `arn`. Amazon allows one per ARN and application: on 409 Conflict the existing one
        is returned (looked up with getDestinations), so this is safe to repeat."""
        try:
            response = self._call(
                CREATE_DESTINATION, lambda api: api.create_destination(name=name, arn=arn), Notifications
            )
        except PermanentConnectorError as exc:
            if exc.status_code != 409:
                raise
            existing = next((d for d in self.destinations_list() if d.arn == arn), None)
            if existing is None:
                raise
            return existing
        return parse_destination(response.payload, CREATE_DESTINATION)

    def destination_delete(self, destination_id: str) -> None:
        """Amazon refuses (403 "Destination has subscriptions") while subscriptions use it: delete those first."""
        self._call(DELETE_DESTINATION, lambda api: api.delete_destination(destination_id), Notifications)

    # --- subscriptions (the seller's) ---------------------------------------------------------------

    def subscription_get(self, notification_type: str) -> NotificationSubscription | None:
        """The seller's subscription to `notification_type` (the latest payload version), None when there is none."""
        try:
            response = self._call(GET_SUBSCRIPTION, lambda api: api.get_subscription(notification_type), Notifications)
        except PermanentConnectorError as exc:
            if exc.status_code == 404:
                return None
            raise
        return parse_subscription(response.payload, notification_type, GET_SUBSCRIPTION)

    def subscription_create(
        self, notification_type: str, *, destination_id: str, payload_version: str = "1.0"
    ) -> NotificationSubscription:
        """Subscribe the seller to `notification_type` at our destination; SubscriptionExists on 409."""
        try:
            response = self._call(
                CREATE_SUBSCRIPTION,
                lambda api: api.create_subscription(
                    notification_type, destination_id=destination_id, payload_version=payload_version
                ),
                Notifications,
            )
        except PermanentConnectorError as exc:
            if exc.status_code == 409:
                raise SubscriptionExists.from_error(exc) from exc
            raise
        return parse_subscription(response.payload, notification_type, CREATE_SUBSCRIPTION)

    def subscription_delete(self, notification_type: str, subscription_id: str) -> None:
        self._call(
            DELETE_SUBSCRIPTION_BY_ID,
            lambda api: api.delete_notification_subscription(notification_type, subscription_id),
            Notifications,
        )
