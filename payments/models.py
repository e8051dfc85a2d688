from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import F, Q

from config.common.fields import EncryptedTextField
from config.common.models import TimeStampedModel
from orders.models import money_field

VENDOR_TX_CODE_RE = r"^[A-Za-z0-9._{}-]{1,40}$"


class Payment(TimeStampedModel):
    """The payment side of one order: what was authorised, captured and refunded, in the order's currency.

    The amounts are a summary kept in step with the PaymentTransaction ledger by the services; the database
    refuses summaries that cannot be true (captured above authorised, refunded above captured).
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending (outcome not known yet)"
        REQUIRES_ACTION = "requires_action", "Waiting for the shopper (3-D Secure)"
        AUTHORISED = "authorised", "Authorised (deferred, not captured)"
        CAPTURED = "captured", "Captured"
        PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
        REFUNDED = "refunded", "Refunded"
        VOIDED = "voided", "Voided"
        ABORTED = "aborted", "Aborted (deferred released never)"
        DECLINED = "declined", "Declined"
        FAILED = "failed", "Failed"

    class Protocol(models.TextChoices):
        PI = "pi", "Opayo Pi (REST)"
        SERVER = "server", "Opayo Server (hosted page, notifications)"

    order = models.OneToOneField("orders.Order", on_delete=models.PROTECT, related_name="payment")
    provider = models.CharField(max_length=20, default="opayo")
    protocol = models.CharField(max_length=10, choices=Protocol.choices, default=Protocol.PI)
    status = models.CharField(max_length=30, choices=Status.choices, default=Status.PENDING, db_index=True)
    currency = models.CharField(max_length=3)
    amount_authorised = money_field(default=0, help_text="What the shopper's card is good for (payment amount).")
    amount_captured = money_field(default=0)
    amount_refunded = money_field(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="payment_currency_iso"),
            models.CheckConstraint(condition=Q(amount_authorised__gte=0), name="payment_authorised_not_negative"),
            models.CheckConstraint(
                condition=Q(amount_captured__gte=0, amount_captured__lte=F("amount_authorised")),
                name="payment_captured_within_authorised",
            ),
            models.CheckConstraint(
                condition=Q(amount_refunded__gte=0, amount_refunded__lte=F("amount_captured")),
                name="payment_refunded_within_captured",
            ),
        ]

    def __str__(self) -> str:
        return f"Payment for {self.order} ({self.get_status_display()})"


class PaymentTransaction(TimeStampedModel):
    """One Opayo transaction (ledger row): the shopper's payment or deferred, and each refund we make.

    vendorTxCode is unique and stored before anything is sent, so a retry never creates a second charge.
    """

    class Kind(models.TextChoices):
        PAYMENT = "payment", "Payment"
        DEFERRED = "deferred", "Deferred"
        REPEAT = "repeat", "Repeat"
        REFUND = "refund", "Refund"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        UNKNOWN = "unknown", "Sent; outcome unknown (being looked up)"
        REQUIRES_ACTION = "requires_action", "3-D Secure challenge in progress"
        OK = "ok", "Ok"
        RELEASED = "released", "Released (deferred captured)"
        DECLINED = "declined", "Declined"
        FAILED = "failed", "Failed"
        VOIDED = "voided", "Voided"
        ABORTED = "aborted", "Aborted"

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="transactions")
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children", help_text="Refunded one."
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    vendor_tx_code = models.CharField("vendorTxCode", max_length=40, unique=True)
    transaction_id = models.CharField(
        "Opayo transaction id",
        max_length=64,
        null=True,
        blank=True,
        unique=True,
        help_text="Pi transactionId = VPSTxId",
    )
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING, db_index=True)
    amount = money_field()
    currency = models.CharField(max_length=3)
    released_amount = money_field(null=True, blank=True)
    opayo_status = models.CharField(max_length=20, blank=True)
    status_code = models.CharField(max_length=10, blank=True)
    status_detail = models.CharField(max_length=300, blank=True)
    retrieval_reference = models.CharField(max_length=40, blank=True, help_text="TxAuthNo / VPSAuthCode")
    bank_authorisation_code = models.CharField(max_length=20, blank=True)
    bank_response_code = models.CharField(max_length=10, blank=True)
    card_type = models.CharField(max_length=30, blank=True)
    last_four_digits = models.CharField(max_length=4, blank=True)
    avs_cvc_status = models.CharField(max_length=40, blank=True)
    three_d_secure_status = models.CharField(max_length=40, blank=True)
    description = models.CharField(max_length=100, blank=True)
    settlement_reference_text = models.CharField(max_length=30, blank=True)
    security_key = EncryptedTextField(blank=True, help_text="Server protocol only; checks notification signatures.")
    last_response = models.JSONField(null=True, blank=True, help_text="Opayo's last answer, 3-D Secure blobs removed.")
    next_poll_at = models.DateTimeField(null=True, blank=True, db_index=True)
    poll_attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["payment", "created_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(vendor_tx_code__regex=VENDOR_TX_CODE_RE), name="vendor_tx_code_format"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="transaction_amount_positive"),
            models.CheckConstraint(
                condition=Q(released_amount__isnull=True) | Q(released_amount__lte=F("amount")),
                name="release_within_amount",
            ),
            models.CheckConstraint(condition=~Q(kind="refund") | Q(parent__isnull=False), name="refund_has_original"),
            models.CheckConstraint(condition=Q(last_four_digits__regex=r"^(\d{4})?$"), name="last_four_is_four"),
        ]

    def __str__(self) -> str:
        return self.vendor_tx_code

    @property
    def captured_amount(self) -> Decimal:
        """Money actually taken by this transaction (0 until captured)."""
        if self.kind in (self.Kind.PAYMENT, self.Kind.REPEAT) and self.state == self.State.OK:
            return self.amount
        if self.kind == self.Kind.DEFERRED and self.state == self.State.RELEASED:
            return self.released_amount or Decimal(0)
        return Decimal(0)


class Refund(TimeStampedModel):
    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    transaction = models.OneToOneField(PaymentTransaction, on_delete=models.PROTECT, related_name="refund")
    amount = money_field()
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.REQUESTED)
    requested_by = models.CharField(max_length=150)
    failure = models.TextField(blank=True)

    class Meta:
        ordering = ["payment", "created_at"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive")]

    def __str__(self) -> str:
        return f"Refund {self.amount} {self.currency} ({self.status})"


class PaymentEvent(models.Model):
    """Append-only history of a payment."""

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    kind = models.CharField(max_length=30)
    from_status = models.CharField(max_length=30, blank=True)
    to_status = models.CharField(max_length=30, blank=True)
    actor = models.CharField(max_length=150)
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["payment", "created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_status}→{self.to_status}"


class OpayoNotification(models.Model):
    """A Server-protocol notification POST exactly as received, stored before anything else happens."""

    class Outcome(models.TextChoices):
        RECEIVED = "received", "Received"
        APPLIED = "applied", "Applied"
        DUPLICATE = "duplicate", "Duplicate (already applied)"
        INVALID = "invalid", "Invalid (rejected)"
        ERROR = "error", "Error while processing"

    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    remote_addr = models.CharField(max_length=64, blank=True)
    body = models.TextField(
        help_text="The form body as received; anything that looked like a card number replaced (see `masked`)."
    )
    masked = models.BooleanField(
        default=False, help_text="The body held what looked like a card number, replaced before storing."
    )
    vendor_tx_code = models.CharField(max_length=40, blank=True, db_index=True)
    vps_tx_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=30, blank=True)
    signature = models.CharField(max_length=64, blank=True, help_text="VPSSignature as received (upper case).")
    signature_valid = models.BooleanField(default=False)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.RECEIVED, db_index=True)
    detail = models.TextField(blank=True)
    reply = models.TextField(blank=True)
    transaction = models.ForeignKey(
        PaymentTransaction, on_delete=models.SET_NULL, null=True, blank=True, related_name="notifications"
    )

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            # One effect per notification: a given signed notification is applied at most once.
            models.UniqueConstraint(
                fields=["vendor_tx_code", "signature"], condition=Q(outcome="applied"), name="notification_applied_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vendor_tx_code} {self.status} ({self.outcome})"

    @property
    def fields(self) -> dict[str, str]:
        """The posted fields, decoded from the raw body (the body is the one stored copy)."""
        from urllib.parse import parse_qsl

        return dict(parse_qsl(self.body, keep_blank_values=True))


class OpayoBatch(TimeStampedModel):
    """One Opayo settlement batch (getBatchList), stored as received before its transactions are matched.

    Opayo closes one file per acquirer per day at midnight (UK) for the day before; an empty batch is a failed
    file that Opayo resends in a later batch. `raw_xml` is the <batch> element exactly as received; the
    per-currency totals are in OpayoBatchTotal and the transactions (getBatchDetail) in OpayoBatchTransaction.
    """

    class Status(models.TextChoices):
        FETCHED = "fetched", "Fetched (not matched yet)"
        MATCHED = "matched", "Matched"
        EXCEPTIONS = "exceptions", "Matched with exceptions"
        EMPTY = "empty", "Empty (failed file; Opayo resends it)"
        ERROR = "error", "Detail could not be read"

    batch_id = models.CharField("Opayo batch id", max_length=40, unique=True)
    vendor = models.CharField(max_length=100)
    processor = models.CharField("acquirer", max_length=100, blank=True, help_text="authprocessorname")
    completed_at = models.DateTimeField(null=True, blank=True, help_text="As Opayo reports it (UK time).")
    batch_date = models.DateField(
        null=True, blank=True, db_index=True, help_text="The UK day the batch settles (the day before it completed)."
    )
    raw_xml = models.TextField(help_text="getBatchList's <batch> element exactly as received.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.FETCHED, db_index=True)
    expected_count = models.PositiveIntegerField(default=0, help_text="Payments + refunds in getBatchList.")
    line_count = models.PositiveIntegerField(default=0, help_text="Transactions stored from getBatchDetail.")
    matched_count = models.PositiveIntegerField(default=0)
    unmatched_count = models.PositiveIntegerField(default=0, help_text="Lines not matched, whatever the reason.")
    detail = models.TextField(blank=True, help_text="Why the batch is not matched (read error, totals that differ).")
    fetched_at = models.DateTimeField(null=True, blank=True, help_text="When the transactions were last stored.")

    class Meta:
        ordering = ["-completed_at", "-pk"]
        verbose_name = "Opayo batch"
        constraints = [
            models.CheckConstraint(condition=~Q(batch_id=""), name="opayo_batch_id_present"),
            models.CheckConstraint(
                condition=Q(matched_count__lte=F("line_count") - F("unmatched_count")), name="opayo_batch_counts_add_up"
            ),
            models.CheckConstraint(
                condition=~Q(status="matched") | Q(unmatched_count=0, matched_count=F("line_count")),
                name="opayo_batch_matched_is_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"Opayo batch {self.batch_id}"


class OpayoBatchTotal(models.Model):
    """One currency's totals of a batch, as getBatchList reports them."""

    batch = models.ForeignKey(OpayoBatch, on_delete=models.CASCADE, related_name="totals")
    currency = models.CharField(max_length=3)
    payment_count = models.PositiveIntegerField()
    payment_value = money_field()
    refund_count = models.PositiveIntegerField()
    refund_value = money_field()

    class Meta:
        ordering = ["batch", "currency"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "currency"], name="opayo_batch_total_per_currency"),
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="opayo_batch_total_currency_iso"),
        ]

    def __str__(self) -> str:
        return f"{self.currency} +{self.payment_value} / -{self.refund_value}"


class OpayoBatchTransaction(TimeStampedModel):
    """One transaction of a batch (getBatchDetail) and what it matched among our PaymentTransactions."""

    class MatchStatus(models.TextChoices):
        PENDING = "pending", "Not matched yet"
        MATCHED = "matched", "Matched"
        AMOUNT_MISMATCH = "amount_mismatch", "Amount or currency differs"
        TYPE_MISMATCH = "type_mismatch", "Transaction type differs"
        STATE_MISMATCH = "state_mismatch", "Settled, but not captured on our side"
        REFERENCE_MISMATCH = "reference_mismatch", "VendorTxCode ours, VPSTxId not"
        DUPLICATE = "duplicate", "Already settled in another line"
        UNMATCHED = "unmatched", "Not one of ours"

    class MatchedOn(models.TextChoices):
        NONE = "", "-"
        VPS_TX_ID = "vps_tx_id", "VPSTxId"
        VENDOR_TX_CODE = "vendor_tx_code", "VendorTxCode"

    batch = models.ForeignKey(OpayoBatch, on_delete=models.CASCADE, related_name="lines")
    row_number = models.PositiveIntegerField(null=True, blank=True)
    vps_tx_id = models.CharField("VPSTxId", max_length=64)
    vendor_tx_code = models.CharField("VendorTxCode", max_length=100, blank=True, db_index=True)
    transaction_type = models.CharField(max_length=30, blank=True)
    amount = money_field(null=True, blank=True, help_text="As Opayo reports it (major units).")
    currency = models.CharField(max_length=3, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    settled_on = models.DateField(null=True, blank=True, help_text="The batch's settlement day.")
    raw = models.JSONField(default=dict, help_text="The row's elements exactly as received.")
    payment_transaction = models.ForeignKey(
        PaymentTransaction,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="batch_lines",
        help_text="Ours: the one matched, or the one it was compared with.",
    )
    match_status = models.CharField(
        max_length=20, choices=MatchStatus.choices, default=MatchStatus.PENDING, db_index=True
    )
    matched_on = models.CharField(max_length=20, choices=MatchedOn.choices, blank=True, default="")
    match_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["batch", "row_number", "pk"]
        verbose_name = "Opayo batch transaction"
        constraints = [
            models.UniqueConstraint(fields=["batch", "vps_tx_id"], name="opayo_batch_line_once"),
            models.CheckConstraint(condition=~Q(vps_tx_id=""), name="opayo_batch_line_has_vps_tx_id"),
            # A transaction of ours settles once: at most one line anywhere is matched to it.
            models.UniqueConstraint(
                fields=["payment_transaction"], condition=Q(match_status="matched"), name="opayo_settled_once"
            ),
            models.CheckConstraint(
                condition=Q(match_status__in=["pending", "unmatched"], payment_transaction__isnull=True)
                | (~Q(match_status__in=["pending", "unmatched"]) & Q(payment_transaction__isnull=False)),
                name="opayo_batch_line_match_has_transaction",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vendor_tx_code or self.vps_tx_id} ({self.get_match_status_display()})"


class FraudAssessment(TimeStampedModel):
    """The fraud review of one eCommerce payment: the indicators seen, their score, and what was decided.

    Made when the payment is first authorised or captured (payments.services.fraud). A score at or above the
    threshold holds the order (Order.HoldCode.FRAUD_REVIEW) until an operator releases or rejects it. Card and
    email are kept only as keyed hashes, to count recent orders with the same card or email (velocity).
    """

    class Decision(models.TextChoices):
        PASS = "pass", "Passed (below the review threshold)"
        REVIEW = "review", "Held for review"
        RELEASED = "released", "Released after review"
        REJECTED = "rejected", "Rejected (payment cancelled)"

    payment = models.OneToOneField(Payment, on_delete=models.PROTECT, related_name="fraud_assessment")
    order = models.OneToOneField("orders.Order", on_delete=models.PROTECT, related_name="fraud_assessment")
    score = models.PositiveSmallIntegerField(help_text="0-100: 100 × (1 − Π(1 − weight/100)) over the indicators.")
    threshold = models.PositiveSmallIntegerField(help_text="The review threshold in force when it was scored.")
    indicators = models.JSONField(default=list, blank=True, help_text="[{code, weight, explanation}]")
    decision = models.CharField(max_length=20, choices=Decision.choices, db_index=True)
    decided_by = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True, help_text="The operator's reason for releasing or rejecting.")
    card_fingerprint = models.CharField(
        max_length=64, blank=True, help_text="Keyed hash of card type, last four digits and expiry (never the PAN)."
    )
    email_fingerprint = models.CharField(max_length=64, blank=True, help_text="Keyed hash of the customer email.")
    assessed_at = models.DateTimeField(help_text="When the indicators were last read.")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(score__lte=100), name="fraud_score_at_most_100"),
            models.CheckConstraint(condition=Q(threshold__gte=1, threshold__lte=100), name="fraud_threshold_in_range"),
            models.CheckConstraint(
                condition=Q(decision__in=["pass", "review", "released", "rejected"]), name="fraud_decision_valid"
            ),
            # Below the threshold passes; at or above it is reviewed, then released or rejected.
            models.CheckConstraint(
                condition=Q(decision="pass", score__lt=F("threshold"))
                | (~Q(decision="pass") & Q(score__gte=F("threshold"))),
                name="fraud_decision_follows_score",
            ),
            # An operator's decision says who and when; the automatic ones do not.
            models.CheckConstraint(
                condition=Q(decision__in=["released", "rejected"], decided_at__isnull=False) & ~Q(decided_by="")
                | Q(decision__in=["pass", "review"], decided_at__isnull=True, decided_by=""),
                name="fraud_operator_decision_recorded",
            ),
            models.CheckConstraint(
                condition=Q(card_fingerprint__regex=r"^([0-9a-f]{64})?$")
                & Q(email_fingerprint__regex=r"^([0-9a-f]{64})?$"),
                name="fraud_fingerprints_are_hashes",
            ),
        ]
        indexes = [
            models.Index(
                fields=["card_fingerprint", "created_at"], condition=~Q(card_fingerprint=""), name="fraud_card_recent"
            ),
            models.Index(
                fields=["email_fingerprint", "created_at"],
                condition=~Q(email_fingerprint=""),
                name="fraud_email_recent",
            ),
        ]

    def __str__(self) -> str:
        return f"Fraud assessment of {self.order}: {self.score}/100 ({self.get_decision_display()})"
