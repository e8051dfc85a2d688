"""Default Amazon OrderStatus → canonical status map. Finance/ops may edit these rows afterwards."""

from django.db import migrations

AMAZON_ORDER_DEFAULTS = [
    ("PendingAvailability", "pending_payment", "Pre-order placed; payment not authorised, release date ahead."),
    ("Pending", "pending_payment", "Placed; payment not authorised yet. Not ready to ship."),
    ("Unshipped", "authorised", "Payment authorised; ready to ship, nothing shipped yet."),
    ("PartiallyShipped", "partially_shipped", "Some items shipped."),
    ("Shipped", "shipped", "All items shipped."),
    ("InvoiceUnconfirmed", "shipped", "All items shipped; invoice not yet confirmed to Amazon."),
    ("Canceled", "cancelled", "Cancelled."),
    ("Unfulfillable", "on_hold", "Multi-Channel Fulfillment order Amazon cannot fulfil: needs review."),
]


def add_defaults(apps, schema_editor):
    StatusMapping = apps.get_model("mappings", "StatusMapping")
    for source_status, canonical, description in AMAZON_ORDER_DEFAULTS:
        StatusMapping.objects.get_or_create(
            source="amazon_order",
            source_status=source_status,
            defaults={"canonical_status": canonical, "description": description},
        )


def remove_defaults(apps, schema_editor):
    StatusMapping = apps.get_model("mappings", "StatusMapping")
    StatusMapping.objects.filter(
        source="amazon_order", source_status__in=[row[0] for row in AMAZON_ORDER_DEFAULTS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("mappings", "0001_initial")]
    operations = [migrations.RunPython(add_defaults, remove_defaults)]
