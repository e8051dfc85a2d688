"""Journal exports in accounting systems' import layouts: each file against its documented column list, the formula
guard on every text cell (numbers stay numbers), and round trips: the Xero and QuickBooks Online files read back
to the same debits and credits per account as our generic CSV."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from mappings.models import CurrencyRate, GlAccount, SettlementAccountMapping
from reconciliation.models import BankAccount, JournalEntry
from reconciliation.services.bank_statements import bank_statement_import, bank_statement_store
from reconciliation.services.export import JournalFilter
from reconciliation.services.export_formats import (
    QBO_COLUMNS,
    SAGE_COLUMNS,
    SL_BATCH_FIELDS,
    SL_CURRENCY_FIELDS,
    SL_CURYRATE_FIELDS,
    SL_TRANSACTION_FIELDS,
    XERO_COLUMNS,
    journal_export_chunks,
)
from tests.fulfillment.conftest import erp_api
from tests.reconciliation.bank_files import IBAN, Tx, camt053
from tests.reconciliation.files import amount_row, settlement_file, uk_settlement
from tests.reconciliation.test_journal_export import imported

pytestmark = pytest.mark.django_db
EVIL = '=HYPERLINK("http://x")'

# What each system's documentation lists (see reconciliation/services/export_formats.py for the sources).
DOCUMENTED = {
    "xero": ["*Narration", "*Date", "Description", "*AccountCode", "*TaxRate", "*Amount", "TrackingName1",
             "TrackingOption1", "TrackingName2", "TrackingOption2"],
    "qbo": ["Journal No.", "Journal Date", "Account Name", "Description", "Debits", "Credits", "Name"],
    "sage": ["Type", "Account Reference", "Nominal A/C Ref", "Department Code", "Date", "Reference", "Details",
             "Net Amount", "Tax Code", "Tax Amount", "Exchange Rate", "Extra Reference"],
}  # fmt: skip


@pytest.fixture
def journals() -> list[JournalEntry]:
    """Three entries: a GBP settlement (fees, tax, reserve, a chargeback), a EUR settlement posted in GBP, and a
    bank deposit's clearing → bank entry; one GL account and one description would run as formulas."""
    evil = GlAccount.objects.create(code="-99", name=EVIL, kind="expense")
    SettlementAccountMapping.objects.create(transaction_type="ServiceFee", amount_type="other-transaction",
                                            amount_description=EVIL, gl_account=evil)  # fmt: skip
    gbp = imported(
        uk_settlement("5000001").replace("Subscription Fee", EVIL)
    )  # the subscription fee goes to the evil account
    CurrencyRate.objects.create(date=date(2026, 11, 1), currency="EUR", base_currency="GBP", rate=Decimal("0.8521"))
    sid = {"settlement_id": "5000002", "marketplace": "Amazon.de"}
    eur = imported(
        settlement_file(
            [
                amount_row("Order", "302-1", "ItemPrice", "Principal", "33.33", **sid),
                amount_row("Order", "302-1", "ItemPrice", "Tax", "6.33", **sid),
                amount_row("Order", "302-1", "ItemFees", "Commission", "-5.01", **sid),
            ],
            settlement_id="5000002",
            currency="EUR",
        )
    )
    pay = imported(
        settlement_file(
            [amount_row("Order", "202-9", "ItemPrice", "Principal", "100.00", settlement_id="5000003")],
            settlement_id="5000003",
        )
    )
    BankAccount.objects.create(
        name="Bank", account_id=IBAN, currency="GBP", gl_account=GlAccount.objects.get(code="1200")
    )
    file, _ = bank_statement_store(
        data=camt053([Tx("100.00", date(2026, 11, 18), "AMAZON 5000003", bank_ref="B-9")]), name="s", source="t"
    )
    bank_statement_import(file_id=file.pk)
    entries = [
        gbp.journals.get(),
        eur.journals.get(),
        pay.journals.get(),
        JournalEntry.objects.get(bank_match__isnull=False),
    ]
    return entries


def export(fmt: str) -> bytes:
    return b"".join(journal_export_chunks(filters=JournalFilter(), format=fmt))


def rows_of(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode())))


def generic_per_account() -> dict[str, tuple[Decimal, Decimal]]:
    """Base-currency debits and credits per account code, from our generic CSV."""
    sums: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for row in csv.DictReader(io.StringIO(export("generic").decode())):
        code = row["account_code"].removeprefix("'")
        sums[code][0] += Decimal(row["base_debit"])
        sums[code][1] += Decimal(row["base_credit"])
    return {code: (d, c) for code, (d, c) in sums.items() if d or c}


@pytest.mark.parametrize("fmt", ["xero", "qbo", "sage"])
def test_each_format_has_its_documented_columns(fmt: str, journals: list[JournalEntry]) -> None:
    rows = rows_of(export(fmt))
    assert rows[0] == DOCUMENTED[fmt]
    assert {"xero": XERO_COLUMNS, "qbo": QBO_COLUMNS, "sage": SAGE_COLUMNS}[fmt] == DOCUMENTED[fmt]
    assert all(len(r) == len(DOCUMENTED[fmt]) for r in rows)


def test_every_text_cell_is_guarded_and_numbers_stay_numbers(journals: list[JournalEntry]) -> None:
    for fmt in ("xero", "qbo", "sage", "dynamics-sl"):
        text = export(fmt).decode()
        assert "=HYPERLINK" not in text.replace("'=HYPERLINK", ""), fmt
        for row in rows_of(text.encode()):
            for cell in row:
                if cell[:1] in ("=", "+", "@"):
                    pytest.fail(f"{fmt}: unguarded cell {cell!r}")
                if cell.startswith("-"):  # only numbers may start with a minus: Xero's credits
                    Decimal(cell)
    xero = rows_of(export("xero"))[1:]
    assert any(r[5].startswith("-") for r in xero)  # credits are negative numbers, not "'-..."
    assert any(r[3] == "'-99" for r in xero)  # an account code starting with "-" is text: guarded


def test_xero_layout_dates_signs_and_one_journal_per_reference(journals: list[JournalEntry]) -> None:
    rows = [dict(zip(XERO_COLUMNS, r, strict=True)) for r in rows_of(export("xero"))[1:]]
    by_narration: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in rows:
        by_narration[r["*Narration"]].append(r)
    assert len(by_narration) == len(journals)  # one journal (narration + date) per entry
    for narration, lines in by_narration.items():
        assert sum(Decimal(x["*Amount"]) for x in lines) == 0, narration  # each balances
        assert len({x["*Date"] for x in lines}) == 1
    assert any("5000001" in n for n in by_narration) and any("B-9" in n for n in by_narration)
    assert all(r["*TaxRate"] == "No VAT" for r in rows)
    assert {r["*Date"] for r in rows} >= {"17/11/2026", "18/11/2026"}  # dd/mm/yyyy


def test_qbo_and_xero_read_back_to_the_generic_debits_and_credits_per_account(journals: list[JournalEntry]) -> None:
    want = generic_per_account()
    xero: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for r in rows_of(export("xero"))[1:]:
        amount = Decimal(r[5])
        xero[r[3].removeprefix("'")][0 if amount > 0 else 1] += abs(amount)
    assert {k: tuple(v) for k, v in xero.items()} == want
    names = {a.name: a.code for a in GlAccount.objects.all()}
    qbo: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    entries: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for r in rows_of(export("qbo"))[1:]:
        number, account, debit, credit = r[0], r[2], Decimal(r[4] or 0), Decimal(r[5] or 0)
        code = names[account.removeprefix("'")]
        qbo[code][0] += debit
        qbo[code][1] += credit
        entries[number][0] += debit
        entries[number][1] += credit
        assert r[1][2] == "/" and r[1][5] == "/"  # dd/mm/yyyy (EXPORT_QBO_DATE_FORMAT)
    assert {k: tuple(v) for k, v in qbo.items()} == want
    assert set(entries) == {"5000001", "5000002", "5000003", "B-9"}  # Journal No. = our reference
    assert all(d == c for d, c in entries.values())


def test_sage_journal_debits_and_credits(journals: list[JournalEntry]) -> None:
    rows = [dict(zip(SAGE_COLUMNS, r, strict=True)) for r in rows_of(export("sage"))[1:]]
    assert {r["Type"] for r in rows} == {"JD", "JC"}
    assert all(Decimal(r["Net Amount"]) > 0 and r["Tax Code"] == "T9" and r["Tax Amount"] == "0.00" for r in rows)
    for reference in {r["Reference"] for r in rows}:
        mine = [r for r in rows if r["Reference"] == reference]
        debits = sum(Decimal(r["Net Amount"]) for r in mine if r["Type"] == "JD")
        credits = sum(Decimal(r["Net Amount"]) for r in mine if r["Type"] == "JC")
        assert debits == credits, reference  # Sage refuses a journal that does not balance
    per_account: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for r in rows:
        per_account[r["Nominal A/C Ref"].removeprefix("'")][0 if r["Type"] == "JD" else 1] += Decimal(r["Net Amount"])
    assert {k: tuple(v) for k, v in per_account.items()} == generic_per_account()


def test_dynamics_sl_batches_transactions_and_currency_lines(journals: list[JournalEntry]) -> None:
    rows = rows_of(export("dynamics-sl"))
    kinds = [r[0] for r in rows]
    assert kinds.count("Batch") == len(journals)
    assert kinds.count("Currency") == kinds.count("CuryRate") == 1  # the EUR settlement only
    widths = {"Batch": SL_BATCH_FIELDS, "Transaction": SL_TRANSACTION_FIELDS, "Currency": SL_CURRENCY_FIELDS,
              "CuryRate": SL_CURYRATE_FIELDS}  # fmt: skip
    assert all(len(r) == len(widths[r[0]]) for r in rows)
    # Each batch: control total = its debits, debits = credits; the Currency and CuryRate lines precede the batch.
    batches: list[tuple[list[str], list[list[str]]]] = []
    for n, r in enumerate(rows):
        if r[0] == "Batch":
            batches.append((r, []))
            if rows[n - 1][0] == "CuryRate":
                assert rows[n - 2] == ["Currency", "EUR"] and rows[n - 1][3] == "0.85210000"
        elif r[0] == "Transaction":
            batches[-1][1].append(r)
    for batch, lines in batches:
        debit = sum(Decimal(x[7]) for x in lines)
        assert Decimal(batch[3]) == debit == sum(Decimal(x[8]) for x in lines)
        assert batch[1] == "202611" and batch[2] == "H"
        assert all(x[5] in ("11/17/2026", "11/18/2026") for x in lines)  # MM/DD/YYYY


def test_command_api_and_admin_give_each_format(
    journals: list[JournalEntry], tmp_path: Path, admin_client: Any
) -> None:
    out = tmp_path / "xero.csv"
    call_command("export_journal", "--format", "xero", "--out", str(out), stderr=io.StringIO())
    assert out.read_bytes() == export("xero")
    client = erp_api()
    for fmt in ("generic", "xero", "qbo", "sage", "dynamics-sl"):
        response = client.get(f"/api/v1/reconciliation/journal-lines.csv?format={fmt}")
        assert response.status_code == 200, (fmt, response.content[:200])
        assert b"".join(response.streaming_content) == export(fmt)  # type: ignore[attr-defined]
    bad = client.get("/api/v1/reconciliation/journal-lines.csv?format=lotus")
    assert bad.status_code == 400 and "format" in bad.json()["extra"]["fields"]
    ids = [e.pk for e in journals]
    response = admin_client.post("/admin/reconciliation/journalentry/",
                                 {"action": "download_qbo", "_selected_action": ids, "index": 0})  # fmt: skip
    assert response.status_code == 200
    assert rows_of(b"".join(response.streaming_content))[0] == DOCUMENTED["qbo"]
    assert "qbo-journal-entries.csv" in response["Content-Disposition"]


def test_the_generic_csv_writers_agree_with_a_bank_deposit_entry(journals: list[JournalEntry]) -> None:
    from reconciliation.services.export import journal_csv_chunks

    by_copy = b"".join(journal_csv_chunks(filters=JournalFilter(), use_copy=True))
    by_python = b"".join(journal_csv_chunks(filters=JournalFilter(), use_copy=False))
    assert by_copy == by_python
    deposit = [r for r in csv.DictReader(io.StringIO(by_copy.decode())) if r["reference"] == "B-9"]
    assert [(r["account_code"], r["debit"], r["credit"], r["settlement_id"]) for r in deposit] == [
        ("1200", "100.00", "0.00", ""), ("1205", "0.00", "100.00", ""),
    ]  # fmt: skip
