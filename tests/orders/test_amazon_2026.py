"""Orders 2026-01-01 specifics end to end against the SP-API simulator: targeted re-reads, stored v0 snapshots after
the switch, packages Amazon reports, the operator's refresh, and progress under partial faults."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from config.common.models import ExceptionItem
from fulfillment.models import Shipment
from orders.models import AmazonOrderSnapshot, Order, OrderEvent, SellerAccount
from orders.services import amazon_orders_refresh, amazon_orders_sync, amazon_snapshots_store
from simulators.spapi.control import SpApiSimulatorControl
from tests.amazon_payloads import amazon_item, amazon_order, full_address, order_2026
from tests.factories import UK
from tests.spapi_support import spapi_for


@pytest.fixture
def amazon(spapi_url: str, settings: Any, account: SellerAccount, mapped_skus: list[str]) -> Iterator[Any]:
    settings.SP_API_TIMEOUT_SECONDS = 2.0
    with spapi_for(spapi_url, settings, account, rate_limits=False) as sim:
        yield sim


SEED = 3


def stamp(minutes_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def put(sim: SpApiSimulatorControl, account: SellerAccount, order_id: str, **fields: Any) -> None:
    """One merchant-fulfilled order at Amazon, as v0 data (the simulator serves both APIs from it)."""
    when = fields.pop("when", stamp(30))
    shipped = fields.pop("shipped", 0)
    order = {"AmazonOrderId": order_id, "PurchaseDate": when, "LastUpdateDate": when, "OrderStatus": "Unshipped",
             "FulfillmentChannel": "MFN", "MarketplaceId": UK, "OrderTotal": {"CurrencyCode": "GBP", "Amount": "20.00"},
             **fields}  # fmt: skip
    items = [{"ASIN": "B000000001", "OrderItemId": "91", "SellerSKU": "SKU-0001", "QuantityOrdered": 2,
              "QuantityShipped": shipped, "ItemPrice": {"CurrencyCode": "GBP", "Amount": "20.00"}}]  # fmt: skip
    address = {"Name": "Jane Doe", "AddressLine1": "1 High St", "City": "Leeds", "PostalCode": "LS1 1AA",
               "CountryCode": "GB"}  # fmt: skip
    sim.upsert_orders(seller=account.selling_partner_id, orders=[{"order": order, "items": items, "address": address}])


def sync(account: SellerAccount) -> Any:
    return amazon_orders_sync(account=account, marketplace_id=UK, ignore_backoff=True)


def test_packages_amazon_reports_become_shipments_once(amazon: SpApiSimulatorControl, account: SellerAccount) -> None:
    """An order shipped outside Ledgerline (Amazon's labels, Seller Central): Amazon's package is the shipment."""
    put(amazon, account, "202-0000000-0000001", OrderStatus="Shipped", shipped=2)
    first = sync(account)
    order = Order.objects.get()
    shipment = Shipment.objects.get()
    assert first.api_calls == {"searchOrders": 1} and order.status == "shipped"
    assert (shipment.source, shipment.status, shipment.carrier) == ("amazon", "shipped", "Royal Mail")
    assert shipment.tracking_number.startswith("SIMGB") and shipment.lines.get().quantity == 2
    assert order.events.filter(kind=OrderEvent.Kind.NOTE, message__contains="Shipped outside Ledgerline").exists()

    amazon.patch_order("202-0000000-0000001", LastUpdateDate=stamp(10))  # Amazon touches it again
    assert sync(account).stats.updated == 1
    assert Shipment.objects.count() == 1  # the same package is the same shipment


def test_an_order_the_page_could_not_describe_is_read_again(
    amazon: SpApiSimulatorControl, account: SellerAccount
) -> None:
    """A page entry without what we asked for (no fulfillment, no items) is stored, then read whole with getOrder."""
    put(amazon, account, "202-0000000-0000002")
    partial = order_2026(amazon_order("202-0000000-0000002", last_update=stamp(30)), [amazon_item()], full_address())
    partial.pop("fulfillment")
    [snapshot] = amazon_snapshots_store(account=account, marketplace_id=UK, raw_orders=[partial])
    assert snapshot.state == AmazonOrderSnapshot.State.RECEIVED

    result = sync(account)
    assert result.api_calls == {"getOrder": 1, "searchOrders": 1}, result.summary()
    order = Order.objects.get()
    assert order.status == "authorised" and order.lines.get().quantity_ordered == 2
    assert AmazonOrderSnapshot.objects.get().state == AmazonOrderSnapshot.State.PROCESSED


def test_a_v0_snapshot_stored_before_the_switch_still_processes(
    amazon: SpApiSimulatorControl, account: SellerAccount
) -> None:
    """Snapshots stored by the v0 poller: with items they process as v0 (reprocess too); without items (their
    getOrderItems never ran) they are read whole with getOrder 2026-01-01. Then 2026 pages update the same order."""
    with_items = AmazonOrderSnapshot.objects.create(
        account=account, marketplace_id=UK, amazon_order_id="202-0000000-0000003", api_version="v0",
        last_update_date=datetime(2026, 11, 1, 10, tzinfo=UTC), order_payload=amazon_order("202-0000000-0000003"),
        items_payload=[amazon_item(item_id="91")], address_payload=full_address(),
        state=AmazonOrderSnapshot.State.FETCHED,
    )  # fmt: skip
    put(amazon, account, "202-0000000-0000004", when=stamp(60 * 24 * 40))  # outside the first window
    AmazonOrderSnapshot.objects.create(
        account=account, marketplace_id=UK, amazon_order_id="202-0000000-0000004", api_version="v0",
        order_payload=amazon_order("202-0000000-0000004"), state=AmazonOrderSnapshot.State.RECEIVED,
    )  # fmt: skip

    result = sync(account)
    assert result.api_calls == {"getOrder": 1, "searchOrders": 1}, result.summary()
    assert sorted(Order.objects.values_list("external_id", "source_status")) == [
        ("202-0000000-0000003", "Unshipped"), ("202-0000000-0000004", "UNSHIPPED"),
    ]  # fmt: skip
    assert AmazonOrderSnapshot.objects.get(amazon_order_id="202-0000000-0000004").api_version == "2026-01-01"

    from orders.services import amazon_snapshot_reprocess

    stats = amazon_snapshot_reprocess(snapshot=with_items, actor="user:ops")  # a v0 snapshot reprocessed
    assert stats.failed == 0 and with_items.api_version == "v0"

    put(amazon, account, "202-0000000-0000003", when=stamp(8), OrderStatus="Shipped", shipped=2)
    sync(account)
    order = Order.objects.get(external_id="202-0000000-0000003")
    assert order.status == "shipped" and order.lines.count() == 1  # the same line (same orderItemId), updated
    assert Order.objects.count() == 2


def test_refresh_from_amazon_reads_named_orders(amazon: SpApiSimulatorControl, account: SellerAccount) -> None:
    """The operator's "Refresh from Amazon" (and the completeness check): getOrder for named orders, applied even if
    Amazon's last-updated time did not move; an order Amazon does not have is said so."""
    amazon.add_seller(
        selling_partner_id=account.selling_partner_id, refresh_token=account.refresh_token,
        client_id=account.lwa_client_id, client_secret=account.lwa_client_secret, marketplace_ids=[UK],
        restricted_roles=[],
    )  # fmt: skip
    put(amazon, account, "202-0000000-0000005", when=stamp(60 * 24 * 60))
    first = amazon_orders_refresh(
        account=account, marketplace_id=UK, amazon_order_ids=["202-0000000-0000005", "202-9999999-9999999"]
    )
    order = Order.objects.get()
    assert first.not_found == ["202-9999999-9999999"] and first.stats.created == 1, first.summary()
    assert order.hold_code == "erp_data"  # no role: no ship-to

    amazon.add_seller(
        selling_partner_id=account.selling_partner_id, refresh_token=account.refresh_token,
        client_id=account.lwa_client_id, client_secret=account.lwa_client_secret, marketplace_ids=[UK],
    )  # fmt: skip  # the role is granted; the order itself did not change
    second = amazon_orders_refresh(account=account, marketplace_id=UK, amazon_order_ids=["202-0000000-0000005"])
    order.refresh_from_db()
    assert second.api_calls == {"getOrder": 1} and order.hold_code == "" and order.addresses.get().is_complete
    assert ExceptionItem.objects.get().status == ExceptionItem.Status.RESOLVED
    assert Order.objects.count() == 1


def test_partial_faults_delay_only_what_they_carry(amazon: SpApiSimulatorControl, account: SellerAccount) -> None:
    """30 % of searchOrders answers fail (5xx): each page is asked again, every order arrives once, in few cycles."""
    amazon.generate(seller=account.selling_partner_id, marketplace_id=UK, count=300, skus=["SKU-0001"], seed=11)
    amazon.settings(rng_seed=SEED)
    amazon.add_fault(operation="searchOrders", kind="error", status=503, probability=0.3)
    outcomes = []
    for _ in range(5):
        outcomes.append(sync(account).outcome)
        if outcomes[-1] == "complete":
            break
    assert outcomes[-1] == "complete", outcomes
    assert Order.objects.count() == 300 and OrderEvent.objects.filter(kind="created").count() == 300
    assert amazon.calls()["searchOrders"].get("503", 0) > 0
