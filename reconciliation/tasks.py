"""django-q2 entry points (thin, idempotent)."""

from __future__ import annotations

import logging

from config.common.errors import ConnectorError
from orders.models import SellerAccount
from reconciliation.models import Settlement
from reconciliation.services import anomalies_scan, settlement_anomalies_scan, settlement_files_due
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


def anomalies_scan_task() -> str:
    """Hourly: recent orders' unit prices, and fee and refund rates of settlements imported since the last runs."""
    return str(anomalies_scan())


def settlement_anomalies_scan_task(settlement_id: int) -> str:
    """After an import: fee and refund rates of that settlement (enqueued on commit by the importer)."""
    settlement = Settlement.objects.filter(pk=settlement_id).first()
    if settlement is None:
        return f"settlement {settlement_id} no longer exists"
    return str(settlement_anomalies_scan(settlement=settlement))


def period_accruals_task() -> str:
    """Daily: the last ended period's accruals (and reversals) for every active account; unchanged when run again."""
    from reconciliation.services.accruals import accruals_due_run

    return "; ".join(accruals_due_run(actor="system:accruals"))


def completeness_check_task() -> str:
    """Daily: shipped orders in no settlement (one exception per account), and yesterday's Amazon order report
    against our orders (missing ones ingested)."""
    from reconciliation.services.completeness import order_report_checks_due, unsettled_orders_check

    unsettled = unsettled_orders_check()
    try:
        checks = order_report_checks_due()
    except ConnectorError as exc:
        logger.warning("order report check: %s (next run tries again)", exc)
        return f"{unsettled}; order report check: {exc}"
    found = sum(len(c.missing_ids) for c in checks)
    ingested = sum(c.ingested for c in checks)
    waiting = sum(c.state != "done" for c in checks)
    return f"{unsettled}; {len(checks)} order report check(s): {found} missing, {ingested} ingested, {waiting} waiting"


def bank_deposits_check_task() -> str:
    """Hourly: open deposits matched again (settlements and batches that arrived since); those still unmatched
    BANK_UNMATCHED_DAYS after booking become exceptions."""
    from reconciliation.services.bank_match import bank_lines_overdue_check

    return str(bank_lines_overdue_check())
