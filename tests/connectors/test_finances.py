"""Finances 2024-06-19 listTransactions: the simulator against Amazon's model, and our client
(connectors.amazon.finances) against the simulator as a real server: pages, 429s, faults, Amazon's own example."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from config.common.errors import PermanentConnectorError, RetryableConnectorError, ThrottledError
from connectors.amazon.base import USAGE_PLANS
from connectors.amazon.finances import AmazonFinancesClient
from connectors.amazon.finances_types import parse_transaction
from orders.models import SellerAccount
from simulators.spapi.control import SpApiSimulatorControl
from simulators.spapi.state import DEFAULT_LIMITS
from tests.factories import UK
from tests.spapi_support import spapi_for

MODEL = json.loads(
    (Path(__file__).parents[2] / "simulators/spapi/fixtures/models/finances_2024-06-19.json").read_text()
)
RESPONSE_SCHEMA = {"$ref": "#/definitions/ListTransactionsResponse", "definitions": MODEL["definitions"]}
ORDER = "202-5000000-0000001"


@pytest.fixture
def amazon(spapi_url: str, settings: Any, account: SellerAccount) -> Iterator[SpApiSimulatorControl]:
    with spapi_for(spapi_url, settings, account) as sim:
        yield sim


@pytest.fixture
def client(amazon: SpApiSimulatorControl, account: SellerAccount) -> Iterator[AmazonFinancesClient]:
    with AmazonFinancesClient.for_account(account) as finances:
        yield finances


def _seed(amazon: SpApiSimulatorControl, account: SellerAccount, n: int) -> list[dict[str, Any]]:
    posted = datetime.now(UTC) - timedelta(days=2)
    orders: list[dict[str, Any]] = []
    for i in range(n):
        stamp = (posted + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        orders.append({
            "order": {"AmazonOrderId": f"202-5000000-000000{i + 1}", "PurchaseDate": stamp, "LastUpdateDate": stamp,
                      "OrderStatus": "Shipped", "FulfillmentChannel": "AFN", "MarketplaceId": UK},
            "items": [{"SellerSKU": "TENT", "QuantityOrdered": 2,
                       "ItemPrice": {"CurrencyCode": "GBP", "Amount": "48.00"},
                       "ItemTax": {"CurrencyCode": "GBP", "Amount": "8.00"}}],
        })  # fmt: skip
    amazon.upsert_orders(seller=account.selling_partner_id, orders=orders)
    return [
        amazon.add_order_transaction(account.selling_partner_id, o["order"]["AmazonOrderId"], transaction_id=f"T{i}")
        for i, o in enumerate(orders)
    ]


@pytest.mark.django_db
def test_the_usage_plan_is_amazons_in_the_client_and_the_simulator() -> None:
    assert USAGE_PLANS["listTransactions"] == (0.5, 10) and DEFAULT_LIMITS["listTransactions"] == (0.5, 10)


def test_amazons_own_example_parses_breakdowns_given_as_an_object() -> None:
    example = MODEL["definitions"]["Transaction"]["example"]
    parsed = parse_transaction(example)
    assert parsed.status == "RELEASED" and parsed.order_id == "8129762527551"  # the example writes "Released"
    assert parsed.total == Decimal("10") and parsed.currency == "USD" and parsed.marketplace_id == "ATVPDKIKX0DER"
    assert [(path, leaf.amount) for path, leaf in parsed.leaves()] == [(("Sales", "Product Charges"), Decimal("10"))]
    with pytest.raises(RetryableConnectorError, match="not a number"):
        parse_transaction({**example, "totalAmount": {"currencyAmount": "ten", "currencyCode": "USD"}})


@pytest.mark.django_db
def test_pages_follow_next_token_with_the_same_arguments_and_answers_fit_the_model(
    amazon: SpApiSimulatorControl, account: SellerAccount, client: AmazonFinancesClient
) -> None:
    seeded = _seed(amazon, account, 3)
    amazon.finances_settings(page_size=2)
    since = datetime.now(UTC) - timedelta(days=5)
    pages = list(client.iter_transactions(posted_after=since, transaction_status="DEFERRED"))
    assert [len(p.transactions) for p in pages] == [2, 1] and pages[0].next_token and pages[0].rate_limit == 0.5
    first = pages[0].transactions[0]
    # 48.00 VAT-inclusive (8.00 VAT), commission 15%, FBA 2.70 × 2 units.
    leaves = {path: leaf.amount for path, leaf in first.leaves()}
    assert leaves == {
        ("Sales", "Product Charges"): Decimal("40.00"), ("Tax", "Product Tax"): Decimal("8.00"),
        ("Expenses", "Commission"): Decimal("-7.20"), ("Expenses", "FBA fees"): Decimal("-5.40"),
    }  # fmt: skip
    assert first.total == Decimal("35.40") and first.deferral_reason == "DD7" and first.maturity_date is not None
    for transaction in seeded:
        jsonschema.validate({"payload": {"transactions": [transaction]}}, RESPONSE_SCHEMA)
    # By order id, without a start date; another status filters it out.
    [only] = client.list_transactions_page(related_identifier=("ORDER_ID", ORDER)).transactions
    assert only.transaction_id == "T0"
    assert not client.list_transactions_page(posted_after=since, transaction_status="RELEASED").transactions
    amazon.release_transaction("T0")
    [released] = client.list_transactions_page(posted_after=since, transaction_status="DEFERRED_RELEASED").transactions
    assert released.order_id == ORDER and not released.deferral_reason
    # A token with other arguments is refused, as Amazon's model says it must carry the same ones.
    with pytest.raises(PermanentConnectorError, match="Invalid nextToken"):
        client.list_transactions_page(posted_after=since, transaction_status="RELEASED", next_token=pages[0].next_token)
    with pytest.raises(PermanentConnectorError, match="postedBefore must be later"):
        client.list_transactions_page(posted_after=since, posted_before=since - timedelta(days=1))
    # More than 180 days apart: nothing, as the model says.
    old = datetime.now(UTC) - timedelta(days=200)
    assert not client.list_transactions_page(posted_after=old).transactions


@pytest.mark.django_db
def test_throttling_and_faults_are_typed(
    amazon: SpApiSimulatorControl, account: SellerAccount, client: AmazonFinancesClient
) -> None:
    since = datetime.now(UTC) - timedelta(days=1)
    amazon.add_fault(operation="listTransactions", kind="throttle", times=1)
    with pytest.raises(ThrottledError) as throttled:
        client.list_transactions_page(posted_after=since)
    assert throttled.value.retry_after == 2.0  # one token of 0.5/s
    amazon.add_fault(operation="listTransactions", kind="error", status=503, times=1)
    with pytest.raises(RetryableConnectorError):
        client.list_transactions_page(posted_after=since)
    assert client.list_transactions_page(posted_after=since).transactions == ()
    # The usage plan: burst 10, then 429 QuotaExceeded.
    amazon.set_rate_limit("listTransactions", rate=0.001, burst=2)
    client.list_transactions_page(posted_after=since)
    client.list_transactions_page(posted_after=since)
    with pytest.raises(ThrottledError):
        client.list_transactions_page(posted_after=since)
    assert amazon.calls()["listTransactions"]["429"] >= 2
