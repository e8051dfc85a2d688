from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from rest_framework.authtoken.models import Token

from config.common.access import AUDITOR
from config.common.auth import api_client_issue
from config.common.demo import data
from config.common.demo.inventory_demo import load_inventory_demo
from config.common.demo.settlements_demo import load_settlements_demo
from config.common.models import ApiClient
from mappings.models import SkuMapping
from orders.models import SellerAccount, SellerMarketplace
from orders.services import seller_account_upsert
from simulators.spapi.control import SpApiSimulatorControl


class Command(BaseCommand):
    help = "Create the demo users, accounts and mappings, seed the SP-API simulator and poll it once. Idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-poll", action="store_true", help="Do not run the first polling cycle.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.SP_API_ENDPOINT:
            raise CommandError("SP_API_ENDPOINT is not set: the demo needs the SP-API simulator (see README).")
        admin = User.objects.filter(username="admin").first()
        if admin is None:
            User.objects.create_superuser("admin", "admin@example.com", "admin")
        # A read-only API user (Auditor role: GET orders, payments, reconciliation); the ERP and the shop write
        # through their API clients below.
        erp, _ = User.objects.get_or_create(username="erp", defaults={"first_name": "ERP integration"})
        erp.groups.add(Group.objects.get(name=AUDITOR))
        token, _ = Token.objects.get_or_create(user=erp)

        for sku, (item_id, description) in data.CATALOGUE.items():
            SkuMapping.objects.update_or_create(
                seller_account=None, seller_sku=sku, defaults={"erp_item_id": item_id, "description": description}
            )
        sim = httpx.Client(base_url=settings.SP_API_ENDPOINT, timeout=30)
        now = timezone.now()
        generated: dict[tuple[str, str], dict[str, Any]] = {}
        for demo in data.ACCOUNTS:
            seller_account_upsert(
                name=demo.name,
                selling_partner_id=demo.selling_partner_id,
                region=demo.region,
                lwa_client_id=data.DEMO_CLIENT_ID,
                lwa_client_secret=data.DEMO_CLIENT_SECRET,
                refresh_token=demo.refresh_token,
                marketplace_ids=list(demo.marketplaces),
            )
            self._post(
                sim,
                "/_sim/sellers",
                {
                    "selling_partner_id": demo.selling_partner_id,
                    "refresh_token": demo.refresh_token,
                    "client_id": data.DEMO_CLIENT_ID,
                    "client_secret": data.DEMO_CLIENT_SECRET,
                    "marketplace_ids": list(demo.marketplaces),
                },
            )
            for index, marketplace_id in enumerate(demo.marketplaces):
                generated[demo.selling_partner_id, marketplace_id] = self._post(
                    sim,
                    "/_sim/generate",
                    {
                        "seller": demo.selling_partner_id,
                        "marketplace_id": marketplace_id,
                        "count": data.ORDERS_PER_MARKETPLACE[marketplace_id],
                        "skus": [*data.CATALOGUE, data.UNMAPPED_SKU],
                        "start": (now - timedelta(days=10)).isoformat(),
                        "end": (now - timedelta(minutes=10)).isoformat(),
                        "seed": 1000 + index + (0 if demo.region == "eu" else 100),
                    },
                )
        # One order Amazon sends with a European decimal comma: stored, flagged, visible in the exception queue.
        eu = data.ACCOUNTS[0]
        stamp = (now - timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._post(
            sim,
            "/_sim/orders",
            {
                "seller": eu.selling_partner_id,
                "raw": True,
                "orders": [
                    {
                        "order": {
                            "AmazonOrderId": "026-9999999-0000001",
                            "PurchaseDate": stamp,
                            "LastUpdateDate": stamp,
                            "OrderStatus": "Unshipped",
                            "FulfillmentChannel": "AFN",
                            "MarketplaceId": data.DE,
                            "SalesChannel": "Amazon.de",
                            "OrderTotal": {"CurrencyCode": "EUR", "Amount": "49,90"},
                        },
                        "items": [
                            {
                                "ASIN": "B0DEMO0001",
                                "OrderItemId": "99999999000001",
                                "SellerSKU": "BOTTLE-1L",
                                "QuantityOrdered": 1,
                                "QuantityShipped": 0,
                                "ItemPrice": {"CurrencyCode": "EUR", "Amount": "49,90"},
                            }
                        ],
                    }
                ],
            },
        )
        # Demo quotas: 10x Amazon's item/address rates so the first poll fills the admin at once.
        for operation in ("getOrderItems", "getOrderAddress"):
            self._post(sim, "/_sim/rate-limits", {"operation": operation, "rate": 5, "burst": 300})
        self._post(
            sim,
            "/_sim/live",
            {
                "seller": eu.selling_partner_id,
                "marketplace_id": data.UK,
                "skus": list(data.CATALOGUE),
                "every_seconds": 30,
            },
            optional=True,
        )
        # The EU account's UK marketplace ships eCommerce orders from FBA stock (Multi-Channel Fulfillment), and
        # Amazon moves those orders along by itself in the demo (the simulator's auto-advance).
        SellerMarketplace.objects.filter(
            account__selling_partner_id=data.ACCOUNTS[0].selling_partner_id, marketplace_id=data.UK
        ).update(mcf_enabled=True)
        # FBA stocks the catalogue under the EU seller's own SKUs (the reverse map multi-channel orders use).
        eu_account = SellerAccount.objects.get(selling_partner_id=data.ACCOUNTS[0].selling_partner_id)
        for sku, (item_id, description) in data.CATALOGUE.items():
            SkuMapping.objects.update_or_create(
                seller_account=eu_account, seller_sku=sku, defaults={"erp_item_id": item_id, "description": description}
            )
        self._post(sim, "/_sim/settings", {"auto_advance_seconds": 45}, optional=True)
        # Inventory: the ERP's levels pushed to the US (merchant-fulfilled) listings; FBA stock for EU.
        with SpApiSimulatorControl(settings.SP_API_ENDPOINT) as control:
            load_inventory_demo(control)
        # Settlement reports for those orders, which the worker's schedule imports (see settlements_demo).
        load_settlements_demo(
            sim,
            seller=eu.selling_partner_id,
            uk_order_ids=list(generated[eu.selling_partner_id, data.UK].get("order_ids", []))[:30],
            de_order_ids=list(generated.get((eu.selling_partner_id, data.DE), {}).get("order_ids", []))[:15],
        )
        if settings.OPAYO_PI_BASE_URL.startswith("http://127.0.0.1"):
            from config.common.demo.payments_demo import load_payments_demo
            from simulators.opayo.control import OpayoSimulatorControl

            with OpayoSimulatorControl(settings.OPAYO_PI_BASE_URL.removesuffix("/api/v1")) as opayo:
                load_payments_demo(opayo)
        if settings.SP_API_NOTIFICATIONS_QUEUE_URL:
            self._subscribe_demo_accounts()
        if not options["no_poll"]:
            call_command("poll_orders", ignore_backoff=True, stdout=self.stdout)
            # Amazon's settlement reports for those orders, imported now rather than at the next hourly listing.
            from reconciliation.services.reports import settlement_reports_fetch

            summary = settlement_reports_fetch(account=eu_account)
            self.stdout.write(f"Settlement reports: {len(summary.imported)} imported, {len(summary.rejected)} rejected")
            # The bank's statements for those payouts and the Opayo batch: matched, one short deposit queued.
            from config.common.demo.bank_demo import load_bank_demo

            for said in load_bank_demo():
                self.stdout.write(f"Bank statement {said}")
        _, erp_token = api_client_issue(name="Dynamics SL (demo)", kind=ApiClient.Kind.ERP)
        _, shop_token = api_client_issue(name="Web shop (demo)", kind=ApiClient.Kind.ECOMMERCE)
        self.stdout.write(
            self.style.SUCCESS(f"Demo ready. API token for user 'erp' (Auditor, read-only; Authorization: Token ...): "
                               f"{token.key}")
        )  # fmt: skip
        self.stdout.write(
            self.style.SUCCESS(f"ERP client token (Authorization: Bearer ...): {erp_token}  (new on every start)")
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"eCommerce client token (Authorization: Bearer ...): {shop_token}  (new on every start)"
            )
        )

    def _subscribe_demo_accounts(self) -> None:
        """Every demo account subscribed to every notification type: the simulator's live orders then arrive through
        the local SQS within seconds, and polling backs off to its safety sweep."""
        from config.common.errors import ApplicationError
        from orders.models import NotificationType
        from orders.services import notification_subscribe

        for account in SellerAccount.objects.filter(
            selling_partner_id__in=[a.selling_partner_id for a in data.ACCOUNTS]
        ):
            for notification_type in NotificationType.values:
                try:
                    notification_subscribe(account=account, notification_type=notification_type, actor="demo")
                except ApplicationError as exc:
                    self.stderr.write(f"Notifications not subscribed: {exc}")
                    return
        self.stdout.write("SP-API notifications: every demo account subscribed (ORDER_CHANGE and the others)")

    def _post(self, sim: httpx.Client, path: str, body: dict[str, Any], optional: bool = False) -> dict[str, Any]:
        try:
            response = sim.post(path, json=body)
        except httpx.HTTPError as exc:
            raise CommandError(f"SP-API simulator at {settings.SP_API_ENDPOINT} unreachable: {exc}") from exc
        if response.status_code >= 400 and not optional:
            raise CommandError(f"Simulator refused {path}: HTTP {response.status_code} {response.text[:300]}")
        try:
            return dict(response.json())
        except ValueError:
            return {}
