"""ERP inventory API: post stock levels (pushed to Amazon for merchant-fulfilled SKUs), read Amazon's FBA stock
and the sync state of each listing. `Authorization: Bearer <ERP client token>`."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.common.api import UtcDateTimeFilter
from config.common.db import without_nul
from config.common.models import ApiClient
from fulfillment.models import FbaInventory, ListingSync
from fulfillment.services.inventory import LevelRow, inventory_levels_post

MAX_LEVELS = 5_000


class LevelInputSerializer(serializers.Serializer):
    item_id = serializers.CharField(max_length=64)
    site = serializers.CharField(max_length=40)
    on_hand = serializers.IntegerField(min_value=-1_000_000_000, max_value=1_000_000_000)
    allocated = serializers.IntegerField(min_value=0, max_value=1_000_000_000)
    as_of = serializers.DateTimeField(help_text="When the ERP counted it (ISO 8601 with a zone).")
    version = serializers.IntegerField(min_value=0, max_value=2**62, help_text="The ERP's row version.")


class InventoryPostInputSerializer(serializers.Serializer):
    levels = serializers.ListField(child=LevelInputSerializer(), allow_empty=False, max_length=MAX_LEVELS)


class LevelOutcomeSerializer(serializers.Serializer):
    item_id = serializers.CharField()
    site = serializers.CharField()
    outcome = serializers.ChoiceField(choices=["applied", "stale"], help_text="stale: we hold a newer report.")
    note = serializers.CharField(required=False)


class InventoryPostOutputSerializer(serializers.Serializer):
    update_id = serializers.IntegerField()
    applied = serializers.IntegerField()
    stale = serializers.IntegerField()
    unmapped = serializers.IntegerField(help_text="Items with no merchant-fulfilled Amazon SKU.")
    rows = LevelOutcomeSerializer(many=True)


class ErpInventoryPostApi(APIView):
    """Stock levels per item and site. A level older (as_of and version) than the one we hold is ignored
    ("stale"), so retries and out-of-order deliveries are harmless. Available = on hand − allocated is sent to
    Amazon for the item's merchant-fulfilled SKUs (coalesced, within Amazon's quotas)."""

    operation = "erp.inventory.post"

    @extend_schema(request=InventoryPostInputSerializer, responses=InventoryPostOutputSerializer)
    def post(self, request: Request) -> Response:
        data = InventoryPostInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rows = [LevelRow(**level) for level in data.validated_data["levels"]]
        assert isinstance(request.auth, ApiClient)
        result = inventory_levels_post(rows=rows, payload=without_nul(request.data), client=request.auth)
        return Response(InventoryPostOutputSerializer(result).data)


class FbaInventoryOutputSerializer(serializers.ModelSerializer[FbaInventory]):
    selling_partner_id = serializers.CharField(source="seller_account.selling_partner_id")
    in_transit = serializers.SerializerMethodField(help_text="Inbound shipped + receiving: on its way into FBA.")

    class Meta:
        model = FbaInventory
        fields = [
            "selling_partner_id", "marketplace_id", "seller_sku", "fnsku", "asin", "fulfillable", "reserved",
            "in_transit", "inbound_working", "inbound_shipped", "inbound_receiving", "unfulfillable",
            "amazon_updated_at", "updated_at",
        ]  # fmt: skip

    def get_in_transit(self, obj: FbaInventory) -> int:
        return obj.inbound_shipped + obj.inbound_receiving


class FbaInventoryFilter(django_filters.FilterSet):
    seller_sku = django_filters.CharFilter()
    marketplace_id = django_filters.CharFilter()
    updated_since = UtcDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = FbaInventory
        fields = ["seller_sku", "marketplace_id"]


class ErpFbaInventoryListApi(generics.ListAPIView):
    """Amazon's FBA stock per SKU: fulfillable, reserved (customer orders, transfers, FC processing) and in
    transit, refreshed from getInventorySummaries on a schedule."""

    operation = "erp.inventory.fba"
    serializer_class = FbaInventoryOutputSerializer
    filterset_class = FbaInventoryFilter
    queryset = FbaInventory.objects.select_related("seller_account").order_by("pk")


class ListingSyncOutputSerializer(serializers.ModelSerializer[ListingSync]):
    selling_partner_id = serializers.CharField(source="seller_account.selling_partner_id")
    drift = serializers.BooleanField(read_only=True)

    class Meta:
        model = ListingSync
        fields = [
            "selling_partner_id", "marketplace_id", "seller_sku", "item_id", "desired_quantity", "desired_as_of",
            "pushed_quantity", "pushed_at", "amazon_quantity", "amazon_checked_at", "status", "last_error", "drift",
        ]  # fmt: skip


class ErpListingSyncListApi(generics.ListAPIView):
    """Merchant-fulfilled listings: the ERP's available quantity, what was sent, what Amazon shows."""

    operation = "erp.inventory.listings"
    serializer_class = ListingSyncOutputSerializer
    filterset_fields = ["seller_sku", "item_id", "marketplace_id", "status"]
    queryset = ListingSync.objects.select_related("seller_account").order_by("pk")
