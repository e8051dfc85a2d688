"""The legacy Server-protocol Notification POST sender (`POST /_sim/server/notify`).

Opayo Server POSTs `application/x-www-form-urlencoded` fields to the vendor's NotificationURL, signed with
VPSSignature, and expects a plain-text reply of `Status=OK|INVALID|ERROR`, `RedirectURL=…` and an optional
`StatusDetail=…` line (CRLF). This sends such notifications to any URL, as often and as concurrently as asked
(Opayo does retry and duplicate them), and reports how each reply parsed.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import httpx

from simulators.opayo.signing import server_notification_signature
from simulators.opayo.state import new_guid

FIELD_ORDER = (
    "VPSProtocol", "TxType", "VendorTxCode", "VPSTxId", "Status", "StatusDetail", "TxAuthNo", "AVSCV2",
    "AddressResult", "PostCodeResult", "CV2Result", "GiftAid", "3DSecureStatus", "CAVV", "AddressStatus",
    "PayerStatus", "CardType", "Last4Digits", "DeclineCode", "ExpiryDate", "FraudResponse", "BankAuthCode",
    "ACSTransID", "DSTransID", "SchemeTraceID", "Surcharge", "Token",
)  # fmt: skip
REPLY_STATUSES = frozenset({"OK", "INVALID", "ERROR"})


def default_fields(rng: random.Random) -> dict[str, str]:
    """A realistic protocol-4.00 PAYMENT notification for an authorised Visa."""
    return {
        "VPSProtocol": "4.00",
        "TxType": "PAYMENT",
        "VendorTxCode": f"SIM-{rng.randrange(10**8):08d}",
        "VPSTxId": "{" + new_guid() + "}",
        "Status": "OK",
        "StatusDetail": "0000 : The Authorisation was Successful.",
        "TxAuthNo": str(rng.randrange(10**6, 10**8)),
        "AVSCV2": "ALL MATCH",
        "AddressResult": "MATCHED",
        "PostCodeResult": "MATCHED",
        "CV2Result": "MATCHED",
        "GiftAid": "0",
        "3DSecureStatus": "OK",
        "CAVV": "AAABARR5kwAAAAAAAAAAAAAAAAA=",
        "CardType": "VISA",
        "Last4Digits": "0006",
        "DeclineCode": "00",
        "ExpiryDate": "1229",
        "BankAuthCode": "999777",
        "ACSTransID": new_guid().lower(),
        "DSTransID": new_guid().lower(),
        "SchemeTraceID": f"SP{rng.randrange(10**12):012d}",
    }


def build_notification(
    fields: dict[str, Any], *, vendor: str, security_key: str, tamper: bool = False, rng: random.Random | None = None
) -> dict[str, str]:
    """The form fields to POST: defaults overridden by `fields` (a None value drops the field), in Opayo's order,
    signed last. An explicit `VPSSignature` in `fields` is sent as given; `tamper` corrupts the signature."""
    merged: dict[str, Any] = default_fields(rng or random.Random())
    for name, value in fields.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[str(name)] = str(value)
    explicit = merged.pop("VPSSignature", None)
    ordered = {name: merged.pop(name) for name in FIELD_ORDER if name in merged}
    ordered.update(merged)
    signature = explicit or server_notification_signature(ordered, vendor=vendor, security_key=security_key)
    if tamper:
        signature = ("0" if signature[0] != "0" else "1") + signature[1:]
    ordered["VPSSignature"] = signature
    return ordered


def parse_reply(text: str) -> dict[str, Any]:
    """`Status=`, `RedirectURL=`, `StatusDetail=` lines (CRLF or LF) → values, plus whether the format is right."""
    lines: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip():
            lines.setdefault(name.strip(), value.strip())
    status = lines.get("Status")
    redirect = lines.get("RedirectURL")
    return {
        "status": status,
        "redirect_url": redirect,
        "status_detail": lines.get("StatusDetail"),
        "lines": lines,
        "format_ok": status in REPLY_STATUSES and bool(redirect and redirect.startswith(("http://", "https://"))),
    }


async def deliver(
    url: str, form: dict[str, str], *, times: int, concurrency: int, timeout: float
) -> list[dict[str, Any]]:
    """POST the same notification `times` times, at most `concurrency` at once; one result per delivery, in order."""
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(client: httpx.AsyncClient, index: int) -> dict[str, Any]:
        async with gate:
            started = time.perf_counter()
            try:
                response = await client.post(url, data=form)
            except httpx.HTTPError as exc:
                return {
                    "index": index,
                    "http_status": None,
                    "error": f"{exc.__class__.__name__}: {exc}",
                    "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
                    "format_ok": False,
                }
            return {
                "index": index,
                "http_status": response.status_code,
                "body": response.text,
                "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
                **parse_reply(response.text),
            }

    async with httpx.AsyncClient(timeout=timeout) as client:
        return list(await asyncio.gather(*(one(client, index) for index in range(times))))
