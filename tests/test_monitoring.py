"""The monitoring dashboard, Prometheus metrics and the probes."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils.timezone import now

from config.common.models import CircuitBreaker, ExceptionItem, RateLimitBucket, WorkerHeartbeat
from orders.models import SellerAccount

pytestmark = pytest.mark.django_db


def test_dashboard_shows_queues_circuits_and_polls(admin_client: Any, account: SellerAccount) -> None:
    CircuitBreaker.objects.create(key="opayo:https://example", state="open", failures=5, last_error="timed out")
    RateLimitBucket.objects.create(key=f"spapi:{account.pk}:getOrderItems", tokens=-1.5, rate=2.0, updated_at=now())
    page = admin_client.get("/admin/dashboard/").content.decode()
    for text in ("Queues", "outbound requests", "Circuits", "opayo:https://example", "open", "Last successful poll",
                 "<svg", "SP-API quotas", f"<td>{account.name}</td><td>getOrderItems</td><td>-1.50</td>"):  # fmt: skip
        assert text in page
    assert "Monitoring dashboard" in admin_client.get("/admin/").content.decode()
    assert Client().get("/admin/dashboard/").status_code == 302  # staff only


def test_metrics_in_prometheus_format(settings: Any) -> None:
    from config.common.services import exception_open

    exception_open(kind=ExceptionItem.Kind.ANOMALY, source=CircuitBreaker.objects.create(key="x"), summary="x")
    CircuitBreaker.objects.create(key="amazon:abc", state="half_open")
    body = Client(REMOTE_ADDR="127.0.0.1").get("/metrics").content.decode()
    assert 'ledgerline_exceptions_open{kind="anomaly"} 1.0' in body
    assert 'ledgerline_circuit_open{circuit="amazon:abc",state="half_open"} 1.0' in body
    assert "ledgerline_queue_depth" in body
    RateLimitBucket.objects.create(key="spapi:999:getOrders", tokens=3.0, rate=0.0167, updated_at=now())
    body = Client(REMOTE_ADDR="127.0.0.1").get("/metrics").content.decode()
    assert 'ledgerline_quota_tokens{account="999",operation="getOrders"} 3.0' in body
    assert 'ledgerline_quota_rate{account="999",operation="getOrders"} 0.0167' in body
    assert Client(REMOTE_ADDR="10.0.0.5").get("/metrics").status_code == 403
    settings.METRICS_TOKEN = "s3cret"
    assert Client(REMOTE_ADDR="10.0.0.5").get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200
    assert Client(REMOTE_ADDR="10.0.0.5").get("/metrics", HTTP_AUTHORIZATION="Bearer nope").status_code == 401


def test_probes() -> None:
    assert Client().get("/healthz").content == b"ok"
    # Ready needs a worker cluster that finished a task lately too (tests/test_worker_health.py).
    WorkerHeartbeat.objects.create(name="vm:1", host="vm", pid=1, started_at=now(), last_beat_at=now())
    ready = Client().get("/readyz")
    assert ready.status_code == 200 and ready.content == b"ready"
