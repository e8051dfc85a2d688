"""Every schedule the project sets up runs for real: `setup_schedules` creates them, and each one's task function is
called with the schedule's own arguments on PostgreSQL, against the SP-API and Opayo simulators, with data that
gives it work to do. A schedule with no scenario here fails `test_every_schedule_has_a_scenario`."""

from __future__ import annotations

import ast
import io
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.models import Schedule

from config.common.models import ExceptionItem, OutboundRequest
from fulfillment.models import FbaInventory, FulfillmentOrder, ListingSync
from mappings.models import MappingSuggestion, SkuMapping
from orders.models import Order, OrderEvent, SellerAccount, SellerMarketplace
from orders.services.schedules import POLL_PREFIX
from payments.models import PaymentTransaction
from payments.services import ledger, payment_capture
from reconciliation.models import JournalEntry, Settlement, SettlementFile
from simulators.spapi.control import SpApiSimulatorControl
from simulators.spapi.settlement_files import settlement_text
from tests.factories import UK
from tests.fulfillment.conftest import erp_api
from tests.payments import test_opayo_flows as flows
from tests.payments.conftest import api, web_order, web_skus  # noqa: F401
from tests.reconciliation.test_settlement_reports import spec
from tests.spapi_support import spapi_for

opayo, opayo_url = flows.opayo, flows.opayo_url
pytestmark = pytest.mark.django_db


@dataclass
class World:
    account: SellerAccount
    amazon: SpApiSimulatorControl
    opayo: flows.Opayo
    capture: Any  # django_capture_on_commit_callbacks
    web_order: dict[str, Any]
    settings: Any
    monkeypatch: pytest.MonkeyPatch


def _amazon_order(world: World, order_id: str, sku: str) -> None:
    stamp = (datetime.now(UTC) - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    world.amazon.upsert_orders(
        seller=world.account.selling_partner_id,
        orders=[{
            "order": {"AmazonOrderId": order_id, "PurchaseDate": stamp, "LastUpdateDate": stamp,
                      "OrderStatus": "Unshipped", "FulfillmentChannel": "MFN", "MarketplaceId": UK,
                      "OrderTotal": {"CurrencyCode": "GBP", "Amount": "23.98"}},
            "items": [{"ASIN": "B000000001", "OrderItemId": "77", "SellerSKU": sku, "QuantityOrdered": 2,
                       "QuantityShipped": 0, "ItemPrice": {"CurrencyCode": "GBP", "Amount": "23.98"}}],
            "address": {"Name": "Jane Doe", "AddressLine1": "1 High St", "City": "Leeds", "PostalCode": "LS1 1AA",
                        "CountryCode": "GB"},
        }],
    )  # fmt: skip


def _web_order(world: World) -> Order:
    return Order.objects.get(pk=world.web_order["id"])


def _captured_without_its_trigger(world: World) -> Order:
    """A paid web order whose on-commit trigger (the FBA request) was lost: only the sweep can pick it up."""
    order = _web_order(world)
    payment = flows.register(order, world.opayo, world.capture)
    with world.monkeypatch.context() as patch, world.capture(execute=True):
        patch.setattr(ledger, "_async", lambda func, *args: None)  # the worker died before running it
        payment_capture(payment=payment, actor="api:erp")
    order.refresh_from_db()
    assert order.status == "captured"
    return order


def _mfn_listing(world: World, sku: str = "MFN-001") -> ListingSync:
    world.amazon.set_listings(world.account.selling_partner_id, UK, {sku: 0})
    SkuMapping.objects.create(
        seller_account=world.account, seller_sku=sku, erp_item_id=f"IT-{sku}", fulfillment_channel="MFN"
    )
    level = {"item_id": f"IT-{sku}", "site": "MAIN", "on_hand": 9, "allocated": 0,
             "as_of": timezone.now().isoformat(), "version": 1}  # fmt: skip
    response = erp_api().post("/api/v1/erp/inventory/", {"levels": [level]}, format="json")
    assert response.status_code == 200, response.content
    return ListingSync.objects.get(seller_sku=sku)


# --- one scenario per schedule: prepare work, then check what the task's run did ---------------------------------
# prepare(world) returns a check(result) that asserts the task did that work.
Scenario = Callable[[World], Callable[[Any], None]]


def poll_account(world: World) -> Callable[[Any], None]:
    SkuMapping.objects.create(seller_sku="SKU-0001", erp_item_id="ITEM-0001")
    _amazon_order(world, "202-7000000-0000001", "SKU-0001")

    def check(result: Any) -> None:
        assert any("complete" in line for line in result), result
        assert Order.objects.filter(external_id="202-7000000-0000001").exists()

    return check


def outbound_sweep(world: World) -> Callable[[Any], None]:
    payment = flows.register(_web_order(world), world.opayo, world.capture)
    payment_capture(payment=payment, actor="api:erp")  # its on-commit send never runs: the sweep sends it
    release = OutboundRequest.objects.get(operation="opayo.release")
    assert release.status == "pending"

    def check(result: Any) -> None:
        assert "1 sent" in result, result
        release.refresh_from_db()
        assert release.status == "succeeded"

    return check


def worker_heartbeat(world: World) -> Callable[[Any], None]:
    """Does nothing itself: the cluster's acknowledgement of it is the heartbeat (tests/test_worker_health.py)."""

    def check(result: Any) -> None:
        assert result == "beat", result

    return check


def payments_poll(world: World) -> Callable[[Any], None]:
    payment = flows.register(_web_order(world), world.opayo, world.capture, card="challenge", kind="Payment")
    tx = payment.transactions.get()
    assert tx.state == PaymentTransaction.State.REQUIRES_ACTION
    PaymentTransaction.objects.filter(pk=tx.pk).update(next_poll_at=timezone.now() - timedelta(minutes=1))

    def check(result: Any) -> None:
        assert result.startswith("1 transaction(s) re-read"), result

    return check


def opayo_batches(world: World) -> Callable[[Any], None]:
    payment = flows.register(_web_order(world), world.opayo, world.capture, kind="Payment")
    assert payment.status == "captured"
    # Today's batch, completed now (Opayo completes a day's batch after midnight; the task looks up to today).
    world.opayo.control("POST", "/_sim/close-day", {"completed": timezone.now().isoformat()})

    def check(result: Any) -> None:
        assert result.startswith("1 batch(es) listed (1 new), 1 read") and "1 matched" in result, result

    return check


def fulfillment_sweep(world: World) -> Callable[[Any], None]:
    order = _captured_without_its_trigger(world)

    def check(result: Any) -> None:
        assert result.startswith("1 fulfilment request(s) made"), result
        assert FulfillmentOrder.objects.filter(order=order).exists()

    return check


def inventory_sweep(world: World) -> Callable[[Any], None]:
    with world.capture(execute=True):
        sync = _mfn_listing(world)
    # The push failed for good (e.g. Amazon was down past the retries): the listing waits for the sweep.
    OutboundRequest.objects.filter(operation="amazon.listing_quantity").update(status="failed")
    ListingSync.objects.filter(pk=sync.pk).update(status=ListingSync.Status.PENDING, pushed_generation=0)
    world.amazon.set_listings(world.account.selling_partner_id, UK, {"MFN-001": 0})

    def check(result: Any) -> None:
        assert result == "1 listing(s) scheduled", result
        assert world.amazon.listings(world.account.selling_partner_id, UK)["MFN-001"] == 9
        assert ListingSync.objects.get().status == ListingSync.Status.IN_SYNC

    return check


def inventory_check(world: World) -> Callable[[Any], None]:
    with world.capture(execute=True):
        _mfn_listing(world)

    def check(result: Any) -> None:
        assert result == "1 listing(s) read back", result
        assert ListingSync.objects.get().amazon_quantity == 9

    return check


def fba_inventory(world: World) -> Callable[[Any], None]:
    SkuMapping.objects.create(
        seller_account=world.account, seller_sku="FBA-BOOT", erp_item_id="BTS-42", fulfillment_channel="AFN"
    )
    world.amazon.set_fba_inventory(world.account.selling_partner_id, "FBA-BOOT", 12)

    def check(result: Any) -> None:
        assert result.endswith(": 1"), result
        assert FbaInventory.objects.get(seller_sku="FBA-BOOT").fulfillable == 12

    return check


def settlement_reports(world: World) -> Callable[[Any], None]:
    text, _ = settlement_text(spec("71111"))
    world.amazon.add_settlement_report(world.account.selling_partner_id, text)

    def check(result: Any) -> None:
        assert "1 imported, 0 rejected" in result, result
        assert Settlement.objects.filter(settlement_id="71111").exists()

    return check


def settlement_retry(world: World) -> Callable[[Any], None]:
    from reconciliation.services.reports import settlement_reports_fetch

    text, _ = settlement_text(spec("72222"))
    world.amazon.add_settlement_report(world.account.selling_partner_id, text, gzip=False)
    world.amazon.add_fault(operation="reportDocumentDownload", kind="truncate", times=1)
    assert settlement_reports_fetch(account=world.account).rejected
    SettlementFile.objects.update(next_attempt_at=timezone.now() - timedelta(minutes=1))

    def check(result: Any) -> None:
        assert result.startswith("1 file(s) retried: imported"), result

    return check


def anomalies(world: World) -> Callable[[Any], None]:
    SkuMapping.objects.create(seller_sku="SKU-0001", erp_item_id="ITEM-0001")
    _amazon_order(world, "202-7000000-0000002", "SKU-0001")
    call_command("poll_orders", ignore_backoff=True, stdout=io.StringIO())

    def check(result: Any) -> None:
        assert result.endswith("; 1 group(s) with too little history"), result  # the order's SKU, seen once

    return check


def suggestions(world: World) -> Callable[[Any], None]:
    SkuMapping.objects.create(seller_sku="TENT-2P-GRN", erp_item_id="TNT-0002-GR", description="Two-person tent")
    _amazon_order(world, "202-7000000-0000003", "TENT-2P-GRN-UK")  # unknown SKU: the order is held
    call_command("poll_orders", ignore_backoff=True, stdout=io.StringIO())

    def check(result: Any) -> None:
        assert MappingSuggestion.objects.exists(), result

    return check


def lags_check(world: World) -> Callable[[Any], None]:
    """An order we shipped that Amazon has shown as Unshipped for longer than ORDER_CHANNEL_LAG_HOURS."""
    SkuMapping.objects.create(seller_sku="SKU-0001", erp_item_id="ITEM-0001")
    _amazon_order(world, "202-7000000-0000004", "SKU-0001")
    call_command("poll_orders", ignore_backoff=True, stdout=io.StringIO())
    order = Order.objects.get(external_id="202-7000000-0000004")
    since = timezone.now() - timedelta(hours=world.settings.ORDER_CHANNEL_LAG_HOURS + 1)
    Order.objects.filter(pk=order.pk).update(status="shipped", channel_lag_since=since)

    def check(result: Any) -> None:
        assert result == 1
        assert ExceptionItem.objects.filter(kind="channel_lag", reference=order.external_id, status="open").exists()

    return check


def _shipped_order(world: World, order_id: str, at: datetime) -> Order:
    order = Order.objects.create(
        channel=Order.Channel.AMAZON, external_id=order_id, seller_account=world.account, marketplace_id=UK,
        status="shipped", purchased_at=at, currency="GBP", total_amount=Decimal("23.98"),
    )  # fmt: skip
    event = OrderEvent.objects.create(order=order, kind="status_changed", to_status="shipped", actor="test")
    OrderEvent.objects.filter(pk=event.pk).update(created_at=at)
    return order


def accruals(world: World) -> Callable[[Any], None]:
    """An order shipped last month that no settlement contains: accrued at its totals (not in the Finances API)."""
    last_month = timezone.now().replace(day=1) - timedelta(days=5)
    _shipped_order(world, "202-7000000-0000005", last_month)

    def check(result: Any) -> None:
        assert "1 order(s) accrued (0 at Finances API figures, 1 at order totals); 2 entr" in result, result
        assert JournalEntry.objects.filter(kind="accrual").count() == 1

    return check


def completeness(world: World) -> Callable[[Any], None]:
    """A shipped order older than SETTLEMENT_UNSETTLED_DAYS in no settlement; yesterday's order report compared."""
    _shipped_order(world, "202-7000000-0000006", timezone.now() - timedelta(days=45))

    def check(result: Any) -> None:
        assert result.startswith("1 shipped order(s) in no settlement across 1 account(s)"), result
        assert "1 order report check(s): 0 missing, 0 ingested, 0 waiting" in result, result
        assert ExceptionItem.objects.filter(kind="order_unsettled", status="open").count() == 1

    return check


def bank_deposits(world: World) -> Callable[[Any], None]:
    """A deposit booked longer ago than BANK_UNMATCHED_DAYS that pays nothing we know: an exception, with why."""
    from mappings.models import GlAccount
    from reconciliation.models import BankAccount, BankStatementLine
    from reconciliation.services.bank_statements import bank_statement_import, bank_statement_store
    from tests.reconciliation.bank_files import IBAN, Tx, camt053

    BankAccount.objects.create(
        name="Bank", account_id=IBAN, currency="GBP", gl_account=GlAccount.objects.get(code="1200")
    )
    booked = timezone.localdate() - timedelta(days=world.settings.BANK_UNMATCHED_DAYS + 1)
    file, _ = bank_statement_store(
        data=camt053([Tx("42.00", booked, "TRANSFER", bank_ref="S-1")]), name="s.xml", source="t"
    )
    bank_statement_import(file_id=file.pk)

    def check(result: Any) -> None:
        assert result == "1 exception, 1 unmatched", result
        assert BankStatementLine.objects.get().status == "exception"
        assert ExceptionItem.objects.filter(kind="bank_deposit", reference="S-1", status="open").exists()

    return check


# Keyed by schedule name; per-account schedules by their name's prefix.
SCENARIOS: dict[str, Scenario] = {
    POLL_PREFIX: poll_account,
    "common.outbound_sweep": outbound_sweep,
    "common.worker_heartbeat": worker_heartbeat,
    "payments.poll": payments_poll,
    "payments.opayo_batches": opayo_batches,
    "fulfillment.sweep": fulfillment_sweep,
    "fulfillment.inventory_sweep": inventory_sweep,
    "fulfillment.inventory_check": inventory_check,
    "fulfillment.fba_inventory": fba_inventory,
    "reconciliation.settlement_reports": settlement_reports,
    "reconciliation.settlement_retry": settlement_retry,
    "reconciliation.anomalies": anomalies,
    "reconciliation.bank_deposits": bank_deposits,
    "mappings.suggestions": suggestions,
    "orders.lags_check": lags_check,
    "reconciliation.accruals": accruals,
    "reconciliation.completeness": completeness,
}


def _scenario_key(name: str) -> str:
    return POLL_PREFIX if name.startswith(POLL_PREFIX) else name


@pytest.fixture
def world(
    spapi_url: str,
    settings: Any,
    account: SellerAccount,
    opayo: flows.Opayo,
    web_order: dict[str, Any],  # noqa: F811 (the fixture imported above)
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[World]:
    with spapi_for(spapi_url, settings, account, rate_limits=False) as amazon:
        SellerMarketplace.objects.filter(account=account, marketplace_id=UK).update(mcf_enabled=True)
        SkuMapping.objects.create(seller_account=account, seller_sku="FBA-TENT", erp_item_id="TNT-0002")
        SkuMapping.objects.create(seller_account=account, seller_sku="FBA-MUG", erp_item_id="MUG-0001")
        yield World(account, amazon, opayo, django_capture_on_commit_callbacks, web_order, settings, monkeypatch)


def test_every_schedule_has_a_scenario(account: SellerAccount) -> None:
    call_command("setup_schedules", stdout=io.StringIO())
    names = list(Schedule.objects.values_list("name", flat=True))
    assert f"{POLL_PREFIX}{account.pk}" in names
    missing = sorted(name for name in names if _scenario_key(name) not in SCENARIOS)
    assert not missing, f"schedules without a scenario in tests/test_schedules.py: {missing}"
    stale = sorted(set(SCENARIOS) - {_scenario_key(name) for name in names})
    assert not stale, f"scenarios for schedules that no longer exist: {stale}"


@pytest.mark.parametrize("key", sorted(SCENARIOS))
def test_schedule_runs(key: str, world: World, caplog: pytest.LogCaptureFixture) -> None:
    call_command("setup_schedules", stdout=io.StringIO())
    [schedule] = [s for s in Schedule.objects.all() if _scenario_key(s.name) == key]
    check = SCENARIOS[key](world)
    func = import_string(schedule.func)
    args = ast.literal_eval(schedule.args) if schedule.args else ()
    kwargs = ast.literal_eval(schedule.kwargs) if schedule.kwargs else {}
    caplog.clear()
    with caplog.at_level(logging.WARNING), world.capture(execute=True):
        result = func(*args, **kwargs)  # as django-q2 calls it
    check(result)
    # Warnings mean a swallowed failure (tasks log a provider error and go on); an exception-queue item opened
    # for the data (e.g. settlement lines for orders we never saw) or an alert raised are outcomes, not failures.
    ours = [
        r for r in caplog.records
        if not r.name.startswith(("simulators", "uvicorn", "httpx"))
        and not r.getMessage().startswith(("exception opened", "ALERT "))
    ]  # fmt: skip
    assert not ours, [f"{r.name}: {r.getMessage()}" for r in ours]
