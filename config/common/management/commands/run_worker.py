"""`manage.py run_worker`: django-q2's `qcluster` under a supervisor that notices a stalled cluster and restarts it.

The cluster runs as a child in its own process group (sentinel, workers, pusher, monitor and any orphan of a
killed sentinel stay in it). Every WORKER_HEARTBEAT_SECONDS the supervisor enqueues a heartbeat task; the
cluster's monitor records each acknowledged task under this supervisor's name (config.common.workers). With no
progress for WORKER_RESTART_SECONDS, or when qcluster exits, the whole group is killed and a new cluster started.
Why a restart and not less: a worker SIGKILLed while it waited for work leaves the task queue's lock taken, and
only a new cluster (new queues) gets past it. Tasks the dead cluster had claimed run again once Q_RETRY expires.

With SP_API_NOTIFICATIONS_QUEUE_URL set it also runs `manage.py consume_notifications` as a second child (its own
process group), started again when it exits (at most every CONSUMER_RESTART_SECONDS); the cluster is left alone.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError, close_old_connections

from config.common.models import WorkerHeartbeat
from config.common.processes import Launcher
from config.common.workers import NAME_ENV, heartbeat_enqueue, heartbeat_register

logger = logging.getLogger(__name__)
CONSUMER_RESTART_SECONDS = 5.0


class _Stop(Exception):
    pass


class Command(BaseCommand):
    help = "Run the django-q2 cluster with heartbeats; restart it when it stops finishing tasks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--stop-grace", type=float, default=settings.PROCESS_STOP_GRACE_SECONDS,
                            help="Seconds the cluster gets to stop on SIGTERM before it is killed.")  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        name = f"{socket.gethostname()}:{os.getpid()}"
        env = {**os.environ, NAME_ENV: name}
        argv = [sys.executable, str(settings.BASE_DIR / "manage.py"), "qcluster"]
        launcher = Launcher(grace=options["stop_grace"])
        interval, restart_after = settings.WORKER_HEARTBEAT_SECONDS, settings.WORKER_RESTART_SECONDS

        def on_signal(signum: int, frame: Any) -> None:
            raise _Stop()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGHUP, on_signal)
        cluster = None
        backoff = 1.0
        reason = ""
        consumer_argv = [sys.executable, str(settings.BASE_DIR / "manage.py"), "consume_notifications"]
        consumer = None
        consumer_started = 0.0

        def consumer_ensure() -> None:
            nonlocal consumer, consumer_started
            if not settings.SP_API_NOTIFICATIONS_QUEUE_URL:
                return
            if consumer is not None and consumer.proc.poll() is None:
                return
            if time.monotonic() - consumer_started < CONSUMER_RESTART_SECONDS:
                return
            if consumer is not None:
                logger.error("worker %s: notification consumer exited (%s): starting it again", name,
                             consumer.proc.returncode)  # fmt: skip
                launcher.stop(consumer, grace=0)
            consumer = launcher.start("consume_notifications", consumer_argv, env=env, cwd=settings.BASE_DIR,
                                      own_session=False)  # fmt: skip
            consumer_started = time.monotonic()

        try:
            while True:
                # A new process group in our session: killable as one, without killing ourselves.
                cluster = launcher.start("qcluster", argv, env=env, cwd=settings.BASE_DIR, own_session=False)
                started = time.monotonic()
                self._register(name, cluster.pid, reason)
                logger.info("worker %s: cluster started (pid %d)", name, cluster.pid)
                next_beat = time.monotonic()
                while True:
                    time.sleep(min(1.0, interval))
                    consumer_ensure()
                    if cluster.proc.poll() is not None:
                        reason = f"qcluster exited with code {cluster.proc.returncode}"
                        break
                    now = time.monotonic()
                    if now >= next_beat:
                        next_beat = now + interval
                        self._safely(heartbeat_enqueue)
                    idle = self._seconds_without_progress(name)
                    if idle is not None and idle > restart_after and now - started > restart_after:
                        reason = f"no task finished for {idle:.0f} s (limit {restart_after:.0f} s)"
                        break
                logger.critical("worker %s: restarting the cluster: %s", name, reason)
                stalled = reason.startswith("no task")
                # A stalled cluster cannot stop itself (its stop waits on the same lock): no grace for it.
                launcher.stop(cluster, grace=0 if stalled else options["stop_grace"])
                consumer_ensure()
                if not stalled:
                    # A cluster that keeps dying at once (bad settings, database down) restarts less and less often.
                    backoff = 1.0 if time.monotonic() - started > 60 else min(backoff * 2, 60.0)
                    time.sleep(backoff)
        except _Stop:
            logger.info("worker %s: stopping", name)
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            launcher.stop_all()

    def _register(self, name: str, pid: int, reason: str) -> None:
        self._safely(lambda: heartbeat_register(name=name, pid=pid, restart_reason=reason))

    def _seconds_without_progress(self, name: str) -> float | None:
        def read() -> float | None:
            row = WorkerHeartbeat.objects.filter(name=name).first()
            if row is None:
                return None
            from django.utils import timezone

            return (timezone.now() - (row.last_progress_at or row.started_at)).total_seconds()

        return self._safely(read)

    @staticmethod
    def _safely(fn: Any) -> Any:
        """The database may be away for a moment: the cluster is not restarted for that."""
        try:
            close_old_connections()
            return fn()
        except DatabaseError as exc:
            logger.warning("worker health: database unavailable (%s)", exc.__class__.__name__)
            return None
