"""The outbound-request machinery of the shared kernel (a row first, then claim, send, record, back off)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from config.common.errors import ApplicationError, PermanentConnectorError, RetryableConnectorError, ThrottledError
from config.common.models import ExceptionItem, OutboundRequest
from config.common.outbound import (
    backoff_delay,
    outbound_claim_due,
    outbound_enqueue,
    outbound_send,
    outbound_sweep,
    register_outbound,
)
from config.common.services import exception_reprocess

SCRIPT: list[Exception | None] = []  # what the test provider does on each call, in order
SENT: list[str] = []


@register_outbound("test.echo")
def _echo(request: OutboundRequest) -> dict[str, Any]:
    outcome = SCRIPT.pop(0) if SCRIPT else None
    if outcome is not None:
        raise outcome
    SENT.append(request.idempotency_key)
    return {"echo": request.payload}


@pytest.fixture(autouse=True)
def _reset() -> None:
    SCRIPT.clear()
    SENT.clear()


def retryable() -> RetryableConnectorError:
    return RetryableConnectorError("503 from provider", provider="test", operation="test.echo", status_code=503)


def enqueue(key: str = "k1", **kw: Any) -> OutboundRequest:
    return outbound_enqueue(operation="test.echo", provider="test", idempotency_key=key, payload={"n": 1}, **kw)


def make_due(request: OutboundRequest) -> None:
    OutboundRequest.objects.filter(pk=request.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def test_same_key_is_one_request(db: None) -> None:
    assert enqueue().pk == enqueue().pk
    assert OutboundRequest.objects.count() == 1
    with pytest.raises(ApplicationError, match="different request"):
        outbound_enqueue(operation="test.echo", provider="test", idempotency_key="k1", payload={"n": 2})


def test_sent_immediately_after_commit(db: None, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        request = enqueue()
    request.refresh_from_db()
    assert request.status == OutboundRequest.Status.SUCCEEDED and request.result == {"echo": {"n": 1}}
    assert SENT == ["k1"] and request.attempt_log.get().outcome == "succeeded"


def test_retryable_errors_back_off_then_succeed(db: None) -> None:
    request = enqueue(send_now=False)
    SCRIPT.extend([retryable(), retryable()])
    for expected_attempts in (1, 2):
        assert outbound_sweep().retrying == 1
        request.refresh_from_db()
        assert request.status == "pending" and request.attempts == expected_attempts and "503" in request.last_error
        assert request.next_attempt_at > timezone.now()  # not due until the backoff passes
        assert outbound_sweep().claimed == 0
        make_due(request)
    assert outbound_sweep().succeeded == 1
    request.refresh_from_db()
    assert request.status == "succeeded" and request.attempts == 3 and request.last_error == ""
    assert [a.outcome for a in request.attempt_log.all()] == ["retry", "retry", "succeeded"]


def test_throttle_waits_at_least_what_the_provider_asks(db: None) -> None:
    request = enqueue(send_now=False)
    SCRIPT.append(ThrottledError("429", provider="test", operation="test.echo", retry_after=3600))
    outbound_sweep()
    request.refresh_from_db()
    assert request.next_attempt_at >= timezone.now() + timedelta(minutes=59)


def test_permanent_error_fails_into_the_queue_and_retry_sends_once(db: None) -> None:
    request = enqueue(send_now=False)
    SCRIPT.append(PermanentConnectorError("card identifier expired", provider="test", operation="test.echo"))
    assert outbound_sweep().failed == 1
    request.refresh_from_db()
    assert request.status == "failed"
    item = ExceptionItem.objects.get(kind="connector_error")
    assert "card identifier expired" in item.summary and item.reference == "k1"

    exception_reprocess(item=item, actor="user:ops")
    request.refresh_from_db()
    item.refresh_from_db()
    assert request.status == "succeeded" and SENT == ["k1"] and item.status == "resolved"


def test_gives_up_after_max_attempts(db: None) -> None:
    request = enqueue(send_now=False, max_attempts=2)
    SCRIPT.extend([retryable(), retryable()])
    outbound_sweep()
    make_due(request)
    outbound_sweep()
    request.refresh_from_db()
    assert request.status == "failed" and request.attempts == 2
    assert ExceptionItem.objects.filter(status="open").count() == 1


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    delays = [backoff_delay(attempt=n).total_seconds() for n in range(1, 12)]
    assert 15 <= delays[0] <= 30 and 30 <= delays[1] <= 60
    assert max(delays) <= 3600


def test_a_dead_workers_claim_is_taken_over(db: None) -> None:
    request = enqueue(send_now=False)
    [claimed] = outbound_claim_due()
    assert outbound_claim_due() == []  # in flight, lease alive
    OutboundRequest.objects.filter(pk=claimed.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    [again] = outbound_claim_due()
    assert outbound_send(request=again).status == "succeeded"
    assert request.pk == again.pk


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_sweepers_send_each_request_once() -> None:
    for n in range(60):
        enqueue(f"key-{n}", send_now=False)
    barrier = threading.Barrier(4)

    def sweep() -> None:
        try:
            barrier.wait()
            while outbound_sweep(limit=5).claimed:
                pass
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(SENT) == sorted(f"key-{n}" for n in range(60))
    assert OutboundRequest.objects.filter(status="succeeded").count() == 60
