"""Order-ingestion benchmark: orders/s through the full path, and API calls used versus the minimum.

Full path = the real SP-API client (python-amazon-sp-api over HTTP) against the simulator running in its own
process → raw snapshots → items/address → canonical orders in PostgreSQL, one `amazon_orders_sync` call.
Baseline, measured in the same run: the same minimum set of HTTP calls made with a bare httpx client and
the same concurrency, with no parsing and no database ("fetch-only ceiling"). The ratio says how much of
the available throughput the pipeline keeps.

    .venv/bin/python bench/ingest_orders.py [--orders 5000] [--fba-share 0.5]

Needs PostgreSQL on 127.0.0.1:5432 (a throwaway database `ledgerline_bench` is recreated each run).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = "ledgerline_bench"
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
    for operation in ("getOrders", "getOrderItems", "getOrderAddress"):
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


def minimum_calls(sim_url: str, token: str, count: int) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """What a perfect client needs: every getOrders page, getOrderItems per order, getOrderAddress per MFN order."""
    calls: list[tuple[str, str]] = []
    pages = 0
    after = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    before = (datetime.now(UTC) - timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    params: dict[str, str] = {"MarketplaceIds": UK, "LastUpdatedAfter": after, "LastUpdatedBefore": before}
    headers = {"x-amz-access-token": token}
    with httpx.Client(base_url=sim_url, headers=headers) as http:
        while True:
            page = http.get("/orders/v0/orders", params=params).json()["payload"]
            pages += 1
            for order in page["Orders"]:
                calls.append(("items", f"/orders/v0/orders/{order['AmazonOrderId']}/orderItems"))
                if order.get("FulfillmentChannel") == "MFN" and order["OrderStatus"] in (
                    "Unshipped", "PartiallyShipped", "Shipped", "InvoiceUnconfirmed",
                ):  # fmt: skip
                    calls.append(("address", f"/orders/v0/orders/{order['AmazonOrderId']}/address"))
            if not page.get("NextToken"):
                break
            params = {"MarketplaceIds": UK, "NextToken": page["NextToken"]}
    counts = {
        "getOrders": pages,
        "getOrderItems": sum(1 for kind, _ in calls if kind == "items"),
        "getOrderAddress": sum(1 for kind, _ in calls if kind == "address"),
    }
    return counts, calls


def bare_fetch(sim_url: str, token: str, calls: list[tuple[str, str]], pages: int, concurrency: int) -> float:
    """Baseline: the same requests with plain httpx (pages sequential, details concurrent), nothing else."""
    headers = {"x-amz-access-token": token}
    local = __import__("threading").local()

    def get(path: str) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=sim_url, headers=headers)
        client.get(path).raise_for_status()

    start = time.perf_counter()
    with httpx.Client(base_url=sim_url, headers=headers) as http:
        for _ in range(pages):
            http.get("/orders/v0/orders", params={"MarketplaceIds": UK, "CreatedAfter": "2020-01-01T00:00:00Z"})
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(get, [path for _, path in calls]))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--fba-share", type=float, default=0.5, help="Share of FBA orders (no address call).")
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
        from django.conf import settings
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
        minimum, calls = minimum_calls(sim_url, token, args.orders)
        concurrency = settings.SP_API_ITEM_FETCH_CONCURRENCY

        baseline = bare_fetch(sim_url, token, calls, minimum["getOrders"], concurrency)
        start = time.perf_counter()
        result = amazon_orders_sync(account=account, marketplace_id=UK, ignore_backoff=True)
        elapsed = time.perf_counter() - start
        assert result.outcome == "complete", result.summary()
        ingested = Order.objects.count()
        assert ingested == args.orders, (ingested, args.orders)

        # The database half alone: the same stored payloads processed again into fresh canonical rows.
        from orders.models import AmazonOrderSnapshot
        from orders.services import amazon_snapshots_process

        Order.objects.all().delete()
        AmazonOrderSnapshot.objects.update(state=AmazonOrderSnapshot.State.FETCHED)
        pks = list(AmazonOrderSnapshot.objects.order_by("pk").values_list("pk", flat=True))
        start = time.perf_counter()
        for offset in range(0, len(pks), 100):
            amazon_snapshots_process(
                snapshots=list(AmazonOrderSnapshot.objects.filter(pk__in=pks[offset : offset + 100]))
            )
        processing = time.perf_counter() - start
        assert Order.objects.count() == args.orders

        rate, base_rate = ingested / elapsed, ingested / baseline
        print(f"orders ingested:            {ingested} ({args.fba_share:.0%} FBA), concurrency {concurrency}")
        print(f"full path:                  {elapsed:.2f} s = {rate:,.0f} orders/s (target >= 2,000)")
        print(f"baseline bare HTTP fetch:   {baseline:.2f} s = {base_rate:,.0f} orders/s")
        print(f"ratio full path / baseline: {rate / base_rate:.2f}")
        print(f"database half alone:        {processing:.2f} s = {ingested / processing:,.0f} orders/s")
        for op in ("getOrders", "getOrderItems", "getOrderAddress"):
            used = result.api_calls.get(op, 0)
            print(
                f"API calls {op:16s} used {used:6d}  minimum {minimum[op]:6d}  ratio {used / max(minimum[op], 1):.2f}"
            )
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
