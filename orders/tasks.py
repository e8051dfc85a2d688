"""django-q2 entry points: thin, take ids, safe to run twice (the cursor lease and upserts make it so)."""

from __future__ import annotations

import logging

from orders.models import SellerAccount
from orders.services import amazon_orders_sync_account, order_lags_check, order_poll_mode

logger = logging.getLogger(__name__)


def orders_poll_account(account_id: int, force: bool = False) -> list[str]:
    account = SellerAccount.objects.filter(pk=account_id, is_active=True).first()
    if account is None:
        return []
    mode = order_poll_mode(account=account)
    if not (force or mode.due):
        # ORDER_CHANGE notifications carry this account's changes; the schedule still ticks, the sweep waits.
        return [f"{account.name}: skipped ({mode.reason})"]
    results = amazon_orders_sync_account(account=account)
    for result in results:
        logger.info("orders poll (%s): %s", mode.mode, result.summary())
    return [r.summary() for r in results]


def order_lags_check_task() -> int:
    return order_lags_check()
