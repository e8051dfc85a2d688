from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.safestring import SafeString

from config.common.admin import ReadOnlyAdminMixin, actor_for, admin_link, pretty_json
from config.common.errors import ApplicationError, ConnectorError
from payments.models import OpayoNotification, Payment, PaymentEvent, PaymentTransaction, Refund
from payments.services import (
    opayo_notification_reprocess,
    payment_capture,
    payment_transaction_refresh,
    payment_void,
)


class TransactionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = PaymentTransaction
    extra = 0
    fields = (
        "kind", "vendor_tx_code", "transaction_id", "state", "amount", "currency", "released_amount", "opayo_status",
        "status_code", "status_detail", "card_type", "last_four_digits", "created_at",
    )  # fmt: skip
    readonly_fields = fields


class RefundInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Refund
    extra = 0
    fields = ("amount", "currency", "reason", "status", "failure", "requested_by", "created_at")
    readonly_fields = fields


class PaymentEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = PaymentEvent
    extra = 0
    fields = ("created_at", "kind", "from_status", "to_status", "actor", "message")
    readonly_fields = fields


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "order",
        "status",
        "currency",
        "amount_authorised",
        "amount_captured",
        "amount_refunded",
        "protocol",
        "updated_at",
    ]
    list_filter = ["status", "protocol", "currency"]
    search_fields = ["order__external_id", "transactions__vendor_tx_code", "transactions__transaction_id"]
    list_select_related = ["order"]
    inlines = [TransactionInline, RefundInline, PaymentEventInline]
    actions = ["capture", "void", "refresh"]
    fields = (
        "order_link", "status", "protocol", "currency", "amount_authorised", "amount_captured", "amount_refunded",
        "created_at", "updated_at",
    )  # fmt: skip
    readonly_fields = fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("payments.change_payment"))

    @admin.display(description="Order")
    def order_link(self, obj: Payment) -> SafeString | str:
        return admin_link(obj.order)

    def _each(self, request: HttpRequest, queryset: QuerySet[Payment], fn: Any, done: str) -> None:
        ok = 0
        for payment in queryset:
            try:
                fn(payment)
                ok += 1
            except (ApplicationError, ConnectorError) as exc:
                self.message_user(request, f"{payment.order}: {getattr(exc, 'message', exc)}", messages.ERROR)
        if ok:
            self.message_user(request, f"{ok} payment(s): {done}", messages.SUCCESS)

    @admin.action(description="Capture (release) the full authorised amount", permissions=["change"])
    def capture(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        self._each(request, queryset, lambda p: payment_capture(payment=p, actor=actor_for(request)), "capture sent")

    @admin.action(description="Void / abort (before settlement)", permissions=["change"])
    def void(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        self._each(
            request,
            queryset,
            lambda p: payment_void(payment=p, actor=actor_for(request), reason="operator"),
            "void sent",
        )

    @admin.action(description="Re-read the status from Opayo", permissions=["change"])
    def refresh(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        def refresh_one(payment: Payment) -> None:
            for tx in payment.transactions.all():
                payment_transaction_refresh(tx_id=tx.pk, actor=actor_for(request))

        self._each(request, queryset, refresh_one, "status re-read")


@admin.register(PaymentTransaction)
class PaymentTransactionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["vendor_tx_code", "kind", "state", "amount", "currency", "opayo_status", "status_code", "payment"]
    list_filter = ["kind", "state", "opayo_status"]
    search_fields = ["vendor_tx_code", "transaction_id", "retrieval_reference"]
    list_select_related = ["payment__order"]
    exclude = ["security_key", "last_response"]
    readonly_fields = ["response_json"]

    @admin.display(description="Opayo's last answer")
    def response_json(self, obj: PaymentTransaction) -> SafeString:
        return pretty_json(obj.last_response)


@admin.register(OpayoNotification)
class OpayoNotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["received_at", "vendor_tx_code", "status", "signature_valid", "outcome", "detail"]
    list_filter = ["outcome", "signature_valid", "status"]
    search_fields = ["vendor_tx_code", "vps_tx_id"]
    actions = ["reprocess"]
    fields = ("received_at", "remote_addr", "vendor_tx_code", "vps_tx_id", "status", "signature_valid", "outcome",
              "detail", "reply", "transaction", "fields_json")  # fmt: skip
    readonly_fields = fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("payments.change_opayonotification"))

    @admin.display(description="Fields")
    def fields_json(self, obj: OpayoNotification) -> SafeString:
        return pretty_json(obj.fields)

    @admin.action(description="Process the selected notifications again", permissions=["change"])
    def reprocess(self, request: HttpRequest, queryset: QuerySet[OpayoNotification]) -> None:
        for note in queryset:
            again = opayo_notification_reprocess(note=note)
            self.message_user(request, f"{note.vendor_tx_code}: {again.get_outcome_display()} ({again.detail})")
