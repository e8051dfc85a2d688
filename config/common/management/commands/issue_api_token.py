from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from config.common.auth import SCOPES, api_client_issue
from config.common.models import ApiClient


class Command(BaseCommand):
    help = "Create an API client (ERP, eCommerce site) or give it a new token. The token is printed once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--kind", choices=ApiClient.Kind.values, required=True)
        parser.add_argument(
            "--scope", action="append", dest="scopes", choices=list(SCOPES),
            help="Repeat for several (default: the kind's scopes, see DEFAULT_SCOPES in config/common/auth.py).",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        client, token = api_client_issue(name=options["name"], kind=options["kind"], scopes=options["scopes"])
        self.stdout.write(f"{client}: {token}  (scopes: {', '.join(client.scopes) or 'none'})")
        self.stdout.write("Store it now: only its hash is kept. Use it as `Authorization: Bearer <token>`.")
