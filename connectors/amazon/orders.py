"""SP-API Orders: the reads of Orders API v2026-01-01 (searchOrders, getOrder) the order ingestion makes, and v0's
FBM shipment confirmation (confirmShipment, which is not deprecated).

The reads return Amazon's objects exactly as sent: the ingestion stores them raw first and parses them afterwards
with `orders_2026_types` (so a payload our parser refuses is kept for an operator, and can be reprocessed).
v0's reads (getOrders, getOrderItems, getOrderAddress) stop working on 2027-03-27 and are not called; snapshots
stored from them still reprocess (`orders_types`).
Docs: https://developer-docs.amazon.com/sp-api/docs/orders-api-v2026-01-01-reference
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sp_api.api import Orders, OrdersV20260101

from connectors.amazon.base import SpApiClient, iso, malformed, rate_limit
from connectors.amazon.orders_2026_types import INGEST_INCLUDED_DATA, SearchOrdersPage


class AmazonOrdersClient(SpApiClient):
    """Orders v0 of one seller account in one marketplace. Thread-safe like SpApiClient."""

    def search_orders(
        self,
        *,
        last_updated_after: datetime,
        last_updated_before: datetime,
        pagination_token: str | None = None,
        included_data: Sequence[str] = INGEST_INCLUDED_DATA,
        max_results: int = 100,
    ) -> SearchOrdersPage:
        """One page of searchOrders (0.0056 req/s, burst 20). A paginationToken is only valid with the same criteria,
        so every page of a window repeats them."""
        params: dict[str, Any] = {
            "marketplaceIds": [self.marketplace_id],
            "lastUpdatedAfter": iso(last_updated_after),
            "lastUpdatedBefore": iso(last_updated_before),
            "includedData": list(included_data),
            "maxResultsPerPage": max_results,
        }
        if pagination_token:
            params["paginationToken"] = pagination_token
        response = self._call("searchOrders", lambda api: api.search_orders(**params), OrdersV20260101)
        body = response.payload
        if not isinstance(body, dict) or not isinstance(body.get("orders"), list):
            raise malformed("searchOrders", "without an orders list")
        # The library lifts `pagination` out of the body into next_token.
        token = getattr(response, "next_token", None)
        return SearchOrdersPage(
            orders=body["orders"],
            next_token=token if isinstance(token, str) and token else None,
            last_updated_before=str(body.get("lastUpdatedBefore") or params["lastUpdatedBefore"]),
            rate_limit=rate_limit(response.headers),
        )

    def get_order(self, *, order_id: str, included_data: Sequence[str] = INGEST_INCLUDED_DATA) -> dict[str, Any]:
        """One order by id (getOrder 2026-01-01, 0.5 req/s, burst 30), as Amazon sent it."""

        def call(api: Any) -> Any:
            return api.get_order(order_id, includedData=list(included_data))

        response = self._call("getOrder", call, OrdersV20260101)
        body = response.payload
        if not isinstance(body, dict) or not isinstance(body.get("order"), dict):
            raise malformed("getOrder", "without an order")
        return dict(body["order"])

    def confirm_shipment(self, *, amazon_order_id: str, body: dict[str, Any]) -> None:
        """confirmShipment (2/s, burst 10): Amazon answers 204. Not deprecated with the v0 reads."""
        self._call("confirmShipment", lambda api: api.confirm_shipment(amazon_order_id, **body), Orders)
