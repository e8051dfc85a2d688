"""Finance's console: settlement files and their import, settlements with drill-down, journals and CSV export."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Q, QuerySet, Sum
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from import_export import fields, resources
from import_export.admin import ExportMixin

from config.common.access import PolicyAdminMixin, policy_action, policy_view
from config.common.admin import ReadOnlyAdminMixin, actor_for, admin_link
from config.common.errors import ApplicationError
from config.common.models import ExceptionItem
from mappings.models import GlAccount
from orders.models import Order
from reconciliation.bank_formats import csv_mapping_problems
from reconciliation.models import (
    AccountingPeriod,
    AnomalyFlag,
    BankAccount,
    BankLineEvent,
    BankMatch,
    BankMatchItem,
    BankStatementFile,
    BankStatementLine,
    FinancesTransaction,
    JournalEntry,
    JournalLine,
    OrderReportCheck,
    ReconciliationHint,
    Settlement,
    SettlementFile,
    SettlementLine,
    SettlementReport,
)
from reconciliation.selectors import (
    settlement_lines_matched_filter,
    settlement_lines_unmatched,
    settlement_lines_with_orders,
    three_way_order,
    three_way_period,
)
from reconciliation.services import (
    accounting_period_close,
    accounting_period_reopen,
    anomaly_flag_confirm,
    anomaly_flag_dismiss,
    journal_entries_post,
    settlement_file_import,
    settlement_file_progress,
    settlement_file_store,
    settlement_hints_refresh,
    settlement_reconcile,
)
from reconciliation.services.accruals import period_accruals_run
from reconciliation.services.bank_match import (
    InvalidBankTransition,
    bank_line_accept_difference,
    bank_line_ignore,
    bank_lines_match,
)
from reconciliation.services.bank_statements import bank_statement_import, bank_statement_store
from reconciliation.services.completeness import order_report_check
from reconciliation.services.export import COLUMNS, JournalFilter, csv_safe, journal_csv_chunks
from reconciliation.services.export_formats import export_filename, journal_export_chunks

INLINE_LINES = 200
HINT_REFERENCES_SHOWN = 50


def _lines_url(**filters: Any) -> str:
    return reverse("admin:reconciliation_settlementline_changelist") + "?" + urlencode(filters)


def _error(file: SettlementFile) -> str:
    return f"line {file.error_line}: {file.error}" if file.error_line else file.error


class UploadForm(forms.Form):
    file = forms.FileField(help_text="An Amazon V2 settlement flat file (tab-separated .txt), as downloaded.")


@admin.register(SettlementFile)
class SettlementFileAdmin(PolicyAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["name", "state", "settlement_link", "rows_imported", "size", "attempts", "where", "created_at"]
    list_filter = ["state", "source"]
    search_fields = ["name", "sha256", "settlement__settlement_id"]
    list_select_related = ["settlement"]
    actions = ["import_now"]
    fields = (
        "name", "state", "progress", "settlement_link", "source", "seller_account", "size", "sha256", "download",
        "rows_imported", "seconds", "attempts", "error_line", "error", "next_attempt_at", "created_at", "updated_at",
    )  # fmt: skip
    readonly_fields = fields
    change_list_template = "admin/reconciliation/settlementfile/change_list.html"

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("reconciliation.change_settlementfile"))

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "upload/",
                self.admin_site.admin_view(policy_view("settlements.upload", self.upload_view)),
                name="reconciliation_settlementfile_upload",
            ),
            path(
                "<int:pk>/download/",
                self.admin_site.admin_view(policy_view("settlements.download", self.download_view)),
                name="reconciliation_settlementfile_download",
            ),
        ]
        return own + super().get_urls()

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            file, created = settlement_file_store(data=upload, name=upload.name, source=f"upload by {request.user}")
            if not created and file.state != SettlementFile.State.REJECTED:
                messages.info(request, f"{upload.name}: these exact bytes were received before ({file}).")
            else:
                file = settlement_file_import(file_id=file.pk)
                level = messages.ERROR if file.state == SettlementFile.State.REJECTED else messages.SUCCESS
                messages.add_message(request, level, f"{file.name}: {file.get_state_display()}. {_error(file)}")
            return HttpResponseRedirect(reverse("admin:reconciliation_settlementfile_change", args=[file.pk]))
        context = {**self.admin_site.each_context(request), "form": form, "title": "Upload a settlement file"}
        return render(request, "admin/reconciliation/settlementfile/upload.html", context)

    def download_view(self, request: HttpRequest, pk: int) -> FileResponse:
        file = get_object_or_404(SettlementFile, pk=pk)
        return FileResponse(open(file.path, "rb"), as_attachment=True, filename=file.name)

    @admin.display(description="Settlement")
    def settlement_link(self, obj: SettlementFile) -> SafeString | str:
        return admin_link(obj.settlement) if obj.settlement else "-"

    @admin.display(description="Error at")
    def where(self, obj: SettlementFile) -> str:
        return f"line {obj.error_line}" if obj.error_line else ""

    @admin.display(description="Raw file")
    def download(self, obj: SettlementFile) -> SafeString:
        url = reverse("admin:reconciliation_settlementfile_download", args=[obj.pk])
        return format_html('<a href="{}">Download as received</a>', url)

    @admin.display(description="Import progress")
    def progress(self, obj: SettlementFile) -> str:
        info = settlement_file_progress(file=obj)
        if info is None:
            return "-" if obj.state != SettlementFile.State.RECEIVED else "waiting"
        return f"{info['rows']:,} rows read, {info['fraction']:.0%} of the file, {info['seconds']:.0f} s"

    @policy_action("settlements.import", description="Import now (again, if rejected)")
    def import_now(self, request: HttpRequest, queryset: QuerySet[SettlementFile]) -> None:
        for file in queryset:
            file = settlement_file_import(file_id=file.pk)
            level = messages.ERROR if file.state == SettlementFile.State.REJECTED else messages.SUCCESS
            messages.add_message(request, level, f"{file.name}: {file.get_state_display()}. {_error(file)}")


@admin.register(SettlementReport)
class SettlementReportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["report_id", "seller_account", "created_time", "file_link"]
    list_filter = ["seller_account"]
    search_fields = ["=report_id"]
    list_select_related = ["seller_account", "file"]

    @admin.display(description="File")
    def file_link(self, obj: SettlementReport) -> SafeString | str:
        return admin_link(obj.file) if obj.file else "-"


@admin.register(Settlement)
class SettlementAdmin(PolicyAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "settlement_id", "deposit_date", "total_amount", "currency", "status", "line_count", "matched_count",
        "unmatched_count", "unmapped_count", "journal_link",
    ]  # fmt: skip
    list_filter = ["status", "currency", "seller_account"]
    search_fields = ["=settlement_id"]
    date_hierarchy = "deposit_date"
    actions = ["reconcile", "refresh_hints"]
    fields = (
        "settlement_id", "status", "problem", "seller_account", "start_date", "end_date", "deposit_date",
        "total_amount", "lines_total", "currency", "line_count", "matched_count", "unmatched_count", "unmapped_count",
        "journal_link", "journal_split", "by_match", "by_account", "by_type", "hints_table",
    )  # fmt: skip
    readonly_fields = fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("reconciliation.change_settlement"))

    @admin.display(description="Journal")
    def journal_link(self, obj: Settlement) -> SafeString | str:
        entries = list(JournalEntry.objects.filter(settlement=obj).order_by("period_start"))
        if not entries:
            return "-"
        if len(entries) == 1:
            return admin_link(entries[0], f"{entries[0].line_count} lines, {entries[0].total_debit}")
        return format_html_join(", ", "{}", ((admin_link(e, f"{e.period_start:%Y-%m} ({e.date})"),) for e in entries))

    @admin.display(description="Journal entries by accounting period")
    def journal_split(self, obj: Settlement) -> SafeString | str:
        """One entry per period the lines fall in (by posted date), each with its share of the clearing account."""
        entries = list(JournalEntry.objects.filter(settlement=obj).order_by("period_start"))
        if not entries:
            return "-"
        clearing = dict(
            JournalLine.objects.filter(entry__in=entries, gl_account__code=settings.LEDGER_CLEARING_ACCOUNT)
            .values_list("entry_id")
            .annotate(net=Sum("debit") - Sum("credit"))
            .order_by()
        )
        rows: list[tuple[Any, ...]] = [
            (admin_link(e, str(e.pk)), f"{e.period_start:%Y-%m}", e.date, e.get_status_display(), e.total_debit,
             clearing.get(e.pk, Decimal(0)), e.memo, e.note or "")
            for e in entries
        ]  # fmt: skip
        total = sum((clearing.get(e.pk, Decimal(0)) for e in entries), Decimal(0))
        rows.append(("", "", "", "", "Total", total, f"payout {obj.total_amount} {obj.currency}", ""))
        head = ["Entry", "Period", "Dated", "Status", "Debits", "Clearing (payout share)", "Memo", "Note"]
        return _table(head, rows)

    @admin.display(description="Lines by kind")
    def by_match(self, obj: Settlement) -> SafeString:
        unmatched = dict(
            settlement_lines_unmatched(settlement=obj).values_list("kind").annotate(n=Count("pk")).order_by()
        )
        rows = obj.lines.values_list("kind").annotate(n=Count("pk"), total=Sum("amount")).order_by("kind")
        labels = dict(SettlementLine.Kind.choices)
        table = []
        for kind, n, total in rows:
            missing = unmatched.get(kind, 0)
            link = _lines_url(settlement__id__exact=obj.pk, kind__exact=kind, matched="no")
            table.append((
                format_html('<a href="{}">{}</a>', _lines_url(settlement__id__exact=obj.pk, kind__exact=kind),
                            labels[kind]),
                n, total,
                format_html('<a href="{}">{} without their order (exception)</a>', link, missing) if missing else "",
            ))  # fmt: skip
        return _table(["Kind", "Lines", "Amount", "Unmatched"], table)

    @admin.display(description="Lines by GL account")
    def by_account(self, obj: Settlement) -> SafeString:
        rows = (
            obj.lines.values_list("gl_account_id", "gl_account__code", "gl_account__name")
            .annotate(n=Count("pk"), total=Sum("amount"))
            .order_by("gl_account__code")
        )
        return _table(
            ["GL account", "Lines", "Amount"],
            [
                (
                    format_html(
                        '<a href="{}">{}</a>',
                        _lines_url(settlement__id__exact=obj.pk, gl_account__isnull="True")
                        if gl is None
                        else _lines_url(settlement__id__exact=obj.pk, gl_account__id__exact=gl),
                        f"{code} {name}" if gl else "Unmapped (exception)",
                    ),
                    n,
                    t,
                )
                for gl, code, name, n, t in rows
            ],
        )

    @admin.display(description="Lines by type")
    def by_type(self, obj: Settlement) -> SafeString:
        rows = (
            obj.lines.values_list("transaction_type", "amount_type", "amount_description")
            .annotate(n=Count("pk"), total=Sum("amount"))
            .order_by("transaction_type", "amount_type", "amount_description")
        )
        return _table(["Transaction type", "Amount type", "Description", "Lines", "Amount"], list(rows))

    @policy_action("settlements.reconcile", description="Match again, resolve GL accounts and build the journal")
    def reconcile(self, request: HttpRequest, queryset: QuerySet[Settlement]) -> None:
        for settlement in queryset:
            settlement = settlement_reconcile(settlement=settlement, actor=actor_for(request))
            messages.info(request, f"{settlement}: {settlement.get_status_display()}")

    @policy_action(
        "settlements.reconcile",
        description="Refresh the hints for unmatched orders (candidates only, nothing is matched)",
    )
    def refresh_hints(self, request: HttpRequest, queryset: QuerySet[Settlement]) -> None:
        for settlement in queryset:
            count = settlement_hints_refresh(settlement=settlement)
            messages.info(request, f"{settlement}: {count} hint(s) for {settlement.unmatched_count} unmatched line(s)")

    @admin.display(description="Hints for unmatched orders")
    def hints_table(self, obj: Settlement) -> SafeString | str:
        hints = list(
            obj.hints.select_related("candidate_order", "candidate_payment").order_by("order_reference", "rank")
        )
        if not hints:
            if obj.unmatched_count:
                return "None computed yet: select this settlement in the list and run “Refresh the hints”."
            return "-"
        references = sorted({h.order_reference for h in hints})
        shown = set(references[:HINT_REFERENCES_SHOWN])
        rows = [
            (
                h.order_reference if h.rank == 1 else "",
                h.reference_amount if h.rank == 1 else "",
                h.rank,
                admin_link(h.candidate_order) if h.candidate_order else "-",
                admin_link(h.candidate_payment) if h.candidate_payment else "",
                h.score,
                "; ".join(h.reasons),
            )
            for h in hints
            if h.order_reference in shown
        ]
        url = reverse("admin:reconciliation_reconciliationhint_changelist") + f"?settlement__id__exact={obj.pk}"
        more = format_html('<p><a href="{}">All {} hints for {} order reference(s)</a></p>', url, len(hints),
                           len(references))  # fmt: skip
        head = ["Order reference", "Settlement amount", "Rank", "Candidate order", "Payment", "Score", "Why"]
        return format_html("{}{}", _table(head, rows), more)


def _cell(value: Any) -> Any:
    # Money to the cent (sums and averages can carry more places).
    return Decimal(str(value)).quantize(Decimal("0.01")) if isinstance(value, float | Decimal) else value


def _table(head: list[str], rows: list[tuple[Any, ...]]) -> SafeString:
    header = format_html_join("", "<th>{}</th>", ((h,) for h in head))
    body = format_html_join(
        "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((_cell(c),) for c in row)),) for row in rows)
    )
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", header, body)


class MatchedFilter(admin.SimpleListFilter):
    title = "matched to an order"
    parameter_name = "matched"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Matched to its order"), ("no", "Order not in Ledgerline (exception)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[SettlementLine]) -> QuerySet[SettlementLine]:
        if self.value() in ("yes", "no"):
            return queryset.filter(settlement_lines_matched_filter(matched=self.value() == "yes"))
        return queryset


@admin.register(SettlementLine)
class SettlementLineAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "settlement", "line_number", "kind", "transaction_type", "amazon_order_id", "marketplace_name",
        "amount_type", "amount_description", "amount", "order_link", "gl_account",
    ]  # fmt: skip
    list_filter = [MatchedFilter, "kind", "transaction_type", "amount_type", "marketplace_name", "gl_account"]
    search_fields = ["=amazon_order_id", "=merchant_order_id", "sku", "=settlement__settlement_id"]
    list_select_related = ["settlement", "gl_account"]
    show_full_result_count = False  # a settlement can have a million lines

    def get_queryset(self, request: HttpRequest) -> QuerySet[SettlementLine]:
        return settlement_lines_with_orders(lines=super().get_queryset(request))

    @admin.display(description="Order")
    def order_link(self, obj: SettlementLine) -> SafeString | str:
        order_pk = getattr(obj, "order_pk", None)
        if order_pk is not None:
            url = reverse("admin:orders_order_change", args=[order_pk])
            return format_html('<a href="{}">{}</a>', url, obj.order_reference)
        if obj.kind in (SettlementLine.Kind.ORDER, SettlementLine.Kind.REFUND):
            return format_html("<strong>No order {} in Ledgerline</strong>", obj.order_reference)
        return "account-level" if obj.kind == SettlementLine.Kind.FEE else "reserve"


class JournalLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = JournalLine
    extra = 0
    fields = ("position", "gl_account", "description", "reference", "debit", "credit", "base_debit", "base_credit")
    readonly_fields = fields
    max_num = 0
    show_change_link = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[JournalLine]:
        return super().get_queryset(request).select_related("gl_account")


@admin.register(JournalEntry)
class JournalEntryAdmin(PolicyAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "date", "kind", "period_start", "source", "seller_account", "currency", "total_debit", "total_credit",
        "base_currency", "base_total_debit", "base_total_credit", "line_count", "status", "moved",
    ]  # fmt: skip
    list_filter = ["kind", "status", "currency", "period_start"]
    search_fields = ["settlement__settlement_id", "memo", "note"]
    date_hierarchy = "date"
    list_select_related = ["settlement", "seller_account", "bank_match__line"]
    actions = ["download_csv", "download_xero", "download_qbo", "download_sage", "download_dynamics_sl", "mark_posted"]
    inlines = [JournalLineInline]
    fields = (
        "kind", "settlement", "bank_match", "seller_account", "period_start", "date", "status", "split",
        "reverses_link", "reversal_link", "currency", "total_debit", "total_credit", "base_currency", "rate",
        "base_total_debit", "base_total_credit", "line_count", "memo", "note", "all_lines",
    )  # fmt: skip
    readonly_fields = fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("reconciliation.change_journalentry"))

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        # A line-level journal can have a million lines: those are browsed in the journal line list instead.
        return [JournalLineInline] if obj is not None and obj.line_count <= INLINE_LINES else []

    @admin.display(description="Dated outside its period", boolean=True)
    def moved(self, obj: JournalEntry) -> bool:
        """A closed period's amounts dated at the first open date (the note says why)."""
        return bool(obj.note) and obj.kind in (JournalEntry.Kind.SETTLEMENT, JournalEntry.Kind.BANK)

    @admin.display(description="The settlement's entries (one per accounting period)")
    def split(self, obj: JournalEntry) -> SafeString | str:
        if obj.settlement is None:
            return "-"
        entries = list(JournalEntry.objects.filter(settlement=obj.settlement).order_by("period_start"))
        if len(entries) == 1:
            return "One entry: all its lines are in one period."
        return format_html_join(
            ", ", "{}",
            (((format_html("<strong>{}</strong>", f"{e.period_start:%Y-%m} ({e.date}, this entry)") if e.pk == obj.pk
               else admin_link(e, f"{e.period_start:%Y-%m} ({e.date})")),) for e in entries),
        )  # fmt: skip

    @admin.display(description="Reverses")
    def reverses_link(self, obj: JournalEntry) -> SafeString | str:
        return admin_link(obj.reverses) if obj.reverses_id else "-"

    @admin.display(description="Reversed by")
    def reversal_link(self, obj: JournalEntry) -> SafeString | str:
        reversal = JournalEntry.objects.filter(reverses=obj).first()
        return admin_link(reversal) if reversal else "-"

    @admin.display(description="Source")
    def source(self, obj: JournalEntry) -> str:
        if obj.settlement_id is not None:
            return f"Amazon settlement {obj.source_reference}"
        return f"Bank deposit {obj.source_reference}" if obj.bank_match_id else obj.source_reference

    @admin.display(description="Lines")
    def all_lines(self, obj: JournalEntry) -> SafeString:
        url = reverse("admin:reconciliation_journalline_changelist") + f"?entry__id__exact={obj.pk}"
        return format_html('<a href="{}">All {} lines (filter, search, export)</a>', url, obj.line_count)

    @policy_action("reconciliation.journal_csv", description="Download the journal lines as CSV")
    def download_csv(self, request: HttpRequest, queryset: QuerySet[JournalEntry]) -> StreamingHttpResponse:
        chunks = journal_csv_chunks(filters=JournalFilter(entry_ids=tuple(queryset.values_list("pk", flat=True))))
        response = StreamingHttpResponse(chunks, content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="journal-lines.csv"'
        return response

    def _download(self, queryset: QuerySet[JournalEntry], fmt: str) -> StreamingHttpResponse:
        filters = JournalFilter(entry_ids=tuple(queryset.values_list("pk", flat=True)))
        response = StreamingHttpResponse(journal_export_chunks(filters=filters, format=fmt), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="{export_filename(fmt)}"'
        return response

    @policy_action("reconciliation.journal_csv", description="Download for Xero (manual journal import)")
    def download_xero(self, request: HttpRequest, queryset: QuerySet[JournalEntry]) -> StreamingHttpResponse:
        return self._download(queryset, "xero")

    @policy_action("reconciliation.journal_csv", description="Download for QuickBooks Online (journal entries)")
    def download_qbo(self, request: HttpRequest, queryset: QuerySet[JournalEntry]) -> StreamingHttpResponse:
        return self._download(queryset, "qbo")

    @policy_action("reconciliation.journal_csv", description="Download for Sage 50 (audit trail journals)")
    def download_sage(self, request: HttpRequest, queryset: QuerySet[JournalEntry]) -> StreamingHttpResponse:
        return self._download(queryset, "sage")

    @policy_action("reconciliation.journal_csv", description="Download for Dynamics SL (GL transaction import)")
    def download_dynamics_sl(self, request: HttpRequest, queryset: QuerySet[JournalEntry]) -> StreamingHttpResponse:
        return self._download(queryset, "dynamics-sl")

    @policy_action("journals.mark_posted", description="Mark as posted to the ledger")
    def mark_posted(self, request: HttpRequest, queryset: QuerySet[JournalEntry]) -> None:
        n = journal_entries_post(entry_ids=list(queryset.values_list("pk", flat=True)), actor=actor_for(request))
        messages.info(request, f"{n} journal entr{'y' if n == 1 else 'ies'} marked as posted")


class JournalLineResource(resources.ModelResource):
    """The same columns as the API and command CSV, with the same formula guard."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for name, attribute, _ in COLUMNS:
            self.fields[name] = fields.Field(attribute=attribute, column_name=name)

    class Meta:
        model = JournalLine
        fields: list[str] = []

    def export_field(self, field: fields.Field, instance: Any, **kwargs: Any) -> Any:
        return csv_safe(super().export_field(field, instance, **kwargs))

    def get_export_order(self) -> tuple[str, ...]:
        return tuple(name for name, _, _ in COLUMNS)


@admin.register(JournalLine)
class JournalLineAdmin(ExportMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    resource_classes = [JournalLineResource]
    list_display = ["entry", "position", "gl_account", "description", "reference", "debit", "credit", "currency"]
    list_filter = ["gl_account", "currency", "entry__status", "entry__kind"]
    search_fields = ["reference", "description", "entry__settlement__settlement_id"]
    list_select_related = ["entry__settlement", "gl_account"]
    show_full_result_count = False


def _review(
    admin_: admin.ModelAdmin[AnomalyFlag], request: HttpRequest, queryset: QuerySet[AnomalyFlag], confirm: bool
) -> None:
    done = 0
    for flag in queryset:
        try:
            if confirm:
                anomaly_flag_confirm(flag=flag, actor=actor_for(request))
            else:
                anomaly_flag_dismiss(flag=flag, actor=actor_for(request))
        except ApplicationError as exc:
            admin_.message_user(request, f"{flag}: {exc.message}", messages.ERROR)
            continue
        done += 1
    if done:
        what = "confirmed" if confirm else "dismissed"
        admin_.message_user(request, f"{done} flag(s) {what}; their exceptions are resolved.", messages.SUCCESS)


@admin.register(AnomalyFlag)
class AnomalyFlagAdmin(PolicyAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["kind", "sku", "seller_account", "subject", "shown_value", "robust_z", "status", "explanation",
                    "created_at"]  # fmt: skip
    list_filter = ["kind", "status", "seller_account"]
    search_fields = ["sku", "=subject", "explanation"]
    date_hierarchy = "created_at"
    list_select_related = ["seller_account"]
    actions = ["dismiss", "confirm"]
    fields = (
        "kind", "status", "explanation", "seller_account", "sku", "subject", "order_link", "settlement_link",
        "observed_at", "currency", "value", "median", "mad", "spread", "spread_basis", "robust_z", "history",
        "exception_link", "reviewed_by", "reviewed_at", "review_note", "created_at",
    )  # fmt: skip
    readonly_fields = fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("reconciliation.change_anomalyflag"))

    @admin.display(description="Value", ordering="value")
    def shown_value(self, obj: AnomalyFlag) -> str:
        if obj.kind == AnomalyFlag.Kind.ORDER_AMOUNT:
            return f"{obj.value:.2f} {obj.currency}"
        return f"{obj.value * 100:.1f}%"

    @admin.display(description="Order")
    def order_link(self, obj: AnomalyFlag) -> SafeString | str:
        return admin_link(obj.order)

    @admin.display(description="Settlement")
    def settlement_link(self, obj: AnomalyFlag) -> SafeString | str:
        return admin_link(obj.settlement)

    @admin.display(description="Exception")
    def exception_link(self, obj: AnomalyFlag) -> SafeString | str:
        from django.contrib.contenttypes.models import ContentType

        from config.common.models import ExceptionItem

        item = (
            ExceptionItem.objects.filter(
                source_type=ContentType.objects.get_for_model(AnomalyFlag), source_id=str(obj.pk)
            )
            .order_by("-pk")
            .first()
        )
        return admin_link(item, f"{item.get_status_display()}: {item.summary}") if item else "-"

    @policy_action("anomalies.decide", description="Dismiss: normal after all (resolves the exception)")
    def dismiss(self, request: HttpRequest, queryset: QuerySet[AnomalyFlag]) -> None:
        _review(self, request, queryset, confirm=False)

    @policy_action("anomalies.decide", description="Confirm: a real problem (resolves the exception)")
    def confirm(self, request: HttpRequest, queryset: QuerySet[AnomalyFlag]) -> None:
        _review(self, request, queryset, confirm=True)


@admin.register(ReconciliationHint)
class ReconciliationHintAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["order_reference", "settlement", "rank", "order_link", "payment_link", "score", "why",
                    "reference_amount", "posted_at"]  # fmt: skip
    list_filter = ["rank"]
    search_fields = ["=order_reference", "=settlement__settlement_id", "candidate_order__external_id"]
    list_select_related = ["settlement", "candidate_order", "candidate_payment"]

    @admin.display(description="Candidate order")
    def order_link(self, obj: ReconciliationHint) -> SafeString | str:
        return admin_link(obj.candidate_order)

    @admin.display(description="Payment")
    def payment_link(self, obj: ReconciliationHint) -> SafeString | str:
        return admin_link(obj.candidate_payment) if obj.candidate_payment else ""

    @admin.display(description="Why")
    def why(self, obj: ReconciliationHint) -> str:
        return "; ".join(obj.reasons)


COMPLETENESS_KINDS = [
    ExceptionItem.Kind.ORDER_UNSETTLED, ExceptionItem.Kind.ORDER_MISSING, ExceptionItem.Kind.SETTLEMENT_UNMATCHED,
]  # fmt: skip


def _period_settlements(period: AccountingPeriod) -> QuerySet[Settlement]:
    """Settlements with lines in the period (an entry for it) or deposited in it."""
    with_lines = JournalEntry.objects.filter(kind=JournalEntry.Kind.SETTLEMENT, period_start=period.start)
    return Settlement.objects.filter(
        Q(pk__in=with_lines.values("settlement_id")) | Q(deposit_date__date__range=(period.start, period.end))
    ).order_by("deposit_date", "pk")


def _period_exceptions(period: AccountingPeriod) -> QuerySet[ExceptionItem]:
    """Open completeness exceptions of the period: shipped orders in no settlement (per account, current), orders
    Amazon's report had that could not be ingested (checks of the period's days), and the period's settlements'
    lines without their order."""
    checks = OrderReportCheck.objects.filter(day__range=(period.start, period.end))
    settlements = _period_settlements(period)
    return ExceptionItem.objects.filter(status=ExceptionItem.Status.OPEN).filter(
        Q(kind=ExceptionItem.Kind.ORDER_UNSETTLED)
        | Q(kind=ExceptionItem.Kind.ORDER_MISSING, source_type=ContentType.objects.get_for_model(OrderReportCheck),
            source_id__in=[str(pk) for pk in checks.values_list("pk", flat=True)])
        | Q(kind=ExceptionItem.Kind.SETTLEMENT_UNMATCHED, source_type=ContentType.objects.get_for_model(Settlement),
            source_id__in=[str(pk) for pk in settlements.values_list("pk", flat=True)])
    ).order_by("-last_seen_at")  # fmt: skip


class PeriodReasonForm(ActionForm):
    reason = forms.CharField(required=False, max_length=500, label="Reason (to reopen, or a note when closing)")


@admin.register(AccountingPeriod)
class AccountingPeriodAdmin(PolicyAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Per period: its settlements, journals, accruals and open completeness exceptions; close it; run accruals."""

    list_display = [
        "__str__", "start", "end", "status", "settlements", "journals", "accrued_orders", "open_exceptions",
        "closed_by", "closed_at",
    ]  # fmt: skip
    list_filter = ["status"]
    actions = ["close", "reopen", "run_accruals"]
    action_form = PeriodReasonForm
    fields = (
        "start", "end", "status", "closed_by", "closed_at", "note", "history_table", "settlements_table",
        "journals_table", "accruals_table", "exceptions_table",
    )  # fmt: skip
    readonly_fields = fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("reconciliation.change_accountingperiod"))

    @admin.display(description="Settlements")
    def settlements(self, obj: AccountingPeriod) -> int:
        return _period_settlements(obj).count()

    @admin.display(description="Journal entries dated in it")
    def journals(self, obj: AccountingPeriod) -> int:
        return JournalEntry.objects.filter(date__range=(obj.start, obj.end)).exclude(status="void").count()

    @admin.display(description="Orders accrued")
    def accrued_orders(self, obj: AccountingPeriod) -> int:
        return (
            JournalLine.objects.filter(entry__kind="accrual", entry__period_start=obj.start)
            .exclude(entry__status="void")
            .values("reference")
            .distinct()
            .count()
        )

    @admin.display(description="Open completeness exceptions")
    def open_exceptions(self, obj: AccountingPeriod) -> int:
        return _period_exceptions(obj).count()

    @admin.display(description="Settlements (lines posted in the period, or deposited in it)")
    def settlements_table(self, obj: AccountingPeriod) -> SafeString:
        rows = [
            (admin_link(s, s.settlement_id), s.deposit_date.date() if s.deposit_date else "-", s.total_amount,
             s.currency, s.get_status_display(),
             ", ".join(f"{e.period_start:%Y-%m}: {e.date}" for e in s.journals.order_by("period_start")) or "-")
            for s in _period_settlements(obj)
        ]  # fmt: skip
        return _table(["Settlement", "Deposit", "Total", "Currency", "Status", "Entries (period: dated)"], rows)

    @admin.display(description="Journal entries dated in the period")
    def journals_table(self, obj: AccountingPeriod) -> SafeString:
        entries = (
            JournalEntry.objects.filter(date__range=(obj.start, obj.end))
            .exclude(status="void")
            .select_related("settlement", "seller_account")
            .order_by("date", "pk")
        )
        rows = [
            (admin_link(e, str(e.pk)), e.date, e.get_kind_display(), e.source_reference, f"{e.period_start:%Y-%m}",
             e.total_debit, e.currency, e.get_status_display(), e.note or "")
            for e in entries
        ]  # fmt: skip
        head = ["Entry", "Date", "Kind", "Of", "Amounts of period", "Debits", "Currency", "Status", "Note"]
        return _table(head, rows)

    @admin.display(description="Accruals (shipped, not yet settled) and their reversals")
    def accruals_table(self, obj: AccountingPeriod) -> SafeString | str:
        accruals = (
            JournalEntry.objects.filter(kind="accrual", period_start=obj.start)
            .select_related("seller_account")
            .order_by("seller_account__name", "currency", "-pk")
        )
        rows = []
        for entry in accruals:
            orders = entry.lines.values("reference").distinct().count()
            reversal = JournalEntry.objects.filter(reverses=entry).first()
            rows.append((
                admin_link(entry, str(entry.pk)), entry.seller_account, entry.currency, orders, entry.total_debit,
                entry.get_status_display(), admin_link(reversal, f"{reversal.date}") if reversal else "-",
                format_html('<a href="{}">lines</a>', reverse("admin:reconciliation_journalline_changelist")
                            + f"?entry__id__exact={entry.pk}"),
            ))  # fmt: skip
        if not rows:
            return "None yet: select the period in the list and run “Run the period-end accruals now”."
        return _table(["Accrual", "Account", "Currency", "Orders", "Debits", "Status", "Reversal", ""], rows)

    @admin.display(description="Closed and reopened")
    def history_table(self, obj: AccountingPeriod) -> SafeString | str:
        rows = [(e.created_at, f"{e.from_status} → {e.to_status}", e.actor, e.reason or "-") for e in obj.events.all()]
        return _table(["When", "Change", "By", "Reason"], rows) if rows else "Never closed."

    @admin.display(description="Open completeness exceptions")
    def exceptions_table(self, obj: AccountingPeriod) -> SafeString:
        rows = [(admin_link(e, e.get_kind_display()), e.summary, e.last_seen_at) for e in _period_exceptions(obj)]
        return _table(["Exception", "Summary", "Last seen"], rows)

    @policy_action("periods.close", description="Close the period (no journal may be dated in it any more)")
    def close(self, request: HttpRequest, queryset: QuerySet[AccountingPeriod]) -> None:
        for period in queryset.order_by("start"):
            try:
                period = accounting_period_close(
                    period=period, actor=actor_for(request), note=(request.POST.get("reason") or "").strip()
                )
            except ApplicationError as exc:
                messages.error(request, f"{period}: {exc.message}")
                continue
            messages.success(request, f"{period}: closed by {period.closed_by}")

    @policy_action("periods.reopen", description="Reopen the period (give the reason in the box)")
    def reopen(self, request: HttpRequest, queryset: QuerySet[AccountingPeriod]) -> None:
        reason = (request.POST.get("reason") or "").strip()
        for period in queryset.order_by("start"):
            try:
                period = accounting_period_reopen(period=period, actor=actor_for(request), reason=reason)
            except ApplicationError as exc:
                messages.error(request, f"{period}: {exc.message}")
                continue
            messages.success(
                request,
                f"{period}: open again. Entries dated after it while it was closed stay where they are; "
                "close it again when the correction is posted.",
            )

    @policy_action("accruals.run", description="Run the period-end accruals now (same figures: nothing changes)")
    def run_accruals(self, request: HttpRequest, queryset: QuerySet[AccountingPeriod]) -> None:
        from config.common.errors import ConnectorError
        from orders.models import SellerAccount

        for period in queryset.order_by("start"):
            for account in SellerAccount.objects.filter(is_active=True).order_by("pk"):
                try:
                    run = period_accruals_run(account=account, period=period, actor=actor_for(request))
                except (ApplicationError, ConnectorError) as exc:
                    messages.error(request, f"{account.name} {period}: {getattr(exc, 'message', exc)}")
                    continue
                messages.info(request, str(run))


@admin.register(FinancesTransaction)
class FinancesTransactionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["posted_at", "seller_account", "amazon_order_id", "transaction_type", "transaction_status",
                    "total_amount", "currency", "has_breakdown"]  # fmt: skip
    list_filter = ["transaction_status", "transaction_type", "has_breakdown", "seller_account"]
    search_fields = ["=amazon_order_id", "=transaction_id"]
    list_select_related = ["seller_account"]


@admin.register(OrderReportCheck)
class OrderReportCheckAdmin(PolicyAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["day", "seller_account", "marketplace_id", "state", "amazon_orders", "missing", "ingested",
                    "report_id"]  # fmt: skip
    list_filter = ["state", "seller_account", "marketplace_id"]
    date_hierarchy = "day"
    list_select_related = ["seller_account"]
    actions = ["check_now"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("reconciliation.change_orderreportcheck"))

    @admin.display(description="Missing in Ledgerline")
    def missing(self, obj: OrderReportCheck) -> str:
        return ", ".join(obj.missing_ids[:10]) + (" ..." if len(obj.missing_ids) > 10 else "") or "0"

    @policy_action("completeness.check", description="Compare with Amazon's order report again now (if not done)")
    def check_now(self, request: HttpRequest, queryset: QuerySet[OrderReportCheck]) -> None:
        from config.common.errors import ConnectorError

        for check in queryset.select_related("seller_account"):
            try:
                check = order_report_check(account=check.seller_account, marketplace_id=check.marketplace_id,
                                           day=check.day)  # fmt: skip
            except ConnectorError as exc:
                messages.error(request, f"{check}: {exc}")
                continue
            messages.info(request, f"{check} ({check.get_state_display()}, {check.ingested} ingested)")


# --- bank statements, deposits, three-way view -------------------------------------------------------------------


class BankUploadForm(forms.Form):
    file = forms.FileField(help_text="CAMT.053 (XML), OFX, or a CSV export of the bank account chosen below.")
    bank_account = forms.ModelChoiceField(
        queryset=BankAccount.objects.filter(is_active=True), required=False,
        help_text="Required for CSV (its column mapping reads the file); CAMT.053 and OFX name their account.",
    )  # fmt: skip
    format = forms.ChoiceField(choices=[("", "Detect"), *BankStatementFile.Format.choices], required=False)


class BankAccountForm(forms.ModelForm):
    class Meta:
        model = BankAccount
        fields = ["name", "account_id", "currency", "gl_account", "csv_mapping", "is_active"]

    def clean_csv_mapping(self) -> Any:
        mapping = self.cleaned_data.get("csv_mapping") or {}
        if not isinstance(mapping, dict):
            raise forms.ValidationError('A JSON object, e.g. {"date": "Date", "amount": "Amount"}')
        if mapping and (problems := csv_mapping_problems(mapping)):
            raise forms.ValidationError("; ".join(problems))
        return mapping

    def clean_account_id(self) -> str:
        return str(self.cleaned_data["account_id"]).replace(" ", "")


@admin.register(BankAccount)
class BankAccountAdmin(PolicyAdminMixin, admin.ModelAdmin):
    form = BankAccountForm
    list_display = ["name", "account_id", "currency", "gl_account", "is_active"]
    list_filter = ["currency", "is_active"]
    search_fields = ["name", "account_id"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None and "gl_account" in form.base_fields:
            # The default bank GL account from the migration; Finance picks another per account if needed.
            form.base_fields["gl_account"].initial = GlAccount.objects.filter(code="1200").first()
        return form


@admin.register(BankStatementFile)
class BankStatementFileAdmin(PolicyAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "format",
        "bank_account",
        "state",
        "lines_new",
        "lines_seen",
        "error_location",
        "created_at",
    ]
    list_filter = ["state", "format", "bank_account"]
    search_fields = ["name", "sha256"]
    list_select_related = ["bank_account"]
    actions = ["import_now"]
    fields = ("name", "state", "format", "bank_account", "source", "size", "sha256", "download", "lines_new",
              "lines_seen", "error_location", "error", "imported_at", "created_at")  # fmt: skip
    readonly_fields = fields
    change_list_template = "admin/reconciliation/bankstatementfile/change_list.html"

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("reconciliation.change_bankstatementfile"))

    def get_queryset(self, request: HttpRequest) -> QuerySet[BankStatementFile]:
        return super().get_queryset(request).defer("raw")

    def get_urls(self) -> list[URLPattern]:
        own = [
            path("upload/", self.admin_site.admin_view(policy_view("bank.statements.upload", self.upload_view)),
                 name="reconciliation_bankstatementfile_upload"),
            path("<int:pk>/download/",
                 self.admin_site.admin_view(policy_view("bank.statements.download", self.download_view)),
                 name="reconciliation_bankstatementfile_download"),
        ]  # fmt: skip
        return own + super().get_urls()

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        form = BankUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                file, _ = bank_statement_store(
                    data=upload.read(), name=upload.name, source=f"upload by {request.user}"[:100],
                    bank_account=form.cleaned_data["bank_account"], format=form.cleaned_data["format"] or "",
                )  # fmt: skip
            except ApplicationError as exc:
                messages.error(request, exc.message)
                return HttpResponseRedirect(reverse("admin:reconciliation_bankstatementfile_upload"))
            file = bank_statement_import(file_id=file.pk, actor=actor_for(request)).file
            _bank_file_message(request, file)
            return HttpResponseRedirect(reverse("admin:reconciliation_bankstatementfile_change", args=[file.pk]))
        context = {**self.admin_site.each_context(request), "form": form, "title": "Upload a bank statement"}
        return render(request, "admin/reconciliation/bankstatementfile/upload.html", context)

    def download_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        file = get_object_or_404(BankStatementFile, pk=pk)
        response = HttpResponse(bytes(file.raw), content_type="application/octet-stream")
        response["Content-Disposition"] = f'attachment; filename="{file.name}"'
        return response

    @admin.display(description="Raw file")
    def download(self, obj: BankStatementFile) -> SafeString:
        url = reverse("admin:reconciliation_bankstatementfile_download", args=[obj.pk])
        return format_html('<a href="{}">Download as received</a>', url)

    @policy_action("bank.statements.import", description="Import now (again, if rejected)")
    def import_now(self, request: HttpRequest, queryset: QuerySet[BankStatementFile]) -> None:
        for file in queryset:
            _bank_file_message(request, bank_statement_import(file_id=file.pk, actor=actor_for(request)).file)


def _bank_file_message(request: HttpRequest, file: BankStatementFile) -> None:
    if file.state == BankStatementFile.State.REJECTED:
        where = f"{file.error_location}: " if file.error_location else ""
        messages.error(request, f"{file.name}: rejected, nothing kept. {where}{file.error}")
    else:
        messages.success(request, f"{file.name}: {file.lines_new} new line(s), {file.lines_seen} seen before.")


class BankLineEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = BankLineEvent
    extra = 0
    max_num = 0
    fields = ("created_at", "from_status", "to_status", "actor", "reason")
    readonly_fields = fields


class BankIgnoreForm(ActionForm):
    note = forms.CharField(required=False, label="Reason (for Accept / Ignore)", max_length=300)


@admin.register(BankStatementLine)
class BankStatementLineAdmin(PolicyAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["booking_date", "bank_account", "amount", "currency", "reference", "counterparty", "status",
                    "match_reason"]  # fmt: skip
    list_filter = ["status", "bank_account", "currency"]
    search_fields = ["reference", "description", "bank_reference", "counterparty"]
    date_hierarchy = "booking_date"
    list_select_related = ["bank_account"]
    actions = ["match_again", "accept_difference", "ignore"]
    action_form = BankIgnoreForm
    inlines = [BankLineEventInline]
    fields = ("bank_account", "booking_date", "value_date", "amount", "currency", "reference", "description",
              "counterparty", "bank_reference", "status", "match_reason", "match_link", "file", "location",
              "line_key", "raw")  # fmt: skip
    readonly_fields = fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("reconciliation.change_bankstatementline"))

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(policy_view("reconciliation.three_way", three_way_view))
        return [path("three-way/", view, name="reconciliation_three_way"), *super().get_urls()]

    @admin.display(description="Match and journal")
    def match_link(self, obj: BankStatementLine) -> SafeString | str:
        match = BankMatch.objects.filter(line=obj).first()
        if match is None:
            return "-"
        journal = JournalEntry.objects.filter(bank_match=match).first()
        return format_html("{} · {}", admin_link(match), admin_link(journal) if journal else "no journal")

    @policy_action("bank.lines.match", description="Match again (settlements and batches that arrived since)")
    def match_again(self, request: HttpRequest, queryset: QuerySet[BankStatementLine]) -> None:
        summary = bank_lines_match(line_ids=list(queryset.values_list("pk", flat=True)), actor=actor_for(request))
        messages.info(request, f"Matched again: {summary}")

    @policy_action(
        "bank.lines.accept_difference",
        description="Accept a short deposit: matched, the difference to the differences account (reason below)",
    )
    def accept_difference(self, request: HttpRequest, queryset: QuerySet[BankStatementLine]) -> None:
        note = request.POST.get("note", "")
        for line in queryset:
            try:
                line = bank_line_accept_difference(line=line, actor=actor_for(request), note=note)
            except ApplicationError as exc:
                messages.error(request, f"{line}: {exc.message}")
                continue
            messages.success(request, f"{line}: {line.match_reason}")

    @policy_action("bank.lines.ignore", description="Ignore: not a deposit to match (give the reason below)")
    def ignore(self, request: HttpRequest, queryset: QuerySet[BankStatementLine]) -> None:
        note = request.POST.get("note", "")
        for line in queryset:
            try:
                bank_line_ignore(line=line, actor=actor_for(request), note=note)
            except (ApplicationError, InvalidBankTransition) as exc:
                messages.error(request, f"{line}: {getattr(exc, 'message', exc)}")
                return
        messages.info(request, f"{queryset.count()} line(s) ignored")


class BankMatchItemInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = BankMatchItem
    extra = 0
    max_num = 0
    fields = ("settlement", "opayo_batch_total", "amount", "fees")
    readonly_fields = fields


@admin.register(BankMatch)
class BankMatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["line", "kind", "amount", "currency", "fees", "matched_by", "created_at"]
    list_filter = ["kind", "currency"]
    inlines = [BankMatchItemInline]
    fields = ("line", "kind", "amount", "expected", "fees", "currency", "reason", "matched_by", "created_at")
    readonly_fields = fields


class ThreeWayForm(forms.Form):
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    channel = forms.ChoiceField(choices=[("", "All channels"), ("amazon", "Amazon"), ("ecommerce", "eCommerce")],
                                required=False)  # fmt: skip
    only_breaks = forms.BooleanField(required=False, label="Only orders with a break")
    order = forms.IntegerField(required=False, label="Order id")


def three_way_view(request: HttpRequest) -> HttpResponse:
    """Every order of a period (or one order) followed to the bank: order total ↔ capture ↔ batch ↔ deposit, or
    Amazon order ↔ settlement lines ↔ payout ↔ deposit; each break with its reason."""
    form = ThreeWayForm(request.GET or None)
    today = timezone.localdate()
    period = None
    rows: list[Any] = []
    if form.is_valid() and form.cleaned_data.get("order"):
        try:
            rows = [three_way_order(order_id=form.cleaned_data["order"])]
        except Order.DoesNotExist:
            messages.error(request, f"No order {form.cleaned_data['order']}")
    else:
        data = form.cleaned_data if form.is_valid() else {}
        period = three_way_period(
            date_from=data.get("date_from") or today - timedelta(days=30), date_to=data.get("date_to") or today,
            channel=data.get("channel") or None, only_breaks=bool(data.get("only_breaks")), limit=500,
        )  # fmt: skip
        rows = period.rows
    context = {**admin.site.each_context(request), "title": "Three-way match: order → payment → bank",
               "form": form, "period": period, "rows": rows}  # fmt: skip
    return render(request, "admin/reconciliation/three_way.html", context)
