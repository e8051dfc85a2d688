"""Reconciliation hints: for settlement lines whose order Ledgerline does not have, the likely orders ranked by
amount, date, reference and SKUs; the right order first for a typo'd, cut or differently named id, and for a close
amount; nothing is matched by the hints."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from django.urls import reverse

from orders.models import Order, OrderLine, SellerAccount
from payments.models import Payment, PaymentTransaction
from reconciliation.models import ReconciliationHint, Settlement
from reconciliation.selectors import settlement_lines_unmatched
from reconciliation.services import hints, settlement_file_import, settlement_file_store, settlement_hints_refresh
from reconciliation.services.hints import normalize_reference, osa_distances
from simulators.spapi.settlement_files import OrderSpec, SettlementSpec, settlement_text
from tests.factories import SellerAccountFactory

pytestmark = pytest.mark.django_db
START = datetime(2026, 10, 1, tzinfo=UTC)
POSTED = START + timedelta(days=5, hours=3)


def order(
    account: SellerAccount | None, external_id: str, total: str, purchased: datetime, sku: str, channel: str = "amazon"
) -> Order:
    created = Order.objects.create(
        channel=channel, external_id=external_id, seller_account=account, status="shipped", purchased_at=purchased,
        currency="GBP", total_amount=Decimal(total),
    )  # fmt: skip
    OrderLine.objects.create(
        order=created, external_id=f"{external_id}-1", seller_sku=sku, quantity_ordered=1, item_price=Decimal(total)
    )
    return created


def noise(account: SellerAccount, count: int, seed: int) -> None:
    """Other orders of the period (numpy Generator): same SKUs, similar prices, ids of the same shape."""
    rng = np.random.default_rng(seed)
    for n in range(count):
        order(
            account,
            f"202-{int(rng.integers(1_000_000, 9_999_999))}-{int(rng.integers(1_000_000, 9_999_999))}",
            f"{float(rng.choice([23.98, 19.99, 57.43, 24.50, 23.00])):.2f}",
            START + timedelta(days=float(rng.uniform(-20, 12))),
            str(rng.choice(["TENT-PEG-10", "TENT-2P-GRN", "STOVE-1"])),
        )
        del n


def settle(specs: list[OrderSpec], settlement_id: str = "3300001") -> Settlement:
    spec = SettlementSpec(
        settlement_id=settlement_id, currency="GBP", start=START, end=START + timedelta(days=14),
        deposit=START + timedelta(days=16), orders=specs, refund_rate=Decimal(0),
    )  # fmt: skip
    text, _ = settlement_text(spec)
    file, _ = settlement_file_store(data=io.BytesIO(text.encode()), name=f"{settlement_id}.txt", source="test")
    file = settlement_file_import(file_id=file.pk)
    assert file.state == "imported", file.error
    return Settlement.objects.get(settlement_id=settlement_id)


def line(order_id: str, principal: str, sku: str, *, merchant_order_id: str = "", days: float = 0) -> OrderSpec:
    return OrderSpec(
        amazon_order_id=order_id, merchant_order_id=merchant_order_id, sku=sku, principal=Decimal(principal),
        posted=POSTED + timedelta(days=days), refunded=False,
    )  # fmt: skip


def hints_for(settlement: Settlement, reference: str) -> list[ReconciliationHint]:
    return list(settlement.hints.filter(order_reference=reference).select_related("candidate_order").order_by("rank"))


@pytest.mark.parametrize("compare", ["all", "shortlist"])
def test_typo_cut_and_close_amount_rank_the_right_order_first(compare: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if compare == "shortlist":  # as with thousands of orders in range: only look-alikes are compared
        monkeypatch.setattr(hints, "FULL_COMPARE", 10)
        monkeypatch.setattr(hints, "SHORTLIST_NEAREST", 3)
    account = SellerAccountFactory.create()
    noise(account, 60, seed=20261001)
    typo = order(account, "202-5550001-1234567", "23.98", POSTED - timedelta(days=2), "TENT-PEG-10")
    # Same SKU, same amount, same day: only the id tells them apart.
    order(account, "203-9876543-7654321", "23.98", POSTED - timedelta(days=2, hours=1), "TENT-PEG-10")
    cut = order(account, "202-5550002-7654321", "41.00", POSTED - timedelta(days=1), "STOVE-1")
    close = order(account, "204-3141592-6535897", "57.43", POSTED - timedelta(days=1), "LANTERN-LED")
    settled = order(account, "202-5550003-1111111", "99.99", POSTED - timedelta(days=3), "TENT-2P-GRN")
    settle([line("202-5550003-1111111", "99.99", "TENT-2P-GRN")], "3300000")  # an earlier settlement has it
    settlement = settle([
        line("202-5550001-1234576", "23.98", "TENT-PEG-10"),  # last two digits swapped
        line("202-5550002-76543", "41.00", "STOVE-1"),  # cut short
        line("205-0000000-0000000", "57.43", "LANTERN-LED"),  # unrelated id; amount, date and SKU agree
        line("202-5550003-1111112", "99.99", "TENT-2P-GRN"),  # looks like an order already settled
    ])  # fmt: skip
    assert settlement.unmatched_count > 0

    stored = settlement_hints_refresh(settlement=settlement)
    assert stored == ReconciliationHint.objects.filter(settlement=settlement).count() > 0

    swapped = hints_for(settlement, "202-5550001-1234576")
    assert swapped[0].candidate_order == typo and swapped[0].rank == 1 and swapped[0].score >= Decimal("0.9")
    assert swapped[0].reasons == [
        "amount £23.98 equals the order total",
        "purchased 2 days before posting",
        "order id has two neighbouring characters swapped (202-5550001-1234576 vs 202-5550001-1234567)",
        "same SKU TENT-PEG-10",
    ]
    assert len(swapped) <= 5 and [h.rank for h in swapped] == list(range(1, len(swapped) + 1))
    assert swapped[1].score < swapped[0].score - Decimal("0.2")

    shortened = hints_for(settlement, "202-5550002-76543")
    assert shortened[0].candidate_order == cut
    assert "the settlement's id is cut short" in shortened[0].reasons[2]

    by_amount = hints_for(settlement, "205-0000000-0000000")
    assert by_amount[0].candidate_order == close and by_amount[0].score >= Decimal("0.6")
    assert by_amount[0].reasons[:2] == ["amount £57.43 equals the order total", "purchased 1 day before posting"]

    # An order some settlement already has Order rows for is not the missing order of an Order line.
    assert settled not in {h.candidate_order for h in hints_for(settlement, "202-5550003-1111112")}

    # Hints only: nothing matched, and a refresh replaces them.
    assert settlement_lines_unmatched(settlement=settlement).count() == settlement.unmatched_count
    assert settlement_hints_refresh(settlement=settlement) == stored
    assert ReconciliationHint.objects.filter(settlement=settlement).count() == stored


def test_merchant_order_id_finds_the_web_order_through_its_payment() -> None:
    web = order(None, "WEB-100042", "64.00", POSTED - timedelta(days=2), "STOVE-1", channel="ecommerce")
    other = order(None, "WEB-100043", "64.00", POSTED - timedelta(days=2), "STOVE-1", channel="ecommerce")
    for placed in (web, other):
        payment = Payment.objects.create(order=placed, currency="GBP", amount_authorised=Decimal("64.00"),
                                         amount_captured=Decimal("64.00"), status="captured")  # fmt: skip
        PaymentTransaction.objects.create(payment=payment, kind="payment", vendor_tx_code=f"LL{placed.pk:08d}-P1",
                                          amount=Decimal("64.00"), currency="GBP", state="ok")  # fmt: skip
    # Amazon multi-channel fulfilment reports our sellerFulfillmentOrderId (LL + order number) as merchant-order-id.
    settlement = settle([line("", "64.00", "STOVE-1", merchant_order_id=f"LL{web.pk:08d}")])
    assert settlement.unmatched_count > 0
    settlement_hints_refresh(settlement=settlement)
    best = hints_for(settlement, f"LL{web.pk:08d}")[0]
    assert best.candidate_order == web and best.candidate_payment is not None
    assert best.candidate_payment.vendor_tx_code == f"LL{web.pk:08d}-P1"
    assert f"the merchant order id LL{web.pk:08d} is the start of the vendorTxCode of its payment" in best.reasons[2]


def test_refund_line_may_point_at_a_settled_order() -> None:
    account = SellerAccountFactory.create()
    sold = order(account, "202-7770001-0000001", "30.00", START - timedelta(days=20), "TENT-2P-GRN")
    refunded = OrderSpec(
        amazon_order_id="202-7770001-0000010",
        sku="TENT-2P-GRN",
        principal=Decimal("30.00"),
        posted=POSTED,
        refunded=True,
    )
    spec = SettlementSpec(
        settlement_id="3300009", currency="GBP", start=START, end=START + timedelta(days=14),
        deposit=START + timedelta(days=16), refund_rate=Decimal(0), orders=[refunded],
    )  # fmt: skip
    text, _ = settlement_text(spec)
    # Keep only the Refund rows (the sale was in an earlier settlement): lines and total agree again.
    rows = text.splitlines()
    kept = [r for r in rows[2:] if "\tRefund\t" in r]
    total = sum(Decimal(r.split("\t")[14]) for r in kept)
    summary = rows[1].split("\t")
    summary[4] = f"{total:.2f}"
    file, _ = settlement_file_store(
        data=io.BytesIO("\n".join([rows[0], "\t".join(summary), *kept, ""]).encode()), name="r.txt", source="test"
    )
    assert settlement_file_import(file_id=file.pk).state == "imported"
    settlement = Settlement.objects.get(settlement_id="3300009")
    settlement_hints_refresh(settlement=settlement)
    best = hints_for(settlement, "202-7770001-0000010")[0]
    assert best.candidate_order == sold
    assert best.reasons[0] == "refund £30.00 equals the order total" and "before the refund" in best.reasons[1]


def test_no_unmatched_lines_no_hints() -> None:
    account = SellerAccountFactory.create()
    order(account, "202-1000001-0000001", "10.00", POSTED - timedelta(days=1), "STOVE-1")
    settlement = settle([line("202-1000001-0000001", "10.00", "STOVE-1")])
    assert settlement.unmatched_count == 0
    assert settlement_hints_refresh(settlement=settlement) == 0


def test_osa_distances_and_normalization() -> None:
    assert normalize_reference(" 202-555 0001-abc ") == "2025550001ABC"
    got = osa_distances("20212345671234567", ["20212345671234567", "20212345671234576", "2021234567123456", "", "X"])
    assert got.tolist() == [0, 1, 1, 17, 17]
    assert osa_distances("kitten", ["sitting"]).tolist() == [3]


def test_settlement_page_shows_the_hints_and_the_action_refreshes_them(admin_client: Any) -> None:
    account = SellerAccountFactory.create()
    typo = order(account, "202-5550001-1234567", "23.98", POSTED - timedelta(days=2), "TENT-PEG-10")
    settlement = settle([line("202-5550001-1234576", "23.98", "TENT-PEG-10")])
    change = reverse("admin:reconciliation_settlement_change", args=[settlement.pk])
    assert "None computed yet" in admin_client.get(change).content.decode()

    response = admin_client.post(
        reverse("admin:reconciliation_settlement_changelist"),
        {"action": "refresh_hints", "_selected_action": [settlement.pk]},
        follow=True,
    )
    assert "1 hint(s) for" in response.content.decode()
    page = admin_client.get(change).content.decode()
    assert "Hints for unmatched orders" in page and "202-5550001-1234576" in page
    assert reverse("admin:orders_order_change", args=[typo.pk]) in page
    assert "order id has two neighbouring characters swapped" in page
    listing = admin_client.get(
        reverse("admin:reconciliation_reconciliationhint_changelist"), {"q": "202-5550001-1234576"}
    )
    assert listing.status_code == 200 and "amount £23.98 equals the order total" in listing.content.decode()
    hint = ReconciliationHint.objects.get()
    assert (
        admin_client.get(reverse("admin:reconciliation_reconciliationhint_change", args=[hint.pk])).status_code == 200
    )
