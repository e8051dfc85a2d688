"""django-q2 entry points (thin, idempotent)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from payments.services import (
    notifications,
    opayo_batches_fetch,
    opayo_notification_apply_safely,
    opayo_notifications_apply_pending,
    payment_transaction_refresh,
    payment_transactions_poll_due,
)


def payment_transaction_refresh_task(tx_id: int) -> str:
    return payment_transaction_refresh(tx_id=tx_id).state


def opayo_notification_apply(note_id: int) -> str:
    return opayo_notification_apply_safely(note_id=note_id).outcome


def opayo_notifications_apply_received() -> str:
    return f"{notifications.opayo_notifications_apply_received()} notification(s) applied"


def payments_poll_due() -> str:
    polled = payment_transactions_poll_due()
    swept = opayo_notifications_apply_pending()
    return f"{polled} transaction(s) re-read from Opayo; {swept} stored notification(s) applied"


def opayo_batches_fetch_task() -> str:
    """Daily: the batches settling yesterday and the 3 days before (UK). A batch settling day D completes just
    after midnight, on D + 1, so completion dates from 3 days ago to today cover them; one more day is margin for
    late files. Complete batches are not read again. Errors propagate: the task fails, and the next run (the
    window moved by a day, still covering the batch) picks it up."""
    today = timezone.now().astimezone(ZoneInfo("Europe/London")).date()
    return str(opayo_batches_fetch(start=today - timedelta(days=4), end=today))
