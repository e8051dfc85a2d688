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
    listing_syncs_push_now,
    listing_syncs_refresh,
)
from fulfillment.services.mcf import (
    fba_fulfillment_cancel,
    fba_fulfillment_orders_poll_due,
    fba_fulfillment_refresh,
    fba_fulfillment_request,
    fba_fulfillment_requests_due,
    fulfillment_order_status_set,
    order_fulfillment_retry,
)
from fulfillment.services.notifications import fulfillment_order_status_notified, listings_feed_notified
from fulfillment.services.shipments import amazon_packages_record, erp_shipment_report
from orders.models import Order
from orders.selectors import order_open_holds
from orders.services.amazon_ingest import register_amazon_packages_handler

register_amazon_packages_handler(amazon_packages_record)


@register_reprocessor(Order)
def _reprocess_order(obj: object, actor: str) -> None:
    """An order held for its data (fulfilment or ERP): after the fix, try what holds it again. Each hold ends only
    when its own step succeeds (the ERP can take the order; Amazon accepts the fulfilment request)."""
    assert isinstance(obj, Order)
    open_holds = order_open_holds(order_id=obj.pk)
    if Order.HoldCode.FULFILLMENT_DATA in open_holds:
        order_fulfillment_retry(order=obj, actor=actor)
    if Order.HoldCode.ERP_DATA in open_holds:
        erp_order_prepare(order=Order.objects.get(pk=obj.pk))


__all__ = [
    "amazon_packages_record",
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
    "fulfillment_order_status_notified",
    "fulfillment_order_status_set",
    "inventory_levels_post",
    "listing_availability_check",
    "listing_syncs_due",
    "listing_syncs_push_now",
    "listing_syncs_refresh",
    "listings_feed_notified",
    "order_fulfillment_retry",
]
