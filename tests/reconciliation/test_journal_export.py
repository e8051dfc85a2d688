"""What finance sees and takes away: admin pages with drill-down, the journal CSV (command, API, admin)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from mappings.models import GlAccount, SettlementAccountMapping
from reconciliation.admin import JournalLineResource
from reconciliation.models import JournalEntry, JournalLine, Settlement, SettlementFile
from reconciliation.services import settlement_file_import, settlement_file_store
from reconciliation.services.export import JournalFilter, journal_csv_chunks
from tests.fulfillment.conftest import erp_api
from tests.reconciliation.files import amount_row, settlement_file, uk_settlement

pytestmark = pytest.mark.django_db
EVIL = ['=HYPERLINK("http://x")', "+SUM(A1)", "-1+1", "@cmd", "=1+2"]


def imported(text: str) -> Settlement:
    file, _ = settlement_file_store(data=io.BytesIO(text.encode()), name="s.txt", source="test")
    file = settlement_file_import(file_id=file.pk)
    assert file.settlement is not None
    return file.settlement


@pytest.fixture
def evil_settlement() -> Settlement:
    """Descriptions that a spreadsheet would run as formulas, in the places that reach the CSV."""
    rows = []
    for n, name in enumerate(EVIL):
        account = GlAccount.objects.create(code=f"9{n}", name=name, kind="expense")
        SettlementAccountMapping.objects.create(
            transaction_type="ServiceFee", amount_type="other-transaction", amount_description=name,
            gl_account=account,
        )  # fmt: skip
        rows.append(amount_row("ServiceFee", "", "other-transaction", name, "-1.00"))
    return imported(settlement_file(rows))


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def test_command_csv_is_balanced_and_formula_safe(evil_settlement: Settlement, tmp_path: Path) -> None:
    out = tmp_path / "journal.csv"
    call_command("export_journal", "--out", str(out), stderr=io.StringIO())
    rows = read_csv(out.read_bytes())
    assert len(rows) == 6  # five fees + the payout
    assert sum(Decimal(r["debit"]) for r in rows) == sum(Decimal(r["credit"]) for r in rows) == Decimal("5.00")
    names = {r["account_name"] for r in rows}
    for evil in EVIL:
        assert "'" + evil in names  # shown as text, never evaluated
    assert all(not r["description"].startswith(("=", "+", "-", "@", "\t")) for r in rows)
    assert rows[0].keys() >= {"journal_id", "date", "account_code", "debit", "credit", "base_debit", "currency"}


def test_api_csv_for_erp_clients_with_filters(evil_settlement: Settlement) -> None:
    imported(uk_settlement("5000099"))
    erp = erp_api()
    response = erp.get("/api/v1/reconciliation/journal-lines.csv", {"settlement_id": "5000099"})
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    rows = read_csv(b"".join(response.streaming_content))  # type: ignore[attr-defined]
    assert {r["settlement_id"] for r in rows} == {"5000099"}
    assert sum(Decimal(r["debit"]) for r in rows) == sum(Decimal(r["credit"]) for r in rows)
    assert erp.get("/api/v1/reconciliation/journal-lines.csv", {"date_from": "yesterday"}).status_code == 400
    assert APIClient().get("/api/v1/reconciliation/journal-lines.csv").status_code in (401, 403)
    settlements = erp.get("/api/v1/reconciliation/settlements/").json()["results"]
    assert {s["settlement_id"] for s in settlements} == {"5000099", "5000001"}
    entries = erp.get("/api/v1/reconciliation/journal-entries/", {"currency": "GBP"}).json()["results"]
    assert all(Decimal(e["total_debit"]) == Decimal(e["total_credit"]) for e in entries)


def test_admin_import_export_resource_is_formula_safe(evil_settlement: Settlement) -> None:
    dataset = JournalLineResource().export(JournalLine.objects.all())
    names = dataset["account_name"]
    assert all(not str(n).startswith(("=", "+", "-", "@", "\t")) for n in names)
    assert '\'=HYPERLINK("http://x")' in names


@pytest.mark.parametrize(
    "url",
    [
        "admin:reconciliation_settlementfile_changelist",
        "admin:reconciliation_settlementfile_upload",
        "admin:reconciliation_settlement_changelist",
        "admin:reconciliation_settlementline_changelist",
        "admin:reconciliation_journalentry_changelist",
        "admin:reconciliation_journalline_changelist",
        "admin:reconciliation_journalline_export",
        "admin:mappings_glaccount_changelist",
        "admin:mappings_settlementaccountmapping_changelist",
        "admin:mappings_currencyrate_changelist",
    ],
)
def test_pages_render(admin_client: Any, url: str) -> None:
    imported(uk_settlement())
    assert admin_client.get(reverse(url)).status_code == 200


def test_settlement_page_drills_down_to_its_lines(admin_client: Any) -> None:
    settlement = imported(uk_settlement())
    page = admin_client.get(reverse("admin:reconciliation_settlement_change", args=[settlement.pk])).content.decode()
    assert "without their order (exception)" in page and "4000 Sales - Amazon" in page and "Subscription Fee" in page
    lines_url = reverse("admin:reconciliation_settlementline_changelist")
    assert f"{lines_url}?settlement__id__exact={settlement.pk}&amp;kind__exact=order&amp;matched=no" in page
    listing = admin_client.get(lines_url, {"settlement__id__exact": settlement.pk, "matched": "no"})
    assert listing.status_code == 200 and "No order 202-1111111-1111111 in Ledgerline" in listing.content.decode()
    assert "Subscription Fee" not in listing.content.decode()
    entry = JournalEntry.objects.get()
    assert admin_client.get(reverse("admin:reconciliation_journalentry_change", args=[entry.pk])).status_code == 200
    response = admin_client.post(
        reverse("admin:reconciliation_journalentry_changelist"),
        {"action": "download_csv", "_selected_action": [entry.pk]},
    )
    assert response.status_code == 200 and len(read_csv(b"".join(response.streaming_content))) == entry.line_count


def test_upload_in_admin_stores_and_imports(admin_client: Any) -> None:
    bad = SimpleUploadedFile("bad.txt", uk_settlement().replace("\t49.99\t", "\t4x\t").encode())
    response = admin_client.post(reverse("admin:reconciliation_settlementfile_upload"), {"file": bad}, follow=True)
    assert "line 3: amount &#x27;4x&#x27; is not an amount" in response.content.decode()
    file = SettlementFile.objects.get()
    assert file.state == "rejected"
    page = admin_client.get(reverse("admin:reconciliation_settlementfile_change", args=[file.pk])).content.decode()
    assert "Download as received" in page
    download = admin_client.get(reverse("admin:reconciliation_settlementfile_download", args=[file.pk]))
    assert b"".join(download.streaming_content) == uk_settlement().replace("\t49.99\t", "\t4x\t").encode()
    good = SimpleUploadedFile("good.txt", uk_settlement().encode())
    admin_client.post(reverse("admin:reconciliation_settlementfile_upload"), {"file": good})
    assert Settlement.objects.get().line_count == 14


def test_database_and_python_writers_give_the_same_file(evil_settlement: Settlement) -> None:
    imported(uk_settlement("5000077"))
    filters = JournalFilter()
    by_copy = b"".join(journal_csv_chunks(filters=filters, use_copy=True))
    by_python = b"".join(journal_csv_chunks(filters=filters, use_copy=False))
    assert by_copy == by_python and by_copy.count(b"\n") == 1 + JournalLine.objects.count()
