"""Defaults: payment status → order status, and the Opayo field rules. Editable in admin afterwards."""

from django.db import migrations

PAYMENT_DEFAULTS = [
    ("pending", "pending_payment", "Registered; Opayo's outcome not known yet."),
    ("requires_action", "pending_payment", "Waiting for the shopper's 3-D Secure challenge."),
    ("authorised", "authorised", "Deferred transaction authorised; capture (release) pending."),
    ("captured", "captured", "Money taken."),
    ("partially_refunded", "partially_refunded", "Part of the captured amount refunded."),
    ("refunded", "refunded", "Everything captured was refunded."),
    ("voided", "cancelled", "Voided the same day: the shopper is not charged."),
    ("aborted", "cancelled", "Deferred transaction aborted: the shopper is not charged."),
    ("declined", "on_hold", "Declined by the bank or the rules: needs a new payment or cancelling."),
    ("failed", "on_hold", "Opayo reported an error: needs review."),
]
FIELD_RULES = [
    ("opayo.description", "Order {external_id} {metadata[campaign_id]}", "Description of transactions we create."),
    ("opayo.settlement_reference", "{external_id}", "Shown on the acquirer's settlement report (≤ 30)."),
]


def add_defaults(apps, schema_editor):
    StatusMapping = apps.get_model("mappings", "StatusMapping")
    FieldRule = apps.get_model("mappings", "FieldRule")
    for source_status, canonical, description in PAYMENT_DEFAULTS:
        StatusMapping.objects.get_or_create(
            source="payment",
            source_status=source_status,
            defaults={"canonical_status": canonical, "description": description},
        )
    for target, template, description in FIELD_RULES:
        FieldRule.objects.get_or_create(target=target, defaults={"template": template, "description": description})


def remove_defaults(apps, schema_editor):
    apps.get_model("mappings", "StatusMapping").objects.filter(source="payment").delete()
    apps.get_model("mappings", "FieldRule").objects.filter(target__in=[r[0] for r in FIELD_RULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("mappings", "0003_fieldrule_alter_statusmapping_source")]
    operations = [migrations.RunPython(add_defaults, remove_defaults)]
