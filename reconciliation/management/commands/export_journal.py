from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from reconciliation.services.export import JournalFilter, journal_csv_write


class Command(BaseCommand):
    help = "Write journal lines as CSV (for the accounting package) to a file or standard output."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="date_from", type=date.fromisoformat, help="First journal date (YYYY-MM-DD)")
        parser.add_argument("--to", dest="date_to", type=date.fromisoformat, help="Last journal date (YYYY-MM-DD)")
        parser.add_argument("--settlement", help="Only this Amazon settlement id")
        parser.add_argument("--out", type=Path, help="Output file (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        filters = JournalFilter(
            date_from=options["date_from"], date_to=options["date_to"], settlement_id=options["settlement"]
        )
        if options["out"]:
            with options["out"].open("wb") as out:
                written = journal_csv_write(out=out, filters=filters)
            self.stderr.write(f"{options['out']}: {written:,} bytes")
        else:
            journal_csv_write(out=sys.stdout.buffer, filters=filters)
            sys.stdout.flush()
