"""What a settlement row is (order, refund, account-level fee, reserve) and which GL account it posts to."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mappings.models import SettlementAccountMapping

# Rows of these types belong to one order (by order-id, or merchant-order-id for our own orders).
ORDER_TYPES = frozenset({"Order", "Order_Retrocharge", "Liquidations", "Liquidations Adjustments"})
REFUND_TYPES = frozenset(
    {"Refund", "Chargeback Refund", "Refund_Retrocharge", "A-to-z Guarantee Claim", "SAFE-T Reimbursement"}
)
RESERVE_DESCRIPTIONS = frozenset({"Previous Reserve Amount Balance", "Current Reserve Amount"})
# Other rows (adjustments, retrocharges) that carry an Amazon order id are matched to it too; an FBA shipment
# id in order-id (FBAFees rows) is not an order.
AMAZON_ORDER_ID = re.compile(r"\d{3}-\d{7}-\d{7}")
WILDCARD = "*"


def type_kind(transaction_type: str, description: str, *, has_order: bool) -> str:
    """The kind as far as the row's type tells; "maybe" when only the order-id's shape can: an Amazon order id
    (AMAZON_ORDER_ID) makes the row an order row, anything else (an FBA shipment id) an account-level fee."""
    if description in RESERVE_DESCRIPTIONS:
        return "transfer"
    if transaction_type in REFUND_TYPES and has_order:
        return "refund"
    if transaction_type in ORDER_TYPES and has_order:
        return "order"
    return "maybe" if has_order else "fee"


@dataclass
class GlResolver:
    """(transaction type, amount type, description) → GL account id through the finance team's mapping rows.

    The most specific row wins: most fields named; on a tie a named transaction type beats a named amount type,
    which beats a named description. No match is None (an exception upstream), never a default account.
    """

    rules: list[tuple[tuple[int, int, int, int], str, str, str, int]]
    _cache: dict[tuple[str, str, str], int | None] = field(default_factory=dict)

    @classmethod
    def load(cls) -> GlResolver:
        rules = []
        for m in SettlementAccountMapping.objects.filter(gl_account__is_active=True).values_list(
            "transaction_type", "amount_type", "amount_description", "gl_account_id"
        ):
            tt, at, ad, gl = m
            named = (int(tt != WILDCARD), int(at != WILDCARD), int(ad != WILDCARD))
            rules.append(((sum(named), *named), tt, at, ad, gl))
        rules.sort(key=lambda r: r[0], reverse=True)
        return cls(rules=rules)

    def resolve(self, transaction_type: str, amount_type: str, description: str) -> int | None:
        key = (transaction_type, amount_type, description)
        if key in self._cache:
            return self._cache[key]
        found = None
        for _, tt, at, ad, gl in self.rules:
            if tt in (WILDCARD, transaction_type) and at in (WILDCARD, amount_type) and ad in (WILDCARD, description):
                found = gl
                break
        if len(self._cache) < 10_000:
            self._cache[key] = found
        return found
