"""Period-end accruals of orders shipped but not yet settled, and their reversal on the next period's first day.

Rules (also in the README):
- An Amazon order is accrued for a period when Ledgerline has it as shipped or delivered, the first time its own
  history recorded it reaching shipped/delivered (OrderEvent) falls in the period, and no imported settlement has
  a line for it posted on or before the period's last day (a settlement line posted later belongs to a later
  period: the accrual carries the sale until then).
- The figures are Amazon's own, from the Finances API (listTransactions 2024-06-19, stored as received in
  FinancesTransaction): the order's Shipment transactions that are DEFERRED, RELEASED or DEFERRED_RELEASED, each
  finest breakdown to its GL account through the settlement → GL mapping rows (transaction type `Finances`, the
  breakdown's top type, its finest type), money to the seller credited, fees debited; the other side is the
  receivable from Amazon (`Finances / Receivable / DEFERRED` for deferred ones, `Finances / Receivable / *`
  otherwise). Where the Finances API has no breakdown for the order (or no transaction at all) the order's own
  totals are used (sales = total − tax, tax = the items' tax; fees unknown) and the line says so.
- Each line names its order (reference = the Amazon order id). One accrual entry per seller account, currency and
  period, dated the period's last day; its reversal (every line mirrored) is dated the next period's first day (the
  first open date, if that period is closed). Base amounts at the rate of the period's last day.
- A run is idempotent: the same orders and figures change nothing; different ones void the draft accrual and its
  draft reversal and build both again; a posted accrual is never touched (the run reports the difference).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from config.common.errors import ApplicationError
from connectors.amazon.finances import AmazonFinancesClient
from connectors.amazon.finances_types import TRANSACTION_STATUSES, parse_transaction
from mappings.models import GlAccount
from orders.models import SellerAccount
from orders.selectors import orders_shipped
from reconciliation.models import AccountingPeriod, FinancesTransaction, JournalEntry, JournalLine, SettlementLine
from reconciliation.services.classify import GlResolver
from reconciliation.services.journal import (
    _cents,
    account_by_code,
    entry_totals_finish,
    journal_date_open,
    journal_entries_transition,
    rate_on,
)
from reconciliation.services.periods import accounting_period_for

logger = logging.getLogger(__name__)
FINANCES = "Finances"  # the transaction type of accrual mapping rows
RECEIVABLE = "Receivable"
LOOKBACK = timedelta(days=7)  # transactions are posted at shipment, which Amazon may report before we learn of it
MAX_SPAN = timedelta(days=180)  # listTransactions answers nothing for a wider window


@dataclass(frozen=True)
class AccrualLine:
    order_id: str
    amount_type: str
    description: str  # the finest breakdown type, or DEFERRED / * for the receivable
    amount: Decimal  # settlement sign: to the seller positive, fees negative
    text: str


@dataclass
class AccrualRun:
    period: AccountingPeriod
    account: SellerAccount
    orders: int = 0
    from_finances: int = 0
    from_order_totals: int = 0
    built: list[JournalEntry] = field(default_factory=list)
    voided: int = 0
    unchanged: int = 0
    kept_posted: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = (
            f"{self.account.name} {self.period}: {self.orders} order(s) accrued ({self.from_finances} at Finances API "
            f"figures, {self.from_order_totals} at order totals); {len(self.built)} entr(y/ies) built, "
            f"{self.unchanged} unchanged, {self.voided} voided"
        )
        if self.kept_posted:
            text += f"; posted, not rebuilt: {', '.join(self.kept_posted)}"
        return text


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def finances_transactions_fetch(*, account: SellerAccount, posted_after: datetime, posted_before: datetime) -> int:
    """Every Finances API transaction posted in the window, stored as received (refreshed when seen again: a
    deferred one is later released). Returns how many were read."""
    now = timezone.now() - timedelta(minutes=3)  # "more than two minutes before the request"
    posted_before = min(posted_before, now, posted_after + MAX_SPAN)
    if posted_before <= posted_after:
        return 0
    count = 0
    with AmazonFinancesClient.for_account(account) as client:
        for page in client.iter_transactions(posted_after=posted_after, posted_before=posted_before):
            for item in page.transactions:
                FinancesTransaction.objects.update_or_create(
                    seller_account=account, transaction_id=item.transaction_id,
                    defaults={
                        "transaction_type": item.transaction_type, "transaction_status": item.status,
                        "amazon_order_id": item.order_id, "marketplace_id": item.marketplace_id,
                        "posted_at": item.posted_at, "total_amount": item.total, "currency": item.currency,
                        "has_breakdown": bool(item.breakdowns), "payload": item.raw,
                    },
                )  # fmt: skip
                count += 1
    return count


def accrual_candidates(*, account: SellerAccount, period: AccountingPeriod) -> list[tuple[str, str, Decimal | None]]:
    """(order id, currency, total) of the account's orders to accrue for the period (see the module's rules)."""
    end = _midnight(period.end + timedelta(days=1))
    settled = SettlementLine.objects.filter(
        Q(amazon_order_id=OuterRef("external_id")), Q(posted_at__lt=end) | Q(posted_at__isnull=True),
        kind__in=[SettlementLine.Kind.ORDER, SettlementLine.Kind.REFUND],
    )  # fmt: skip
    orders = (
        orders_shipped(seller_account_id=account.pk, shipped_from=_midnight(period.start), shipped_before=end)
        .exclude(Exists(settled))
        .order_by("external_id")
    )
    return list(orders.values_list("external_id", "currency", "total_amount"))


def _order_tax(order_id: str) -> Decimal:
    from orders.models import OrderLine

    tax = Decimal(0)
    for item_tax, shipping_tax in OrderLine.objects.filter(
        order__channel="amazon", order__external_id=order_id
    ).values_list("item_tax", "shipping_tax"):
        tax += (item_tax or Decimal(0)) + (shipping_tax or Decimal(0))
    return tax


def _lines_for(
    order_id: str, total: Decimal | None, stored: list[FinancesTransaction]
) -> tuple[list[AccrualLine], bool]:
    """What to accrue for one order, and whether it came from the Finances API's breakdowns."""
    lines: list[AccrualLine] = []
    with_breakdown = [t for t in stored if t.has_breakdown]
    if with_breakdown:
        for row in with_breakdown:
            item = parse_transaction(row.payload)
            receivable = Decimal(0)
            status = "DEFERRED" if item.status == "DEFERRED" else "*"
            for path, leaf in item.leaves():
                if not leaf.amount:
                    continue
                top, finest = path[0], path[-1]
                why = f"Order {order_id}: {' / '.join(path)} ({item.status} transaction {item.transaction_id[:24]})"
                lines.append(AccrualLine(order_id, top, finest, leaf.amount, why))
                receivable += leaf.amount
            text = f"Order {order_id}: receivable from Amazon, {item.status}"
            if item.deferral_reason:
                text += f" ({item.deferral_reason}"
                text += f", until {item.maturity_date:%Y-%m-%d})" if item.maturity_date else ")"
            lines.append(AccrualLine(order_id, RECEIVABLE, status, -receivable, text))
        return lines, True
    why = "not in the Finances API" if not stored else "no breakdown in the Finances API"
    if total is None:
        raise ApplicationError(f"order {order_id} has no total and {why}: nothing to accrue it at")
    tax = _order_tax(order_id)
    note = f"{why}: the order's totals (fees not known)"
    lines.append(AccrualLine(order_id, "Sales", "Order total", total - tax, f"Order {order_id}: sales, {note}"))
    if tax:
        lines.append(AccrualLine(order_id, "Tax", "Order tax", tax, f"Order {order_id}: tax, {note}"))
    lines.append(AccrualLine(order_id, RECEIVABLE, "*", -total, f"Order {order_id}: receivable from Amazon, {note}"))
    return lines, False


def _sides(amount: Decimal) -> tuple[Decimal, Decimal]:
    return (-amount, Decimal(0)) if amount < 0 else (Decimal(0), amount)


def _signature(lines: list[tuple[int, str, Decimal, Decimal]]) -> list[tuple[int, str, Decimal, Decimal]]:
    return sorted(lines)


def period_accruals_run(
    *, account: SellerAccount, period: AccountingPeriod, actor: str, fetch: bool = True
) -> AccrualRun:
    """Accrue the period's shipped-not-settled orders of one account (and their reversal). Safe to run again."""
    period = AccountingPeriod.objects.get(pk=period.pk)
    if period.end >= timezone.now().date():
        raise ApplicationError(f"period {period} has not ended: accruals are made once it has")
    if period.status == AccountingPeriod.Status.CLOSED:
        raise ApplicationError(f"period {period} is closed: its accruals can no longer change")
    if fetch:
        since = _midnight(period.start) - LOOKBACK
        finances_transactions_fetch(account=account, posted_after=since, posted_before=since + MAX_SPAN)
    run = AccrualRun(period=period, account=account)
    candidates = accrual_candidates(account=account, period=period)
    stored: dict[str, list[FinancesTransaction]] = defaultdict(list)
    for row in FinancesTransaction.objects.filter(
        seller_account=account, amazon_order_id__in=[c[0] for c in candidates], transaction_type="Shipment",
        transaction_status__in=TRANSACTION_STATUSES,
    ).order_by("posted_at", "transaction_id"):  # fmt: skip
        stored[row.amazon_order_id].append(row)
    by_currency: dict[str, list[AccrualLine]] = defaultdict(list)
    for order_id, currency, total in candidates:
        rows = stored.get(order_id, [])
        lines, from_finances = _lines_for(order_id, total, rows)
        code = currency or (rows[0].currency if rows else "") or settings.LEDGER_BASE_CURRENCY
        by_currency[code].extend(lines)
        run.orders += 1
        run.from_finances += int(from_finances)
        run.from_order_totals += int(not from_finances)
    resolver = GlResolver.load()
    base = settings.LEDGER_BASE_CURRENCY
    rounding = account_by_code(settings.LEDGER_ROUNDING_ACCOUNT, "LEDGER_ROUNDING_ACCOUNT")
    with transaction.atomic():
        # Two runs for one account (the schedule and an operator) take turns: the second sees the first's entries.
        SellerAccount.objects.select_for_update().filter(pk=account.pk).first()
        live = {
            e.currency: e
            for e in JournalEntry.objects.select_for_update()
            .filter(kind=JournalEntry.Kind.ACCRUAL, seller_account=account, period_start=period.start)
            .exclude(status=JournalEntry.Status.VOID)
        }
        for currency in sorted(set(live) | set(by_currency)):
            wanted = []
            for line in by_currency.get(currency, []):
                gl = resolver.resolve(FINANCES, line.amount_type, line.description)
                if gl is None:
                    raise ApplicationError(
                        f"no GL account for accrual figures {FINANCES} / {line.amount_type} / {line.description} "
                        "(Mappings → settlement → GL mappings)"
                    )
                wanted.append((gl, line))
            existing = live.get(currency)
            if existing is not None:
                have = _signature(
                    [
                        (x.gl_account_id, x.reference, x.debit, x.credit)
                        for x in existing.lines.all()
                        if x.description != "Currency rounding"
                    ]
                )
                want = _signature([(gl, line.order_id, *_sides(line.amount)) for gl, line in wanted])
                if have == want:
                    run.unchanged += 1
                    continue
                reversal = getattr(existing, "reversal", None)
                if existing.status != JournalEntry.Status.DRAFT or (
                    reversal is not None and reversal.status != JournalEntry.Status.DRAFT
                ):
                    run.kept_posted.append(f"{currency} accrual {existing.pk}")
                    continue
                ids = [existing.pk] + ([reversal.pk] if reversal is not None else [])
                run.voided += journal_entries_transition(
                    entry_ids=ids, to=JournalEntry.Status.VOID, actor=actor,
                    note=f"Replaced by the accrual run of {timezone.now():%Y-%m-%d %H:%M} (orders or figures changed).",
                )  # fmt: skip
            if wanted:
                run.built += _build(account, period, currency, wanted, base, rounding, run)
    return run


def _build(
    account: SellerAccount,
    period: AccountingPeriod,
    currency: str,
    wanted: list[tuple[int, AccrualLine]],
    base: str,
    rounding: GlAccount,
    run: AccrualRun,
) -> list[JournalEntry]:
    rate = rate_on(currency=currency, base=base, day=period.end)
    orders = len({line.order_id for _, line in wanted})
    day, _ = journal_date_open(day=period.end)
    if day != period.end:
        raise ApplicationError(f"period {period} was closed meanwhile: no accrual can be dated in it")
    accrual = JournalEntry.objects.create(
        kind=JournalEntry.Kind.ACCRUAL, seller_account=account, period_start=period.start, date=day, currency=currency,
        base_currency=base, rate=rate,
        memo=f"Accrual {period}: {orders} Amazon order(s) of {account.name} shipped, in no settlement yet",
        note=f"{run.from_finances} order(s) at the Finances API's figures, {run.from_order_totals} at the order's "
        "totals (all currencies of the run).",
    )  # fmt: skip
    next_start = period.end + timedelta(days=1)
    reverse_day, reverse_note = journal_date_open(day=next_start)
    reversal = JournalEntry.objects.create(
        kind=JournalEntry.Kind.REVERSAL, seller_account=account, reverses=accrual,
        period_start=accounting_period_for(day=next_start).start, date=reverse_day, currency=currency,
        base_currency=base, rate=rate, memo=f"Reversal of the accrual {period} of {account.name}",
        note=reverse_note,
    )  # fmt: skip
    for entry, mirror in ((accrual, False), (reversal, True)):
        rows = []
        for n, (gl, line) in enumerate(wanted, start=1):
            debit, credit = _sides(-line.amount if mirror else line.amount)
            rows.append(JournalLine(
                entry=entry, position=n, gl_account_id=gl, currency=currency,
                description=(("Reversal: " if mirror else "") + line.text)[:300], reference=line.order_id[:64],
                debit=debit, credit=credit, base_debit=_cents(debit * rate), base_credit=_cents(credit * rate),
            ))  # fmt: skip
        JournalLine.objects.bulk_create(rows)
        entry_totals_finish(entry=entry, position=len(rows), rounding=rounding, reference=f"accrual {period}")
    return [accrual, reversal]


def accruals_due_run(*, actor: str, today: date | None = None) -> list[str]:
    """The last ended period's accruals for every active account (the daily schedule; the same again changes
    nothing). A closed period is left alone; one account's provider outage or missing mapping does not stop the
    others (logged; the next run tries again)."""
    from config.common.errors import ConnectorError

    today = today or timezone.now().date()
    period = accounting_period_for(day=accounting_period_for(day=today).start - timedelta(days=1))
    if period.status == AccountingPeriod.Status.CLOSED:
        return [f"period {period} is closed"]
    done = []
    for account in SellerAccount.objects.filter(is_active=True).order_by("pk"):
        try:
            done.append(str(period_accruals_run(account=account, period=period, actor=actor)))
        except (ConnectorError, ApplicationError) as exc:
            logger.warning("accruals for %s, %s: %s (next run tries again)", account.name, period, exc)
            done.append(f"{account.name}: {exc}")
    return done
