"""SP-API Fulfillment Outbound 2020-07-01 (Multi-Channel Fulfillment): create, read, cancel and preview FBA orders
for our eCommerce orders. Answers are parsed into `fulfillment_outbound_types` here, not in the services.
Docs: https://developer-docs.amazon.com/sp-api/docs/fulfillment-outbound-api-v2020-07-01-reference
"""

from __future__ import annotations

from typing import Any

from sp_api.api import FulfillmentOutbound

from connectors.amazon.base import SpApiClient
from connectors.amazon.fulfillment_outbound_types import (
    FulfillmentOrderDetails,
    FulfillmentPreview,
    parse_fulfillment_order,
    parse_fulfillment_previews,
)


class AmazonFulfillmentOutboundClient(SpApiClient):
    """FBA outbound orders of one seller account. Thread-safe like SpApiClient. Usage plans (Amazon's defaults): 2/s,
    burst 30, for each operation here."""

    def create_fulfillment_order(self, *, body: dict[str, Any]) -> None:
        """createFulfillmentOrder (2/s, burst 30). Amazon treats a repeat with the same
        sellerFulfillmentOrderId and content as the same order, so retrying is safe."""
        self._call("createFulfillmentOrder", lambda api: api.create_fulfillment_order(**body), FulfillmentOutbound)

    def get_fulfillment_order(self, *, seller_fulfillment_order_id: str) -> FulfillmentOrderDetails:
        """getFulfillmentOrder: the order's status and its shipments with items and packages (`raw`: the payload)."""
        response = self._call(
            "getFulfillmentOrder",
            lambda api: api.get_fulfillment_order(seller_fulfillment_order_id),
            FulfillmentOutbound,
        )
        return parse_fulfillment_order(response.payload)

    def cancel_fulfillment_order(self, *, seller_fulfillment_order_id: str) -> None:
        self._call(
            "cancelFulfillmentOrder",
            lambda api: api.cancel_fulfillment_order(seller_fulfillment_order_id),
            FulfillmentOutbound,
        )

    def get_fulfillment_preview(self, *, body: dict[str, Any]) -> tuple[FulfillmentPreview, ...]:
        """getFulfillmentPreview: whether (and how) Amazon could ship these items, one preview per shipping speed."""
        response = self._call(
            "getFulfillmentPreview", lambda api: api.get_fulfillment_preview(**body), FulfillmentOutbound
        )
        return parse_fulfillment_previews(response.payload)
