"""The SP-API simulator's Reports API 2021-06-30 (createReport, getReports, getReport, cancelReport,
getReportDocument) and the pre-signed document downloads, against Amazon's model and python-amazon-sp-api.

All tests talk HTTP to a real server (uvicorn on a free port); see conftest.py.
"""

from __future__ import annotations

import gzip
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from sp_api.api import Reports
from sp_api.auth import AccessTokenClient
from sp_api.base import Marketplaces
from sp_api.base.exceptions import (
    SellingApiBadRequestException,
    SellingApiNotFoundException,
    SellingApiRequestThrottledException,
)

from simulators.spapi.control import SimulatorControlError, SpApiSimulatorControl
from tests.simulators.support import DE, SELLER, UK, US, lwa

SELLER_ID = SELLER["selling_partner_id"]
REPORTS = "/reports/2021-06-30/reports"
DOCUMENTS = "/reports/2021-06-30/documents"
SETTLEMENT = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
LISTINGS = "GET_MERCHANT_LISTINGS_ALL_DATA"
QUOTA = {"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource."}
# From reports_2021-06-30.json (definitions Report, CreateReportResponse, GetReportsResponse, ReportDocument).
REPORT_FIELDS = {
    "marketplaceIds", "reportId", "reportType", "dataStartTime", "dataEndTime", "reportScheduleId", "createdTime",
    "processingStatus", "processingStartTime", "processingEndTime", "reportDocumentId",
}  # fmt: skip
REPORT_REQUIRED = {"processingStatus", "reportId", "reportType", "createdTime"}
DOCUMENT_FIELDS = {"reportDocumentId", "url", "compressionAlgorithm"}
SETTLEMENT_TEXT = (
    "settlement-id\tsettlement-start-date\tsettlement-end-date\tdeposit-date\ttotal-amount\tcurrency\n"
    "19482314502\t14.03.2023 07:49:55 UTC\t28.03.2023 07:49:55 UTC\t30.03.2023 07:49:55 UTC\t1141,18\tEUR\n"
    "19482314502\t\t\t\t\t\tOrder\t302-1234567-1234567\tGrüße\n"
)
OTHER = {
    "selling_partner_id": "A2OTHERSELLER1",
    "refresh_token": "Atzr|other-seller",
    "client_id": "amzn1.application-oa2-client.other",
    "client_secret": "amzn1.oa2-cs.v1.other",
}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ago(**delta: float) -> str:
    return iso(datetime.now(UTC) - timedelta(**delta))


def error_of(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    [error] = response.json()["errors"]
    return dict(error)


def create(api: httpx.Client, report_type: str = LISTINGS, **body: Any) -> httpx.Response:
    return api.post(REPORTS, json={"reportType": report_type, "marketplaceIds": [UK], **body})


def created_id(api: httpx.Client, report_type: str = LISTINGS, **body: Any) -> str:
    response = create(api, report_type, **body)
    assert response.status_code == 202, response.text
    return str(response.json()["reportId"])


def report(api: httpx.Client, report_id: str) -> dict[str, Any]:
    response = api.get(f"{REPORTS}/{report_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def document_url(api: httpx.Client, document_id: str, **params: str) -> dict[str, Any]:
    response = api.get(f"{DOCUMENTS}/{document_id}", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def settlements(sim: SpApiSimulatorControl, count: int, *, seller: str = SELLER_ID, **kwargs: Any) -> list[str]:
    """`count` settlement reports created one minute apart, the newest one hour ago; returns their ids oldest first."""
    base = datetime.now(UTC) - timedelta(hours=1, minutes=count)
    return [
        sim.add_settlement_report(seller, f"settlement {n}\n", created_time=base + timedelta(minutes=n), **kwargs)[
            "reportId"
        ]
        for n in range(count)
    ]


def other_seller_api(spapi_url: str, sim: SpApiSimulatorControl) -> httpx.Client:
    sim.add_seller(**OTHER, marketplace_ids=[US])
    token = lwa(spapi_url, **{k: OTHER[k] for k in ("refresh_token", "client_id", "client_secret")}).json()
    return httpx.Client(base_url=spapi_url, headers={"x-amz-access-token": token["access_token"]}, timeout=10)


def library_client(spapi_url: str, marketplace: Marketplaces = Marketplaces.UK) -> Reports:
    class LocalLWA(AccessTokenClient):
        scheme = "http://"
        host = spapi_url.removeprefix("http://")

    reports = Reports(
        marketplace,
        credentials={
            "refresh_token": SELLER["refresh_token"],
            "lwa_app_id": SELLER["client_id"],
            "lwa_client_secret": SELLER["client_secret"],
        },
        auth_token_client_class=LocalLWA,
    )
    reports.endpoint = spapi_url
    return reports


# --- createReport / getReport ----------------------------------------------------------------------------


def test_requested_report_is_done_at_once_with_a_tab_separated_document(
    api: httpx.Client, sim: SpApiSimulatorControl
) -> None:
    response = create(api, dataStartTime=ago(days=2), dataEndTime=ago(days=1), reportOptions={"custom": "true"})
    assert response.status_code == 202 and set(response.json()) == {"reportId"}
    assert response.headers["x-amzn-RateLimit-Limit"] == "0.0167" and response.headers["x-amzn-RequestId"]
    got = api.get(f"{REPORTS}/{response.json()['reportId']}")
    assert got.headers["x-amzn-RateLimit-Limit"] == "2"
    body = got.json()
    assert REPORT_REQUIRED <= set(body) <= REPORT_FIELDS
    assert body["processingStatus"] == "DONE" and body["reportType"] == LISTINGS and body["marketplaceIds"] == [UK]
    for key in ("dataStartTime", "dataEndTime", "createdTime", "processingStartTime", "processingEndTime"):
        assert datetime.fromisoformat(body[key]).tzinfo is not None  # e.g. 2022-05-12T14:49:52+00:00
    assert body["dataStartTime"] < body["dataEndTime"] <= body["createdTime"]

    document = document_url(api, body["reportDocumentId"])
    assert set(document) == {"reportDocumentId", "url"}  # not compressed: no compressionAlgorithm
    download = httpx.get(document["url"])  # no access token: the URL is pre-signed
    assert download.status_code == 200 and download.headers["content-type"] == "text/plain; charset=UTF-8"
    lines = download.text.splitlines()
    assert lines[0].split("\t")[0] == "report-type" and lines[1].split("\t")[:3] == [LISTINGS, body["reportId"], UK]
    [control] = sim.reports()
    assert [h["status"] for h in control["_sim"]["history"]] == ["IN_QUEUE", "IN_PROGRESS", "DONE"]
    assert control["_sim"]["requested"] is True and control["_sim"]["reportOptions"] == {"custom": "true"}


@pytest.mark.parametrize(
    ("body", "message", "details"),
    [
        ({"reportType": LISTINGS}, "One or more required parameters missing", "marketplaceIds;"),
        ({}, "One or more required parameters missing", "reportType;marketplaceIds;"),
        (
            {"reportType": LISTINGS, "marketplaceIds": []},
            "1 validation error detected: Value '[]' at 'marketplaceIds' failed to satisfy constraint: Member must "
            "have length greater than or equal to 1",
            None,
        ),
        (
            {"reportType": LISTINGS, "marketplaceIds": [UK] * 26},
            "at 'marketplaceIds' failed to satisfy constraint: Member must have length less than or equal to 25",
            None,
        ),
        (
            {"reportType": LISTINGS, "marketplaceIds": [UK], "dataStartTime": "yesterday"},
            "Value 'yesterday' at 'dataStartTime' failed to satisfy constraint: Member must be an ISO 8601 date-time",
            None,
        ),
        (
            {"reportType": LISTINGS, "marketplaceIds": [UK], "reportOptions": {"a": 1}},
            "Value '1' at 'reportOptions.a' failed to satisfy constraint: Member must be a string",
            None,
        ),
        ({"reportType": "_GET_MERCHANT_LISTINGS_DATA_", "marketplaceIds": [UK]}, "Invalid Report Type "
         "_GET_MERCHANT_LISTINGS_DATA_", ""),
        ({"reportType": LISTINGS, "marketplaceIds": [US]}, f"Value {US} for parameter marketplaceIds is invalid.", ""),
        (
            {"reportType": LISTINGS, "marketplaceIds": [UK], "dataEndTime": iso(datetime.now(UTC) + timedelta(days=1))},
            "dataEndTime must be prior to or equal to the current date and time.",
            "",
        ),
        (
            {"reportType": LISTINGS, "marketplaceIds": [UK], "dataStartTime": ago(days=1), "dataEndTime": ago(days=2)},
            "dataEndTime must be equal to or after dataStartTime.",
            "",
        ),
    ],
)  # fmt: skip
def test_create_report_validation(
    api: httpx.Client, sim: SpApiSimulatorControl, body: dict[str, Any], message: str, details: str | None
) -> None:
    response = api.post(REPORTS, json=body)
    error = error_of(response)
    assert error["code"] == "InvalidInput" and message in error["message"]
    if details is not None:
        assert error["details"] == details
    assert response.headers["x-amzn-RateLimit-Limit"] == "0.0167"
    assert sim.reports() == []


@pytest.mark.parametrize(
    ("report_type", "number"),
    [
        (SETTLEMENT, "1118"),
        ("GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE", "1117"),
        ("GET_V2_SETTLEMENT_REPORT_DATA_XML", "GET_V2_SETTLEMENT_REPORT_DATA_XML"),
    ],
)
def test_settlement_reports_cannot_be_requested(
    api: httpx.Client, sim: SpApiSimulatorControl, report_type: str, number: str
) -> None:
    error = error_of(create(api, report_type))
    assert error == {
        "code": "InvalidInput",
        "message": f"Request for report type {number} is not allowed at this time",
        "details": "",
    }
    assert sim.reports() == []


def test_a_type_the_simulator_cannot_make_ends_fatal(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    body = report(api, created_id(api, "GET_SOMETHING_NOBODY_MAKES"))
    assert body["processingStatus"] == "FATAL" and "reportDocumentId" not in body
    assert "processingEndTime" in body


def test_the_library_stray_marketplace_keys_are_ignored(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    response = api.post(REPORTS, json={"reportType": LISTINGS, "marketplaceIds": [DE], "MarketplaceIds": [UK]})
    assert response.status_code == 202
    assert report(api, response.json()["reportId"])["marketplaceIds"] == [DE]


def test_processing_moves_with_time(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    assert sim.report_settings(report_processing_seconds=2)["report_processing_seconds"] == 2
    report_id = created_id(api)
    first = report(api, report_id)
    assert first["processingStatus"] == "IN_QUEUE"
    assert not {"processingStartTime", "processingEndTime", "reportDocumentId"} & set(first)
    time.sleep(1.2)  # IN_PROGRESS from 1 s to 2 s
    middle = report(api, report_id)
    assert middle["processingStatus"] == "IN_PROGRESS" and "processingStartTime" in middle
    assert "reportDocumentId" not in middle
    time.sleep(1.0)
    done = report(api, report_id)
    assert done["processingStatus"] == "DONE" and done["reportDocumentId"]
    assert done["processingStartTime"] <= done["processingEndTime"]


def test_cancel_report(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    sim.report_settings(report_processing_seconds=3600)
    report_id = created_id(api)
    cancelled = api.delete(f"{REPORTS}/{report_id}")
    assert cancelled.status_code == 200 and cancelled.content == b""
    assert cancelled.headers["x-amzn-RateLimit-Limit"] == "0.0222"
    body = report(api, report_id)
    assert body["processingStatus"] == "CANCELLED" and "reportDocumentId" not in body
    listed = api.get(REPORTS, params={"reportTypes": LISTINGS, "processingStatuses": "CANCELLED"}).json()
    assert [r["reportId"] for r in listed["reports"]] == [report_id]  # "returned in subsequent calls"

    again = error_of(api.delete(f"{REPORTS}/{report_id}"))
    assert "cannot be cancelled: its processingStatus is CANCELLED" in again["message"]
    sim.report_settings(report_processing_seconds=0)
    done_id = created_id(api)
    assert "processingStatus is DONE" in error_of(api.delete(f"{REPORTS}/{done_id}"))["message"]
    assert error_of(api.delete(f"{REPORTS}/999"), 404)["code"] == "NotFound"


def test_unknown_report_is_404(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    error = error_of(api.get(f"{REPORTS}/123456789"), 404)
    assert error == {
        "code": "NotFound",
        "message": "One or more of the provided ReportRequestIds could not be found.",
        "details": "",
    }


def test_control_advances_a_requested_report(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    sim.report_settings(report_processing_seconds=3600)
    report_id = created_id(api)
    assert sim.advance_report(report_id, "IN_PROGRESS")["processingStatus"] == "IN_PROGRESS"
    with pytest.raises(SimulatorControlError) as refused:
        sim.advance_report(report_id, "IN_QUEUE")
    assert refused.value.status == 400
    done = sim.advance_report(report_id, "DONE", content="sku\tqty\nSKU-1\t3\n")
    assert done["processingStatus"] == "DONE" and done["_sim"]["document"]["size"] == len("sku\tqty\nSKU-1\t3\n")
    document = document_url(api, done["reportDocumentId"])
    assert httpx.get(document["url"]).text == "sku\tqty\nSKU-1\t3\n"
    with pytest.raises(SimulatorControlError):
        sim.advance_report(report_id, "FATAL")  # final
    fatal_id = created_id(api)
    assert sim.advance_report(fatal_id, "FATAL")["processingStatus"] == "FATAL"
    with pytest.raises(SimulatorControlError) as unknown:
        sim.advance_report("nope", "DONE")
    assert unknown.value.status == 404
    assert sim.report(report_id)["reportId"] == report_id


# --- getReports ------------------------------------------------------------------------------------------


def test_get_reports_pages_newest_first_with_a_next_token(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    ids = settlements(sim, 23)
    first = api.get(REPORTS, params={"reportTypes": SETTLEMENT})
    assert first.status_code == 200 and first.headers["x-amzn-RateLimit-Limit"] == "0.0222"
    page = first.json()
    seen = [r["reportId"] for r in page["reports"]]
    assert len(seen) == 10  # pageSize default 10
    while "nextToken" in page:
        page = api.get(REPORTS, params={"nextToken": page["nextToken"]}).json()
        seen += [r["reportId"] for r in page["reports"]]
    assert seen == ids[::-1]
    big = api.get(REPORTS, params={"reportTypes": SETTLEMENT, "pageSize": 100}).json()
    assert len(big["reports"]) == 23 and "nextToken" not in big
    for entry in big["reports"]:
        assert REPORT_REQUIRED <= set(entry) <= REPORT_FIELDS and entry["processingStatus"] == "DONE"


def test_get_reports_filters(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    old = sim.add_settlement_report(SELLER_ID, "old\n", created_time=ago(days=100))["reportId"]
    recent = settlements(sim, 2)
    listing = created_id(api)
    sim.report_settings(report_processing_seconds=3600)
    queued = created_id(api, "GET_AFN_INVENTORY_DATA", marketplaceIds=[DE])

    def listed(**params: Any) -> list[str]:
        response = api.get(REPORTS, params=params)
        assert response.status_code == 200, response.text
        return [r["reportId"] for r in response.json()["reports"]]

    assert listed(reportTypes=SETTLEMENT) == recent[::-1]  # createdSince defaults to 90 days ago
    assert listed(reportTypes=SETTLEMENT, createdSince=ago(days=120)) == [*recent[::-1], old]
    assert listed(reportTypes=SETTLEMENT, createdSince=ago(days=120), createdUntil=ago(days=99)) == [old]
    assert listed(reportTypes=f"{SETTLEMENT},{LISTINGS}")[:1] == [listing]
    assert listed(reportTypes=[LISTINGS, "GET_AFN_INVENTORY_DATA"]) == [queued, listing]  # repeated keys too
    assert listed(
        reportTypes="GET_AFN_INVENTORY_DATA,GET_MERCHANT_LISTINGS_ALL_DATA", processingStatuses="IN_QUEUE"
    ) == [queued]
    # marketplaceIds: at least one must match, except for settlement reports, where it is ignored.
    assert listed(reportTypes=[LISTINGS, "GET_AFN_INVENTORY_DATA"], marketplaceIds=DE) == [queued]
    assert listed(reportTypes=SETTLEMENT, marketplaceIds=US) == recent[::-1]
    assert listed(reportTypes="GET_FBA_REIMBURSEMENTS_DATA") == []


@pytest.mark.parametrize(
    ("params", "message", "details"),
    [
        ({}, "One or more required parameters missing", "reportTypes;"),
        ({"processingStatuses": "DONE"}, "One or more required parameters missing", "reportTypes;"),
        (
            {"reportTypes": SETTLEMENT, "processingStatuses": "BAD_VALUE,IN_PROGRESS"},
            "1 validation error detected: Value '[BAD_VALUE, IN_PROGRESS]' at 'processingStatuses' failed to satisfy "
            "constraint: Member must satisfy constraint: [Member must satisfy enum value set: [CANCELLED, DONE, FATAL, "
            "IN_PROGRESS, IN_QUEUE]]",
            None,
        ),
        ({"reportTypes": SETTLEMENT, "pageSize": "0"}, "Member must have value greater than or equal to 1", None),
        ({"reportTypes": SETTLEMENT, "pageSize": "101"}, "Member must have value less than or equal to 100", None),
        ({"reportTypes": SETTLEMENT, "pageSize": "ten"}, "Member must be an integer", None),
        (
            {"reportTypes": ",".join(f"GET_TYPE_{n}" for n in range(11))},
            "at 'reportTypes' failed to satisfy constraint: Member must have length less than or equal to 10",
            None,
        ),
        (
            {"reportTypes": SETTLEMENT, "marketplaceIds": ",".join([UK] * 11)},
            "at 'marketplaceIds' failed to satisfy constraint: Member must have length less than or equal to 10",
            None,
        ),
        ({"reportTypes": SETTLEMENT, "createdSince": "last week"}, "Member must be an ISO 8601 date-time", None),
        (
            {"reportTypes": SETTLEMENT, "createdSince": ago(days=1), "createdUntil": ago(days=2)},
            "createdUntil must be equal to or after createdSince.",
            "",
        ),
        ({"reportTypes": "_GET_MERCHANT_LISTINGS_DATA_"}, "Invalid Report Type _GET_MERCHANT_LISTINGS_DATA_", ""),
        ({"nextToken": "not-a-token"}, "Invalid NextToken", None),
    ],
)  # fmt: skip
def test_get_reports_validation(
    api: httpx.Client, sim: SpApiSimulatorControl, params: dict[str, str], message: str, details: str | None
) -> None:
    error = error_of(api.get(REPORTS, params=params))
    assert error["code"] == "InvalidInput" and message in error["message"]
    if details is not None:
        assert error["details"] == details


def test_next_token_must_come_alone(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    settlements(sim, 3)
    token = api.get(REPORTS, params={"reportTypes": SETTLEMENT, "pageSize": 1}).json()["nextToken"]
    error = error_of(
        api.get(REPORTS, params={"nextToken": token, "reportTypes": SETTLEMENT, "pageSize": 1, "marketplaceIds": UK})
    )
    # Amazon's answer (amzn/selling-partner-api-models#2414) lists the offending parameters in this order.
    assert error == {
        "code": "InvalidInput",
        "message": "NextToken cannot be specified with other input parameters",
        "details": "pageSize;marketplaceIds;reportTypes;",
    }
    assert api.get(REPORTS, params={"nextToken": token, "MarketplaceId": UK}).status_code == 200  # not a parameter


# --- documents -------------------------------------------------------------------------------------------


def test_settlement_document_is_gzip_compressed(spapi_url: str, api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    seeded = sim.add_settlement_report(SELLER_ID, SETTLEMENT_TEXT, marketplace_ids=[UK, DE])
    body = report(api, seeded["reportId"])
    assert body["reportDocumentId"] == seeded["reportDocumentId"] and body["marketplaceIds"] == [UK, DE]
    assert body["reportType"] == SETTLEMENT and body["processingStatus"] == "DONE"
    response = api.get(f"{DOCUMENTS}/{seeded['reportDocumentId']}")
    assert response.headers["x-amzn-RateLimit-Limit"] == "0.0167"
    document = response.json()
    assert set(document) == DOCUMENT_FIELDS and document["compressionAlgorithm"] == "GZIP"
    assert document["url"].startswith(spapi_url + "/_documents/")
    query = dict(parse_qsl(urlsplit(document["url"]).query))
    assert query["X-Amz-Expires"] == "300" and query["X-Amz-Signature"] and query["X-Amz-Algorithm"]
    download = httpx.get(document["url"])
    assert download.status_code == 200 and "content-encoding" not in download.headers
    assert download.headers["content-length"] == str(len(download.content))
    assert gzip.decompress(download.content).decode("utf-8") == SETTLEMENT_TEXT
    assert download.headers["content-type"] == "text/plain; charset=UTF-8"

    # enableContentEncodingUrlHeader=true: S3 then says Content-Encoding: gzip (httpx decodes it).
    encoded = document_url(api, seeded["reportDocumentId"], enableContentEncodingUrlHeader="true")
    fetched = httpx.get(encoded["url"])
    assert fetched.headers["content-encoding"] == "gzip" and fetched.text == SETTLEMENT_TEXT
    assert sim.calls()["reportDocumentDownload"] == {"200": 2}


def test_document_urls_expire_and_cannot_be_altered(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    seeded = sim.add_settlement_report(SELLER_ID, SETTLEMENT_TEXT, gzip=False)
    url = document_url(api, seeded["reportDocumentId"])["url"]
    assert httpx.get(url).text == SETTLEMENT_TEXT
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    longer = parts._replace(query=urlencode({**query, "X-Amz-Expires": "99999"})).geturl()
    denied = httpx.get(longer)
    assert denied.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in denied.text
    assert denied.headers["content-type"] == "application/xml"

    sim.report_settings(document_url_ttl_seconds=1)
    short = document_url(api, seeded["reportDocumentId"])["url"]
    time.sleep(2.1)
    expired = httpx.get(short)
    assert expired.status_code == 403 and "<Message>Request has expired</Message>" in expired.text
    assert sim.calls()["reportDocumentDownload"] == {"200": 1, "403": 2}


def test_unknown_document_is_invalid_input(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    error = error_of(api.get(f"{DOCUMENTS}/amzn1.spdoc.1.4.nope"))
    assert error == {"code": "InvalidInput", "message": "Invalid reportDocumentId amzn1.spdoc.1.4.nope", "details": ""}


def test_documents_from_files_are_streamed_from_disk(
    api: httpx.Client, sim: SpApiSimulatorControl, tmp_path: Path
) -> None:
    text = "".join(f"19482314502\tOrder\t302-{n:07d}-0000000\tPrincipal\t{n % 97}.99\n" for n in range(60_000))
    plain = tmp_path / "settlement.txt"
    plain.write_text(text)

    as_is = sim.add_settlement_report(SELLER_ID, path=str(plain), gzip=False)
    document = document_url(api, as_is["reportDocumentId"])
    assert "compressionAlgorithm" not in document
    with httpx.stream("GET", document["url"]) as response:
        assert response.headers["content-length"] == str(plain.stat().st_size)
        chunks = list(response.iter_raw())
    assert b"".join(chunks).decode() == text and len(chunks) > 1

    packed = sim.add_settlement_report(SELLER_ID, path=str(plain))  # gzip=True: compressed into a simulator file
    [record] = [r for r in sim.reports() if r["reportId"] == packed["reportId"]]
    copy = record["_sim"]["document"]["path"]
    assert copy != str(plain) and os.path.isfile(copy) and record["_sim"]["document"]["size"] < plain.stat().st_size
    download = httpx.get(document_url(api, packed["reportDocumentId"])["url"])
    assert gzip.decompress(download.content).decode() == text

    already = tmp_path / "settlement.txt.gz"
    already.write_bytes(gzip.compress(text.encode()))
    served = sim.add_settlement_report(SELLER_ID, path=str(already))  # already gzip: served as it is
    [record] = [r for r in sim.reports() if r["reportId"] == served["reportId"]]
    assert record["_sim"]["document"]["path"] == str(already)
    assert httpx.get(document_url(api, served["reportDocumentId"])["url"]).content == already.read_bytes()

    sim.reset()  # the simulator's own copies go; the seller's files stay
    assert not os.path.exists(copy) and plain.exists() and already.exists()


def test_bytes_content_and_charset(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    latin = sim.add_settlement_report(SELLER_ID, SETTLEMENT_TEXT, charset="windows-1252", gzip=False)
    download = httpx.get(document_url(api, latin["reportDocumentId"])["url"])
    assert download.content == SETTLEMENT_TEXT.encode("cp1252")
    assert download.headers["content-type"] == "text/plain; charset=windows-1252"
    packed = gzip.compress(b"already packed\n")
    given = sim.add_settlement_report(SELLER_ID, packed)  # gzip bytes are not packed twice
    assert httpx.get(document_url(api, given["reportDocumentId"])["url"]).content == packed


@pytest.mark.parametrize(
    "kwargs",
    [
        {},  # no content at all
        {"content": "a", "path": "/etc/hostname"},
        {"path": "/nonexistent/settlement.txt"},
        {"content": "a", "created_time": "soon"},
        {"content": "a", "charset": "no-such-charset"},
    ],
)
def test_control_refuses_bad_settlement_seeds(sim: SpApiSimulatorControl, kwargs: dict[str, Any]) -> None:
    with pytest.raises(SimulatorControlError) as refused:
        sim.add_settlement_report(SELLER_ID, **kwargs)
    assert refused.value.status == 400
    with pytest.raises(SimulatorControlError):
        sim.add_settlement_report("UNKNOWN-SELLER", "x")


# --- sellers, usage plans, faults ------------------------------------------------------------------------


def test_sellers_see_only_their_own_reports(spapi_url: str, api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    mine = sim.add_settlement_report(SELLER_ID, "mine\n")
    with other_seller_api(spapi_url, sim) as other:
        theirs = sim.add_settlement_report(OTHER["selling_partner_id"], "theirs\n")
        listed = other.get(REPORTS, params={"reportTypes": SETTLEMENT}).json()["reports"]
        assert [r["reportId"] for r in listed] == [theirs["reportId"]] and listed[0]["marketplaceIds"] == [US]
        assert error_of(other.get(f"{REPORTS}/{mine['reportId']}"), 404)["code"] == "NotFound"
        assert error_of(other.delete(f"{REPORTS}/{mine['reportId']}"), 404)["code"] == "NotFound"
        assert "Invalid reportDocumentId" in error_of(other.get(f"{DOCUMENTS}/{mine['reportDocumentId']}"))["message"]
        requested = other.post(REPORTS, json={"reportType": LISTINGS, "marketplaceIds": [US]}).json()["reportId"]
    assert [r["reportId"] for r in api.get(REPORTS, params={"reportTypes": SETTLEMENT}).json()["reports"]] == [
        mine["reportId"]
    ]
    assert error_of(api.get(f"{REPORTS}/{requested}"), 404)["code"] == "NotFound"
    assert [r["reportId"] for r in sim.reports(seller=SELLER_ID)] == [mine["reportId"]]


def test_usage_plans_are_amazons(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    limits = sim.rate_limits()["limits"]
    assert {
        op: limits[op] for op in ("createReport", "getReports", "getReport", "cancelReport", "getReportDocument")
    } == {
        "createReport": {"rate": 0.0167, "burst": 15},
        "getReports": {"rate": 0.0222, "burst": 10},
        "getReport": {"rate": 2.0, "burst": 15},
        "cancelReport": {"rate": 0.0222, "burst": 10},
        "getReportDocument": {"rate": 0.0167, "burst": 15},
    }
    codes = [api.get(REPORTS, params={"reportTypes": SETTLEMENT}).status_code for _ in range(11)]
    assert codes == [200] * 10 + [429]
    throttled = api.get(REPORTS, params={"reportTypes": SETTLEMENT})
    assert throttled.json() == {"errors": [QUOTA]} and throttled.headers["x-amzn-RateLimit-Limit"] == "0.0222"
    assert [create(api).status_code for _ in range(16)] == [202] * 15 + [429]
    seeded = sim.add_settlement_report(SELLER_ID, "x\n")
    codes = [api.get(f"{DOCUMENTS}/{seeded['reportDocumentId']}").status_code for _ in range(16)]
    assert codes == [200] * 15 + [429]
    calls = sim.calls()
    assert calls["getReports"] == {"200": 10, "429": 2} and calls["createReport"] == {"202": 15, "429": 1}
    assert calls["getReportDocument"] == {"200": 15, "429": 1}


def test_faults_by_operation_name(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    seeded = sim.add_settlement_report(SELLER_ID, "x\n")
    sim.add_fault(operation="getReports", kind="error", status=503, times=1)
    sim.add_fault(operation="getReport", kind="throttle", times=1)
    sim.add_fault(operation="createReport", kind="error", status=500, times=1)
    sim.add_fault(operation="getReportDocument", kind="error", status=500, times=1)
    assert error_of(api.get(REPORTS, params={"reportTypes": SETTLEMENT}), 503)["code"] == "ServiceUnavailable"
    assert api.get(REPORTS, params={"reportTypes": SETTLEMENT}).status_code == 200
    throttled = api.get(f"{REPORTS}/{seeded['reportId']}")
    assert throttled.status_code == 429 and throttled.json() == {"errors": [QUOTA]}
    assert error_of(create(api), 500)["code"] == "InternalFailure"
    assert sim.reports()[-1]["reportId"] == seeded["reportId"]  # the faulted create made nothing
    assert error_of(api.get(f"{DOCUMENTS}/{seeded['reportDocumentId']}"), 500)["code"] == "InternalFailure"
    url = document_url(api, seeded["reportDocumentId"])["url"]

    sim.add_fault(operation="reportDocumentDownload", kind="error", status=500, times=1)
    sim.add_fault(operation="reportDocumentDownload", kind="throttle", times=1)
    failed = httpx.get(url)
    assert failed.status_code == 500 and "<Code>InternalError</Code>" in failed.text
    slow = httpx.get(url)
    assert slow.status_code == 503 and "<Code>SlowDown</Code>" in slow.text
    assert gzip.decompress(httpx.get(url).content) == b"x\n"
    assert sim.calls()["reportDocumentDownload"] == {"200": 1, "500": 1, "503": 1}
    with pytest.raises(SimulatorControlError):
        sim.add_fault(operation="getReportz", kind="error")


def test_reset_clears_reports_and_report_settings(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    defaults = {"report_processing_seconds": 0.0, "document_url_ttl_seconds": 300, "document_base_url": ""}
    assert sim.report_settings() == defaults
    [report_id] = settlements(sim, 1)
    created_id(api)
    assert len(sim.reports()) == 2 and sim.health()["reports"] == 2
    changed = sim.report_settings(document_base_url="https://reports.example/", document_url_ttl_seconds=60)
    assert changed["document_base_url"] == "https://reports.example"
    url = document_url(api, report(api, report_id)["reportDocumentId"])["url"]
    assert url.startswith("https://reports.example/_documents/amzn1.spdoc.") and "X-Amz-Expires=60" in url
    assert sim.http.post("/_sim/reports/settings", json={"nope": 1}).status_code == 400
    sim.reset()
    assert sim.reports() == [] and sim.report_settings() == defaults


# --- python-amazon-sp-api's Reports client ---------------------------------------------------------------


def test_python_amazon_sp_api_reports_end_to_end(spapi_url: str, sim: SpApiSimulatorControl) -> None:
    ids = settlements(sim, 12, gzip=True)
    last = sim.add_settlement_report(SELLER_ID, SETTLEMENT_TEXT)
    reports = library_client(spapi_url)

    page = reports.get_reports(reportTypes=[SETTLEMENT], processingStatuses=["DONE"], pageSize=5)
    assert page.rate_limit == "0.0222" and page.next_token
    seen = [r["reportId"] for r in page.payload["reports"]]
    while page.next_token:
        page = reports.get_reports(nextToken=page.next_token)
        seen += [r["reportId"] for r in page.payload["reports"]]
    assert seen == [last["reportId"], *ids[::-1]]

    got = reports.get_report(last["reportId"])
    assert got.payload["reportDocumentId"] == last["reportDocumentId"] and got.rate_limit == "2"
    document = reports.get_report_document(last["reportDocumentId"], download=True)
    assert document.payload["compressionAlgorithm"] == "GZIP"
    assert document.payload["document"] == SETTLEMENT_TEXT  # gunzipped, decoded with the header's charset
    assert document.character_code.lower() == "utf-8"

    with pytest.raises(SellingApiBadRequestException) as refused:
        reports.create_report(reportType=SETTLEMENT)
    assert refused.value.amzn_code == "InvalidInput" and "1118" in refused.value.message

    sim.report_settings(report_processing_seconds=3600)
    created = reports.create_report(reportType=LISTINGS, dataStartTime=datetime.now(UTC) - timedelta(days=1))
    report_id = created.payload["reportId"]
    assert reports.get_report(report_id).payload["processingStatus"] == "IN_QUEUE"
    assert reports.cancel_report(report_id).payload == {"status_code": 200}
    assert reports.get_report(report_id).payload["processingStatus"] == "CANCELLED"
    with pytest.raises(SellingApiNotFoundException):
        reports.get_report("404404404")

    for _ in range(7):  # getReports' burst of 10: three pages spent above
        reports.get_reports(reportTypes=[SETTLEMENT])
    with pytest.raises(SellingApiRequestThrottledException) as throttled:
        reports.get_reports(reportTypes=[SETTLEMENT])
    assert throttled.value.amzn_code == "QuotaExceeded"
    assert throttled.value.headers["x-amzn-RateLimit-Limit"] == "0.0222"
