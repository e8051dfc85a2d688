"""A webhook receiver on 127.0.0.1 for the alert tests (the `hook_url` fixture in tests/conftest.py serves it):
every alert POSTed to it is appended to HOOKS."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from simulators.common import running_server

HOOKS: list[dict[str, Any]] = []


async def _hook(request: Request) -> JSONResponse:
    HOOKS.append(await request.json())
    return JSONResponse({"ok": True})


@contextmanager
def alert_hook_server() -> Iterator[str]:
    with running_server(Starlette(routes=[Route("/hook", _hook, methods=["POST"])])) as url:
        yield f"{url}/hook"
