from __future__ import annotations

from typing import Any

from django.db import transaction

from connectors.amazon.orders import AmazonOrdersClient
from orders.models import SellerAccount, SellerMarketplace


def sp_api_client_for(*, account: SellerAccount, marketplace_id: str) -> AmazonOrdersClient:
    return AmazonOrdersClient.for_account(account, marketplace_id=marketplace_id)


@transaction.atomic
def seller_account_upsert(
    *,
    name: str,
    selling_partner_id: str,
    region: str,
    lwa_client_id: str,
    lwa_client_secret: str,
    refresh_token: str,
    marketplace_ids: list[str],
    is_active: bool = True,
) -> SellerAccount:
    """Create or update an account by selling partner id, with its marketplaces, and (re)schedule polling."""
    defaults: dict[str, Any] = {
        "name": name,
        "region": region,
        "lwa_client_id": lwa_client_id,
        "lwa_client_secret": lwa_client_secret,
        "refresh_token": refresh_token,
        "is_active": is_active,
    }
    account, _ = SellerAccount.objects.update_or_create(selling_partner_id=selling_partner_id, defaults=defaults)
    account.full_clean()
    for marketplace_id in marketplace_ids:
        SellerMarketplace.objects.get_or_create(account=account, marketplace_id=marketplace_id)
    from orders.services.schedules import order_poll_schedules_sync

    transaction.on_commit(order_poll_schedules_sync)
    return account
