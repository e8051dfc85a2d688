"""`manage.py watchdog`: the alert checks that must not depend on the worker cluster being healthy.

Runs in its own process (run_stack starts it; in production next to the web or as a cron job with --once):
every WATCHDOG_INTERVAL_SECONDS it raises the stalled-worker alert (no cluster finished a task within
WORKER_STALL_SECONDS) and the queue alerts, and sends due alert webhooks itself (normally a worker task does, which
a stalled cluster would not). Each alert goes out once per key per ALERT_REPEAT_MINUTES.
"""

from __future__ import annotations

import logging
import signal
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError, close_old_connections, connection

from config.common.workers import watchdog_check

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Check worker heartbeats and queues from outside the worker cluster, and alert."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="One round, then exit (for cron).")
        parser.add_argument("--interval", type=float, default=settings.WATCHDOG_INTERVAL_SECONDS)

    def handle(self, *args: Any, **options: Any) -> None:
        stopping = False

        def on_signal(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        while not stopping:
            try:
                if connection.get_autocommit():  # not inside a caller's transaction (tests call it in one)
                    close_old_connections()
                result = watchdog_check()
                if result["stalled"] or result["queues"]:
                    logger.warning("watchdog: %s", result)
            except DatabaseError as exc:  # the readiness probe reports the database; keep watching
                logger.error("watchdog: database unavailable (%s)", exc.__class__.__name__)
            if options["once"]:
                return
            deadline = time.monotonic() + options["interval"]
            while not stopping and time.monotonic() < deadline:
                time.sleep(min(0.2, options["interval"]))
