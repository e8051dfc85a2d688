"""Reconciliation's SP-API notification (registered with orders' dispatch, which stores it raw first):
REPORT_PROCESSING_FINISHED of a settlement report → that report downloaded and imported now, instead of at the next
scheduled listing. Other report types are not ours to read."""

from __future__ import annotations

from typing import Any

from orders.models import SpApiNotification
from orders.services import NotificationIgnored, field_ci, register_notification_handler
from reconciliation.services.reports import SETTLEMENT_REPORT, settlement_report_fetch


@register_notification_handler("REPORT_PROCESSING_FINISHED")
def report_finished_notified(notification: SpApiNotification, payload: dict[str, Any]) -> str:
    report_type, status = field_ci(payload, "reportType"), field_ci(payload, "processingStatus")
    if report_type != SETTLEMENT_REPORT:
        raise NotificationIgnored(f"report type {report_type}: not read by Ledgerline")
    if status != "DONE":
        raise NotificationIgnored(f"settlement report {notification.subject} ended {status}")
    assert notification.account is not None
    return settlement_report_fetch(account=notification.account, report_id=notification.subject)
