"""Inventory sync benchmark: 10,000 merchant-fulfilled SKUs from ERP post to "in sync" on Amazon.

Full path: the ERP's levels go through `inventory_levels_post` (stored raw, conditional upserts, wanted
quantities, coalesced pushes) in posts of 1,000, then the outbound sender runs until every SKU is in sync, with
the real client against the SP-API simulator in its own process. Printed: SKUs synced per second, the SP-API
calls used against the minimum (one JSON_LISTINGS_FEED: createFeedDocument, upload, createFeed, getFeed,
getFeedDocument + download), and the same run's baseline: those minimum calls made with bare httpx and a
prebuilt feed document (nothing parsed or stored). Then a burst of 1,000 updates to one SKU: calls sent.

    .venv/bin/python bench/inventory_sync.py [--skus 10000]

Needs PostgreSQL on 127.0.0.1:5432 (a throwaway database `ledgerline_bench` is recreated each run).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.ingest_orders import DB, PG, lwa_token, reset_database, start_simulator  # noqa: E402

UK = "A1F83G8C2ARO7P"
SELLER: dict[str, Any] = {
    "selling_partner_id": "A1BENCHINV0001", "refresh_token": "Atzr|bench-inv", "client_id": "bench-client",
    "client_secret": "bench-secret", "marketplace_ids": [UK],
}  # fmt: skip
MINIMUM_FEED_CALLS = {"createFeedDocument": 1, "createFeed": 1, "getFeed": 1, "getFeedDocument": 1}


def sim_calls(sim: httpx.Client) -> dict[str, int]:
    return {op: sum(counts.values()) for op, counts in sim.get("/_sim/calls").json().items()}


def bare_feed(sim_url: str, skus: list[str], quantity: int) -> float:
    """Baseline: the minimum feed calls with plain httpx and a ready document."""
    token = lwa_token(sim_url, SELLER)
    messages = [
        {"messageId": n, "sku": sku, "operationType": "PATCH", "productType": "PRODUCT",
         "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability",
                      "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}]}]}
        for n, sku in enumerate(skus, 1)
    ]  # fmt: skip
    document = json.dumps({"header": {"sellerId": SELLER["selling_partner_id"], "version": "2.0"},
                           "messages": messages}).encode()  # fmt: skip
    headers = {"x-amz-access-token": token}
    start = time.perf_counter()
    with httpx.Client(base_url=sim_url, headers=headers, timeout=60) as http:
        created = http.post("/feeds/2021-06-30/documents", json={"contentType": "application/json; charset=UTF-8"})
        doc = created.json()
        httpx.put(doc["url"], content=document, headers={"Content-Type": "application/json; charset=UTF-8"})
        body = {"feedType": "JSON_LISTINGS_FEED", "marketplaceIds": [UK], "inputFeedDocumentId": doc["feedDocumentId"]}
        feed = http.post("/feeds/2021-06-30/feeds", json=body).json()
        while True:
            state = http.get(f"/feeds/2021-06-30/feeds/{feed['feedId']}").json()
            if state["processingStatus"] == "DONE":
                break
            time.sleep(0.05)
        report = http.get(f"/feeds/2021-06-30/documents/{state['resultFeedDocumentId']}").json()
        httpx.get(report["url"])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=10_000)
    args = parser.parse_args()
    reset_database()
    os.environ.update(DJANGO_SETTINGS_MODULE="config.settings.base", DATABASE_URL=f"{PG}/{DB}", LOG_LEVEL="WARNING")
    proc, sim_url = start_simulator()
    try:
        os.environ.update(SP_API_ENDPOINT=sim_url, SP_API_LWA_ENDPOINT=sim_url)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from django.db import transaction

        from config.common.models import OutboundRequest
        from config.common.outbound import outbound_sweep
        from fulfillment.models import ListingSync
        from fulfillment.services.inventory import LevelRow, inventory_levels_post
        from mappings.models import SkuMapping
        from orders.services import seller_account_upsert

        sim = httpx.Client(base_url=sim_url, timeout=120)
        sim.post("/_sim/sellers", json=SELLER).raise_for_status()
        skus = [f"INV-{n:05d}" for n in range(args.skus)]
        sim.post("/_sim/listings", json={"seller": SELLER["selling_partner_id"], "marketplace_id": UK,
                                         "listings": dict.fromkeys(skus, 0)}).raise_for_status()  # fmt: skip
        account = seller_account_upsert(
            name="Bench inventory", selling_partner_id=str(SELLER["selling_partner_id"]), region="eu",
            lwa_client_id=str(SELLER["client_id"]), lwa_client_secret=str(SELLER["client_secret"]),
            refresh_token=str(SELLER["refresh_token"]), marketplace_ids=[UK],
        )  # fmt: skip
        SkuMapping.objects.bulk_create(
            SkuMapping(seller_account=account, seller_sku=sku, erp_item_id=f"IT-{sku}", fulfillment_channel="MFN")
            for sku in skus
        )
        sim.post("/_sim/calls/reset").raise_for_status()
        as_of = datetime.now(UTC) - timedelta(minutes=1)

        # --- 10k SKUs: ERP posts of 1,000, then the sender until all are in sync --------------------------
        start = time.perf_counter()
        for at in range(0, len(skus), 1000):
            rows = [LevelRow(item_id=f"IT-{sku}", site="MAIN", on_hand=7, allocated=2, as_of=as_of, version=1)
                    for sku in skus[at : at + 1000]]  # fmt: skip
            with transaction.atomic():
                inventory_levels_post(rows=rows, payload={"levels": len(rows)})
        posted = time.perf_counter() - start
        while OutboundRequest.objects.filter(status__in=["pending", "in_flight"]).exists():
            OutboundRequest.objects.filter(status="pending").update(next_attempt_at=datetime.now(UTC))
            outbound_sweep(limit=500)
        elapsed = time.perf_counter() - start
        in_sync = ListingSync.objects.filter(status="in_sync", pushed_quantity=5).count()
        used = sim_calls(sim)
        shown = sim.get("/_sim/listings", params={"seller": SELLER["selling_partner_id"], "marketplace_id": UK}).json()
        correct = sum(1 for sku in skus if shown["listings"].get(sku) == 5)
        baseline = bare_feed(sim_url, skus, 6)
        sp_calls = {k: v for k, v in used.items() if not k.startswith(("lwa", "token", "auth"))}
        print(f"\n{args.skus:,} SKUs, ERP posts of 1,000 → all in sync on Amazon:")
        print(f"  posts applied in {posted:.2f} s; everything in sync after {elapsed:.2f} s")
        print(
            f"  SKUs synced per second: {args.skus / elapsed:,.0f}   ({in_sync:,} in sync, {correct:,} right on Amazon)"
        )
        print(f"  SP-API calls used: {sum(sp_calls.values())}  {sp_calls}")
        print(f"  minimum (one feed): {sum(MINIMUM_FEED_CALLS.values())} calls + 2 document transfers; "
              f"patchListingsItem calls: {used.get('patchListingsItem', 0)}")  # fmt: skip
        print(
            f"  baseline (bare httpx, the same feed calls, nothing stored): {baseline:.2f} s "
            f"→ {args.skus / baseline:,.0f} SKUs/s; ratio full path / baseline throughput: {baseline / elapsed:.2f}"
        )

        # --- a burst of 1,000 updates to one SKU ----------------------------------------------------------
        sim.post("/_sim/calls/reset").raise_for_status()
        start = time.perf_counter()
        for n in range(1, 1001):
            with transaction.atomic():
                row = LevelRow(item_id="IT-INV-00001", site="MAIN", on_hand=100 + n, allocated=0,
                               as_of=as_of + timedelta(seconds=n), version=1 + n)  # fmt: skip
                inventory_levels_post(rows=[row], payload={})
        while OutboundRequest.objects.filter(status__in=["pending", "in_flight"]).exists():
            outbound_sweep(limit=500)
        burst = time.perf_counter() - start
        used = sim_calls(sim)
        shown = sim.get("/_sim/listings", params={"seller": SELLER["selling_partner_id"], "marketplace_id": UK}).json()
        print(
            f"\nBurst of 1,000 updates to one SKU (no worker running meanwhile): {burst:.2f} s, "
            f"patchListingsItem calls: {used.get('patchListingsItem', 0)} (minimum 1), "
            f"Amazon shows {shown['listings']['INV-00001']} (last value 1100)"
        )
    finally:
        proc.terminate()


if __name__ == "__main__":
    main()
