"""django-q2 entry points (thin, idempotent)."""

from __future__ import annotations

from payments.services import payment_transaction_refresh, payment_transactions_poll_due


def payment_transaction_refresh_task(tx_id: int) -> str:
    return payment_transaction_refresh(tx_id=tx_id).state


def payments_poll_due() -> str:
    return f"{payment_transactions_poll_due()} transaction(s) re-read from Opayo"
