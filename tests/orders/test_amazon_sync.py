"""Polling cycles (searchOrders, Orders 2026-01-01) against the SP-API simulator (a real HTTP server) through the real
client."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from sp_api.auth import access_token_client

from config.common.models import ExceptionItem
from orders.models import AmazonOrderSnapshot, Order, OrderEvent, OrderLine, SellerAccount, SyncCursor
from orders.services import amazon_orders_sync
from simulators.common import running_server
from simulators.spapi.app import create_app
from simulators.spapi.control import SpApiSimulatorControl
from tests.factories import UK, SellerAccountFactory, SkuMappingFactory


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def register(sim: SpApiSimulatorControl, account: SellerAccount) -> None:
    sim.add_seller(
        selling_partner_id=account.selling_partner_id,
        refresh_token=account.refresh_token,
        client_id=account.lwa_client_id,
        client_secret=account.lwa_client_secret,
        marketplace_ids=[UK],
    )


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    with running_server(create_app()) as url:
        yield url


@pytest.fixture
def sim(sim_url: str, settings: Any) -> Iterator[SpApiSimulatorControl]:
    settings.SP_API_ENDPOINT = sim_url
    settings.SP_API_LWA_ENDPOINT = sim_url
    settings.SP_API_TIMEOUT_SECONDS = 2.0
    access_token_client.cache.clear()
    sim = SpApiSimulatorControl(sim_url)
    sim.reset()
    sim.set_rate_limiting(False)  # tests about throttling switch Amazon's quotas back on
    yield sim
    sim.close()


@pytest.fixture
def seller(sim: SpApiSimulatorControl, account: SellerAccount, mapped_skus: list[str]) -> SellerAccount:
    register(sim, account)
    return account


def seed(
    sim: SpApiSimulatorControl, account: SellerAccount, count: int, *, minutes_ago: int = 30, sku: str = "SKU-0001"
) -> list[str]:
    base = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    ids = [f"202-{n:07d}-{n:07d}" for n in range(1, count + 1)]
    sim.upsert_orders(
        seller=account.selling_partner_id,
        orders=[
            {
                "order": {
                    "AmazonOrderId": order_id,
                    "PurchaseDate": iso(base + timedelta(seconds=n)),
                    "LastUpdateDate": iso(base + timedelta(seconds=n)),
                    "OrderStatus": "Unshipped",
                    "FulfillmentChannel": "MFN",
                    "MarketplaceId": UK,
                    "OrderTotal": {"CurrencyCode": "GBP", "Amount": "10.00"},
                },
                "items": [
                    {
                        "ASIN": "B000000001",
                        "OrderItemId": f"{n:014d}",
                        "SellerSKU": sku,
                        "QuantityOrdered": 1,
                        "QuantityShipped": 0,
                        "ItemPrice": {"CurrencyCode": "GBP", "Amount": "10.00"},
                    }
                ],
                "address": {
                    "Name": "Jane Doe",
                    "AddressLine1": "1 High St",
                    "City": "Leeds",
                    "PostalCode": "ls11aa",
                    "CountryCode": "GB",
                },
            }
            for n, order_id in enumerate(ids)
        ],
    )
    return ids


def sync(account: SellerAccount, **kwargs: Any) -> Any:
    kwargs.setdefault("ignore_backoff", True)
    return amazon_orders_sync(account=account, marketplace_id=UK, **kwargs)


def test_paginates_all_pages_and_completes_the_window(sim: SpApiSimulatorControl, seller: SellerAccount) -> None:
    seed(sim, seller, 250)
    result = sync(seller)

    assert result.outcome == "complete", result.summary()
    assert result.pages == 3 and result.orders_seen == 250 and result.stats.created == 250
    assert Order.objects.count() == 250 and OrderLine.objects.count() == 250
    # One call per page of 100, with items, ship-to and money inside: ceil(N / 100), nothing per order.
    assert result.api_calls == {"searchOrders": 3}
    assert set(sim.calls()) == {"lwaToken", "searchOrders"}  # no v0 read
    cursor = SyncCursor.objects.get()
    assert cursor.synced_through is not None and cursor.window_end is None and cursor.next_token == ""
    order = Order.objects.order_by("pk").first()
    assert order is not None and order.addresses.get().postal_code == "LS1 1AA"
    assert order.total_amount == Decimal("10.00") and order.fulfillment_channel == "MFN"
    assert order.amazon_snapshot.api_version == "2026-01-01"


def test_next_cycle_overlaps_but_changes_nothing_for_unchanged_orders(
    sim: SpApiSimulatorControl, seller: SellerAccount
) -> None:
    seed(sim, seller, 30, minutes_ago=6)
    first = sync(seller)
    cursor = SyncCursor.objects.get()
    second = sync(seller)

    assert first.stats.created == 30
    assert cursor.synced_through is not None
    assert second.outcome == "complete" and second.window_start == cursor.synced_through - timedelta(minutes=10)
    assert second.orders_seen == 30  # the overlap re-reads them ...
    assert second.stats.created == 0 and second.api_calls == {"searchOrders": 1}  # ... and does nothing
    assert OrderEvent.objects.count() == 30


def test_update_at_the_boundary_is_picked_up(sim: SpApiSimulatorControl, seller: SellerAccount) -> None:
    [order_id] = seed(sim, seller, 1, minutes_ago=20)
    sync(seller)
    cursor = SyncCursor.objects.get()
    # Amazon updates the order with a timestamp just inside the previous window's end.
    assert cursor.synced_through is not None
    stamp = iso(cursor.synced_through - timedelta(seconds=5))
    sim.patch_order(order_id, OrderStatus="Shipped", LastUpdateDate=stamp)
    sync(seller)
    assert Order.objects.get().status == "shipped"
    assert Order.objects.get().source_status == "SHIPPED"


def test_duplicate_page_delivery_is_harmless(sim: SpApiSimulatorControl, seller: SellerAccount) -> None:
    seed(sim, seller, 150)
    sim.add_fault(operation="searchOrders", kind="repeat_page", times=1, after=1)
    result = sync(seller)
    assert result.outcome == "complete", result.summary()
    assert Order.objects.count() == 150
    assert OrderEvent.objects.filter(kind="created").count() == 150
    assert AmazonOrderSnapshot.objects.count() == 150


def test_throttled_then_resumes_from_the_saved_page(sim: SpApiSimulatorControl, seller: SellerAccount) -> None:
    seed(sim, seller, 250)
    sim.add_fault(operation="searchOrders", kind="throttle", times=1, after=1)  # second page: 429
    first = sync(seller)

    assert first.outcome == "throttled" and "429" in first.error
    assert Order.objects.count() == 100
    cursor = SyncCursor.objects.get()
    assert cursor.next_token and cursor.synced_through is None and cursor.not_before is not None
    assert sync(seller, ignore_backoff=False).outcome == "deferred"  # respects the backoff

    second = sync(seller)
    assert second.outcome == "complete", second.summary()
    assert Order.objects.count() == 250 and second.api_calls["searchOrders"] == 2  # pages 2 and 3 only
    assert SyncCursor.objects.get().not_before is None


def test_expired_pagination_token_restarts_the_window(sim: SpApiSimulatorControl, seller: SellerAccount) -> None:
    seed(sim, seller, 250)
    first = sync(seller, max_pages=1)
    cursor = SyncCursor.objects.get()
    assert first.outcome == "partial" and Order.objects.count() == 100 and cursor.next_token
    window = (cursor.window_start, cursor.window_end)

    sim.expire_pagination_tokens()  # 24 hours later, as far as Amazon is concerned
    second = sync(seller)
    assert second.outcome == "complete", second.summary()
    assert (second.window_start, second.window_end) == window  # the same window, from its start
    assert second.api_calls == {"searchOrders": 4}  # the refused token, then all three pages again
    assert sim.calls()["searchOrders"]["400"] == 1
    assert Order.objects.count() == 250 and OrderEvent.objects.filter(kind="created").count() == 250
    assert SyncCursor.objects.get().synced_through == window[1]


def test_a_failed_page_call_is_asked_again(sim: SpApiSimulatorControl, seller: SellerAccount) -> None:
    seed(sim, seller, 150)
    sim.add_fault(operation="searchOrders", kind="error", status=503, times=2, after=1)
    result = sync(seller)
    assert result.outcome == "complete", result.summary()
    assert Order.objects.count() == 150 and result.api_calls == {"searchOrders": 4}


@pytest.mark.parametrize("kind", [{"kind": "error", "status": 503}, {"kind": "timeout", "seconds": 5}])
def test_outage_backs_off_and_recovers(
    sim: SpApiSimulatorControl, seller: SellerAccount, kind: dict[str, Any], settings: Any
) -> None:
    settings.SP_API_ORDERS_PAGE_RETRIES = 0
    seed(sim, seller, 5)
    sim.add_fault(operation="searchOrders", times=1, **kind)
    first = sync(seller)
    assert first.outcome == "failed" and Order.objects.count() == 0
    cursor = SyncCursor.objects.get()
    assert cursor.consecutive_failures == 1 and cursor.last_error
    assert sync(seller).outcome == "complete" and Order.objects.count() == 5
    assert SyncCursor.objects.get().consecutive_failures == 0


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_backlog_drains_within_the_published_plan_without_a_429(sim: SpApiSimulatorControl, settings: Any) -> None:
    """21 pages due, Amazon's plan for searchOrders (0.0056/s, burst 20) on both sides: the burst's 20 pages go in at
    once, the limiter refuses the 21st itself (no call made, no 429), and the cursor keeps its place. (Committed
    transactions: the next page is fetched on another connection while this one is written, as in production.)"""
    seller = SellerAccountFactory.create(name="Backlog", selling_partner_id="A1BACKLOG00001")
    SkuMappingFactory.create(seller_sku="SKU-0001")
    register(sim, seller)
    settings.SP_API_RATE_LIMITING = True
    settings.SP_API_ORDERS_MAX_PAGES_PER_CYCLE = 50
    sim.set_rate_limiting(True)
    sim.set_rate_limit("searchOrders", rate=0.0056, burst=20)
    seed(sim, seller, 2100, minutes_ago=60 * 24)
    first = sync(seller)

    assert first.outcome == "throttled", first.summary()
    assert first.api_calls == {"searchOrders": 20} and Order.objects.count() == 2000
    assert sim.calls()["searchOrders"] == {"200": 20}  # never a 429
    cursor = SyncCursor.objects.get()
    assert cursor.next_token and cursor.pages_in_window == 20
    assert cursor.not_before is not None  # back when a token has refilled (1 / 0.0056 s)


def test_unknown_sku_and_malformed_order_through_the_wire(sim: SpApiSimulatorControl, seller: SellerAccount) -> None:
    seed(sim, seller, 3, sku="NOT-MAPPED")
    stamp = iso(datetime.now(UTC) - timedelta(minutes=30))
    sim.upsert_orders(
        seller=seller.selling_partner_id,
        orders=[
            {
                "order": {
                    "AmazonOrderId": "202-9999999-9999999",
                    "PurchaseDate": stamp,
                    "LastUpdateDate": stamp,
                    "OrderStatus": "Unshipped",
                    "MarketplaceId": UK,
                    "OrderTotal": {"CurrencyCode": "GBP", "Amount": "12,50"},
                },
                "items": [{"ASIN": "B000000001", "OrderItemId": "1", "SellerSKU": "SKU-0001", "QuantityOrdered": 1}],
            }
        ],
        raw=True,
    )
    result = sync(seller)
    assert result.outcome == "complete" and result.stats.held == 3 and result.stats.failed == 1
    kinds = sorted(ExceptionItem.objects.values_list("kind", flat=True))
    assert kinds == ["malformed_payload", "unknown_sku", "unknown_sku", "unknown_sku"]
    assert AmazonOrderSnapshot.objects.get(amazon_order_id="202-9999999-9999999").state == "failed"


def test_bad_credentials_are_a_permanent_error_in_the_queue(sim: SpApiSimulatorControl, account: SellerAccount) -> None:
    result = sync(account)  # never registered in the simulator: LWA says invalid_grant
    assert result.outcome == "failed" and "invalid_grant" in result.error
    item = ExceptionItem.objects.get()
    assert item.kind == "connector_error" and item.reference == account.selling_partner_id


def test_expired_access_token_is_refreshed_once(sim: SpApiSimulatorControl, seller: SellerAccount) -> None:
    seed(sim, seller, 2)
    sync(seller)
    sim.expire_tokens()
    seed(sim, seller, 3, minutes_ago=5)
    result = sync(seller)
    assert result.outcome == "complete", result.summary()
    assert Order.objects.count() == 3


def test_lease_lets_only_one_poller_run(sim: SpApiSimulatorControl, seller: SellerAccount) -> None:
    from orders.services import sync_cursor_acquire
    from orders.services.amazon_sync import sync_cursor_get

    cursor = sync_cursor_get(account=seller, marketplace_id=UK)
    assert sync_cursor_acquire(cursor=cursor, owner="worker-a")
    assert sync(seller).outcome == "busy"
    assert not sync_cursor_acquire(cursor=cursor, owner="worker-b")
    SyncCursor.objects.filter(pk=cursor.pk).update(lease_expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert sync(seller).outcome == "complete"  # an expired lease (a dead worker) is free again


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_pollers_never_double_insert(sim: SpApiSimulatorControl, settings: Any) -> None:
    account = SellerAccountFactory.create(name="Race", selling_partner_id="A1RACE0000001")
    SkuMappingFactory.create(seller_sku="SKU-0001")
    register(sim, account)
    seed(sim, account, 120)
    # Leases that expire at once: every worker gets in (as if each thought the others dead), a real race.
    settings.SP_API_SYNC_LEASE = timedelta(seconds=-1)
    results: list[Any] = []
    barrier = threading.Barrier(3)

    def poll(owner: str) -> None:
        try:
            barrier.wait()
            results.append(amazon_orders_sync(account=account, marketplace_id=UK, owner=owner, ignore_backoff=True))
        finally:
            connection.close()

    threads = [threading.Thread(target=poll, args=(f"w{n}",)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.outcome for r in results] == ["complete"] * 3, [r.summary() for r in results]
    assert Order.objects.count() == 120 and OrderLine.objects.count() == 120
    assert OrderEvent.objects.filter(kind="created").count() == 120
    assert AmazonOrderSnapshot.objects.count() == 120
