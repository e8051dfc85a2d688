"""A real multi-threaded HTTP server around the Django app for tests that need true concurrency.

Like a production WSGI server: a deep accept backlog and a bounded pool of worker threads (each with its
own database connection), so a burst of 100 simultaneous requests queues instead of being refused.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from django.core.handlers.wsgi import WSGIHandler
from django.db import connections


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class PooledWSGIServer(WSGIServer):
    request_queue_size = 512
    allow_reuse_address = True

    def __init__(self, *args: Any, workers: int = 16, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pool = ThreadPoolExecutor(max_workers=workers)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.pool.submit(self._work, request, client_address)

    def _work(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            connections.close_all()


@contextlib.contextmanager
def django_server(workers: int = 16) -> Iterator[str]:
    server = PooledWSGIServer(("127.0.0.1", 0), _QuietHandler, workers=workers)
    server.set_app(WSGIHandler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.pool.shutdown(wait=True)
        server.server_close()
