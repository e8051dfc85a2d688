"""Reconciliation API for the ERP and accounting: settlements with their match results, journal entries, and the
journal lines as CSV (streamed; the same file the admin and `manage.py export_journal` give).

Readable by ERP API clients with `reconciliation:read` and by Finance and Auditor users (config/common/access.py).
"""

from __future__ import annotations

import django_filters
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from reconciliation.models import JournalEntry, Settlement
from reconciliation.services.export import JournalFilter, journal_csv_chunks


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

    class Meta:
        model = JournalEntry
        fields = [
            "id", "kind", "settlement_id", "period_start", "date", "status", "currency", "total_debit", "total_credit",
            "base_currency", "rate", "base_total_debit", "base_total_credit", "line_count", "memo", "note",
            "reverses",
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
    queryset = JournalEntry.objects.select_related("settlement").order_by("-date", "-pk")


class JournalCsvInputSerializer(serializers.Serializer):
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    settlement_id = serializers.CharField(required=False, max_length=40)


class JournalLinesCsvApi(APIView):
    operation = "reconciliation.journal_csv"

    @extend_schema(
        parameters=[JournalCsvInputSerializer],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="Journal lines, CSV")},
        summary="Journal lines as CSV",
        description=(
            "Columns: journal_id, date, settlement_id, line, account_code, account_name, description, reference, "
            "debit, credit, currency, base_debit, base_credit, base_currency, rate. Text cells that start with "
            "= + - @ are prefixed with an apostrophe (no spreadsheet formulas)."
        ),
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        params = JournalCsvInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        filters = JournalFilter(**params.validated_data)
        response = StreamingHttpResponse(journal_csv_chunks(filters=filters), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="journal-lines.csv"'
        return response
