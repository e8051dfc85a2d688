"""A fresh process starts: `manage.py check` (which every management command, `make run` included, runs first)
imports the settings' DRF classes in its own order, unlike the test process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from config.localdb import url_from_settings

ROOT = Path(__file__).resolve().parent.parent


def test_manage_py_check_passes_in_a_fresh_process() -> None:
    env = {**os.environ, "DATABASE_URL": url_from_settings(settings.DATABASES["default"])}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # manage.py's own default, as `make run` uses it
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "no issues" in done.stdout
