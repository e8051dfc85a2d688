"""Demo settlements: Amazon "makes" settlement reports in the simulator; the worker's schedule lists, downloads and
imports them, so the admin shows settlements matched to the demo's orders, GL-mapped and journalled.

- a GBP settlement (Amazon.co.uk) for most of the UK demo orders, plus orders Ledgerline never saw (exceptions),
  refunds, a chargeback, reserve, subscription and storage fees;
- a EUR settlement (Amazon.de, decimal comma, German dates), posted in GBP at the rate below;
- a report whose download Amazon cut short: rejected with its line number, retried later.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from django.utils import timezone

from config.common.demo import data
from mappings.models import CurrencyRate
from simulators.spapi.settlement_files import OrderSpec, SettlementSpec, settlement_text, truncated

RATES = {"EUR": Decimal("0.85210000"), "USD": Decimal("0.79150000")}


def _orders(order_ids: list[str], marketplace: str, start: datetime, seed: int) -> list[OrderSpec]:
    rng = random.Random(seed)
    skus = list(data.CATALOGUE)
    return [
        OrderSpec(
            amazon_order_id=order_id,
            sku=rng.choice(skus),
            quantity=1,
            principal=Decimal(rng.randrange(999, 8999)) / 100,
            marketplace_name=marketplace,
            posted=start + timedelta(hours=rng.randrange(1, 300)),
        )
        for order_id in order_ids
    ]


def load_settlements_demo(sim: httpx.Client, *, seller: str, uk_order_ids: list[str], de_order_ids: list[str]) -> None:
    now = timezone.now()
    start = now - timedelta(days=16)
    for currency, rate in RATES.items():
        for days in range(0, 30):
            CurrencyRate.objects.update_or_create(
                date=timezone.localdate() - timedelta(days=days),
                currency=currency,
                base_currency="GBP",
                defaults={"rate": rate},
            )
    common: dict[str, Any] = {"start": start, "end": start + timedelta(days=14), "deposit": start + timedelta(days=15)}
    uk, _ = settlement_text(
        SettlementSpec(
            settlement_id="24681357901",
            currency="GBP",
            style="iso",
            orders=_orders(uk_order_ids, "Amazon.co.uk", start, 1),
            generated_orders=6,
            seed=21,
            refund_rate=Decimal("0.1"),
            chargebacks=1,
            reserve=(Decimal("310.00"), Decimal("-275.40")),
            service_fees=True,
            fba_storage_fee=Decimal("-18.62"),
            marketplaces=["Amazon.co.uk"],
            **common,
        )
    )
    de, _ = settlement_text(
        SettlementSpec(
            settlement_id="24681357902",
            currency="EUR",
            style="de",
            orders=_orders(de_order_ids, "Amazon.de", start, 2),
            generated_orders=4,
            seed=22,
            marketplaces=["Amazon.de", "Amazon.fr"],
            **common,
        )
    )
    cut, _ = settlement_text(
        SettlementSpec(
            settlement_id="24681357800",
            currency="GBP",
            generated_orders=20,
            seed=23,
            start=start - timedelta(days=14),
            end=start,
            deposit=start + timedelta(days=1),
        )
    )
    reports = [
        (cut, now - timedelta(days=14), False),  # the connection dropped mid-file
        (uk, now - timedelta(days=1), True),
        (de, now - timedelta(hours=20), True),
    ]
    for text, created, whole in reports:
        body = {
            "seller": seller,
            "content": text if whole else truncated(text, 0.7),
            "gzip": True,
            "created_time": created.isoformat(),
        }
        response = sim.post("/_sim/reports/settlement", json=body)
        response.raise_for_status()


__all__ = ["data", "load_settlements_demo"]
