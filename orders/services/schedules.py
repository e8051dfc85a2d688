from __future__ import annotations

from django.conf import settings
from django_q.models import Schedule

from config.common.schedules import schedule_upsert
from orders.models import SellerAccount

POLL_FUNC = "orders.tasks.orders_poll_account"
POLL_PREFIX = "orders.poll_account:"


def order_poll_schedules_sync() -> list[str]:
    """One MINUTES schedule per active account; schedules of inactive or deleted accounts are removed."""
    active = SellerAccount.objects.filter(is_active=True).values_list("pk", flat=True)
    wanted = {f"{POLL_PREFIX}{pk}": pk for pk in active}
    for name, pk in wanted.items():
        schedule_upsert(name=name, func=POLL_FUNC, minutes=settings.SP_API_ORDERS_POLL_MINUTES, args=(pk,))
    Schedule.objects.filter(name__startswith=POLL_PREFIX).exclude(name__in=list(wanted)).delete()
    return sorted(wanted)


def order_polls_enqueue(*, account_ids: list[int]) -> int:
    """Poll these accounts now, in the background (the active ones); the usual lease keeps it from doubling a poll
    already running. Runs even while notifications stand in for polling (an operator asked, or notifications
    left changes to it). Returns how many were queued."""
    from django_q.tasks import async_task

    active = list(SellerAccount.objects.filter(pk__in=account_ids, is_active=True).values_list("pk", flat=True))
    for pk in active:
        async_task(POLL_FUNC, pk, True)
    return len(active)
