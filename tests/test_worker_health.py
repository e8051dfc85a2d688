"""Workers that cannot stall unnoticed: heartbeats, /readyz, /metrics, the watchdog, run_worker's restart after
its workers are SIGKILLed, and run_stack stopping every process it started. The process tests print their
figures (run with -s)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_q.models import OrmQ, Schedule, Task
from django_q.signing import SignedPackage
from django_q.tasks import async_task

from config.common import workers
from config.common.models import AlertSent, WorkerHeartbeat
from config.common.processes import processes_in
from config.common.schedules import static_schedules_sync
from config.localdb import url_from_settings
from tests.alert_hooks import HOOKS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def no_startup_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process started long ago as far as the readiness grace is concerned."""
    monkeypatch.setattr(workers, "_PROCESS_STARTED", time.monotonic() - 10_000)


def _beat(name: str = "vm:1", *, ago: float = 0.0, started_ago: float = 3600.0) -> WorkerHeartbeat:
    now = timezone.now()
    return WorkerHeartbeat.objects.create(
        name=name, host="vm", pid=1, started_at=now - timedelta(seconds=started_ago),
        last_beat_at=now - timedelta(seconds=ago), last_beat_latency=0.2, beats=3,
    )  # fmt: skip


# --- Heartbeats, readiness, metrics, dashboard, watchdog (in process) ------------------------------------------


@pytest.mark.django_db
def test_an_acknowledged_heartbeat_task_is_recorded_for_its_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(workers.NAME_ENV, "host-a:42")
    _beat("old-host:1", ago=2 * 86400, started_ago=3 * 86400)  # a supervisor stopped days ago: dropped
    _beat("busy-host:2", ago=60, started_ago=3 * 86400)
    workers.heartbeat_register(name="host-a:42", pid=4242)
    workers.heartbeat_enqueue()  # tests run tasks inline: pusher, worker and monitor in one go
    assert set(WorkerHeartbeat.objects.values_list("name", flat=True)) == {"host-a:42", "busy-host:2"}
    row = WorkerHeartbeat.objects.get(name="host-a:42")
    assert row.beats == 1 and row.pid == 4242 and row.last_beat_at is not None
    assert row.last_beat_latency is not None and 0 <= row.last_beat_latency < 5
    assert not Task.objects.filter(func=workers.HEARTBEAT_TASK).exists()  # not kept among the task results
    workers.heartbeat_register(name="host-a:42", pid=4343, restart_reason="no task finished for 400 s")
    row.refresh_from_db()
    assert (row.pid, row.restarts, row.last_restart_reason) == (4343, 1, "no task finished for 400 s")


@pytest.mark.django_db
def test_readyz_drops_when_no_cluster_finishes_tasks(settings: Any, no_startup_grace: None) -> None:
    settings.WORKER_STALL_SECONDS = 120
    ready = Client().get("/readyz")
    assert ready.status_code == 503
    assert ready.content == b"workers stalled: no worker cluster has ever finished a task"
    row = _beat(ago=600, started_ago=3600)
    ready = Client().get("/readyz")
    assert ready.status_code == 503 and b"no worker cluster has finished a task for 600 s" in ready.content
    assert b"limit 120 s; last: vm:1" in ready.content
    WorkerHeartbeat.objects.filter(pk=row.pk).update(started_at=timezone.now())  # just (re)started: grace
    assert Client().get("/readyz").status_code == 200
    WorkerHeartbeat.objects.filter(pk=row.pk).update(
        started_at=timezone.now() - timedelta(hours=1), last_task_at=timezone.now()
    )  # any finished task is progress, not only heartbeats
    assert Client().get("/readyz").content == b"ready"
    settings.READYZ_REQUIRES_WORKER = False
    WorkerHeartbeat.objects.all().delete()
    assert Client().get("/readyz").status_code == 200


@pytest.mark.django_db
def test_metrics_give_the_oldest_tasks_enqueue_time_and_heartbeat_age(settings: Any) -> None:
    _beat(ago=30)
    enqueued = timezone.now() - timedelta(minutes=7)
    # Claimed by a cluster (lock in the future, as after a pusher took it): the enqueue time is in the payload.
    payload = SignedPackage.dumps({"id": "x", "name": "x", "func": "time.sleep", "args": (0,), "started": enqueued})
    OrmQ.objects.create(key="ledgerline", payload=payload, lock=timezone.now() + timedelta(minutes=6))
    OrmQ.objects.create(key="ledgerline", payload=SignedPackage.dumps({"started": timezone.now()}), lock=timezone.now())
    body = Client(REMOTE_ADDR="127.0.0.1").get("/metrics").content.decode()
    line = next(x for x in body.splitlines() if x.startswith('ledgerline_queue_oldest_seconds{queue="worker tasks"}'))
    assert 419 < float(line.split()[-1]) < 430
    assert 'ledgerline_queue_depth{queue="worker tasks"} 2.0' in body
    assert "ledgerline_worker_tasks_claimed 1.0" in body
    age = next(x for x in body.splitlines() if x.startswith("ledgerline_worker_heartbeat_age_seconds"))
    assert 29 < float(age.split()[-1]) < 40
    assert "ledgerline_workers_stalled 0.0" in body
    assert 'ledgerline_worker_last_progress_timestamp_seconds{worker="vm:1"}' in body


@pytest.mark.django_db
def test_dashboard_lists_clusters_and_their_last_beat(admin_client: Any) -> None:
    _beat("worker-host:77", ago=5)
    page = admin_client.get("/admin/dashboard/").content.decode()
    for text in ("<h2>Workers</h2>", "running", "worker-host:77", "Last heartbeat", "0.2 s"):
        assert text in page


@pytest.mark.django_db
def test_watchdog_alerts_once_and_sends_the_webhook_itself(
    settings: Any, hook_url: str, mailoutbox: list[Any], no_startup_grace: None
) -> None:
    settings.WORKER_STALL_SECONDS = 60
    settings.ALERT_EMAILS = ["ops@example.com"]
    settings.ALERT_WEBHOOK_URL = hook_url
    HOOKS.clear()
    _beat(ago=300)
    call_command("watchdog", "--once")
    call_command("watchdog", "--once")  # the same alert is not repeated within ALERT_REPEAT_MINUTES
    assert [m.subject for m in mailoutbox] == ["[Ledgerline] Workers stalled: no task finished"]
    assert "no worker cluster has finished a task for 300 s" in mailoutbox[0].body and "vm:1" in mailoutbox[0].body
    # Delivered by the watchdog's own process, not by a worker task (a stalled cluster would never send it).
    assert [h["key"] for h in HOOKS] == [workers.STALLED_ALERT_KEY]
    assert AlertSent.objects.get(key=workers.STALLED_ALERT_KEY).suppressed == 1


@pytest.mark.django_db
def test_schedules_beat_in_the_cluster_and_leave_the_alert_check_to_the_watchdog() -> None:
    Schedule.objects.create(name="common.alerts_check", func="config.common.tasks.alerts_check_task")
    static_schedules_sync()
    assert Schedule.objects.filter(name="common.worker_heartbeat", func=workers.HEARTBEAT_TASK).exists()
    assert not Schedule.objects.filter(name="common.alerts_check").exists()


# --- Real processes ---------------------------------------------------------------------------------------------


def _env(**extra: str) -> dict[str, str]:
    database = connection.settings_dict
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",  # not the test settings: those run tasks inline
        "DATABASE_URL": url_from_settings(database),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields and fields[0] != "Z" and int(fields[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def _descendants(pid: int) -> list[int]:
    found, frontier = [], [pid]
    while frontier:
        kids = _children(frontier.pop())
        found += kids
        frontier += kids
    return found


def _alive(pids: list[int]) -> list[int]:
    return [p for p in pids if (fields := _stat(p)) is not None and fields[0] != "Z"]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _cluster_children(root: int) -> list[int]:
    """The workers, pusher and monitor of the qcluster under `root`: children of its sentinel ([] while starting)."""
    mains = [p for p in _descendants(root) if "qcluster" in _cmdline(p) and "qcluster" not in _cmdline(_ppid(p))]
    sentinels = [s for main in mains for s in _children(main)]
    return _children(sentinels[0]) if len(sentinels) == 1 else []


def _ppid(pid: int) -> int:
    fields = _stat(pid)
    return int(fields[1]) if fields else 0


def _wait(what: str, check: Callable[[], Any], timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout} s")


def _done(task_id: str) -> bool:
    return Task.objects.filter(id=task_id).exists()


def _enqueue() -> str:
    return str(async_task("time.sleep", 0.05, sync=False))  # into the ORM broker, for the real cluster


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_killed_workers_are_noticed_from_outside_and_the_cluster_is_replaced(
    settings: Any, hook_url: str, no_startup_grace: None
) -> None:
    """kill -9 of every process under a running cluster's sentinel (as the OOM killer would, harder): its
    respawned workers would wait forever on the task-queue lock the dead ones held. The watchdog (its own
    process) alerts, /readyz says 503, run_worker restarts the cluster and new work runs."""
    stall, restart, retry = 3.0, 6.0, 5
    settings.WORKER_STALL_SECONDS = stall
    settings.WORKER_START_GRACE_SECONDS = 20
    figures = {
        "Q_TIMEOUT": "3", "Q_RETRY": str(retry), "WORKER_HEARTBEAT_SECONDS": "0.5",
        "WORKER_STALL_SECONDS": str(stall), "WORKER_RESTART_SECONDS": str(restart), "WORKER_START_GRACE_SECONDS": "20",
        "WATCHDOG_INTERVAL_SECONDS": "0.5", "ALERT_WEBHOOK_URL": hook_url, "PROCESS_STOP_GRACE_SECONDS": "3",
    }  # fmt: skip
    env = _env(**figures)
    HOOKS.clear()
    log = open(os.devnull, "w")  # noqa: SIM115 - closed after the processes
    manage = str(ROOT / "manage.py")
    worker = subprocess.Popen([sys.executable, manage, "run_worker"], env=env, stdout=log, stderr=log,
                              start_new_session=True)  # fmt: skip
    watchdog = subprocess.Popen([sys.executable, manage, "watchdog"], env=env, stdout=log, stderr=log,
                                start_new_session=True)  # fmt: skip
    try:
        first = _enqueue()
        up = _wait("first task", lambda: _done(first), 30)
        _wait("a heartbeat", lambda: Client().get("/readyz").content == b"ready", 10)
        assert HOOKS == []

        victims = _cluster_children(worker.pid)
        assert len(victims) == 4  # 2 workers, the monitor, the pusher
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        after_kill = _enqueue()

        # The sentinel respawns all four at once, and they look alive: only the missing progress tells.
        _wait("respawned", lambda: len(_cluster_children(worker.pid)) == 4 and not _done(after_kill), 5)
        _wait("readyz 503", lambda: Client().get("/readyz").status_code == 503, 20)
        not_ready = time.monotonic() - killed
        body = Client().get("/readyz").content.decode()
        assert body.startswith("workers stalled: no worker cluster has finished a task for"), body
        _wait("the watchdog's alert", lambda: any(h["key"] == workers.STALLED_ALERT_KEY for h in HOOKS), 15)
        alerted = time.monotonic() - killed
        assert not _done(after_kill)  # nothing ran meanwhile: the stall is real

        _wait("the restart", lambda: WorkerHeartbeat.objects.filter(restarts=1).exists(), restart + 10)
        restarted = time.monotonic() - killed
        _wait("work after the restart", lambda: Client().get("/readyz").content == b"ready", 15)
        fresh = _enqueue()
        enqueued = time.monotonic()
        _wait("a task enqueued after the restart", lambda: _done(fresh), 10)
        fresh_latency = time.monotonic() - enqueued
        # The task enqueued just after the kill may have been claimed by the stuck cluster: it runs when that
        # claim expires (Q_RETRY after it was taken), at the latest.
        _wait("the task enqueued at the kill", lambda: _done(after_kill), restart + retry + 15)
        resumed = time.monotonic() - killed
        row = WorkerHeartbeat.objects.get()
        assert row.restarts == 1 and row.last_restart_reason.startswith("no task finished for")
        print(
            f"\nkill -9 of a cluster's 4 children (stall {stall:.0f} s, restart {restart:.0f} s, Q_RETRY {retry} s; "
            f"first task {up:.1f} s after start): /readyz 503 after {not_ready:.1f} s, watchdog alert after "
            f"{alerted:.1f} s, cluster restarted after {restarted:.1f} s, a new task then ran in "
            f"{fresh_latency:.1f} s, the task enqueued at the kill ran after {resumed:.1f} s"
        )
    finally:
        for proc in (worker, watchdog):
            proc.terminate()
        for proc in (worker, watchdog):
            proc.wait(timeout=30)
        log.close()
    assert processes_in(session=worker.pid) == [] and processes_in(session=watchdog.pid) == []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=["TERM", "INT", "KILL"])
def test_run_stack_stops_every_process_it_started(how: signal.Signals) -> None:
    """Even a stalled cluster (its workers killed, so it cannot stop by itself) and even if run_stack is killed."""
    ports = {"WEB_PORT": _free_port(), "SP_API_SIM_PORT": _free_port(), "OPAYO_SIM_PORT": _free_port(),
             "SQS_SIM_PORT": _free_port()}  # fmt: skip
    env = _env(PROCESS_STOP_GRACE_SECONDS="3", **{k: str(v) for k, v in ports.items()})
    stack = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "run_stack", "--no-demo"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert stack.stdout is not None
        for line in stack.stdout:
            if "Press Ctrl-C" in line:
                break
        _wait("the cluster", lambda: len(_cluster_children(stack.pid)) == 4, 20)
        for pid in _cluster_children(stack.pid):
            os.kill(pid, signal.SIGKILL)
        time.sleep(1)  # respawned by the sentinel, stuck
        started = _descendants(stack.pid)
        names = " | ".join(_cmdline(p) for p in started)
        for part in ("simulators.sqs", "simulators.spapi", "simulators.opayo", "run_worker", "qcluster", "gunicorn",
                     "watchdog", "consume_notifications"):  # fmt: skip
            assert part in names
        stopping = time.monotonic()
        os.kill(stack.pid, how)
        if how != signal.SIGKILL:
            assert stack.wait(timeout=30) == 0
        _wait("every child gone", lambda: not _alive(started), 30)
        print(f"\nrun_stack {how.name}: {len(started)} processes (a stalled cluster among them), all gone "
              f"{time.monotonic() - stopping:.1f} s after the signal")  # fmt: skip
    finally:
        if stack.poll() is None:
            stack.kill()
            stack.wait()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_run_worker_runs_the_notification_consumer_and_starts_it_again(sqs_url: str) -> None:
    """With a queue URL, run_worker's second child consumes SP-API notifications; killed, it is started again, and
    what arrives meanwhile is stored by the new one."""
    from orders.models import NotificationConsumer, SpApiNotification
    from simulators.sqs import queue_ensure, sqs_client

    # A long poll the killed consumer had open may still take the next message (SQS hands it to the dead
    # connection): it comes back after the visibility timeout, 2 s here.
    queue_url, _ = queue_ensure(sqs_url, f"worker-{os.getpid()}-{time.monotonic_ns()}", visibility_timeout=2)
    env = _env(SQS_ENDPOINT_URL=sqs_url, SP_API_NOTIFICATIONS_QUEUE_URL=queue_url, AWS_ACCESS_KEY_ID="local",
               AWS_SECRET_ACCESS_KEY="local", SP_API_NOTIFICATIONS_WAIT_SECONDS="1",
               PROCESS_STOP_GRACE_SECONDS="3")  # fmt: skip
    worker = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "run_worker"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    sqs = sqs_client(sqs_url)

    def consumers() -> list[int]:
        return [p for p in _descendants(worker.pid) if "consume_notifications" in _cmdline(p)]

    try:
        _wait("the consumer", lambda: len(consumers()) == 1, 30)
        sqs.send_message(QueueUrl=queue_url, MessageBody="first: not JSON")
        _wait("stored", lambda: SpApiNotification.objects.count() == 1, 20)
        [first] = consumers()
        os.kill(first, signal.SIGKILL)
        sqs.send_message(QueueUrl=queue_url, MessageBody="second: not JSON")
        _wait("started again", lambda: consumers() not in ([], [first]), 20)
        _wait("stored by the new one", lambda: SpApiNotification.objects.count() == 2, 30)
        assert NotificationConsumer.objects.count() == 2  # one row per consumer process (host:pid)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert processes_in(session=worker.pid) == []
