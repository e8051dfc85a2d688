from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from config.common.fields import secrets_reencrypt


class Command(BaseCommand):
    help = (
        "Encrypt every stored secret (seller refresh tokens, LWA client secrets, Opayo security keys) again with the "
        "first key of FIELD_ENCRYPTION_KEYS. Rotate keys by putting the new key first, running this, then removing "
        "the old key."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        for field, count in secrets_reencrypt().items():
            self.stdout.write(f"{field}: {count} value(s) re-encrypted")
        self.stdout.write("Every secret is now encrypted with the first key; the other keys can be removed.")
