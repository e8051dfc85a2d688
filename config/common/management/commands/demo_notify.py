from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from config.common.demo.payments_demo import deliver_server_notification
from simulators.opayo.control import OpayoSimulatorControl


class Command(BaseCommand):
    help = "Demo: have the Opayo simulator deliver the hosted-page order's notification (three times) to WEBHOOK_URL."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("webhook_url")

    def handle(self, *args: Any, **options: Any) -> None:
        with OpayoSimulatorControl(settings.OPAYO_PI_BASE_URL.removesuffix("/api/v1")) as opayo:
            result = deliver_server_notification(opayo, options["webhook_url"])
        for delivery in result.get("deliveries", []):
            self.stdout.write(
                f"Opayo notification delivered: Status={delivery.get('status')} {delivery.get('status_detail')}"
            )
