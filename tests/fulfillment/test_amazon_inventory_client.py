"""Our listings, listings feed and FBA inventory client (connectors.amazon.inventory) against the SP-API
simulator as a real server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from config.common.errors import PermanentConnectorError, RetryableConnectorError, ThrottledError
from connectors.amazon.fulfillment_outbound import AmazonFulfillmentOutboundClient
from connectors.amazon.inventory import AmazonInventoryClient, AmazonListingsClient
from connectors.amazon.inventory_types import (
    MAX_FEED_MESSAGES,
    FeedResult,
    InventorySummary,
    ListingSubmission,
    listings_feed_document,
)
from orders.models import SellerAccount
from simulators.spapi.control import SpApiSimulatorControl
from tests.factories import DE, UK, US
from tests.spapi_support import spapi_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def amazon(spapi_url: str, settings: Any, account: SellerAccount) -> Iterator[SpApiSimulatorControl]:
    with spapi_for(spapi_url, settings, account, marketplace_ids=[UK, DE], rate_limits=False) as sim:
        yield sim


@pytest.fixture
def client(amazon: SpApiSimulatorControl, account: SellerAccount) -> Iterator[AmazonInventoryClient]:
    with AmazonInventoryClient.for_account(account, marketplace_id=UK) as inventory:
        yield inventory


@pytest.fixture
def seller(account: SellerAccount) -> str:
    return account.selling_partner_id


def mcf_order(key: str, sku: str, quantity: int) -> dict[str, Any]:
    return {
        "sellerFulfillmentOrderId": key, "displayableOrderId": key, "displayableOrderDate": "2026-11-20T10:15:00Z",
        "displayableOrderComment": "Thank you", "shippingSpeedCategory": "Standard",
        "destinationAddress": {"name": "Ada", "addressLine1": "1 Road", "postalCode": "SW1A 1AA", "countryCode": "GB"},
        "items": [{"sellerSku": sku, "sellerFulfillmentOrderItemId": "1", "quantity": quantity}],
    }  # fmt: skip


# --- patchListingsItem / getListingsItem ---------------------------------------------------------------


def test_patch_availability_accepted(client: AmazonInventoryClient, amazon: SpApiSimulatorControl, seller: str) -> None:
    amazon.set_listings(seller, UK, {"MUG": 7})
    answer = client.patch_availability(seller_id=seller, sku="MUG", quantity=3, marketplace_id=UK)
    assert isinstance(answer, ListingSubmission)
    assert (answer.sku, answer.status, answer.issues, answer.accepted) == ("MUG", "ACCEPTED", (), True)
    assert len(answer.submission_id) == 32 and answer.raw["submissionId"] == answer.submission_id
    assert amazon.listings(seller, UK) == {"MUG": 3}
    [entry] = amazon.listing_history(seller, "MUG")
    assert entry["submission_id"] == answer.submission_id and entry["patches"] == [
        {"op": "replace", "path": "/attributes/fulfillment_availability",
         "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 3}]},
    ]  # fmt: skip
    assert client.get_availability(seller_id=seller, sku="MUG", marketplace_id=UK) == 3
    assert client.calls["patchListingsItem"] == 1 and client.calls["getListingsItem"] == 1
    assert amazon.calls()["patchListingsItem"] == {"200": 1}
    # Another marketplace of the same region, through the same client.
    amazon.set_listings(seller, DE, {"MUG": 1})
    assert client.patch_availability(seller_id=seller, sku="MUG", quantity=0, marketplace_id=DE).accepted
    assert amazon.listings(seller, DE) == {"MUG": 0} and amazon.listings(seller, UK) == {"MUG": 3}


def test_invalid_answer_is_returned_with_its_issues(
    client: AmazonInventoryClient, amazon: SpApiSimulatorControl, seller: str
) -> None:
    amazon.set_listings(seller, UK, {"MUG": 7})
    answer = client.patch_availability(seller_id=seller, sku="MUG", quantity=-2, marketplace_id=UK)
    assert answer.status == "INVALID" and not answer.accepted
    [issue] = answer.errors
    assert (issue.code, issue.severity, issue.attribute_names) == ("4000001", "ERROR", ("fulfillment_availability",))
    assert str(issue) == "ERROR 4000001: The provided value for 'Quantity' is invalid. [fulfillment_availability]"
    assert amazon.listings(seller, UK) == {"MUG": 7} and amazon.listing_history(seller, "MUG") == []
    preview = client.patch_availability(seller_id=seller, sku="MUG", quantity=1, marketplace_id=UK, validate_only=True)
    assert preview.status == "VALID" and amazon.listings(seller, UK) == {"MUG": 7}
    with pytest.raises(TypeError):
        client.patch_availability(seller_id=seller, sku="MUG", quantity=True, marketplace_id=UK)


def test_unknown_sku(client: AmazonInventoryClient, amazon: SpApiSimulatorControl, seller: str) -> None:
    # Amazon accepts a patch for a SKU it does not list (an incomplete listing): so does the simulator by default.
    assert client.patch_availability(seller_id=seller, sku="NEW", quantity=2, marketplace_id=UK).accepted
    listing = client.get_listing(seller_id=seller, sku="NEW", marketplace_id=UK)
    assert listing is not None and listing.quantity == 2 and listing.status == () and listing.issues[0].code == "90220"
    amazon.listing_settings(unknown_sku="not_found")
    with pytest.raises(PermanentConnectorError) as refused:
        client.patch_availability(seller_id=seller, sku="NOPE", quantity=2, marketplace_id=UK)
    error = refused.value
    assert error.status_code == 404 and error.code == "NOT_FOUND" and error.operation == "patchListingsItem"
    assert f"SKU 'NOPE' is not listed for seller {seller} in marketplace {UK}" in str(error)
    amazon.listing_settings(unknown_sku="invalid")
    answer = client.patch_availability(seller_id=seller, sku="NOPE", quantity=2, marketplace_id=UK)
    assert answer.status == "INVALID" and answer.issues[0].code == "SIM_UNKNOWN_SKU"


def test_get_availability(client: AmazonInventoryClient, amazon: SpApiSimulatorControl, seller: str) -> None:
    amazon.set_listings(seller, UK, {"MUG": 7, "NONE": None, "ZERO": 0})
    assert client.get_availability(seller_id=seller, sku="MUG", marketplace_id=UK) == 7
    assert client.get_availability(seller_id=seller, sku="ZERO", marketplace_id=UK) == 0
    assert client.get_availability(seller_id=seller, sku="NONE", marketplace_id=UK) is None
    assert client.get_availability(seller_id=seller, sku="MISSING", marketplace_id=UK) is None  # 404
    listing = client.get_listing(seller_id=seller, sku="MUG", marketplace_id=UK)
    assert listing is not None
    assert (listing.status, listing.product_type, listing.issues) == (("BUYABLE", "DISCOVERABLE"), "PRODUCT", ())
    assert listing.asin and listing.asin.startswith("B0")


def test_typed_errors(client: AmazonInventoryClient, amazon: SpApiSimulatorControl, seller: str) -> None:
    amazon.set_listings(seller, UK, {"MUG": 7})
    amazon.set_rate_limiting(True)
    amazon.set_rate_limit("patchListingsItem", rate=5, burst=1)
    client.patch_availability(seller_id=seller, sku="MUG", quantity=1, marketplace_id=UK)
    with pytest.raises(ThrottledError) as throttled:
        client.patch_availability(seller_id=seller, sku="MUG", quantity=2, marketplace_id=UK)
    assert throttled.value.retry_after == pytest.approx(0.2) and throttled.value.status_code == 429
    amazon.add_fault(operation="getListingsItem", kind="error", status=503, times=1)
    with pytest.raises(RetryableConnectorError) as unavailable:
        client.get_availability(seller_id=seller, sku="MUG", marketplace_id=UK)
    assert not isinstance(unavailable.value, ThrottledError) and unavailable.value.status_code == 503
    with pytest.raises(PermanentConnectorError) as refused:  # not a marketplace of this seller
        client.get_availability(seller_id=seller, sku="MUG", marketplace_id=US)
    assert refused.value.status_code == 400
    with pytest.raises(PermanentConnectorError) as other:  # another seller's id
        client.get_availability(seller_id="A2SOMEONEELSE1", sku="MUG", marketplace_id=UK)
    assert other.value.status_code == 403
    assert amazon.listings(seller, UK) == {"MUG": 1}


# --- JSON_LISTINGS_FEED ----------------------------------------------------------------------------------


def test_listings_feed_round_trip(client: AmazonInventoryClient, amazon: SpApiSimulatorControl, seller: str) -> None:
    amazon.set_listings(seller, UK, {"MUG": 7, "TENT": 2})
    amazon.listing_settings(unknown_sku="invalid")
    items = [("MUG", 3), ("TENT", -1), ("GHOST", 5)]
    feed_id = client.submit_listings_feed(seller_id=seller, marketplace_id=UK, items=items)
    assert feed_id.isdigit()
    [feed] = amazon.feeds(seller=seller)
    assert feed["feedType"] == "JSON_LISTINGS_FEED" and feed["marketplaceIds"] == [UK]
    assert feed["_sim"]["input"] == {
        "feedDocumentId": feed["_sim"]["input"]["feedDocumentId"], "contentType": "application/json; charset=UTF-8",
        "size": len(listings_feed_document(seller_id=seller, items=items)),
    }  # fmt: skip
    result = client.feed_result(feed_id)
    assert isinstance(result, FeedResult) and result.done and result.ok and result.status == "DONE"
    assert (result.accepted, result.invalid, result.processed) == (1, 2, 3)
    assert set(result.issues_by_sku) == {"TENT", "GHOST"} and "MUG" not in result.issues_by_sku
    assert result.issues_by_sku["TENT"] == (
        "ERROR 4000001: The provided value for 'Quantity' is invalid. [fulfillment_availability]",
    )
    assert set(result.issues_by_message) == {2, 3} and result.feed_issues == ()
    assert json.loads(json.dumps(result.issues_by_sku))  # stored as JSON by callers
    assert amazon.listings(seller, UK) == {"MUG": 3, "TENT": 2}
    assert [h["message_id"] for h in amazon.listing_history(seller, "MUG")] == [1]  # messageId = position
    assert client.calls["createFeedDocument"] == client.calls["feedDocumentUpload"] == client.calls["createFeed"] == 1
    assert client.calls["getFeed"] == client.calls["getFeedDocument"] == client.calls["feedDocumentDownload"] == 1


def test_feed_result_while_processing_and_gzip_report(
    client: AmazonInventoryClient, amazon: SpApiSimulatorControl, seller: str
) -> None:
    amazon.set_listings(seller, UK, {"MUG": 7})
    amazon.listing_settings(feed_processing_seconds=3600, feed_result_compression="GZIP")
    feed_id = client.submit_listings_feed(seller_id=seller, marketplace_id=UK, items=[("MUG", 4)])
    waiting = client.feed_result(feed_id)
    assert (waiting.status, waiting.done, waiting.accepted, waiting.issues_by_sku) == ("IN_QUEUE", False, 0, {})
    assert client.calls["getFeedDocument"] == 0 and amazon.listings(seller, UK) == {"MUG": 7}
    amazon.advance_feed(feed_id, "IN_PROGRESS")
    assert client.feed_result(feed_id).status == "IN_PROGRESS"
    amazon.advance_feed(feed_id, "DONE")
    done = client.feed_result(feed_id)  # the report is GZIP-compressed
    assert done.ok and done.accepted == 1 and done.report is not None and done.report["header"]["feedId"] == feed_id
    assert amazon.listings(seller, UK) == {"MUG": 4}
    feed = client.get_feed(feed_id)
    assert feed.is_final and feed.processing_end_time is not None and feed.created_time.tzinfo is UTC
    assert feed.processing_end_time >= feed.created_time


def test_fatal_feed_has_no_per_sku_outcome(
    client: AmazonInventoryClient, amazon: SpApiSimulatorControl, seller: str
) -> None:
    amazon.set_listings(seller, UK, {"MUG": 7})
    amazon.listing_settings(feed_processing_seconds=3600)
    feed_id = client.submit_listings_feed(seller_id=seller, marketplace_id=UK, items=[("MUG", 4)])
    amazon.advance_feed(feed_id, "FATAL", reason="Internal processing error")
    result = client.feed_result(feed_id)
    assert result.done and not result.ok and result.status == "FATAL"
    assert result.feed_issues == ("ERROR SIM_FEED_FATAL: Internal processing error",)
    assert (result.accepted, result.issues_by_sku) == (0, {})
    assert amazon.listings(seller, UK) == {"MUG": 7}


def test_refused_upload_url_gets_a_fresh_document_once(
    client: AmazonInventoryClient, amazon: SpApiSimulatorControl, seller: str
) -> None:
    amazon.add_fault(operation="feedDocumentUpload", kind="error", status=403, times=1)
    feed_id = client.submit_listings_feed(seller_id=seller, marketplace_id=UK, items=[("MUG", 1)])
    assert client.calls["createFeedDocument"] == client.calls["feedDocumentUpload"] == 2
    assert client.feed_result(feed_id).accepted == 1
    amazon.add_fault(operation="feedDocumentUpload", kind="error", status=403, times=2)
    with pytest.raises(PermanentConnectorError) as refused:
        client.submit_listings_feed(seller_id=seller, marketplace_id=UK, items=[("MUG", 2)])
    assert refused.value.status_code == 403 and refused.value.operation == "feedDocumentUpload"
    amazon.add_fault(operation="feedDocumentUpload", kind="throttle", times=1)
    with pytest.raises(RetryableConnectorError) as slow:
        client.submit_listings_feed(seller_id=seller, marketplace_id=UK, items=[("MUG", 2)])
    assert slow.value.status_code == 503 and slow.value.code == "SlowDown"
    assert len(amazon.feeds()) == 1  # no feed was created without its document


def test_cut_report_is_retryable(client: AmazonInventoryClient, amazon: SpApiSimulatorControl, seller: str) -> None:
    feed_id = client.submit_listings_feed(seller_id=seller, marketplace_id=UK, items=[("MUG", 1)])
    amazon.add_fault(operation="feedDocumentDownload", kind="truncate", times=1)
    with pytest.raises(RetryableConnectorError) as cut:
        client.feed_result(feed_id)
    assert cut.value.operation == "feedDocumentDownload"
    assert client.feed_result(feed_id).accepted == 1


def test_feed_throttled_by_its_own_plan(
    client: AmazonInventoryClient, amazon: SpApiSimulatorControl, seller: str
) -> None:
    amazon.set_rate_limiting(True)
    for n in range(5):
        client.submit_listings_feed(seller_id=seller, marketplace_id=UK, items=[("MUG", n)])
    with pytest.raises(ThrottledError):
        client.submit_listings_feed(seller_id=seller, marketplace_id=UK, items=[("MUG", 9)])


def test_feed_items_are_checked_before_sending(client: AmazonInventoryClient, seller: str) -> None:
    for items, error in (
        ([], ValueError), ([("A", 1), ("A", 2)], ValueError), ([("", 1)], ValueError), ([("A", 1.5)], TypeError),
        ([(f"S{n}", 1) for n in range(MAX_FEED_MESSAGES + 1)], ValueError),
    ):  # fmt: skip
        with pytest.raises(error):
            client.submit_listings_feed(seller_id=seller, marketplace_id=UK, items=items)  # type: ignore[arg-type]
    assert client.calls["createFeedDocument"] == 0
    document = json.loads(listings_feed_document(seller_id=seller, items=[("A-€", 0), ("B", 5)]))
    assert document["header"] == {"sellerId": seller, "version": "2.0", "issueLocale": "en_US"}
    assert [(m["messageId"], m["sku"], m["operationType"]) for m in document["messages"]] == [
        (1, "A-€", "PATCH"), (2, "B", "PATCH"),
    ]  # fmt: skip
    assert AmazonListingsClient is AmazonInventoryClient


# --- getInventorySummaries --------------------------------------------------------------------------------


def test_inventory_summaries_follow_next_token(
    client: AmazonInventoryClient, amazon: SpApiSimulatorControl, seller: str
) -> None:
    for n in range(120):
        amazon.set_fba_inventory(seller, f"SKU-{n:03d}", n)
    amazon.set_fba_inventory(seller, "SKU-007", inbound_working=2, inbound_shipped=3, inbound_receiving=4,
                             fc_processing=1, unfulfillable={"defective": 2}, product_name="Lamp")  # fmt: skip
    summaries = list(client.inventory_summaries(marketplace_id=UK))
    assert [s.seller_sku for s in summaries] == [f"SKU-{n:03d}" for n in range(120)]
    assert client.calls["getInventorySummaries"] == 3  # 50 + 50 + 20
    lamp = summaries[7]
    assert isinstance(lamp, InventorySummary)
    assert (lamp.fulfillable, lamp.inbound_working, lamp.inbound_shipped, lamp.inbound_receiving) == (7, 2, 3, 4)
    assert (lamp.reserved, lamp.fc_processing, lamp.unfulfillable, lamp.inbound) == (1, 1, 2, 9)
    assert lamp.total_quantity == 7 + 9 + 1 + 2 and lamp.product_name == "Lamp" and lamp.condition == "NewItem"
    assert lamp.asin.startswith("B0") and lamp.fnsku.startswith("X00") and lamp.raw["sellerSku"] == "SKU-007"
    assert lamp.last_updated is not None and lamp.last_updated.tzinfo is UTC


def test_inventory_summaries_since_and_by_sku(
    client: AmazonInventoryClient, amazon: SpApiSimulatorControl, seller: str
) -> None:
    old = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(120):
        amazon.set_fba_inventory(seller, f"SKU-{n:03d}", n, last_updated=old)
    start = datetime.now(UTC) - timedelta(seconds=5)
    for sku in ("SKU-010", "SKU-099"):
        amazon.set_fba_inventory(seller, sku, 1)
    assert [s.seller_sku for s in client.inventory_summaries(marketplace_id=UK, start=start)] == ["SKU-010", "SKU-099"]
    changed = client.inventory_summaries(marketplace_id=UK, start=start, skus=["SKU-099", "SKU-100"])
    assert [s.seller_sku for s in changed] == ["SKU-099"]  # Amazon ignores sellerSkus with startDateTime
    client.calls.clear()
    wanted = [f"SKU-{n:03d}" for n in range(119, -1, -1)] + ["UNKNOWN"]
    found = list(client.inventory_summaries(marketplace_id=UK, skus=wanted))
    assert sorted(s.seller_sku for s in found) == sorted(wanted[:-1]) and client.calls["getInventorySummaries"] == 3
    with pytest.raises(ValueError):
        client.inventory_summaries_page(marketplace_id=UK, skus=[f"S{n}" for n in range(51)])
    assert amazon.calls()["getInventorySummaries"]["200"] == 1 + 1 + 3


def test_inventory_summaries_show_mcf_reservations_and_throttling(
    client: AmazonInventoryClient, amazon: SpApiSimulatorControl, seller: str, account: SellerAccount
) -> None:
    amazon.set_fba_inventory(seller, "FBA-MUG", 5)
    with AmazonFulfillmentOutboundClient.for_account(account, marketplace_id=UK) as outbound:
        outbound.create_fulfillment_order(body=mcf_order("WEB-1", "FBA-MUG", 2))  # the MCF client's call
    [mug] = client.inventory_summaries(marketplace_id=UK, skus=["FBA-MUG"])
    assert (mug.fulfillable, mug.reserved, mug.pending_customer_order, mug.total_quantity) == (3, 2, 2, 5)
    amazon.set_rate_limiting(True)
    amazon.listing_settings(inventory_page_size=1)
    amazon.set_fba_inventory(seller, "FBA-TENT", 1)
    amazon.set_fba_inventory(seller, "FBA-ZZZ", 1)
    with pytest.raises(ThrottledError) as throttled:
        list(client.inventory_summaries(marketplace_id=UK))  # three pages against a burst of 2
    assert throttled.value.retry_after == pytest.approx(0.5)
