"""Bank deposits matched to what they pay, with the reason in words, and the clearing → bank journal.

A deposit (a statement line with money in) pays either
- one Amazon settlement: its payout (total-amount) in its currency, arriving from Amazon's deposit-date to
  BANK_AMAZON_WINDOW_DAYS after; the settlement id in the transfer's reference decides, otherwise the amount and
  the date window must leave exactly one settlement; or
- one or more Opayo batches: each batch's per-currency payments − refunds, less the acquirer's fee under net
  credit billing (BANK_OPAYO_FEE_PERCENT of payments), settling from BANK_OPAYO_WINDOW_DAYS before the value date
  to the value date; the smallest set of unpaid batches that adds up to the deposit, when only one set does.

A deposit that names a settlement (or is Amazon's, with one settlement due) but differs in amount is *short* (an
exception with the difference); one that still matches nothing BANK_UNMATCHED_DAYS after booking is an exception.
A match is final and gets its journal at once: bank account's GL debited with the deposit, the clearing account
credited with what each item pays, fees debited (draft; Finance marks it posted with the journal writer).
`bank_line_status_set` is the one writer of BankStatementLine.status (BANK_LINE_TRANSITIONS, a BankLineEvent each).
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Sum
from django.utils import timezone

from config.common.models import ExceptionItem
from config.common.services import exception_open, exceptions_resolve_for
from mappings.models import GlAccount
from payments.models import OpayoBatchTotal
from payments.selectors import opayo_batch_totals_between
from reconciliation.models import (
    BANK_LINE_TRANSITIONS,
    BankLineEvent,
    BankMatch,
    BankMatchItem,
    BankStatementLine,
    JournalEntry,
    JournalLine,
    Settlement,
)
from reconciliation.services.journal import JournalNotReady, rate_on
from reconciliation.services.periods import journal_date_open, period_bounds

logger = logging.getLogger(__name__)
ACTOR = "system:bank"
CENT = Decimal("0.01")
AMAZON_PAYER = re.compile(r"AMAZON|AMZN", re.IGNORECASE)
OPEN = [BankStatementLine.Status.UNMATCHED, BankStatementLine.Status.SHORT, BankStatementLine.Status.EXCEPTION]
MAX_BATCHES = 14  # subsets of at most 2^14 candidate batches are tried (a fortnight of daily batches)


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


class InvalidBankTransition(Exception):
    pass


def bank_line_status_set(*, line: BankStatementLine, to: str, actor: str, reason: str) -> bool:
    """The one writer of a bank line's status: checks the transition table, keeps the reason on the line, writes
    an event, and keeps the exception queue in step (open while short or overdue). Returns whether it changed."""
    if line.status == to:
        if line.match_reason != reason:
            line.match_reason = reason
            line.save(update_fields=["match_reason", "updated_at"])
            if to in (BankStatementLine.Status.SHORT, BankStatementLine.Status.EXCEPTION):
                _open_exception(line)
        return False
    if to not in BANK_LINE_TRANSITIONS[line.status]:
        raise InvalidBankTransition(f"bank line {line.pk}: {line.status} → {to} is not allowed")
    BankLineEvent.objects.create(line=line, from_status=line.status, to_status=to, actor=actor[:150], reason=reason)
    line.status, line.match_reason = to, reason
    line.save(update_fields=["status", "match_reason", "updated_at"])
    if to in (BankStatementLine.Status.SHORT, BankStatementLine.Status.EXCEPTION):
        _open_exception(line)
    else:
        exceptions_resolve_for(source=line, actor=actor, note=reason[:500])
    return True


def _open_exception(line: BankStatementLine) -> None:
    what = "short" if line.status == BankStatementLine.Status.SHORT else "unmatched"
    exception_open(
        kind=ExceptionItem.Kind.BANK_DEPOSIT, source=line, reference=(line.bank_reference or line.reference)[:100],
        summary=f"Bank deposit {_money(line.amount, line.currency)} on {line.booking_date} {what}: "
        f"{line.match_reason}",
        detail=line.match_reason,
    )  # fmt: skip


# --- deciding ---------------------------------------------------------------------------------------------------


@dataclass
class Item:
    settlement: Settlement | None = None
    batch_total: OpayoBatchTotal | None = None
    amount: Decimal = Decimal(0)  # before fees
    fees: Decimal = Decimal(0)

    @property
    def expected(self) -> Decimal:
        return self.amount - self.fees


@dataclass
class Decision:
    status: str
    reason: str
    kind: str = ""
    items: list[Item] = field(default_factory=list)


def _text(line: BankStatementLine) -> str:
    return " ".join([line.reference, line.description, line.bank_reference, line.counterparty])


def _settlement_day(settlement: Settlement) -> date | None:
    when = settlement.deposit_date or settlement.end_date
    return timezone.localdate(when) if when else None


def _amazon(line: BankStatementLine) -> tuple[Decision | None, str]:
    """A decision when the line is Amazon's, else (None, why not)."""
    window = settings.BANK_AMAZON_WINDOW_DAYS
    unpaid = Settlement.objects.filter(currency=line.currency, total_amount__gt=0, bank_items__isnull=True)
    numbers = set(re.findall(r"\d{6,}", _text(line)))
    named = list(unpaid.filter(settlement_id__in=numbers)) if numbers else []
    if len(named) == 1:
        s = named[0]
        day = _settlement_day(s)
        when = f"booked {line.booking_date}, Amazon's deposit date {day}" if day else f"booked {line.booking_date}"
        if line.amount == s.total_amount:
            reason = (
                f"The reference names Amazon settlement {s.settlement_id}, and the deposit "
                f"{_money(line.amount, line.currency)} equals its payout ({when})."
            )
            return Decision(
                BankStatementLine.Status.MATCHED, reason, BankMatch.Kind.AMAZON, [Item(s, None, s.total_amount)]
            ), ""
        difference = line.amount - s.total_amount
        word = "short" if difference < 0 else "over"
        reason = (
            f"The reference names Amazon settlement {s.settlement_id}, which pays "
            f"{_money(s.total_amount, s.currency)}, but the deposit is {_money(line.amount, line.currency)}: "
            f"{word} by {_money(abs(difference), line.currency)} ({when})."
        )
        return Decision(
            BankStatementLine.Status.SHORT, reason, BankMatch.Kind.AMAZON, [Item(s, None, s.total_amount)]
        ), ""
    in_window = [
        s for s in unpaid.filter(
            deposit_date__date__gte=line.booking_date - timedelta(days=window),
            deposit_date__date__lte=line.booking_date + timedelta(days=1),
        ).order_by("deposit_date", "pk")
    ]  # fmt: skip
    same_amount = [s for s in in_window if s.total_amount == line.amount]
    span = f"a deposit date from {line.booking_date - timedelta(days=window)} to {line.booking_date}"
    if len(same_amount) == 1:
        s = same_amount[0]
        reason = (
            f"No settlement id in the reference; Amazon settlement {s.settlement_id} is the only unpaid one of "
            f"{_money(line.amount, line.currency)} with {span} (its deposit date: {_settlement_day(s)})."
        )
        return Decision(
            BankStatementLine.Status.MATCHED, reason, BankMatch.Kind.AMAZON, [Item(s, None, s.total_amount)]
        ), ""
    if len(same_amount) > 1:
        ids = ", ".join(s.settlement_id for s in same_amount)
        return Decision(
            BankStatementLine.Status.UNMATCHED,
            f"{len(same_amount)} unpaid Amazon settlements of {_money(line.amount, line.currency)} with {span} "
            f"({ids}): cannot tell which without the settlement id in the reference.",
        ), ""
    if AMAZON_PAYER.search(_text(line)) and len(in_window) == 1:
        s = in_window[0]
        difference = line.amount - s.total_amount
        word = "short" if difference < 0 else "over"
        reason = (
            f"An Amazon transfer (no settlement id in the reference); the only unpaid Amazon settlement with {span} "
            f"is {s.settlement_id}, which pays {_money(s.total_amount, s.currency)}: the deposit "
            f"{_money(line.amount, line.currency)} is {word} by {_money(abs(difference), line.currency)}."
        )
        return Decision(
            BankStatementLine.Status.SHORT, reason, BankMatch.Kind.AMAZON, [Item(s, None, s.total_amount)]
        ), ""
    if in_window:
        listed = ", ".join(f"{s.settlement_id} ({_money(s.total_amount, s.currency)})" for s in in_window[:5])
        return None, f"no unpaid Amazon settlement of that amount with {span} (unpaid in the window: {listed})"
    return None, f"no unpaid Amazon settlement in {line.currency} with {span}"


def _batch_item(total: OpayoBatchTotal) -> Item:
    fees = _cents(total.payment_value * settings.BANK_OPAYO_FEE_PERCENT / 100)
    return Item(None, total, total.payment_value - total.refund_value, fees)


def _describe_batch(item: Item, currency: str) -> str:
    total = item.batch_total
    assert total is not None
    fee = f" − fees {item.fees:,.2f}" if item.fees else ""
    return (
        f"batch {total.batch.batch_id} of {total.batch.batch_date} (payments {total.payment_value:,.2f} − refunds "
        f"{total.refund_value:,.2f}{fee} = {_money(item.expected, currency)})"
    )


def _opayo(line: BankStatementLine) -> tuple[Decision | None, str]:
    window = settings.BANK_OPAYO_WINDOW_DAYS
    value_day = line.value_date or line.booking_date
    start = value_day - timedelta(days=window)
    span = f"settling from {start} to {value_day}"
    candidates = [
        _batch_item(t)
        for t in opayo_batch_totals_between(currency=line.currency, start=start, end=value_day).filter(
            bank_items__isnull=True
        )
    ]
    candidates = [c for c in candidates if c.expected > 0][-MAX_BATCHES:]
    if not candidates:
        return None, f"no unpaid Opayo batch in {line.currency} {span}"
    for size in range(1, len(candidates) + 1):
        found = [combo for combo in itertools.combinations(candidates, size) if
                 sum((c.expected for c in combo), Decimal(0)) == line.amount]  # fmt: skip
        if len(found) == 1:
            items = list(found[0])
            parts = " + ".join(_describe_batch(i, line.currency) for i in items)
            last = max(
                i.batch_total.batch.batch_date for i in items if i.batch_total and i.batch_total.batch.batch_date
            )
            several = f"these {len(items)} Opayo batches" if len(items) > 1 else "Opayo"
            reason = (
                f"The deposit {_money(line.amount, line.currency)} (value date {value_day}, "
                f"{(value_day - last).days} day(s) after the last batch) pays {several}: {parts}."
            )
            return Decision(BankStatementLine.Status.MATCHED, reason, BankMatch.Kind.OPAYO, items), ""
        if len(found) > 1:
            sets = "; ".join(
                " + ".join(i.batch_total.batch.batch_id for i in combo if i.batch_total) for combo in found[:3]
            )
            return Decision(
                BankStatementLine.Status.UNMATCHED,
                f"{len(found)} different sets of {size} unpaid Opayo batch(es) {span} add up to "
                f"{_money(line.amount, line.currency)} ({sets}): cannot tell which.",
            ), ""
    listed = ", ".join(_describe_batch(c, line.currency) for c in candidates[:5])
    return None, f"no set of the unpaid Opayo batches {span} adds up to it ({listed})"


def _decide(line: BankStatementLine) -> Decision:
    amazon, amazon_why = _amazon(line)
    if amazon is not None and amazon.status != BankStatementLine.Status.UNMATCHED:
        return amazon
    opayo, opayo_why = _opayo(line)
    if opayo is not None and opayo.status == BankStatementLine.Status.MATCHED:
        return opayo
    if amazon is not None:
        return amazon
    if opayo is not None:
        return opayo
    return Decision(
        BankStatementLine.Status.UNMATCHED,
        f"Not matched: {amazon_why}; {opayo_why}. Becomes an exception {settings.BANK_UNMATCHED_DAYS} days after "
        "booking if nothing matches by then.",
    )


# --- applying -----------------------------------------------------------------------------------------------------


def _account(code: str, what: str) -> GlAccount:
    account = GlAccount.objects.filter(code=code, is_active=True).first()
    if account is None:
        raise JournalNotReady(f"the {what} GL account {code!r} does not exist or is inactive")
    return account


def _journal(match: BankMatch, line: BankStatementLine, items: list[Item]) -> JournalEntry:
    """Bank debited with the deposit, each item's clearing account credited with what it pays, fees debited, an
    accepted difference on the differences account; balanced in the deposit's currency and, with a rounding line if
    needed, in base."""
    base = settings.LEDGER_BASE_CURRENCY
    rate = rate_on(currency=line.currency, base=base, day=line.booking_date)
    bank = line.bank_account.gl_account
    if not bank.is_active:
        raise JournalNotReady(f"the bank account's GL account {bank.code} is inactive")
    clearing = _account(
        settings.LEDGER_CLEARING_ACCOUNT
        if match.kind == BankMatch.Kind.AMAZON
        else settings.LEDGER_OPAYO_CLEARING_ACCOUNT,
        "LEDGER_CLEARING_ACCOUNT" if match.kind == BankMatch.Kind.AMAZON else "LEDGER_OPAYO_CLEARING_ACCOUNT",
    )
    fees = sum((i.fees for i in items), Decimal(0))
    ref = match.reference
    what = "Amazon settlement " + ", ".join(i.settlement.settlement_id for i in items if i.settlement) if (
        match.kind == BankMatch.Kind.AMAZON) else "Opayo batch " + ", ".join(
        i.batch_total.batch.batch_id for i in items if i.batch_total)  # fmt: skip
    # Dated at the deposit's booking date, or at the first open date when its period is closed (with the note why).
    day, note = journal_date_open(day=line.booking_date)
    entry = JournalEntry.objects.create(
        kind=JournalEntry.Kind.BANK, bank_match=match, date=day, period_start=period_bounds(line.booking_date)[0],
        currency=line.currency, base_currency=base, rate=rate, memo=f"Bank deposit {ref}: {what}"[:300], note=note,
    )  # fmt: skip
    rows: list[tuple[GlAccount, str, Decimal, Decimal]] = [
        (bank, f"Deposit to {line.bank_account.name}", line.amount, Decimal(0))
    ]
    for item in items:
        if item.settlement is not None:
            source = f"Amazon settlement {item.settlement.settlement_id}"
        else:
            assert item.batch_total is not None
            source = f"Opayo batch {item.batch_total.batch.batch_id} {item.batch_total.currency}"
        rows.append((clearing, f"{source} paid", Decimal(0), item.amount))
    if match.difference:
        account = _account(settings.LEDGER_BANK_DIFFERENCE_ACCOUNT, "LEDGER_BANK_DIFFERENCE_ACCOUNT")
        debit, credit = max(-match.difference, Decimal(0)), max(match.difference, Decimal(0))
        said = "short" if debit else "over"
        rows.append((account, f"Deposit {said} (accepted by {match.matched_by})"[:300], debit, credit))
    if fees:
        rows.append(
            (
                _account(settings.LEDGER_CARD_FEES_ACCOUNT, "LEDGER_CARD_FEES_ACCOUNT"),
                "Acquirer fees deducted",
                fees,
                Decimal(0),
            )
        )
    lines = [
        JournalLine(
            entry=entry, position=n, gl_account=account, description=text[:300], reference=ref, debit=debit,
            credit=credit, currency=line.currency, base_debit=_cents(debit * rate), base_credit=_cents(credit * rate),
        )
        for n, (account, text, debit, credit) in enumerate(rows, 1)
    ]  # fmt: skip
    difference = sum((x.base_debit for x in lines), Decimal(0)) - sum((x.base_credit for x in lines), Decimal(0))
    if difference:
        lines.append(
            JournalLine(
                entry=entry, position=len(lines) + 1,
                gl_account=_account(settings.LEDGER_ROUNDING_ACCOUNT, "LEDGER_ROUNDING_ACCOUNT"),
                description="Currency rounding", reference=ref, currency=line.currency,
                base_debit=max(-difference, Decimal(0)), base_credit=max(difference, Decimal(0)),
            )
        )  # fmt: skip
    JournalLine.objects.bulk_create(lines)
    totals = entry.lines.aggregate(d=Sum("debit"), c=Sum("credit"), bd=Sum("base_debit"), bc=Sum("base_credit"))
    entry.total_debit, entry.total_credit = totals["d"], totals["c"]
    entry.base_total_debit, entry.base_total_credit = totals["bd"], totals["bc"]
    entry.line_count = len(lines)
    entry.save()  # the database refuses an unbalanced entry (check constraints)
    return entry


def _apply(line: BankStatementLine, decision: Decision, actor: str, accept_difference: bool = False) -> str:
    if decision.status != BankStatementLine.Status.MATCHED and not accept_difference:
        if line.status == BankStatementLine.Status.EXCEPTION and decision.status == BankStatementLine.Status.UNMATCHED:
            bank_line_status_set(line=line, to=line.status, actor=actor, reason=decision.reason)  # still overdue
            return line.status
        bank_line_status_set(line=line, to=decision.status, actor=actor, reason=decision.reason)
        return decision.status
    try:
        with transaction.atomic():
            expected = sum((i.expected for i in decision.items), Decimal(0))
            match = BankMatch.objects.create(
                line=line, kind=decision.kind, currency=line.currency, amount=line.amount, expected=expected,
                fees=sum((i.fees for i in decision.items), Decimal(0)), difference=line.amount - expected,
                reason=decision.reason, matched_by=actor[:150],
            )  # fmt: skip
            BankMatchItem.objects.bulk_create(
                [
                    BankMatchItem(
                        match=match,
                        settlement=i.settlement,
                        opayo_batch_total=i.batch_total,
                        amount=i.amount,
                        fees=i.fees,
                    )
                    for i in decision.items
                ]
            )
            entry = _journal(match, line, decision.items)
            for item in decision.items:
                paid = item.settlement or (item.batch_total.batch if item.batch_total else None)
                if paid is not None:  # its "no deposit" exception, if it had one, is answered
                    exceptions_resolve_for(
                        source=paid,
                        kinds=[ExceptionItem.Kind.BANK_DEPOSIT],
                        actor=actor,
                        note=f"paid in {match.reference}",
                    )
            bank_line_status_set(
                line=line, to=BankStatementLine.Status.MATCHED, actor=actor,
                reason=f"{decision.reason} Journal {entry.pk}: clearing → {line.bank_account.gl_account.code}.",
            )  # fmt: skip
    except JournalNotReady as exc:
        to = BankStatementLine.Status.EXCEPTION
        reason = f"{decision.reason} But its journal cannot be built: {exc}."
        if to not in BANK_LINE_TRANSITIONS[line.status] and line.status != to:
            to = BankStatementLine.Status.SHORT
        bank_line_status_set(line=line, to=to, actor=actor, reason=reason)
        return to
    return BankStatementLine.Status.MATCHED


@dataclass
class MatchSummary:
    by_status: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        return ", ".join(f"{n} {status}" for status, n in sorted(self.by_status.items())) or "nothing to match"


def bank_lines_match(*, line_ids: Sequence[int] | None = None, actor: str = ACTOR) -> MatchSummary:
    """Match open deposit lines (these, or all open ones). Each line in its own transaction, locked."""
    summary = MatchSummary()
    qs = BankStatementLine.objects.filter(status__in=OPEN, amount__gt=0)
    if line_ids is not None:
        qs = qs.filter(pk__in=list(line_ids))
    for pk in list(qs.order_by("booking_date", "pk").values_list("pk", flat=True)):
        with transaction.atomic():
            line = (
                BankStatementLine.objects.select_for_update(of=("self",))
                .select_related("bank_account__gl_account")
                .filter(pk=pk, status__in=OPEN)
                .first()
            )
            if line is None:
                continue
            status = _apply(line, _decide(line), actor)
        summary.by_status[status] = summary.by_status.get(status, 0) + 1
    return summary


def bank_lines_overdue_check(*, today: date | None = None, actor: str = ACTOR) -> MatchSummary:
    """Hourly: try every open deposit again (settlements and batches may have arrived since); what is still
    unmatched BANK_UNMATCHED_DAYS after booking becomes an exception."""
    summary = bank_lines_match(actor=actor)
    today = today or timezone.localdate()
    cutoff = today - timedelta(days=settings.BANK_UNMATCHED_DAYS)
    for line in BankStatementLine.objects.filter(
        status=BankStatementLine.Status.UNMATCHED, amount__gt=0, booking_date__lte=cutoff
    ).select_related("bank_account"):
        with transaction.atomic():
            line = BankStatementLine.objects.select_for_update().get(pk=line.pk)
            if line.status != BankStatementLine.Status.UNMATCHED:
                continue
            bank_line_status_set(
                line=line, to=BankStatementLine.Status.EXCEPTION, actor=actor,
                reason=f"Still unmatched {(today - line.booking_date).days} days after booking "
                f"(BANK_UNMATCHED_DAYS = {settings.BANK_UNMATCHED_DAYS}). {line.match_reason}",
            )  # fmt: skip
        summary.by_status["exception"] = summary.by_status.get("exception", 0) + 1
    missing = payouts_without_deposit_check(today=today)
    if missing:
        summary.by_status["payout without deposit"] = missing
    return summary


def payouts_without_deposit_check(*, today: date) -> int:
    """Money that should have arrived and did not: an Amazon payout or an Opayo batch with no deposit
    BANK_UNMATCHED_DAYS after its window closed, while the bank statements in its currency already run past that
    window (no statements in a currency yet: nothing can be said). One exception each, on the settlement or batch."""
    grace = settings.BANK_UNMATCHED_DAYS
    covered = dict(BankStatementLine.objects.values_list("currency").annotate(last=Max("booking_date")).order_by())
    due: list[tuple[Any, str, str, Decimal, date, int]] = []
    for s in Settlement.objects.filter(total_amount__gt=0, bank_items__isnull=True, deposit_date__isnull=False):
        day = timezone.localdate(s.deposit_date)
        due.append((s, f"Amazon settlement {s.settlement_id}", s.currency, s.total_amount, day,
                    settings.BANK_AMAZON_WINDOW_DAYS))  # fmt: skip
    start = today - timedelta(days=90)
    for currency in covered:
        for total in opayo_batch_totals_between(currency=currency, start=start, end=today).filter(
            bank_items__isnull=True
        ):
            item = _batch_item(total)
            if item.expected > 0 and total.batch.batch_date:
                due.append((total.batch, f"Opayo batch {total.batch.batch_id} {currency}", currency, item.expected,
                            total.batch.batch_date, settings.BANK_OPAYO_WINDOW_DAYS))  # fmt: skip
    opened = 0
    for source, what, currency, amount, day, window in due:
        closes = day + timedelta(days=window)
        last = covered.get(currency)
        if last is None or last < closes or today < closes + timedelta(days=grace):
            continue
        exception_open(
            kind=ExceptionItem.Kind.BANK_DEPOSIT, source=source, reference=what[:100],
            summary=f"No bank deposit for {what}: {_money(amount, currency)} due from {day} to {closes}; the "
            f"{currency} bank statements up to {last} show none",
            detail="Match the deposit if it came in under another reference (select its line, Match again), or ask "
            "Amazon / the acquirer where the money is.",
        )  # fmt: skip
        opened += 1
    return opened


def bank_line_ignore(*, line: BankStatementLine, actor: str, note: str) -> None:
    """An operator says an open line is not a deposit to match (a transfer between our own accounts, say)."""
    if not note.strip():
        from config.common.errors import ApplicationError

        raise ApplicationError("Say why the line needs no match (the reason is kept on the line).")
    bank_line_status_set(
        line=line, to=BankStatementLine.Status.IGNORED, actor=actor, reason=f"Ignored by {actor}: {note}"
    )


def bank_line_accept_difference(*, line: BankStatementLine, actor: str, note: str) -> BankStatementLine:
    """Finance accepts a short (or over) deposit as paying what it names: matched, and the difference posted to
    LEDGER_BANK_DIFFERENCE_ACCOUNT in its journal, with who and why on the line."""
    from config.common.errors import ApplicationError

    if not note.strip():
        raise ApplicationError("Say why the difference is accepted (kept on the line and in its history).")
    with transaction.atomic():
        line = (
            BankStatementLine.objects.select_for_update(of=("self",))
            .select_related("bank_account__gl_account")
            .get(pk=line.pk)
        )
        if line.status != BankStatementLine.Status.SHORT:
            raise ApplicationError(f"Only a short deposit's difference can be accepted; this one is {line.status}.")
        decision = _decide(line)
        if decision.status != BankStatementLine.Status.SHORT or not decision.items:
            raise ApplicationError(f"It no longer names one payout: {decision.reason}")
        expected = sum((i.expected for i in decision.items), Decimal(0))
        difference = line.amount - expected
        decision.reason = (
            f"{decision.reason} Accepted by {actor} with a difference of {_money(difference, line.currency)} "
            f"(to {settings.LEDGER_BANK_DIFFERENCE_ACCOUNT}): {note.strip()}"
        )
        if _apply(line, decision, actor, accept_difference=True) != BankStatementLine.Status.MATCHED:
            line.refresh_from_db()
            raise ApplicationError(f"Not matched: {line.match_reason}")
    line.refresh_from_db()
    return line
