from __future__ import annotations

from django.contrib import admin
from import_export.admin import ImportExportModelAdmin

from mappings.models import SkuMapping, StatusMapping
from mappings.resources import SkuMappingResource, StatusMappingResource


@admin.register(SkuMapping)
class SkuMappingAdmin(ImportExportModelAdmin):
    resource_classes = [SkuMappingResource]
    list_display = ["seller_sku", "asin", "erp_item_id", "seller_account", "is_active", "updated_at"]
    list_filter = ["is_active", "seller_account"]
    search_fields = ["seller_sku", "asin", "erp_item_id", "description"]
    list_select_related = ["seller_account"]
    autocomplete_fields: list[str] = []


@admin.register(StatusMapping)
class StatusMappingAdmin(ImportExportModelAdmin):
    resource_classes = [StatusMappingResource]
    list_display = ["source", "source_status", "canonical_status", "description"]
    list_filter = ["source", "canonical_status"]
    search_fields = ["source_status", "description"]
