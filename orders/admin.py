from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from config.common.access import PolicyAdminMixin, policy_action
from config.common.admin import ReadOnlyAdminMixin, actor_for, admin_link, admin_run_each, pretty_json
from config.common.errors import ApplicationError
from connectors.amazon.marketplaces import marketplace_name
from orders.models import (
    Address,
    AmazonOrderSnapshot,
    NotificationConsumer,
    NotificationDestination,
    NotificationSubscription,
    NotificationType,
    Order,
    OrderEvent,
    OrderHold,
    OrderLine,
    SellerAccount,
    SellerMarketplace,
    SpApiNotification,
    SyncCursor,
)
from orders.services import (
    amazon_snapshot_reprocess,
    notification_reprocess,
    notification_subscribe,
    notification_subscriptions_check,
    notification_unsubscribe,
    order_hold,
    order_poll_schedules_sync,
    order_polls_enqueue,
    order_release,
    orders_refresh_from_amazon,
)

REFRESH_LIMIT = 50  # synchronous: getOrder's burst is 30, then two a second
_SECRET_HELP = "Write-only: leave empty to keep the stored value. Stored encrypted; never displayed."


class SellerAccountForm(forms.ModelForm):
    lwa_client_secret = forms.CharField(
        label="LWA client secret",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_SECRET_HELP,
    )
    refresh_token = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False), help_text=_SECRET_HELP
    )

    class Meta:
        model = SellerAccount
        fields = [
            "name",
            "selling_partner_id",
            "region",
            "lwa_client_id",
            "lwa_client_secret",
            "refresh_token",
            "is_active",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("lwa_client_secret", "refresh_token"):
            if data.get(name):
                continue
            if self.instance.pk:
                data[name] = getattr(self.instance, name)  # keep what is stored
            else:
                self.add_error(name, "Required for a new account.")
        return data


class SellerMarketplaceInline(admin.TabularInline):
    model = SellerMarketplace
    extra = 1
    fields = ["marketplace_id", "is_active", "mcf_enabled"]


def _subscription_action(notification_type: str, subscribe: bool) -> Any:
    verb = "Subscribe to" if subscribe else "Unsubscribe from"

    @policy_action("orders.notifications.subscribe", description=f"{verb} {notification_type} notifications")
    def action(modeladmin: Any, request: HttpRequest, queryset: QuerySet[SellerAccount]) -> None:
        service = notification_subscribe if subscribe else notification_unsubscribe
        admin_run_each(
            modeladmin, request, queryset,
            lambda account: service(account=account, notification_type=notification_type, actor=actor_for(request)),
            done=f"account(s): {'subscribed to' if subscribe else 'unsubscribed from'} {notification_type}",
        )  # fmt: skip

    action.__name__ = f"{'subscribe' if subscribe else 'unsubscribe'}_{notification_type.lower()}"
    return action


@policy_action("orders.notifications.subscribe", description="Subscribe to all notification types")
def subscribe_all(modeladmin: Any, request: HttpRequest, queryset: QuerySet[SellerAccount]) -> None:
    for notification_type in NotificationType.values:
        _subscription_action(notification_type, True)(modeladmin, request, queryset)


@policy_action("orders.notifications.subscribe", description="Re-check notification subscriptions at Amazon")
def subscriptions_check(modeladmin: Any, request: HttpRequest, queryset: QuerySet[SellerAccount]) -> None:
    admin_run_each(
        modeladmin, request, queryset, lambda account: notification_subscriptions_check(account=account),
        done="account(s): subscriptions re-read from Amazon",
    )  # fmt: skip


SUBSCRIPTION_ACTIONS = [
    subscribe_all,
    *(_subscription_action(t, True) for t in NotificationType.values),
    *(_subscription_action(t, False) for t in NotificationType.values),
    subscriptions_check,
]


@admin.register(SellerAccount)
class SellerAccountAdmin(PolicyAdminMixin, admin.ModelAdmin):
    form = SellerAccountForm
    list_display = [
        "name", "selling_partner_id", "region", "is_active", "marketplace_list", "last_poll", "notifications",
    ]  # fmt: skip
    list_filter = ["region", "is_active"]
    search_fields = ["name", "selling_partner_id"]
    inlines = [SellerMarketplaceInline]
    readonly_fields = ["notification_subscriptions_table"]
    actions = ["poll_now", *SUBSCRIPTION_ACTIONS]

    def get_queryset(self, request: HttpRequest) -> QuerySet[SellerAccount]:
        return super().get_queryset(request).prefetch_related("marketplaces", "cursors", "notification_subscriptions")

    @admin.display(description="SP-API notification subscriptions")
    def notification_subscriptions_table(self, obj: SellerAccount) -> SafeString:
        """Each type's state (a read-only table, not an inline: the form's fields stay the account's own); changed
        only through the list's subscribe / unsubscribe actions."""
        rows = {s.notification_type: s for s in obj.notification_subscriptions.all()} if obj.pk else {}
        cells = []
        for t in NotificationType.values:
            row = rows.get(t)
            checked = row.checked_at.strftime("%Y-%m-%d %H:%M") if row and row.checked_at else ""
            state = row.get_state_display() if row else "Unsubscribed"
            cells.append((t, state, row.subscription_id if row else "", checked, row.last_error[:200] if row else ""))
        body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", cells)
        return format_html(
            "<table><thead><tr><th>Type</th><th>State</th><th>Subscription id</th><th>Checked at Amazon</th>"
            "<th>Last error</th></tr></thead><tbody>{}</tbody></table>"
            "<p class='help'>Subscribe / unsubscribe with the actions of the seller account list.</p>",
            body,
        )

    @admin.display(description="Notifications")
    def notifications(self, obj: SellerAccount) -> str:
        subscribed = [s.notification_type for s in obj.notification_subscriptions.all() if s.state == "subscribed"]
        failed = [s.notification_type for s in obj.notification_subscriptions.all() if s.state == "failed"]
        text = ", ".join(subscribed) or "none"
        return f"{text} (failed: {', '.join(failed)})" if failed else text

    @admin.display(description="Marketplaces")
    def marketplace_list(self, obj: SellerAccount) -> str:
        return ", ".join(marketplace_name(m.marketplace_id) for m in obj.marketplaces.all() if m.is_active)

    @admin.display(description="Last successful poll")
    def last_poll(self, obj: SellerAccount) -> str:
        times = [c.last_success_at for c in obj.cursors.all() if c.last_success_at]
        return min(times).strftime("%Y-%m-%d %H:%M:%S") if times else "never"

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        order_poll_schedules_sync()

    @policy_action("orders.poll_now", description="Poll orders now (in the background)")
    def poll_now(self, request: HttpRequest, queryset: QuerySet[SellerAccount]) -> None:
        n = order_polls_enqueue(account_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request, f"Polling of {n} active account(s) queued; results appear under Orders and Sync cursors."
        )


@admin.register(SyncCursor)
class SyncCursorAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "account", "marketplace", "feed", "synced_through", "last_success_at", "consecutive_failures",
        "not_before", "short_error",
    ]  # fmt: skip
    list_filter = ["feed", "account"]
    list_select_related = ["account"]

    @admin.display(description="Marketplace")
    def marketplace(self, obj: SyncCursor) -> str:
        return marketplace_name(obj.marketplace_id)

    @admin.display(description="Last error")
    def short_error(self, obj: SyncCursor) -> str:
        return obj.last_error[:120]


class OrderLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OrderLine
    extra = 0
    fields = (
        "external_id", "seller_sku", "asin", "item_id", "title", "quantity_ordered", "quantity_shipped",
        "item_price", "item_tax", "shipping_price", "promotion_discount",
    )  # fmt: skip
    readonly_fields = fields


class AddressInline(ReadOnlyAdminMixin, admin.StackedInline):
    model = Address
    extra = 0
    fields = (
        ("kind", "is_complete"), ("name", "company"), "line1", "line2", "line3", ("city", "district"),
        ("state_or_region", "postal_code", "country_code"), ("phone", "address_type"),
    )  # fmt: skip
    readonly_fields = [
        "kind", "is_complete", "name", "company", "line1", "line2", "line3", "city", "district",
        "state_or_region", "postal_code", "country_code", "phone", "address_type",
    ]  # fmt: skip


class OrderEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OrderEvent
    extra = 0
    fields = ("created_at", "kind", "from_status", "to_status", "actor", "message")
    readonly_fields = fields
    ordering = ["created_at", "id"]


class OrderHoldInline(ReadOnlyAdminMixin, admin.TabularInline):
    """Every hold a service or an operator opened, with its exception: the order shows the first open one."""

    model = OrderHold
    extra = 0
    verbose_name_plural = "holds (open and past; a hold the payment or Amazon's status calls for is not listed)"
    fields = ("code", "reason", "opened_at", "opened_by", "released_at", "released_by", "release_note", "why")
    readonly_fields = fields
    ordering = ["-released_at", "opened_at"]

    @admin.display(description="Exception")
    def why(self, obj: OrderHold) -> SafeString | str:
        return admin_link(obj.exception, obj.exception.get_status_display()) if obj.exception else "-"


class OnHoldFilter(admin.SimpleListFilter):
    title = "hold"
    parameter_name = "hold"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(code, label) for code, label in Order.HoldCode.choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        return queryset.filter(hold_code=self.value()) if self.value() else queryset


@admin.register(Order)
class OrderAdmin(PolicyAdminMixin, admin.ModelAdmin):
    list_display = [
        "external_id", "channel", "seller_account", "marketplace", "status", "source_status",
        "fulfillment_channel", "total", "purchased_at",
    ]  # fmt: skip
    list_filter = [
        "status",
        "channel",
        "seller_account",
        "fulfillment_channel",
        OnHoldFilter,
        "marketplace_id",
    ]
    search_fields = ["external_id", "lines__seller_sku", "lines__item_id"]
    date_hierarchy = "purchased_at"
    list_select_related = ["seller_account"]
    inlines = [OrderHoldInline, OrderLineInline, AddressInline, OrderEventInline]
    actions = ["hold", "release", "refresh_from_amazon", "fraud_release", "fraud_reject"]
    readonly_fields = [
        "channel", "external_id", "seller_account", "marketplace_id", "status", "hold_code", "hold_reason",
        "source_status", "fulfillment_channel", "sales_channel", "order_type", "ship_service_level",
        "purchased_at", "source_updated_at", "earliest_ship_date", "latest_ship_date", "currency",
        "total_amount", "is_business_order", "is_prime", "is_replacement", "raw_payload", "payment_link", "metadata",
        "created_at", "updated_at", "channel_lag_since",
    ]  # fmt: skip
    fieldsets = [
        (None, {"fields": [
            ("channel", "external_id"), ("seller_account", "marketplace_id"), ("status", "source_status"),
            "channel_lag_since",
        ]}),
        ("Hold", {"fields": ["hold_code", "hold_reason"]}),
        ("Payment", {"fields": ["payment_link", "metadata"]}),
        ("Amounts", {"fields": [("currency", "total_amount")]}),
        ("Fulfilment", {"fields": [
            ("fulfillment_channel", "ship_service_level"), ("earliest_ship_date", "latest_ship_date"),
            ("sales_channel", "order_type"), ("is_business_order", "is_prime", "is_replacement"),
        ]}),
        ("Source", {"fields": [("purchased_at", "source_updated_at"), "raw_payload", ("created_at", "updated_at")]}),
    ]  # fmt: skip

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Marketplace", ordering="marketplace_id")
    def marketplace(self, obj: Order) -> str:
        return marketplace_name(obj.marketplace_id)

    @admin.display(description="Total", ordering="total_amount")
    def total(self, obj: Order) -> str:
        return f"{obj.total_amount} {obj.currency}" if obj.total_amount is not None else "-"

    @admin.display(description="Payment")
    def payment_link(self, obj: Order) -> SafeString | str:
        payment = getattr(obj, "payment", None)
        return (
            admin_link(payment, f"{payment.get_status_display()} ({payment.amount_captured} captured)")
            if payment
            else "-"
        )

    @admin.display(description="Raw payload")
    def raw_payload(self, obj: Order) -> SafeString | str:
        snapshot = AmazonOrderSnapshot.objects.filter(order=obj).only("pk", "amazon_order_id").first()
        return admin_link(snapshot, "Amazon snapshot (as received)") if snapshot else "-"

    @policy_action("orders.hold", description="Put the selected orders on hold")
    def hold(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        actor, reason = actor_for(request), f"Held by {request.user.get_username()}"
        admin_run_each(
            self,
            request,
            queryset,
            lambda o: order_hold(order_id=o.pk, reason=reason, actor=actor),
            done="order(s) held.",
        )

    @policy_action("orders.hold", description="Release the selected orders from an operator hold")
    def release(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        actor = actor_for(request)
        admin_run_each(
            self,
            request,
            queryset,
            lambda o: order_release(order_id=o.pk, actor=actor, reason="released by operator"),
            done="order(s): operator hold released (other open holds still show).",
        )

    @policy_action("orders.refresh", description="Refresh the selected orders from Amazon (getOrder, now)")
    def refresh_from_amazon(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        ids = list(queryset.values_list("pk", flat=True)[: REFRESH_LIMIT + 1])
        if len(ids) > REFRESH_LIMIT:
            self.message_user(
                request, f"Select at most {REFRESH_LIMIT} orders: each is one getOrder call.", messages.WARNING
            )
            return
        for line in orders_refresh_from_amazon(order_ids=ids, actor=actor_for(request)):
            self.message_user(request, line, messages.INFO)

    def _fraud(self, request: HttpRequest, queryset: QuerySet[Order], decide: Any, verb: str) -> None:
        from payments.models import FraudAssessment  # payments builds on orders, not the other way round

        actor = actor_for(request)

        def one(order: Order) -> None:
            assessment = FraudAssessment.objects.filter(order=order).first()
            if assessment is None:
                raise ApplicationError("no fraud assessment")
            decide(assessment=assessment, actor=actor, note=f"{verb} after review by {actor}")

        admin_run_each(self, request, queryset, one, done=f"order(s) {verb}.")

    @policy_action("fraud.review", description="Fraud review: release after review (fulfilment follows)")
    def fraud_release(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        from payments.services import fraud_release

        self._fraud(request, queryset, fraud_release, "released")

    @policy_action("fraud.review", description="Fraud review: reject (void or refund the payment)")
    def fraud_reject(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        from payments.services import fraud_reject

        self._fraud(request, queryset, fraud_reject, "rejected")


@admin.register(AmazonOrderSnapshot)
class AmazonOrderSnapshotAdmin(PolicyAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "amazon_order_id",
        "account",
        "marketplace_id",
        "api_version",
        "state",
        "last_update_date",
        "short_error",
        "order_link",
    ]
    list_filter = ["state", "api_version", "account", "marketplace_id"]
    search_fields = ["amazon_order_id"]
    list_select_related = ["account", "order"]
    actions = ["reprocess"]
    fields = (
        "amazon_order_id", "account", "marketplace_id", "api_version", "state", "error", "attempts", "last_update_date",
        "order_link", "created_at", "updated_at", "processed_at", "order_json", "items_json", "address_json",
    )  # fmt: skip
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[AmazonOrderSnapshot]:
        qs = super().get_queryset(request)
        if request.resolver_match and (request.resolver_match.url_name or "").endswith("changelist"):
            qs = qs.defer("order_payload", "items_payload", "address_payload")
        return qs

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("orders.change_amazonordersnapshot"))

    @admin.display(description="Error")
    def short_error(self, obj: AmazonOrderSnapshot) -> str:
        return obj.error[:100]

    @admin.display(description="Order")
    def order_link(self, obj: AmazonOrderSnapshot) -> SafeString | str:
        return admin_link(obj.order)

    @admin.display(description="Order payload (searchOrders/getOrder 2026-01-01; v0: getOrders)")
    def order_json(self, obj: AmazonOrderSnapshot) -> SafeString:
        return pretty_json(obj.order_payload)

    @admin.display(description="v0 getOrderItems payload")
    def items_json(self, obj: AmazonOrderSnapshot) -> SafeString | str:
        if obj.items_payload is None:
            return format_html("<em>{}</em>", "in the order payload" if obj.api_version != "v0" else "not fetched")
        return pretty_json(obj.items_payload)

    @admin.display(description="v0 getOrderAddress payload")
    def address_json(self, obj: AmazonOrderSnapshot) -> SafeString | str:
        if obj.address_payload is None:
            return format_html("<em>{}</em>", "in the order payload" if obj.api_version != "v0" else "not fetched")
        return pretty_json(obj.address_payload)

    @policy_action("orders.reprocess_snapshot", description="Reprocess the selected payloads")
    def reprocess(self, request: HttpRequest, queryset: QuerySet[AmazonOrderSnapshot]) -> None:
        totals = {"processed": 0, "failed": 0}
        for snapshot in queryset:
            try:
                stats = amazon_snapshot_reprocess(snapshot=snapshot, actor=actor_for(request))
            except ApplicationError as exc:
                self.message_user(request, f"{snapshot}: {exc.message}", messages.ERROR)
                continue
            totals["failed"] += stats.failed
            totals["processed"] += stats.created + stats.updated + stats.unchanged
        level = messages.WARNING if totals["failed"] else messages.SUCCESS
        self.message_user(request, f"Reprocessed: {totals['processed']} ok, {totals['failed']} still failing.", level)


@admin.register(SpApiNotification)
class SpApiNotificationAdmin(PolicyAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["received_at", "notification_type", "subject", "account", "status", "lag", "short_outcome"]
    list_filter = ["status", "notification_type", "account"]
    search_fields = ["notification_id", "subject", "sqs_message_id"]
    list_select_related = ["account"]
    date_hierarchy = "received_at"
    actions = ["reprocess"]
    fields = (
        "notification_id", "notification_type", "seller_id", "account", "marketplace_id", "subject", "status",
        "outcome", "error", "attempts", "event_time", "publish_time", "received_at", "applied_at", "sqs_message_id",
        "body_json",
    )  # fmt: skip
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[SpApiNotification]:
        qs = super().get_queryset(request)
        if request.resolver_match and (request.resolver_match.url_name or "").endswith("changelist"):
            qs = qs.defer("body")
        return qs

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("orders.change_spapinotification"))

    @admin.display(description="Lag (s)")
    def lag(self, obj: SpApiNotification) -> str:
        sent = obj.publish_time or obj.event_time
        return f"{(obj.received_at - sent).total_seconds():.1f}" if sent else "-"

    @admin.display(description="Outcome")
    def short_outcome(self, obj: SpApiNotification) -> str:
        return (obj.error if obj.status == "failed" else obj.outcome or obj.error)[:100]

    @admin.display(description="Body as received")
    def body_json(self, obj: SpApiNotification) -> SafeString:
        try:
            return pretty_json(json.loads(obj.body))
        except ValueError:
            return format_html("<pre>{}</pre>", obj.body[:20000])

    @policy_action("orders.notifications.reprocess", description="Apply the selected notifications again")
    def reprocess(self, request: HttpRequest, queryset: QuerySet[SpApiNotification]) -> None:
        admin_run_each(
            self, request, queryset,
            lambda n: notification_reprocess(notification=n, actor=actor_for(request)), done="notification(s) applied",
        )  # fmt: skip


@admin.register(NotificationSubscription)
class NotificationSubscriptionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["account", "notification_type", "state", "subscription_id", "checked_at", "last_error"]
    list_filter = ["state", "notification_type", "account"]
    list_select_related = ["account"]


@admin.register(NotificationDestination)
class NotificationDestinationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["name", "destination_id", "arn", "created_at"]


@admin.register(NotificationConsumer)
class NotificationConsumerAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["name", "started_at", "last_receive_at", "last_message_at", "messages", "consecutive_errors",
                    "last_error_at", "stopped_at"]  # fmt: skip
