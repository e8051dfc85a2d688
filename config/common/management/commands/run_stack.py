"""`make run`: migrate, start the simulators, load the demo, then run web + django-q2 worker + watchdog until Ctrl-C.

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
from typing import Any

import httpx
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.common.demo.data import OPAYO_DEMO_VENDOR, simulator_urls
from config.common.processes import Child, Launcher


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
        parser.add_argument("--no-demo", action="store_true", help="Skip loading demo data.")

    def handle(self, *args: Any, **options: Any) -> None:
        host, port, sim_port, opayo_port = (
            options["host"],
            options["port"],
            options["sp_api_port"],
            options["opayo_port"],
        )
        for p in (port, sim_port, opayo_port):
            if not _port_free(host, p):
                raise CommandError(f"Port {p} on {host} is taken. Stop what uses it or set WEB_PORT / SP_API_SIM_PORT.")
        sim_url = f"http://{host}:{sim_port}"
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
            "PYTHONUNBUFFERED": "1",
        }
        (settings.BASE_DIR / "var").mkdir(exist_ok=True)
        self.stdout.write("Applying migrations ...")
        call_command("migrate", interactive=False, verbosity=0)

        python, manage = sys.executable, str(settings.BASE_DIR / "manage.py")
        grace = settings.PROCESS_STOP_GRACE_SECONDS
        launcher = Launcher(grace=grace)
        children = launcher.children

        def start(name: str, argv: list[str]) -> None:
            launcher.start(name, argv, env=env, cwd=settings.BASE_DIR)

        def on_term(*_: Any) -> None:
            raise KeyboardInterrupt  # the same orderly stop as Ctrl-C

        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGHUP, on_term)
        try:
            start("SP-API simulator", [python, "-m", "simulators.spapi", "--host", host, "--port", str(sim_port)])
            start("Opayo simulator", [python, "-m", "simulators.opayo", "--host", host, "--port", str(opayo_port)])
            self._wait_for(f"{sim_url}/_sim/health", "SP-API simulator", children)
            self._wait_for(f"{opayo_url}/_sim/health", "Opayo simulator", children)
            if not options["no_demo"]:
                subprocess.run([python, manage, "load_demo"], env=env, cwd=settings.BASE_DIR, check=True)
                subprocess.run([python, manage, "setup_schedules"], env=env, cwd=settings.BASE_DIR, check=True)
            # The cluster stops within run_worker's grace, inside ours (after ours its session is killed anyway).
            start("worker", [python, manage, "run_worker", "--stop-grace", str(max(grace - 2, 1))])
            start("watchdog", [python, manage, "watchdog"])
            start("web", [python, manage, "runserver", f"{host}:{port}", "--noreload"])
            self._wait_for(f"http://{host}:{port}/admin/login/", "web server", children)
            if not options["no_demo"]:
                subprocess.run(
                    [python, manage, "demo_notify", f"http://{host}:{port}/webhooks/opayo/server/"],
                    env=env, cwd=settings.BASE_DIR, check=False,
                )  # fmt: skip
            self._banner(host, port, sim_url, opayo_url, demo=not options["no_demo"])
            while True:
                for child in launcher.exited():
                    raise CommandError(f"{child.name} exited with code {child.proc.returncode}; stopping everything.")
                time.sleep(1)
        except KeyboardInterrupt:
            self.stdout.write("\nStopping ...")
        except subprocess.CalledProcessError as exc:
            raise CommandError(f"Demo set-up failed ({exc}); see the output above.") from exc
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the stop short
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            launcher.stop_all()

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

    def _banner(self, host: str, port: int, sim_url: str, opayo_url: str, *, demo: bool) -> None:
        lines = [
            "",
            "Ledgerline is running.",
            f"  Admin (operator console): http://{host}:{port}/admin/   login: admin / admin",
            f"  API docs:                 http://{host}:{port}/api/docs/",
            f"  SP-API simulator:         {sim_url}  (control API under /_sim/)",
            f"  Opayo simulator:          {opayo_url}  (Pi /api/v1, Reporting /access/access.htm, /_sim/)",
            "  Worker: django-q2 cluster polling Amazon every minute (run_worker; watchdog alerts if it stalls).",
            "Press Ctrl-C to stop.",
        ]
        if not demo:
            lines[2] = f"  Admin: http://{host}:{port}/admin/ (create a user with `manage.py createsuperuser`)"
        self.stdout.write(self.style.SUCCESS("\n".join(lines)))
