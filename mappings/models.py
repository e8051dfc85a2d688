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
