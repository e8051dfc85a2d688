"""Operator roles as Django groups, kept in step with the code after every migrate:

- Finance: journals, GL accounts and settlement → GL mappings, currency rates, settlements and their files
  (upload, re-import), Opayo batches; reads orders and payments.
- Operations: orders, fulfilment, inventory, SKU/status/field mappings, the exception queue, outbound requests,
  seller accounts; reads payments.
- Auditor: reads everything, changes nothing.
Give a user one of these groups (and "staff status" for the admin). Superusers are outside the roles.
These grants are Django's model permissions (admin change lists and forms, Import/Export); which actions, custom
admin views and API operations each role may run is the policy table in config/common/access.py, and a system check
(ledgerline.A004) fails when the two disagree (a role granted an operation on a page it cannot see, an Auditor
allowed to change anything).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

ALL = ("add", "change", "delete", "view")
ROLES: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    # (app label, model name or "*", actions)
    "Finance": [
        ("reconciliation", "*", ALL),
        ("mappings", "glaccount", ALL),
        ("mappings", "settlementaccountmapping", ALL),
        ("mappings", "currencyrate", ALL),
        ("payments", "*", ("view",)),
        ("payments", "opayobatch", ("view", "change")),
        ("orders", "order", ("view",)),
        ("common", "exceptionitem", ("view", "change")),
        ("mappings", "mappingsuggestion", ("view",)),  # accept/reject: config/common/access.py
    ],
    "Operations": [
        ("orders", "*", ALL),
        ("fulfillment", "*", ALL),
        ("mappings", "skumapping", ALL),
        ("mappings", "statusmapping", ALL),
        ("mappings", "fieldrule", ALL),
        ("mappings", "fieldmappingtemplate", ALL),
        ("mappings", "fieldmappingrule", ALL),
        ("mappings", "mappingsuggestion", ("view",)),
        ("common", "exceptionitem", ("view", "change")),
        ("common", "outboundrequest", ("view", "change")),
        ("payments", "*", ("view",)),
        ("reconciliation", "anomalyflag", ("view", "change")),  # unusual prices are theirs to review too
    ],
    "Auditor": [("*", "*", ("view",))],
}


def roles_sync(**kwargs: Any) -> None:
    """Create or update the groups (idempotent; runs after migrate, when permissions exist)."""
    for name, grants in ROLES.items():
        query = Q(pk__in=[])
        for app_label, model, actions in grants:
            part = Q(codename__regex=rf"^({'|'.join(actions)})_")
            if app_label != "*":
                part &= Q(content_type__app_label=app_label)
            if model != "*":
                part &= Q(content_type__model=model)
            query |= part
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(Permission.objects.filter(query))
