from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from config.common.fields import EncryptedTextField
from config.common.models import TimeStampedModel


def money_field(verbose_name: str | None = None, **kwargs: Any) -> models.DecimalField:
    """Money is Decimal with 2 places plus the currency code stored beside it; never float."""
    kwargs.update(max_digits=18, decimal_places=2)
    return models.DecimalField(verbose_name, **kwargs)


class OrderStatus(models.TextChoices):
    """The one status of an order, whatever channel it came from (docs/ARCHITECTURE.md: a projection over facts)."""

    PENDING_PAYMENT = "pending_payment", "Pending payment"
    AUTHORISED = "authorised", "Authorised"
    CAPTURED = "captured", "Captured"
    FULFILMENT_REQUESTED = "fulfilment_requested", "Fulfilment requested"
    PARTIALLY_SHIPPED = "partially_shipped", "Partially shipped"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"
    PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
    REFUNDED = "refunded", "Refunded"
    ON_HOLD = "on_hold", "On hold"


_S = OrderStatus
_SHIPPING = {_S.PARTIALLY_SHIPPED, _S.SHIPPED, _S.DELIVERED}
_REFUNDS = {_S.PARTIALLY_REFUNDED, _S.REFUNDED}
# Allowed moves. A provider may skip intermediate states between two polls, so forward jumps are allowed;
# going backwards, or out of refunded, never is. Creation is not a transition (any first status is fine).
ORDER_TRANSITIONS: dict[str, set[str]] = {
    _S.PENDING_PAYMENT: {
        _S.AUTHORISED,
        _S.CAPTURED,
        _S.FULFILMENT_REQUESTED,
        *_SHIPPING,
        _S.CANCELLED,
        _S.ON_HOLD,
    },
    _S.AUTHORISED: {_S.CAPTURED, _S.FULFILMENT_REQUESTED, *_SHIPPING, _S.CANCELLED, _S.ON_HOLD},
    _S.CAPTURED: {_S.FULFILMENT_REQUESTED, *_SHIPPING, _S.CANCELLED, *_REFUNDS, _S.ON_HOLD},
    _S.FULFILMENT_REQUESTED: {*_SHIPPING, _S.CANCELLED, *_REFUNDS, _S.ON_HOLD},
    _S.PARTIALLY_SHIPPED: {_S.SHIPPED, _S.DELIVERED, *_REFUNDS, _S.ON_HOLD},
    _S.SHIPPED: {_S.DELIVERED, *_REFUNDS, _S.ON_HOLD},
    _S.DELIVERED: {*_REFUNDS, _S.ON_HOLD},
    _S.CANCELLED: {_S.REFUNDED, _S.ON_HOLD},
    _S.PARTIALLY_REFUNDED: {_S.REFUNDED, _S.ON_HOLD},
    _S.REFUNDED: set(),
    _S.ON_HOLD: {s for s in _S if s not in (_S.ON_HOLD,)},
}


class SellerAccount(TimeStampedModel):
    """An Amazon selling partner we act for. LWA secrets are encrypted at rest and never shown back."""

    class Region(models.TextChoices):
        NA = "na", "North America"
        EU = "eu", "Europe"
        FE = "fe", "Far East"

    name = models.CharField(max_length=100, unique=True)
    selling_partner_id = models.CharField(
        "selling partner id", max_length=32, unique=True, help_text="Merchant token, e.g. A3EXAMPLE12345."
    )
    region = models.CharField(max_length=2, choices=Region.choices)
    lwa_client_id = models.CharField("LWA client id", max_length=200)
    lwa_client_secret = EncryptedTextField("LWA client secret")
    refresh_token = EncryptedTextField(help_text="The seller's LWA refresh token (Atzr|...).")
    is_active = models.BooleanField(default=True, help_text="Inactive accounts are not polled.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SellerMarketplace(models.Model):
    account = models.ForeignKey(SellerAccount, on_delete=models.CASCADE, related_name="marketplaces")
    marketplace_id = models.CharField(max_length=20, help_text="e.g. A1F83G8C2ARO7P (Amazon.co.uk)")
    is_active = models.BooleanField(default=True)
    mcf_enabled = models.BooleanField(
        "fulfils eCommerce orders (MCF)",
        default=False,
        help_text="Ship eCommerce orders from this marketplace's FBA stock (Multi-Channel Fulfillment).",
    )

    class Meta:
        ordering = ["account", "marketplace_id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "marketplace_id"], name="seller_marketplace_unique"),
        ]

    def __str__(self) -> str:
        from connectors.amazon.marketplaces import marketplace_name

        return f"{self.account} / {marketplace_name(self.marketplace_id)}"


class SyncCursor(TimeStampedModel):
    """How far polling of one feed (orders of one account + marketplace) has got.

    `synced_through` only moves when a whole window [window_start, window_end] has been ingested; inside a
    window, `next_token` moves page by page in the transaction that stores the page's data. A lease (not a
    long-held row lock) keeps two workers from polling the same cursor at once; an expired lease is free.
    """

    class Feed(models.TextChoices):
        ORDERS = "orders", "Orders"

    account = models.ForeignKey(SellerAccount, on_delete=models.CASCADE, related_name="cursors")
    marketplace_id = models.CharField(max_length=20)
    feed = models.CharField(max_length=20, choices=Feed.choices, default=Feed.ORDERS)
    synced_through = models.DateTimeField(
        null=True, blank=True, help_text="Every change up to this instant has been ingested."
    )
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    next_token = models.TextField(blank=True)
    pages_in_window = models.PositiveIntegerField(default=0)
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    not_before = models.DateTimeField(null=True, blank=True, help_text="Throttled: do not call before this.")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "marketplace_id", "feed"], name="sync_cursor_unique"),
            models.CheckConstraint(
                condition=Q(window_start__isnull=True) | Q(window_end__gte=models.F("window_start")),
                name="sync_cursor_window_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.marketplace_id} {self.feed}"


class SeenVia(models.TextChoices):
    POLL = "poll", "Polling (searchOrders)"
    NOTIFICATION = "notification", "Notification (ORDER_CHANGE)"
    REFRESH = "refresh", "Targeted refresh (getOrder)"


class AmazonOrderSnapshot(TimeStampedModel):
    """The raw Amazon order as last received, stored first: an Orders 2026-01-01 `Order` (searchOrders/getOrder with
    items, ship-to, proceeds and packages in one object), or, stored before the switch, v0's getOrders order with
    getOrderItems and getOrderAddress beside it.

    Processing turns it into the canonical Order; a failure leaves it here, flagged and reprocessable.
    """

    class ApiVersion(models.TextChoices):
        V0 = "v0", "Orders v0"
        V2026 = "2026-01-01", "Orders 2026-01-01"

    class State(models.TextChoices):
        RECEIVED = "received", "Received (waiting to be processed, or for a re-read)"
        FETCHED = "fetched", "Fetched (waiting to be processed)"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"

    account = models.ForeignKey(SellerAccount, on_delete=models.PROTECT, related_name="snapshots")
    marketplace_id = models.CharField(max_length=20)
    amazon_order_id = models.CharField(
        "Amazon order id",
        max_length=64,
        unique=True,
        help_text="AmazonOrderId; for a payload without one, a hash of its content.",
    )
    api_version = models.CharField(
        "API version", max_length=12, choices=ApiVersion.choices, default=ApiVersion.V2026,
        help_text="The Orders API version the payload was read with; it decides how it is parsed.",
    )  # fmt: skip
    last_update_date = models.DateTimeField(
        null=True, blank=True, help_text="lastUpdatedTime (v0: LastUpdateDate) of the payload."
    )
    order_payload = models.JSONField()
    items_payload = models.JSONField(null=True, blank=True)
    address_payload = models.JSONField(null=True, blank=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.RECEIVED, db_index=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)
    order = models.OneToOneField(
        "Order", on_delete=models.SET_NULL, null=True, blank=True, related_name="amazon_snapshot"
    )
    first_seen_via = models.CharField(
        max_length=12, choices=SeenVia.choices, default=SeenVia.POLL,
        help_text="How Ledgerline first learnt of the order; set when the snapshot is created, never changed.",
    )  # fmt: skip

    class Meta:
        indexes = [models.Index(fields=["account", "marketplace_id", "state"])]

    def __str__(self) -> str:
        return self.amazon_order_id


class Order(TimeStampedModel):
    class Channel(models.TextChoices):
        AMAZON = "amazon", "Amazon"
        ECOMMERCE = "ecommerce", "eCommerce site"

    class FulfillmentChannel(models.TextChoices):
        AFN = "AFN", "Fulfilled by Amazon"
        MFN = "MFN", "Merchant fulfilled"

    Status = OrderStatus

    class HoldCode(models.TextChoices):
        UNKNOWN_SKU = "unknown_sku", "Unknown SKU"
        CHANNEL_STATUS = "channel_status", "Channel status needs review"
        PAYMENT = "payment", "Payment declined or failed"
        FULFILLMENT = "fulfillment", "Amazon could not fulfil"
        FULFILLMENT_DATA = "fulfillment_data", "Data Amazon fulfilment cannot take"
        ERP_DATA = "erp_data", "Missing or invalid data for the ERP"
        MANUAL = "manual", "Held by an operator"
        FRAUD_REVIEW = "fraud_review", "Fraud indicators: review before fulfilment"

    channel = models.CharField(max_length=20, choices=Channel.choices)
    external_id = models.CharField(max_length=64, help_text="The channel's order id (AmazonOrderId, ...).")
    seller_account = models.ForeignKey(
        SellerAccount, on_delete=models.PROTECT, null=True, blank=True, related_name="orders"
    )
    marketplace_id = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=30, choices=OrderStatus.choices, db_index=True)
    source_status = models.CharField(max_length=40, blank=True, help_text="The channel's own status value.")
    hold_code = models.CharField(
        max_length=20,
        choices=HoldCode.choices,
        blank=True,
        help_text="Set exactly when the order is on hold.",
    )
    hold_reason = models.TextField(blank=True, help_text="Why the order is on hold, for the operator.")
    fulfillment_channel = models.CharField(max_length=3, choices=FulfillmentChannel.choices, blank=True)
    sales_channel = models.CharField(max_length=60, blank=True)
    order_type = models.CharField(max_length=40, blank=True)
    ship_service_level = models.CharField(max_length=60, blank=True)
    purchased_at = models.DateTimeField(db_index=True)
    source_updated_at = models.DateTimeField(
        null=True, blank=True, help_text="The channel's last-update time of the data applied here."
    )
    earliest_ship_date = models.DateTimeField(null=True, blank=True)
    latest_ship_date = models.DateTimeField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    total_amount = money_field(null=True, blank=True, help_text="Absent while Amazon says Pending.")
    is_business_order = models.BooleanField(default=False)
    is_prime = models.BooleanField(default=False)
    is_replacement = models.BooleanField(default=False)
    metadata = models.JSONField(
        default=dict, blank=True, help_text="Custom fields from the channel (e.g. campaign id), used by field rules."
    )
    channel_lag_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Since when the channel's status trails our own facts (e.g. Amazon still Unshipped after our "
        "shipment); an exception opens if it lasts.",
    )

    class Meta:
        ordering = ["-purchased_at"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_id"], name="order_unique_external_id"),
            models.CheckConstraint(condition=Q(status__in=OrderStatus.values), name="order_status_valid"),
            models.CheckConstraint(
                condition=Q(total_amount__isnull=True) | Q(total_amount__gte=0),
                name="order_total_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(total_amount__isnull=True) | Q(currency__regex=r"^[A-Z]{3}$"),
                name="order_total_has_currency",
            ),
            models.CheckConstraint(
                condition=(Q(status=OrderStatus.ON_HOLD) & ~Q(hold_code="") & ~Q(hold_reason=""))
                | (~Q(status=OrderStatus.ON_HOLD) & Q(hold_code="")),
                name="order_on_hold_iff_hold_code",
            ),
            models.CheckConstraint(
                condition=~Q(channel="amazon") | Q(seller_account__isnull=False),
                name="order_amazon_has_account",
            ),
        ]
        indexes = [models.Index(fields=["seller_account", "-purchased_at"])]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.external_id}"


class Address(TimeStampedModel):
    """A normalized postal address of an order (trimmed, upper-case country and postcode, state codes)."""

    class Kind(models.TextChoices):
        SHIPPING = "shipping", "Shipping"
        BILLING = "billing", "Billing"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="addresses")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.SHIPPING)
    name = models.CharField(max_length=200, blank=True)
    company = models.CharField(max_length=200, blank=True)
    line1 = models.CharField(max_length=200, blank=True)
    line2 = models.CharField(max_length=200, blank=True)
    line3 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    district = models.CharField(max_length=100, blank=True, help_text="County / district.")
    state_or_region = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country_code = models.CharField(max_length=2)
    phone = models.CharField(max_length=40, blank=True)
    address_type = models.CharField(max_length=20, blank=True)
    is_complete = models.BooleanField(
        default=False, help_text="False while only Amazon's partial address (no name or street) is known."
    )

    class Meta:
        verbose_name_plural = "addresses"
        constraints = [
            models.UniqueConstraint(fields=["order", "kind"], name="address_one_per_kind"),
            models.CheckConstraint(condition=Q(country_code__regex=r"^[A-Z]{2}$"), name="address_country_iso2"),
        ]

    def __str__(self) -> str:
        parts = [self.name, self.line1, self.city, self.postal_code, self.country_code]
        return ", ".join(p for p in parts if p)


class OrderLine(TimeStampedModel):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    external_id = models.CharField(max_length=64, help_text="The channel's line id (OrderItemId).")
    seller_sku = models.CharField("seller SKU", max_length=200, db_index=True)
    asin = models.CharField("ASIN", max_length=20, blank=True)
    item_id = models.CharField(
        "ERP item id",
        max_length=64,
        blank=True,
        help_text="From the SKU mapping; empty when the SKU is unknown.",
    )
    title = models.CharField(max_length=500, blank=True)
    quantity_ordered = models.PositiveIntegerField()
    quantity_shipped = models.PositiveIntegerField(default=0)
    item_price = money_field(null=True, blank=True, help_text="Line total (unit price × qty).")
    item_tax = money_field(null=True, blank=True)
    shipping_price = money_field(null=True, blank=True)
    shipping_tax = money_field(null=True, blank=True)
    shipping_discount = money_field(null=True, blank=True)
    promotion_discount = money_field(null=True, blank=True)
    is_gift = models.BooleanField(default=False)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "external_id"], name="order_line_unique_external_id"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity_ordered} × {self.seller_sku}"


class OrderHold(models.Model):
    """A hold a service opened on an order, open until its own lifetime ends (orders.facts.HOLD_KINDS).

    Several may be open at once (an operator's hold over an unknown SKU); the order shows the first by precedence
    and stays on hold while any is open. Holds the facts call for (payment declined, ...) are not stored."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="holds")
    code = models.CharField(max_length=20, choices=Order.HoldCode.choices)
    reason = models.TextField()
    opened_at = models.DateTimeField(auto_now_add=True)
    opened_by = models.CharField(max_length=150)
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.CharField(max_length=150, blank=True)
    release_note = models.TextField(blank=True)
    exception = models.ForeignKey(
        "common.ExceptionItem",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The exception that says why (closed with the hold, and closing it releases the hold).",
    )

    class Meta:
        ordering = ["order", "opened_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "code"], condition=Q(released_at__isnull=True), name="order_hold_one_open_per_code"
            ),
            models.CheckConstraint(
                condition=Q(released_at__isnull=True) | ~Q(released_by=""), name="order_hold_released_by_someone"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_code_display()} ({'open' if self.released_at is None else 'released'})"


class OrderEvent(models.Model):
    """Append-only history of an order: what changed, who or what changed it, and why."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        STATUS_CHANGED = "status_changed", "Status changed"
        UPDATED = "updated", "Updated from channel"
        HELD = "held", "Put on hold"
        RELEASED = "released", "Released from hold"
        NOTE = "note", "Note"
        LAGGING = "lagging", "A source lags behind"
        CONTRADICTION = "contradiction", "A source contradicts the order"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    from_status = models.CharField(max_length=30, blank=True)
    to_status = models.CharField(max_length=30, blank=True)
    actor = models.CharField(max_length=150, help_text="user:<name> or system:<component>")
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["order", "created_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.from_status}→{self.to_status}".strip()


class EcommerceOrderSubmission(TimeStampedModel):
    """An order the eCommerce site posted to the API, stored exactly as received before any validation."""

    class State(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        REJECTED = "rejected", "Rejected (see error)"

    external_id = models.CharField(max_length=64, blank=True, db_index=True)
    payload = models.JSONField()
    content_hash = models.CharField(max_length=64)
    submitted_by = models.CharField(max_length=150, blank=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.RECEIVED, db_index=True)
    error = models.TextField(blank=True)
    order = models.ForeignKey(Order, on_delete=models.SET_NULL, null=True, blank=True, related_name="submissions")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.external_id or '?'} ({self.get_state_display()})"


class NotificationType(models.TextChoices):
    """The SP-API notification types Ledgerline subscribes to and applies."""

    ORDER_CHANGE = "ORDER_CHANGE", "Order change"
    FULFILLMENT_ORDER_STATUS = "FULFILLMENT_ORDER_STATUS", "Fulfilment order status"
    REPORT_PROCESSING_FINISHED = "REPORT_PROCESSING_FINISHED", "Report processing finished"
    FEED_PROCESSING_FINISHED = "FEED_PROCESSING_FINISHED", "Feed processing finished"


class SpApiNotification(TimeStampedModel):
    """One SP-API notification as it came off the SQS queue, stored before anything is done with it.

    Unique on Amazon's NotificationId, so a message delivered twice (SQS is at-least-once; a consumer that died
    between storing and deleting) is one row and one effect. A body that is not a notification is kept under a
    digest of its bytes (`malformed:<sha256>`), failed, with an exception."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received (waiting to be applied)"
        APPLIED = "applied", "Applied"
        POLLED = "polled", "Left to polling (more changes than getOrder's budget)"
        IGNORED = "ignored", "Ignored (not ours, or nothing to do)"
        FAILED = "failed", "Failed"

    notification_id = models.CharField(
        max_length=100, unique=True, help_text="NotificationMetadata.NotificationId; malformed:<sha256> without one."
    )
    notification_type = models.CharField(max_length=60, blank=True, db_index=True)
    seller_id = models.CharField(max_length=32, blank=True)
    account = models.ForeignKey(
        SellerAccount, on_delete=models.SET_NULL, null=True, blank=True, related_name="notifications"
    )
    marketplace_id = models.CharField(max_length=20, blank=True)
    subject = models.CharField(
        max_length=100, blank=True, db_index=True,
        help_text="What it is about: the Amazon order id, seller fulfilment order id, report id or feed id.",
    )  # fmt: skip
    event_time = models.DateTimeField(null=True, blank=True)
    publish_time = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(db_index=True, help_text="When Ledgerline stored it.")
    sqs_message_id = models.CharField(max_length=100, blank=True)
    body = models.TextField(help_text="The SQS message body as received.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RECEIVED, db_index=True)
    error = models.TextField(blank=True)
    outcome = models.TextField(blank=True, help_text="What applying it did, in words.")
    attempts = models.PositiveIntegerField(default=0)
    applied_at = models.DateTimeField(null=True, blank=True)
    not_before = models.DateTimeField(
        null=True, blank=True, help_text="Being applied, or waiting to be tried again, until then."
    )

    class Meta:
        verbose_name = "SP-API notification"
        indexes = [models.Index(fields=["account", "notification_type", "received_at"])]

    def __str__(self) -> str:
        return f"{self.notification_type or 'malformed'} {self.subject or self.notification_id}"


class NotificationDestination(TimeStampedModel):
    """Where Amazon delivers notifications: our SQS queue, registered once per application (createDestination)."""

    arn = models.CharField("queue ARN", max_length=300, unique=True)
    name = models.CharField(max_length=100)
    destination_id = models.CharField(max_length=100, unique=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.arn})"


class NotificationSubscription(TimeStampedModel):
    """One seller account's subscription to one notification type. Kept across credential rotation: Amazon's
    subscription belongs to the selling partner and application, not to a refresh token."""

    class State(models.TextChoices):
        SUBSCRIBED = "subscribed", "Subscribed"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        FAILED = "failed", "Failed (see last error)"

    account = models.ForeignKey(SellerAccount, on_delete=models.CASCADE, related_name="notification_subscriptions")
    notification_type = models.CharField(max_length=60, choices=NotificationType.choices)
    state = models.CharField(max_length=12, choices=State.choices, default=State.UNSUBSCRIBED)
    subscription_id = models.CharField(max_length=100, blank=True)
    destination_id = models.CharField(max_length=100, blank=True)
    payload_version = models.CharField(max_length=20, blank=True)
    last_error = models.TextField(blank=True)
    subscribed_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True, help_text="Last time Amazon was asked.")

    class Meta:
        ordering = ["account", "notification_type"]
        constraints = [
            models.UniqueConstraint(fields=["account", "notification_type"], name="notification_subscription_unique"),
            models.CheckConstraint(
                condition=~Q(state="subscribed") | ~Q(subscription_id=""), name="notification_subscribed_has_id"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.notification_type}: {self.state}"


class NotificationConsumer(models.Model):
    """One running queue consumer (host:pid), its heartbeat and errors: polling backs off only while one is
    healthy, and the dashboard shows its state."""

    name = models.CharField(max_length=150, unique=True)
    queue_url = models.CharField(max_length=500)
    started_at = models.DateTimeField()
    last_receive_at = models.DateTimeField(null=True, blank=True, help_text="Last successful receive call.")
    last_message_at = models.DateTimeField(null=True, blank=True)
    messages = models.PositiveBigIntegerField(default=0)
    consecutive_errors = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name
