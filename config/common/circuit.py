"""Circuit breakers per provider and account, their state shared by every worker (a database row).

Closed: calls go. After CIRCUIT_FAILURE_THRESHOLD consecutive outage-type failures (timeouts, connection errors,
5xx; not 4xx, not 429) the circuit opens: no calls for a cool-down, and callers get a CircuitOpenError (retryable,
with the wait), so queues back off instead of hammering a provider that is down. When the cool-down ends, one
caller gets to probe (half-open); its success closes the circuit, its failure opens it again for twice as long
(up to CIRCUIT_MAX_COOLDOWN_SECONDS). A closed circuit is remembered in-process for a second, so the normal case
costs no query per call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.common.errors import CircuitOpenError, ConnectorError, ThrottledError
from config.common.models import CircuitBreaker, ExceptionItem

logger = logging.getLogger(__name__)
T = TypeVar("T")
_closed_until: dict[str, float] = {}  # key → monotonic time until which we trust "closed" without a query
TRUST_SECONDS = 1.0
# Consecutive failures are counted in each process; the state they lead to (open) is shared through the database.
# Writing a row on every failed call would make concurrent callers queue on that row, the very moment the
# provider is already slow; one process seeing N failures in a row is enough to open the circuit for all.
_failures: dict[str, int] = {}
_failures_lock = threading.Lock()


def _is_outage(error: ConnectorError) -> bool:
    return error.retryable and not isinstance(error, ThrottledError | CircuitOpenError)


def circuit_call(key: str, fn: Callable[[], T], *, provider: str, operation: str) -> T:
    """Run `fn` through the circuit `key`."""
    report = circuit_allow(key, provider=provider, operation=operation)
    try:
        result = fn()
    except ConnectorError as exc:
        if _is_outage(exc):
            circuit_failure(key, str(exc), probing=report)
        elif report:
            circuit_success(key)  # the provider answered (a 4xx is an answer): it is up
        else:
            _failures_forget(key)
        raise
    if report:
        circuit_success(key)
    else:
        _failures_forget(key)  # failures count in a row: an answer ends the row, even while "closed" is trusted
    return result


def _failures_forget(key: str) -> None:
    if key in _failures:
        with _failures_lock:
            _failures.pop(key, None)


def circuit_allow(key: str, *, provider: str, operation: str) -> bool:
    """Whether a call may go; True when its outcome must be written (the half-open probe, or a closed circuit
    with failures to forget). Raises CircuitOpenError while open."""
    if _closed_until.get(key, 0.0) > time.monotonic():
        return False
    now = timezone.now()
    breaker = CircuitBreaker.objects.filter(key=key).first()
    if breaker is None or (breaker.state == CircuitBreaker.State.CLOSED and not breaker.failures):
        _closed_until[key] = time.monotonic() + TRUST_SECONDS
        return False
    if breaker.state == CircuitBreaker.State.CLOSED:
        return True
    if breaker.next_probe_at is not None and breaker.next_probe_at <= now:
        # One caller wins the probe (an atomic conditional update); the others keep waiting.
        won = CircuitBreaker.objects.filter(
            pk=breaker.pk, state=CircuitBreaker.State.OPEN, next_probe_at__lte=now
        ).update(state=CircuitBreaker.State.HALF_OPEN, next_probe_at=now + timedelta(seconds=breaker.cooldown_seconds))
        if won:
            logger.info("circuit %s half-open: probing", key)
            return True
    wait = max((breaker.next_probe_at - now).total_seconds(), 1.0) if breaker.next_probe_at else 1.0
    raise CircuitOpenError(
        f"{provider} is failing ({breaker.failures} failures in a row, last: {breaker.last_error[:200]}); "
        f"calls stopped for {wait:.0f} s",
        provider=provider, operation=operation, retry_after=wait,
    )  # fmt: skip


def circuit_success(key: str) -> None:
    _closed_until[key] = time.monotonic() + TRUST_SECONDS
    with _failures_lock:
        _failures.pop(key, None)
    changed = CircuitBreaker.objects.filter(key=key).exclude(state=CircuitBreaker.State.CLOSED, failures=0)
    if changed.update(state=CircuitBreaker.State.CLOSED, failures=0, opened_at=None, next_probe_at=None):
        logger.warning("circuit %s closed: the provider answers again", key)
        from config.common.services import exceptions_resolve_for

        breaker = CircuitBreaker.objects.get(key=key)
        exceptions_resolve_for(source=breaker, actor="system:circuit", note="closed again")


def circuit_failure(key: str, error: str, *, probing: bool = False) -> None:
    """One more outage-type failure. The circuit opens (in the database, for every process) when this process has
    seen the threshold in a row, or when the half-open probe fails."""
    with _failures_lock:
        seen = _failures[key] = _failures.get(key, 0) + 1
    threshold = settings.CIRCUIT_FAILURE_THRESHOLD
    if not probing and seen < threshold:
        return
    _closed_until.pop(key, None)
    now = timezone.now()
    with transaction.atomic():
        breaker = CircuitBreaker.objects.select_for_update().filter(key=key).first()
        if breaker is None:
            try:
                with transaction.atomic():
                    breaker = CircuitBreaker.objects.create(key=key)
            except IntegrityError:
                pass
            breaker = CircuitBreaker.objects.select_for_update().get(key=key)
        breaker.failures = max(breaker.failures + 1, seen)
        breaker.last_error = error[:2000]
        opens = breaker.state == CircuitBreaker.State.HALF_OPEN or (
            breaker.state == CircuitBreaker.State.CLOSED and breaker.failures >= threshold
        )
        if opens:
            base = settings.CIRCUIT_COOLDOWN_SECONDS
            breaker.cooldown_seconds = (
                min(breaker.cooldown_seconds * 2, settings.CIRCUIT_MAX_COOLDOWN_SECONDS)
                if breaker.state == CircuitBreaker.State.HALF_OPEN and breaker.cooldown_seconds
                else base
            )
            breaker.state, breaker.opened_at = CircuitBreaker.State.OPEN, breaker.opened_at or now
            breaker.next_probe_at = now + timedelta(seconds=breaker.cooldown_seconds)
        breaker.save()
    if opens:
        logger.error("circuit %s open for %.0f s: %s", key, breaker.cooldown_seconds, error)
        from config.common.alerts import alert_raise
        from config.common.services import exception_open

        alert_raise(
            key=f"circuit:{key}", subject=f"Circuit open: {key} is failing; calls stopped",
            body=f"{breaker.failures} failures in a row. Last: {error}\n"
            f"Next probe at {breaker.next_probe_at:%H:%M:%S} UTC.",
        )  # fmt: skip
        exception_open(
            kind=ExceptionItem.Kind.CONNECTOR_ERROR, source=breaker,
            summary=f"Circuit open: {key} is failing; calls stopped",
            detail=f"{breaker.failures} failures in a row. Last: {error}\nCalls resume with a probe at "
            f"{breaker.next_probe_at:%H:%M:%S} UTC; queued work is sent once it answers again.",
            reference=key,
        )  # fmt: skip


def circuit_reset_local() -> None:
    """Forget what this process remembers (tests)."""
    _closed_until.clear()
    with _failures_lock:
        _failures.clear()
