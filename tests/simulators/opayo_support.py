"""Helpers shared by the Opayo simulator tests: one simulator server for the session, Pi and Reporting callers,
and a tiny notification endpoint that records what it receives."""

from __future__ import annotations

import asyncio
import atexit
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from simulators.common import ServerThread
from simulators.opayo.app import create_app
from simulators.opayo.signing import reporting_signature

FIXTURES = Path(__file__).resolve().parents[2] / "simulators" / "opayo" / "fixtures"
VENDOR: dict[str, Any] = {
    "vendor_name": "ledgerline",
    "integration_key": "hJYxsw7HLbj40cB8udES8CDRFLhuJ8G54O6rDpUXvE6hYDrria",
    "integration_password": "o2iHSrFybYMZpmWOQMuhsXP52V4fBtpuSDshrKDSWsBY1OiN6hwd9Kb12z4j5Us5u",
    "reporting_user": "reportuser",
    "reporting_password": "S3cret!&<pw>",
}
STRICT_VENDOR: dict[str, Any] = {
    "vendor_name": "ledgerlineEC",
    "integration_key": "dq9w6WkkdD2y8k3t4olqu8H6a0vtt3IY7VEsGhAtacbCZ2b5Ud",
    "integration_password": "hno3JTEwDHy7hJckU4WuxfeTrjD0N92pIaituQBw5Mtj7RG3V8zOdHCSPKwJ02wAV",
    "reporting_user": "ecreports",
    "reporting_password": "ecpw",
    "strict_avs": True,
}
APPROVE = {"cardholderName": "SUCCESSFUL", "cardNumber": "4929000000006", "expiryDate": "1239", "securityCode": "123"}
BILLING = {"address1": "88", "city": "London", "postalCode": "412", "country": "GB"}

_server: ServerThread | None = None
_lock = threading.Lock()


def opayo_url() -> str:
    """One simulator for the whole test session (tests reset it through the control API)."""
    global _server
    with _lock:
        if _server is None:
            _server = ServerThread(create_app())
            _server.start()
            atexit.register(_server.stop)
        return _server.url


def pi_client(base_url: str, vendor: dict[str, Any] = VENDOR, **kwargs: Any) -> httpx.Client:
    return httpx.Client(
        base_url=f"{base_url}/api/v1",
        auth=(vendor["integration_key"], vendor["integration_password"]),
        timeout=kwargs.pop("timeout", 10),
        **kwargs,
    )


def tokenise(
    api: httpx.Client, card: dict[str, str] | None = None, vendor: str = VENDOR["vendor_name"]
) -> dict[str, str]:
    """What the shopper's browser does: an MSK (server side), then a card identifier with it (Bearer)."""
    msk = api.post("/merchant-session-keys", json={"vendorName": vendor}).json()["merchantSessionKey"]
    response = httpx.post(
        f"{api.base_url}card-identifiers",
        headers={"Authorization": f"Bearer {msk}"},
        json={"cardDetails": card or APPROVE},
    )
    assert response.status_code == 201, response.text
    return {"merchantSessionKey": msk, "cardIdentifier": response.json()["cardIdentifier"]}


def payment_body(
    api: httpx.Client,
    code: str,
    *,
    amount: Any = 1999,
    transaction_type: str = "Payment",
    card: dict[str, str] | None = None,
    vendor: str = VENDOR["vendor_name"],
    **extra: Any,
) -> dict[str, Any]:
    return {
        "transactionType": transaction_type,
        "paymentMethod": {"card": tokenise(api, card, vendor)},
        "vendorTxCode": code,
        "amount": amount,
        "currency": "GBP",
        "description": "Order " + code,
        "customerFirstName": "Sam",
        "customerLastName": "Jones",
        "billingAddress": dict(BILLING),
        **extra,
    }


def pay(api: httpx.Client, code: str, **kwargs: Any) -> httpx.Response:
    return api.post("/transactions", json=payment_body(api, code, **kwargs))


def signed_request(command: str, params: str, *, vendor: str, user: str, password: str, upper: bool = False) -> str:
    inner = f"<command>{command}</command><vendor>{escape(vendor)}</vendor><user>{escape(user)}</user>{params}"
    signature = reporting_signature(inner, password)
    return f"<vspaccess>{inner}<signature>{signature.upper() if upper else signature}</signature></vspaccess>"


def reporting(
    base_url: str, command: str, params: str = "", *, vendor: dict[str, Any] = VENDOR, **kwargs: Any
) -> ET.Element:
    """POST a signed command to /access/access.htm and return the parsed <vspaccess> answer."""
    xml = signed_request(
        command,
        params,
        vendor=vendor["vendor_name"],
        user=vendor["reporting_user"],
        password=vendor["reporting_password"],
    )
    response = httpx.post(f"{base_url}/access/access.htm", data={"XML": xml}, **kwargs)
    assert response.status_code == 200, response.text
    return ET.fromstring(response.content)


def money(value: str | None) -> Decimal:
    return Decimal(value or "0")


class NotificationEndpoint:
    """A tiny vendor-side NotificationURL on a free port: records every POST (form fields) and replies with
    `reply(fields)` (default: the Status=OK / RedirectURL / StatusDetail lines, CRLF)."""

    def __init__(self, reply: Callable[[dict[str, str]], Response] | None = None, delay: float = 0.0) -> None:
        self.received: list[dict[str, str]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.reply = reply or (
            lambda fields: PlainTextResponse(
                "Status=OK\r\nRedirectURL=https://shop.example.com/checkout/complete\r\nStatusDetail=Received\r\n"
            )
        )
        self.delay = delay

        async def notify(request: Request) -> Response:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                fields = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
                self.received.append(fields)
                if self.delay:
                    await asyncio.sleep(self.delay)
                return self.reply(fields)
            finally:
                self.in_flight -= 1

        self.server = ServerThread(Starlette(routes=[Route("/opayo/notify", notify, methods=["POST"])]))

    def __enter__(self) -> str:
        return self.server.start() + "/opayo/notify"

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
