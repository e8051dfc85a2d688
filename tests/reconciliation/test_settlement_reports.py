"""Settlement reports listed and imported through the Reports API (simulator as a real server, real client)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from config.common.models import ExceptionItem
from config.common.schedules import STATIC_SCHEDULES
from orders.models import SellerAccount
from reconciliation.models import Settlement, SettlementFile
from reconciliation.services.reports import settlement_file_retry, settlement_reports_fetch
from reconciliation.tasks import settlement_files_retry_task, settlement_reports_fetch_task
from simulators.spapi.control import SpApiSimulatorControl
from simulators.spapi.settlement_files import SettlementSpec, settlement_text
from tests.spapi_support import spapi_for

pytestmark = pytest.mark.django_db
START = datetime(2026, 11, 1, 7, 49, 55, tzinfo=UTC)


def spec(settlement_id: str, **kwargs: Any) -> SettlementSpec:
    values: dict[str, Any] = {
        "settlement_id": settlement_id, "currency": "GBP", "start": START, "end": START + timedelta(days=14),
        "deposit": START + timedelta(days=16), "generated_orders": 40, "seed": int(settlement_id) % 1000,
        "refund_rate": Decimal("0.1"), "chargebacks": 1, "reserve": (Decimal("150.00"), Decimal("-120.00")),
        "service_fees": True, "fba_storage_fee": Decimal("-12.34"),
    }  # fmt: skip
    values.update(kwargs)
    return SettlementSpec(**values)


@pytest.fixture
def amazon(spapi_url: str, settings: Any, account: SellerAccount) -> Iterator[SpApiSimulatorControl]:
    with spapi_for(spapi_url, settings, account, rate_limits=False) as sim:
        yield sim


def test_new_reports_are_imported_once_each(amazon: SpApiSimulatorControl, account: SellerAccount) -> None:
    first, facts = settlement_text(spec("11111"))
    second, _ = settlement_text(spec("22222"))
    amazon.add_settlement_report(account.selling_partner_id, first, created_time=datetime.now(UTC) - timedelta(days=3))
    amazon.add_settlement_report(account.selling_partner_id, second)
    summary = settlement_reports_fetch(account=account)
    assert summary.imported == ["11111", "22222"] and summary.listed == 2
    settlement = Settlement.objects.get(settlement_id="11111")
    assert settlement.total_amount == facts.total == settlement.lines_total
    assert settlement.line_count == facts.amount_rows
    assert settlement.journals.get().total_debit == settlement.journals.get().total_credit
    # Again: nothing downloaded, nothing changed; the same settlement in a new report is a duplicate.
    again = settlement_reports_fetch(account=account)
    assert again.imported == [] and again.skipped == 2
    amazon.add_settlement_report(account.selling_partner_id, first)
    assert settlement_reports_fetch(account=account).duplicates == 1
    assert Settlement.objects.count() == 2
    assert "reconciliation.tasks.settlement_reports_fetch_task" in [func for _, func, _ in STATIC_SCHEDULES]
    assert "1 imported" not in settlement_reports_fetch_task()  # the task runs the same, idempotently


def test_cut_download_is_rejected_then_downloaded_again(amazon: SpApiSimulatorControl, account: SellerAccount) -> None:
    text, _ = settlement_text(spec("33333"))
    report = amazon.add_settlement_report(account.selling_partner_id, text, gzip=False)
    amazon.add_fault(operation="reportDocumentDownload", kind="truncate", times=1)
    summary = settlement_reports_fetch(account=account)
    assert summary.rejected == [report["reportId"]] and not Settlement.objects.exists()
    rejected = SettlementFile.objects.get()
    assert rejected.state == "rejected" and rejected.error_line and rejected.seller_account == account
    assert ExceptionItem.objects.filter(kind="settlement_file", status="open").count() == 1

    # The cut was in transit: the retry downloads the report again, whole this time.
    fresh = settlement_file_retry(file_id=rejected.pk)
    assert fresh.pk != rejected.pk and fresh.state == "imported"
    assert Settlement.objects.get().settlement_id == "33333"
    assert ExceptionItem.objects.filter(kind="settlement_file", status="open").count() == 0
    rejected.refresh_from_db()
    assert rejected.next_attempt_at is None  # not tried again
    assert settlement_files_retry_task().startswith("0 file(s)")


def test_provider_outage_keeps_nothing_and_the_next_run_completes(
    amazon: SpApiSimulatorControl, account: SellerAccount
) -> None:
    text, _ = settlement_text(spec("44444"))
    amazon.add_settlement_report(account.selling_partner_id, text)
    amazon.add_fault(operation="getReports", status=503, times=1)
    assert "Service" in settlement_reports_fetch_task() or not Settlement.objects.exists()
    assert not SettlementFile.objects.exists()
    settlement_reports_fetch(account=account)
    assert Settlement.objects.get().settlement_id == "44444"
