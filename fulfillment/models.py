from __future__ import annotations

from django.db import models
from django.db.models import Q

from config.common.models import TimeStampedModel


class FulfillmentOrder(TimeStampedModel):
    """An Amazon Multi-Channel Fulfillment (FBA outbound) order for one of our orders.

    sellerFulfillmentOrderId is derived from our order id, so Amazon's records map back to the order and a
    repeated create is recognised by Amazon as the same order.
    """

    class Status(models.TextChoices):
        REQUESTED = "Requested", "Requested (not yet accepted by Amazon)"
        NEW = "New", "New"
        RECEIVED = "Received", "Received"
        PLANNING = "Planning", "Planning"
        PROCESSING = "Processing", "Processing"
        COMPLETE = "Complete", "Complete"
        COMPLETE_PARTIALLED = "CompletePartialled", "Complete (partially)"
        UNFULFILLABLE = "Unfulfillable", "Unfulfillable"
        INVALID = "Invalid", "Invalid"
        CANCELLED = "Cancelled", "Cancelled"

    FINAL = {Status.COMPLETE, Status.COMPLETE_PARTIALLED, Status.UNFULFILLABLE, Status.INVALID, Status.CANCELLED}

    order = models.OneToOneField("orders.Order", on_delete=models.PROTECT, related_name="fulfillment_order")
    seller_account = models.ForeignKey("orders.SellerAccount", on_delete=models.PROTECT)
    marketplace_id = models.CharField(max_length=20)
    seller_fulfillment_order_id = models.CharField(max_length=40, unique=True)
    shipping_speed = models.CharField(max_length=20, default="Standard")
    status = models.CharField(max_length=30, choices=Status.choices, default=Status.REQUESTED, db_index=True)
    status_updated_at = models.DateTimeField(null=True, blank=True)
    request_payload = models.JSONField(help_text="The createFulfillmentOrder body we sent (same one on every retry).")
    last_payload = models.JSONField(null=True, blank=True, help_text="Amazon's last getFulfillmentOrder answer.")
    next_poll_at = models.DateTimeField(null=True, blank=True, db_index=True)
    poll_failures = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"MCF {self.seller_fulfillment_order_id} ({self.status})"


_F = FulfillmentOrder.Status
_DONE = {_F.COMPLETE, _F.COMPLETE_PARTIALLED, _F.CANCELLED}
# Amazon's fulfilment order lifecycle (FulfillmentOrderStatus), in our one writer's terms. Amazon may skip states
# between two reads, so forward jumps are allowed; a read that goes back (a lagging answer) is not applied. Invalid
# and Unfulfillable go back to Requested when the operator fixes the data and the request is sent again, and an
# Unfulfillable order may still be filled (stock arrived) or cancelled.
FULFILLMENT_TRANSITIONS: dict[str, set[str]] = {
    _F.REQUESTED: {_F.NEW, _F.RECEIVED, _F.PLANNING, _F.PROCESSING, *_DONE, _F.UNFULFILLABLE, _F.INVALID},
    _F.NEW: {_F.RECEIVED, _F.PLANNING, _F.PROCESSING, *_DONE, _F.UNFULFILLABLE, _F.INVALID},
    _F.RECEIVED: {_F.PLANNING, _F.PROCESSING, *_DONE, _F.UNFULFILLABLE, _F.INVALID},
    _F.PLANNING: {_F.PROCESSING, *_DONE, _F.UNFULFILLABLE},
    _F.PROCESSING: {*_DONE, _F.UNFULFILLABLE},
    _F.UNFULFILLABLE: {_F.REQUESTED, _F.PLANNING, _F.PROCESSING, *_DONE},
    _F.INVALID: {_F.REQUESTED, _F.CANCELLED},
    _F.COMPLETE: set(),
    _F.COMPLETE_PARTIALLED: set(),
    _F.CANCELLED: set(),
}


class Shipment(TimeStampedModel):
    """Goods that left a warehouse for an order: from Amazon (FBA), reported by the ERP (merchant-fulfilled), or a
    merchant-fulfilled package Amazon knows of that was shipped outside Ledgerline."""

    class Source(models.TextChoices):
        FBA = "fba", "Amazon FBA"
        ERP = "erp", "ERP / own warehouse"
        # A merchant-fulfilled package Amazon reports (Orders 2026-01-01 packages) that Ledgerline did not confirm:
        # shipped with Amazon's labels (Buy Shipping, Easy Ship) or confirmed from Seller Central.
        AMAZON = "amazon", "Amazon-reported package (merchant-fulfilled)"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SHIPPED = "shipped", "Shipped"
        CANCELLED = "cancelled", "Cancelled"

    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="shipments")
    source = models.CharField(max_length=10, choices=Source.choices)
    external_id = models.CharField(max_length=64, help_text="amazonShipmentId, or the ERP's shipment reference.")
    fulfillment_order = models.ForeignKey(
        FulfillmentOrder, on_delete=models.PROTECT, null=True, blank=True, related_name="shipments"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    carrier = models.CharField(max_length=60, blank=True)
    tracking_number = models.CharField(max_length=100, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    reported_by = models.CharField(max_length=150, blank=True)
    payload = models.JSONField(default=dict, blank=True, help_text="What the ERP or Amazon sent, as received.")

    class Meta:
        ordering = ["order", "created_at"]
        constraints = [
            models.UniqueConstraint(fields=["order", "source", "external_id"], name="shipment_unique_reference"),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.external_id} ({self.status})"


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey("orders.OrderLine", on_delete=models.PROTECT, related_name="shipment_lines")
    quantity = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shipment", "order_line"], name="shipment_line_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="shipment_line_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.order_line.seller_sku}"


class ShipmentConfirmation(TimeStampedModel):
    """Telling Amazon that a merchant-fulfilled order shipped (orders/v0 confirmShipment), sent once."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    shipment = models.OneToOneField(Shipment, on_delete=models.PROTECT, related_name="confirmation")
    package_reference_id = models.CharField(max_length=40, unique=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    request_payload = models.JSONField()
    sent_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Confirmation {self.package_reference_id} ({self.status})"


class ErpDocument(TimeStampedModel):
    """Something the ERP must receive exactly once: a sales order or a credit memo (refund, cancellation)."""

    class Kind(models.TextChoices):
        SALES_ORDER = "sales_order", "Sales order"
        CREDIT_MEMO = "credit_memo", "Credit memo"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="erp_documents")
    reference = models.CharField(max_length=64, help_text="sales order: the order; credit memo: refund/cancel id")
    payload = models.JSONField(help_text="The document as handed over (frozen when first handed over).")

    class Meta:
        verbose_name = "ERP document"
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "reference"], name="erp_document_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.reference}"


class ErpBatch(TimeStampedModel):
    """A pull by one ERP client: handed out until acknowledged; re-pulling returns the same batch."""

    client = models.ForeignKey("common.ApiClient", on_delete=models.PROTECT, related_name="erp_batches")
    kind = models.CharField(max_length=20, choices=ErpDocument.Kind.choices)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    pulls = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name, verbose_name_plural = "ERP batch", "ERP batches"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "kind"], condition=Q(acknowledged_at__isnull=True), name="erp_one_open_batch"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client} {self.kind} batch {self.pk}"


class ErpHandover(models.Model):
    """Document X went to client Y in batch Z. Unique per (client, document): never handed over twice."""

    client = models.ForeignKey("common.ApiClient", on_delete=models.PROTECT)
    document = models.ForeignKey(ErpDocument, on_delete=models.PROTECT, related_name="handovers")
    batch = models.ForeignKey(ErpBatch, on_delete=models.CASCADE, related_name="items")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client", "document"], name="erp_handover_once")]

    def __str__(self) -> str:
        return f"{self.document} → {self.client}"


class InventoryUpdate(TimeStampedModel):
    """An inventory post from the ERP, stored as received before anything is applied."""

    client = models.ForeignKey("common.ApiClient", on_delete=models.SET_NULL, null=True, blank=True)
    payload = models.JSONField()
    applied = models.PositiveIntegerField(default=0)
    stale = models.PositiveIntegerField(default=0, help_text="Rows older (as-of or version) than what we hold.")
    unmapped = models.PositiveIntegerField(default=0, help_text="Items no Amazon SKU is mapped to.")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Inventory update {self.pk} ({self.applied} applied)"


class InventoryLevel(TimeStampedModel):
    """The ERP's stock of an item at a site, as of its newest report (older reports never overwrite it)."""

    item_id = models.CharField("ERP item id", max_length=64)
    site = models.CharField(max_length=40, help_text="ERP warehouse / site id.")
    on_hand = models.IntegerField()
    allocated = models.IntegerField()
    as_of = models.DateTimeField()
    version = models.BigIntegerField(help_text="The ERP's own row version; with as_of, orders the reports.")

    class Meta:
        ordering = ["item_id", "site"]
        constraints = [
            models.UniqueConstraint(fields=["item_id", "site"], name="inventory_level_unique"),
            models.CheckConstraint(condition=Q(allocated__gte=0), name="inventory_allocated_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} @ {self.site}: {self.on_hand - self.allocated}"

    @property
    def available(self) -> int:
        return max(self.on_hand - self.allocated, 0)


class ListingSync(TimeStampedModel):
    """One merchant-fulfilled SKU on one Amazon marketplace: what the ERP says is available, what we last sent,
    what Amazon last showed. `generation` counts changes of the wanted quantity; a push is done when the
    generation it carried is the newest (so two updates in flight end with the latest value on Amazon)."""

    class Status(models.TextChoices):
        IN_SYNC = "in_sync", "In sync"
        PENDING = "pending", "Waiting to be sent"
        ERROR = "error", "Error (see exception queue)"

    seller_account = models.ForeignKey("orders.SellerAccount", on_delete=models.CASCADE, related_name="listings")
    marketplace_id = models.CharField(max_length=20)
    seller_sku = models.CharField(max_length=200)
    item_id = models.CharField("ERP item id", max_length=64, db_index=True)
    desired_quantity = models.IntegerField(default=0, help_text="ERP available (on hand − allocated) over its sites.")
    desired_as_of = models.DateTimeField(null=True, blank=True)
    generation = models.PositiveIntegerField(default=0)
    pushed_quantity = models.IntegerField(null=True, blank=True)
    pushed_generation = models.PositiveIntegerField(default=0)
    pushed_at = models.DateTimeField(null=True, blank=True)
    amazon_quantity = models.IntegerField(null=True, blank=True, help_text="What Amazon showed when last read.")
    amazon_checked_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    last_error = models.TextField(blank=True)
    request = models.ForeignKey(
        "common.OutboundRequest", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="The one request (patch or feed) carrying this SKU now: updates meanwhile ride on it.",
    )  # fmt: skip

    class Meta:
        ordering = ["seller_account", "marketplace_id", "seller_sku"]
        constraints = [
            models.UniqueConstraint(
                fields=["seller_account", "marketplace_id", "seller_sku"], name="listing_sync_unique"
            ),
            models.CheckConstraint(condition=Q(desired_quantity__gte=0), name="listing_desired_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.seller_sku} ({self.marketplace_id})"

    @property
    def drift(self) -> bool:
        """Amazon shows another quantity than the ERP's, with nothing on its way to fix it."""
        return (
            self.amazon_quantity is not None
            and self.status != self.Status.PENDING
            and self.amazon_quantity != self.desired_quantity
        )


class ListingFeed(TimeStampedModel):
    """A JSON_LISTINGS_FEED carrying many SKUs' quantities at once (one call instead of thousands)."""

    class Status(models.TextChoices):
        NEW = "new", "Not submitted yet"
        SENDING = "sending", "Being submitted"
        SUBMITTED = "submitted", "Submitted, Amazon processing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    seller_account = models.ForeignKey("orders.SellerAccount", on_delete=models.CASCADE)
    marketplace_id = models.CharField(max_length=20)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    feed_id = models.CharField(max_length=40, blank=True)
    items = models.JSONField(help_text="[[listing sync id, sku, quantity, generation], ...] as sent.")
    accepted = models.PositiveIntegerField(default=0)
    invalid = models.PositiveIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Listings feed {self.feed_id or self.pk} ({len(self.items)} SKUs)"


class FbaInventory(TimeStampedModel):
    """Amazon's FBA stock of a SKU (getInventorySummaries), for the ERP: reserved and inbound shown apart."""

    seller_account = models.ForeignKey("orders.SellerAccount", on_delete=models.CASCADE, related_name="fba_stock")
    marketplace_id = models.CharField(max_length=20)
    seller_sku = models.CharField(max_length=200)
    fnsku = models.CharField(max_length=20, blank=True)
    asin = models.CharField(max_length=10, blank=True)
    fulfillable = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0)
    inbound_working = models.IntegerField(default=0)
    inbound_shipped = models.IntegerField(default=0)
    inbound_receiving = models.IntegerField(default=0)
    unfulfillable = models.IntegerField(default=0)
    amazon_updated_at = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField(default=dict)

    class Meta:
        ordering = ["seller_account", "marketplace_id", "seller_sku"]
        verbose_name_plural = "FBA inventory"
        constraints = [
            models.UniqueConstraint(fields=["seller_account", "marketplace_id", "seller_sku"], name="fba_stock_unique")
        ]

    def __str__(self) -> str:
        return f"{self.seller_sku}: {self.fulfillable} fulfillable"
