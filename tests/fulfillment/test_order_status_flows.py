"""Order status as one projection over facts, end to end: SP-API simulator → poll → ERP API (pull, shipments).

Holds last until their own cause ends, and a lagging Amazon never pulls an order back or raises a bogus exception."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient

from config.common.models import ExceptionItem
from config.common.services import exception_close, exception_reprocess
from fulfillment.models import ErpDocument, FulfillmentOrder
from mappings.models import SkuMapping
from orders.models import Address, AmazonOrderSnapshot, Order, OrderEvent, OrderHold, SellerAccount
from orders.services import amazon_orders_sync, order_hold, order_lags_check, order_release, order_status_refresh
from simulators.spapi.control import SpApiSimulatorControl
from tests.factories import UK
from tests.fulfillment.conftest import ack, pull
from tests.spapi_support import spapi_for

ORDER_ID = "202-7000001-0000001"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def amazon(spapi_url: str, settings: Any, account: SellerAccount, mapped_skus: list[str]) -> Iterator[Any]:
    with spapi_for(spapi_url, settings, account, rate_limits=False) as sim:
        yield sim


def seed(sim: SpApiSimulatorControl, account: SellerAccount, *, postal_code: str = "SW1A 2AA", lines: int = 1) -> None:
    when = iso(datetime.now(UTC) - timedelta(minutes=30))
    sim.upsert_orders(
        seller=account.selling_partner_id,
        orders=[
            {
                "order": {
                    "AmazonOrderId": ORDER_ID,
                    "PurchaseDate": when,
                    "LastUpdateDate": when,
                    "OrderStatus": "Unshipped",
                    "FulfillmentChannel": "MFN",
                    "MarketplaceId": UK,
                    "ShipmentServiceLevelCategory": "Standard",
                    "OrderTotal": {"CurrencyCode": "GBP", "Amount": "20.00"},
                },
                "items": [
                    {
                        "ASIN": f"B00000000{n}",
                        "OrderItemId": f"7000000000000{n}",
                        "SellerSKU": f"SKU-000{n}",
                        "QuantityOrdered": 1,
                        "QuantityShipped": 0,
                        "ItemPrice": {"CurrencyCode": "GBP", "Amount": "10.00"},
                    }
                    for n in range(1, lines + 1)
                ],
                "address": {
                    "Name": "Jane Doe",
                    "AddressLine1": "10 Downing Street",
                    "City": "London",
                    "PostalCode": postal_code,
                    "CountryCode": "GB",
                },
            }
        ],
    )


_changes = itertools.count(1)


def amazon_says(sim: SpApiSimulatorControl, **fields: Any) -> None:
    """Amazon changes the order. Polls see changes older than three minutes (Amazon's rule: two), so each change
    is dated a few minutes back, later than the one before."""
    when = datetime.now(UTC) - timedelta(minutes=6) + timedelta(seconds=2 * next(_changes))
    sim.patch_order(ORDER_ID, LastUpdateDate=iso(when), **fields)


def poll(account: SellerAccount) -> Order:
    result = amazon_orders_sync(account=account, marketplace_id=UK, ignore_backoff=True)
    assert result.error == "", result.error
    return Order.objects.get(channel=Order.Channel.AMAZON, external_id=ORDER_ID)


def ship(erp: APIClient, order: Order, ref: str, lines: list[Any]) -> dict[str, Any]:
    response = erp.post(
        "/api/v1/erp/shipments/",
        {
            "order_id": order.pk,
            "shipment_ref": ref,
            "carrier": "Royal Mail",
            "tracking_number": f"RM{ref}GB",
            "ship_date": iso(datetime.now(UTC)),
            "lines": [{"line_ref": line.pk, "quantity": 1} for line in lines],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return dict(response.json())


def kinds(order: Order) -> list[str]:
    return list(order.events.order_by("created_at", "pk").values_list("kind", flat=True))


def test_an_erp_data_hold_lasts_through_amazon_updates_until_the_erp_takes_the_order(
    amazon: SpApiSimulatorControl, account: SellerAccount, erp: APIClient
) -> None:
    seed(amazon, account, postal_code="")
    assert poll(account).status == "authorised"
    assert pull(erp)["documents"] == []  # the ERP cannot take an order without a postcode
    order = Order.objects.get(external_id=ORDER_ID)
    assert (order.status, order.hold_code) == ("on_hold", "erp_data")
    item = ExceptionItem.objects.get(kind="erp_data", status="open")

    amazon_says(amazon, ShipmentServiceLevelCategory="Expedited")  # Amazon updates it, still Unshipped
    order = poll(account)
    assert order.ship_service_level == "Expedited"  # Amazon's update applied ...
    assert (order.status, order.hold_code) == ("on_hold", "erp_data")  # ... the hold kept: nothing was fixed
    assert pull(erp)["documents"] == []
    item.refresh_from_db()
    assert item.status == "open"
    assert kinds(order).count("held") == 1 and "released" not in kinds(order)  # no flip-flop

    Address.objects.filter(order=order).update(postal_code="SW1A 2AA")  # the operator fixes the ship-to
    exception_reprocess(item=item, actor="user:ops")
    order.refresh_from_db()
    item.refresh_from_db()
    assert order.status == "authorised" and item.status == "resolved"
    assert [d["OrdNbr"] for d in pull(erp)["documents"]] == [ORDER_ID]
    assert not OrderHold.objects.filter(order=order, released_at__isnull=True).exists()


def test_our_shipment_outruns_a_lagging_amazon_without_an_exception(
    amazon: SpApiSimulatorControl, account: SellerAccount, erp: APIClient
) -> None:
    seed(amazon, account)
    order = poll(account)
    ack(erp, pull(erp)["batch_id"])
    assert ship(erp, order, "S1", list(order.lines.all()))["order_status"] == "shipped"

    amazon_says(amazon, ShipmentServiceLevelCategory="NextDay")  # Amazon has not taken our confirmation yet: Unshipped
    order = poll(account)
    assert order.status == "shipped" and order.source_status == "UNSHIPPED"
    assert order.ship_service_level == "NextDay"  # the rest of Amazon's update is applied
    assert AmazonOrderSnapshot.objects.get().state == "processed"
    assert not ExceptionItem.objects.filter(status="open").exists()
    lag = order.events.get(kind=OrderEvent.Kind.LAGGING)
    assert "Amazon still reports UNSHIPPED" in lag.message and "1 of 1 item(s) shipped" in lag.message
    assert order.channel_lag_since is not None

    assert order_lags_check() == 0  # not yet long enough to be a problem
    amazon_says(amazon, OrderStatus="Shipped")
    order = poll(account)
    assert order.status == "shipped" and order.channel_lag_since is None
    assert order.events.filter(kind="note", message__startswith="Amazon caught up").exists()


def test_a_lag_that_lasts_becomes_an_exception_and_closes_when_amazon_catches_up(
    amazon: SpApiSimulatorControl, account: SellerAccount, erp: APIClient
) -> None:
    seed(amazon, account)
    order = poll(account)
    ship(erp, order, "S1", list(order.lines.all()))
    amazon_says(amazon, ShipmentServiceLevelCategory="NextDay")
    order = poll(account)
    Order.objects.filter(pk=order.pk).update(channel_lag_since=datetime.now(UTC) - timedelta(hours=30))
    assert order_lags_check() == 1
    item = ExceptionItem.objects.get(kind="channel_lag", status="open")
    assert "Amazon has not taken the shipment confirmation" in item.summary
    amazon_says(amazon, OrderStatus="Shipped")
    poll(account)
    item.refresh_from_db()
    assert item.status == "resolved"


def test_partially_shipped_stays_when_amazon_lags(
    amazon: SpApiSimulatorControl, account: SellerAccount, erp: APIClient
) -> None:
    seed(amazon, account, lines=2)
    order = poll(account)
    first = order.lines.order_by("pk").first()
    assert ship(erp, order, "S1", [first])["order_status"] == "partially_shipped"
    amazon_says(amazon, ShipmentServiceLevelCategory="NextDay")
    order = poll(account)
    assert order.status == "partially_shipped" and not ExceptionItem.objects.filter(status="open").exists()
    assert ship(erp, order, "S2", [order.lines.order_by("pk").last()])["order_status"] == "shipped"


def test_an_amazon_cancellation_ends_an_erp_data_hold_and_credits_only_what_the_erp_had(
    amazon: SpApiSimulatorControl, account: SellerAccount, erp: APIClient
) -> None:
    seed(amazon, account, postal_code="")
    poll(account)
    assert pull(erp)["documents"] == []
    item = ExceptionItem.objects.get(kind="erp_data", status="open")
    amazon_says(amazon, OrderStatus="Canceled")
    order = poll(account)
    item.refresh_from_db()
    assert (order.status, order.hold_code) == ("cancelled", "")
    assert item.status == "resolved" and "cancelled" in item.resolution_note
    assert not OrderHold.objects.filter(order=order, released_at__isnull=True).exists()
    assert pull(erp)["documents"] == [] and pull(erp, kind="credit-memos")["documents"] == []  # the ERP never had it


def test_a_cancelled_order_the_erp_had_gets_one_credit_memo(
    amazon: SpApiSimulatorControl, account: SellerAccount, erp: APIClient
) -> None:
    seed(amazon, account)
    poll(account)
    ack(erp, pull(erp)["batch_id"])
    amazon_says(amazon, OrderStatus="Canceled")
    assert poll(account).status == "cancelled"
    memos = pull(erp, kind="credit-memos")
    assert [d["OrdNbr"] for d in memos["documents"]] == [ORDER_ID]
    ack(erp, memos["batch_id"], kind="credit-memos")
    amazon_says(amazon, ShipmentServiceLevelCategory="x")  # Amazon touches it again
    poll(account)
    assert pull(erp, kind="credit-memos")["documents"] == []
    assert ErpDocument.objects.filter(kind="credit_memo").count() == 1


def test_manual_hold_over_an_unknown_sku_outlasts_the_fix_and_amazon_updates(
    amazon: SpApiSimulatorControl, account: SellerAccount
) -> None:
    SkuMapping.objects.filter(seller_sku="SKU-0001").delete()
    seed(amazon, account)
    order = poll(account)
    assert (order.status, order.hold_code) == ("on_hold", "unknown_sku")
    order = order_hold(order_id=order.pk, reason="customer asked to wait", actor="user:ops")
    assert order.hold_code == "manual"
    SkuMapping.objects.create(seller_sku="SKU-0001", erp_item_id="ITEM-1")
    exception_reprocess(item=ExceptionItem.objects.get(kind="unknown_sku"), actor="user:ops")
    amazon_says(amazon, ShipmentServiceLevelCategory="NextDay")
    order = poll(account)
    assert (order.status, order.hold_code) == ("on_hold", "manual")  # the operator's hold outlasts both
    assert order_release(order_id=order.pk, actor="user:ops", reason="ok").status == "authorised"


def test_exception_queue_and_order_agree_when_an_operator_discards_the_reason(
    amazon: SpApiSimulatorControl, account: SellerAccount, erp: APIClient
) -> None:
    seed(amazon, account, postal_code="")
    poll(account)
    pull(erp)
    item = ExceptionItem.objects.get(kind="erp_data", status="open")
    exception_close(item=item, status="discarded", actor="user:ops", note="ships by hand")
    order = Order.objects.get(external_id=ORDER_ID)
    assert order.status == "authorised"  # no open exception says why, so it is not held


def test_fba_fulfilment_complete_while_amazon_still_shows_unshipped(
    amazon: SpApiSimulatorControl, account: SellerAccount
) -> None:
    seed(amazon, account)
    order = poll(account)
    FulfillmentOrder.objects.create(
        order=order, seller_account=account, marketplace_id=UK, seller_fulfillment_order_id="LL-FBA-1",
        status=FulfillmentOrder.Status.COMPLETE, request_payload={},
    )  # fmt: skip
    assert order_status_refresh(order_id=order.pk, actor="system:test", reason="FBA Complete").status == "shipped"
    amazon_says(amazon, ShipmentServiceLevelCategory="NextDay")
    order = poll(account)
    assert order.status == "shipped" and order.channel_lag_since is not None
    assert not ExceptionItem.objects.filter(status="open").exists()
