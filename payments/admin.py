from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from config.common.access import PolicyAdminMixin, policy_action
from config.common.admin import ReadOnlyAdminMixin, actor_for, admin_link, admin_run_each, pretty_json
from config.common.errors import ApplicationError, ConnectorError
from payments.models import (
    FraudAssessment,
    OpayoBatch,
    OpayoBatchTotal,
    OpayoBatchTransaction,
    OpayoNotification,
    Payment,
    PaymentEvent,
    PaymentTransaction,
    Refund,
)
from payments.selectors import payment_transactions_unsettled
from payments.services import (
    fraud_assess,
    fraud_reject,
    fraud_release,
    opayo_batch_reprocess,
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
class PaymentAdmin(PolicyAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
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
        "fraud_link", "created_at", "updated_at",
    )  # fmt: skip
    readonly_fields = fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("payments.change_payment"))

    @admin.display(description="Order")
    def order_link(self, obj: Payment) -> SafeString | str:
        return admin_link(obj.order)

    @admin.display(description="Fraud review")
    def fraud_link(self, obj: Payment) -> SafeString | str:
        assessment = FraudAssessment.objects.filter(payment=obj).first()
        return (
            admin_link(assessment, f"{assessment.score}/100, {assessment.get_decision_display()}")
            if assessment
            else "-"
        )

    @policy_action("payments.capture", description="Capture (release) the full authorised amount")
    def capture(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        actor = actor_for(request)
        admin_run_each(
            self,
            request,
            queryset,
            lambda p: payment_capture(payment=p, actor=actor),
            done="payment(s): capture sent",
            label=lambda p: p.order,
        )

    @policy_action("payments.void", description="Void / abort (before settlement)")
    def void(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        actor = actor_for(request)
        admin_run_each(
            self,
            request,
            queryset,
            lambda p: payment_void(payment=p, actor=actor, reason="operator"),
            done="payment(s): void sent",
            label=lambda p: p.order,
        )

    @policy_action("payments.refresh", description="Re-read the status from Opayo")
    def refresh(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        def refresh_one(payment: Payment) -> None:
            for tx in payment.transactions.all():
                payment_transaction_refresh(tx_id=tx.pk, actor=actor_for(request))

        admin_run_each(self, request, queryset, refresh_one, done="payment(s): status re-read", label=lambda p: p.order)


class SettlementFilter(admin.SimpleListFilter):
    title = "Opayo settlement"
    parameter_name = "settlement"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("matched", "Matched in a batch"),
            ("problem", "In a batch, not matched"),
            ("none", "In no batch"),
            ("overdue", f"In no batch after {settings.OPAYO_BATCH_UNSETTLED_DAYS} days"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[PaymentTransaction]) -> QuerySet[PaymentTransaction]:
        lines = OpayoBatchTransaction.objects.filter(payment_transaction=OuterRef("pk"))
        matched = lines.filter(match_status=OpayoBatchTransaction.MatchStatus.MATCHED)
        if self.value() == "matched":
            return queryset.filter(Exists(matched))
        if self.value() == "problem":
            return queryset.filter(Exists(lines)).exclude(Exists(matched))
        if self.value() == "none":
            return queryset.exclude(Exists(lines))
        if self.value() == "overdue":
            overdue = payment_transactions_unsettled(
                days=settings.OPAYO_BATCH_UNSETTLED_DAYS, lookback_days=settings.OPAYO_BATCH_UNSETTLED_LOOKBACK_DAYS
            )
            return queryset.filter(pk__in=overdue.values("pk"))
        return queryset


class BatchLineOfTransactionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OpayoBatchTransaction
    fk_name = "payment_transaction"
    extra = 0
    verbose_name_plural = "Opayo settlement batch lines"
    fields = ("batch_link", "transaction_type", "amount", "currency", "settled_on", "match_status", "match_reason")
    readonly_fields = fields

    @admin.display(description="Batch")
    def batch_link(self, obj: OpayoBatchTransaction) -> SafeString | str:
        return admin_link(obj.batch)


@admin.register(PaymentTransaction)
class PaymentTransactionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["vendor_tx_code", "kind", "state", "amount", "currency", "opayo_status", "status_code", "payment"]
    list_filter = ["kind", "state", "opayo_status", SettlementFilter]
    inlines = [BatchLineOfTransactionInline]
    search_fields = ["vendor_tx_code", "transaction_id", "retrieval_reference"]
    list_select_related = ["payment__order"]
    exclude = ["security_key", "last_response"]
    readonly_fields = ["response_json"]

    @admin.display(description="Opayo's last answer")
    def response_json(self, obj: PaymentTransaction) -> SafeString:
        return pretty_json(obj.last_response)


@admin.register(OpayoNotification)
class OpayoNotificationAdmin(PolicyAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["received_at", "vendor_tx_code", "status", "signature_valid", "outcome", "masked", "detail"]
    list_filter = ["outcome", "signature_valid", "masked", "status"]
    search_fields = ["vendor_tx_code", "vps_tx_id"]
    actions = ["reprocess"]
    fields = ("received_at", "remote_addr", "vendor_tx_code", "vps_tx_id", "status", "signature_valid", "outcome",
              "masked", "detail", "reply", "transaction", "fields_json")  # fmt: skip
    readonly_fields = fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("payments.change_opayonotification"))

    @admin.display(description="Fields")
    def fields_json(self, obj: OpayoNotification) -> SafeString:
        return pretty_json(obj.fields)

    @policy_action("payments.notification_reprocess", description="Process the selected notifications again")
    def reprocess(self, request: HttpRequest, queryset: QuerySet[OpayoNotification]) -> None:
        for note in queryset:
            again = opayo_notification_reprocess(note=note)
            self.message_user(request, f"{note.vendor_tx_code}: {again.get_outcome_display()} ({again.detail})")


# --- Opayo settlement batches -------------------------------------------------------------------------------


class OpayoBatchTotalInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OpayoBatchTotal
    extra = 0
    verbose_name_plural = "Totals per currency (getBatchList)"
    fields = ("currency", "payment_count", "payment_value", "refund_count", "refund_value")
    readonly_fields = fields


class OpayoBatchTransactionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OpayoBatchTransaction
    fk_name = "batch"
    extra = 0
    verbose_name_plural = "Transactions (getBatchDetail) and what they matched"
    fields = (
        "row_number", "vps_tx_id", "vendor_tx_code", "transaction_type", "amount", "currency", "started_at",
        "match_status", "ours", "match_reason",
    )  # fmt: skip
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[OpayoBatchTransaction]:
        return super().get_queryset(request).select_related("payment_transaction")

    @admin.display(description="Our transaction")
    def ours(self, obj: OpayoBatchTransaction) -> SafeString | str:
        return admin_link(obj.payment_transaction)


@admin.register(OpayoBatch)
class OpayoBatchAdmin(PolicyAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "batch_id", "batch_date", "completed_at", "processor", "status", "expected_count", "line_count",
        "matched_count", "unmatched_count", "totals_text", "fetched_at",
    ]  # fmt: skip
    list_filter = ["status", "batch_date", "processor", "totals__currency"]
    search_fields = ["batch_id", "lines__vps_tx_id", "lines__vendor_tx_code"]
    date_hierarchy = "batch_date"
    inlines = [OpayoBatchTotalInline, OpayoBatchTransactionInline]
    actions = ["rerun_matching"]
    fields = (
        "batch_id", "vendor", "processor", "batch_date", "completed_at", "status", "detail", "expected_count",
        "line_count", "matched_count", "unmatched_count", "fetched_at", "created_at", "updated_at", "raw_xml",
    )  # fmt: skip
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[OpayoBatch]:
        return super().get_queryset(request).prefetch_related("totals")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("payments.change_opayobatch"))

    @admin.display(description="Totals (payments / refunds)")
    def totals_text(self, obj: OpayoBatch) -> SafeString | str:
        totals = list(obj.totals.all())
        if not totals:
            return "-"
        return format_html_join(
            ", ",
            "{} {} / {}",
            ((t.currency, t.payment_value, t.refund_value) for t in totals),
        )

    @policy_action(
        "payments.batch_rematch", description="Re-run matching (reads the batch again when its detail is incomplete)"
    )
    def rerun_matching(self, request: HttpRequest, queryset: QuerySet[OpayoBatch]) -> None:
        _rerun_matching(self, request, queryset)


@admin.register(OpayoBatchTransaction)
class OpayoBatchTransactionAdmin(PolicyAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "vps_tx_id", "vendor_tx_code", "transaction_type", "amount", "currency", "settled_on", "match_status",
        "ours", "batch_link", "match_reason",
    ]  # fmt: skip
    list_filter = ["match_status", "transaction_type", "currency", "settled_on"]
    search_fields = ["vps_tx_id", "vendor_tx_code", "batch__batch_id", "payment_transaction__vendor_tx_code"]
    list_select_related = ["batch", "payment_transaction"]
    actions = ["rerun_matching"]
    fields = (
        "batch_link", "row_number", "vps_tx_id", "vendor_tx_code", "transaction_type", "amount", "currency",
        "started_at", "settled_on", "match_status", "matched_on", "ours", "match_reason", "raw_json",
    )  # fmt: skip
    readonly_fields = fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("payments.change_opayobatch"))

    @admin.display(description="Batch")
    def batch_link(self, obj: OpayoBatchTransaction) -> SafeString | str:
        return admin_link(obj.batch)

    @admin.display(description="Our transaction")
    def ours(self, obj: OpayoBatchTransaction) -> SafeString | str:
        return admin_link(obj.payment_transaction)

    @admin.display(description="As received")
    def raw_json(self, obj: OpayoBatchTransaction) -> SafeString:
        return pretty_json(obj.raw)

    @policy_action("payments.batch_rematch", description="Re-run matching of their batches")
    def rerun_matching(self, request: HttpRequest, queryset: QuerySet[OpayoBatchTransaction]) -> None:
        _rerun_matching(self, request, OpayoBatch.objects.filter(pk__in=queryset.values("batch_id")))


def _rerun_matching(model_admin: admin.ModelAdmin[Any], request: HttpRequest, batches: QuerySet[OpayoBatch]) -> None:
    for batch in batches:
        try:
            batch = opayo_batch_reprocess(batch=batch, actor=actor_for(request))
        except (ApplicationError, ConnectorError) as exc:
            model_admin.message_user(request, f"{batch}: {getattr(exc, 'message', exc)}", messages.ERROR)
            continue
        level = messages.SUCCESS if batch.status == OpayoBatch.Status.MATCHED else messages.WARNING
        model_admin.message_user(
            request,
            f"{batch}: {batch.get_status_display()} ({batch.matched_count} of {batch.line_count} matched)",
            level,
        )


# --- fraud review ---------------------------------------------------------------------------------------------


@admin.register(FraudAssessment)
class FraudAssessmentAdmin(PolicyAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["order", "score", "threshold", "decision", "indicator_codes", "decided_by", "decided_at",
                    "created_at"]  # fmt: skip
    list_filter = ["decision", "created_at"]
    search_fields = ["order__external_id", "payment__transactions__vendor_tx_code"]
    list_select_related = ["order"]
    raw_id_fields = ["order", "payment"]
    date_hierarchy = "created_at"
    actions = ["release", "reject", "reassess"]
    fields = (
        "order_link", "payment_link", "score", "threshold", "decision", "reasons", "decided_by", "decided_at",
        "note", "assessed_at", "created_at", "updated_at",
    )  # fmt: skip
    readonly_fields = fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("payments.change_fraudassessment"))

    @admin.display(description="Order")
    def order_link(self, obj: FraudAssessment) -> SafeString | str:
        return admin_link(obj.order, f"{obj.order} ({obj.order.get_status_display()})")

    @admin.display(description="Payment")
    def payment_link(self, obj: FraudAssessment) -> SafeString | str:
        return admin_link(obj.payment)

    @admin.display(description="Indicators")
    def indicator_codes(self, obj: FraudAssessment) -> str:
        return ", ".join(str(i.get("code")) for i in obj.indicators) or "-"

    @admin.display(description="Why (weight)")
    def reasons(self, obj: FraudAssessment) -> SafeString | str:
        if not obj.indicators:
            return "No indicator."
        rows = ((i.get("explanation"), i.get("weight")) for i in obj.indicators)
        items = format_html_join("", "<li>{} (weight {})</li>", rows)
        return format_html("<ul>{}</ul>", items)

    @policy_action("fraud.review", description="Release after review (lift the hold, request fulfilment)")
    def release(self, request: HttpRequest, queryset: QuerySet[FraudAssessment]) -> None:
        actor = actor_for(request)
        admin_run_each(
            self,
            request,
            queryset.select_related("order"),
            lambda a: fraud_release(assessment=a, actor=actor, note=f"released after review by {actor}"),
            done="order(s): released",
            label=lambda a: a.order,
        )

    @policy_action("fraud.review", description="Reject (void or refund the payment)")
    def reject(self, request: HttpRequest, queryset: QuerySet[FraudAssessment]) -> None:
        actor = actor_for(request)
        admin_run_each(
            self,
            request,
            queryset.select_related("order"),
            lambda a: fraud_reject(assessment=a, actor=actor, note=f"rejected after review by {actor}"),
            done="order(s): rejected; the payment is being voided or refunded",
            label=lambda a: a.order,
        )

    @policy_action("fraud.review", description="Re-assess passed orders (velocity and settings as of now)")
    def reassess(self, request: HttpRequest, queryset: QuerySet[FraudAssessment]) -> None:
        actor = actor_for(request)
        admin_run_each(
            self,
            request,
            queryset.select_related("order", "payment"),
            lambda a: fraud_assess(payment=a.payment, actor=actor, reassess=True),
            done="order(s): re-assessed",
            label=lambda a: a.order,
        )
