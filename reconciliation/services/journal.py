"""One balanced journal entry per settlement.

Sign convention of the settlement: money to the seller positive, fees negative. A positive amount is credited
to its GL account (revenue, tax collected, reserve released) and a negative one debited (fees, refunds, reserve
held); the net payout is debited to the clearing account (credited when the seller owes Amazon). Debits equal
credits in the settlement currency by construction, and in the base currency with a rounding line.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from mappings.models import CurrencyRate, GlAccount
from reconciliation.models import JOURNAL_TRANSITIONS, JournalEntry, JournalLine, Settlement

CENT = Decimal("0.01")


class JournalNotReady(Exception):
    """Something the journal needs is missing (rate, account); the message says what."""


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _rate(settlement: Settlement, base: str) -> Decimal:
    if settlement.currency == base:
        return Decimal(1)
    day = (settlement.deposit_date or settlement.end_date or settlement.created_at).date()
    rate = (
        CurrencyRate.objects.filter(currency=settlement.currency, base_currency=base, date__lte=day)
        .order_by("-date")
        .values_list("rate", flat=True)
        .first()
    )
    if rate is None:
        raise JournalNotReady(f"no {settlement.currency}→{base} rate on or before {day} (Mappings → currency rates)")
    return rate


def _account(code: str, what: str) -> GlAccount:
    account = GlAccount.objects.filter(code=code, is_active=True).first()
    if account is None:
        raise JournalNotReady(f"the {what} GL account {code!r} does not exist or is inactive (settings: {what})")
    return account


def _sides(amount: Decimal) -> tuple[Decimal, Decimal]:
    """(debit, credit) of a settlement amount."""
    return (-amount, Decimal(0)) if amount < 0 else (Decimal(0), amount)


def settlement_journal_build(*, settlement: Settlement) -> JournalEntry:
    """The settlement's journal entry (built once). Raises JournalNotReady when a rate or account is missing."""
    existing = JournalEntry.objects.filter(settlement=settlement).first()
    if existing is not None:
        return existing
    base = settings.LEDGER_BASE_CURRENCY
    rate = _rate(settlement, base)
    clearing = _account(settings.LEDGER_CLEARING_ACCOUNT, "LEDGER_CLEARING_ACCOUNT")
    rounding = _account(settings.LEDGER_ROUNDING_ACCOUNT, "LEDGER_ROUNDING_ACCOUNT")
    day = (settlement.deposit_date or settlement.end_date or settlement.created_at).date()
    with transaction.atomic():
        entry = JournalEntry.objects.create(
            settlement=settlement, date=day, currency=settlement.currency, base_currency=base, rate=rate,
            memo=f"Amazon settlement {settlement.settlement_id}",
        )  # fmt: skip
        if settings.LEDGER_JOURNAL_DETAIL == "line":
            position = _detail_lines(entry, settlement, rate)
        else:
            position = _summary_lines(entry, settlement, rate)
        debit, credit = _sides(settlement.total_amount)
        # The net payout, on the other side of everything above.
        lines = [
            JournalLine(
                entry=entry, position=position + 1, gl_account=clearing, currency=settlement.currency,
                description=f"Net payout of settlement {settlement.settlement_id}",
                reference=settlement.settlement_id, debit=credit, credit=debit,
                base_debit=_cents(credit * rate), base_credit=_cents(debit * rate),
            )
        ]  # fmt: skip
        JournalLine.objects.bulk_create(lines)
        totals = entry.lines.aggregate(
            d=Sum("debit"), c=Sum("credit"), bd=Sum("base_debit"), bc=Sum("base_credit"), n=Count("pk")
        )
        base_debit, base_credit = totals["bd"] or Decimal(0), totals["bc"] or Decimal(0)
        difference = base_debit - base_credit
        if difference:
            # Each line is converted and rounded on its own; the cents that leaves go to the rounding account.
            rounding_line = JournalLine.objects.create(
                entry=entry, position=position + 2, gl_account=rounding, currency=settlement.currency,
                description="Currency rounding", reference=settlement.settlement_id,
                base_debit=max(-difference, Decimal(0)), base_credit=max(difference, Decimal(0)),
            )  # fmt: skip
            base_debit += rounding_line.base_debit
            base_credit += rounding_line.base_credit
            totals["n"] += 1
        entry.total_debit, entry.total_credit = totals["d"], totals["c"]
        entry.base_total_debit, entry.base_total_credit = base_debit, base_credit
        entry.line_count = totals["n"]
        entry.save()  # the database refuses an unbalanced entry (check constraints)
    return entry


def _summary_lines(entry: JournalEntry, settlement: Settlement, rate: Decimal) -> int:
    """One line per GL account and marketplace (what a ledger wants), netted."""
    sums: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    names = dict(GlAccount.objects.values_list("pk", "name"))
    for gl, marketplace, total in (
        settlement.lines.values_list("gl_account_id", "marketplace_name")
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


def _detail_lines(entry: JournalEntry, settlement: Settlement, rate: Decimal) -> int:
    """One line per settlement line (audit detail), written by the database in one statement."""
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
        WHERE l.settlement_id = %s AND l.amount <> 0
    """  # noqa: S608 (fixed identifiers only)
    with connection.cursor() as cursor:
        cursor.execute(sql, [entry.pk, settlement.settlement_id, rate, rate, settlement.pk])
        return int(cursor.rowcount)


def journal_entries_post(*, entry_ids: Sequence[int], actor: str) -> int:
    """The one writer of JournalEntry.status: drafts marked as posted to the ledger (who and when kept on the entry,
    and each change in the audit trail). Entries already posted are left as they are. Returns how many changed."""
    posted = 0
    with transaction.atomic():
        for entry in JournalEntry.objects.select_for_update().filter(pk__in=list(entry_ids)).order_by("pk"):
            if JournalEntry.Status.POSTED not in JOURNAL_TRANSITIONS[entry.status]:
                continue
            entry.status, entry.posted_at, entry.posted_by = JournalEntry.Status.POSTED, timezone.now(), actor[:150]
            entry.save(update_fields=["status", "posted_at", "posted_by", "updated_at"])  # saved: audited
            posted += 1
    return posted
