"""The one pure function from an order's facts to its (status, hold, reason), over the combinations that matter."""

from __future__ import annotations

from typing import Any

import pytest

from orders.facts import HOLD_KINDS, HOLDS, STORED_HOLDS, Lifetime, OrderFacts, order_status_derive
from orders.models import Order

A, E = Order.Channel.AMAZON, Order.Channel.ECOMMERCE
H = Order.HoldCode


def amazon(raw: str, mapped: str, **kw: Any) -> OrderFacts:
    return OrderFacts(channel=A, channel_status=mapped, channel_status_raw=raw, **kw)


def shop(payment: str, mapped: str, **kw: Any) -> OrderFacts:
    return OrderFacts(channel=E, payment_status=mapped, payment_status_raw=payment, **kw)


CASES: list[tuple[str, OrderFacts, str, str]] = [
    # (why, facts, status, hold code)
    ("Amazon new order", amazon("Pending", "pending_payment"), "pending_payment", ""),
    ("Amazon unshipped", amazon("Unshipped", "authorised"), "authorised", ""),
    ("Amazon shipped", amazon("Shipped", "shipped"), "shipped", ""),
    ("Amazon cancelled", amazon("Canceled", "cancelled"), "cancelled", ""),
    ("Amazon's own hold status", amazon("Unfulfillable", "on_hold"), "on_hold", H.CHANNEL_STATUS),
    (
        "ERP shipped all, Amazon lags at Unshipped",
        amazon("Unshipped", "authorised", quantity_ordered=2, quantity_shipped=2),
        "shipped",
        "",
    ),
    (
        "ERP shipped part, Amazon lags at Unshipped",
        amazon("Unshipped", "authorised", quantity_ordered=3, quantity_shipped=1),
        "partially_shipped",
        "",
    ),
    (
        "already shipped (recorded), Amazon goes back to Unshipped",
        amazon("Unshipped", "authorised", recorded_status="shipped"),
        "shipped",
        "",
    ),
    (
        "FBA fulfilment complete, Amazon still Unshipped",
        amazon("Unshipped", "authorised", fulfilment_status="shipped", fulfilment_status_raw="Complete"),
        "shipped",
        "",
    ),
    (
        "ERP-data hold survives an Amazon update",
        amazon("Unshipped", "authorised", holds={H.ERP_DATA: "no zip"}),
        "on_hold",
        H.ERP_DATA,
    ),
    (
        "ERP-data hold ends with an Amazon cancellation",
        amazon("Canceled", "cancelled", holds={H.ERP_DATA: "no zip"}),
        "cancelled",
        "",
    ),
    (
        "manual hold outlasts a cancellation",
        amazon("Canceled", "cancelled", holds={H.MANUAL: "call"}),
        "on_hold",
        H.MANUAL,
    ),
    (
        "manual hold shown over an unknown SKU",
        amazon("Unshipped", "authorised", holds={H.UNKNOWN_SKU: "sku", H.MANUAL: "call"}),
        "on_hold",
        H.MANUAL,
    ),
    (
        "unknown SKU on a shipped Amazon order",
        amazon("Shipped", "shipped", holds={H.UNKNOWN_SKU: "sku"}),
        "on_hold",
        H.UNKNOWN_SKU,
    ),
    ("eCommerce order not paid yet", shop("pending", "pending_payment"), "pending_payment", ""),
    ("payment authorised", shop("authorised", "authorised"), "authorised", ""),
    ("payment captured", shop("captured", "captured"), "captured", ""),
    ("payment declined", shop("declined", "on_hold"), "on_hold", H.PAYMENT),
    ("a later payment succeeded", shop("captured", "captured", recorded_status="on_hold"), "captured", ""),
    ("payment voided", shop("voided", "cancelled"), "cancelled", ""),
    ("payment refunded", shop("refunded", "refunded", quantity_ordered=1, quantity_shipped=1), "refunded", ""),
    (
        "partial refund after shipping",
        shop("partially_refunded", "partially_refunded", quantity_ordered=1, quantity_shipped=1),
        "partially_refunded",
        "",
    ),
    (
        "fraud review holds a captured order",
        shop("captured", "captured", holds={H.FRAUD_REVIEW: "score 71"}),
        "on_hold",
        H.FRAUD_REVIEW,
    ),
    (
        "fraud rejected: payment voided ends the review",
        shop("voided", "cancelled", holds={H.FRAUD_REVIEW: "71"}),
        "cancelled",
        "",
    ),
    (
        "FBA requested",
        shop("captured", "captured", fulfilment_status="fulfilment_requested", fulfilment_status_raw="New"),
        "fulfilment_requested",
        "",
    ),
    (
        "FBA unfulfillable",
        shop("captured", "captured", fulfilment_status="on_hold", fulfilment_status_raw="Unfulfillable"),
        "on_hold",
        H.FULFILLMENT,
    ),
    (
        "FBA data hold",
        shop("captured", "captured", holds={H.FULFILLMENT_DATA: "bad address"}),
        "on_hold",
        H.FULFILLMENT_DATA,
    ),
    (
        "FBA cancelled, payment not yet voided",
        shop("captured", "captured", fulfilment_status="cancelled", fulfilment_status_raw="Cancelled"),
        "cancelled",
        "",
    ),
    (
        "FBA shipped part",
        shop("captured", "captured", fulfilment_status="partially_shipped", fulfilment_status_raw="CompletePartialled"),
        "partially_shipped",
        "",
    ),
    (
        "payment declined and an operator hold",
        shop("declined", "on_hold", holds={H.MANUAL: "call"}),
        "on_hold",
        H.MANUAL,
    ),
]


@pytest.mark.parametrize(("facts", "status", "hold"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_derive(facts: OrderFacts, status: str, hold: str) -> None:
    derived = order_status_derive(facts)
    assert (derived.status, derived.hold_code) == (status, hold)
    assert bool(derived.hold_reason) == bool(hold)
    assert order_status_derive(facts) == derived  # pure


def test_a_lagging_channel_is_named_and_a_contradiction_is_not_applied() -> None:
    lag = order_status_derive(amazon("Unshipped", "authorised", quantity_ordered=2, quantity_shipped=2))
    assert lag.lag == (
        "Amazon still reports Unshipped (authorised); 2 of 2 item(s) shipped by our records: the order stays shipped."
    )
    assert order_status_derive(amazon("Shipped", "shipped")).lag == ""
    cancelled_after_shipping = order_status_derive(
        amazon("Canceled", "cancelled", quantity_ordered=1, quantity_shipped=1)
    )
    assert cancelled_after_shipping.status == "shipped"
    assert "The channel say(s) cancelled" in cancelled_after_shipping.contradiction


def test_cancellation_ends_the_holds_it_makes_moot() -> None:
    derived = order_status_derive(amazon("Canceled", "cancelled", holds={H.ERP_DATA: "x", H.MANUAL: "y"}))
    assert derived.ends_holds == (H.ERP_DATA,)
    assert (derived.status, derived.hold_code) == ("on_hold", H.MANUAL)


def test_every_hold_code_has_one_lifetime() -> None:
    assert {kind.code for kind in HOLD_KINDS} == set(H.values)
    assert len(HOLD_KINDS) == len(HOLDS)
    assert {H.MANUAL, H.FRAUD_REVIEW, H.UNKNOWN_SKU, H.ERP_DATA, H.FULFILLMENT_DATA} == STORED_HOLDS
    assert HOLDS[H.ERP_DATA].lifetime == Lifetime.ERP_TAKES_ORDER
    assert HOLDS[H.PAYMENT].lifetime == Lifetime.LATER_PAYMENT
