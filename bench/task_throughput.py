"""django-q2 throughput: tasks/s with one and with two clusters, on the ORM broker (PostgreSQL) and on Redis.

Each run: a backlog of N no-op tasks is enqueued with the clusters stopped, then the clusters start (each with
Q_WORKERS workers, results saved as in production) and work it off; the rate is measured between the first and
the last task's run (each task stamps a Redis counter), so start-up is not counted. A no-op task measures what the
queue itself costs per task (dequeue, acknowledge, result row); real tasks add their own work on top. Other load
on the machine moves these figures a lot (a shared CI or developer box): each configuration runs --repeat times,
and the best run is the least disturbed.

    .venv/bin/python bench/task_throughput.py [--tasks 1500] [--workers 2] [--repeat 3] [--brokers orm,redis]

Needs PostgreSQL (BENCH_PG, default the machine's on 127.0.0.1:5432; a throwaway database `ledgerline_bench_q`)
and Redis (BENCH_REDIS, default redis://127.0.0.1:6379/14; a cluster name of its own, its keys deleted after).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/14")
DB = "ledgerline_bench_q"
MANAGE = str(ROOT / "manage.py")


def tick(url: str, key: str) -> None:
    """The task: count this run and stamp the first and the last run's time."""
    client = redis.Redis.from_url(url)
    now = time.time()
    client.setnx(f"{key}:first", now)
    client.set(f"{key}:last", now)
    client.incr(key)


def _env(broker: str, name: str, workers: int) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DATABASE_URL": f"{PG}/{DB}",
        "Q_BROKER": broker,
        "Q_REDIS_URL": REDIS,
        "Q_CLUSTER_NAME": name,
        "Q_WORKERS": str(workers),
        "Q_QUEUE_LIMIT": str(workers * 4),
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }


def run(broker: str, clusters: int, tasks: int, workers: int) -> float:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    key = f"{name}:ticks"
    env = _env(broker, name, workers)
    client = redis.Redis.from_url(REDIS)
    enqueue = (
        "from django_q.tasks import async_task\n"
        f"for _ in range({tasks}):\n"
        f"    async_task('bench.task_throughput.tick', {REDIS!r}, {key!r})\n"
    )
    subprocess.run([sys.executable, MANAGE, "shell", "-v0", "-c", enqueue], env=env, check=True, cwd=ROOT)
    procs = [
        subprocess.Popen(
            [sys.executable, MANAGE, "qcluster"],
            env=env,
            cwd=ROOT,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(clusters)
    ]
    try:
        deadline = time.monotonic() + 600
        while int(client.get(key) or 0) < tasks:
            if time.monotonic() > deadline:
                raise SystemExit(f"{broker} × {clusters}: only {int(client.get(key) or 0)} of {tasks} in 600 s")
            time.sleep(0.2)
        first, last = float(client.get(f"{key}:first") or 0), float(client.get(f"{key}:last") or 0)
        return (tasks - 1) / (last - first)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)
        for stale in [key, f"{key}:first", f"{key}:last", *client.keys(f"django_q:{name}:*")]:
            client.delete(stale)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2, help="Q_WORKERS per cluster")
    parser.add_argument("--brokers", default="orm,redis")
    parser.add_argument("--repeat", type=int, default=3, help="runs per configuration: best and median printed")
    args = parser.parse_args()
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")
    subprocess.run([sys.executable, MANAGE, "migrate", "-v0"], env=_env("orm", "bench", 1), check=True, cwd=ROOT)
    print(f"{args.tasks} no-op tasks, {args.workers} workers per cluster, {os.cpu_count()} CPU cores")
    for broker in args.brokers.split(","):
        for clusters in (1, 2):
            rates = sorted(run(broker, clusters, args.tasks, args.workers) for _ in range(args.repeat))
            print(f"  {broker:5} broker, {clusters} cluster(s): best {rates[-1]:,.0f} tasks/s, median "
                  f"{rates[len(rates) // 2]:,.0f} ({', '.join(f'{r:.0f}' for r in rates)})", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
