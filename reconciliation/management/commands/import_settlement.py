from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reconciliation.models import SettlementFile
from reconciliation.services import ImportProgress, settlement_file_import, settlement_file_store_path


class Command(BaseCommand):
    help = "Import an Amazon V2 settlement flat file from disk (stored first; a settlement is imported once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
        parser.add_argument("--quiet-progress", action="store_true", help="No progress line while importing.")

    def handle(self, *args: Any, **options: Any) -> None:
        failed = 0
        for path in options["paths"]:
            if not path.is_file():
                raise CommandError(f"{path}: no such file")
            file, created = settlement_file_store_path(path=path)
            seen = "" if created else ", seen before"
            self.stdout.write(f"{path}: stored as file {file.pk} ({file.size:,} bytes{seen})")
            progress = None if options["quiet_progress"] else self._progress
            file = settlement_file_import(file_id=file.pk, progress=progress)
            if progress is not None:
                sys.stderr.write("\n")
            if file.state == SettlementFile.State.REJECTED:
                failed += 1
                where = f"line {file.error_line}: " if file.error_line else ""
                self.stderr.write(self.style.ERROR(f"{path}: rejected, nothing imported. {where}{file.error}"))
                continue
            settlement = file.settlement
            assert settlement is not None
            if file.state == SettlementFile.State.DUPLICATE:
                self.stdout.write(f"{path}: settlement {settlement.settlement_id} already imported; nothing changed")
                continue
            self.stdout.write(
                self.style.SUCCESS(
                    f"{path}: settlement {settlement.settlement_id} imported: {settlement.line_count:,} lines in "
                    f"{file.seconds or 0:.1f} s, total {settlement.total_amount} {settlement.currency}, "
                    f"{settlement.get_status_display()}"
                )
            )
            if settlement.problem:
                self.stdout.write(self.style.WARNING(settlement.problem))
        if failed:
            raise CommandError(f"{failed} file(s) rejected")

    def _progress(self, info: ImportProgress) -> None:
        sys.stderr.write(f"\r  {info.rows:>12,} rows  {info.fraction:6.1%}  {info.seconds:6.1f} s")
        sys.stderr.flush()
