"""Realistic settlement files from the generator: several marketplaces and currencies, refunds, chargebacks,
reserve, fees; every journal balances to the cent, every line is classified and mapped, and damaged files are
refused with their line number."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Count, Sum

from mappings.models import CurrencyRate
from reconciliation.models import Settlement, SettlementFile, SettlementLine
from reconciliation.services import settlement_file_import, settlement_file_store
from simulators.spapi.settlement_files import SettlementSpec, malformed, settlement_text, truncated

pytestmark = pytest.mark.django_db
START = datetime(2026, 10, 1, 7, 49, 55, tzinfo=UTC)


def spec(settlement_id: str, currency: str, style: str, **kwargs: Any) -> SettlementSpec:
    values: dict[str, Any] = {
        "settlement_id": settlement_id, "currency": currency, "style": style, "start": START,
        "end": START + timedelta(days=14), "deposit": START + timedelta(days=16), "generated_orders": 300,
        "seed": int(settlement_id), "refund_rate": Decimal("0.08"), "chargebacks": 3,
        "reserve": (Decimal("1520.00"), Decimal("-1349.95")), "service_fees": True,
        "fba_storage_fee": Decimal("-88.10"),
    }  # fmt: skip
    values.update(kwargs)
    return SettlementSpec(**values)


def load(text: str, encoding: str = "utf-8") -> SettlementFile:
    file, _ = settlement_file_store(data=io.BytesIO(text.encode(encoding)), name="report.txt", source="test")
    return settlement_file_import(file_id=file.pk)


@pytest.mark.parametrize(
    ("currency", "style", "encoding", "columns"),
    [("GBP", "iso", "utf-8", 24), ("EUR", "de", "cp1252", 24), ("USD", "us", "utf-8", 23)],
)
def test_settlement_imports_maps_every_line_and_balances(
    currency: str, style: str, encoding: str, columns: int
) -> None:
    CurrencyRate.objects.create(date=date(2026, 10, 1), currency="EUR", base_currency="GBP", rate="0.86731")
    CurrencyRate.objects.create(date=date(2026, 10, 1), currency="USD", base_currency="GBP", rate="0.78119")
    text, facts = settlement_text(spec("900001", currency, style, columns=columns))
    file = load(text, encoding)
    assert file.state == "imported", file.error
    settlement = Settlement.objects.get()
    assert settlement.lines_total == settlement.total_amount == facts.total
    assert settlement.line_count == facts.amount_rows and settlement.unmapped_count == 0
    # Every (transaction type, amount type, description) adds up to what the file says.
    sums = {
        (tt, at, ad): (total, n)
        for tt, at, ad, total, n in SettlementLine.objects.values_list(
            "transaction_type", "amount_type", "amount_description"
        ).annotate(total=Sum("amount"), n=Count("pk")).order_by()
    }  # fmt: skip
    assert sums == {key: (facts.sums[key], facts.counts[key]) for key in facts.sums}
    kinds = dict(SettlementLine.objects.values_list("kind").annotate(n=Count("pk")).order_by())
    assert kinds["order"] > 0 and kinds["refund"] > 0 and kinds["fee"] > 0 and kinds["transfer"] == 2
    # No orders were synced here: every order line is reported, none silently dropped.
    assert settlement.unmatched_count == kinds["order"] + kinds["refund"]
    entry = settlement.journals.get()
    lines = list(entry.lines.all())
    assert sum(line.debit for line in lines) == sum(line.credit for line in lines) == entry.total_debit
    assert sum(line.base_debit for line in lines) == sum(line.base_credit for line in lines)
    assert entry.rate == {"GBP": 1, "EUR": Decimal("0.86731"), "USD": Decimal("0.78119")}[currency]
    if currency == "EUR":
        marketplaces = {line.description.rsplit(" - ", 1)[-1] for line in lines if " - Amazon." in line.description}
        assert {"Amazon.de", "Amazon.fr", "Amazon.it"} <= marketplaces


@pytest.mark.parametrize("how", ["amount", "columns", "settlement_id", "date"])
def test_damaged_row_is_refused_at_its_line(how: str) -> None:
    text, _ = settlement_text(spec("900002", "GBP", "iso", generated_orders=40))
    file = load(malformed(text, 57, how))
    assert file.state == "rejected" and file.error_line == 57, file.error
    assert not Settlement.objects.exists() and not SettlementLine.objects.exists()


@pytest.mark.parametrize("fraction", [0.31, 0.5, 0.97])
def test_truncated_file_is_refused_and_keeps_nothing(fraction: float) -> None:
    text, _ = settlement_text(spec("900003", "EUR", "de", generated_orders=40))
    file = load(truncated(text, fraction))
    assert file.state == "rejected" and file.error_line and file.next_attempt_at is not None, file.error
    assert not Settlement.objects.exists() and not SettlementLine.objects.exists()
