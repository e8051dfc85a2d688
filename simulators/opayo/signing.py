"""Opayo's two MD5 signatures, as plain functions (the simulator uses them; tests and clients cross-check with them).

- `server_notification_signature`: the legacy Server protocol's VPSSignature on the Notification POST.
- `reporting_signature`: the Reporting & Admin API's `<signature>` over the inner `<vspaccess>` XML.

MD5 is what Opayo specifies here; it is an integrity check against a shared secret, not our choice of hash.
"""

from __future__ import annotations

import hashlib
import re

# Protocol 2.2x/3.00: the documented order (https://www.opayo.co.uk/support/12/38/server-integration-the-notification-post).
# "VendorName" and "SecurityKey" are not posted: the vendor name (lower-cased) and the SecurityKey Opayo returned at
# registration are put in their places. Missing fields count as empty strings.
SIGNED_FIELDS_3 = (
    "VPSTxId", "VendorTxCode", "Status", "TxAuthNo", "VendorName", "AVSCV2", "SecurityKey", "AddressResult",
    "PostCodeResult", "CV2Result", "GiftAid", "3DSecureStatus", "CAVV", "AddressStatus", "PayerStatus", "CardType",
    "Last4Digits", "DeclineCode", "ExpiryDate", "FraudResponse", "BankAuthCode",
)  # fmt: skip
# Protocol 4.00 appends the 3-D Secure 2 identifiers.
SIGNED_FIELDS_4 = (*SIGNED_FIELDS_3, "ACSTransID", "DSTransID", "SchemeTraceID")


def signed_fields(protocol: str) -> tuple[str, ...]:
    """The signed field list for a VPSProtocol value ("" or "3.00" → the pre-4.00 list)."""
    try:
        major = int(protocol.strip().split(".")[0]) if protocol.strip() else 0
    except ValueError:
        major = 0
    return SIGNED_FIELDS_4 if major >= 4 else SIGNED_FIELDS_3


def server_notification_signature(fields: dict[str, str], *, vendor: str, security_key: str) -> str:
    """VPSSignature: upper-case hex MD5 of the signed fields' (URL-decoded) values, concatenated.

    The field list depends on `fields["VPSProtocol"]` (4.00 adds ACSTransID, DSTransID, SchemeTraceID). `vendor`
    is lower-cased; `security_key` is the 10-character key from the transaction registration.
    """
    values = {**fields, "VendorName": vendor.lower(), "SecurityKey": security_key}
    joined = "".join(str(values.get(name) or "") for name in signed_fields(str(fields.get("VPSProtocol") or "")))
    return hashlib.md5(joined.encode("utf-8"), usedforsecurity=False).hexdigest().upper()


def reporting_signature(inner_xml: str, password: str) -> str:
    """Lower-case hex MD5 of the inner `<vspaccess>` XML exactly as sent (without `<signature>`), with
    `<password>PASSWORD</password>` appended, UTF-8 encoded. Opayo accepts either hex case."""
    signed = f"{inner_xml}<password>{password}</password>"
    return hashlib.md5(signed.encode("utf-8"), usedforsecurity=False).hexdigest()


_SIGNATURE_ELEMENT = re.compile(r"<signature>\s*([^<]*?)\s*</signature>", re.IGNORECASE)


def split_signature(inner_xml: str) -> tuple[str, str | None]:
    """(the inner XML with its `<signature>` element removed, the signature value or None if absent)."""
    match = _SIGNATURE_ELEMENT.search(inner_xml)
    if match is None:
        return inner_xml, None
    return inner_xml[: match.start()] + inner_xml[match.end() :], match.group(1)
