"""Reports API 2021-06-30 for the SP-API simulator: createReport, getReports, getReport, cancelReport,
getReportDocument, and the download from a document's pre-signed URL.

Paths, parameters, limits, enums and response shapes follow Amazon's model (`reports_2021-06-30.json`, see
`fixtures/` and `shared/fixtures/sp-api/reports-2021-06-30/`). Error wording comes from Amazon's answers quoted in
public issues where one was found (each is cited below); otherwise it is the AWS "N validation error(s) detected"
format the rest of the simulator uses, or a clear sentence listed in README.md as the simulator's choice.

Settlement reports cannot be requested: they are seeded through the control API (`POST /_sim/reports/settlement`)
with the exact bytes to serve, from JSON or from a file on the simulator's disk. Requested reports move
IN_QUEUE → IN_PROGRESS → DONE by time (`report_processing_seconds`) or by the control API. Documents are served
from memory or from a file, in chunks, never copied whole.
"""

from __future__ import annotations

import asyncio
import base64
import calendar
import contextlib
import gzip
import hashlib
import hmac
import os
import re
import secrets
import shutil
import string
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse

from simulators.common import json_response, read_json_object
from simulators.spapi.fulfillment import Problems
from simulators.spapi.state import (
    DOCUMENT_DOWNLOAD,
    InvalidInput,
    ReportDocumentRecord,
    ReportRecord,
    Seller,
    State,
    format_timestamp,
    parse_timestamp,
)

if TYPE_CHECKING:
    from simulators.spapi.app import SpApiSimulator

ApiResult = tuple[int, Any]

SETTLEMENT_V2 = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
# "Settlement reports cannot be requested or scheduled" (developer-docs report-type-values-settlement). What
# createReport answers, by report type: 400 InvalidInput "Request for report type 1118 is not allowed at this time",
# details "" (FLAT_FILE_V2: amzn/selling-partner-api-models#1948, #2010, selling-partner-api-docs#649) and "... 1117
# ..." (FLAT_FILE: jlevers/selling-partner-api#573). The XML type's internal number was not found: its name stands in.
SETTLEMENT_TYPES = {
    SETTLEMENT_V2: "1118",
    "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE": "1117",
    "GET_V2_SETTLEMENT_REPORT_DATA_XML": "GET_V2_SETTLEMENT_REPORT_DATA_XML",
}
PROCESSING_STATUSES = ("CANCELLED", "DONE", "FATAL", "IN_PROGRESS", "IN_QUEUE")  # the model's enum
FINAL = frozenset({"CANCELLED", "DONE", "FATAL"})
MOVES = {"IN_QUEUE": ("IN_PROGRESS", "DONE", "FATAL", "CANCELLED"), "IN_PROGRESS": ("DONE", "FATAL", "CANCELLED")}
# Report types the simulator can "make" (a small tab-separated document). Other well-formed types are accepted by
# createReport and end FATAL; malformed ones are refused like Amazon does ("Invalid Report Type …").
KNOWN_REPORT_TYPES = frozenset({
    "GET_MERCHANT_LISTINGS_ALL_DATA", "GET_MERCHANT_LISTINGS_DATA", "GET_MERCHANT_LISTINGS_INACTIVE_DATA",
    "GET_MERCHANT_LISTINGS_DATA_BACK_COMPAT", "GET_MERCHANT_LISTINGS_DATA_LITE", "GET_MERCHANT_LISTINGS_DATA_LITER",
    "GET_MERCHANT_CANCELLED_LISTINGS_DATA", "GET_FLAT_FILE_OPEN_LISTINGS_DATA",
    "GET_FLAT_FILE_ACTIONABLE_ORDER_DATA_SHIPPING", "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL",
    "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL", "GET_FLAT_FILE_ARCHIVED_ORDERS_DATA_BY_ORDER_DATE",
    "GET_XML_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL", "GET_XML_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL",
    "GET_AMAZON_FULFILLED_SHIPMENTS_DATA_GENERAL", "GET_AMAZON_FULFILLED_SHIPMENTS_DATA_INVOICING",
    "GET_AFN_INVENTORY_DATA", "GET_AFN_INVENTORY_DATA_BY_COUNTRY", "GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA",
    "GET_FBA_MYI_ALL_INVENTORY_DATA", "GET_FBA_INVENTORY_PLANNING_DATA", "GET_RESERVED_INVENTORY_DATA",
    "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA", "GET_FBA_FULFILLMENT_CUSTOMER_SHIPMENT_SALES_DATA",
    "GET_FBA_FULFILLMENT_REMOVAL_ORDER_DETAIL_DATA", "GET_FBA_FULFILLMENT_REMOVAL_SHIPMENT_DETAIL_DATA",
    "GET_FBA_REIMBURSEMENTS_DATA", "GET_FBA_ESTIMATED_FBA_FEES_TXT_DATA", "GET_FBA_STORAGE_FEE_CHARGES_DATA",
    "GET_FBA_FULFILLMENT_CUSTOMER_TAXES_DATA", "GET_LEDGER_SUMMARY_VIEW_DATA", "GET_LEDGER_DETAIL_VIEW_DATA",
    "GET_DATE_RANGE_FINANCIAL_TRANSACTION_DATA", "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE",
    "GET_SALES_AND_TRAFFIC_REPORT", "GET_SELLER_FEEDBACK_DATA", "GET_V2_SELLER_PERFORMANCE_REPORT",
    "GET_STRANDED_INVENTORY_UI_DATA", "GET_EXCESS_INVENTORY_DATA", "GET_FLAT_FILE_VAT_INVOICE_DATA_REPORT",
    "GET_VAT_TRANSACTION_DATA", "GET_REFERRAL_FEE_PREVIEW_REPORT", "FEE_DISCOUNTS_REPORT",
})  # fmt: skip
ALL_ORDERS_BY_UPDATE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
# Its columns, in Amazon's order (one row per order item; tab-separated, UTF-8).
ALL_ORDERS_COLUMNS = (
    "amazon-order-id", "merchant-order-id", "purchase-date", "last-updated-date", "order-status",
    "fulfillment-channel", "sales-channel", "order-channel", "url", "ship-service-level", "product-name", "sku",
    "asin", "item-status", "quantity", "currency", "item-price", "item-tax", "shipping-price", "shipping-tax",
    "gift-wrap-price", "gift-wrap-tax", "item-promotion-discount", "ship-promotion-discount", "ship-city",
    "ship-state", "ship-postal-code", "ship-country", "promotion-ids", "is-business-order", "purchase-order-number",
    "price-designation",
)  # fmt: skip
REPORT_TYPE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")  # MWS-style "_GET_..._" is refused, as on Amazon
MAX_FILTER_TYPES = 10  # getReports reportTypes maxItems
MAX_FILTER_MARKETPLACES = 10  # getReports marketplaceIds maxItems
MAX_CREATE_MARKETPLACES = 25  # CreateReportSpecification.marketplaceIds maxItems
DEFAULT_PAGE_SIZE = 10
RETENTION_SECONDS = 90 * 86400  # createdSince: "The default is 90 days ago."
SETTLEMENT_PERIOD_SECONDS = 14 * 86400  # simulator default for a seeded settlement's dataStartTime
GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1 << 20  # bytes per chunk when serving a document
REQUIRED_MISSING = "One or more required parameters missing"  # selling-partner-api-docs#1681, #2721
STATUS_ENUM = f"Member must satisfy enum value set: [{', '.join(PROCESSING_STATUSES)}]"


def report_time(moment: float) -> str:
    """`2022-05-12T14:49:52+00:00`: how real Reports answers write times (amzn/selling-partner-api-docs#2277;
    the model's sandbox examples use `…Z` with milliseconds; both are ISO 8601)."""
    return format_timestamp(moment)[:-1] + "+00:00"


def multi_param(request: Request, name: str) -> list[str]:
    """A list query parameter: repeated keys and/or comma-separated (python-amazon-sp-api sends `a,b`)."""
    values: list[str] = []
    for raw in request.query_params.getlist(name):
        values.extend(part.strip() for part in raw.split(",") if part.strip())
    return values


async def json_body(request: Request) -> dict[str, Any]:
    try:
        return await read_json_object(request)
    except ValueError as exc:
        raise InvalidInput(f"Invalid Input: the request body must be a JSON object ({exc}).") from None


def _s3_error(status: int, code: str, message: str, request_id: str) -> Response:
    """S3's error shape, which is what a pre-signed report URL answers with."""
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
    )
    return Response(xml.encode(), status_code=status, media_type="application/xml")


def _gzip_file(source: str, target: str) -> int:
    """Compress `source` into `target` (streaming, constant memory); returns the compressed size."""
    with (
        open(source, "rb") as raw,
        open(target, "wb") as out,
        gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=1, mtime=0) as packed,
    ):
        shutil.copyfileobj(raw, packed, CHUNK)
    return os.path.getsize(target)


def _is_gzip_file(path: str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


class _DocumentFile(FileResponse):
    chunk_size = CHUNK  # Starlette reads 64 KiB at a time by default


async def _chunks(data: bytes) -> AsyncIterator[memoryview]:
    """Slices of the stored bytes, without copying them (memoryview)."""
    view = memoryview(data)
    for start in range(0, len(view), CHUNK):
        yield view[start : start + CHUNK]


def _report_size_problem(size: int) -> str | None:
    if size < 1:
        return "Member must have value greater than or equal to 1"
    if size > 100:
        return "Member must have value less than or equal to 100"
    return None


def list_filters(
    request: Request,
    now: float,
    *,
    types_param: str,
    size_problem: Callable[[int], str | None],
    check_types: Callable[[list[str]], None] | None = None,
) -> dict[str, Any]:
    """The filters of getReports / getFeeds, which share their limits (10 types, 10 marketplaces, pages of 10 by
    default, 90 days back by default; "Feeds are retained for a maximum of 90 days"): types (required without
    nextToken), processingStatuses, marketplaceIds, pageSize, createdSince/createdUntil. Problems are answered
    together, in Amazon's AWS-style wording; `size_problem` words a pageSize out of range, `check_types` checks the
    types."""
    q = request.query_params
    types = multi_param(request, types_param)
    if not types:
        raise InvalidInput(REQUIRED_MISSING, f"{types_param};")
    statuses = multi_param(request, "processingStatuses")
    markets = multi_param(request, "marketplaceIds")
    p = Problems()
    if len(types) > MAX_FILTER_TYPES:
        p.add(types, types_param, f"Member must have length less than or equal to {MAX_FILTER_TYPES}")
    if len(markets) > MAX_FILTER_MARKETPLACES:
        p.add(markets, "marketplaceIds", f"Member must have length less than or equal to {MAX_FILTER_MARKETPLACES}")
    if any(status not in PROCESSING_STATUSES for status in statuses):
        p.add(f"[{', '.join(statuses)}]", "processingStatuses", f"Member must satisfy constraint: [{STATUS_ENUM}]")
    size = DEFAULT_PAGE_SIZE
    raw_size = q.get("pageSize")
    if raw_size is not None:
        try:
            size = int(raw_size)
        except ValueError:
            p.add(raw_size, "pageSize", "Member must be an integer")
        else:
            if (problem := size_problem(size)) is not None:
                p.add(raw_size, "pageSize", problem)
    bounds: dict[str, float] = {}
    for name in ("createdSince", "createdUntil"):
        raw = q.get(name)
        if raw is None:
            continue
        moment = parse_timestamp(raw)
        if moment is None:
            p.add(raw, name, "Member must be an ISO 8601 date-time")
        else:
            bounds[name] = moment
    p.check()
    if check_types is not None:
        check_types(types)
    since = bounds.get("createdSince", now - RETENTION_SECONDS)
    until = bounds.get("createdUntil", now)
    if until < since:
        raise InvalidInput("createdUntil must be equal to or after createdSince.", "")
    return {"types": types, "statuses": statuses, "markets": markets, "since": since, "until": until, "size": size}


def next_token_query(
    sim: SpApiSimulator, request: Request, *, kind: str, seller_id: str, types_param: str
) -> tuple[dict[str, Any], tuple[float, str] | None]:
    """The query a nextToken stands for, and the position after which its page starts. "Specifying nextToken with
    any other parameters will cause the request to fail"; Amazon's answer lists them
    (amzn/selling-partner-api-models#2414)."""
    q = request.query_params
    others = [
        name
        for name in ("createdUntil", "createdSince", "pageSize", "marketplaceIds", "processingStatuses", types_param)
        if name in q
    ]
    if others:
        details = "".join(f"{name};" for name in others)
        raise InvalidInput("NextToken cannot be specified with other input parameters", details)
    query = sim.unsign(q["nextToken"])
    if query.get("t") != kind or query.get("seller") != seller_id:
        raise InvalidInput("Invalid NextToken")
    position = query.get("after")
    after = (float(position[0]), str(position[1])) if isinstance(position, list) and len(position) == 2 else None
    return query, after


class Reports:
    """The Reports handlers of one `SpApiSimulator` (which holds the state)."""

    def __init__(self, sim: SpApiSimulator) -> None:
        self.sim = sim
        self.tmpdir: str | None = None  # files the simulator writes (gzip-compressed copies of seeded files)

    @property
    def state(self) -> State:
        return self.sim.state  # read per call: /_sim/reset replaces it

    # --- records and documents ----------------------------------------------------------------------

    def new_report_id(self) -> str:
        """A numeric id shaped like Amazon's (e.g. 744201019124)."""
        number = self.state.next_report_number
        self.state.next_report_number += 1
        return f"{number}019{number % 1000:03d}"

    @staticmethod
    def new_document_id() -> str:
        """Shaped like Amazon's `amzn1.spdoc.1.4.…` ids (opaque; the tail is the simulator's own)."""
        tail = "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(13))
        return f"amzn1.spdoc.1.4.{uuid.uuid4()}.T{tail}"

    def add_document(
        self,
        seller: str,
        *,
        compression: str | None,
        content_type: str,
        data: bytes | None = None,
        path: str | None = None,
        owned: bool = False,
    ) -> ReportDocumentRecord:
        size = len(data) if data is not None else os.path.getsize(str(path))
        document = ReportDocumentRecord(
            document_id=self.new_document_id(), seller=seller, compression=compression, content_type=content_type,
            size=size, data=data, path=path, owned=owned,
        )  # fmt: skip
        self.state.report_documents[document.document_id] = document
        return document

    def temp_path(self) -> str:
        if self.tmpdir is None or not os.path.isdir(self.tmpdir):
            self.tmpdir = tempfile.mkdtemp(prefix="spapi-sim-reports-")
        return os.path.join(self.tmpdir, f"{uuid.uuid4().hex}.gz")

    @staticmethod
    def discard_files(state: State) -> None:
        """Delete the files the simulator wrote for `state`'s documents (on reset)."""
        for document in state.report_documents.values():
            if document.owned and document.path:
                with contextlib.suppress(OSError):
                    os.remove(document.path)

    def close(self) -> None:
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    @staticmethod
    def generated_body(record: ReportRecord) -> bytes:
        """A requested report's document: a small tab-separated file (the simulator's layout, not Amazon's)."""
        lines = ["report-type\treport-id\tmarketplace-id\tdata-start-time\tdata-end-time"]
        for marketplace in record.marketplace_ids:
            lines.append(
                f"{record.report_type}\t{record.report_id}\t{marketplace}\t{report_time(record.data_start)}\t"
                f"{report_time(record.data_end)}"
            )
        return ("\n".join(lines) + "\n").encode()

    def orders_report_body(self, record: ReportRecord) -> bytes:
        """GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL: the seller's orders last updated within the report's
        data window in its marketplaces, a row per item, from the same store the Orders APIs serve. Orders hidden
        from searches (`/_sim/orders/{id}/hide`) are listed: the report is how such a miss is found."""
        rows = ["\t".join(ALL_ORDERS_COLUMNS)]
        markets = set(record.marketplace_ids)
        chosen = [
            o for o in self.state.seller_orders(record.seller)
            if o.marketplace_id in markets and record.data_start <= o.updated <= record.data_end
        ]  # fmt: skip

        def money(value: Any) -> str:
            return str(value.get("Amount", "")) if isinstance(value, dict) else ""

        def clean(value: Any) -> str:
            return str(value).replace("\t", " ").replace("\n", " ") if value is not None else ""

        for stored in sorted(chosen, key=lambda o: (o.updated, o.key)):
            order, address = stored.source, stored.address or {}
            currency = str((order.get("OrderTotal") or {}).get("CurrencyCode", ""))
            for item in stored.source_items or [{}]:
                item = item if isinstance(item, dict) else {}
                cells = {
                    "amazon-order-id": stored.key, "merchant-order-id": order.get("SellerOrderId", ""),
                    "purchase-date": report_time(stored.created), "last-updated-date": report_time(stored.updated),
                    "order-status": order.get("OrderStatus", ""),
                    "fulfillment-channel": "Amazon" if order.get("FulfillmentChannel") == "AFN" else "Merchant",
                    "sales-channel": order.get("SalesChannel", ""),
                    "ship-service-level": order.get("ShipmentServiceLevelCategory", ""),
                    "product-name": item.get("Title", ""), "sku": item.get("SellerSKU", ""),
                    "asin": item.get("ASIN", ""), "item-status": order.get("OrderStatus", ""),
                    "quantity": item.get("QuantityOrdered", ""),
                    "currency": currency or str((item.get("ItemPrice") or {}).get("CurrencyCode", "")),
                    "item-price": money(item.get("ItemPrice")), "item-tax": money(item.get("ItemTax")),
                    "shipping-price": money(item.get("ShippingPrice")), "shipping-tax": money(item.get("ShippingTax")),
                    "item-promotion-discount": money(item.get("PromotionDiscount")),
                    "ship-promotion-discount": money(item.get("ShippingDiscount")),
                    "ship-city": address.get("City", ""), "ship-state": address.get("StateOrRegion", ""),
                    "ship-postal-code": address.get("PostalCode", ""), "ship-country": address.get("CountryCode", ""),
                    "is-business-order": "true" if order.get("IsBusinessOrder") else "false",
                }  # fmt: skip
                rows.append("\t".join(clean(cells.get(column, "")) for column in ALL_ORDERS_COLUMNS))
        return ("\n".join(rows) + "\n").encode()

    def move(self, record: ReportRecord, to: str, at: float, *, content: bytes | None = None) -> None:
        if to == "IN_PROGRESS":
            record.started = at
        elif to in FINAL:
            if record.started is None and to != "CANCELLED":
                record.started = at
            record.ended = at
            if to == "DONE" and record.document_id is None:
                if content is not None:
                    body = content
                elif record.report_type == ALL_ORDERS_BY_UPDATE:
                    body = self.orders_report_body(record)
                else:
                    body = self.generated_body(record)
                document = self.add_document(
                    record.seller, compression=None, content_type="text/plain; charset=UTF-8", data=body
                )
                record.document_id = document.document_id
        record.status = to
        record.history.append({"status": to, "at": report_time(at)})
        if to in FINAL and self.state.subscriptions:
            self.sim.notifications.report_finished(record, at)

    def refresh(self, record: ReportRecord, now: float) -> None:
        """Let time move a requested report along (IN_QUEUE → IN_PROGRESS → DONE, or FATAL)."""
        if record.status == "IN_QUEUE" and record.in_progress_at is not None and now >= record.in_progress_at:
            self.move(record, "IN_PROGRESS", record.in_progress_at)
        if record.status == "IN_PROGRESS" and record.done_at is not None and now >= record.done_at:
            self.move(record, record.outcome, max(record.done_at, record.started or record.done_at))

    @staticmethod
    def report_json(record: ReportRecord) -> dict[str, Any]:
        """A `Report`, fields in the model's order (optional ones only when they have a value)."""
        report: dict[str, Any] = {
            "marketplaceIds": list(record.marketplace_ids),
            "reportId": record.report_id,
            "reportType": record.report_type,
            "dataStartTime": report_time(record.data_start),
            "dataEndTime": report_time(record.data_end),
            "createdTime": report_time(record.created),
            "processingStatus": record.status,
        }
        if record.started is not None:
            report["processingStartTime"] = report_time(record.started)
        if record.ended is not None:
            report["processingEndTime"] = report_time(record.ended)
        if record.document_id is not None:
            report["reportDocumentId"] = record.document_id
        return report

    def own_report(self, request: Request, seller: Seller) -> ReportRecord | None:
        record = self.state.reports.get(request.path_params["report_id"])
        if record is None or record.seller != seller.selling_partner_id:
            return None
        self.refresh(record, time.time())
        return record

    @staticmethod
    def not_found(report_id: str) -> ApiResult:
        # amzn/selling-partner-api-models#2419, #1161: "404 NotFound One or more of the provided ReportRequestIds
        # could not be found."
        message = "One or more of the provided ReportRequestIds could not be found."
        return 404, {"errors": [{"code": "NotFound", "message": message, "details": ""}]}

    # --- createReport ----------------------------------------------------------------------------------

    async def create(self, request: Request, seller: Seller) -> ApiResult:
        body = await json_body(request)
        missing = [key for key in ("reportType", "marketplaceIds") if body.get(key) is None]
        if missing:  # Amazon's own wording (selling-partner-api-docs#2721: details "marketplaceIds;")
            raise InvalidInput(REQUIRED_MISSING, "".join(f"{key};" for key in missing))
        p = Problems()
        report_type = p.string(body, "reportType", "reportType", required=True)
        markets = p.array(body, "marketplaceIds", "marketplaceIds", required=True)
        if markets is not None:
            if len(markets) > MAX_CREATE_MARKETPLACES:
                limit = f"Member must have length less than or equal to {MAX_CREATE_MARKETPLACES}"
                p.add(markets, "marketplaceIds", limit)
            for n, marketplace in enumerate(markets, start=1):
                if not isinstance(marketplace, str) or not marketplace.strip():
                    p.add(marketplace, f"marketplaceIds.{n}.member", "Member must be a non-empty string")
        start = p.timestamp(body, "dataStartTime", "dataStartTime")
        end = p.timestamp(body, "dataEndTime", "dataEndTime")
        options = p.obj(body, "reportOptions", "reportOptions")
        for key, value in (options or {}).items():
            if not isinstance(value, str):
                p.add(value, f"reportOptions.{key}", "Member must be a string")
        p.check()
        assert report_type is not None and markets is not None
        if report_type in SETTLEMENT_TYPES:
            number = SETTLEMENT_TYPES[report_type]
            raise InvalidInput(f"Request for report type {number} is not allowed at this time", "")
        if not REPORT_TYPE.fullmatch(report_type):
            raise InvalidInput(f"Invalid Report Type {report_type}", "")
        for marketplace in markets:
            if seller.marketplace_ids and marketplace not in seller.marketplace_ids:
                raise InvalidInput(f"Value {marketplace} for parameter marketplaceIds is invalid.", "")
        now = time.time()
        for value, name in ((start, "dataStartTime"), (end, "dataEndTime")):
            if value is not None and value > now + 1:
                raise InvalidInput(f"{name} must be prior to or equal to the current date and time.", "")
        data_start = now if start is None else start
        data_end = now if end is None else end
        if data_end < data_start:
            raise InvalidInput("dataEndTime must be equal to or after dataStartTime.", "")
        delay = self.state.report_processing_seconds
        record = ReportRecord(
            report_id=self.new_report_id(),
            seller=seller.selling_partner_id,
            report_type=report_type,
            marketplace_ids=[str(m) for m in markets],
            created=now,
            data_start=data_start,
            data_end=data_end,
            status="IN_QUEUE",
            requested=True,
            options=dict(options or {}),
            in_progress_at=now + delay / 2,
            done_at=now + delay,
            outcome="DONE" if report_type in KNOWN_REPORT_TYPES else "FATAL",
            history=[{"status": "IN_QUEUE", "at": report_time(now)}],
        )
        self.state.reports[record.report_id] = record
        self.refresh(record, now)  # report_processing_seconds 0: DONE at once
        if record.status not in FINAL and self.sim.notifications.subscribers(
            record.seller, "REPORT_PROCESSING_FINISHED"
        ):
            # Amazon finishes a report whether or not anyone asks: the notification must not wait for a getReport.
            self.sim.wake_at(delay, self.state, lambda: self.refresh(record, time.time()))
        return 202, {"reportId": record.report_id}

    # --- getReports ------------------------------------------------------------------------------------

    def reports_query(self, request: Request, now: float) -> dict[str, Any]:
        def check_types(types: list[str]) -> None:
            for report_type in types:
                if not REPORT_TYPE.fullmatch(report_type):  # selling-partner-api-docs#1502: "Invalid Report Type …"
                    raise InvalidInput(f"Invalid Report Type {report_type}", "")

        # "Either reportTypes or nextToken is required." (selling-partner-api-docs#1681)
        return list_filters(request, now, types_param="reportTypes", size_problem=_report_size_problem,
                            check_types=check_types)  # fmt: skip

    async def list_reports(self, request: Request, seller: Seller) -> ApiResult:
        q = request.query_params
        now = time.time()
        seller_id = seller.selling_partner_id
        after: tuple[float, str] | None = None
        if q.get("nextToken"):
            query, after = next_token_query(self.sim, request, kind="reports", seller_id=seller_id,
                                            types_param="reportTypes")  # fmt: skip
        else:
            query = self.reports_query(request, now) | {"t": "reports", "seller": seller_id}
        types, statuses, markets = set(query["types"]), set(query["statuses"]), set(query["markets"])
        since, until, size = float(query["since"]), float(query["until"]), int(query["size"])
        chosen: list[ReportRecord] = []
        for record in self.state.reports.values():
            if record.seller != seller_id or record.report_type not in types:
                continue
            if not since <= record.created <= until:
                continue
            if after is not None and (record.created, record.report_id) >= after:
                continue
            self.refresh(record, now)
            if statuses and record.status not in statuses:
                continue
            # marketplaceIds is ignored for settlement reports (selling-partner-api-docs#694, #778, #969).
            if markets and record.report_type not in SETTLEMENT_TYPES and not markets & set(record.marketplace_ids):
                continue
            chosen.append(record)
        chosen.sort(key=lambda r: (r.created, r.report_id), reverse=True)  # newest first
        page = chosen[:size]
        answer: dict[str, Any] = {}
        if len(chosen) > size:
            last = page[-1]
            answer["nextToken"] = self.sim.sign(query | {"after": [last.created, last.report_id]})
        answer["reports"] = [self.report_json(record) for record in page]
        return 200, answer

    # --- getReport, cancelReport -----------------------------------------------------------------------

    async def get(self, request: Request, seller: Seller) -> ApiResult:
        record = self.own_report(request, seller)
        if record is None:
            return self.not_found(request.path_params["report_id"])
        return 200, self.report_json(record)

    async def cancel(self, request: Request, seller: Seller) -> ApiResult:
        record = self.own_report(request, seller)
        if record is None:
            return self.not_found(request.path_params["report_id"])
        if record.status != "IN_QUEUE":  # "Only reports with processingStatus=IN_QUEUE can be cancelled."
            raise InvalidInput(
                f"Report {record.report_id} cannot be cancelled: its processingStatus is {record.status}. Only "
                "reports with processingStatus IN_QUEUE can be cancelled.",
                "",
            )
        self.move(record, "CANCELLED", time.time())
        return 200, None  # the model's 200 has no body

    # --- getReportDocument and the pre-signed download ------------------------------------------------

    def signature(self, document_id: str, stamp: str, expires: str, encoding: str) -> str:
        message = f"{document_id}\n{stamp}\n{expires}\n{encoding}".encode()
        return hmac.new(self.state.token_secret, message, hashlib.sha256).hexdigest()

    def base_url(self, request: Request) -> str:
        if self.state.document_base_url:
            return self.state.document_base_url.rstrip("/")
        # Not the Host header: python-amazon-sp-api sends `Host: 27.0.0.1:PORT` (endpoint[8:]).
        server = request.scope.get("server")
        if server and server[0]:
            host = f"[{server[0]}]" if ":" in str(server[0]) else str(server[0])
            return f"{request.url.scheme}://{host}:{server[1]}"
        return str(request.base_url).rstrip("/")

    async def document(self, request: Request, seller: Seller) -> ApiResult:
        document_id = request.path_params["document_id"]
        document = self.state.report_documents.get(document_id)
        if document is None or document.seller != seller.selling_partner_id:
            # jlevers/selling-partner-api#487: 400 InvalidInput "Invalid reportDocumentId 50311019412", details "".
            raise InvalidInput(f"Invalid reportDocumentId {document_id}", "")
        wants_encoding = request.query_params.get("enableContentEncodingUrlHeader", "").lower() == "true"
        encoding = "gzip" if wants_encoding and document.compression == "GZIP" else ""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        expires = str(self.state.document_url_ttl_seconds)
        params = {
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Date": stamp,
            "X-Amz-SignedHeaders": "host",
            "X-Amz-Expires": expires,
        }
        if encoding:
            params["response-content-encoding"] = encoding
        params["X-Amz-Signature"] = self.signature(document_id, stamp, expires, encoding)
        url = f"{self.base_url(request)}/_documents/{quote(document_id, safe='')}?{urlencode(params)}"
        answer: dict[str, Any] = {"reportDocumentId": document_id, "url": url}
        if document.compression:
            answer["compressionAlgorithm"] = document.compression
        return 200, answer

    async def download(self, request: Request) -> Response:
        """GET /_documents/{id}?X-Amz-…: no token needed (the URL is the credential), expires, S3-style errors."""
        state = self.state
        request_id = self.sim.request_id()

        def fail(status: int, code: str, message: str) -> Response:
            state.calls[(DOCUMENT_DOWNLOAD, status)] += 1
            return _s3_error(status, code, message, request_id)

        cut = False
        if state.faults.rules:
            rule = state.faults.match(DOCUMENT_DOWNLOAD)
            # truncate: half the bytes, then the connection ends cleanly (no Content-Length to betray it).
            cut = rule is not None and rule.kind == "truncate"
            if rule is not None:
                if rule.kind in ("latency", "timeout"):
                    await asyncio.sleep((rule.ms / 1000) if rule.kind == "latency" else rule.seconds)
                if rule.kind == "throttle":
                    return fail(503, "SlowDown", "Please reduce your request rate.")
                if rule.kind == "timeout":
                    return fail(503, "ServiceUnavailable", "The request timed out (injected by the simulator).")
                if rule.kind == "error":
                    code = "InternalError" if rule.status >= 500 else "InvalidRequest"
                    return fail(rule.status, code, "Injected by the simulator.")
        document_id = request.path_params["document_id"]
        q = request.query_params
        stamp, expires = q.get("X-Amz-Date", ""), q.get("X-Amz-Expires", "")
        encoding = q.get("response-content-encoding", "")
        given = q.get("X-Amz-Signature", "")
        expected = self.signature(document_id, stamp, expires, encoding)
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return fail(
                403, "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )  # fmt: skip
        try:
            issued = calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ"))
            lifetime = int(expires)
        except ValueError:
            return fail(403, "AccessDenied", "Invalid date or expiry.")
        if time.time() > issued + lifetime:
            return fail(403, "AccessDenied", "Request has expired")
        document = state.report_documents.get(document_id)
        if document is None or (document.path is not None and not os.path.isfile(document.path)):
            return fail(404, "NoSuchKey", "The specified key does not exist.")
        state.calls[(DOCUMENT_DOWNLOAD, 200)] += 1
        headers = {"x-amz-request-id": request_id}
        if encoding:
            headers["content-encoding"] = encoding
        if document.data is not None and cut:
            half = document.data[: len(document.data) // 2]
            return StreamingResponse(_chunks(half), headers=headers, media_type=document.content_type)
        if document.data is not None:
            headers["content-length"] = str(document.size)
            return StreamingResponse(_chunks(document.data), headers=headers, media_type=document.content_type)
        return _DocumentFile(str(document.path), headers=headers, media_type=document.content_type)

    # --- control API ------------------------------------------------------------------------------------

    def control_json(self, record: ReportRecord) -> dict[str, Any]:
        document = self.state.report_documents.get(record.document_id or "")
        return self.report_json(record) | {
            "_sim": {
                "seller": record.seller,
                "requested": record.requested,
                "reportOptions": record.options,
                "history": record.history,
                "document": None
                if document is None
                else {
                    "reportDocumentId": document.document_id,
                    "compressionAlgorithm": document.compression,
                    "contentType": document.content_type,
                    "size": document.size,
                    "path": document.path,
                },
            }
        }

    async def control_settings(self, request: Request) -> Any:
        state = self.state
        if request.method == "POST":
            data = await read_json_object(request)
            unknown = set(data) - {"report_processing_seconds", "document_url_ttl_seconds", "document_base_url"}
            if unknown:
                raise ValueError(f"unknown report settings {sorted(unknown)}")
            if "report_processing_seconds" in data:
                state.report_processing_seconds = max(0.0, float(data["report_processing_seconds"] or 0))
            if "document_url_ttl_seconds" in data:
                state.document_url_ttl_seconds = max(1, int(data["document_url_ttl_seconds"]))
            if "document_base_url" in data:
                state.document_base_url = str(data["document_base_url"] or "").rstrip("/")
        return {
            "report_processing_seconds": state.report_processing_seconds,
            "document_url_ttl_seconds": state.document_url_ttl_seconds,
            "document_base_url": state.document_base_url,
        }

    async def control_reports(self, request: Request) -> Any:
        seller = request.query_params.get("seller")
        now = time.time()
        records = sorted(self.state.reports.values(), key=lambda r: (r.created, r.report_id))
        for record in records:
            self.refresh(record, now)
        return {"reports": [self.control_json(r) for r in records if seller in (None, r.seller)]}

    async def control_report(self, request: Request) -> Any:
        record = self.state.reports.get(request.path_params["report_id"])
        if record is None:
            return json_response({"error": f"no report {request.path_params['report_id']}"}, 404)
        now = time.time()
        self.refresh(record, now)
        if request.method == "POST":
            data = await read_json_object(request)
            unknown = set(data) - {"to", "content"}
            if unknown:
                raise ValueError(f"unknown keys {sorted(unknown)}; allowed: to, content")
            to = str(data.get("to", ""))
            allowed = MOVES.get(record.status, ())
            if to not in allowed:
                raise ValueError(
                    f"report {record.report_id} is {record.status}: it cannot move to {to!r}"
                    + (f" (allowed: {', '.join(allowed)})" if allowed else " (final)")
                )
            content = data.get("content")
            if content is not None and (to != "DONE" or not isinstance(content, str)):
                raise ValueError("content (a string) goes with to=DONE only")
            self.move(record, to, now, content=None if content is None else content.encode())
        return self.control_json(record)

    async def control_settlement(self, request: Request) -> Any:
        data = await read_json_object(request)
        allowed = {
            "seller", "content", "content_b64", "path", "gzip", "created_time", "marketplace_ids", "data_start_time",
            "data_end_time", "charset", "report_type",
        }  # fmt: skip
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}")
        seller = self.sim.seller_of(data)
        sources = [key for key in ("content", "content_b64", "path") if data.get(key) is not None]
        if len(sources) != 1:
            raise ValueError("give exactly one of content (text), content_b64 (bytes) or path (a file on this machine)")
        compress = data.get("gzip", True)
        if not isinstance(compress, bool):
            raise ValueError("gzip must be true or false")
        report_type = str(data.get("report_type") or SETTLEMENT_V2)
        if report_type not in SETTLEMENT_TYPES:
            raise ValueError(f"report_type must be one of {sorted(SETTLEMENT_TYPES)}")
        charset = str(data.get("charset") or "UTF-8")
        now = time.time()
        times: dict[str, float] = {}
        for key in ("created_time", "data_start_time", "data_end_time"):
            if data.get(key) is not None:
                moment = parse_timestamp(data[key])
                if moment is None:
                    raise ValueError(f"{key} must be an ISO 8601 date-time")
                times[key] = moment
        created = times.get("created_time", now)
        data_end = times.get("data_end_time", created)
        data_start = times.get("data_start_time", data_end - SETTLEMENT_PERIOD_SECONDS)
        markets = data.get("marketplace_ids")
        if markets is None:
            markets = list(seller.marketplace_ids)
        if not isinstance(markets, list) or not all(isinstance(m, str) and m for m in markets):
            raise ValueError("marketplace_ids must be a list of marketplace ids")
        content_type = f"text/plain; charset={charset}"
        document = await self.seeded_document(
            seller.selling_partner_id, data, sources[0], compress=compress, charset=charset, content_type=content_type
        )
        record = ReportRecord(
            report_id=self.new_report_id(), seller=seller.selling_partner_id, report_type=report_type,
            marketplace_ids=list(markets), created=created, data_start=data_start, data_end=data_end, status="DONE",
            requested=False, started=created, ended=created, document_id=document.document_id,
            history=[{"status": "DONE", "at": report_time(created)}],
        )  # fmt: skip
        self.state.reports[record.report_id] = record
        return {"reportId": record.report_id, "reportDocumentId": document.document_id}

    async def seeded_document(
        self, seller: str, data: dict[str, Any], source: str, *, compress: bool, charset: str, content_type: str
    ) -> ReportDocumentRecord:
        compression = "GZIP" if compress else None
        if source == "path":
            path = os.path.abspath(str(data["path"]))
            if not os.path.isfile(path):
                raise ValueError(f"path {path!r} is not a file on the simulator's machine")
            try:
                if not compress or await asyncio.to_thread(_is_gzip_file, path):
                    return self.add_document(seller, compression=compression, content_type=content_type, path=path)
                target = self.temp_path()
                await asyncio.to_thread(_gzip_file, path, target)
            except OSError as exc:
                raise ValueError(f"cannot read {path!r}: {exc}") from None
            return self.add_document(
                seller, compression=compression, content_type=content_type, path=target, owned=True
            )
        if source == "content":
            if not isinstance(data["content"], str):
                raise ValueError("content must be a string (use content_b64 for bytes)")
            try:
                raw = data["content"].encode(charset)
            except LookupError:
                raise ValueError(f"unknown charset {charset!r}") from None
        else:
            raw = base64.b64decode(str(data["content_b64"]), validate=True)
        if compress and not raw.startswith(GZIP_MAGIC):
            raw = await asyncio.to_thread(gzip.compress, raw, 6, mtime=0)
        return self.add_document(seller, compression=compression, content_type=content_type, data=raw)
