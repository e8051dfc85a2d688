"""The V2 settlement flat-file generator (simulators/spapi/settlement_files.py), read back by our streaming reader.

No database and no server: everything here is text in memory, plus two short child processes for memory.
"""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
import tracemalloc
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from reconciliation.parser import ROW_FIELDS, SettlementParseError, SettlementReader, detect_encoding
from simulators.spapi.settlement_files import (
    COLUMNS,
    OrderSpec,
    SettlementFacts,
    SettlementSpec,
    facts_of,
    main,
    malformed,
    settlement_text,
    truncated,
    write_settlement,
)

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2025, 6, 1, 7, 49, 55, tzinfo=UTC)
END = START + timedelta(days=14)
DEPOSIT = END + timedelta(days=2)
CURRENCY = {"iso": "GBP", "de": "EUR", "us": "USD"}
AMOUNT, TYPE, DESCRIPTION, POSTED = (ROW_FIELDS.index(f) for f in ("amount", "amount_type", "amount_description",
                                                                    "posted_at"))  # fmt: skip


def spec(style: str = "iso", **changes: object) -> SettlementSpec:
    values: dict[str, object] = {
        "settlement_id": "19482314502", "currency": CURRENCY.get(style, "EUR"), "start": START, "end": END,
        "deposit": DEPOSIT, "style": style, "generated_orders": 60, "seed": 7, "refund_rate": Decimal("0.1"),
        "chargebacks": 2, "reserve": (Decimal("120.00"), Decimal("95.50")), "service_fees": True,
        "fba_storage_fee": Decimal("14.37"),
    }  # fmt: skip
    values.update(changes)
    return SettlementSpec(**values)  # type: ignore[arg-type]


def read(text: str) -> tuple[SettlementReader, list[tuple[str | None, ...]]]:
    reader = SettlementReader(io.StringIO(text, newline=""))
    return reader, list(reader.rows())


def own_parse(text: str) -> tuple[Decimal, list[Decimal], list[list[str]], list[str]]:
    """The file read by hand: (summary total, amounts, amount-row cells, header); both decimal separators."""
    lines = text.splitlines()
    header = lines[0].split("\t")
    summary = lines[1].split("\t")
    total_text = summary[header.index("total-amount")]
    comma = "," in total_text

    def amount(value: str) -> Decimal:
        assert value.count(",") + value.count(".") == 1, value  # no thousands separators in Amazon's files
        return Decimal(value.replace(",", ".")) if comma else Decimal(value)

    cells = [line.split("\t") for line in lines[2:]]
    return amount(total_text), [amount(c[header.index("amount")]) for c in cells], cells, header


# --- determinism and totals -------------------------------------------------------------------------------------


def test_same_seed_same_file_and_another_seed_another_file() -> None:
    first, facts = settlement_text(spec("de"))
    again, facts_again = settlement_text(spec("de"))
    assert first == again and facts == facts_again
    assert facts_of(spec("de")) == facts
    other, _ = settlement_text(spec("de", seed=8))
    assert other != first
    # the same seed under another settlement id is another settlement, not a copy with a new id
    renamed, _ = settlement_text(spec("de", settlement_id="19482314503"))
    assert renamed.replace("19482314503", "19482314502") != first


@pytest.mark.parametrize("columns", [23, 24])
@pytest.mark.parametrize("style", ["iso", "de", "us"])
def test_summary_total_is_the_exact_sum_of_the_amount_rows(style: str, columns: int) -> None:
    text, facts = settlement_text(spec(style, columns=columns, generated_orders=150))
    total, amounts, cells, header = own_parse(text)
    assert header == list(COLUMNS[:columns])
    assert total == sum(amounts) == facts.total
    assert len(amounts) == facts.amount_rows == text.count("\n") - 2
    assert all(len(c) == columns for c in cells)
    assert all(c[0] == "19482314502" and c[1:6] == [""] * 5 for c in cells)  # summary columns left empty
    summary = text.splitlines()[1].split("\t")
    assert len(summary) == columns and summary[5] == CURRENCY[style] and summary[6:] == [""] * (columns - 6)
    assert facts.sum_of() == facts.total and facts.count_of() == facts.amount_rows


@pytest.mark.parametrize("style", ["iso", "de", "us"])
def test_formats_per_style(style: str) -> None:
    text, _ = settlement_text(spec(style, generated_orders=5))
    lines = text.splitlines()
    summary, row = lines[1].split("\t"), lines[2].split("\t")
    posted_date, posted_time = row[COLUMNS.index("posted-date")], row[COLUMNS.index("posted-date-time")]
    if style == "de":
        assert summary[1:4] == ["01.06.2025 07:49:55 UTC", "15.06.2025 07:49:55 UTC", "17.06.2025 07:49:55 UTC"]
        assert "," in summary[4] and "." not in summary[4]
        assert posted_time.startswith(posted_date + " ") and posted_date[2] == posted_date[5] == "."
    else:
        assert summary[1:4] == ["2025-06-01 07:49:55 UTC", "2025-06-15 07:49:55 UTC", "2025-06-17 07:49:55 UTC"]
        assert "." in summary[4] and "," not in summary[4]
        day = datetime.strptime(posted_time, "%Y-%m-%d %H:%M:%S UTC").date()
        assert posted_date == (day.strftime("%m/%d/%y") if style == "us" else day.isoformat())
    assert posted_time.endswith(" UTC")


def test_23_and_24_columns() -> None:
    text23, facts23 = settlement_text(spec(columns=23, generated_orders=300))
    text24, facts24 = settlement_text(spec(columns=24, generated_orders=300))
    assert facts23 == facts24  # same data, one column fewer
    assert text23.splitlines()[0].split("\t")[-1] == "quantity-purchased"
    assert text24.splitlines()[0].split("\t")[-1] == "promotion-id"
    promotions = [line.split("\t") for line in text24.splitlines() if "\tPromotion\t" in line]
    assert promotions and all(cells[23].startswith("A") and len(cells[23]) == 13 for cells in promotions)
    assert all(line.split("\t")[23] == "" for line in text24.splitlines()[2:] if "\tPromotion\t" not in line)


# --- read back by reconciliation.parser --------------------------------------------------------------------------


@pytest.mark.parametrize("crlf", [False, True])
@pytest.mark.parametrize("columns", [23, 24])
@pytest.mark.parametrize("style", ["iso", "de", "us"])
def test_every_style_is_readable_by_the_settlement_reader(style: str, columns: int, crlf: bool) -> None:
    text, facts = settlement_text(spec(style, columns=columns, crlf=crlf, generated_orders=120))
    assert text.count("\r\n") == (facts.lines if crlf else 0)
    reader, rows = read(text)
    summary = reader.summary
    assert summary.settlement_id == "19482314502" and summary.currency == CURRENCY[style]
    assert summary.total_amount == facts.total
    assert summary.decimal_comma is (style == "de")
    assert summary.columns == columns
    assert (summary.start_date, summary.end_date, summary.deposit_date) == (START, END, DEPOSIT)
    assert len(rows) == facts.amount_rows
    sums: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for row in rows:
        sums[(row[1] or "", row[TYPE] or "", row[DESCRIPTION] or "")] += Decimal(row[AMOUNT] or "")
        assert START <= datetime.fromisoformat(row[POSTED] or "") < END
    assert dict(sums) == facts.sums
    assert sum(sums.values()) == facts.total


def test_decimal_comma_summary_detection_with_a_negative_total() -> None:
    """A fees-only EU settlement: the total is negative and has a comma; the reader must still see a comma file."""
    text, facts = settlement_text(spec("de", generated_orders=0, chargebacks=0, reserve=(None, Decimal("30"))))
    assert facts.total < 0 and facts.order_count == 0
    assert text.splitlines()[1].split("\t")[4] == str(facts.total).replace(".", ",")
    reader, rows = read(text)
    assert reader.summary.decimal_comma and reader.summary.total_amount == facts.total
    assert sum(Decimal(r[AMOUNT] or "") for r in rows) == facts.total


def test_the_same_settlement_in_each_style_reads_back_identically() -> None:
    """Same data in the three styles: the reader gets the same amounts and instants; "us" with posted-date only
    (mm/dd/yy) gives the right days."""
    read_back = {}
    for style in ("iso", "de", "us"):
        reader, rows = read(settlement_text(spec(style, currency="EUR"))[0])
        read_back[style] = (reader.summary.total_amount, [(r[1], r[2], r[AMOUNT], r[POSTED]) for r in rows])
    assert read_back["iso"] == read_back["de"] == read_back["us"]
    # mm/dd/yy is read as such in USD files (Amazon.com); elsewhere slashes are dd/mm (see the parser).
    _, rows = read(settlement_text(spec("us", currency="USD", posted_date_time=False))[0])
    _, iso_rows = read(settlement_text(spec("iso", currency="USD"))[0])
    assert [(r[POSTED] or "")[:10] for r in rows] == [(r[POSTED] or "")[:10] for r in iso_rows]


def test_encoded_like_amazon_and_read_from_bytes(tmp_path: Path) -> None:
    """Callers encode: a windows-1252 file with a non-ASCII SKU is detected and read back intact."""
    order = OrderSpec(amazon_order_id="302-1234567-7654321", sku="Grüße-Tasse", principal=Decimal("19.99"),
                      marketplace_name="Amazon.de", posted=START + timedelta(days=2))  # fmt: skip
    text, facts = settlement_text(spec("de", orders=[order], generated_orders=3))
    path = tmp_path / "settlement.txt"
    path.write_bytes(text.encode("cp1252"))
    with path.open("rb") as raw:
        encoding = detect_encoding(raw)
    assert encoding == "cp1252"
    with path.open(encoding=encoding, newline="") as stream:
        reader = SettlementReader(stream)
        rows = list(reader.rows())
    assert reader.summary.total_amount == facts.total
    assert rows[0][ROW_FIELDS.index("sku")] == "Grüße-Tasse"


# --- content ------------------------------------------------------------------------------------------------------


def rows_of(text: str) -> list[dict[str, str]]:
    lines = text.splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=True)) for line in lines[2:]]


def test_explicit_orders_give_the_documented_rows_and_signs() -> None:
    posted = START + timedelta(days=3, hours=4)
    afn = OrderSpec(
        amazon_order_id="202-1111111-2222222", merchant_order_id="LL-1001", sku="SKU-0001", quantity=2,
        principal=Decimal("40.00"), marketplace_name="Amazon.co.uk", fulfillment="AFN", shipping=Decimal("3.99"),
        posted=posted, refunded=True,
    )  # fmt: skip
    mfn = OrderSpec(
        amazon_order_id="202-3333333-4444444", sku="SKU-0002", principal=Decimal("10.00"), tax=Decimal("2.00"),
        withheld_tax=True, marketplace_name="Amazon.co.uk", fulfillment="MFN", posted=posted, refunded=False,
        commission=Decimal("1.80"), promotion=Decimal("1.00"),
    )  # fmt: skip
    text, facts = settlement_text(
        spec(orders=[afn, mfn], generated_orders=0, chargebacks=0, reserve=None, service_fees=False,
             fba_storage_fee=None, refund_rate=Decimal(0))
    )  # fmt: skip
    rows = rows_of(text)
    by_order = defaultdict(list)
    for row in rows:
        by_order[(row["transaction-type"], row["order-id"])].append(
            (row["amount-type"], row["amount-description"], Decimal(row["amount"]))
        )
    first = by_order[("Order", "202-1111111-2222222")]
    assert first[:2] == [("ItemPrice", "Principal", Decimal("40.00")), ("ItemPrice", "Shipping", Decimal("3.99"))]
    assert ("ItemFees", "Commission", Decimal("-6.60")) in first  # 15 % of 43.99
    assert ("ItemFees", "ShippingChargeback", Decimal("-3.99")) in first
    fba = [a for t, d, a in first if d == "FBAPerUnitFulfillmentFee"]
    assert len(fba) == 1 and fba[0] < 0
    refund = by_order[("Refund", "202-1111111-2222222")]
    assert refund == [
        ("ItemPrice", "Principal", Decimal("-40.00")), ("ItemPrice", "Shipping", Decimal("-3.99")),
        ("ItemFees", "Commission", Decimal("6.60")), ("ItemFees", "RefundCommission", Decimal("-1.32")),
    ]  # fmt: skip
    refund_rows = [r for r in rows if r["transaction-type"] == "Refund"]
    assert all(r["adjustment-id"] and r["merchant-adjustment-item-id"] and not r["shipment-id"] for r in refund_rows)
    assert all(r["merchant-order-id"] == "LL-1001" and r["quantity-purchased"] == "" for r in refund_rows)
    assert by_order[("Order", "202-3333333-4444444")] == [
        ("ItemPrice", "Principal", Decimal("10.00")), ("ItemPrice", "Tax", Decimal("2.00")),
        ("Promotion", "Principal", Decimal("-1.00")),
        ("ItemWithheldTax", "MarketplaceFacilitatorVAT-Principal", Decimal("-2.00")),
        ("ItemFees", "Commission", Decimal("-1.80")),
    ]  # fmt: skip
    order_rows = [r for r in rows if r["transaction-type"] == "Order"]
    assert {r["posted-date-time"] for r in order_rows} == {"2025-06-04 11:49:55 UTC"}
    assert {r["fulfillment-id"] for r in order_rows} == {"AFN", "MFN"}
    assert facts.order_ids == ("202-1111111-2222222", "202-3333333-4444444")
    assert facts.refunded_order_ids == ("202-1111111-2222222",) and facts.chargeback_order_ids == ()
    assert facts.ids_complete and facts.order_count == 2 and facts.refund_count == 1


def test_generated_settlement_follows_the_sign_convention() -> None:
    text, facts = settlement_text(spec("de", generated_orders=400, chargebacks=3))
    s = facts.sums
    assert s[("Order", "ItemPrice", "Principal")] > 0
    assert s[("Order", "ItemFees", "Commission")] < 0 and s[("Order", "ItemFees", "FBAPerUnitFulfillmentFee")] < 0
    assert s[("Refund", "ItemPrice", "Principal")] < 0 and s[("Refund", "ItemFees", "Commission")] > 0
    assert s[("Refund", "ItemFees", "RefundCommission")] < 0
    assert s[("Chargeback Refund", "ItemPrice", "Principal")] < 0
    assert s[("Order", "ItemWithheldTax", "MarketplaceFacilitatorVAT-Principal")] == -s[("Order", "ItemPrice", "Tax")]
    assert s[("other-transaction", "other-transaction", "Previous Reserve Amount Balance")] == Decimal("120.00")
    assert s[("other-transaction", "other-transaction", "Current Reserve Amount")] == Decimal("-95.50")
    assert (facts.previous_reserve, facts.current_reserve) == (Decimal("120.00"), Decimal("-95.50"))
    assert s[("other-transaction", "other-transaction", "Storage Fee")] == Decimal("-14.37")
    assert s[("other-transaction", "other-transaction", "Subscription Fee")] == Decimal("-39.00")
    assert s[("ServiceFee", "Cost of Advertising", "TransactionTotalAmount")] < 0
    for row in rows_of(text):  # every single row, not just the sums
        kind = (row["transaction-type"], row["amount-type"], row["amount-description"])
        amount = Decimal(row["amount"].replace(",", "."))
        if kind[0] == "Order" and kind[1] == "ItemFees":
            assert amount < 0, row
        if kind[0] in ("Refund", "Chargeback Refund") and kind[1:] == ("ItemPrice", "Principal"):
            assert amount < 0 and row["adjustment-id"], row
    assert facts.chargeback_count == len(facts.chargeback_order_ids) == 3
    assert set(facts.chargeback_order_ids) <= set(facts.order_ids)
    assert 0 < facts.refund_count < facts.order_count == len(set(facts.order_ids))


def test_marketplaces_by_currency() -> None:
    def marketplaces(text: str) -> set[str]:
        return {r["marketplace-name"] for r in rows_of(text) if r["transaction-type"] == "Order"}

    eur, _ = settlement_text(spec("de", generated_orders=300))
    assert marketplaces(eur) == {"Amazon.de", "Amazon.fr", "Amazon.it", "Amazon.es", "Amazon.nl"}
    gbp, _ = settlement_text(spec("iso", generated_orders=100))
    assert marketplaces(gbp) == {"Amazon.co.uk"}
    usd, facts = settlement_text(spec("us", generated_orders=100))
    assert marketplaces(usd) == {"Amazon.com"}
    assert facts.sums[("Order", "ItemWithheldTax", "MarketplaceFacilitatorTax-Principal")] < 0
    assert not any(k[2].startswith("MarketplaceFacilitatorVAT") for k in facts.sums)
    fr_only, _ = settlement_text(spec("de", generated_orders=20, marketplaces=["Amazon.fr"]))
    assert marketplaces(fr_only) == {"Amazon.fr"}
    assert all(r["order-id"].startswith("4") for r in rows_of(fr_only) if r["transaction-type"] == "Order")


@pytest.mark.parametrize("target", [6, 7, 40, 1_000, 12_345])
def test_rows_target_gives_exactly_that_many_amount_rows(target: int) -> None:
    text, facts = settlement_text(spec("de", generated_orders=0, rows_target=target))
    assert facts.amount_rows == target == text.count("\n") - 2
    total, amounts, _, _ = own_parse(text)
    assert total == sum(amounts) == facts.total


def test_invalid_specs_are_refused() -> None:
    with pytest.raises(ValueError, match="rows_target"):
        spec(rows_target=3)  # combined with generated_orders
    with pytest.raises(ValueError, match="rows_target"):
        facts_of(spec(generated_orders=0, rows_target=4))  # the reserve and fee rows alone are 5
    with pytest.raises(ValueError, match="style"):
        spec(style="fr")
    with pytest.raises(ValueError, match="columns"):
        spec(columns=25)
    with pytest.raises(ValueError, match="marketplace"):
        spec(marketplaces=["Amazon.xx"])
    with pytest.raises(ValueError, match="end"):
        spec(end=START)
    with pytest.raises(ValueError, match="fulfillment"):
        OrderSpec(amazon_order_id="1", sku="S", principal=Decimal(1), posted=START, fulfillment="FBA")  # type: ignore[arg-type]


# --- damaged files -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["amount", "columns", "settlement_id", "date"])
@pytest.mark.parametrize("style", ["iso", "de", "us"])
def test_damaged_rows_are_rejected_at_their_line(style: str, how: str) -> None:
    text, facts = settlement_text(spec(style, columns=23 if style == "us" else 24))
    for line in (3, 4 + facts.amount_rows // 2, facts.lines):
        damaged = malformed(text, line, how)
        assert damaged != text and damaged.count("\n") == text.count("\n")
        with pytest.raises(SettlementParseError) as caught:
            read(damaged)
        assert caught.value.line == line, (how, line, caught.value)


@pytest.mark.parametrize("how", ["amount", "columns", "settlement_id", "date"])
def test_damaged_summary_row(how: str) -> None:
    text, _ = settlement_text(spec("de"))
    with pytest.raises(SettlementParseError) as caught:
        read(malformed(text, 2, how))
    # another settlement id on the summary is noticed on the first amount row, which no longer matches it
    assert caught.value.line == (3 if how == "settlement_id" else 2)


@pytest.mark.parametrize("crlf", [False, True])
@pytest.mark.parametrize("fraction", ["0", "0.1", "0.5", "0.93", "0.9999", "1"])
def test_truncated_download_is_rejected_at_the_cut_row(fraction: str, crlf: bool) -> None:
    text, _ = settlement_text(spec("de", crlf=crlf))
    cut = truncated(text, Decimal(fraction))
    assert text.startswith(cut) and len(cut) < len(text)
    assert cut.count("\n") >= 2 and not cut.endswith("\n")
    with pytest.raises(SettlementParseError) as caught:
        read(cut)
    assert caught.value.line == cut.count("\n") + 1
    assert "columns" in caught.value.reason


def test_malformed_refuses_what_it_cannot_do() -> None:
    text, _ = settlement_text(spec(generated_orders=1))
    with pytest.raises(ValueError):
        malformed(text, 1, "amount")  # the header
    with pytest.raises(ValueError):
        malformed(text, 3, "colour")


# --- size, memory, command line ----------------------------------------------------------------------------------


class NullText(io.TextIOBase):
    def write(self, s: str) -> int:
        return len(s)


def test_peak_memory_does_not_grow_with_the_row_count_tracemalloc() -> None:
    """tracemalloc slows this allocation-heavy code ~15×, so it compares 2k and 20k rows (20k vs 200k: below).

    The order ids kept in the facts are capped by `id_limit` (10k by default, ~0.7 MB); 100 here, so what is
    measured is the streaming itself."""
    peaks = []
    for rows in (2_000, 20_000):
        tracemalloc.start()
        try:
            write_settlement(NullText(), spec("de", generated_orders=0, rows_target=rows, id_limit=100))
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    # holding the rows would take > 3 MB more for 20k rows (about 170 bytes of text each)
    assert peaks[1] - peaks[0] < 500_000, peaks


@pytest.mark.skipif(sys.platform == "win32", reason="resource.getrusage")
def test_peak_memory_does_not_grow_with_the_row_count_200k() -> None:
    """Max RSS growth while writing 20k and 200k rows (child processes, so each starts from the same baseline)."""
    child = textwrap.dedent(
        """
        import io, resource, sys
        from datetime import UTC, datetime
        from simulators.spapi.settlement_files import SettlementSpec, write_settlement

        class Null(io.TextIOBase):
            def write(self, s):
                return len(s)

        spec = SettlementSpec(settlement_id="1", currency="EUR", start=datetime(2025, 6, 1, tzinfo=UTC),
                              end=datetime(2025, 6, 15, tzinfo=UTC), deposit=datetime(2025, 6, 17, tzinfo=UTC),
                              style="de", rows_target=int(sys.argv[1]), chargebacks=5)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        write_settlement(Null(), spec)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
        """
    )
    growth_kb = [
        int(subprocess.run([sys.executable, "-c", child, str(rows)], cwd=ROOT, capture_output=True, text=True,
                           check=True, timeout=60).stdout)
        for rows in (20_000, 200_000)
    ]  # fmt: skip
    # 200k rows held in memory would be > 30 MB of text alone
    assert growth_kb[1] - growth_kb[0] < 4_000, growth_kb


def test_command_line_writes_a_big_file_readable_by_the_reader(tmp_path: Path) -> None:
    out = tmp_path / "settlement.tsv"
    args = ["--rows", "5000", "--style", "de", "--currency", "EUR", "--out", str(out), "--seed", "3"]
    assert main([*args, "--encoding", "cp1252", "--crlf"]) == 0
    with out.open("rb") as raw:
        encoding = detect_encoding(raw)
    with out.open(encoding=encoding, newline="") as stream:
        reader = SettlementReader(stream)
        rows = sum(1 for _ in reader.rows())
    assert rows == 5000 and reader.summary.decimal_comma and reader.summary.currency == "EUR"
    assert out.read_bytes().count(b"\r\n") == 5002
    process = subprocess.run(
        [sys.executable, "-m", "simulators.spapi.settlement_files", *args[:-4], "--out", "-", "--seed", "3"],
        cwd=ROOT, capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    assert process.stdout.replace(b"\n", b"\r\n") == out.read_bytes()
    assert b"5000 amount rows" in process.stderr


def test_facts_are_plain_values() -> None:
    facts = facts_of(spec(generated_orders=3, id_limit=2))
    assert isinstance(facts, SettlementFacts)
    assert len(facts.order_ids) == 2 and facts.order_count == 3 and not facts.ids_complete
    assert all(isinstance(v, Decimal) and v.as_tuple().exponent == -2 for v in facts.sums.values())
    assert facts.summary["currency"] == "GBP" and facts.summary["total-amount"] == str(facts.total)
