"""Balanced journal entries of a settlement: one per accounting period its lines fall in (by posted date).

Sign convention of the settlement: money to the seller positive, fees negative. A positive amount is credited
to its GL account (revenue, tax collected, reserve released) and a negative one debited (fees, refunds, reserve
held); the net payout is debited to the clearing account (credited when the seller owes Amazon). Debits equal
credits in the settlement currency by construction, and in the base currency with a rounding line.

A settlement whose lines fall in several accounting periods gets one entry per period, each balanced with its own
share of the clearing account (the net of its lines), so a settlement's clearing lines still add up to its payout.
The deposit's period is dated at the deposit, an earlier one at its last day; a closed period's part is dated at
the first open date, with a note. All entries use the rate of the deposit date.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max, Min, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from mappings.models import CurrencyRate, GlAccount
from reconciliation.models import JOURNAL_TRANSITIONS, JournalEntry, JournalLine, Settlement
from reconciliation.services.periods import journal_date_open, period_bounds

CENT = Decimal("0.01")


class JournalNotReady(Exception):
    """Something the journal needs is missing (rate, account); the message says what."""


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def rate_on(*, currency: str, base: str, day: date) -> Decimal:
    """Base units per unit of `currency`: the CurrencyRate on or before `day`. Raises JournalNotReady without one."""
    if currency == base:
        return Decimal(1)
    rate = (
        CurrencyRate.objects.filter(currency=currency, base_currency=base, date__lte=day)
        .order_by("-date")
        .values_list("rate", flat=True)
        .first()
    )
    if rate is None:
        raise JournalNotReady(f"no {currency}→{base} rate on or before {day} (Mappings → currency rates)")
    return rate


def _rate(settlement: Settlement, base: str) -> Decimal:
    day = (settlement.deposit_date or settlement.end_date or settlement.created_at).date()
    return rate_on(currency=settlement.currency, base=base, day=day)


def account_by_code(code: str, what: str) -> GlAccount:
    account = GlAccount.objects.filter(code=code, is_active=True).first()
    if account is None:
        raise JournalNotReady(f"the {what} GL account {code!r} does not exist or is inactive (settings: {what})")
    return account


def _sides(amount: Decimal) -> tuple[Decimal, Decimal]:
    """(debit, credit) of a settlement amount."""
    return (-amount, Decimal(0)) if amount < 0 else (Decimal(0), amount)


def _settlement_day(settlement: Settlement) -> date:
    return (settlement.deposit_date or settlement.end_date or settlement.created_at).date()


def _fallback_day(settlement: Settlement) -> date:
    """Where a line without a posted date goes: the settlement's end (the last day it covers), else its deposit."""
    return (settlement.end_date or settlement.deposit_date or settlement.created_at).date()


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


@dataclass(frozen=True)
class _Part:
    """The lines of one settlement that fall in one accounting period."""

    start: date
    end: date
    first_posted: date | None
    last_posted: date | None
    with_undated: bool  # lines without a posted date go to the fallback day's period
    whole: bool = False  # every line of the settlement (it is in one period): no filter to apply

    def lines_q(self) -> Q:
        if self.whole:
            return Q()
        q = Q(posted_at__gte=_midnight(self.start), posted_at__lt=_midnight(self.end + timedelta(days=1)))
        return q | Q(posted_at__isnull=True) if self.with_undated else q

    def sql(self) -> tuple[str, list[Any]]:
        if self.whole:
            return "TRUE", []
        condition = "(l.posted_at >= %s AND l.posted_at < %s)"
        if self.with_undated:
            condition = f"({condition} OR l.posted_at IS NULL)"
        return condition, [_midnight(self.start), _midnight(self.end + timedelta(days=1))]


def settlement_periods(*, settlement: Settlement) -> list[_Part]:
    """The accounting periods a settlement's lines fall in, by each line's posted date (UTC), oldest first."""
    span = settlement.lines.aggregate(first=Min("posted_at"), last=Max("posted_at"))
    fallback = _fallback_day(settlement)
    if span["first"] is not None:
        first, last = span["first"].astimezone(UTC).date(), span["last"].astimezone(UTC).date()
        undated = settlement.lines.filter(posted_at__isnull=True).exists()
        bounds = period_bounds(first)
        if bounds == period_bounds(last) and (not undated or bounds == period_bounds(fallback)):
            # The usual case: one period. Two index-free aggregates instead of sorting every line's day.
            return [_Part(start=bounds[0], end=bounds[1], first_posted=first, last_posted=last, with_undated=undated,
                          whole=True)]  # fmt: skip
    days = set(
        settlement.lines.filter(posted_at__isnull=False)
        .annotate(day=TruncDate("posted_at", tzinfo=UTC))
        .values_list("day", flat=True)
        .distinct()
    )
    undated = settlement.lines.filter(posted_at__isnull=True).exists()
    by_period: dict[tuple[date, date], list[date]] = defaultdict(list)
    for day in days:
        by_period[period_bounds(day)].append(day)
    if undated or not by_period:
        by_period.setdefault(period_bounds(fallback), [])
    return [
        _Part(
            start=start,
            end=end,
            first_posted=min(posted) if posted else None,
            last_posted=max(posted) if posted else None,
            with_undated=(undated or not days) and start <= fallback <= end,
        )
        for (start, end), posted in sorted(by_period.items())
    ]


def settlement_journal_build(*, settlement: Settlement) -> list[JournalEntry]:
    """The settlement's journal entries, one per accounting period its lines fall in (built once, together).
    Each is balanced with its own share of the clearing account, so the clearing lines add up to the payout.
    Raises JournalNotReady when a rate or account is missing."""
    existing = list(JournalEntry.objects.filter(settlement=settlement).order_by("period_start"))
    if existing:
        return existing
    base = settings.LEDGER_BASE_CURRENCY
    rate = _rate(settlement, base)
    clearing = account_by_code(settings.LEDGER_CLEARING_ACCOUNT, "LEDGER_CLEARING_ACCOUNT")
    rounding = account_by_code(settings.LEDGER_ROUNDING_ACCOUNT, "LEDGER_ROUNDING_ACCOUNT")
    deposit = _settlement_day(settlement)
    parts = settlement_periods(settlement=settlement)
    entries = []
    with transaction.atomic():
        for n, part in enumerate(parts, start=1):
            # The deposit's period is dated at the deposit (as a single-period settlement always was); an earlier
            # period at its last day, so its sales and fees land in the month they happened.
            wanted = deposit if part.start <= deposit <= part.end else part.end if part.end < deposit else part.start
            day, note = journal_date_open(day=wanted)
            memo = f"Amazon settlement {settlement.settlement_id}"
            if len(parts) > 1:
                span = f"{part.first_posted} to {part.last_posted}" if part.first_posted else "undated lines"
                memo += f", lines posted {span} (part {n} of {len(parts)})"
            entry = JournalEntry.objects.create(
                kind=JournalEntry.Kind.SETTLEMENT, settlement=settlement, period_start=part.start, date=day,
                currency=settlement.currency, base_currency=base, rate=rate, memo=memo[:300], note=note,
            )  # fmt: skip
            if settings.LEDGER_JOURNAL_DETAIL == "line":
                position = _detail_lines(entry, settlement, rate, part)
            else:
                position = _summary_lines(entry, settlement, rate, part)
            payout = f"Net payout of settlement {settlement.settlement_id}"
            if len(parts) > 1:
                payout += f" for {part.start:%Y-%m-%d} to {part.end:%Y-%m-%d}"
            _close_entry(entry, position, clearing, rounding, rate, settlement.settlement_id, payout)
            entries.append(entry)
    return entries


def _close_entry(
    entry: JournalEntry,
    position: int,
    clearing: GlAccount,
    rounding: GlAccount,
    rate: Decimal,
    reference: str,
    description: str,
) -> None:
    """The balancing line on `clearing` (the other side of everything written so far), then rounding and totals."""
    totals = entry.lines.aggregate(d=Sum("debit"), c=Sum("credit"))
    net = (totals["c"] or Decimal(0)) - (totals["d"] or Decimal(0))  # what the seller is owed (payout when > 0)
    debit, credit = max(net, Decimal(0)), max(-net, Decimal(0))
    JournalLine.objects.create(
        entry=entry, position=position + 1, gl_account=clearing, currency=entry.currency, description=description,
        reference=reference[:64], debit=debit, credit=credit, base_debit=_cents(debit * rate),
        base_credit=_cents(credit * rate),
    )  # fmt: skip
    entry_totals_finish(entry=entry, position=position + 1, rounding=rounding, reference=reference)


def entry_totals_finish(*, entry: JournalEntry, position: int, rounding: GlAccount, reference: str) -> None:
    """After an entry's lines (balanced in its currency) are written: the base-currency rounding line when
    converting each line on its own left cents over, then the entry's totals (which the database checks)."""
    totals = entry.lines.aggregate(
        d=Sum("debit"), c=Sum("credit"), bd=Sum("base_debit"), bc=Sum("base_credit"), n=Count("pk")
    )
    base_debit, base_credit = totals["bd"] or Decimal(0), totals["bc"] or Decimal(0)
    difference = base_debit - base_credit
    if difference:
        # Each line is converted and rounded on its own; the cents that leaves go to the rounding account.
        rounding_line = JournalLine.objects.create(
            entry=entry, position=position + 1, gl_account=rounding, currency=entry.currency,
            description="Currency rounding", reference=reference[:64],
            base_debit=max(-difference, Decimal(0)), base_credit=max(difference, Decimal(0)),
        )  # fmt: skip
        base_debit += rounding_line.base_debit
        base_credit += rounding_line.base_credit
        totals["n"] += 1
    entry.total_debit, entry.total_credit = totals["d"], totals["c"]
    entry.base_total_debit, entry.base_total_credit = base_debit, base_credit
    entry.line_count = totals["n"]
    entry.save()  # the database refuses an unbalanced entry (check constraints)


def _summary_lines(entry: JournalEntry, settlement: Settlement, rate: Decimal, part: _Part) -> int:
    """One line per GL account and marketplace (what a ledger wants), netted."""
    sums: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    names = dict(GlAccount.objects.values_list("pk", "name"))
    for gl, marketplace, total in (
        settlement.lines.filter(part.lines_q())
        .values_list("gl_account_id", "marketplace_name")
        .annotate(total=Sum("amount"))
        .order_by("gl_account__code", "marketplace_name")
    ):
        sums[(gl, marketplace)] += _cents(Decimal(total))
    lines: list[JournalLine] = []
    for (gl, marketplace), amount in sums.items():
        if not amount:
            continue
        debit, credit = _sides(amount)
        lines.append(
            JournalLine(
                entry=entry, position=len(lines) + 1, gl_account_id=gl, currency=settlement.currency,
                description=f"{names[gl]} - {marketplace or 'no marketplace'}", reference=settlement.settlement_id,
                debit=debit, credit=credit, base_debit=_cents(debit * rate), base_credit=_cents(credit * rate),
            )
        )  # fmt: skip
    JournalLine.objects.bulk_create(lines)
    return len(lines)


def _detail_lines(entry: JournalEntry, settlement: Settlement, rate: Decimal, part: _Part) -> int:
    """One line per settlement line of the period (audit detail), written by the database in one statement."""
    condition, params = part.sql()
    sql = f"""
        INSERT INTO {JournalLine._meta.db_table}
            (entry_id, position, gl_account_id, description, reference, debit, credit, currency,
             base_debit, base_credit, settlement_line_id)
        SELECT %s, ROW_NUMBER() OVER (ORDER BY l.line_number), l.gl_account_id,
               LEFT(l.transaction_type || ' ' || l.amount_type || ' ' || l.amount_description, 300),
               LEFT(COALESCE(NULLIF(l.amazon_order_id, ''), NULLIF(l.merchant_order_id, ''), %s), 64),
               GREATEST(-l.amount, 0), GREATEST(l.amount, 0), l.currency,
               ROUND(GREATEST(-l.amount, 0) * %s, 2), ROUND(GREATEST(l.amount, 0) * %s, 2), l.id
        FROM reconciliation_settlementline l
        WHERE l.settlement_id = %s AND l.amount <> 0 AND {condition}
    """  # noqa: S608 (fixed identifiers only)
    with connection.cursor() as cursor:
        cursor.execute(sql, [entry.pk, settlement.settlement_id, rate, rate, settlement.pk, *params])
        return int(cursor.rowcount)


def journal_entries_transition(*, entry_ids: Sequence[int], to: str, actor: str, note: str = "") -> int:
    """The one writer of JournalEntry.status (JOURNAL_TRANSITIONS): drafts posted to the ledger (who and when kept
    on the entry) or voided (a draft accrual a later run replaces). Each change is saved, so it is in the audit
    trail. Entries the table does not let move are left as they are. Returns how many changed."""
    changed = 0
    with transaction.atomic():
        for entry in JournalEntry.objects.select_for_update().filter(pk__in=list(entry_ids)).order_by("pk"):
            if to not in JOURNAL_TRANSITIONS[entry.status]:
                continue
            entry.status = to
            fields = ["status", "updated_at"]
            if to == JournalEntry.Status.POSTED:
                entry.posted_at, entry.posted_by = timezone.now(), actor[:150]
                fields += ["posted_at", "posted_by"]
            if note:
                entry.note = f"{entry.note}\n{note}".strip()
                fields.append("note")
            entry.save(update_fields=fields)  # saved: audited
            changed += 1
    return changed


def journal_entries_post(*, entry_ids: Sequence[int], actor: str) -> int:
    """Drafts marked as posted to the ledger (entries already posted or void are left as they are)."""
    return journal_entries_transition(entry_ids=entry_ids, to=JournalEntry.Status.POSTED, actor=actor)
