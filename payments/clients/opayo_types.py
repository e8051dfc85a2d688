"""Shapes our services see of Opayo data, and the conversions between money and Opayo's minor units.

Pi speaks integer minor units (100 = £1.00); the Reporting API speaks decimal major units. Both are converted
here and nowhere else, exactly: an amount that does not fit the currency's minor unit is refused, never rounded.
Docs: https://developer-eu.elavon.com/docs/opayo (Pi REST API v1, Reporting & Admin API).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

# ISO 4217 exponents that are not 2 (Opayo: "100 pence to charge £1.00, or 1 to charge ¥1").
_EXPONENTS = {"JPY": 0, "KRW": 0, "ISK": 0, "HUF": 2, "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3}


def currency_exponent(currency: str) -> int:
    return _EXPONENTS.get(currency.upper(), 2)


def to_minor_units(amount: Decimal, currency: str) -> int:
    scaled = amount * (Decimal(10) ** currency_exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} {currency} has more decimal places than {currency} allows")
    return int(scaled)


def from_minor_units(value: Any, currency: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"not an integer amount: {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"not an integer amount: {value!r}") from None
    return Decimal(number).scaleb(-currency_exponent(currency))


def parse_major_units(value: str) -> Decimal:
    try:
        return Decimal(value.strip())
    except (InvalidOperation, AttributeError):
        raise ValueError(f"not a decimal amount: {value!r}") from None


@dataclass(frozen=True)
class OpayoTransaction:
    """A Pi transaction as Opayo reports it (create response or GET). Declines are results, not errors."""

    http_status: int
    transaction_id: str
    transaction_type: str  # Payment | Deferred | Repeat | Refund | Authenticate | Authorise | "" (failed 3DS)
    status: str  # Ok | NotAuthed | Rejected | 3DAuth | Malformed | Invalid | Error | Authenticated | Registered
    status_code: str
    status_detail: str
    amount: Decimal | None
    currency: str
    retrieval_reference: str = ""
    bank_response_code: str = ""
    bank_authorisation_code: str = ""
    card_type: str = ""
    last_four_digits: str = ""
    avs_cvc_status: str = ""
    three_d_secure_status: str = ""
    acs_url: str = ""
    settlement_reference_text: str = ""
    decline_detail: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def succeeded(self) -> bool:
        return self.status == "Ok"

    @property
    def needs_customer(self) -> bool:
        return self.status == "3DAuth"


@dataclass(frozen=True)
class OpayoInstruction:
    instruction_type: str
    date: str


@dataclass(frozen=True)
class ReportingTransaction:
    """getTransactionDetail: what the Reporting API knows of one transaction (amounts in major units)."""

    vps_tx_id: str
    vendor_tx_code: str
    transaction_type: str
    tx_state_id: int | None
    status: str
    amount: Decimal | None
    currency: str
    batch_id: str
    vps_auth_code: str
    bank_auth_code: str
    started: datetime | None
    raw: dict[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class BatchGroup:
    currency: str
    payment_number: int
    payment_value: Decimal
    refund_number: int
    refund_value: Decimal


@dataclass(frozen=True)
class Batch:
    """getBatchList: one settlement file (per acquirer and day), totals per currency."""

    batch_id: str
    processor: str
    completed: datetime | None
    groups: list[BatchGroup]
    raw: str = field(default="", repr=False)  # the <batch> element exactly as received


@dataclass(frozen=True)
class BatchTransaction:
    """getBatchDetail: one settled transaction (amount in major units, as Opayo reports it)."""

    vps_tx_id: str
    vendor_tx_code: str
    transaction_type: str
    amount: Decimal | None
    currency: str
    started: datetime | None
    row_number: int | None = None
    raw: dict[str, str] = field(default_factory=dict, repr=False)  # every element of the row, as text
