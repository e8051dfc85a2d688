"""Raw-first ingestion of Amazon orders (Orders 2026-01-01) into the canonical model (no HTTP: payloads are given
directly, written as v0 order + items + address and served in 2026-01-01 shape by the simulator's own mapping)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from config.common.models import ExceptionItem
from config.common.services import exception_reprocess
from mappings.models import StatusMapping
from orders.models import AmazonOrderSnapshot, Order, OrderEvent, OrderLine, OrderStatus, SellerAccount
from orders.services.amazon_ingest import (
    IngestStats,
    amazon_snapshots_process,
    amazon_snapshots_store,
)
from tests.amazon_payloads import amazon_item, amazon_order, full_address, order_2026
from tests.factories import UK, SkuMappingFactory

Page = list[tuple[dict[str, Any], list[dict[str, Any]] | None, dict[str, Any] | None]]


def ingest(account: SellerAccount, page: Page, **kwargs: Any) -> IngestStats:
    """What one polling page does: store raw, process. An entry without an address gets the full ship-to Amazon sends
    an app with the delivery role (`roles=()` to have it withheld)."""
    raw = [order_2026(o, items, address or full_address(), **kwargs) for o, items, address in page]
    return ingest_raw(account, raw)


def ingest_raw(account: SellerAccount, raw: list[Any]) -> IngestStats:
    stored = amazon_snapshots_store(account=account, marketplace_id=UK, raw_orders=raw)
    snapshots = list(AmazonOrderSnapshot.objects.filter(pk__in=[s.pk for s in stored]).order_by("pk"))
    return amazon_snapshots_process(snapshots=snapshots)


def one(order_id: str = "202-0000001-0000001", items: list[dict[str, Any]] | None = None, **kw: Any) -> Page:
    return [(amazon_order(order_id, **kw), items or [amazon_item("SKU-0001")], full_address())]


def test_new_order_becomes_canonical_with_lines_address_and_event(
    account: SellerAccount, mapped_skus: list[str]
) -> None:
    items = [amazon_item("SKU-0001", item_id="1"), amazon_item("SKU-0002", item_id="2", quantity=1, unit_price="5.50")]
    stats = ingest(account, [(amazon_order(total="29.48"), items, full_address())])

    assert (stats.created, stats.failed, stats.held) == (1, 0, 0)
    order = Order.objects.get(external_id="202-0000001-0000001")
    assert order.channel == "amazon" and order.seller_account == account
    assert order.status == OrderStatus.AUTHORISED and order.source_status == "UNSHIPPED"
    assert str(order.total_amount) == "29.48" and order.currency == "GBP"
    lines = {ln.seller_sku: ln for ln in order.lines.all()}
    assert lines["SKU-0001"].item_id == "ITEM-SKU-0001" and str(lines["SKU-0001"].item_price) == "23.98"
    assert lines["SKU-0002"].quantity_ordered == 1
    address = order.addresses.get()
    assert (address.name, address.line1, address.postal_code, address.is_complete) == (
        "Jane Doe",
        "10 Downing Street",
        "SW1A 2AA",
        True,
    )
    assert list(order.events.values_list("kind", flat=True)) == [OrderEvent.Kind.CREATED]
    snapshot = AmazonOrderSnapshot.objects.get()
    assert snapshot.state == snapshot.State.PROCESSED and snapshot.order == order


def test_same_page_twice_changes_nothing(account: SellerAccount, mapped_skus: list[str]) -> None:
    ingest(account, one())
    stats = ingest(account, one())
    assert (stats.created, stats.updated) == (0, 0)
    assert Order.objects.count() == 1 and OrderLine.objects.count() == 1 and OrderEvent.objects.count() == 1


def test_newer_update_moves_status_and_logs_event(account: SellerAccount, mapped_skus: list[str]) -> None:
    ingest(account, one())
    shipped = [amazon_item("SKU-0001", shipped=2)]
    stats = ingest(account, one(items=shipped, status="Shipped", last_update="2026-11-02T08:00:00Z"))

    assert stats.updated == 1
    order = Order.objects.get()
    assert order.status == OrderStatus.SHIPPED
    assert order.lines.get().quantity_shipped == 2
    event = order.events.get(kind=OrderEvent.Kind.STATUS_CHANGED)
    assert (event.from_status, event.to_status) == (OrderStatus.AUTHORISED, OrderStatus.SHIPPED)


def test_older_payload_never_overwrites_newer(account: SellerAccount, mapped_skus: list[str]) -> None:
    ingest(account, one(status="Shipped", last_update="2026-11-02T08:00:00Z"))
    stats = ingest(account, one(status="Unshipped", last_update="2026-11-01T08:00:00Z"))
    assert stats.updated == 0
    assert Order.objects.get().status == OrderStatus.SHIPPED
    assert AmazonOrderSnapshot.objects.get().order_payload["fulfillment"]["fulfillmentStatus"] == "SHIPPED"


def test_pending_order_has_no_prices_then_gets_them(account: SellerAccount, mapped_skus: list[str]) -> None:
    ingest(account, one(items=[amazon_item("SKU-0001", pending=True)], status="Pending"))
    order = Order.objects.get()
    assert order.status == OrderStatus.PENDING_PAYMENT and order.total_amount is None
    assert order.lines.get().item_price is None

    ingest(account, one(last_update="2026-11-01T11:00:00Z"))
    order.refresh_from_db()
    assert order.status == OrderStatus.AUTHORISED and str(order.lines.get().item_price) == "23.98"


def test_unknown_sku_holds_order_and_reprocess_after_mapping_releases_it(
    account: SellerAccount, mapped_skus: list[str]
) -> None:
    stats = ingest(account, one(items=[amazon_item("MYSTERY-1")]))
    assert stats.held == 1
    order = Order.objects.get()
    assert order.status == OrderStatus.ON_HOLD and order.hold_code == Order.HoldCode.UNKNOWN_SKU
    assert "MYSTERY-1" in order.hold_reason and order.lines.get().item_id == ""
    item = ExceptionItem.objects.get(status="open")
    assert item.kind == ExceptionItem.Kind.UNKNOWN_SKU and item.reference == order.external_id

    # Polling again does not duplicate the exception or the hold event.
    ingest(account, one(items=[amazon_item("MYSTERY-1")]))
    assert ExceptionItem.objects.count() == 1 and order.events.filter(kind=OrderEvent.Kind.HELD).count() == 1

    SkuMappingFactory.create(seller_sku="MYSTERY-1", erp_item_id="SL-42")
    exception_reprocess(item=item, actor="user:ops")

    order.refresh_from_db()
    item.refresh_from_db()
    assert order.status == OrderStatus.AUTHORISED and order.hold_code == "" and order.lines.get().item_id == "SL-42"
    assert item.status == ExceptionItem.Status.RESOLVED and item.resolved_by == "user:ops"
    assert order.events.filter(kind=OrderEvent.Kind.RELEASED, actor="user:ops").exists()


def test_cancelled_order_with_unknown_sku_is_not_held(account: SellerAccount, mapped_skus: list[str]) -> None:
    ingest(account, one(items=[amazon_item("MYSTERY-1")], status="Canceled"))
    order = Order.objects.get()
    assert order.status == OrderStatus.CANCELLED and order.lines.get().item_id == ""
    assert not ExceptionItem.objects.exists()


def test_malformed_order_is_stored_flagged_and_reprocessable(account: SellerAccount, mapped_skus: list[str]) -> None:
    bad = amazon_order("202-0000009-0000009", total="12,50")
    good = amazon_order("202-0000001-0000001")
    page = [order_2026(bad, [amazon_item()], full_address()), order_2026(good, [amazon_item()], full_address())]
    stats = ingest_raw(account, page)

    assert (stats.created, stats.failed) == (1, 1)
    snapshot = AmazonOrderSnapshot.objects.get(amazon_order_id="202-0000009-0000009")
    assert snapshot.state == snapshot.State.FAILED and "proceeds.grandTotal.amount" in snapshot.error
    assert snapshot.order_payload == page[0]  # kept exactly as received
    item = ExceptionItem.objects.get(kind=ExceptionItem.Kind.MALFORMED_PAYLOAD)
    assert "12,50" in item.detail
    assert not Order.objects.filter(external_id="202-0000009-0000009").exists()

    # Reprocessing the same bad payload fails again, visibly, without duplicating the exception.
    exception_reprocess(item=item, actor="user:ops")
    item.refresh_from_db()
    assert item.status == "open" and item.occurrences == 2

    # Amazon corrects the order: the next poll processes it and the exception resolves itself.
    ingest(account, [(amazon_order("202-0000009-0000009", last_update="2026-11-01T12:00:00Z"), [amazon_item()], None)])
    item.refresh_from_db()
    assert item.status == ExceptionItem.Status.RESOLVED
    assert Order.objects.filter(external_id="202-0000009-0000009").exists()


def test_payload_without_order_id_is_kept_once(account: SellerAccount) -> None:
    garbage = {"createdTime": "yesterday", "fulfillment": {"fulfillmentStatus": "UNSHIPPED"}, "orderItems": []}
    ingest_raw(account, [garbage])
    ingest_raw(account, [garbage])
    snapshot = AmazonOrderSnapshot.objects.get()
    assert snapshot.amazon_order_id.startswith("malformed:") and snapshot.state == snapshot.State.FAILED
    assert "orderId" in snapshot.error
    assert ExceptionItem.objects.filter(kind=ExceptionItem.Kind.MALFORMED_PAYLOAD).count() == 1


def _item_in_euro(o: dict[str, Any]) -> None:
    o["orderItems"][0]["proceeds"]["breakdowns"][0]["subtotal"]["currencyCode"] = "EUR"


def _unknown_package(o: dict[str, Any]) -> None:
    o["packages"] = [{"packageReferenceId": "1", "packageItems": [{"orderItemId": "X", "quantity": 1}]}]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda o: o.pop("createdTime"), "createdTime: required field is missing"),
        (lambda o: o.update(lastUpdatedTime="01.11.2026"), "not an ISO 8601 date-time"),
        (_item_in_euro, "mixed currencies"),
        (lambda o: o["proceeds"]["grandTotal"].update(amount="1.999"), "at most 2 places"),
        (lambda o: o["orderItems"][0]["fulfillment"].update(quantityFulfilled=5), "exceeds quantityOrdered"),
        (lambda o: o["orderItems"][0]["product"].pop("sellerSku"), "product.sellerSku: required field is missing"),
        (lambda o: o["orderItems"].clear(), "at least one item"),
        (lambda o: o["fulfillment"].pop("fulfillmentStatus"), "fulfillmentStatus: required field is missing"),
        (_unknown_package, "package names unknown orderItemId X"),
    ],
)  # fmt: skip
def test_malformed_variants_name_the_field(
    account: SellerAccount, mapped_skus: list[str], mutate: Any, message: str
) -> None:
    order = order_2026(amazon_order(), [amazon_item()], full_address())
    mutate(order)
    stats = ingest_raw(account, [order])
    assert stats.failed == 1
    assert message in AmazonOrderSnapshot.objects.get().error


def test_status_mapping_is_data(account: SellerAccount, mapped_skus: list[str]) -> None:
    StatusMapping.objects.filter(source="amazon_order", source_status="UNSHIPPED").update(canonical_status="captured")
    ingest(account, one())
    assert Order.objects.get().status == OrderStatus.CAPTURED


def test_unmapped_status_is_an_exception_not_a_default(account: SellerAccount, mapped_skus: list[str]) -> None:
    ingest(account, one(status="OnTheMoon"))
    assert not Order.objects.exists()
    item = ExceptionItem.objects.get()
    assert item.kind == ExceptionItem.Kind.UNKNOWN_STATUS and "ON_THE_MOON" in item.summary

    StatusMapping.objects.create(source="amazon_order", source_status="ON_THE_MOON", canonical_status="shipped")
    exception_reprocess(item=item, actor="user:ops")
    assert Order.objects.get().status == OrderStatus.SHIPPED
    assert ExceptionItem.objects.get().status == ExceptionItem.Status.RESOLVED


def test_backwards_status_is_recorded_and_flagged_only_if_it_lasts(
    account: SellerAccount, mapped_skus: list[str]
) -> None:
    ingest(account, one(status="Shipped"))
    ingest(account, one(status="Pending", last_update="2026-11-03T00:00:00Z"))
    order = Order.objects.get()
    assert order.status == OrderStatus.SHIPPED and order.source_status == "PENDING"
    assert order.events.filter(kind=OrderEvent.Kind.LAGGING, message__contains="Amazon still reports PENDING").exists()
    assert not ExceptionItem.objects.exists()  # a lag is history, not an exception, until it lasts
    assert AmazonOrderSnapshot.objects.get().state == AmazonOrderSnapshot.State.PROCESSED
    from orders.services import order_lags_check

    order_lags_check(now=timezone.now() + timedelta(hours=25))
    item = ExceptionItem.objects.get()
    assert item.kind == ExceptionItem.Kind.CHANNEL_LAG and "still PENDING" in item.summary


def test_unfulfillable_puts_order_on_hold_with_channel_reason(account: SellerAccount, mapped_skus: list[str]) -> None:
    ingest(account, one(channel="AFN"))
    ingest(account, one(channel="AFN", status="Unfulfillable", last_update="2026-11-02T00:00:00Z"))
    order = Order.objects.get()
    assert order.status == OrderStatus.ON_HOLD and order.hold_code == Order.HoldCode.CHANNEL_STATUS


def test_manual_hold_survives_polling(account: SellerAccount, mapped_skus: list[str]) -> None:
    from orders.services import order_hold, order_release

    ingest(account, one())
    order = Order.objects.get()
    order_hold(order_id=order.pk, reason="customer called", actor="user:ops")
    ingest(account, one(status="Shipped", last_update="2026-11-02T00:00:00Z"))
    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD and order.source_status == "SHIPPED"
    order_release(order_id=order.pk, actor="user:ops", reason="ok")
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED


def test_withheld_address_never_replaces_full_one(account: SellerAccount, mapped_skus: list[str]) -> None:
    ingest(account, one())
    ingest(account, one(last_update="2026-11-02T00:00:00Z"), roles=())  # the role was withdrawn since
    address = Order.objects.get().addresses.get()
    assert address.is_complete and address.name == "Jane Doe"


def test_pii_withheld_holds_the_order_for_the_erp_until_amazon_sends_it(
    account: SellerAccount, mapped_skus: list[str]
) -> None:
    """A merchant-fulfilled order without the Direct-to-Consumer Delivery role: Amazon sends city, postcode and
    country but no name or street. The order is kept and held for the ERP with that reason, not dropped."""
    stats = ingest(account, one(), roles=())
    order = Order.objects.get()
    assert stats.created == 1 and order.status == OrderStatus.ON_HOLD
    assert order.hold_code == Order.HoldCode.ERP_DATA and "Direct-to-Consumer Delivery role" in order.hold_reason
    address = order.addresses.get()
    assert (address.name, address.line1, address.city, address.is_complete) == ("", "", "London", False)
    item = ExceptionItem.objects.get(status="open")
    assert item.kind == ExceptionItem.Kind.ERP_DATA and order.holds.get().exception == item
    ingest(account, one(), roles=())  # the same page again: one hold, one exception
    assert order.holds.count() == 1 and ExceptionItem.objects.get().occurrences == 1

    ingest(account, one(last_update="2026-11-02T00:00:00Z"))  # the role is granted: Amazon sends the ship-to
    order.refresh_from_db()
    assert order.status == OrderStatus.AUTHORISED and order.hold_code == ""
    assert order.addresses.get().is_complete
    assert ExceptionItem.objects.get().status == ExceptionItem.Status.RESOLVED


def test_fba_and_pending_orders_need_no_ship_to(account: SellerAccount, mapped_skus: list[str]) -> None:
    ingest(account, one("202-0000001-0000001", channel="AFN"), roles=())
    ingest(account, one("202-0000002-0000002", status="Pending"), roles=())
    assert set(Order.objects.values_list("status", flat=True)) == {OrderStatus.AUTHORISED, OrderStatus.PENDING_PAYMENT}
    assert not ExceptionItem.objects.exists()


def test_2026_money_maps_onto_our_lines(account: SellerAccount, mapped_skus: list[str]) -> None:
    """proceeds.breakdowns → item price, shipping, discounts (negative in 2026, taken-off amounts on our lines);
    a marketplace with tax on top (US) has a TAX breakdown; VAT-inclusive ones (UK) have none."""
    order = order_2026(amazon_order(), [amazon_item()], full_address())
    breakdowns = order["orderItems"][0]["proceeds"]["breakdowns"]
    breakdowns += [
        {"type": "SHIPPING", "subtotal": {"amount": "3.99", "currencyCode": "GBP"}},
        {"type": "TAX", "subtotal": {"amount": "4.80", "currencyCode": "GBP"},
         "detailedBreakdowns": [{"subtype": "ITEM", "value": {"amount": "4.00", "currencyCode": "GBP"}},
                                {"subtype": "SHIPPING", "value": {"amount": "0.80", "currencyCode": "GBP"}}]},
        {"type": "DISCOUNT", "subtotal": {"amount": "-2.50", "currencyCode": "GBP"},
         "detailedBreakdowns": [{"subtype": "ITEM", "value": {"amount": "-2.00", "currencyCode": "GBP"}},
                                {"subtype": "SHIPPING", "value": {"amount": "-0.50", "currencyCode": "GBP"}}]},
    ]  # fmt: skip
    ingest_raw(account, [order])
    line = Order.objects.get().lines.get()
    assert [str(v) for v in (line.item_price, line.shipping_price, line.item_tax, line.shipping_tax)] == [
        "23.98", "3.99", "4.00", "0.80",
    ]  # fmt: skip
    assert (str(line.promotion_discount), str(line.shipping_discount)) == ("2.00", "0.50")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_processing_of_the_same_page_inserts_once(account: SellerAccount, mapped_skus: list[str]) -> None:
    page = [
        order_2026(amazon_order(f"202-0000000-{n:07d}"), [amazon_item(item_id=f"{n}")], full_address())
        for n in range(40)
    ]
    amazon_snapshots_store(account=account, marketplace_id=UK, raw_orders=page)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            snapshots = list(AmazonOrderSnapshot.objects.order_by("pk"))
            barrier.wait()
            amazon_snapshots_process(snapshots=snapshots)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert Order.objects.count() == 40 and OrderLine.objects.count() == 40
    assert OrderEvent.objects.filter(kind=OrderEvent.Kind.CREATED).count() == 40


def test_a_nul_in_a_payload_is_stored_visible_and_the_rest_as_received(
    account: SellerAccount, mapped_skus: list[str]
) -> None:
    # PostgreSQL cannot hold U+0000: it is kept as the six characters \u0000 (which themselves stay as they are).
    address = {**full_address(), "AddressLine2": "Flat 1\x00"}
    raw = order_2026(amazon_order(), [amazon_item("SKU-0001")], address)
    raw["note\x00"] = "a literal \\u0000 stays"
    stats = ingest_raw(account, [raw])

    assert stats.created == 1
    payload = AmazonOrderSnapshot.objects.get().order_payload
    assert payload["note\\u0000"] == "a literal \\u0000 stays"
    assert Order.objects.get().addresses.get().line1 == "Flat 1\\u0000"  # (lines shift up: line 1 was empty)
