"""django-q2 schedules for polling, declared in code and upserted by name (Schedule.name is not unique)."""

from __future__ import annotations

from django.conf import settings
from django_q.models import Schedule

from orders.models import SellerAccount

POLL_FUNC = "orders.tasks.orders_poll_account"
POLL_PREFIX = "orders.poll_account:"


def order_poll_schedules_sync() -> list[str]:
    """One MINUTES schedule per active account; schedules of inactive or deleted accounts are removed."""
    wanted = {
        f"{POLL_PREFIX}{pk}": pk for pk in SellerAccount.objects.filter(is_active=True).values_list("pk", flat=True)
    }
    for name, pk in wanted.items():
        schedule = Schedule.objects.filter(name=name).order_by("pk").first()
        if schedule is None:
            schedule = Schedule(name=name)
        schedule.func = POLL_FUNC
        schedule.args = repr((pk,))
        schedule.schedule_type = Schedule.MINUTES
        schedule.minutes = settings.SP_API_ORDERS_POLL_MINUTES
        schedule.repeats = -1
        schedule.save()
        Schedule.objects.filter(name=name).exclude(pk=schedule.pk).delete()
    Schedule.objects.filter(name__startswith=POLL_PREFIX).exclude(name__in=list(wanted)).delete()
    return sorted(wanted)
