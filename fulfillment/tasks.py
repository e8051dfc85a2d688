"""django-q2 entry points (thin, idempotent)."""

from __future__ import annotations

import logging

from config.common.errors import ConnectorError
from fulfillment.services import fba_fulfillment_orders_poll_due, fba_fulfillment_request, fba_fulfillment_requests_due
from fulfillment.services.inventory import fba_inventory_fetch, listing_availability_check, listing_syncs_due
from mappings.models import SkuMapping
from orders.models import SellerMarketplace

logger = logging.getLogger(__name__)


def fba_fulfillment_request_task(order_id: int) -> str:
    fulfillment = fba_fulfillment_request(order_id=order_id)
    return fulfillment.seller_fulfillment_order_id if fulfillment else "not applicable"


def fulfillment_sweep() -> str:
    requested = fba_fulfillment_requests_due()
    polled = fba_fulfillment_orders_poll_due()
    return f"{requested} fulfilment request(s) made; {polled} fulfilment order(s) read back"


def inventory_sweep() -> str:
    """Pending listings with nothing on its way (a failed request, a crash between steps) are sent again."""
    return f"{listing_syncs_due()} listing(s) scheduled"


def inventory_check_task() -> str:
    """Drift: read back what Amazon shows for the listings checked longest ago."""
    return f"{listing_availability_check()} listing(s) read back"


def fba_inventory_fetch_task() -> str:
    """FBA stock of every account and marketplace that has FBA SKUs. One account's outage does not stop the rest."""
    accounts = set(
        SkuMapping.objects.filter(
            fulfillment_channel="AFN", is_active=True, seller_account__is_active=True
        ).values_list("seller_account_id", flat=True)
    )
    done = []
    marketplaces = SellerMarketplace.objects.filter(account_id__in=accounts, is_active=True).select_related("account")
    for marketplace in marketplaces:
        try:
            n = fba_inventory_fetch(account=marketplace.account, marketplace_id=marketplace.marketplace_id)
        except ConnectorError as exc:
            logger.warning("FBA inventory %s: %s", marketplace, exc)
            done.append(f"{marketplace}: {exc}")
            continue
        done.append(f"{marketplace}: {n}")
    return "; ".join(done)
