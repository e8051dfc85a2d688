"""Alerts to people (email) and to other systems (a webhook POST), for what must not wait for someone to look:
a circuit opening, a settlement file rejected or flagged, a queue backing up.

The same alert (by key) is sent at most once per ALERT_REPEAT_MINUTES. The webhook goes through the outbound
machinery, so it is retried with backoff like any provider call and never blocks the code that raised it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import httpx
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.common.http import status_error, transport_error
from config.common.models import AlertSent, OutboundRequest
from config.common.outbound import outbound_enqueue, register_outbound

logger = logging.getLogger(__name__)
WEBHOOK = "alert.webhook"


def alert_raise(*, key: str, subject: str, body: str, severity: str = "error") -> bool:
    """Send the alert unless the same key was sent recently. Returns whether it was sent."""
    now = timezone.now()
    repeat = timedelta(minutes=settings.ALERT_REPEAT_MINUTES)
    with transaction.atomic():
        sent = AlertSent.objects.select_for_update().filter(key=key).first()
        if sent is not None and now - sent.last_sent_at < repeat:
            AlertSent.objects.filter(pk=sent.pk).update(suppressed=sent.suppressed + 1)
            return False
        if sent is None:
            try:
                with transaction.atomic():
                    AlertSent.objects.create(key=key, last_sent_at=now, subject=subject[:200])
            except IntegrityError:
                return False  # another process is sending it right now
        else:
            AlertSent.objects.filter(pk=sent.pk).update(last_sent_at=now, subject=subject[:200], suppressed=0)
        payload = {"key": key, "severity": severity, "subject": subject, "body": body, "at": now.isoformat()}
        if settings.ALERT_WEBHOOK_URL:
            outbound_enqueue(
                operation=WEBHOOK, provider="alerts", idempotency_key=f"alert:{key}:{now.timestamp():.3f}",
                payload=payload, max_attempts=10,
            )  # fmt: skip
    logger.warning("ALERT %s: %s", key, subject)
    if settings.ALERT_EMAILS:
        try:
            send_mail(f"[Ledgerline] {subject}", body, None, settings.ALERT_EMAILS, fail_silently=False)
        except OSError as exc:  # the mail server is down: the log line and the webhook still carry it
            logger.error("alert email failed: %s", exc)
    return True


@register_outbound(WEBHOOK)
def _post(request: OutboundRequest) -> dict[str, Any]:
    url = settings.ALERT_WEBHOOK_URL
    try:
        response = httpx.post(url, json=request.payload, timeout=10)
    except httpx.TransportError as exc:
        raise transport_error(exc, provider="alerts", operation=WEBHOOK) from exc
    if response.status_code >= 300:
        raise status_error(response, provider="alerts", operation=WEBHOOK, message=response.reason_phrase)
    return {"status": response.status_code}


def alerts_check_queues() -> int:
    """A queue that backs up (too many items, or its oldest waiting too long) raises an alert."""
    from config.common.monitoring import monitoring_snapshot

    raised = 0
    for queue in monitoring_snapshot(hours=1).queues:
        too_many = queue.depth > settings.ALERT_QUEUE_DEPTH
        too_old = queue.oldest_age_seconds > settings.ALERT_QUEUE_AGE_MINUTES * 60
        if too_many or too_old:
            raised += alert_raise(
                key=f"queue:{queue.name}",
                subject=f"Queue backing up: {queue.name} ({queue.depth} waiting)",
                body=(
                    f"{queue.name}: {queue.depth} item(s) waiting (alert above {settings.ALERT_QUEUE_DEPTH}); "
                    f"oldest since {queue.oldest:%Y-%m-%d %H:%M} UTC."
                    if queue.oldest
                    else f"{queue.name}: {queue.depth} item(s) waiting (alert above {settings.ALERT_QUEUE_DEPTH})."
                ),
                severity="warning",
            )
    return raised
