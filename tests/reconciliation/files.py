"""Small hand-written V2 settlement files for precise scenarios (big realistic ones come from the generator)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

HEADER = [
    "settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date", "total-amount", "currency",
    "transaction-type", "order-id", "merchant-order-id", "adjustment-id", "shipment-id", "marketplace-name",
    "amount-type", "amount-description", "amount", "fulfillment-id", "posted-date", "posted-date-time",
    "order-item-code", "merchant-order-item-id", "merchant-adjustment-item-id", "sku", "quantity-purchased",
    "promotion-id",
]  # fmt: skip


def amount_row(
    transaction_type: str,
    order_id: str,
    amount_type: str,
    description: str,
    amount: str,
    *,
    settlement_id: str = "5000001",
    marketplace: str = "Amazon.co.uk",
    posted: str = "2026-11-02 10:00:00 UTC",
    merchant_order_id: str = "",
    sku: str = "TENT-2P-GRN",
) -> list[str]:
    row = dict.fromkeys(HEADER, "")
    row.update({
        "settlement-id": settlement_id, "transaction-type": transaction_type, "order-id": order_id,
        "merchant-order-id": merchant_order_id, "marketplace-name": marketplace, "amount-type": amount_type,
        "amount-description": description, "amount": amount, "fulfillment-id": "AFN" if order_id else "",
        "posted-date-time": posted, "sku": sku if order_id else "", "quantity-purchased": "1" if order_id else "",
    })  # fmt: skip
    return [row[c] for c in HEADER]


def settlement_file(
    rows: Sequence[list[str]],
    *,
    settlement_id: str = "5000001",
    currency: str = "GBP",
    total: str | None = None,
    dates: tuple[str, str, str] = ("2026-11-01 00:00:00 UTC", "2026-11-15 00:00:00 UTC", "2026-11-17 00:00:00 UTC"),
    decimal_comma: bool = False,
) -> str:
    if total is None:
        amounts = [r[HEADER.index("amount")] for r in rows]
        if decimal_comma:
            amounts = [a.replace(".", "").replace(",", ".") for a in amounts]
        total = str(sum(Decimal(a) for a in amounts))
        if decimal_comma:
            total = total.replace(".", ",")
    summary = dict.fromkeys(HEADER, "")
    summary.update({
        "settlement-id": settlement_id, "settlement-start-date": dates[0], "settlement-end-date": dates[1],
        "deposit-date": dates[2], "total-amount": total, "currency": currency,
    })  # fmt: skip
    lines = ["\t".join(HEADER), "\t".join(summary[c] for c in HEADER), *("\t".join(r) for r in rows)]
    return "\n".join(lines) + "\n"


UK_ORDER = "202-1111111-1111111"
UK_REFUNDED = "202-2222222-2222222"


def uk_settlement(settlement_id: str = "5000001") -> str:
    """One order, one refund, a chargeback, fees, subscription, reserve: the everyday shapes, in GBP."""
    r = amount_row
    sid = {"settlement_id": settlement_id}
    return settlement_file(
        [
            r("Order", UK_ORDER, "ItemPrice", "Principal", "49.99", **sid),
            r("Order", UK_ORDER, "ItemPrice", "Tax", "8.33", **sid),
            r("Order", UK_ORDER, "ItemWithheldTax", "MarketplaceFacilitatorVAT-Principal", "-8.33", **sid),
            r("Order", UK_ORDER, "ItemFees", "Commission", "-7.50", **sid),
            r("Order", UK_ORDER, "ItemFees", "FBAPerUnitFulfillmentFee", "-3.20", **sid),
            r("Refund", UK_REFUNDED, "ItemPrice", "Principal", "-19.99", **sid),
            r("Refund", UK_REFUNDED, "ItemFees", "Commission", "3.00", **sid),
            r("Refund", UK_REFUNDED, "ItemFees", "RefundCommission", "-0.60", **sid),
            r("Chargeback Refund", UK_ORDER, "ItemPrice", "Principal", "-49.99", **sid),
            r("ServiceFee", "", "other-transaction", "Subscription Fee", "-25.00", **sid),
            r("other-transaction", "", "other-transaction", "Previous Reserve Amount Balance", "120.00", **sid),
            r("other-transaction", "", "other-transaction", "Current Reserve Amount", "-100.00", **sid),
            r("FBAFees", "FBA19CD9HGQ8", "Inbound Defect Fee", "Base fee", "-4.10", **sid),
            r("other-transaction", "", "FBA Inventory Reimbursement", "REVERSAL_REIMBURSEMENT", "12.40", **sid),
        ],
        settlement_id=settlement_id,
    )
