from __future__ import annotations

from datetime import datetime

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
        PAYMENT_PROBLEM = "payment_problem", "Payment needs attention"
        FULFILLMENT_PROBLEM = "fulfillment_problem", "Fulfilment needs attention"
        ERP_DATA = "erp_data", "Order data the ERP cannot take"
        SETTLEMENT_FILE = "settlement_file", "Settlement file rejected"
        SETTLEMENT_UNMATCHED = "settlement_unmatched", "Settlement line without a match"
        SETTLEMENT_UNMAPPED = "settlement_unmapped", "Settlement amount type without a GL account"
        SETTLEMENT_TOTAL = "settlement_total", "Settlement lines do not add up"
        PAYMENT_BATCH = "payment_batch", "Opayo batch transaction does not match"
        INVENTORY_SYNC = "inventory_sync", "Inventory not synced to Amazon"
        ANOMALY = "anomaly", "Unusual amount, fee rate or refund rate"
        FRAUD_REVIEW = "fraud_review", "Order held for fraud review"
        SUGGESTION = "suggestion", "Mapping suggestion to accept or reject"
        ORDER_HELD = "order_held", "Order held by a provider's status"
        CHANNEL_LAG = "channel_lag", "Channel has not caught up with the order"
        ORDER_UNSETTLED = "order_unsettled", "Shipped orders in no settlement"
        ORDER_MISSING = "order_missing", "Orders Amazon has that Ledgerline missed"
        BANK_STATEMENT = "bank_statement", "Bank statement file rejected"
        BANK_DEPOSIT = "bank_deposit", "Bank deposit not matched, or short"

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


class OutboundRequest(TimeStampedModel):
    """A call we owe a provider, persisted before it is made (docs/ARCHITECTURE.md, "Outbound: a row first").

    The idempotency key is unique, so asking twice for the same effect yields one row and, with providers
    that honour the key, one effect. A sweeper claims due rows (`SELECT ... FOR UPDATE SKIP LOCKED`),
    sends them, and reschedules retryable failures with exponential backoff; permanent failures go to the
    exception queue. A row stuck in flight (its worker died) is claimed again once its lease lapses.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        IN_FLIGHT = "in_flight", "In flight"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    provider = models.CharField(max_length=40)
    operation = models.CharField(max_length=80, db_index=True, help_text="Registered handler, e.g. opayo.release")
    idempotency_key = models.CharField(max_length=120, unique=True)
    payload = models.JSONField(default=dict, blank=True, help_text="What to send. Never card data.")
    target_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, null=True, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target = GenericForeignKey("target_type", "target_id")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=8)
    next_attempt_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    result = models.JSONField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbound_due_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(attempts__lte=models.F("max_attempts") + 1), name="outbound_attempts_bounded"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.idempotency_key}"


class OutboundAttempt(models.Model):
    """One try of an OutboundRequest: when, how long, and what came back."""

    request = models.ForeignKey(OutboundRequest, on_delete=models.CASCADE, related_name="attempt_log")
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    outcome = models.CharField(max_length=20)  # succeeded | retry | failed
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["request", "started_at"]

    def __str__(self) -> str:
        return f"{self.outcome} after {self.duration_ms} ms"


class ApiClient(TimeStampedModel):
    """A system that calls our API (the ERP, the eCommerce site), with its own token.

    Only a SHA-256 of the token is stored; the token itself is shown once, when it is issued.
    """

    class Kind(models.TextChoices):
        ERP = "erp", "ERP"
        ECOMMERCE = "ecommerce", "eCommerce site"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    token_prefix = models.CharField(max_length=12, unique=True, help_text="First characters, to recognise a token.")
    token_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(
        default=list, blank=True,
        help_text="What the token may do, e.g. erp:sales-orders, erp:shipments, erp:inventory, reconciliation:read.",
    )  # fmt: skip
    is_active = models.BooleanField(default=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class RateLimitBucket(models.Model):
    """A token bucket shared by every worker process (one row per provider operation and account)."""

    key = models.CharField(max_length=200, unique=True)
    tokens = models.FloatField(help_text="Tokens left; below zero, calls already promised a later slot.")
    rate = models.FloatField(
        null=True, blank=True, help_text="Requests per second the provider last reported (x-amzn-RateLimit-Limit)."
    )
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.key}: {self.tokens:.2f}"


class CircuitBreaker(models.Model):
    """Per provider and account: closed (calls go), open (no calls until `next_probe_at`), half-open (one probe).
    Shared by every worker process through this row."""

    class State(models.TextChoices):
        CLOSED = "closed", "Closed (calls go through)"
        OPEN = "open", "Open (calls stopped)"
        HALF_OPEN = "half_open", "Half-open (one probe call)"

    key = models.CharField(max_length=200, unique=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.CLOSED)
    failures = models.PositiveIntegerField(default=0, help_text="Consecutive failures.")
    opened_at = models.DateTimeField(null=True, blank=True)
    next_probe_at = models.DateTimeField(null=True, blank=True)
    cooldown_seconds = models.FloatField(default=0)
    last_error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.key}: {self.state}"


class AlertSent(models.Model):
    """When an alert (by key) was last sent, so a lasting problem alerts once per interval, not per occurrence."""

    key = models.CharField(max_length=200, unique=True)
    subject = models.CharField(max_length=200)
    last_sent_at = models.DateTimeField()
    suppressed = models.PositiveIntegerField(default=0, help_text="Repeats not sent since the last one.")

    def __str__(self) -> str:
        return self.key


class WorkerHeartbeat(models.Model):
    """One django-q2 cluster's proof of life, written by the cluster's monitor process after it saved and
    acknowledged a task: the whole path (pusher claims → worker runs → monitor saves and acks) worked.

    `run_worker` enqueues a no-op heartbeat task every WORKER_HEARTBEAT_SECONDS (and a schedule does once a
    minute for a plain `qcluster`); any other finished task counts as progress too, so a cluster busy with a
    backlog is not taken for a stalled one."""

    name = models.CharField(max_length=200, unique=True, help_text="host:pid of the supervising process.")
    host = models.CharField(max_length=200)
    pid = models.PositiveIntegerField(help_text="The qcluster process (its process group holds the cluster).")
    started_at = models.DateTimeField(help_text="When this cluster (or its latest restart) started.")
    last_beat_at = models.DateTimeField(null=True, blank=True, help_text="Last heartbeat task acknowledged.")
    last_beat_latency = models.FloatField(null=True, blank=True, help_text="Its seconds from enqueue to ack.")
    last_task_at = models.DateTimeField(null=True, blank=True, help_text="Last task of any kind acknowledged.")
    beats = models.PositiveIntegerField(default=0)
    restarts = models.PositiveIntegerField(default=0, help_text="Restarts by run_worker after a stall or exit.")
    last_restart_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def last_progress_at(self) -> datetime | None:
        seen = [t for t in (self.last_beat_at, self.last_task_at) if t is not None]
        return max(seen) if seen else None
