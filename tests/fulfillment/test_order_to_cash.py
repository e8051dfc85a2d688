"""Order to cash end to end, through both simulators and the real clients."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from config.common.models import ExceptionItem, OutboundRequest
from config.common.services import exception_reprocess
from fulfillment.models import FulfillmentOrder, Shipment, ShipmentConfirmation
from fulfillment.services import fba_fulfillment_refresh
from mappings.models import SkuMapping
from orders.models import Order, SellerAccount, SellerMarketplace
from orders.services import amazon_orders_sync
from payments.services import payment_capture
from simulators.spapi.control import SpApiSimulatorControl
from tests.factories import UK
from tests.fulfillment.conftest import ack, erp_api, pull
from tests.payments import test_opayo_flows as flows
from tests.spapi_support import spapi_for

opayo, opayo_url = flows.opayo, flows.opayo_url


@pytest.fixture
def amazon(spapi_url: str, settings: Any, account: SellerAccount) -> Iterator[SpApiSimulatorControl]:
    with spapi_for(spapi_url, settings, account, rate_limits=False) as sim:
        SellerMarketplace.objects.filter(account=account, marketplace_id=UK).update(mcf_enabled=True)
        # The FBA stock is held under Amazon seller SKUs that map to the same ERP items as the shop's SKUs.
        SkuMapping.objects.create(seller_account=account, seller_sku="FBA-TENT", erp_item_id="TNT-0002")
        SkuMapping.objects.create(seller_account=account, seller_sku="FBA-MUG", erp_item_id="MUG-0001")
        yield sim


def paid_web_order(web_order: dict[str, Any], opayo: Any, capture: Any) -> Order:
    order = Order.objects.get(pk=web_order["id"])
    payment = flows.register(order, opayo, capture)  # Deferred, authorised
    with capture(execute=True):
        payment_capture(payment=payment, actor="api:erp")  # release → captured → FBA order requested
    order.refresh_from_db()
    return order


def test_ecommerce_order_paid_fulfilled_by_amazon_and_shipped(
    amazon: SpApiSimulatorControl, opayo: Any, web_order: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    order = paid_web_order(web_order, opayo, django_capture_on_commit_callbacks)
    fulfillment = FulfillmentOrder.objects.get(order=order)
    assert fulfillment.status == "New" and order.status == "fulfilment_requested"
    sent = amazon.fulfillment_order(fulfillment.seller_fulfillment_order_id)
    body = fulfillment.request_payload
    assert [i["sellerSku"] for i in body["items"]] == ["FBA-TENT", "FBA-MUG"]
    assert body["destinationAddress"]["postalCode"] == "SW1Y 4JH" and body["displayableOrderId"] == "WEB-1001"
    assert sent["fulfillmentOrder"]["sellerFulfillmentOrderId"] == fulfillment.seller_fulfillment_order_id

    for step in ("Received", "Planning", "Processing"):
        amazon.advance_fulfillment_order(fulfillment.seller_fulfillment_order_id, step)
    fba_fulfillment_refresh(fulfillment_id=fulfillment.pk)
    order.refresh_from_db()
    assert order.status == "fulfilment_requested"

    amazon.advance_fulfillment_order(
        fulfillment.seller_fulfillment_order_id,
        "Complete",
        shipments=[{"items": [{"sellerFulfillmentOrderItemId": i["sellerFulfillmentOrderItemId"],
                               "quantity": i["quantity"]} for i in body["items"]],
                    "carrier_code": "Royal Mail", "tracking_number": "RM123456789GB", "status": "SHIPPED"}],
    )  # fmt: skip
    fba_fulfillment_refresh(fulfillment_id=fulfillment.pk)
    order.refresh_from_db()
    shipment = Shipment.objects.get(order=order)
    assert order.status == "shipped" and shipment.tracking_number == "RM123456789GB" and shipment.status == "shipped"
    assert all(line.quantity_shipped == line.quantity_ordered for line in order.lines.all())
    # The ERP sees it as a sales order, once.
    erp = erp_api()
    batch = pull(erp)
    assert [d["OrdNbr"] for d in batch["documents"]] == ["WEB-1001"]
    ack(erp, batch["batch_id"])
    assert pull(erp)["documents"] == []


def test_amazon_fbm_order_erp_ships_and_amazon_is_told_once(
    amazon: SpApiSimulatorControl,
    account: SellerAccount,
    mapped_skus: list[str],
    django_capture_on_commit_callbacks: Any,
) -> None:
    stamp = (datetime.now(UTC) - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    amazon.upsert_orders(
        seller=account.selling_partner_id,
        orders=[{
            "order": {"AmazonOrderId": "202-5555555-5555555", "PurchaseDate": stamp, "LastUpdateDate": stamp,
                      "OrderStatus": "Unshipped", "FulfillmentChannel": "MFN", "MarketplaceId": UK,
                      "OrderTotal": {"CurrencyCode": "GBP", "Amount": "23.98"}},
            "items": [{"ASIN": "B000000001", "OrderItemId": "77", "SellerSKU": "SKU-0001", "QuantityOrdered": 2,
                       "QuantityShipped": 0, "ItemPrice": {"CurrencyCode": "GBP", "Amount": "23.98"}}],
            "address": {"Name": "Jane Doe", "AddressLine1": "1 High St", "City": "Leeds", "PostalCode": "LS1 1AA",
                        "CountryCode": "GB"},
        }],
    )  # fmt: skip
    assert amazon_orders_sync(account=account, marketplace_id=UK, ignore_backoff=True).outcome == "complete"
    erp = erp_api()
    batch = pull(erp)
    assert pull(erp)["batch_id"] == batch["batch_id"]  # the ERP retried: same batch
    [doc] = batch["documents"]
    ack(erp, batch["batch_id"])
    assert pull(erp)["documents"] == []  # handed over exactly once

    shipment = {"order_nbr": doc["OrdNbr"], "shipment_ref": "SL-SHIP-1", "carrier": "Royal Mail",
                "tracking_number": "RM000111222GB", "ship_date": "2026-11-21T09:00:00Z",
                "lines": [{"line_ref": int(doc["Lines"][0]["LineRef"]), "quantity": 2}]}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):  # the confirmation is sent once the shipment commits
        first = erp.post("/api/v1/erp/shipments/", shipment, format="json")
        again = erp.post("/api/v1/erp/shipments/", shipment, format="json")  # the ERP retries
    assert first.status_code == 201 and again.status_code == 200 and first.json()["id"] == again.json()["id"]
    request = OutboundRequest.objects.get(operation="amazon.confirm_shipment")
    assert request.status == "succeeded"
    assert ShipmentConfirmation.objects.get().status == "sent"
    confirmations = amazon.order_shipments("202-5555555-5555555")
    assert len(confirmations) == 1
    assert confirmations[0]["packageDetail"]["trackingNumber"] == "RM000111222GB"
    assert Order.objects.get(external_id="202-5555555-5555555").status == "shipped"

    # Amazon now lists our confirmation as the order's package: it is ours already, not a second shipment.
    later = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    amazon.patch_order("202-5555555-5555555", OrderStatus="Shipped", LastUpdateDate=later)
    assert amazon_orders_sync(account=account, marketplace_id=UK, ignore_backoff=True).stats.updated == 1
    assert list(Shipment.objects.values_list("source", flat=True)) == ["erp"]


def test_shipping_more_than_ordered_is_refused(amazon: SpApiSimulatorControl, fbm_order: Order) -> None:
    erp = erp_api()
    line = fbm_order.lines.get(external_id="11")
    response = erp.post(
        "/api/v1/erp/shipments/",
        {"order_id": fbm_order.pk, "shipment_ref": "X1", "carrier": "DPD", "tracking_number": "1",
         "ship_date": "2026-11-21T09:00:00Z", "lines": [{"line_ref": line.pk, "quantity": 3}]},
        format="json",
    )  # fmt: skip
    assert response.status_code == 400 and "exceed the 2 ordered" in response.json()["message"]


def test_unmapped_amazon_sku_holds_fulfilment_until_mapped(
    amazon: SpApiSimulatorControl, opayo: Any, web_order: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    SkuMapping.objects.filter(seller_sku="FBA-MUG").delete()
    order = paid_web_order(web_order, opayo, django_capture_on_commit_callbacks)
    assert order.status == "on_hold" and order.hold_code == "fulfillment_data"
    assert "no Amazon SKU is mapped to item 'MUG-0001'" in order.hold_reason
    item = ExceptionItem.objects.get(kind="fulfillment_problem", status="open")

    SkuMapping.objects.create(seller_account=SellerAccount.objects.get(), seller_sku="FBA-MUG", erp_item_id="MUG-0001")
    with django_capture_on_commit_callbacks(execute=True):
        exception_reprocess(item=item, actor="user:ops")
    order.refresh_from_db()
    assert order.status == "fulfilment_requested" and FulfillmentOrder.objects.get(order=order).status == "New"


def test_unfulfillable_holds_and_cancelled_gives_the_money_back(
    amazon: SpApiSimulatorControl, opayo: Any, web_order: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    order = paid_web_order(web_order, opayo, django_capture_on_commit_callbacks)
    fulfillment = FulfillmentOrder.objects.get(order=order)
    amazon.advance_fulfillment_order(fulfillment.seller_fulfillment_order_id, "Cancelled")
    with django_capture_on_commit_callbacks(execute=True):
        fba_fulfillment_refresh(fulfillment_id=fulfillment.pk)
    order.refresh_from_db()
    # Released today: the payment is voided, so the shopper is never charged.
    assert order.status == "cancelled" and order.payment.status == "voided"
