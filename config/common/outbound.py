"""Outbound request machinery: enqueue (a row first), claim, send through a registered handler, record."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone

from config.common.errors import ApplicationError, ConnectorError, PermanentConnectorError
from config.common.models import ExceptionItem, OutboundAttempt, OutboundRequest
from config.common.reprocess import register_reprocessor
from config.common.services import exception_open, exceptions_resolve_for

logger = logging.getLogger(__name__)
Handler = Callable[[OutboundRequest], dict[str, Any] | None]
_HANDLERS: dict[str, Handler] = {}
LEASE = timedelta(minutes=5)
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)


def register_outbound(operation: str) -> Callable[[Handler], Handler]:
    """Declare the function that performs `operation`. It makes the call (raising ConnectorError subclasses)
    and applies the result; it must be safe to run again for the same request (same idempotency key)."""

    def decorator(fn: Handler) -> Handler:
        _HANDLERS[operation] = fn
        return fn

    return decorator


def backoff_delay(*, attempt: int, retry_after: float | None = None) -> timedelta:
    """Exponential backoff with full jitter between half and all of the step, never below the provider's ask."""
    step = min(BACKOFF_BASE * (2 ** max(attempt - 1, 0)), BACKOFF_CAP)
    delay = step * random.uniform(0.5, 1.0)
    return max(delay, timedelta(seconds=retry_after or 0))


def outbound_enqueue(
    *,
    operation: str,
    provider: str,
    idempotency_key: str,
    payload: dict[str, Any] | None = None,
    target: models.Model | None = None,
    max_attempts: int = 8,
    send_now: bool = True,
) -> OutboundRequest:
    """Persist the request (or return the existing one with this key). Sent by the sweeper, or at once after
    commit when `send_now`. Reusing a key for a different payload is a bug and is refused."""
    if operation not in _HANDLERS:
        raise ApplicationError(f"No handler registered for outbound operation {operation!r}")
    payload = payload or {}
    existing = OutboundRequest.objects.filter(idempotency_key=idempotency_key).first()
    if existing is None:
        try:
            with transaction.atomic():
                existing = OutboundRequest.objects.create(
                    operation=operation,
                    provider=provider,
                    idempotency_key=idempotency_key,
                    payload=payload,
                    target_type=ContentType.objects.get_for_model(target) if target is not None else None,
                    target_id=str(target.pk) if target is not None else "",
                    max_attempts=max_attempts,
                    next_attempt_at=timezone.now(),
                )
        except IntegrityError:
            existing = OutboundRequest.objects.get(idempotency_key=idempotency_key)
        else:
            if send_now:
                pk = existing.pk
                transaction.on_commit(lambda: _send_async(pk))
            return existing
    if existing.operation != operation or existing.payload != payload:
        raise ApplicationError(
            f"Idempotency key {idempotency_key!r} was already used for a different request",
            extra={"existing_operation": existing.operation},
        )
    return existing


def _send_async(pk: int) -> None:
    from django_q.tasks import async_task

    async_task("config.common.tasks.outbound_send", pk)


def outbound_claim_due(*, limit: int = 50) -> list[OutboundRequest]:
    """Claim up to `limit` due rows for this worker; other workers skip the locked ones."""
    now = timezone.now()
    with transaction.atomic():
        due = list(
            OutboundRequest.objects.select_for_update(skip_locked=True)
            .filter(
                Q(status=OutboundRequest.Status.PENDING, next_attempt_at__lte=now)
                | Q(status=OutboundRequest.Status.IN_FLIGHT, locked_until__lt=now)
            )
            .order_by("next_attempt_at", "pk")[:limit]
        )
        for request in due:
            request.status, request.locked_until = OutboundRequest.Status.IN_FLIGHT, now + LEASE
        OutboundRequest.objects.bulk_update(due, ["status", "locked_until"])
    return due


def outbound_claim(*, pk: int) -> OutboundRequest | None:
    """Claim one row if it is due (used to send right after enqueueing)."""
    now = timezone.now()
    with transaction.atomic():
        request = (
            OutboundRequest.objects.select_for_update(skip_locked=True)
            .filter(pk=pk)
            .filter(
                Q(status=OutboundRequest.Status.PENDING, next_attempt_at__lte=now)
                | Q(status=OutboundRequest.Status.IN_FLIGHT, locked_until__lt=now)
            )
            .first()
        )
        if request is None:
            return None
        request.status, request.locked_until = OutboundRequest.Status.IN_FLIGHT, now + LEASE
        request.save(update_fields=["status", "locked_until", "updated_at"])
        return request


def outbound_send(*, request: OutboundRequest) -> OutboundRequest:
    """Make one attempt of a claimed request and record what happened."""
    handler = _HANDLERS.get(request.operation)
    started, clock = timezone.now(), time.monotonic()
    attempt = request.attempts + 1
    error: ConnectorError | None = None
    result: dict[str, Any] | None = None
    try:
        if handler is None:
            raise PermanentConnectorError(
                f"no handler registered for {request.operation}", provider=request.provider, operation=request.operation
            )
        result = handler(request)
    except ConnectorError as exc:
        error = exc
    duration = int((time.monotonic() - clock) * 1000)
    now = timezone.now()
    request.attempts, request.locked_until = attempt, None
    if error is None:
        outcome = "succeeded"
        request.status, request.result, request.completed_at, request.last_error = (
            OutboundRequest.Status.SUCCEEDED,
            result,
            now,
            "",
        )
    elif error.retryable and attempt < request.max_attempts:
        outcome = "retry"
        retry_after = getattr(error, "retry_after", None)
        request.status, request.last_error = OutboundRequest.Status.PENDING, str(error)
        request.next_attempt_at = now + backoff_delay(attempt=attempt, retry_after=retry_after)
    else:
        outcome = "failed"
        request.status, request.last_error, request.completed_at = OutboundRequest.Status.FAILED, str(error), now
    with transaction.atomic():
        request.save(
            update_fields=[
                "attempts", "locked_until", "status", "result", "completed_at", "last_error", "next_attempt_at",
                "updated_at",
            ]
        )  # fmt: skip
        OutboundAttempt.objects.create(
            request=request,
            started_at=started,
            duration_ms=duration,
            outcome=outcome,
            status_code=error.status_code if error else None,
            error=str(error) if error else "",
        )
        if outcome == "failed":
            exception_open(
                kind=ExceptionItem.Kind.CONNECTOR_ERROR,
                source=request,
                summary=f"{request.operation} failed: {error}"[:300],
                detail=(
                    f"{error}\nAttempts: {attempt} of {request.max_attempts}. "
                    "Fix the cause, then reprocess to send it again (same idempotency key)."
                ),
                reference=request.idempotency_key,
            )
        elif outcome == "succeeded":
            exceptions_resolve_for(source=request, actor="system:outbound", note="sent successfully")
    if error is not None:
        logger.warning("outbound %s attempt %s: %s", request, attempt, error)
    return request


@dataclass
class SweepResult:
    claimed: int = 0
    succeeded: int = 0
    retrying: int = 0
    failed: int = 0


def outbound_sweep(*, limit: int = 50) -> SweepResult:
    summary = SweepResult()
    for request in outbound_claim_due(limit=limit):
        summary.claimed += 1
        request = outbound_send(request=request)
        if request.status == OutboundRequest.Status.SUCCEEDED:
            summary.succeeded += 1
        elif request.status == OutboundRequest.Status.PENDING:
            summary.retrying += 1
        else:
            summary.failed += 1
    return summary


def outbound_retry(*, request: OutboundRequest, actor: str) -> OutboundRequest:
    """Operator retry of a failed request: due now, with a fresh allowance of attempts."""
    with transaction.atomic():
        request = OutboundRequest.objects.select_for_update().get(pk=request.pk)
        if request.status not in (OutboundRequest.Status.FAILED, OutboundRequest.Status.CANCELLED):
            return request
        request.status, request.next_attempt_at = OutboundRequest.Status.PENDING, timezone.now()
        request.max_attempts = request.attempts + 3
        request.save(update_fields=["status", "next_attempt_at", "max_attempts", "updated_at"])
    logger.info("outbound %s retried by %s", request, actor)
    return request


def outbound_send_now(*, request: OutboundRequest) -> OutboundRequest | None:
    """A pending request waiting for its next attempt, sent now (the provider said it is ready: a feed's
    FEED_PROCESSING_FINISHED notification). None when another worker holds it or it is not pending."""
    OutboundRequest.objects.filter(pk=request.pk, status=OutboundRequest.Status.PENDING).update(
        next_attempt_at=timezone.now()
    )
    claimed = outbound_claim(pk=request.pk)
    return outbound_send(request=claimed) if claimed is not None else None


def outbound_discard(*, requests: Any, actor: str, reason: str) -> int:
    """Give up on failed requests (dead letters) on purpose: cancelled, with who and why; their alerts closed."""
    discarded = 0
    for request in requests.filter(status=OutboundRequest.Status.FAILED):
        with transaction.atomic():
            OutboundRequest.objects.filter(pk=request.pk, status=OutboundRequest.Status.FAILED).update(
                status=OutboundRequest.Status.CANCELLED,
                last_error=f"{request.last_error}\nDiscarded by {actor}: {reason}"[:5000],
                completed_at=timezone.now(),
            )
            exceptions_resolve_for(source=request, actor=actor, note=f"discarded: {reason}")
        discarded += 1
    return discarded


@register_reprocessor(OutboundRequest)
def _reprocess_outbound(obj: object, actor: str) -> None:
    assert isinstance(obj, OutboundRequest)
    request = outbound_retry(request=obj, actor=actor)
    claimed = outbound_claim(pk=request.pk)
    if claimed is not None:
        outbound_send(request=claimed)
