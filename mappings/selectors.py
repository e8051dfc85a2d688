from __future__ import annotations

import string
from collections.abc import Iterable
from typing import Any

from django.db.models import Q, QuerySet

from config.common.models import ExceptionItem
from mappings.models import SkuMapping, StatusMapping


def _active_mappings(account_id: int | None, skus: set[str]) -> QuerySet[SkuMapping]:
    """Active mappings of these SKUs: global ones and (with an account) the account's own."""
    scope = Q(seller_account__isnull=True)
    if account_id is not None:
        scope |= Q(seller_account_id=account_id)
    return SkuMapping.objects.filter(is_active=True, seller_sku__in=skus).filter(scope)


def sku_mappings_resolve(*, account_id: int | None, seller_skus: Iterable[str]) -> dict[str, SkuMapping]:
    """Active mappings for these SKUs; an account's own mapping wins over a global one (None: global only)."""
    skus = set(seller_skus)
    resolved: dict[str, SkuMapping] = {}
    for row in _active_mappings(account_id, skus) if skus else ():
        if row.seller_account_id is not None or row.seller_sku not in resolved:
            resolved[row.seller_sku] = row
    return resolved


def sku_item_ids_resolve(*, account_id: int | None, seller_skus: Iterable[str]) -> dict[str, str]:
    """The ERP item id of each of these SKUs that has an active mapping, as sku_mappings_resolve picks it (no model
    objects: ingestion asks once per page)."""
    skus = set(seller_skus)
    resolved: dict[str, str] = {}
    rows = _active_mappings(account_id, skus).values_list("seller_sku", "erp_item_id", "seller_account_id")
    for sku, erp_item_id, account in rows if skus else ():
        if account is not None or sku not in resolved:
            resolved[sku] = erp_item_id
    return resolved


def status_map_get(*, source: str) -> dict[str, str]:
    """source_status → canonical status for one provider status vocabulary."""
    return dict(StatusMapping.objects.filter(source=source).values_list("source_status", "canonical_status"))


class _SafeFormatter(string.Formatter):
    """str.format without attribute access (no `{x.__class__}`) and with missing values rendering empty."""

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> Any:
        if "." in field_name:
            raise ValueError("attribute access is not allowed in templates")
        try:
            return super().get_field(field_name, args, kwargs)
        except (KeyError, IndexError, TypeError):
            return "", field_name


def field_rule_render(*, target: str, context: dict[str, Any], default: str) -> str:
    """Render the active rule for `target` (or `default`) with `context`, cut to the field's length."""
    from mappings.models import FieldRule

    rule = FieldRule.objects.filter(target=target, is_active=True).first()
    template = rule.template if rule else default
    try:
        text = _SafeFormatter().vformat(template, (), context)
    except (ValueError, IndexError):
        text = _SafeFormatter().vformat(default, (), context)
    text = " ".join(text.split())
    return text[: FieldRule.MAX_LENGTHS.get(target, 300)]


def mapping_suggestion_sources_for_exception(*, item: ExceptionItem) -> tuple[str, list[str]] | None:
    """(suggestion kind, source keys) an exception is about: the unknown SKUs of a held order's snapshot, or
    the unmapped amount types of a settlement. None for exceptions suggestions cannot help with."""
    from mappings.models import MappingSuggestion
    from orders.models import AmazonOrderSnapshot, OrderLine
    from reconciliation.models import Settlement, SettlementLine

    model = item.source_type.model_class()
    if item.kind == ExceptionItem.Kind.UNKNOWN_SKU and model is AmazonOrderSnapshot:
        order_id = AmazonOrderSnapshot.objects.filter(pk=item.source_id).values_list("order_id", flat=True).first()
        if order_id is None:
            return MappingSuggestion.Kind.SKU, []
        skus = OrderLine.objects.filter(order_id=order_id, item_id="").values_list("seller_sku", flat=True)
        return MappingSuggestion.Kind.SKU, sorted(set(skus))
    if item.kind == ExceptionItem.Kind.SETTLEMENT_UNMAPPED and model is Settlement:
        fields = ("transaction_type", "amount_type", "amount_description")
        combos = (
            SettlementLine.objects.filter(settlement_id=item.source_id, gl_account__isnull=True)
            .values_list(*fields)
            .order_by(*fields)
            .distinct()
        )
        keys = [MappingSuggestion.settlement_source_key(*combo) for combo in combos]
        return MappingSuggestion.Kind.SETTLEMENT_ACCOUNT, keys
    return None
