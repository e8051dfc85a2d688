from __future__ import annotations

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class ExceptionItem(TimeStampedModel):
    """One problem an operator has to look at: the exception queue.

    Each item points at the stored object it concerns (a raw payload, an order, an outbound request), so
    "reprocess" can run that object's processing again. While an item is open, the same problem on the
    same object is counted on it instead of being listed twice.
    """

    class Kind(models.TextChoices):
        MALFORMED_PAYLOAD = "malformed_payload", "Malformed payload"
        UNKNOWN_SKU = "unknown_sku", "Unknown SKU"
        UNKNOWN_STATUS = "unknown_status", "Unmapped provider status"
        INVALID_TRANSITION = "invalid_transition", "Status change not allowed"
        CONNECTOR_ERROR = "connector_error", "Provider call failed permanently"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"
        DISCARDED = "discarded", "Discarded"

    kind = models.CharField(max_length=40, choices=Kind.choices, db_index=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN, db_index=True)
    summary = models.CharField(max_length=300, help_text="What is wrong, in one line.")
    detail = models.TextField(blank=True, help_text="Everything known: the reason, the offending values.")
    source_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    source_id = models.CharField(max_length=64)
    source = GenericForeignKey("source_type", "source_id")
    reference = models.CharField(
        max_length=100, blank=True, db_index=True, help_text="External id the operator searches by."
    )
    occurrences = models.PositiveIntegerField(default=1)
    last_seen_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=150, blank=True)
    resolution_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-last_seen_at"]
        verbose_name = "exception"
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "source_type", "source_id"],
                condition=Q(status="open"),
                name="exception_one_open_per_kind_and_source",
            ),
            models.CheckConstraint(
                condition=Q(status="open", resolved_at__isnull=True) | ~Q(status="open"),
                name="exception_open_has_no_resolution",
            ),
        ]
        indexes = [models.Index(fields=["source_type", "source_id"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.summary}"
