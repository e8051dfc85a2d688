from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from reconciliation.services.export import JournalFilter
from reconciliation.services.export_formats import FORMATS, journal_export_chunks


class Command(BaseCommand):
    help = (
        "Write the journal for an accounting package to a file or standard output: our generic CSV of journal lines, "
        "or the import layout of Xero (manual journals), QuickBooks Online (journal entries), Sage 50 (audit trail "
        "journals) or Dynamics SL (GL transaction import)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="date_from", type=date.fromisoformat, help="First journal date (YYYY-MM-DD)")
        parser.add_argument("--to", dest="date_to", type=date.fromisoformat, help="Last journal date (YYYY-MM-DD)")
        parser.add_argument("--settlement", help="Only this Amazon settlement id")
        parser.add_argument("--format", choices=FORMATS, default="generic", help="Layout (default: generic)")
        parser.add_argument("--out", type=Path, help="Output file (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        filters = JournalFilter(
            date_from=options["date_from"], date_to=options["date_to"], settlement_id=options["settlement"]
        )
        chunks = journal_export_chunks(filters=filters, format=options["format"])
        if options["out"]:
            written = 0
            with options["out"].open("wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                    written += len(chunk)
            self.stderr.write(f"{options['out']}: {written:,} bytes ({options['format']})")
        else:
            for chunk in chunks:
                sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
