"""Our Reports API client (connectors.amazon.reports) against the SP-API simulator as a real server."""

from __future__ import annotations

import gzip
import hashlib
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from config.common.errors import PermanentConnectorError, RetryableConnectorError, ThrottledError
from connectors.amazon.reports import AmazonReportsClient
from connectors.amazon.reports_types import SETTLEMENT_V2, CreatedReport, Report, parse_report
from orders.models import SellerAccount
from simulators.spapi.control import SpApiSimulatorControl
from tests.factories import DE, UK, US
from tests.spapi_support import spapi_for

SETTLEMENT_TEXT = (
    "settlement-id\tsettlement-start-date\tsettlement-end-date\tdeposit-date\ttotal-amount\tcurrency\n"
    "19482314502\t2026-11-01 07:49:55 UTC\t2026-11-15 07:49:55 UTC\t2026-11-17 07:49:55 UTC\t-12.50\tGBP\n"
    "19482314502\t\t\t\t\t\tOrder\t202-1234567-1234567\t\tFBA Gebühr\t-12.50\n"
)


@pytest.fixture
def amazon(spapi_url: str, settings: Any, account: SellerAccount) -> Iterator[SpApiSimulatorControl]:
    with spapi_for(spapi_url, settings, account, marketplace_ids=[UK, DE]) as sim:
        yield sim


@pytest.fixture
def client(amazon: SpApiSimulatorControl, account: SellerAccount) -> Iterator[AmazonReportsClient]:
    with AmazonReportsClient.for_account(account) as reports:
        yield reports


def seed(sim: SpApiSimulatorControl, account: SellerAccount, count: int, **kwargs: Any) -> list[str]:
    """`count` settlement reports one minute apart (the newest an hour ago); their ids, oldest first."""
    base = datetime.now(UTC) - timedelta(hours=1, minutes=count)
    return [
        sim.add_settlement_report(
            account.selling_partner_id, f"settlement {n}\n", created_time=base + timedelta(minutes=n), **kwargs
        )["reportId"]
        for n in range(count)
    ]


# --- reports -------------------------------------------------------------------------------------------


def test_list_reports_follows_next_token_newest_first(
    client: AmazonReportsClient, amazon: SpApiSimulatorControl, account: SellerAccount
) -> None:
    old = amazon.add_settlement_report(
        account.selling_partner_id, "old\n", created_time=datetime.now(UTC) - timedelta(days=100)
    )
    ids = seed(amazon, account, 25)
    reports = client.list_reports(report_types=[SETTLEMENT_V2], processing_statuses=["DONE"], page_size=10)
    assert [r.report_id for r in reports] == ids[::-1]  # Amazon's default window: the last 90 days
    assert client.calls["getReports"] == 3
    first = reports[0]
    assert isinstance(first, Report) and first.report_type == SETTLEMENT_V2 and first.processing_status == "DONE"
    assert first.is_final and first.report_document_id and first.marketplace_ids == (UK, DE)
    assert first.created_time.tzinfo is not None and first.data_start_time is not None
    assert first.data_end_time is not None and first.data_start_time < first.data_end_time
    assert first.raw["reportId"] == first.report_id

    since = datetime.now(UTC) - timedelta(days=120)
    everything = client.list_reports(report_types=[SETTLEMENT_V2], created_since=since)
    assert [r.report_id for r in everything] == [*ids[::-1], old["reportId"]]
    page = client.get_reports_page(report_types=[SETTLEMENT_V2], page_size=5)
    assert len(page.reports) == 5 and page.next_token and page.rate_limit == pytest.approx(0.0222)
    rest = client.get_reports_page(next_token=page.next_token)
    assert [r.report_id for r in rest.reports] == ids[::-1][5:10]
    with pytest.raises(ValueError, match="report_types"):
        client.get_reports_page()


def test_get_create_and_cancel_reports(client: AmazonReportsClient, amazon: SpApiSimulatorControl) -> None:
    amazon.report_settings(report_processing_seconds=3600)
    created = client.create_report(
        report_type="GET_MERCHANT_LISTINGS_ALL_DATA",
        marketplace_ids=[DE],
        data_start_time=datetime.now(UTC) - timedelta(days=7),
        report_options={"custom": "true"},
    )
    assert isinstance(created, CreatedReport)
    report = client.get_report(created.report_id)
    assert report.processing_status == "IN_QUEUE" and not report.is_final and report.report_document_id is None
    assert report.marketplace_ids == (DE,) and report.processing_start_time is None
    assert amazon.report(created.report_id)["_sim"]["reportOptions"] == {"custom": "true"}
    client.cancel_report(created.report_id)
    assert client.get_report(created.report_id).processing_status == "CANCELLED"
    with pytest.raises(PermanentConnectorError) as again:
        client.cancel_report(created.report_id)
    assert again.value.status_code == 400 and again.value.code == "InvalidInput"

    done = client.create_report(report_type="GET_AFN_INVENTORY_DATA")  # marketplace: the client's (UK)
    amazon.advance_report(done.report_id, "DONE", content="sku\tqty\nSKU-1\t3\n")
    finished = client.get_report(done.report_id)
    assert finished.processing_status == "DONE" and finished.marketplace_ids == (UK,)
    assert finished.processing_end_time is not None and finished.report_document_id


def test_settlement_reports_cannot_be_requested(client: AmazonReportsClient, amazon: SpApiSimulatorControl) -> None:
    with pytest.raises(PermanentConnectorError) as refused:
        client.create_report(report_type=SETTLEMENT_V2)
    error = refused.value
    assert not error.retryable and error.status_code == 400 and error.code == "InvalidInput"
    assert error.message == "Request for report type 1118 is not allowed at this time"
    assert error.operation == "createReport" and error.provider == "amazon"


def test_unknown_report_is_permanent(client: AmazonReportsClient, amazon: SpApiSimulatorControl) -> None:
    with pytest.raises(PermanentConnectorError) as missing:
        client.get_report("404404404")
    assert missing.value.status_code == 404 and missing.value.code == "NotFound"


def test_throttling_carries_the_wait(client: AmazonReportsClient, amazon: SpApiSimulatorControl) -> None:
    amazon.set_rate_limit("getReports", rate=0.0222, burst=1)
    client.list_reports(report_types=[SETTLEMENT_V2])
    with pytest.raises(ThrottledError) as throttled:
        client.list_reports(report_types=[SETTLEMENT_V2])
    assert throttled.value.status_code == 429 and throttled.value.code == "QuotaExceeded"
    assert throttled.value.retry_after == pytest.approx(1 / 0.0222)


def test_server_errors_and_timeouts_are_retryable(
    client: AmazonReportsClient, amazon: SpApiSimulatorControl, account: SellerAccount, settings: Any
) -> None:
    amazon.add_fault(operation="getReport", kind="error", status=503, times=1)
    with pytest.raises(RetryableConnectorError) as unavailable:
        client.get_report("1")
    assert not isinstance(unavailable.value, ThrottledError) and unavailable.value.status_code == 503
    settings.SP_API_TIMEOUT_SECONDS = 0.5
    amazon.add_fault(operation="getReports", kind="timeout", seconds=3, times=1)
    with AmazonReportsClient.for_account(account) as impatient, pytest.raises(RetryableConnectorError) as timed_out:
        impatient.list_reports(report_types=[SETTLEMENT_V2])
    assert "timed out" in timed_out.value.message and timed_out.value.operation == "getReports"


def test_an_expired_access_token_is_renewed(
    client: AmazonReportsClient, amazon: SpApiSimulatorControl, account: SellerAccount
) -> None:
    [report_id] = seed(amazon, account, 1)
    assert client.get_report(report_id).report_id == report_id
    amazon.expire_tokens()
    assert client.get_report(report_id).report_id == report_id
    assert amazon.calls()["lwaToken"] == {"200": 2}


# --- documents -----------------------------------------------------------------------------------------


def test_download_gunzips_into_the_file(
    client: AmazonReportsClient, amazon: SpApiSimulatorControl, account: SellerAccount, tmp_path: Path
) -> None:
    seeded = amazon.add_settlement_report(account.selling_partner_id, SETTLEMENT_TEXT)
    [report] = client.list_reports(report_types=[SETTLEMENT_V2])
    assert report.report_document_id == seeded["reportDocumentId"]
    info = client.get_report_document(seeded["reportDocumentId"])
    assert info.compression_algorithm == "GZIP" and "url" not in repr(info)

    dest = tmp_path / "in" / "settlement.tsv"
    got = client.download_report_document(seeded["reportDocumentId"], dest_path=dest)
    expected = SETTLEMENT_TEXT.encode()
    assert got.path == dest and dest.read_bytes() == expected
    assert got.size == len(expected) and got.sha256 == hashlib.sha256(expected).hexdigest()
    served = amazon.report(report.report_id)["_sim"]["document"]["size"]
    assert got.compression_algorithm == "GZIP" and got.downloaded_bytes == served < got.size + 30
    assert got.charset == "UTF-8" and got.content_type == "text/plain; charset=UTF-8"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["settlement.tsv"]  # no .part left behind
    assert client.calls["reportDocumentDownload"] == 1 and client.calls["getReportDocument"] == 2
    assert amazon.calls()["reportDocumentDownload"] == {"200": 1}


def test_download_of_an_uncompressed_file_document(
    client: AmazonReportsClient, amazon: SpApiSimulatorControl, account: SellerAccount, tmp_path: Path
) -> None:
    source = tmp_path / "source.txt"
    source.write_text(SETTLEMENT_TEXT * 1000, encoding="cp1252")
    seeded = amazon.add_settlement_report(
        account.selling_partner_id, path=str(source), gzip=False, charset="windows-1252"
    )
    got = client.download_report_document(seeded["reportDocumentId"], dest_path=tmp_path / "copy.txt")
    assert got.compression_algorithm is None and got.charset == "windows-1252"
    assert got.size == got.downloaded_bytes == source.stat().st_size
    assert (tmp_path / "copy.txt").read_bytes() == source.read_bytes()


def test_large_document_downloads_in_constant_memory(
    client: AmazonReportsClient, amazon: SpApiSimulatorControl, account: SellerAccount, tmp_path: Path
) -> None:
    row = "19482314502\t\t\t\t\t\tOrder\t202-{n:07d}-1234567\t\tAmazon.co.uk\tItemPrice\tPrincipal\t{n}.99\n"
    source = tmp_path / "big.tsv"
    digest = hashlib.sha256()
    with source.open("w") as out:
        for block in range(64):
            text = "".join(row.format(n=block * 10_000 + n) for n in range(10_000))
            out.write(text)
            digest.update(text.encode())
    size = source.stat().st_size
    assert size > 50 * 2**20
    seeded = amazon.add_settlement_report(account.selling_partner_id, path=str(source))  # GZIP, from disk
    tracemalloc.start()
    try:
        got = client.download_report_document(seeded["reportDocumentId"], dest_path=tmp_path / "downloaded.tsv")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got.size == size and got.sha256 == digest.hexdigest() and got.downloaded_bytes < size / 4
    # Client and simulator both run in this process and are both traced (measured: about 6.4 MiB).
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.1f} MiB for a {size / 2**20:.0f} MiB document"


def test_an_expired_url_is_fetched_again_once(
    amazon: SpApiSimulatorControl, account: SellerAccount, tmp_path: Path, settings: Any
) -> None:
    settings.SP_API_TIMEOUT_SECONDS = 8.0  # the first download is held 3.1 s
    client = AmazonReportsClient.for_account(account)
    seeded = amazon.add_settlement_report(account.selling_partner_id, SETTLEMENT_TEXT)
    # URLs carry their issue time to the second: a 2 s lifetime leaves the fresh URL at least 1 s, and the first
    # (delayed 3.1 s) is expired whatever the rounding.
    amazon.report_settings(document_url_ttl_seconds=2)
    amazon.add_fault(operation="reportDocumentDownload", kind="latency", ms=3100, times=1)  # the URL expires
    got = client.download_report_document(seeded["reportDocumentId"], dest_path=tmp_path / "s.tsv")
    assert got.size == len(SETTLEMENT_TEXT.encode())
    assert amazon.calls()["reportDocumentDownload"] == {"403": 1, "200": 1}
    assert client.calls["getReportDocument"] == 2

    amazon.add_fault(operation="reportDocumentDownload", kind="error", status=403, times=2)
    with pytest.raises(PermanentConnectorError) as refused:
        client.download_report_document(seeded["reportDocumentId"], dest_path=tmp_path / "t.tsv")
    assert refused.value.status_code == 403 and refused.value.operation == "reportDocumentDownload"
    assert not (tmp_path / "t.tsv").exists()
    client.close()


def test_download_failures_are_typed(
    client: AmazonReportsClient, amazon: SpApiSimulatorControl, account: SellerAccount, tmp_path: Path, settings: Any
) -> None:
    seeded = amazon.add_settlement_report(account.selling_partner_id, SETTLEMENT_TEXT)
    document = seeded["reportDocumentId"]
    amazon.add_fault(operation="reportDocumentDownload", kind="error", status=500, times=1)
    with pytest.raises(RetryableConnectorError) as failed:
        client.download_report_document(document, dest_path=tmp_path / "a.tsv")
    assert failed.value.status_code == 500 and failed.value.code == "InternalError"
    amazon.add_fault(operation="reportDocumentDownload", kind="throttle", times=1)
    with pytest.raises(RetryableConnectorError) as slow:
        client.download_report_document(document, dest_path=tmp_path / "a.tsv")
    assert slow.value.status_code == 503 and slow.value.code == "SlowDown"
    amazon.add_fault(operation="getReportDocument", kind="throttle", times=1)
    with pytest.raises(ThrottledError):
        client.download_report_document(document, dest_path=tmp_path / "a.tsv")
    with pytest.raises(PermanentConnectorError) as unknown:
        client.download_report_document("amzn1.spdoc.1.4.nope", dest_path=tmp_path / "a.tsv")
    assert unknown.value.status_code == 400 and "Invalid reportDocumentId" in unknown.value.message
    assert not (tmp_path / "a.tsv").exists()

    truncated = gzip.compress(SETTLEMENT_TEXT.encode())[:-12]  # served as it is (already gzip)
    broken = amazon.add_settlement_report(account.selling_partner_id, truncated)["reportDocumentId"]
    with pytest.raises(RetryableConnectorError, match="gzip"):
        client.download_report_document(broken, dest_path=tmp_path / "b.tsv")
    assert list(tmp_path.glob("b.tsv*")) == []

    gone = tmp_path / "gone.txt"
    gone.write_text(SETTLEMENT_TEXT)
    missing = amazon.add_settlement_report(account.selling_partner_id, path=str(gone), gzip=False)
    gone.unlink()
    with pytest.raises(PermanentConnectorError) as no_key:
        client.download_report_document(missing["reportDocumentId"], dest_path=tmp_path / "c.tsv")
    assert no_key.value.status_code == 404 and no_key.value.code == "NoSuchKey"

    settings.SP_API_TIMEOUT_SECONDS = 0.5
    amazon.add_fault(operation="reportDocumentDownload", kind="timeout", seconds=3, times=1)
    with AmazonReportsClient.for_account(account) as impatient, pytest.raises(RetryableConnectorError) as timed_out:
        impatient.download_report_document(document, dest_path=tmp_path / "d.tsv")
    assert "timed out" in timed_out.value.message and timed_out.value.operation == "reportDocumentDownload"


def test_multi_member_gzip_documents(
    client: AmazonReportsClient, amazon: SpApiSimulatorControl, account: SellerAccount, tmp_path: Path
) -> None:
    first, second = b"header\trow\n", "r\xe9sum\xe9\t2\n".encode()
    seeded = amazon.add_settlement_report(account.selling_partner_id, gzip.compress(first) + gzip.compress(second))
    got = client.download_report_document(seeded["reportDocumentId"], dest_path=tmp_path / "m.tsv")
    assert (tmp_path / "m.tsv").read_bytes() == first + second and got.size == len(first + second)


# --- parsing -------------------------------------------------------------------------------------------


def test_parse_report_accepts_both_time_styles_and_refuses_broken_reports() -> None:
    # The model's sandbox example (…Z with milliseconds); live answers use +00:00.
    sample = {
        "reportId": "ReportId1",
        "reportType": "FEE_DISCOUNTS_REPORT",
        "dataStartTime": "2024-03-11T13:47:20.677Z",
        "dataEndTime": "2024-03-12T13:47:20.677Z",
        "createdTime": "2024-03-10T13:47:20.677Z",
        "processingStatus": "IN_PROGRESS",
        "processingStartTime": "2024-03-10T13:47:20.677Z",
        "processingEndTime": "2022-05-12T14:49:52+00:00",
    }
    report = parse_report(sample)
    assert report.created_time == datetime(2024, 3, 10, 13, 47, 20, 677000, tzinfo=UTC)
    assert report.processing_end_time == datetime(2022, 5, 12, 14, 49, 52, tzinfo=UTC)
    assert report.marketplace_ids == () and report.report_document_id is None
    broken_reports: list[Any] = [
        {**sample, "createdTime": None},
        {**sample, "createdTime": "10/03/2024"},
        {"reportId": "1"},
        [],
    ]
    for broken in broken_reports:
        with pytest.raises(RetryableConnectorError):
            parse_report(broken)


def test_for_account_uses_the_account_region(account: SellerAccount, settings: Any) -> None:
    settings.SP_API_ENDPOINT = ""
    with AmazonReportsClient.for_account(account) as eu:
        assert eu.marketplace_id == UK and eu.credentials.refresh_token == account.refresh_token
    account.region = SellerAccount.Region.NA
    with (
        AmazonReportsClient.for_account(account) as na,
        AmazonReportsClient.for_account(account, marketplace_id=US) as us,
    ):
        assert na.marketplace_id == US and us.marketplace_id == US
