from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from orders.models import SellerAccount
from orders.services import amazon_orders_sync


class Command(BaseCommand):
    help = "Run one Amazon order polling cycle now (all active accounts, or the one named)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", help="Account name, id or selling partner id.")
        parser.add_argument("--marketplace", help="Only this marketplace id.")
        parser.add_argument("--max-pages", type=int, help="Stop after this many getOrders pages.")
        parser.add_argument(
            "--ignore-backoff", action="store_true", help="Poll even if the cursor is backing off after errors."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        accounts = SellerAccount.objects.filter(is_active=True)
        if options["account"]:
            key = options["account"]
            match = Q(name=key) | Q(selling_partner_id=key)
            if key.isdigit():
                match |= Q(pk=int(key))
            accounts = accounts.filter(match)
            if not accounts.exists():
                raise CommandError(f"No active seller account {key!r}")
        failed = False
        for account in accounts:
            for marketplace in account.marketplaces.filter(is_active=True):
                if options["marketplace"] and marketplace.marketplace_id != options["marketplace"]:
                    continue
                result = amazon_orders_sync(
                    account=account,
                    marketplace_id=marketplace.marketplace_id,
                    max_pages=options["max_pages"],
                    ignore_backoff=options["ignore_backoff"],
                )
                failed |= result.outcome == "failed"
                style = self.style.ERROR if result.outcome == "failed" else self.style.SUCCESS
                self.stdout.write(style(result.summary()))
        if failed:
            raise CommandError("At least one cycle failed; see the errors above and the exception queue.")
