from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from config.common.middleware import client_address
from config.common.monitoring import Snapshot, monitoring_snapshot
from config.common.workers import workers_health

_migrations_checked_at = 0.0


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. No database, no auth (load balancers and benchmarks use it)."""
    return HttpResponse("ok", content_type="text/plain")


def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness: the database answers, every migration is applied (checked at most once a minute) and a worker
    cluster has finished a task within WORKER_STALL_SECONDS (unless READYZ_REQUIRES_WORKER is off)."""
    global _migrations_checked_at
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        if time.monotonic() - _migrations_checked_at > 60:
            if MigrationExecutor(connection).migration_plan(MigrationExecutor(connection).loader.graph.leaf_nodes()):
                return HttpResponse("migrations not applied", status=503, content_type="text/plain")
            _migrations_checked_at = time.monotonic()
        if settings.READYZ_REQUIRES_WORKER:
            workers = workers_health()
            if not workers.ok:
                return HttpResponse(f"workers stalled: {workers.reason}", status=503, content_type="text/plain")
    except DatabaseError as exc:
        return HttpResponse(f"database unavailable: {exc.__class__.__name__}", status=503, content_type="text/plain")
    return HttpResponse("ready", content_type="text/plain")


class _SnapshotCollector(Collector):
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Any]:
        snap = self.snapshot
        depth = GaugeMetricFamily("ledgerline_queue_depth", "Items waiting", labels=["queue"])
        age = GaugeMetricFamily("ledgerline_queue_oldest_seconds", "Age of the oldest waiting item", labels=["queue"])
        for queue in snap.queues:
            depth.add_metric([queue.name], queue.depth)
            age.add_metric([queue.name], queue.oldest_age_seconds)
        exceptions = GaugeMetricFamily("ledgerline_exceptions_open", "Open exception items", labels=["kind"])
        for kind, n in snap.exceptions_by_kind.items():
            exceptions.add_metric([kind], n)
        outbound = GaugeMetricFamily(
            "ledgerline_outbound_requests", "Outbound requests", labels=["operation", "status"]
        )
        for (operation, status), n in snap.outbound_by_status.items():
            outbound.add_metric([operation, status], n)
        attempts = GaugeMetricFamily(
            "ledgerline_outbound_attempts_last_hour", "Provider calls made in the last hour", labels=["outcome"]
        )
        for outcome, n in snap.attempts_last_hour.items():
            attempts.add_metric([outcome], n)
        circuits = GaugeMetricFamily(
            "ledgerline_circuit_open", "1 when the circuit is open or half-open", labels=["circuit", "state"]
        )
        for breaker in snap.circuits:
            circuits.add_metric([breaker.key, breaker.state], 0 if breaker.state == "closed" else 1)
        polls = GaugeMetricFamily(
            "ledgerline_last_successful_poll_timestamp_seconds", "Last successful poll",
            labels=["account", "marketplace", "feed"],
        )  # fmt: skip
        for poll in snap.polls:
            if poll.last_success_at:
                polls.add_metric([poll.account, poll.marketplace_id, poll.feed], poll.last_success_at.timestamp())
        quotas = GaugeMetricFamily(
            "ledgerline_quota_tokens", "Tokens left at the last call (below zero: slots already promised)",
            labels=["account", "operation"],
        )  # fmt: skip
        rates = GaugeMetricFamily(
            "ledgerline_quota_rate", "Requests per second the provider reports", labels=["account", "operation"]
        )
        for quota in snap.quotas:
            quotas.add_metric([quota.account, quota.operation], quota.tokens)
            if quota.rate is not None:
                rates.add_metric([quota.account, quota.operation], quota.rate)
        yield from (depth, age, exceptions, outbound, attempts, circuits, polls, quotas, rates)
        yield from self._workers()
        yield from self._notifications()

    def _notifications(self) -> Iterator[Any]:
        health = self.snapshot.notifications
        if health is None:
            return
        messages = GaugeMetricFamily("ledgerline_notifications_last_hour", "SP-API notifications stored, last hour")
        messages.add_metric([], health.messages)
        lag = GaugeMetricFamily(
            "ledgerline_notification_lag_seconds", "Publish time to stored, last hour (-1: none)", labels=["stat"]
        )
        lag.add_metric(["median"], health.lag_median if health.lag_median is not None else -1)
        lag.add_metric(["max"], health.lag_max if health.lag_max is not None else -1)
        last = GaugeMetricFamily("ledgerline_notification_last_timestamp_seconds", "Last notification stored")
        if health.last_message_at:
            last.add_metric([], health.last_message_at.timestamp())
        healthy = GaugeMetricFamily("ledgerline_notification_consumer_up", "1 when a queue consumer receives")
        healthy.add_metric([], 1 if health.consumer_state == "receiving" else 0)
        missed = GaugeMetricFamily(
            "ledgerline_notifications_missed_ratio",
            "Orders first seen by polling with no notification, of orders first seen, last hour (-1: none)",
        )
        missed.add_metric([], health.missed_rate if health.missed_rate is not None else -1)
        yield from (messages, lag, last, healthy, missed)

    def _workers(self) -> Iterator[Any]:
        snap, health = self.snapshot, self.snapshot.workers
        claimed = GaugeMetricFamily(
            "ledgerline_worker_tasks_claimed", "Worker tasks a cluster has taken and not yet acknowledged"
        )
        claimed.add_metric([], snap.worker_tasks_claimed)
        yield claimed
        if health is None:
            return
        beats = GaugeMetricFamily(
            "ledgerline_worker_last_progress_timestamp_seconds", "Last task (heartbeat or other) a cluster finished",
            labels=["worker"],
        )  # fmt: skip
        for worker in health.workers:
            if worker.last_progress_at:
                beats.add_metric([worker.name], worker.last_progress_at.timestamp())
        age = GaugeMetricFamily(
            "ledgerline_worker_heartbeat_age_seconds", "Seconds since any cluster last finished a task (-1: never)"
        )
        age.add_metric([], health.progress_age_seconds if health.progress_age_seconds is not None else -1)
        stalled = GaugeMetricFamily("ledgerline_workers_stalled", "1 when no cluster finished a task in time")
        stalled.add_metric([], 0 if health.ok else 1)
        yield from (beats, age, stalled)


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format. With METRICS_TOKEN set: `Authorization: Bearer <token>`; without, local only."""
    token = settings.METRICS_TOKEN
    if token:
        if request.headers.get("Authorization", "") != f"Bearer {token}":
            return HttpResponse("unauthorised", status=401, content_type="text/plain")
    elif client_address(request) not in ("127.0.0.1", "::1"):
        return HttpResponse("set METRICS_TOKEN to scrape from elsewhere", status=403, content_type="text/plain")
    registry = CollectorRegistry()
    registry.register(_SnapshotCollector(monitoring_snapshot(hours=1)))
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def _bars(values: list[int], *, color: str, height: int = 60, width: int = 8) -> SafeString:
    """A small inline SVG bar chart (no JavaScript, no CDN)."""
    top = max(values) or 1
    bars = "".join(
        f'<rect x="{i * (width + 2)}" y="{height - v * height // top}" width="{width}" height="{v * height // top}" '
        f'fill="{color}"><title>{v}</title></rect>'
        for i, v in enumerate(values)
    )
    return mark_safe(  # noqa: S308 - numbers and fixed markup only
        f'<svg width="{len(values) * (width + 2)}" height="{height}" role="img">{bars}</svg>'
    )


@staff_member_required
def dashboard(request: HttpRequest) -> HttpResponse:
    snap = monitoring_snapshot(hours=24)
    charts = {
        "orders": _bars([h[1] for h in snap.hourly], color="#417690"),
        "sent": _bars([h[2] for h in snap.hourly], color="#2e7d32"),
        "failed": _bars([h[3] for h in snap.hourly], color="#ba2121"),
    }
    context = {
        "title": "Monitoring dashboard",
        "snap": snap,
        "charts": charts,
        "error_rate": f"{snap.error_rate_last_hour:.1%}",
        "first_hour": snap.hourly[0][0] if snap.hourly else None,
        "state_badge": {b.key: _badge(b.state) for b in snap.circuits},
    }
    from django.contrib import admin

    return render(request, "admin/dashboard.html", {**admin.site.each_context(request), **context})


def _badge(state: str) -> SafeString:
    color = {"closed": "#2e7d32", "open": "#ba2121", "half_open": "#e65100"}.get(state, "#666")
    return format_html('<strong style="color:{}">{}</strong>', color, state.replace("_", "-"))
