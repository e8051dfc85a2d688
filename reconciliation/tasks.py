"""django-q2 entry points (thin, idempotent)."""

from __future__ import annotations

import logging

from config.common.errors import ConnectorError
from orders.models import SellerAccount
from reconciliation.services import settlement_files_due
from reconciliation.services.reports import settlement_file_retry, settlement_reports_fetch
from reconciliation.services.settlements import settlements_recheck

logger = logging.getLogger(__name__)


def settlement_reports_fetch_task() -> str:
    """Every active account's new settlement reports. One account's outage does not stop the others."""
    done = []
    for account in SellerAccount.objects.filter(is_active=True).order_by("pk"):
        try:
            summary = settlement_reports_fetch(account=account)
        except ConnectorError as exc:
            logger.warning("settlement reports for %s: %s (next run tries again)", account.name, exc)
            done.append(f"{account.name}: {exc}")
            continue
        done.append(f"{account.name}: {len(summary.imported)} imported, {len(summary.rejected)} rejected")
    return "; ".join(done)


def settlement_files_retry_task() -> str:
    """Rejected files due for another try; and settlements with unmatched lines looked at again."""
    rechecked = settlements_recheck()
    results = []
    for file_id in settlement_files_due():
        try:
            results.append(settlement_file_retry(file_id=file_id).state)
        except ConnectorError as exc:
            logger.warning("settlement file %s: retry failed: %s", file_id, exc)
            results.append("error")
    return f"{len(results)} file(s) retried: {', '.join(results)}; {rechecked} settlement(s) rechecked"
