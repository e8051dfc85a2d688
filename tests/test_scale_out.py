"""More than one worker host: two django-q2 clusters on one Redis queue (Q_BROKER=redis) and one PostgreSQL run
every task once and every due schedule once (django-q2 takes each due schedule under a row lock, FOR UPDATE, and
moves its next run in the same transaction: a second cluster waiting on the lock then no longer sees it due).

Uses the Redis on 127.0.0.1:6379 (database 13, a cluster name of its own, its keys deleted afterwards) or, when
nothing answers there, a private `redis-server` on a free port; skipped when neither exists."""

from __future__ import annotations

import ast
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.db import connection, connections
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import Schedule
from django_q.scheduler import scheduler

from config.localdb import url_from_settings

ROOT = Path(__file__).resolve().parent.parent
REDIS_DB = 13  # ours alone on the shared machine's Redis


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    if _answers(6379):
        yield f"redis://127.0.0.1:6379/{REDIS_DB}"
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no Redis on 127.0.0.1:6379 and no redis-server to start one")
    port = _free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not _answers(port):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/{REDIS_DB}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def _env(url: str, name: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",  # not the test settings: those run tasks inline
        "DATABASE_URL": url_from_settings(connection.settings_dict),
        "Q_BROKER": "redis",
        "Q_REDIS_URL": url,
        "Q_CLUSTER_NAME": name,
        "Q_WORKERS": "2",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_clusters_on_one_redis_queue_run_every_task_and_every_due_schedule_once(redis_url: str) -> None:
    name = f"ledgerline-test-{uuid.uuid4().hex[:8]}"
    key = f"{name}:runs"
    client = redis.Redis.from_url(redis_url)
    tasks, schedules = 300, 6
    Schedule.objects.all().delete()  # only ours are due (restored after the test)
    due = timezone.now() - timedelta(seconds=1)
    for i in range(schedules):
        Schedule.objects.create(
            name=f"probe-{i}", func="tests.q_probe.record", args=repr((redis_url, key, f"schedule-{i}")),
            schedule_type=Schedule.MINUTES, minutes=10, next_run=due, repeats=-1,
        )  # fmt: skip
    manage = str(ROOT / "manage.py")
    log = open(os.devnull, "w")  # noqa: SIM115 - closed after the processes
    clusters = [
        subprocess.Popen(
            [sys.executable, manage, "qcluster"],
            env=_env(redis_url, name, PROBE_CLUSTER=tag),
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        for tag in ("a", "b")
    ]
    try:
        enqueue = (
            "from django_q.tasks import async_task\n"
            f"for i in range({tasks}):\n"
            f"    async_task('tests.q_probe.record', {redis_url!r}, {key!r}, f'task-{{i}}', save=False)\n"
        )
        done = subprocess.run([sys.executable, manage, "shell", "-v0", "-c", enqueue], env=_env(redis_url, name),
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        # The clusters' schedulers run about 30 s after they start (django-q2's guard cycle), both at once.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and client.llen(key) < tasks + schedules:
            time.sleep(0.5)
        time.sleep(3)  # a double run would show up by now
        runs = [(e.decode() if isinstance(e, bytes) else str(e)).split("|") for e in client.lrange(key, 0, -1)]
        labels = Counter(label for label, _ in runs)
        by_cluster = Counter(tag for _, tag in runs)
        assert {f"task-{i}" for i in range(tasks)} | {f"schedule-{i}" for i in range(schedules)} == set(labels)
        assert [label for label, n in labels.items() if n > 1] == []  # nothing twice
        assert set(by_cluster) == {"a", "b"}, by_cluster  # both clusters took work from the one queue
        assert client.llen(f"django_q:{name}:q") == 0
        for schedule in Schedule.objects.all():
            assert schedule.next_run > timezone.now() + timedelta(minutes=8)  # moved on once, by one cluster
            assert ast.literal_eval(schedule.args)[2].startswith("schedule-")
        print(f"\ntwo clusters on one Redis queue: {tasks} tasks and {schedules} due schedules, each run once; "
              f"by cluster: {dict(by_cluster)}")  # fmt: skip
    finally:
        for proc in clusters:
            proc.terminate()
        for proc in clusters:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()
        log.close()
        for stale in [key, *client.keys(f"django_q:{name}:*")]:
            client.delete(stale)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_schedulers_at_the_same_moment_enqueue_each_due_schedule_once(redis_url: str) -> None:
    """Two clusters' schedulers started together (threads, each with its own connection): the first locks the due
    rows and holds them while its tasks run (inline here, 0.2 s each); the second waits on the locks and then finds
    nothing due. Without the lock each schedule would run twice."""
    key = f"ledgerline-test-{uuid.uuid4().hex[:8]}:runs"
    client = redis.Redis.from_url(redis_url)
    Schedule.objects.all().delete()
    due = timezone.now() - timedelta(seconds=1)
    for i in range(3):
        Schedule.objects.create(
            name=f"probe-{i}", func="tests.q_probe.record", args=repr((redis_url, key, f"schedule-{i}", 0.2)),
            schedule_type=Schedule.HOURLY, next_run=due, repeats=-1,
        )  # fmt: skip
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def one_scheduler() -> None:
        try:
            barrier.wait()
            scheduler(broker=get_broker())
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=one_scheduler) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        labels = Counter(e.decode().split("|")[0] if isinstance(e, bytes) else "" for e in client.lrange(key, 0, -1))
        assert labels == {"schedule-0": 1, "schedule-1": 1, "schedule-2": 1}
        assert all(s.next_run > timezone.now() + timedelta(minutes=50) for s in Schedule.objects.all())
    finally:
        client.delete(key)
