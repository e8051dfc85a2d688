"""Building blocks shared by the provider simulators: rate limiting, fault injection and server running.

Simulators are real HTTP servers (uvicorn + Starlette) on 127.0.0.1, so the project's real clients talk to
them over sockets exactly as they would to the provider.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import uvicorn
from starlette.responses import JSONResponse, Response


class TokenBucket:
    """Amazon-style usage plan: `burst` tokens, refilled at `rate` per second."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.updated = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass
class FaultRule:
    operation: str = "*"
    kind: str = "error"  # error | throttle | latency | timeout | repeat_page | drop
    status: int = 500
    ms: int = 0
    seconds: float = 30.0
    times: int | None = 1
    probability: float = 1.0
    after: int = 0
    id: int = 0
    seen: int = field(default=0, repr=False)
    applied: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


FAULT_KINDS = {"error", "throttle", "latency", "timeout", "repeat_page", "drop"}


class FaultInjector:
    """Rules matched in the order added; the first that applies to a call wins."""

    def __init__(self, seed: int | None = None) -> None:
        self.rules: list[FaultRule] = []
        self.rng = random.Random(seed)
        self._next_id = 1

    def add(self, spec: dict[str, Any]) -> FaultRule:
        known = {
            k: v for k, v in spec.items() if k in FaultRule.__dataclass_fields__ and k not in ("id", "seen", "applied")
        }
        rule = FaultRule(**known)
        if rule.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {rule.kind!r}; one of {sorted(FAULT_KINDS)}")
        if not 0 <= rule.probability <= 1:
            raise ValueError("probability must be between 0 and 1")
        rule.id, self._next_id = self._next_id, self._next_id + 1
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        self.rules.clear()

    def seed(self, seed: int) -> None:
        self.rng.seed(seed)

    def match(self, operation: str) -> FaultRule | None:
        for rule in self.rules:
            if rule.operation not in ("*", operation):
                continue
            if rule.times is not None and rule.applied >= rule.times:
                continue
            rule.seen += 1
            if rule.seen <= rule.after:
                continue
            if rule.probability < 1 and self.rng.random() >= rule.probability:
                continue
            rule.applied += 1
            return rule
        return None


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


async def apply_delay(rule: FaultRule | None) -> None:
    if rule is not None and rule.kind == "latency":
        await asyncio.sleep(rule.ms / 1000)


def _config(app: Any, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, loop="uvloop", http="httptools",
        lifespan="on", timeout_keep_alive=30,
    )  # fmt: skip


def serve(app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
    """Run a simulator in the foreground until interrupted."""
    uvicorn.Server(_config(app, host, port)).run()


class ServerThread:
    """A simulator in a background thread of this process, on a free port (for tests and benchmarks)."""

    def __init__(self, app: Any, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.host, self.port = host, int(self.sock.getsockname()[1])
        self.server = uvicorn.Server(_config(app, host, self.port))
        self.thread = threading.Thread(target=self._run, name=f"simulator:{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        self.server.run(sockets=[self.sock])

    def start(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("simulator failed to start")
            time.sleep(0.01)
        return self.url

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        with contextlib.suppress(OSError):
            self.sock.close()


@contextlib.contextmanager
def running_server(app: Any) -> Iterator[str]:
    """`with running_server(create_app()) as base_url: ...`"""
    server = ServerThread(app)
    try:
        yield server.start()
    finally:
        server.stop()
