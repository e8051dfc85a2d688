"""Building blocks shared by the provider simulators: rate limiting, fault injection, JSON and server running.

Simulators are real HTTP servers (uvicorn + Starlette) on 127.0.0.1, so the project's real clients talk to
them over sockets exactly as they would to the provider. Nothing here is specific to one provider.
"""

from __future__ import annotations

import contextlib
import gc
import json
import random
import socket
import threading
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import asdict, dataclass, fields
from types import TracebackType
from typing import Any

import uvicorn
from starlette.requests import Request
from starlette.responses import Response

# --- rate limiting ---------------------------------------------------------------------------------------


class TokenBucket:
    """A token bucket like Amazon's usage plans: holds up to `burst` tokens, refilled at `rate` per second.

    Starts full. `clock` is a monotonic clock in seconds (injectable for tests).
    """

    __slots__ = ("burst", "clock", "rate", "tokens", "updated")

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if rate < 0 or burst < 0:
            raise ValueError("rate and burst must not be negative")
        self.rate = float(rate)
        self.burst = int(burst)
        self.clock = clock
        self.tokens = float(burst)
        self.updated = clock()

    def _refresh(self) -> None:
        now = self.clock()
        if now > self.updated:
            self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def take(self, tokens: float = 1.0) -> bool:
        """Spend `tokens` if available; False (and nothing spent) otherwise."""
        self._refresh()
        if self.tokens >= tokens:
            self.tokens -= tokens
            return True
        return False

    def available(self) -> float:
        self._refresh()
        return self.tokens

    def refill(self) -> None:
        self.tokens = float(self.burst)
        self.updated = self.clock()


# --- fault injection -------------------------------------------------------------------------------------

FAULT_KINDS = frozenset({"error", "throttle", "latency", "timeout", "repeat_page", "truncate"})


@dataclass
class FaultRule:
    """One fault rule. `times=None` applies forever; `after=N` lets the first N matching calls pass."""

    operation: str = "*"
    kind: str = "error"
    status: int = 500  # error: the HTTP status to answer with
    ms: int = 0  # latency: milliseconds added before the normal answer
    seconds: float = 30.0  # timeout: seconds slept before answering (the client should give up first)
    times: int | None = None
    probability: float = 1.0
    after: int = 0
    id: int = 0
    seen: int = 0  # matching calls so far
    applied: int = 0  # calls the rule was applied to

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_SETTABLE = frozenset(f.name for f in fields(FaultRule)) - {"id", "seen", "applied"}


class FaultInjector:
    """Ordered fault rules; the first rule that applies to a call wins.

    A rule matches a call when its operation is the call's or "*". Of the matching calls, the first `after` pass
    untouched; after that each is faulted with `probability` (drawn from a seeded RNG, see `seed`) until the
    rule has been applied `times` times.
    """

    def __init__(self, *, operations: Collection[str] | None = None, seed: int | None = None) -> None:
        self.operations = frozenset(operations) if operations is not None else None
        self.rules: list[FaultRule] = []
        self.rng = random.Random(seed)
        self._next_id = 1

    def add(self, spec: dict[str, Any]) -> FaultRule:
        unknown = set(spec) - _SETTABLE
        if unknown:
            raise ValueError(f"unknown fault rule keys {sorted(unknown)}; allowed: {sorted(_SETTABLE)}")
        rule = FaultRule(
            operation=str(spec.get("operation", "*")),
            kind=str(spec.get("kind", "error")),
            status=int(spec.get("status", 500)),
            ms=int(spec.get("ms", 0)),
            seconds=float(spec.get("seconds", 30.0)),
            times=None if spec.get("times") is None else int(spec["times"]),
            probability=float(spec.get("probability", 1.0)),
            after=int(spec.get("after", 0)),
        )
        if rule.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {rule.kind!r}; one of {sorted(FAULT_KINDS)}")
        if self.operations is not None and rule.operation != "*" and rule.operation not in self.operations:
            raise ValueError(f"unknown operation {rule.operation!r}; one of {sorted(self.operations)} or '*'")
        if not 0 <= rule.probability <= 1:
            raise ValueError("probability must be between 0 and 1")
        if not 100 <= rule.status <= 599:
            raise ValueError("status must be an HTTP status code")
        if (rule.times is not None and rule.times < 0) or rule.after < 0 or rule.ms < 0 or rule.seconds < 0:
            raise ValueError("times, after, ms and seconds must not be negative")
        rule.id, self._next_id = self._next_id, self._next_id + 1
        self.rules.append(rule)
        return rule

    def remove(self, rule_id: int) -> bool:
        before = len(self.rules)
        self.rules = [rule for rule in self.rules if rule.id != rule_id]
        return len(self.rules) < before

    def clear(self) -> None:
        self.rules.clear()

    def seed(self, seed: int | None) -> None:
        self.rng.seed(seed)

    def match(self, operation: str) -> FaultRule | None:
        """The rule to apply to this call, if any (counts the call against every matching rule it reaches)."""
        for rule in self.rules:
            if rule.operation != "*" and rule.operation != operation:
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


# --- JSON helpers ----------------------------------------------------------------------------------------


def dump_json(body: Any) -> bytes:
    """Compact UTF-8 JSON, as the providers send it."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dump_json(body), status_code=status, headers=headers, media_type="application/json")


def raw_json_response(content: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A response from already serialised JSON (e.g. a cached body replayed verbatim)."""
    return Response(content, status_code=status, headers=headers, media_type="application/json")


def error_body(code: str, message: str, details: str | None = None) -> dict[str, Any]:
    """Amazon's error shape, `{"errors": [{"code", "message", "details"?}]}`."""
    error = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"errors": [error]}


async def read_json_object(request: Request) -> dict[str, Any]:
    """The request's JSON object body; `{}` when empty. ValueError on anything else."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON body: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many objects at once (seeding 100k orders spends
    ~40% of its time in GC passes otherwise). Reference counting still frees everything as usual."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# --- running a simulator ---------------------------------------------------------------------------------


def _config(app: Any, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        timeout_keep_alive=30,
    )


def serve(app: Any, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run a simulator in the foreground (uvicorn, uvloop + httptools, no access log) until interrupted."""
    uvicorn.Server(_config(app, host, port)).run()


class ServerThread:
    """A simulator served by uvicorn in a background thread of this process, on a free port.

    `start()` returns the base URL once the server accepts connections; `stop()` shuts it down cleanly.
    Also a context manager: `with ServerThread(app) as base_url: ...`.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.host, self.port = host, int(self.sock.getsockname()[1])  # port 0: the kernel picked one
        self.server = uvicorn.Server(_config(app, host, self.port))
        self.thread = threading.Thread(target=self._run, name=f"simulator:{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        self.server.run(sockets=[self.sock])

    def start(self, timeout: float = 15.0) -> str:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while True:
            if self.server.started and self._accepts():
                return self.url
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"simulator on {self.url} failed to start")
            time.sleep(0.01)

    def _accepts(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout=timeout)
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@contextlib.contextmanager
def running_server(app: Any, host: str = "127.0.0.1") -> Iterator[str]:
    """`with running_server(create_app()) as base_url: ...` (a free port, stopped on exit)."""
    with ServerThread(app, host) as base_url:
        yield base_url
