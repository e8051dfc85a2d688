"""Opayo clients: Pi REST v1 (transactions, instructions) and the Reporting & Admin API (XML, MD5-signed).

Both raise only config.common.errors types: RetryableConnectorError (timeouts, connection failures, 408, 5xx),
PermanentConnectorError (other 4xx; subclasses below for the cases callers branch on). A declined card is a
result (201 NotAuthed/Rejected), never an exception. Money crosses this module as Decimal + currency; minor
units exist only inside it. Card data never passes through here: cards are tokenised in the shopper's browser.
Docs: https://developer-eu.elavon.com/docs/opayo/ (Pi), .../opayo-reporting-api/ (Reporting).
"""

from __future__ import annotations

import hashlib
import logging
import xml.etree.ElementTree as ET  # types only; parsing goes through defusedxml
from datetime import datetime
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

import httpx
from defusedxml import ElementTree as SafeET
from django.conf import settings

from config.common.errors import (
    ConnectorError,
    DemoCredentialsRefused,
    PermanentConnectorError,
    RetryableConnectorError,
)
from config.common.http import CallLimiter, HttpClient, status_error
from payments.clients.opayo_types import (
    Batch,
    BatchGroup,
    BatchTransaction,
    OpayoInstruction,
    OpayoTransaction,
    ReportingTransaction,
    from_minor_units,
    parse_major_units,
    to_minor_units,
)

logger = logging.getLogger(__name__)
PROVIDER = "opayo"


class DuplicateVendorTxCode(PermanentConnectorError):
    """Opayo already has a transaction with this vendorTxCode (gateway code 4042): look it up, do not resend."""


class TransactionNotFound(PermanentConnectorError):
    """404 1012: Opayo has no transaction with this id."""


class OperationNotAllowed(PermanentConnectorError):
    """403 1017/1018/1021: the instruction or refund is not allowed in the transaction's state or amount."""


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def parse_transaction(body: dict[str, Any], http_status: int, currency_hint: str = "") -> OpayoTransaction:
    """Tolerant of the variations seen in the wild (amount as object or integer, numeric retrievalReference,
    dsTransId vs dsTranId), strict about money: an amount that is not an integer raises ValueError."""
    currency = _text(body.get("currency") or currency_hint).upper()
    raw_amount = body.get("amount")
    if isinstance(raw_amount, dict):
        raw_amount = raw_amount.get("totalAmount")
    amount = from_minor_units(raw_amount, currency) if raw_amount is not None and currency else None
    card = (body.get("paymentMethod") or {}).get("card") or {}
    decline = body.get("additionalDeclineDetail") or {}
    return OpayoTransaction(
        http_status=http_status,
        transaction_id=_text(body.get("transactionId")),
        transaction_type=_text(body.get("transactionType")),
        status=_text(body.get("status")),
        status_code=_text(body.get("statusCode")),
        status_detail=_text(body.get("statusDetail")),
        amount=amount,
        currency=currency,
        retrieval_reference=_text(body.get("retrievalReference")),
        bank_response_code=_text(body.get("bankResponseCode")),
        bank_authorisation_code=_text(body.get("bankAuthorisationCode")),
        card_type=_text(card.get("cardType")),
        last_four_digits=_text(card.get("lastFourDigits"))[-4:],
        avs_cvc_status=_text((body.get("avsCvcCheck") or {}).get("status")),
        three_d_secure_status=_text((body.get("3DSecure") or {}).get("status")),
        acs_url=_text(body.get("acsUrl")),
        settlement_reference_text=_text(body.get("settlementReferenceText")),
        decline_detail=_text(decline.get("additionalDeclineCodeDescription")),
        raw=sanitize_pi_body(body),
    )


_SENSITIVE_KEYS = {"cReq", "cRes", "paReq", "paRes", "cardNumber", "securityCode", "merchantSessionKey"}


def sanitize_pi_body(body: Any) -> Any:
    """What may be stored of a Pi body: 3-D Secure blobs and anything card-like are dropped (PCI DSS)."""
    if isinstance(body, str):
        return body.replace("\x00", "")
    if isinstance(body, dict):
        return {k: sanitize_pi_body(v) for k, v in body.items() if k not in _SENSITIVE_KEYS}
    if isinstance(body, list):
        return [sanitize_pi_body(v) for v in body]
    return body


def _limiter() -> CallLimiter | None:
    """The vendor's quotas shared by every worker, when OPAYO_RATE_LIMITS sets any (Opayo publishes none)."""
    if not settings.OPAYO_RATE_LIMITS:
        return None
    from config.common.ratelimit import SharedRateLimiter

    plans = {op: (float(rate), float(burst)) for op, (rate, burst) in settings.OPAYO_RATE_LIMITS.items()}
    return SharedRateLimiter(
        scope=f"opayo:{settings.OPAYO_VENDOR_NAME}", plans=plans, max_wait=settings.OPAYO_MAX_THROTTLE_WAIT_SECONDS,
        provider=PROVIDER,
    )  # fmt: skip


def demo_credentials_refuse(*, url: str, credentials: tuple[str, ...]) -> None:
    """The demo vendor exists only in the Opayo simulator: its name, keys and passwords are never sent to Opayo."""
    from config.common.demo.data import is_demo_opayo_credentials

    host = (httpx.URL(url).host or "").lower()
    real = host.endswith((".elavon.com", ".sagepay.com", ".opayo.co.uk", ".opayo.com"))
    if real and is_demo_opayo_credentials(*credentials):
        raise DemoCredentialsRefused(
            f"not calling Opayo at {host} with the Opayo simulator's demo vendor credentials: point OPAYO_PI_BASE_URL "
            "and OPAYO_REPORTING_URL at the simulator (the local settings do by default: http://127.0.0.1:8102, as "
            "`make run` serves it), or set the vendor's real OPAYO_* credentials.",
            provider=PROVIDER,
            operation="configure",
        )


class OpayoPiClient(HttpClient):
    provider = PROVIDER

    def __init__(self, *, base_url: str, integration_key: str, integration_password: str, timeout: float = 20.0):
        demo_credentials_refuse(url=base_url, credentials=(integration_key, integration_password))
        super().__init__(
            base_url=base_url, timeout=timeout, auth=httpx.BasicAuth(integration_key, integration_password)
        )

    @classmethod
    def from_settings(cls) -> OpayoPiClient:
        client = cls(
            base_url=settings.OPAYO_PI_BASE_URL,
            integration_key=settings.OPAYO_INTEGRATION_KEY,
            integration_password=settings.OPAYO_INTEGRATION_PASSWORD,
            timeout=settings.OPAYO_TIMEOUT_SECONDS,
        )
        client.limiter = _limiter()
        return client

    def error_from_response(self, response: httpx.Response, operation: str) -> ConnectorError:
        try:
            body = response.json()
        except ValueError:
            body = None
        errors: list[dict[str, Any]] = []
        if isinstance(body, dict) and isinstance(body.get("errors"), list):
            errors = [e for e in body["errors"] if isinstance(e, dict)]
        elif isinstance(body, dict) and "code" in body:
            errors = [body]
        codes = [_text(e.get("code")) for e in errors]
        message = "; ".join(
            f"{e.get('property')}: {e.get('clientMessage') or e.get('description')}"
            if e.get("property")
            else _text(e.get("description"))
            for e in errors
        ) or (response.reason_phrase or "error")
        code = codes[0] if codes else ""
        kwargs: dict[str, Any] = {
            "provider": PROVIDER,
            "operation": operation,
            "status_code": response.status_code,
            "code": code,
            "details": errors,
        }
        if "4042" in codes:
            return DuplicateVendorTxCode(message, **{**kwargs, "code": "4042"})
        if response.status_code == 404 and code == "1012":
            return TransactionNotFound(message, **kwargs)
        if response.status_code == 403 and code in ("1017", "1018", "1021", "1014", "1013"):
            return OperationNotAllowed(message, **kwargs)
        return status_error(
            response, provider=PROVIDER, operation=operation, message=message, code=code, details=errors
        )

    def _transaction(self, response: httpx.Response, operation: str, currency_hint: str) -> OpayoTransaction:
        try:
            body = response.json()
            if not isinstance(body, dict):
                raise ValueError("not an object")
            return parse_transaction(body, response.status_code, currency_hint)
        except ValueError as exc:
            # We cannot tell what happened: treat like a timeout (callers look the transaction up).
            raise RetryableConnectorError(
                f"unreadable transaction response: {exc}", provider=PROVIDER, operation=operation
            ) from exc

    def create_transaction(
        self,
        *,
        transaction_type: str,
        vendor_tx_code: str,
        amount: Decimal,
        currency: str,
        description: str,
        reference_transaction_id: str | None = None,
        settlement_reference_text: str = "",
        extra: dict[str, Any] | None = None,
    ) -> OpayoTransaction:
        """POST /transactions. Refund and Repeat need `reference_transaction_id` (Refund sends no currency).

        Raises DuplicateVendorTxCode when the code was used before; after a RetryableConnectorError the
        transaction may or may not exist: look it up by vendorTxCode (Reporting API) before sending again.
        """
        body: dict[str, Any] = {
            "transactionType": transaction_type,
            "vendorTxCode": vendor_tx_code,
            "amount": to_minor_units(amount, currency),
            "description": description[:100],
            **(extra or {}),
        }
        if transaction_type != "Refund":
            body["currency"] = currency
        if reference_transaction_id:
            body["referenceTransactionId"] = reference_transaction_id
        if settlement_reference_text:
            body["settlementReferenceText"] = settlement_reference_text[:30]
        response = self.request(
            "POST", "/transactions", operation="createTransaction", json=body, accept=lambda r: r.status_code == 202
        )
        return self._transaction(response, "createTransaction", currency)

    def get_transaction(self, *, transaction_id: str, currency_hint: str = "") -> OpayoTransaction:
        response = self.request("GET", f"/transactions/{transaction_id}", operation="getTransaction")
        return self._transaction(response, "getTransaction", currency_hint)

    def instruction(
        self, *, transaction_id: str, instruction_type: str, amount: Decimal | None = None, currency: str = ""
    ) -> OpayoInstruction:
        """void | abort | release (with amount) | cancel. 403 OperationNotAllowed when the state forbids it."""
        body: dict[str, Any] = {"instructionType": instruction_type}
        if amount is not None:
            body["amount"] = to_minor_units(amount, currency)
        response = self.request(
            "POST",
            f"/transactions/{transaction_id}/instructions",
            operation=f"instruction:{instruction_type}",
            json=body,
        )
        data = response.json()
        return OpayoInstruction(instruction_type=_text(data.get("instructionType")), date=_text(data.get("date")))


# --- Reporting & Admin API ----------------------------------------------------------------------------------


def reporting_signature(inner_xml: str, password: str) -> str:
    """MD5 of the inner <vspaccess> XML exactly as sent (without <signature>) plus <password>…</password>."""
    return hashlib.md5(
        (inner_xml + f"<password>{escape(password)}</password>").encode(), usedforsecurity=False
    ).hexdigest()


def _reporting_time(value: str) -> datetime | None:
    from zoneinfo import ZoneInfo

    for fmt in ("%d/%m/%Y %H:%M:%S.%f", "%d/%m/%Y %H:%M:%S"):
        try:
            return datetime.strptime(value.strip(), fmt).replace(tzinfo=ZoneInfo("Europe/London"))
        except ValueError:
            continue
    return None


class OpayoReportingClient(HttpClient):
    provider = PROVIDER

    def __init__(self, *, url: str, vendor: str, user: str, password: str, timeout: float = 30.0) -> None:
        demo_credentials_refuse(url=url, credentials=(vendor, user, password))
        # httpx would turn a base URL ending in access.htm into access.htm/: keep the path apart.
        parts = httpx.URL(url)
        super().__init__(base_url=str(parts.copy_with(path="/", query=None)), timeout=timeout)
        self.path = parts.path
        self.vendor, self.user, self.password = vendor, user, password

    @classmethod
    def from_settings(cls) -> OpayoReportingClient:
        client = cls(
            url=settings.OPAYO_REPORTING_URL,
            vendor=settings.OPAYO_VENDOR_NAME,
            user=settings.OPAYO_REPORTING_USER,
            password=settings.OPAYO_REPORTING_PASSWORD,
            timeout=settings.OPAYO_TIMEOUT_SECONDS,
        )
        client.limiter = _limiter()
        return client

    def command(self, command: str, params: list[tuple[str, str]]) -> ET.Element | None:
        """Run one command. Returns the <vspaccess> root, or None when Opayo says the object does not exist."""
        inner = (
            f"<command>{escape(command)}</command><vendor>{escape(self.vendor)}</vendor><user>{escape(self.user)}</user>"
            + "".join(f"<{name}>{escape(value)}</{name}>" for name, value in params)
        )
        signed = f"<vspaccess>{inner}<signature>{reporting_signature(inner, self.password)}</signature></vspaccess>"
        response = self.request("POST", self.path, operation=f"reporting:{command}", data={"XML": signed})
        try:
            root = SafeET.fromstring(response.content)
        except (ET.ParseError, ValueError) as exc:
            raise RetryableConnectorError(
                f"unreadable Reporting API answer: {exc}", provider=PROVIDER, operation=f"reporting:{command}"
            ) from exc
        code = (root.findtext("errorcode") or "").strip()
        if code == "0000":
            return root
        error = (root.findtext("error") or "").strip()
        if code in settings.OPAYO_REPORTING_NOT_FOUND_CODES:
            return None
        raise PermanentConnectorError(
            f"Reporting API {command}: {error or 'error'}",
            provider=PROVIDER,
            operation=f"reporting:{command}",
            code=code,
        )

    def get_transaction_detail(
        self, *, vendor_tx_code: str | None = None, vps_tx_id: str | None = None
    ) -> ReportingTransaction | None:
        """The recovery path after a create timed out: Pi has no lookup by vendorTxCode, Reporting does."""
        if bool(vendor_tx_code) == bool(vps_tx_id):
            raise ValueError("give exactly one of vendor_tx_code and vps_tx_id")
        param = ("vendortxcode", vendor_tx_code) if vendor_tx_code else ("vpstxid", vps_tx_id)
        root = self.command("getTransactionDetail", [(param[0], str(param[1]))])
        if root is None:
            return None
        values = {child.tag.lower(): (child.text or "").strip() for child in root}
        amount = values.get("amount", "")
        state = values.get("txstateid", "")
        return ReportingTransaction(
            vps_tx_id=values.get("vpstxid", "").strip("{}"),
            vendor_tx_code=values.get("vendortxcode", ""),
            transaction_type=values.get("transactiontype", ""),
            tx_state_id=int(state) if state.isdigit() else None,
            status=values.get("status", ""),
            amount=parse_major_units(amount) if amount else None,
            currency=values.get("currency", ""),
            batch_id=values.get("batchid", ""),
            vps_auth_code=values.get("vpsauthcode", ""),
            bank_auth_code=values.get("bankauthcode", ""),
            started=_reporting_time(values.get("started", "")),
            raw=values,
        )

    def get_batch_list(self, *, start: datetime, end: datetime) -> list[Batch]:
        fmt = "%d/%m/%Y %H:%M:%S"
        root = self.command("getBatchList", [("startdate", start.strftime(fmt)), ("enddate", end.strftime(fmt))])
        batches: list[Batch] = []
        for node in root.findall("./batches/batch") if root is not None else []:
            groups = [
                BatchGroup(
                    currency=(g.findtext("currency") or "").strip(),
                    payment_number=int(g.findtext("paymentnumber") or 0),
                    payment_value=parse_major_units(g.findtext("paymentvalue") or "0"),
                    refund_number=int(g.findtext("refundnumber") or 0),
                    refund_value=parse_major_units(g.findtext("refundvalue") or "0"),
                )
                for g in node.findall("./transactiongroups/transactiongroup")
            ]
            batches.append(
                Batch(
                    batch_id=(node.findtext("batchid") or "").strip(),
                    processor=(node.findtext("authprocessorname") or "").strip(),
                    completed=_reporting_time(node.findtext("completed") or ""),
                    groups=groups,
                    raw=ET.tostring(node, encoding="unicode").strip(),
                )
            )
        return batches

    def get_batch_detail(self, *, batch_id: str, page_size: int = 50) -> list[BatchTransaction]:
        rows: list[BatchTransaction] = []
        start = 1
        while True:
            root = self.command(
                "getBatchDetail",
                [("batchid", batch_id), ("startrow", str(start)), ("endrow", str(start + page_size - 1))],
            )
            nodes = root.findall("./transactions/transaction") if root is not None else []
            for node in nodes:
                amount = (node.findtext("amount") or "").strip()
                row_number = (node.findtext("rownumber") or "").strip()
                rows.append(
                    BatchTransaction(
                        vps_tx_id=(node.findtext("vpstxid") or "").strip().strip("{}"),
                        vendor_tx_code=(node.findtext("vendortxcode") or "").strip(),
                        transaction_type=(node.findtext("transactiontype") or "").strip(),
                        amount=parse_major_units(amount) if amount else None,
                        currency=(node.findtext("currency") or "").strip(),
                        started=_reporting_time(node.findtext("started") or ""),
                        row_number=int(row_number) if row_number.isdigit() else None,
                        raw={child.tag.lower(): (child.text or "").strip() for child in node},
                    )
                )
            total = int((root.findtext("./transactions/totalrows") if root is not None else None) or 0)
            if len(nodes) < page_size or (total and start + page_size > total):
                return rows
            start += page_size


# --- legacy Server protocol ----------------------------------------------------------------------------------

_SIGNED_FIELDS_3 = [
    "VPSTxId", "VendorTxCode", "Status", "TxAuthNo", "VendorName", "AVSCV2", "SecurityKey", "AddressResult",
    "PostCodeResult", "CV2Result", "GiftAid", "3DSecureStatus", "CAVV", "AddressStatus", "PayerStatus", "CardType",
    "Last4Digits", "DeclineCode", "ExpiryDate", "FraudResponse", "BankAuthCode",
]  # fmt: skip
_SIGNED_FIELDS_4 = [*_SIGNED_FIELDS_3, "ACSTransID", "DSTransID", "SchemeTraceID"]


def server_notification_signature(fields: dict[str, str], *, vendor_name: str, security_key: str) -> str:
    """VPSSignature: upper-case hex MD5 over the documented fields (protocol 4.00 adds three), with the
    vendor name lower-cased and our stored SecurityKey in place; missing fields count as empty."""
    names = _SIGNED_FIELDS_4 if fields.get("VPSProtocol", "").startswith("4") else _SIGNED_FIELDS_3
    values = {**fields, "VendorName": vendor_name.lower(), "SecurityKey": security_key}
    joined = "".join(values.get(name, "") for name in names)
    return hashlib.md5(joined.encode("utf-8"), usedforsecurity=False).hexdigest().upper()
