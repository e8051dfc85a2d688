"""Accounting periods: which period a day is in (`LEDGER_PERIOD`: calendar month by default, or quarter), the first
open date for a journal entry, and closing and reopening a period.

A period row is made the first time something is dated in it. Closing one (Finance) means no journal entry may be
dated in it any more: entries whose amounts belong to it are dated at the first open day after it, with a note.
Finance may reopen a closed period with a reason (a correction to post in it); every close and reopen is an
`AccountingPeriodEvent`. Choosing a date, closing and reopening all lock the period's row, so an entry cannot slip
into a period while it is being closed (PostgreSQL also refuses such a row with a trigger).
"""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.common.errors import ApplicationError
from reconciliation.models import PERIOD_TRANSITIONS, AccountingPeriod, AccountingPeriodEvent

MONTHS = {"month": 1, "quarter": 3}


def _months() -> int:
    months = MONTHS.get(str(settings.LEDGER_PERIOD).lower())
    if months is None:
        raise ApplicationError(f"LEDGER_PERIOD must be one of {sorted(MONTHS)}, not {settings.LEDGER_PERIOD!r}")
    return months


def period_bounds(day: date) -> tuple[date, date]:
    """(first day, last day) of the period `day` is in."""
    months = _months()
    first_month = (day.month - 1) // months * months + 1
    start = date(day.year, first_month, 1)
    after = first_month + months
    following = date(day.year + (after - 1) // 12, (after - 1) % 12 + 1, 1)
    return start, following - timedelta(days=1)


def accounting_period_for(*, day: date, lock: bool = False) -> AccountingPeriod:
    """The period `day` is in (made when first needed). `lock`: hold its row until the transaction ends."""
    start, end = period_bounds(day)
    period = AccountingPeriod.objects.filter(start=start).first()
    if period is None:
        try:
            with transaction.atomic():
                period = AccountingPeriod.objects.create(start=start, end=end)
        except IntegrityError:
            period = AccountingPeriod.objects.get(start=start)
    if period.end != end:
        raise ApplicationError(
            f"accounting period {period.start}–{period.end} does not match LEDGER_PERIOD={settings.LEDGER_PERIOD} "
            f"({start}–{end}): the period setting was changed after periods were made"
        )
    if lock:
        period = AccountingPeriod.objects.select_for_update().get(pk=period.pk)
    return period


def journal_date_open(*, day: date) -> tuple[date, str]:
    """The date an entry meant for `day` gets: `day` itself while its period is open, else the first day of the
    next open period, with the note saying why. Call inside the transaction that writes the entry: the chosen
    period's row stays locked until it commits."""
    wanted = day
    closed: list[AccountingPeriod] = []
    while True:
        period = accounting_period_for(day=day, lock=True)
        if period.status == AccountingPeriod.Status.OPEN:
            break
        closed.append(period)
        day = period.end + timedelta(days=1)
    if not closed:
        return day, ""
    names = ", ".join(str(p) for p in closed)
    return day, f"Belongs to {wanted}, but period {names} is closed: dated at the first open date, {day}."


def accounting_period_transition(
    *, period: AccountingPeriod, to: str, actor: str, reason: str = ""
) -> AccountingPeriod:
    """The one writer of `AccountingPeriod.status` (`PERIOD_TRANSITIONS`); writes an `AccountingPeriodEvent`.

    Moving to the status it already has changes nothing. Closing needs the period to have ended; reopening needs a
    reason. Entries already dated at a later open date (while it was closed) stay where they are: reopening only lets
    new entries and corrections be dated in it again."""
    reason = reason.strip()
    with transaction.atomic():
        period = AccountingPeriod.objects.select_for_update().get(pk=period.pk)
        if period.status == to:
            return period
        if to not in PERIOD_TRANSITIONS.get(period.status, set()):
            raise ApplicationError(f"period {period} cannot go from {period.status} to {to}")
        if to == AccountingPeriod.Status.CLOSED:
            if period.end >= timezone.now().date():
                raise ApplicationError(
                    f"period {period} has not ended yet: it can be closed from {period.end + timedelta(1)}"
                )
            period.closed_at, period.closed_by = timezone.now(), actor[:150]
            if reason:
                period.note = reason
        else:
            if not reason:
                raise ApplicationError(f"period {period}: say why it is reopened (the reason is kept with it)")
            period.closed_at, period.closed_by = None, ""
            period.note = f"Reopened by {actor[:150]} on {timezone.now():%Y-%m-%d %H:%M} UTC: {reason}"
        AccountingPeriodEvent.objects.create(
            period=period, from_status=period.status, to_status=to, actor=actor[:150], reason=reason
        )
        period.status = to
        period.save()  # audited
    return period


def accounting_period_close(*, period: AccountingPeriod, actor: str, note: str = "") -> AccountingPeriod:
    """Close a period: from now on no journal entry is dated in it. Closing a closed period changes nothing."""
    return accounting_period_transition(period=period, to=AccountingPeriod.Status.CLOSED, actor=actor, reason=note)


def accounting_period_reopen(*, period: AccountingPeriod, actor: str, reason: str) -> AccountingPeriod:
    """Reopen a closed period (Finance, with a reason): entries may be dated in it again until it is closed again."""
    return accounting_period_transition(period=period, to=AccountingPeriod.Status.OPEN, actor=actor, reason=reason)
