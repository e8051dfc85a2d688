"""Reads of reconciliation data. Whether a line is matched is read here, by join, never stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from orders.models import Order
from orders.selectors import orders_purchased_between
from payments.selectors import (
    opayo_batch_lines_for_orders,
    opayo_batch_totals_for_batches,
    payment_transactions_for_orders,
)
from reconciliation.models import BankMatchItem, BankStatementLine, Settlement, SettlementLine

ORDER_KINDS = [SettlementLine.Kind.ORDER, SettlementLine.Kind.REFUND]


def _amazon_order() -> QuerySet[Order]:
    return Order.objects.filter(channel=Order.Channel.AMAZON, external_id=OuterRef("amazon_order_id"))


def _our_order() -> QuerySet[Order]:
    # Our own orders (fulfilled by Amazon multi-channel) come back with our order number as merchant-order-id.
    return Order.objects.filter(channel=Order.Channel.ECOMMERCE, external_id=OuterRef("merchant_order_id"))


def settlement_lines_with_orders(*, lines: QuerySet[SettlementLine]) -> QuerySet[SettlementLine]:
    """Lines annotated with `order_pk`: the order a line belongs to, or None."""
    return lines.annotate(
        order_pk=Coalesce(Subquery(_amazon_order().values("pk")[:1]), Subquery(_our_order().values("pk")[:1]))
    )


def settlement_lines_matched_filter(*, matched: bool) -> Q:
    """Order and refund lines whose order Ledgerline has (matched) or has not (an exception)."""
    found = Exists(_amazon_order()) | Exists(_our_order())
    return Q(kind__in=ORDER_KINDS) & (found if matched else ~found)


def settlement_lines_unmatched(*, settlement: Settlement) -> QuerySet[SettlementLine]:
    return settlement.lines.filter(settlement_lines_matched_filter(matched=False))


# --- three-way view: order ↔ payment or settlement ↔ batch or payout ↔ bank deposit ------------------------------


@dataclass
class Stage:
    name: str  # "order", "capture", "batch", "settlement", "payout", "bank"
    ok: bool
    amount: Decimal | None
    reference: str
    detail: str


@dataclass
class ThreeWayRow:
    order_id: int
    order_number: str
    channel: str
    purchased_at: datetime
    currency: str
    order_total: Decimal | None
    stages: list[Stage] = field(default_factory=list)

    @property
    def breaks(self) -> list[str]:
        return [f"{s.name}: {s.detail}" for s in self.stages if not s.ok]

    @property
    def matched(self) -> bool:
        return all(s.ok for s in self.stages)


@dataclass
class ThreeWayPeriod:
    rows: list[ThreeWayRow]
    orders: int
    matched: int
    with_breaks: int
    truncated: bool


def _money(amount: Decimal | None, currency: str) -> str:
    return f"{amount:,.2f} {currency}" if amount is not None else f"- {currency}"


def _bank_items_by_settlement(settlement_ids: set[int]) -> dict[int, BankMatchItem]:
    return {
        i.settlement_id: i
        for i in BankMatchItem.objects.filter(settlement_id__in=settlement_ids).select_related("match__line")
        if i.settlement_id is not None
    }


def _bank_items_by_batch_total(total_ids: set[int]) -> dict[int, BankMatchItem]:
    return {
        i.opayo_batch_total_id: i
        for i in BankMatchItem.objects.filter(opayo_batch_total_id__in=total_ids).select_related("match__line")
        if i.opayo_batch_total_id is not None
    }


def _bank_stage(item: BankMatchItem | None, what: str) -> Stage:
    if item is None:
        return Stage("bank", False, None, "", f"{what} is in no bank deposit yet")
    line = item.match.line
    return Stage(
        "bank", True, line.amount, line.bank_reference or line.reference,
        f"{what} paid in {line.booking_date} ({_money(line.amount, line.currency)} deposit, "
        f"{item.match.get_kind_display().lower()})",
    )  # fmt: skip


def _ecommerce_rows(orders: list[Order]) -> list[ThreeWayRow]:
    ids = [o.pk for o in orders]
    txs: dict[int, list[Any]] = {}
    for tx in payment_transactions_for_orders(order_ids=ids):
        txs.setdefault(tx.payment.order_id, []).append(tx)
    batch_lines: dict[int, Any] = {}  # our transaction → its batch line (a matched one wins)
    for found in opayo_batch_lines_for_orders(order_ids=ids):
        if found.payment_transaction_id is not None:
            batch_lines.setdefault(found.payment_transaction_id, found)
            if found.match_status == "matched":
                batch_lines[found.payment_transaction_id] = found
    totals = {
        (t.batch_id, t.currency): t
        for t in opayo_batch_totals_for_batches(batch_ids={bl.batch_id for bl in batch_lines.values()})
    }
    bank = _bank_items_by_batch_total({t.pk for t in totals.values()})
    rows = []
    for order in orders:
        row = ThreeWayRow(order.pk, order.external_id, order.channel, order.purchased_at, order.currency,
                          order.total_amount)  # fmt: skip
        mine = txs.get(order.pk, [])
        refunds = sum((t.amount for t in mine if t.kind == "refund"), Decimal(0))
        taken = sum((t.amount for t in mine if t.kind != "refund"), Decimal(0))
        row.stages.append(Stage("order", order.total_amount is not None, order.total_amount, order.external_id,
                                f"order total {_money(order.total_amount, order.currency)}"))  # fmt: skip
        if not mine:
            row.stages.append(Stage("capture", False, None, "", "no captured Opayo payment for the order"))
            rows.append(row)
            continue
        net = taken - refunds
        codes = ", ".join(t.vendor_tx_code for t in mine)
        if order.total_amount is not None and taken != order.total_amount:
            detail = (f"captured {_money(taken, order.currency)} but the order total is "
                      f"{_money(order.total_amount, order.currency)} (difference "
                      f"{_money(taken - order.total_amount, order.currency)})")  # fmt: skip
            row.stages.append(Stage("capture", False, net, codes, detail))
        else:
            refunded = f", refunded {_money(refunds, order.currency)}" if refunds else ""
            row.stages.append(Stage("capture", True, net, codes, f"captured {_money(taken, order.currency)}{refunded}"))
        batch_ok, batch_detail, batch_refs, paid = True, [], [], []
        for tx in mine:
            bl = batch_lines.get(tx.pk)
            if bl is None:
                batch_ok = False
                batch_detail.append(f"{tx.vendor_tx_code} ({tx.kind}) is in no Opayo batch yet")
                continue
            batch_refs.append(bl.batch.batch_id)
            if bl.match_status != "matched":
                batch_ok = False
                why = bl.match_reason or bl.get_match_status_display()
                batch_detail.append(f"{tx.vendor_tx_code} in batch {bl.batch.batch_id}: {why}")
            else:
                batch_detail.append(
                    f"{tx.vendor_tx_code} settled in batch {bl.batch.batch_id} of {bl.batch.batch_date}"
                )
                paid.append(totals.get((bl.batch_id, bl.currency or order.currency)))
        refs = ", ".join(sorted(set(batch_refs)))
        row.stages.append(Stage("batch", batch_ok, None, refs, "; ".join(batch_detail)))
        if not batch_ok and not paid:
            rows.append(row)
            continue
        seen: set[int] = set()
        for total in paid:
            if total is None or total.pk in seen:
                continue
            seen.add(total.pk)
            row.stages.append(_bank_stage(bank.get(total.pk), f"Opayo batch {total.batch.batch_id} {total.currency}"))
        rows.append(row)
    return rows


def _amazon_rows(orders: list[Order]) -> list[ThreeWayRow]:
    by_ref: dict[str, list[tuple[int, str, str, Decimal]]] = {}
    refs = [o.external_id for o in orders]
    for settlement_id, ref, kind, amount_type, amount in SettlementLine.objects.filter(
        amazon_order_id__in=refs
    ).values_list("settlement_id", "amazon_order_id", "kind", "amount_type", "amount"):
        by_ref.setdefault(ref, []).append((settlement_id, kind, amount_type, amount))
    settlements = {s.pk: s for s in Settlement.objects.filter(pk__in={r[0] for v in by_ref.values() for r in v})}
    bank = _bank_items_by_settlement(set(settlements))
    rows = []
    for order in orders:
        row = ThreeWayRow(order.pk, order.external_id, order.channel, order.purchased_at, order.currency,
                          order.total_amount)  # fmt: skip
        known = order.total_amount is not None
        said = f"order total {_money(order.total_amount, order.currency)}" if known else "Amazon gave no total yet"
        row.stages.append(Stage("order", known, order.total_amount, order.external_id, said))
        lines = by_ref.get(order.external_id, [])
        if not lines:
            row.stages.append(Stage("settlement", False, None, "", "in no imported Amazon settlement yet"))
            rows.append(row)
            continue
        charged = sum((a for _, kind, t, a in lines if kind == "order" and t in ("ItemPrice", "Promotion")), Decimal(0))
        fees = sum(
            (a for _, kind, t, a in lines if kind == "order" and t not in ("ItemPrice", "Promotion")), Decimal(0)
        )
        refunded = sum((a for _, kind, _, a in lines if kind == "refund"), Decimal(0))
        ids = sorted({settlements[s].settlement_id for s, *_ in lines})
        if order.total_amount is not None and charged != order.total_amount:
            detail = (
                f"Amazon settled {_money(charged, order.currency)} for the order (price, tax, shipping, promotions) "
                f"but its total is {_money(order.total_amount, order.currency)} "
                f"(difference {_money(charged - order.total_amount, order.currency)})"
            )
            row.stages.append(Stage("settlement", False, charged, ", ".join(ids), detail))
        else:
            more = f", refunds {_money(refunded, order.currency)}" if refunded else ""
            detail = (
                f"settled {_money(charged, order.currency)}, fees and withholdings {_money(fees, order.currency)}{more}"
            )
            row.stages.append(Stage("settlement", True, charged, ", ".join(ids), detail))
        for pk in sorted({s for s, *_ in lines}):
            s = settlements[pk]
            ok = s.status != Settlement.Status.FLAGGED and s.total_amount > 0
            detail = (f"settlement {s.settlement_id} pays {_money(s.total_amount, s.currency)} on "
                      f"{s.deposit_date.date() if s.deposit_date else '?'}")  # fmt: skip
            if s.status == Settlement.Status.FLAGGED:
                detail += f"; flagged: {s.problem}"
            elif s.total_amount <= 0:
                detail += "; nothing to pay (the seller owes Amazon)"
            row.stages.append(Stage("payout", ok, s.total_amount, s.settlement_id, detail))
            if s.total_amount > 0:
                row.stages.append(_bank_stage(bank.get(pk), f"Amazon settlement {s.settlement_id}"))
        rows.append(row)
    return rows


def three_way_for_orders(*, orders: list[Order]) -> list[ThreeWayRow]:
    """Each order followed to the bank, every step matched or its break explained (in the orders' order)."""
    amazon = {r.order_id: r for r in _amazon_rows([o for o in orders if o.channel == Order.Channel.AMAZON])}
    shop = {r.order_id: r for r in _ecommerce_rows([o for o in orders if o.channel != Order.Channel.AMAZON])}
    return [amazon.get(o.pk) or shop[o.pk] for o in orders]


def three_way_order(*, order_id: int) -> ThreeWayRow:
    orders = list(orders_purchased_between(order_ids=[order_id]))
    if not orders:
        raise Order.DoesNotExist(f"no order {order_id}")
    return three_way_for_orders(orders=orders)[0]


def three_way_period(
    *, date_from: date, date_to: date, channel: str | None = None, only_breaks: bool = False, limit: int = 1000
) -> ThreeWayPeriod:
    """Orders bought from `date_from` to `date_to` (inclusive, local days), each followed to the bank."""
    tz = timezone.get_current_timezone()
    start = datetime.combine(date_from, time.min, tzinfo=tz)
    end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=tz)
    orders = list(orders_purchased_between(start=start, end=end, channel=channel)[: limit + 1])
    truncated = len(orders) > limit
    rows = three_way_for_orders(orders=orders[:limit])
    matched = sum(1 for r in rows if r.matched)
    shown = [r for r in rows if not r.matched] if only_breaks else rows
    return ThreeWayPeriod(shown, len(rows), matched, len(rows) - matched, truncated)


def bank_lines_open() -> QuerySet[BankStatementLine]:
    """Deposits not matched yet, short, or overdue (the bank side of the exception queue)."""
    return BankStatementLine.objects.filter(
        status__in=[BankStatementLine.Status.UNMATCHED, BankStatementLine.Status.SHORT,
                    BankStatementLine.Status.EXCEPTION]
    ).select_related("bank_account")  # fmt: skip
