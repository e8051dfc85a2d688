"""Settlement import on PostgreSQL: storage first, all-or-nothing import, matching, GL mapping, journals."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from config.common.models import ExceptionItem
from config.common.services import exception_reprocess
from mappings.models import CurrencyRate, GlAccount, SettlementAccountMapping
from orders.models import Order, SellerAccount
from reconciliation.models import JournalEntry, Settlement, SettlementFile, SettlementLine
from reconciliation.selectors import settlement_lines_unmatched, settlement_lines_with_orders
from reconciliation.services import settlement_file_import, settlement_file_store
from tests.factories import SellerAccountFactory
from tests.reconciliation.files import UK_ORDER, UK_REFUNDED, amount_row, settlement_file, uk_settlement

pytestmark = pytest.mark.django_db


def amazon_order(account: SellerAccount, external_id: str) -> Order:
    return Order.objects.create(
        channel=Order.Channel.AMAZON, external_id=external_id, seller_account=account, status="shipped",
        purchased_at=timezone.now(), currency="GBP", total_amount=Decimal("49.99"),
    )  # fmt: skip


def import_text(text: str, name: str = "settlement.txt", encoding: str = "utf-8") -> SettlementFile:
    file, _ = settlement_file_store(data=io.BytesIO(text.encode(encoding)), name=name, source="test")
    return settlement_file_import(file_id=file.pk)


def journal_balances(entry: JournalEntry) -> None:
    lines = list(entry.lines.all())
    assert sum(line.debit for line in lines) == sum(line.credit for line in lines) == entry.total_debit
    assert sum(line.base_debit for line in lines) == sum(line.base_credit for line in lines) == entry.base_total_debit


def test_uk_settlement_is_matched_mapped_and_journalled_to_the_cent() -> None:
    account = SellerAccountFactory.create()
    order, refunded = amazon_order(account, UK_ORDER), amazon_order(account, UK_REFUNDED)
    file = import_text(uk_settlement())
    assert file.state == "imported" and file.rows_imported == 14 and Path(file.path).exists()
    settlement = Settlement.objects.get(settlement_id="5000001")
    assert settlement.lines_total == settlement.total_amount == Decimal("-24.99")
    assert settlement.status == "reconciled" and settlement.unmatched_count == 0 and settlement.unmapped_count == 0
    annotated = settlement_lines_with_orders(lines=settlement.lines.all())
    lines: dict[tuple[str, str], Any] = {(line.transaction_type, line.amount_description): line for line in annotated}
    assert lines["Order", "Principal"].order_pk == order.pk and lines["Order", "Principal"].kind == "order"
    assert lines["Refund", "Principal"].order_pk == refunded.pk and lines["Refund", "Principal"].kind == "refund"
    assert lines["Chargeback Refund", "Principal"].kind == "refund"
    fee = lines["ServiceFee", "Subscription Fee"]
    assert fee.kind == "fee" and fee.order_pk is None
    assert lines["FBAFees", "Base fee"].kind == "fee"  # an FBA shipment id in order-id is not an order
    assert lines["other-transaction", "Current Reserve Amount"].kind == "transfer"
    codes = {key: line.gl_account.code for key, line in lines.items() if line.gl_account}
    assert codes["Order", "Principal"] == "4000" and codes["Order", "Commission"] == "5000"
    assert codes["Order", "FBAPerUnitFulfillmentFee"] == "5010" and codes["Order", "Tax"] == "2200"
    assert codes["Chargeback Refund", "Principal"] == "4030" and codes["ServiceFee", "Subscription Fee"] == "5020"
    assert codes["other-transaction", "Current Reserve Amount"] == "1210"
    assert codes["other-transaction", "REVERSAL_REIMBURSEMENT"] == "4090"

    entry = settlement.journals.get()
    journal_balances(entry)
    by_code: dict[str, Decimal] = {}
    for line in entry.lines.select_related("gl_account"):
        by_code[line.gl_account.code] = by_code.get(line.gl_account.code, Decimal(0)) + line.credit - line.debit
    assert by_code["1205"] == Decimal("24.99")  # Amazon took 24.99 more than it paid: clearing credited
    assert by_code["4000"] == Decimal("30.00")  # 49.99 sold - 19.99 refunded
    assert "2200" not in by_code  # VAT collected and withheld by Amazon nets to nothing: no line
    assert by_code["1210"] == Decimal("20.00")  # reserve released 120, held 100
    assert entry.rate == 1 and entry.base_total_debit == entry.total_debit


def test_the_same_settlement_again_changes_nothing() -> None:
    first = import_text(uk_settlement())
    before = (SettlementLine.objects.count(), JournalEntry.objects.count(), list(Settlement.objects.values()))
    same_bytes = import_text(uk_settlement())
    assert same_bytes.pk == first.pk and same_bytes.state == "imported"  # the very same file
    other_file = import_text(uk_settlement().replace("\n", "\r\n"), name="again.txt")  # other bytes, same settlement
    assert other_file.state == "duplicate" and other_file.settlement == first.settlement
    assert (SettlementLine.objects.count(), JournalEntry.objects.count(), list(Settlement.objects.values())) == before


def test_malformed_row_rejects_the_file_with_its_line_and_keeps_nothing() -> None:
    text = uk_settlement().replace("\t-7.50\t", "\t-7.5O\t")  # letter O typed for a zero, line 6
    file = import_text(text)
    assert file.state == "rejected" and file.error_line == 6 and "'-7.5O' is not an amount" in file.error
    assert not Settlement.objects.exists() and not SettlementLine.objects.exists()
    assert file.next_attempt_at is not None and file.attempts == 1 and Path(file.path).exists()
    item = ExceptionItem.objects.get(kind="settlement_file", status="open")
    assert "line 6" in item.summary and file.name in item.summary


def test_truncated_download_is_rejected_and_the_complete_file_imports() -> None:
    text = uk_settlement()
    cut = text[: text.index("Subscription Fee") + 5]  # the connection dropped in the middle of a row
    file = import_text(cut, name="cut.txt")
    assert file.state == "rejected" and file.error_line == 12 and "columns" in file.error
    assert not Settlement.objects.exists()
    cut_at_row_end = text[: text.index("\tService") - 1] + text[text.index("\tService") - 1 :].split("\n")[0]
    file = import_text(cut_at_row_end, name="cut2.txt")
    assert file.state == "rejected" and "truncated" in file.error and not Settlement.objects.exists()
    complete = import_text(text, name="complete.txt")
    assert complete.state == "imported"
    assert ExceptionItem.objects.filter(kind="settlement_file", status="open").count() == 2  # both cut files


def test_rejected_file_is_tried_again_and_reprocess_after_a_fix_imports_it() -> None:
    text = uk_settlement()
    file = import_text(text.replace("2026-11-02 10:00:00 UTC", "2026-13-02 10:00:00 UTC", 1))
    assert file.state == "rejected" and "is not a date" in file.error
    item = ExceptionItem.objects.get(kind="settlement_file", status="open")
    # The stored bytes are what they are: trying again gives the same answer and keeps the file for the record.
    exception_reprocess(item=item, actor="user:finance")
    file.refresh_from_db()
    assert file.state == "rejected" and file.attempts == 2


def test_lines_that_do_not_add_up_flag_the_settlement_and_make_no_journal() -> None:
    file = import_text(settlement_file([amount_row("ServiceFee", "", "other-transaction", "Subscription Fee",
                                                   "-25.00")], total="-20.00"))  # fmt: skip
    assert file.state == "imported"  # complete file (ends with a line break), Amazon's own sums disagree
    settlement = Settlement.objects.get()
    assert settlement.status == "flagged" and "not the summary total -20.00" in settlement.problem
    assert not JournalEntry.objects.exists()
    assert ExceptionItem.objects.filter(kind="settlement_total", status="open").exists()


def test_unmatched_order_is_an_exception_until_the_order_arrives() -> None:
    import_text(uk_settlement())
    settlement = Settlement.objects.get()
    assert settlement.status == "exceptions" and settlement.unmatched_count == 9
    item = ExceptionItem.objects.get(kind="settlement_unmatched", status="open")
    assert UK_ORDER in item.detail and UK_REFUNDED in item.detail
    unmatched = settlement_lines_unmatched(settlement=settlement)
    assert {line.amazon_order_id for line in unmatched} == {UK_ORDER, UK_REFUNDED}
    assert "name an order Ledgerline does not have" in settlement.problem
    assert JournalEntry.objects.filter(settlement=settlement).exists()  # the books do not wait for matching

    account = SellerAccountFactory.create()
    amazon_order(account, UK_ORDER), amazon_order(account, UK_REFUNDED)
    exception_reprocess(item=item, actor="user:finance")
    settlement.refresh_from_db()
    item.refresh_from_db()
    assert settlement.status == "reconciled" and settlement.unmatched_count == 0 and item.status == "resolved"
    assert not settlement_lines_unmatched(settlement=settlement).exists()


def test_unmapped_amount_type_is_an_exception_never_a_default_until_finance_maps_it() -> None:
    rows = [
        amount_row("Order", UK_ORDER, "ItemPrice", "Principal", "10.00"),
        amount_row("other-transaction", "", "other-transaction", "Brand new fee", "-1.00"),
    ]
    import_text(settlement_file(rows))
    settlement = Settlement.objects.get()
    assert settlement.unmapped_count == 1 and settlement.status == "exceptions"
    assert not JournalEntry.objects.exists()
    item = ExceptionItem.objects.get(kind="settlement_unmapped", status="open")
    assert "other-transaction / other-transaction / Brand new fee: 1 line(s)" in item.detail

    SettlementAccountMapping.objects.create(
        transaction_type="*", amount_type="other-transaction", amount_description="Brand new fee",
        gl_account=GlAccount.objects.get(code="5020"),
    )  # fmt: skip
    exception_reprocess(item=item, actor="user:finance")
    settlement.refresh_from_db()
    item.refresh_from_db()
    assert settlement.unmapped_count == 0 and item.status == "resolved"
    journal_balances(settlement.journals.get())


def test_most_specific_mapping_wins() -> None:
    rows = [amount_row("Chargeback Refund", UK_ORDER, "ItemFees", "Commission", "1.00"),
            amount_row("Chargeback Refund", UK_ORDER, "ItemPrice", "Principal", "-2.00")]  # fmt: skip
    import_text(settlement_file(rows))
    codes = dict(SettlementLine.objects.values_list("amount_description", "gl_account__code"))
    assert codes == {"Commission": "5000", "Principal": "4030"}  # (CB, ItemPrice, *) beats (*, ItemPrice, Principal)


def test_german_file_decimal_comma_and_dates_in_euros_with_base_currency_rounding() -> None:
    CurrencyRate.objects.create(date=date(2026, 11, 16), currency="EUR", base_currency="GBP", rate="0.85337")
    stamp = "02.11.2026 10:00:00 UTC"
    rows = [
        amount_row("Order", "302-1111111-1111111", "ItemPrice", "Principal", "1.141,18", marketplace="Amazon.de",
                   posted=stamp, settlement_id="7000001"),
        amount_row("Order", "302-1111111-1111111", "ItemFees", "Commission", "-171,18", marketplace="Amazon.de",
                   posted=stamp, settlement_id="7000001"),
        amount_row("Order", "405-1111111-1111111", "ItemPrice", "Principal", "33,33", marketplace="Amazon.fr",
                   posted=stamp, settlement_id="7000001"),
        amount_row("Order", "405-1111111-1111111", "ItemFees", "Commission", "-3,33", marketplace="Amazon.fr",
                   posted=stamp, settlement_id="7000001"),
    ]  # fmt: skip
    dates = ("01.11.2026 00:00:00 UTC", "15.11.2026 00:00:00 UTC", "17.11.2026 07:49:55 UTC")
    text = settlement_file(rows, settlement_id="7000001", currency="EUR", decimal_comma=True, dates=dates)
    file = import_text(text, encoding="cp1252")
    assert file.state == "imported", file.error
    settlement = Settlement.objects.get()
    assert settlement.total_amount == Decimal("1000.00") and settlement.currency == "EUR"
    assert settlement.deposit_date is not None and settlement.deposit_date.isoformat() == "2026-11-17T07:49:55+00:00"
    entry = settlement.journals.get()
    assert entry.currency == "EUR" and entry.base_currency == "GBP" and entry.rate == Decimal("0.85337")
    journal_balances(entry)
    assert entry.total_debit == Decimal("1174.51")  # fees 174.51 + payout 1000.00
    sales = entry.lines.exclude(gl_account__code__in=["1205", "7960"])
    assert {line.description.split(" - ")[-1] for line in sales} == {"Amazon.de", "Amazon.fr"}


def test_foreign_currency_without_a_rate_waits_with_a_clear_reason() -> None:
    rows = [amount_row("Order", "111-1111111-1111111", "ItemPrice", "Principal", "10.00", settlement_id="9")]
    import_text(settlement_file(rows, settlement_id="9", currency="USD"))
    settlement = Settlement.objects.get()
    assert not JournalEntry.objects.exists()
    assert "no USD→GBP rate on or before 2026-11-17" in settlement.problem
    item = ExceptionItem.objects.get(kind="settlement_unmapped", status="open")
    CurrencyRate.objects.create(date=date(2026, 11, 1), currency="USD", base_currency="GBP", rate="0.79")
    exception_reprocess(item=item, actor="user:finance")
    journal_balances(Settlement.objects.get().journals.get())


def test_detail_journal_has_a_line_per_settlement_line(settings: Any) -> None:
    settings.LEDGER_JOURNAL_DETAIL = "line"
    import_text(uk_settlement())
    entry = Settlement.objects.get().journals.get()
    assert entry.line_count == 15  # 14 lines + clearing
    journal_balances(entry)
    assert entry.lines.filter(reference=UK_ORDER).count() == 6


def test_command_imports_with_progress_and_reports_rejections(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text(uk_settlement())
    bad.write_text(uk_settlement("5000002").replace("\t49.99\t", "\tabc\t"))
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(Exception, match="1 file"):
        call_command("import_settlement", str(good), str(bad), stdout=out, stderr=err)
    assert "settlement 5000001 imported: 14 lines" in out.getvalue()
    assert "rejected, nothing imported. line 3: amount 'abc' is not an amount" in err.getvalue()
    out = io.StringIO()
    call_command("import_settlement", str(good), stdout=out)
    assert "already imported" in out.getvalue() or "seen before" in out.getvalue()
