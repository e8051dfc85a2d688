from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from config.common.errors import ApplicationError, ConnectorError
from payments.services import opayo_batches_fetch


class Command(BaseCommand):
    help = (
        "Fetch and match the Opayo settlement batches completed between --start and --end (UK dates, at most "
        "31 days; default: the daily task's window). Safe to run repeatedly."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--start", type=date.fromisoformat, help="YYYY-MM-DD (default: 4 days ago)")
        parser.add_argument("--end", type=date.fromisoformat, help="YYYY-MM-DD (default: today)")

    def handle(self, *args: Any, **options: Any) -> None:
        today = timezone.now().astimezone(ZoneInfo("Europe/London")).date()
        start, end = options["start"] or today - timedelta(days=4), options["end"] or today
        try:
            summary = opayo_batches_fetch(start=start, end=end, actor="command:fetch_opayo_batches")
        except (ApplicationError, ConnectorError) as exc:
            raise CommandError(str(getattr(exc, "message", exc))) from exc
        self.stdout.write(str(summary))
