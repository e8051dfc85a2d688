"""Reconciliation hints: for each order reference of a settlement that matches no order, the likeliest orders.

Hints only: nothing is matched or changed; matching stays the join on order ids (selectors). An operator reads the
hints (Settlement page, Reconciliation hints list), fixes the cause (syncs the order, corrects an id) and
reprocesses.

For every unmatched reference (the lines of one order-id / merchant-order-id: their price total, first posted date
and SKUs) the candidates are the orders purchased from RECONCILIATION_HINT_LOOKBACK_DAYS before the settlement to a
day after it: Amazon orders of the settlement's account that no settlement has an Order row for yet (for refund
lines, any), and, for merchant-order-id lines, eCommerce orders, compared through their order number, the
sellerFulfillmentOrderId of their Amazon fulfilment order and the vendorTxCodes of their Opayo payment (read only).

Each candidate gets four scores in 0..1, combined as a weighted mean (WEIGHTS: amount and reference 0.35 each, date
and SKU 0.15 each; the SKU part only when the settlement's lines name SKUs):

- amount: 1 when the order total equals the lines' price total (ItemPrice + Promotion rows), falling linearly to
  0 at 10 % apart; 0 in another currency. A refund may be partial: a refund below the total scores at least 0.4;
- reference: OSA edit distance (insertions, deletions, substitutions, adjacent swaps) between the ids compared
  as upper-case letters and digits; 1 − distance / (0.3 × length); an id cut short (one is the start or end of the
  other, at least 6 characters) scores 0.6 + 0.4 × the share kept;
- date: purchased 0–3 days before posting scores 1, falling to 0 at 30 days (90 for refunds); purchased after
  posting only within 2 days (time zones);
- SKU: the share of the settlement's SKUs the order has.

The best 5 candidates scoring at least MIN_SCORE (0.4) are stored (ReconciliationHint), with the reasons in words,
for at most RECONCILIATION_HINT_MAX_REFERENCES references of a settlement (largest amounts first).
Edit distances are computed with numpy over all candidates of a reference at once; a reference with more than
FULL_COMPARE candidates in its date range compares only a shortlist (nearest amounts, same-length ids within 3
differing characters, ids containing or contained in it, orders with its SKUs).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Min, Q, Sum

from fulfillment.models import FulfillmentOrder
from orders.models import Order, OrderLine
from payments.models import PaymentTransaction
from reconciliation.models import ReconciliationHint, Settlement, SettlementLine
from reconciliation.selectors import settlement_lines_unmatched
from reconciliation.services.anomalies import settlement_account_id

logger = logging.getLogger(__name__)

WEIGHTS = {"amount": 0.35, "reference": 0.35, "date": 0.15, "sku": 0.15}
TOP = 5
MIN_SCORE = 0.4  # below: a date and a SKU in common at most, not worth an operator's look
FULL_COMPARE = 1000
SHORTLIST_NEAREST = 200
PRICE_TYPES = ("ItemPrice", "Promotion")
PAYMENT_KINDS = (PaymentTransaction.Kind.PAYMENT, PaymentTransaction.Kind.DEFERRED, PaymentTransaction.Kind.REPEAT)
_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$", "CAD": "CA$"}
_NOT_ALNUM = re.compile(r"[^0-9A-Z]")
DAY = 86400.0


def normalize_reference(value: str) -> str:
    """Ids compared as upper-case letters and digits: dashes, spaces and case do not count."""
    return _NOT_ALNUM.sub("", value.upper())


def osa_distances(reference: str, candidates: list[str]) -> np.ndarray:
    """Optimal string alignment distance (Levenshtein plus adjacent swaps) from `reference` to each candidate,
    vectorized over the candidates: one dynamic-programming table per candidate, filled a column at a time for all
    of them together (arrays laid out column-major so each step reads contiguous memory)."""
    count = len(candidates)
    lengths = np.fromiter((len(c) for c in candidates), dtype=np.int64, count=count)
    if not reference or count == 0:
        return lengths
    width = int(lengths.max())
    if width == 0:
        return np.full(count, len(reference), dtype=np.int64)
    codes = np.zeros((width, count), dtype=np.uint32)
    for column, text in enumerate(candidates):
        codes[: len(text), column] = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    ref = np.frombuffer(reference.encode("utf-32-le"), dtype=np.uint32)
    before = np.zeros((width + 1, count), dtype=np.int32)
    previous = np.repeat(np.arange(width + 1, dtype=np.int32)[:, None], count, axis=1)
    for i in range(1, len(ref) + 1):
        current = np.empty_like(previous)
        current[0] = i
        differs = (codes != ref[i - 1]).astype(np.int32)
        if i > 1:
            # codes[j-1] == ref[i-2] and codes[j-2] == ref[i-1]: the two characters swapped.
            swap = (codes[1:] == ref[i - 2]) & (codes[:-1] == ref[i - 1]) & (differs[1:] > 0)
        for j in range(1, width + 1):
            best = np.minimum(previous[j], current[j - 1])
            best += 1
            np.minimum(best, previous[j - 1] + differs[j - 1], out=best)
            if i > 1 and j > 1:
                np.minimum(best, np.where(swap[j - 2], before[j - 2] + 1, best), out=best)
            current[j] = best
        before, previous = previous, current
    return previous[lengths, np.arange(count)].astype(np.int64)


@dataclass
class _Reference:
    """The unmatched lines of one order reference in the settlement."""

    amazon_order_id: str
    merchant_order_id: str
    amount: Decimal  # price total of the Order rows, or of the refund rows (positive) when there are none
    refund_only: bool
    posted_at: datetime | None
    skus: set[str] = field(default_factory=set)

    @property
    def reference(self) -> str:
        return self.amazon_order_id or self.merchant_order_id


@dataclass
class _Pool:
    """Candidate orders as arrays, and the ids each can be known by (aliases)."""

    pks: np.ndarray
    channels: list[str]
    external_ids: list[str]
    totals: np.ndarray  # NaN when unknown
    currencies: np.ndarray
    purchased: np.ndarray  # epoch seconds
    alias_owner: np.ndarray  # pool index of each alias
    alias_text: list[str]  # normalized
    alias_raw: list[str]
    alias_kind: list[str]  # order id | fulfilment order id | vendorTxCode
    alias_payment: list[int | None]
    payment_of: dict[int, int] = field(default_factory=dict)  # pool index -> its payment transaction pk
    skus: dict[int, set[str]] = field(default_factory=dict)  # pool index -> SKUs (those of the references only)
    sku_members: dict[str, np.ndarray] = field(default_factory=dict)  # SKU -> pool indices having it
    settled: set[int] = field(default_factory=set)  # pool indices whose order some settlement has Order rows for
    alias_length: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    alias_array: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=str))
    by_length: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # alias rows, their codes
    settled_mask: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def __len__(self) -> int:
        return len(self.pks)

    def prepare(self) -> None:
        """Arrays the shortlist reads for every reference, built once."""
        self.alias_length = np.array([len(t) for t in self.alias_text], dtype=np.int64)
        self.alias_array = np.array(self.alias_text, dtype=str) if self.alias_text else np.zeros(0, dtype=str)
        for length in np.unique(self.alias_length):
            rows = np.flatnonzero(self.alias_length == length)
            codes = np.array(
                [np.frombuffer(self.alias_text[r].encode("utf-32-le"), dtype=np.uint32) for r in rows], dtype=np.uint32
            ).reshape(len(rows), int(length))
            self.by_length[int(length)] = (rows, codes)
        members: dict[str, list[int]] = {}
        for index, skus in self.skus.items():
            for sku in skus:
                members.setdefault(sku, []).append(index)
        self.sku_members = {sku: np.array(indices, dtype=np.int64) for sku, indices in members.items()}
        self.settled_mask = np.zeros(len(self), dtype=bool)
        self.settled_mask[list(self.settled)] = True


def settlement_hints_refresh(*, settlement: Settlement) -> int:
    """Recompute the hints of the settlement's unmatched order references. Returns the number of hints stored."""
    references = _references(settlement)
    hints: list[ReconciliationHint] = []
    if references:
        lo, hi = _window(settlement, references)
        account_id = settlement_account_id(settlement=settlement)
        amazon = _amazon_pool(account_id, lo, hi, references) if any(r.amazon_order_id for r in references) else None
        web = _ecommerce_pool(lo, hi, references) if any(r.merchant_order_id for r in references) else None
        for ref in references:
            ranked: list[tuple[float, int, _Pool, list[str], int | None]] = []
            if ref.amazon_order_id and amazon is not None:
                ranked += _rank(ref, normalize_reference(ref.amazon_order_id), amazon, settlement.currency)
            if ref.merchant_order_id and web is not None:
                ranked += _rank(ref, normalize_reference(ref.merchant_order_id), web, settlement.currency)
            ranked.sort(key=lambda r: -r[0])
            for rank, (score, index, pool, reasons, payment) in enumerate(ranked[:TOP], start=1):
                hints.append(ReconciliationHint(
                    settlement=settlement, order_reference=ref.reference[:64], reference_amount=ref.amount,
                    posted_at=ref.posted_at, rank=rank, candidate_order_id=int(pool.pks[index]),
                    candidate_payment_id=payment, score=Decimal(f"{min(max(score, 0.0), 1.0):.3f}"), reasons=reasons,
                ))  # fmt: skip
    with transaction.atomic():
        settlement.hints.all().delete()
        ReconciliationHint.objects.bulk_create(hints, batch_size=1000)
    logger.info(
        "hints for settlement %s: %s reference(s), %s hint(s)",
        settlement.settlement_id,
        len(references),
        len(hints),
        extra={"settlement_id": settlement.settlement_id},
    )
    return len(hints)


# --- what the settlement says ----------------------------------------------------------------------------------


def _references(settlement: Settlement) -> list[_Reference]:
    price = Q(amount_type__in=PRICE_TYPES)
    rows = (
        settlement_lines_unmatched(settlement=settlement)
        .values("amazon_order_id", "merchant_order_id")
        .annotate(
            sold=Sum("amount", filter=price & Q(kind=SettlementLine.Kind.ORDER)),
            refunded=Sum("amount", filter=price & Q(kind=SettlementLine.Kind.REFUND)),
            order_rows=Count("pk", filter=Q(kind=SettlementLine.Kind.ORDER)),
            posted=Min("posted_at"),
        )
        .order_by(F("sold").desc(nulls_last=True), "amazon_order_id", "merchant_order_id")
        .values_list("amazon_order_id", "merchant_order_id", "sold", "refunded", "order_rows", "posted")
    )[: settings.RECONCILIATION_HINT_MAX_REFERENCES]
    references = {}
    for amazon_id, merchant_id, sold, refunded, order_rows, posted in rows:
        refund_only = not order_rows
        amount = abs(refunded or Decimal(0)) if refund_only else (sold or Decimal(0))
        references[(amazon_id, merchant_id)] = _Reference(amazon_id, merchant_id, amount, refund_only, posted)
    if references:
        skus = (
            settlement_lines_unmatched(settlement=settlement)
            .filter(
                Q(amazon_order_id__in={a for a, _ in references if a})
                | Q(merchant_order_id__in={m for _, m in references if m})
            )
            .exclude(sku="")
            .values_list("amazon_order_id", "merchant_order_id", "sku")
            .distinct()
        )
        for amazon_id, merchant_id, sku in skus:
            if (amazon_id, merchant_id) in references:
                references[(amazon_id, merchant_id)].skus.add(sku)
    return list(references.values())


def _window(settlement: Settlement, references: list[_Reference]) -> tuple[datetime, datetime]:
    posted = [r.posted_at for r in references if r.posted_at is not None]
    start = min([*posted, *([settlement.start_date] if settlement.start_date else [])], default=None)
    end = max([*posted, *([settlement.end_date] if settlement.end_date else [])], default=None)
    if start is None or end is None:
        start = end = settlement.created_at
    return start - timedelta(days=settings.RECONCILIATION_HINT_LOOKBACK_DAYS), end + timedelta(days=1)


# --- the candidates ------------------------------------------------------------------------------------------------


def _amazon_pool(account_id: int | None, lo: datetime, hi: datetime, references: list[_Reference]) -> _Pool:
    orders = Order.objects.filter(channel=Order.Channel.AMAZON, purchased_at__gte=lo, purchased_at__lte=hi)
    if account_id is not None:
        orders = orders.filter(seller_account_id=account_id)
    rows = list(orders.values_list("pk", "channel", "external_id", "total_amount", "currency", "purchased_at"))
    aliases = [(i, row[2], "order id", None) for i, row in enumerate(rows)]
    pool = _pool(rows, aliases)
    _attach_skus(pool, references)
    _mark_settled(pool, lo, "amazon_order_id")
    pool.prepare()
    return pool


def _ecommerce_pool(lo: datetime, hi: datetime, references: list[_Reference]) -> _Pool:
    orders = Order.objects.filter(channel=Order.Channel.ECOMMERCE, purchased_at__gte=lo, purchased_at__lte=hi)
    rows = list(orders.values_list("pk", "channel", "external_id", "total_amount", "currency", "purchased_at"))
    index_of = {row[0]: i for i, row in enumerate(rows)}
    aliases: list[tuple[int, str, str, int | None]] = [(i, row[2], "order number", None) for i, row in enumerate(rows)]
    for order_id, code in FulfillmentOrder.objects.filter(order__in=orders.values("pk")).values_list(
        "order_id", "seller_fulfillment_order_id"
    ):
        aliases.append((index_of[order_id], code, "sellerFulfillmentOrderId of its Amazon fulfilment order", None))
    payment_of: dict[int, int] = {}
    for pk, order_id, code in (
        PaymentTransaction.objects.filter(payment__order__in=orders.values("pk"), kind__in=PAYMENT_KINDS)
        .order_by("pk")
        .values_list("pk", "payment__order_id", "vendor_tx_code")
    ):
        aliases.append((index_of[order_id], code, "vendorTxCode of its payment", pk))
        payment_of.setdefault(index_of[order_id], pk)
    pool = _pool(rows, aliases)
    pool.payment_of = payment_of
    _attach_skus(pool, references)
    _mark_settled(pool, lo, "merchant_order_id")
    pool.prepare()
    return pool


def _mark_settled(pool: _Pool, lo: datetime, column: str) -> None:
    """Orders already settled (an Order line of some settlement names them in `column`) are not the missing order
    of another line. Read for the settlements that can hold these orders only (no index on the order id: the
    settlement index narrows it)."""
    settlements = Settlement.objects.filter(Q(end_date__gte=lo) | Q(end_date__isnull=True)).values("pk")
    index_of = {external_id: i for i, external_id in enumerate(pool.external_ids)}
    for chunk in _chunks(pool.external_ids, 5000):
        settled = (
            SettlementLine.objects.filter(
                settlement__in=settlements, kind=SettlementLine.Kind.ORDER, **{f"{column}__in": chunk}
            )
            .values_list(column, flat=True)
            .distinct()
        )
        pool.settled.update(index_of[s] for s in settled)


def _pool(rows: list[tuple[Any, ...]], aliases: Sequence[tuple[int, str, str, int | None]]) -> _Pool:
    return _Pool(
        pks=np.array([r[0] for r in rows], dtype=np.int64),
        channels=[r[1] for r in rows],
        external_ids=[r[2] for r in rows],
        totals=np.array([float(r[3]) if r[3] is not None else np.nan for r in rows], dtype=np.float64),
        currencies=np.array([r[4] or "" for r in rows], dtype=object),
        purchased=np.array([r[5].timestamp() for r in rows], dtype=np.float64),
        alias_owner=np.array([a[0] for a in aliases], dtype=np.int64),
        alias_text=[normalize_reference(a[1]) for a in aliases],
        alias_raw=[a[1] for a in aliases],
        alias_kind=[a[2] for a in aliases],
        alias_payment=[a[3] for a in aliases],
    )


def _attach_skus(pool: _Pool, references: list[_Reference]) -> None:
    wanted = set().union(*(r.skus for r in references))
    if not wanted or not len(pool):
        return
    index_of = {int(pk): i for i, pk in enumerate(pool.pks)}
    for chunk in _chunks([int(pk) for pk in pool.pks], 5000):
        for order_id, sku in (
            OrderLine.objects.filter(order_id__in=chunk, seller_sku__in=wanted)
            .values_list("order_id", "seller_sku")
            .distinct()
        ):
            pool.skus.setdefault(index_of[order_id], set()).add(sku)


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# --- scoring -------------------------------------------------------------------------------------------------------


def _rank(
    ref: _Reference, text: str, pool: _Pool, currency: str
) -> list[tuple[float, int, _Pool, list[str], int | None]]:
    """The best candidates of one pool for one reference: (score, pool index, pool, reasons, payment pk)."""
    if not len(pool) or not text:
        return []
    posted = ref.posted_at.timestamp() if ref.posted_at else float(np.nanmax(pool.purchased))
    days_before = (posted - pool.purchased) / DAY
    horizon = 90 if ref.refund_only else settings.RECONCILIATION_HINT_LOOKBACK_DAYS
    in_range = (days_before >= -2) & (days_before <= horizon)
    if not ref.refund_only:
        in_range &= ~pool.settled_mask
    if in_range.sum() > FULL_COMPARE:
        in_range = _shortlist(ref, text, pool, in_range, posted)
    indices = np.flatnonzero(in_range)
    if not len(indices):
        return []
    amount = float(ref.amount)
    amount_score = _amount_scores(amount, pool.totals[indices], pool.currencies[indices], currency, ref.refund_only)
    date_score = _date_scores(days_before[indices], ref.refund_only)
    # Reference: the best-scoring alias (order number, fulfilment order id, vendorTxCode) of each candidate.
    alias_rows = np.flatnonzero(in_range[pool.alias_owner])
    alias_score = _reference_scores(text, [pool.alias_text[a] for a in alias_rows])
    owners = pool.alias_owner[alias_rows]
    by_owner = np.lexsort((-alias_score, owners))
    owners_sorted, first = np.unique(owners[by_owner], return_index=True)
    best_alias = np.full(len(pool), -1, dtype=np.int64)
    best_alias[owners_sorted] = alias_rows[by_owner[first]]
    reference_score = np.zeros(len(pool))
    reference_score[owners_sorted] = alias_score[by_owner[first]]
    reference_score = reference_score[indices]
    best_alias = best_alias[indices]
    total = WEIGHTS["amount"] * amount_score + WEIGHTS["reference"] * reference_score + WEIGHTS["date"] * date_score
    if ref.skus:
        has = np.zeros(len(pool))
        for sku in ref.skus:
            has[pool.sku_members.get(sku, np.zeros(0, dtype=np.int64))] += 1
        total = (total + WEIGHTS["sku"] * has[indices] / len(ref.skus)) / sum(WEIGHTS.values())
    else:
        total = total / (WEIGHTS["amount"] + WEIGHTS["reference"] + WEIGHTS["date"])
    order = np.lexsort((np.abs(np.nan_to_num(pool.totals[indices], nan=1e12) - amount), -total))[: TOP * 2]
    ranked = []
    for k in order:
        if total[k] < MIN_SCORE:
            continue
        index = int(indices[k])
        a = int(best_alias[k])
        reasons = [
            _amount_reason(ref, pool, index, currency),
            _date_reason(float(days_before[index]), ref.refund_only),
            _reference_reason(ref.reference, text, pool, a),
        ]
        if ref.skus:
            reasons.append(_sku_reason(ref.skus, pool.skus.get(index, set())))
        payment = pool.alias_payment[a] if a >= 0 and pool.alias_payment[a] else pool.payment_of.get(index)
        ranked.append((float(total[k]), index, pool, [r for r in reasons if r], payment))
    return ranked


def _shortlist(ref: _Reference, text: str, pool: _Pool, in_range: np.ndarray, posted: float) -> np.ndarray:
    """Too many orders in range to compare every id: nearest amounts, look-alike ids (same length and at most 3
    characters apart, or one containing the other), and the orders with its SKUs nearest in time."""
    keep = np.zeros(len(pool), dtype=bool)
    indices = np.flatnonzero(in_range)
    distance = np.abs(np.nan_to_num(pool.totals[indices], nan=1e12) - float(ref.amount))
    keep[indices[np.argsort(distance, kind="stable")[:SHORTLIST_NEAREST]]] = True
    alias_in_range = in_range[pool.alias_owner]
    same = pool.by_length.get(len(text))
    if same is not None:
        rows, codes = same
        ref_codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        close = rows[((codes != ref_codes).sum(axis=1) <= 3) & alias_in_range[rows]]
        keep[pool.alias_owner[close]] = True
    if len(text) >= 6 and len(pool.alias_array):
        long_enough = alias_in_range & (pool.alias_length >= 6)
        contains = (np.char.find(pool.alias_array, text) >= 0) | (np.char.find(text, pool.alias_array) >= 0)
        keep[pool.alias_owner[long_enough & contains]] = True
    for sku in ref.skus:
        members = pool.sku_members.get(sku, np.zeros(0, dtype=np.int64))
        members = members[in_range[members]]
        nearest = np.argsort(np.abs(pool.purchased[members] - posted), kind="stable")[:SHORTLIST_NEAREST]
        keep[members[nearest]] = True
    return keep & in_range


def _amount_scores(
    amount: float, totals: np.ndarray, currencies: np.ndarray, currency: str, refund_only: bool
) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        difference = np.abs(totals - amount)
        relative = difference / max(abs(amount), 0.01)
        score = np.where(difference < 0.005, 1.0, np.clip(0.9 * (1 - relative / 0.10), 0.0, 0.9))
        if refund_only:
            score = np.where(amount <= totals + 0.005, np.maximum(score, 0.4), score)
    score = np.where(np.isnan(totals) | (currencies != currency), 0.0, score)
    return np.asarray(score, dtype=np.float64)


def _date_scores(days_before: np.ndarray, refund_only: bool) -> np.ndarray:
    full, zero = (30.0, 90.0) if refund_only else (3.0, 30.0)
    score = np.where(days_before <= full, 1.0, np.clip(1 - (days_before - full) / (zero - full), 0.0, 1.0))
    return np.where(days_before < 0, np.clip(1 + days_before / 2, 0.0, 1.0), score)


def _reference_scores(text: str, aliases: list[str]) -> np.ndarray:
    if not aliases:
        return np.zeros(0)
    distance = osa_distances(text, aliases).astype(np.float64)
    lengths = np.array([max(len(a), len(text)) for a in aliases], dtype=np.float64)
    score = np.clip(1 - distance / (0.3 * lengths), 0.0, 1.0)
    for k, alias in enumerate(aliases):
        short, long = sorted((alias, text), key=len)
        if len(short) >= 6 and short != long and (long.startswith(short) or long.endswith(short)):
            score[k] = max(score[k], 0.6 + 0.4 * len(short) / len(long))
    return score


# --- reasons, in words ---------------------------------------------------------------------------------------------


def _money(value: float | Decimal, currency: str) -> str:
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{value:,.2f}" if symbol else f"{value:,.2f} {currency}"


def _amount_reason(ref: _Reference, pool: _Pool, index: int, currency: str) -> str:
    total = pool.totals[index]
    what = "refund" if ref.refund_only else "amount"
    shown = _money(ref.amount, currency)
    if np.isnan(total):
        return "the order has no total yet (Amazon shows none while it is pending)"
    if pool.currencies[index] != currency:
        return f"the order is in {pool.currencies[index]}, the settlement in {currency}"
    difference = float(total) - float(ref.amount)
    if abs(difference) < 0.005:
        return f"{what} {shown} equals the order total"
    if ref.refund_only and difference > 0:
        return f"refund {shown} is less than the order total {_money(total, currency)} (a partial refund?)"
    relative = abs(difference) / max(float(ref.amount), 0.01)
    side = "more" if difference > 0 else "less"
    return (
        f"order total {_money(total, currency)} is {_money(abs(difference), currency)} ({relative:.1%}) {side} "
        f"than the settlement's {shown}"
    )


def _date_reason(days_before: float, refund_only: bool) -> str:
    days = round(abs(days_before))
    unit = "day" if days == 1 else "days"
    posting = "the refund" if refund_only else "posting"
    if days == 0:
        return f"purchased the day of {posting}"
    if days_before < 0:
        return f"purchased {days} {unit} after {posting}"
    return f"purchased {days} {unit} before {posting}"


def _reference_reason(raw: str, text: str, pool: _Pool, alias: int) -> str:
    if alias < 0:
        return ""
    other, kind, shown = pool.alias_text[alias], pool.alias_kind[alias], pool.alias_raw[alias]
    what = "order id" if kind == "order id" else f"{kind} {shown}"
    if other == text:
        return f"{what} is the same" + ("" if shown == raw else " apart from punctuation or case")
    short, long = sorted((other, text), key=len)
    if len(short) >= 6 and (long.startswith(short) or long.endswith(short)):
        if kind.startswith("vendorTxCode"):
            return f"the merchant order id {raw} is the start of the {what}"
        cut = "the settlement's id is cut short" if len(text) < len(other) else f"the {what} is cut short"
        return f"{cut}: {raw} vs {shown} ({len(long) - len(short)} character(s) missing)"
    distance = int(osa_distances(text, [other])[0])
    if len(other) == len(text):
        positions = [i for i, (a, b) in enumerate(zip(text, other, strict=True)) if a != b]
        if distance == 1 and len(positions) == 1:
            char = "digit" if text[positions[0]].isdigit() and other[positions[0]].isdigit() else "character"
            return f"{what} differs by one {char} ({raw} vs {shown})"
        if distance == 1 and len(positions) == 2:
            return f"{what} has two neighbouring characters swapped ({raw} vs {shown})"
    if distance <= 3:
        return f"{what} differs by {distance} character{'s' if distance > 1 else ''} ({raw} vs {shown})"
    return f"{what} {shown} does not resemble {raw}"


def _sku_reason(wanted: set[str], has: set[str]) -> str:
    common = wanted & has
    if not common:
        return "none of the settlement's SKUs is on the order"
    if len(wanted) == 1:
        return f"same SKU {next(iter(common))}"
    return f"has {len(common)} of the {len(wanted)} SKUs ({', '.join(sorted(common))})"
