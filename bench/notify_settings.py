"""The production-like base settings with the notification bench's URLs (bench/notify_baseline.py)."""

from config.settings.base import *  # noqa: F403

ROOT_URLCONF = "bench.notify_baseline"
