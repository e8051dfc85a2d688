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


def kernel_schedules_sync() -> list[str]:
    # Due outbound requests: retries after backoff, and anything a dead worker left in flight. Every minute.
    schedule_upsert(name="common.outbound_sweep", func="config.common.tasks.outbound_sweep_due", minutes=1)
    return ["common.outbound_sweep"]
