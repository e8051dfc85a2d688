"""`manage.py consume_notifications`: read SP-API notifications from the SQS queue until stopped (SIGTERM/SIGINT).
`run_worker` runs this as a supervised child when SP_API_NOTIFICATIONS_QUEUE_URL is set."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from orders.services import notifications_consume


class Command(BaseCommand):
    help = "Consume SP-API notifications from SQS: store each raw, delete it, apply it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--queue-url", default="", help="Default: SP_API_NOTIFICATIONS_QUEUE_URL.")
        parser.add_argument("--rounds", type=int, default=None, help="Stop after this many receive calls.")
        parser.add_argument("--wait", type=int, default=None, help="Long-poll seconds (at most 20).")

    def handle(self, *args: Any, **options: Any) -> None:
        queue_url = options["queue_url"] or settings.SP_API_NOTIFICATIONS_QUEUE_URL
        if not queue_url:
            raise CommandError("No queue: set SP_API_NOTIFICATIONS_QUEUE_URL (notifications are off without it).")
        stop = threading.Event()

        def on_signal(signum: int, frame: Any) -> None:
            stop.set()  # the current long poll (<= 20 s) ends, then the loop does

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        received = notifications_consume(
            queue_url=queue_url, stop=stop, max_rounds=options["rounds"], wait_seconds=options["wait"]
        )
        self.stdout.write(f"{received} message(s) received")
