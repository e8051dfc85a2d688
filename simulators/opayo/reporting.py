"""Opayo's Reporting & Admin API (`POST /access/access.htm`, form field `XML=<vspaccess>…</vspaccess>`).

Requests are checked like Opayo does: the XML must parse (0001) with a `<vspaccess>` root (0002), the vendor and
user must be a registered reporting user (0008), and `<signature>` must be the MD5 of the inner XML exactly as sent
minus the signature element, with `<password>…</password>` appended (0010, either hex case). Error codes and texts
are Opayo's published table (https://developer.elavon.com/products/en-uk/opayo-reporting-api/v1/error-codes).

Answers are always HTTP 200 with `<errorcode>0000</errorcode>` on success; amounts are decimal major units and
dates `dd/mm/yyyy HH:MM:SS[.mmm]` in UK time, both built from the same store as the Pi API.
"""

from __future__ import annotations

import hmac
import re
import xml.etree.ElementTree as ET  # types only; parsing goes through defusedxml
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from defusedxml import ElementTree as SafeET

from simulators.opayo.signing import reporting_signature, split_signature
from simulators.opayo.state import (
    REPORTING_COMMANDS,
    TX_STATES,
    Batch,
    State,
    Transaction,
    Vendor,
    major_units,
    parse_uk_timestamp,
    uk_timestamp,
)

ERRORS = {
    "0001": "The message received was not valid XML.",
    "0002": "Invalid command. XML root node should be vspaccess.",
    "0008": "The specified vendor and user combination is not valid, or the user may be locked out.",
    "0009": "Error (retrieving/updating or inserting) data. Please email support@opayo.io with this error.",
    "0010": "Cannot validate the signature value.",
    "0013": "The command passed in the command parameter was not recognised.",
    "0019": "Error parsing the request XML. Check the format of your request message.",
    "0038": "The start date you have supplied is after the end date.",
    "0039": "The end date is more than one month after the start date. You can only return reports at monthly "
    "intervals.",
    "0042": "You must supply one of the following nodes with this command, either vendortxcode OR vpstxid .",
    "0099": "Start Row and End Row range too large. The difference between the startrow and endrow value must be no "
    "greater than 50.",
}
_ENVELOPE = re.compile(r"\s*(?:<\?xml[^>]*\?>\s*)?<vspaccess>(.*)</vspaccess>\s*", re.DOTALL)
_COMMAND = re.compile(r"<command>\s*([^<]*?)\s*</command>", re.IGNORECASE)
THREE_D_RESULTS = {
    "Authenticated": "OK",
    "NotAuthenticated": "NOTAUTHED",
    "AttemptOnly": "ATTEMPTONLY",
    "CardNotEnrolled": "NOTAVAILABLE",
    "IssuerNotEnrolled": "NOTAVAILABLE",
    "Incomplete": "INCOMPLETE",
    "Error": "ERROR",
    "NotChecked": "NOTCHECKED",
}
CHECK_RESULTS = {"Matched": "MATCHED", "NotMatched": "NOTMATCHED", "NotProvided": "NOTPROVIDED"}
RESULTS = {"Ok": "SUCCESS", "Authenticated": "SUCCESS", "Registered": "SUCCESS", "NotAuthed": "NOTAUTHED"}


class ReportingError(Exception):
    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.message = message or ERRORS.get(code, "Error.")


@dataclass
class ReportingRequest:
    command: str
    vendor: Vendor
    values: dict[str, str]  # lower-cased element name → text


def command_name(raw: bytes) -> str:
    """The `<command>` of a request, read cheaply (for fault matching and call counts); "" when unreadable."""
    match = _COMMAND.search(raw_xml(raw) or "")
    return match.group(1) if match else ""


def raw_xml(raw: bytes) -> str | None:
    for key, value in parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True):
        if key.upper() == "XML":
            return value
    return None


def parse_request(state: State, raw: bytes) -> ReportingRequest:
    """Parse and authenticate a request; ReportingError with Opayo's code otherwise."""
    xml = raw_xml(raw)
    if xml is None:
        raise ReportingError("0001")
    try:
        root = SafeET.fromstring(xml)
    except (ET.ParseError, ValueError) as exc:
        raise ReportingError("0001") from exc
    envelope = _ENVELOPE.fullmatch(xml)
    if root.tag != "vspaccess" or envelope is None:
        raise ReportingError("0002")
    values = {child.tag.lower(): (child.text or "").strip() for child in root}
    vendor = next(
        (v for v in state.vendors.values() if v.vendor_name.lower() == values.get("vendor", "").lower()), None
    )
    if vendor is None or not vendor.reporting_user or vendor.reporting_user.lower() != values.get("user", "").lower():
        raise ReportingError("0008")
    unsigned, signature = split_signature(envelope.group(1))
    if signature is None or not any(
        hmac.compare_digest(signature.lower(), reporting_signature(unsigned, password))
        for password in {vendor.reporting_password, escape(vendor.reporting_password)}
    ):
        raise ReportingError("0010")
    command = values.get("command", "")
    if command not in REPORTING_COMMANDS:
        raise ReportingError("0013")
    return ReportingRequest(command, vendor, values)


def element(name: str, value: Any) -> str:
    return f"<{name}>{escape(str(value))}</{name}>"


def answer(state: State, body: str = "", code: str = "0000", error: str | None = None) -> str:
    parts = ["<vspaccess>", element("errorcode", code)]
    if error is not None:
        parts.append(element("error", error))
    parts.append(element("timestamp", uk_timestamp(state.now())))
    parts.append(body)
    parts.append("</vspaccess>")
    return "".join(parts)


def error_answer(state: State, exc: ReportingError) -> str:
    return answer(state, code=exc.code, error=exc.message)


def execute(state: State, request: ReportingRequest) -> str:
    """The XML answer to an authenticated request (errors as XML too)."""
    handler = {
        "getTransactionDetail": transaction_detail,
        "getTransactionList": transaction_list,
        "getBatchList": batch_list,
        "getBatchDetail": batch_detail,
    }[request.command]
    try:
        return answer(state, handler(state, request))
    except ReportingError as exc:
        return error_answer(state, exc)


# --- helpers -------------------------------------------------------------------------------------------------


def reported_amount(tx: Transaction) -> int:
    """What the Reporting API shows as the amount: a released Deferred shows the released amount."""
    return tx.released_amount if tx.released_amount is not None else tx.amount


def date_range(state: State, values: dict[str, str]) -> tuple[float, float]:
    start = parse_uk_timestamp(values.get("startdate", ""))
    end = parse_uk_timestamp(values.get("enddate", ""))
    if start is None or end is None:
        raise ReportingError("0019")
    if start > end:
        raise ReportingError("0038")
    days = state.settings.reporting_max_range_days
    if days and end - start > days * 86400:
        raise ReportingError("0039")
    if len(values.get("enddate", "").strip()) == 10:  # a bare date covers the whole day
        end += 86400 - 0.001
    return start, end


def row_range(state: State, values: dict[str, str]) -> tuple[int, int]:
    try:
        start = int(values.get("startrow") or 1)
        end = int(values.get("endrow") or start + state.settings.reporting_max_rows - 1)
    except ValueError:
        raise ReportingError("0019") from None
    start = max(start, 1)
    if end < start:
        raise ReportingError("0019")
    if end - start > state.settings.reporting_max_rows:
        raise ReportingError("0099")
    return start, end


def paged(rows: list[str], start: int, end: int) -> str:
    """`<transactions><startrow/><endrow/><totalrows/>…rows…</transactions>` for rows numbered from 1."""
    chosen = rows[start - 1 : end]
    last = start + len(chosen) - 1 if chosen else 0
    head = element("startrow", start if chosen else 0) + element("endrow", last) + element("totalrows", len(rows))
    return f"<transactions>{head}{''.join(chosen)}</transactions>"


# --- commands ------------------------------------------------------------------------------------------------


def transaction_detail(state: State, request: ReportingRequest) -> str:
    values, vendor = request.values, request.vendor.vendor_name
    vps_tx_id, code = values.get("vpstxid", ""), values.get("vendortxcode", "")
    tx: Transaction | None = None
    if vps_tx_id:
        tx = state.transactions.get(vps_tx_id.strip("{}").upper())
    elif code:
        tx_id = state.by_code.get((vendor, code))
        tx = state.transactions.get(tx_id) if tx_id else None
    else:
        raise ReportingError("0042")
    if tx is None or tx.vendor != vendor:
        raise ReportingError(state.settings.reporting_not_found_code, state.settings.reporting_not_found_error)
    now, settings = state.now(), state.settings
    state_id = tx.tx_state(now, settings)
    avs = tx.avs or {}
    card = tx.card
    fields: list[tuple[str, Any]] = [
        ("vpstxid", tx.id),
        ("vendortxcode", tx.vendor_tx_code),
        ("transactiontype", tx.tx_type),
        ("txstateid", state_id),
        ("status", TX_STATES.get(state_id, "")),
        ("description", tx.description),
        ("amount", major_units(reported_amount(tx), tx.currency)),
        ("currency", tx.currency),
        ("started", uk_timestamp(tx.started, millis=True)),
        ("completed", uk_timestamp(tx.completed, millis=True) if tx.completed is not None else ""),
        ("giftaid", "NO"),
        ("paymentsystem", card.payment_system),
        ("paymentsystemdetails", card.card_type),
        ("cardtype", card.payment_system),
        ("expirydate", card.expiry_date),
        ("last4digits", card.last_four),
        ("authprocessor", settings.acquirer),
        ("accounttype", "E"),
        ("vpsauthcode", tx.retrieval_reference if tx.retrieval_reference is not None else ""),
        ("bankauthcode", tx.bank_authorisation_code or ""),
    ]
    if tx.batch_id is not None:
        fields.append(("batchid", tx.batch_id))
    fields += [
        ("billingfirstnames", tx.customer_first_name),
        ("billingsurname", tx.customer_last_name),
        ("billingaddress", tx.billing.get("address1", "")),
        ("billingcity", tx.billing.get("city", "")),
        ("billingpostcode", tx.billing.get("postalCode", "")),
        ("billingcountry", tx.billing.get("country", "")),
        ("cardholder", card.cardholder_name),
        ("cv2result", CHECK_RESULTS.get(avs.get("securityCode", ""), "NOTCHECKED")),
        ("addressresult", CHECK_RESULTS.get(avs.get("address", ""), "NOTCHECKED")),
        ("postcoderesult", CHECK_RESULTS.get(avs.get("postalCode", ""), "NOTCHECKED")),
        ("threedresult", THREE_D_RESULTS.get(tx.three_ds or "NotChecked", "NOTCHECKED")),
        ("refunded", "YES" if tx.refunded_total > 0 else "NO"),
        ("repeated", "YES" if any(state.transactions[c].tx_type == "Repeat" for c in tx.children) else "NO"),
        ("declinecode", "05" if tx.status == "NotAuthed" else ("00" if tx.status != "3DAuth" else "")),
        ("surcharge", major_units(0, tx.currency)),
    ]
    related = state.transactions.get(tx.reference_id) if tx.reference_id else None
    if related is not None:
        fields += [
            ("relatedtransactionid", related.id),
            ("relatedvendortxcode", related.vendor_tx_code),
            ("relatedamount", major_units(reported_amount(related), related.currency)),
            ("relatedcurrency", related.currency),
            ("relatedstarted", uk_timestamp(related.started, millis=True)),
        ]
    return "".join(element(name, value) for name, value in fields)


def transaction_list(state: State, request: ReportingRequest) -> str:
    start, end = date_range(state, request.values)
    first, last = row_range(state, request.values)
    vendor, now, settings = request.vendor.vendor_name, state.now(), state.settings
    chosen = sorted(
        (tx for tx in state.transactions.values() if tx.vendor == vendor and start <= tx.started <= end),
        key=lambda tx: (tx.started, tx.id),
    )
    rows = []
    for number, tx in enumerate(chosen, 1):
        if not first <= number <= last:
            rows.append("")
            continue
        state_id = tx.tx_state(now, settings)
        parts = [
            element("rownumber", number),
            element("vpstxid", tx.id),
            element("vendortxcode", tx.vendor_tx_code),
            element("transactiontype", tx.tx_type),
            element("txstateid", state_id),
            element("result", RESULTS.get(tx.status, "REJECTED" if tx.status == "Rejected" else "INCOMPLETE")),
            element("currency", tx.currency),
            element("amount", major_units(reported_amount(tx), tx.currency)),
            element("started", uk_timestamp(tx.started, millis=True)),
            element("authprocessor", settings.acquirer),
            element("paymentsystem", tx.card.payment_system),
            element("last4digits", tx.card.last_four),
            element("refunded", "YES" if tx.refunded_total > 0 else "NO"),
        ]
        if tx.batch_id is not None:
            parts.append(element("batchid", tx.batch_id))
        rows.append(f"<transaction>{''.join(parts)}</transaction>")
    return paged(rows, first, last)


def batch_list(state: State, request: ReportingRequest) -> str:
    start, end = date_range(state, request.values)
    vendor = request.vendor.vendor_name
    chosen = sorted(
        (b for b in state.batches.values() if b.vendor == vendor and start <= b.completed <= end),
        key=lambda b: (b.completed, b.batch_id),
    )
    return "<batches>" + "".join(batch_xml(batch) for batch in chosen) + "</batches>"


def batch_xml(batch: Batch) -> str:
    groups = "".join(
        "<transactiongroup>"
        + element("currency", currency)
        + element("paymentnumber", values[0])
        + element("paymentvalue", major_units(values[1], currency))
        + element("refundnumber", values[2])
        + element("refundvalue", major_units(values[3], currency))
        + "</transactiongroup>"
        for currency, values in sorted(batch.groups.items())
    )
    return (
        "<batch>"
        + element("batchid", batch.batch_id)
        + element("authprocessorname", batch.processor)
        + element("completed", uk_timestamp(batch.completed, millis=True))
        + f"<transactiongroups>{groups}</transactiongroups>"
        + "</batch>"
    )


def batch_detail(state: State, request: ReportingRequest) -> str:
    values = request.values
    try:
        batch_id = int(values.get("batchid", ""))
    except ValueError:
        raise ReportingError("0019") from None
    first, last = row_range(state, values)
    batch = state.batches.get(batch_id)
    processor = values.get("authprocessor", "")
    ids: list[str] = []
    if (
        batch is not None
        and batch.vendor == request.vendor.vendor_name
        and (not processor or processor.lower() == batch.processor.lower())
    ):
        ids = batch.transaction_ids
    rows = []
    for number, tx_id in enumerate(ids, 1):
        if not first <= number <= last:
            rows.append("")
            continue
        tx = state.transactions[tx_id]
        rows.append(
            "<transaction>"
            + element("rownumber", number)
            + element("vpstxid", tx.id)
            + element("vendortxcode", tx.vendor_tx_code)
            + element("transactiontype", tx.tx_type)
            + element("amount", major_units(tx.captured_amount() or 0, tx.currency))
            + element("currency", tx.currency)
            + element("started", uk_timestamp(tx.started, millis=True))
            + element("vpsauthcode", tx.retrieval_reference if tx.retrieval_reference is not None else "")
            + element("bankauthcode", tx.bank_authorisation_code or "")
            + element("paymentsystem", tx.card.payment_system)
            + element("last4digits", tx.card.last_four)
            + element("refunded", "YES" if tx.refunded_total > 0 else "NO")
            + "</transaction>"
        )
    return paged(rows, first, last)
