"""django-q2 entry points for the shared kernel: thin, and safe to run twice."""

from __future__ import annotations

from config.common import alerts, outbound


def outbound_send(pk: int) -> str:
    request = outbound.outbound_claim(pk=pk)
    if request is None:
        return "not due (already sent, claimed by another worker, or backing off)"
    return outbound.outbound_send(request=request).status


def outbound_sweep_due() -> str:
    result = outbound.outbound_sweep()
    return f"claimed {result.claimed}: {result.succeeded} sent, {result.retrying} retrying, {result.failed} failed"


def alerts_check_task() -> str:
    """Kept for schedules made before the watchdog took the check out of the cluster (`manage.py watchdog`)."""
    return f"{alerts.alerts_check_queues()} alert(s) raised"


def worker_heartbeat() -> str:
    """Does nothing: the monitor's acknowledgement of it is the heartbeat (config.common.workers)."""
    return "beat"
