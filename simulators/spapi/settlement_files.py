"""Deterministic, streaming generator of Amazon V2 settlement flat files (GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2).

Used by the tests, the demo, the SP-API simulator and the settlement benchmarks. Standard library only.

Layout (shared/reference/spapi-detailed.md §3.1): tab-separated; line 1 the header (23 documented columns, or 24
with `promotion-id` as real files have); line 2 the summary row (settlement-id, the three dates, total-amount,
currency, every other cell empty); then one row per amount, each starting with the settlement-id, with columns
2–6 left empty as in real files. `total-amount` is the exact sum of the amount rows. Sign convention: money to
the seller positive, fees and money back to buyers negative.

Styles (dates and decimal separator):

- ``"iso"`` (Amazon.co.uk / Amazon.com style): dates ``2025-06-09 05:23:19 UTC``, posted-date ``2025-06-09``,
  decimal point.
- ``"de"``: dates ``14.03.2023 07:49:55 UTC``, posted-date ``14.03.2023``, decimal comma (``1141,18``).
- ``"us"``: as ``"iso"`` but posted-date ``06/09/25`` (mm/dd/yy).

Constant memory whatever the size: `write_settlement` runs the generator twice with the same seed, a first pass
that only sums and counts (the summary row needs the total before any amount row is written) and a second that
writes. Money is integer minor units (cents) internally, rounded half-up; Decimal at the API; no floats.

Text only: callers choose the encoding (every generated value is ASCII unless an `OrderSpec` carries other
characters; Amazon serves EU files as windows-1252 or UTF-8 depending on the marketplace).

From the reference (§3.1, §3.2): columns and their order, the summary-row layout, the DE date format and decimal
comma, the ``YYYY-MM-DD HH:MM:SS UTC`` posted-date-time, the transaction-type / amount-type / amount-description
values, the sign convention (including Refund: Principal −, Commission +, RefundCommission −), one EU settlement
mixing marketplaces. Chosen here (no real V2 file to copy): posted-date ``YYYY-MM-DD`` in "iso" and mm/dd/yy in
"us"; columns 2–6 empty on amount rows (as in real V1 files); quantity-purchased on Order rows only; 15 % referral
fee (minimum 0.30, £0.25), RefundCommission 20 % of it up to 5.00, per-SKU FBA fees 1.95–5.95 per unit; 10 % of
UK/EU items under marketplace-facilitator VAT (Principal net, Tax, ItemWithheldTax −Tax), US/CA sales tax always
withheld (MarketplaceFacilitatorTax-*); ShippingChargeback = −shipping on AFN items; id formats (3-7-7 order ids
with the simulator's marketplace prefixes, ``D`` + 8 alphanumerics shipment ids, 14-digit order-item codes and
adjustment ids); subscription fee amounts; advertising charges as ServiceFee / Cost of Advertising /
TransactionTotalAmount; storage fee and reserve rows posted at fixed points of the period.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import io
import random
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal, Protocol, TextIO

COLUMNS: tuple[str, ...] = (
    "settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date", "total-amount", "currency",
    "transaction-type", "order-id", "merchant-order-id", "adjustment-id", "shipment-id", "marketplace-name",
    "amount-type", "amount-description", "amount", "fulfillment-id", "posted-date", "posted-date-time",
    "order-item-code", "merchant-order-item-id", "merchant-adjustment-item-id", "sku", "quantity-purchased",
    "promotion-id",
)  # fmt: skip
Style = Literal["iso", "de", "us"]
STYLES: tuple[str, ...] = ("iso", "de", "us")
DAMAGE = ("amount", "columns", "settlement_id", "date")

# Row kinds (amount-type, amount-description) and transaction types written by the generator.
ORDER, REFUND, CHARGEBACK, OTHER, SERVICE = "Order", "Refund", "Chargeback Refund", "other-transaction", "ServiceFee"
PRINCIPAL, TAX, SHIPPING, SHIPPING_TAX = (
    ("ItemPrice", "Principal"), ("ItemPrice", "Tax"), ("ItemPrice", "Shipping"), ("ItemPrice", "ShippingTax"),
)  # fmt: skip
PROMO_PRINCIPAL, PROMO_SHIPPING = ("Promotion", "Principal"), ("Promotion", "Shipping")
COMMISSION, FBA_FEE = ("ItemFees", "Commission"), ("ItemFees", "FBAPerUnitFulfillmentFee")
SHIPPING_CHARGEBACK, REFUND_COMMISSION = ("ItemFees", "ShippingChargeback"), ("ItemFees", "RefundCommission")
VAT_WITHHELD = ("ItemWithheldTax", "MarketplaceFacilitatorVAT-Principal"), (
    "ItemWithheldTax", "MarketplaceFacilitatorVAT-Shipping",
)  # fmt: skip
TAX_WITHHELD = ("ItemWithheldTax", "MarketplaceFacilitatorTax-Principal"), (
    "ItemWithheldTax", "MarketplaceFacilitatorTax-Shipping",
)  # fmt: skip
PREVIOUS_RESERVE = ("other-transaction", "Previous Reserve Amount Balance")
CURRENT_RESERVE = ("other-transaction", "Current Reserve Amount")
STORAGE_FEE = ("other-transaction", "Storage Fee")
SUBSCRIPTION_FEE = ("other-transaction", "Subscription Fee")
ADVERTISING = ("Cost of Advertising", "TransactionTotalAmount")


class TextSink(Protocol):
    """Where files are written: any text stream (TextIO, StringIO, an open file, sys.stdout)."""

    def write(self, s: str, /) -> object: ...


Key = tuple[str, str, str]  # (transaction-type, amount-type, amount-description)
Row = tuple[str, str, int, str]  # amount-type, amount-description, cents, promotion-id
# transaction-type, order-id, merchant-order-id, adjustment-id, shipment-id, marketplace-name, fulfillment-id,
# posted (epoch seconds, UTC), order-item-code, merchant-order-item-id, merchant-adjustment-item-id, sku, quantity
Head = tuple[str, str, str, str, str, str, str, int, str, str, str, str, str]
Group = tuple[Head, list[Row]]

# --- marketplaces ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Market:
    name: str
    currency: str
    vat_bp: int | None  # VAT in basis points, prices VAT-inclusive; None = sales tax on top (US/CA)
    prefixes: tuple[str, ...]  # first group of the 3-7-7 order id


_EU_PREFIXES = ("402", "403", "404", "405", "406", "407", "408")
MARKETPLACES: dict[str, _Market] = {
    m.name: m
    for m in (
        _Market("Amazon.co.uk", "GBP", 2000, ("202", "203", "204", "205", "206")),
        _Market("Amazon.de", "EUR", 1900, ("302", "303", "304", "305", "306")),
        _Market("Amazon.fr", "EUR", 2000, _EU_PREFIXES),
        _Market("Amazon.it", "EUR", 2200, _EU_PREFIXES),
        _Market("Amazon.es", "EUR", 2100, _EU_PREFIXES),
        _Market("Amazon.nl", "EUR", 2100, _EU_PREFIXES),
        _Market("Amazon.se", "SEK", 2500, _EU_PREFIXES),
        _Market("Amazon.pl", "PLN", 2300, _EU_PREFIXES),
        _Market("Amazon.com", "USD", None, ("111", "112", "113", "114")),
        _Market("Amazon.ca", "CAD", None, ("701", "702")),
    )
}
# Generated orders per settlement currency (weights in %): one EU settlement mixes the EUR marketplaces.
DEFAULT_MARKETPLACES: dict[str, tuple[tuple[str, int], ...]] = {
    "EUR": (("Amazon.de", 40), ("Amazon.fr", 20), ("Amazon.it", 15), ("Amazon.es", 15), ("Amazon.nl", 10)),
    "GBP": (("Amazon.co.uk", 100),),
    "USD": (("Amazon.com", 100),),
    "CAD": (("Amazon.ca", 100),),
    "SEK": (("Amazon.se", 100),),
    "PLN": (("Amazon.pl", 100),),
}
_SALES_TAX_CURRENCIES = ("USD", "CAD")
# Chosen figures, in minor units: monthly Professional plan fee, minimum referral fee.
_SUBSCRIPTION = {"GBP": 2500, "EUR": 3900, "USD": 3999, "CAD": 2999, "SEK": 39900, "PLN": 17900}
_MIN_COMMISSION = {"GBP": 25, "SEK": 300, "PLN": 130}
_US_TAX_BP = (0, 600, 725, 825, 887, 1000, 400, 650)  # state + local sales tax rates picked per US/CA item
_DEFAULT_SKUS = tuple(f"SKU-{n:04d}" for n in range(1, 41))

# --- specs and facts --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class OrderSpec:
    """One order item settled in the file (an Order group of rows; a Refund group too if refunded).

    `principal` is the item price total (all units); for VAT marketplaces VAT-inclusive unless `tax` is given
    separately (the marketplace-facilitator layout). Fees default to the generator's rules (15 % commission,
    a per-SKU FBA fee for AFN); pass `commission`/`fba_fee` (positive magnitudes) to fix them.
    """

    amazon_order_id: str
    merchant_order_id: str = ""
    sku: str
    quantity: int = 1
    principal: Decimal
    marketplace_name: str = "Amazon.co.uk"
    fulfillment: Literal["AFN", "MFN"] = "AFN"
    shipping: Decimal = Decimal(0)
    posted: datetime
    tax: Decimal = Decimal(0)
    shipping_tax: Decimal = Decimal(0)
    promotion: Decimal = Decimal(0)  # discount on the item (positive; written as a negative Promotion row)
    withheld_tax: bool = False  # marketplace facilitator: Amazon withholds `tax`/`shipping_tax` (ItemWithheldTax)
    commission: Decimal | None = None
    fba_fee: Decimal | None = None  # total for the item (all units), AFN only
    refunded: bool | None = None  # None: `SettlementSpec.refund_rate` decides
    order_item_code: str = ""  # "" = generated
    shipment_id: str = ""  # "" = generated
    promotion_id: str = ""  # "" = generated when there is a promotion

    def __post_init__(self) -> None:
        if self.fulfillment not in ("AFN", "MFN"):
            raise ValueError(f"fulfillment must be AFN or MFN, not {self.fulfillment!r}")
        if self.quantity < 1:
            raise ValueError("quantity must be at least 1")


@dataclass(frozen=True, kw_only=True)
class SettlementSpec:
    """What to generate. Either explicit `orders`, `generated_orders` random ones, or `rows_target` amount rows.

    - `rows_target`: generate orders until the file has exactly that many amount rows (the last few are
      advertising charges when no whole order fits), for benchmarks. Not combined with `generated_orders`.
    - `refund_rate`: share (0–1, Decimal) of order items refunded in the same settlement.
    - `chargebacks`: that many settled items (chosen by reservoir sampling) get "Chargeback Refund" rows.
    - `reserve`: (previous balance released, current reserve held): written +|previous| and −|current|.
    - `service_fees`: the Subscription Fee and an advertising (ServiceFee / Cost of Advertising) charge.
    - `fba_storage_fee`: an other-transaction Storage Fee of −|fee|.
    - `marketplaces`: marketplace names for generated orders (default by currency; EUR mixes DE/FR/IT/ES/NL).
    - `id_limit`: the facts keep at most this many order ids per list (counts are always exact).
    """

    settlement_id: str
    currency: str
    start: datetime
    end: datetime
    deposit: datetime
    style: Style = "iso"
    columns: Literal[23, 24] = 24
    orders: Sequence[OrderSpec] = ()
    generated_orders: int = 0
    rows_target: int | None = None
    seed: int = 0
    refund_rate: Decimal = Decimal("0.03")
    chargebacks: int = 0
    reserve: tuple[Decimal | None, Decimal | None] | None = None
    service_fees: bool = False
    fba_storage_fee: Decimal | None = None
    marketplaces: Sequence[str] = ()
    skus: Sequence[str] = ()
    crlf: bool = False
    posted_date_time: bool = True  # False leaves posted-date-time empty (posted-date only)
    id_limit: int = 10_000

    def __post_init__(self) -> None:
        object.__setattr__(self, "orders", tuple(self.orders))
        object.__setattr__(self, "marketplaces", tuple(self.marketplaces))
        object.__setattr__(self, "skus", tuple(self.skus))
        for name in ("start", "end", "deposit"):
            object.__setattr__(self, name, _utc(getattr(self, name)))
        if self.style not in STYLES:
            raise ValueError(f"style must be one of {', '.join(STYLES)}, not {self.style!r}")
        if self.columns not in (23, 24):
            raise ValueError("columns must be 23 or 24")
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise ValueError(f"currency must be a 3-letter code, not {self.currency!r}")
        if not self.settlement_id or any(c in self.settlement_id for c in "\t\r\n"):
            raise ValueError("settlement_id must be non-empty text without tabs or newlines")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.generated_orders < 0 or self.chargebacks < 0:
            raise ValueError("generated_orders and chargebacks must not be negative")
        if self.rows_target is not None and (self.rows_target < 0 or self.generated_orders):
            raise ValueError("rows_target must be >= 0 and is not combined with generated_orders")
        if not Decimal(0) <= Decimal(self.refund_rate) <= Decimal(1):
            raise ValueError("refund_rate must be between 0 and 1")
        for name in self.marketplaces:
            if name not in MARKETPLACES:
                raise ValueError(f"unknown marketplace {name!r} (known: {', '.join(MARKETPLACES)})")
        if (
            (self.generated_orders or self.rows_target)
            and not self.marketplaces
            and (self.currency not in DEFAULT_MARKETPLACES)
        ):
            raise ValueError(f"no default marketplaces for {self.currency}: pass marketplaces=")


@dataclass(frozen=True)
class SettlementFacts:
    """What a generated file contains, from the first pass (no parsing needed to know the answers)."""

    settlement_id: str
    currency: str
    total: Decimal
    amount_rows: int
    lines: int  # physical lines: header + summary + amount rows
    sums: dict[Key, Decimal]  # per (transaction-type, amount-type, amount-description)
    counts: dict[Key, int]
    order_count: int  # distinct orders with Order rows
    refund_count: int  # distinct orders with Refund rows
    chargeback_count: int  # distinct orders with Chargeback Refund rows
    order_ids: tuple[str, ...]  # in file order; at most `id_limit` (see ids_complete)
    refunded_order_ids: tuple[str, ...]
    chargeback_order_ids: tuple[str, ...]
    ids_complete: bool
    previous_reserve: Decimal | None  # signed, as written
    current_reserve: Decimal | None
    summary: dict[str, str] = field(default_factory=dict)  # the summary row's cells as written

    def sum_of(
        self, transaction_type: str | None = None, amount_type: str | None = None, description: str | None = None
    ) -> Decimal:
        """Sum of the rows matching the given parts of the key (None matches anything)."""
        return sum(
            (v for k, v in self.sums.items() if _match(k, transaction_type, amount_type, description)), Decimal("0.00")
        )

    def count_of(
        self, transaction_type: str | None = None, amount_type: str | None = None, description: str | None = None
    ) -> int:
        return sum(v for k, v in self.counts.items() if _match(k, transaction_type, amount_type, description))


def _match(key: Key, tt: str | None, at: str | None, ad: str | None) -> bool:
    return (tt is None or key[0] == tt) and (at is None or key[1] == at) and (ad is None or key[2] == ad)


# --- public API ---------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """The generator allocates millions of short-lived, acyclic tuples: the cyclic collector only slows it down."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def facts_of(spec: SettlementSpec) -> SettlementFacts:
    """The first pass only: sums, counts and ids, without formatting a single row."""
    plan = _Plan(spec)
    limit = spec.id_limit
    acc: dict[Key, list[int]] = {}
    rows = total = 0
    orders: list[str] = []
    refunded: list[str] = []
    charged: list[str] = []
    n_orders = n_refunds = 0
    last_order = last_refund = ""
    chargeback_ids: set[str] = set()
    reserve: dict[str, int] = {}
    with _gc_paused():
        for head, group in _groups(plan):
            tt = head[0]
            for at, ad, cents, _pid in group:
                key = (tt, at, ad)
                entry = acc.get(key)
                if entry is None:
                    acc[key] = [cents, 1]
                else:
                    entry[0] += cents
                    entry[1] += 1
                total += cents
            rows += len(group)
            oid = head[1]
            if tt == ORDER:
                if oid != last_order:
                    last_order = oid
                    n_orders += 1
                    if len(orders) < limit:
                        orders.append(oid)
            elif tt == REFUND:
                if oid != last_refund:
                    last_refund = oid
                    n_refunds += 1
                    if len(refunded) < limit:
                        refunded.append(oid)
            elif tt == CHARGEBACK:
                if oid not in chargeback_ids:
                    chargeback_ids.add(oid)
                    if len(charged) < limit:
                        charged.append(oid)
            elif tt == OTHER and group[0][1] in (PREVIOUS_RESERVE[1], CURRENT_RESERVE[1]):
                reserve[group[0][1]] = group[0][2]
    prev, cur = reserve.get(PREVIOUS_RESERVE[1]), reserve.get(CURRENT_RESERVE[1])
    return SettlementFacts(
        settlement_id=spec.settlement_id,
        currency=spec.currency,
        total=_decimal(total),
        amount_rows=rows,
        lines=rows + 2,
        sums={k: _decimal(v[0]) for k, v in acc.items()},
        counts={k: v[1] for k, v in acc.items()},
        order_count=n_orders,
        refund_count=n_refunds,
        chargeback_count=len(chargeback_ids),
        order_ids=tuple(orders),
        refunded_order_ids=tuple(refunded),
        chargeback_order_ids=tuple(charged),
        ids_complete=max(n_orders, n_refunds, len(chargeback_ids)) <= limit,
        previous_reserve=None if prev is None else _decimal(prev),
        current_reserve=None if cur is None else _decimal(cur),
        summary=dict(zip(COLUMNS[:6], plan.summary_cells(total), strict=True)),
    )


def write_settlement(out: TextSink | TextIO, spec: SettlementSpec) -> SettlementFacts:
    """Write the whole file to `out` (a text stream; open files with newline="" so CRLF stays as chosen)."""
    facts = facts_of(spec)
    with _gc_paused():
        written = _write_rows(out, _Plan(spec), _cents(facts.total))
    if written != facts.amount_rows:  # both passes run the same seeded generator; this cannot differ
        raise RuntimeError(f"generator is not deterministic: {written} rows written, {facts.amount_rows} counted")
    return facts


def _write_rows(out: TextSink | TextIO, plan: _Plan, total: int) -> int:
    spec = plan.spec
    nl = plan.nl
    lead = spec.settlement_id + "\t" * 6  # detail rows leave the summary columns empty
    write = out.write
    write("\t".join(COLUMNS[: spec.columns]) + nl)
    write("\t".join(plan.summary_cells(total)) + "\t" * (spec.columns - 6) + nl)
    amount = plan.amount_text
    dates = plan.dates
    with_promotion = spec.columns == 24
    buf: list[str] = []
    append = buf.append
    amounts: dict[int, str] = {}
    cached = amounts.get
    written = 0
    last_posted, pd, pdt = -1, "", ""
    for head, group in _groups(plan):
        tt, oid, moid, adj, ship, mkt, fid, posted, oic, moii, maii, sku, qty = head
        if posted != last_posted:
            last_posted = posted
            pd, pdt = dates(posted)
        prefix = f"{lead}{tt}\t{oid}\t{moid}\t{adj}\t{ship}\t{mkt}\t"
        suffix = f"\t{fid}\t{pd}\t{pdt}\t{oic}\t{moii}\t{maii}\t{sku}\t{qty}"
        if not with_promotion:
            suffix += nl
        for at, ad, cents, pid in group:
            text = cached(cents)
            if text is None:
                text = amount(cents)
                if len(amounts) < 8192:  # a few thousand distinct amounts even in 10M rows; bounded anyway
                    amounts[cents] = text
            if with_promotion:
                append(f"{prefix}{at}\t{ad}\t{text}{suffix}\t{pid}{nl}")
            else:
                append(f"{prefix}{at}\t{ad}\t{text}{suffix}")
        written += len(group)
        if len(buf) >= 1024:
            write("".join(buf))
            buf.clear()
    write("".join(buf))
    return written


def settlement_text(spec: SettlementSpec) -> tuple[str, SettlementFacts]:
    """The whole file as one string (small files, tests)."""
    out = io.StringIO(newline="")
    facts = write_settlement(out, spec)
    return out.getvalue(), facts


def malformed(text: str, line_number: int, how: str) -> str:
    """`text` with line `line_number` (1-based; 2 is the summary) damaged the way `how` says.

    - "amount": the amount (total-amount on the summary row) becomes "N/A";
    - "columns": one cell (merchant-order-id; currency on the summary row) is dropped;
    - "settlement_id": the row carries another settlement id (on the summary row the reader reports the
      first amount row, which then differs from it);
    - "date": posted-date and posted-date-time (settlement-start-date on the summary row) become garbage.
    """
    if how not in DAMAGE:
        raise ValueError(f"how must be one of {', '.join(DAMAGE)}, not {how!r}")
    lines = text.splitlines(keepends=True)
    if not 2 <= line_number <= len(lines):
        raise ValueError(f"line {line_number} is not a summary or amount row of this {len(lines)}-line file")
    header = lines[0].rstrip("\r\n").split("\t")
    line = lines[line_number - 1]
    body = line.rstrip("\r\n")
    ending = line[len(body) :]
    cells = body.split("\t")
    summary = line_number == 2

    def put(column: str, value: str) -> None:
        cells[header.index(column)] = value

    if how == "amount":
        put("total-amount" if summary else "amount", "N/A")
    elif how == "columns":
        del cells[header.index("currency" if summary else "merchant-order-id")]
    elif how == "settlement_id":
        cells[0] = cells[0] + "9" if cells[0][-1:] != "9" else cells[0][:-1] + "8"
    elif summary:
        put("settlement-start-date", "31.02.20x5 25:61:00 UTC")
    else:
        put("posted-date", "31.02.20x5")
        if "posted-date-time" in header:
            put("posted-date-time", "31.02.20x5 25:61:00 UTC")
    lines[line_number - 1] = "\t".join(cells) + ending
    return "".join(lines)


def truncated(text: str, keep_fraction: float | Decimal) -> str:
    """The start of `text`, cut inside an amount row the way an interrupted download ends.

    The cut falls near `keep_fraction` of the text, but never at or after the row's last tab: a row cut inside
    its last cell (or exactly at a line end) still looks complete, and only the total can tell. The damaged row
    is the last line of the result (line number `result.count("\\n") + 1`).
    """
    lines = text.splitlines(keepends=True)
    if len(lines) < 3:
        raise ValueError("the text has no amount row to cut")
    first_row = len(lines[0]) + len(lines[1])
    fraction = Decimal(str(keep_fraction))
    if not Decimal(0) <= fraction <= Decimal(1):
        raise ValueError("keep_fraction must be between 0 and 1")
    position = max(first_row, min(len(text) - 1, int(len(text) * fraction)))
    start = max(text.rfind("\n", 0, position) + 1, first_row)
    end = text.find("\n", start)
    end = len(text) if end < 0 else end
    last_tab = text.rfind("\t", start, end)
    if last_tab <= start:
        raise ValueError("the row to cut has no tab")
    cut = min(max(position, start + 1), last_tab)
    return text[:cut]


# --- the generator ------------------------------------------------------------------------------------------------


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _decimal(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def _cents(value: Decimal | int) -> int:
    return int(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP).scaleb(2))


def _share(amount: int, bp: int) -> int:
    """`amount` × bp / 10000, rounded half-up away from zero."""
    value = (abs(amount) * bp + 5000) // 10000
    return value if amount >= 0 else -value


def _net_of_vat(gross: int, bp: int) -> int:
    return (gross * 10000 * 2 + (10000 + bp)) // ((10000 + bp) * 2)


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_B62_PAIRS = [a + b for a in _B62 for b in _B62]


_ALNUM = [_B62_PAIRS[i * 3844 >> 12] for i in range(4096)]  # two alphanumerics per 12 random bits


def _b62(value: int, pairs: int = 4) -> str:
    """2 × `pairs` alphanumeric characters from the low 12 × `pairs` bits of `value`."""
    return "".join([_ALNUM[value >> (12 * i) & 4095] for i in range(pairs)])


def _point(cents: int) -> str:
    if cents < 0:
        q, r = divmod(-cents, 100)
        return f"-{q}.{r:02d}"
    q, r = divmod(cents, 100)
    return f"{q}.{r:02d}"


def _comma(cents: int) -> str:
    if cents < 0:
        q, r = divmod(-cents, 100)
        return f"-{q},{r:02d}"
    q, r = divmod(cents, 100)
    return f"{q},{r:02d}"


@dataclass(frozen=True, slots=True)
class _Sku:
    sku: str
    price: int  # per unit, VAT-inclusive (EU/UK) or before tax (US/CA)
    fba_fee: int  # per unit
    commission_bp: int


class _Plan:
    """Everything derived once from a spec: formats, marketplace tables, SKU prices, fixed rows."""

    def __init__(self, spec: SettlementSpec) -> None:
        self.spec = spec
        self.nl = "\r\n" if spec.crlf else "\n"
        self.amount_text: Callable[[int], str] = _comma if spec.style == "de" else _point
        self.start_s = int(spec.start.timestamp())
        self.end_s = int(spec.end.timestamp())
        self.min_commission = _MIN_COMMISSION.get(spec.currency, 30)
        self.refund_ppm = int(Decimal(spec.refund_rate) * 1_000_000)
        self.sales_tax = spec.currency in _SALES_TAX_CURRENCIES
        self._days: dict[int, tuple[str, str]] = {}
        weighted = (
            tuple((name, 1) for name in spec.marketplaces)
            if spec.marketplaces
            else DEFAULT_MARKETPLACES.get(spec.currency, ())
        )
        total_weight = sum(w for _, w in weighted)
        self.market_table: list[_Market] = []
        for name, weight in weighted:
            self.market_table.extend([MARKETPLACES[name]] * (weight * 100 // total_weight or 1))
        self.skus = [self._sku(s) for s in (spec.skus or _DEFAULT_SKUS)]

    def _sku(self, sku: str) -> _Sku:
        d = _digest(f"{self.spec.seed}:{sku}")  # prices 4.99–149.99, FBA fee 1.95–5.95 per unit, 15 % referral
        return _Sku(
            sku,
            price=499 + (d % 1451) * 10,
            fba_fee=195 + (d >> 16) % 41 * 10,
            commission_bp=1500,
        )

    def fmt_datetime(self, value: datetime) -> str:
        value = _utc(value)
        day = value.strftime("%d.%m.%Y" if self.spec.style == "de" else "%Y-%m-%d")
        return f"{day} {value:%H:%M:%S} UTC"

    def summary_cells(self, total: int) -> list[str]:
        s = self.spec
        dates = (self.fmt_datetime(s.start), self.fmt_datetime(s.end), self.fmt_datetime(s.deposit))
        return [s.settlement_id, *dates, self.amount_text(total), s.currency]

    def dates(self, posted: int) -> tuple[str, str]:
        """(posted-date, posted-date-time) for epoch seconds `posted`."""
        day, tod = divmod(posted, 86400)
        cached = self._days.get(day)
        if cached is None:
            d = date(1970, 1, 1) + timedelta(days=day)
            style = self.spec.style
            if style == "de":
                cached = (f"{d:%d.%m.%Y}", f"{d:%d.%m.%Y}")
            elif style == "us":
                cached = (f"{d:%m/%d/%y}", f"{d:%Y-%m-%d}")
            else:
                cached = (f"{d:%Y-%m-%d}", f"{d:%Y-%m-%d}")
            if len(self._days) < 10_000:
                self._days[day] = cached
        if not self.spec.posted_date_time:
            return cached[0], ""
        h, rest = divmod(tod, 3600)
        m, s = divmod(rest, 60)
        return cached[0], f"{cached[1]} {h:02d}:{m:02d}:{s:02d} UTC"

    def clamp(self, posted: int) -> int:
        return min(posted, self.end_s - 1)

    def later(self, posted: int, r: int) -> int:
        """A time after `posted` and before the settlement's end (refunds, chargebacks), from random bits `r`."""
        return posted + max(0, self.end_s - 1 - posted) * (64 + r % 960) // 1024


def _item_rows(
    plan: _Plan,
    sales_tax: bool,
    principal: int,
    tax: int,
    shipping: int,
    shipping_tax: int,
    promotion: int,
    shipping_promotion: int,
    withheld: bool,
    commission: int | None,
    commission_bp: int,
    fba_fee: int,
    afn: bool,
    promotion_id: str,
) -> list[Row]:
    """The Order rows of one item, in the order Amazon lists them: prices, promotions, withheld tax, fees."""
    rows: list[Row] = [("ItemPrice", "Principal", principal, "")]
    if tax:
        rows.append(("ItemPrice", "Tax", tax, ""))
    if shipping:
        rows.append(("ItemPrice", "Shipping", shipping, ""))
    if shipping_tax:
        rows.append(("ItemPrice", "ShippingTax", shipping_tax, ""))
    if promotion:
        rows.append(("Promotion", "Principal", -promotion, promotion_id))
    if shipping_promotion:
        rows.append(("Promotion", "Shipping", -shipping_promotion, promotion_id))
    if withheld:
        withheld_rows = TAX_WITHHELD if sales_tax else VAT_WITHHELD
        if tax:
            rows.append((*withheld_rows[0], -tax, ""))
        if shipping_tax:
            rows.append((*withheld_rows[1], -shipping_tax, ""))
    if commission is None:
        base = principal + shipping - promotion - shipping_promotion
        if not sales_tax:
            base += tax + shipping_tax  # referral fees are charged on the VAT-inclusive price
        commission = max(plan.min_commission, _share(base, commission_bp))
    rows.append(("ItemFees", "Commission", -commission, ""))
    if afn:
        if fba_fee:
            rows.append(("ItemFees", "FBAPerUnitFulfillmentFee", -fba_fee, ""))
        if shipping:
            rows.append(("ItemFees", "ShippingChargeback", -(shipping + (0 if sales_tax else shipping_tax)), ""))
    return rows


def _reversal(rows: list[Row]) -> list[Row]:
    """Refund / Chargeback Refund rows for an item's Order rows: prices, promotions and withheld tax reversed,
    the commission returned and the refund administration fee (20 % of it, at most 5.00) charged."""
    out: list[Row] = []
    refund_commission = 0
    for at, ad, cents, pid in rows:
        if at == "ItemFees":
            if ad == "Commission":
                out.append((at, ad, -cents, pid))
                refund_commission = min(_share(-cents, 2000), 500)
        else:
            out.append((at, ad, -cents, pid))
    if refund_commission:
        out.append(("ItemFees", "RefundCommission", -refund_commission, ""))
    return out


_MAX_REVERSAL_ROWS = 10  # Principal, Tax, Shipping, ShippingTax, 2 promotions, 2 withheld, Commission, Refund…


def _groups(plan: _Plan) -> Iterator[Group]:
    """Every group of amount rows in file order: orders (each item followed by its refund, if any), chargebacks,
    advertising fillers (rows_target only), then the other transactions."""
    spec = plan.spec
    target = spec.rows_target
    fixed = _fixed_tail(plan)
    limit = None
    if target is not None:
        if target < len(fixed):
            raise ValueError(f"rows_target {target} is smaller than the {len(fixed)} fee and reserve rows")
        limit = max(0, target - len(fixed) - _MAX_REVERSAL_ROWS * spec.chargebacks)
    bits = random.Random(f"settlement:{spec.seed}:{spec.settlement_id}").getrandbits
    picker = random.Random(f"chargebacks:{spec.seed}:{spec.settlement_id}")
    k = spec.chargebacks
    chosen: list[tuple[int, Group]] = []
    eligible = emitted = item_seq = 0
    oic_base = 10**13 + (_digest(f"oic:{spec.seed}:{spec.settlement_id}") % 10**6) * 10**7

    def pick(order: list[Group]) -> None:  # reservoir sampling over settled, non-refunded items
        nonlocal eligible
        for i, group in enumerate(order):
            if group[0][0] != ORDER or (i + 1 < len(order) and order[i + 1][0][0] == REFUND):
                continue
            if len(chosen) < k:
                chosen.append((eligible, group))
            else:
                j = picker.randrange(eligible + 1)
                if j < k:
                    chosen[j] = (eligible, group)
            eligible += 1

    for o in spec.orders:
        order = _explicit(plan, o, item_seq, oic_base, bits)
        item_seq += 1
        size = sum(len(g[1]) for g in order)
        if limit is not None and emitted + size > limit:
            raise ValueError(f"rows_target {target} is smaller than the explicit orders and fixed rows need")
        yield from order
        emitted += size
        if k:
            pick(order)
    if plan.market_table:
        count = spec.generated_orders if target is None else -1
        mid_base = _digest(f"orders:{spec.seed}:{spec.settlement_id}") % 9_000_000
        n = 0
        while n != count:
            order, items, size = _generated(plan, n, mid_base, item_seq, oic_base, bits)
            if limit is not None and emitted + size > limit:
                break
            yield from order
            emitted += size
            item_seq += items
            n += 1
            if k:
                pick(order)
    chosen.sort(key=lambda c: c[0])
    for _, (head, rows) in chosen:
        reversal = _reversal(rows)
        oic = head[8]
        posted = plan.later(head[7], _digest(f"cbp:{spec.seed}:{oic}"))
        cb_head: Head = (
            CHARGEBACK, head[1], head[2], f"{_digest(f'cb:{spec.seed}:{oic}') % 10**14:014d}", "", head[5], head[6],
            posted, oic, head[9], f"C{_b62(_digest(f'cbm:{spec.seed}:{oic}'))}", head[11], "",
        )  # fmt: skip
        emitted += len(reversal)
        yield cb_head, reversal
    if target is not None:
        fill = target - emitted - len(fixed)
        for n in range(fill):
            cents = 50 + (_digest(f"ads:{spec.seed}:{n}") % 2000)
            posted = plan.start_s + (plan.end_s - plan.start_s) * (n + 1) // (fill + 1)
            yield (SERVICE, "", "", "", "", "", "", posted, "", "", "", "", ""), [(*ADVERTISING, -cents, "")]
    yield from fixed


def _fixed_tail(plan: _Plan) -> list[Group]:
    """other-transaction / ServiceFee rows that do not depend on the orders: storage, fees, reserve."""
    spec = plan.spec
    start, end = plan.start_s, plan.end_s
    market = plan.market_table[0].name if plan.market_table else ""
    if not market and spec.orders:
        market = spec.orders[0].marketplace_name
    out: list[Group] = []

    def other(tt: str, mkt: str, posted: int, kind: tuple[str, str], cents: int) -> None:
        out.append(((tt, "", "", "", "", mkt, "", plan.clamp(posted), "", "", "", "", ""), [(*kind, cents, "")]))

    if spec.fba_storage_fee is not None:
        other(OTHER, market, start + 6 * 86400 + 11 * 3600, STORAGE_FEE, -abs(_cents(spec.fba_storage_fee)))
    if spec.service_fees:
        other(OTHER, "", start + 86400 + 2 * 3600, SUBSCRIPTION_FEE, -_SUBSCRIPTION.get(spec.currency, 3900))
        ads = 2500 + _digest(f"ads-invoice:{spec.seed}") % 20000
        other(SERVICE, "", start + 4 * 86400 + 5 * 3600, ADVERTISING, -ads)
    if spec.reserve is not None:
        previous, current = spec.reserve
        if previous is not None:
            other(OTHER, "", start, PREVIOUS_RESERVE, abs(_cents(previous)))
        if current is not None:
            other(OTHER, "", end - 1, CURRENT_RESERVE, -abs(_cents(current)))
    return out


def _refund_head(plan: _Plan, head: Head, posted: int, item_seq: int, r: int) -> Head:
    adjustment = f"{(plan.spec.seed * 7919 + item_seq * 104729 + 5 * 10**13) % 10**14:014d}"
    return (
        REFUND, head[1], head[2], adjustment, "", head[5], head[6], plan.clamp(posted), head[8], head[9],
        f"{_b62(r)}{_B62[item_seq % 62]}", head[11], "",
    )  # fmt: skip


def _explicit(plan: _Plan, o: OrderSpec, item_seq: int, oic_base: int, bits: Callable[[int], int]) -> list[Group]:
    r = bits(64)
    market = MARKETPLACES.get(o.marketplace_name)
    sales_tax = market.vat_bp is None if market else plan.sales_tax
    afn = o.fulfillment == "AFN"
    promotion = _cents(o.promotion)
    sku = next((s for s in plan.skus if s.sku == o.sku), None) or plan._sku(o.sku)
    rows = _item_rows(
        plan, sales_tax=sales_tax, principal=_cents(o.principal), tax=_cents(o.tax), shipping=_cents(o.shipping),
        shipping_tax=_cents(o.shipping_tax), promotion=promotion, shipping_promotion=0, withheld=o.withheld_tax,
        commission=None if o.commission is None else abs(_cents(o.commission)), commission_bp=sku.commission_bp,
        fba_fee=(abs(_cents(o.fba_fee)) if o.fba_fee is not None else sku.fba_fee * o.quantity) if afn else 0,
        afn=afn, promotion_id=o.promotion_id or (f"A{_b62(r >> 8, 6)}" if promotion else ""),
    )  # fmt: skip
    posted = int(_utc(o.posted).timestamp())
    head: Head = (
        ORDER, o.amazon_order_id, o.merchant_order_id, "", o.shipment_id or f"D{_b62(r)}", o.marketplace_name,
        o.fulfillment, posted, o.order_item_code or str(oic_base + item_seq * 10 + r % 10), "", "", o.sku,
        str(o.quantity),
    )  # fmt: skip
    groups: list[Group] = [(head, rows)]
    refunded = o.refunded if o.refunded is not None else (r >> 44) % 1_000_000 < plan.refund_ppm
    if refunded:
        refund_posted = plan.later(posted, r >> 30)
        groups.append((_refund_head(plan, head, refund_posted, item_seq, r >> 20), _reversal(rows)))
    return groups


def _generated(
    plan: _Plan, n: int, mid_base: int, item_seq: int, oic_base: int, bits: Callable[[int], int]
) -> tuple[list[Group], int, int]:
    """One random order (its groups, item count and row count): 1 item (90 %) or 2, AFN 80 %."""
    r = bits(64)
    market = plan.market_table[r % len(plan.market_table)]
    afn = (r >> 8) % 10 < 8
    items = 2 if (r >> 12) % 10 == 0 else 1
    prefix = market.prefixes[(r >> 16) % len(market.prefixes)]
    # 3-7-7 digits; the middle group is a permutation of the order number (unique up to 9M orders)
    order_id = f"{prefix}-{1_000_000 + (mid_base + n * 3_141_593) % 9_000_000}-{1_000_000 + (r >> 20) % 9_000_000}"
    s = bits(64)
    posted = plan.start_s + (s & 65535) * (plan.end_s - plan.start_s) // 65536
    t = _ALNUM
    ship_id = f"D{t[s >> 16 & 4095]}{t[s >> 28 & 4095]}{t[s >> 40 & 4095]}{t[s >> 52 & 4095]}"
    fid = "AFN" if afn else "MFN"
    sales_tax = market.vat_bp is None
    groups: list[Group] = []
    size = 0
    for i in range(items):
        r = bits(64)
        sku = plan.skus[r % len(plan.skus)]
        q = (r >> 10) % 20
        qty = 1 if q < 17 else 2 if q < 19 else 3
        gross = sku.price * qty
        shipping = tax = shipping_tax = promotion = shipping_promotion = 0
        if i == 0 and (r >> 16) % 10 < (2 if afn else 6):
            shipping = (299, 399, 449, 499)[(r >> 20) & 3]
        withheld = False
        if sales_tax:
            principal = gross
            rate = _US_TAX_BP[(r >> 22) & 7]
            tax, shipping_tax = _share(gross, rate), _share(shipping, rate)
            withheld = True  # US marketplace-facilitator states: Amazon collects and remits the sales tax
        elif (r >> 25) % 10 == 0:  # marketplace facilitator VAT (low-value imports / non-established sellers)
            principal = _net_of_vat(gross, market.vat_bp or 0)
            tax = gross - principal
            ship_net = _net_of_vat(shipping, market.vat_bp or 0)
            shipping, shipping_tax = ship_net, shipping - ship_net
            withheld = True
        else:
            principal = gross
        promotion_id = ""
        if (r >> 29) % 100 < 8:
            promotion = _share(principal, 1000)
            promotion_id = f"A{_b62(r >> 36, 6)}"
            if shipping and (r >> 35) & 1:
                shipping_promotion = shipping
        rows = _item_rows(
            plan, sales_tax, principal, tax, shipping, shipping_tax, promotion, shipping_promotion, withheld, None,
            sku.commission_bp, sku.fba_fee * qty if afn else 0, afn, promotion_id,
        )  # fmt: skip
        seq = item_seq + i
        head: Head = (
            ORDER, order_id, "", "", ship_id, market.name, fid, posted, str(oic_base + seq * 10 + r % 10), "", "",
            sku.sku, str(qty),
        )  # fmt: skip
        groups.append((head, rows))
        size += len(rows)
        if (r >> 40) % 1_000_000 < plan.refund_ppm:
            refund = _reversal(rows)
            groups.append((_refund_head(plan, head, plan.later(posted, r >> 44), seq, r >> 8), refund))
            size += len(refund)
    return groups, items, size


# --- command line ------------------------------------------------------------------------------------------------


def _parse_date(text: str) -> datetime:
    return _utc(datetime.fromisoformat(text))


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.spapi.settlement_files",
        description="Write a V2 settlement flat file with exactly N amount rows, in constant memory.",
    )
    parser.add_argument("--rows", type=int, required=True, help="amount rows (the file has N + 2 lines)")
    parser.add_argument("--style", choices=STYLES, default="iso")
    parser.add_argument("--currency", default="GBP")
    parser.add_argument("--out", required=True, help="output path ('-' for stdout)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--columns", type=int, choices=(23, 24), default=24)
    parser.add_argument("--settlement-id", default="19482314502")
    parser.add_argument("--start", type=_parse_date, default=datetime(2025, 6, 1, 7, 49, 55, tzinfo=UTC))
    parser.add_argument("--days", type=int, default=14, help="settlement period length")
    parser.add_argument("--refund-rate", type=Decimal, default=Decimal("0.03"))
    parser.add_argument("--chargebacks", type=int, default=0)
    parser.add_argument("--encoding", default="utf-8")
    parser.add_argument("--crlf", action="store_true")
    args = parser.parse_args(None if argv is None else list(argv))
    end = args.start + timedelta(days=args.days)
    spec = SettlementSpec(
        settlement_id=args.settlement_id, currency=args.currency, start=args.start, end=end,
        deposit=end + timedelta(days=2), style=args.style, columns=args.columns, rows_target=args.rows,
        seed=args.seed, refund_rate=args.refund_rate, chargebacks=args.chargebacks, service_fees=True,
        fba_storage_fee=Decimal("12.34"), reserve=(Decimal("150.00"), Decimal("175.00")), crlf=args.crlf,
    )  # fmt: skip
    began = time.perf_counter()
    if args.out == "-":
        facts = write_settlement(sys.stdout, spec)
    else:
        with open(args.out, "w", encoding=args.encoding, newline="", buffering=1 << 20) as out:
            facts = write_settlement(out, spec)
    elapsed = time.perf_counter() - began
    print(
        f"{facts.amount_rows} amount rows, total-amount {facts.total} {facts.currency}, {facts.order_count} orders, "
        f"{elapsed:.2f} s ({facts.amount_rows / max(elapsed, 1e-9):,.0f} rows/s)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
