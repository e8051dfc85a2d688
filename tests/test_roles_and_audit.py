"""Roles (finance, operations, auditor) enforced in the admin and the API; an audit trail of edits and actions."""

from __future__ import annotations

import io
from typing import Any

import pytest
from auditlog.models import LogEntry as AuditEntry
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, User
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config.common.models import ExceptionItem
from config.common.services import exception_open
from mappings.models import GlAccount, SkuMapping
from reconciliation.services import settlement_file_import, settlement_file_store
from tests.reconciliation.files import uk_settlement

pytestmark = pytest.mark.django_db


def member(role: str) -> Client:
    user = User.objects.create_user(role.lower(), password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def settlement(settings: Any, tmp_path: Any) -> None:
    settings.SETTLEMENT_STORAGE_DIR = tmp_path
    file, _ = settlement_file_store(data=io.BytesIO(uk_settlement().encode()), name="s.txt", source="test")
    settlement_file_import(file_id=file.pk)


def test_each_role_sees_and_changes_only_its_part(settlement: None) -> None:
    finance, operations, auditor = member("Finance"), member("Operations"), member("Auditor")
    # Finance: journals and GL mappings, not SKU mappings.
    assert finance.get("/admin/reconciliation/journalentry/").status_code == 200
    assert finance.get("/admin/mappings/settlementaccountmapping/add/").status_code == 200
    assert finance.get("/admin/mappings/skumapping/add/").status_code == 403
    # Operations: orders and SKU mappings, not the journals.
    assert operations.get("/admin/mappings/skumapping/add/").status_code == 200
    assert operations.get("/admin/orders/order/").status_code == 200
    assert operations.get("/admin/reconciliation/journalentry/").status_code == 403
    # Auditor: reads everything, changes nothing.
    assert auditor.get("/admin/reconciliation/journalentry/").status_code == 200
    assert auditor.get("/admin/mappings/skumapping/").status_code == 200
    assert auditor.get("/admin/mappings/skumapping/add/").status_code == 403
    account = GlAccount.objects.first()
    assert account is not None
    response = auditor.post(
        f"/admin/mappings/glaccount/{account.pk}/change/", {"code": "X", "name": "x", "kind": "asset"}
    )
    assert response.status_code == 403


def test_api_follows_the_roles(settlement: None) -> None:
    def api(role: str) -> APIClient:
        user = User.objects.create_user(f"api-{role}")
        user.groups.add(Group.objects.get(name=role))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
        return client

    assert api("Finance").get("/api/v1/reconciliation/journal-lines.csv").status_code == 200
    assert api("Auditor").get("/api/v1/reconciliation/settlements/").status_code == 200
    assert api("Operations").get("/api/v1/reconciliation/journal-lines.csv").status_code == 403


def test_mapping_edits_and_operator_actions_are_audited(settlement: None) -> None:
    operations = member("Operations")
    response = operations.post(
        "/admin/mappings/skumapping/add/",
        {"seller_sku": "NEW-SKU", "erp_item_id": "IT-NEW", "is_active": "on", "attributes": "{}",
         "fulfillment_channel": ""},
    )  # fmt: skip
    assert response.status_code == 302
    mapping = SkuMapping.objects.get(seller_sku="NEW-SKU")
    entry = AuditEntry.objects.get_for_object(mapping).get()
    assert entry.actor is not None and entry.actor.username == "operations"
    assert "erp_item_id" in entry.changes_dict

    item = exception_open(kind=ExceptionItem.Kind.ANOMALY, source=mapping, summary="look at this")
    operations.post(
        "/admin/common/exceptionitem/", {"action": "mark_resolved", "_selected_action": [item.pk]}, follow=True
    )
    log = LogEntry.objects.filter(object_id=str(item.pk)).get()
    assert log.user.username == "operations" and "Admin action: mark_resolved" in log.change_message


def test_secrets_are_never_in_the_audit_trail(account: Any) -> None:
    account.refresh_token = "Atzr|new-secret-token"
    account.save()
    for entry in AuditEntry.objects.all():
        assert "Atzr|" not in str(entry.changes) and "secret" not in str(entry.changes)


def test_api_token_scopes_limit_what_a_client_may_do() -> None:
    from config.common.auth import api_client_issue

    _, token = api_client_issue(name="Warehouse system", kind="erp", scopes=["erp:inventory"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/api/v1/erp/inventory/fba/").status_code == 200
    assert client.post("/api/v1/erp/sales-orders/pull/", {}, format="json").status_code == 403
    assert client.get("/api/v1/reconciliation/journal-lines.csv").status_code == 403
    with pytest.raises(ValueError, match="unknown scope"):
        api_client_issue(name="x", kind="erp", scopes=["admin:everything"])
