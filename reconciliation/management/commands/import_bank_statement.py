from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.common.errors import ApplicationError
from reconciliation.models import BankAccount, BankStatementFile
from reconciliation.services.bank_statements import bank_statement_import, bank_statement_store


class Command(BaseCommand):
    help = "Import bank statement files (CAMT.053, OFX, or CSV with --account): kept as received, lines kept once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
        parser.add_argument("--account", help="Bank account identifier (IBAN / number); required for CSV files")
        parser.add_argument("--format", choices=list(BankStatementFile.Format.values), default="",
                            help="Default: detected from the content")  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        account = None
        if options["account"]:
            account = BankAccount.objects.filter(account_id=options["account"]).first()
            if account is None:
                raise CommandError(f"no bank account {options['account']!r}")
        failed = 0
        for path in options["paths"]:
            if not path.is_file():
                raise CommandError(f"{path}: no such file")
            try:
                file, created = bank_statement_store(
                    data=path.read_bytes(), name=path.name, source="command line", bank_account=account,
                    format=options["format"],
                )  # fmt: skip
            except ApplicationError as exc:
                raise CommandError(exc.message) from None
            result = bank_statement_import(file_id=file.pk, actor="command line")
            file = result.file
            if file.state == BankStatementFile.State.REJECTED:
                failed += 1
                where = f"{file.error_location}: " if file.error_location else ""
                self.stderr.write(self.style.ERROR(f"{path}: rejected, nothing kept. {where}{file.error}"))
                continue
            seen = "" if created else " (these exact bytes were received before)"
            self.stdout.write(
                self.style.SUCCESS(
                    f"{path}: {file.get_format_display()} for {file.bank_account}: {file.lines_new} new line(s), "
                    f"{file.lines_seen} seen before{seen}"
                )
            )
            for line in file.lines.filter(pk__in=result.new_line_ids, amount__gt=0).order_by("booking_date", "pk"):
                self.stdout.write(
                    f"  {line.booking_date} {line.amount} {line.currency} {line.status}: {line.match_reason}"
                )
        if failed:
            raise CommandError(f"{failed} file(s) rejected")
