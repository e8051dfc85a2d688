"""The Opayo simulator as a Starlette app: `create_app()`.

- Pi REST v1 under `/api/v1` (HTTP Basic integration key/password; Bearer merchant session key for card
  identifiers), with the sandbox's magic cards, names and AVS values, instructions and 3-D Secure challenges
  (a simulated ACS page under `/acs/`). See pi.py.
- The Reporting & Admin API at `/access/access.htm` (MD5-signed XML), fed by the same store. See reporting.py.
- A control API under `/_sim/` (JSON, no auth): vendors, inspection, settlement (close-day), settings, call
  counts, fault injection, a checkout that plays shop + browser, and a legacy Server-protocol notification sender.

State is in memory, one instance per `create_app()`. See README.md.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import hmac
import time
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from html import escape as html_escape
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from simulators.common import FaultRule, dump_json, json_response, read_json_object
from simulators.opayo import notify, pi, reporting
from simulators.opayo.state import (
    LONDON,
    SessionKey,
    State,
    Transaction,
    Vendor,
    iso_timestamp,
    uk_day,
)

ControlHandler = Callable[[Request], Awaitable[Any]]
PiHandler = Callable[[Request, Vendor, dict[str, Any]], pi.Result]

FAULT_BODIES = {
    400: ("1000", "Incorrect request format"),
    401: ("1002", "Authentication failed"),
    403: ("1017", "Operation not allowed for this transaction"),
    404: ("1012", "Transaction not found"),
    408: ("9998", "Request timeout"),
    500: ("9999", "An internal error occurred at Sage Pay"),
    502: ("9999", "Bad Gateway: an issue occurred at Sage Pay"),
    503: ("9999", "Service Unavailable: an issue occurred at Sage Pay"),
    504: ("9998", "Request timeout"),
}
# The shop + browser of `/_sim/checkout`: card keyword → (sandbox card number, cardholder name, CVV).
CHECKOUT_CARDS = {
    "approve": ("4929000000006", "SUCCESSFUL", "123"),
    "decline": ("4929602110085639", "SUCCESSFUL", "123"),
    "challenge": ("4929000000006", "CHALLENGE", "123"),
    "notauth": ("4929000000006", "NOTAUTH", "123"),
    "approve_mastercard": ("5404000000000001", "SUCCESSFUL", "123"),
    "decline_mastercard": ("5403814948608092", "SUCCESSFUL", "123"),
    "approve_amex": ("374200000000004", "SUCCESSFUL", "1234"),
}
CHECKOUT_BILLING = {"address1": "88", "city": "London", "postalCode": "412", "country": "GB"}


def fault_body(status: int) -> dict[str, Any]:
    if status == 422:
        return {"errors": [pi.field_error("1009", "", "Injected by the simulator")]}
    default = ("9999", "An internal error occurred at Sage Pay") if status >= 500 else ("1000", f"HTTP {status}")
    code, description = FAULT_BODIES.get(status, default)
    return {"code": code, "description": description}


def parse_moment(value: Any) -> float | None:
    """ISO 8601 (naive = UK time) → epoch seconds."""
    if value is None:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LONDON)
    return moment.timestamp()


class OpayoSimulator:
    """State plus handlers; one instance per app (`create_app()`)."""

    def __init__(self) -> None:
        self.state = State()
        self.started = time.time()

    # --- plumbing ---------------------------------------------------------------------------------------

    def respond(self, operation: str, status: int, body: Any, state: State | None = None) -> Response:
        """The JSON answer, counted (against the state the request started with: a reset may happen meanwhile)."""
        (state or self.state).calls[(operation, status)] += 1
        return Response(dump_json(body), status_code=status, media_type="application/json")

    def basic_vendor(self, request: Request) -> Vendor | pi.Result:
        """The vendor whose integration key/password the Basic header carries, or the 401 answer."""
        state = self.state
        header = request.headers.get("authorization", "")
        name = state.basic_auth.get(header)
        if name is not None and name in state.vendors:
            return state.vendors[name]
        scheme, _, value = header.partition(" ")
        if not header.strip() or not value.strip():
            return pi.error("1001")
        if scheme.lower() != "basic":
            return pi.error("1002")
        try:
            key, sep, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return pi.error("1002")
        if not sep or not key:
            return pi.error("1001")
        for vendor in state.vendors.values():
            if hmac.compare_digest(vendor.integration_key, key) and hmac.compare_digest(
                vendor.integration_password, password
            ):
                state.basic_auth[header] = vendor.vendor_name
                return vendor
        return pi.error("1002")

    def bearer_msk(self, request: Request) -> SessionKey | pi.Result:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if not value.strip():
            return pi.error("1001")
        msk = pi.live_msk(self.state, value.strip())
        if scheme.lower() != "bearer" or msk is None or msk.used:
            return pi.error("1002")
        return msk

    async def before(self, operation: str) -> tuple[pi.Result | None, FaultRule | None]:
        """Apply a matching fault: (the faulted answer or None to carry on, the rule for after the handler)."""
        state = self.state
        rule = state.faults.match(operation) if state.faults.rules else None
        if rule is None:
            return None, None
        if rule.kind == "latency":
            await asyncio.sleep(rule.ms / 1000)
            return None, None
        if rule.kind == "timeout":
            await asyncio.sleep(rule.seconds)
            return (504, fault_body(504)), None
        if rule.kind == "error":
            return (rule.status, fault_body(rule.status)), None
        return None, rule  # timeout_after_commit: the request is applied first

    async def after(self, rule: FaultRule | None, result: pi.Result) -> pi.Result:
        if rule is not None and rule.kind == "timeout_after_commit":
            await asyncio.sleep(rule.seconds)
            return 504, fault_body(504)
        return result

    def api(self, operation: str, handler: PiHandler, *, body: bool = True) -> Callable[[Request], Awaitable[Response]]:
        """A Basic-authenticated Pi endpoint: auth, faults, JSON body, handler, counted answer."""

        async def endpoint(request: Request) -> Response:
            state = self.state
            vendor = self.basic_vendor(request)
            if not isinstance(vendor, Vendor):
                return self.respond(operation, *vendor)
            faulted, rule = await self.before(operation)
            if faulted is not None:
                return self.respond(operation, *faulted, state)
            data: dict[str, Any] = {}
            if body:
                parsed = pi.parse_body(await request.body())
                if not isinstance(parsed, dict):
                    return self.respond(operation, *parsed)
                data = parsed
            result = handler(request, vendor, data)
            return self.respond(operation, *(await self.after(rule, result)), state)

        return endpoint

    # --- Pi ---------------------------------------------------------------------------------------------

    def create_msk(self, request: Request, vendor: Vendor, data: dict[str, Any]) -> pi.Result:
        return pi.create_msk(self.state, vendor, data)

    def get_msk(self, request: Request, vendor: Vendor, data: dict[str, Any]) -> pi.Result:
        return pi.get_msk(self.state, vendor, request.path_params["msk"])

    async def create_card_identifier(self, request: Request) -> Response:
        operation, state = "createCardIdentifier", self.state
        msk = self.bearer_msk(request)
        if not isinstance(msk, SessionKey):
            return self.respond(operation, *msk)
        faulted, rule = await self.before(operation)
        if faulted is not None:
            return self.respond(operation, *faulted, state)
        parsed = pi.parse_body(await request.body())
        if not isinstance(parsed, dict):
            msk.failures += 1
            return self.respond(operation, *parsed)
        result = pi.create_card_identifier(state, msk, parsed)
        return self.respond(operation, *(await self.after(rule, result)), state)

    def create_transaction(self, request: Request, vendor: Vendor, data: dict[str, Any]) -> pi.Result:
        return pi.create_transaction(self.state, vendor, data, str(request.base_url))

    def get_transaction(self, request: Request, vendor: Vendor, data: dict[str, Any]) -> pi.Result:
        return pi.get_transaction(self.state, vendor, request.path_params["transaction_id"])

    def instruction(self, request: Request, vendor: Vendor, data: dict[str, Any]) -> pi.Result:
        return pi.instruction(self.state, vendor, request.path_params["transaction_id"], data)

    def get_instructions(self, request: Request, vendor: Vendor, data: dict[str, Any]) -> pi.Result:
        return pi.get_instructions(self.state, vendor, request.path_params["transaction_id"])

    def challenge(self, request: Request, vendor: Vendor, data: dict[str, Any]) -> pi.Result:
        return pi.three_ds_challenge(self.state, vendor, request.path_params["transaction_id"], data)

    # --- the simulated ACS (the issuer's challenge page) ------------------------------------------------

    @staticmethod
    async def form_values(request: Request) -> dict[str, str]:
        values = dict(request.query_params)
        raw = await request.body()
        if raw and "json" in request.headers.get("content-type", ""):
            data = await read_json_object(request)
            values.update({str(k): str(v) for k, v in data.items()})
        elif raw:
            values.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        return values

    async def acs_page(self, request: Request) -> Response:
        tx_id = request.path_params["transaction_id"]
        tx = pi.acs_challenge_transaction(self.state, tx_id)
        if tx is None:
            return HTMLResponse("<h1>No challenge in progress for this transaction</h1>", 404)
        values = await self.form_values(request)
        creq = values.get("creq")
        if creq is not None and creq != tx.creq:
            return HTMLResponse("<h1>Invalid CReq</h1>", 400)
        session = html_escape(values.get("threeDSSessionData", ""))
        return HTMLResponse(
            "<!doctype html><html><head><title>3-D Secure challenge (simulated ACS)</title></head><body>"
            "<h1>Simulated issuer challenge</h1>"
            f"<p>Type the word <b>{html_escape(self.state.settings.acs_answer)}</b> to authenticate.</p>"
            f'<form method="post" action="/acs/{html_escape(tx.id)}/answer">'
            f'<input type="hidden" name="threeDSSessionData" value="{session}">'
            '<input name="answer" autofocus> <button type="submit">Submit</button></form></body></html>'
        )

    async def acs_submit(self, request: Request) -> Response:
        """The browser's answer: JSON callers get `{"cres", ...}`; a form post gets the auto-posting page that
        sends `cres` + `threeDSSessionData` to the transaction's notificationURL (when it gave one)."""
        tx = pi.acs_challenge_transaction(self.state, request.path_params["transaction_id"])
        if tx is None:
            return json_response({"error": "no challenge in progress for this transaction"}, 404)
        try:
            values = await self.form_values(request)
        except ValueError as exc:
            return json_response({"error": str(exc)}, 400)
        cres, ok = pi.acs_answer(self.state, tx, values.get("answer", ""))
        session = values.get("threeDSSessionData", "")
        is_json = "json" in request.headers.get("content-type", "")
        if not is_json and tx.notification_url:
            return HTMLResponse(
                '<!doctype html><html><body onload="document.forms[0].submit()">'
                f'<form method="post" action="{html_escape(tx.notification_url)}">'
                f'<input type="hidden" name="cres" value="{html_escape(cres)}">'
                f'<input type="hidden" name="threeDSSessionData" value="{html_escape(session)}">'
                '<noscript><button type="submit">Continue</button></noscript></form></body></html>'
            )
        return json_response(
            {
                "cres": cres,
                "transStatus": "Y" if ok else "N",
                "threeDSSessionData": session,
                "notificationURL": tx.notification_url,
            }
        )

    # --- Reporting & Admin API --------------------------------------------------------------------------

    async def reporting_api(self, request: Request) -> Response:
        state = self.state
        raw = await request.body()
        command = reporting.command_name(raw)
        operation = f"reporting:{command}" if command else "reporting"
        faulted, rule = await self.before(operation)
        if faulted is not None:
            status = faulted[0]
            xml = reporting.answer(state, code="0009", error=reporting.ERRORS["0009"])
        else:
            try:
                xml = reporting.execute(state, reporting.parse_request(state, raw))
            except reporting.ReportingError as exc:
                xml = reporting.error_answer(state, exc)
            status = 200
            if rule is not None:  # timeout_after_commit: answered, but too late
                await asyncio.sleep(rule.seconds)
                status, xml = 504, reporting.answer(state, code="0009", error="Request timeout")
        state.calls[(operation, status)] += 1
        return Response(xml.encode("utf-8"), status_code=status, media_type="text/xml; charset=utf-8")

    # --- control API ------------------------------------------------------------------------------------

    async def reset(self, request: Request) -> Any:
        self.state = State()
        return {"ok": True}

    async def health(self, request: Request) -> Any:
        state = self.state
        return {
            "ok": True,
            "simulator": "opayo",
            "vendors": len(state.vendors),
            "transactions": len(state.transactions),
            "batches": len(state.batches),
            "uptime_seconds": round(time.time() - self.started, 1),
            "now": iso_timestamp(state.now()),
        }

    async def vendors(self, request: Request) -> Any:
        if request.method == "GET":
            return {"vendors": [v.public() for v in self.state.vendors.values()]}
        data = await read_json_object(request)
        vendor = Vendor(
            vendor_name=str(data["vendor_name"]),
            integration_key=str(data["integration_key"]),
            integration_password=str(data["integration_password"]),
            reporting_user=str(data.get("reporting_user") or ""),
            reporting_password=str(data.get("reporting_password") or ""),
            strict_avs=bool(data.get("strict_avs", False)),
        )
        if not vendor.vendor_name or not vendor.integration_key or not vendor.integration_password:
            raise ValueError("vendor_name, integration_key and integration_password must not be empty")
        self.state.add_vendor(vendor)
        return vendor.public()

    def transaction_json(self, tx: Transaction) -> dict[str, Any]:
        state = self.state
        now = state.now()
        return {
            "transaction_id": tx.id,
            "vendor_name": tx.vendor,
            "vendor_tx_code": tx.vendor_tx_code,
            "transaction_type": tx.tx_type,
            "status": tx.status,
            "status_code": tx.current_code(state.settings)[0],
            "amount": tx.amount,
            "currency": tx.currency,
            "released_amount": tx.released_amount,
            "captured_amount": tx.captured_amount(),
            "refunded_total": tx.refunded_total,
            "authorised_total": tx.authorised_total,
            "voided": tx.voided,
            "aborted": tx.aborted,
            "cancelled": tx.cancelled,
            "expired": tx.expired(now, state.settings),
            "txstateid": tx.tx_state(now, state.settings),
            "started": iso_timestamp(tx.started),
            "uk_day": uk_day(tx.settle_time()).isoformat(),
            "settlement_reference_text": tx.settlement_reference_text,
            "reference_transaction_id": tx.reference_id,
            "children": list(tx.children),
            "instructions": [item.public() for item in tx.instructions],
            "batch_id": tx.batch_id,
            "settled_at": iso_timestamp(tx.settled_at) if tx.settled_at is not None else None,
            "settleable": tx.settleable(),
            "card": tx.card.public(),
            "pi": pi.transaction_body(state, tx),
        }

    async def transactions(self, request: Request) -> Any:
        vendor = request.query_params.get("vendor")
        return {
            "transactions": [
                self.transaction_json(tx)
                for tx in self.state.transactions.values()
                if vendor is None or tx.vendor == vendor
            ]
        }

    async def transaction_detail(self, request: Request) -> Any:
        key = request.path_params["key"]
        tx = self.state.find(key)
        if tx is None:
            return json_response({"error": f"no transaction with id or vendorTxCode {key!r}"}, 404)
        return self.transaction_json(tx)

    async def cards(self, request: Request) -> Any:
        return {"cards": [card.public() for card in self.state.cards.values()]}

    async def close_day(self, request: Request) -> Any:
        data = await read_json_object(request)
        state = self.state
        day = date.fromisoformat(str(data["date"])) if data.get("date") else uk_day(state.now())
        vendor = data.get("vendor_name")
        if vendor is not None and vendor not in state.vendors:
            raise ValueError(f"unknown vendor {vendor!r}")
        batches = state.close_day(
            day,
            fail=bool(data.get("fail", False)),
            completed=parse_moment(data.get("completed")),
            vendor=None if vendor is None else str(vendor),
        )
        return {"date": day.isoformat(), "batches": [batch.public() for batch in batches]}

    async def batches(self, request: Request) -> Any:
        return {"batches": [batch.public() for batch in self.state.batches.values()]}

    async def settings(self, request: Request) -> Any:
        if request.method == "POST":
            data = await read_json_object(request)
            updated = dataclasses.replace(self.state.settings)
            updated.update(data)  # validated as a whole: a bad value changes nothing
            self.state.settings = updated
        return self.state.settings.public()

    async def calls(self, request: Request) -> Any:
        if request.method == "POST":
            self.state.calls.clear()
            return {}
        result: dict[str, dict[str, int]] = {}
        for (operation, status), count in sorted(self.state.calls.items()):
            result.setdefault(operation, {})[str(status)] = count
        return result

    async def faults(self, request: Request) -> Any:
        faults = self.state.faults
        if request.method == "DELETE":
            rule_id = request.path_params.get("rule_id")
            if rule_id is None:
                faults.clear()
                return {"faults": []}
            if not faults.remove(int(rule_id)):
                return json_response({"error": f"no fault rule {rule_id}"}, 404)
            return {"faults": [rule.as_dict() for rule in faults.rules]}
        if request.method == "POST":
            return faults.add(await read_json_object(request)).as_dict()
        return {"faults": [rule.as_dict() for rule in faults.rules]}

    async def checkout(self, request: Request) -> Response:
        """Play the shop and the shopper's browser: MSK, card identifier (a sandbox card chosen by keyword, so no
        card number ever passes through the caller), then the Payment/Deferred/Authenticate. Answers with the Pi
        transaction response's status and body."""
        data = await read_json_object(request)
        state = self.state
        vendor = state.vendors.get(str(data["vendor_name"]))
        if vendor is None:
            raise ValueError(f"unknown vendor {data['vendor_name']!r}")
        kind = str(data.get("card", "approve"))
        if kind not in CHECKOUT_CARDS:
            raise ValueError(f"card must be one of {sorted(CHECKOUT_CARDS)}")
        number, name, cvv = CHECKOUT_CARDS[kind]
        _, msk_body = pi.create_msk(state, vendor, {"vendorName": vendor.vendor_name})
        msk = state.session_keys[msk_body["merchantSessionKey"]]
        expiry = f"12{(uk_day(state.now()).year + 3) % 100:02d}"
        details = {"cardholderName": name, "cardNumber": number, "expiryDate": expiry, "securityCode": cvv}
        status, card_body = pi.create_card_identifier(state, msk, {"cardDetails": details})
        if status != 201:
            return json_response(card_body, status)
        body: dict[str, Any] = {
            "transactionType": data.get("transaction_type", "Payment"),
            "paymentMethod": {
                "card": {"merchantSessionKey": msk.key, "cardIdentifier": card_body["cardIdentifier"]},
            },
            "vendorTxCode": data["vendor_tx_code"],
            "amount": data["amount"],
            "currency": data.get("currency", "GBP"),
            "description": data.get("description", "Simulated checkout"),
            "customerFirstName": data.get("customer_first_name", "Sam"),
            "customerLastName": data.get("customer_last_name", "Jones"),
            "billingAddress": data.get("billing_address") or dict(CHECKOUT_BILLING),
        }
        if data.get("settlement_reference_text") is not None:
            body["settlementReferenceText"] = data["settlement_reference_text"]
        extra = data.get("extra") or {}
        if not isinstance(extra, dict):
            raise ValueError("extra must be an object")
        body.update(extra)
        status, result = pi.create_transaction(state, vendor, body, str(request.base_url))
        return json_response(result, status)

    async def server_notify(self, request: Request) -> Any:
        data = await read_json_object(request)
        url = str(data["url"])
        fields = data.get("fields") or {}
        if not isinstance(fields, dict):
            raise ValueError("fields must be an object of field name → value")
        times, concurrency = int(data.get("times", 1)), int(data.get("concurrency", 1))
        if not 1 <= times <= 10_000 or not 1 <= concurrency <= 500:
            raise ValueError("times must be 1..10000 and concurrency 1..500")
        form = notify.build_notification(
            fields,
            vendor=str(data.get("vendor", "")),
            security_key=str(data.get("security_key", "")),
            tamper=bool(data.get("tamper", False)),
            rng=self.state.rng,
        )
        deliveries = await notify.deliver(
            url, form, times=times, concurrency=concurrency, timeout=float(data.get("timeout", 10.0))
        )
        return {"fields": form, "deliveries": deliveries}

    # --- app --------------------------------------------------------------------------------------------

    def control(self, handler: ControlHandler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                result = await handler(request)
            except (ValueError, KeyError, TypeError) as exc:
                return json_response({"error": f"{exc.__class__.__name__}: {exc}"}, 400)
            return result if isinstance(result, Response) else json_response(result)

        return endpoint

    async def http_error(self, request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        path = request.url.path
        if path.startswith("/_sim/"):
            return json_response({"error": f"HTTP {status} for {request.method} {path}"}, status)
        if path.startswith("/access/"):
            xml = reporting.answer(self.state, code="0002", error=reporting.ERRORS["0002"])
            return Response(xml, status_code=status, media_type="text/xml; charset=utf-8")
        description = "Method not allowed" if status == 405 else f"Resource not found: {request.method} {path}"
        return json_response({"code": "1000", "description": description}, status)

    def build(self) -> Starlette:
        c, api = self.control, self.api
        v1 = "/api/v1"
        routes = [
            Route(f"{v1}/merchant-session-keys", api("createMsk", self.create_msk), methods=["POST"]),
            Route(f"{v1}/merchant-session-keys/{{msk}}", api("getMsk", self.get_msk, body=False), methods=["GET"]),
            Route(f"{v1}/card-identifiers", self.create_card_identifier, methods=["POST"]),
            Route(f"{v1}/transactions", api("createTransaction", self.create_transaction), methods=["POST"]),
            Route(
                f"{v1}/transactions/{{transaction_id}}",
                api("getTransaction", self.get_transaction, body=False),
                methods=["GET"],
            ),
            Route(
                f"{v1}/transactions/{{transaction_id}}/instructions",
                api("instruction", self.instruction),
                methods=["POST"],
            ),
            Route(
                f"{v1}/transactions/{{transaction_id}}/instructions",
                api("getInstructions", self.get_instructions, body=False),
                methods=["GET"],
            ),
            Route(
                f"{v1}/transactions/{{transaction_id}}/3d-secure-challenge",
                api("threeDSChallenge", self.challenge),
                methods=["POST"],
            ),
            Route("/acs/{transaction_id}", self.acs_page, methods=["GET", "POST"]),
            Route("/acs/{transaction_id}/answer", self.acs_submit, methods=["POST"]),
            Route("/access/access.htm", self.reporting_api, methods=["POST"]),
            Route("/_sim/reset", c(self.reset), methods=["POST"]),
            Route("/_sim/health", c(self.health), methods=["GET"]),
            Route("/_sim/vendors", c(self.vendors), methods=["GET", "POST"]),
            Route("/_sim/transactions", c(self.transactions), methods=["GET"]),
            Route("/_sim/transactions/{key}", c(self.transaction_detail), methods=["GET"]),
            Route("/_sim/cards", c(self.cards), methods=["GET"]),
            Route("/_sim/close-day", c(self.close_day), methods=["POST"]),
            Route("/_sim/batches", c(self.batches), methods=["GET"]),
            Route("/_sim/settings", c(self.settings), methods=["GET", "POST"]),
            Route("/_sim/calls", c(self.calls), methods=["GET"]),
            Route("/_sim/calls/reset", c(self.calls), methods=["POST"]),
            Route("/_sim/faults", c(self.faults), methods=["GET", "POST", "DELETE"]),
            Route("/_sim/faults/{rule_id:int}", c(self.faults), methods=["DELETE"]),
            Route("/_sim/checkout", c(self.checkout), methods=["POST"]),
            Route("/_sim/server/notify", c(self.server_notify), methods=["POST"]),
        ]
        app = Starlette(routes=routes, exception_handlers={404: self.http_error, 405: self.http_error})
        app.state.sim = self
        return app


def create_app() -> Starlette:
    """A fresh simulator (no vendors, no transactions, Opayo's defaults)."""
    return OpayoSimulator().build()
