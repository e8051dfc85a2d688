"""`python -m simulators.opayo --host 127.0.0.1 --port 8102`"""

from __future__ import annotations

import argparse

from simulators.common import serve
from simulators.opayo.app import create_app
from simulators.opayo.state import Vendor

# Opayo's public sandbox vendors (published in the Pi docs' sandbox-accounts page); reporting users are ours.
SANDBOX_VENDORS = (
    Vendor(
        "sandbox",
        "hJYxsw7HLbj40cB8udES8CDRFLhuJ8G54O6rDpUXvE6hYDrria",
        "o2iHSrFybYMZpmWOQMuhsXP52V4fBtpuSDshrKDSWsBY1OiN6hwd9Kb12z4j5Us5u",
        "sandboxreports",
        "sandboxreports",
    ),
    Vendor(
        "sandboxEC",
        "dq9w6WkkdD2y8k3t4olqu8H6a0vtt3IY7VEsGhAtacbCZ2b5Ud",
        "hno3JTEwDHy7hJckU4WuxfeTrjD0N92pIaituQBw5Mtj7RG3V8zOdHCSPKwJ02wAV",
        "sandboxreports",
        "sandboxreports",
        strict_avs=True,
    ),
)


def main() -> None:
    parser = argparse.ArgumentParser(description="Local Opayo simulator (Pi REST v1 + Reporting & Admin API).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8102)
    parser.add_argument(
        "--sandbox-vendors", action="store_true", help="register Opayo's public sandbox vendors sandbox/sandboxEC"
    )
    args = parser.parse_args()
    app = create_app()
    if args.sandbox_vendors:
        for vendor in SANDBOX_VENDORS:
            app.state.sim.state.add_vendor(vendor)
    print(f"Opayo simulator listening on http://{args.host}:{args.port}", flush=True)
    serve(app, args.host, args.port)


if __name__ == "__main__":
    main()
