from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q

from mappings.models import SkuMapping, StatusMapping


def sku_mappings_resolve(*, account_id: int, seller_skus: Iterable[str]) -> dict[str, SkuMapping]:
    """Active mappings for these SKUs; an account's own mapping wins over a global one."""
    skus = set(seller_skus)
    if not skus:
        return {}
    rows = SkuMapping.objects.filter(is_active=True, seller_sku__in=skus).filter(
        Q(seller_account_id=account_id) | Q(seller_account__isnull=True)
    )
    resolved: dict[str, SkuMapping] = {}
    for row in rows:
        if row.seller_account_id is not None or row.seller_sku not in resolved:
            resolved[row.seller_sku] = row
    return resolved


def status_map_get(*, source: str) -> dict[str, str]:
    """source_status → canonical status for one provider status vocabulary."""
    return dict(StatusMapping.objects.filter(source=source).values_list("source_status", "canonical_status"))
