"""SP-API Orders v0: the reads the order ingestion makes (getOrders, getOrderItems, getOrderAddress) and the FBM
shipment confirmation (confirmShipment).

The reads return Amazon's objects exactly as sent: the ingestion stores them raw first and parses them afterwards
with `orders_types` (so a payload our parser refuses is kept for an operator, and can be reprocessed).
Docs: https://developer-docs.amazon.com/sp-api/docs/orders-api-v0-reference
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sp_api.api import Orders

from connectors.amazon.base import SpApiClient, iso, malformed, rate_limit
from connectors.amazon.orders_types import OrdersPage


class AmazonOrdersClient(SpApiClient):
    """Orders v0 of one seller account in one marketplace. Thread-safe like SpApiClient."""

    def get_orders(
        self,
        *,
        last_updated_after: datetime,
        last_updated_before: datetime,
        next_token: str | None = None,
        max_results: int = 100,
    ) -> OrdersPage:
        """One page of getOrders (rate 0.0167/s, burst 20). NextToken, when given, overrides the window."""
        params: dict[str, Any] = {"MarketplaceIds": [self.marketplace_id], "MaxResultsPerPage": max_results}
        if next_token:
            params["NextToken"] = next_token
        else:
            params["LastUpdatedAfter"] = iso(last_updated_after)
            params["LastUpdatedBefore"] = iso(last_updated_before)
        response = self._call("getOrders", lambda api: api.get_orders(**params), Orders)
        payload = response.payload
        if not isinstance(payload, dict) or not isinstance(payload.get("Orders"), list):
            raise malformed("getOrders", "without an Orders list")
        token = payload.get("NextToken") or None
        return OrdersPage(orders=payload["Orders"], next_token=token, rate_limit=rate_limit(response.headers))

    def get_order_items(self, *, amazon_order_id: str) -> list[dict[str, Any]]:
        """Every OrderItem of one order, following NextToken (rate 0.5/s, burst 30)."""
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            kwargs = {"NextToken": token} if token else {}

            def call(api: Any, kwargs: dict[str, str] = kwargs) -> Any:
                return api.get_order_items(amazon_order_id, **kwargs)

            response = self._call("getOrderItems", call, Orders)
            payload = response.payload
            if not isinstance(payload, dict) or not isinstance(payload.get("OrderItems"), list):
                raise malformed("getOrderItems", "without an OrderItems list")
            items.extend(payload["OrderItems"])
            token = payload.get("NextToken") or None
            if not token:
                return items

    def get_order_address(self, *, amazon_order_id: str) -> dict[str, Any] | None:
        """The full shipping address of one order (rate 0.5/s, burst 30); None when Amazon has none."""
        response = self._call("getOrderAddress", lambda api: api.get_order_address(amazon_order_id), Orders)
        payload = response.payload
        if not isinstance(payload, dict):
            return None
        address = payload.get("ShippingAddress")
        return address if isinstance(address, dict) else None

    def confirm_shipment(self, *, amazon_order_id: str, body: dict[str, Any]) -> None:
        """confirmShipment (2/s, burst 10): Amazon answers 204. Not deprecated with the v0 reads."""
        self._call("confirmShipment", lambda api: api.confirm_shipment(amazon_order_id, **body), Orders)
