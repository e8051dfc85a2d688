"""Opayo Pi REST v1 behaviour: merchant session keys, card identifiers, transactions, instructions and the 3-D
Secure challenge with its simulated ACS page. Pure functions of the state; app.py adds HTTP, auth, faults, counts.

Every function returns `(http_status, body)`. Error bodies follow the official shapes: a single
`{"code": "1017", "description": ...}`, or on 422 `{"errors": [{"code", "property", "description", "clientMessage"}]}`.
Codes are 4-digit strings, as in the official example.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from typing import Any

from simulators.opayo.state import (
    AVS_ADDRESS,
    AVS_POSTCODE,
    CURRENCY_EXPONENTS,
    DECLINE_CARDS,
    Card,
    Instruction,
    SessionKey,
    State,
    Transaction,
    Vendor,
    card_brand,
    iso_timestamp,
    luhn_ok,
    new_guid,
    uk_day,
)

Result = tuple[int, Any]

DESCRIPTIONS = {
    "1000": "Incorrect request format",
    "1001": "Authentication values are missing",
    "1002": "Authentication failed",
    "1003": "Missing mandatory field",
    "1004": "Invalid length",
    "1005": "Contains invalid characters",
    "1006": "Merchant Session Keys not found",
    "1007": "The card number has failed our validity checks and is invalid",
    "1008": "The card is not supported",
    "1009": "Contains invalid value",
    "1010": "Currency does not exist",
    "1011": "Merchant Session Keys or card identifier invalid",
    "1012": "Transaction not found",
    "1013": "Transaction type not supported",
    "1014": "Transaction status not applicable",
    "1015": "The request entity was empty",
    "1016": "This parameter requires an integer",
    "1017": "Operation not allowed for this transaction",
    "1018": "This refund amount will exceed the amount of the original transaction",
    "1019": "Transaction instructions not found",
    "1021": "This release amount will exceed the amount of the original transaction",
    "9998": "Request timeout",
    "9999": "An internal error occurred at Sage Pay",
}
STATUS_OF = {"1000": 400, "1001": 401, "1002": 401, "1006": 404, "1012": 404, "1019": 404, "9998": 408, "9999": 500}

LABELS = {
    "vendorName": "vendor name",
    "vendorTxCode": "vendor transaction code",
    "transactionType": "transaction type",
    "amount": "amount",
    "currency": "currency",
    "description": "description",
    "settlementReferenceText": "settlement reference text",
    "customerFirstName": "customer first name",
    "customerLastName": "customer last name",
    "customerEmail": "customer email",
    "referenceTransactionId": "reference transaction id",
    "billingAddress": "billing address",
    "billingAddress.address1": "billing address",
    "billingAddress.address2": "billing address 2",
    "billingAddress.address3": "billing address 3",
    "billingAddress.city": "billing city",
    "billingAddress.postalCode": "billing postcode",
    "billingAddress.country": "billing country",
    "billingAddress.state": "billing state",
    "paymentMethod": "payment method",
    "paymentMethod.card.merchantSessionKey": "merchant session key",
    "paymentMethod.card.cardIdentifier": "card identifier",
    "cardDetails": "card details",
    "cardDetails.cardholderName": "cardholder name",
    "cardDetails.cardNumber": "card number",
    "cardDetails.expiryDate": "expiry date",
    "cardDetails.securityCode": "security code",
    "instructionType": "instruction type",
    "cRes": "cRes",
    "apply3DSecure": "apply 3D secure setting",
    "applyAvsCvcCheck": "apply AVS/CVC check setting",
    "entryMethod": "entry method",
}
MESSAGES = {
    "1003": "The {} is required",
    "1004": "The {} is too long",
    "1005": "The {} contains invalid characters",
    "1007": "The card number is invalid",
    "1009": "The {} is invalid",
    "1010": "The currency is not supported",
    "1011": "The {} is invalid or has expired",
    "1016": "The {} must be an integer",
}
VENDOR_TX_CODE = re.compile(r"[A-Za-z0-9._{}-]+")
CARDHOLDER = re.compile(r"[A-Za-z0-9 .,'&/()-]+")
COUNTRY = re.compile(r"[A-Z]{2}")
CARD_TYPES = ("Payment", "Deferred", "Authenticate")
REFERENCE_TYPES = ("Repeat", "Refund", "Authorise")
THREE_DS_SETTINGS = ("UseMSPSetting", "Force", "Disable", "ForceIgnoringRules")
ENTRY_METHODS = ("Ecommerce", "MailOrder", "TelephoneOrder", "ContinuousAuthority")
INSTRUCTIONS = ("void", "abort", "release", "cancel")
# 3-D Secure v2 magic cardholder names (sandbox): name → frictionless 3DSecure.status (CHALLENGE and NOTAUTH aside).
MAGIC_NAMES = {
    "SUCCESSFUL": "Authenticated",
    "PROOFATTEMPT": "AttemptOnly",
    "NOTENROLLED": "CardNotEnrolled",
    "TECHDIFFICULTIES": "Incomplete",
    "ERROR": "Error",
}
REJECTED_3DS = "The Transaction was rejected because of the 3D-Authentication failed."
REJECTED_RULES = "The Authorisation was Rejected by the vendor rule-base."
DECLINED = "The Authorisation was Declined by the bank."
AUTHORISED = "The Authorisation was Successful."
CHALLENGE_DETAIL = "Please redirect your customer to the ACS to continue the 3D Secure process."
DECLINE_DETAIL = {
    "additionalDeclineCode": "03",
    "additionalDeclineCodeDescription": "DECLINED",
    "additionalDeclineCodeCategory": "03",
}


def error(code: str, status: int | None = None, description: str | None = None) -> Result:
    """A single-error answer with the official HTTP status for the code (403 for the rest)."""
    return status or STATUS_OF.get(code, 403), {"code": code, "description": description or DESCRIPTIONS[code]}


def field_error(code: str, prop: str, client_message: str | None = None) -> dict[str, str]:
    label = LABELS.get(prop, prop)
    return {
        "code": code,
        "property": prop,
        "description": DESCRIPTIONS[code],
        "clientMessage": client_message or MESSAGES.get(code, "The {} is invalid").format(label),
    }


def unprocessable(errors: list[dict[str, str]]) -> Result:
    return 422, {"errors": errors}


def parse_body(raw: bytes) -> dict[str, Any] | Result:
    """The JSON object body, or the error answer: 422 1015 when empty, 400 1000 when not a JSON object."""
    if not raw.strip():
        return unprocessable([field_error("1015", "", "The request was empty")])
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return error("1000")
    if not isinstance(data, dict):
        return error("1000")
    return data


class Checks:
    """Collects 422 field errors (Opayo reports several at once)."""

    def __init__(self) -> None:
        self.errors: list[dict[str, str]] = []

    def add(self, code: str, prop: str, client_message: str | None = None) -> None:
        self.errors.append(field_error(code, prop, client_message))

    def text(
        self,
        data: Any,
        key: str,
        prop: str,
        *,
        required: bool = True,
        max_len: int | None = None,
        pattern: re.Pattern[str] | None = None,
    ) -> str | None:
        value = data.get(key) if isinstance(data, dict) else None
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.add("1003", prop)
            return None
        if not isinstance(value, str):
            self.add("1009", prop)
            return None
        if max_len is not None and len(value) > max_len:
            self.add("1004", prop)
            return None
        if pattern is not None and not pattern.fullmatch(value):
            self.add("1005", prop)
            return None
        return value

    def integer(self, data: Any, key: str, prop: str, *, minimum: int = 1) -> int | None:
        value = data.get(key) if isinstance(data, dict) else None
        if value is None:
            self.add("1003", prop)
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.add("1016", prop)
            return None
        if value < minimum:
            self.add("1009", prop)
            return None
        return value

    def choice(self, data: Any, key: str, prop: str, choices: tuple[str, ...], default: str) -> str:
        value = data.get(key, default) if isinstance(data, dict) else default
        if value not in choices:
            self.add("1009", prop)
            return default
        return str(value)


# --- merchant session keys and card identifiers --------------------------------------------------------------


def create_msk(state: State, vendor: Vendor, data: dict[str, Any]) -> Result:
    checks = Checks()
    name = checks.text(data, "vendorName", "vendorName", max_len=15)
    if name is not None and name.lower() != vendor.vendor_name.lower():
        checks.add("1009", "vendorName", "The vendor name does not match the authentication credentials")
    if checks.errors:
        return unprocessable(checks.errors)
    now = state.now()
    key = SessionKey(new_guid(), vendor.vendor_name, now, now + state.settings.msk_ttl_seconds)
    state.session_keys[key.key] = key
    return 201, {"merchantSessionKey": key.key, "expiry": iso_timestamp(key.expires_at)}


def live_msk(state: State, key: str) -> SessionKey | None:
    msk = state.session_keys.get(key)
    if msk is None or msk.expires_at <= state.now() or msk.failures >= state.settings.msk_max_failures:
        return None
    return msk


def get_msk(state: State, vendor: Vendor, key: str) -> Result:
    msk = live_msk(state, key)
    if msk is None or msk.vendor != vendor.vendor_name:
        return error("1006")
    return 200, {"merchantSessionKey": msk.key, "expiry": iso_timestamp(msk.expires_at)}


def create_card_identifier(state: State, msk: SessionKey, data: dict[str, Any]) -> Result:
    """Tokenise a card. The number and CVV are read here and never stored (only brand, last four, expiry, name,
    whether the CVV matched the sandbox value and whether it is a decline card)."""
    checks = Checks()
    details = data.get("cardDetails")
    if not isinstance(details, dict):
        checks.add("1003", "cardDetails")
        details = {}
    name = checks.text(details, "cardholderName", "cardDetails.cardholderName", max_len=45, pattern=CARDHOLDER)
    number = checks.text(details, "cardNumber", "cardDetails.cardNumber", max_len=19)
    if number is not None:
        number = number.replace(" ", "")
        if not number.isascii() or not number.isdigit():
            checks.add("1005", "cardDetails.cardNumber")
            number = None
        elif not 12 <= len(number) <= 19 or not luhn_ok(number):
            checks.add("1007", "cardDetails.cardNumber")
            number = None
    expiry = checks.text(details, "expiryDate", "cardDetails.expiryDate")
    if expiry is not None:
        if len(expiry) != 4 or not expiry.isascii() or not expiry.isdigit() or not 1 <= int(expiry[:2]) <= 12:
            checks.add("1005", "cardDetails.expiryDate", "The expiry date has to be in MMYY format")
            expiry = None
        else:
            today = uk_day(state.now())
            if (2000 + int(expiry[2:]), int(expiry[:2])) < (today.year, today.month):
                checks.add("1009", "cardDetails.expiryDate", "The expiry date has to be in the future")
                expiry = None
    security = details.get("securityCode")
    if security is not None and not (isinstance(security, str) and security.isascii() and security.isdigit()):
        checks.add("1005", "cardDetails.securityCode")
        security = None
    elif isinstance(security, str) and not 3 <= len(security) <= 4:
        checks.add("1004", "cardDetails.securityCode")
        security = None
    if checks.errors or name is None or number is None or expiry is None:
        msk.failures += 1
        return unprocessable(checks.errors)
    card_type, payment_system, three_ds = card_brand(number)
    expected_cvv = "1234" if card_type == "AmericanExpress" else "123"
    cvv_result = "NotProvided" if not security else ("Matched" if security == expected_cvv else "NotMatched")
    now = state.now()
    card = Card(
        identifier=new_guid(),
        vendor=msk.vendor,
        msk=msk.key,
        card_type=card_type,
        payment_system=payment_system,
        last_four=number[-4:],
        expiry_date=expiry,
        cardholder_name=name,
        decline=number in DECLINE_CARDS,
        security_code=cvv_result,
        three_ds=three_ds,
        expires_at=now + state.settings.card_identifier_ttl_seconds,
    )  # the card number and the CVV go no further than this function
    msk.used = True
    state.cards[card.identifier] = card
    return 201, {"cardIdentifier": card.identifier, "expiry": iso_timestamp(card.expires_at), "cardType": card_type}


# --- transactions --------------------------------------------------------------------------------------------


def transaction_body(state: State, tx: Transaction) -> dict[str, Any]:
    """The Pi transaction object, as POST (201) and GET (200) return it. Never a card number."""
    if tx.status == "3DAuth":
        return {
            "statusCode": "2021",
            "statusDetail": CHALLENGE_DETAIL,
            "transactionId": tx.id,
            "status": "3DAuth",
            "acsUrl": tx.acs_url,
            "cReq": tx.creq,
            "acsTransId": tx.acs_trans_id,
            "dsTransId": tx.ds_trans_id,
        }
    code, detail = tx.current_code(state.settings)
    body: dict[str, Any] = {"statusCode": code, "statusDetail": detail, "transactionId": tx.id}
    if not tx.hide_type:
        body["transactionType"] = tx.tx_type
    if tx.retrieval_reference is not None:
        body["retrievalReference"] = tx.retrieval_reference
    if not tx.hide_type and tx.bank_response_code:
        body["bankResponseCode"] = tx.bank_response_code
    if tx.bank_authorisation_code is not None:
        body["bankAuthorisationCode"] = tx.bank_authorisation_code
    card = tx.card
    body["paymentMethod"] = {
        "card": {
            "cardType": card.card_type,
            "lastFourDigits": card.last_four,
            "expiryDate": card.expiry_date,
            "cardIdentifier": card.identifier,
            "reusable": False,
        }
    }
    body["amount"] = {"totalAmount": tx.amount, "saleAmount": tx.amount, "surchargeAmount": 0}
    body["currency"] = tx.currency
    if tx.decline_detail is not None:
        body["additionalDeclineDetail"] = dict(tx.decline_detail)
    body["status"] = tx.status
    if tx.avs is not None:
        body["avsCvcCheck"] = dict(tx.avs)
    if tx.three_ds is not None:
        body["3DSecure"] = {"status": tx.three_ds}
    if tx.settlement_reference_text:
        body["settlementReferenceText"] = tx.settlement_reference_text
    if tx.acs_trans_id and tx.status != "3DAuth":
        body["acsTransId"] = tx.acs_trans_id
        body["dsTransId"] = tx.ds_trans_id
    return body


def avs_result(card: Card, billing: dict[str, str]) -> dict[str, str]:
    """avsCvcCheck against the sandbox's magic values: address1 "88", postcode "412", CVV "123" (AmEx "1234")."""
    address = "Matched" if billing.get("address1", "").strip() == AVS_ADDRESS else "NotMatched"
    postcode = "Matched" if billing.get("postalCode", "").strip() == AVS_POSTCODE else "NotMatched"
    address_ok = address == postcode == "Matched"
    cvc_ok = card.security_code == "Matched"
    if address_ok and cvc_ok:
        status = "AllMatched"
    elif address_ok:
        status = "AddressMatchOnly"
    elif cvc_ok:
        status = "SecurityCodeMatchOnly"
    else:
        status = "NoMatches"
    return {"status": status, "address": address, "postalCode": postcode, "securityCode": card.security_code}


def authorise(state: State, tx: Transaction, vendor: Vendor) -> None:
    """The bank/rule-base step: strict AVS/CV2 → Rejected 2001; decline card → NotAuthed 2000; else success."""
    strict = tx.avs_mode in ("Force", "ForceIgnoringRules") or (vendor.strict_avs and tx.avs_mode != "Disable")
    tx.completed = state.now()
    if tx.avs is not None and strict and tx.avs["status"] != "AllMatched":
        tx.status, tx.status_code, tx.status_detail, tx.bank_response_code = "Rejected", "2001", REJECTED_RULES, "00"
        return
    if tx.card.decline:
        tx.status, tx.status_code, tx.status_detail, tx.bank_response_code = "NotAuthed", "2000", DECLINED, "05"
        tx.decline_detail = dict(DECLINE_DETAIL)
        return
    tx.bank_response_code = "00"
    tx.retrieval_reference = state.retrieval_reference()
    tx.bank_authorisation_code = "999777"
    if tx.tx_type == "Authenticate" and not tx.three_ds_active:
        tx.status, tx.status_code, tx.status_detail = "Registered", "2011", "The Transaction has been Registered."
        tx.retrieval_reference = tx.bank_authorisation_code = None
    elif tx.tx_type == "Authenticate":
        tx.status, tx.status_code, tx.status_detail = "Authenticated", "2010", "The Authentication was Successful."
    else:
        tx.status, tx.status_code, tx.status_detail = "Ok", "0000", AUTHORISED


def b64url(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def validate_billing(checks: Checks, data: dict[str, Any]) -> dict[str, str]:
    billing = data.get("billingAddress")
    if not isinstance(billing, dict):
        checks.add("1003", "billingAddress")
        return {}
    values: dict[str, str] = {}
    for key, required, max_len in (
        ("address1", True, 50),
        ("address2", False, 50),
        ("address3", False, 50),
        ("city", True, 40),
        ("postalCode", False, 10),
        ("country", True, 2),
        ("state", False, 2),
    ):
        value = checks.text(billing, key, f"billingAddress.{key}", required=required, max_len=max_len)
        if value is not None:
            values[key] = value
    country = values.get("country")
    if country is not None and not COUNTRY.fullmatch(country):
        checks.add("1009", "billingAddress.country")
    elif country is not None and country != "IE" and "postalCode" not in values:
        checks.add("1003", "billingAddress.postalCode")
    return values


def create_transaction(state: State, vendor: Vendor, data: dict[str, Any], base_url: str) -> Result:
    checks = Checks()
    tx_type = data.get("transactionType")
    if tx_type is None:
        checks.add("1003", "transactionType")
    elif tx_type not in CARD_TYPES + REFERENCE_TYPES:
        checks.add("1009", "transactionType")
    code = checks.text(data, "vendorTxCode", "vendorTxCode", max_len=40, pattern=VENDOR_TX_CODE)
    amount = checks.integer(data, "amount", "amount", minimum=0 if tx_type == "Authenticate" else 1)
    currency: str | None = None
    if tx_type != "Refund":
        currency = checks.text(data, "currency", "currency", required=tx_type != "Authorise", max_len=3)
        if currency is not None and currency not in CURRENCY_EXPONENTS:
            checks.add("1010", "currency")
            currency = None
    description = checks.text(data, "description", "description", max_len=100)
    reference_text = checks.text(data, "settlementReferenceText", "settlementReferenceText", required=False, max_len=30)
    if tx_type in REFERENCE_TYPES:
        reference_id = checks.text(data, "referenceTransactionId", "referenceTransactionId")
        if checks.errors:
            return unprocessable(checks.errors)
        assert code is not None and amount is not None and description is not None and reference_id is not None
        return reference_transaction(
            state, vendor, str(tx_type), code, amount, currency, description, reference_id, reference_text
        )
    first = checks.text(data, "customerFirstName", "customerFirstName", max_len=20)
    last = checks.text(data, "customerLastName", "customerLastName", max_len=20)
    checks.text(data, "customerEmail", "customerEmail", required=False, max_len=80)
    billing = validate_billing(checks, data)
    three_ds_mode = checks.choice(data, "apply3DSecure", "apply3DSecure", THREE_DS_SETTINGS, "UseMSPSetting")
    avs_mode = checks.choice(data, "applyAvsCvcCheck", "applyAvsCvcCheck", THREE_DS_SETTINGS, "UseMSPSetting")
    entry_method = checks.choice(data, "entryMethod", "entryMethod", ENTRY_METHODS, "Ecommerce")
    method = data.get("paymentMethod")
    card_data = method.get("card") if isinstance(method, dict) else None
    if not isinstance(card_data, dict):
        checks.add("1003", "paymentMethod")
        card_data = {}
    msk_key = checks.text(card_data, "merchantSessionKey", "paymentMethod.card.merchantSessionKey")
    card_id = checks.text(card_data, "cardIdentifier", "paymentMethod.card.cardIdentifier")
    sca = data.get("strongCustomerAuthentication")
    notification_url = sca.get("notificationURL") if isinstance(sca, dict) else None
    if checks.errors:
        return unprocessable(checks.errors)
    assert code is not None and amount is not None and currency is not None and description is not None
    duplicate = duplicate_answer(state, vendor, code)
    if duplicate is not None:
        return duplicate
    msk = live_msk(state, msk_key or "")
    if msk is None or msk.vendor != vendor.vendor_name:
        checks.add("1011", "paymentMethod.card.merchantSessionKey")
    card = state.cards.get(card_id or "")
    if card is None or card.used or card.expires_at <= state.now() or card.msk != msk_key:
        checks.add("1011", "paymentMethod.card.cardIdentifier")
    if checks.errors or card is None:
        return unprocessable(checks.errors)
    card.used = True
    now = state.now()
    tx = Transaction(
        id=new_guid(),
        vendor=vendor.vendor_name,
        vendor_tx_code=code,
        tx_type=str(tx_type),
        amount=amount,
        currency=currency,
        description=description,
        started=now,
        card=card,
        customer_first_name=first or "",
        customer_last_name=last or "",
        billing=billing,
        settlement_reference_text=reference_text,
        avs_mode=avs_mode,
        three_ds_active=three_ds_mode != "Disable" and entry_method == "Ecommerce",
        notification_url=str(notification_url) if notification_url else None,
    )
    tx.avs = avs_result(card, billing)
    register(state, tx)
    name = card.cardholder_name.strip().upper()
    if tx.three_ds_active:
        tx.acs_trans_id, tx.ds_trans_id = new_guid().lower(), new_guid().lower()
    if tx.three_ds_active and name == "CHALLENGE":
        tx.status, tx.status_code, tx.status_detail = "3DAuth", "2021", CHALLENGE_DETAIL
        tx.acs_url = f"{base_url.rstrip('/')}/acs/{tx.id}"
        tx.creq = b64url(
            {
                "threeDSServerTransID": new_guid().lower(),
                "acsTransID": tx.acs_trans_id,
                "messageType": "CReq",
                "messageVersion": "2.1.0",
                "challengeWindowSize": "05",
            }
        )
        tx.challenge_open = True
        return 202, transaction_body(state, tx)
    if tx.three_ds_active and name == "NOTAUTH":
        tx.status, tx.status_code, tx.status_detail = "Rejected", "2001", REJECTED_3DS
        tx.three_ds, tx.completed = "NotAuthenticated", now
        return 201, transaction_body(state, tx)
    tx.three_ds = MAGIC_NAMES.get(name, card.three_ds) if tx.three_ds_active else "NotChecked"
    authorise(state, tx, vendor)
    return 201, transaction_body(state, tx)


def duplicate_answer(state: State, vendor: Vendor, code: str) -> Result | None:
    if (vendor.vendor_name, code) not in state.by_code:
        return None
    body = state.settings.duplicate_vendortxcode_body or {
        "errors": [
            {
                "code": "4042",
                "property": "vendorTxCode",
                "description": "The VendorTxCode has been used before for another transaction",
                "clientMessage": "The vendor transaction code has been used before. Each transaction needs a unique "
                "VendorTxCode.",
            }
        ]
    }
    return state.settings.duplicate_vendortxcode_status, body


def register(state: State, tx: Transaction) -> None:
    state.transactions[tx.id] = tx
    state.by_code[(tx.vendor, tx.vendor_tx_code)] = tx.id


def reference_transaction(
    state: State,
    vendor: Vendor,
    tx_type: str,
    code: str,
    amount: int,
    currency: str | None,
    description: str,
    reference_id: str,
    reference_text: str | None,
) -> Result:
    """Repeat, Refund and Authorise: a new transaction on the card of an earlier one (no card data needed)."""
    duplicate = duplicate_answer(state, vendor, code)
    if duplicate is not None:
        return duplicate
    original = state.transactions.get(reference_id.strip("{}").upper())
    if original is None or original.vendor != vendor.vendor_name:
        return error("1012")
    now = state.now()
    captured = original.captured_amount()
    if tx_type == "Refund":
        if captured is None or original.voided or original.tx_type == "Refund":
            return error("1017")
        if original.refunded_total + amount > captured:
            return error("1018")
    elif tx_type == "Repeat":
        if captured is None or original.tx_type == "Refund":
            return error("1017")
    elif (
        original.tx_type != "Authenticate"
        or original.status not in ("Authenticated", "Registered")
        or original.cancelled
        or original.authorised_total + amount > original.authorise_limit(state.settings)
    ):
        return error("1017")
    tx = Transaction(
        id=new_guid(),
        vendor=vendor.vendor_name,
        vendor_tx_code=code,
        tx_type=tx_type,
        amount=amount,
        currency=original.currency if tx_type in ("Refund", "Authorise") or not currency else currency,
        description=description,
        started=now,
        card=original.card,
        customer_first_name=original.customer_first_name,
        customer_last_name=original.customer_last_name,
        billing=dict(original.billing),
        settlement_reference_text=reference_text,
        reference_id=original.id,
        three_ds_active=False,
    )
    tx.avs = {"status": "NotChecked", "address": "NotChecked", "postalCode": "NotChecked", "securityCode": "NotChecked"}
    tx.three_ds = "NotChecked"
    register(state, tx)
    original.children.append(tx.id)
    if tx_type == "Refund":
        tx.status, tx.status_code, tx.status_detail, tx.completed = "Ok", "0000", AUTHORISED, now
        tx.retrieval_reference, tx.bank_authorisation_code = state.retrieval_reference(), "999777"
        original.refunded_total += amount
    else:
        authorise(state, tx, vendor)
        if tx_type == "Authorise" and tx.status == "Ok":
            original.authorised_total += amount
    return 201, transaction_body(state, tx)


def own_transaction(state: State, vendor: Vendor, transaction_id: str) -> Transaction | None:
    tx = state.transactions.get(transaction_id.strip("{}").upper())
    return tx if tx is not None and tx.vendor == vendor.vendor_name else None


def get_transaction(state: State, vendor: Vendor, transaction_id: str) -> Result:
    tx = own_transaction(state, vendor, transaction_id)
    if tx is None:
        return error("1012")
    return 200, transaction_body(state, tx)


# --- instructions --------------------------------------------------------------------------------------------


def instruction(state: State, vendor: Vendor, transaction_id: str, data: dict[str, Any]) -> Result:
    tx = own_transaction(state, vendor, transaction_id)
    if tx is None:
        return error("1012")
    checks = Checks()
    kind = data.get("instructionType")
    if kind is None:
        checks.add("1003", "instructionType")
    elif kind not in INSTRUCTIONS:
        checks.add("1009", "instructionType")
    amount = checks.integer(data, "amount", "amount") if kind == "release" else None
    if checks.errors:
        return unprocessable(checks.errors)
    now, settings = state.now(), state.settings
    unreleased_deferred = (
        tx.tx_type == "Deferred"
        and tx.status == "Ok"
        and tx.released_amount is None
        and not tx.aborted
        and not tx.voided
        and not tx.expired(now, settings)
    )
    if kind == "release":
        assert amount is not None
        if not unreleased_deferred:
            return error("1017")
        if amount > tx.amount:
            return error("1021")
        tx.released_amount, tx.released_at = amount, now
    elif kind == "abort":
        if not unreleased_deferred:
            return error("1017")
        tx.aborted = True
    elif kind == "void":
        voidable = tx.status == "Ok" and (
            tx.tx_type in ("Payment", "Repeat", "Refund", "Authorise")
            or (tx.tx_type == "Deferred" and tx.released_amount is not None and not tx.aborted)
        )
        if not voidable or tx.voided or tx.batch_id is not None or tx.refunded_total > 0:
            return error("1017")
        tx.voided = True
        if tx.tx_type == "Refund" and tx.reference_id in state.transactions:
            state.transactions[tx.reference_id].refunded_total -= tx.amount
        if tx.tx_type == "Authorise" and tx.reference_id in state.transactions:
            state.transactions[tx.reference_id].authorised_total -= tx.amount
    else:  # cancel
        if tx.tx_type != "Authenticate" or tx.status not in ("Authenticated", "Registered") or tx.cancelled:
            return error("1017")
        tx.cancelled = True
    tx.instructions.append(Instruction(str(kind), now, amount))
    return 201, {"instructionType": kind, "date": iso_timestamp(now)}


def get_instructions(state: State, vendor: Vendor, transaction_id: str) -> Result:
    tx = own_transaction(state, vendor, transaction_id)
    if tx is None:
        return error("1012")
    if not tx.instructions:
        return error("1019")
    return 200, {
        "instructions": [
            {"instructionType": item.instruction_type, "date": iso_timestamp(item.date)} for item in tx.instructions
        ]
    }


# --- 3-D Secure challenge and the simulated ACS --------------------------------------------------------------


def three_ds_challenge(state: State, vendor: Vendor, transaction_id: str, data: dict[str, Any]) -> Result:
    tx = own_transaction(state, vendor, transaction_id)
    if tx is None:
        return error("1012")
    checks = Checks()
    cres = checks.text(data, "cRes", "cRes")
    if checks.errors:
        return unprocessable(checks.errors)
    if tx.status != "3DAuth" or not tx.challenge_open:
        return error("1017")
    tx.challenge_open = False
    if tx.issued_cres.get(cres or "") is True:
        tx.three_ds = "Authenticated"
        authorise(state, tx, state.vendors.get(tx.vendor, vendor))
    else:
        tx.status, tx.status_code, tx.status_detail = "Rejected", "2001", REJECTED_3DS
        tx.three_ds, tx.hide_type, tx.completed = "NotAuthenticated", True, state.now()
        tx.bank_response_code = ""
    return state.settings.challenge_result_status, transaction_body(state, tx)


def acs_challenge_transaction(state: State, transaction_id: str) -> Transaction | None:
    tx = state.transactions.get(transaction_id.strip("{}").upper())
    return tx if tx is not None and tx.status == "3DAuth" and tx.challenge_open else None


def acs_answer(state: State, tx: Transaction, answer: str) -> tuple[str, bool]:
    """The cres the ACS hands the browser for this answer (right answer → transStatus Y, else N)."""
    ok = answer.strip().lower() == state.settings.acs_answer.strip().lower()
    cres = b64url(
        {
            "acsTransID": tx.acs_trans_id,
            "messageType": "CRes",
            "messageVersion": "2.1.0",
            "transStatus": "Y" if ok else "N",
            "nonce": secrets.token_hex(8),
        }
    )
    tx.issued_cres[cres] = ok
    return cres, ok
