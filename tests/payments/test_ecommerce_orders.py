from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient

from config.common.models import ExceptionItem
from config.common.services import exception_reprocess
from orders.models import EcommerceOrderSubmission, Order
from tests.factories import SkuMappingFactory
from tests.payments.conftest import ecommerce_order_payload


def test_order_is_created_pending_payment_with_mapped_lines(web_order: dict[str, Any]) -> None:
    assert web_order["channel"] == "ecommerce" and web_order["status"] == "pending_payment"
    assert [ln["item_id"] for ln in web_order["lines"]] == ["TNT-0002", "MUG-0001"]
    assert web_order["addresses"][0]["postal_code"] == "SW1Y 4JH" and web_order["addresses"][0]["country_code"] == "GB"
    assert web_order["metadata"] == {"campaign_id": "SPRING26"} and web_order["total_amount"] == "59.97"
    assert EcommerceOrderSubmission.objects.get().state == "processed"


def test_same_order_twice_is_created_once(api: APIClient, web_order: dict[str, Any]) -> None:
    again = api.post("/api/v1/orders/ecommerce/", ecommerce_order_payload(), format="json")
    assert again.status_code == 200 and again.json()["id"] == web_order["id"]
    assert Order.objects.count() == 1 and EcommerceOrderSubmission.objects.count() == 2


def test_different_order_under_a_used_number_is_refused_and_kept(api: APIClient, web_order: dict[str, Any]) -> None:
    response = api.post("/api/v1/orders/ecommerce/", ecommerce_order_payload(total_amount="1.00"), format="json")
    assert response.status_code == 400 and "different content" in response.json()["message"]
    rejected = EcommerceOrderSubmission.objects.get(state="rejected")
    assert rejected.payload["total_amount"] == "1.00"


def test_bad_payload_is_a_clear_400_and_stored(api: APIClient, web_skus: None) -> None:
    payload = ecommerce_order_payload(currency="pounds", total_amount="12,50", lines=[])
    response = api.post("/api/v1/orders/ecommerce/", payload, format="json")
    assert response.status_code == 400
    assert set(response.json()["extra"]["fields"]) == {"currency", "total_amount", "lines"}
    stored = EcommerceOrderSubmission.objects.get()
    assert stored.state == "rejected" and "total_amount" in stored.error and stored.payload["total_amount"] == "12,50"


def test_unknown_sku_holds_until_mapped_and_reprocessed(api: APIClient, web_skus: None) -> None:
    payload = ecommerce_order_payload(
        lines=[{"sku": "WEB-NEW", "quantity": 2, "item_price": "59.97"}], external_id="WEB-2000"
    )
    body = api.post("/api/v1/orders/ecommerce/", payload, format="json").json()
    assert body["status"] == "on_hold" and body["hold_code"] == "unknown_sku"
    item = ExceptionItem.objects.get(kind="unknown_sku")
    SkuMappingFactory.create(seller_sku="WEB-NEW", erp_item_id="NEW-1")
    exception_reprocess(item=item, actor="user:ops")
    order = Order.objects.get(external_id="WEB-2000")
    item.refresh_from_db()
    assert order.status == "pending_payment" and order.lines.get().item_id == "NEW-1" and item.status == "resolved"


def test_a_card_number_in_the_payload_is_refused_and_not_stored(api: APIClient, web_skus: None, caplog: Any) -> None:
    """A shop that pastes a card number into a note (or anywhere) gets a 400 naming the field; nothing is kept, and
    neither the log nor the answer repeats the number."""
    payload = ecommerce_order_payload(metadata={"gift_note": "paid with 4929 0000 0000 6, thanks"})
    response = api.post("/api/v1/orders/ecommerce/", payload, format="json")
    assert response.status_code == 400
    assert response.json()["extra"]["fields"] == ["metadata.gift_note"]
    assert "card number" in response.json()["message"] and "4929" not in response.content.decode()
    assert EcommerceOrderSubmission.objects.count() == 0 and Order.objects.count() == 0
    assert "metadata.gift_note" in caplog.text and "4929" not in caplog.text

    payload = ecommerce_order_payload(metadata={"5403 8149 4860 8092": "as a key"})
    response = api.post("/api/v1/orders/ecommerce/", payload, format="json")
    assert response.status_code == 400 and "8092" not in response.content.decode() and "8092" not in caplog.text
    assert response.json()["extra"]["fields"] == ["metadata.(a key that looks like a card number)"]
