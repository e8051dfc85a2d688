"""Journal entries in the import layouts of accounting systems, beside our own generic CSV.

Each layout follows its system's documented import (sources in docs/ARCHITECTURE.md, *Journal exports*):
- `xero`: Xero's manual journal import template (help.xero.com, "Enter multiple manual journals using an import
  template"): *Narration, *Date (dd/mm/yyyy), Description, *AccountCode, *TaxRate (the full tax rate name; ours
  carry no tax of their own: EXPORT_XERO_TAX_RATE), *Amount (positive = debit, negative = credit), tracking columns.
  Rows with the same narration and date are one journal: the narration carries our reference.
- `qbo`: QuickBooks Online's journal entry import (Intuit, "Import journal entries"): Journal No., Journal Date,
  Account Name (QBO matches account names; Intuit says to turn account numbers off), Description, Debits, Credits,
  Name. Rows with the same Journal No. are one entry. Date format EXPORT_QBO_DATE_FORMAT (dd/mm/yyyy for UK and AU
  companies; %m/%d/%Y for US ones).
- `sage`: Sage 50 Accounts' audit trail transaction import: Type (JD journal debit / JC journal credit), Account
  Reference (blank for nominal journals), Nominal A/C Ref, Department Code, Date (dd/mm/yyyy), Reference, Details,
  Net Amount (positive), Tax Code (EXPORT_SAGE_TAX_CODE, T9: outside the scope of VAT), Tax Amount, Exchange Rate,
  Extra Reference. A journal is the JD/JC rows with the same date and reference, and must balance.
- `dynamics-sl`: Microsoft Dynamics SL Transaction Import data file for Journal Transactions (01.010.00), with no
  header row: a `Batch` line per journal (period to post YYYYMM, handling H = hold, control total = debits,
  description) followed by its `Transaction` lines (company, account, subaccount, reference, date MM/DD/YYYY,
  description, debit, credit); a journal not in the base currency is preceded by `Currency` and `CuryRate` lines
  (Microsoft KB 844270: one currency per batch, the CuryRate line after the Currency line, before the batch).

Amounts are in the ledger's base currency (the accounting system's home currency: Xero and Sage manual journals
have none other); `dynamics-sl` keeps the journal's currency with its rate, as SL's multi-currency import allows.
Every text cell goes through the same formula guard as the generic CSV (csv_safe); numbers are written as numbers.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings

from reconciliation.models import JournalEntry, JournalLine
from reconciliation.services.export import JournalFilter, csv_safe, journal_csv_chunks

FORMATS = ("generic", "xero", "qbo", "sage", "dynamics-sl")
CONTENT_TYPE = "text/csv"

XERO_COLUMNS = ["*Narration", "*Date", "Description", "*AccountCode", "*TaxRate", "*Amount", "TrackingName1",
                "TrackingOption1", "TrackingName2", "TrackingOption2"]  # fmt: skip
QBO_COLUMNS = ["Journal No.", "Journal Date", "Account Name", "Description", "Debits", "Credits", "Name"]
SAGE_COLUMNS = ["Type", "Account Reference", "Nominal A/C Ref", "Department Code", "Date", "Reference", "Details",
                "Net Amount", "Tax Code", "Tax Amount", "Exchange Rate", "Extra Reference"]  # fmt: skip
# Dynamics SL has no header row; these are the fields of each line kind, in order (what the tests check).
SL_BATCH_FIELDS = ["Batch", "PerPost", "Handling", "CtrlTot", "Descr"]
SL_TRANSACTION_FIELDS = ["Transaction", "CpnyID", "Acct", "Sub", "RefNbr", "TranDate", "TranDesc", "DrAmt", "CrAmt"]
SL_CURRENCY_FIELDS = ["Currency", "CuryID"]
SL_CURYRATE_FIELDS = ["CuryRate", "RateType", "EffDate", "Rate"]
COLUMNS = {"xero": XERO_COLUMNS, "qbo": QBO_COLUMNS, "sage": SAGE_COLUMNS, "dynamics-sl": None}


class UnknownFormat(ValueError):
    pass


FILENAMES = {
    "generic": "journal-lines.csv",
    "xero": "xero-manual-journals.csv",
    "qbo": "qbo-journal-entries.csv",
    "sage": "sage-audit-trail-journals.csv",
    "dynamics-sl": "dynamics-sl-gl-transactions.csv",
}


def export_filename(format: str) -> str:
    return FILENAMES[format]


@dataclass(frozen=True)
class Line:
    account_code: str
    account_name: str
    description: str
    debit: Decimal  # in the base currency
    credit: Decimal
    cur_debit: Decimal  # in the journal's currency
    cur_credit: Decimal


def _entries(filters: JournalFilter) -> Iterator[tuple[JournalEntry, list[Line]]]:
    entries = filters.entries().select_related("bank_match__line")
    for entry in entries.iterator(chunk_size=200):
        lines = [
            Line(code, name, description or "", base_debit, base_credit, debit, credit)
            for code, name, description, base_debit, base_credit, debit, credit in JournalLine.objects.filter(
                entry=entry
            )
            .order_by("position")
            .values_list(
                "gl_account__code", "gl_account__name", "description", "base_debit", "base_credit", "debit", "credit"
            )
        ]
        yield entry, lines


def _num(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


def _blank_zero(value: Decimal) -> Decimal | str:
    return _num(value) if value else ""


def _narration(entry: JournalEntry) -> str:
    """One per journal, carrying our reference (Xero groups rows by narration and date)."""
    memo, reference = entry.memo or "Journal", entry.source_reference
    return memo if reference in memo else f"{memo} ({reference})"


def _xero(entry: JournalEntry, lines: list[Line]) -> Iterable[list[Any]]:
    for line in lines:
        amount = line.debit - line.credit
        if amount:
            yield [_narration(entry), entry.date.strftime("%d/%m/%Y"), line.description, line.account_code,
                   settings.EXPORT_XERO_TAX_RATE, _num(amount), "", "", "", ""]  # fmt: skip


def _qbo(entry: JournalEntry, lines: list[Line]) -> Iterable[list[Any]]:
    day = entry.date.strftime(settings.EXPORT_QBO_DATE_FORMAT)
    for line in lines:
        if line.debit or line.credit:
            yield [entry.source_reference, day, line.account_name, line.description, _blank_zero(line.debit),
                   _blank_zero(line.credit), ""]  # fmt: skip


def _sage(entry: JournalEntry, lines: list[Line]) -> Iterable[list[Any]]:
    day = entry.date.strftime("%d/%m/%Y")
    reference = entry.source_reference[:30]  # Sage's reference field holds 30 characters
    for line in lines:
        amount = line.debit - line.credit
        if amount:
            yield ["JD" if amount > 0 else "JC", "", line.account_code, "0", day, reference, line.description[:60],
                   _num(abs(amount)), settings.EXPORT_SAGE_TAX_CODE, _num(Decimal(0)), "", f"JE{entry.pk}"]  # fmt: skip


def _dynamics_sl(entry: JournalEntry, lines: list[Line]) -> Iterable[list[Any]]:
    foreign = entry.currency != entry.base_currency
    if foreign:
        yield ["Currency", entry.currency]
        yield ["CuryRate", "SPOT", entry.date.strftime("%m/%d/%Y"), entry.rate]
    rows = [(line, line.cur_debit, line.cur_credit) if foreign else (line, line.debit, line.credit) for line in lines]
    rows = [r for r in rows if r[1] or r[2]]
    control = sum((r[1] for r in rows), Decimal(0))
    yield ["Batch", entry.date.strftime("%Y%m"), "H", _num(control), _narration(entry)[:30]]
    for line, debit, credit in rows:
        yield ["Transaction", settings.EXPORT_DYNAMICS_SL_COMPANY, line.account_code,
               settings.EXPORT_DYNAMICS_SL_SUBACCOUNT, entry.source_reference[:10], entry.date.strftime("%m/%d/%Y"),
               line.description[:30], _num(debit), _num(credit)]  # fmt: skip


WRITERS: dict[str, Callable[[JournalEntry, list[Line]], Iterable[list[Any]]]] = {
    "xero": _xero, "qbo": _qbo, "sage": _sage, "dynamics-sl": _dynamics_sl,
}  # fmt: skip


class _Buffer:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)


def _guarded(row: list[Any]) -> list[Any]:
    return [csv_safe(cell) for cell in row]


def journal_export_chunks(*, filters: JournalFilter, format: str) -> Iterator[bytes]:
    """The journal in `format`, as CSV bytes in chunks (UTF-8; CRLF rows for the accounting packages)."""
    if format not in FORMATS:
        raise UnknownFormat(f"unknown export format {format!r}: one of {', '.join(FORMATS)}")
    if format == "generic":
        yield from journal_csv_chunks(filters=filters)
        return
    buffer = _Buffer()
    writer = csv.writer(buffer, lineterminator="\r\n")
    header = COLUMNS[format]
    if header:
        writer.writerow(header)
    write = WRITERS[format]
    for n, (entry, lines) in enumerate(_entries(filters), 1):
        for row in write(entry, lines):
            writer.writerow(_guarded(row))
        if n % 200 == 0:
            yield "".join(buffer.parts).encode()
            buffer.parts.clear()
    yield "".join(buffer.parts).encode()
