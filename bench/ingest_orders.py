"""Order-ingestion benchmark (Orders API v2026-01-01): orders/s through the full path, under 30 % faults, and API calls.

Full path = the real SP-API client (python-amazon-sp-api over HTTP) against the simulator running in its own process
→ searchOrders pages with items, ship-to, proceeds and packages → raw snapshots → canonical orders in PostgreSQL, one
`amazon_orders_sync` call. Baseline, measured in the same run: the same searchOrders pages fetched with a bare httpx
client, one after another as their tokens chain them, with no parsing and no database ("fetch-only ceiling"). Then
the same ingestion again from empty with 30 % of searchOrders answers failing (503), cycle after cycle until the
window is complete: its rate against the fault-free one, and every order once.

    .venv/bin/python bench/ingest_orders.py [--orders 10000] [--fba-share 0.5] [--fault-rate 0.3]

Needs PostgreSQL on 127.0.0.1:5432 (a throwaway database `ledgerline_bench` is recreated each run).
Targets (issue 15): >= 2,000 orders/s at 10,000 orders, >= 0.5x the bare fetch, API calls = ceil(N / 100), and
>= 0.5x the fault-free rate at 30 % faults.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = os.environ.get("BENCH_DB", "ledgerline_bench")  # another name when benches run side by side
UK = "A1F83G8C2ARO7P"
SELLER = {
    "selling_partner_id": "A1BENCH0000001",
    "refresh_token": "Atzr|bench",
    "client_id": "bench-client",
    "client_secret": "bench-secret",
    "marketplace_ids": [UK],
}
SKUS = [f"BENCH-{n:03d}" for n in range(50)]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_simulator() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators.spapi", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(f"{url}/_sim/health", timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("simulator did not start")


def reset_database() -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")


def lwa_token(sim_url: str, seller: dict[str, Any]) -> str:
    """An access token for a benchmark seller, for the bare-httpx baselines."""
    answer = httpx.post(
        f"{sim_url}/auth/o2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": seller["refresh_token"],
            "client_id": seller["client_id"],
            "client_secret": seller["client_secret"],
        },
    )
    return str(answer.json()["access_token"])


def seed(sim: httpx.Client, count: int, fba_share: float) -> list[str]:
    assert sim.post("/_sim/reset").status_code < 300
    assert sim.post("/_sim/sellers", json=SELLER).status_code < 300
    assert sim.post("/_sim/rate-limits", json={"enabled": False}).status_code < 300
    # A generous grant, reported in x-amzn-RateLimit-Limit: our shared limiter stays in the path and follows it.
    for operation in ("searchOrders", "getOrder2026"):
        plan = {"operation": operation, "rate": 100_000, "burst": 100_000}
        assert sim.post("/_sim/rate-limits", json=plan).status_code < 300
    now = datetime.now(UTC)
    response = sim.post(
        "/_sim/generate",
        json={
            "seller": SELLER["selling_partner_id"],
            "marketplace_id": UK,
            "count": count,
            "skus": SKUS,
            "start": (now - timedelta(days=2)).isoformat(),
            "end": (now - timedelta(minutes=10)).isoformat(),
            "seed": 7,
            "statuses": {"Unshipped": 0.6, "Shipped": 0.3, "Pending": 0.1},
            "fulfillment_channels": {"AFN": fba_share, "MFN": 1 - fba_share},
        },
    )
    assert response.status_code < 300, response.text
    return list(response.json()["order_ids"])


def bare_fetch(sim_url: str, token: str) -> tuple[float, int, int]:
    """Baseline: every searchOrders page of the window with plain httpx (pages chain by token), nothing else.
    Returns (seconds, pages, orders)."""
    after = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    before = (datetime.now(UTC) - timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    params = {
        "marketplaceIds": UK, "lastUpdatedAfter": after, "lastUpdatedBefore": before,
        "includedData": "FULFILLMENT,RECIPIENT,PROCEEDS,PACKAGES", "maxResultsPerPage": "100",
    }  # fmt: skip
    pages = orders = 0
    start = time.perf_counter()
    with httpx.Client(base_url=sim_url, headers={"x-amz-access-token": token}) as http:
        token_: str | None = None
        while True:
            body = http.get(
                "/orders/2026-01-01/orders", params={**params, **({"paginationToken": token_} if token_ else {})}
            ).json()
            pages += 1
            orders += len(body["orders"])
            token_ = (body.get("pagination") or {}).get("nextToken")
            if not token_:
                break
    return time.perf_counter() - start, pages, orders


def empty_orders() -> None:
    """Back to no orders (and no cursor), keeping mappings and the account: the fault run starts like the first."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE orders_order, orders_amazonordersnapshot, orders_synccursor, common_exceptionitem CASCADE"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10000)
    parser.add_argument("--fba-share", type=float, default=0.5, help="Share of FBA orders (no ship-to, no packages).")
    parser.add_argument("--fault-rate", type=float, default=0.3, help="Share of searchOrders answers that fail.")
    args = parser.parse_args()

    reset_database()
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.base",
        DATABASE_URL=f"{PG}/{DB}",
        LOG_LEVEL="WARNING",
        SP_API_ORDERS_MAX_PAGES_PER_CYCLE="100000",
    )
    proc, sim_url = start_simulator()
    try:
        os.environ.update(SP_API_ENDPOINT=sim_url, SP_API_LWA_ENDPOINT=sim_url)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from mappings.models import SkuMapping
        from orders.models import Order
        from orders.services import amazon_orders_sync, seller_account_upsert

        SkuMapping.objects.bulk_create([SkuMapping(seller_sku=s, erp_item_id=f"IT-{s}") for s in SKUS])
        account = seller_account_upsert(
            name="Bench",
            selling_partner_id=SELLER["selling_partner_id"],  # type: ignore[arg-type]
            region="eu",
            lwa_client_id=SELLER["client_id"],  # type: ignore[arg-type]
            lwa_client_secret=SELLER["client_secret"],  # type: ignore[arg-type]
            refresh_token=SELLER["refresh_token"],  # type: ignore[arg-type]
            marketplace_ids=[UK],
        )
        sim = httpx.Client(base_url=sim_url, timeout=120)
        seed(sim, args.orders, args.fba_share)
        token = lwa_token(sim_url, SELLER)

        baseline, pages, listed = bare_fetch(sim_url, token)
        assert listed == args.orders, (listed, args.orders)
        # Twice from empty: the first run pays for a new database's first writes and the process's first imports;
        # the second is the steady state a running worker has, and the one the ratios use.
        timings = []
        for _ in range(2):
            empty_orders()
            start = time.perf_counter()
            result = amazon_orders_sync(account=account, marketplace_id=UK, ignore_backoff=True)
            timings.append(time.perf_counter() - start)
            assert result.outcome == "complete", result.summary()
        cold, elapsed = timings
        ingested = Order.objects.count()
        assert ingested == args.orders, (ingested, args.orders)

        # The database half alone: the same stored payloads processed again into fresh canonical rows.
        from orders.models import AmazonOrderSnapshot, OrderEvent
        from orders.services import amazon_snapshots_process

        # (Truncating orders truncates what points at them, the snapshots too: they are put back as stored.)
        kept = list(AmazonOrderSnapshot.objects.order_by("pk"))
        empty_orders()
        for snap in kept:
            snap.order, snap.state = None, AmazonOrderSnapshot.State.FETCHED
        AmazonOrderSnapshot.objects.bulk_create(kept)
        empty_orders_keep = [snap.pk for snap in kept]
        start = time.perf_counter()
        for offset in range(0, len(empty_orders_keep), 100):
            amazon_snapshots_process(
                snapshots=list(AmazonOrderSnapshot.objects.filter(pk__in=empty_orders_keep[offset : offset + 100]))
            )
        processing = time.perf_counter() - start
        assert Order.objects.count() == args.orders

        # The same ingestion from empty with a share of searchOrders answers failing: cycles until complete.
        empty_orders()
        rule = {"operation": "searchOrders", "kind": "error", "status": 503, "probability": args.fault_rate}
        assert sim.post("/_sim/settings", json={"rng_seed": 11}).status_code < 300
        assert sim.post("/_sim/faults", json=rule).status_code < 300
        cycles, faulted_calls, waited = 0, 0, 0.0
        start = time.perf_counter()
        while True:
            cycles += 1
            faulted = amazon_orders_sync(account=account, marketplace_id=UK)
            faulted_calls += faulted.api_calls.get("searchOrders", 0)
            if faulted.outcome == "complete" or cycles > 50:
                break
            # As the poller would: the next cycle when the cursor's backoff (or the circuit's cool-down) ends.
            from orders.models import SyncCursor

            not_before = SyncCursor.objects.get().not_before
            pause = max(0.5, (not_before - datetime.now(UTC)).total_seconds()) if not_before else 0.5
            waited += pause
            time.sleep(pause)
        faulted_elapsed = time.perf_counter() - start
        refused = sim.get("/_sim/calls").json().get("searchOrders", {}).get("503", 0)
        once = Order.objects.count() == args.orders and OrderEvent.objects.filter(kind="created").count() == args.orders
        assert faulted.outcome == "complete" and once, faulted.summary()

        rate, base_rate = ingested / elapsed, listed / baseline
        faulted_rate = args.orders / faulted_elapsed
        minimum = math.ceil(args.orders / 100)
        used = result.api_calls.get("searchOrders", 0)
        print(f"orders ingested:            {ingested} ({args.fba_share:.0%} FBA) in {pages} searchOrders pages")
        print(f"full path, first run:       {cold:.2f} s = {ingested / cold:,.0f} orders/s (a new database)")
        print(f"full path:                  {elapsed:.2f} s = {rate:,.0f} orders/s (target >= 2,000)")
        print(f"baseline bare HTTP fetch:   {baseline:.2f} s = {base_rate:,.0f} orders/s")
        print(f"ratio full path / baseline: {rate / base_rate:.2f} (target >= 0.5)")
        print(f"database half alone:        {processing:.2f} s = {ingested / processing:,.0f} orders/s")
        print(
            f"API calls: {dict(sorted(result.api_calls.items()))}; ceil(N/100) = {minimum}; ratio {used / minimum:.2f}"
        )
        print(
            f"with {args.fault_rate:.0%} faults:           {faulted_elapsed:.2f} s = {faulted_rate:,.0f} orders/s in "
            f"{cycles} cycle(s) ({waited:.0f} s of backoff), {faulted_calls} calls ({refused} refused); "
            f"every order once: {once}"
        )
        print(f"ratio faulted / fault-free: {faulted_rate / rate:.2f} (target >= 0.5)")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
