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
        REQUESTED = "requested", "Requested (not yet accepted by Amazon)"
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


class Shipment(TimeStampedModel):
    """Goods that left a warehouse for an order: from Amazon (FBA) or reported by the ERP (merchant-fulfilled)."""

    class Source(models.TextChoices):
        FBA = "fba", "Amazon FBA"
        ERP = "erp", "ERP / own warehouse"

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
