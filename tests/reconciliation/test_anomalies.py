"""Anomaly flags on seeded data (numpy Generator, fixed seeds): injected anomalies are found (precision and recall
printed and asserted), normal data is left alone, MAD = 0 and short histories are handled, and every flag reaches
the exception queue until an operator dismisses or confirms it."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pytest
from django.urls import reverse

from config.common.errors import ApplicationError
from config.common.models import ExceptionItem
from config.common.schedules import STATIC_SCHEDULES
from orders.models import Order, OrderLine, SellerAccount
from reconciliation.models import AnomalyFlag, Settlement
from reconciliation.services import (
    anomalies_scan,
    anomaly_flag_confirm,
    anomaly_flag_dismiss,
    settlement_anomalies_scan,
    settlement_file_import,
    settlement_file_store,
)
from reconciliation.services.anomalies import robust_spread, settlement_account_id
from simulators.spapi.settlement_files import OrderSpec, SettlementSpec, settlement_text
from tests.factories import SellerAccountFactory

pytestmark = pytest.mark.django_db
START = datetime(2026, 6, 1, tzinfo=UTC)  # a Monday
CENT = Decimal("0.01")


def money(value: float) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class Seeded:
    injected: set[str] = field(default_factory=set)  # order ids (amounts, fee rates) or "SKU week" (refund rates)
    count: int = 0


def score(flagged: set[str], injected: set[str], label: str) -> tuple[float, float]:
    hits = len(flagged & injected)
    precision = hits / len(flagged) if flagged else 1.0
    recall = hits / len(injected) if injected else 1.0
    print(
        f"\n{label}: {len(injected)} injected, {len(flagged)} flagged, {hits} correct -> "
        f"precision {precision:.3f}, recall {recall:.3f}"
    )
    return precision, recall


# --- order amounts (unit prices of Amazon orders) ----------------------------------------------------------------


class OrderSeeder:
    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.n = 0
        self.orders: list[Order] = []
        self.lines: list[tuple[str, int, Decimal]] = []

    def order_id(self) -> str:
        self.n += 1
        return f"202-{1000000 + self.n:07d}-{int(self.rng.integers(1_000_000, 9_999_999)):07d}"

    def add(
        self, account: SellerAccount, sku: str, unit: float, when: datetime, currency: str = "GBP", qty: int = 1
    ) -> str:
        order_id = self.order_id()
        price = money(unit) * qty
        self.orders.append(
            Order(
                channel=Order.Channel.AMAZON, external_id=order_id, seller_account=account, status="shipped",
                marketplace_id="A1F83G8C2ARO7P", purchased_at=when, currency=currency, total_amount=price,
            )
        )  # fmt: skip
        self.lines.append((sku, qty, price))
        return order_id

    def save(self) -> None:
        created = Order.objects.bulk_create(self.orders)
        OrderLine.objects.bulk_create(
            OrderLine(order=o, external_id=f"{o.external_id}-1", seller_sku=sku, quantity_ordered=qty, item_price=p)
            for o, (sku, qty, p) in zip(created, self.lines, strict=True)
        )


def seed_orders(seed: int, account: SellerAccount, *, inject: bool) -> Seeded:
    """12 SKUs over 88 days, three kinds of normal pricing (one fixed price: MAD 0; list price with 10-20 %
    promotions; a drifting price with 4 % noise), 1-3 units an order; injected prices 0.1× to 10× the list price."""
    rng = np.random.default_rng(seed)
    seeder = OrderSeeder(rng)
    out = Seeded()
    for s in range(12):
        sku = f"SKU-{s:03d}"
        list_price = float(rng.integers(5, 150)) - 0.01
        style = s % 3
        for _ in range(int(rng.integers(25, 60))):
            when = START + timedelta(days=float(rng.uniform(0, 88)))
            qty = 1 if rng.random() < 0.85 else int(rng.integers(2, 4))
            if style == 0:
                unit = list_price
            elif style == 1:
                r = rng.random()
                unit = list_price * (0.8 if r < 0.15 else 0.9 if r < 0.25 else 1.0)
            else:
                unit = list_price * (1 + rng.normal(0, 0.04))
            seeder.add(account, sku, unit, when, qty=qty)
            out.count += 1
        if inject:
            for _ in range(int(rng.integers(1, 3))):
                factor = float(rng.choice([10, 5, 3, 2, 0.1, 0.25, 0.5, 0.6]))
                when = START + timedelta(days=float(rng.uniform(0, 88)))
                out.injected.add(seeder.add(account, sku, list_price * factor, when))
    seeder.save()
    return out


@pytest.mark.parametrize("seed", [11, 2026, 31337])
def test_order_amount_flags_find_injected_prices(seed: int) -> None:
    account = SellerAccountFactory.create()
    seeded = seed_orders(seed, account, inject=True)
    summary = anomalies_scan(since=START - timedelta(days=1))
    flagged = set(AnomalyFlag.objects.filter(kind=AnomalyFlag.Kind.ORDER_AMOUNT).values_list("subject", flat=True))
    precision, recall = score(flagged, seeded.injected, f"order amounts (seed {seed}, {seeded.count} normal orders)")
    assert precision >= 0.9 and recall >= 0.8, summary
    assert summary.checked[AnomalyFlag.Kind.ORDER_AMOUNT] == seeded.count + len(seeded.injected)
    flag = AnomalyFlag.objects.filter(kind=AnomalyFlag.Kind.ORDER_AMOUNT).order_by("-robust_z").first()
    assert flag is not None and flag.order is not None and flag.seller_account == account
    assert flag.explanation.startswith(f"Unit price £{flag.value:,.2f} for {flag.sku}")
    assert "the usual spread above its median £" in flag.explanation and "over the last 90 days" in flag.explanation


@pytest.mark.parametrize("seed", [5, 77, 4242])
def test_normal_prices_are_not_flagged(seed: int) -> None:
    account = SellerAccountFactory.create()
    seeded = seed_orders(seed, account, inject=False)
    summary = anomalies_scan(since=START - timedelta(days=1))
    assert summary.checked[AnomalyFlag.Kind.ORDER_AMOUNT] == seeded.count
    assert not AnomalyFlag.objects.exists(), list(AnomalyFlag.objects.values_list("explanation", flat=True))


def test_each_account_and_currency_is_its_own_distribution() -> None:
    """The same SKU sold at other prices by another account, or in euros, is not an anomaly of this one."""
    uk, us = SellerAccountFactory.create(), SellerAccountFactory.create()
    seeder = OrderSeeder(np.random.default_rng(3))
    for day in range(30):
        seeder.add(uk, "TENT-2P-GRN", 39.99, START + timedelta(days=day))
        seeder.add(us, "TENT-2P-GRN", 79.99, START + timedelta(days=day, hours=1), currency="USD")
        if day % 3 == 0:
            seeder.add(uk, "TENT-2P-GRN", 46.99, START + timedelta(days=day, hours=2), currency="EUR")
    odd = seeder.add(uk, "TENT-2P-GRN", 149.00, START + timedelta(days=31))
    seeder.save()
    anomalies_scan(since=START)
    flag = AnomalyFlag.objects.get()
    assert (flag.subject, flag.seller_account, flag.currency, flag.spread_basis) == (odd, uk, "GBP", "tolerance")
    assert flag.explanation.startswith(
        f"Unit price £149.00 for TENT-2P-GRN (order {odd}) is 27.3× the usual spread above its median £39.99 over "
        "the last 90 days (31 orders)."
    ), flag.explanation


def test_mad_zero_falls_back_to_the_80th_percentile_then_to_the_tolerance() -> None:
    account = SellerAccountFactory.create()
    seeder = OrderSeeder(np.random.default_rng(4))
    # One price only (MAD 0, all deviations 0): the spread is 10 % of the median; +50 % is flagged, +20 % is not.
    for day in range(20):
        seeder.add(account, "FIXED", 20.00, START + timedelta(days=day))
    fixed_far = seeder.add(account, "FIXED", 30.00, START + timedelta(days=20, hours=1))
    seeder.add(account, "FIXED", 24.00, START + timedelta(days=20, hours=2))
    # Mostly one price with frequent deep promotions (MAD 0; a quarter of the orders at -40 %): the promotions set
    # the spread (80th percentile of the deviations), so they are normal and only the 3x price is flagged.
    for day in range(24):
        seeder.add(account, "PROMO", 40.00, START + timedelta(days=day))
    for day in range(7):
        seeder.add(account, "PROMO", 24.00, START + timedelta(days=day, hours=3))
    promo_far = seeder.add(account, "PROMO", 120.00, START + timedelta(days=30))
    # One 10x typo does not hide a 0.6x price in the same group (the mean absolute deviation would).
    for day in range(40):
        seeder.add(account, "TYPO", 44.99, START + timedelta(days=day))
    typos = {
        seeder.add(account, "TYPO", 449.90, START + timedelta(days=41)),
        seeder.add(account, "TYPO", 26.99, START + timedelta(days=42)),
    }
    seeder.save()
    anomalies_scan(since=START)
    flags = {f.subject: f for f in AnomalyFlag.objects.all()}
    assert set(flags) == {fixed_far, promo_far, *typos}
    fixed, promo = flags[fixed_far], flags[promo_far]
    assert (fixed.mad, fixed.spread_basis, fixed.spread, fixed.robust_z) == (0, "tolerance", 2, 5)
    assert "10.0% of the median (the values hardly vary)" in fixed.explanation
    assert promo.mad == 0 and promo.spread_basis == "p80_deviation" and promo.spread == Decimal("12.484395")
    assert "the 80th percentile of the deviations" in promo.explanation


def test_groups_with_too_little_history_are_not_judged() -> None:
    account = SellerAccountFactory.create()
    seeder = OrderSeeder(np.random.default_rng(5))
    for day in range(6):
        seeder.add(account, "NEW-SKU", 12.50, START + timedelta(days=day))
    seeder.add(account, "NEW-SKU", 125.00, START + timedelta(days=7))  # 7 orders: fewer than 8
    seeder.save()
    summary = anomalies_scan(since=START)
    assert not AnomalyFlag.objects.exists()
    assert summary.short_history == 1 and summary.checked[AnomalyFlag.Kind.ORDER_AMOUNT] == 0


def test_robust_spread() -> None:
    values = np.array([10.0, 11, 9, 10, 10.5, 9.5, 10, 50])
    spread = robust_spread(values, min_scale=0.0)
    assert spread.median == 10 and spread.mad == 0.5 and spread.basis == "mad"
    assert spread.z(50) == pytest.approx(0.6745 * 40 / 0.5)
    flat = robust_spread(np.array([5.0] * 10), min_scale=0.5)
    assert (flat.mad, flat.scale, flat.basis) == (0, 0.5, "tolerance")


# --- flags in the exception queue -------------------------------------------------------------------------------


def test_flags_open_exceptions_that_review_resolves_and_a_rescan_keeps_them() -> None:
    account = SellerAccountFactory.create()
    seeded = seed_orders(11, account, inject=True)
    anomalies_scan(since=START - timedelta(days=1))
    flags = list(AnomalyFlag.objects.order_by("pk"))
    assert len(flags) >= 2 and {f.subject for f in flags} <= seeded.injected | {f.subject for f in flags}
    items = ExceptionItem.objects.filter(kind=ExceptionItem.Kind.ANOMALY, status="open")
    assert items.count() == len(flags)
    item = items.get(source_id=str(flags[0].pk))
    assert flags[0].sku in item.summary and flags[0].explanation in item.detail and item.reference == flags[0].subject

    dismissed = anomaly_flag_dismiss(flag=flags[0], actor="user:ops", note="price change")
    confirmed = anomaly_flag_confirm(flag=flags[1], actor="user:ops")
    assert dismissed.status == "dismissed" and dismissed.reviewed_by == "user:ops" and dismissed.reviewed_at
    assert confirmed.status == "confirmed"
    assert items.count() == len(flags) - 2
    assert ExceptionItem.objects.get(source_id=str(flags[0].pk), kind="anomaly").status == "resolved"
    with pytest.raises(ApplicationError):
        anomaly_flag_confirm(flag=flags[0], actor="user:ops")
    assert anomaly_flag_dismiss(flag=flags[0], actor="user:other").reviewed_by == "user:ops"  # already done

    again = anomalies_scan(since=START - timedelta(days=1))
    assert sum(again.flagged.values()) == 0 and AnomalyFlag.objects.count() == len(flags)
    assert AnomalyFlag.objects.get(pk=flags[0].pk).status == "dismissed"
    assert items.count() == len(flags) - 2


def test_hourly_schedule_is_declared() -> None:
    assert ("reconciliation.anomalies", "reconciliation.tasks.anomalies_scan_task", 60) in STATIC_SCHEDULES


# --- fee rates and refund rates (settlements) ------------------------------------------------------------------


def iso_week(day: datetime) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def seed_settlements(seed: int, *, inject: bool) -> tuple[list[str], Seeded, Seeded]:
    """Seven two-week GBP settlements (14 weeks from START) of 8 SKUs, 6-11 order items per SKU and week, 10 % with
    shipping, 3 % refunded. Injected: fee errors on single items (commission 45 % instead of 15 %, FBA fee × 4, no
    fees at all) and, in the last week of two settlements, a SKU with 60 % of its items refunded."""
    rng = np.random.default_rng(seed)
    skus = {f"FEE-{s}": (float(rng.integers(12, 80)) - 0.01, float(rng.integers(2, 6)) - 0.05) for s in range(8)}
    spikes = {("FEE-3", 6), ("FEE-6", 5)}  # (SKU, settlement): the settlement's last week
    fees, refunds = Seeded(), Seeded()
    texts = []
    n = 0
    for period in range(7):
        start = START + timedelta(weeks=2 * period)
        end = start + timedelta(weeks=2)
        orders = []
        for sku, (price, fba) in skus.items():
            for week in range(2):
                week_start = start + timedelta(weeks=week)
                spike = inject and (sku, period) in spikes and week == 1
                for _ in range(int(rng.integers(6, 12)) + (6 if spike else 0)):
                    n += 1
                    order_id = f"203-{1000000 + n:07d}-{int(rng.integers(1_000_000, 9_999_999)):07d}"
                    qty = 1 if rng.random() < 0.9 else 2
                    posted = week_start + timedelta(hours=float(rng.uniform(1, 24 * 7 - 30)))
                    shipping = Decimal("2.99") if rng.random() < 0.1 else Decimal(0)
                    commission, fba_fee = None, money(fba * qty)  # None: the generator's 15 %
                    if inject and rng.random() < 0.012:
                        how = str(rng.choice(["commission", "fba", "none"]))
                        if how == "commission":
                            commission = money(float(price) * qty * 0.45)
                        elif how == "fba":
                            fba_fee = money(fba * 4 * qty)
                        else:
                            commission, fba_fee = Decimal(0), Decimal(0)
                        fees.injected.add(order_id)
                    fees.count += 1
                    refunded = bool(rng.random() < (0.6 if spike else 0.03))
                    orders.append(OrderSpec(
                        amazon_order_id=order_id, sku=sku, quantity=qty, principal=money(price) * qty,
                        shipping=shipping, posted=posted, refunded=refunded, commission=commission, fba_fee=fba_fee,
                    ))  # fmt: skip
                if spike:
                    refunds.injected.add(f"{sku} {iso_week(week_start)}")
        spec = SettlementSpec(
            settlement_id=f"{seed:04d}{period:03d}", currency="GBP", start=start, end=end,
            deposit=end + timedelta(days=2), orders=orders, seed=seed,
        )  # fmt: skip
        texts.append(settlement_text(spec)[0])
    return texts, fees, refunds


def import_all(texts: list[str], account: SellerAccount | None, capture: Any) -> None:
    """Imported in order, as Amazon makes them; the import enqueues each settlement's scan (run on commit)."""
    for i, text in enumerate(texts):
        with capture(execute=True):
            file, _ = settlement_file_store(
                data=io.BytesIO(text.encode()), name=f"s{i}.txt", source="test", seller_account=account
            )
            assert settlement_file_import(file_id=file.pk).state == "imported"


@pytest.mark.parametrize("seed", [7, 1234])
def test_fee_and_refund_rate_flags_find_injected_problems(seed: int, django_capture_on_commit_callbacks: Any) -> None:
    account = SellerAccountFactory.create()
    texts, fees, refunds = seed_settlements(seed, inject=True)
    import_all(texts, account, django_capture_on_commit_callbacks)
    fee_flags = set(AnomalyFlag.objects.filter(kind="fee_rate").values_list("subject", flat=True))
    refund_flags = {f"{sku} {week}" for sku, week in AnomalyFlag.objects.filter(kind="refund_rate").values_list(
        "sku", "subject")}  # fmt: skip
    fee_p, fee_r = score(fee_flags, fees.injected, f"fee rates (seed {seed}, {fees.count} order items)")
    ref_p, ref_r = score(refund_flags, refunds.injected, f"refund rates (seed {seed}, 8 SKUs x 14 weeks)")
    all_p, all_r = score(fee_flags | refund_flags, fees.injected | refunds.injected, f"fees + refunds (seed {seed})")
    assert fee_p >= 0.9 and fee_r >= 0.8 and ref_p >= 0.9 and ref_r >= 0.8 and all_p >= 0.9 and all_r >= 0.8
    assert AnomalyFlag.objects.filter(seller_account=account).count() == AnomalyFlag.objects.count()
    refund = AnomalyFlag.objects.get(kind="refund_rate", sku="FEE-3")
    assert refund.settlement == Settlement.objects.order_by("start_date").last()
    assert refund.explanation.startswith(f"Refund rate {refund.value * 100:.1f}% for FEE-3 in the week ")
    assert "items refunded) is" in refund.explanation and "over the previous" in refund.explanation
    fee = AnomalyFlag.objects.filter(kind="fee_rate").order_by("-robust_z").first()
    assert fee is not None and "of the sale for FEE-" in fee.explanation and ", FBA, " in fee.explanation


@pytest.mark.parametrize("seed", [8, 99])
def test_normal_settlements_are_not_flagged(seed: int, django_capture_on_commit_callbacks: Any) -> None:
    texts, _, _ = seed_settlements(seed, inject=False)
    account = SellerAccountFactory.create()
    import_all(texts, account, django_capture_on_commit_callbacks)
    assert not AnomalyFlag.objects.exists(), list(AnomalyFlag.objects.values_list("explanation", flat=True))
    summary = settlement_anomalies_scan(settlement=Settlement.objects.latest("start_date"))
    assert summary.checked["fee_rate"] > 100 and summary.checked["refund_rate"] == 16  # 8 SKUs x 2 weeks


def test_generated_settlements_are_not_flagged(django_capture_on_commit_callbacks: Any) -> None:
    """The settlement generator's own mix (marketplace VAT, shipping, promotions, MFN and FBA, 1-3 units, refunds,
    chargebacks) is normal data: a flag here would be noise for operators."""
    account = SellerAccountFactory.create()
    texts = []
    for period in range(6):
        start = START + timedelta(weeks=2 * period)
        spec = SettlementSpec(
            settlement_id=f"88{period:04d}", currency="GBP", start=start, end=start + timedelta(weeks=2),
            deposit=start + timedelta(weeks=2, days=2), generated_orders=700, seed=42, skus=[f"GEN-{s}" for s in
            range(12)], refund_rate=Decimal("0.05"), chargebacks=2,
        )  # fmt: skip
        texts.append(settlement_text(spec)[0])
    import_all(texts, account, django_capture_on_commit_callbacks)
    checked = settlement_anomalies_scan(settlement=Settlement.objects.latest("start_date")).checked
    flags = list(AnomalyFlag.objects.values_list("explanation", flat=True))
    print(f"\ngenerated settlements: {checked['fee_rate']} fee rates checked in the last one, {len(flags)} flag(s)")
    assert checked["fee_rate"] > 500 and not flags, flags


def test_uploaded_settlement_takes_the_account_of_its_orders(django_capture_on_commit_callbacks: Any) -> None:
    account = SellerAccountFactory.create()
    texts, _, _ = seed_settlements(7, inject=True)
    import_all(texts[:2], None, django_capture_on_commit_callbacks)
    first = Settlement.objects.order_by("start_date").first()
    assert first is not None and settlement_account_id(settlement=first) is None
    assert not AnomalyFlag.objects.exclude(seller_account=None).exists()
    # One order of the next (uploaded, account-less) settlement is synced: its account is the settlement's.
    order_id = next(line.split("\t")[7] for line in texts[2].splitlines()[2:] if "\tOrder\t" in line)
    Order.objects.create(channel="amazon", external_id=order_id, seller_account=account, status="shipped",
                         purchased_at=START, currency="GBP", total_amount=Decimal(10))  # fmt: skip
    import_all(texts[2:3], None, django_capture_on_commit_callbacks)
    third = Settlement.objects.order_by("start_date")[2]
    assert third.seller_account is None and settlement_account_id(settlement=third) == account.pk
    summary = settlement_anomalies_scan(settlement=third)
    assert summary.checked["fee_rate"] > 100
    assert {f.seller_account for f in AnomalyFlag.objects.filter(settlement=third)} <= {account}


# --- the operator console --------------------------------------------------------------------------------------


def test_admin_lists_flags_with_their_reason_and_dismisses_them(admin_client: Any) -> None:
    account = SellerAccountFactory.create()
    seed_orders(2026, account, inject=True)
    anomalies_scan(since=START - timedelta(days=1))
    flag = AnomalyFlag.objects.order_by("pk").first()
    assert flag is not None
    changelist = reverse("admin:reconciliation_anomalyflag_changelist")
    for query in (
        {},
        {"kind__exact": "order_amount"},
        {"status__exact": "open"},
        {"seller_account__id__exact": account.pk},
    ):
        page = admin_client.get(changelist, query)
        assert page.status_code == 200 and flag.explanation[:60] in page.content.decode()
    detail = admin_client.get(reverse("admin:reconciliation_anomalyflag_change", args=[flag.pk])).content.decode()
    assert flag.subject in detail and "Open: " in detail  # its exception, still open
    response = admin_client.post(changelist, {"action": "dismiss", "_selected_action": [flag.pk]}, follow=True)
    assert "1 flag(s) dismissed" in response.content.decode()
    flag.refresh_from_db()
    assert flag.status == "dismissed" and flag.reviewed_by == "user:admin"
    assert ExceptionItem.objects.get(source_id=str(flag.pk), kind="anomaly").status == "resolved"
    response = admin_client.post(changelist, {"action": "confirm", "_selected_action": [flag.pk]}, follow=True)
    assert "already dismissed" in response.content.decode()
    queue = admin_client.get(reverse("admin:common_exceptionitem_changelist"), {"kind__exact": "anomaly"})
    assert queue.status_code == 200 and flag.sku in queue.content.decode()
