"""Amazon SP-API Reports 2021-06-30 client: list, read, request and cancel reports, and download their documents.

Built on `connectors.amazon.base.SpApiClient`: the same hosts (Amazon or the simulator), LWA token
handling, per-operation call counts and typed errors (RetryableConnectorError / ThrottledError with the wait from
`x-amzn-RateLimit-Limit` / PermanentConnectorError). Report documents are not downloaded through the library (it
reads the whole file into memory and guesses the text encoding): the pre-signed URL is streamed with httpx into a
file, gunzipped on the fly when `compressionAlgorithm` is GZIP, in constant memory. Returns frozen dataclasses and
never touches the database.

Settlement reports (GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2) cannot be requested: list them with
`list_reports(report_types=[SETTLEMENT_V2], processing_statuses=["DONE"], created_since=…)`.
Docs: https://developer-docs.amazon.com/sp-api/docs/reports-api-v2021-06-30-reference
"""

from __future__ import annotations

import hashlib
import os
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sp_api.api import Reports

from config.common.errors import RetryableConnectorError
from config.common.http import transport_error
from connectors.amazon.base import (
    PROVIDER,
    PresignedUrlRefused,
    SpApiClient,
    iso,
    malformed,
    presigned_url_error,
    rate_limit,
)
from connectors.amazon.reports_types import (
    CreatedReport,
    DownloadedDocument,
    Report,
    ReportDocument,
    ReportsPage,
    parse_report,
)

MAX_PAGE_SIZE = 100  # getReports pageSize maximum: fewest calls against its 0.0222/s usage plan
DOWNLOAD = "reportDocumentDownload"  # the pre-signed URL (S3 on Amazon): counted and reported under this name
_READ_CHUNK = 1 << 20
_OUT_CHUNK = 1 << 20  # most bytes one inflate step may produce (a highly compressed chunk must not blow up)
_GZIP_WBITS = 16 + zlib.MAX_WBITS


def _charset(content_type: str | None) -> str | None:
    match = re.search(r"charset=\"?([^\";\s]+)", content_type or "", re.IGNORECASE)
    return match.group(1) if match else None


class _Gunzip:
    """Incremental gunzip with bounded output per step; handles multi-member files."""

    def __init__(self) -> None:
        self.inflater = zlib.decompressobj(_GZIP_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            if self.inflater.eof:  # the next gzip member
                self.inflater = zlib.decompressobj(_GZIP_WBITS)
            out = self.inflater.decompress(data, _OUT_CHUNK)
            if out:
                yield out
            data = self.inflater.unused_data if self.inflater.eof else self.inflater.unconsumed_tail

    def finish(self) -> Iterator[bytes]:
        tail = self.inflater.flush()
        if tail:
            yield tail
        if not self.inflater.eof:
            raise zlib.error("the gzip stream ends before its end marker (truncated download?)")


class AmazonReportsClient(SpApiClient):
    """The Reports API of one seller account. Thread-safe like SpApiClient (one library client per thread).

    Usage plans (Amazon's defaults): createReport 0.0167/s burst 15, getReports 0.0222/s burst 10, getReport 2/s
    burst 15, cancelReport 0.0222/s burst 10, getReportDocument 0.0167/s burst 15. A 429 is a ThrottledError
    whose `retry_after` is one token's refill time.
    """

    # --- reports -------------------------------------------------------------------------------------

    def get_reports_page(
        self,
        *,
        report_types: Iterable[str] = (),
        processing_statuses: Iterable[str] | None = None,
        marketplace_ids: Iterable[str] | None = None,
        created_since: datetime | None = None,
        created_until: datetime | None = None,
        page_size: int = MAX_PAGE_SIZE,
        next_token: str | None = None,
    ) -> ReportsPage:
        """One page of getReports, newest first. With `next_token` every filter is ignored (Amazon refuses them
        together). Without `marketplace_ids` the library sends the client's marketplace (settlement reports ignore
        it); `created_since` defaults to 90 days ago on Amazon's side."""
        params: dict[str, Any]
        if next_token:
            params = {"nextToken": next_token}
        else:
            types = list(report_types)
            if not types:
                raise ValueError("report_types is required (Amazon: either reportTypes or nextToken)")
            params = {"reportTypes": types, "pageSize": page_size}
            if processing_statuses:
                params["processingStatuses"] = list(processing_statuses)
            if marketplace_ids:
                params["marketplaceIds"] = list(marketplace_ids)
            if created_since is not None:
                params["createdSince"] = iso(created_since)
            if created_until is not None:
                params["createdUntil"] = iso(created_until)
        response = self._call("getReports", lambda api: api.get_reports(**params), Reports)
        payload = response.payload
        if not isinstance(payload, dict) or not isinstance(payload.get("reports"), list):
            raise malformed("getReports", "without a reports list")
        return ReportsPage(
            reports=tuple(parse_report(raw, "getReports") for raw in payload["reports"]),
            next_token=response.next_token or None,
            rate_limit=rate_limit(response.headers),
        )

    def iter_reports(
        self,
        *,
        report_types: Sequence[str],
        processing_statuses: Sequence[str] | None = None,
        created_since: datetime | None = None,
        created_until: datetime | None = None,
        marketplace_ids: Sequence[str] | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[Report]:
        """Every matching report, newest first, following nextToken to the end (one getReports call per page)."""
        page = self.get_reports_page(
            report_types=report_types,
            processing_statuses=processing_statuses,
            marketplace_ids=marketplace_ids,
            created_since=created_since,
            created_until=created_until,
            page_size=page_size,
        )
        while True:
            yield from page.reports
            if not page.next_token:
                return
            page = self.get_reports_page(next_token=page.next_token)

    def list_reports(
        self,
        *,
        report_types: Sequence[str],
        processing_statuses: Sequence[str] | None = None,
        created_since: datetime | None = None,
        created_until: datetime | None = None,
        marketplace_ids: Sequence[str] | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> list[Report]:
        """`iter_reports` as a list. A throttled page raises ThrottledError (nothing is returned: use
        `get_reports_page` to keep the token and resume)."""
        return list(
            self.iter_reports(
                report_types=report_types,
                processing_statuses=processing_statuses,
                created_since=created_since,
                created_until=created_until,
                marketplace_ids=marketplace_ids,
                page_size=page_size,
            )
        )

    def get_report(self, report_id: str) -> Report:
        response = self._call("getReport", lambda api: api.get_report(report_id), Reports)
        return parse_report(response.payload, "getReport")

    def create_report(
        self,
        *,
        report_type: str,
        marketplace_ids: Sequence[str] | None = None,
        data_start_time: datetime | None = None,
        data_end_time: datetime | None = None,
        report_options: dict[str, str] | None = None,
    ) -> CreatedReport:
        """createReport (Amazon answers 202 with the reportId; poll get_report until it is final). Settlement
        reports cannot be requested (PermanentConnectorError)."""
        body: dict[str, Any] = {
            "reportType": report_type,
            "marketplaceIds": list(marketplace_ids) if marketplace_ids else [self.marketplace_id],
        }
        if data_start_time is not None:
            body["dataStartTime"] = iso(data_start_time)
        if data_end_time is not None:
            body["dataEndTime"] = iso(data_end_time)
        if report_options:
            body["reportOptions"] = dict(report_options)
        response = self._call("createReport", lambda api: api.create_report(**body), Reports)
        payload = response.payload
        if not isinstance(payload, dict) or not isinstance(payload.get("reportId"), str) or not payload["reportId"]:
            raise malformed("createReport", "without a reportId")
        return CreatedReport(report_id=payload["reportId"])

    def cancel_report(self, report_id: str) -> None:
        """cancelReport: only IN_QUEUE reports can be cancelled (PermanentConnectorError otherwise)."""
        self._call("cancelReport", lambda api: api.cancel_report(report_id), Reports)

    # --- documents -----------------------------------------------------------------------------------

    def get_report_document(self, document_id: str) -> ReportDocument:
        """getReportDocument: the pre-signed URL (valid 5 minutes) and the compression, without downloading."""
        response = self._call("getReportDocument", lambda api: api.get_report_document(document_id), Reports)
        payload = response.payload
        if not isinstance(payload, dict) or not isinstance(payload.get("url"), str) or not payload["url"]:
            raise malformed("getReportDocument", "without a url")
        compression = payload.get("compressionAlgorithm")
        return ReportDocument(
            report_document_id=str(payload.get("reportDocumentId") or document_id),
            url=payload["url"],
            compression_algorithm=compression if isinstance(compression, str) and compression else None,
        )

    def download_report_document(self, document_id: str, *, dest_path: str | os.PathLike[str]) -> DownloadedDocument:
        """getReportDocument, then stream the document into `dest_path`, gunzipped on the fly when it is GZIP
        (constant memory, any size). Written to `<dest_path>.part` and renamed when complete, so `dest_path` is
        never half-written. A URL refused with 403 (expired) is fetched afresh once."""
        dest = Path(dest_path)
        for attempt in (1, 2):
            document = self.get_report_document(document_id)
            try:
                return self._download(document, dest)
            except PresignedUrlRefused as refused:
                if attempt == 2:
                    raise refused.error from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _download(self, document: ReportDocument, dest: Path) -> DownloadedDocument:
        with self._lock:
            self.calls[DOWNLOAD] += 1
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        try:
            with (
                httpx.Client(timeout=self.timeout, follow_redirects=False) as http,
                http.stream("GET", document.url) as response,
            ):
                if response.status_code >= 300:
                    response.read()
                    error = presigned_url_error(response, DOWNLOAD)
                    if response.status_code == 403:
                        raise PresignedUrlRefused(error)
                    raise error
                content_type = response.headers.get("content-type")
                encoded = response.headers.get("content-encoding", "").strip().lower() == "gzip"
                gunzip = _Gunzip() if document.compression_algorithm == "GZIP" or encoded else None
                digest = hashlib.sha256()
                size = received = 0
                with open(part, "wb") as out:
                    for chunk in response.iter_raw(_READ_CHUNK):  # raw: no transparent decoding by httpx
                        received += len(chunk)
                        for data in gunzip.feed(chunk) if gunzip is not None else (chunk,):
                            out.write(data)
                            digest.update(data)
                            size += len(data)
                    for data in gunzip.finish() if gunzip is not None else ():
                        out.write(data)
                        digest.update(data)
                        size += len(data)
            os.replace(part, dest)
        except httpx.TransportError as exc:
            raise transport_error(exc, provider=PROVIDER, operation=DOWNLOAD) from exc
        except zlib.error as exc:
            raise RetryableConnectorError(
                f"the document is not valid gzip: {exc}", provider=PROVIDER, operation=DOWNLOAD
            ) from exc
        finally:
            part.unlink(missing_ok=True)
        return DownloadedDocument(
            report_document_id=document.report_document_id,
            path=dest,
            size=size,
            sha256=digest.hexdigest(),
            compression_algorithm=document.compression_algorithm,
            downloaded_bytes=received,
            content_type=content_type,
            charset=_charset(content_type),
        )
