"""Management commands use the configured endpoints: the local settings point at the simulators where `make run`
serves them, so `manage.py poll_orders` from a shell polls the simulator. And the demo's credentials are never sent
to the real Amazon or Opayo hosts: the clients refuse before any call, without circuit or backoff."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from psycopg import sql

from config.common.demo import data
from config.common.errors import DemoCredentialsRefused
from config.common.models import CircuitBreaker, ExceptionItem
from config.localdb import url_from_settings
from connectors.amazon.base import SpApiClient
from orders.models import SellerAccount, SyncCursor
from orders.services import amazon_orders_sync
from payments.clients.opayo import OpayoPiClient, OpayoReportingClient
from payments.services import opayo_batches_fetch
from simulators.spapi.control import SpApiSimulatorControl
from tests.factories import UK, SellerAccountFactory

ROOT = Path(__file__).resolve().parent.parent
EU = data.ACCOUNTS[0]


@pytest.fixture
def scratch_database() -> Iterator[str]:
    """An empty database of its own on the tests' server (a shell's `migrate` must not touch the test database)."""
    db = settings.DATABASES["default"]
    name = f"{db['NAME']}_shell"
    server = url_from_settings({**db, "NAME": "postgres"})
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield url_from_settings({**db, "NAME": name})
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def local_env(database_url: str, **extra: str) -> dict[str, str]:
    """A shell's environment with nothing exported: manage.py's own default (local) settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SP_API_", "OPAYO_", "WEB_HOST"))}
    env.update(DATABASE_URL=database_url, **extra)
    return env


def manage(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )


def test_local_settings_point_at_the_simulators_run_stack_serves() -> None:
    code = (
        "from django.conf import settings as s; print(s.SP_API_ENDPOINT, s.SP_API_LWA_ENDPOINT, "
        "s.OPAYO_PI_BASE_URL, s.OPAYO_REPORTING_URL, s.OPAYO_VENDOR_NAME, s.OPAYO_INTEGRATION_KEY)"
    )
    done = manage(local_env(url_from_settings(settings.DATABASES["default"])), "shell", "-c", code)
    assert done.returncode == 0, done.stderr[-3000:]
    urls = data.simulator_urls()
    assert done.stdout.split()[-6:] == [
        "http://127.0.0.1:8101", "http://127.0.0.1:8101", urls["OPAYO_PI_BASE_URL"], urls["OPAYO_REPORTING_URL"],
        data.OPAYO_DEMO_VENDOR["vendor_name"], data.OPAYO_DEMO_VENDOR["integration_key"],
    ]  # fmt: skip
    # run_stack's ports move the defaults with them; an explicit setting still wins.
    env = local_env(url_from_settings(settings.DATABASES["default"]), SP_API_SIM_PORT="9101",
                    OPAYO_PI_BASE_URL="https://x.test/api")  # fmt: skip
    moved = manage(env, "shell", "-c", code)
    assert moved.stdout.split()[-6:-3] == ["http://127.0.0.1:9101", "http://127.0.0.1:9101", "https://x.test/api"]


def test_poll_orders_from_a_shell_polls_the_simulator(spapi_url: str, scratch_database: str) -> None:
    """The demo's EU account, polled by `manage.py poll_orders` with no variable exported (before: the real Amazon
    hosts, and a 30-minute backoff)."""
    address = urlsplit(spapi_url)
    stamp = (datetime.now(UTC) - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with SpApiSimulatorControl(spapi_url) as sim:
        sim.reset()
        sim.add_seller(
            selling_partner_id=EU.selling_partner_id, refresh_token=EU.refresh_token, client_id=data.DEMO_CLIENT_ID,
            client_secret=data.DEMO_CLIENT_SECRET, marketplace_ids=[UK],
        )  # fmt: skip
        sim.upsert_orders(seller=EU.selling_partner_id, orders=[{
            "order": {"AmazonOrderId": "202-8000000-0000001", "PurchaseDate": stamp, "LastUpdateDate": stamp,
                      "OrderStatus": "Shipped", "FulfillmentChannel": "AFN", "MarketplaceId": UK},
            "items": [{"ASIN": "B000000001", "OrderItemId": "81", "SellerSKU": "BOTTLE-1L", "QuantityOrdered": 1,
                       "QuantityShipped": 1, "ItemPrice": {"CurrencyCode": "GBP", "Amount": "9.99"}}],
        }])  # fmt: skip
        env = local_env(scratch_database, WEB_HOST=str(address.hostname), SP_API_SIM_PORT=str(address.port))
        assert manage(env, "migrate", "-v0").returncode == 0
        create = (
            "from orders.services import seller_account_upsert; from config.common.demo import data; "
            "a = data.ACCOUNTS[0]; seller_account_upsert(name=a.name, selling_partner_id=a.selling_partner_id, "
            "region=a.region, lwa_client_id=data.DEMO_CLIENT_ID, lwa_client_secret=data.DEMO_CLIENT_SECRET, "
            "refresh_token=a.refresh_token, marketplace_ids=[data.UK])"
        )
        assert manage(env, "shell", "-c", create).returncode == 0
        done = manage(env, "poll_orders", "--account", EU.selling_partner_id)
        calls = sim.calls()
        sim.reset()
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert f"{EU.name} {UK}: complete; 1 page(s), 1 order(s) seen; created 1" in done.stdout
    assert sum(calls["searchOrders"].values()) == 1 and "getOrders" not in calls


@pytest.fixture
def demo_account(db: None) -> SellerAccount:
    return SellerAccountFactory.create(
        name=EU.name, selling_partner_id=EU.selling_partner_id, lwa_client_id=data.DEMO_CLIENT_ID,
        lwa_client_secret=data.DEMO_CLIENT_SECRET, refresh_token=EU.refresh_token,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("endpoint", "lwa_endpoint", "named"),
    [
        ("", "", "SP_API_ENDPOINT and SP_API_LWA_ENDPOINT"),
        ("https://sellingpartnerapi-eu.amazon.com", "http://127.0.0.1:8101", "SP_API_ENDPOINT points"),
        ("http://127.0.0.1:8101", "https://api.amazon.com", "SP_API_LWA_ENDPOINT points"),
    ],
)
def test_sp_api_client_refuses_the_demo_credentials_on_amazon(
    demo_account: SellerAccount, settings: Any, endpoint: str, lwa_endpoint: str, named: str
) -> None:
    settings.SP_API_ENDPOINT, settings.SP_API_LWA_ENDPOINT = endpoint, lwa_endpoint
    with pytest.raises(DemoCredentialsRefused) as refused:
        SpApiClient.for_account(demo_account, marketplace_id=UK)
    assert "not calling Amazon with the demo's credentials" in str(refused.value) and named in str(refused.value)
    assert refused.value.provider == "amazon" and not refused.value.retryable


def test_the_simulator_and_real_credentials_are_not_refused(demo_account: SellerAccount, settings: Any) -> None:
    settings.SP_API_ENDPOINT = settings.SP_API_LWA_ENDPOINT = "http://127.0.0.1:8101"
    SpApiClient.for_account(demo_account, marketplace_id=UK).close()
    settings.SP_API_ENDPOINT = settings.SP_API_LWA_ENDPOINT = ""
    real = SellerAccountFactory.create()  # credentials that are not the demo's: Amazon decides
    SpApiClient.for_account(real, marketplace_id=UK).close()


def test_polling_with_the_demo_credentials_on_amazon_has_no_backoff_and_no_circuit(
    demo_account: SellerAccount, settings: Any
) -> None:
    settings.SP_API_ENDPOINT = settings.SP_API_LWA_ENDPOINT = ""
    result = amazon_orders_sync(account=demo_account, marketplace_id=UK)
    assert result.outcome == "failed" and "not calling Amazon with the demo's credentials" in result.error
    cursor = SyncCursor.objects.get(account=demo_account, marketplace_id=UK)
    assert cursor.not_before is None and cursor.consecutive_failures == 0 and cursor.lease_owner == ""
    assert not CircuitBreaker.objects.exists()
    item = ExceptionItem.objects.get(kind="connector_error", status="open")
    assert "refused: not calling Amazon" in item.summary
    # The command says so, and the next run (settings fixed or not) is not deferred.
    with pytest.raises(CommandError):
        call_command("poll_orders", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert amazon_orders_sync(account=demo_account, marketplace_id=UK).outcome == "failed"


@pytest.mark.parametrize(
    "url",
    [
        "https://pi-live.sagepay.com/api/v1",
        "https://sandbox.opayo.eu.elavon.com/api/v1",
        "https://live.opayo.eu.elavon.com/api/v1",
    ],
)
def test_opayo_clients_refuse_the_simulator_credentials_on_opayo(settings: Any, url: str) -> None:
    vendor = data.OPAYO_DEMO_VENDOR
    settings.OPAYO_PI_BASE_URL = url
    settings.OPAYO_REPORTING_URL = url.replace("/api/v1", "/access/access.htm")
    settings.OPAYO_VENDOR_NAME = vendor["vendor_name"]
    settings.OPAYO_INTEGRATION_KEY, settings.OPAYO_INTEGRATION_PASSWORD = vendor["integration_key"], "real-looking"
    settings.OPAYO_REPORTING_USER, settings.OPAYO_REPORTING_PASSWORD = "someone", vendor["reporting_password"]
    for client in (OpayoPiClient, OpayoReportingClient):
        with pytest.raises(DemoCredentialsRefused, match="Opayo simulator's demo vendor credentials"):
            client.from_settings()
    # The simulator, or real credentials, go ahead.
    settings.OPAYO_PI_BASE_URL = "http://127.0.0.1:8102/api/v1"
    OpayoPiClient.from_settings().close()
    settings.OPAYO_PI_BASE_URL = url
    settings.OPAYO_INTEGRATION_KEY, settings.OPAYO_INTEGRATION_PASSWORD = "live-key", "live-password"
    OpayoPiClient.from_settings().close()


@pytest.mark.django_db
def test_fetch_opayo_batches_with_the_demo_vendor_on_opayo_says_why(settings: Any) -> None:
    vendor = data.OPAYO_DEMO_VENDOR
    settings.OPAYO_REPORTING_URL = "https://live.opayo.eu.elavon.com/access/access.htm"
    settings.OPAYO_VENDOR_NAME, settings.OPAYO_REPORTING_USER = vendor["vendor_name"], vendor["reporting_user"]
    settings.OPAYO_REPORTING_PASSWORD = vendor["reporting_password"]
    with pytest.raises(CommandError, match=r"not calling Opayo at live\.opayo\.eu\.elavon\.com"):
        call_command("fetch_opayo_batches")
    with pytest.raises(DemoCredentialsRefused):
        opayo_batches_fetch(start=datetime.now(UTC).date(), end=datetime.now(UTC).date())
    assert not CircuitBreaker.objects.exists()
