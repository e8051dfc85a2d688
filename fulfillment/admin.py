from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.safestring import SafeString

from config.common.admin import ReadOnlyAdminMixin, actor_for, admin_link, pretty_json
from config.common.errors import ApplicationError, ConnectorError
from fulfillment.models import ErpBatch, ErpDocument, FulfillmentOrder, Shipment, ShipmentConfirmation, ShipmentLine
from fulfillment.services import fba_fulfillment_cancel, fba_fulfillment_refresh


class ShipmentInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Shipment
    extra = 0
    fields = ("external_id", "status", "carrier", "tracking_number", "shipped_at")
    readonly_fields = fields


@admin.register(FulfillmentOrder)
class FulfillmentOrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
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

    @admin.action(description="Read the status back from Amazon now", permissions=["change"])
    def refresh(self, request: HttpRequest, queryset: QuerySet[FulfillmentOrder]) -> None:
        for fulfillment in queryset:
            try:
                fba_fulfillment_refresh(fulfillment_id=fulfillment.pk, actor=actor_for(request))
            except ConnectorError as exc:
                self.message_user(request, f"{fulfillment}: {exc}", messages.ERROR)
        self.message_user(request, "Done.")

    @admin.action(description="Cancel at Amazon (only before picking starts)", permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[FulfillmentOrder]) -> None:
        for fulfillment in queryset:
            try:
                fba_fulfillment_cancel(fulfillment=fulfillment, actor=actor_for(request))
            except ApplicationError as exc:
                self.message_user(request, f"{fulfillment}: {exc.message}", messages.ERROR)
        self.message_user(request, "Cancellation requested.")


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
