"""Period-end accruals of shipped orders no settlement contains, at the Finances API's figures (the SP-API
simulator's listTransactions), reversed on the next period's first day; idempotent; an order that settles later
leaves nothing accrued."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from config.common.errors import ApplicationError
from orders.models import Order, OrderEvent, OrderLine, SellerAccount
from reconciliation.models import FinancesTransaction, JournalEntry, JournalLine
from reconciliation.services.accruals import period_accruals_run
from reconciliation.services.periods import accounting_period_close, accounting_period_for
from simulators.spapi.control import SpApiSimulatorControl
from tests.factories import UK
from tests.reconciliation.files import amount_row, settlement_file
from tests.reconciliation.test_settlement_import import import_text, journal_balances
from tests.spapi_support import spapi_for

pytestmark = pytest.mark.django_db

NOVEMBER = date(2026, 11, 1)
DEFERRED_ORDER = "202-4000000-0000001"  # DEFERRED in the Finances API, with breakdowns
NO_BREAKDOWN = "202-4000000-0000002"  # RELEASED, but Amazon sent no breakdown: the order's totals
UNKNOWN = "202-4000000-0000003"  # not in the Finances API at all: the order's totals
SETTLED = "202-4000000-0000004"  # in a settlement posted in November: nothing to accrue
OCTOBER = "202-4000000-0000005"  # shipped in October: not November's


@pytest.fixture
def amazon(spapi_url: str, settings: Any, account: SellerAccount) -> Iterator[SpApiSimulatorControl]:
    with spapi_for(spapi_url, settings, account, rate_limits=False) as sim:
        yield sim


def shipped_order(
    amazon: SpApiSimulatorControl, account: SellerAccount, order_id: str, shipped: datetime, price: str, tax: str
) -> Order:
    """The order at Amazon (the simulator) and in Ledgerline, shipped at `shipped` by Ledgerline's history."""
    stamp = shipped.strftime("%Y-%m-%dT%H:%M:%SZ")
    amazon.upsert_orders(seller=account.selling_partner_id, orders=[{
        "order": {"AmazonOrderId": order_id, "PurchaseDate": stamp, "LastUpdateDate": stamp, "OrderStatus": "Shipped",
                  "FulfillmentChannel": "MFN", "MarketplaceId": UK},
        "items": [{"SellerSKU": "TENT-2P-GRN", "QuantityOrdered": 1,
                   "ItemPrice": {"CurrencyCode": "GBP", "Amount": price},
                   "ItemTax": {"CurrencyCode": "GBP", "Amount": tax}}],
    }])  # fmt: skip
    order = Order.objects.create(
        channel=Order.Channel.AMAZON, external_id=order_id, seller_account=account, marketplace_id=UK,
        status="shipped", purchased_at=shipped, currency="GBP", total_amount=Decimal(price),
    )  # fmt: skip
    OrderLine.objects.create(
        order=order, external_id="1", seller_sku="TENT-2P-GRN", quantity_ordered=1, quantity_shipped=1,
        item_price=Decimal(price), item_tax=Decimal(tax),
    )  # fmt: skip
    event = OrderEvent.objects.create(
        order=order, kind=OrderEvent.Kind.STATUS_CHANGED, from_status="captured", to_status="shipped", actor="test"
    )
    OrderEvent.objects.filter(pk=event.pk).update(created_at=shipped)
    return order


@pytest.fixture
def november(amazon: SpApiSimulatorControl, account: SellerAccount) -> SellerAccount:
    seller = account.selling_partner_id
    day = datetime(2026, 11, 20, 12, tzinfo=UTC)
    shipped_order(amazon, account, DEFERRED_ORDER, day, "60.00", "10.00")
    shipped_order(amazon, account, NO_BREAKDOWN, day, "24.00", "4.00")
    shipped_order(amazon, account, UNKNOWN, datetime(2026, 11, 30, 23, 59, tzinfo=UTC), "12.00", "2.00")
    shipped_order(amazon, account, SETTLED, day, "30.00", "5.00")
    shipped_order(amazon, account, OCTOBER, datetime(2026, 10, 31, 22, tzinfo=UTC), "18.00", "3.00")
    amazon.add_order_transaction(seller, DEFERRED_ORDER, status="DEFERRED", transaction_id="T-DEFERRED-1")
    amazon.add_order_transaction(seller, NO_BREAKDOWN, status="RELEASED", breakdowns=False, transaction_id="T-REL-2")
    amazon.add_order_transaction(seller, SETTLED, status="RELEASED", transaction_id="T-REL-4")
    amazon.finances_settings(page_size=1)  # one transaction a page: the client follows nextToken
    r = amount_row
    import_text(settlement_file(
        [r("Order", SETTLED, "ItemPrice", "Principal", "30.00", settlement_id="8800001",
           posted="2026-11-21 10:00:00 UTC")],
        settlement_id="8800001",
        dates=("2026-11-15 00:00:00 UTC", "2026-11-29 00:00:00 UTC", "2026-12-01 00:00:00 UTC"),
    ))  # fmt: skip
    return account


def by_reference(entry: JournalEntry) -> dict[tuple[str, str], Decimal]:
    """(order id, GL code) → debit − credit."""
    sums: dict[tuple[str, str], Decimal] = {}
    for line in JournalLine.objects.filter(entry=entry).select_related("gl_account"):
        key = (line.reference, line.gl_account.code)
        sums[key] = sums.get(key, Decimal(0)) + line.debit - line.credit
    return sums


def test_deferred_orders_are_accrued_at_the_finances_api_figures_and_reversed_next_period(
    november: SellerAccount, amazon: SpApiSimulatorControl
) -> None:
    period = accounting_period_for(day=NOVEMBER)
    run = period_accruals_run(account=november, period=period, actor="test")
    assert (run.orders, run.from_finances, run.from_order_totals) == (3, 1, 2), str(run)
    assert amazon.calls()["listTransactions"]["200"] == 3  # three pages of one
    assert FinancesTransaction.objects.filter(seller_account=november).count() == 3

    accrual = JournalEntry.objects.get(kind="accrual", status="draft")
    reversal = accrual.reversal
    journal_balances(accrual)
    journal_balances(reversal)
    assert (accrual.date, accrual.period_start) == (date(2026, 11, 30), NOVEMBER)
    assert (reversal.date, reversal.period_start) == (date(2026, 12, 1), date(2026, 12, 1))
    sums = by_reference(accrual)
    # The simulator's DEFERRED transaction: 60.00 VAT-inclusive = 50.00 sales + 10.00 VAT, commission 15% = 9.00.
    assert sums[DEFERRED_ORDER, "4000"] == Decimal("-50.00")
    assert sums[DEFERRED_ORDER, "2200"] == Decimal("-10.00")
    assert sums[DEFERRED_ORDER, "5000"] == Decimal("9.00")
    assert sums[DEFERRED_ORDER, "1230"] == Decimal("51.00")  # deferred by Amazon
    # No breakdown / no transaction: the order's totals (sales = total − tax), and the line says so.
    assert sums[NO_BREAKDOWN, "4000"] == Decimal("-20.00") and sums[NO_BREAKDOWN, "2200"] == Decimal("-4.00")
    assert sums[NO_BREAKDOWN, "1220"] == Decimal("24.00")
    assert sums[UNKNOWN, "1220"] == Decimal("12.00")
    texts = dict(
        JournalLine.objects.filter(entry=accrual, gl_account__code="1220").values_list("reference", "description")
    )
    assert "no breakdown in the Finances API: the order's totals" in texts[NO_BREAKDOWN]
    assert "not in the Finances API: the order's totals" in texts[UNKNOWN]
    assert all(line.reference and line.reference in line.description for line in accrual.lines.all())
    assert {ref for ref, _ in sums} == {DEFERRED_ORDER, NO_BREAKDOWN, UNKNOWN}  # not SETTLED, not OCTOBER
    # The reversal mirrors every line.
    assert by_reference(reversal) == {key: -value for key, value in sums.items()}

    # Idempotent: the same figures again change nothing.
    again = period_accruals_run(account=november, period=period, actor="test")
    assert again.unchanged == 1 and not again.built and not again.voided
    assert JournalEntry.objects.filter(kind__in=["accrual", "reversal"]).count() == 2


def test_an_order_that_settles_later_leaves_nothing_accrued(november: SellerAccount) -> None:
    period = accounting_period_for(day=NOVEMBER)
    period_accruals_run(account=november, period=period, actor="test")
    # Amazon pays the deferred order in December's settlement.
    r = amount_row
    import_text(settlement_file(
        [r("Order", DEFERRED_ORDER, "ItemPrice", "Principal", "50.00", settlement_id="8800002",
           posted="2026-12-03 08:00:00 UTC"),
         r("Order", DEFERRED_ORDER, "ItemPrice", "Tax", "10.00", settlement_id="8800002",
           posted="2026-12-03 08:00:00 UTC"),
         r("Order", DEFERRED_ORDER, "ItemFees", "Commission", "-9.00", settlement_id="8800002",
           posted="2026-12-03 08:00:00 UTC")],
        settlement_id="8800002",
        dates=("2026-12-01 00:00:00 UTC", "2026-12-05 00:00:00 UTC", "2026-12-06 00:00:00 UTC"),
    ))  # fmt: skip
    # November's accrual still carries it (the settlement is December's): a re-run changes nothing ...
    assert period_accruals_run(account=november, period=period, actor="test").unchanged == 1
    # ... and once reversed on 1 December nothing of it is left accrued.
    accrued = Decimal(0)
    for line in JournalLine.objects.filter(reference=DEFERRED_ORDER, gl_account__code__in=["1220", "1230"]):
        accrued += line.debit - line.credit
    assert accrued == Decimal(0)
    # December's books have the sale once: the settlement credits it, the reversal takes the accrued one back.
    december = JournalEntry.objects.get(settlement__settlement_id="8800002")
    assert december.date == date(2026, 12, 6)
    settled = december.lines.get(gl_account__code="4000")
    reversed_sale = JournalLine.objects.get(entry__kind="reversal", reference=DEFERRED_ORDER, gl_account__code="4000")
    assert settled.credit == reversed_sale.debit == Decimal("50.00")


def test_a_settlement_imported_before_the_close_takes_the_order_out_of_the_accrual(november: SellerAccount) -> None:
    period = accounting_period_for(day=NOVEMBER)
    first = period_accruals_run(account=november, period=period, actor="test").built[0]
    r = amount_row
    import_text(settlement_file(
        [r("Order", NO_BREAKDOWN, "ItemPrice", "Principal", "24.00", settlement_id="8800003",
           posted="2026-11-29 10:00:00 UTC")],
        settlement_id="8800003",
        dates=("2026-11-16 00:00:00 UTC", "2026-11-30 00:00:00 UTC", "2026-12-02 00:00:00 UTC"),
    ))  # fmt: skip
    run = period_accruals_run(account=november, period=period, actor="test")
    assert run.voided == 2 and run.orders == 2
    first.refresh_from_db()
    assert first.status == "void" and "Replaced by the accrual run" in first.note
    live = JournalEntry.objects.get(kind="accrual", status="draft")
    assert NO_BREAKDOWN not in {ref for ref, _ in by_reference(live)}
    # A closed period's accruals do not change any more.
    accounting_period_close(period=period, actor="user:finance")
    with pytest.raises(ApplicationError, match="is closed"):
        period_accruals_run(account=november, period=period, actor="test")


def test_the_admin_shows_each_period_with_its_settlements_journals_accruals_and_exceptions(
    november: SellerAccount, admin_client: Any
) -> None:
    from django.urls import reverse

    from reconciliation.models import AccountingPeriod, Settlement
    from reconciliation.services.completeness import unsettled_orders_check
    from tests.reconciliation.test_periods import spanning

    period = accounting_period_for(day=NOVEMBER)
    period_accruals_run(account=november, period=period, actor="test")
    import_text(spanning("7700009"))  # March / April: two entries
    unsettled_orders_check(now=datetime(2027, 1, 15, tzinfo=UTC))  # November's shipments are 45+ days old by then
    page = admin_client.get(reverse("admin:reconciliation_accountingperiod_change", args=[period.pk])).content.decode()
    assert "8800001" in page  # the settlement with lines in November
    assert "Accrual (shipped, not yet settled)" in page and "2026-12-01" in page  # the accrual and its reversal's date
    assert "in no settlement" in page  # the open completeness exception
    listing = admin_client.get(reverse("admin:reconciliation_accountingperiod_changelist")).content.decode()
    assert "2026-11" in listing and "2026-03" in listing
    settlement = Settlement.objects.get(settlement_id="7700009")
    page = admin_client.get(reverse("admin:reconciliation_settlement_change", args=[settlement.pk])).content.decode()
    assert "Journal entries by accounting period" in page and "2026-03" in page and "2026-04" in page
    assert "110.79" in page  # the clearing shares' total: the payout
    entry = settlement.journals.order_by("period_start").first()
    assert entry is not None
    page = admin_client.get(reverse("admin:reconciliation_journalentry_change", args=[entry.pk])).content.decode()
    assert "this entry" in page and "2026-04 (2026-04-10)" in page
    assert AccountingPeriod.objects.filter(start=date(2026, 3, 1)).exists()


def test_the_api_lists_accruals_and_a_settlements_entries(november: SellerAccount, admin_client: Any) -> None:
    period_accruals_run(account=november, period=accounting_period_for(day=NOVEMBER), actor="test")
    body = admin_client.get("/api/v1/reconciliation/journal-entries/", {"kind": "accrual"}).json()
    [accrual] = body["results"]
    assert accrual["settlement_id"] is None and accrual["period_start"] == "2026-11-01"
    assert accrual["date"] == "2026-11-30" and accrual["kind"] == "accrual"
    reversal = admin_client.get("/api/v1/reconciliation/journal-entries/", {"kind": "reversal"}).json()["results"]
    assert reversal[0]["reverses"] == accrual["id"] and reversal[0]["date"] == "2026-12-01"
    [settlement] = admin_client.get("/api/v1/reconciliation/settlements/").json()["results"]
    assert settlement["journal_entry_ids"] == [settlement["journal_entry_id"]]
