"""Settlement reports from the Reports API. Amazon makes them on its own schedule (they cannot be requested):
list the DONE ones of the last 90 days, download each new report once, store the bytes, import.

A report is known by its id (the file's `source` is `report:<id>`), so a report seen before is not downloaded
again; a settlement that arrives in two reports is imported once (by settlement-id). A file that was rejected
(a cut download, say) is downloaded again when its retry is due.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from config.common.services import exceptions_resolve_for
from connectors.amazon.reports import AmazonReportsClient
from connectors.amazon.reports_types import Report
from orders.models import SellerAccount
from reconciliation.models import SettlementFile, SettlementReport
from reconciliation.services.importer import settlement_file_import, settlement_file_store

logger = logging.getLogger(__name__)
SETTLEMENT_REPORT = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
ACTOR = "system:settlement-reports"


@dataclass
class ReportsFetchSummary:
    listed: int = 0
    imported: list[str] = field(default_factory=list)  # settlement ids
    duplicates: int = 0
    rejected: list[str] = field(default_factory=list)  # report ids
    skipped: int = 0  # seen before


def _source(report_id: str) -> str:
    return f"report:{report_id}"


def _download_and_import(
    client: AmazonReportsClient, account: SellerAccount, report: Report
) -> tuple[SettlementFile, bool]:
    """Download, store and import a report's document. (file, whether those exact bytes were imported before)."""
    assert report.report_document_id is not None
    storage = Path(settings.SETTLEMENT_STORAGE_DIR)
    storage.mkdir(parents=True, exist_ok=True)
    part = storage / f".report-{report.report_id}.download"
    try:
        client.download_report_document(report.report_document_id, dest_path=part)
        with part.open("rb") as data:
            file, created = settlement_file_store(
                data=data, name=f"settlement-report-{report.report_id}.txt", source=_source(report.report_id),
                seller_account=account,
            )  # fmt: skip
    finally:
        part.unlink(missing_ok=True)
    SettlementReport.objects.update_or_create(
        report_id=report.report_id,
        defaults={
            "seller_account": account, "report_document_id": report.report_document_id,
            "created_time": report.created_time, "file": file,
        },
    )  # fmt: skip
    seen_before = not created and file.state in (SettlementFile.State.IMPORTED, SettlementFile.State.DUPLICATE)
    return settlement_file_import(file_id=file.pk), seen_before


def settlement_reports_fetch(*, account: SellerAccount) -> ReportsFetchSummary:
    """Import the account's settlement reports not seen yet. Connector errors propagate (the schedule retries)."""
    summary = ReportsFetchSummary()
    with AmazonReportsClient.for_account(account) as client:
        reports = client.list_reports(
            report_types=[SETTLEMENT_REPORT],
            processing_statuses=["DONE"],
            created_since=timezone.now() - timedelta(days=89),  # Amazon keeps reports 90 days
        )
        summary.listed = len(reports)
        # Rejected ones included: their retry (settlement_file_retry) downloads them again.
        seen = set(
            SettlementReport.objects.filter(report_id__in=[r.report_id for r in reports]).values_list(
                "report_id", flat=True
            )
        )
        for report in sorted(reports, key=lambda r: r.created_time):
            if report.report_id in seen or report.report_document_id is None:
                summary.skipped += 1
                continue
            file, seen_before = _download_and_import(client, account, report)
            if file.state == SettlementFile.State.REJECTED:
                summary.rejected.append(report.report_id)
            elif file.state == SettlementFile.State.DUPLICATE or seen_before:
                summary.duplicates += 1  # the settlement came before, in another report or file
            elif file.settlement is not None:
                summary.imported.append(file.settlement.settlement_id)
    logger.info("settlement reports for %s: %s", account.name, summary)
    return summary


def settlement_report_fetch(*, account: SellerAccount, report_id: str) -> str:
    """One settlement report, named by Amazon's REPORT_PROCESSING_FINISHED notification: downloaded and imported
    unless seen before. Returns what happened, in words. Connector errors propagate (tried again later)."""
    if SettlementReport.objects.filter(report_id=report_id).exists():
        return f"report {report_id} was imported before"
    with AmazonReportsClient.for_account(account) as client:
        report = client.get_report(report_id)
        if report.report_type != SETTLEMENT_REPORT or report.report_document_id is None:
            return f"report {report_id} is {report.report_type} ({report.processing_status}): nothing to import"
        file, seen_before = _download_and_import(client, account, report)
    if file.state == SettlementFile.State.REJECTED:
        return f"report {report_id}: file {file.pk} rejected (an exception says why)"
    if file.state == SettlementFile.State.DUPLICATE or seen_before:
        return f"report {report_id}: its settlement came before"
    settlement = file.settlement.settlement_id if file.settlement is not None else "?"
    return f"report {report_id}: settlement {settlement} imported"


def settlement_file_retry(*, file_id: int) -> SettlementFile:
    """Try a rejected file again. A Reports API file is downloaded again first (a cut download is the usual cause);
    when the new bytes differ they become a new file and the old one is closed."""
    file = SettlementFile.objects.select_related("seller_account").get(pk=file_id)
    if file.state != SettlementFile.State.REJECTED:
        return file
    report_id = file.source.removeprefix("report:") if file.source.startswith("report:") else None
    if report_id is not None and file.seller_account is not None:
        with AmazonReportsClient.for_account(file.seller_account) as client:
            report = client.get_report(report_id)
            if report.report_document_id is not None:
                fresh, _ = _download_and_import(client, file.seller_account, report)
                if fresh.pk != file.pk:
                    SettlementFile.objects.filter(pk=file.pk).update(next_attempt_at=None)
                    exceptions_resolve_for(source=file, actor=ACTOR, note=f"downloaded again as file {fresh.pk}")
                return fresh
    return settlement_file_import(file_id=file.pk)
