"""Anomaly flags: order amounts, fee rates and refund rates far outside their account and SKU's recent distribution.

What is measured (one value per subject, grouped per seller account and SKU):

- **order amount**: the unit price of an Amazon order line (item price / quantity), from our orders, grouped per
  (account, SKU, currency) so a SKU sold in pounds and in euros is two distributions;
- **fee rate**: for one order item of a settlement (the Order rows of one order id and SKU), the fees (ItemFees
  rows: commission, FBA fulfilment fee, ...) as a share of what the buyer paid for the item (ItemPrice rows:
  principal, tax, shipping; less Promotion rows). Fees / principal alone would move with things that are not fee
  problems: Amazon charges the referral fee on the VAT-inclusive price including shipping, and marketplace-
  facilitator VAT items carry a VAT-exclusive principal. ShippingChargeback is left out (it passes the buyer's
  shipping payment back to Amazon, not a fee on the sale). Grouped per (account, SKU, fulfilment channel, shipping
  paid or not): FBA items carry a per-unit fulfilment fee that merchant-fulfilled ones do not, and that fee is a
  smaller share of a sale that includes shipping;
- **refund rate**: per ISO week (Monday to Sunday, UTC, by posted date), order items refunded (Refund and
  Chargeback Principal rows) / order items sold (Order Principal rows). Each week is compared with the same SKU's
  earlier weeks (the previous ANOMALY_WINDOW_DAYS), not with the account's other SKUs: a SKU's own history is what
  "unusual" means to an operator (a faulty batch, a misleading listing), and SKUs differ a lot in how often they
  come back. Weeks with fewer than ANOMALY_REFUND_MIN_ITEMS items sold are left out of both sides; only rises are
  flagged, and only with at least MIN_REFUNDS refunds in the week.

How (numpy): over the window (the last ANOMALY_WINDOW_DAYS up to the group's newest value scanned), median and MAD
(median absolute deviation); robust z = 0.6745 · (x − median) / MAD (Iglewicz and Hoaglin's modified z-score), i.e.
the distance from the median in "usual spreads" of MAD / 0.6745 (σ for normal data). |z| > ANOMALY_Z_THRESHOLD
(3.5) is flagged; a group with fewer than ANOMALY_MIN_HISTORY values in its window is not judged at all.

- MAD = 0 (more than half the values identical: one list price, a fixed fee): the spread is the 80th percentile of
  the absolute deviations / 1.2816 (σ for normal data again), so the share of values that do differ (promotions,
  shipping) still gives a scale. Not the mean absolute deviation: it is not robust, and one 10× typo in a group
  would widen the spread enough to hide a 0.6× price next to it;
- the spread is never taken below ANOMALY_MIN_SPREAD × |median| (10 %, the relative tolerance): with a threshold of
  3.5 a value must be at least 35 % away from the median however constant the history (all prices identical);
- refund rates are rare events on small counts, so a week must be unusual twice: against the earlier weeks' rates
  (robust z as above) and against chance at the earlier weeks' pooled rate p (the exact binomial tail
  P(X ≥ refunds | n sold, p), as a one-sided normal z). The smaller z is kept, with the spread it implies.

Each new flag opens an exception (kind anomaly) that dismissing or confirming the flag resolves. A flag is raised
once per (kind, account, subject, SKU) whatever its status, so a dismissed one stays dismissed; scans are safe to
run again and concurrently (unique constraints decide). A flag keeps the figures of the scan that raised it.

Cost: per settlement, two GROUP BY queries over the lines of that account's settlements in the window (one row back
per order item, one per SKU and week), then numpy per group; never a Python loop over settlement lines.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from statistics import NormalDist
from typing import Any

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Min, Q, Sum
from django.db.models.functions import TruncWeek
from django.utils import timezone

from config.common.errors import ApplicationError
from config.common.models import ExceptionItem
from config.common.services import exception_open, exceptions_resolve_for
from orders.models import Order, OrderLine, SellerAccount
from reconciliation.models import AnomalyFlag, Settlement, SettlementLine

logger = logging.getLogger(__name__)
ACTOR = "system:anomalies"

MAD_TO_SIGMA = 0.6745  # robust z = 0.6745 (x − median) / MAD
P80_TO_SIGMA = 1.2816  # the 80th percentile of |x − median| is 1.2816 σ for normal data (the MAD, 50th, 0.6745 σ)
MIN_REFUNDS = 3  # refunds in a week below which its refund rate is never flagged
NOT_FEES = ("ShippingChargeback",)
_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$", "CAD": "CA$"}
_BASIS_TEXT = {
    "mad": "the median absolute deviation",
    "p80_deviation": "the 80th percentile of the deviations (most values are identical, so the MAD is 0)",
    "tolerance": "{pct} of the median (the values hardly vary)",
    "binomial": "chance: the exact binomial odds of this many refunds at the earlier weeks' pooled rate",
}


@dataclass(frozen=True)
class Spread:
    """Where a group's values sit and how far apart they usually are."""

    median: float
    mad: float
    scale: float  # the usual spread (σ-equivalent) z is counted in; > 0
    basis: str  # mad | p80_deviation | tolerance | binomial
    n: int

    def z(self, value: float) -> float:
        return (value - self.median) / self.scale


def robust_spread(values: np.ndarray, *, min_scale: float) -> Spread:
    """Median, MAD and the spread used for robust z (see the module docstring for the MAD = 0 fallbacks)."""
    median = float(np.median(values))
    deviations = np.abs(values - median)
    mad = float(np.median(deviations))
    if mad > 0:
        scale, basis = mad / MAD_TO_SIGMA, "mad"
    else:
        scale, basis = float(np.percentile(deviations, 80)) / P80_TO_SIGMA, "p80_deviation"
    if not scale >= min_scale:
        scale, basis = min_scale, "tolerance"
    return Spread(median=median, mad=mad, scale=scale, basis=basis, n=len(values))


@dataclass
class AnomalyScanSummary:
    checked: Counter[str] = field(default_factory=Counter)  # values judged, per kind
    flagged: Counter[str] = field(default_factory=Counter)  # new flags, per kind
    short_history: int = 0  # groups not judged: fewer than ANOMALY_MIN_HISTORY values
    flags: list[AnomalyFlag] = field(default_factory=list)

    def merge(self, other: AnomalyScanSummary) -> None:
        self.checked.update(other.checked)
        self.flagged.update(other.flagged)
        self.short_history += other.short_history
        self.flags.extend(other.flags)

    def __str__(self) -> str:
        kinds = ", ".join(f"{kind}: {self.checked[kind]} checked, {self.flagged[kind]} flagged" for kind in _KINDS)
        return f"{kinds}; {self.short_history} group(s) with too little history"


_KINDS = [k.value for k in AnomalyFlag.Kind]
_SUBJECT = {"order_amount": "order", "fee_rate": "order", "refund_rate": "week"}


@dataclass
class _Finding:
    kind: str
    account_id: int | None
    sku: str
    subject: str
    observed_at: datetime
    value: float
    spread: Spread
    z: float
    explanation: str
    currency: str = ""
    order_id: int | None = None
    settlement_id: int | None = None


def _threshold() -> float:
    return float(settings.ANOMALY_Z_THRESHOLD)


def _window() -> timedelta:
    return timedelta(days=settings.ANOMALY_WINDOW_DAYS)


# --- entry points ------------------------------------------------------------------------------------------------


def anomalies_scan(*, since: datetime | None = None, now: datetime | None = None) -> AnomalyScanSummary:
    """The hourly scan: order amounts of Amazon order lines purchased or updated since `since` (default the last
    ANOMALY_SCAN_HOURS), and fee and refund rates of the settlements imported since then. Safe to run again."""
    now = now or timezone.now()
    since = since or now - timedelta(hours=settings.ANOMALY_SCAN_HOURS)
    summary = _order_amounts_scan(since=since)
    for settlement in Settlement.objects.filter(created_at__gte=since).order_by("pk"):
        summary.merge(settlement_anomalies_scan(settlement=settlement))
    logger.info("anomaly scan: %s", summary, extra={"since": since.isoformat()})
    return summary


def settlement_anomalies_scan(*, settlement: Settlement) -> AnomalyScanSummary:
    """Fee rates of the settlement's order items and refund rates of the weeks it covers (after its import)."""
    summary = AnomalyScanSummary()
    account_id = settlement_account_id(settlement=settlement)
    bounds = settlement.lines.filter(kind__in=["order", "refund"]).aggregate(
        first=Min("posted_at"), last=Max("posted_at")
    )
    if bounds["first"] is None or bounds["last"] is None:
        return summary
    first, last = bounds["first"], bounds["last"]
    same_account = _account_settlements(account_id=account_id, start=first - _window() - timedelta(days=7), end=last)
    if settlement.pk not in same_account:
        same_account.append(settlement.pk)
    findings = _fee_rate_findings(settlement=settlement, account_id=account_id, settlements=same_account,
                                  first=first, last=last, summary=summary)  # fmt: skip
    findings += _refund_rate_findings(settlement=settlement, account_id=account_id, settlements=same_account,
                                      first=first, last=last, summary=summary)  # fmt: skip
    _record(findings, summary)
    return summary


def settlement_account_id(*, settlement: Settlement) -> int | None:
    """The settlement's seller account; for an uploaded file (no account), the account of its matched orders."""
    if settlement.seller_account_id is not None:
        return settlement.seller_account_id
    ids = list(
        settlement.lines.filter(kind="order")
        .exclude(amazon_order_id="")
        .values_list("amazon_order_id", flat=True)[:500]
    )
    accounts = Counter(
        Order.objects.filter(channel=Order.Channel.AMAZON, external_id__in=set(ids)).values_list(
            "seller_account_id", flat=True
        )
    )
    return accounts.most_common(1)[0][0] if accounts else None


def anomaly_flag_dismiss(*, flag: AnomalyFlag, actor: str, note: str = "") -> AnomalyFlag:
    """Normal after all: the flag is closed and its exception resolved. It is not raised again."""
    return _review(flag=flag, status=AnomalyFlag.Status.DISMISSED, actor=actor, note=note)


def anomaly_flag_confirm(*, flag: AnomalyFlag, actor: str, note: str = "") -> AnomalyFlag:
    """A real problem (wrong price, fee overcharged, faulty batch): recorded, and the exception resolved."""
    return _review(flag=flag, status=AnomalyFlag.Status.CONFIRMED, actor=actor, note=note)


def _review(*, flag: AnomalyFlag, status: str, actor: str, note: str) -> AnomalyFlag:
    with transaction.atomic():
        flag = AnomalyFlag.objects.select_for_update().get(pk=flag.pk)
        if flag.status == status:
            return flag
        if flag.status != AnomalyFlag.Status.OPEN:
            raise ApplicationError(f"The flag is already {flag.get_status_display().lower()}", extra={"id": flag.pk})
        flag.status, flag.reviewed_by, flag.reviewed_at = status, actor[:150], timezone.now()
        flag.review_note = note
        flag.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note", "updated_at"])
        exceptions_resolve_for(source=flag, kinds=[ExceptionItem.Kind.ANOMALY], actor=actor, note=f"flag {status}")
    return flag


# --- order amounts ---------------------------------------------------------------------------------------------


def _priced_lines() -> Any:
    return (
        OrderLine.objects.filter(
            order__channel=Order.Channel.AMAZON,
            order__seller_account__isnull=False,
            order__is_replacement=False,
            item_price__isnull=False,
            quantity_ordered__gt=0,
        )
        .exclude(order__status=Order.Status.CANCELLED)
        .order_by()
    )


_LINE_FIELDS = (
    "pk", "order_id", "order__external_id", "order__seller_account_id", "seller_sku", "order__currency",
    "order__purchased_at", "item_price", "quantity_ordered",
)  # fmt: skip


def _order_amounts_scan(*, since: datetime) -> AnomalyScanSummary:
    summary = AnomalyScanSummary()
    candidates = list(
        _priced_lines().filter(Q(order__purchased_at__gte=since) | Q(updated_at__gte=since)).values_list(*_LINE_FIELDS)
    )
    if not candidates:
        return summary
    first = min(c[6] for c in candidates)
    last = max(c[6] for c in candidates)
    history = _priced_lines().filter(
        order__seller_account_id__in={c[3] for c in candidates},
        seller_sku__in={c[4] for c in candidates},
        order__purchased_at__gt=first - _window(),
        order__purchased_at__lte=last,
    )
    groups: dict[tuple[int, str, str], list[tuple[Any, ...]]] = defaultdict(list)
    for row in history.values_list(*_LINE_FIELDS):
        groups[(row[3], row[4], row[5])].append(row)
    wanted: dict[tuple[int, str, str], set[int]] = defaultdict(set)
    for c in candidates:
        wanted[(c[3], c[4], c[5])].add(c[0])
    findings: list[_Finding] = []
    days = settings.ANOMALY_WINDOW_DAYS
    for key, rows in groups.items():
        account_id, sku, currency = key
        times = np.array([r[6].timestamp() for r in rows])
        values = np.array([float(r[7]) / r[8] for r in rows])
        is_candidate = np.array([r[0] in wanted[key] for r in rows])
        judged = _judge(times=times, values=values, is_candidate=is_candidate, summary=summary,
                        kind=AnomalyFlag.Kind.ORDER_AMOUNT, min_scale_ratio=settings.ANOMALY_MIN_SPREAD)  # fmt: skip
        for i, spread, z in judged:
            row = rows[i]
            value = values[i]
            findings.append(_Finding(
                kind=AnomalyFlag.Kind.ORDER_AMOUNT, account_id=account_id, sku=sku, subject=row[2],
                observed_at=row[6], value=value, spread=spread, z=z, currency=currency, order_id=row[1],
                explanation=(
                    f"Unit price {_money(value, currency)} for {sku} (order {row[2]}"
                    + (f", {row[8]} × {_money(float(row[7]) / row[8], currency)}" if row[8] > 1 else "")
                    + f") is {abs(z):.1f}× the usual spread {_side(z)} its median {_money(spread.median, currency)} "
                    f"over the last {days} days ({spread.n} orders). "
                    + _spread_text(spread, functools.partial(_money, currency=currency))
                ),
            ))  # fmt: skip
    _record(findings, summary)
    return summary


def _judge(
    *,
    times: np.ndarray,
    values: np.ndarray,
    is_candidate: np.ndarray,
    summary: AnomalyScanSummary,
    kind: str,
    min_scale_ratio: float,
) -> list[tuple[int, Spread, float]]:
    """Candidates of one group beyond the threshold: (index, spread, z). The window ends at the newest candidate."""
    if not is_candidate.any():
        return []
    anchor = times[is_candidate].max()
    in_window = (times > anchor - _window().total_seconds()) & (times <= anchor)
    if in_window.sum() < settings.ANOMALY_MIN_HISTORY:
        summary.short_history += 1
        return []
    base = values[in_window]
    floor = max(abs(float(np.median(base))) * min_scale_ratio, 1e-6)
    spread = robust_spread(base, min_scale=floor)
    indices = np.flatnonzero(is_candidate)
    summary.checked[kind] += len(indices)
    z = (values[indices] - spread.median) / spread.scale
    found = [(int(indices[k]), spread, float(z[k])) for k in np.flatnonzero(np.abs(z) > _threshold())]
    return found


# --- fee rates -----------------------------------------------------------------------------------------------------


def _account_settlements(*, account_id: int | None, start: datetime, end: datetime) -> list[int]:
    """Settlements overlapping [start, end] whose account (given or inferred) is `account_id`."""
    overlapping = Settlement.objects.filter(
        Q(end_date__gte=start) | Q(end_date__isnull=True), Q(start_date__lte=end) | Q(start_date__isnull=True)
    ).order_by("pk")
    return [s.pk for s in overlapping if settlement_account_id(settlement=s) == account_id]


def _fee_rate_findings(
    *,
    settlement: Settlement,
    account_id: int | None,
    settlements: Sequence[int],
    first: datetime,
    last: datetime,
    summary: AnomalyScanSummary,
) -> list[_Finding]:
    items = (
        SettlementLine.objects.filter(
            settlement_id__in=settlements,
            kind=SettlementLine.Kind.ORDER,
            transaction_type="Order",
            posted_at__gt=first - _window(),
            posted_at__lte=last,
        )
        .exclude(sku="")
        .values("settlement_id", "amazon_order_id", "merchant_order_id", "sku", "fulfillment_id")
        .annotate(
            principal=Sum("amount", filter=Q(amount_type="ItemPrice", amount_description="Principal")),
            price=Sum("amount", filter=Q(amount_type__in=["ItemPrice", "Promotion"])),
            # Shipping the buyer paid (a free-shipping promotion cancels it): its own group, see below.
            shipping=Sum("amount", filter=Q(amount_type__in=["ItemPrice", "Promotion"], amount_description="Shipping")),
            fees=Sum("amount", filter=Q(amount_type="ItemFees") & ~Q(amount_description__in=NOT_FEES)),
            posted=Max("posted_at"),
        )
        .filter(principal__gt=0, price__gt=0)
        .order_by()
        .values_list(
            "settlement_id", "amazon_order_id", "merchant_order_id", "sku", "fulfillment_id", "price", "fees",
            "posted", "shipping",
        )
    )  # fmt: skip
    groups: dict[tuple[str, str, bool], list[tuple[Any, ...]]] = defaultdict(list)
    for row in items:
        groups[(row[3], row[4], bool(row[8]))].append(row)
    findings: list[_Finding] = []
    days = settings.ANOMALY_WINDOW_DAYS
    for (sku, channel, shipping), rows in groups.items():
        times = np.array([r[7].timestamp() for r in rows])
        values = np.array([-float(r[6] or 0) / float(r[5]) for r in rows])
        is_candidate = np.array([r[0] == settlement.pk for r in rows])
        judged = _judge(times=times, values=values, is_candidate=is_candidate, summary=summary,
                        kind=AnomalyFlag.Kind.FEE_RATE, min_scale_ratio=settings.ANOMALY_MIN_SPREAD)  # fmt: skip
        how = {"AFN": "FBA", "MFN": "merchant-fulfilled"}.get(channel, channel or "unknown fulfilment")
        how += ", with shipping" if shipping else ", no shipping"
        for i, spread, z in judged:
            row = rows[i]
            subject = row[1] or row[2]
            fees, price = -(row[6] or Decimal(0)), row[5]
            findings.append(_Finding(
                kind=AnomalyFlag.Kind.FEE_RATE, account_id=account_id, sku=sku, subject=subject, observed_at=row[7],
                value=values[i], spread=spread, z=z, settlement_id=settlement.pk,
                explanation=(
                    f"Fees of {_pct(values[i])} of the sale for {sku} (order {subject}, {how}: fees "
                    f"{_money(float(fees), settlement.currency)} on {_money(float(price), settlement.currency)}) "
                    f"are {abs(z):.1f}× the usual spread {_side(z)} its median {_pct(spread.median)} over the last "
                    f"{days} days ({spread.n} such order items). " + _spread_text(spread, _pct)
                ),
            ))  # fmt: skip
    return findings


# --- refund rates ------------------------------------------------------------------------------------------------


def _refund_rate_findings(
    *,
    settlement: Settlement,
    account_id: int | None,
    settlements: Sequence[int],
    first: datetime,
    last: datetime,
    summary: AnomalyScanSummary,
) -> list[_Finding]:
    weeks_back = max(1, settings.ANOMALY_WINDOW_DAYS // 7)
    first_week = _week_start(first)
    principal_rows = SettlementLine.objects.filter(
        settlement_id__in=settlements,
        kind__in=[SettlementLine.Kind.ORDER, SettlementLine.Kind.REFUND],
        amount_type="ItemPrice",
        amount_description="Principal",
        posted_at__gte=first_week - timedelta(weeks=weeks_back),
        posted_at__lte=last,
    ).exclude(sku="")
    sold_row = Q(kind=SettlementLine.Kind.ORDER, transaction_type="Order")
    by_sku: dict[str, dict[datetime, tuple[int, int]]] = defaultdict(dict)
    rows = (
        principal_rows.annotate(week=TruncWeek("posted_at", tzinfo=UTC))
        .values("sku", "week")
        .annotate(sold=Count("pk", filter=sold_row), refunded=Count("pk", filter=Q(kind=SettlementLine.Kind.REFUND)))
        .order_by()
        .values_list("sku", "week", "sold", "refunded")
    )
    for sku, week, sold, refunded in rows:
        by_sku[sku][_week_start(week)] = (sold, refunded)
    min_items = settings.ANOMALY_REFUND_MIN_ITEMS
    scanned = list(_weeks(first_week, last))
    findings: list[_Finding] = []
    for sku, weeks in by_sku.items():
        for week in scanned:
            sold, refunded = weeks.get(week, (0, 0))
            if sold < min_items:
                continue
            since = week - timedelta(weeks=weeks_back)
            earlier = [counts for w, counts in weeks.items() if since <= w < week and counts[0] >= min_items]
            if len(earlier) < settings.ANOMALY_MIN_HISTORY:
                summary.short_history += 1
                continue
            summary.checked[AnomalyFlag.Kind.REFUND_RATE] += 1
            rates = np.array([r / s for s, r in earlier])
            pooled = (sum(r for _, r in earlier) + 1) / (sum(s for s, _ in earlier) + 2)  # Laplace: never 0 or 1
            robust = robust_spread(rates, min_scale=0.0)
            rate = refunded / sold
            if rate <= robust.median or refunded < MIN_REFUNDS:
                continue
            # Two tests, both must call the week unusual: against the spread of earlier weeks (robust z), and
            # against chance at the pooled rate (the exact binomial tail as a z: refunds are rare, so the normal
            # approximation would call too many small weeks unusual). The smaller z is the one reported.
            z_history = robust.z(rate) if robust.scale > 0 else math.inf
            z_chance = _binomial_z(refunded, sold, pooled)
            z = min(z_history, z_chance)
            if z <= _threshold():
                continue
            basis = robust.basis if z_history <= z_chance else "binomial"
            spread = dataclasses.replace(robust, scale=(rate - robust.median) / z, basis=basis)
            end = week + timedelta(days=6)
            findings.append(_Finding(
                kind=AnomalyFlag.Kind.REFUND_RATE, account_id=account_id, sku=sku, subject=_iso_week(week),
                observed_at=week, value=rate, spread=spread, z=z, settlement_id=settlement.pk,
                explanation=(
                    f"Refund rate {_pct(rate)} for {sku} in the week {week:%d %b} – {end:%d %b %Y} ({refunded} of "
                    f"{sold} items refunded) is {z:.1f}× the usual spread above its median {_pct(spread.median)} "
                    f"over the previous {len(earlier)} weeks (pooled {_pct(pooled)}). " + _spread_text(spread, _pct)
                ),
            ))  # fmt: skip
    return findings


def _binomial_z(refunded: int, sold: int, rate: float) -> float:
    """P(at least `refunded` of `sold` items refunded | refund chance `rate`), as a one-sided normal z."""
    log_p, log_q = math.log(rate), math.log1p(-rate)
    head = math.lgamma(sold + 1)
    tail = sum(
        math.exp(head - math.lgamma(k + 1) - math.lgamma(sold - k + 1) + k * log_p + (sold - k) * log_q)
        for k in range(refunded, sold + 1)
    )
    return -NormalDist().inv_cdf(min(max(tail, 1e-300), 0.5))


def _week_start(value: datetime) -> datetime:
    value = value.astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC) - timedelta(days=value.weekday())


def _weeks(first_week: datetime, last: datetime) -> Iterable[datetime]:
    week = first_week
    while week <= last:
        yield week
        week += timedelta(weeks=1)


def _iso_week(week: datetime) -> str:
    year, number, _ = week.isocalendar()
    return f"{year}-W{number:02d}"


# --- recording -----------------------------------------------------------------------------------------------------


def _record(findings: Iterable[_Finding], summary: AnomalyScanSummary) -> None:
    """One flag per (kind, account, subject, SKU), with its exception. Existing flags (any status) are kept."""
    findings = list(findings)
    if not findings:
        return
    existing: set[tuple[str, int | None, str, str]] = set(
        AnomalyFlag.objects.filter(
            kind__in={f.kind for f in findings}, subject__in={f.subject for f in findings}
        ).values_list("kind", "seller_account_id", "subject", "sku")
    )
    accounts = {a.pk: a for a in SellerAccount.objects.filter(pk__in={f.account_id for f in findings if f.account_id})}
    for f in findings:
        key = (f.kind, f.account_id, f.subject, f.sku)
        if key in existing:
            continue
        existing.add(key)
        try:
            with transaction.atomic():
                flag = AnomalyFlag.objects.create(
                    kind=f.kind, seller_account_id=f.account_id, sku=f.sku[:200], subject=f.subject[:100],
                    order_id=f.order_id, settlement_id=f.settlement_id, observed_at=f.observed_at,
                    currency=f.currency, value=_dec(f.value), median=_dec(f.spread.median), mad=_dec(f.spread.mad),
                    spread=_dec(max(f.spread.scale, 1e-6)), spread_basis=f.spread.basis,
                    robust_z=Decimal(f"{max(min(f.z, 1e9), -1e9):.2f}"), history=f.spread.n,
                    explanation=f.explanation,
                )  # fmt: skip
                account = accounts.get(f.account_id) if f.account_id else None
                exception_open(
                    kind=ExceptionItem.Kind.ANOMALY,
                    source=flag,
                    # SKU and subject kept apart ("SKU-2 203-..." reads as one long digit run to card scanners).
                    summary=f"{flag.get_kind_display()} unusual: {f.sku}, {_SUBJECT[f.kind]} {f.subject}"
                    + (f" ({account.name})" if account else ""),
                    detail=f"{f.explanation}\nLook at the order or settlement; then dismiss the flag (normal after "
                    "all) or confirm it (a real problem) under Reconciliation › Anomaly flags.",
                    reference=f.subject,
                )
        except IntegrityError:
            continue  # another scan flagged it meanwhile
        summary.flagged[f.kind] += 1
        summary.flags.append(flag)
        logger.info("anomaly flagged: %s", f.explanation, extra={"kind": f.kind, "sku": f.sku, "subject": f.subject})


# --- words -------------------------------------------------------------------------------------------------------


def _dec(value: float) -> Decimal:
    return Decimal(f"{value:.6f}")


def _money(value: float, currency: str) -> str:
    symbol = _SYMBOLS.get(currency)
    sign = "−" if value < 0 else ""
    return f"{sign}{symbol}{abs(value):,.2f}" if symbol else f"{sign}{abs(value):,.2f} {currency}".strip()


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _side(z: float) -> str:
    return "above" if z > 0 else "below"


def _spread_text(spread: Spread, show: Any) -> str:
    basis = _BASIS_TEXT[spread.basis].format(pct=_pct(settings.ANOMALY_MIN_SPREAD))
    return f"Usual spread: {show(spread.scale)}, from {basis}."
