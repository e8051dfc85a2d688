"""Opayo Server-protocol notification POSTs: store raw, verify VPSSignature, apply once, always reply.

Opayo requires an answer "in all circumstances" in its `Status=… RedirectURL=… StatusDetail=…` format and
retries (for up to 30 days) until it gets one; the same notification may arrive many times, so applying it
is idempotent under a row lock on the ledger transaction.
"""

from __future__ import annotations

import hmac
import logging
from urllib.parse import parse_qsl

from django.conf import settings
from django.db import transaction

from payments.clients.opayo import server_notification_signature
from payments.models import OpayoNotification, Payment, PaymentTransaction
from payments.services.ledger import payment_recompute

logger = logging.getLogger(__name__)
ACTOR = "system:opayo-notification"
T = PaymentTransaction.State
MAX_BODY = 16 * 1024
# Server-protocol Status → ledger state (omnipay-sagepay ConstantsInterface; PENDING changes nothing yet).
_STATES = {
    "OK": T.OK, "OK REPEATED": T.OK, "AUTHENTICATED": T.OK, "REGISTERED": T.OK,
    "NOTAUTHED": T.DECLINED, "REJECTED": T.DECLINED, "ABORT": T.ABORTED, "ERROR": T.FAILED, "PENDING": T.PENDING,
}  # fmt: skip


def reply_text(status: str, redirect_url: str, detail: str) -> str:
    return f"Status={status}\r\nRedirectURL={redirect_url}\r\nStatusDetail={detail[:255]}\r\n"


def _redirect(vendor_tx_code: str) -> str:
    return settings.OPAYO_SERVER_REDIRECT_URL.format(vendor_tx_code=vendor_tx_code)


def opayo_notification_receive(*, body: bytes, remote_addr: str) -> OpayoNotification:
    """Never raises: whatever happens, the stored row carries the reply to send."""
    text = body[:MAX_BODY].decode("utf-8", errors="replace")
    fields = dict(parse_qsl(text, keep_blank_values=True))
    note = OpayoNotification.objects.create(
        remote_addr=remote_addr[:64],
        body=text,
        fields=fields,
        vendor_tx_code=fields.get("VendorTxCode", "")[:40],
        vps_tx_id=fields.get("VPSTxId", "").strip("{}")[:64],
        status=fields.get("Status", "")[:30],
    )
    try:
        outcome, detail = _process(note, fields, too_big=len(body) > MAX_BODY)
    except Exception as exc:
        logger.exception("Opayo notification %s failed", note.pk)
        outcome, detail = OpayoNotification.Outcome.ERROR, f"{exc.__class__.__name__}: {exc}"
    reply_status = {"applied": "OK", "duplicate": "OK", "invalid": "INVALID"}.get(outcome, "ERROR")
    note.outcome, note.detail = outcome, detail
    note.reply = reply_text(reply_status, _redirect(note.vendor_tx_code), detail)
    note.save(update_fields=["outcome", "detail", "reply", "signature_valid", "transaction"])
    return note


def _process(note: OpayoNotification, fields: dict[str, str], *, too_big: bool) -> tuple[str, str]:
    invalid = OpayoNotification.Outcome.INVALID
    if too_big:
        return invalid, "Notification too large"
    tx = (
        PaymentTransaction.objects.filter(vendor_tx_code=note.vendor_tx_code, payment__protocol=Payment.Protocol.SERVER)
        .exclude(security_key="")
        .first()
    )
    if tx is None:
        return invalid, "Unknown VendorTxCode"
    expected = server_notification_signature(
        fields, vendor_name=settings.OPAYO_VENDOR_NAME, security_key=tx.security_key
    )
    note.transaction = tx
    note.signature_valid = hmac.compare_digest(expected, fields.get("VPSSignature", "").strip().upper())
    if not note.signature_valid:
        return invalid, "VPSSignature does not match"
    state = _STATES.get(fields.get("Status", "").upper())
    if state is None:
        return invalid, f"Unknown Status {fields.get('Status')!r}"
    with transaction.atomic():
        tx = PaymentTransaction.objects.select_for_update().get(pk=tx.pk)
        vps = note.vps_tx_id or None
        if tx.transaction_id and vps and tx.transaction_id != vps:
            return invalid, "VPSTxId does not match the registered transaction"
        if tx.state == state and tx.opayo_status == fields.get("Status", "") and tx.transaction_id == vps:
            return OpayoNotification.Outcome.DUPLICATE, "Already applied"
        if tx.state in (T.VOIDED, T.ABORTED, T.RELEASED) and state == T.OK:
            return OpayoNotification.Outcome.DUPLICATE, "Later state already recorded"
        tx.state, tx.transaction_id, tx.opayo_status = state, tx.transaction_id or vps, fields.get("Status", "")[:20]
        tx.status_detail = fields.get("StatusDetail", "")[:300]
        tx.retrieval_reference = fields.get("TxAuthNo", "")[:40]
        tx.bank_authorisation_code = fields.get("BankAuthCode", "")[:20]
        tx.bank_response_code = fields.get("DeclineCode", "")[:10]
        tx.card_type = fields.get("CardType", "")[:30]
        tx.last_four_digits = fields.get("Last4Digits", "")[-4:] if fields.get("Last4Digits", "").isdigit() else ""
        tx.avs_cvc_status = fields.get("AVSCV2", "")[:40]
        tx.three_d_secure_status = fields.get("3DSecureStatus", "")[:40]
        tx.save()
        payment_recompute(
            payment_id=tx.payment_id,
            actor=ACTOR,
            reason=f"Opayo notification: {fields.get('Status')} {fields.get('StatusDetail', '')}".strip(),
            data={"notification": note.pk},
        )
    return OpayoNotification.Outcome.APPLIED, "Notification received"


def opayo_notification_reprocess(*, note: OpayoNotification) -> OpayoNotification:
    """Run a stored notification again (e.g. after registering its transaction); stored as a new delivery."""
    return opayo_notification_receive(body=note.body.encode(), remote_addr=f"reprocess of {note.pk}")
