from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from import_export.admin import ImportExportModelAdmin

from config.common.access import PolicyAdminMixin, policy_action, policy_view
from config.common.admin import actor_for, pretty_json, register_exception_link
from config.common.errors import ApplicationError
from config.common.models import ExceptionItem
from mappings.models import (
    CurrencyRate,
    FieldMappingRule,
    FieldMappingTemplate,
    FieldRule,
    GlAccount,
    MappingSuggestion,
    SettlementAccountMapping,
    SkuMapping,
    StatusMapping,
)
from mappings.resources import (
    CurrencyRateResource,
    FieldMappingRuleResource,
    GlAccountResource,
    SettlementAccountMappingResource,
    SkuMappingResource,
    StatusMappingResource,
)
from mappings.selectors import mapping_suggestion_sources_for_exception
from mappings.services import (
    mapping_suggestion_accept,
    mapping_suggestion_model,
    mapping_suggestion_reject,
    mapping_suggestions_refresh,
)


@admin.register(SkuMapping)
class SkuMappingAdmin(ImportExportModelAdmin):
    resource_classes = [SkuMappingResource]
    list_display = [
        "seller_sku",
        "asin",
        "erp_item_id",
        "seller_account",
        "fulfillment_channel",
        "is_active",
        "updated_at",
    ]
    list_filter = ["is_active", "fulfillment_channel", "seller_account"]
    search_fields = ["seller_sku", "asin", "erp_item_id", "description"]
    list_select_related = ["seller_account"]
    autocomplete_fields: list[str] = []
    change_list_template = "admin/mappings/skumapping/change_list.html"

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        proposed = MappingSuggestion.objects.filter(
            kind=MappingSuggestion.Kind.SKU, status=MappingSuggestion.Status.PROPOSED, rank=1
        ).count()
        return super().changelist_view(request, {**(extra_context or {}), "open_sku_suggestions": proposed})


@admin.register(StatusMapping)
class StatusMappingAdmin(ImportExportModelAdmin):
    resource_classes = [StatusMappingResource]
    list_display = ["source", "source_status", "canonical_status", "description"]
    list_filter = ["source", "canonical_status"]
    search_fields = ["source_status", "description"]


@admin.register(FieldRule)
class FieldRuleAdmin(admin.ModelAdmin):
    list_display = ["target", "template", "is_active", "description"]
    list_editable = ["is_active"]


class FieldMappingRuleInline(admin.TabularInline):
    model = FieldMappingRule
    extra = 1
    fields = ["position", "source_path", "target_field", "transform", "argument", "default", "required"]


@admin.register(FieldMappingTemplate)
class FieldMappingTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "target", "is_active", "rule_count", "description"]
    list_filter = ["target", "is_active"]
    inlines = [FieldMappingRuleInline]

    @admin.display(description="Rules")
    def rule_count(self, obj: FieldMappingTemplate) -> int:
        return obj.rules.count()


@admin.register(FieldMappingRule)
class FieldMappingRuleAdmin(ImportExportModelAdmin):
    """Import/export of templates as CSV, XLSX or JSON (one row per rule)."""

    resource_classes = [FieldMappingRuleResource]
    list_display = [
        "template",
        "position",
        "source_path",
        "target_field",
        "transform",
        "argument",
        "default",
        "required",
    ]
    list_filter = ["template", "transform"]
    search_fields = ["source_path", "target_field"]


@admin.register(GlAccount)
class GlAccountAdmin(ImportExportModelAdmin):
    resource_classes = [GlAccountResource]
    list_display = ["code", "name", "kind", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["code", "name"]


@admin.register(SettlementAccountMapping)
class SettlementAccountMappingAdmin(ImportExportModelAdmin):
    """Finance's table: which GL account each settlement amount posts to (`*` matches anything)."""

    resource_classes = [SettlementAccountMappingResource]
    list_display = ["transaction_type", "amount_type", "amount_description", "gl_account", "description"]
    list_filter = ["gl_account", "transaction_type", "amount_type"]
    search_fields = ["transaction_type", "amount_type", "amount_description", "description", "gl_account__code"]
    list_select_related = ["gl_account"]


@admin.register(CurrencyRate)
class CurrencyRateAdmin(ImportExportModelAdmin):
    resource_classes = [CurrencyRateResource]
    list_display = ["date", "currency", "base_currency", "rate"]
    list_filter = ["currency", "base_currency"]
    date_hierarchy = "date"


class SuggestionActionForm(ActionForm):
    reason = forms.CharField(required=False, label="Reason (when rejecting)", max_length=500)


class ExceptionFilter(admin.SimpleListFilter):
    """`?exception=<id>`: the suggestions for what one exception is about (linked from the exception queue)."""

    title = "exception"
    parameter_name = "exception"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        value = self.value()
        return [(value, f"Exception #{value}")] if value and value.isdigit() else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value or not value.isdigit():
            return queryset
        item = ExceptionItem.objects.select_related("source_type").filter(pk=int(value)).first()
        found = mapping_suggestion_sources_for_exception(item=item) if item else None
        if found is None:
            return queryset.none()
        kind, keys = found
        return queryset.filter(kind=kind, source_key__in=keys)


class ConfidenceFilter(admin.SimpleListFilter):
    title = "confidence"
    parameter_name = "confidence"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("high", "70% or more"), ("medium", "30% to 70%"), ("low", "below 30%")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "high":
            return queryset.filter(confidence__gte=0.7)
        if self.value() == "medium":
            return queryset.filter(confidence__gte=0.3, confidence__lt=0.7)
        if self.value() == "low":
            return queryset.filter(confidence__lt=0.3)
        return queryset


def _suggestions_url(**filters: Any) -> str:
    return reverse("admin:mappings_mappingsuggestion_changelist") + "?" + urlencode(filters)


@register_exception_link(ExceptionItem.Kind.UNKNOWN_SKU, ExceptionItem.Kind.SETTLEMENT_UNMAPPED)
def _exception_suggestions_link(item: ExceptionItem) -> tuple[str, str] | None:
    return _suggestions_url(exception=item.pk), "Mapping suggestions"


@admin.register(MappingSuggestion)
class MappingSuggestionAdmin(PolicyAdminMixin, admin.ModelAdmin):
    """Proposed mappings: nothing is applied until an operator accepts; every decision teaches later ones."""

    list_display = [
        "source_key", "kind", "target_display", "confidence_pct", "rank", "reasons_list", "status", "decided",
    ]  # fmt: skip
    list_filter = ["status", "kind", ConfidenceFilter, ExceptionFilter]
    search_fields = ["source_key", "target_key", "target_label"]
    actions = ["accept_selected", "reject_selected"]
    action_form = SuggestionActionForm
    change_list_template = "admin/mappings/mappingsuggestion/change_list.html"
    fields = (
        "kind", "source_key", "target_key", "target_label", "confidence_pct", "rank", "status", "reasons_list",
        "decided_by", "decided_at", "decision_note", "outcome", "context_json", "features_json", "evidence_json",
        "created_at", "updated_at",
    )  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a deleted rejection would be proposed again

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Needed so the actions show; every field stays read-only.
        return bool(request.user.has_perm("mappings.change_mappingsuggestion"))

    def get_queryset(self, request: HttpRequest) -> QuerySet[MappingSuggestion]:
        return super().get_queryset(request).defer("evidence")

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "refresh/",
                self.admin_site.admin_view(policy_view("mappings.suggestions.refresh", self.refresh_view)),
                name="mappings_mappingsuggestion_refresh",
            )
        ]
        return own + super().get_urls()

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        learned = []
        for kind, label in MappingSuggestion.Kind.choices:
            model = mapping_suggestion_model(kind=kind)
            weights = [(spec.label, spec.prior, model.weight(spec.name)) for spec in model.specs]
            learned.append({"kind": label, "decisions": model.decisions, "weights": weights})
        return super().changelist_view(request, {**(extra_context or {}), "learned": learned})

    def refresh_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        written = mapping_suggestions_refresh()
        messages.success(request, f"Suggestions refreshed: {written} proposal(s) for what is unmapped now.")
        return HttpResponseRedirect(_suggestions_url(status=MappingSuggestion.Status.PROPOSED))

    @admin.display(description="Proposed target", ordering="target_key")
    def target_display(self, obj: MappingSuggestion) -> str:
        return obj.target_label or obj.target_key

    @admin.display(description="Confidence", ordering="confidence")
    def confidence_pct(self, obj: MappingSuggestion) -> str:
        return f"{obj.confidence:.0%}"

    @admin.display(description="Why")
    def reasons_list(self, obj: MappingSuggestion) -> SafeString | str:
        if not obj.reasons:
            return ""
        items = format_html_join("", "<li>{}</li>", ((reason,) for reason in obj.reasons))
        return format_html('<ul style="margin:0;padding-left:1.2em">{}</ul>', items)

    @admin.display(description="Decided")
    def decided(self, obj: MappingSuggestion) -> str:
        if not obj.decided_at:
            return ""
        note = f": {obj.decision_note}" if obj.decision_note else ""
        return f"{obj.decided_by}, {obj.decided_at:%Y-%m-%d %H:%M}{note}"

    @admin.display(description="Context")
    def context_json(self, obj: MappingSuggestion) -> SafeString:
        return pretty_json(obj.context)

    @admin.display(description="Features")
    def features_json(self, obj: MappingSuggestion) -> SafeString:
        return pretty_json(obj.features)

    @admin.display(description="Evidence")
    def evidence_json(self, obj: MappingSuggestion) -> SafeString:
        return pretty_json(obj.evidence)

    @policy_action("mappings.suggestions.decide", description="Accept the selected suggestions (creates the mapping)")
    def accept_selected(self, request: HttpRequest, queryset: QuerySet[MappingSuggestion]) -> None:
        for suggestion in queryset.order_by("-confidence", "pk"):
            try:
                result = mapping_suggestion_accept(suggestion=suggestion, actor=actor_for(request))
            except ApplicationError as exc:
                self.message_user(request, f"{suggestion.source_key}: {exc.message}", messages.ERROR)
                continue
            level = messages.WARNING if result.still_open else messages.SUCCESS
            self.message_user(request, result.suggestion.outcome, level)
            for error in result.errors:
                self.message_user(request, error, messages.WARNING)

    @policy_action(
        "mappings.suggestions.decide", description="Reject the selected suggestions (with the reason typed above)"
    )
    def reject_selected(self, request: HttpRequest, queryset: QuerySet[MappingSuggestion]) -> None:
        reason = request.POST.get("reason", "")
        rejected = 0
        kinds = set()
        for suggestion in queryset:
            try:
                mapping_suggestion_reject(suggestion=suggestion, actor=actor_for(request), reason=reason)
            except ApplicationError as exc:
                self.message_user(request, f"{suggestion.source_key}: {exc.message}", messages.ERROR)
                continue
            rejected += 1
            kinds.add(suggestion.kind)
        written = sum(mapping_suggestions_refresh(kind=kind) for kind in sorted(kinds))
        if rejected:
            self.message_user(
                request,
                f"{rejected} suggestion(s) rejected; they will not be proposed again. "
                f"Refreshed: {written} proposal(s) now.",
                messages.SUCCESS,
            )
