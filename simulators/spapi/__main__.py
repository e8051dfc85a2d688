"""`python -m simulators.spapi --host 127.0.0.1 --port 8101`"""

from __future__ import annotations

import argparse

from simulators.common import serve
from simulators.spapi.app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Local Amazon SP-API simulator (LWA, Orders v0, FBA Outbound, Reports, Listings Items, Feeds, "
        "FBA Inventory)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8101)
    args = parser.parse_args()
    print(f"SP-API simulator listening on http://{args.host}:{args.port}", flush=True)
    serve(create_app(), args.host, args.port)


if __name__ == "__main__":
    main()
