from __future__ import annotations

import tablib

from mappings.models import SkuMapping, StatusMapping
from mappings.resources import SkuMappingResource, StatusMappingResource
from orders.models import SellerAccount


def test_sku_mappings_round_trip_through_csv(account: SellerAccount) -> None:
    SkuMapping.objects.create(seller_sku="A-1", erp_item_id="SL-1", asin="B000000001")
    SkuMapping.objects.create(seller_sku="A-2", erp_item_id="SL-2", seller_account=account)
    csv = SkuMappingResource().export().csv
    assert "A-1,B000000001,SL-1" in csv and account.selling_partner_id in csv

    SkuMapping.objects.all().delete()
    result = SkuMappingResource().import_data(tablib.Dataset().load(csv, format="csv"), dry_run=False)
    assert not result.has_errors() and not result.has_validation_errors()
    assert SkuMapping.objects.get(seller_sku="A-2").seller_account == account


def test_import_updates_by_natural_key_and_reports_bad_rows(db: None) -> None:
    SkuMapping.objects.create(seller_sku="A-1", erp_item_id="OLD")
    data = tablib.Dataset(headers=["seller_account", "seller_sku", "asin", "erp_item_id", "description", "is_active"])
    data.append(["", "A-1", "", "NEW", "", "1"])
    data.append(["", "A-3", "not-an-asin", "SL-3", "", "1"])
    result = SkuMappingResource().import_data(data, dry_run=True)
    assert result.has_validation_errors()
    invalid = result.invalid_rows[0]
    assert "asin" in str(invalid.error_dict).lower() or "asin" in str(invalid.error).lower()

    data = tablib.Dataset(headers=data.headers)
    data.append(["", "A-1", "", "NEW", "", "1"])
    result = SkuMappingResource().import_data(data, dry_run=False)
    assert not result.has_errors() and SkuMapping.objects.get(seller_sku="A-1").erp_item_id == "NEW"
    assert SkuMapping.objects.count() == 1


def test_status_map_exports_the_migrated_defaults(db: None) -> None:
    csv = StatusMappingResource().export().csv
    assert "amazon_order,Unshipped,authorised" in csv and "amazon_order,UNSHIPPED,authorised" in csv
    assert StatusMapping.objects.filter(source="amazon_order").count() == 8 + 7  # v0's and 2026-01-01's values
