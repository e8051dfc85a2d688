"""Issue 13, card data: what an attacker got stored, one test each, and the guard on every other inbound path."""

from __future__ import annotations

import io
import json
import logging
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
import tablib
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from config.common.models import RateLimitBucket
from config.common.pan import card_numbers, card_numbers_mask
from mappings.models import SkuMapping
from mappings.resources import SkuMappingResource
from orders.models import EcommerceOrderSubmission
from payments.models import OpayoNotification, Payment
from tests.payments.conftest import api, ecommerce_order_payload, web_order, web_skus  # noqa: F401
from tests.payments.test_notifications import URL, notification, server_payment  # noqa: F401

CARD = "4111111111111111"
FORM = "application/x-www-form-urlencoded"


def register_body(order: dict[str, Any], transaction_id: Any) -> dict[str, Any]:
    return {"order_id": order["id"], "vendor_tx_code": "WEB-1001-7", "transaction_type": "Payment",
            "amount": "59.97", "currency": "GBP", "transaction_id": transaction_id}  # fmt: skip


def assert_refused(response: Any, caplog: pytest.LogCaptureFixture) -> None:
    assert response.status_code == 400, response.content
    assert "card number" in response.json()["message"]
    assert "4111" not in response.content.decode() and "4111" not in caplog.text


def test_multipart_post_with_a_card_number_is_refused(
    api: APIClient,  # noqa: F811
    web_order: dict[str, Any],  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    response = api.post("/api/v1/payments/", register_body(web_order, CARD), format="multipart")
    assert_refused(response, caplog)
    assert response.json()["extra"]["fields"] == ["transaction_id"]
    assert not Payment.objects.exists()


def test_multipart_text_file_part_with_a_card_number_is_refused(
    api: APIClient,  # noqa: F811
    web_order: dict[str, Any],  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    upload = io.BytesIO(f"note,card\nhello,{CARD}\n".encode())
    upload.name = "notes.csv"
    body = {**register_body(web_order, "ABC"), "attachment": upload}
    response = api.post("/api/v1/payments/", body, format="multipart")
    assert_refused(response, caplog)
    assert response.json()["extra"]["fields"] == ["attachment"]


@pytest.mark.parametrize(
    "raw",
    [
        '"transaction_id": 4111111111111111.0',  # a JSON float
        '"transaction_id": 4.111111111111111e15',  # exponent notation
        '"transaction_id": 4111111111111111110.0',  # 19 digits: a float no longer holds them all
        '"transaction_id": "4111.1111.1111.1111"',
        '"transaction_id": "4111  1111  1111  1111"',  # two spaces
        '"transaction_id": "4111\u00a01111\u00a01111\u00a01111"',  # NBSP
        '"transaction_id": "4111/1111/1111/1111"',
        '"transaction_id": "4111_1111_1111_1111"',
        '"transaction_id": "pan4111111111111111"',  # glued to letters
        '"transaction_id": "+4111111111111111"',
        '"transaction_id": "' + "\uff14" + "\uff11" * 15 + '"',  # fullwidth digits
    ],
)
def test_json_card_number_forms_are_refused(
    api: APIClient,  # noqa: F811
    web_order: dict[str, Any],  # noqa: F811
    caplog: pytest.LogCaptureFixture,
    raw: str,
) -> None:
    body = json.dumps(register_body(web_order, "X")).replace('"transaction_id": "X"', raw)
    response = api.generic("POST", "/api/v1/payments/", body, content_type="application/json")
    assert_refused(response, caplog)
    assert not Payment.objects.exists()


def test_form_post_repeating_a_field_is_refused_for_every_value(
    api: APIClient,  # noqa: F811
    web_skus: None,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A form keeps every value of a repeated field; the stored submission kept them all, the check read the last."""
    body = urlencode([("external_id", "WEB-9"), ("note", CARD), ("note", "fine")])
    response = api.generic("POST", "/api/v1/orders/ecommerce/", body, content_type="application/x-www-form-urlencoded")
    assert_refused(response, caplog)
    assert not EcommerceOrderSubmission.objects.exists()


def test_ids_are_not_card_numbers(api: APIClient, web_order: dict[str, Any]) -> None:  # noqa: F811
    """Digits inside a UUID, a task id or a digest, an order total and an Amazon order id are not cards."""
    for transaction_id in ("5A1BC414-5409-48DD-9B8B-DCDF096CE0BE", "ab4596946483487f0c1d2e3f4a5b6c7d"):
        response = api.post("/api/v1/payments/", register_body(web_order, transaction_id), format="json")
        assert response.status_code != 400 or "card number" not in response.json()["message"], response.json()
    assert card_numbers("405-1111111-1111111 2026-11-30 59.97 GBP") == []


# --- Opayo Server notifications: verified as received, stored masked, answered --------------------------------


def test_notification_with_a_card_number_is_verified_then_stored_masked(
    client: Client,
    server_payment: Payment,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    fields = notification(StatusDetail=f"0000 : Card {CARD} authorised")  # StatusDetail is not signed
    fields["CardNumber"] = "4111 1111 1111 1111"
    response = client.post(URL, data=urlencode(fields), content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200 and response.content.decode().startswith("Status=OK")
    note = OpayoNotification.objects.get()
    assert note.signature_valid and note.masked and note.outcome in ("received", "applied")
    assert card_numbers(note.body) == [] and "4111" not in note.body and "4111" not in caplog.text
    stored = dict(parse_qsl(note.body))
    assert stored["CardNumber"] == "[card number removed]" and stored["Last4Digits"] == "0006"
    assert stored["ExpiryDate"] == "1229" and stored["StatusDetail"] == "0000 : Card [card number removed] authorised"


def test_signed_field_with_a_card_number_still_verifies_on_the_original(
    client: Client,
    server_payment: Payment,  # noqa: F811
) -> None:
    fields = notification(CAVV=CARD)  # a signed field: the signature is over the original value
    response = client.post(URL, data=urlencode(fields), content_type="application/x-www-form-urlencoded")
    assert response.content.decode().startswith("Status=OK")
    note = OpayoNotification.objects.get()
    assert note.signature_valid and note.masked and CARD not in note.body


@pytest.mark.parametrize(
    "body",
    [
        f"CardNumber={CARD}",
        "CardNumber=4111+1111+1111+1111&VendorTxCode=NOPE",
        "CardNumber=4111%2E1111%2E1111%2E1111",
        f"{CARD}=x",
        f"VendorTxCode=NOPE&junk=pan{CARD}",
    ],
)
def test_unauthenticated_body_with_a_card_number_is_stored_masked(client: Client, db: None, body: str) -> None:
    response = client.post(URL, data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200 and response.content.decode().startswith("Status=INVALID")
    note = OpayoNotification.objects.get()
    assert note.masked and card_numbers(note.body) == [] and "4111" not in note.body
    assert "4111" not in note.reply and "4111" not in note.detail


def test_a_clean_notification_is_stored_exactly_as_received(client: Client, db: None) -> None:
    body = "VendorTxCode=NOPE&Status=OK&Last4Digits=0006&ExpiryDate=1229&TxAuthNo=30416885"
    client.post(URL, data=body, content_type="application/x-www-form-urlencoded")
    note = OpayoNotification.objects.get()
    assert note.body == body and not note.masked


def test_notifications_are_rate_limited_per_source_without_storing(
    client: Client, db: None, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.INBOUND_RATE_LIMITS = {"/webhooks/opayo/": [0.001, 3]}
    answers = [
        client.post(URL, data="VendorTxCode=NOPE", content_type="application/x-www-form-urlencoded") for _ in range(5)
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert int(answers[-1]["Retry-After"]) > 0 and "Nothing was stored" in answers[-1].content.decode()
    assert OpayoNotification.objects.count() == 3
    # Another source has its own bucket.
    other = Client(REMOTE_ADDR="203.0.113.9")
    assert other.post(URL, data="VendorTxCode=NOPE", content_type=FORM).status_code == 200
    assert RateLimitBucket.objects.filter(key__startswith="inbound:/webhooks/opayo/:").count() == 2


def test_notification_sources_can_be_limited_to_opayo(client: Client, db: None, settings: Any) -> None:
    settings.INBOUND_ALLOWED_SOURCES = {"/webhooks/opayo/": ["198.51.100.0/24"]}
    refused = client.post(URL, data="VendorTxCode=NOPE", content_type="application/x-www-form-urlencoded")
    assert refused.status_code == 403 and not OpayoNotification.objects.exists()
    opayo = Client(REMOTE_ADDR="198.51.100.7")
    assert opayo.post(URL, data="VendorTxCode=NOPE", content_type=FORM).status_code == 200


# --- Operator paths: mapping imports and admin forms ---------------------------------------------------------


@pytest.mark.parametrize("where", ["cell", "header"])
def test_mapping_import_with_a_card_number_is_refused_whole(
    db: None, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    from tests.factories import SellerAccountFactory

    account = SellerAccountFactory.create(selling_partner_id="A1CARDTEST0001")
    header = f"note {CARD}" if where == "header" else "erp_item_id"
    data = tablib.Dataset(headers=["seller_account", "seller_sku", header, "description"])
    data.append([account.selling_partner_id, "SKU-OK", "ITEM-1", "fine"])
    data.append([account.selling_partner_id, "SKU-CARD", "ITEM-2", f"card 4111-1111-1111-1111 {where}"])
    result = SkuMappingResource().import_data(data, dry_run=False)
    assert result.has_errors()
    assert "card number" in str(result.base_errors[0].error) and "4111" not in str(result.base_errors[0].error)
    assert not SkuMapping.objects.exists() and "4111" not in caplog.text


def test_admin_form_with_a_card_number_is_refused(db: None, caplog: pytest.LogCaptureFixture) -> None:
    User.objects.create_superuser("root", password="pw")
    client = Client()
    client.login(username="root", password="pw")
    response = client.post(
        "/admin/mappings/glaccount/add/", {"code": "4000", "name": f"Sales {CARD}", "kind": "revenue"}
    )
    assert response.status_code == 400 and "name holds what looks like a card number" in response.content.decode()
    assert "4111" not in response.content.decode() and "4111" not in caplog.text
    from mappings.models import GlAccount

    assert not GlAccount.objects.filter(name__startswith="Sales 4").exists()
    assert client.post("/admin/login/", {"username": "x", "password": CARD}).status_code == 200  # never stored


def test_mask_keeps_what_is_not_a_card() -> None:
    assert card_numbers_mask("Last4Digits=0006&ExpiryDate=1229") == ("Last4Digits=0006&ExpiryDate=1229", 0)
    assert card_numbers_mask(f"a {CARD} b 4111 1111 1111 1111 110 c") == (
        "a [card number removed] b [card number removed] c",
        2,
    )


@pytest.fixture(autouse=True)
def _debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


def test_no_false_positives_on_ids_and_tokens() -> None:
    """The glued-digits rule refuses `pan4111…` yet no random id: hex ids of 24+ digits (UUIDs, task ids, digests)
    are judged whole and base64 text practically never holds 13 digits in a row (bench/card_false_positives.py
    measures 200,000 of each kind: 0)."""
    import base64
    import os
    import secrets

    makers = [lambda: secrets.token_hex(12), lambda: secrets.token_hex(20), lambda: secrets.token_hex(32).upper(),
              lambda: "ll_" + secrets.token_urlsafe(32), lambda: base64.b64encode(os.urandom(48)).decode()]  # fmt: skip
    assert not any(card_numbers(make()) for make in makers for _ in range(20_000))


def test_behind_a_load_balancer_the_sender_is_the_address_it_forwarded(db: None, settings: Any) -> None:
    """REMOTE_ADDR is the balancer's; the allow-list and the limits must see Opayo's address, and a sender's own
    X-Forwarded-For entries (left of the balancer's) must not get it in."""
    settings.INBOUND_ALLOWED_SOURCES = {"/webhooks/opayo/": ["198.51.100.0/24"]}
    balancer = Client(REMOTE_ADDR="10.0.0.2")

    def post(forwarded: str) -> Any:
        return balancer.post(URL, data="VendorTxCode=NOPE", content_type=FORM, HTTP_X_FORWARDED_FOR=forwarded)

    # No proxy configured: the header is ignored, whatever it says.
    assert post("198.51.100.7").status_code == 403
    settings.TRUSTED_PROXY_COUNT = 1
    assert post("198.51.100.7").status_code == 200
    assert OpayoNotification.objects.get().remote_addr == "198.51.100.7"
    spoofed = post("198.51.100.7, 203.0.113.66")
    assert spoofed.status_code == 403 and "203.0.113.66" in spoofed.content.decode()
