"""In-memory state of the Opayo simulator: vendors, merchant session keys, card identifiers, transactions,
settlement batches, settings, call counts and fault rules. Plus the small pure helpers they need (UK time,
minor/major units, card numbers).

Card data: a card identifier keeps only what a real gateway returns or derives (card type, last four digits,
expiry, cardholder name, whether the CVV matched and whether the number is one of the sandbox decline cards).
The card number and the CVV never outlive the request that carried them.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from simulators.common import FAULT_KINDS, FaultInjector, FaultRule

LONDON = ZoneInfo("Europe/London")

PI_OPERATIONS = (
    "createMsk",
    "getMsk",
    "createCardIdentifier",
    "createTransaction",
    "getTransaction",
    "instruction",
    "getInstructions",
    "threeDSChallenge",
)
REPORTING_COMMANDS = ("getTransactionDetail", "getTransactionList", "getBatchList", "getBatchDetail")
FAULT_OPERATIONS = (*PI_OPERATIONS, *(f"reporting:{command}" for command in REPORTING_COMMANDS))
# Opayo-specific fault kinds on top of simulators.common's (throttle and repeat_page have no Opayo meaning).
EXTRA_FAULT_KINDS = frozenset({"timeout_after_commit"})
OPAYO_FAULT_KINDS = frozenset({"error", "latency", "timeout"}) | EXTRA_FAULT_KINDS

# ISO 4217 codes with their minor-unit exponent (the currencies an Opayo/Elavon merchant account can carry, and more).
_TWO_DECIMALS = (
    "GBP EUR USD AUD CAD CHF CNY CZK DKK HKD HUF ILS INR MXN NOK NZD PLN RON SAR SEK SGD THB TRY ZAR AED BRL "
    "MYR PHP QAR RUB TWD"
)
CURRENCY_EXPONENTS: dict[str, int] = {
    **{code: 2 for code in _TWO_DECIMALS.split()},
    **{code: 0 for code in ("JPY", "KRW", "ISK", "CLP", "VND")},
    **{code: 3 for code in ("BHD", "KWD", "JOD", "OMR", "TND")},
}

# Official sandbox test cards: number → (Pi cardType, Reporting paymentsystem, 3-D Secure status).
TEST_CARDS: dict[str, tuple[str, str, str]] = {
    "4929000000006": ("Visa", "VISA", "Authenticated"),
    "4929000005559": ("Visa", "VISA", "CardNotEnrolled"),
    "4929000000014": ("Visa", "VISA", "IssuerNotEnrolled"),
    "4929000000022": ("Visa", "VISA", "Error"),
    "4484000000002": ("Visa", "VISA", "CardNotEnrolled"),
    "4462000000000003": ("VisaDebit", "DELTA", "Authenticated"),
    "4917300000000008": ("VisaElectron", "UKE", "Authenticated"),
    "5404000000000001": ("MasterCard", "MC", "Authenticated"),
    "5404000000000043": ("MasterCard", "MC", "CardNotEnrolled"),
    "5404000000000084": ("MasterCard", "MC", "IssuerNotEnrolled"),
    "5404000000000068": ("MasterCard", "MC", "Error"),
    "5573470000000001": ("DebitMasterCard", "MCDEBIT", "Authenticated"),
    "6759000000005": ("Maestro", "MAESTRO", "Authenticated"),
    "6705000000008": ("Maestro", "MAESTRO", "Authenticated"),
    "6777000000007": ("Maestro", "MAESTRO", "Authenticated"),
    "6766000000000": ("Maestro", "MAESTRO", "Authenticated"),
    "374200000000004": ("AmericanExpress", "AMEX", "NotChecked"),
    "36000000000008": ("Discover", "DC", "NotChecked"),
    "3569990000000009": ("JCB", "JCB", "NotChecked"),
    "4929602110085639": ("Visa", "VISA", "NotChecked"),
    "5403814948608092": ("MasterCard", "MC", "NotChecked"),
}
DECLINE_CARDS = frozenset({"4929602110085639", "5403814948608092"})
AVS_ADDRESS, AVS_POSTCODE = "88", "412"

# Reporting txstateid → the status text Opayo's FAQ gives for it (via lori698/sagepay-reporting-wrapper sagepay.cs).
TX_STATES: dict[int, str] = {
    5: "Transaction at 3D-Secure Authentication Stage.",
    21: "Successfully REGISTERED transaction, awaiting AUTHORISE.",
    10: "Transaction REJECTED by the Fraud Rules you have in place.",
    12: "Transaction DECLINED by the bank (NOTAUTHED).",
    14: "Successful DEFERRED transaction, awaiting RELEASE.",
    15: "Successful AUTHENTICATED transaction, awaiting AUTHORISE.",
    16: "Successfully authorised transaction.",
    18: "Transaction VOIDed by the Vendor.",
    19: "Successful DEFERRED transaction ABORTED by the Vendor.",
    22: "AUTHENTICATED or REGISTERED transaction CANCELLED by the Vendor.",
    26: "AUTHENTICATE transaction that can no longer be AUTHORISED against.  It has either expired, or been fully "
    "authorised.",
    27: "DEFERRED transaction that expired before it was RELEASEd or ABORTed.",
}

CAPTURE_TYPES = frozenset({"Payment", "Repeat", "Authorise", "Refund"})


# --- time ----------------------------------------------------------------------------------------------------


def london(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, LONDON)


def iso_timestamp(moment: float) -> str:
    """`2016-09-08T11:27:34.728+01:00`: ISO 8601, milliseconds, UK offset (Pi's `expiry` and instruction `date`)."""
    return london(moment).isoformat(timespec="milliseconds")


def uk_timestamp(moment: float, *, millis: bool = False) -> str:
    """`dd/mm/yyyy HH:MM:SS[.mmm]` in UK local time (the Reporting API's dates)."""
    value = london(moment)
    text = value.strftime("%d/%m/%Y %H:%M:%S")
    return f"{text}.{value.microsecond // 1000:03d}" if millis else text


def parse_uk_timestamp(value: str) -> float | None:
    """`dd/mm/yyyy[ HH:MM[:SS[.fff]]]` in UK local time → epoch seconds; None when unreadable."""
    text = value.strip()
    for fmt in ("%d/%m/%Y %H:%M:%S.%f", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=LONDON).timestamp()
        except ValueError:
            continue
    return None


def uk_day(moment: float) -> date:
    return london(moment).date()


def end_of_uk_day(day: date) -> float:
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), LONDON).timestamp() - 0.001


# --- money and cards -----------------------------------------------------------------------------------------


def major_units(amount: int, currency: str) -> str:
    """Integer minor units → the Reporting API's decimal major units (`5997`, GBP → `59.97`)."""
    exponent = CURRENCY_EXPONENTS.get(currency, 2)
    return str(Decimal(amount).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent)))


def luhn_ok(number: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = ord(char) - 48
        if position % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def card_brand(number: str) -> tuple[str, str, str]:
    """(Pi cardType, Reporting paymentsystem, default 3-D Secure status) for a card number."""
    known = TEST_CARDS.get(number)
    if known is not None:
        return known
    two, four = int(number[:2]), int(number[:4])
    if number[:2] in ("34", "37"):
        return "AmericanExpress", "AMEX", "NotChecked"
    if number[:4] in ("6759", "6705", "6777", "6766") or number[:2] in ("50", "56", "57", "58", "63", "67"):
        return "Maestro", "MAESTRO", "Authenticated"
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return "MasterCard", "MC", "Authenticated"
    if number[0] == "4":
        return "Visa", "VISA", "Authenticated"
    if number[:2] == "35":
        return "JCB", "JCB", "NotChecked"
    if number[:2] in ("30", "36", "38", "65") or number[:4] == "6011":
        return "Discover", "DC", "NotChecked"
    return "Visa", "VISA", "NotChecked"


def new_guid() -> str:
    """Opayo-style identifier: an upper-case GUID, 8-4-4-4-12."""
    return str(uuid.uuid4()).upper()


# --- records -------------------------------------------------------------------------------------------------


@dataclass
class Vendor:
    vendor_name: str
    integration_key: str
    integration_password: str
    reporting_user: str = ""
    reporting_password: str = ""
    strict_avs: bool = False

    def public(self) -> dict[str, Any]:
        return {
            "vendor_name": self.vendor_name,
            "integration_key": self.integration_key,
            "reporting_user": self.reporting_user,
            "strict_avs": self.strict_avs,
        }


@dataclass(slots=True)
class SessionKey:
    key: str
    vendor: str
    created: float
    expires_at: float
    failures: int = 0
    used: bool = False  # one successful card identifier per key


@dataclass(slots=True)
class Card:
    """What the gateway keeps about a tokenised card: never the number, never the CVV."""

    identifier: str
    vendor: str
    msk: str
    card_type: str
    payment_system: str
    last_four: str
    expiry_date: str
    cardholder_name: str
    decline: bool
    security_code: str  # avsCvcCheck.securityCode: Matched | NotMatched | NotProvided
    three_ds: str  # the test card's 3-D Secure outcome
    expires_at: float
    used: bool = False

    def public(self) -> dict[str, Any]:
        return {
            "card_identifier": self.identifier,
            "card_type": self.card_type,
            "last_four_digits": self.last_four,
            "expiry_date": self.expiry_date,
            "cardholder_name": self.cardholder_name,
            "decline_card": self.decline,
            "security_code": self.security_code,
        }


@dataclass(slots=True)
class Instruction:
    instruction_type: str
    date: float
    amount: int | None = None

    def public(self) -> dict[str, Any]:
        body: dict[str, Any] = {"instructionType": self.instruction_type, "date": iso_timestamp(self.date)}
        if self.amount is not None:
            body["amount"] = self.amount
        return body


@dataclass
class Transaction:
    id: str
    vendor: str
    vendor_tx_code: str
    tx_type: str  # Payment | Deferred | Authenticate | Repeat | Refund | Authorise
    amount: int
    currency: str
    description: str
    started: float
    card: Card
    status: str = "Ok"  # Ok | NotAuthed | Rejected | 3DAuth | Authenticated
    status_code: str = "0000"
    status_detail: str = "The Authorisation was Successful."
    completed: float | None = None
    customer_first_name: str = ""
    customer_last_name: str = ""
    billing: dict[str, str] = field(default_factory=dict)
    settlement_reference_text: str | None = None
    retrieval_reference: int | None = None
    bank_response_code: str = "00"
    bank_authorisation_code: str | None = None
    decline_detail: dict[str, str] | None = None
    avs: dict[str, str] | None = None
    three_ds: str | None = None
    acs_trans_id: str | None = None
    ds_trans_id: str | None = None
    reference_id: str | None = None
    avs_mode: str = "UseMSPSetting"  # the request's applyAvsCvcCheck
    three_ds_active: bool = True  # 3-D Secure ran (not disabled, e-commerce entry)
    acs_url: str | None = None
    hide_type: bool = False  # after a failed 3-D Secure challenge Opayo leaves transactionType out
    # 3-D Secure challenge
    creq: str | None = None
    notification_url: str | None = None
    issued_cres: dict[str, bool] = field(default_factory=dict)
    challenge_open: bool = False
    # later life
    released_amount: int | None = None
    released_at: float | None = None
    aborted: bool = False
    voided: bool = False
    cancelled: bool = False
    refunded_total: int = 0
    authorised_total: int = 0
    children: list[str] = field(default_factory=list)
    instructions: list[Instruction] = field(default_factory=list)
    batch_id: int | None = None
    settled_at: float | None = None

    # -- derived --

    def expired(self, now: float, settings: Settings) -> bool:
        """A Deferred never released nor aborted within `deferred_expiry_days` (Opayo aborts it automatically)."""
        return (
            self.tx_type == "Deferred"
            and self.status == "Ok"
            and self.released_amount is None
            and not self.aborted
            and not self.voided
            and settings.deferred_expiry_days > 0
            and now - self.started > settings.deferred_expiry_days * 86400
        )

    def captured_amount(self) -> int | None:
        """What reaches the acquirer: the amount, or a Deferred's released amount; None while nothing is captured."""
        if self.status != "Ok":
            return None
        if self.tx_type in CAPTURE_TYPES:
            return self.amount
        if self.tx_type == "Deferred":
            return self.released_amount
        return None

    def settle_time(self) -> float:
        return self.released_at if self.tx_type == "Deferred" and self.released_at is not None else self.started

    def settleable(self) -> bool:
        return self.batch_id is None and not self.voided and self.captured_amount() is not None

    def tx_state(self, now: float, settings: Settings) -> int:
        if self.status == "3DAuth":
            return 5
        if self.status == "Rejected":
            return 10
        if self.status == "NotAuthed":
            return 12
        if self.voided:
            return 18
        if self.tx_type == "Deferred":
            if self.aborted:
                return 19
            if self.released_amount is not None:
                return 16
            return 27 if self.expired(now, settings) else 14
        if self.tx_type == "Authenticate":
            if self.cancelled:
                return 22
            if self.authorise_limit(settings) <= self.authorised_total:
                return 26
            return 21 if self.status == "Registered" else 15
        return 16

    def authorise_limit(self, settings: Settings) -> int:
        return self.amount * settings.authorise_limit_percent // 100

    def current_code(self, settings: Settings) -> tuple[str, str]:
        """(statusCode, statusDetail) as GET /transactions shows them after instructions."""
        if self.voided:
            return settings.void_status_code, settings.void_status_detail
        if self.aborted:
            return settings.abort_status_code, settings.abort_status_detail
        if self.cancelled:
            return settings.cancel_status_code, settings.cancel_status_detail
        if self.released_amount is not None:
            return settings.release_status_code, settings.release_status_detail
        return self.status_code, self.status_detail


@dataclass
class Batch:
    batch_id: int
    vendor: str
    processor: str
    day: date
    completed: float
    failed: bool = False
    transaction_ids: list[str] = field(default_factory=list)
    # currency → [payment number, payment value, refund number, refund value] (values in minor units)
    groups: dict[str, list[int]] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "vendor_name": self.vendor,
            "authprocessorname": self.processor,
            "date": self.day.isoformat(),
            "completed": iso_timestamp(self.completed),
            "failed": self.failed,
            "transaction_ids": list(self.transaction_ids),
            "groups": [
                {
                    "currency": currency,
                    "payment_number": values[0],
                    "payment_value": major_units(values[1], currency),
                    "refund_number": values[2],
                    "refund_value": major_units(values[3], currency),
                }
                for currency, values in sorted(self.groups.items())
            ],
        }


@dataclass
class Settings:
    """Everything `/_sim/settings` can change (README: which defaults are Opayo's and which are our guesses)."""

    msk_ttl_seconds: float = 400.0
    card_identifier_ttl_seconds: float = 400.0
    msk_max_failures: int = 3
    duplicate_vendortxcode_status: int = 422
    duplicate_vendortxcode_body: dict[str, Any] | None = None  # None: the default 4042 errors[] body
    release_status_code: str = "2004"
    release_status_detail: str = "The Release was Successful."
    void_status_code: str = "2005"
    void_status_detail: str = "The Void was Successful."
    abort_status_code: str = "2006"
    abort_status_detail: str = "The Abort was Successful."
    cancel_status_code: str = "2012"
    cancel_status_detail: str = "The Cancel was Successful."
    challenge_result_status: int = 201  # HTTP status of POST /3d-secure-challenge (both outcomes)
    acs_answer: str = "challenge"  # what the simulated ACS page wants typed (case-insensitive)
    deferred_expiry_days: int = 30  # 0 disables the automatic abort
    authorise_limit_percent: int = 115
    reporting_not_found_code: str = "0043"
    reporting_not_found_error: str = "Unable to find the transaction for the vendortxcode or vpstxid supplied."
    reporting_max_rows: int = 50  # endrow - startrow may not exceed this (0099)
    reporting_max_range_days: int = 31  # enddate - startdate may not exceed this (0039); 0 disables the check
    acquirer: str = "Elavon"
    clock_offset_seconds: float = 0.0  # shifts the simulator's "now" (transactions, expiries, UK days)

    def public(self) -> dict[str, Any]:
        return asdict(self)

    def update(self, data: dict[str, Any]) -> None:
        known = {f.name: f for f in fields(self)}
        unknown = set(data) - set(known)
        if unknown:
            raise ValueError(f"unknown settings {sorted(unknown)}; allowed: {sorted(known)}")
        for name, value in data.items():
            current = getattr(self, name)
            if name == "duplicate_vendortxcode_body":
                if value is not None and not isinstance(value, dict):
                    raise ValueError("duplicate_vendortxcode_body must be a JSON object or null")
                setattr(self, name, value)
            elif isinstance(current, bool):
                setattr(self, name, bool(value))
            elif isinstance(current, int):
                setattr(self, name, int(value))
            elif isinstance(current, float):
                setattr(self, name, float(value))
            else:
                setattr(self, name, str(value))
        if not 100 <= self.duplicate_vendortxcode_status <= 599 or not 100 <= self.challenge_result_status <= 599:
            raise ValueError("HTTP statuses must be between 100 and 599")
        if self.msk_ttl_seconds <= 0 or self.card_identifier_ttl_seconds <= 0 or self.msk_max_failures < 1:
            raise ValueError("TTLs must be positive and msk_max_failures at least 1")
        if self.reporting_max_rows < 1 or self.reporting_max_range_days < 0 or self.deferred_expiry_days < 0:
            raise ValueError("reporting_max_rows must be positive; ranges and expiries not negative")


class OpayoFaultInjector(FaultInjector):
    """simulators.common's injector plus the Opayo-only kind `timeout_after_commit` (the request is applied, then
    the answer is withheld for `seconds` and finally a 504 sent). `throttle` and `repeat_page` are refused."""

    def __init__(self) -> None:
        super().__init__(operations=FAULT_OPERATIONS)

    def add(self, spec: dict[str, Any]) -> FaultRule:
        kind = str(spec.get("kind", "error"))
        if kind not in OPAYO_FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {sorted(OPAYO_FAULT_KINDS)}")
        if kind in FAULT_KINDS:
            return super().add(spec)
        rule = super().add({**spec, "kind": "timeout"})
        rule.kind = kind
        return rule


class State:
    def __init__(self) -> None:
        self.settings = Settings()
        self.vendors: dict[str, Vendor] = {}
        self.basic_auth: dict[str, str] = {}  # "Basic <b64>" header → vendor name (cache, rebuilt on change)
        self.session_keys: dict[str, SessionKey] = {}
        self.cards: dict[str, Card] = {}
        self.transactions: dict[str, Transaction] = {}
        self.by_code: dict[tuple[str, str], str] = {}  # (vendor, vendorTxCode) → transaction id
        self.batches: dict[int, Batch] = {}
        self.calls: Counter[tuple[str, int]] = Counter()
        self.faults = OpayoFaultInjector()
        self.rng = random.Random()
        self.next_retrieval_reference = 30_416_885 + self.rng.randrange(1_000_000)
        self.next_batch_id = 1_234_567 + self.rng.randrange(100_000)

    def now(self) -> float:
        return time.time() + self.settings.clock_offset_seconds

    def add_vendor(self, vendor: Vendor) -> None:
        self.vendors[vendor.vendor_name] = vendor
        self.basic_auth = {}

    def retrieval_reference(self) -> int:
        self.next_retrieval_reference += 1
        return self.next_retrieval_reference

    def find(self, key: str) -> Transaction | None:
        """By transaction id (any case, braces allowed) or else by vendorTxCode (first vendor that has it)."""
        tx = self.transactions.get(key.strip("{}").upper())
        if tx is not None:
            return tx
        for (_vendor, code), tx_id in self.by_code.items():
            if code == key:
                return self.transactions[tx_id]
        return None

    # -- settlement --

    def close_day(self, day: date, *, fail: bool, completed: float | None, vendor: str | None = None) -> list[Batch]:
        """Settle every settleable transaction up to the end of `day` (UK time) into one batch per vendor for the
        acquirer (vendors with nothing to settle get no batch).

        A failed file gives the same batches, empty, and leaves the transactions pending for the next close."""
        cutoff = end_of_uk_day(day)
        when = completed if completed is not None else cutoff + 0.001 + 30 * 60 + 10.123  # 00:30:10.123 next day
        pending: dict[str, list[Transaction]] = {}
        for tx in self.transactions.values():
            if (vendor is None or tx.vendor == vendor) and tx.settleable() and tx.settle_time() <= cutoff:
                pending.setdefault(tx.vendor, []).append(tx)
        batches = []
        for vendor_name, settled in pending.items():
            self.next_batch_id += 1
            batch = Batch(self.next_batch_id, vendor_name, self.settings.acquirer, day, when, failed=fail)
            for tx in [] if fail else sorted(settled, key=Transaction.settle_time):
                amount = tx.captured_amount() or 0
                tx.batch_id, tx.settled_at = batch.batch_id, when
                batch.transaction_ids.append(tx.id)
                group = batch.groups.setdefault(tx.currency, [0, 0, 0, 0])
                if tx.tx_type == "Refund":
                    group[2] += 1
                    group[3] += amount
                else:
                    group[0] += 1
                    group[1] += amount
            self.batches[batch.batch_id] = batch
            batches.append(batch)
        return batches
