"""The operator console: every page an operator opens renders, and the actions do what they say."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from config.common.models import ExceptionItem
from mappings.models import SkuMapping
from orders.models import AmazonOrderSnapshot, Order, SellerAccount
from tests.amazon_payloads import amazon_item, amazon_order, full_address
from tests.orders.test_amazon_ingest import ingest


@pytest.fixture
def data(account: SellerAccount, mapped_skus: list[str]) -> None:
    ingest(
        account,
        [
            (amazon_order("202-0000001-0000001"), [amazon_item()], full_address()),
            (amazon_order("202-0000002-0000002"), [amazon_item("NEW-SKU")], full_address()),
            (amazon_order("202-0000003-0000003", total="abc"), [amazon_item()], full_address()),
        ],
    )


@pytest.mark.parametrize(
    "url",
    [
        "admin:index",
        "admin:orders_order_changelist",
        "admin:orders_amazonordersnapshot_changelist",
        "admin:orders_selleraccount_changelist",
        "admin:orders_synccursor_changelist",
        "admin:common_exceptionitem_changelist",
        "admin:mappings_skumapping_changelist",
        "admin:mappings_statusmapping_changelist",
        "admin:mappings_skumapping_import",
        "admin:mappings_skumapping_export",
        "admin:orders_selleraccount_add",
    ],
)
def test_pages_render(admin_client: Any, data: None, url: str) -> None:
    assert admin_client.get(reverse(url)).status_code == 200


def test_order_change_page_shows_lines_events_and_raw_link(admin_client: Any, data: None) -> None:
    order = Order.objects.get(external_id="202-0000001-0000001")
    page = admin_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "SKU-0001" in page and "Imported from Amazon" in page and "Amazon snapshot (as received)" in page


def test_snapshot_page_shows_payload_escaped(admin_client: Any, data: None) -> None:
    snapshot = AmazonOrderSnapshot.objects.get(amazon_order_id="202-0000003-0000003")
    page = admin_client.get(reverse("admin:orders_amazonordersnapshot_change", args=[snapshot.pk])).content.decode()
    assert "grandTotal.amount" in page and "&quot;abc&quot;" in page


def test_account_secrets_are_never_rendered(admin_client: Any, account: SellerAccount) -> None:
    page = admin_client.get(reverse("admin:orders_selleraccount_change", args=[account.pk])).content.decode()
    assert account.refresh_token not in page and account.lwa_client_secret not in page


def test_account_edit_with_blank_secret_keeps_it(admin_client: Any, account: SellerAccount) -> None:
    url = reverse("admin:orders_selleraccount_change", args=[account.pk])
    response = admin_client.post(
        url,
        {
            "name": "Renamed",
            "selling_partner_id": account.selling_partner_id,
            "region": "eu",
            "lwa_client_id": account.lwa_client_id,
            "lwa_client_secret": "",
            "refresh_token": "",
            "is_active": "on",
            "marketplaces-TOTAL_FORMS": "0",
            "marketplaces-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    account.refresh_from_db()
    assert account.name == "Renamed" and account.refresh_token.startswith("Atzr|")


def test_secrets_are_encrypted_in_the_database(account: SellerAccount) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT refresh_token, lwa_client_secret FROM orders_selleraccount WHERE id = %s", [account.pk])
        stored = cursor.fetchone()
    assert "Atzr|" not in stored[0] and stored[0].startswith("gAAAA")
    assert "secret" not in stored[1]


def test_exception_queue_reprocess_action(admin_client: Any, data: None) -> None:
    item = ExceptionItem.objects.get(kind=ExceptionItem.Kind.UNKNOWN_SKU)
    SkuMapping.objects.create(seller_sku="NEW-SKU", erp_item_id="SL-NEW")
    response = admin_client.post(
        reverse("admin:common_exceptionitem_changelist"),
        {"action": "reprocess", "_selected_action": [item.pk]},
        follow=True,
    )
    assert "1 exception(s) reprocessed and resolved" in response.content.decode()
    assert Order.objects.get(external_id="202-0000002-0000002").status == "authorised"


def test_exception_queue_reports_still_failing(admin_client: Any, data: None) -> None:
    item = ExceptionItem.objects.get(kind=ExceptionItem.Kind.MALFORMED_PAYLOAD)
    response = admin_client.post(
        reverse("admin:common_exceptionitem_changelist"),
        {"action": "reprocess", "_selected_action": [item.pk]},
        follow=True,
    )
    assert "still fail after reprocessing" in response.content.decode()
    page = admin_client.get(reverse("admin:common_exceptionitem_change", args=[item.pk])).content.decode()
    assert "grandTotal.amount" in page


def test_dead_letters_are_discarded_with_a_reason(admin_client: Any, data: None) -> None:
    from django.utils import timezone

    from config.common.models import OutboundRequest

    request = OutboundRequest.objects.create(
        operation="amazon.confirm_shipment", provider="amazon", idempotency_key="dead-1", status="failed",
        last_error="400 InvalidInput", max_attempts=8, attempts=8, next_attempt_at=timezone.now(),
    )  # fmt: skip
    url = reverse("admin:common_outboundrequest_changelist")
    page = admin_client.post(url, {"action": "discard_failed", "_selected_action": [request.pk]}, follow=True)
    assert "Say why" in page.content.decode()
    admin_client.post(url, {"action": "discard_failed", "_selected_action": [request.pk], "reason": "order cancelled"})
    request.refresh_from_db()
    assert request.status == "cancelled" and "order cancelled" in request.last_error
    item = ExceptionItem.objects.filter(status="open").first()
    assert item is not None
    admin_client.post(reverse("admin:common_exceptionitem_changelist"),
                      {"action": "discard", "_selected_action": [item.pk], "reason": "known test order"})  # fmt: skip
    item.refresh_from_db()
    assert item.status == "discarded" and "known test order" in item.resolution_note
