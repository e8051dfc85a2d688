"""Bank statement files: kept as received first (bytes in the database, under their SHA-256), then read in one
transaction: every line or none. A line is kept once per bank account (the bank's own id for it, or a digest of
what it says), so the same statement imported twice, or two overlapping statements, double nothing. A file that
cannot be read is rejected with the line and element and the reason, keeps no line, and opens an exception;
after a fix (say the bank account's CSV mapping) it is reprocessed from the exception queue.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.common.errors import ApplicationError
from config.common.models import ExceptionItem
from config.common.reprocess import register_reprocessor
from config.common.services import exception_open, exceptions_resolve_for
from reconciliation.bank_formats import (
    ParsedStatement,
    StatementParseError,
    detect_format,
    entries_keys,
    parse_camt053,
    parse_csv,
    parse_ofx,
)
from reconciliation.models import BankAccount, BankStatementFile, BankStatementLine

logger = logging.getLogger(__name__)
ACTOR = "system:bank"


def bank_statement_store(
    *, data: bytes, name: str, source: str, bank_account: BankAccount | None = None, format: str = ""
) -> tuple[BankStatementFile, bool]:
    """Keep the file as received. The same bytes again are the same file. (file, created)."""
    if len(data) > settings.BANK_STATEMENT_MAX_BYTES:
        raise ApplicationError(
            f"{name}: {len(data):,} bytes is more than a bank statement may be "
            f"({settings.BANK_STATEMENT_MAX_BYTES:,}, BANK_STATEMENT_MAX_BYTES); nothing was kept"
        )
    if format and format not in BankStatementFile.Format.values:
        raise ApplicationError(f"unknown statement format {format!r}: one of {', '.join(BankStatementFile.Format)}")
    sha = hashlib.sha256(data).hexdigest()
    file, created = BankStatementFile.objects.get_or_create(
        sha256=sha,
        defaults={"name": name[:255], "source": source[:100], "raw": data, "size": len(data), "format": format,
                  "bank_account": bank_account},
    )  # fmt: skip
    if not created and file.state == BankStatementFile.State.REJECTED:
        # The same bytes again after a fix elsewhere (the account, its mapping): take what the upload says now.
        changed = False
        if bank_account is not None and file.bank_account_id != bank_account.pk:
            file.bank_account, changed = bank_account, True
        if format and file.format != format:
            file.format, changed = format, True
        if changed:
            file.save(update_fields=["bank_account", "format", "updated_at"])
    return file, created


@dataclass(frozen=True)
class ImportResult:
    file: BankStatementFile
    new_line_ids: list[int]


def _parse(file: BankStatementFile) -> tuple[str, ParsedStatement]:
    data = bytes(file.raw)
    kind = file.format or detect_format(data)
    if kind == BankStatementFile.Format.CAMT053:
        return kind, parse_camt053(data)
    if kind == BankStatementFile.Format.OFX:
        return kind, parse_ofx(data)
    account = file.bank_account
    if account is None:
        raise StatementParseError("", "a CSV statement names no account: choose the bank account when uploading")
    return kind, parse_csv(data, mapping=account.csv_mapping or {}, currency=account.currency)


def _account_for(file: BankStatementFile, parsed: ParsedStatement) -> BankAccount:
    if file.bank_account is not None:
        if parsed.account_id and parsed.account_id.replace(" ", "") != file.bank_account.account_id.replace(" ", ""):
            raise StatementParseError(
                "", f"the file is for account {parsed.account_id}, not {file.bank_account} "
                f"({file.bank_account.account_id})",
            )  # fmt: skip
        return file.bank_account
    account = BankAccount.objects.filter(account_id=parsed.account_id.replace(" ", "")).first()
    if account is None:
        raise StatementParseError(
            "", f"no bank account {parsed.account_id!r} in Ledgerline (add it under Reconciliation › Bank accounts)"
        )
    return account


def bank_statement_import(*, file_id: int, actor: str = ACTOR) -> ImportResult:
    """Read the stored file and keep its new lines, then match the deposits among them. Safe to run twice."""
    try:
        with transaction.atomic():
            file = (
                BankStatementFile.objects.select_for_update(of=("self",)).select_related("bank_account").get(pk=file_id)
            )
            if file.state == BankStatementFile.State.IMPORTED:
                return ImportResult(file=file, new_line_ids=[])
            kind, parsed = _parse(file)
            account = _account_for(file, parsed)
            entries_keys(parsed.entries)
            keys = [e.key for e in parsed.entries]
            existing = set(
                BankStatementLine.objects.filter(bank_account=account, line_key__in=keys).values_list(
                    "line_key", flat=True
                )
            )
            fresh, seen_keys = [], set(existing)
            for entry in parsed.entries:
                if entry.key in seen_keys:
                    continue
                seen_keys.add(entry.key)
                money_in = entry.amount > 0
                fresh.append(
                    BankStatementLine(
                        bank_account=account, file=file, line_key=entry.key[:128], location=entry.location[:100],
                        booking_date=entry.booking_date, value_date=entry.value_date, amount=entry.amount,
                        currency=entry.currency, description=entry.description, reference=entry.reference,
                        bank_reference=entry.bank_reference, counterparty=entry.counterparty, raw=entry.raw,
                        status=BankStatementLine.Status.UNMATCHED if money_in else BankStatementLine.Status.IGNORED,
                        match_reason="" if money_in else "Money out: not a deposit, nothing to match.",
                    )
                )  # fmt: skip
            created = BankStatementLine.objects.bulk_create(fresh, ignore_conflicts=True)
            new_ids = list(
                BankStatementLine.objects.filter(file=file, line_key__in=[c.line_key for c in created]).values_list(
                    "pk", flat=True
                )
            )
            file.format, file.bank_account = kind, account
            file.state, file.error, file.error_location = BankStatementFile.State.IMPORTED, "", ""
            file.lines_new, file.lines_seen = len(new_ids), len(parsed.entries) - len(new_ids)
            file.imported_at = timezone.now()
            file.save()
    except StatementParseError as exc:
        file = BankStatementFile.objects.get(pk=file_id)
        file.state, file.error, file.error_location = BankStatementFile.State.REJECTED, exc.reason, exc.location
        file.save(update_fields=["state", "error", "error_location", "updated_at"])
        where = f" ({exc.location})" if exc.location else ""
        exception_open(
            kind=ExceptionItem.Kind.BANK_STATEMENT, source=file, reference=file.name,
            summary=f"Bank statement {file.name} rejected{where}: {exc.reason}",
            detail=f"Nothing from the file was kept. {exc.location}: {exc.reason}. Fix the cause (the file, the bank "
            "account or its CSV mapping) and reprocess.",
        )  # fmt: skip
        logger.warning("bank statement %s rejected: %s", file.name, exc)
        return ImportResult(file=file, new_line_ids=[])
    exceptions_resolve_for(source=file, actor=actor, note="imported")
    from reconciliation.services.bank_match import bank_lines_match

    bank_lines_match(line_ids=new_ids, actor=actor)
    file.refresh_from_db()
    return ImportResult(file=file, new_line_ids=new_ids)


@register_reprocessor(BankStatementFile)
def _reprocess_bank_statement(obj: object, actor: str) -> None:
    assert isinstance(obj, BankStatementFile)
    bank_statement_import(file_id=obj.pk, actor=actor)
