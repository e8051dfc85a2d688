"""Opayo notification ingest: requests/s of the notification endpoint next to two bare Django views, same run.

All are served by the same gunicorn (config/gunicorn.py: 2 workers × 8 threads, base settings, PostgreSQL) and
loaded by the same client (`wrk` if installed — `apt-get install wrk` — else a multi-process Python loader). The
notification path does what a delivery does before Opayo gets its answer: find the SecurityKey, verify
VPSSignature, store the raw row durably, answer in Opayo's format. Applying to the ledger happens in the
worker; its rate is measured afterwards on the deliveries just stored. The baselines: `/bench/insert`, a bare
view that makes the same one durable INSERT of the body (the honest limit for accepting a delivery;
bench/notify_baseline.py), and `/healthz`, a view that touches no database.

    .venv/bin/python bench/notification_ingest.py [--seconds 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = os.environ.get("BENCH_NOTIFY_DB", "ledgerline_bench_notify")
SECURITY_KEY = "OUWLNYQTVT"
VENDOR = "BenchVendor"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare() -> str:
    """Fresh database with one eCommerce order and its Server-protocol payment; returns the notification body."""
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from django.db import connection

    from bench.notify_baseline import CREATE_TABLE

    with connection.cursor() as cursor:
        cursor.execute(CREATE_TABLE)
    from orders.models import Order
    from payments.clients.opayo import server_notification_signature
    from payments.services import payment_register

    order = Order.objects.create(
        channel="ecommerce", external_id="BENCH-1", status="pending_payment", purchased_at=timezone.now(),
        currency="GBP", total_amount=Decimal("10.00"),
    )  # fmt: skip
    payment_register(
        order=order, vendor_tx_code="BENCH-1-1", transaction_type="Payment", amount=Decimal("10.00"), currency="GBP",
        protocol="server", security_key=SECURITY_KEY, actor="bench",
    )  # fmt: skip
    fields = {
        "VPSProtocol": "4.00", "TxType": "PAYMENT", "VendorTxCode": "BENCH-1-1",
        "VPSTxId": "{5A1BC414-5409-48DD-9B8B-DCDF096CE0BE}", "Status": "OK", "StatusDetail": "0000 : Ok",
        "TxAuthNo": "9962", "CardType": "VISA", "Last4Digits": "0006", "BankAuthCode": "999777",
    }  # fmt: skip
    fields["VPSSignature"] = server_notification_signature(fields, vendor_name=VENDOR, security_key=SECURITY_KEY)
    return urlencode(fields)


def wrk(url: str, seconds: int, connections: int, body: str | None) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        if body is not None:
            script.write(
                'wrk.method = "POST"\n'
                f'wrk.body = "{body}"\n'
                'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
            )
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", script.name, url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    os.unlink(script.name)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"{url}: {errors.group(1)} error responses\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


def _python_worker(url: str, body: str | None, deadline: float, counter: Any) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    done = 0
    with httpx.Client() as http:
        while time.monotonic() < deadline:
            response = http.post(url, content=body, headers=headers) if body is not None else http.get(url)
            response.raise_for_status()
            done += 1
    with counter.get_lock():
        counter.value += done


def python_load(url: str, seconds: int, connections: int, body: str | None) -> float:
    counter = multiprocessing.Value("i", 0)
    deadline = time.monotonic() + seconds
    procs = [
        multiprocessing.Process(target=_python_worker, args=(url, body, deadline, counter))
        for _ in range(min(connections, 8))
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return counter.value / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.notify_settings",
        "DATABASE_URL": f"{PG}/{DB}",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "OPAYO_VENDOR_NAME": VENDOR,
        # The per-source limit stays on (its shared bucket row is part of each delivery's cost), above the load.
        "INBOUND_RATE_LIMITS": '{"/webhooks/opayo/": [1000000, 1000000]}',
    }
    os.environ.update(env)
    body = prepare()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "config" / "gunicorn.py"), "config.wsgi",
         "-b", f"127.0.0.1:{port}", "--log-level", "warning", "--access-logfile", "/dev/null"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        first = httpx.post(f"{base}/webhooks/opayo/server/", content=body,
                           headers={"Content-Type": "application/x-www-form-urlencoded"}).text  # fmt: skip
        assert first.startswith("Status=OK"), first
        load = wrk if shutil.which("wrk") else python_load
        bare = load(f"{base}/healthz", args.seconds, args.connections, None)
        insert = load(f"{base}/bench/insert", args.seconds, args.connections, body)
        notify = load(f"{base}/webhooks/opayo/server/", args.seconds, args.connections, body)
        print(f"load generator:          {'wrk' if load is wrk else 'python (install wrk for better numbers)'}")
        print(f"bare view, no database:  {bare:,.0f} req/s")
        print(f"bare view, one INSERT:   {insert:,.0f} req/s (the body stored durably, nothing else)")
        print(f"Opayo notification POST: {notify:,.0f} req/s (verified, stored durably, answered)")
        print(f"ratio notification / bare INSERT view: {notify / insert:.2f} (the honest limit is 1)")
        from payments.models import OpayoNotification
        from payments.services import opayo_notifications_apply_pending

        pending = OpayoNotification.objects.filter(outcome="received").count()
        started = time.perf_counter()
        while opayo_notifications_apply_pending(limit=5000):
            pass
        took = time.perf_counter() - started
        print(
            f"worker applying them:    {pending / took:,.0f} notifications/s ({pending} stored, all but one duplicates)"
        )
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
