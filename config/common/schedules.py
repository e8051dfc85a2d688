"""django-q2 schedules are declared in code and upserted by name (Schedule.name is not unique)."""

from __future__ import annotations

from django_q.models import Schedule


def schedule_upsert(*, name: str, func: str, minutes: int, args: tuple[object, ...] | None = None) -> Schedule:
    schedule = Schedule.objects.filter(name=name).order_by("pk").first() or Schedule(name=name)
    schedule.func = func
    schedule.args = repr(args) if args else None
    schedule.schedule_type = Schedule.MINUTES
    schedule.minutes = minutes
    schedule.repeats = -1
    schedule.save()
    Schedule.objects.filter(name=name).exclude(pk=schedule.pk).delete()
    return schedule


# Schedules that do not depend on data (per-account polls are declared by their apps).
STATIC_SCHEDULES = [
    # Due outbound requests: retries after backoff, and anything a dead worker left in flight.
    ("common.outbound_sweep", "config.common.tasks.outbound_sweep_due", 1),
    # Proof that a cluster runs tasks end to end, for a plain `qcluster` too (run_worker beats more often).
    # Queue and stalled-worker alerts are not scheduled here: `manage.py watchdog` checks them from outside.
    ("common.worker_heartbeat", "config.common.tasks.worker_heartbeat", 1),
    # Opayo transactions whose outcome we do not know yet (3-D Secure in progress, lost answers).
    ("payments.poll", "payments.tasks.payments_poll_due", 1),
    # Opayo settlement batches (daily; yesterday and the 3 days before), matched to our transactions.
    ("payments.opayo_batches", "payments.tasks.opayo_batches_fetch_task", 24 * 60),
    # Orders whose channel has trailed our own facts too long (Amazon has not taken a shipment confirmation).
    ("orders.lags_check", "orders.tasks.order_lags_check_task", 60),
    # Paid eCommerce orders without an FBA order yet, and open FBA orders to read back.
    ("fulfillment.sweep", "fulfillment.tasks.fulfillment_sweep", 1),
    # Inventory: listings with nothing on its way, drift read-back, FBA stock for the ERP.
    ("fulfillment.inventory_sweep", "fulfillment.tasks.inventory_sweep", 2),
    ("fulfillment.inventory_check", "fulfillment.tasks.inventory_check_task", 10),
    ("fulfillment.fba_inventory", "fulfillment.tasks.fba_inventory_fetch_task", 30),
    # New Amazon settlement reports (Amazon makes them about every two weeks), imported once each.
    ("reconciliation.settlement_reports", "reconciliation.tasks.settlement_reports_fetch_task", 60),
    # Rejected settlement files whose next try is due (Reports API files are downloaded again).
    ("reconciliation.settlement_retry", "reconciliation.tasks.settlement_files_retry_task", 5),
    # Bank deposits: matched again, and unmatched ones past BANK_UNMATCHED_DAYS become exceptions.
    ("reconciliation.bank_deposits", "reconciliation.tasks.bank_deposits_check_task", 60),
    # Anomaly flags: unit prices of recent Amazon orders, fee and refund rates of newly imported settlements.
    ("reconciliation.anomalies", "reconciliation.tasks.anomalies_scan_task", 60),
    # Period-end accruals of shipped orders no settlement contains (the last ended period; reversed next period).
    ("reconciliation.accruals", "reconciliation.tasks.period_accruals_task", 24 * 60),
    # Completeness: shipped orders in no settlement; yesterday's Amazon order report against our orders.
    ("reconciliation.completeness", "reconciliation.tasks.completeness_check_task", 24 * 60),
    # Mapping suggestions for unknown SKUs, unmapped settlement amount types and custom fields (never applied).
    ("mappings.suggestions", "mappings.tasks.mapping_suggestions_refresh_task", 15),
]


# Schedules that were declared here once and are removed when the schedules are synced.
RETIRED_SCHEDULES = [
    "common.alerts_check",  # a check inside the cluster cannot report the cluster stalled: the watchdog does it
]


def static_schedules_sync() -> list[str]:
    for name, func, minutes in STATIC_SCHEDULES:
        schedule_upsert(name=name, func=func, minutes=minutes)
    Schedule.objects.filter(name__in=RETIRED_SCHEDULES).delete()
    return [name for name, _, _ in STATIC_SCHEDULES]
