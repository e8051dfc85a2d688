"""Fulfilment and ERP services. Import from here; the submodules are an implementation detail."""

from config.common.reprocess import register_reprocessor
from fulfillment.services.erp import (
    erp_batch_acknowledge,
    erp_batch_documents,
    erp_order_prepare,
    erp_pull,
    erp_sales_order_payload,
)
from fulfillment.services.inventory import (
    fba_inventory_fetch,
    inventory_levels_post,
    listing_availability_check,
    listing_syncs_due,
    listing_syncs_refresh,
)
from fulfillment.services.mcf import (
    fba_fulfillment_cancel,
    fba_fulfillment_orders_poll_due,
    fba_fulfillment_refresh,
    fba_fulfillment_request,
    fba_fulfillment_requests_due,
    order_fulfillment_retry,
)
from fulfillment.services.shipments import erp_shipment_report
from orders.models import Order
from orders.services.orders import order_hold_clear


@register_reprocessor(Order)
def _reprocess_order(obj: object, actor: str) -> None:
    """An order held for its data (fulfilment or ERP): after the fix, try both again."""
    assert isinstance(obj, Order)
    order_hold_clear(order_id=obj.pk, code=Order.HoldCode.ERP_DATA, actor=actor, reason="reprocessed")
    order_fulfillment_retry(order=obj, actor=actor)
    obj.refresh_from_db()
    if obj.status != "on_hold":
        erp_order_prepare(order=obj)


__all__ = [
    "erp_batch_acknowledge",
    "erp_batch_documents",
    "erp_order_prepare",
    "erp_pull",
    "erp_sales_order_payload",
    "erp_shipment_report",
    "fba_fulfillment_cancel",
    "fba_fulfillment_orders_poll_due",
    "fba_fulfillment_refresh",
    "fba_fulfillment_request",
    "fba_fulfillment_requests_due",
    "fba_inventory_fetch",
    "inventory_levels_post",
    "listing_availability_check",
    "listing_syncs_due",
    "listing_syncs_refresh",
    "order_fulfillment_retry",
]
