"""Fraud review of eCommerce payments: indicators from Opayo's answer and the order, one score, a hold when high.

When a payment is first authorised or captured (payment_recompute, the one place that reacts to a payment's
outcome), its indicators are read and scored. At or above FRAUD_REVIEW_THRESHOLD the order is held
(Order.HoldCode.FRAUD_REVIEW, a hold no payment fact clears) and an exception is opened with the reasons in words;
fulfilment is not requested while the order is held. An operator then releases it (the hold is lifted and
fulfilment requested) or rejects it (the payment is voided, or refunded when it can no longer be voided).

Indicators (weights in settings.FRAUD_WEIGHTS, 0-100, 0 = off):
  avs_address_not_matched, avs_postcode_not_matched, cv2_not_matched   Opayo avsCvcCheck (Pi) / AddressResult,
                                                                       PostCodeResult, CV2Result (Server)
  3ds_not_authenticated, 3ds_not_enrolled, 3ds_not_checked             Opayo 3DSecure.status / 3DSecureStatus
  billing_shipping_country_differ, billing_card_country_differ         the order's addresses; the card's issuing
                                                                       country when the site sends it (metadata)
  card_velocity, email_velocity        more than FRAUD_VELOCITY_MAX_ORDERS orders in FRAUD_VELOCITY_HOURS with the
                                       same card (type + last four + expiry) or the same customer email
  high_amount                          FRAUD_AMOUNT_FACTOR × the median recent order or more

Score = 100 × (1 − Π(1 − wᵢ/100)), rounded ("noisy OR"): a weight is how strongly that sign alone calls for
review; independent signs add up with diminishing returns and the score never exceeds 100. With the default
weights one sign alone never reaches 60, two strong ones (a wrong security code and another country) do.

Card data: only Opayo's card type, last four digits and expiry are read (what Opayo lets us keep), and only a keyed
hash of them (and of the email) is stored on the assessment, to count orders with the same card.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.common.errors import ApplicationError, InvalidTransition
from config.common.models import ExceptionItem
from config.common.reprocess import register_reprocessor
from config.common.services import exception_open, exceptions_resolve_for
from orders.models import Address, Order, OrderStatus
from orders.services import order_hold_open, order_hold_release
from payments.models import FraudAssessment, OpayoNotification, Payment, PaymentEvent, PaymentTransaction
from payments.selectors import fraud_recent_orders_count, fraud_usual_order_amounts

logger = logging.getLogger(__name__)
ACTOR = "system:fraud"
D = FraudAssessment.Decision
# The one writer of FraudAssessment.decision is _decide; creating an assessment is not a transition.
FRAUD_TRANSITIONS: dict[str, set[str]] = {
    D.PASS: {D.REVIEW},
    D.REVIEW: {D.RELEASED, D.REJECTED},
    D.RELEASED: set(),
    D.REJECTED: set(),
}

# 3-D Secure results, Pi (3DSecure.status) and Server protocol (3DSecureStatus), upper case without spaces.
# Authenticated / OK / AttemptOnly count as authenticated (Opayo: an attempt is treated as a success).
_3DS_FAILED = {"NOTAUTHENTICATED", "NOTAUTHED", "ERROR", "MALFORMEDORINVALID", "MALFORMED", "INVALID", "INCOMPLETE",
               "CANTAUTH"}  # fmt: skip
_3DS_NOT_ENROLLED = {"CARDNOTENROLLED", "ISSUERNOTENROLLED", "NOAUTH", "NOTAVAILABLE"}
_3DS_NOT_CHECKED = {"NOTCHECKED"}
# What the summary (avsCvcCheck.status / AVSCV2) says of (address, postcode, security code), for the details that
# are missing. The security code's is always missing from stored Pi answers: the client drops every "securityCode"
# key before storing (payments.clients.opayo.sanitize_pi_body), the avsCvcCheck result included.
_AVS_SUMMARY = {
    "ALLMATCHED": ("MATCHED", "MATCHED", "MATCHED"),
    "ALLMATCH": ("MATCHED", "MATCHED", "MATCHED"),
    "ADDRESSMATCHONLY": ("MATCHED", "MATCHED", "NOTMATCHED"),
    "SECURITYCODEMATCHONLY": ("NOTMATCHED", "", "MATCHED"),
    "NOMATCHES": ("NOTMATCHED", "", "NOTMATCHED"),
    "NODATAMATCHES": ("NOTMATCHED", "", "NOTMATCHED"),
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def _norm(value: Any) -> str:
    """Opayo writes NotMatched (Pi) and NOTMATCHED (Server); compare letters only, upper case."""
    return re.sub(r"[^A-Z]", "", str(value or "").upper())


@dataclass(frozen=True)
class FraudFacts:
    """What the indicators are read from (everything already normalised; "" = not known)."""

    avs_address: str = ""  # MATCHED | NOTMATCHED | NOTPROVIDED | NOTCHECKED
    avs_postcode: str = ""
    cv2: str = ""
    three_d_secure: str = ""  # as Opayo wrote it (Authenticated, NotAuthenticated, OK, NOTAUTHED, ...)
    billing_country: str = ""
    shipping_country: str = ""
    card_country: str = ""
    card_label: str = ""  # "Visa ending 0006, expiry 12/29"
    card_orders: int = 0  # orders paid with this card in the velocity window, this one included
    email_label: str = ""  # masked: "s***@example.com"
    email_orders: int = 0
    amount: Decimal | None = None
    usual_amount: Decimal | None = None  # the median recent order
    currency: str = ""


@dataclass(frozen=True)
class FraudIndicator:
    code: str
    weight: int
    explanation: str

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "weight": self.weight, "explanation": self.explanation}


def fraud_indicators(
    *,
    facts: FraudFacts,
    weights: Mapping[str, int] | None = None,
    velocity_max: int | None = None,
    velocity_hours: int | None = None,
    amount_factor: float | None = None,
) -> list[FraudIndicator]:
    """The indicators `facts` show, each with its weight and a sentence an operator understands. Pure."""
    weights = settings.FRAUD_WEIGHTS if weights is None else weights
    velocity_max = settings.FRAUD_VELOCITY_MAX_ORDERS if velocity_max is None else velocity_max
    velocity_hours = settings.FRAUD_VELOCITY_HOURS if velocity_hours is None else velocity_hours
    amount_factor = settings.FRAUD_AMOUNT_FACTOR if amount_factor is None else amount_factor
    found: list[FraudIndicator] = []

    def add(code: str, explanation: str) -> None:
        weight = max(0, min(100, int(weights.get(code, 0))))
        if weight:
            found.append(FraudIndicator(code=code, weight=weight, explanation=explanation))

    if _norm(facts.avs_address) == "NOTMATCHED":
        add("avs_address_not_matched", "The card issuer says the street address given does not match the "
                                       "cardholder's address (AVS check: address not matched).")  # fmt: skip
    if _norm(facts.avs_postcode) == "NOTMATCHED":
        add("avs_postcode_not_matched", "The card issuer says the billing postcode given does not match the "
                                        "cardholder's postcode (AVS check: postcode not matched).")  # fmt: skip
    if _norm(facts.cv2) == "NOTMATCHED":
        add("cv2_not_matched", "The security code (the 3 or 4 digits on the card) was wrong: whoever paid may not "
                               "have the card in hand (CV2 check: not matched).")  # fmt: skip
    three_ds = _norm(facts.three_d_secure)
    if three_ds in _3DS_FAILED:
        add("3ds_not_authenticated", "3-D Secure did not confirm the cardholder: the bank's check failed or was "
                                     f"not completed (Opayo: {facts.three_d_secure}).")  # fmt: skip
    elif three_ds in _3DS_NOT_ENROLLED:
        add("3ds_not_enrolled", "The card or its bank does not take part in 3-D Secure, so the bank could not "
                                f"confirm the cardholder (Opayo: {facts.three_d_secure}).")  # fmt: skip
    elif three_ds in _3DS_NOT_CHECKED:
        add("3ds_not_checked", "3-D Secure was not performed for this payment, so the bank did not confirm the "
                               f"cardholder (Opayo: {facts.three_d_secure}).")  # fmt: skip
    billing, shipping, card = facts.billing_country, facts.shipping_country, facts.card_country
    if billing and shipping and billing != shipping:
        add("billing_shipping_country_differ", f"The billing address is in {billing} but the goods are to be "
                                               f"shipped to {shipping}.")  # fmt: skip
    if billing and card and billing != card:
        add("billing_card_country_differ", f"The card was issued in {card} but the billing address is in {billing}.")
    if facts.card_orders > velocity_max:
        add("card_velocity", f"The same card ({facts.card_label}) paid for {facts.card_orders} orders in the last "
                             f"{velocity_hours} hours (more than {velocity_max} is unusual).")  # fmt: skip
    if facts.email_orders > velocity_max:
        add("email_velocity", f"The same customer email ({facts.email_label}) placed {facts.email_orders} paid "
                              f"orders in the last {velocity_hours} hours (more than {velocity_max} is "
                              "unusual).")  # fmt: skip
    if (
        facts.amount is not None
        and facts.usual_amount
        and facts.amount >= facts.usual_amount * Decimal(str(amount_factor))
    ):
        times = (facts.amount / facts.usual_amount).quantize(Decimal("0.1"))
        add("high_amount", f"The order total {facts.amount} {facts.currency} is {times} times the shop's usual "
                           f"order (median {facts.usual_amount} {facts.currency}).")  # fmt: skip
    return found


def fraud_score(*, weights: Iterable[int]) -> int:
    """100 × (1 − Π(1 − wᵢ/100)), rounded: 0 with no indicator, never above 100, independent of order. Pure."""
    remaining = 1.0
    for weight in weights:
        remaining *= 1 - max(0, min(100, weight)) / 100
    return max(0, min(100, round(100 * (1 - remaining))))


# --- reading the facts --------------------------------------------------------------------------------------


def _fingerprint(kind: str, value: str) -> str:
    """A keyed hash: equal inputs match, the input cannot be read back or looked up in a list of known values."""
    key = f"{settings.SECRET_KEY}:fraud:{kind}".encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def _main_transaction(payment: Payment) -> PaymentTransaction | None:
    return payment.transactions.exclude(kind=PaymentTransaction.Kind.REFUND).order_by("-created_at", "-pk").first()


def _opayo_checks(payment: Payment, tx: PaymentTransaction) -> tuple[str, str, str, str, str]:
    """(address, postcode, security code, 3-D Secure, expiry MMYY) as Opayo reported them for `tx`."""
    if payment.protocol == Payment.Protocol.SERVER:
        note = (
            OpayoNotification.objects.filter(
                transaction=tx,
                signature_valid=True,
                outcome__in=[OpayoNotification.Outcome.RECEIVED, OpayoNotification.Outcome.APPLIED],
            )
            .order_by("-received_at", "-pk")
            .first()
        )
        fields = note.fields if note is not None else {}
        address, postcode, cv2 = (_norm(fields.get(k)) for k in ("AddressResult", "PostCodeResult", "CV2Result"))
        summary = _norm(fields.get("AVSCV2") or tx.avs_cvc_status)
        three_ds = fields.get("3DSecureStatus") or tx.three_d_secure_status
        expiry = fields.get("ExpiryDate", "")
    else:
        raw = _object(tx.last_response)
        check = _object(raw.get("avsCvcCheck"))
        address, postcode, cv2 = (_norm(check.get(k)) for k in ("address", "postalCode", "securityCode"))
        summary = _norm(check.get("status") or tx.avs_cvc_status)
        three_ds = str(_object(raw.get("3DSecure")).get("status") or tx.three_d_secure_status)
        expiry = str(_object(_object(raw.get("paymentMethod")).get("card")).get("expiryDate") or "")
    if summary in _AVS_SUMMARY:
        from_summary = _AVS_SUMMARY[summary]
        if not (address or postcode):
            address, postcode = from_summary[:2]
        cv2 = cv2 or from_summary[2]
    return address, postcode, cv2, three_ds, re.sub(r"\D", "", expiry)[:4]


def _object(value: Any) -> dict[str, Any]:
    """A stored answer's sub-object, or {} when it is missing or not an object."""
    return value if isinstance(value, dict) else {}


def _country(order: Order, kind: str) -> str:
    address = order.addresses.filter(kind=kind).only("country_code").first()
    return address.country_code.upper() if address is not None else ""


def _metadata(order: Order, keys: Iterable[str]) -> str:
    metadata = order.metadata if isinstance(order.metadata, dict) else {}
    for key in keys:
        value = str(metadata.get(key) or "").strip()
        if value:
            return value
    return ""


def _mask(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def fraud_facts_collect(*, payment: Payment) -> tuple[FraudFacts, str, str]:
    """The facts of `payment` and its order, with the card and email fingerprints (\"\" when unknown)."""
    order = payment.order
    tx = _main_transaction(payment)
    address = postcode = cv2 = three_ds = expiry = card_type = last_four = ""
    if tx is not None:
        address, postcode, cv2, three_ds, expiry = _opayo_checks(payment, tx)
        card_type, last_four = tx.card_type, tx.last_four_digits
    since = timezone.now() - timedelta(hours=settings.FRAUD_VELOCITY_HOURS)

    card_fingerprint = card_label = ""
    card_orders = 0
    if last_four:
        card_fingerprint = _fingerprint("card", f"{_norm(card_type)}|{last_four}|{expiry}")
        card_label = f"{card_type or 'card'} ending {last_four}" + (
            f", expiry {expiry[:2]}/{expiry[2:]}" if expiry else ""
        )
        card_orders = 1 + fraud_recent_orders_count(
            card_fingerprint=card_fingerprint, since=since, exclude_order_id=order.pk
        )
    email = _metadata(order, settings.FRAUD_EMAIL_METADATA_KEYS).lower()
    email_fingerprint = email_label = ""
    email_orders = 0
    if _EMAIL.match(email):
        email_fingerprint, email_label = _fingerprint("email", email), _mask(email)
        email_orders = 1 + fraud_recent_orders_count(
            email_fingerprint=email_fingerprint, since=since, exclude_order_id=order.pk
        )

    usual: Decimal | None = None
    if order.total_amount is not None and order.currency:
        amounts = fraud_usual_order_amounts(
            currency=order.currency,
            since=timezone.now() - timedelta(days=settings.FRAUD_AMOUNT_LOOKBACK_DAYS),
            exclude_order_id=order.pk,
        )
        if len(amounts) >= settings.FRAUD_AMOUNT_MIN_ORDERS:
            usual = Decimal(statistics.median(amounts)).quantize(Decimal("0.01"))
    card_country = _metadata(order, settings.FRAUD_CARD_COUNTRY_METADATA_KEYS).upper()
    facts = FraudFacts(
        avs_address=address,
        avs_postcode=postcode,
        cv2=cv2,
        three_d_secure=three_ds,
        billing_country=_country(order, Address.Kind.BILLING),
        shipping_country=_country(order, Address.Kind.SHIPPING),
        card_country=card_country if re.fullmatch(r"[A-Z]{2}", card_country) else "",
        card_label=card_label,
        card_orders=card_orders,
        email_label=email_label,
        email_orders=email_orders,
        amount=order.total_amount,
        usual_amount=usual,
        currency=order.currency,
    )
    return facts, card_fingerprint, email_fingerprint


# --- the assessment and its decisions -------------------------------------------------------------------------


def _decide(*, assessment: FraudAssessment, to: str, actor: str, note: str = "") -> None:
    """Move the decision (in memory, on a locked row) along FRAUD_TRANSITIONS."""
    if to == assessment.decision:
        return
    if to not in FRAUD_TRANSITIONS[assessment.decision]:
        raise InvalidTransition(
            f"The fraud review of order {assessment.order.external_id} is {assessment.get_decision_display().lower()}"
            f"; it cannot become {D(to).label.lower()}",
            extra={"assessment_id": assessment.pk, "from": assessment.decision, "to": to},
        )
    assessment.decision = to
    if to in (D.RELEASED, D.REJECTED):
        assessment.decided_by, assessment.decided_at, assessment.note = actor[:150], timezone.now(), note


def _event(assessment: FraudAssessment, kind: str, actor: str, message: str) -> None:
    PaymentEvent.objects.create(
        payment_id=assessment.payment_id,
        kind=kind,
        actor=actor[:150],
        message=message,
        data={"score": assessment.score, "threshold": assessment.threshold, "decision": assessment.decision},
    )


def _reasons(assessment: FraudAssessment) -> str:
    return "\n".join(f"- {i['explanation']} (weight {i['weight']})" for i in assessment.indicators)


def _hold(assessment: FraudAssessment, actor: str) -> None:
    order = assessment.order
    count = len(assessment.indicators)
    item = exception_open(
        kind=ExceptionItem.Kind.FRAUD_REVIEW,
        source=assessment,
        summary=f"Order {order.external_id} held for fraud review: score {assessment.score}/100",
        detail=f"Why the order looks risky (score {assessment.score}/100; orders from {assessment.threshold} are "
        f"held):\n{_reasons(assessment)}\n\nIf the order is genuine (e.g. you reached the customer), release it: "
        "fulfilment is then requested. If not, reject it: the payment is voided or refunded.",
        reference=order.external_id,
    )
    order_hold_open(
        order_id=order.pk,
        code=Order.HoldCode.FRAUD_REVIEW,
        reason=f"Fraud score {assessment.score}/100 (review from {assessment.threshold}), {count} indicator(s). "
        "Check the order, then release it or reject it under Payments › Fraud assessments.",
        actor=actor,
        exception=item,
    )
    logger.warning(
        "order held for fraud review",
        extra={
            "order": order.external_id,
            "score": assessment.score,
            "codes": [i["code"] for i in assessment.indicators],
        },
    )


def fraud_assess(*, payment: Payment, actor: str = ACTOR, reassess: bool = False) -> FraudAssessment | None:
    """Score the payment's fraud indicators and hold its order for review when the score reaches the threshold.

    One assessment per payment: another call returns it unchanged. `reassess` reads the indicators again for an
    assessment that passed (it may now be held); one held, released or rejected is a decision and stays as it is,
    so a released order is never held again. None when not applicable (not an eCommerce order, FRAUD_ENABLED off).
    Locks the payment first, like payment_recompute, so concurrent calls are serialised.
    """
    if not settings.FRAUD_ENABLED:
        return None
    with transaction.atomic():
        payment = Payment.objects.select_for_update().select_related("order").get(pk=payment.pk)
        if payment.order.channel != Order.Channel.ECOMMERCE:
            return None
        existing = FraudAssessment.objects.select_for_update().filter(payment=payment).first()
        if existing is not None and not (reassess and existing.decision == D.PASS):
            return existing
        facts, card_fingerprint, email_fingerprint = fraud_facts_collect(payment=payment)
        indicators = fraud_indicators(facts=facts)
        score = fraud_score(weights=[i.weight for i in indicators])
        threshold = max(1, min(100, settings.FRAUD_REVIEW_THRESHOLD))
        values = {
            "score": score,
            "threshold": threshold,
            "indicators": [i.as_dict() for i in indicators],
            "card_fingerprint": card_fingerprint,
            "email_fingerprint": email_fingerprint,
            "assessed_at": timezone.now(),
        }
        if existing is None:
            decision = D.REVIEW if score >= threshold else D.PASS
            assessment = FraudAssessment.objects.create(
                payment=payment, order=payment.order, decision=decision, **values
            )
            held = decision == D.REVIEW
        else:
            assessment = existing
            for name, value in values.items():
                setattr(assessment, name, value)
            held = score >= threshold
            if held:
                _decide(assessment=assessment, to=D.REVIEW, actor=actor)
            assessment.save()
        _event(
            assessment,
            "fraud_held" if held else "fraud_passed",
            actor,
            f"Fraud score {score}/100 (review from {threshold})"
            + (": " + ", ".join(i.code for i in indicators) if indicators else ""),
        )
        if held:
            _hold(assessment, actor)
    return assessment


def fraud_payment_outcome(*, payment: Payment, actor: str) -> None:
    """payment_recompute's hook, called inside its transaction when the payment's status changed.

    Authorised or captured: assess (once). Voided, aborted or refunded after a rejection: the fraud hold has done
    its job; lift it so the order follows the payment (cancelled, refunded)."""
    if payment.status in (Payment.Status.AUTHORISED, Payment.Status.CAPTURED):
        fraud_assess(payment=payment, actor=actor)
    elif (
        payment.status in (Payment.Status.VOIDED, Payment.Status.ABORTED, Payment.Status.REFUNDED)
        and FraudAssessment.objects.filter(payment=payment, decision=D.REJECTED).exists()
    ):
        order_hold_release(
            order_id=payment.order_id,
            code=Order.HoldCode.FRAUD_REVIEW,
            actor=actor,
            note=f"Fraud review: rejected, and the payment is {payment.get_status_display().lower()}",
        )


def fraud_release(*, assessment: FraudAssessment, actor: str, note: str = "") -> FraudAssessment:
    """Operator: the order is genuine. Lifts the fraud hold (the payment's facts decide the status again) and asks
    for fulfilment when the payment is captured (a Deferred is fulfilled when captured, as usual). Safe to call
    twice; refused unless the order was held for review."""
    with transaction.atomic():
        Payment.objects.select_for_update().filter(pk=assessment.payment_id).first()  # lock order as payment_recompute
        assessment = FraudAssessment.objects.select_for_update().select_related("order").get(pk=assessment.pk)
        if assessment.decision == D.RELEASED:
            return assessment
        _decide(assessment=assessment, to=D.RELEASED, actor=actor, note=note)
        assessment.save(update_fields=["decision", "decided_by", "decided_at", "note", "updated_at"])
        order = order_hold_release(
            order_id=assessment.order_id,
            code=Order.HoldCode.FRAUD_REVIEW,
            actor=actor,
            note="Fraud review: released" + (f" ({note})" if note else ""),
        )
        exceptions_resolve_for(
            source=assessment, kinds=[ExceptionItem.Kind.FRAUD_REVIEW], actor=actor, note=note or "released"
        )
        _event(assessment, "fraud_released", actor, note or "Released after review")
        if order.status == OrderStatus.CAPTURED:
            order_id = order.pk  # the fulfillment app, by name, as payment_recompute does
            transaction.on_commit(lambda: _async("fulfillment.tasks.fba_fulfillment_request_task", order_id))
    return assessment


def fraud_reject(*, assessment: FraudAssessment, actor: str, note: str = "") -> FraudAssessment:
    """Operator: the order is fraudulent. The payment is voided (an unreleased Deferred aborted) or, when it can no
    longer be voided, refunded in full; the order stays held until Opayo confirms, then follows the payment
    (cancelled, refunded). Safe to call twice; refused unless the order was held for review."""
    from payments.services.operations import payment_refund, payment_void

    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=assessment.payment_id)
        assessment = FraudAssessment.objects.select_for_update().select_related("order").get(pk=assessment.pk)
        if assessment.decision == D.REJECTED:
            return assessment
        _decide(assessment=assessment, to=D.REJECTED, actor=actor, note=note)
        assessment.save(update_fields=["decision", "decided_by", "decided_at", "note", "updated_at"])
        _event(assessment, "fraud_rejected", actor, note or "Rejected after review")
        reason = "Fraud review: rejected" + (f" ({note})" if note else "")
        try:
            payment_void(payment=payment, actor=actor, reason=reason)
        except ApplicationError:
            remaining = payment.amount_captured - payment.amount_refunded
            if remaining > 0:
                payment_refund(payment=payment, amount=remaining, reason=reason, actor=actor)
            else:  # nothing left to give back (already voided or refunded): the order follows the payment now
                order_hold_release(
                    order_id=assessment.order_id, code=Order.HoldCode.FRAUD_REVIEW, actor=actor, note=reason
                )
        exceptions_resolve_for(
            source=assessment, kinds=[ExceptionItem.Kind.FRAUD_REVIEW], actor=actor, note=note or "rejected"
        )
    return assessment


def _async(func: str, *args: Any) -> None:
    from django_q.tasks import async_task

    async_task(func, *args)


@register_reprocessor(FraudAssessment)
def _reprocess(obj: object, actor: str) -> None:
    """A fraud review is decided, not reprocessed: say where."""
    raise ApplicationError(
        'A fraud review is decided by an operator: open the fraud assessment and use "Release after review" or '
        '"Reject".'
    )
