"""Opayo Server-protocol notification POSTs: store raw, verify VPSSignature, answer, apply once.

Opayo requires an answer "in all circumstances" in its `Status=… RedirectURL=… StatusDetail=…` format and
retries (for up to 30 days) until it gets one, so the same notification arrives many times. The request does
the least that lets us answer truthfully: find the transaction's SecurityKey (cached: it never changes), check
the signature, store the raw row (one committed INSERT). Applying it to the ledger happens after the answer,
in a worker, in batches, under row locks, so a thousand deliveries of one notification have one effect (and a
partial unique index makes a second "applied" impossible).
"""

from __future__ import annotations

import hmac
import logging
import time
from urllib.parse import parse_qsl, unquote_plus, urlencode

from django.conf import settings
from django.db import IntegrityError, transaction

from config.common.db import without_nul
from config.common.models import ExceptionItem
from config.common.pan import card_numbers_mask, card_spans
from config.common.reprocess import register_reprocessor
from config.common.services import exception_open, exceptions_resolve_for
from payments.clients.opayo import server_notification_signature
from payments.models import OpayoNotification, Payment, PaymentTransaction
from payments.services.ledger import payment_recompute

logger = logging.getLogger(__name__)
ACTOR = "system:opayo-notification"
T = PaymentTransaction.State
Outcome = OpayoNotification.Outcome
MAX_BODY = 16 * 1024
# Server-protocol Status → ledger state (omnipay-sagepay ConstantsInterface; PENDING changes nothing yet).
_STATES = {
    "OK": T.OK, "OK REPEATED": T.OK, "AUTHENTICATED": T.OK, "REGISTERED": T.OK,
    "NOTAUTHED": T.DECLINED, "REJECTED": T.DECLINED, "ABORT": T.ABORTED, "ERROR": T.FAILED, "PENDING": T.PENDING,
}  # fmt: skip


def reply_text(status: str, redirect_url: str, detail: str) -> str:
    return f"Status={status}\r\nRedirectURL={redirect_url}\r\nStatusDetail={detail[:255]}\r\n"


def _reply(note: OpayoNotification) -> str:
    status = {Outcome.INVALID: "INVALID", Outcome.ERROR: "ERROR"}.get(Outcome(note.outcome), "OK")
    accepted = note.outcome in (Outcome.RECEIVED, Outcome.APPLIED, Outcome.DUPLICATE)
    detail = "Notification received" if accepted else note.detail
    return reply_text(status, settings.OPAYO_SERVER_REDIRECT_URL.format(vendor_tx_code=note.vendor_tx_code), detail)


def opayo_notification_mask(text: str) -> tuple[str, bool]:
    """The body to store: the one received, or, when any name or value holds what looks like a card number, the
    same fields with each such number replaced by "[card number removed]" (re-encoded). Last4Digits and ExpiryDate
    are four digits each, not card numbers, and stay. A card number the fields do not show (split across them, or
    left in the raw text) removes the whole body."""
    pairs = parse_qsl(text, keep_blank_values=True)
    masked = [(card_numbers_mask(name)[0], card_numbers_mask(value)[0]) for name, value in pairs]
    if masked == pairs and not card_spans(text) and not card_spans(unquote_plus(text)):
        return text, False
    stored = urlencode(masked)
    if card_spans(stored) or card_spans(unquote_plus(stored)):
        return "", True
    return stored, True


def opayo_notification_receive(*, body: bytes, remote_addr: str) -> OpayoNotification:
    """Check and store one delivery; never raises. The returned row carries the reply to send.

    The signature is checked on the body as received, in memory; what is stored has anything card-like masked
    (and says so), so a notification carrying a card number is still verified, kept and answered."""
    text = without_nul(body[:MAX_BODY].decode("utf-8", errors="replace"))
    fields = dict(parse_qsl(text, keep_blank_values=True))
    stored, masked = opayo_notification_mask(text)
    shown = dict(parse_qsl(stored, keep_blank_values=True)) if masked else fields  # what may be stored and logged
    note = OpayoNotification(
        remote_addr=remote_addr[:64],
        body=stored,
        masked=masked,
        vendor_tx_code=shown.get("VendorTxCode", "")[:40],
        vps_tx_id=shown.get("VPSTxId", "").strip("{}")[:64],
        status=shown.get("Status", "")[:30],
        signature=shown.get("VPSSignature", "").strip().upper()[:64],
    )
    if masked:
        logger.warning("Opayo notification from %s held a card-like number; stored masked", remote_addr[:64])
    try:
        note.outcome, note.detail = _check(note, fields, shown, too_big=len(body) > MAX_BODY)
        if masked and not stored and note.outcome == Outcome.RECEIVED:
            note.outcome, note.detail = Outcome.ERROR, "Card data the fields did not show: body removed, not applied"
    except Exception as exc:
        logger.exception("Opayo notification for %s failed", note.vendor_tx_code)
        note.outcome, note.detail = Outcome.ERROR, f"{exc.__class__.__name__}: {exc}"
    note.reply = _reply(note)
    try:
        note.save(force_insert=True)  # one autocommitted INSERT: durable before we answer
    except IntegrityError:
        # A cached transaction that no longer exists (only happens when rows are removed, as in tests): forget
        # the cache and take the slow path once.
        _KEYS.clear()
        note.pk = None
        note.outcome, note.detail = _check(note, fields, shown, too_big=False)
        note.reply = _reply(note)
        note.save(force_insert=True)
    if note.outcome == Outcome.RECEIVED:
        _kick_worker()
    return note


# SecurityKeys never change once registered, so verified lookups are kept (only hits: a transaction registered
# a second after a notification named it must still be found).
_KEYS: dict[str, tuple[int, str]] = {}
_last_kick = 0.0


def _security_key(vendor_tx_code: str) -> tuple[int, str] | None:
    hit = _KEYS.get(vendor_tx_code)
    if hit is not None:
        return hit
    row = (
        PaymentTransaction.objects.filter(vendor_tx_code=vendor_tx_code, payment__protocol=Payment.Protocol.SERVER)
        .exclude(security_key="")
        .values_list("pk", "security_key")
        .first()
    )
    if row is not None:
        if len(_KEYS) > 50_000:
            _KEYS.clear()
        _KEYS[vendor_tx_code] = row
    return row


def _kick_worker() -> None:
    """Ask a worker to apply what is stored, at most once per OPAYO_NOTIFICATION_KICK_SECONDS per process.

    The worker looks again after that interval (see opayo_notifications_apply_received), so a delivery
    that arrives just after a kick is never left waiting for the minute sweep.
    """
    global _last_kick
    now = time.monotonic()
    if now - _last_kick < settings.OPAYO_NOTIFICATION_KICK_SECONDS:
        return
    _last_kick = now
    from django_q.tasks import async_task

    async_task("payments.tasks.opayo_notifications_apply_received")


def _check(note: OpayoNotification, fields: dict[str, str], shown: dict[str, str], *, too_big: bool) -> tuple[str, str]:
    """Verify the fields as received (`fields`); `shown` (masked) is what details may quote."""
    if too_big:
        return Outcome.INVALID, "Notification too large"
    found = _security_key(fields.get("VendorTxCode", "")[:40])
    if found is None:
        return Outcome.INVALID, "Unknown VendorTxCode"
    note.transaction_id, security_key = found
    expected = server_notification_signature(fields, vendor_name=settings.OPAYO_VENDOR_NAME, security_key=security_key)
    note.signature_valid = hmac.compare_digest(expected, fields.get("VPSSignature", "").strip().upper()[:64])
    if not note.signature_valid:
        return Outcome.INVALID, "VPSSignature does not match"
    if fields.get("Status", "").upper() not in _STATES:
        return Outcome.INVALID, f"Unknown Status {shown.get('Status')!r}"
    return Outcome.RECEIVED, "Waiting to be applied"


def _already(tx: PaymentTransaction, state: str, fields: dict[str, str], vps: str | None) -> bool:
    if tx.state in (T.VOIDED, T.ABORTED, T.RELEASED) and state == T.OK:
        return True  # a later state is already recorded
    return tx.state == state and tx.opayo_status == fields.get("Status", "") and tx.transaction_id == vps


def opayo_notification_apply(*, note_id: int) -> OpayoNotification:
    """Apply a stored, verified notification to the ledger. Idempotent; safe under concurrent workers."""
    with transaction.atomic():
        note = OpayoNotification.objects.select_for_update().get(pk=note_id)
        if note.outcome != Outcome.RECEIVED or note.transaction_id is None:
            return note
        fields = note.fields
        state = _STATES[fields.get("Status", "").upper()]
        vps = note.vps_tx_id or None
        tx = PaymentTransaction.objects.select_for_update().get(pk=note.transaction_id)
        if tx.transaction_id and vps and tx.transaction_id != vps:
            note.outcome, note.detail = Outcome.INVALID, "VPSTxId does not match the registered transaction"
            exception_open(
                kind=ExceptionItem.Kind.PAYMENT_PROBLEM,
                source=note,
                summary=f"Opayo notification for {note.vendor_tx_code} names another transaction ({vps})",
                detail=f"Registered transaction {tx.transaction_id}, notification VPSTxId {vps}. Nothing was applied.",
                reference=note.vendor_tx_code,
            )
        elif _already(tx, state, fields, vps):
            note.outcome, note.detail = Outcome.DUPLICATE, "Already applied"
        else:
            tx.state, tx.transaction_id, tx.opayo_status = (
                state,
                tx.transaction_id or vps,
                fields.get("Status", "")[:20],
            )
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
            note.outcome, note.detail = Outcome.APPLIED, "Applied"
        note.save(update_fields=["outcome", "detail"])
        exceptions_resolve_for(source=note, actor=ACTOR, note="applied")
    return note


def opayo_notification_apply_safely(*, note_id: int) -> OpayoNotification:
    """The worker's entry point: a failure is recorded on the row and queued for an operator, not lost."""
    try:
        return opayo_notification_apply(note_id=note_id)
    except Exception as exc:
        logger.exception("applying Opayo notification %s failed", note_id)
        note = OpayoNotification.objects.get(pk=note_id)
        exception_open(
            kind=ExceptionItem.Kind.PAYMENT_PROBLEM,
            source=note,
            summary=f"Opayo notification for {note.vendor_tx_code} could not be applied: {exc}"[:300],
            detail=f"{exc.__class__.__name__}: {exc}. Fix the cause, then reprocess.",
            reference=note.vendor_tx_code,
        )
        return note


def opayo_notifications_apply_pending(*, limit: int = 1000) -> int:
    """Apply every stored, verified notification not applied yet (oldest first)."""
    ids = list(
        OpayoNotification.objects.filter(outcome=Outcome.RECEIVED).order_by("pk").values_list("pk", flat=True)[:limit]
    )
    for note_id in ids:
        opayo_notification_apply_safely(note_id=note_id)
    return len(ids)


def opayo_notifications_apply_received() -> int:
    """The worker's answer to a kick: apply now, and once more after the kick interval (see _kick_worker)."""
    applied = opayo_notifications_apply_pending()
    if settings.OPAYO_NOTIFICATION_KICK_SECONDS > 0:
        time.sleep(settings.OPAYO_NOTIFICATION_KICK_SECONDS * 1.1)
        applied += opayo_notifications_apply_pending()
    return applied


def opayo_notification_reprocess(*, note: OpayoNotification) -> OpayoNotification:
    """Operator reprocess: a stored but unapplied row is applied; anything else is received again as a new
    delivery (e.g. after the transaction it names was registered)."""
    if note.outcome in (Outcome.RECEIVED, Outcome.ERROR) and note.signature_valid:
        OpayoNotification.objects.filter(pk=note.pk).update(outcome=Outcome.RECEIVED)
        return opayo_notification_apply(note_id=note.pk)
    return opayo_notification_receive(body=note.body.encode(), remote_addr=f"reprocess of {note.pk}")


@register_reprocessor(OpayoNotification)
def _reprocess(obj: object, actor: str) -> None:
    assert isinstance(obj, OpayoNotification)
    opayo_notification_reprocess(note=obj)
