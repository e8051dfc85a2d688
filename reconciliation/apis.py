"""Reconciliation API for the ERP and accounting: settlements with their match results, journal entries, and the
journal lines as CSV (streamed; the same file the admin and `manage.py export_journal` give).

Readable by ERP API clients with `reconciliation:read` and by Finance and Auditor users (config/common/access.py).
"""

from __future__ import annotations

from collections.abc import Iterable

import django_filters
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.common.errors import ApplicationError
from orders.models import Order
from reconciliation.models import BankAccount, BankStatementFile, BankStatementLine, JournalEntry, Settlement
from reconciliation.selectors import three_way_order, three_way_period
from reconciliation.services.bank_statements import bank_statement_import, bank_statement_store
from reconciliation.services.export import JournalFilter
from reconciliation.services.export_formats import FORMATS, export_filename, journal_export_chunks


class SettlementOutputSerializer(serializers.ModelSerializer[Settlement]):
    journal_entry_id = serializers.SerializerMethodField()
    journal_entry_ids = serializers.SerializerMethodField()

    class Meta:
        model = Settlement
        fields = [
            "settlement_id", "status", "problem", "start_date", "end_date", "deposit_date", "total_amount",
            "lines_total", "currency", "line_count", "matched_count", "unmatched_count", "unmapped_count",
            "journal_entry_id", "journal_entry_ids",
        ]  # fmt: skip

    def get_journal_entry_ids(self, obj: Settlement) -> list[int]:
        """One per accounting period the settlement's lines fall in, oldest period first."""
        return [entry.pk for entry in sorted(obj.journals.all(), key=lambda e: e.period_start)]

    def get_journal_entry_id(self, obj: Settlement) -> int | None:
        """The first of journal_entry_ids (the only one unless the settlement spans periods)."""
        ids = self.get_journal_entry_ids(obj)
        return ids[0] if ids else None


class SettlementFilter(django_filters.FilterSet):
    deposit_from = django_filters.DateFilter(field_name="deposit_date", lookup_expr="date__gte")
    deposit_to = django_filters.DateFilter(field_name="deposit_date", lookup_expr="date__lte")

    class Meta:
        model = Settlement
        fields = ["status", "currency"]


class SettlementListApi(generics.ListAPIView):
    """Imported settlements, newest deposit first, with how many lines matched and the journal entry's id."""

    operation = "reconciliation.settlements.list"
    serializer_class = SettlementOutputSerializer
    filterset_class = SettlementFilter
    queryset = Settlement.objects.prefetch_related("journals").order_by("-deposit_date", "-pk")


class JournalEntryOutputSerializer(serializers.ModelSerializer[JournalEntry]):
    settlement_id = serializers.CharField(source="settlement.settlement_id", default=None, allow_null=True)
    reference = serializers.CharField(source="source_reference")

    class Meta:
        model = JournalEntry
        fields = [
            "id", "kind", "settlement_id", "reference", "period_start", "date", "status", "currency", "total_debit",
            "total_credit", "base_currency", "rate", "base_total_debit", "base_total_credit", "line_count", "memo",
            "note", "reverses",
        ]  # fmt: skip


class JournalEntryFilter(django_filters.FilterSet):
    date_from = django_filters.DateFilter(field_name="date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="date", lookup_expr="lte")

    class Meta:
        model = JournalEntry
        fields = ["status", "currency", "kind"]


class JournalEntryListApi(generics.ListAPIView):
    """Journal entries (a settlement's per accounting period, accruals and their reversals), each balanced in its
    currency and in the base currency."""

    operation = "reconciliation.journal_entries.list"
    serializer_class = JournalEntryOutputSerializer
    filterset_class = JournalEntryFilter
    queryset = JournalEntry.objects.select_related("settlement", "bank_match__line").order_by("-date", "-pk")


class JournalCsvInputSerializer(serializers.Serializer):
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    settlement_id = serializers.CharField(required=False, max_length=40)
    format = serializers.ChoiceField(choices=FORMATS, required=False, default="generic")


class _QueryFormatIsTheLayout(BaseContentNegotiation):
    """`?format=` names the export layout here, not one of DRF's renderers (DRF's default reading of it)."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, str(renderer.media_type)


class JournalLinesCsvApi(APIView):
    operation = "reconciliation.journal_csv"
    content_negotiation_class = _QueryFormatIsTheLayout

    @extend_schema(
        parameters=[JournalCsvInputSerializer],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="Journal lines, CSV")},
        summary="Journal lines as CSV",
        description=(
            "`format=generic` (default) columns: journal_id, date, settlement_id, line, account_code, account_name, "
            "description, reference, debit, credit, currency, base_debit, base_credit, base_currency, rate. "
            "`format=xero` (manual journal import), `qbo` (QuickBooks Online journal entries), `sage` (Sage 50 audit "
            "trail journals JD/JC), `dynamics-sl` (Dynamics SL Transaction Import for GL journal transactions): each "
            "system's own import layout, in the base currency. Text cells that start with = + - @ are prefixed with "
            "an apostrophe (no spreadsheet formulas); numbers are numbers."
        ),
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        params = JournalCsvInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = dict(params.validated_data)
        fmt = data.pop("format", "generic")
        filters = JournalFilter(**data)
        response = StreamingHttpResponse(journal_export_chunks(filters=filters, format=fmt), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="{export_filename(fmt)}"'
        return response


# --- bank statements, deposits, three-way match ------------------------------------------------------------------


class BankStatementUploadInputSerializer(serializers.Serializer):
    file = serializers.FileField()
    bank_account = serializers.CharField(
        required=False, max_length=64, help_text="The account identifier (IBAN / number); required for CSV files."
    )
    format = serializers.ChoiceField(choices=BankStatementFile.Format.values, required=False, default="")


class BankStatementFileOutputSerializer(serializers.ModelSerializer[BankStatementFile]):
    bank_account = serializers.CharField(source="bank_account.account_id", default=None)

    class Meta:
        model = BankStatementFile
        fields = ["id", "name", "format", "bank_account", "state", "error", "error_location", "lines_new",
                  "lines_seen", "sha256", "created_at", "imported_at"]  # fmt: skip


class BankStatementUploadApi(APIView):
    """A bank statement file (multipart `file`): kept as received, then read (every line or none), each line kept
    once per bank account, new deposits matched at once. 201 when read; 400 with the line and element when the
    file is malformed (the file is kept, no line is)."""

    operation = "reconciliation.bank_statements.upload"

    @extend_schema(
        request={"multipart/form-data": BankStatementUploadInputSerializer},
        responses={201: BankStatementFileOutputSerializer, 400: OpenApiResponse(description="Rejected: why, where")},
    )
    def post(self, request: Request) -> Response:
        params = BankStatementUploadInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        account = None
        if params.validated_data.get("bank_account"):
            account = BankAccount.objects.filter(account_id=params.validated_data["bank_account"]).first()
            if account is None:
                raise ApplicationError(f"no bank account {params.validated_data['bank_account']!r}")
        upload = params.validated_data["file"]
        file, _ = bank_statement_store(
            data=upload.read(), name=upload.name or "statement", source=f"API by {request.user}"[:100],
            bank_account=account, format=params.validated_data.get("format", ""),
        )  # fmt: skip
        file = bank_statement_import(file_id=file.pk, actor=str(request.user)).file
        body = BankStatementFileOutputSerializer(file).data
        if file.state == BankStatementFile.State.REJECTED:
            where = f"{file.error_location}: " if file.error_location else ""
            return Response({"message": f"Rejected, nothing kept: {where}{file.error}", "extra": body}, status=400)
        return Response(body, status=201)


class BankLineOutputSerializer(serializers.ModelSerializer[BankStatementLine]):
    bank_account = serializers.CharField(source="bank_account.account_id")
    matched_to = serializers.SerializerMethodField()
    journal_entry_id = serializers.SerializerMethodField()

    class Meta:
        model = BankStatementLine
        fields = ["id", "bank_account", "booking_date", "value_date", "amount", "currency", "reference",
                  "description", "counterparty", "bank_reference", "status", "match_reason", "matched_to",
                  "journal_entry_id"]  # fmt: skip

    def get_matched_to(self, obj: BankStatementLine) -> list[str]:
        match = getattr(obj, "match", None)
        if match is None:
            return []
        return [
            f"amazon settlement {i.settlement.settlement_id}" if i.settlement else
            f"opayo batch {i.opayo_batch_total.batch.batch_id} {i.opayo_batch_total.currency}"
            for i in match.items.all()
        ]  # fmt: skip

    def get_journal_entry_id(self, obj: BankStatementLine) -> int | None:
        match = getattr(obj, "match", None)
        journal = getattr(match, "journal", None) if match is not None else None
        return journal.pk if journal is not None else None


class BankLineFilter(django_filters.FilterSet):
    booked_from = django_filters.DateFilter(field_name="booking_date", lookup_expr="gte")
    booked_to = django_filters.DateFilter(field_name="booking_date", lookup_expr="lte")
    bank_account = django_filters.CharFilter(field_name="bank_account__account_id")

    class Meta:
        model = BankStatementLine
        fields = ["status", "currency"]


class BankLineListApi(generics.ListAPIView):
    """Bank statement lines, newest first, with their status and why (matched to what, short by how much)."""

    operation = "reconciliation.bank_lines.list"
    serializer_class = BankLineOutputSerializer
    filterset_class = BankLineFilter
    queryset = (
        BankStatementLine.objects.select_related("bank_account", "match__journal")
        .prefetch_related("match__items__settlement", "match__items__opayo_batch_total__batch")
        .order_by("-booking_date", "-pk")
    )


class StageSerializer(serializers.Serializer):
    name = serializers.CharField()
    ok = serializers.BooleanField()
    amount = serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True)
    reference = serializers.CharField()
    detail = serializers.CharField()


class ThreeWayRowSerializer(serializers.Serializer):
    order_id = serializers.IntegerField()
    order_number = serializers.CharField()
    channel = serializers.CharField()
    purchased_at = serializers.DateTimeField()
    currency = serializers.CharField()
    order_total = serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True)
    matched = serializers.BooleanField()
    breaks = serializers.ListField(child=serializers.CharField())
    stages = StageSerializer(many=True)


class ThreeWayPeriodSerializer(serializers.Serializer):
    orders = serializers.IntegerField()
    matched = serializers.IntegerField()
    with_breaks = serializers.IntegerField()
    truncated = serializers.BooleanField()
    rows = ThreeWayRowSerializer(many=True)


class ThreeWayInputSerializer(serializers.Serializer):
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    channel = serializers.ChoiceField(choices=["amazon", "ecommerce"], required=False)
    only_breaks = serializers.BooleanField(required=False, default=False)
    limit = serializers.IntegerField(required=False, default=1000, min_value=1, max_value=5000)


class ThreeWayPeriodApi(APIView):
    """Every order bought in the period followed to the bank, each break with its reason."""

    operation = "reconciliation.three_way"

    @extend_schema(parameters=[ThreeWayInputSerializer], responses=ThreeWayPeriodSerializer)
    def get(self, request: Request) -> Response:
        params = ThreeWayInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        period = three_way_period(
            date_from=data["date_from"], date_to=data["date_to"], channel=data.get("channel"),
            only_breaks=data["only_breaks"], limit=data["limit"],
        )  # fmt: skip
        return Response(ThreeWayPeriodSerializer(period).data)


class ThreeWayOrderApi(APIView):
    """One order followed to the bank."""

    operation = "reconciliation.three_way"

    @extend_schema(responses=ThreeWayRowSerializer)
    def get(self, request: Request, order_id: int) -> Response:
        try:
            row = three_way_order(order_id=order_id)
        except Order.DoesNotExist:
            raise NotFound(f"no order {order_id}") from None
        return Response(ThreeWayRowSerializer(row).data)
