"""Accounting periods: a settlement across a month end is split per period (each entry balanced, the clearing
lines adding up to the payout), and a closed period is never posted into."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from config.common.errors import ApplicationError
from reconciliation.models import AccountingPeriod, JournalEntry, Settlement
from reconciliation.services import settlement_reconcile
from reconciliation.services.export import JournalFilter, journal_csv_chunks
from reconciliation.services.periods import (
    accounting_period_close,
    accounting_period_for,
    accounting_period_reopen,
    period_bounds,
)
from tests.reconciliation.files import amount_row, settlement_file
from tests.reconciliation.test_settlement_import import import_text, journal_balances

pytestmark = pytest.mark.django_db

MARCH_ORDER, APRIL_ORDER = "202-3000000-0000001", "202-3000000-0000002"


def spanning(settlement_id: str = "7700001") -> str:
    """25 March – 8 April: a March order and fees, an April order, a subscription fee without a posted date."""
    r = amount_row
    sid = {"settlement_id": settlement_id}
    march, april = {"posted": "2026-03-28 14:00:00 UTC", **sid}, {"posted": "2026-04-02 09:30:00 UTC", **sid}
    rows = [
        r("Order", MARCH_ORDER, "ItemPrice", "Principal", "100.00", **march),
        r("Order", MARCH_ORDER, "ItemPrice", "Tax", "20.00", **march),
        r("Order", MARCH_ORDER, "ItemFees", "Commission", "-15.00", **march),
        r("Order", APRIL_ORDER, "ItemPrice", "Principal", "40.00", **april),
        r("Order", APRIL_ORDER, "ItemFees", "Commission", "-6.00", **april),
        # Late in the day in UTC: still 31 March in the books (periods go by the UTC posted date).
        r("Order", MARCH_ORDER, "ItemFees", "FBAPerUnitFulfillmentFee", "-3.21", posted="2026-03-31 23:59:59 UTC",
          settlement_id=settlement_id),
        r("ServiceFee", "", "other-transaction", "Subscription Fee", "-25.00", posted="", settlement_id=settlement_id),
    ]  # fmt: skip
    dates = ("2026-03-25 00:00:00 UTC", "2026-04-08 00:00:00 UTC", "2026-04-10 00:00:00 UTC")
    return settlement_file(rows, settlement_id=settlement_id, dates=dates)


def _clearing(entry: JournalEntry) -> Decimal:
    """What the entry says Amazon pays (debit on clearing)."""
    line = entry.lines.get(gl_account__code="1205")
    return line.debit - line.credit


def test_period_bounds_month_and_quarter(settings: object) -> None:
    assert period_bounds(date(2026, 2, 14)) == (date(2026, 2, 1), date(2026, 2, 28))
    assert period_bounds(date(2026, 12, 31)) == (date(2026, 12, 1), date(2026, 12, 31))
    settings.LEDGER_PERIOD = "quarter"  # type: ignore[attr-defined]
    assert period_bounds(date(2026, 11, 3)) == (date(2026, 10, 1), date(2026, 12, 31))
    settings.LEDGER_PERIOD = "fortnight"  # type: ignore[attr-defined]
    with pytest.raises(ApplicationError, match="LEDGER_PERIOD must be one of"):
        period_bounds(date(2026, 11, 3))


def test_a_settlement_across_a_month_end_becomes_two_balanced_entries_whose_clearing_adds_up_to_the_payout() -> None:
    file = import_text(spanning())
    assert file.state == "imported", file.error
    settlement = Settlement.objects.get(settlement_id="7700001")
    assert settlement.total_amount == Decimal("110.79")
    march, april = settlement.journals.order_by("period_start")
    for entry in (march, april):
        journal_balances(entry)
    assert (march.period_start, march.date) == (date(2026, 3, 1), date(2026, 3, 31))  # the month's last day
    assert (april.period_start, april.date) == (date(2026, 4, 1), date(2026, 4, 10))  # the deposit date
    # March: 100 + 20 − 15 − 3.21; April: 40 − 6 and the undated subscription (the settlement's end, 8 April).
    assert _clearing(march) == Decimal("101.79") and _clearing(april) == Decimal("9.00")
    assert _clearing(march) + _clearing(april) == settlement.total_amount
    assert "part 1 of 2" in march.memo and "2026-03-28 to 2026-03-31" in march.memo
    assert not march.note and not april.note
    # Reconciling again builds nothing more.
    settlement_reconcile(settlement=settlement, actor="test")
    assert settlement.journals.count() == 2

    # The CSV carries each entry's own date.
    text = b"".join(journal_csv_chunks(filters=JournalFilter(settlement_id="7700001"))).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {(r["journal_id"], r["date"]) for r in rows} == {
        (str(march.pk), "2026-03-31"),
        (str(april.pk), "2026-04-10"),
    }
    debits = sum(Decimal(r["debit"]) for r in rows if r["account_code"] == "1205")
    assert debits == settlement.total_amount


def test_a_closed_period_is_never_posted_into() -> None:
    march = accounting_period_for(day=date(2026, 3, 15))
    accounting_period_close(period=march, actor="user:finance", note="March books final")
    march.refresh_from_db()
    assert march.status == "closed" and march.closed_by == "user:finance"

    file = import_text(spanning("7700002"))
    assert file.state == "imported", file.error
    entries = list(Settlement.objects.get(settlement_id="7700002").journals.order_by("period_start"))
    assert len(entries) == 2
    late, april = entries
    # March's part still counts as March's amounts but is dated at the first open date, and says why.
    assert late.period_start == date(2026, 3, 1) and late.date == date(2026, 4, 1)
    assert "2026-03 is closed" in late.note and "2026-04-01" in late.note
    assert not JournalEntry.objects.filter(date__range=(march.start, march.end)).exists()
    assert _clearing(late) + _clearing(april) == Decimal("110.79")

    # Nothing else may date an entry in it either: PostgreSQL refuses the row.
    with pytest.raises(IntegrityError, match="closed accounting period"), transaction.atomic():
        JournalEntry.objects.filter(pk=april.pk).update(date=date(2026, 3, 31))
    # Closing twice changes nothing; a period that has not ended cannot be closed.
    assert accounting_period_close(period=march, actor="user:other").closed_by == "user:finance"
    current = accounting_period_for(day=date.today())
    with pytest.raises(ApplicationError, match="has not ended yet"):
        accounting_period_close(period=current, actor="user:finance")
    assert AccountingPeriod.objects.get(pk=current.pk).status == "open"


def test_closing_april_too_moves_both_parts_to_may() -> None:
    for day in (date(2026, 3, 1), date(2026, 4, 1)):
        accounting_period_close(period=accounting_period_for(day=day), actor="user:finance")
    import_text(spanning("7700003"))
    entries = list(Settlement.objects.get(settlement_id="7700003").journals.order_by("period_start"))
    assert [(e.period_start, e.date) for e in entries] == [
        (date(2026, 3, 1), date(2026, 5, 1)),
        (date(2026, 4, 1), date(2026, 5, 1)),
    ]
    assert "period 2026-03, 2026-04 is closed" in entries[0].note


def test_an_unknown_period_setting_is_refused_at_start_up(settings: object) -> None:
    from reconciliation.apps import check_ledger_period

    assert check_ledger_period() == []
    settings.LEDGER_PERIOD = "fortnight"  # type: ignore[attr-defined]
    [error] = check_ledger_period()
    assert error.id == "ledgerline.R001" and "month" in str(error.hint)


def test_finance_reopens_a_closed_period_with_a_reason_and_closes_it_again() -> None:
    march = accounting_period_close(period=accounting_period_for(day=date(2026, 3, 15)), actor="user:finance")
    # No reason, no reopening; an open period is not "reopened" (nothing changes, no event).
    with pytest.raises(ApplicationError, match="say why"):
        accounting_period_reopen(period=march, actor="user:finance", reason="  ")
    april = accounting_period_for(day=date(2026, 4, 15))
    assert accounting_period_reopen(period=april, actor="user:finance", reason="x").status == "open"
    assert not april.events.exists()

    march = accounting_period_reopen(period=march, actor="user:controller", reason="Missed Amazon fee adjustment")
    assert march.status == "open" and march.closed_at is None and march.closed_by == ""
    assert "Reopened by user:controller" in march.note and "Missed Amazon fee adjustment" in march.note
    # While open again, a settlement's March part is dated in March.
    import_text(spanning("7700004"))
    late = Settlement.objects.get(settlement_id="7700004").journals.get(period_start=date(2026, 3, 1))
    assert late.date == date(2026, 3, 31) and late.note == ""

    march = accounting_period_close(period=march, actor="user:finance", note="March final, with the adjustment")
    assert [(e.from_status, e.to_status, e.actor, e.reason) for e in march.events.all()] == [
        ("open", "closed", "user:finance", ""),
        ("closed", "open", "user:controller", "Missed Amazon fee adjustment"),
        ("open", "closed", "user:finance", "March final, with the adjustment"),
    ]
    # The database keeps the rule too: no reopening event without a reason.
    with pytest.raises(IntegrityError), transaction.atomic():
        march.events.create(from_status="closed", to_status="open", actor="user:x", reason="")


def test_the_admin_reopens_with_the_reason_typed_beside_the_action(admin_client: Any) -> None:
    from django.urls import reverse

    march = accounting_period_close(period=accounting_period_for(day=date(2026, 3, 15)), actor="user:finance")
    url = reverse("admin:reconciliation_accountingperiod_changelist")
    action = {"action": "reopen", "_selected_action": [march.pk], "index": 0}
    page = admin_client.post(url, {**action, "reason": ""}, follow=True).content.decode()
    assert "say why it is reopened" in page
    assert AccountingPeriod.objects.get(pk=march.pk).status == "closed"
    page = admin_client.post(url, {**action, "reason": "Late chargeback"}, follow=True).content.decode()
    assert "open again" in page
    assert AccountingPeriod.objects.get(pk=march.pk).status == "open"
    detail = admin_client.get(reverse("admin:reconciliation_accountingperiod_change", args=[march.pk])).content
    assert b"Late chargeback" in detail and b"closed \xe2\x86\x92 open" in detail
