"""Circuit breakers: a provider that keeps failing is left alone, probed, and work completes exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from config.common.circuit import circuit_reset_local
from config.common.errors import CircuitOpenError, RetryableConnectorError
from config.common.models import CircuitBreaker, ExceptionItem
from orders.models import Order, SellerAccount
from orders.services import amazon_orders_sync
from simulators.spapi.control import SpApiSimulatorControl
from tests.factories import UK
from tests.spapi_support import spapi_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def amazon(spapi_url: str, settings: Any, account: SellerAccount, mapped_skus: list[str]) -> Iterator[Any]:
    settings.CIRCUIT_FAILURE_THRESHOLD = 3
    settings.CIRCUIT_COOLDOWN_SECONDS = 30
    circuit_reset_local()
    with spapi_for(spapi_url, settings, account, rate_limits=False) as sim:
        yield sim
    circuit_reset_local()


def sync(account: SellerAccount) -> Any:
    return amazon_orders_sync(account=account, marketplace_id=UK, ignore_backoff=True)


def test_outage_opens_the_circuit_stops_calls_then_recovers_and_finishes_once(
    amazon: SpApiSimulatorControl, account: SellerAccount
) -> None:
    amazon.generate(seller=account.selling_partner_id, marketplace_id=UK, count=12, skus=["SKU-0001"], seed=5)
    amazon.add_fault(operation="*", status=503)  # the provider is down
    for _ in range(3):
        sync(account)
    breaker = CircuitBreaker.objects.get()
    assert breaker.state == "open" and breaker.failures == 3
    alerts = ExceptionItem.objects.filter(kind="connector_error", status="open", summary__contains="Circuit open")
    assert alerts.exists()
    calls_before = sum(sum(c.values()) for c in amazon.calls().values())
    outcome = sync(account)  # while open: no call at all
    assert sum(sum(c.values()) for c in amazon.calls().values()) == calls_before
    assert "circuit" in str(outcome.error).lower() or outcome.outcome != "complete"

    # Still down at the probe: open again, for twice as long.
    CircuitBreaker.objects.update(next_probe_at=timezone.now() - timedelta(seconds=1))
    sync(account)
    breaker.refresh_from_db()
    assert breaker.state == "open" and breaker.cooldown_seconds == 60

    # The provider is back: the probe closes the circuit and the queued work completes, each order once.
    amazon.clear_faults()
    CircuitBreaker.objects.update(next_probe_at=timezone.now() - timedelta(seconds=1))
    assert sync(account).outcome == "complete"
    breaker.refresh_from_db()
    assert breaker.state == "closed" and breaker.failures == 0
    assert Order.objects.count() == 12 and Order.objects.values("external_id").distinct().count() == 12
    assert not ExceptionItem.objects.filter(kind="connector_error", status="open", summary__contains="Circuit").exists()
    print(f"\ncircuit: opened after 3 failures, 1 call-free cycle, probe failed (cool-down 30 → 60 s), "
          f"probe succeeded, {Order.objects.count()} orders ingested once")  # fmt: skip


def test_client_errors_do_not_open_it(amazon: SpApiSimulatorControl, account: SellerAccount) -> None:
    amazon.add_fault(operation="*", status=400, times=10)
    for _ in range(5):
        sync(account)
    assert not CircuitBreaker.objects.filter(state="open").exists()


def test_open_circuit_error_is_retryable_with_the_wait() -> None:
    from config.common.circuit import circuit_call, circuit_failure

    for _ in range(1000):
        circuit_failure("test:x", "boom")
    with pytest.raises(CircuitOpenError) as stopped:
        circuit_call("test:x", lambda: 1, provider="test", operation="op")
    assert isinstance(stopped.value, RetryableConnectorError) and stopped.value.retry_after
