"""N simultaneous requests against a running server (`make run`'s by default): every one must be answered, none
reset. Django's runserver reset 9-11 of 50; gunicorn (config/gunicorn.py) queues what its threads cannot take yet.

    .venv/bin/python bench/concurrent_requests.py [--url http://127.0.0.1:8000/api/v1/orders/] [-n 50]
        [--token KEY]   # the erp user's token that `make run` prints (Authorization: Token KEY); without it
                        # every request is answered 401, which still goes through the whole stack

Loopback only; one request per connection, all released at once by a barrier; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping

import httpx


def fire(url: str, n: int = 50, headers: Mapping[str, str] | None = None, timeout: float = 60.0) -> Counter[str]:
    """One request per thread, on its own connection, all started together. Returns outcome → count (an HTTP
    status as text, or the exception's class name)."""
    barrier = threading.Barrier(n)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def one() -> None:
        with httpx.Client(timeout=timeout, headers=dict(headers or {})) as client:
            barrier.wait()
            try:
                outcome = str(client.get(url).status_code)
            except httpx.HTTPError as exc:
                outcome = exc.__class__.__name__
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=one) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000/api/v1/orders/")
    parser.add_argument("-n", type=int, default=50)
    parser.add_argument("--token", default="")
    args = parser.parse_args()
    if not args.url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        parser.error("loopback addresses only")
    headers = {"Authorization": f"Token {args.token}"} if args.token else {}
    started = time.monotonic()
    outcomes = fire(args.url, args.n, headers)
    took = time.monotonic() - started
    failed = sum(count for outcome, count in outcomes.items() if not outcome.isdigit() or outcome.startswith("5"))
    print(f"{args.n} simultaneous GET {args.url}: {dict(outcomes)} in {took:.2f} s; failed: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
