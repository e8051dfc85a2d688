"""The accounts and mapping rows of period-end accruals (reconciliation.services.accruals): an order shipped in a
period that no settlement contains yet is a receivable from Amazon against sales, fees and tax, at the figures of
the Finances API (listTransactions breakdowns). Finance edits them in the admin like any other row.

Accrual figures are mapped as (transaction type "Finances", the breakdown's top type, its finest type): `Sales`,
`Tax`, `Expenses` as Amazon names them, and `Receivable` for the other side: DEFERRED (Amazon holds the money until
its deferral ends: 1230), anything else (released, or not in the Finances API: 1220).
"""

from django.db import migrations

ACCOUNTS = [
    ("1220", "Amazon receivable - accrued (shipped, not yet settled)", "asset"),
    ("1230", "Amazon receivable - deferred by Amazon", "asset"),
]

MAPPINGS = [
    # (transaction type, amount type, amount description, account, description)
    ("Finances", "Receivable", "*", "1220", "Accrual: what Amazon owes for orders no settlement contains yet"),
    ("Finances", "Receivable", "DEFERRED", "1230", "Accrual: payouts Amazon defers (delivery date, invoiced orders)"),
    ("Finances", "Sales", "*", "4000", "Accrual: product charges"),
    ("Finances", "Sales", "Shipping", "4010", "Accrual: shipping charged"),
    ("Finances", "Sales", "Promotion", "4020", "Accrual: promotions"),
    ("Finances", "Tax", "*", "2200", "Accrual: tax collected"),
    ("Finances", "Expenses", "*", "5000", "Accrual: Amazon fees (commission, ...)"),
    ("Finances", "Expenses", "FBA fees", "5010", "Accrual: FBA fulfilment fees"),
]


def add_defaults(apps, schema_editor):
    GlAccount = apps.get_model("mappings", "GlAccount")
    Mapping = apps.get_model("mappings", "SettlementAccountMapping")
    for code, name, kind in ACCOUNTS:
        GlAccount.objects.get_or_create(code=code, defaults={"name": name, "kind": kind})
    for transaction_type, amount_type, description, code, note in MAPPINGS:
        account = GlAccount.objects.filter(code=code).first()
        if account is None:  # removed by finance since: leave the row out (an unmapped accrual is an error, visible)
            continue
        Mapping.objects.get_or_create(
            transaction_type=transaction_type,
            amount_type=amount_type,
            amount_description=description,
            defaults={"gl_account": account, "description": note},
        )


def remove_defaults(apps, schema_editor):
    Mapping = apps.get_model("mappings", "SettlementAccountMapping")
    for transaction_type, amount_type, description, *_ in MAPPINGS:
        Mapping.objects.filter(
            transaction_type=transaction_type, amount_type=amount_type, amount_description=description
        ).delete()


class Migration(migrations.Migration):
    dependencies = [("mappings", "0011_orders_2026_status_mappings")]
    operations = [migrations.RunPython(add_defaults, remove_defaults)]
