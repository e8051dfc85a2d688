"""GL accounts the bank deposits post to (Finance edits them, and each bank account's GL account, in the admin)."""

from django.db import migrations

ACCOUNTS = [
    ("1200", "Bank current account", "asset"),
    ("1206", "Card acquirer clearing (Opayo)", "asset"),
    ("5040", "Card processing fees", "expense"),
    ("7970", "Bank deposit differences", "expense"),
]


def add_accounts(apps, schema_editor):
    GlAccount = apps.get_model("mappings", "GlAccount")
    for code, name, kind in ACCOUNTS:
        GlAccount.objects.get_or_create(code=code, defaults={"name": name, "kind": kind})


def remove_accounts(apps, schema_editor):
    GlAccount = apps.get_model("mappings", "GlAccount")
    GlAccount.objects.filter(code__in=[code for code, _, _ in ACCOUNTS], journalline__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reconciliation", "0005_bank_statements_and_matches"),
        ("mappings", "0008_default_gl_accounts"),
    ]
    operations = [migrations.RunPython(add_accounts, remove_accounts)]
