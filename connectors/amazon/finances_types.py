"""What the Finances 2024-06-19 client returns (listTransactions), and the parser of Amazon's `Transaction` objects.
Model: https://github.com/amzn/selling-partner-api-models/blob/main/models/finances-api-model/finances_2024-06-19.json
(copied to simulators/spapi/fixtures/models/).

Lenient where Amazon's own documents disagree with the schema: `transactionStatus` in any case (the model's example
says `Released`, its enum `RELEASED`), and transaction `breakdowns` as a list (the schema) or as an object holding
`breakdowns` (the model's example). Amounts (`currencyAmount`, a JSON number) become Decimal through their text,
never through binary floating point arithmetic.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.amazon.base import malformed

OPERATION = "listTransactions"
DEFERRED, RELEASED, DEFERRED_RELEASED = "DEFERRED", "RELEASED", "DEFERRED_RELEASED"
TRANSACTION_STATUSES = (DEFERRED, RELEASED, DEFERRED_RELEASED)


@dataclass(frozen=True)
class Breakdown:
    """One `Breakdown`: a charge type, its amount, and the finer breakdowns it is made of."""

    breakdown_type: str
    amount: Decimal
    currency: str
    breakdowns: tuple[Breakdown, ...] = ()

    def leaves(self, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Breakdown]]:
        """The finest breakdowns under this one, each with the types above it (e.g. ("Expenses", "Commission"))."""
        here = (*path, self.breakdown_type)
        if not self.breakdowns:
            yield here, self
            return
        for child in self.breakdowns:
            yield from child.leaves(here)


@dataclass(frozen=True)
class Transaction:
    transaction_id: str
    transaction_type: str
    status: str  # upper case: DEFERRED, RELEASED, DEFERRED_RELEASED (or whatever else Amazon sends)
    posted_at: datetime | None
    total: Decimal | None
    currency: str
    marketplace_id: str
    description: str = ""
    related: dict[str, str] = field(default_factory=dict)  # relatedIdentifierName → value
    breakdowns: tuple[Breakdown, ...] = ()
    deferral_reason: str = ""
    maturity_date: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # as Amazon sent it

    @property
    def order_id(self) -> str:
        return self.related.get("ORDER_ID", "")

    def leaves(self) -> list[tuple[tuple[str, ...], Breakdown]]:
        return [leaf for top in self.breakdowns for leaf in top.leaves()]


@dataclass(frozen=True)
class TransactionsPage:
    transactions: tuple[Transaction, ...]
    next_token: str | None
    rate_limit: float | None


def _decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise malformed(OPERATION, f"a transaction with {what} {value!r}, not a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise malformed(OPERATION, f"a transaction with {what} {value!r}, not a number") from None
    if not number.is_finite():
        raise malformed(OPERATION, f"a transaction with {what} {value!r}, not a number")
    return number


def _money(raw: Any, what: str) -> tuple[Decimal | None, str]:
    if raw is None:
        return None, ""
    if not isinstance(raw, dict):
        raise malformed(OPERATION, f"a transaction whose {what} is not a Currency object")
    amount = raw.get("currencyAmount")
    return (None if amount is None else _decimal(amount, what)), str(raw.get("currencyCode") or "")


def _time(value: Any, what: str) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise malformed(OPERATION, f"a transaction with {what} {value!r}, not ISO 8601")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise malformed(OPERATION, f"a transaction with {what} {value!r}, not ISO 8601") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_breakdown(raw: Any, currency: str = "") -> Breakdown:
    if not isinstance(raw, dict) or not isinstance(raw.get("breakdownType"), str):
        raise malformed(OPERATION, "a breakdown without a breakdownType")
    amount, code = _money(raw.get("breakdownAmount"), f"breakdown {raw['breakdownType']}")
    return Breakdown(
        breakdown_type=raw["breakdownType"],
        amount=amount if amount is not None else Decimal(0),
        currency=code or currency,
        breakdowns=_breakdowns(raw.get("breakdowns"), code or currency),
    )


def _breakdowns(raw: Any, currency: str) -> tuple[Breakdown, ...]:
    if raw is None:
        return ()
    if isinstance(raw, dict):  # the model's example wraps the list: {"breakdowns": [...]}
        raw = raw.get("breakdowns") or []
    if not isinstance(raw, list):
        raise malformed(OPERATION, "a transaction whose breakdowns are not a list")
    return tuple(parse_breakdown(item, currency) for item in raw)


def parse_transaction(raw: Any) -> Transaction:
    """A `Transaction` as Amazon sends it → Transaction (RetryableConnectorError, like every connector's 2xx answer
    without what the model promises, when it is not an object or its amounts and dates are not what they say)."""
    if not isinstance(raw, dict):
        raise malformed(OPERATION, "a transaction that is not an object")
    total, currency = _money(raw.get("totalAmount"), "totalAmount")
    related: dict[str, str] = {}
    for identifier in raw.get("relatedIdentifiers") or []:
        if isinstance(identifier, dict) and identifier.get("relatedIdentifierName"):
            related[str(identifier["relatedIdentifierName"])] = str(identifier.get("relatedIdentifierValue") or "")
    reason, maturity = "", None
    for context in raw.get("contexts") or []:
        if isinstance(context, dict) and context.get("contextType") == "DeferredContext":
            reason = str(context.get("deferralReason") or "")
            maturity = _time(context.get("maturityDate"), "maturityDate")
    metadata: dict[str, Any] = raw.get("sellingPartnerMetadata") or {}
    metadata = metadata if isinstance(metadata, dict) else {}
    details: dict[str, Any] = raw["marketplaceDetails"] if isinstance(raw.get("marketplaceDetails"), dict) else {}
    transaction_id = raw.get("transactionId")
    if not isinstance(transaction_id, str) or not transaction_id:
        # Optional in the model: a transaction without one is known by its content.
        digest = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()
        transaction_id = f"sha256:{digest}"
    return Transaction(
        transaction_id=transaction_id,
        transaction_type=str(raw.get("transactionType") or ""),
        status=str(raw.get("transactionStatus") or "").upper(),
        posted_at=_time(raw.get("postedDate"), "postedDate"),
        total=total,
        currency=currency,
        marketplace_id=str(metadata.get("marketplaceId") or details.get("marketplaceId") or ""),
        description=str(raw.get("description") or ""),
        related=related,
        breakdowns=_breakdowns(raw.get("breakdowns"), currency),
        deferral_reason=reason,
        maturity_date=maturity,
        raw=raw,
    )
