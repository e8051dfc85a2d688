"""Completeness: shipped orders no settlement contains (one exception per account), and Amazon's own order report
against our orders (an order the simulator hides from the order searches is found and ingested, once)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from config.common.models import ExceptionItem
from orders.models import Order, OrderEvent, SellerAccount
from reconciliation.models import OrderReportCheck
from reconciliation.services.completeness import order_report_check, unsettled_orders_check
from simulators.spapi.control import SpApiSimulatorControl
from tests.factories import UK, SellerAccountFactory
from tests.reconciliation.files import amount_row, settlement_file
from tests.reconciliation.test_settlement_import import import_text
from tests.spapi_support import spapi_for

pytestmark = pytest.mark.django_db


def shipped(account: SellerAccount, order_id: str, days_ago: int) -> Order:
    order = Order.objects.create(
        channel=Order.Channel.AMAZON, external_id=order_id, seller_account=account, marketplace_id=UK,
        status="shipped", purchased_at=timezone.now() - timedelta(days=days_ago + 1), currency="GBP",
        total_amount=Decimal("10.00"),
    )  # fmt: skip
    event = OrderEvent.objects.create(order=order, kind="status_changed", to_status="shipped", actor="test")
    OrderEvent.objects.filter(pk=event.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return order


def test_shipped_orders_in_no_settlement_are_one_exception_per_account(settings: Any, account: SellerAccount) -> None:
    settings.SETTLEMENT_UNSETTLED_DAYS = 30
    other = SellerAccountFactory.create(name="Acme DE", selling_partner_id="A1ACMEDE000001")
    shipped(account, "202-6000000-0000001", 45)
    shipped(account, "202-6000000-0000002", 31)
    shipped(account, "202-6000000-0000003", 40)  # settled below
    shipped(account, "202-6000000-0000004", 5)  # too recent to worry about
    shipped(other, "302-6000000-0000001", 60)
    import_text(settlement_file([amount_row("Order", "202-6000000-0000003", "ItemPrice", "Principal", "10.00")]))

    summary = unsettled_orders_check()
    assert (summary.accounts, summary.orders) == (2, 3)
    mine = ExceptionItem.objects.get(kind="order_unsettled", status="open", reference=account.selling_partner_id)
    assert "2 order(s) shipped 30+ days ago in no settlement" in mine.summary
    assert "202-6000000-0000001" in mine.detail and "202-6000000-0000002" in mine.detail
    assert "202-6000000-0000003" not in mine.detail and "202-6000000-0000004" not in mine.detail
    assert ExceptionItem.objects.filter(kind="order_unsettled", status="open").count() == 2
    unsettled_orders_check()  # again: the same exceptions, counted
    mine.refresh_from_db()
    assert mine.occurrences == 2

    # Amazon settles them: the exception closes by itself.
    import_text(
        settlement_file(
            [
                amount_row("Order", "202-6000000-0000001", "ItemPrice", "Principal", "10.00", settlement_id="5000002"),
                amount_row("Order", "202-6000000-0000002", "ItemPrice", "Principal", "10.00", settlement_id="5000002"),
            ],
            settlement_id="5000002",
        )
    )
    unsettled_orders_check()
    mine.refresh_from_db()
    assert mine.status == "resolved"
    assert ExceptionItem.objects.filter(kind="order_unsettled", status="open").count() == 1  # the other account's


@pytest.fixture
def amazon(spapi_url: str, settings: Any, account: SellerAccount) -> Iterator[SpApiSimulatorControl]:
    with spapi_for(spapi_url, settings, account, rate_limits=False) as sim:
        yield sim


def test_an_order_hidden_from_the_order_search_but_in_amazons_report_is_found_and_ingested_once(
    amazon: SpApiSimulatorControl, account: SellerAccount, mapped_skus: list[str]
) -> None:
    day = timezone.now().date() - timedelta(days=1)
    stamp = datetime.combine(day, time(10), tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    seen, hidden = "202-7100000-0000001", "202-7100000-0000002"
    amazon.upsert_orders(
        seller=account.selling_partner_id,
        orders=[
            {
                "order": {
                    "AmazonOrderId": order_id,
                    "PurchaseDate": stamp,
                    "LastUpdateDate": stamp,
                    "OrderStatus": "Unshipped",
                    "FulfillmentChannel": "MFN",
                    "MarketplaceId": UK,
                },
                "items": [
                    {
                        "SellerSKU": "SKU-0001",
                        "QuantityOrdered": 1,
                        "ItemPrice": {"CurrencyCode": "GBP", "Amount": "19.99"},
                    }
                ],
                "address": {
                    "Name": "Jane Doe",
                    "AddressLine1": "1 High St",
                    "City": "Leeds",
                    "PostalCode": "LS1 1AA",
                    "CountryCode": "GB",
                },
            }
            for order_id in (seen, hidden)
        ],
    )
    amazon.hide_order(hidden)
    Order.objects.create(
        channel=Order.Channel.AMAZON, external_id=seen, seller_account=account, marketplace_id=UK, status="captured",
        purchased_at=timezone.now(), currency="GBP", total_amount=Decimal("19.99"),
    )  # fmt: skip

    check = order_report_check(account=account, marketplace_id=UK, day=day)
    assert check.state == "done", check.error
    assert check.amazon_orders == 2 and check.missing_ids == [hidden] and check.ingested == 1
    assert Order.objects.filter(external_id=hidden, seller_account=account).exists()
    assert amazon.calls()["getOrder2026"] == {"200": 1}
    # Once: the day is done, and a new comparison of the same report finds nothing missing.
    assert order_report_check(account=account, marketplace_id=UK, day=day).pk == check.pk
    OrderReportCheck.objects.all().delete()
    again = order_report_check(account=account, marketplace_id=UK, day=day)
    assert again.missing_ids == [] and again.ingested == 0
    assert amazon.calls()["getOrder2026"] == {"200": 1}
    assert not ExceptionItem.objects.filter(kind="order_missing").exists()


def test_the_simulators_order_report_lists_what_the_searches_hide(
    amazon: SpApiSimulatorControl, account: SellerAccount, tmp_path: Path
) -> None:
    """Without the orders app's refresh: the report side of the check (requested, made, read) on its own."""
    from connectors.amazon.reports import AmazonReportsClient

    day = date.today() - timedelta(days=1)
    stamp = datetime.combine(day, time(9), tzinfo=UTC)
    amazon.upsert_orders(
        seller=account.selling_partner_id,
        orders=[{"order": {"AmazonOrderId": "202-7200000-0000001", "PurchaseDate": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
                           "LastUpdateDate": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"), "OrderStatus": "Shipped",
                           "MarketplaceId": UK},
                 "items": [{"SellerSKU": "SKU-0001", "ItemPrice": {"CurrencyCode": "GBP", "Amount": "5.00"}}]}],
    )  # fmt: skip
    amazon.hide_order("202-7200000-0000001")  # out of getOrders and searchOrders (tests/simulators), not the report
    with AmazonReportsClient.for_account(account, marketplace_id=UK) as reports:
        created = reports.create_report(
            report_type="GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL", marketplace_ids=[UK],
            data_start_time=stamp - timedelta(hours=1), data_end_time=stamp + timedelta(hours=1),
        )  # fmt: skip
        report = reports.get_report(created.report_id)
        assert report.processing_status == "DONE" and report.report_document_id
        document = reports.download_report_document(report.report_document_id, dest_path=tmp_path / "orders.txt")
    header, row = document.path.read_text().splitlines()
    assert header.split("\t")[:5] == [
        "amazon-order-id", "merchant-order-id", "purchase-date", "last-updated-date", "order-status",
    ]  # fmt: skip
    cells = dict(zip(header.split("\t"), row.split("\t"), strict=True))
    assert cells["amazon-order-id"] == "202-7200000-0000001" and cells["item-price"] == "5.00"
    assert cells["order-status"] == "Shipped" and cells["sku"] == "SKU-0001"


def test_the_dashboard_counts_orders_found_missing_and_ingested(admin_client: Any, account: SellerAccount) -> None:
    yesterday = timezone.now().date() - timedelta(days=1)
    OrderReportCheck.objects.create(
        seller_account=account, marketplace_id=UK, day=yesterday, state="done", amazon_orders=57,
        missing_ids=["202-7300000-0000001", "202-7300000-0000002"], ingested=2,
    )  # fmt: skip
    page = admin_client.get("/admin/dashboard/").content.decode()
    assert "Order completeness" in page
    row = page.split(f"<td>{yesterday:%Y-%m-%d}</td>", 1)[1].split("</tr>", 1)[0]
    assert "Acme UK" in row and "<td>57</td>" in row and "<strong>2</strong>" in row and "<td>2</td>" in row
