"""Default Amazon Orders API v2026-01-01 fulfillmentStatus → canonical status, next to v0's OrderStatus rows (stored
v0 snapshots still reprocess through those). Finance/ops may edit these rows afterwards."""

from django.db import migrations

AMAZON_ORDER_2026_DEFAULTS = [
    ("PENDING_AVAILABILITY", "pending_payment", "Orders 2026-01-01: pre-order placed; release date ahead."),
    ("PENDING", "pending_payment", "Orders 2026-01-01: placed; payment not authorised yet. Not ready to ship."),
    ("UNSHIPPED", "authorised", "Orders 2026-01-01: payment authorised; ready to ship, nothing shipped yet."),
    ("PARTIALLY_SHIPPED", "partially_shipped", "Orders 2026-01-01: some items shipped."),
    ("SHIPPED", "shipped", "Orders 2026-01-01: all items shipped (v0's Shipped and InvoiceUnconfirmed)."),
    ("CANCELLED", "cancelled", "Orders 2026-01-01: cancelled."),
    ("UNFULFILLABLE", "on_hold", "Orders 2026-01-01: Amazon cannot fulfil the order: needs review."),
]


def add_defaults(apps, schema_editor):
    StatusMapping = apps.get_model("mappings", "StatusMapping")
    for source_status, canonical, description in AMAZON_ORDER_2026_DEFAULTS:
        StatusMapping.objects.get_or_create(
            source="amazon_order",
            source_status=source_status,
            defaults={"canonical_status": canonical, "description": description},
        )


def remove_defaults(apps, schema_editor):
    apps.get_model("mappings", "StatusMapping").objects.filter(
        source="amazon_order", source_status__in=[row[0] for row in AMAZON_ORDER_2026_DEFAULTS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("mappings", "0010_mappingsuggestion")]
    operations = [migrations.RunPython(add_defaults, remove_defaults)]
