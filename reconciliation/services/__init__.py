"""Reconciliation services: settlement files in, matched lines, GL accounts, balanced journals, CSV out."""

from reconciliation.services.importer import (
    ImportProgress,
    settlement_file_import,
    settlement_file_progress,
    settlement_file_store,
    settlement_file_store_path,
    settlement_files_due,
)
from reconciliation.services.journal import JournalNotReady, settlement_journal_build
from reconciliation.services.settlements import settlement_accounts_resolve, settlement_reconcile

__all__ = [
    "ImportProgress",
    "JournalNotReady",
    "settlement_accounts_resolve",
    "settlement_file_import",
    "settlement_file_progress",
    "settlement_file_store",
    "settlement_file_store_path",
    "settlement_files_due",
    "settlement_journal_build",
    "settlement_reconcile",
]
