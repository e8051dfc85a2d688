"""Faults across the stack: a provider failing 30% of the time, and a worker killed mid-batch. Each prints its
figures (run with -s to see them)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection

from config.localdb import url_from_settings
from orders.models import AmazonOrderSnapshot, Order, SellerAccount, SyncCursor
from orders.services import amazon_orders_sync
from simulators.spapi.control import SpApiSimulatorControl
from tests.factories import UK
from tests.spapi_support import spapi_for

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def amazon(spapi_url: str, settings: Any, account: SellerAccount, mapped_skus: list[str]) -> Iterator[Any]:
    settings.SP_API_TIMEOUT_SECONDS = 0.5  # a timed-out call costs half a second here, not twenty
    settings.SP_API_ORDERS_MAX_PAGES_PER_CYCLE = 3
    with spapi_for(spapi_url, settings, account, rate_limits=False) as sim:
        yield sim


def orders_once(count: int) -> None:
    assert Order.objects.count() == count
    assert Order.objects.values("external_id").distinct().count() == count
    assert AmazonOrderSnapshot.objects.count() == count


@pytest.mark.django_db
def test_thirty_percent_faults_still_ingest_every_order_once(
    amazon: SpApiSimulatorControl, account: SellerAccount
) -> None:
    amazon.generate(seller=account.selling_partner_id, marketplace_id=UK, count=120, skus=["SKU-0001"], seed=11)
    # 30% of answers fail: 10% 5xx, 10% 429, 10% timeouts (held past the client's timeout).
    amazon.add_fault(operation="*", kind="error", status=503, probability=0.10)
    amazon.add_fault(operation="*", kind="throttle", probability=0.111)
    amazon.add_fault(operation="*", kind="timeout", seconds=1.0, probability=0.125)
    cycles, started = 0, time.monotonic()
    while True:
        cycles += 1
        result = amazon_orders_sync(account=account, marketplace_id=UK, ignore_backoff=True)
        if result.outcome == "complete" and Order.objects.count() == 120:
            break
        assert cycles < 200, f"not done after {cycles} cycles: {result.summary()}"
    calls = amazon.calls()
    failed = sum(n for counts in calls.values() for status, n in counts.items() if status != "200")
    total = sum(sum(counts.values()) for counts in calls.values())
    orders_once(120)
    print(f"\n30% faults: 120 orders ingested once in {cycles} polling cycles, {time.monotonic() - started:.1f} s; "
          f"{total} calls of which {failed} failed ({failed / total:.0%})")  # fmt: skip


WORKER = """
import os, sys
sys.path.insert(0, {root!r})
import django
django.setup()
from orders.models import SellerAccount
from orders.services import amazon_orders_sync
account = SellerAccount.objects.get(pk={account})
print("started", flush=True)
amazon_orders_sync(account=account, marketplace_id={marketplace!r}, ignore_backoff=True)
print("finished", flush=True)
"""


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_worker_killed_mid_batch_loses_and_duplicates_nothing(
    amazon: SpApiSimulatorControl, account: SellerAccount, settings: Any
) -> None:
    amazon.generate(seller=account.selling_partner_id, marketplace_id=UK, count=400, skus=["SKU-0001"], seed=12)
    amazon.add_fault(operation="getOrderItems", kind="latency", ms=30)  # pages of 100 take ~1 s: killed mid-batch
    database = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DATABASE_URL": url_from_settings(database),
        "SP_API_ENDPOINT": django_settings.SP_API_ENDPOINT,
        "SP_API_LWA_ENDPOINT": django_settings.SP_API_LWA_ENDPOINT,
        "SP_API_SYNC_LEASE_SECONDS": "2",
        "SP_API_ORDERS_MAX_PAGES_PER_CYCLE": "100",
        "SP_API_RATE_LIMITING": "false",  # as in the test settings: the simulator's quotas are off here
        "LOG_LEVEL": "ERROR",
    }
    script = WORKER.format(root=str(ROOT), account=account.pk, marketplace=UK)
    worker = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True)
    assert worker.stdout is not None and worker.stdout.readline().strip() == "started"
    deadline = time.monotonic() + 30
    while Order.objects.count() < 100 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(worker.pid, signal.SIGKILL)  # mid-batch: some pages stored, one in flight, the lease still held
    worker.wait()
    stored_when_killed = Order.objects.count()
    assert 0 < stored_when_killed < 400, stored_when_killed

    amazon.clear_faults()
    settings.SP_API_SYNC_LEASE = __import__("datetime").timedelta(seconds=2)
    settings.SP_API_ORDERS_MAX_PAGES_PER_CYCLE = 100
    time.sleep(2.1)  # the dead worker's lease expires; nobody has to clean up after it
    for _ in range(5):
        result = amazon_orders_sync(account=account, marketplace_id=UK, ignore_backoff=True)
        if result.outcome == "complete" and Order.objects.count() == 400:
            break
    orders_once(400)
    cursor = SyncCursor.objects.get(account=account, marketplace_id=UK)
    assert cursor.next_token == "" and cursor.synced_through is not None
    print(f"\nSIGKILL: worker killed with {stored_when_killed} of 400 orders stored; the next run took over the "
          f"expired lease and finished: 400 orders, each once")  # fmt: skip
