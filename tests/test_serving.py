"""The web server `make run` and production use (gunicorn with config/gunicorn.py, run_stack's argv): 50
simultaneous API requests, each on its own connection, are all answered; none is reset (Django's runserver reset
9-11 of 50). Static files come from the app (WhiteNoise)."""

from __future__ import annotations

import os
import socket
import subprocess
import time

import httpx
import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from rest_framework.authtoken.models import Token

from bench.concurrent_requests import fire
from config.common.management.commands.run_stack import web_server_argv
from config.localdb import url_from_settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_fifty_simultaneous_api_requests_are_all_answered() -> None:
    user = User.objects.create_user("erp-probe", password="x")
    user.groups.add(Group.objects.get(name="Auditor"))  # read-only, as the demo's erp user
    token = Token.objects.create(user=user).key
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": url_from_settings(connection.settings_dict),
        "LOG_LEVEL": "WARNING",
        "WEB_ACCESS_LOG": "/dev/null",
    }
    server = subprocess.Popen(web_server_argv(host="127.0.0.1", port=port), env=env, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "gunicorn did not come up"
                time.sleep(0.2)
        outcomes = fire(f"{base}/api/v1/orders/", 50, {"Authorization": f"Token {token}"})
        assert outcomes == {"200": 50}, outcomes
        static = httpx.get(f"{base}/static/admin/css/base.css", timeout=10)
        assert static.status_code == 200 and "text/css" in static.headers["content-type"]
    finally:
        server.terminate()
        server.wait(timeout=30)
