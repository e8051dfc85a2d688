"""CSV/XLSX import and export of mappings (django-import-export), keyed on natural keys, not database ids."""

from __future__ import annotations

import logging
from typing import Any

from import_export import fields, resources
from import_export.widgets import ForeignKeyWidget

from config.common.pan import card_data_refusal
from mappings.models import (
    CurrencyRate,
    FieldMappingRule,
    FieldMappingTemplate,
    GlAccount,
    SettlementAccountMapping,
    SkuMapping,
    StatusMapping,
)
from orders.models import SellerAccount

logger = logging.getLogger(__name__)


class CardSafeResource(resources.ModelResource):
    """An imported file (CSV, XLSX, JSON, ...) holding what looks like a card number anywhere (a cell or a column
    name) is refused whole before any row is read: nothing is stored, and the error names the row and column,
    never the number (we never store card data; config.common.pan)."""

    def before_import(self, dataset: Any, **kwargs: Any) -> None:
        headers = [str(h) for h in dataset.headers or []]
        cells = {"(column names)": headers} | {
            f"row {n}": dict(zip(headers, row, strict=False)) if headers else list(row)
            for n, row in enumerate(dataset, 1)
        }
        if refusal := card_data_refusal(cells):
            del dataset[:]  # no row is imported, not even in a dry run
            logger.warning("Mapping import refused: %s", refusal.message)
            raise refusal


class SkuMappingResource(CardSafeResource):
    seller_account = fields.Field(
        column_name="seller_account",
        attribute="seller_account",
        widget=ForeignKeyWidget(SellerAccount, field="selling_partner_id"),
    )

    class Meta:
        model = SkuMapping
        import_id_fields = ["seller_account", "seller_sku"]
        fields = [
            "seller_account", "seller_sku", "asin", "erp_item_id", "description", "is_active", "fulfillment_channel",
            "attributes",
        ]  # fmt: skip
        export_order = fields
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True  # run the model's validation so bad rows are reported, not saved


class StatusMappingResource(CardSafeResource):
    class Meta:
        model = StatusMapping
        import_id_fields = ["source", "source_status"]
        fields = ["source", "source_status", "canonical_status", "description"]
        export_order = fields
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True


class _TemplateWidget(ForeignKeyWidget):
    """Rules name their template; importing a template that does not exist yet creates it."""

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Any:
        if not value:
            raise ValueError("template is required")
        target = (row or {}).get("template_target") or FieldMappingTemplate.Target.ERP_SALES_ORDER
        if target not in FieldMappingTemplate.Target.values:
            raise ValueError(f"template_target must be one of {FieldMappingTemplate.Target.values}")
        template, _ = FieldMappingTemplate.objects.get_or_create(name=value, defaults={"target": target})
        return template


class FieldMappingRuleResource(CardSafeResource):
    """A template travels as its rules: one row per rule, with the template's name and target on each."""

    template = fields.Field(
        column_name="template", attribute="template", widget=_TemplateWidget(FieldMappingTemplate, "name")
    )
    template_target = fields.Field(column_name="template_target", attribute="template__target", readonly=True)

    class Meta:
        model = FieldMappingRule
        import_id_fields = ["template", "target_field"]
        fields = ["template", "template_target", "position", "source_path", "target_field", "transform", "argument",
                  "default", "required"]  # fmt: skip
        export_order = fields
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True


class GlAccountResource(CardSafeResource):
    class Meta:
        model = GlAccount
        import_id_fields = ["code"]
        fields = ["code", "name", "kind", "is_active"]
        export_order = fields
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True


class SettlementAccountMappingResource(CardSafeResource):
    gl_account = fields.Field(
        column_name="gl_account", attribute="gl_account", widget=ForeignKeyWidget(GlAccount, field="code")
    )

    class Meta:
        model = SettlementAccountMapping
        import_id_fields = ["transaction_type", "amount_type", "amount_description"]
        fields = ["transaction_type", "amount_type", "amount_description", "gl_account", "description"]
        export_order = fields
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True


class CurrencyRateResource(CardSafeResource):
    class Meta:
        model = CurrencyRate
        import_id_fields = ["date", "currency", "base_currency"]
        fields = ["date", "currency", "base_currency", "rate"]
        export_order = fields
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
