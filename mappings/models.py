from __future__ import annotations

from django.db import models
from django.db.models import Q

from config.common.models import TimeStampedModel
from orders.models import OrderStatus


class SkuMapping(TimeStampedModel):
    """Seller SKU ⇄ ASIN ⇄ ERP item id. A row without an account applies to every account."""

    seller_account = models.ForeignKey(
        "orders.SellerAccount",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="sku_mappings",
        help_text="Leave empty to use this mapping for every seller account.",
    )
    seller_sku = models.CharField("seller SKU", max_length=200, help_text="Amazon SellerSKU, exactly as sent.")
    asin = models.CharField("ASIN", max_length=10, blank=True)
    erp_item_id = models.CharField("ERP item id", max_length=64, help_text="The item id in the ERP (SL InvtID).")
    description = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True, help_text="Inactive mappings are ignored when orders arrive.")
    attributes = models.JSONField(
        default=dict, blank=True, help_text="Internal product attributes (e.g. warehouse, HS code) for field rules."
    )
    fulfillment_channel = models.CharField(
        max_length=3,
        choices=[
            ("", "Not synced"),
            ("MFN", "Merchant fulfilled: push ERP stock"),
            ("AFN", "FBA: read Amazon's stock"),
        ],
        blank=True,
        default="",
        help_text="Inventory sync of this account's SKU: MFN pushes the ERP's available quantity to Amazon.",
    )

    class Meta:
        verbose_name = "SKU mapping"
        ordering = ["seller_sku"]
        constraints = [
            models.UniqueConstraint(
                fields=["seller_account", "seller_sku"],
                condition=Q(seller_account__isnull=False),
                name="sku_mapping_unique_per_account",
            ),
            models.UniqueConstraint(
                fields=["seller_sku"],
                condition=Q(seller_account__isnull=True),
                name="sku_mapping_unique_global",
            ),
            models.CheckConstraint(condition=Q(seller_sku__regex=r"\S"), name="sku_mapping_sku_not_blank"),
            models.CheckConstraint(condition=Q(erp_item_id__regex=r"\S"), name="sku_mapping_item_not_blank"),
            models.CheckConstraint(
                condition=Q(asin="") | Q(asin__regex=r"^[A-Z0-9]{10}$"), name="sku_mapping_asin_format"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.seller_sku} → {self.erp_item_id}"


class StatusMapping(TimeStampedModel):
    """A provider's status → our canonical order status. Data, so finance/ops can change it without a deploy."""

    class Source(models.TextChoices):
        AMAZON_ORDER = "amazon_order", "Amazon order status"
        PAYMENT = "payment", "Payment status (Opayo facts)"
        FBA_FULFILLMENT = "fba_fulfillment", "Amazon FBA fulfilment order status"

    source = models.CharField(max_length=40, choices=Source.choices)
    source_status = models.CharField(max_length=60, help_text="The provider's value, case-sensitive.")
    canonical_status = models.CharField(max_length=30, choices=OrderStatus.choices)
    description = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["source", "source_status"]
        constraints = [
            models.UniqueConstraint(fields=["source", "source_status"], name="status_mapping_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()}: {self.source_status} → {self.canonical_status}"


class FieldRule(TimeStampedModel):
    """Fills a provider field from order data with a template, e.g. a campaign id into Opayo's reference.

    Templates use `{name}` placeholders: order_id, external_id, channel, currency, amount, kind, and
    `{metadata[campaign_id]}` for the order's custom fields. A missing value renders empty; the result is cut
    to the target field's maximum length.
    """

    class Target(models.TextChoices):
        OPAYO_DESCRIPTION = "opayo.description", "Opayo description (≤ 100)"
        OPAYO_SETTLEMENT_REFERENCE = "opayo.settlement_reference", "Opayo settlementReferenceText (≤ 30)"

    MAX_LENGTHS: dict[str, int] = {"opayo.description": 100, "opayo.settlement_reference": 30}

    target = models.CharField(max_length=60, choices=Target.choices, unique=True)
    template = models.CharField(max_length=300)
    is_active = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["target"]

    def __str__(self) -> str:
        return f"{self.get_target_display()}: {self.template}"


class FieldMappingTemplate(TimeStampedModel):
    """A named, reusable set of field rules for one destination (exported/imported as CSV or JSON)."""

    class Target(models.TextChoices):
        ERP_SALES_ORDER = "erp_sales_order", "ERP sales order (custom fields)"
        ERP_ORDER_LINE = "erp_order_line", "ERP sales order line (product attributes)"

    name = models.CharField(max_length=100, unique=True)
    target = models.CharField(max_length=30, choices=Target.choices)
    is_active = models.BooleanField(default=True, help_text="Only active templates are applied.")
    description = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["target", "name"]

    def __str__(self) -> str:
        return self.name


class FieldMappingRule(TimeStampedModel):
    """source path → target field, through a simple transform. Paths are dotted, e.g. `amazon.IsPrime`,
    `order.metadata.campaign_id`, `line.attributes.hs_code`; see mappings.rules for what each path can reach."""

    class Transform(models.TextChoices):
        COPY = "copy", "Copy the value"
        CONSTANT = "constant", "Constant (the argument)"
        LOOKUP = "lookup", "Look up in a table (argument: JSON object)"
        FORMAT = "format", "Format (argument: template with {value} and other paths)"

    template = models.ForeignKey(FieldMappingTemplate, on_delete=models.CASCADE, related_name="rules")
    position = models.PositiveIntegerField(default=0)
    source_path = models.CharField(max_length=200, blank=True)
    target_field = models.CharField(max_length=100)
    transform = models.CharField(max_length=20, choices=Transform.choices, default=Transform.COPY)
    argument = models.TextField(blank=True)
    default = models.CharField(max_length=200, blank=True, help_text="Used when the source is missing or not found.")
    required = models.BooleanField(default=False, help_text="Hold the order when this field comes out empty.")

    class Meta:
        ordering = ["template", "position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["template", "target_field"], name="field_rule_one_per_target"),
        ]

    def __str__(self) -> str:
        return f"{self.source_path or '∅'} → {self.target_field} ({self.transform})"


class GlAccount(TimeStampedModel):
    """An account of the general ledger journal entries are posted to."""

    class Kind(models.TextChoices):
        ASSET = "asset", "Asset"
        LIABILITY = "liability", "Liability"
        REVENUE = "revenue", "Revenue"
        EXPENSE = "expense", "Expense"

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = "GL account"

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class SettlementAccountMapping(TimeStampedModel):
    """Amazon settlement (transaction type, amount type, amount description) → GL account. `*` matches anything;
    the most specific matching row wins. A combination no row matches is an exception, never a default."""

    transaction_type = models.CharField(max_length=100, help_text="e.g. Order, Refund, ServiceFee, or *")
    amount_type = models.CharField(max_length=100, help_text="e.g. ItemPrice, ItemFees, other-transaction, or *")
    amount_description = models.CharField(max_length=150, help_text="e.g. Principal, Commission, or *")
    gl_account = models.ForeignKey(GlAccount, on_delete=models.PROTECT, related_name="settlement_mappings")
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["transaction_type", "amount_type", "amount_description"]
        verbose_name = "settlement → GL mapping"
        constraints = [
            models.UniqueConstraint(
                fields=["transaction_type", "amount_type", "amount_description"], name="settlement_mapping_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.transaction_type} / {self.amount_type} / {self.amount_description} → {self.gl_account.code}"


class CurrencyRate(TimeStampedModel):
    """How many units of the base currency one unit of `currency` was worth on `date` (for base amounts)."""

    date = models.DateField()
    currency = models.CharField(max_length=3)
    base_currency = models.CharField(max_length=3)
    rate = models.DecimalField(max_digits=18, decimal_places=8)

    class Meta:
        ordering = ["-date", "currency"]
        constraints = [
            models.UniqueConstraint(fields=["date", "currency", "base_currency"], name="currency_rate_unique"),
            models.CheckConstraint(condition=Q(rate__gt=0), name="currency_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.date} 1 {self.currency} = {self.rate} {self.base_currency}"


class MappingSuggestion(TimeStampedModel):
    """A proposed mapping for something unmapped (a SellerSKU, a settlement amount type, an order custom field).

    Nothing is applied until an operator accepts it; accepting creates the real mapping row. Decided rows are the
    learning data of later suggestions, and a rejected (kind, source, target) is never proposed again.
    """

    class Kind(models.TextChoices):
        SKU = "sku", "Seller SKU → ERP item"
        SETTLEMENT_ACCOUNT = "settlement_account", "Settlement amount type → GL account"
        CUSTOM_FIELD = "custom_field", "Order custom field → ERP field"

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        SUPERSEDED = "superseded", "Superseded (mapped otherwise)"

    kind = models.CharField(max_length=30, choices=Kind.choices)
    source_key = models.CharField(
        "source", max_length=400, help_text="What is unmapped: the SellerSKU, `type / amount type / description`, ..."
    )
    context = models.JSONField(default=dict, blank=True, help_text="Facts about the source (orders, lines, ...).")
    target_key = models.CharField(
        "proposed target", max_length=150, help_text="ERP item id, GL account code or ERP field name."
    )
    target_label = models.CharField(max_length=300, blank=True)
    confidence = models.FloatField(help_text="0..1: how likely this target is the right one.")
    rank = models.PositiveSmallIntegerField(default=1, help_text="1 = the best of the source's suggestions.")
    features = models.JSONField(default=dict, blank=True, help_text="Feature values the score was computed from.")
    evidence = models.JSONField(default=dict, blank=True, help_text="What the features were read from.")
    reasons = models.JSONField(default=list, blank=True, help_text="Why, in sentences an operator can check.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PROPOSED, db_index=True)
    decided_by = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True, help_text="The operator's reason (for a rejection).")
    outcome = models.TextField(blank=True, help_text="What accepting did: the mapping created, orders released.")

    class Meta:
        ordering = ["kind", "source_key", "rank"]
        verbose_name = "mapping suggestion"
        constraints = [
            models.UniqueConstraint(fields=["kind", "source_key", "target_key"], name="mapping_suggestion_unique"),
            models.CheckConstraint(
                condition=Q(confidence__gte=0) & Q(confidence__lte=1), name="mapping_suggestion_confidence_0_1"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["sku", "settlement_account", "custom_field"]), name="mapping_suggestion_kind"
            ),
            models.CheckConstraint(
                condition=(Q(status__in=["proposed", "superseded"]) & Q(decided_at__isnull=True))
                | (Q(status__in=["accepted", "rejected"]) & Q(decided_at__isnull=False) & ~Q(decided_by="")),
                name="mapping_suggestion_decided_iff_accepted_or_rejected",
            ),
            models.CheckConstraint(condition=Q(source_key__regex=r"\S"), name="mapping_suggestion_source_not_blank"),
            models.CheckConstraint(condition=Q(target_key__regex=r"\S"), name="mapping_suggestion_target_not_blank"),
        ]
        indexes = [models.Index(fields=["kind", "status"], name="mapping_suggestion_kind_status")]

    def __str__(self) -> str:
        return f"{self.source_key} → {self.target_key} ({self.confidence:.0%})"

    @staticmethod
    def settlement_source_key(transaction_type: str, amount_type: str, amount_description: str) -> str:
        """The source key of an unmapped settlement combination, as the exception queue lists it."""
        return " / ".join((transaction_type, amount_type, amount_description))
