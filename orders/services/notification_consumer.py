"""The SQS consumer: long-poll the queue, store each message raw (one transaction), THEN delete it, then apply.

A consumer that dies between storing and deleting loses nothing: SQS delivers the message again after its
visibility timeout, storing it again is a no-op (NotificationId is unique), and the row stored the first time is
applied by whichever consumer round comes next (every round also applies rows still `received`). SQS errors are
retried with backoff; the loop never dies of them. Its heartbeat (`NotificationConsumer`) tells polling whether
notifications can be relied on.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.db.models import F, Min
from django.utils import timezone

from config.common.errors import ConnectorError, ThrottledError
from connectors.aws.sqs import SqsMessage, SqsQueueClient
from orders.models import NotificationConsumer, SpApiNotification
from orders.services.notifications import ApplyStats, InboundMessage, notifications_apply, notifications_store

logger = logging.getLogger(__name__)


@dataclass
class RoundResult:
    received: int = 0
    stored: int = 0  # new rows (the others were stored before: redeliveries, duplicates)
    deleted: int = 0
    applied: ApplyStats = field(default_factory=ApplyStats)
    error: str = ""


def consumer_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def notification_consumer_register(*, name: str, queue_url: str) -> NotificationConsumer:
    now = timezone.now()
    consumer, _ = NotificationConsumer.objects.update_or_create(
        name=name,
        defaults={"queue_url": queue_url, "started_at": now, "stopped_at": None, "consecutive_errors": 0},
    )
    return consumer


def notifications_consume_round(
    *,
    client: SqsQueueClient,
    consumer: NotificationConsumer,
    wait_seconds: int | None = None,
    before_delete: Callable[[list[SqsMessage]], None] | None = None,
    apply: bool = True,
) -> RoundResult:
    """One receive → store → delete → apply. Raises ConnectorError for SQS trouble (the loop backs off)."""
    result = RoundResult()
    wait = settings.SP_API_NOTIFICATIONS_WAIT_SECONDS if wait_seconds is None else wait_seconds
    due = _next_due()
    if due is not None:  # a stored change waits for its retry (getOrder's next slot): do not sleep past it
        wait = max(0, min(wait, math.ceil((due - timezone.now()).total_seconds())))
    messages = client.receive(max_messages=settings.SP_API_NOTIFICATIONS_BATCH, wait_seconds=wait)
    result.received = len(messages)
    stored = notifications_store(messages=[InboundMessage(m.body, m.message_id) for m in messages])
    result.stored = len(stored)
    now = timezone.now()
    NotificationConsumer.objects.filter(pk=consumer.pk).update(
        last_receive_at=now, consecutive_errors=0, messages=F("messages") + len(messages),
        **({"last_message_at": now} if messages else {}),
    )  # fmt: skip
    if messages:
        if before_delete is not None:
            before_delete(messages)  # tests: a consumer killed here
        failed = client.delete(messages)
        result.deleted = len(messages) - len(failed)
        if failed:
            logger.warning("SQS did not delete %d message(s); they come back and are stored once", len(failed))
    if apply:
        # What this round stored, and whatever an earlier round (or a dead consumer) left `received`.
        result.applied = notifications_apply()
    return result


def _next_due() -> datetime | None:
    return SpApiNotification.objects.filter(status=SpApiNotification.Status.RECEIVED).aggregate(due=Min("not_before"))[
        "due"
    ]


def _record_error(consumer: NotificationConsumer, exc: Exception) -> int:
    now = timezone.now()
    NotificationConsumer.objects.filter(pk=consumer.pk).update(
        consecutive_errors=F("consecutive_errors") + 1, last_error=str(exc)[:2000], last_error_at=now
    )
    consumer.refresh_from_db(fields=["consecutive_errors"])
    return consumer.consecutive_errors


def notifications_consume(
    *,
    queue_url: str | None = None,
    stop: threading.Event | None = None,
    max_rounds: int | None = None,
    wait_seconds: int | None = None,
    name: str | None = None,
) -> int:
    """Run the consumer until `stop` is set (or `max_rounds` rounds). Returns how many messages it received."""
    queue_url = queue_url or settings.SP_API_NOTIFICATIONS_QUEUE_URL
    if not queue_url:
        raise ValueError("SP_API_NOTIFICATIONS_QUEUE_URL is not set: notifications are off")
    stop = stop or threading.Event()
    consumer = notification_consumer_register(name=name or consumer_name(), queue_url=queue_url)
    client = SqsQueueClient(queue_url)
    received, rounds = 0, 0
    logger.info("notification consumer %s reading %s", consumer.name, queue_url)
    try:
        while not stop.is_set() and (max_rounds is None or rounds < max_rounds):
            rounds += 1
            try:
                _fresh_connection()
                outcome = notifications_consume_round(client=client, consumer=consumer, wait_seconds=wait_seconds)
                received += outcome.received
                if outcome.received:
                    logger.info(
                        "notifications: %d received, %d new, %d deleted; applied %d, left to polling %d, "
                        "ignored %d, failed %d, to retry %d",
                        outcome.received, outcome.stored, outcome.deleted, outcome.applied.applied,
                        outcome.applied.polled, outcome.applied.ignored, outcome.applied.failed, outcome.applied.retry,
                    )  # fmt: skip
            except (ConnectorError, DatabaseError) as exc:
                errors = _safely_record(consumer, exc)
                delay = exc.retry_after if isinstance(exc, ThrottledError) and exc.retry_after else None
                delay = delay or min(2.0 ** min(errors, 6), 60.0)
                logger.warning("notification consumer: %s; next try in %.0f s", exc, delay)
                stop.wait(delay)
    finally:
        client.close()
        with contextlib.suppress(DatabaseError):
            NotificationConsumer.objects.filter(pk=consumer.pk).update(stopped_at=timezone.now())
    return received


def _fresh_connection() -> None:
    """A long-running loop drops a broken or aged database connection between rounds (never inside a transaction:
    a caller's, or a test's)."""
    if not connection.in_atomic_block:
        close_old_connections()


def _safely_record(consumer: NotificationConsumer, exc: Exception) -> int:
    try:
        _fresh_connection()
        return _record_error(consumer, exc)
    except DatabaseError:
        return 6
