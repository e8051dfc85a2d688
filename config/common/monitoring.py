"""What the dashboard and the Prometheus endpoint show: queue depths, oldest waiting item, throughput and error
rates, circuit states, the last successful poll per account, the worker clusters' heartbeats. Read-only, a
handful of aggregate queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from django.db.models import Count, Min, Q
from django.db.models.functions import TruncHour
from django.utils import timezone

from config.common.models import CircuitBreaker, ExceptionItem, OutboundAttempt, OutboundRequest, RateLimitBucket
from config.common.workers import WorkersHealth, broker_queue, workers_health

if TYPE_CHECKING:
    from orders.selectors import NotificationsHealth


@dataclass(frozen=True)
class Queue:
    name: str
    depth: int
    oldest: datetime | None

    @property
    def oldest_age_seconds(self) -> float:
        return (timezone.now() - self.oldest).total_seconds() if self.oldest else 0.0


@dataclass(frozen=True)
class Poll:
    account: str
    marketplace_id: str
    feed: str
    last_success_at: datetime | None
    consecutive_failures: int
    last_error: str


@dataclass(frozen=True)
class OrderReportDay:
    """One day's completeness check: Amazon's order report against our orders."""

    account: str
    marketplace_id: str
    day: date
    state: str
    amazon_orders: int
    missing: int  # order ids Amazon had and we had not
    ingested: int  # of those, fetched and ingested


@dataclass(frozen=True)
class Quota:
    account: str
    operation: str
    tokens: float  # at the last call; below zero, calls already promised later slots
    rate: float | None  # as the provider last reported it
    last_used_at: datetime


@dataclass
class Snapshot:
    taken_at: datetime
    queues: list[Queue] = field(default_factory=list)
    exceptions_by_kind: dict[str, int] = field(default_factory=dict)
    outbound_by_status: dict[tuple[str, str], int] = field(default_factory=dict)  # (operation, status) → n
    attempts_last_hour: dict[str, int] = field(default_factory=dict)  # outcome → n
    hourly: list[tuple[datetime, int, int, int]] = field(default_factory=list)  # hour, orders, sent ok, failed
    circuits: list[CircuitBreaker] = field(default_factory=list)
    polls: list[Poll] = field(default_factory=list)
    quotas: list[Quota] = field(default_factory=list)
    workers: WorkersHealth | None = None
    worker_tasks_claimed: int = 0  # broker rows a cluster has taken and not yet acknowledged
    order_reports: list[OrderReportDay] = field(default_factory=list)  # the last 14 days' completeness checks
    notifications: NotificationsHealth | None = None  # SP-API notifications, the last hour
    poll_modes: dict[str, str] = field(default_factory=dict)  # account → "full: why" | "safety sweep: why"

    @property
    def error_rate_last_hour(self) -> float:
        total = sum(self.attempts_last_hour.values())
        bad = self.attempts_last_hour.get("failed", 0) + self.attempts_last_hour.get("retry", 0)
        return bad / total if total else 0.0


def monitoring_snapshot(*, hours: int = 24) -> Snapshot:
    from orders.models import Order, SyncCursor
    from payments.models import OpayoNotification
    from reconciliation.models import OrderReportCheck, SettlementFile

    now = timezone.now()
    snap = Snapshot(taken_at=now)
    waiting = OutboundRequest.objects.filter(
        status__in=[OutboundRequest.Status.PENDING, OutboundRequest.Status.IN_FLIGHT]
    )
    oldest = {"n": Count("pk"), "oldest": Min("created_at")}
    broker = broker_queue()
    snap.worker_tasks_claimed = broker.claimed
    snap.workers = workers_health()
    queues = [
        ("outbound requests", waiting.aggregate(**oldest)),
        ("exception queue", ExceptionItem.objects.filter(status="open").aggregate(**oldest)),
        ("worker tasks", {"n": broker.depth, "oldest": broker.oldest_enqueued_at}),  # enqueue time from the payload
        (
            "Opayo notifications to apply",
            OpayoNotification.objects.filter(outcome="received").aggregate(
                n=Count("pk"), oldest=Min("received_at")
            ),
        ),
        (
            "settlement files to retry",
            SettlementFile.objects.filter(state="rejected", next_attempt_at__isnull=False).aggregate(
                n=Count("pk"), oldest=Min("created_at")
            ),
        ),
    ]  # fmt: skip
    snap.queues = [Queue(name, row["n"] or 0, row["oldest"]) for name, row in queues]
    snap.exceptions_by_kind = dict(
        ExceptionItem.objects.filter(status="open").values_list("kind").annotate(n=Count("pk")).order_by()
    )
    snap.outbound_by_status = {
        (op, status): n
        for op, status, n in OutboundRequest.objects.values_list("operation", "status")
        .annotate(n=Count("pk"))
        .order_by()
    }
    snap.attempts_last_hour = dict(
        OutboundAttempt.objects.filter(started_at__gte=now - timedelta(hours=1))
        .values_list("outcome")
        .annotate(n=Count("pk"))
        .order_by()
    )
    since = now - timedelta(hours=hours)
    orders = dict(
        Order.objects.filter(created_at__gte=since)
        .annotate(hour=TruncHour("created_at"))
        .values_list("hour")
        .annotate(n=Count("pk"))
        .order_by()
    )
    attempts = {
        hour: (ok, failed)
        for hour, ok, failed in OutboundAttempt.objects.filter(started_at__gte=since)
        .annotate(hour=TruncHour("started_at"))
        .values_list("hour")
        .annotate(ok=Count("pk", filter=Q(outcome="succeeded")), failed=Count("pk", filter=~Q(outcome="succeeded")))
        .order_by()
    }
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
    for n in range(hours):
        hour = start + timedelta(hours=n)
        ok, failed = attempts.get(hour, (0, 0))
        snap.hourly.append((hour, orders.get(hour, 0), ok, failed))
    snap.circuits = list(CircuitBreaker.objects.order_by("key"))
    snap.polls = [
        Poll(c.account.name, c.marketplace_id, c.feed, c.last_success_at, c.consecutive_failures, c.last_error[:200])
        for c in SyncCursor.objects.select_related("account").order_by("account__name", "marketplace_id")
    ]
    snap.quotas = _quotas()
    snap.notifications, snap.poll_modes = _notifications()
    snap.order_reports = [
        OrderReportDay(c.seller_account.name, c.marketplace_id, c.day, c.state, c.amazon_orders, len(c.missing_ids),
                       c.ingested)
        for c in OrderReportCheck.objects.filter(day__gte=now.date() - timedelta(days=14))
        .select_related("seller_account")
        .order_by("-day", "seller_account__name", "marketplace_id")
    ]  # fmt: skip
    return snap


def _notifications() -> tuple[NotificationsHealth, dict[str, str]]:
    from orders.models import SellerAccount
    from orders.selectors import notifications_health
    from orders.services import order_poll_mode

    modes = {}
    for account in SellerAccount.objects.filter(is_active=True).order_by("name"):
        mode = order_poll_mode(account=account)
        modes[account.name] = f"{'safety sweep' if mode.mode == 'sweep' else 'full rate'}: {mode.reason}"
    return notifications_health(hours=1), modes


def _quotas() -> list[Quota]:
    """SP-API quota buckets (`spapi:<account id>:<operation>`), with the account's name."""
    from orders.models import SellerAccount

    buckets = list(RateLimitBucket.objects.filter(key__startswith="spapi:").order_by("key"))
    names = dict(SellerAccount.objects.values_list("pk", "name"))
    quotas = []
    for bucket in buckets:
        _, account_id, operation = bucket.key.split(":", 2)
        account = names.get(int(account_id), account_id) if account_id.isdigit() else account_id
        quotas.append(Quota(str(account), operation, bucket.tokens, bucket.rate, bucket.updated_at))
    return quotas
