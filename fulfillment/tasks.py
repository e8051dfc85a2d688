"""django-q2 entry points (thin, idempotent)."""

from __future__ import annotations

from fulfillment.services import fba_fulfillment_orders_poll_due, fba_fulfillment_request, fba_fulfillment_requests_due


def fba_fulfillment_request_task(order_id: int) -> str:
    fulfillment = fba_fulfillment_request(order_id=order_id)
    return fulfillment.seller_fulfillment_order_id if fulfillment else "not applicable"


def fulfillment_sweep() -> str:
    requested = fba_fulfillment_requests_due()
    polled = fba_fulfillment_orders_poll_due()
    return f"{requested} fulfilment request(s) made; {polled} fulfilment order(s) read back"
