"""Demo inventory: the US account ships its own orders (MFN), the EU account's stock is at Amazon (FBA).

The ERP "posts" its levels for the catalogue (two sites); the worker sends the US listings their available
quantities through the real client; the EU account's FBA stock (fulfillable, reserved, inbound) is read for the
ERP by the 30-minute schedule (its first run is at start-up).
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from config.common.demo import data
from fulfillment.services.inventory import LevelRow, inventory_levels_post
from mappings.models import SkuMapping
from orders.models import SellerAccount
from simulators.spapi.control import SpApiSimulatorControl


def load_inventory_demo(sim: SpApiSimulatorControl) -> None:
    eu = SellerAccount.objects.get(selling_partner_id=data.ACCOUNTS[0].selling_partner_id)
    us = SellerAccount.objects.get(selling_partner_id=data.ACCOUNTS[1].selling_partner_id)
    SkuMapping.objects.filter(seller_account=eu).update(fulfillment_channel="AFN")
    for sku, (item_id, description) in data.CATALOGUE.items():
        SkuMapping.objects.update_or_create(
            seller_account=us, seller_sku=sku,
            defaults={"erp_item_id": item_id, "description": description, "fulfillment_channel": "MFN"},
        )  # fmt: skip
    sim.set_listings(us.selling_partner_id, data.US, dict.fromkeys(data.CATALOGUE, 0))
    for n, sku in enumerate(data.CATALOGUE):
        sim.set_fba_inventory(
            eu.selling_partner_id, sku, 20 + 7 * n, inbound_shipped=12 if n % 3 == 0 else 0,
            inbound_receiving=4 if n % 4 == 0 else 0,
        )  # fmt: skip
    as_of = timezone.now() - timedelta(minutes=5)
    rows = [
        LevelRow(item_id=item_id, site=site, on_hand=on_hand, allocated=allocated, as_of=as_of, version=1)
        for n, (item_id, _) in enumerate(data.CATALOGUE.values())
        for site, on_hand, allocated in (("MAIN", 30 + 5 * n, n % 4), ("STORE2", 3 * (n % 3), 0))
    ]
    with transaction.atomic():  # pushed to Amazon by the worker once this commits
        inventory_levels_post(rows=rows, payload={"demo": "initial levels"})
