"""Reconciliation services: settlement files in, matched lines, GL accounts, balanced journals, CSV out; anomaly
flags and hints for unmatched lines to help operators."""

from reconciliation.services.anomalies import (
    AnomalyScanSummary,
    anomalies_scan,
    anomaly_flag_confirm,
    anomaly_flag_dismiss,
    settlement_anomalies_scan,
)
from reconciliation.services.hints import settlement_hints_refresh
from reconciliation.services.importer import (
    ImportProgress,
    settlement_file_import,
    settlement_file_progress,
    settlement_file_store,
    settlement_file_store_path,
    settlement_files_due,
)
from reconciliation.services.journal import (
    JournalNotReady,
    journal_entries_post,
    journal_entries_transition,
    settlement_journal_build,
)
from reconciliation.services.notifications import report_finished_notified
from reconciliation.services.periods import (
    accounting_period_close,
    accounting_period_for,
    accounting_period_reopen,
    journal_date_open,
)
from reconciliation.services.settlements import settlement_accounts_resolve, settlement_reconcile

__all__ = [
    "AnomalyScanSummary",
    "ImportProgress",
    "JournalNotReady",
    "accounting_period_close",
    "accounting_period_for",
    "accounting_period_reopen",
    "anomalies_scan",
    "anomaly_flag_confirm",
    "anomaly_flag_dismiss",
    "journal_date_open",
    "journal_entries_post",
    "journal_entries_transition",
    "report_finished_notified",
    "settlement_accounts_resolve",
    "settlement_anomalies_scan",
    "settlement_file_import",
    "settlement_file_progress",
    "settlement_file_store",
    "settlement_file_store_path",
    "settlement_files_due",
    "settlement_hints_refresh",
    "settlement_journal_build",
    "settlement_reconcile",
]
