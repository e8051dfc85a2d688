from __future__ import annotations

from django.contrib import admin
from import_export.admin import ImportExportModelAdmin

from mappings.models import (
    CurrencyRate,
    FieldMappingRule,
    FieldMappingTemplate,
    FieldRule,
    GlAccount,
    SettlementAccountMapping,
    SkuMapping,
    StatusMapping,
)
from mappings.resources import (
    CurrencyRateResource,
    FieldMappingRuleResource,
    GlAccountResource,
    SettlementAccountMappingResource,
    SkuMappingResource,
    StatusMappingResource,
)


@admin.register(SkuMapping)
class SkuMappingAdmin(ImportExportModelAdmin):
    resource_classes = [SkuMappingResource]
    list_display = [
        "seller_sku",
        "asin",
        "erp_item_id",
        "seller_account",
        "fulfillment_channel",
        "is_active",
        "updated_at",
    ]
    list_filter = ["is_active", "fulfillment_channel", "seller_account"]
    search_fields = ["seller_sku", "asin", "erp_item_id", "description"]
    list_select_related = ["seller_account"]
    autocomplete_fields: list[str] = []


@admin.register(StatusMapping)
class StatusMappingAdmin(ImportExportModelAdmin):
    resource_classes = [StatusMappingResource]
    list_display = ["source", "source_status", "canonical_status", "description"]
    list_filter = ["source", "canonical_status"]
    search_fields = ["source_status", "description"]


@admin.register(FieldRule)
class FieldRuleAdmin(admin.ModelAdmin):
    list_display = ["target", "template", "is_active", "description"]
    list_editable = ["is_active"]


class FieldMappingRuleInline(admin.TabularInline):
    model = FieldMappingRule
    extra = 1
    fields = ["position", "source_path", "target_field", "transform", "argument", "default", "required"]


@admin.register(FieldMappingTemplate)
class FieldMappingTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "target", "is_active", "rule_count", "description"]
    list_filter = ["target", "is_active"]
    inlines = [FieldMappingRuleInline]

    @admin.display(description="Rules")
    def rule_count(self, obj: FieldMappingTemplate) -> int:
        return obj.rules.count()


@admin.register(FieldMappingRule)
class FieldMappingRuleAdmin(ImportExportModelAdmin):
    """Import/export of templates as CSV, XLSX or JSON (one row per rule)."""

    resource_classes = [FieldMappingRuleResource]
    list_display = [
        "template",
        "position",
        "source_path",
        "target_field",
        "transform",
        "argument",
        "default",
        "required",
    ]
    list_filter = ["template", "transform"]
    search_fields = ["source_path", "target_field"]


@admin.register(GlAccount)
class GlAccountAdmin(ImportExportModelAdmin):
    resource_classes = [GlAccountResource]
    list_display = ["code", "name", "kind", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["code", "name"]


@admin.register(SettlementAccountMapping)
class SettlementAccountMappingAdmin(ImportExportModelAdmin):
    """Finance's table: which GL account each settlement amount posts to (`*` matches anything)."""

    resource_classes = [SettlementAccountMappingResource]
    list_display = ["transaction_type", "amount_type", "amount_description", "gl_account", "description"]
    list_filter = ["gl_account", "transaction_type", "amount_type"]
    search_fields = ["transaction_type", "amount_type", "amount_description", "description", "gl_account__code"]
    list_select_related = ["gl_account"]


@admin.register(CurrencyRate)
class CurrencyRateAdmin(ImportExportModelAdmin):
    resource_classes = [CurrencyRateResource]
    list_display = ["date", "currency", "base_currency", "rate"]
    list_filter = ["currency", "base_currency"]
    date_hierarchy = "date"
