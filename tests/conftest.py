from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from config.common.pan import card_numbers
from orders.models import SellerAccount
from tests.factories import SellerAccountFactory, SkuMappingFactory


@pytest.fixture
def account(db: None) -> SellerAccount:
    return SellerAccountFactory.create(name="Acme UK", selling_partner_id="A1ACMEUK000001")


@pytest.fixture
def mapped_skus(db: None) -> list[str]:
    skus = ["SKU-0001", "SKU-0002", "SKU-0003"]
    for sku in skus:
        SkuMappingFactory.create(seller_sku=sku)
    return skus


@pytest.fixture(autouse=True)
def _forget_cached_security_keys() -> None:
    """Each test rolls its rows back, so database ids are reused across tests: start with an empty cache."""
    from payments.services import notifications

    notifications._KEYS.clear()


@pytest.fixture(scope="session")
def spapi_url() -> Iterator[str]:
    """One SP-API simulator server for the session (each test resets it through tests.spapi_support)."""
    from simulators.common import running_server
    from simulators.spapi.app import create_app

    with running_server(create_app()) as url:
        yield url


@pytest.fixture(scope="session")
def sqs_url() -> Iterator[str]:
    """One local SQS server (moto in server mode) for the session; tests make their own queues on it."""
    from simulators.sqs import running_sqs

    with running_sqs() as url:
        yield url


@pytest.fixture(scope="session")
def hook_url() -> Iterator[str]:
    """Where alert webhooks go in tests; what arrives is in tests.alert_hooks.HOOKS."""
    from tests.alert_hooks import alert_hook_server

    with alert_hook_server() as url:
        yield url


# --- PCI: no card number is ever written to the database or to a log, across the whole suite ------------------
# Every INSERT/UPDATE parameter and every log record (ours, not the simulators') is scanned as the suite runs;
# tests/test_zz_no_card_numbers.py, moved to the very end, asserts nothing was found.
CARD_FINDINGS: list[str] = []


# Numeric references providers send that are not card numbers (a 13-19 digit one passes Luhn one time in ten).
NOT_CARD_KEYS = {"retrievalReference", "bankAuthorisationCode", "order_item_code", "OrderItemId", "TxAuthNo"}


def _without_references(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_references(v) for k, v in value.items() if k not in NOT_CARD_KEYS}
    if isinstance(value, list):
        return [_without_references(v) for v in value]
    return value


def _card_text(value: object) -> str | None:
    inner = getattr(value, "obj", value)  # psycopg's Jsonb wrapper
    if isinstance(inner, str) and inner[:1] in "{[":
        try:
            inner = json.loads(inner)
        except ValueError:
            return str(inner)
    if isinstance(inner, str):
        return inner
    if isinstance(inner, dict | list):
        return json.dumps(_without_references(inner), default=str)
    return None


def _scan_writes(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    if params and sql.lstrip()[:6].upper() in ("INSERT", "UPDATE"):
        rows = params if many else [params]
        for row in rows:
            for value in row.values() if isinstance(row, dict) else row:
                text = _card_text(value)
                if text and len(text) >= 13 and (found := card_numbers(text)):
                    CARD_FINDINGS.append(f"database write {sql[:60]!r}: {found}")
    return execute(sql, params, many, context)


class _CardLogScanner(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(("simulators", "uvicorn", "httpx", "hpack")):
            return
        try:
            found = card_numbers(record.getMessage())
        except Exception:
            return
        if found:
            CARD_FINDINGS.append(f"log {record.name}: {found}")


def _install_write_scanner(sender: Any, connection: Any, **kwargs: Any) -> None:
    if _scan_writes not in connection.execute_wrappers:
        connection.execute_wrappers.append(_scan_writes)


def pytest_configure(config: pytest.Config) -> None:
    from django.db.backends.signals import connection_created

    connection_created.connect(_install_write_scanner, dispatch_uid="card-scanner")
    logging.getLogger().addHandler(_CardLogScanner(level=logging.DEBUG))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    last = [item for item in items if item.nodeid.startswith("tests/test_zz_no_card_numbers.py")]
    items[:] = [item for item in items if item not in last] + last
