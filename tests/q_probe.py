"""A task for the scale-out tests and bench: records each run in Redis (label and which cluster ran it), so a run
twice or never shows there, whichever broker carried the task."""

from __future__ import annotations

import os
import time

import redis


def record(url: str, key: str, label: str, delay: float = 0.0) -> None:
    time.sleep(delay)  # a slow task, run inline by a scheduler, keeps its schedule's row lock that long
    redis.Redis.from_url(url).rpush(key, f"{label}|{os.environ.get('PROBE_CLUSTER', '?')}")
