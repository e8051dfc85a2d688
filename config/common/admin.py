from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST
from django_q import admin as q_admin
from django_q import models as q_models

from config.common.access import PolicyAdminMixin, policy_action, policy_view
from config.common.errors import ApplicationError, ConnectorError
from config.common.models import ApiClient, ExceptionItem, OutboundAttempt, OutboundRequest
from config.common.outbound import outbound_claim, outbound_discard, outbound_retry, outbound_send
from config.common.services import exception_close, exception_reprocess

# Apps add links from an exception to where it can be solved (e.g. mapping suggestions), per exception kind.
# A link function must not query the database: it runs for every row of the exception list.
ExceptionLink = Callable[[ExceptionItem], tuple[str, str] | None]
_EXCEPTION_LINKS: dict[str, list[ExceptionLink]] = {}


def register_exception_link(*kinds: str) -> Callable[[ExceptionLink], ExceptionLink]:
    def decorator(fn: ExceptionLink) -> ExceptionLink:
        for kind in kinds:
            _EXCEPTION_LINKS.setdefault(kind, []).append(fn)
        return fn

    return decorator


def actor_for(request: HttpRequest) -> str:
    return f"user:{request.user.get_username()}"


T = TypeVar("T")


def admin_run_each(
    modeladmin: Any,
    request: HttpRequest,
    objects: Iterable[T],
    fn: Callable[[T], object],
    *,
    done: str,
    label: Callable[[T], object] = str,
) -> int:
    """An admin action's service call on each selected object. A refusal or a provider error is reported against
    its object and the others still run; `done` words the successes ("3 payment(s): capture sent")."""
    ok = 0
    for obj in objects:
        try:
            fn(obj)
        except (ApplicationError, ConnectorError) as exc:
            modeladmin.message_user(request, f"{label(obj)}: {getattr(exc, 'message', exc)}", messages.ERROR)
        else:
            ok += 1
    if ok:
        modeladmin.message_user(request, f"{ok} {done}", messages.SUCCESS)
    return ok


def pretty_json(value: Any) -> SafeString:
    """Raw payloads shown as indented JSON, escaped (payloads are untrusted input)."""
    return format_html(
        '<pre style="white-space:pre-wrap;max-height:40em;overflow:auto">{}</pre>',
        json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str),
    )


def admin_link(obj: Any, label: str | None = None) -> SafeString | str:
    if obj is None:
        return "-"
    try:
        url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return str(obj)
    return format_html('<a href="{}">{}</a>', url, label or str(obj))


class ReadOnlyAdminMixin:
    """Raw payloads, histories and ledgers are written by services only."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReasonActionForm(helpers.ActionForm):
    """The box beside the action menu: why an item is discarded (kept with it, in the audit trail)."""

    reason = forms.CharField(required=False, max_length=300, label="Reason (for discard)")


def _reason(request: HttpRequest) -> str:
    return (request.POST.get("reason") or "").strip()[:300]


@admin.register(ExceptionItem)
class ExceptionItemAdmin(PolicyAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "summary", "kind", "status", "reference", "occurrences", "last_seen_at", "source_link", "help_links",
    ]  # fmt: skip
    list_filter = ["status", "kind", "source_type"]
    search_fields = ["summary", "reference", "detail"]
    date_hierarchy = "last_seen_at"
    actions = ["reprocess", "mark_resolved", "discard"]
    action_form = ReasonActionForm
    readonly_fields = [
        "kind", "status", "summary", "detail_block", "reference", "source_link", "help_links", "occurrences",
        "created_at", "last_seen_at", "resolved_at", "resolved_by", "resolution_note",
    ]  # fmt: skip
    fields = list(readonly_fields)
    list_select_related = ["source_type"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ExceptionItem]:
        return super().get_queryset(request)

    @admin.display(description="Concerns")
    def source_link(self, obj: ExceptionItem) -> SafeString | str:
        return admin_link(obj.source, label=str(obj.source) if obj.source else obj.source_id)

    @admin.display(description="Help")
    def help_links(self, obj: ExceptionItem) -> SafeString | str:
        links = [link for fn in _EXCEPTION_LINKS.get(obj.kind, []) if (link := fn(obj))]
        return format_html_join(" ", '<a href="{}">{}</a>', links) if links else ""

    @admin.display(description="Detail")
    def detail_block(self, obj: ExceptionItem) -> SafeString:
        return format_html('<pre style="white-space:pre-wrap">{}</pre>', obj.detail)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Needed so the actions show; every field stays read-only.
        return bool(request.user.has_perm("common.change_exceptionitem"))

    @policy_action("exceptions.reprocess", description="Reprocess the selected exceptions")
    def reprocess(self, request: HttpRequest, queryset: QuerySet[ExceptionItem]) -> None:
        self._reprocess(request, queryset.filter(status=ExceptionItem.Status.OPEN))

    def _reprocess(self, request: HttpRequest, items: Iterable[ExceptionItem]) -> None:
        fixed = still_open = 0
        for item in items:
            try:
                item = exception_reprocess(item=item, actor=actor_for(request))
            except ApplicationError as exc:
                self.message_user(request, f"{item.summary}: {exc.message}", messages.ERROR)
                continue
            if item.status == ExceptionItem.Status.OPEN:
                still_open += 1
            else:
                fixed += 1
        if fixed:
            self.message_user(request, f"{fixed} exception(s) reprocessed and resolved.", messages.SUCCESS)
        if still_open:
            self.message_user(
                request,
                f"{still_open} exception(s) still fail after reprocessing; see their detail.",
                messages.WARNING,
            )

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # Every field is read-only: the page acts through its Reprocess button, not a Save.
        no_save = {"show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False}
        return super().change_view(
            request, object_id, form_url, {"title": "Exception", **no_save, **(extra_context or {})}
        )

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(policy_view("exceptions.reprocess", require_POST(self.reprocess_one)))
        return [path("<int:object_id>/reprocess/", view, name="common_exceptionitem_reprocess"), *super().get_urls()]

    def reprocess_one(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """The Reprocess button of an exception's own page."""
        item = get_object_or_404(ExceptionItem, pk=object_id)
        if item.status != ExceptionItem.Status.OPEN:
            self.message_user(request, f"This exception is already {item.get_status_display().lower()}.")
        else:
            self._reprocess(request, [item])
            self.log_change(request, item, "Reprocessed")
        return HttpResponseRedirect(reverse("admin:common_exceptionitem_change", args=[item.pk]))

    @policy_action("exceptions.close", description="Mark the selected exceptions resolved")
    def mark_resolved(self, request: HttpRequest, queryset: QuerySet[ExceptionItem]) -> None:
        actor = actor_for(request)
        admin_run_each(
            self,
            request,
            queryset,
            lambda item: exception_close(
                item=item, status=ExceptionItem.Status.RESOLVED, actor=actor, note="marked resolved"
            ),
            done="exception(s) marked resolved.",
            label=lambda item: item.summary,
        )

    @policy_action("exceptions.close", description="Discard the selected exceptions (give a reason)")
    def discard(self, request: HttpRequest, queryset: QuerySet[ExceptionItem]) -> None:
        reason = _reason(request)
        if not reason:
            self.message_user(request, "Say why they are discarded (the Reason box).", messages.ERROR)
            return
        actor = actor_for(request)
        admin_run_each(
            self,
            request,
            queryset,
            lambda item: exception_close(
                item=item, status=ExceptionItem.Status.DISCARDED, actor=actor, note=f"discarded: {reason}"
            ),
            done=f"exception(s) discarded ({reason}).",
            label=lambda item: item.summary,
        )


class OutboundAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OutboundAttempt
    extra = 0
    fields = ("started_at", "duration_ms", "outcome", "status_code", "error")
    readonly_fields = fields


@admin.register(OutboundRequest)
class OutboundRequestAdmin(PolicyAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "operation",
        "idempotency_key",
        "status",
        "attempts",
        "next_attempt_at",
        "short_error",
        "created_at",
    ]
    list_filter = ["status", "provider", "operation"]
    search_fields = ["idempotency_key", "last_error"]
    inlines = [OutboundAttemptInline]
    actions = ["retry_now", "discard_failed"]
    action_form = ReasonActionForm
    fields = (
        "provider", "operation", "idempotency_key", "status", "attempts", "max_attempts", "next_attempt_at",
        "locked_until", "last_error", "completed_at", "target_link", "payload_json", "result_json",
    )  # fmt: skip
    readonly_fields = fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("common.change_outboundrequest"))

    @admin.display(description="Last error")
    def short_error(self, obj: OutboundRequest) -> str:
        return obj.last_error[:100]

    @admin.display(description="Concerns")
    def target_link(self, obj: OutboundRequest) -> SafeString | str:
        return admin_link(obj.target)

    @admin.display(description="Payload")
    def payload_json(self, obj: OutboundRequest) -> SafeString:
        return pretty_json(obj.payload)

    @admin.display(description="Result")
    def result_json(self, obj: OutboundRequest) -> SafeString:
        return pretty_json(obj.result)

    @policy_action("outbound.discard", description="Discard the selected failed requests (dead letters; give a reason)")
    def discard_failed(self, request: HttpRequest, queryset: QuerySet[OutboundRequest]) -> None:
        reason = _reason(request)
        if not reason:
            self.message_user(request, "Say why they are discarded (the Reason box).", messages.ERROR)
            return
        n = outbound_discard(requests=queryset, actor=actor_for(request), reason=reason)
        self.message_user(request, f"{n} request(s) discarded ({reason}).", messages.SUCCESS)

    @policy_action("outbound.retry", description="Retry the selected failed requests now")
    def retry_now(self, request: HttpRequest, queryset: QuerySet[OutboundRequest]) -> None:
        sent = 0
        for item in queryset.filter(status__in=[OutboundRequest.Status.FAILED, OutboundRequest.Status.CANCELLED]):
            outbound_retry(request=item, actor=actor_for(request))
            claimed = outbound_claim(pk=item.pk)
            if claimed is not None and outbound_send(request=claimed).status == OutboundRequest.Status.SUCCEEDED:
                sent += 1
        self.message_user(request, f"{sent} request(s) sent; the others stay queued with their error shown.")


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    """Tokens are issued with `manage.py issue_api_token` (shown once); here they can be switched off."""

    list_display = ["name", "kind", "token_prefix", "is_active", "last_used_at", "created_at"]
    list_filter = ["kind", "is_active"]
    fields = ["name", "kind", "token_prefix", "is_active", "last_used_at"]
    readonly_fields = ["name", "kind", "token_prefix", "last_used_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


# django-q's "Resubmit selected tasks" runs a task again (a poll, a refund send ...) and declares no permission:
# anyone who could see the task list could run it. Here it is an operation of the policy like ours.
_resubmit = policy_action("tasks.resubmit", description="Resubmit selected tasks to queue")(q_admin.resubmit_task)
for _model, _base in ((q_models.Success, q_admin.TaskAdmin), (q_models.Failure, q_admin.FailAdmin)):
    admin.site.unregister(_model)
    admin.site.register(_model, type(_base.__name__, (PolicyAdminMixin, _base), {"actions": [_resubmit]}))
