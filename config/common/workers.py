"""Worker health: heartbeats from the django-q2 clusters, the readiness verdict, and the watchdog's checks.

Why: django-q2's sentinel respawns a killed worker, but an idle worker holds its cluster's task-queue lock while
it waits; SIGKILL it (the OOM killer) and the lock is never released, so the respawned workers wait forever, the
guard sees them alive and the cluster runs nothing (django-q2 issue #23; the monitor's result queue can be left
the same way). Nothing inside such a cluster can notice, so:

* proof of life comes from the end of the path: the cluster's monitor process, after it saved and acknowledged a
  task, records it here (django-q2's `post_execute` signal). `run_worker` enqueues a no-op heartbeat task every
  WORKER_HEARTBEAT_SECONDS, a schedule does once a minute for a plain `qcluster`, and any other finished task
  counts as progress (at most one write per 5 s), so a cluster busy with a backlog is not taken for a stalled one;
* /readyz, /metrics, the dashboard and the watchdog (`manage.py watchdog`, its own process) read that table;
* `run_worker` restarts its own cluster when it has made no progress for WORKER_RESTART_SECONDS.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django_q.models import OrmQ
from django_q.signing import SignedPackage
from django_q.utils import get_func_repr

from config.common.alerts import WEBHOOK, alert_raise
from config.common.models import OutboundRequest, WorkerHeartbeat

logger = logging.getLogger(__name__)

HEARTBEAT_TASK = "config.common.tasks.worker_heartbeat"
# Set by run_worker for its qcluster child (and inherited by the sentinel, workers and monitor it forks).
NAME_ENV = "LEDGERLINE_WORKER_NAME"
STALLED_ALERT_KEY = "workers:stalled"
_TASK_WRITE_EVERY = 5.0  # seconds between "a task finished" writes from one monitor process
_last_task_write = 0.0
_PROCESS_STARTED = time.monotonic()  # this process's start (the web's, the watchdog's): a grace for the first beat


def worker_name_current() -> str:
    """This cluster's name: run_worker's host:pid, or host:<sentinel pid> for a plain `qcluster`."""
    return os.environ.get(NAME_ENV) or f"{socket.gethostname()}:{os.getppid()}"


def heartbeat_register(*, name: str, pid: int, restart_reason: str = "") -> WorkerHeartbeat:
    """A cluster (re)started under `name`: its grace period starts now. Rows of clusters silent for a day (their
    supervisors stopped long ago: a new run_worker has a new pid) are dropped."""
    now = timezone.now()
    gone = now - timedelta(days=1)
    WorkerHeartbeat.objects.filter(started_at__lt=gone).exclude(
        Q(last_beat_at__gte=gone) | Q(last_task_at__gte=gone)
    ).delete()
    row, created = WorkerHeartbeat.objects.get_or_create(
        name=name, defaults={"host": socket.gethostname(), "pid": pid, "started_at": now}
    )
    if not created:
        row.pid, row.started_at = pid, now
        fields = ["pid", "started_at"]
        if restart_reason:
            row.restarts += 1
            row.last_restart_reason = restart_reason[:300]
            fields += ["restarts", "last_restart_reason"]
        row.save(update_fields=fields)
    return row


def heartbeat_enqueue() -> str:
    """One heartbeat task for whichever cluster takes it (not kept in django-q2's results: save=False)."""
    from django_q.tasks import async_task

    return str(async_task(HEARTBEAT_TASK, task_name="heartbeat", save=False))


def heartbeat_record(*, task: dict[str, Any]) -> None:
    """The monitor saved and acknowledged `task`: record this cluster's progress (never raises: the monitor
    process must not die of it)."""
    global _last_task_write
    try:
        beat = bool(task.get("success")) and get_func_repr(task.get("func")) == HEARTBEAT_TASK
        if not beat and time.monotonic() - _last_task_write < _TASK_WRITE_EVERY:
            return
        now = timezone.now()
        name = worker_name_current()
        if beat:
            started = task.get("started")
            latency = (now - started).total_seconds() if isinstance(started, datetime) else None
            values: dict[str, Any] = {"last_beat_at": now, "last_beat_latency": latency, "last_task_at": now}
        else:
            values = {"last_task_at": now}
            _last_task_write = time.monotonic()
        with transaction.atomic():
            row = WorkerHeartbeat.objects.select_for_update().filter(name=name).first()
            if row is None:
                try:
                    with transaction.atomic():
                        row = WorkerHeartbeat.objects.create(
                            name=name, host=socket.gethostname(), pid=os.getppid(), started_at=now
                        )
                except IntegrityError:
                    row = WorkerHeartbeat.objects.select_for_update().get(name=name)
            for key, value in values.items():
                setattr(row, key, value)
            row.beats += int(beat)
            row.save(update_fields=[*values, "beats"])
    except Exception:  # a database hiccup must not take the monitor down
        logger.exception("could not record the worker heartbeat")


def _on_post_execute(sender: Any, task: dict[str, Any], **kwargs: Any) -> None:
    heartbeat_record(task=task)


def heartbeat_connect() -> None:
    from django_q.signals import post_execute

    post_execute.connect(_on_post_execute, dispatch_uid="ledgerline-worker-heartbeat")


@dataclass(frozen=True)
class WorkersHealth:
    state: str  # "ok", "starting" (grace after a start, nothing finished yet) or "stalled"
    reason: str
    last_progress_at: datetime | None
    workers: list[WorkerHeartbeat] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.state != "stalled"

    @property
    def progress_age_seconds(self) -> float | None:
        return (timezone.now() - self.last_progress_at).total_seconds() if self.last_progress_at else None


def workers_health() -> WorkersHealth:
    """Stalled when no cluster has finished a task for WORKER_STALL_SECONDS, except within
    WORKER_START_GRACE_SECONDS of a cluster's (re)start or of this process's own start."""
    now = timezone.now()
    stall = timedelta(seconds=settings.WORKER_STALL_SECONDS)
    workers = list(WorkerHeartbeat.objects.all())
    progress = [w.last_progress_at for w in workers if w.last_progress_at is not None]
    last = max(progress) if progress else None
    if last is not None and now - last <= stall:
        return WorkersHealth("ok", "", last, workers)
    grace = timedelta(seconds=settings.WORKER_START_GRACE_SECONDS)
    # A cluster that has not finished anything since its (re)start is given the grace; one that has, is judged.
    starting = [
        w for w in workers
        if now - w.started_at <= grace and (w.last_progress_at is None or w.last_progress_at < w.started_at)
    ]  # fmt: skip
    if starting:
        return WorkersHealth("starting", f"worker {starting[0].name} started, no task finished yet", last, workers)
    if last is None and time.monotonic() - _PROCESS_STARTED <= grace.total_seconds():  # a fresh deployment
        return WorkersHealth("starting", "waiting for a first heartbeat", last, workers)
    if last is None:
        return WorkersHealth("stalled", "no worker cluster has ever finished a task", None, workers)
    newest = max(workers, key=lambda w: w.last_progress_at or w.started_at)
    return WorkersHealth(
        "stalled",
        f"no worker cluster has finished a task for {(now - last).total_seconds():.0f} s "
        f"(limit {settings.WORKER_STALL_SECONDS:.0f} s; last: {newest.name} at {last:%Y-%m-%d %H:%M:%S} UTC)",
        last,
        workers,
    )


@dataclass(frozen=True)
class BrokerQueue:
    depth: int
    claimed: int  # taken by a cluster's pusher (lock in the future), not yet acknowledged
    oldest_enqueued_at: datetime | None


def broker_queue() -> BrokerQueue:
    """What waits in the broker. django-q2's ORM broker table: rows are deleted when acknowledged, so every row is
    work not done yet (Redis: the list's length).

    The enqueue time is in the signed payload (`started`, set by async_task); `lock` holds it too only until a
    pusher claims the row (then it becomes claim time + Q_RETRY). Ids grow with enqueueing, so the lowest id is
    the oldest task: one payload to decode."""
    if settings.Q_BROKER != "orm":
        # Redis: a list of waiting tasks; what a cluster took is no longer in it (no claims, no enqueue times).
        from django_q.brokers import get_broker

        return BrokerQueue(get_broker().queue_size() or 0, 0, None)
    now = timezone.now()
    depth = OrmQ.objects.count()
    claimed = OrmQ.objects.filter(lock__gt=now).count()
    oldest_row = OrmQ.objects.order_by("id").first()
    oldest: datetime | None = None
    if oldest_row is not None:
        try:
            started = SignedPackage.loads(oldest_row.payload).get("started")
            oldest = started if isinstance(started, datetime) else None
        except Exception:  # signed with another key: fall back on the lock while it is still the enqueue time
            logger.warning("could not read the oldest task's payload (SECRET_KEY changed?)")
        if oldest is None and oldest_row.lock is not None and oldest_row.lock <= now:
            oldest = oldest_row.lock
    return BrokerQueue(depth, claimed, oldest)


def workers_check() -> bool:
    """The watchdog's check: alert (once per ALERT_REPEAT_MINUTES) when the workers are stalled."""
    health = workers_health()
    if health.ok:
        return False
    lines = [health.reason, "", "Clusters:"]
    for w in health.workers:
        seen = w.last_progress_at
        lines.append(
            f"  {w.name} (pid {w.pid}): started {w.started_at:%Y-%m-%d %H:%M:%S}, last progress "
            f"{f'{seen:%Y-%m-%d %H:%M:%S}' if seen else 'never'}, {w.restarts} restart(s)"
        )
    queue = broker_queue()
    lines.append(f"Tasks waiting: {queue.depth} ({queue.claimed} claimed by a cluster).")
    return alert_raise(
        key=STALLED_ALERT_KEY, subject="Workers stalled: no task finished", body="\n".join(lines), severity="error"
    )


def alert_webhooks_send_due() -> int:
    """Send due alert webhooks from this process: the worker normally sends them, but not when it is stalled."""
    from config.common.outbound import outbound_claim, outbound_send

    due = OutboundRequest.objects.filter(operation=WEBHOOK).filter(
        Q(status=OutboundRequest.Status.PENDING, next_attempt_at__lte=timezone.now())
        | Q(status=OutboundRequest.Status.IN_FLIGHT, locked_until__lt=timezone.now())
    )
    sent = 0
    for pk in due.values_list("pk", flat=True)[:20]:
        request = outbound_claim(pk=pk)
        if request is not None:
            outbound_send(request=request)
            sent += 1
    return sent


def watchdog_check() -> dict[str, int]:
    """One round of the watchdog: stalled workers, queues backing up, then deliver the alerts' webhooks."""
    from config.common.alerts import alerts_check_queues

    stalled = int(workers_check())
    queues = alerts_check_queues()
    return {"stalled": stalled, "queues": queues, "webhooks": alert_webhooks_send_due()}
