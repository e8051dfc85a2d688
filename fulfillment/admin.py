from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import F, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from config.common.access import PolicyAdminMixin, policy_action
from config.common.admin import ReadOnlyAdminMixin, actor_for, admin_link, admin_run_each, pretty_json
from fulfillment.models import (
    ErpBatch,
    ErpDocument,
    FbaInventory,
    FulfillmentOrder,
    InventoryLevel,
    InventoryUpdate,
    ListingFeed,
    ListingSync,
    Shipment,
    ShipmentConfirmation,
    ShipmentLine,
)
from fulfillment.services import fba_fulfillment_cancel, fba_fulfillment_refresh, listing_syncs_push_now
from mappings.models import SkuMapping


class ShipmentInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Shipment
    extra = 0
    fields = ("external_id", "status", "carrier", "tracking_number", "shipped_at")
    readonly_fields = fields


@admin.register(FulfillmentOrder)
class FulfillmentOrderAdmin(PolicyAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "seller_fulfillment_order_id",
        "order",
        "status",
        "status_updated_at",
        "seller_account",
        "last_error",
    ]
    list_filter = ["status", "seller_account"]
    search_fields = ["seller_fulfillment_order_id", "order__external_id"]
    list_select_related = ["order", "seller_account"]
    inlines = [ShipmentInline]
    actions = ["refresh", "cancel"]
    fields = (
        "order_link", "seller_account", "marketplace_id", "seller_fulfillment_order_id", "status", "status_updated_at",
        "shipping_speed", "next_poll_at", "last_error", "request_json", "response_json",
    )  # fmt: skip
    readonly_fields = fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("fulfillment.change_fulfillmentorder"))

    @admin.display(description="Order")
    def order_link(self, obj: FulfillmentOrder) -> SafeString | str:
        return admin_link(obj.order)

    @admin.display(description="createFulfillmentOrder body")
    def request_json(self, obj: FulfillmentOrder) -> SafeString:
        return pretty_json(obj.request_payload)

    @admin.display(description="getFulfillmentOrder answer")
    def response_json(self, obj: FulfillmentOrder) -> SafeString:
        return pretty_json(obj.last_payload)

    @policy_action("fulfillment.refresh", description="Read the status back from Amazon now")
    def refresh(self, request: HttpRequest, queryset: QuerySet[FulfillmentOrder]) -> None:
        actor = actor_for(request)
        admin_run_each(
            self,
            request,
            queryset,
            lambda f: fba_fulfillment_refresh(fulfillment_id=f.pk, actor=actor),
            done="fulfilment order(s) read back.",
        )

    @policy_action("fulfillment.cancel", description="Cancel at Amazon (only before picking starts)")
    def cancel(self, request: HttpRequest, queryset: QuerySet[FulfillmentOrder]) -> None:
        actor = actor_for(request)
        admin_run_each(
            self,
            request,
            queryset,
            lambda f: fba_fulfillment_cancel(fulfillment=f, actor=actor),
            done="cancellation(s) requested.",
        )


class ShipmentLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ShipmentLine
    extra = 0
    fields = ("order_line", "quantity")
    readonly_fields = fields


@admin.register(Shipment)
class ShipmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "external_id",
        "order",
        "source",
        "status",
        "carrier",
        "tracking_number",
        "shipped_at",
        "confirmation_status",
    ]
    list_filter = ["source", "status", "carrier"]
    search_fields = ["external_id", "tracking_number", "order__external_id"]
    list_select_related = ["order", "confirmation"]
    inlines = [ShipmentLineInline]

    @admin.display(description="Amazon confirmation")
    def confirmation_status(self, obj: Shipment) -> str:
        confirmation = getattr(obj, "confirmation", None)
        return confirmation.get_status_display() if confirmation else "-"


@admin.register(ShipmentConfirmation)
class ShipmentConfirmationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["package_reference_id", "shipment", "status", "sent_at"]
    list_filter = ["status"]


@admin.register(ErpDocument)
class ErpDocumentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["reference", "kind", "order", "created_at", "handed_to"]
    list_filter = ["kind"]
    search_fields = ["reference", "order__external_id"]
    list_select_related = ["order"]
    fields = ("kind", "reference", "order", "created_at", "handed_to", "payload_json")
    readonly_fields = fields

    @admin.display(description="Handed to")
    def handed_to(self, obj: ErpDocument) -> str:
        return ", ".join(sorted(h.client.name for h in obj.handovers.select_related("client"))) or "nobody yet"

    @admin.display(description="Payload")
    def payload_json(self, obj: ErpDocument) -> SafeString:
        return pretty_json(obj.payload)


@admin.register(ErpBatch)
class ErpBatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["pk", "client", "kind", "created_at", "pulls", "acknowledged_at", "size"]
    list_filter = ["kind", "client"]

    @admin.display(description="Documents")
    def size(self, obj: ErpBatch) -> int:
        return obj.items.count()


class DriftFilter(admin.SimpleListFilter):
    title = "drift"
    parameter_name = "drift"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Amazon shows another quantity")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ListingSync]) -> QuerySet[ListingSync]:
        if self.value() == "yes":
            return (
                queryset.filter(amazon_quantity__isnull=False)
                .exclude(status=ListingSync.Status.PENDING)
                .exclude(amazon_quantity=F("desired_quantity"))
            )
        return queryset


@admin.register(ListingSync)
class ListingSyncAdmin(PolicyAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Per SKU: the ERP's available quantity, what we sent, what Amazon shows; drift in red."""

    list_display = [
        "seller_sku", "marketplace_id", "item_id", "desired_quantity", "pushed_quantity", "amazon_shows", "status",
        "pushed_at", "amazon_checked_at", "last_error",
    ]  # fmt: skip
    list_filter = [DriftFilter, "status", "seller_account", "marketplace_id"]
    search_fields = ["seller_sku", "item_id"]
    list_select_related = ["seller_account"]
    actions = ["push_now"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("fulfillment.change_listingsync"))

    @admin.display(description="Amazon shows")
    def amazon_shows(self, obj: ListingSync) -> SafeString | str:
        if obj.amazon_quantity is None:
            return "-"
        if obj.drift:
            return format_html('<strong style="color:#ba2121">{} (drift: ERP {})</strong>', obj.amazon_quantity,
                               obj.desired_quantity)  # fmt: skip
        return str(obj.amazon_quantity)

    @policy_action("inventory.push_now", description="Send the ERP's quantity to Amazon now")
    def push_now(self, request: HttpRequest, queryset: QuerySet[ListingSync]) -> None:
        n = listing_syncs_push_now(sync_ids=list(queryset.values_list("pk", flat=True)))
        messages.info(request, f"{n} listing(s) scheduled")


@admin.register(InventoryLevel)
class InventoryLevelAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["item_id", "site", "on_hand", "allocated", "available", "as_of", "version", "updated_at"]
    list_filter = ["site"]
    search_fields = ["item_id"]


@admin.register(InventoryUpdate)
class InventoryUpdateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["pk", "client", "applied", "stale", "unmapped", "created_at"]
    fields = ("client", "applied", "stale", "unmapped", "created_at", "payload_json")
    readonly_fields = fields

    @admin.display(description="Payload as received")
    def payload_json(self, obj: InventoryUpdate) -> SafeString:
        return pretty_json(obj.payload)


@admin.register(ListingFeed)
class ListingFeedAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["pk", "seller_account", "marketplace_id", "feed_id", "status", "sku_count", "accepted", "invalid",
                    "created_at"]  # fmt: skip
    list_filter = ["status", "seller_account"]

    @admin.display(description="SKUs")
    def sku_count(self, obj: ListingFeed) -> int:
        return len(obj.items)


@admin.register(FbaInventory)
class FbaInventoryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "seller_sku", "marketplace_id", "fulfillable", "reserved", "inbound_working", "inbound_shipped",
        "inbound_receiving", "unfulfillable", "erp_level", "amazon_updated_at",
    ]  # fmt: skip
    list_filter = ["seller_account", "marketplace_id"]
    search_fields = ["seller_sku", "fnsku", "asin"]

    @admin.display(description="ERP (FBA site)")
    def erp_level(self, obj: FbaInventory) -> SafeString | str:
        # The ERP's own record of its FBA stock, when it posts one, next to Amazon's fulfillable quantity.
        mapping = SkuMapping.objects.filter(seller_account=obj.seller_account, seller_sku=obj.seller_sku).first()
        level = (
            InventoryLevel.objects.filter(
                item_id=mapping.erp_item_id, site__in=settings.INVENTORY_EXCLUDED_SITES
            ).first()
            if mapping
            else None
        )
        if level is None:
            return "-"
        if level.available != obj.fulfillable:
            return format_html('<strong style="color:#ba2121">{} (drift)</strong>', level.available)
        return str(level.available)
