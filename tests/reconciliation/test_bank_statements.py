"""Bank statements in (CAMT.053, OFX, CSV), deposits matched to Amazon payouts and Opayo batches with reasons, the
clearing → bank journal, short and overdue deposits in the exception queue, and files read once."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import Sum

from config.common.models import ExceptionItem
from config.common.services import exception_reprocess
from mappings.models import GlAccount
from payments.models import OpayoBatch, OpayoBatchTotal
from reconciliation.models import (
    BankAccount,
    BankLineEvent,
    BankMatch,
    BankStatementFile,
    BankStatementLine,
    JournalEntry,
    Settlement,
)
from reconciliation.services import journal_entries_post, settlement_file_import, settlement_file_store
from reconciliation.services.bank_match import bank_lines_match, bank_lines_overdue_check
from reconciliation.services.bank_statements import bank_statement_import, bank_statement_store
from tests.reconciliation.bank_files import CSV_MAPPING, IBAN, Tx, bank_csv, camt053, ofx, ofx2
from tests.reconciliation.files import amount_row, settlement_file

pytestmark = pytest.mark.django_db
DEPOSIT_DAY = date(2026, 11, 18)


@pytest.fixture
def account() -> BankAccount:
    return BankAccount.objects.create(
        name="Barclays current", account_id=IBAN, currency="GBP", gl_account=GlAccount.objects.get(code="1200"),
        csv_mapping=CSV_MAPPING,
    )  # fmt: skip


@pytest.fixture
def ofx_account() -> BankAccount:
    return BankAccount.objects.create(
        name="Lloyds", account_id="55555555", currency="GBP", gl_account=GlAccount.objects.get(code="1200")
    )


def payout(settlement_id: str = "6100001", principal: str = "100.00", deposit: str = "2026-11-17") -> Settlement:
    """A settlement imported from its file: an order and its commission, paid out on `deposit`."""
    sid = {"settlement_id": settlement_id}
    text = settlement_file(
        [
            amount_row("Order", f"202-{settlement_id}-1", "ItemPrice", "Principal", principal, **sid),
            amount_row("Order", f"202-{settlement_id}-1", "ItemFees", "Commission", "-15.00", **sid),
        ],
        settlement_id=settlement_id,
        dates=("2026-11-01 00:00:00 UTC", "2026-11-15 00:00:00 UTC", f"{deposit} 00:00:00 UTC"),
    )
    file, _ = settlement_file_store(data=io.BytesIO(text.encode()), name=f"{settlement_id}.txt", source="test")
    settlement = settlement_file_import(file_id=file.pk).settlement
    assert settlement is not None
    return settlement


def batch(batch_id: str, day: date, payments: str, refunds: str = "0.00", currency: str = "GBP") -> OpayoBatchTotal:
    opayo = OpayoBatch.objects.create(
        batch_id=batch_id, vendor="ledgerlinedemo", batch_date=day, raw_xml="<batch/>",
        completed_at=datetime(day.year, day.month, day.day, 23, 59).astimezone(),
    )  # fmt: skip
    return OpayoBatchTotal.objects.create(
        batch=opayo, currency=currency, payment_count=1, payment_value=Decimal(payments), refund_count=0,
        refund_value=Decimal(refunds),
    )  # fmt: skip


def load(data: bytes, name: str = "statement.xml", **kwargs: Any) -> BankStatementFile:
    file, _ = bank_statement_store(data=data, name=name, source="test", **kwargs)
    return bank_statement_import(file_id=file.pk).file


def deposits(file: BankStatementFile) -> list[BankStatementLine]:
    return list(file.lines.filter(amount__gt=0).order_by("booking_date", "pk"))


# --- reading ------------------------------------------------------------------------------------------------------

STATEMENT = [
    Tx("85.00", DEPOSIT_DAY, "AMAZON 6100001", bank_ref="BARC-0001"),
    Tx("-12.50", DEPOSIT_DAY, "DIRECT DEBIT", name="BT GROUP", bank_ref="BARC-0002"),
    Tx("42.00", DEPOSIT_DAY + timedelta(days=1), "TRANSFER", name="J SMITH", bank_ref="BARC-0003"),
]


@pytest.mark.parametrize(
    "make,kwargs",
    [
        (lambda: camt053(STATEMENT), {}),
        (lambda: ofx(STATEMENT, account="55555555"), {"ofx": True}),
        (lambda: ofx2(STATEMENT, account="55555555"), {"ofx": True}),
        (lambda: bank_csv(STATEMENT), {"csv": True}),
    ],
    ids=["camt053", "ofx1-sgml", "ofx2-xml", "csv"],
)
def test_each_format_is_read_into_the_same_lines(
    make: Any, kwargs: dict[str, bool], account: BankAccount, ofx_account: BankAccount
) -> None:
    extra: dict[str, Any] = {"bank_account": account} if kwargs.get("csv") else {}
    file = load(make(), **extra)
    assert file.state == BankStatementFile.State.IMPORTED, file.error
    assert file.format == ("ofx" if kwargs.get("ofx") else "csv" if kwargs.get("csv") else "camt053")
    assert file.bank_account == (ofx_account if kwargs.get("ofx") else account)
    assert (file.lines_new, file.lines_seen) == (3, 0)
    lines = list(file.lines.order_by("booking_date", "amount"))
    assert [(x.booking_date, x.amount, x.currency) for x in lines] == [
        (DEPOSIT_DAY, Decimal("-12.50"), "GBP"), (DEPOSIT_DAY, Decimal("85.00"), "GBP"),
        (DEPOSIT_DAY + timedelta(days=1), Decimal("42.00"), "GBP"),
    ]  # fmt: skip
    assert lines[1].reference == "AMAZON 6100001"
    assert lines[1].bank_reference == "BARC-0001"
    assert lines[1].location.startswith("line ")
    # Money out is not a deposit: nothing to match, said why.
    assert lines[0].status == BankStatementLine.Status.IGNORED
    assert "Money out" in lines[0].match_reason
    # Nothing to match the deposits to: each says why, in words.
    assert lines[1].status == BankStatementLine.Status.UNMATCHED
    assert "no unpaid Amazon settlement" in lines[1].match_reason
    assert "no unpaid Opayo batch" in lines[1].match_reason


def test_the_same_statement_twice_doubles_nothing(account: BankAccount) -> None:
    payout()
    first = load(camt053(STATEMENT))
    again, created = bank_statement_store(data=camt053(STATEMENT), name="again.xml", source="test")
    assert not created and again.pk == first.pk  # the same bytes are the same file
    assert bank_statement_import(file_id=again.pk).new_line_ids == []
    # The same lines in another file (the next day's statement repeats them, plus one new line).
    later = load(camt053([*STATEMENT, Tx("9.99", DEPOSIT_DAY + timedelta(days=2), "X", bank_ref="BARC-0004")],
                         statement_id="STMT-2"))  # fmt: skip
    assert (later.lines_new, later.lines_seen) == (1, 3)
    assert BankStatementLine.objects.count() == 4
    assert BankMatch.objects.count() == 1 and JournalEntry.objects.filter(bank_match__isnull=False).count() == 1
    # CSV lines without the bank's id are kept by their content: the same export twice keeps them once.
    csv_account = BankAccount.objects.create(name="CSV", account_id="CSV-1", currency="GBP",
                                             gl_account=account.gl_account, csv_mapping=CSV_MAPPING)  # fmt: skip
    twice = [Tx("5.00", DEPOSIT_DAY, "SAME"), Tx("5.00", DEPOSIT_DAY, "SAME")]
    one = load(bank_csv(twice, with_ids=False), name="a.csv", bank_account=csv_account)
    two = load(bank_csv(twice, with_ids=False) + b"\r\n", name="b.csv", bank_account=csv_account)
    assert (one.lines_new, two.lines_new, two.lines_seen) == (2, 0, 2)  # two equal deposits stay two


@pytest.mark.parametrize(
    "data,fmt,location,reason",
    [
        (camt053(STATEMENT).replace(b"<CdtDbtInd>CRDT</CdtDbtInd>\n        <Sts>", b"<CdtDbtInd>CRED</CdtDbtInd>\n"
         b"        <Sts>", 1), "", "line 22, <Ntry>", "<CdtDbtInd> must be CRDT or DBIT, not 'CRED'"),
        (camt053(STATEMENT).replace(b'<Amt Ccy="GBP">85.00</Amt>', b'<Amt Ccy="GBP">85,00</Amt>'), "",
         "line 24, <Amt>", "<Amt> is not a number"),
        (camt053(STATEMENT)[:900], "", "line ", "not well-formed XML"),
        (ofx(STATEMENT, account="55555555").replace(b"<TRNAMT>42.00", b"<TRNAMT>4x2"), "", "line 19, <STMTTRN> #3",
         "<TRNAMT> '4x2' is not an amount"),
        (bank_csv(STATEMENT).replace(b"19/11/2026", b"2026-11-19"), "csv", "line 4, column 'Date'",
         "'2026-11-19' is not a date like %d/%m/%Y"),
    ],
    ids=["camt-indicator", "camt-amount", "camt-cut", "ofx-amount", "csv-date"],
)  # fmt: skip
def test_a_malformed_file_is_rejected_with_line_and_element_and_keeps_nothing(
    data: bytes, fmt: str, location: str, reason: str, account: BankAccount, ofx_account: BankAccount
) -> None:
    file = load(data, format=fmt, bank_account=account if fmt == "csv" else None)
    assert file.state == BankStatementFile.State.REJECTED
    assert file.error_location.startswith(location), file.error_location
    assert reason in file.error
    assert BankStatementLine.objects.count() == 0
    item = ExceptionItem.objects.get(kind=ExceptionItem.Kind.BANK_STATEMENT, status="open")
    assert location in item.summary and reason in item.summary
    assert bytes(file.raw) == data  # the file itself is kept as received, to look at and reprocess


def test_a_rejected_csv_imports_after_its_mapping_is_fixed(account: BankAccount) -> None:
    account.csv_mapping = {**CSV_MAPPING, "date_format": "%Y-%m-%d"}
    account.save()
    file = load(bank_csv(STATEMENT), name="s.csv", bank_account=account)
    assert file.state == BankStatementFile.State.REJECTED
    assert file.error_location == "line 2, column 'Date'"
    account.csv_mapping = CSV_MAPPING
    account.save()
    item = ExceptionItem.objects.get(kind=ExceptionItem.Kind.BANK_STATEMENT)
    exception_reprocess(item=item, actor="finance@example.com")
    file.refresh_from_db()
    item.refresh_from_db()
    assert file.state == BankStatementFile.State.IMPORTED and file.lines_new == 3
    assert item.status == ExceptionItem.Status.RESOLVED


def test_a_statement_for_an_unknown_account_is_rejected_with_the_account(account: BankAccount) -> None:
    file = load(camt053(STATEMENT, iban="GB00UNKNOWN"))
    assert file.state == BankStatementFile.State.REJECTED
    assert "no bank account 'GB00UNKNOWN'" in file.error


# --- matching -----------------------------------------------------------------------------------------------------


def test_a_deposit_naming_its_settlement_matches_and_posts_the_clearing_to_bank_journal(account: BankAccount) -> None:
    settlement = payout()
    assert settlement.total_amount == Decimal("85.00")
    line = deposits(load(camt053(STATEMENT)))[0]
    assert line.status == BankStatementLine.Status.MATCHED
    assert "names Amazon settlement 6100001" in line.match_reason
    assert "85.00 GBP equals its payout" in line.match_reason
    match = line.match
    assert match.kind == BankMatch.Kind.AMAZON and [i.settlement for i in match.items.all()] == [settlement]
    entry = JournalEntry.objects.get(bank_match=match)
    assert entry.settlement is None and entry.date == DEPOSIT_DAY and entry.status == JournalEntry.Status.DRAFT
    sides = {(x.gl_account.code, x.debit, x.credit) for x in entry.lines.all()}
    assert sides == {("1200", Decimal("85.00"), Decimal("0")), ("1205", Decimal("0"), Decimal("85.00"))}
    assert entry.total_debit == entry.total_credit == Decimal("85.00")
    # The clearing account nets to zero across the settlement's journal and the deposit's.
    clearing = JournalEntry.objects.filter(lines__gl_account__code="1205").aggregate(
        d=Sum("lines__debit"), c=Sum("lines__credit")
    )
    assert clearing["d"] == clearing["c"]
    # Posting goes through the one journal writer.
    assert journal_entries_post(entry_ids=[entry.pk], actor="finance") == 1
    assert BankLineEvent.objects.filter(line=line, to_status="matched").count() == 1


def test_a_deposit_without_the_settlement_id_matches_by_amount_and_date_window(account: BankAccount) -> None:
    payout()
    line = deposits(load(camt053([Tx("85.00", DEPOSIT_DAY, "", name="AMAZON EU SARL")])))[0]
    assert line.status == BankStatementLine.Status.MATCHED
    assert "No settlement id in the reference; Amazon settlement 6100001 is the only unpaid one" in line.match_reason


def test_two_payouts_of_the_same_amount_are_not_guessed(account: BankAccount) -> None:
    payout("6100001")
    payout("6100002")
    line = deposits(load(camt053([Tx("85.00", DEPOSIT_DAY, "", name="AMAZON EU SARL")])))[0]
    assert line.status == BankStatementLine.Status.UNMATCHED
    assert "2 unpaid Amazon settlements of 85.00 GBP" in line.match_reason
    assert "6100001, 6100002" in line.match_reason


def test_a_short_deposit_is_an_exception_with_the_difference(account: BankAccount) -> None:
    payout()
    line = deposits(load(camt053([Tx("80.00", DEPOSIT_DAY, "AMAZON 6100001", bank_ref="B-1")])))[0]
    assert line.status == BankStatementLine.Status.SHORT
    assert "which pays 85.00 GBP, but the deposit is 80.00 GBP: short by 5.00 GBP" in line.match_reason
    assert not BankMatch.objects.exists() and not JournalEntry.objects.filter(bank_match__isnull=False).exists()
    item = ExceptionItem.objects.get(kind=ExceptionItem.Kind.BANK_DEPOSIT, status="open")
    assert "short by 5.00 GBP" in item.summary and item.reference == "B-1"


def test_one_deposit_pays_two_opayo_batches(account: BankAccount) -> None:
    first = batch("1001", date(2026, 11, 16), "149.00", "10.00")
    second = batch("1002", date(2026, 11, 17), "111.00")
    batch("1003", date(2026, 11, 17), "500.00", currency="EUR")  # another currency: not part of it
    line = deposits(load(camt053([Tx("250.00", DEPOSIT_DAY, "ELAVON MERCH 123", name="ELAVON")])))[0]
    assert line.status == BankStatementLine.Status.MATCHED, line.match_reason
    assert "pays these 2 Opayo batches" in line.match_reason
    assert "batch 1001 of 2026-11-16 (payments 149.00 − refunds 10.00 = 139.00 GBP)" in line.match_reason
    assert {i.opayo_batch_total for i in line.match.items.all()} == {first, second}
    entry = line.match.journal
    sides = sorted((x.gl_account.code, x.debit, x.credit) for x in entry.lines.all())
    assert sides == [("1200", Decimal("250.00"), 0), ("1206", 0, Decimal("111.00")), ("1206", 0, Decimal("139.00"))]


def test_net_credit_fees_are_deducted_and_debited(account: BankAccount, settings: Any) -> None:
    settings.BANK_OPAYO_FEE_PERCENT = Decimal("1.5")
    batch("2001", date(2026, 11, 17), "200.00")  # 200.00 − 3.00 fees
    line = deposits(load(camt053([Tx("197.00", DEPOSIT_DAY, "CARD SETTLEMENT")])))[0]
    assert line.status == BankStatementLine.Status.MATCHED, line.match_reason
    assert "− fees 3.00 = 197.00 GBP" in line.match_reason
    sides = sorted((x.gl_account.code, x.debit, x.credit) for x in line.match.journal.lines.all())
    assert sides == [("1200", Decimal("197.00"), 0), ("1206", 0, Decimal("200.00")), ("5040", Decimal("3.00"), 0)]


def test_a_settlement_imported_after_the_deposit_is_matched_on_the_next_run(account: BankAccount) -> None:
    line = deposits(load(camt053(STATEMENT)))[0]
    assert line.status == BankStatementLine.Status.UNMATCHED
    payout()
    bank_lines_match()
    line.refresh_from_db()
    assert line.status == BankStatementLine.Status.MATCHED


def test_unmatched_after_n_days_becomes_an_exception(account: BankAccount, settings: Any) -> None:
    settings.BANK_UNMATCHED_DAYS = 5
    line = deposits(load(camt053([Tx("42.00", DEPOSIT_DAY, "TRANSFER", name="J SMITH")])))[0]
    bank_lines_overdue_check(today=DEPOSIT_DAY + timedelta(days=4))
    line.refresh_from_db()
    assert line.status == BankStatementLine.Status.UNMATCHED
    bank_lines_overdue_check(today=DEPOSIT_DAY + timedelta(days=5))
    line.refresh_from_db()
    assert line.status == BankStatementLine.Status.EXCEPTION
    assert line.match_reason.startswith("Still unmatched 5 days after booking")
    item = ExceptionItem.objects.get(kind=ExceptionItem.Kind.BANK_DEPOSIT, status="open")
    assert "42.00 GBP" in item.summary
    # The payout turns up later: matched, the exception closes itself.
    batch("3001", DEPOSIT_DAY, "42.00")
    bank_lines_overdue_check(today=DEPOSIT_DAY + timedelta(days=6))
    line.refresh_from_db()
    item.refresh_from_db()
    assert line.status == BankStatementLine.Status.MATCHED
    assert item.status == ExceptionItem.Status.RESOLVED


def test_import_bank_statement_command(account: BankAccount, tmp_path: Any) -> None:
    path = tmp_path / "statement.xml"
    path.write_bytes(camt053(STATEMENT))
    out = io.StringIO()
    call_command("import_bank_statement", str(path), stdout=out)
    assert "3 new line(s), 0 seen before" in out.getvalue()
    bad = tmp_path / "bad.xml"
    bad.write_bytes(camt053(STATEMENT)[:900])
    with pytest.raises(Exception, match="1 file\\(s\\) rejected"):
        call_command("import_bank_statement", str(bad), stdout=io.StringIO(), stderr=io.StringIO())


def test_a_payout_with_no_deposit_is_an_exception_once_the_statements_pass_its_window(
    account: BankAccount, settings: Any
) -> None:
    settings.BANK_UNMATCHED_DAYS, settings.BANK_AMAZON_WINDOW_DAYS = 5, 5
    payout()  # deposit date 2026-11-17: due in the bank from then to 2026-11-22

    def missing() -> ExceptionItem | None:
        return ExceptionItem.objects.filter(kind="bank_deposit", reference="Amazon settlement 6100001").first()

    load(camt053([Tx("42.00", date(2026, 11, 21), "OTHER", name="J SMITH", bank_ref="X1")]))
    bank_lines_overdue_check(today=date(2026, 11, 30))
    assert missing() is None  # the statements stop before the window closes: nothing can be said yet
    load(camt053([Tx("-1.00", date(2026, 11, 25), "FEE", bank_ref="X2")], statement_id="S2"))
    bank_lines_overdue_check(today=date(2026, 11, 26))
    assert missing() is None  # not BANK_UNMATCHED_DAYS past the window yet
    bank_lines_overdue_check(today=date(2026, 11, 27))
    item = missing()
    assert item is not None and item.status == "open"
    assert item.summary == (
        "No bank deposit for Amazon settlement 6100001: 85.00 GBP due from 2026-11-17 to 2026-11-22; the GBP bank "
        "statements up to 2026-11-25 show none"
    )
    # It turns up late under its reference: matched, and the exception answers itself.
    load(camt053([Tx("85.00", date(2026, 11, 28), "AMAZON 6100001", bank_ref="X3")], statement_id="S3"))
    item.refresh_from_db()
    assert item.status == "resolved" and item.resolution_note == "paid in X3"


def test_finance_accepts_a_short_deposit_with_its_difference(account: BankAccount) -> None:
    from config.common.errors import ApplicationError
    from reconciliation.services.bank_match import bank_line_accept_difference

    payout()
    line = deposits(load(camt053([Tx("80.00", DEPOSIT_DAY, "AMAZON 6100001", bank_ref="B-1")])))[0]
    with pytest.raises(ApplicationError, match="Say why"):
        bank_line_accept_difference(line=line, actor="finance@example.com", note=" ")
    line = bank_line_accept_difference(line=line, actor="finance@example.com", note="Amazon held 5.00 for a claim")
    assert line.status == BankStatementLine.Status.MATCHED
    assert "Accepted by finance@example.com with a difference of -5.00 GBP (to 7970): Amazon held" in line.match_reason
    sides = sorted((x.gl_account.code, x.debit, x.credit) for x in line.match.journal.lines.all())
    assert sides == [("1200", Decimal("80.00"), 0), ("1205", 0, Decimal("85.00")), ("7970", Decimal("5.00"), 0)]
    assert line.match.difference == Decimal("-5.00")
    assert ExceptionItem.objects.get(kind=ExceptionItem.Kind.BANK_DEPOSIT).status == ExceptionItem.Status.RESOLVED
    with pytest.raises(ApplicationError, match="Only a short deposit"):
        bank_line_accept_difference(line=line, actor="finance@example.com", note="again")
