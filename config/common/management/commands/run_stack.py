"""`make run`: migrate, start the simulators, load the demo, then run web (gunicorn, as production) + django-q2
worker + watchdog until Ctrl-C, with a live summary on the console; each process logs to var/log/<name>.log.

Each child runs in its own session (config.common.processes): Ctrl-C or SIGTERM stops them with SIGTERM, and
whatever is left of a child's session after PROCESS_STOP_GRACE_SECONDS (a cluster's workers, say) gets SIGKILL.
If run_stack itself is killed, the children get SIGTERM from the kernel (PR_SET_PDEATHSIG) and stop theirs.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import httpx
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, close_old_connections, connection

from config.common.demo.data import OPAYO_DEMO_VENDOR, simulator_urls
from config.common.models import ExceptionItem
from config.common.processes import Child, Launcher
from config.common.workers import broker_queue, workers_health

NOTIFICATIONS_QUEUE = "ledgerline-spapi-notifications"  # the local SQS queue SP-API notifications go to
SUMMARY_EVERY = 5.0  # seconds between refreshes of the live summary (a terminal); 60 when the output is a file


def web_server_argv(*, host: str, port: int) -> list[str]:
    """The web server as production runs it: gunicorn with config/gunicorn.py (threads, backlog, timeouts)."""
    return [sys.executable, "-m", "gunicorn", "-c", str(settings.BASE_DIR / "config" / "gunicorn.py"),
            "--bind", f"{host}:{port}", "config.wsgi"]  # fmt: skip


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


class Command(BaseCommand):
    help = "Run the whole back office locally: SP-API simulator, web server and worker, with demo data."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("WEB_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("WEB_PORT", "8000")))
        parser.add_argument("--sp-api-port", type=int, default=int(os.environ.get("SP_API_SIM_PORT", "8101")))
        parser.add_argument("--opayo-port", type=int, default=int(os.environ.get("OPAYO_SIM_PORT", "8102")))
        parser.add_argument("--sqs-port", type=int, default=int(os.environ.get("SQS_SIM_PORT", "8103")))
        parser.add_argument("--no-demo", action="store_true", help="Skip loading demo data.")

    def handle(self, *args: Any, **options: Any) -> None:
        host, port, sim_port, opayo_port, sqs_port = (
            options["host"],
            options["port"],
            options["sp_api_port"],
            options["opayo_port"],
            options["sqs_port"],
        )
        for p in (port, sim_port, opayo_port, sqs_port):
            if not _port_free(host, p):
                raise CommandError(
                    f"Port {p} on {host} is taken. Stop what uses it or set WEB_PORT / SP_API_SIM_PORT / "
                    "OPAYO_SIM_PORT / SQS_SIM_PORT."
                )
        sim_url = f"http://{host}:{sim_port}"
        sqs_url = f"http://{host}:{sqs_port}"
        opayo_url = f"http://{host}:{opayo_port}"
        # The same simulator URLs and demo vendor as the local settings' defaults (config/common/demo/data.py).
        simulators = simulator_urls(host=host, sp_api_port=sim_port, opayo_port=opayo_port)
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.local"),
            **{name: os.environ.get(name, url) for name, url in simulators.items()},
            "SP_API_ORDERS_POLL_MINUTES": os.environ.get("SP_API_ORDERS_POLL_MINUTES", "1"),
            # Opayo simulator with demo credentials (real deployments set these to Elavon's hosts and secrets).
            **{
                f"OPAYO_{key.upper()}": os.environ.get(f"OPAYO_{key.upper()}", value)
                for key, value in OPAYO_DEMO_VENDOR.items()
            },
            # The local SQS (moto) the SP-API simulator delivers notifications to; moto takes any credentials, boto3
            # wants some. A deployment's own AWS settings win.
            "SQS_ENDPOINT_URL": os.environ.get("SQS_ENDPOINT_URL", sqs_url),
            "AWS_REGION": os.environ.get("AWS_REGION", settings.AWS_REGION),
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "local"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "local"),
            "SPAPI_SIM_SQS_ENDPOINT_URL": sqs_url,
            "PYTHONUNBUFFERED": "1",
        }
        logs = settings.BASE_DIR / "var" / "log"
        logs.mkdir(parents=True, exist_ok=True)
        db = connection.settings_dict
        self.stdout.write(f"Database: {self._database_label(db)}. Applying migrations ...")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)  # WhiteNoise serves var/static, as in production

        python, manage = sys.executable, str(settings.BASE_DIR / "manage.py")
        grace = settings.PROCESS_STOP_GRACE_SECONDS
        launcher = Launcher(grace=grace)
        children = launcher.children

        log_files: list[IO[bytes]] = []

        def start(name: str, argv: list[str], log: str) -> None:
            out = (logs / f"{log}.log").open("ab")
            out.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} {name} starting: {' '.join(argv)}\n".encode())
            out.flush()
            log_files.append(out)
            launcher.start(name, argv, env=env, cwd=settings.BASE_DIR, stdout=out, stderr=out)

        def on_term(*_: Any) -> None:
            raise KeyboardInterrupt  # the same orderly stop as Ctrl-C

        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGHUP, on_term)
        try:
            # The local SQS first: the SP-API simulator checks queues when destinations are made and sends to them.
            start("SQS (local)", [python, "-m", "simulators.sqs", "--host", host, "--port", str(sqs_port)],
                  "sqs-simulator")  # fmt: skip
            self._wait_for(f"{sqs_url}/moto-api/", "local SQS", children)
            from simulators.sqs import queue_ensure

            queue_url, queue_arn = queue_ensure(sqs_url, NOTIFICATIONS_QUEUE)
            if not os.environ.get("SP_API_NOTIFICATIONS_QUEUE_URL"):
                env["SP_API_NOTIFICATIONS_QUEUE_URL"] = queue_url
            start("SP-API simulator", [python, "-m", "simulators.spapi", "--host", host, "--port", str(sim_port)],
                  "spapi-simulator")  # fmt: skip
            start("Opayo simulator", [python, "-m", "simulators.opayo", "--host", host, "--port", str(opayo_port)],
                  "opayo-simulator")  # fmt: skip
            self._wait_for(f"{sim_url}/_sim/health", "SP-API simulator", children)
            self._wait_for(f"{opayo_url}/_sim/health", "Opayo simulator", children)
            if not options["no_demo"]:
                # What load_demo prints (tokens, counts) stays on the console; log lines go to var/log/demo.log.
                with (logs / "demo.log").open("ab") as demo_log:
                    subprocess.run([python, manage, "load_demo"], env=env, cwd=settings.BASE_DIR, check=True,
                                   stderr=demo_log)  # fmt: skip
                    subprocess.run([python, manage, "setup_schedules"], env=env, cwd=settings.BASE_DIR, check=True,
                                   stdout=demo_log, stderr=demo_log)  # fmt: skip
            # The cluster stops within run_worker's grace, inside ours (after ours its session is killed anyway).
            start("worker", [python, manage, "run_worker", "--stop-grace", str(max(grace - 2, 1))], "worker")
            start("watchdog", [python, manage, "watchdog"], "watchdog")
            start("web", web_server_argv(host=host, port=port), "web")
            self._wait_for(f"http://{host}:{port}/admin/login/", "web server", children)
            if not options["no_demo"]:
                subprocess.run(
                    [python, manage, "demo_notify", f"http://{host}:{port}/webhooks/opayo/server/"],
                    env=env, cwd=settings.BASE_DIR, check=False,
                )  # fmt: skip
            self._banner(host, port, sim_url, opayo_url, demo=not options["no_demo"], logs=logs,
                         sqs=f"{sqs_url}  queue {NOTIFICATIONS_QUEUE} ({queue_arn})")  # fmt: skip
            self._live_summary(launcher, logs)
        except KeyboardInterrupt:
            self.stdout.write("\nStopping ...")
        except subprocess.CalledProcessError as exc:
            raise CommandError(f"Demo set-up failed ({exc}); see the output above and var/log/demo.log.") from exc
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the stop short
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            launcher.stop_all()
            for out in log_files:
                out.close()

    def _wait_for(self, url: str, what: str, children: list[Child]) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for child in children:
                if child.proc.poll() is not None:
                    raise CommandError(f"{child.name} exited with code {child.proc.returncode} during start-up.")
            try:
                if httpx.get(url, timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise CommandError(f"The {what} did not come up at {url} within 60 s.")

    @staticmethod
    def _database_label(db: dict[str, Any]) -> str:
        host = db.get("HOST") or (db.get("OPTIONS") or {}).get("host") or "the local socket"
        where = "the private PostgreSQL in var/postgres" if str(host).endswith("var/postgres") else f"{host}"
        if db.get("PORT"):
            where += f":{db['PORT']}"
        return f"PostgreSQL {db['NAME']} on {where}"

    def _live_summary(self, launcher: Launcher, logs: Path) -> None:
        """One status line, refreshed in place on a terminal (every minute as a new line otherwise), until a
        child exits (then everything stops) or Ctrl-C."""
        tty = self.stdout.isatty()
        every = SUMMARY_EVERY if tty else 60.0
        order_model = apps.get_model("orders", "Order")  # by name: the kernel imports no app
        orders_at_start: int | None = None
        next_summary = 0.0
        while True:
            for child in launcher.exited():
                if tty:
                    self.stdout.write("")
                raise CommandError(
                    f"{child.name} exited with code {child.proc.returncode}; stopping everything "
                    f"(its log: {logs.relative_to(settings.BASE_DIR)}/)."
                )
            if time.monotonic() >= next_summary:
                next_summary = time.monotonic() + every
                try:
                    close_old_connections()
                    orders = order_model.objects.count()
                    orders_at_start = orders if orders_at_start is None else orders_at_start
                    open_exceptions = ExceptionItem.objects.filter(status=ExceptionItem.Status.OPEN).count()
                    health = workers_health()
                    queue = broker_queue()
                    age = health.progress_age_seconds
                    worker = {"ok": "ok", "starting": "starting"}.get(health.state, "STALLED")
                    if age is not None and health.state == "ok":
                        worker += f", last task {age:.0f} s ago"
                    line = (
                        f"{time.strftime('%H:%M:%S')} up: web, simulators + local SQS, watchdog, worker ({worker}) | "
                        f"orders {orders} (+{orders - orders_at_start}) | exceptions open {open_exceptions} | "
                        f"tasks waiting {queue.depth}"
                    )
                except DatabaseError as exc:
                    line = f"{time.strftime('%H:%M:%S')} database unavailable: {exc.__class__.__name__}"
                if tty:
                    self.stdout.write(f"\r\033[K{line}", ending="")
                    self.stdout.flush()
                else:
                    self.stdout.write(line)
            time.sleep(1)

    def _banner(
        self, host: str, port: int, sim_url: str, opayo_url: str, *, demo: bool, logs: Path, sqs: str = ""
    ) -> None:
        lines = [
            "",
            "Ledgerline is running.",
            f"  Admin (operator console): http://{host}:{port}/admin/   login: admin / admin",
            f"  API docs:                 http://{host}:{port}/api/docs/",
            f"  SP-API simulator:         {sim_url}  (control API under /_sim/)",
            f"  Opayo simulator:          {opayo_url}  (Pi /api/v1, Reporting /access/access.htm, /_sim/)",
            f"  Local SQS (moto):         {sqs}  (SP-API notifications)",
            "  Worker: django-q2 cluster polling Amazon every minute (run_worker; watchdog alerts if it stalls).",
            f"  Web: gunicorn (config/gunicorn.py). Database: {self._database_label(connection.settings_dict)}.",
            f"  Logs: {logs.relative_to(settings.BASE_DIR)}/ (web, worker, watchdog, simulators)",
            "Press Ctrl-C to stop.",
        ]
        if not demo:
            lines[2] = f"  Admin: http://{host}:{port}/admin/ (create a user with `manage.py createsuperuser`)"
        self.stdout.write(self.style.SUCCESS("\n".join(lines)))
