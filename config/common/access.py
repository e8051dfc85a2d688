"""Who may do what: ONE policy table, operation → rule, deny by default.

Every API view, admin action and custom admin view names its operation (`operation = "..."` on a DRF view, or
`operations = {"GET": ..., "POST": ...}`; `@policy_action(...)` on an admin action; `policy_view(...)` around a
custom admin view or a plain Django view in `config/urls.py`). `PolicyPermission` is DRF's only default
permission class: a view that names nothing is refused. The system check `ledgerline.A00x` refuses to start when
an action or a URL names no operation or one missing from the table, and the README's "Who may do what" table is
generated from `POLICY` (`manage.py access_table`; a test keeps it equal).

Principals:
- users (admin session or `Authorization: Token <key>`): a superuser may do everything; another user may do what
  the rule grants to one of its roles (Django groups, `config/common/roles.py`). No role, nothing.
- API clients (`Authorization: Bearer <token>`, `config/common/auth.py`): the rule must list the client's kind
  and, when it names a scope, the token must carry it.
- anonymous: only `public` rules.
The Django admin's own pages (index, model change lists and forms, Import/Export) stay on Django's model
permissions, which `roles.py` grants; rules with `model_perm` say so, and `check_roles_agree()` checks that every
role a rule names can reach the admin page the operation lives on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

FINANCE, OPERATIONS, AUDITOR = "Finance", "Operations", "Auditor"
ROLE_NAMES = (FINANCE, OPERATIONS, AUDITOR)
ERP, ECOMMERCE = "erp", "ecommerce"


@dataclass(frozen=True)
class Rule:
    """Who may run one operation. Superusers may run every operation; nobody else unless listed here."""

    description: str
    roles: tuple[str, ...] = ()  # user roles (Django groups) allowed, by session or user token
    client_kinds: tuple[str, ...] = ()  # API client kinds allowed (Bearer token) ...
    scope: str | None = None  # ... whose token carries this scope (None: any token of those kinds)
    public: bool = False  # anyone, signed in or not (the view may check more itself, e.g. a signature)
    staff: bool = False  # any active staff user (Django admin's own pages)
    model_perm: str | None = None  # Django's permission on the admin page's model (view/add/change/delete)
    writes: bool = True  # changes data or runs something (never for the Auditor)
    clients_only: bool = (
        False  # the operation is the client's own (its batches, its stock): no user, not even a superuser
    )
    note: str = ""


R = Rule
READERS = ROLE_NAMES  # Finance, Operations, Auditor: reading is everyone's

POLICY: dict[str, Rule] = {
    # Anonymous
    "health.live": R("Liveness probe", public=True, writes=False),
    "health.ready": R("Readiness probe", public=True, writes=False),
    "metrics": R("Prometheus metrics", public=True, writes=False, note="METRICS_TOKEN bearer, else localhost only"),
    "opayo.notification": R("Opayo Server notification (webhook)", public=True, note="VPSSignature checked"),
    "admin.login": R("Admin login / logout", public=True, writes=False),
    # The Django admin's own pages
    "admin.site": R("Admin index, password change, autocomplete", staff=True, writes=False),
    "admin.model.view": R("Admin change list, object page, history", model_perm="view", writes=False),
    "admin.model.add": R("Admin add form", model_perm="add"),
    "admin.model.change": R("Admin change form (save)", model_perm="change"),
    "admin.model.delete": R("Admin delete, action 'Delete selected'", model_perm="delete"),
    "admin.model.import": R("Admin Import (CSV/XLSX/JSON)", model_perm="change"),
    "admin.model.export": R("Admin Export", model_perm="view", writes=False),
    "admin.dashboard": R("Monitoring dashboard", roles=READERS, writes=False),
    # API documentation
    "api.schema": R("OpenAPI schema, Swagger UI, ReDoc", roles=READERS, client_kinds=(ERP, ECOMMERCE), writes=False),
    # Orders API
    "orders.list": R(
        "GET /api/v1/orders/", roles=READERS, client_kinds=(ERP, ECOMMERCE), scope="orders:read", writes=False
    ),
    "orders.detail": R(
        "GET /api/v1/orders/{id}/", roles=READERS, client_kinds=(ERP, ECOMMERCE), scope="orders:read", writes=False
    ),
    "orders.ecommerce.create": R("POST /api/v1/orders/ecommerce/", client_kinds=(ECOMMERCE,), scope="orders:write"),
    # Payments API
    "payments.register": R("POST /api/v1/payments/", client_kinds=(ECOMMERCE,), scope="payments:write"),
    "payments.detail": R(
        "GET /api/v1/payments/{id}/", roles=READERS, client_kinds=(ECOMMERCE,), scope="payments:read", writes=False
    ),
    "payments.capture": R(
        "Capture a payment (API, admin)", roles=(FINANCE,), client_kinds=(ECOMMERCE,), scope="payments:write"
    ),
    "payments.void": R(
        "Void / abort a payment (API, admin)", roles=(FINANCE,), client_kinds=(ECOMMERCE,), scope="payments:write"
    ),
    "payments.refund": R("Refund a payment (API)", roles=(FINANCE,), client_kinds=(ECOMMERCE,), scope="payments:write"),
    # ERP API
    "erp.sales_orders.pull": R(
        "POST /api/v1/erp/sales-orders/pull/", client_kinds=(ERP,), scope="erp:sales-orders", clients_only=True
    ),
    "erp.sales_orders.ack": R(
        "POST /api/v1/erp/sales-orders/ack/", client_kinds=(ERP,), scope="erp:sales-orders", clients_only=True
    ),
    "erp.credit_memos.pull": R(
        "POST /api/v1/erp/credit-memos/pull/", client_kinds=(ERP,), scope="erp:credit-memos", clients_only=True
    ),
    "erp.credit_memos.ack": R(
        "POST /api/v1/erp/credit-memos/ack/", client_kinds=(ERP,), scope="erp:credit-memos", clients_only=True
    ),
    "erp.shipments.create": R("POST /api/v1/erp/shipments/", client_kinds=(ERP,), scope="erp:shipments"),
    "erp.inventory.post": R(
        "POST /api/v1/erp/inventory/", client_kinds=(ERP,), scope="erp:inventory", clients_only=True
    ),
    "erp.inventory.fba": R("GET /api/v1/erp/inventory/fba/", client_kinds=(ERP,), scope="erp:inventory", writes=False),
    "erp.inventory.listings": R(
        "GET /api/v1/erp/inventory/listings/", client_kinds=(ERP,), scope="erp:inventory", writes=False
    ),
    # Reconciliation API
    "reconciliation.settlements.list": R(
        "GET /api/v1/reconciliation/settlements/",
        roles=(FINANCE, AUDITOR),
        client_kinds=(ERP,),
        scope="reconciliation:read",
        writes=False,
    ),
    "reconciliation.journal_entries.list": R(
        "GET /api/v1/reconciliation/journal-entries/",
        roles=(FINANCE, AUDITOR),
        client_kinds=(ERP,),
        scope="reconciliation:read",
        writes=False,
    ),
    "reconciliation.journal_csv": R(
        "Journal lines as CSV (API, admin action)",
        roles=(FINANCE, AUDITOR),
        client_kinds=(ERP,),
        scope="reconciliation:read",
        writes=False,
    ),
    "reconciliation.bank_statements.upload": R(
        "POST /api/v1/reconciliation/bank-statements/ (CAMT.053, OFX, CSV)", roles=(FINANCE,)
    ),
    "reconciliation.bank_lines.list": R(
        "GET /api/v1/reconciliation/bank-lines/ (deposits and their match)",
        roles=(FINANCE, AUDITOR),
        client_kinds=(ERP,),
        scope="reconciliation:read",
        writes=False,
    ),
    "reconciliation.three_way": R(
        "Three-way match per order and period (API, admin page)",
        roles=(FINANCE, AUDITOR),
        client_kinds=(ERP,),
        scope="reconciliation:read",
        writes=False,
    ),
    # Admin actions and custom admin views
    "exceptions.reprocess": R("Reprocess exceptions (action, button)", roles=(FINANCE, OPERATIONS)),
    "exceptions.close": R("Mark exceptions resolved / discard them", roles=(FINANCE, OPERATIONS)),
    "outbound.retry": R("Retry failed outbound requests now", roles=(OPERATIONS,)),
    "outbound.discard": R("Discard failed outbound requests", roles=(OPERATIONS,)),
    "tasks.resubmit": R("Resubmit a django-q task (runs it again)"),
    "mappings.suggestions.decide": R("Accept / reject mapping suggestions", roles=(FINANCE, OPERATIONS)),
    "mappings.suggestions.refresh": R("Refresh mapping suggestions now", roles=(FINANCE, OPERATIONS)),
    "orders.poll_now": R("Poll orders now (seller accounts)", roles=(OPERATIONS,)),
    "orders.hold": R("Put orders on hold / release them", roles=(OPERATIONS,)),
    "orders.refresh": R("Refresh orders from Amazon (getOrder)", roles=(OPERATIONS,)),
    "orders.reprocess_snapshot": R("Reprocess raw Amazon payloads", roles=(OPERATIONS,)),
    "orders.notifications.subscribe": R(
        "Subscribe / unsubscribe seller accounts to SP-API notifications, re-check them", roles=(OPERATIONS,)
    ),
    "orders.notifications.reprocess": R("Apply stored SP-API notifications again", roles=(OPERATIONS,)),
    "fraud.review": R("Fraud review: release, reject (void/refund), re-assess", roles=(OPERATIONS, FINANCE)),
    "payments.refresh": R("Re-read a payment's status from Opayo", roles=(FINANCE, OPERATIONS)),
    "payments.notification_reprocess": R("Process Opayo notifications again", roles=(FINANCE,)),
    "payments.batch_rematch": R("Re-run Opayo batch matching", roles=(FINANCE,)),
    "fulfillment.refresh": R("Read a fulfilment order back from Amazon", roles=(OPERATIONS,)),
    "fulfillment.cancel": R("Cancel a fulfilment order at Amazon", roles=(OPERATIONS,)),
    "inventory.push_now": R("Send the ERP's quantity to Amazon now", roles=(OPERATIONS,)),
    "settlements.upload": R("Upload a settlement file", roles=(FINANCE,)),
    "settlements.import": R("Import a settlement file now (again)", roles=(FINANCE,)),
    "settlements.download": R("Download a raw settlement file", roles=(FINANCE, AUDITOR), writes=False),
    "settlements.reconcile": R("Match, map and journal a settlement again; refresh hints", roles=(FINANCE,)),
    "journals.mark_posted": R("Mark journal entries posted", roles=(FINANCE,)),
    "periods.close": R("Close an accounting period (no journal may be dated in it)", roles=(FINANCE,)),
    "periods.reopen": R("Reopen a closed accounting period, with a reason", roles=(FINANCE,)),
    "accruals.run": R("Run the period-end accruals (shipped, not yet settled) now", roles=(FINANCE,)),
    "completeness.check": R("Compare with Amazon's order report now (ingests what is missing)", roles=(FINANCE,)),
    "bank.statements.upload": R("Upload a bank statement (admin)", roles=(FINANCE,)),
    "bank.statements.import": R("Import a bank statement file now (again)", roles=(FINANCE,)),
    "bank.statements.download": R("Download a raw bank statement file", roles=(FINANCE, AUDITOR), writes=False),
    "bank.lines.match": R("Match bank deposits again", roles=(FINANCE,)),
    "bank.lines.ignore": R("Ignore a bank line (not a deposit to match)", roles=(FINANCE,)),
    "bank.lines.accept_difference": R("Accept a short bank deposit with its difference", roles=(FINANCE,)),
    "anomalies.decide": R("Dismiss / confirm anomaly flags", roles=(FINANCE, OPERATIONS)),
}


def rule_for(operation: str) -> Rule:
    try:
        return POLICY[operation]
    except KeyError:
        raise ImproperlyDeclared(f"operation {operation!r} is not in config.common.access.POLICY") from None


class ImproperlyDeclared(LookupError):
    pass


def user_roles(user: Any) -> set[str]:
    cached = getattr(user, "_ledgerline_roles", None)
    if cached is None:
        cached = set(user.groups.filter(name__in=ROLE_NAMES).values_list("name", flat=True)) if user.pk else set()
        user._ledgerline_roles = cached
    return set(cached)


def allowed(*, operation: str, user: Any, client: Any = None, model: Any = None) -> bool:
    """May this principal run `operation`? `client` is the ApiClient of a Bearer token (then `user` is its
    stand-in principal); `model` is the admin page's model, for `model_perm` rules."""
    rule = rule_for(operation)
    if rule.public:
        return True
    if client is not None:
        return client.kind in rule.client_kinds and (rule.scope is None or rule.scope in (client.scopes or []))
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", True):
        return False
    if rule.clients_only:
        return False
    if user.is_superuser:
        return True
    if rule.staff:
        return bool(user.is_staff)
    if rule.model_perm is not None:
        if model is None:
            return False
        return bool(user.has_perm(f"{model._meta.app_label}.{rule.model_perm}_{model._meta.model_name}"))
    return bool(set(rule.roles) & user_roles(user))


# -- DRF ----------------------------------------------------------------------------------------------------------


def view_operation(view: Any, method: str) -> str | None:
    """The operation a DRF (or plain Django class-based) view declares for an HTTP method."""
    per_method = getattr(view, "operations", None)
    if per_method:
        method = "GET" if method == "HEAD" else method
        return per_method.get(method)
    return getattr(view, "operation", None)


class PolicyPermission(BasePermission):
    """The only default permission class: the view's declared operation, looked up in POLICY. Nothing declared,
    nothing allowed."""

    message = "You may not do this (see the README's 'Who may do what')."

    def has_permission(self, request: Request, view: Any) -> bool:
        from config.common.models import ApiClient

        client = request.auth if isinstance(request.auth, ApiClient) else None
        if request.method == "OPTIONS":
            ops = list((getattr(view, "operations", None) or {}).values()) or [getattr(view, "operation", None)]
            return any(op and allowed(operation=op, user=request.user, client=client) for op in ops)
        operation = view_operation(view, request.method or "GET")
        if operation is None:
            return False
        return allowed(operation=operation, user=request.user, client=client)


# -- Django views and the admin ------------------------------------------------------------------------------------


def policy_view(operation: str, view: Callable[..., Any], *, model: Any = None) -> Callable[..., Any]:
    """Wrap a Django view (custom admin view, plain view): 403 unless the signed-in user may run `operation`
    (the admin's own staff/login check stays in front of it for admin views)."""
    rule_for(operation)

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if not allowed(operation=operation, user=getattr(request, "user", None), model=model):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    wrapped.operation = operation  # type: ignore[attr-defined]
    return wrapped


def policy_action(operation: str, *, description: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """An admin action that runs only for who `operation`'s rule allows: others get a 403 and nothing happens
    (and `PolicyAdminMixin` leaves it out of their action menu)."""
    rule_for(operation)

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def action(modeladmin: Any, request: HttpRequest, queryset: Any) -> Any:
            if not allowed(operation=operation, user=request.user):
                raise PermissionDenied
            return func(modeladmin, request, queryset)

        action.operation = operation  # type: ignore[attr-defined]
        action.short_description = description  # type: ignore[attr-defined]
        return action

    return decorate


def action_operation(func: Any) -> str | None:
    if getattr(func, "__name__", "") == "delete_selected" and getattr(func, "__module__", "").startswith(
        "django.contrib.admin"
    ):
        return "admin.model.delete"
    return getattr(func, "operation", None)


class PolicyAdminMixin:
    """Leaves out of the action menu what the user may not run; posting it anyway is a 403 (Django alone would
    answer "No action selected" for a choice missing from the menu; the action itself refuses too)."""

    def response_action(self, request: HttpRequest, queryset: Any, *args: Any, **kwargs: Any) -> Any:
        names = request.POST.getlist("action")
        try:
            name = names[int(request.POST.get("index", 0) or 0)]
        except (ValueError, IndexError):
            name = None
        func = self.get_actions(request).get(name, (None,))[0] if name else None  # type: ignore[attr-defined]
        operation = action_operation(func) if func is not None else None
        if operation and operation != "admin.model.delete" and not allowed(operation=operation, user=request.user):
            raise PermissionDenied
        return super().response_action(request, queryset, *args, **kwargs)  # type: ignore[misc]

    def get_action_choices(self, request: HttpRequest, default_choices: Any = None) -> list[tuple[str, str]]:
        from django.db import models

        choices = super().get_action_choices(  # type: ignore[misc]
            request, default_choices if default_choices is not None else models.BLANK_CHOICE_DASH
        )
        actions = self.get_actions(request)  # type: ignore[attr-defined]
        keep = []
        for name, label in choices:
            func = actions.get(name, (None,))[0]
            op = action_operation(func) if func is not None else None
            if op is None or op == "admin.model.delete" or allowed(operation=op, user=request.user):
                keep.append((name, label))
        return keep


# -- Consistency with roles.py, and the README table ---------------------------------------------------------------


def role_has_model_perm(role: str, app_label: str, model_name: str, action: str) -> bool:
    """What roles.ROLES grants, read without the database."""
    from config.common.roles import ROLES

    for app, model, actions in ROLES.get(role, []):
        if app in ("*", app_label) and model in ("*", model_name) and action in actions:
            return True
    return False


def check_roles_agree(admin_operations: Iterable[tuple[str, Any]]) -> list[str]:
    """Problems between POLICY and roles.py: an Auditor allowed to change something, a role that may not even see
    the admin page of an operation it is granted, or a role roles.py does not define."""
    from config.common.roles import ROLES

    problems = []
    for name, rule in POLICY.items():
        for role in rule.roles:
            if role not in ROLES:
                problems.append(f"{name}: role {role!r} is not defined in config/common/roles.py")
        if AUDITOR in rule.roles and rule.writes:
            problems.append(f"{name}: the Auditor changes nothing, but this operation writes")
    for app_grants in ROLES.get(AUDITOR, []):
        if set(app_grants[2]) - {"view"}:
            problems.append(f"roles.py grants the Auditor {app_grants}: view only")
    for operation, model in admin_operations:
        for role in rule_for(operation).roles:
            if not role_has_model_perm(role, model._meta.app_label, model._meta.model_name, "view"):
                problems.append(f"{operation}: {role} may run it but roles.py does not let it view {model._meta.label}")
    return problems


def _who(rule: Rule) -> tuple[str, str]:
    if rule.public:
        users = "anyone"
    elif rule.staff:
        users = "any staff user"
    elif rule.model_perm:
        users = f"the model's `{rule.model_perm}` permission (roles.py)"
    elif rule.clients_only:
        users = "none: API client only"
    else:
        users = ", ".join(rule.roles) or "superuser"
    clients = ""
    if rule.client_kinds:
        clients = " / ".join(rule.client_kinds) + (f" with `{rule.scope}`" if rule.scope else " (any scope)")
    return users, clients or "-"


def policy_markdown() -> str:
    """The README's table (superusers may do everything, so they are not listed per row)."""
    rows = [
        "| Operation | What | Users (roles) | API clients (kind, scope) | Note |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, rule in POLICY.items():
        users, clients = _who(rule)
        rows.append(f"| `{name}` | {rule.description} | {users} | {clients} | {rule.note} |")
    return "\n".join(rows) + "\n"


# -- Every URL and every admin action names an operation (system checks, the matrix test) --------------------------

_ADMIN_SITE_VIEWS = {
    "index": "admin.site",
    "app_list": "admin.site",
    "password_change": "admin.site",
    "password_change_done": "admin.site",
    "autocomplete": "admin.site",
    "jsi18n": "admin.site",
    "view_on_site": "admin.site",
    "login": "admin.login",
    "logout": "admin.login",
}
_ADMIN_MODEL_VIEWS = {  # Django's and django-import-export's own per-model pages, by URL name suffix
    "_changelist": "admin.model.view",
    "_history": "admin.model.view",
    "_change": "admin.model.view",  # GET shows; a POST needs the change permission, checked by Django
    "_add": "admin.model.add",
    "_delete": "admin.model.delete",
    "_import": "admin.model.import",
    "_process_import": "admin.model.import",
    "_export": "admin.model.export",
}


@dataclass(frozen=True)
class UrlEntry:
    route: str
    name: str | None
    namespace: str | None
    callback: Any
    operations: dict[str, str] | None  # HTTP method ("*" for any) → operation; None: declares nothing


def _callback_operations(callback: Any) -> dict[str, str] | None:
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    for holder in (callback, view_class):
        if holder is None:
            continue
        if getattr(holder, "operations", None):
            return dict(holder.operations)
        if getattr(holder, "operation", None):
            return {"*": holder.operation}
    return None


def url_entries() -> list[UrlEntry]:
    """Every URL pattern of the project with the operation(s) it runs."""
    from django.urls import URLPattern, URLResolver, get_resolver

    entries: list[UrlEntry] = []

    def walk(patterns: Iterable[Any], prefix: str, namespace: str | None) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route, pattern.namespace or namespace)
                continue
            assert isinstance(pattern, URLPattern)
            ops = _callback_operations(pattern.callback)
            if ops is None and namespace == "admin":
                ops = _admin_builtin_operation(pattern)
            entries.append(UrlEntry(route, pattern.name, namespace, pattern.callback, ops))

    walk(get_resolver().url_patterns, "", None)
    return entries


def _admin_builtin_operation(pattern: Any) -> dict[str, str] | None:
    name = pattern.name
    if name in _ADMIN_SITE_VIEWS:
        return {"*": _ADMIN_SITE_VIEWS[name]}
    if name is None:
        view_class = getattr(pattern.callback, "view_class", None)
        if getattr(pattern.callback, "__name__", "") == "catch_all_view":
            return {"*": "admin.site"}
        if view_class is not None and view_class.__name__ == "RedirectView":  # <id>/ → <id>/change/
            return {"*": "admin.model.view"}
        return None
    for suffix, operation in _ADMIN_MODEL_VIEWS.items():
        if name.endswith(suffix):
            return {"*": operation}
    return None


def admin_actions() -> list[tuple[Any, str, Any, str | None]]:
    """(model admin, action name, function, operation) for every action of every registered ModelAdmin."""
    from django.contrib import admin

    rows = []
    for model_admin in admin.site._registry.values():
        if model_admin.actions is None:  # no action menu at all (e.g. DRF's token admin)
            continue
        # Every action the class offers anyone (Django filters by permission per request; we want them all).
        for func, name, _description in model_admin._get_base_actions():  # type: ignore[attr-defined]
            rows.append((model_admin, name, func, action_operation(func)))
    return rows


def check_declarations(**kwargs: Any) -> list[Any]:
    from django.core import checks

    errors = []
    for entry in url_entries():
        if entry.operations is None:
            errors.append(
                checks.Error(f"URL {entry.route!r} ({entry.name}) declares no operation", id="ledgerline.A001")
            )
            continue
        for operation in entry.operations.values():
            if operation not in POLICY:
                errors.append(
                    checks.Error(f"URL {entry.route!r}: {operation!r} is not in POLICY", id="ledgerline.A002")
                )
    admin_ops = []
    for model_admin, name, _func, action_op in admin_actions():
        label = f"{type(model_admin).__name__}.{name}"
        if action_op is None:
            errors.append(checks.Error(f"admin action {label} declares no operation", id="ledgerline.A003"))
        elif action_op not in POLICY:
            errors.append(checks.Error(f"admin action {label}: {action_op!r} is not in POLICY", id="ledgerline.A002"))
        else:
            admin_ops.append((action_op, model_admin.model))
    errors += [checks.Error(problem, id="ledgerline.A004") for problem in check_roles_agree(admin_ops)]
    return errors
