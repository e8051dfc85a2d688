from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from config.common.schedules import static_schedules_sync
from orders.services import order_poll_schedules_sync


class Command(BaseCommand):
    help = "Create or update every django-q2 schedule the project declares (safe to run repeatedly)."

    def handle(self, *args: Any, **options: Any) -> None:
        for name in [*static_schedules_sync(), *order_poll_schedules_sync()]:
            self.stdout.write(f"schedule {name}")
