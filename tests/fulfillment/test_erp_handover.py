"""Sales orders and credit memos go to the ERP exactly once, shaped for Dynamics SL."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from config.common.models import ExceptionItem
from config.common.services import exception_reprocess
from fulfillment.models import ErpBatch, ErpHandover
from mappings.models import FieldMappingRule, FieldMappingTemplate, SkuMapping
from orders.models import Address, Order
from tests.fulfillment.conftest import ack, erp_api, pull


def test_sales_order_is_shaped_for_sl(erp: APIClient, fbm_order: Order) -> None:
    batch = pull(erp)
    [doc] = batch["documents"]
    assert doc["OrdNbr"] == "202-1111111-1111111" and doc["CustID"] == "AMZ-UK" and doc["CuryID"] == "GBP"
    assert doc["FulfilledBy"] == "MERCHANT" and doc["OrdTotal"] == "35.97"
    assert doc["ShipTo"] == {
        "Name": "Jane Doe", "Addr1": "10 Downing Street", "Addr2": "", "City": "London", "State": "",
        "Zip": "SW1A 2AA", "Country": "GB", "Phone": "+44 20 7946 0000",
    }  # fmt: skip
    first = doc["Lines"][0]
    assert (first["InvtID"], first["QtyOrd"], first["SlsPrice"], first["ExtPrice"]) == (
        "ITEM-SKU-0001",
        2,
        "11.99",
        "23.98",
    )
    assert str(fbm_order.lines.get(external_id="11").pk) == first["LineRef"]


def test_retried_pull_returns_the_same_batch_and_ack_ends_it(erp: APIClient, fbm_order: Order) -> None:
    first = pull(erp)
    again = pull(erp)
    assert again["batch_id"] == first["batch_id"] and again["pulls"] == 2 and again["documents"] == first["documents"]
    assert ack(erp, first["batch_id"])["acknowledged_at"] is not None
    assert ack(erp, first["batch_id"])["acknowledged_at"] is not None  # idempotent
    after = pull(erp)
    assert after == {"batch_id": None, "kind": "sales_order", "pulls": 0, "acknowledged_at": None, "documents": []}, (
        after
    )


def test_each_erp_client_gets_each_order_once(erp: APIClient, fbm_order: Order) -> None:
    other = erp_api("Second ERP")
    a, b = pull(erp), pull(other)
    assert a["batch_id"] != b["batch_id"] and len(a["documents"]) == len(b["documents"]) == 1
    assert ErpHandover.objects.count() == 2


def test_limit_pages_through_orders(erp: APIClient, account: Any, mapped_skus: Any) -> None:
    from tests.amazon_payloads import amazon_item, amazon_order, full_address
    from tests.orders.test_amazon_ingest import ingest

    ingest(
        account,
        [(amazon_order(f"202-0000000-{n:07d}"), [amazon_item(item_id=str(n))], full_address()) for n in range(5)],
    )
    seen = []
    while True:
        batch = pull(erp, limit=2)
        if batch["batch_id"] is None:
            break
        assert len(batch["documents"]) <= 2
        seen += [d["OrdNbr"] for d in batch["documents"]]
        ack(erp, batch["batch_id"])
    assert sorted(seen) == sorted(f"202-0000000-{n:07d}" for n in range(5))


def test_pending_and_held_orders_are_not_sales_orders(erp: APIClient, account: Any, mapped_skus: Any) -> None:
    from tests.amazon_payloads import amazon_item, amazon_order
    from tests.orders.test_amazon_ingest import ingest

    ingest(account, [(amazon_order("202-2222222-0000001", status="Pending"), [amazon_item(pending=True)], None)])
    ingest(account, [(amazon_order("202-2222222-0000002"), [amazon_item("UNMAPPED")], None)])
    assert pull(erp)["documents"] == []


def test_missing_address_holds_the_order_until_fixed(erp: APIClient, fbm_order: Order) -> None:
    Address.objects.filter(order=fbm_order).update(postal_code="", city="")
    assert pull(erp)["documents"] == []
    fbm_order.refresh_from_db()
    assert fbm_order.status == "on_hold" and fbm_order.hold_code == "erp_data"
    assert "ship-to has no city" in fbm_order.hold_reason and "postal code" in fbm_order.hold_reason
    item = ExceptionItem.objects.get(kind="erp_data")

    Address.objects.filter(order=fbm_order).update(postal_code="SW1A 2AA", city="London")
    exception_reprocess(item=item, actor="user:ops")
    fbm_order.refresh_from_db()
    item.refresh_from_db()
    assert fbm_order.status == "authorised" and item.status == "resolved"
    assert [d["OrdNbr"] for d in pull(erp)["documents"]] == [fbm_order.external_id]


def test_long_street_flows_into_addr2_or_holds(erp: APIClient, fbm_order: Order) -> None:
    Address.objects.filter(order=fbm_order).update(
        line1="Flat 12, The Old Brewery Building, 144 Long Acre Road Industrial Estate", line2="Rear entrance"
    )
    [doc] = pull(erp)["documents"]
    assert doc["ShipTo"]["Addr1"] == "Flat 12, The Old Brewery Building, 144 Long Acre Road"
    assert doc["ShipTo"]["Addr2"] == "Industrial Estate Rear entrance"


def test_custom_field_rules_and_product_attributes(erp: APIClient, fbm_order: Order) -> None:
    header = FieldMappingTemplate.objects.create(name="SL custom", target="erp_sales_order")
    FieldMappingRule.objects.create(
        template=header, source_path="amazon.IsPrime", target_field="User1", transform="copy"
    )
    FieldMappingRule.objects.create(
        template=header, source_path="order.marketplace_id", target_field="SiteID", transform="lookup",
        argument='{"A1F83G8C2ARO7P": "UK-MAIN"}', default="EU-MAIN",
    )  # fmt: skip
    FieldMappingRule.objects.create(
        template=header, target_field="CustOrdNbr", transform="format", argument="AMZ/{order.external_id}"
    )
    FieldMappingRule.objects.create(template=header, target_field="SlsperId", transform="constant", argument="AMAZON")
    lines = FieldMappingTemplate.objects.create(name="SL lines", target="erp_order_line")
    FieldMappingRule.objects.create(
        template=lines, source_path="product.attributes.hs_code", target_field="HSCode", transform="copy", default="n/a"
    )
    SkuMapping.objects.filter(seller_sku="SKU-0001").update(attributes={"hs_code": "6306.22"})
    [doc] = pull(erp)["documents"]
    assert doc["CustomFields"] == {"User1": "false", "SiteID": "UK-MAIN", "CustOrdNbr": "AMZ/202-1111111-1111111",
                                   "SlsperId": "AMAZON"}  # fmt: skip
    assert [line["CustomFields"]["HSCode"] for line in doc["Lines"]] == ["6306.22", "n/a"]


def test_required_custom_field_missing_holds(erp: APIClient, fbm_order: Order) -> None:
    template = FieldMappingTemplate.objects.create(name="SL", target="erp_sales_order")
    FieldMappingRule.objects.create(
        template=template, source_path="order.metadata.po_number", target_field="CustPO", required=True
    )
    assert pull(erp)["documents"] == []
    fbm_order.refresh_from_db()
    assert fbm_order.hold_code == "erp_data" and "CustPO is required" in fbm_order.hold_reason


def test_only_erp_clients_use_the_erp_api(db: None, fbm_order: Order) -> None:
    from django.contrib.auth.models import Group, User
    from rest_framework.authtoken.models import Token

    from config.common.auth import api_client_issue

    user = User.objects.create_superuser("u")  # not even a superuser: the batches are the client's own
    user.groups.add(Group.objects.get(name="Operations"))
    user_api = APIClient()
    user_api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    assert user_api.post("/api/v1/erp/sales-orders/pull/", {}, format="json").status_code == 403
    _, shop_token = api_client_issue(name="shop", kind="ecommerce")
    shop = APIClient()
    shop.credentials(HTTP_AUTHORIZATION=f"Bearer {shop_token}")
    assert shop.post("/api/v1/erp/sales-orders/pull/", {}, format="json").status_code == 403
    assert APIClient().post("/api/v1/erp/sales-orders/pull/", {}, format="json").status_code == 401
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Bearer nope")
    assert bad.post("/api/v1/erp/sales-orders/pull/", {}, format="json").status_code == 401
    assert erp_api().get("/api/v1/orders/").status_code == 200  # the ERP may read orders too


def test_acknowledging_someone_elses_batch_is_refused(erp: APIClient, fbm_order: Order) -> None:
    batch = pull(erp)
    other = erp_api("Other")
    response = other.post("/api/v1/erp/sales-orders/ack/", {"batch_id": batch["batch_id"]}, format="json")
    assert response.status_code == 400 and "not one of yours" in response.json()["message"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_pulls_by_one_client_share_one_batch(account: Any, mapped_skus: Any) -> None:
    from tests.amazon_payloads import amazon_item, amazon_order, full_address
    from tests.orders.test_amazon_ingest import ingest

    ingest(
        account,
        [(amazon_order(f"202-3000000-{n:07d}"), [amazon_item(item_id=str(n))], full_address()) for n in range(6)],
    )
    erp = erp_api()
    barrier = threading.Barrier(4)
    results: list[dict[str, Any]] = []

    def go() -> None:
        try:
            barrier.wait()
            results.append(pull(erp))
        finally:
            connection.close()

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r["batch_id"] for r in results}) == 1 and ErpBatch.objects.count() == 1
    assert ErpHandover.objects.count() == 6


def test_credit_memos_for_refunds_and_cancellations(
    erp: APIClient, api: APIClient, web_order: dict[str, Any], django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    from decimal import Decimal

    from payments.models import Payment, PaymentTransaction, Refund

    order = Order.objects.get(pk=web_order["id"])
    payment = Payment.objects.create(order=order, currency="GBP", status="captured", amount_authorised=Decimal("59.97"),
                                     amount_captured=Decimal("59.97"))  # fmt: skip
    original = PaymentTransaction.objects.create(payment=payment, kind="payment", vendor_tx_code="W-1", state="ok",
                                                 amount=Decimal("59.97"), currency="GBP")  # fmt: skip
    refund_tx = PaymentTransaction.objects.create(
        payment=payment, kind="refund", parent=original, vendor_tx_code="LL-R1", state="ok", amount=Decimal("9.99"),
        currency="GBP",
    )  # fmt: skip
    Refund.objects.create(payment=payment, transaction=refund_tx, amount=Decimal("9.99"), currency="GBP",
                          reason="broken mug", status="succeeded", requested_by="ops")  # fmt: skip
    memos = pull(erp, "credit-memos")
    [memo] = memos["documents"]
    assert (memo["Type"], memo["Amount"], memo["OrdNbr"], memo["PaymentReference"]) == (
        "refund", "9.99", "WEB-1001", "LL-R1",
    )  # fmt: skip
    ack(erp, memos["batch_id"], "credit-memos")
    assert pull(erp, "credit-memos")["documents"] == []
