from __future__ import annotations

from datetime import date

from django.db import models
from django.db.models import Q

from config.common.models import TimeStampedModel
from orders.models import money_field


class SettlementFile(TimeStampedModel):
    """A settlement report file as received (kept on disk by its SHA-256), and what importing it did."""

    class State(models.TextChoices):
        RECEIVED = "received", "Received"
        IMPORTED = "imported", "Imported"
        DUPLICATE = "duplicate", "Duplicate (settlement already imported)"
        REJECTED = "rejected", "Rejected (see error; retried later)"

    sha256 = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=255)
    path = models.CharField(max_length=500, help_text="Where the raw bytes are kept.")
    size = models.BigIntegerField()
    source = models.CharField(max_length=100, help_text="upload, command line, or reports API report id")
    seller_account = models.ForeignKey("orders.SellerAccount", on_delete=models.PROTECT, null=True, blank=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.RECEIVED, db_index=True)
    error = models.TextField(blank=True)
    error_line = models.PositiveIntegerField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    rows_imported = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(null=True, blank=True, help_text="How long the last import took.")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    settlement = models.ForeignKey("Settlement", on_delete=models.SET_NULL, null=True, blank=True, related_name="files")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_state_display()})"


class SettlementReport(TimeStampedModel):
    """A settlement report Amazon listed (Reports API), and the file its document became. Seen once."""

    report_id = models.CharField(max_length=40, unique=True)
    seller_account = models.ForeignKey("orders.SellerAccount", on_delete=models.PROTECT)
    report_document_id = models.CharField(max_length=200)
    created_time = models.DateTimeField(help_text="When Amazon made the report.")
    file = models.ForeignKey(SettlementFile, on_delete=models.PROTECT, null=True, blank=True, related_name="reports")

    class Meta:
        ordering = ["-created_time"]

    def __str__(self) -> str:
        return f"Report {self.report_id}"


class Settlement(TimeStampedModel):
    """One Amazon settlement (its summary row), imported once whatever the number of files carrying it."""

    class Status(models.TextChoices):
        IMPORTED = "imported", "Imported"
        RECONCILED = "reconciled", "Reconciled (every line matched)"
        EXCEPTIONS = "exceptions", "Has exceptions"
        FLAGGED = "flagged", "Flagged: lines do not add up to the total"

    settlement_id = models.CharField(max_length=40, unique=True)
    seller_account = models.ForeignKey("orders.SellerAccount", on_delete=models.PROTECT, null=True, blank=True)
    start_date = models.DateTimeField(null=True, blank=True)
    end_date = models.DateTimeField(null=True, blank=True)
    deposit_date = models.DateTimeField(null=True, blank=True)
    total_amount = money_field()
    currency = models.CharField(max_length=3)
    lines_total = money_field(null=True, blank=True, help_text="Sum of the amount rows (must equal the total).")
    line_count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.IMPORTED, db_index=True)
    matched_count = models.PositiveIntegerField(default=0)
    unmatched_count = models.PositiveIntegerField(default=0)
    unmapped_count = models.PositiveIntegerField(default=0, help_text="Lines without a GL account.")
    problem = models.TextField(blank=True, help_text="Why the settlement is not reconciled or has no journal yet.")

    class Meta:
        ordering = ["-deposit_date", "-pk"]

    def __str__(self) -> str:
        return f"Settlement {self.settlement_id} ({self.total_amount} {self.currency})"


class SettlementLine(models.Model):
    """One amount row of a settlement report, as Amazon sent it, plus what kind of row it is.

    Whether an order or refund line is matched is not stored: it is whether Ledgerline has that order, read by
    a join whenever asked (selectors), so an order synced after the import matches without rewriting lines.
    """

    class Kind(models.TextChoices):
        ORDER = "order", "Order"
        REFUND = "refund", "Refund or chargeback"
        FEE = "fee", "Account-level fee or charge"
        TRANSFER = "transfer", "Reserve / transfer"

    # Indexed through (settlement, line_number) below; a million-line import maintains as few indexes as it can.
    settlement = models.ForeignKey(Settlement, on_delete=models.CASCADE, related_name="lines", db_index=False)
    line_number = models.PositiveIntegerField(help_text="Line in the file (1 = header).")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    transaction_type = models.CharField(max_length=100, blank=True)
    amazon_order_id = models.CharField(max_length=64, blank=True)
    merchant_order_id = models.CharField(max_length=64, blank=True)
    adjustment_id = models.CharField(max_length=64, blank=True)
    shipment_id = models.CharField(max_length=64, blank=True)
    marketplace_name = models.CharField(max_length=64, blank=True)
    amount_type = models.CharField(max_length=100, blank=True)
    amount_description = models.CharField(max_length=150, blank=True)
    amount = money_field()
    currency = models.CharField(max_length=3)
    fulfillment_id = models.CharField(max_length=10, blank=True)
    posted_at = models.DateTimeField(null=True, blank=True)
    order_item_code = models.CharField(max_length=64, blank=True)
    merchant_order_item_id = models.CharField(max_length=64, blank=True)
    merchant_adjustment_item_id = models.CharField(max_length=64, blank=True)
    sku = models.CharField(max_length=200, blank=True)
    quantity = models.IntegerField(null=True, blank=True)
    promotion_id = models.CharField(max_length=200, blank=True)
    gl_account = models.ForeignKey(
        "mappings.GlAccount", on_delete=models.PROTECT, null=True, blank=True, db_index=False,
        help_text="Empty: no mapping row matches (an exception; no journal until mapped).",
    )  # fmt: skip

    class Meta:
        ordering = ["settlement", "line_number"]
        constraints = [
            models.UniqueConstraint(fields=["settlement", "line_number"], name="settlement_line_unique"),
            models.CheckConstraint(condition=Q(kind__in=["order", "refund", "fee", "transfer"]), name="line_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.transaction_type} {self.amount_description} {self.amount}"

    @property
    def order_reference(self) -> str:
        return self.amazon_order_id or self.merchant_order_id


class AccountingPeriod(TimeStampedModel):
    """One accounting period (`LEDGER_PERIOD`: calendar month by default), made when first needed. Closed by Finance
    (`accounting_period_close`): no journal entry may then be dated in it (the service refuses, and on PostgreSQL a
    trigger refuses the row too); a late settlement's part for it is dated at the first open date, with a note."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    start = models.DateField(unique=True, help_text="First day.")
    end = models.DateField(unique=True, help_text="Last day (inclusive).")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.CharField(max_length=150, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-start"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gte=models.F("start")), name="accounting_period_end_after_start"),
            models.CheckConstraint(
                condition=Q(status="open", closed_at__isnull=True)
                | (Q(status="closed") & Q(closed_at__isnull=False) & ~Q(closed_by="")),
                name="accounting_period_closed_by_someone",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.start:%Y-%m}"
            if self.start.day == 1 and self.end.month == self.start.month
            else (f"{self.start} – {self.end}")
        )

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


# A closed period is reopened by Finance with a reason (a correction must be dated in it); every change is an event.
PERIOD_TRANSITIONS: dict[str, set[str]] = {
    AccountingPeriod.Status.OPEN: {AccountingPeriod.Status.CLOSED},
    AccountingPeriod.Status.CLOSED: {AccountingPeriod.Status.OPEN},
}


class AccountingPeriodEvent(models.Model):
    """Every close and reopen of a period, who did it and why (written by the one writer only)."""

    period = models.ForeignKey(AccountingPeriod, on_delete=models.PROTECT, related_name="events")
    created_at = models.DateTimeField(auto_now_add=True)
    from_status = models.CharField(max_length=10)
    to_status = models.CharField(max_length=10)
    actor = models.CharField(max_length=150)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["period", "created_at", "pk"]
        constraints = [
            # Reopening a closed period needs a reason in words.
            models.CheckConstraint(
                condition=~Q(from_status="closed", to_status="open") | ~Q(reason=""),
                name="accounting_period_reopen_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.period}: {self.from_status} → {self.to_status}"


class JournalEntry(TimeStampedModel):
    """A balanced entry (debits = credits in its currency and in base): a settlement's lines of one accounting
    period, a period-end accrual of orders no settlement contains yet, that accrual's reversal, or a matched bank
    deposit moving money from a clearing account to the bank."""

    class Kind(models.TextChoices):
        SETTLEMENT = "settlement", "Settlement"
        ACCRUAL = "accrual", "Accrual (shipped, not yet settled)"
        REVERSAL = "reversal", "Reversal of an accrual"
        BANK = "bank", "Bank deposit (clearing → bank)"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        POSTED = "posted", "Posted"
        VOID = "void", "Void (replaced before posting)"

    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.SETTLEMENT, db_index=True)
    settlement = models.ForeignKey(Settlement, on_delete=models.PROTECT, null=True, blank=True, related_name="journals")
    seller_account = models.ForeignKey(
        "orders.SellerAccount", on_delete=models.PROTECT, null=True, blank=True, related_name="journal_entries",
        help_text="Accruals and reversals: whose orders.",
    )  # fmt: skip
    period_start = models.DateField(
        help_text="First day of the accounting period the entry's amounts belong to (its lines' posted dates; an "
        "accrual's period; a deposit's booking date). Its date is in that period unless the period was closed (see "
        "the memo)."
    )
    bank_match = models.OneToOneField(
        "BankMatch", on_delete=models.PROTECT, related_name="journal", null=True, blank=True,
        help_text="The matched bank deposit this entry moves from clearing to the bank (empty for a settlement's).",
    )  # fmt: skip
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversal",
        help_text="The accrual this entry reverses.",
    )  # fmt: skip
    date = models.DateField()
    currency = models.CharField(max_length=3)
    base_currency = models.CharField(max_length=3)
    rate = models.DecimalField(max_digits=18, decimal_places=8, help_text="Base units per settlement unit.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    total_debit = money_field(default=0)
    total_credit = money_field(default=0)
    base_total_debit = money_field(default=0)
    base_total_credit = money_field(default=0)
    line_count = models.PositiveIntegerField(default=0)
    memo = models.CharField(max_length=300, blank=True)
    note = models.TextField(blank=True, help_text="Why it is dated where it is (a closed period), what was accrued.")
    posted_at = models.DateTimeField(null=True, blank=True, help_text="When it was marked as posted to the ledger.")
    posted_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-date", "-pk"]
        verbose_name_plural = "journal entries"
        constraints = [
            models.CheckConstraint(condition=Q(total_debit=models.F("total_credit")), name="journal_entry_balanced"),
            models.CheckConstraint(
                condition=Q(base_total_debit=models.F("base_total_credit")), name="journal_entry_base_balanced"
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$") & Q(base_currency__regex=r"^[A-Z]{3}$"),
                name="journal_entry_currency_codes",
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind="settlement")
                    & Q(settlement__isnull=False)
                    & Q(reverses__isnull=True)
                    & Q(bank_match__isnull=True)
                )
                | (
                    Q(kind="accrual")
                    & Q(settlement__isnull=True)
                    & Q(reverses__isnull=True)
                    & Q(bank_match__isnull=True)
                )
                | (
                    Q(kind="reversal")
                    & Q(settlement__isnull=True)
                    & Q(reverses__isnull=False)
                    & Q(bank_match__isnull=True)
                )
                | (
                    Q(kind="bank") & Q(settlement__isnull=True) & Q(reverses__isnull=True) & Q(bank_match__isnull=False)
                ),
                name="journal_entry_kind_links",
            ),
            models.CheckConstraint(condition=Q(date__gte=models.F("period_start")), name="journal_entry_not_before"),
            # A settlement has one entry per period its lines fall in.
            models.UniqueConstraint(
                fields=["settlement", "period_start"],
                condition=Q(settlement__isnull=False),
                name="journal_entry_settlement_period_unique",
            ),
            # One live accrual per account, currency and period (a re-run voids a draft and builds anew).
            models.UniqueConstraint(
                fields=["seller_account", "currency", "period_start"],
                condition=Q(kind="accrual") & ~Q(status="void"),
                name="journal_entry_accrual_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"Journal {self.date} {self.get_kind_display().lower()} {self.source_reference}"

    @property
    def source_reference(self) -> str:
        """What the entry accounts for, as an accounting system's journal reference: the Amazon settlement id, the
        bank line's reference for a deposit, or the accrual's (reversal's) kind and period."""
        if self.settlement_id is not None:
            return self.settlement.settlement_id  # type: ignore[union-attr]
        if self.bank_match_id is not None:
            return self.bank_match.reference  # type: ignore[union-attr]
        return f"{self.kind}:{self.period_start:%Y-%m}"


# Posted is final: a posted entry is in the ledger, corrections are new entries (reversals), never edits. A draft
# accrual that a later run replaces is voided (kept, with its lines, for the trail).
JOURNAL_TRANSITIONS: dict[str, set[str]] = {
    JournalEntry.Status.DRAFT: {JournalEntry.Status.POSTED, JournalEntry.Status.VOID},
    JournalEntry.Status.POSTED: set(),
    JournalEntry.Status.VOID: set(),
}


class JournalLine(models.Model):
    entry = models.ForeignKey(JournalEntry, on_delete=models.CASCADE, related_name="lines", db_index=False)
    position = models.PositiveIntegerField()
    gl_account = models.ForeignKey("mappings.GlAccount", on_delete=models.PROTECT)
    description = models.CharField(max_length=300, blank=True)
    reference = models.CharField(max_length=64, blank=True, help_text="Order id or Amazon reference.")
    debit = money_field(default=0)
    credit = money_field(default=0)
    currency = models.CharField(max_length=3)
    base_debit = money_field(default=0)
    base_credit = money_field(default=0)
    settlement_line = models.ForeignKey(SettlementLine, on_delete=models.SET_NULL, null=True, blank=True)

    class Meta:
        ordering = ["entry", "position"]
        constraints = [
            # Also the index the CSV export reads in order (no sort of a million lines).
            models.UniqueConstraint(fields=["entry", "position"], name="journal_line_position_unique"),
            models.CheckConstraint(
                condition=Q(debit__gte=0, credit__gte=0, base_debit__gte=0, base_credit__gte=0),
                name="journal_line_amounts_not_negative",
            ),
            models.CheckConstraint(condition=Q(debit=0) | Q(credit=0), name="journal_line_one_side"),
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="journal_line_currency_code"),
        ]

    def __str__(self) -> str:
        return f"{self.gl_account.code} Dr {self.debit} Cr {self.credit}"


class AnomalyFlag(TimeStampedModel):
    """An order amount, fee rate or refund rate far outside its account and SKU's recent distribution.

    Written by `reconciliation.services.anomalies` only; the explanation says in words why (value, median, spread,
    history). One flag per (kind, account, subject, SKU): a dismissed flag is never raised again for the same thing.
    """

    class Kind(models.TextChoices):
        ORDER_AMOUNT = "order_amount", "Order amount (unit price)"
        FEE_RATE = "fee_rate", "Fee rate (fees / what the buyer paid)"
        REFUND_RATE = "refund_rate", "Refund rate (items refunded / sold in a week)"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DISMISSED = "dismissed", "Dismissed (normal after all)"
        CONFIRMED = "confirmed", "Confirmed (a real problem)"

    kind = models.CharField(max_length=20, choices=Kind.choices, db_index=True)
    seller_account = models.ForeignKey(
        "orders.SellerAccount", on_delete=models.PROTECT, null=True, blank=True, related_name="anomaly_flags",
        help_text="Empty when the settlement's account is not known (uploaded file, no matched order).",
    )  # fmt: skip
    sku = models.CharField("SKU", max_length=200)
    subject = models.CharField(
        max_length=100, help_text="What is unusual: the order id (amounts, fee rates) or the week (refund rates)."
    )
    order = models.ForeignKey(
        "orders.Order", on_delete=models.SET_NULL, null=True, blank=True, related_name="anomaly_flags"
    )
    settlement = models.ForeignKey(
        Settlement, on_delete=models.SET_NULL, null=True, blank=True, related_name="anomaly_flags"
    )
    observed_at = models.DateTimeField(help_text="Purchase time, posting time, or the start of the week.")
    currency = models.CharField(max_length=3, blank=True, help_text="For amounts; rates have none.")
    value = models.DecimalField(max_digits=18, decimal_places=6)
    median = models.DecimalField(max_digits=18, decimal_places=6)
    mad = models.DecimalField("MAD", max_digits=18, decimal_places=6, help_text="Median absolute deviation.")
    spread = models.DecimalField(
        max_digits=18, decimal_places=6, help_text="The usual spread the robust z is measured in (see basis)."
    )
    spread_basis = models.CharField(max_length=20, help_text="mad, mean_abs_dev, tolerance or binomial.")
    robust_z = models.DecimalField("robust z", max_digits=12, decimal_places=2)
    history = models.PositiveIntegerField(help_text="Data points (orders, order items, weeks) compared with.")
    explanation = models.TextField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN, db_index=True)
    reviewed_by = models.CharField(max_length=150, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "seller_account", "subject", "sku"],
                condition=Q(seller_account__isnull=False),
                name="anomaly_flag_unique",
            ),
            models.UniqueConstraint(
                fields=["kind", "subject", "sku"],
                condition=Q(seller_account__isnull=True),
                name="anomaly_flag_unique_no_account",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["order_amount", "fee_rate", "refund_rate"]), name="anomaly_flag_kind"
            ),
            models.CheckConstraint(
                condition=Q(status="open", reviewed_at__isnull=True)
                | (Q(status__in=["dismissed", "confirmed"]) & Q(reviewed_at__isnull=False)),
                name="anomaly_flag_reviewed_iff_closed",
            ),
            models.CheckConstraint(condition=Q(spread__gt=0), name="anomaly_flag_spread_positive"),
        ]
        indexes = [models.Index(fields=["seller_account", "sku"], name="anomaly_flag_account_sku")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.sku} {self.subject}"


class ReconciliationHint(models.Model):
    """A candidate order (and its payment) for an order reference of a settlement that matched nothing.

    Recomputed on demand (`settlement_hints_refresh`); never applied: matching stays a join on the order ids.
    """

    settlement = models.ForeignKey(Settlement, on_delete=models.CASCADE, related_name="hints")
    order_reference = models.CharField(max_length=64, help_text="The unmatched order-id or merchant-order-id.")
    reference_amount = money_field(help_text="What the settlement's lines say the order was (items, tax, shipping).")
    posted_at = models.DateTimeField(null=True, blank=True)
    rank = models.PositiveSmallIntegerField()
    candidate_order = models.ForeignKey(
        "orders.Order", on_delete=models.CASCADE, null=True, blank=True, related_name="reconciliation_hints"
    )
    candidate_payment = models.ForeignKey(
        "payments.PaymentTransaction", on_delete=models.CASCADE, null=True, blank=True,
        related_name="reconciliation_hints",
    )  # fmt: skip
    score = models.DecimalField(max_digits=4, decimal_places=3, help_text="0 (unlikely) to 1 (certainly this one).")
    reasons = models.JSONField(default=list, help_text="Why, in words: amount, date, reference, SKUs.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["settlement", "order_reference", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["settlement", "order_reference", "rank"], name="hint_rank_unique"),
            models.CheckConstraint(condition=Q(score__gte=0, score__lte=1), name="hint_score_0_1"),
            models.CheckConstraint(condition=Q(rank__gte=1), name="hint_rank_from_1"),
            models.CheckConstraint(
                condition=Q(candidate_order__isnull=False) | Q(candidate_payment__isnull=False),
                name="hint_has_candidate",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_reference} #{self.rank} ({self.score})"


class FinancesTransaction(TimeStampedModel):
    """A transaction of the Finances API (2024-06-19 listTransactions) as Amazon sent it, kept per seller account
    and refreshed when read again (its status moves DEFERRED → DEFERRED_RELEASED). Accruals are built from these
    rows, so a run can be repeated and explained without calling Amazon again."""

    seller_account = models.ForeignKey("orders.SellerAccount", on_delete=models.PROTECT, related_name="+")
    transaction_id = models.CharField(max_length=200)
    transaction_type = models.CharField(max_length=60, blank=True)
    transaction_status = models.CharField(max_length=30, blank=True, db_index=True)
    amazon_order_id = models.CharField(max_length=64, blank=True, db_index=True)
    marketplace_id = models.CharField(max_length=20, blank=True)
    posted_at = models.DateTimeField(null=True, blank=True)
    total_amount = money_field(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    has_breakdown = models.BooleanField(default=False)
    payload = models.JSONField(help_text="The Transaction object as received.")

    class Meta:
        ordering = ["-posted_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["seller_account", "transaction_id"], name="finances_transaction_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.transaction_type} {self.transaction_status} {self.amazon_order_id} {self.total_amount}"


class OrderReportCheck(TimeStampedModel):
    """One daily completeness check: Amazon's own order report for a day (Reports API,
    GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL) against the orders Ledgerline has. The order ids Amazon
    has and we did not are fetched (getOrder) and ingested; the counts are kept for the dashboard."""

    class State(models.TextChoices):
        REQUESTED = "requested", "Report requested"
        DONE = "done", "Compared"
        FAILED = "failed", "Failed (see error; tried again)"

    seller_account = models.ForeignKey("orders.SellerAccount", on_delete=models.PROTECT, related_name="+")
    marketplace_id = models.CharField(max_length=20)
    day = models.DateField(help_text="The day (UTC) of last updates the report covers.")
    state = models.CharField(max_length=12, choices=State.choices, default=State.REQUESTED, db_index=True)
    report_id = models.CharField(max_length=40, blank=True)
    document_path = models.CharField(max_length=500, blank=True, help_text="Amazon's report as downloaded.")
    amazon_orders = models.PositiveIntegerField(default=0, help_text="Distinct order ids in Amazon's report.")
    missing_ids = models.JSONField(default=list, blank=True, help_text="Order ids Amazon has and we had not.")
    ingested = models.PositiveIntegerField(default=0, help_text="Of the missing, how many were fetched and ingested.")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-day", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["seller_account", "marketplace_id", "day"], name="order_report_check_day"),
        ]

    def __str__(self) -> str:
        return f"Order report {self.day} {self.marketplace_id}: {len(self.missing_ids)} missing"


# --- bank statements and three-way matching ---------------------------------------------------------------------


class BankAccount(TimeStampedModel):
    """One of our bank accounts: where Amazon and the card acquirer pay in. Its GL account is the one a matched
    deposit is debited to; its CSV mapping says how its bank's CSV export reads (see services/bank_formats.py)."""

    name = models.CharField(max_length=100)
    account_id = models.CharField(
        "account identifier", max_length=64, unique=True,
        help_text="As the statements name it: the IBAN (CAMT.053 <Acct><Id><IBAN>) or account number (OFX ACCTID).",
    )  # fmt: skip
    currency = models.CharField(max_length=3)
    gl_account = models.ForeignKey(
        "mappings.GlAccount", on_delete=models.PROTECT, related_name="bank_accounts",
        help_text="Debited with each matched deposit (the bank side of the clearing → bank journal).",
    )  # fmt: skip
    csv_mapping = models.JSONField(
        "CSV column mapping", default=dict, blank=True,
        help_text='For CSV statements: {"date": "Date", "amount": "Amount" (or "credit"/"debit"), "description": '
        '"Description", "reference": "Reference", "id": "Transaction ID", "date_format": "%d/%m/%Y", '
        '"decimal": "." , "delimiter": ","}. Column names as in the header row.',
    )  # fmt: skip
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="bank_account_currency_code"),
            models.CheckConstraint(condition=~Q(account_id=""), name="bank_account_id_present"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.currency})"


class BankStatementFile(TimeStampedModel):
    """A bank statement file exactly as received (bytes kept), and what importing it did. The same bytes are one
    file; the lines it carries are kept once per bank account whatever the number of files carrying them."""

    class Format(models.TextChoices):
        CAMT053 = "camt053", "ISO 20022 CAMT.053 (XML)"
        OFX = "ofx", "OFX (1.x SGML or 2.x XML)"
        CSV = "csv", "CSV (the bank account's column mapping)"

    class State(models.TextChoices):
        RECEIVED = "received", "Received"
        IMPORTED = "imported", "Imported"
        REJECTED = "rejected", "Rejected (see error; nothing kept)"

    sha256 = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=255)
    source = models.CharField(max_length=100, help_text="upload, command line or API, and by whom")
    format = models.CharField(max_length=10, choices=Format.choices, blank=True, help_text="Empty: detect.")
    bank_account = models.ForeignKey(
        BankAccount, on_delete=models.PROTECT, null=True, blank=True, related_name="files",
        help_text="Given on upload, or found from the account identifier in the file.",
    )  # fmt: skip
    raw = models.BinaryField(help_text="The file as received.")
    size = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.RECEIVED, db_index=True)
    error = models.TextField(blank=True)
    error_location = models.CharField(max_length=200, blank=True, help_text="Line and element of the error.")
    lines_new = models.PositiveIntegerField(default=0, help_text="Statement lines first seen in this file.")
    lines_seen = models.PositiveIntegerField(default=0, help_text="Lines already imported from an earlier file.")
    imported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(format__in=["", "camt053", "ofx", "csv"]), name="bank_file_format"),
            models.CheckConstraint(condition=~Q(state="rejected") | ~Q(error=""), name="bank_file_rejected_says_why"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_state_display()})"


class BankStatementLine(TimeStampedModel):
    """One booked entry of a bank statement, kept once per bank account (by the bank's own transaction id, or a
    digest of its content), and where matching got with it. Amount is signed: money in is positive."""

    class Status(models.TextChoices):
        UNMATCHED = "unmatched", "Not matched yet"
        MATCHED = "matched", "Matched (journal posted)"
        SHORT = "short", "Amount differs from what it pays (exception)"
        EXCEPTION = "exception", "Unmatched for too long (exception)"
        IGNORED = "ignored", "Not a deposit (money out)"

    bank_account = models.ForeignKey(BankAccount, on_delete=models.PROTECT, related_name="lines")
    file = models.ForeignKey(
        BankStatementFile, on_delete=models.PROTECT, related_name="lines", help_text="The file it first came in."
    )
    line_key = models.CharField(
        max_length=128, help_text="The bank's transaction id (AcctSvcrRef, FITID, CSV id) or a content digest."
    )
    location = models.CharField(max_length=100, blank=True, help_text="Where it is in the file (line, element).")
    booking_date = models.DateField(db_index=True)
    value_date = models.DateField(null=True, blank=True)
    amount = money_field()
    currency = models.CharField(max_length=3)
    description = models.CharField(max_length=500, blank=True)
    reference = models.CharField(max_length=140, blank=True, help_text="Remittance information / payer reference.")
    bank_reference = models.CharField(max_length=100, blank=True, help_text="The bank's own id for the entry.")
    counterparty = models.CharField(max_length=140, blank=True)
    raw = models.JSONField(default=dict, help_text="The entry's fields as read from the file.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UNMATCHED, db_index=True)
    match_reason = models.TextField(blank=True, help_text="Why it matched, or why not, in words.")

    class Meta:
        ordering = ["-booking_date", "-pk"]
        verbose_name = "bank statement line"
        constraints = [
            models.UniqueConstraint(fields=["bank_account", "line_key"], name="bank_line_once"),
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="bank_line_currency_code"),
            models.CheckConstraint(
                condition=Q(status__in=["unmatched", "matched", "short", "exception", "ignored"]),
                name="bank_line_status",
            ),
            # Only money in is a deposit that can pay a settlement or a batch.
            models.CheckConstraint(condition=~Q(status="matched") | Q(amount__gt=0), name="bank_line_matched_is_in"),
        ]

    def __str__(self) -> str:
        return f"{self.booking_date} {self.amount} {self.currency} {self.reference or self.description}"[:120]


# Matched is final: the clearing → bank journal exists; a wrong match is corrected by a reversal, not undone.
BANK_LINE_TRANSITIONS: dict[str, set[str]] = {
    BankStatementLine.Status.UNMATCHED: {
        BankStatementLine.Status.MATCHED, BankStatementLine.Status.SHORT, BankStatementLine.Status.EXCEPTION,
        BankStatementLine.Status.IGNORED,
    },
    BankStatementLine.Status.SHORT: {
        BankStatementLine.Status.MATCHED, BankStatementLine.Status.UNMATCHED, BankStatementLine.Status.EXCEPTION,
        BankStatementLine.Status.IGNORED,
    },
    BankStatementLine.Status.EXCEPTION: {
        BankStatementLine.Status.MATCHED, BankStatementLine.Status.SHORT, BankStatementLine.Status.IGNORED,
    },
    BankStatementLine.Status.IGNORED: {BankStatementLine.Status.UNMATCHED},
    BankStatementLine.Status.MATCHED: set(),
}  # fmt: skip


class BankLineEvent(models.Model):
    """Every status change of a bank line, with the reason in words (written by the one writer only)."""

    line = models.ForeignKey(BankStatementLine, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(auto_now_add=True)
    from_status = models.CharField(max_length=10)
    to_status = models.CharField(max_length=10)
    actor = models.CharField(max_length=150)
    reason = models.TextField()

    class Meta:
        ordering = ["line", "created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"


class BankMatch(TimeStampedModel):
    """A deposit matched to what it pays: one Amazon settlement's payout, or one or more Opayo batch totals."""

    class Kind(models.TextChoices):
        AMAZON = "amazon", "Amazon settlement payout"
        OPAYO = "opayo", "Opayo batch(es)"

    line = models.OneToOneField(BankStatementLine, on_delete=models.PROTECT, related_name="match")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    currency = models.CharField(max_length=3)
    amount = money_field(help_text="The deposit.")
    expected = money_field(help_text="What the matched items should pay in (after fees).")
    fees = money_field(default=0, help_text="Acquirer fees deducted from the batches (net credit billing).")
    difference = money_field(
        default=0,
        help_text="Deposit − expected, accepted by Finance (a short deposit): posted to the differences account.",
    )
    reason = models.TextField()
    matched_by = models.CharField(max_length=150)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "bank matches"
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["amazon", "opayo"]), name="bank_match_kind"),
            models.CheckConstraint(
                condition=Q(amount=models.F("expected") + models.F("difference")), name="bank_match_amount_adds_up"
            ),
            models.CheckConstraint(condition=Q(fees__gte=0), name="bank_match_fees_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.amount} {self.currency}"

    @property
    def reference(self) -> str:
        line = self.line
        return (line.bank_reference or line.reference or f"BANK{line.pk}")[:64]


class BankMatchItem(models.Model):
    """One thing a matched deposit pays: an Amazon settlement, or one currency of an Opayo batch. Each is paid once."""

    match = models.ForeignKey(BankMatch, on_delete=models.CASCADE, related_name="items")
    settlement = models.ForeignKey(
        Settlement, on_delete=models.PROTECT, null=True, blank=True, related_name="bank_items"
    )
    opayo_batch_total = models.ForeignKey(
        "payments.OpayoBatchTotal", on_delete=models.PROTECT, null=True, blank=True, related_name="bank_items"
    )
    amount = money_field(help_text="Settlement payout, or batch payments − refunds, before fees.")
    fees = money_field(default=0)

    class Meta:
        ordering = ["match", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(settlement__isnull=False, opayo_batch_total__isnull=True)
                | Q(settlement__isnull=True, opayo_batch_total__isnull=False),
                name="bank_item_one_source",
            ),
            models.UniqueConstraint(
                fields=["settlement"], condition=Q(settlement__isnull=False), name="bank_item_settlement_paid_once"
            ),
            models.UniqueConstraint(
                fields=["opayo_batch_total"], condition=Q(opayo_batch_total__isnull=False),
                name="bank_item_batch_paid_once",
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.settlement or self.opayo_batch_total}: {self.amount}"
