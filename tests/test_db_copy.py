"""COPY-based row writers (config/common/db.py): the same rows bulk_create would write, errors as Django's."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from config.common.db import copy_insert, copy_upsert, copy_values
from orders.models import Order, OrderEvent, OrderLine, OrderStatus, SellerAccount

pytestmark = pytest.mark.django_db


def _order(external_id: str, **kwargs: object) -> Order:
    kwargs.setdefault("channel", Order.Channel.ECOMMERCE)
    kwargs.setdefault("purchased_at", timezone.now())
    return Order(
        external_id=external_id,
        status=OrderStatus.AUTHORISED,
        **kwargs,
    )


def test_copy_insert_sets_pks_stamps_and_stores_prepared_values(account: SellerAccount) -> None:
    purchased = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    orders = [
        _order(
            "A-1",
            channel=Order.Channel.AMAZON,
            seller_account=account,
            purchased_at=purchased,
            total_amount=Decimal("12.30"),
            currency="GBP",
            metadata={"campaign": "x", "nested": [1, "two"], "quote": 'a"b\\c\n'},
            is_prime=True,
        ),
        _order("A-2", ship_service_level="tab\there"),
    ]
    copy_insert(orders, key=["channel", "external_id"])

    assert all(o.pk is not None and not o._state.adding for o in orders)
    assert orders[0].created_at == orders[0].updated_at
    stored = Order.objects.get(pk=orders[0].pk)
    assert stored.external_id == "A-1" and stored.seller_account_id == account.pk
    assert stored.purchased_at == purchased and stored.total_amount == Decimal("12.30") and stored.is_prime
    assert stored.metadata == {"campaign": "x", "nested": [1, "two"], "quote": 'a"b\\c\n'}
    assert stored.created_at == orders[0].created_at
    assert Order.objects.get(pk=orders[1].pk).ship_service_level == "tab\there"


def test_copy_insert_takes_related_objects_ids_and_needs_no_key() -> None:
    order = _order("A-3")
    copy_insert([order], key=["channel", "external_id"])
    events = [OrderEvent(order=order, kind=OrderEvent.Kind.NOTE, actor="t", message=f"m{n}") for n in range(3)]
    copy_insert(events)
    assert list(OrderEvent.objects.filter(order=order).order_by("message").values_list("message", flat=True)) == [
        "m0",
        "m1",
        "m2",
    ]
    assert all(e.created_at is not None for e in OrderEvent.objects.filter(order=order))


def test_copy_insert_runs_the_preparation_of_field_subclasses() -> None:
    """EncryptedTextField is a TextField subclass: its values must be encrypted, not copied as they are."""
    account = SellerAccount(
        name="Copied",
        selling_partner_id="A1COPIED00001",
        region="eu",
        lwa_client_id="client",
        lwa_client_secret="secret-plain",
        refresh_token="Atzr|plain",
    )
    copy_insert([account], key=["name"])
    with connection.cursor() as cursor:
        cursor.execute("SELECT refresh_token FROM orders_selleraccount WHERE id = %s", [account.pk])
        (raw,) = cursor.fetchone()
    assert "Atzr" not in raw
    assert SellerAccount.objects.get(pk=account.pk).refresh_token == "Atzr|plain"


def test_copy_insert_duplicate_is_djangos_integrity_error() -> None:
    copy_insert([_order("A-4")], key=["channel", "external_id"])
    with pytest.raises(IntegrityError), transaction.atomic():
        copy_insert([_order("A-4")], key=["channel", "external_id"])
    assert Order.objects.filter(external_id="A-4").count() == 1


def test_copy_upsert_inserts_then_updates_only_the_update_fields() -> None:
    order = _order("A-5")
    copy_insert([order], key=["channel", "external_id"])
    fields = {"unique_fields": ["order", "external_id"], "update_fields": ["title", "item_price", "updated_at"]}

    def line(external_id: str, title: str, price: str, sku: str = "SKU-1") -> OrderLine:
        return OrderLine(
            order=order,
            external_id=external_id,
            seller_sku=sku,
            title=title,
            quantity_ordered=1,
            item_price=Decimal(price),
        )

    copy_upsert([line("1", "first", "1.00")], **fields)
    created = OrderLine.objects.get(order=order, external_id="1")
    copy_upsert([line("1", "renamed", "2.50", sku="OTHER"), line("2", "second", "3.00")], **fields)

    lines = {ln.external_id: ln for ln in OrderLine.objects.filter(order=order)}
    assert set(lines) == {"1", "2"}
    assert lines["1"].pk == created.pk and lines["1"].title == "renamed" and lines["1"].item_price == Decimal("2.50")
    assert lines["1"].seller_sku == "SKU-1", "not an update field: kept"
    assert lines["1"].created_at == created.created_at and lines["1"].updated_at > created.updated_at
    with connection.cursor() as cursor:  # the staging table is left empty for the next page
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relname LIKE '\\_copy\\_orders\\_orderline\\_%%'"
            " AND pg_table_is_visible(oid)"
        )
        (staging,) = cursor.fetchone()
        cursor.execute(f'SELECT count(*) FROM "{staging}"')
        assert cursor.fetchone() == (0,)


def test_copy_upsert_constraint_violation_is_djangos_integrity_error() -> None:
    order = _order("A-6")
    copy_insert([order], key=["channel", "external_id"])
    line = OrderLine(order=order, external_id="1", seller_sku="S", quantity_ordered=-1)  # a CHECK constraint
    with pytest.raises(IntegrityError), transaction.atomic():
        copy_upsert([line], unique_fields=["order", "external_id"], update_fields=["title"])


def test_copy_values_writes_rows_as_given_and_finds_their_pks_by_key() -> None:
    now = timezone.now()
    text = ["marketplace_id", "source_status", "hold_code", "hold_reason", "fulfillment_channel", "sales_channel"]
    text += ["order_type", "ship_service_level", "currency"]
    columns = ["created_at", "updated_at", "channel", "external_id", "status", "purchased_at", "metadata", *text]
    columns += ["is_business_order", "is_prime", "is_replacement"]

    def row(external_id: str, n: int) -> tuple[object, ...]:
        metadata = json.dumps({"n": n, "q": "a\tb"})  # JSON as its text
        return (now, now, Order.Channel.ECOMMERCE, external_id, OrderStatus.AUTHORISED, now, metadata, *[""] * 9,
                False, n == 2, False)  # fmt: skip

    pks = copy_values(Order, columns, [row(f"V-{n}", n) for n in range(3)], key=["channel", "external_id"])

    assert set(pks) == {(Order.Channel.ECOMMERCE, f"V-{n}") for n in range(3)}
    stored = Order.objects.get(pk=pks[(Order.Channel.ECOMMERCE, "V-2")])
    assert stored.external_id == "V-2" and stored.metadata == {"n": 2, "q": "a\tb"} and stored.is_prime
    assert stored.total_amount is None  # a column left out is NULL
    assert copy_values(Order, columns, [row("V-9", 9)]) == {}  # no key: nothing looked up
    with pytest.raises(IntegrityError), transaction.atomic():
        copy_values(Order, columns, [row("V-0", 0)], key=["channel", "external_id"])  # a row already there
