from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from config.common.access import policy_markdown


class Command(BaseCommand):
    help = "Print the access policy (config/common/access.py POLICY) as the README's 'Who may do what' table."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(policy_markdown(), ending="")
