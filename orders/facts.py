"""An order's status is a projection over facts: this module holds the facts, the hold lifetimes and the one pure
function that derives (status, hold, reason) from them. `orders.services.status` is the one writer that applies it.

Facts come from each app through a registry (`register_order_facts`), in bulk for a set of order ids, so the
orders app never reads payments' or fulfilment's rows itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from orders.models import Order, OrderStatus

S = OrderStatus
H = Order.HoldCode

# Order of progress; cancellation and refunds are decided before this ranking applies.
PROGRESS: list[str] = [
    S.PENDING_PAYMENT, S.AUTHORISED, S.CAPTURED, S.FULFILMENT_REQUESTED, S.PARTIALLY_SHIPPED, S.SHIPPED, S.DELIVERED,
]  # fmt: skip
_SHIPPING = {S.PARTIALLY_SHIPPED, S.SHIPPED, S.DELIVERED}


def progress_rank(status: str | None) -> int:
    return PROGRESS.index(status) if status in PROGRESS else -1


class Lifetime(StrEnum):
    """Who ends a hold."""

    FIX_AND_REPROCESS = "until the cause is fixed and the item reprocessed"
    ERP_TAKES_ORDER = "until the ERP takes the order"
    LATER_PAYMENT = "until a later payment succeeds (a fact of the payment ledger)"
    OPERATOR = "until an operator releases it"
    FRAUD_DECISION = "until an operator releases or rejects the order after review (Payments › Fraud assessments)"
    AMAZON = "until Amazon's status changes (a fact of the channel)"
    AMAZON_FULFILMENT = "until Amazon's fulfilment status changes (a fact of the FBA order)"


@dataclass(frozen=True)
class HoldKind:
    code: str
    stored: bool  # an OrderHold row opened and released by a service; otherwise derived from facts each time
    lifetime: Lifetime
    ends_when_cancelled: bool  # a cancelled (or refunded) order makes the hold moot
    opened_by: str


# Each hold kind's lifetime, stated once. Order = precedence: the first open one is what the order shows.
HOLD_KINDS: list[HoldKind] = [
    HoldKind(H.MANUAL, True, Lifetime.OPERATOR, False, "an operator (admin: Put on hold)"),
    HoldKind(H.FRAUD_REVIEW, True, Lifetime.FRAUD_DECISION, True, "payments' fraud scoring"),
    HoldKind(H.UNKNOWN_SKU, True, Lifetime.FIX_AND_REPROCESS, True, "order ingestion (Amazon, eCommerce)"),
    HoldKind(H.ERP_DATA, True, Lifetime.ERP_TAKES_ORDER, True, "the ERP handover"),
    HoldKind(H.FULFILLMENT_DATA, True, Lifetime.FIX_AND_REPROCESS, True, "the FBA fulfilment request"),
    HoldKind(H.PAYMENT, False, Lifetime.LATER_PAYMENT, True, "the payment ledger (declined, failed)"),
    HoldKind(H.FULFILLMENT, False, Lifetime.AMAZON_FULFILMENT, True, "the FBA order status (Unfulfillable)"),
    HoldKind(H.CHANNEL_STATUS, False, Lifetime.AMAZON, True, "Amazon's order status (e.g. Unfulfillable)"),
]
HOLDS = {kind.code: kind for kind in HOLD_KINDS}
STORED_HOLDS = frozenset(kind.code for kind in HOLD_KINDS if kind.stored)


@dataclass(frozen=True)
class OrderFacts:
    """What each source says about one order. Statuses are canonical (through the editable status maps); the raw
    value is kept for the words shown to operators. None: the source has nothing to say (no payment, no FBA)."""

    channel: str
    recorded_status: str | None = None  # the order's status so far: what we already acted on is a fact too
    channel_status: str | None = None
    channel_status_raw: str = ""
    payment_status: str | None = None
    payment_status_raw: str = ""
    fulfilment_status: str | None = None
    fulfilment_status_raw: str = ""
    quantity_ordered: int = 0
    quantity_shipped: int = 0  # by our own shipments (ERP or FBA), not by what the channel reports
    holds: Mapping[str, str] = field(default_factory=dict)  # open stored holds: code → reason


@dataclass(frozen=True)
class Derived:
    status: str
    hold_code: str = ""
    hold_reason: str = ""
    # The channel trails the furthest-along fact (e.g. Amazon still Unshipped after our shipment): words for the
    # order event; it becomes an exception only if it persists (orders.services.status.order_lags_check).
    lag: str = ""
    # Stored holds a cancellation or refund has made moot: the writer closes them (and their exceptions).
    ends_holds: tuple[str, ...] = ()
    # A fact the order cannot follow (e.g. Amazon cancels what we shipped): recorded, not applied.
    contradiction: str = ""


def _shipping(facts: OrderFacts) -> str | None:
    if facts.quantity_shipped <= 0 or facts.quantity_ordered <= 0:
        return None
    return S.SHIPPED if facts.quantity_shipped >= facts.quantity_ordered else S.PARTIALLY_SHIPPED


def _derived_holds(facts: OrderFacts) -> dict[str, str]:
    holds: dict[str, str] = {}
    if facts.payment_status == S.ON_HOLD:
        holds[H.PAYMENT] = f"Payment {facts.payment_status_raw}: the customer must pay again or the order be cancelled."
    if facts.fulfilment_status == S.ON_HOLD:
        holds[H.FULFILLMENT] = f"Amazon fulfilment reports {facts.fulfilment_status_raw}: review the order."
    if facts.channel_status == S.ON_HOLD:
        holds[H.CHANNEL_STATUS] = f"Amazon reports the order as {facts.channel_status_raw}."
    return holds


def _source_words(facts: OrderFacts, status: str) -> str:
    """Which fact carries a status, for the event text."""
    if _shipping(facts) == status:
        return f"{facts.quantity_shipped} of {facts.quantity_ordered} item(s) shipped by our records"
    if facts.fulfilment_status == status:
        return f"Amazon fulfilment reports {facts.fulfilment_status_raw}"
    if facts.payment_status == status:
        return f"payment {facts.payment_status_raw}"
    if facts.recorded_status == status:
        return f"the order was already {status}"
    return status


def order_status_derive(facts: OrderFacts) -> Derived:
    """(status, hold, reason) from the facts. Pure: the same facts always give the same answer.

    1. A refund, then a cancellation, is decisive (payment refunded; channel, payment or FBA order cancelled), unless
       goods have already left: a cancellation of what shipped is a contradiction, recorded and not applied.
    2. Holds: the open stored holds (those a cancellation makes moot are ended), then the holds the facts call for
       (payment declined, FBA unfulfillable, Amazon's own hold statuses); the first in HOLD_KINDS order shows.
    3. Otherwise the furthest-along fact wins, the order's own recorded progress included: a source that lags
       (Amazon still Unshipped after our shipment) never pulls the order back; the lag is reported for its history.
    """
    values = [facts.channel_status, facts.payment_status, facts.fulfilment_status, _shipping(facts)]
    progress = max((v for v in [*values, facts.recorded_status] if v in PROGRESS), key=progress_rank, default=None)
    shipped = progress in _SHIPPING
    decisive = ""
    contradiction = ""
    if S.REFUNDED in (facts.payment_status, facts.channel_status):
        decisive = S.REFUNDED
    elif S.CANCELLED in values:
        if shipped:
            sources = {"the channel": facts.channel_status, "the payment": facts.payment_status,
                       "Amazon fulfilment": facts.fulfilment_status}  # fmt: skip
            who = " and ".join(name for name, value in sources.items() if value == S.CANCELLED)
            contradiction = f"{who.capitalize()} say(s) cancelled, but {_source_words(facts, str(progress))}"
        else:
            decisive = S.CANCELLED
    elif facts.payment_status == S.PARTIALLY_REFUNDED or facts.channel_status == S.PARTIALLY_REFUNDED:
        decisive = S.PARTIALLY_REFUNDED

    ends = tuple(
        code for code in facts.holds if decisive in (S.CANCELLED, S.REFUNDED) and HOLDS[code].ends_when_cancelled
    )
    open_holds = {code: reason for code, reason in facts.holds.items() if code not in ends}
    if not decisive:
        open_holds.update(_derived_holds(facts))
    held = next((kind.code for kind in HOLD_KINDS if kind.code in open_holds), "")

    status = decisive or progress or S.PENDING_PAYMENT
    lag = ""
    if facts.channel_status in PROGRESS and progress_rank(facts.channel_status) < progress_rank(status):
        lag = (
            f"Amazon still reports {facts.channel_status_raw} ({facts.channel_status}); "
            f"{_source_words(facts, status)}: the order stays {status}."
        )
    if held:
        return Derived(S.ON_HOLD, held, open_holds[held], lag=lag, ends_holds=ends, contradiction=contradiction)
    return Derived(status, lag=lag, ends_holds=ends, contradiction=contradiction)


# --- Fact providers ----------------------------------------------------------------------------------------------
# A provider takes order ids and returns, per order id, some OrderFacts fields (raw statuses are mapped by the
# orders app through the status maps). Providers read their own app's tables only, in a query or two per call.
FactProvider = Callable[[list[int]], Mapping[int, Mapping[str, Any]]]
_PROVIDERS: dict[str, FactProvider] = {}


def register_order_facts(name: str) -> Callable[[FactProvider], FactProvider]:
    def decorator(fn: FactProvider) -> FactProvider:
        _PROVIDERS[name] = fn
        return fn

    return decorator


def order_facts_provided(order_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Every registered provider's facts for these orders, merged per order id."""
    ids = sorted(set(order_ids))
    merged: dict[int, dict[str, Any]] = {pk: {} for pk in ids}
    if not ids:
        return merged
    for provider in _PROVIDERS.values():
        for pk, values in provider(ids).items():
            merged.setdefault(pk, {}).update(values)
    return merged
