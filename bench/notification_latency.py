"""New-order latency: from an order's creation in the SP-API simulator to its canonical Order row, through SP-API
notifications (SQS → consumer → getOrder) and through polling (searchOrders), with the SP-API calls each costs.

Both modes run for real, in real time, with the published usage plans enforced by the simulator (getOrder 0.5/s
burst 30, searchOrders 0.0056/s burst 20) and our shared limiter in the path:

- notifications: the account subscribes to ORDER_CHANGE (createDestination + createSubscription on the simulator),
  the simulator delivers to a local SQS (moto, its own process), our consumer (`notifications_consume`, a thread
  here as in `run_worker`'s child) stores, deletes, applies. No poll runs.
- polling: no subscription; `amazon_orders_sync` every `--poll-minutes` (the schedule's SP_API_ORDERS_POLL_MINUTES)
  with the window ending SP_API_ORDERS_SETTLE_DELAY before now (3 min by default: Amazon only guarantees searchOrders
  data 2 minutes after a change, and the simulator refuses a window closer than that), as production runs it.

Orders are created one by one at `--interval` seconds apart. Latency = Order.created_at − the moment the simulator
accepted the order. Calls per 1,000 orders = the simulator's call counts in that mode / N × 1,000 (LWA token calls
excluded; polling's calls depend on how long the orders take to arrive: empty polls cost a call too).

    .venv/bin/python bench/notification_latency.py [--orders 100] [--interval 1.0] [--poll-minutes 2]

Needs PostgreSQL on 127.0.0.1:5432 (a throwaway database `ledgerline_bench_notif` is recreated each run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.ingest_orders import free_port  # noqa: E402

PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = "ledgerline_bench_notif"
UK = "A1F83G8C2ARO7P"
SELLER = {
    "selling_partner_id": "A1BENCHNOTIF01",
    "refresh_token": "Atzr|bench-notif",
    "client_id": "amzn1.application-oa2-client.bench",
    "client_secret": "amzn1.oa2-cs.v1.bench",
    "marketplace_ids": [UK],
}
SKU = "BENCH-N-001"


def wait_http(url: str) -> None:
    for _ in range(200):
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


def start(argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, env={**os.environ, **(env or {})})


def reset_database() -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")


def order_entry(order_id: str) -> dict[str, Any]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    order = {"AmazonOrderId": order_id, "PurchaseDate": now, "LastUpdateDate": now, "OrderStatus": "Unshipped",
             "FulfillmentChannel": "MFN", "MarketplaceId": UK,
             "OrderTotal": {"CurrencyCode": "GBP", "Amount": "20.00"}}  # fmt: skip
    items = [{"ASIN": "B000000001", "OrderItemId": "1", "SellerSKU": SKU, "QuantityOrdered": 1, "QuantityShipped": 0,
              "ItemPrice": {"CurrencyCode": "GBP", "Amount": "20.00"}}]  # fmt: skip
    address = {"Name": "Jane Doe", "AddressLine1": "1 High St", "City": "Leeds", "PostalCode": "LS1 1AA",
               "CountryCode": "GB"}  # fmt: skip
    return {"order": order, "items": items, "address": address}


def create_orders(sim: Any, prefix: str, count: int, interval: float) -> dict[str, datetime]:
    """Create orders one at a time; returns order id → the moment the simulator had it (after its answer)."""
    created: dict[str, datetime] = {}
    for n in range(count):
        order_id = f"{prefix}-{n:07d}"
        sim.upsert_orders(seller=SELLER["selling_partner_id"], orders=[order_entry(order_id)])
        created[order_id] = datetime.now(UTC)
        time.sleep(interval)
    return created


def latencies(created: dict[str, datetime], timeout: float, tick: Any = None) -> list[float]:
    from orders.models import Order

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tick is not None:
            tick()
        rows = dict(Order.objects.filter(external_id__in=list(created)).values_list("external_id", "created_at"))
        if len(rows) == len(created):
            return sorted((rows[k] - created[k]).total_seconds() for k in created)
        time.sleep(0.5)
    raise SystemExit(f"only {len(rows)} of {len(created)} orders arrived within {timeout:.0f} s")


def p99(values: list[float]) -> float:
    return values[min(len(values) - 1, round(0.99 * (len(values) - 1)))]


def spapi_calls(sim: Any) -> dict[str, int]:
    return {op: sum(c.values()) for op, c in sim.calls().items() if not op.startswith("lwa")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--interval", type=float, default=1.0, help="Seconds between two new orders.")
    parser.add_argument("--poll-minutes", type=float, default=2.0, help="SP_API_ORDERS_POLL_MINUTES (default 2).")
    parser.add_argument("--modes", default="notifications,polling")
    args = parser.parse_args()
    modes = args.modes.split(",")

    reset_database()
    sqs_port, sim_port = free_port(), free_port()
    sqs_url, sim_url = f"http://127.0.0.1:{sqs_port}", f"http://127.0.0.1:{sim_port}"
    procs = [start([sys.executable, "-m", "simulators.sqs", "--port", str(sqs_port)])]
    wait_http(f"{sqs_url}/moto-api/")
    from simulators.sqs import queue_ensure

    queue_url, _ = queue_ensure(sqs_url, "bench-notifications")
    procs.append(
        start(
            [sys.executable, "-m", "simulators.spapi", "--port", str(sim_port)],
            env={"SPAPI_SIM_SQS_ENDPOINT_URL": sqs_url},
        )
    )
    wait_http(f"{sim_url}/_sim/health")
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.base", DATABASE_URL=f"{PG}/{DB}", LOG_LEVEL="WARNING",
        SP_API_ENDPOINT=sim_url, SP_API_LWA_ENDPOINT=sim_url, SQS_ENDPOINT_URL=sqs_url,
        SP_API_NOTIFICATIONS_QUEUE_URL=queue_url, SP_API_RATE_LIMITING="true",
    )  # fmt: skip
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from mappings.models import SkuMapping
        from orders.services import (
            amazon_orders_sync,
            notification_subscribe,
            notification_unsubscribe,
            notifications_consume,
            seller_account_upsert,
        )
        from simulators.spapi.control import SpApiSimulatorControl

        SkuMapping.objects.create(seller_sku=SKU, erp_item_id="IT-BENCH")
        sim = SpApiSimulatorControl(sim_url)
        sim.reset()
        sim.add_seller(
            selling_partner_id=SELLER["selling_partner_id"], refresh_token=SELLER["refresh_token"],  # type: ignore[arg-type]
            client_id=SELLER["client_id"], client_secret=SELLER["client_secret"], marketplace_ids=[UK],  # type: ignore[arg-type]
        )  # fmt: skip
        sim.set_rate_limiting(True)  # Amazon's published plans
        sim.notification_settings(sqs_endpoint_url=sqs_url)
        account = seller_account_upsert(
            name="Bench", selling_partner_id=SELLER["selling_partner_id"], region="eu",  # type: ignore[arg-type]
            lwa_client_id=SELLER["client_id"], lwa_client_secret=SELLER["client_secret"],  # type: ignore[arg-type]
            refresh_token=SELLER["refresh_token"], marketplace_ids=[UK],  # type: ignore[arg-type]
        )  # fmt: skip
        print(
            f"settings: {args.orders} orders, one every {args.interval:g} s; SP_API_ORDERS_SETTLE_DELAY "
            f"{settings.SP_API_ORDERS_SETTLE_DELAY.total_seconds():.0f} s; poll every {args.poll_minutes:g} min; "
            f"notifications: SQS long poll {settings.SP_API_NOTIFICATIONS_WAIT_SECONDS} s, getOrder budget "
            f"{settings.SP_API_NOTIFICATIONS_GETORDER_BUDGET}/round; simulator usage plans on"
        )
        results: dict[str, tuple[list[float], dict[str, int]]] = {}

        if "notifications" in modes:
            notification_subscribe(account=account, notification_type="ORDER_CHANGE", actor="bench")
            stop = threading.Event()
            consumer = threading.Thread(
                target=notifications_consume, kwargs={"stop": stop, "name": "bench-consumer"}, daemon=True
            )
            consumer.start()
            time.sleep(1)
            sim.reset_calls()
            created = create_orders(sim, "202-1111111", args.orders, args.interval)
            sim.flush_notifications(timeout_seconds=60)
            results["notifications"] = (latencies(created, timeout=600), spapi_calls(sim))
            stop.set()
            consumer.join(timeout=30)
            notification_unsubscribe(account=account, notification_type="ORDER_CHANGE", actor="bench")

        if "polling" in modes:
            amazon_orders_sync(account=account, marketplace_id=UK, ignore_backoff=True)  # the cursor starts now
            sim.reset_calls()
            period = args.poll_minutes * 60
            next_poll = [time.monotonic() + period]

            def poll_when_due() -> None:
                if time.monotonic() >= next_poll[0]:
                    next_poll[0] = time.monotonic() + period
                    amazon_orders_sync(account=account, marketplace_id=UK)

            stop_polling = threading.Event()

            def poller() -> None:
                while not stop_polling.is_set():
                    poll_when_due()
                    stop_polling.wait(0.5)

            thread = threading.Thread(target=poller, daemon=True)
            thread.start()
            created = create_orders(sim, "202-2222222", args.orders, args.interval)
            timeout = settings.SP_API_ORDERS_SETTLE_DELAY.total_seconds() + 3 * period + 120
            results["polling"] = (latencies(created, timeout=timeout), spapi_calls(sim))
            stop_polling.set()
            thread.join(timeout=600)

        for mode, (lat, calls) in results.items():
            per_thousand = {op: round(n / args.orders * 1000) for op, n in sorted(calls.items())}
            print(
                f"{mode:13s}: median {statistics.median(lat):7.2f} s, p99 {p99(lat):7.2f} s, max {lat[-1]:7.2f} s; "
                f"SP-API calls per 1,000 orders: {per_thousand}"
            )
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
