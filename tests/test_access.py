"""Issue 13, "Access": authorization as data (config/common/access.py POLICY), deny by default.

The matrix test walks every URL pattern of config.urls and every action of every registered ModelAdmin, calls each
as every kind of principal and checks the answer against the policy table: allowed → not refused, refused → 401/403
(or the admin's redirect to its login page, for who has no admin session) and nothing changed in the database.
"""

from __future__ import annotations

import functools
import io
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.db import connection, models
from django.test import Client
from django_q.models import OrmQ
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config.common.access import (
    AUDITOR,
    POLICY,
    ROLE_NAMES,
    Rule,
    UrlEntry,
    admin_actions,
    check_declarations,
    policy_markdown,
    url_entries,
)
from config.common.auth import DEFAULT_SCOPES, SCOPES, api_client_issue
from config.common.models import ApiClient, ExceptionItem
from config.common.services import exception_open
from orders.models import Order, SellerAccount
from payments.models import Payment
from payments.services import payment_capture
from reconciliation.models import SettlementFile
from reconciliation.services import settlement_file_import, settlement_file_store
from tests.orders.test_amazon_ingest import ingest, one
from tests.payments import test_opayo_flows as flows
from tests.payments.conftest import ecommerce_order_payload
from tests.reconciliation.files import uk_settlement

opayo, opayo_url = flows.opayo, flows.opayo_url
README = Path(__file__).resolve().parent.parent / "README.md"


def member(role: str | None, *, staff: bool = True, superuser: bool = False) -> User:
    user = User.objects.create_user(f"{role or 'nobody'}-{User.objects.count()}", password="pw", is_staff=staff)
    if superuser:
        user.is_superuser = True
        user.save()
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def settlement(settings: Any, tmp_path: Any, db: None) -> SettlementFile:
    settings.SETTLEMENT_STORAGE_DIR = tmp_path
    file, _ = settlement_file_store(data=io.BytesIO(uk_settlement().encode()), name="s.txt", source="test")
    return settlement_file_import(file_id=file.pk)


# --- What the attacker and the operator found --------------------------------------------------------------------


def test_operations_cannot_download_the_settlement_file_it_may_not_see(settlement: SettlementFile) -> None:
    operations, finance, auditor = Client(), Client(), Client()
    operations.force_login(member("Operations"))
    finance.force_login(member("Finance"))
    auditor.force_login(member(AUDITOR))
    assert operations.get("/admin/reconciliation/settlementfile/").status_code == 403
    url = f"/admin/reconciliation/settlementfile/{settlement.pk}/download/"
    assert operations.get(url).status_code == 403
    assert finance.get(url).status_code == 200
    assert auditor.get(url).status_code == 200  # a read-only source document of the journal
    assert auditor.post("/admin/reconciliation/settlementfile/upload/").status_code == 403
    # The buttons follow the policy too.
    assert "Upload a settlement file" in finance.get("/admin/reconciliation/settlementfile/").content.decode()
    assert "Upload a settlement file" not in auditor.get("/admin/reconciliation/settlementfile/").content.decode()


def test_the_auditor_runs_no_admin_action(settlement: SettlementFile, account: SellerAccount) -> None:
    auditor = Client()
    auditor.force_login(member(AUDITOR))
    queued = OrmQ.objects.count()
    response = auditor.post(
        "/admin/orders/selleraccount/", {"action": "poll_now", "_selected_action": [account.pk], "index": 0}
    )
    assert response.status_code == 403
    assert OrmQ.objects.count() == queued  # no poll queued
    # Reading the journal as CSV is reading: allowed.
    entry = settlement.settlement.journals.get()  # type: ignore[union-attr]
    csv = auditor.post(
        "/admin/reconciliation/journalentry/", {"action": "download_csv", "_selected_action": [entry.pk], "index": 0}
    )
    assert csv.status_code == 200 and csv["Content-Type"] == "text/csv"
    # ... and the menu offers only that.
    page = auditor.get("/admin/reconciliation/journalentry/").content.decode()
    assert 'value="download_csv"' in page and 'value="mark_posted"' not in page


def test_staff_without_a_role_gets_nothing(settlement: SettlementFile) -> None:
    nobody = Client()
    nobody.force_login(member(None))
    index = nobody.get("/admin/")
    assert index.status_code == 200 and "Monitoring dashboard" not in index.content.decode()
    assert nobody.get("/admin/dashboard/").status_code == 403
    assert nobody.get("/api/v1/orders/").status_code == 403
    assert nobody.get(f"/admin/reconciliation/settlementfile/{settlement.pk}/download/").status_code == 403


def test_import_needs_the_change_permission(db: None) -> None:
    auditor, operations = Client(), Client()
    auditor.force_login(member(AUDITOR))
    operations.force_login(member("Operations"))
    assert auditor.get("/admin/mappings/skumapping/import/").status_code == 403
    assert auditor.get("/admin/mappings/skumapping/export/").status_code == 200
    assert operations.get("/admin/mappings/skumapping/import/").status_code == 200


def test_default_scopes_per_kind() -> None:
    assert not {s for s in DEFAULT_SCOPES["erp"] if s.startswith("payments:")}
    assert {"orders:write", "payments:write"} <= set(DEFAULT_SCOPES["ecommerce"])
    assert set(DEFAULT_SCOPES["erp"]) | set(DEFAULT_SCOPES["ecommerce"]) == set(SCOPES)
    scopes_used = {rule.scope for rule in POLICY.values() if rule.scope}
    assert scopes_used == set(SCOPES)  # every scope guards something, every guard is a known scope


# --- The table is the truth, and the only one ---------------------------------------------------------------------


def test_readme_table_is_the_policy() -> None:
    text = README.read_text()
    section = text.split("## Who may do what", 1)[1].split("\n## ", 1)[0]
    table = "\n".join(line for line in section.splitlines() if line.startswith("|")) + "\n"
    assert table == policy_markdown(), "README is stale: paste `manage.py access_table` into 'Who may do what'"
    out = io.StringIO()
    call_command("access_table", stdout=out)
    assert out.getvalue() == policy_markdown()


def test_the_system_check_passes_and_names_what_declares_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    assert check_declarations() == []
    from config.common import access

    entries = url_entries()
    undeclared = UrlEntry("api/v1/new/", "new", None, lambda request: None, None)
    monkeypatch.setattr(access, "url_entries", lambda: [*entries, undeclared])

    def bare_action(modeladmin: Any, request: Any, queryset: Any) -> None: ...

    model_admin = admin.site._registry[Order]
    monkeypatch.setattr(type(model_admin), "actions", [*(type(model_admin).actions or []), bare_action])
    problems = {error.id: error.msg for error in check_declarations()}
    assert "api/v1/new/" in problems["ledgerline.A001"]
    assert "bare_action declares no operation" in problems["ledgerline.A003"]


def test_a_view_without_an_operation_is_refused(db: None) -> None:
    from rest_framework.views import APIView

    from config.common.access import PolicyPermission

    class Undeclared(APIView):
        pass

    superuser = member(None, superuser=True)
    request = type("R", (), {"method": "GET", "auth": None, "user": superuser})()
    assert PolicyPermission().has_permission(request, Undeclared()) is False


def test_roles_py_agrees_with_the_policy() -> None:
    from config.common.access import check_roles_agree

    assert check_roles_agree([(op, model_admin.model) for model_admin, _, _, op in admin_actions() if op]) == []
    # The Auditor changes nothing: not one rule that writes names it.
    assert not [name for name, rule in POLICY.items() if AUDITOR in rule.roles and rule.writes]


# --- The matrix -------------------------------------------------------------------------------------------------


@dataclass
class Principal:
    label: str
    client: APIClient
    session: bool = False  # signed in to the admin
    staff: bool = False
    superuser: bool = False
    role: str | None = None
    client_kind: str | None = None
    scope: str | None = None


def _principals() -> list[Principal]:
    found = [Principal("anonymous", APIClient())]
    for kind, scope in itertools.product(ApiClient.Kind.values, SCOPES):
        _, token = api_client_issue(name=f"{kind} {scope}", kind=kind, scopes=[scope])
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        found.append(Principal(f"{kind} client [{scope}]", client, client_kind=kind, scope=scope))
    for role in (*ROLE_NAMES, None, "superuser"):
        user = member(None if role in (None, "superuser") else role, superuser=role == "superuser")
        session = APIClient()
        session.force_login(user)
        name = role or "staff, no role"
        found.append(
            Principal(f"{name} (session)", session, session=True, staff=True, superuser=role == "superuser",
                      role=role if role in ROLE_NAMES else None)
        )  # fmt: skip
        by_token = APIClient()
        by_token.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
        found.append(
            Principal(f"{name} (user token)", by_token, staff=True, superuser=role == "superuser",
                      role=role if role in ROLE_NAMES else None)
        )  # fmt: skip
    return found


def expected(p: Principal, rule: Rule, *, admin_page: bool) -> bool:
    """The table, read independently of config.common.access.allowed()."""
    if admin_page and not rule.public and not (p.session and p.staff):
        return False  # the admin wants its own session
    if rule.public:
        return True
    if p.client_kind is not None:
        return p.client_kind in rule.client_kinds and (rule.scope is None or rule.scope == p.scope)
    if p.role is None and not p.superuser:
        return bool(rule.staff and p.staff and admin_page)
    if rule.clients_only:
        return False
    return p.superuser or p.role in rule.roles or (rule.staff and p.staff)


def refused(response: Any) -> bool:
    if response.status_code in (401, 403):
        return True
    return response.status_code == 302 and "/admin/login/" in response.get("Location", "")


def fingerprint() -> list[tuple[Any, ...]]:
    """Row count and last update of every table the app writes (one query)."""
    parts = []
    for model in [*_app_models(), OrmQ]:
        table = connection.ops.quote_name(model._meta.db_table)
        updated = "max(updated_at)::text" if any(f.name == "updated_at" for f in model._meta.fields) else "''"
        parts.append(f"SELECT '{model._meta.db_table}', count(*), {updated} FROM {table}")
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts))
        return sorted(cursor.fetchall())


def _app_models() -> list[type[models.Model]]:
    from django.apps import apps

    labels = ("common", "orders", "payments", "fulfillment", "reconciliation", "mappings")
    return [m for m in apps.get_models() if m._meta.app_label in labels and not m._meta.proxy]


@dataclass
class World:
    order: Order
    payment: Payment
    settlement_file: SettlementFile
    exception: ExceptionItem
    account: SellerAccount


Call = tuple[str, str, Any]  # method, path, JSON body (or form data for the admin)
counter = itertools.count(1)


def _calls(w: World) -> dict[str, Callable[[], list[Call]]]:
    """One line per named URL pattern (a new pattern without a line here fails the matrix)."""
    p, o = w.payment.pk, w.order.pk
    level = {"item_id": "TNT-0002", "site": "UK-MAIN", "on_hand": 5, "allocated": 0, "as_of": "2026-11-20T10:00:00Z",
             "version": 1}  # fmt: skip
    shipment = {"order_id": o, "shipment_ref": "S-1", "carrier": "UPS", "tracking_number": "1Z", "ship_date":
                "2026-11-20", "lines": [{"line_ref": "1", "quantity": 1}]}  # fmt: skip
    return {
        "healthz": lambda: [("get", "/healthz", None)],
        "readyz": lambda: [("get", "/readyz", None)],
        "metrics": lambda: [("get", "/metrics", None)],
        "admin-dashboard": lambda: [("get", "/admin/dashboard/", None)],
        "api-schema": lambda: [("get", "/api/schema/", None)],
        "api-docs": lambda: [("get", "/api/docs/", None)],
        "api-redoc": lambda: [("get", "/api/redoc/", None)],
        "order-list": lambda: [("get", "/api/v1/orders/", None)],
        "order-detail": lambda: [("get", f"/api/v1/orders/{o}/", None)],
        "order-ecommerce-create": lambda: [
            ("post", "/api/v1/orders/ecommerce/", ecommerce_order_payload(f"WEB-M{next(counter)}"))
        ],
        "payment-register": lambda: [
            (
                "post",
                "/api/v1/payments/",
                {
                    "order_id": o,
                    "vendor_tx_code": f"M-{next(counter)}",
                    "transaction_type": "Payment",
                    "amount": "1.00",
                    "currency": "GBP",
                    "transaction_id": "T-1",
                },
            )
        ],
        "payment-detail": lambda: [("get", f"/api/v1/payments/{p}/", None)],
        "payment-capture": lambda: [("post", f"/api/v1/payments/{p}/capture/", {})],
        "payment-void": lambda: [("post", f"/api/v1/payments/{p}/void/", {"reason": "matrix"})],
        "payment-refund": lambda: [("post", f"/api/v1/payments/{p}/refunds/", {"amount": "1.00", "reason": "m"})],
        "erp-inventory": lambda: [("post", "/api/v1/erp/inventory/", {"levels": [level]})],
        "erp-inventory-fba": lambda: [("get", "/api/v1/erp/inventory/fba/", None)],
        "erp-inventory-listings": lambda: [("get", "/api/v1/erp/inventory/listings/", None)],
        "erp-sales-orders-pull": lambda: [("post", "/api/v1/erp/sales-orders/pull/", {"limit": 5})],
        "erp-sales-orders-ack": lambda: [("post", "/api/v1/erp/sales-orders/ack/", {"batch_id": 999999})],
        "erp-credit-memos-pull": lambda: [("post", "/api/v1/erp/credit-memos/pull/", {"limit": 5})],
        "erp-credit-memos-ack": lambda: [("post", "/api/v1/erp/credit-memos/ack/", {"batch_id": 999999})],
        "erp-shipments": lambda: [("post", "/api/v1/erp/shipments/", shipment)],
        "settlement-list": lambda: [("get", "/api/v1/reconciliation/settlements/", None)],
        "journal-entry-list": lambda: [("get", "/api/v1/reconciliation/journal-entries/", None)],
        "journal-lines-csv": lambda: [("get", "/api/v1/reconciliation/journal-lines.csv?format=xero", None)],
        "bank-statement-upload": lambda: [("post", "/api/v1/reconciliation/bank-statements/", {})],
        "bank-line-list": lambda: [("get", "/api/v1/reconciliation/bank-lines/", None)],
        "three-way-period": lambda: [
            ("get", "/api/v1/reconciliation/three-way/?date_from=2026-11-01&date_to=2026-11-30", None)
        ],
        "three-way-order": lambda: [("get", f"/api/v1/reconciliation/three-way/orders/{o}/", None)],
        "opayo-server-notification": lambda: [("form", "/webhooks/opayo/server/", {"VPSProtocol": "4.00"})],
        # The admin's own and custom views
        "index": lambda: [("get", "/admin/", None)],
        "login": lambda: [("get", "/admin/login/", None)],
        "common_exceptionitem_reprocess": lambda: [
            ("form", f"/admin/common/exceptionitem/{w.exception.pk}/reprocess/", {})
        ],
        "mappings_mappingsuggestion_refresh": lambda: [("form", "/admin/mappings/mappingsuggestion/refresh/", {})],
        "reconciliation_settlementfile_upload": lambda: [
            ("get", "/admin/reconciliation/settlementfile/upload/", None),
            ("form", "/admin/reconciliation/settlementfile/upload/", {}),
        ],
        "reconciliation_settlementfile_download": lambda: [
            ("get", f"/admin/reconciliation/settlementfile/{w.settlement_file.pk}/download/", None)
        ],
        "reconciliation_bankstatementfile_upload": lambda: [
            ("get", "/admin/reconciliation/bankstatementfile/upload/", None),
            ("form", "/admin/reconciliation/bankstatementfile/upload/", {}),
        ],
        "reconciliation_bankstatementfile_download": lambda: [
            ("get", f"/admin/reconciliation/bankstatementfile/{_bank_file().pk}/download/", None)
        ],
        "reconciliation_three_way": lambda: [("get", "/admin/reconciliation/bankstatementline/three-way/", None)],
    }


def _bank_file() -> Any:
    from reconciliation.services.bank_statements import bank_statement_store
    from tests.reconciliation.bank_files import Tx, camt053

    file, _ = bank_statement_store(data=camt053([Tx("1.00", date(2026, 11, 2))]), name="m.xml", source="matrix")
    return file


# What each URL and admin action must be, written down here independently of the views' own declarations: a view
# or action that names the wrong operation (say a refund declared as "payments.detail") fails the matrix.
URL_OPERATIONS = {
    "healthz": "health.live",
    "readyz": "health.ready",
    "metrics": "metrics",
    "admin-dashboard": "admin.dashboard",
    "api-schema": "api.schema",
    "api-docs": "api.schema",
    "api-redoc": "api.schema",
    "order-list": "orders.list",
    "order-detail": "orders.detail",
    "order-ecommerce-create": "orders.ecommerce.create",
    "payment-register": "payments.register",
    "payment-detail": "payments.detail",
    "payment-capture": "payments.capture",
    "payment-void": "payments.void",
    "payment-refund": "payments.refund",
    "erp-inventory": "erp.inventory.post",
    "erp-inventory-fba": "erp.inventory.fba",
    "erp-inventory-listings": "erp.inventory.listings",
    "erp-sales-orders-pull": "erp.sales_orders.pull",
    "erp-sales-orders-ack": "erp.sales_orders.ack",
    "erp-credit-memos-pull": "erp.credit_memos.pull",
    "erp-credit-memos-ack": "erp.credit_memos.ack",
    "erp-shipments": "erp.shipments.create",
    "settlement-list": "reconciliation.settlements.list",
    "journal-entry-list": "reconciliation.journal_entries.list",
    "journal-lines-csv": "reconciliation.journal_csv",
    "bank-statement-upload": "reconciliation.bank_statements.upload",
    "bank-line-list": "reconciliation.bank_lines.list",
    "three-way-period": "reconciliation.three_way",
    "three-way-order": "reconciliation.three_way",
    "opayo-server-notification": "opayo.notification",
    "index": "admin.site",
    "login": "admin.login",
    "common_exceptionitem_reprocess": "exceptions.reprocess",
    "mappings_mappingsuggestion_refresh": "mappings.suggestions.refresh",
    "reconciliation_settlementfile_upload": "settlements.upload",
    "reconciliation_settlementfile_download": "settlements.download",
    "reconciliation_bankstatementfile_upload": "bank.statements.upload",
    "reconciliation_bankstatementfile_download": "bank.statements.download",
    "reconciliation_three_way": "reconciliation.three_way",
}
ACTION_OPERATIONS = {
    "common.ExceptionItem": {"reprocess": "exceptions.reprocess", "mark_resolved": "exceptions.close",
                             "discard": "exceptions.close"},
    "common.OutboundRequest": {"retry_now": "outbound.retry", "discard_failed": "outbound.discard"},
    "django_q.Success": {"resubmit_task": "tasks.resubmit"},
    "django_q.Failure": {"resubmit_task": "tasks.resubmit"},
    "mappings.MappingSuggestion": {"accept_selected": "mappings.suggestions.decide",
                                   "reject_selected": "mappings.suggestions.decide"},
    "orders.SellerAccount": {
        "poll_now": "orders.poll_now", "subscribe_all": "orders.notifications.subscribe",
        "subscriptions_check": "orders.notifications.subscribe",
        **{f"{verb}_{t}": "orders.notifications.subscribe" for verb in ("subscribe", "unsubscribe")
           for t in ("order_change", "fulfillment_order_status", "report_processing_finished",
                     "feed_processing_finished")},
    },
    "orders.SpApiNotification": {"reprocess": "orders.notifications.reprocess"},
    "orders.Order": {"hold": "orders.hold", "release": "orders.hold", "refresh_from_amazon": "orders.refresh",
                     "fraud_release": "fraud.review", "fraud_reject": "fraud.review"},
    "orders.AmazonOrderSnapshot": {"reprocess": "orders.reprocess_snapshot"},
    "payments.Payment": {"capture": "payments.capture", "void": "payments.void", "refresh": "payments.refresh"},
    "payments.OpayoNotification": {"reprocess": "payments.notification_reprocess"},
    "payments.OpayoBatch": {"rerun_matching": "payments.batch_rematch"},
    "payments.OpayoBatchTransaction": {"rerun_matching": "payments.batch_rematch"},
    "payments.FraudAssessment": {"release": "fraud.review", "reject": "fraud.review", "reassess": "fraud.review"},
    "fulfillment.FulfillmentOrder": {"refresh": "fulfillment.refresh", "cancel": "fulfillment.cancel"},
    "fulfillment.ListingSync": {"push_now": "inventory.push_now"},
    "reconciliation.SettlementFile": {"import_now": "settlements.import"},
    "reconciliation.Settlement": {"reconcile": "settlements.reconcile", "refresh_hints": "settlements.reconcile"},
    "reconciliation.JournalEntry": {"download_csv": "reconciliation.journal_csv",
                                    "download_xero": "reconciliation.journal_csv",
                                    "download_qbo": "reconciliation.journal_csv",
                                    "download_sage": "reconciliation.journal_csv",
                                    "download_dynamics_sl": "reconciliation.journal_csv",
                                    "mark_posted": "journals.mark_posted"},
    "reconciliation.BankStatementFile": {"import_now": "bank.statements.import"},
    "reconciliation.BankStatementLine": {"match_again": "bank.lines.match", "ignore": "bank.lines.ignore",
                                         "accept_difference": "bank.lines.accept_difference"},
    "reconciliation.AnomalyFlag": {"dismiss": "anomalies.decide", "confirm": "anomalies.decide"},
    "reconciliation.AccountingPeriod": {"close": "periods.close", "reopen": "periods.reopen",
                                        "run_accruals": "accruals.run"},
    "reconciliation.OrderReportCheck": {"check_now": "completeness.check"},
}  # fmt: skip


# Django's own admin pages (model permissions from roles.py, tested in tests/test_roles_and_audit.py) and the
# admin site's plumbing: classified by the walk, not called one by one here.
DJANGO_ADMIN_OPERATIONS = {op for op in POLICY if op.startswith("admin.model.")}
NOT_CALLED = {"logout", "password_change", "password_change_done", "autocomplete", "jsi18n", "view_on_site",
              "app_list", None}  # fmt: skip


@pytest.fixture
def world(
    settlement: SettlementFile, account: SellerAccount, mapped_skus: Any, opayo: Any,
    django_capture_on_commit_callbacks: Any,
) -> World:  # fmt: skip
    from tests.factories import SkuMappingFactory

    SkuMappingFactory.create(seller_sku="WEB-TENT", erp_item_id="TNT-0002")
    SkuMappingFactory.create(seller_sku="WEB-MUG", erp_item_id="MUG-0001")
    ingest(account, one())
    _, token = api_client_issue(name="web shop", kind="ecommerce")
    shop = APIClient()
    shop.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    created = shop.post("/api/v1/orders/ecommerce/", ecommerce_order_payload(), format="json")
    assert created.status_code == 201, created.json()
    order = Order.objects.get(pk=created.json()["id"])
    payment = flows.register(order, opayo, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        payment_capture(payment=payment, actor="test")
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED
    exception = exception_open(kind=ExceptionItem.Kind.ANOMALY, source=order, summary="matrix")
    return World(order, payment, settlement, exception, account)


def _send(p: Principal, method: str, path: str, body: Any) -> Any:
    if method == "get":
        return p.client.get(path)
    if method == "form":
        return p.client.post(path, body)
    return p.client.post(path, body, format="json")


def test_matrix_every_url_and_admin_action_against_every_principal(world: World, capsys: Any) -> None:
    principals = _principals()
    calls = _calls(world)
    checked = allowed_n = refused_n = 0
    failures: list[str] = []

    def judge(p: Principal, op: str, what: str, send: Callable[[], Any], *, admin_page: bool, writes: bool) -> None:
        nonlocal checked, allowed_n, refused_n
        want = expected(p, POLICY[op], admin_page=admin_page)
        before = fingerprint() if writes and not want else None
        response = send()
        checked += 1
        if want:
            allowed_n += 1
            if refused(response):
                failures.append(f"{p.label} {what} [{op}]: refused ({response.status_code}), the table allows it")
        else:
            refused_n += 1
            if not refused(response):
                failures.append(f"{p.label} {what} [{op}]: {response.status_code}, the table refuses it")
            elif before is not None and fingerprint() != before:
                failures.append(f"{p.label} {what} [{op}]: refused but the database changed")

    # 1. Every URL pattern.
    entries = url_entries()
    unclassified = [e.route for e in entries if e.operations is None]
    assert not unclassified, f"URL patterns that name no operation: {unclassified}"
    untested = [
        e.name for e in entries
        if not set(e.operations.values()) <= DJANGO_ADMIN_OPERATIONS  # type: ignore[union-attr]
        and e.name not in calls and e.name not in NOT_CALLED
    ]  # fmt: skip
    assert not untested, f"URL patterns with no line in the matrix (add one to _calls): {untested}"
    urls = 0
    for entry in entries:
        if entry.name not in calls:
            continue
        admin_page = entry.namespace == "admin" or entry.route.startswith("admin/")
        for method, path, body in calls[entry.name]():
            assert entry.operations is not None
            op = entry.operations.get(method.upper()) or entry.operations["*"]
            if op != URL_OPERATIONS.get(entry.name or ""):
                failures.append(
                    f"{entry.route} declares {op!r}, the matrix expects {URL_OPERATIONS.get(entry.name or '')!r}"
                )
            urls += 1
            for p in principals:
                send: Callable[[], Any] = functools.partial(_send, p, method, path, body)
                judge(p, op, f"{method.upper()} {path}", send,
                      admin_page=admin_page, writes=method != "get")  # fmt: skip

    # 2. Every admin action of every registered ModelAdmin, posted from its change list.
    actions = 0
    for model_admin, name, _func, action_op in admin_actions():
        assert action_op in POLICY, f"{type(model_admin).__name__}.{name} names no operation"
        op = action_op
        if op in DJANGO_ADMIN_OPERATIONS:  # Django's "Delete selected": its model's delete permission
            continue
        spec = ACTION_OPERATIONS.get(model_admin.model._meta.label, {}).get(name)
        if op != spec:
            failures.append(
                f"action {model_admin.model._meta.label}.{name} declares {op!r}, the matrix expects {spec!r}"
            )
        actions += 1
        opts = model_admin.model._meta
        url = f"/admin/{opts.app_label}/{opts.model_name}/"
        real = model_admin.model._default_manager.order_by("pk").values_list("pk", flat=True).first()
        for p in principals:
            want = expected(p, POLICY[op], admin_page=True)
            # Refused: on a real row, so a missing check would show as a change. Allowed: on no row, so the action
            # runs (its check passes) without changing the world for the next principal.
            selected = [0] if want else [real if real is not None else 0]
            data = {"action": name, "_selected_action": selected, "index": 0, "reason": "matrix"}
            post: Callable[[], Any] = functools.partial(p.client.post, url, data)
            judge(p, op, f"action {opts.label}.{name}", post,
                  admin_page=True, writes=True)  # fmt: skip

    # 3. "Delete selected" follows the model's delete permission (roles.py): offered to exactly those who have it.
    from django.test import RequestFactory

    delete_checked = 0
    for model_admin, name, _func, action_op in admin_actions():
        if action_op != "admin.model.delete":
            continue
        for p in principals:
            if not p.session:
                continue
            request = RequestFactory().get("/")
            request.user = User.objects.get(pk=p.client.session["_auth_user_id"])
            perm = f"{model_admin.model._meta.app_label}.delete_{model_admin.model._meta.model_name}"
            offered = name in model_admin.get_actions(request)
            delete_checked += 1
            if offered != (request.user.has_perm(perm) and model_admin.has_delete_permission(request)):
                failures.append(f"{p.label}: 'Delete selected' on {model_admin.model._meta.label} is {offered}")

    with capsys.disabled():
        print(
            f"\naccess matrix: {len(principals)} principals × {urls} URL calls + {actions} admin actions = {checked} "
            f"checks, {allowed_n} allowed, {refused_n} refused; 'Delete selected' offered per delete permission: "
            f"{delete_checked} checks"
        )
    assert not failures, "\n".join(failures[:40]) + (f"\n... {len(failures)} in all" if len(failures) > 40 else "")
