"""A starting chart of accounts and settlement → GL mappings. Finance edits both in the admin afterwards.

`*` matches anything; the most specific row wins (most fields named; on a tie, a named transaction type beats a
named amount type, which beats a named description). Anything no row matches is an exception, never a default.
"""

from django.db import migrations

ACCOUNTS = [
    ("1205", "Amazon settlement clearing", "asset"),
    ("1210", "Amazon reserve held", "asset"),
    ("2200", "Sales tax / VAT payable", "liability"),
    ("4000", "Sales - Amazon", "revenue"),
    ("4010", "Shipping and gift wrap income - Amazon", "revenue"),
    ("4020", "Promotions and discounts - Amazon", "revenue"),
    ("4030", "Chargebacks - Amazon", "revenue"),
    ("4090", "FBA inventory reimbursements", "revenue"),
    ("5000", "Amazon selling fees", "expense"),
    ("5010", "Amazon FBA fees", "expense"),
    ("5020", "Amazon subscription and service fees", "expense"),
    ("5030", "Amazon advertising", "expense"),
    ("7960", "Currency rounding", "expense"),
]

MAPPINGS = [
    # (transaction type, amount type, amount description, account, description)
    ("*", "ItemPrice", "Principal", "4000", "Item price (orders and refunds)"),
    ("*", "ItemPrice", "Shipping", "4010", "Shipping charged"),
    ("*", "ItemPrice", "GiftWrap", "4010", "Gift wrap charged"),
    ("*", "ItemPrice", "Tax", "2200", "Tax collected on the item"),
    ("*", "ItemPrice", "ShippingTax", "2200", "Tax collected on shipping"),
    ("*", "ItemPrice", "GiftWrapTax", "2200", "Tax collected on gift wrap"),
    ("*", "ItemWithheldTax", "*", "2200", "Marketplace facilitator tax withheld by Amazon"),
    ("*", "Promotion", "*", "4020", "Promotions and discounts"),
    ("*", "ItemFees", "*", "5000", "Referral fees (Commission, RefundCommission, ...)"),
    ("*", "ItemFees", "FBAPerUnitFulfillmentFee", "5010", "FBA fulfilment fee per unit"),
    ("*", "ItemFees", "FBAPerOrderFulfillmentFee", "5010", "FBA fulfilment fee per order"),
    ("*", "ItemFees", "FBAWeightBasedFee", "5010", "FBA weight-based fee"),
    ("FBAFees", "*", "*", "5010", "FBA fees (inbound defects, ...)"),
    ("*", "other-transaction", "Storage Fee", "5010", "FBA storage"),
    ("*", "other-transaction", "StorageRenewalBilling", "5010", "FBA long-term storage"),
    ("*", "other-transaction", "DisposalComplete", "5010", "FBA disposal"),
    ("*", "other-transaction", "RemovalComplete", "5010", "FBA removal"),
    ("*", "other-transaction", "Subscription Fee", "5020", "Professional selling plan"),
    ("ServiceFee", "*", "*", "5020", "Service fees"),
    ("*", "other-transaction", "Shipping label purchase", "5020", "Buy Shipping labels"),
    ("*", "Cost of Advertising", "*", "5030", "Sponsored ads"),
    ("*", "other-transaction", "Previous Reserve Amount Balance", "1210", "Reserve released from last period"),
    ("*", "other-transaction", "Current Reserve Amount", "1210", "Reserve held this period"),
    ("*", "FBA Inventory Reimbursement", "*", "4090", "Lost or damaged FBA stock reimbursed"),
    ("Chargeback Refund", "ItemPrice", "*", "4030", "Card chargebacks"),
]


def add_defaults(apps, schema_editor):
    GlAccount = apps.get_model("mappings", "GlAccount")
    Mapping = apps.get_model("mappings", "SettlementAccountMapping")
    accounts = {}
    for code, name, kind in ACCOUNTS:
        accounts[code], _ = GlAccount.objects.get_or_create(code=code, defaults={"name": name, "kind": kind})
    for transaction_type, amount_type, description, code, note in MAPPINGS:
        Mapping.objects.get_or_create(
            transaction_type=transaction_type,
            amount_type=amount_type,
            amount_description=description,
            defaults={"gl_account": accounts[code], "description": note},
        )


def remove_defaults(apps, schema_editor):
    Mapping = apps.get_model("mappings", "SettlementAccountMapping")
    for transaction_type, amount_type, description, *_ in MAPPINGS:
        Mapping.objects.filter(
            transaction_type=transaction_type, amount_type=amount_type, amount_description=description
        ).delete()


class Migration(migrations.Migration):
    dependencies = [("mappings", "0007_glaccount_currencyrate_settlementaccountmapping")]
    operations = [migrations.RunPython(add_defaults, remove_defaults)]
