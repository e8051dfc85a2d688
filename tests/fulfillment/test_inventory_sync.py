"""Inventory from the ERP to Amazon and back, against the SP-API simulator (real server, real client)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection

from config.common.models import ExceptionItem, OutboundRequest
from config.common.outbound import outbound_sweep
from config.common.services import exception_reprocess
from fulfillment.models import FbaInventory, InventoryLevel, ListingFeed, ListingSync
from fulfillment.services import fba_inventory_fetch, listing_availability_check
from mappings.models import SkuMapping
from orders.models import SellerAccount
from simulators.spapi.control import SpApiSimulatorControl
from tests.factories import UK
from tests.fulfillment.conftest import erp_api
from tests.spapi_support import spapi_for

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
def amazon(spapi_url: str, settings: Any, account: SellerAccount) -> Iterator[SpApiSimulatorControl]:
    settings.INVENTORY_FEED_THRESHOLD = 25
    with spapi_for(spapi_url, settings, account, rate_limits=False) as sim:
        skus = {f"MFN-{n:03d}": 0 for n in range(40)}
        sim.set_listings(account.selling_partner_id, UK, skus)
        for sku in skus:
            SkuMapping.objects.create(
                seller_account=account, seller_sku=sku, erp_item_id=f"IT-{sku}", fulfillment_channel="MFN"
            )
        yield sim


def level(
    item: str, on_hand: int, *, allocated: int = 0, site: str = "MAIN", minutes: int = 0, version: int = 1
) -> dict[str, Any]:
    return {"item_id": item, "site": site, "on_hand": on_hand, "allocated": allocated,
            "as_of": (T0 + timedelta(minutes=minutes)).isoformat(), "version": version}  # fmt: skip


def post(levels: list[dict[str, Any]], capture: Any) -> dict[str, Any]:
    with capture(execute=True):
        response = erp_api().post("/api/v1/erp/inventory/", {"levels": levels}, format="json")
    assert response.status_code == 200, response.json()
    return dict(response.json())


def on_amazon(sim: SpApiSimulatorControl, account: SellerAccount, sku: str) -> int:
    return int(sim.listings(account.selling_partner_id, UK)[sku] or 0)


def calls(sim: SpApiSimulatorControl, operation: str) -> int:
    return sum(sim.calls().get(operation, {}).values())


def test_available_is_pushed_and_older_reports_never_win(
    amazon: SpApiSimulatorControl, account: SellerAccount, django_capture_on_commit_callbacks: Any
) -> None:
    result = post([level("IT-MFN-001", 12, allocated=2, minutes=10, version=5)], django_capture_on_commit_callbacks)
    assert result["applied"] == 1 and result["rows"][0]["outcome"] == "applied"
    assert on_amazon(amazon, account, "MFN-001") == 10
    # Out of order: an older as-of, then an older version, arrive late. Both are ignored.
    late = post([level("IT-MFN-001", 99, minutes=5, version=9), level("IT-MFN-001", 98, minutes=20, version=4)],
                django_capture_on_commit_callbacks)  # fmt: skip
    assert [r["outcome"] for r in late["rows"]] == ["stale", "stale"]
    assert InventoryLevel.objects.get(item_id="IT-MFN-001").on_hand == 12
    assert on_amazon(amazon, account, "MFN-001") == 10
    # The same report again (an ERP retry) changes nothing and sends nothing.
    before = calls(amazon, "patchListingsItem")
    assert post([level("IT-MFN-001", 12, allocated=2, minutes=10, version=5)],
                django_capture_on_commit_callbacks)["stale"] == 1  # fmt: skip
    assert calls(amazon, "patchListingsItem") == before
    # Sites add up; allocated above on hand counts as nothing available, not negative.
    both = [level("IT-MFN-001", 3, allocated=5, minutes=30, version=6), level("IT-MFN-001", 7, site="S2", version=1)]
    post(both, django_capture_on_commit_callbacks)
    assert on_amazon(amazon, account, "MFN-001") == 7
    sync = ListingSync.objects.get(seller_sku="MFN-001")
    assert sync.status == "in_sync" and sync.pushed_quantity == sync.desired_quantity == 7


def test_burst_to_one_sku_sends_one_call_with_the_latest_value(
    amazon: SpApiSimulatorControl, account: SellerAccount
) -> None:
    amazon.reset_calls()
    client = erp_api()
    # 1,000 updates to one SKU, delivered before any push goes out (the worker is busy): one call, the last value.
    for n in range(1, 1001):
        response = client.post("/api/v1/erp/inventory/", {"levels": [level("IT-MFN-002", n, version=n)]},
                               format="json")  # fmt: skip
        assert response.status_code == 200
    assert OutboundRequest.objects.filter(operation="amazon.listing_quantity").count() == 1
    outbound_sweep()
    assert calls(amazon, "patchListingsItem") == 1
    assert on_amazon(amazon, account, "MFN-002") == 1000


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_update_during_a_push_ends_with_the_latest_value(amazon: SpApiSimulatorControl, account: SellerAccount) -> None:
    """A push is on its way with 5 when the ERP says 8: a second push follows, and Amazon ends with 8."""
    amazon.add_fault(operation="patchListingsItem", kind="latency", ms=600, times=1)

    def first() -> None:
        erp_api("first").post(
            "/api/v1/erp/inventory/", {"levels": [level("IT-MFN-003", 5, version=1)]}, format="json"
        )  # fmt: skip  (sent at commit; the push takes 600 ms)
        connection.close()

    sender = threading.Thread(target=first)
    sender.start()
    for _ in range(100):  # until the first push is on its way
        if OutboundRequest.objects.filter(status="in_flight").exists():
            break
        threading.Event().wait(0.02)
    erp_api("second").post("/api/v1/erp/inventory/", {"levels": [level("IT-MFN-003", 8, version=2)]}, format="json")
    sender.join()
    outbound_sweep()
    assert on_amazon(amazon, account, "MFN-003") == 8
    sync = ListingSync.objects.get(seller_sku="MFN-003")
    assert sync.pushed_quantity == 8 and sync.status == "in_sync"
    assert amazon.listing_history(account.selling_partner_id, "MFN-003")[-1]["quantity"] == 8


def test_many_skus_go_in_one_feed(amazon: SpApiSimulatorControl, account: SellerAccount) -> None:
    amazon.reset_calls()
    levels = [level(f"IT-MFN-{n:03d}", n + 1, version=1) for n in range(40)]
    erp_api().post("/api/v1/erp/inventory/", {"levels": levels}, format="json")
    for _ in range(3):
        outbound_sweep()
    feed = ListingFeed.objects.get()
    assert feed.status == "done" and feed.accepted == 40
    assert calls(amazon, "patchListingsItem") == 0 and calls(amazon, "createFeed") == 1
    shown = amazon.listings(account.selling_partner_id, UK)
    assert all(shown[f"MFN-{n:03d}"] == n + 1 for n in range(40))
    assert ListingSync.objects.filter(status="in_sync").count() == 40


def test_unknown_sku_at_amazon_is_an_exception_and_reprocess_sends_again(
    amazon: SpApiSimulatorControl, account: SellerAccount, django_capture_on_commit_callbacks: Any
) -> None:
    SkuMapping.objects.create(seller_account=account, seller_sku="NOT-LISTED", erp_item_id="IT-X",
                              fulfillment_channel="MFN")  # fmt: skip
    amazon.listing_settings(unknown_sku="not_found")  # (Amazon itself accepts it and makes an incomplete offer)
    post([level("IT-X", 4)], django_capture_on_commit_callbacks)
    sync = ListingSync.objects.get(seller_sku="NOT-LISTED")
    assert sync.status == "error" and sync.last_error
    item = ExceptionItem.objects.get(kind="inventory_sync", status="open")
    assert "NOT-LISTED" in item.summary and "not listed" in sync.last_error
    amazon.set_listings(account.selling_partner_id, UK, {"NOT-LISTED": 0})  # the listing is created at Amazon
    with django_capture_on_commit_callbacks(execute=True):
        exception_reprocess(item=item, actor="user:ops")
    assert on_amazon(amazon, account, "NOT-LISTED") == 4
    item.refresh_from_db()
    assert item.status == "resolved"


def test_sku_amazon_accepts_but_does_not_list_is_caught_on_read_back(
    amazon: SpApiSimulatorControl, account: SellerAccount, django_capture_on_commit_callbacks: Any
) -> None:
    """Amazon answers ACCEPTED for a SKU it does not list (it makes an incomplete offer): the read-back tells."""
    SkuMapping.objects.create(seller_account=account, seller_sku="GHOST", erp_item_id="IT-G", fulfillment_channel="MFN")
    post([level("IT-G", 3)], django_capture_on_commit_callbacks)
    assert ListingSync.objects.get(seller_sku="GHOST").status == "in_sync"
    listing_availability_check(limit=100)
    sync = ListingSync.objects.get(seller_sku="GHOST")
    assert sync.status == "error" and ("not buyable" in sync.last_error or "not listed" in sync.last_error)
    assert ExceptionItem.objects.filter(kind="inventory_sync", status="open", reference="GHOST").exists()
    assert ListingSync.objects.filter(status="error").count() == 1  # the listed SKUs are fine


def test_unmapped_item_is_stored_not_sent(
    amazon: SpApiSimulatorControl, django_capture_on_commit_callbacks: Any
) -> None:
    result = post([level("IT-NOWHERE", 4)], django_capture_on_commit_callbacks)
    assert result["unmapped"] == 1 and "no merchant-fulfilled Amazon SKU" in result["rows"][0]["note"]
    assert InventoryLevel.objects.filter(item_id="IT-NOWHERE").exists() and not ListingSync.objects.exists()


def test_throttling_backs_off_and_completes(
    amazon: SpApiSimulatorControl, account: SellerAccount, django_capture_on_commit_callbacks: Any
) -> None:
    amazon.add_fault(operation="patchListingsItem", kind="throttle", times=1)
    post([level("IT-MFN-004", 6)], django_capture_on_commit_callbacks)
    request = OutboundRequest.objects.get(operation="amazon.listing_quantity")
    assert request.status == "pending" and request.attempts == 1
    OutboundRequest.objects.filter(pk=request.pk).update(next_attempt_at=datetime.now(UTC))
    outbound_sweep()
    assert on_amazon(amazon, account, "MFN-004") == 6


def test_drift_is_detected(
    amazon: SpApiSimulatorControl, account: SellerAccount, django_capture_on_commit_callbacks: Any, admin_client: Any
) -> None:
    post([level("IT-MFN-005", 9)], django_capture_on_commit_callbacks)
    amazon.set_listings(account.selling_partner_id, UK, {"MFN-005": 2})  # someone edited it in Seller Central
    listing_availability_check(limit=100)
    sync = ListingSync.objects.get(seller_sku="MFN-005")
    assert sync.amazon_quantity == 2 and sync.drift and sync.status == "in_sync"
    page = admin_client.get("/admin/fulfillment/listingsync/?drift=yes").content.decode()
    assert "MFN-005" in page and "drift: ERP 9" in page


def test_fba_stock_is_read_for_the_erp(amazon: SpApiSimulatorControl, account: SellerAccount) -> None:
    amazon.set_fba_inventory(account.selling_partner_id, "FBA-TENT", 17)
    SkuMapping.objects.create(
        seller_account=account, seller_sku="FBA-TENT", erp_item_id="TNT", fulfillment_channel="AFN"
    )
    assert fba_inventory_fetch(account=account, marketplace_id=UK, full=True) >= 1
    stock = FbaInventory.objects.get(seller_sku="FBA-TENT")
    assert stock.fulfillable == 17
    rows = erp_api().get("/api/v1/erp/inventory/fba/", {"seller_sku": "FBA-TENT"}).json()["results"]
    assert rows[0]["fulfillable"] == 17 and "reserved" in rows[0] and "in_transit" in rows[0]


def test_instants_with_offsets_postgres_cannot_hold_are_compared_in_utc(account: SellerAccount) -> None:
    # Found by schemathesis: PostgreSQL stops at ±15:59, Python accepts up to ±23:59.
    odd = "2472-09-04T23:52:43-16:55"
    assert erp_api().get("/api/v1/erp/inventory/fba/", {"updated_since": odd}).status_code == 200
    assert erp_api().get("/api/v1/orders/", {"updated_since": odd}).status_code in (200, 403)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_rate_limit_is_shared_by_concurrent_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ten workers asking at once for a 5/s, burst 5 quota: five go now, the rest get slots 0.2 s apart."""
    from config.common import ratelimit

    # One instant for all ten: the waits then depend only on the shared row, not on when each thread got there
    # (on a loaded machine thread start-up alone spreads them by more than the tolerance).
    monkeypatch.setattr(ratelimit, "timezone", SimpleNamespace(now=lambda: T0))
    waits: list[float] = []

    def worker() -> None:
        waits.append(ratelimit.rate_limit_take(key="spapi:test:patchListingsItem", rate=5, burst=5).wait)
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(waits) == pytest.approx([0.0] * 5 + [0.2, 0.4, 0.6, 0.8, 1.0])


@pytest.mark.parametrize(
    "url",
    ["listingsync", "inventorylevel", "inventoryupdate", "listingfeed", "fbainventory"],
)
def test_inventory_admin_pages_render(
    amazon: SpApiSimulatorControl, admin_client: Any, django_capture_on_commit_callbacks: Any, url: str
) -> None:
    post([level(f"IT-MFN-{n:03d}", n, version=1) for n in range(30)], django_capture_on_commit_callbacks)
    assert admin_client.get(f"/admin/fulfillment/{url}/").status_code == 200
