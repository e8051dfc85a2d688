"""Default FBA (Multi-Channel Fulfillment) order status → canonical order status. Editable afterwards."""

from django.db import migrations

FBA_DEFAULTS = [
    ("requested", "fulfilment_requested", "Sent to Amazon, not acknowledged yet."),
    ("New", "fulfilment_requested", "Received by Amazon, not validated yet."),
    ("Received", "fulfilment_requested", "Validated by Amazon."),
    ("Planning", "fulfilment_requested", "Sent to the fulfilment network."),
    ("Processing", "fulfilment_requested", "Being picked and packed."),
    ("Complete", "shipped", "Everything shipped."),
    ("CompletePartialled", "partially_shipped", "Some items shipped; the rest cancelled or unfulfillable."),
    ("Unfulfillable", "on_hold", "No sellable stock: review (cancel and refund, or wait)."),
    ("Invalid", "on_hold", "Amazon found the request invalid: review."),
    ("Cancelled", "cancelled", "Cancelled."),
]


def add_defaults(apps, schema_editor):
    StatusMapping = apps.get_model("mappings", "StatusMapping")
    for source_status, canonical, description in FBA_DEFAULTS:
        StatusMapping.objects.get_or_create(
            source="fba_fulfillment",
            source_status=source_status,
            defaults={"canonical_status": canonical, "description": description},
        )


def remove_defaults(apps, schema_editor):
    apps.get_model("mappings", "StatusMapping").objects.filter(source="fba_fulfillment").delete()


class Migration(migrations.Migration):
    dependencies = [("mappings", "0005_fieldmappingtemplate_skumapping_attributes_and_more")]
    operations = [migrations.RunPython(add_defaults, remove_defaults)]
