"""CSV/XLSX import and export of mappings (django-import-export), keyed on natural keys, not database ids."""

from __future__ import annotations

from import_export import fields, resources
from import_export.widgets import ForeignKeyWidget

from mappings.models import SkuMapping, StatusMapping
from orders.models import SellerAccount


class SkuMappingResource(resources.ModelResource):
    seller_account = fields.Field(
        column_name="seller_account",
        attribute="seller_account",
        widget=ForeignKeyWidget(SellerAccount, field="selling_partner_id"),
    )

    class Meta:
        model = SkuMapping
        import_id_fields = ["seller_account", "seller_sku"]
        fields = ["seller_account", "seller_sku", "asin", "erp_item_id", "description", "is_active"]
        export_order = fields
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True  # run the model's validation so bad rows are reported, not saved


class StatusMappingResource(resources.ModelResource):
    class Meta:
        model = StatusMapping
        import_id_fields = ["source", "source_status"]
        fields = ["source", "source_status", "canonical_status", "description"]
        export_order = fields
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
