"""django-q2 entry points (thin, idempotent)."""

from __future__ import annotations

from payments.services import (
    notifications,
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
