"""Feeds API 2021-06-30 for the SP-API simulator: createFeedDocument, createFeed, getFeeds, getFeed, cancelFeed,
getFeedDocument, the upload to / download from a feed document's pre-signed URL, and JSON_LISTINGS_FEED processing.

Paths, parameters, limits, enums and shapes follow Amazon's model (`feeds_2021-06-30.json`: `CreateFeedDocument-
Specification`, `CreateFeedDocumentResponse`, `CreateFeedSpecification`, `CreateFeedResponse`, `Feed`,
`GetFeedsResponse`, `FeedDocument`) and its sandbox examples (`fixtures/feeds-2021-06-30/`). The processing report
follows the listings feed processing report schema v2 (`fixtures/feeds-json-listings/`). Each message updates the
same listing state as patchListingsItem (`listings.py`). Wording from Amazon's answers quoted in public issues where
one was found (cited below); the rest is the simulator's choice, listed in README.md.

A feed moves IN_QUEUE → IN_PROGRESS → DONE by time (`feed_processing_seconds`, default 0: done when next looked at)
or by the control API. Only JSON_LISTINGS_FEED is processed; every other feed type ends FATAL (the legacy XML and
flat-file listings feeds are refused that way by Amazon since July 31, 2025).
"""

from __future__ import annotations

import asyncio
import calendar
import copy
import gzip
import hashlib
import hmac
import json
import re
import secrets
import string
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from simulators.common import dump_json, error_body, json_response, read_json_object
from simulators.spapi.fulfillment import Problems
from simulators.spapi.listings import (
    INVALID_VALUE,
    Submission,
    check_attributes,
    check_patches,
    invalid_value,
    missing_value,
)
from simulators.spapi.reports import (
    REQUIRED_MISSING,
    _s3_error,
    json_body,
    list_filters,
    next_token_query,
    report_time,
)
from simulators.spapi.state import (
    FEED_DOCUMENT_DOWNLOAD,
    FEED_DOCUMENT_UPLOAD,
    JSON_FEED_PLAN,
    FeedDocumentRecord,
    FeedRecord,
    InvalidInput,
    Seller,
    State,
)

if TYPE_CHECKING:
    from simulators.spapi.app import SpApiSimulator

ApiResult = tuple[int, Any]

JSON_LISTINGS_FEED = "JSON_LISTINGS_FEED"
PROCESSING_STATUSES = ("CANCELLED", "DONE", "FATAL", "IN_PROGRESS", "IN_QUEUE")  # the model's enum
FINAL = frozenset({"CANCELLED", "DONE", "FATAL"})
MOVES = {"IN_QUEUE": ("IN_PROGRESS", "DONE", "FATAL", "CANCELLED"), "IN_PROGRESS": ("DONE", "FATAL")}
FEED_TYPE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")
OPERATION_TYPES = ("UPDATE", "PARTIAL_UPDATE", "PATCH", "DELETE")  # listings feed schema v2
MAX_CREATE_MARKETPLACES = 25  # CreateFeedSpecification.marketplaceIds maxItems
URL_TTL_SECONDS = 300  # "This URL expires after 5 minutes." (CreateFeedDocumentResponse.url, FeedDocument.url)
RESULT_CONTENT_TYPE = "application/json; charset=UTF-8"
# amzn/selling-partner-api-models#4726: JSON_LISTINGS_FEED takes one marketplace.
TOO_MANY_MARKETPLACES = "Too many 'marketplaceIds' values provided. Expected a maximum of 1."
# amzn/selling-partner-api-models#4097: what a JSON_LISTINGS_FEED with too many messages is answered with.
TOO_MANY_MESSAGES = "feed messages list beyond allowed size"
FATAL_CODE = "SIM_FEED_FATAL"  # simulator choice: Amazon's code for a feed-level failure is not published
QUOTA_EXCEEDED = error_body("QuotaExceeded", "You exceeded your quota for the requested resource.")


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _feed_size_problem(size: int) -> str | None:
    return None if 1 <= size <= 100 else "Member must have value between 1 and 100"


class FatalFeed(Exception):
    """A JSON_LISTINGS_FEED that cannot be processed at all: it ends FATAL with this message in its report."""


class Feeds:
    """The Feeds handlers of one `SpApiSimulator` (which holds the state)."""

    def __init__(self, sim: SpApiSimulator) -> None:
        self.sim = sim

    @property
    def state(self) -> State:
        return self.sim.state  # read per call: /_sim/reset replaces it

    # --- ids, documents and pre-signed URLs ----------------------------------------------------------

    def new_feed_id(self) -> str:
        """A numeric id shaped like Amazon's (e.g. 50014019287), unique across sellers."""
        number = self.state.next_feed_number
        self.state.next_feed_number += 1
        return f"{number}018{number % 1000:03d}"

    @staticmethod
    def new_document_id() -> str:
        """Shaped like Amazon's `amzn1.tortuga.3.<uuid>.T<…>` feed document ids (the tail is the simulator's)."""
        tail = "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(14))
        return f"amzn1.tortuga.4.{uuid.uuid4()}.T{tail}"

    def signature(self, method: str, document_id: str, stamp: str, expires: str, content_type: str) -> str:
        message = f"{method}\n{document_id}\n{stamp}\n{expires}\n{content_type}".encode()
        return hmac.new(self.state.token_secret, message, hashlib.sha256).hexdigest()

    def presigned(self, request: Request, document: FeedDocumentRecord, method: str) -> str:
        """A pre-signed URL for PUT (the upload; signed with the declared content type) or GET (the download)."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        expires = str(URL_TTL_SECONDS)
        content_type = _media_type(document.content_type) if method == "PUT" else ""
        params = {
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Date": stamp,
            "X-Amz-Expires": expires,
            "X-Amz-SignedHeaders": "content-type;host" if method == "PUT" else "host",
            "X-Amz-Signature": self.signature(method, document.document_id, stamp, expires, content_type),
        }
        base = self.sim.reports.base_url(request)
        return f"{base}/_feed-documents/{quote(document.document_id, safe='')}?{urlencode(params)}"

    def add_result(self, record: FeedRecord, report: dict[str, Any], at: float) -> None:
        data = dump_json(report)
        compression = self.state.feed_result_compression
        if compression == "GZIP":
            data = gzip.compress(data, 6, mtime=0)
        document = FeedDocumentRecord(
            document_id=self.new_document_id(), seller=record.seller, content_type=RESULT_CONTENT_TYPE,
            kind="result", created=at, data=data, compression=compression, uploaded=at,
        )  # fmt: skip
        self.state.feed_documents[document.document_id] = document
        record.result_document_id = document.document_id
        record.report = report

    # --- processing --------------------------------------------------------------------------------

    def refresh(self, record: FeedRecord, now: float) -> None:
        """Let time move a feed along (IN_QUEUE → IN_PROGRESS → DONE, applied when done)."""
        if record.status == "IN_QUEUE" and record.in_progress_at is not None and now >= record.in_progress_at:
            self.move(record, "IN_PROGRESS", record.in_progress_at)
        if record.status == "IN_PROGRESS" and record.done_at is not None and now >= record.done_at:
            self.move(record, "DONE", max(record.done_at, record.started or record.done_at))

    def catch_up(self, now: float) -> None:
        """Every feed that is due, oldest first (listings read the same whatever is asked first)."""
        due = [f for f in self.state.feeds.values() if f.status not in FINAL]
        for record in sorted(due, key=lambda f: (f.created, f.feed_id)):
            self.refresh(record, now)

    def move(self, record: FeedRecord, to: str, at: float, *, reason: str | None = None) -> None:
        if to == "IN_PROGRESS":
            record.started = at
        elif to in ("DONE", "FATAL"):
            record.started = at if record.started is None else record.started
            record.ended = at
            if to == "DONE":
                to = self.process(record, at)
            else:
                self.add_result(record, self.fatal_report(record, reason or "The feed was aborted."), at)
        elif to == "CANCELLED":
            record.ended = at
        record.status = to
        record.history.append({"status": to, "at": report_time(at)})
        if to in FINAL and self.state.subscriptions:
            self.sim.notifications.feed_finished(record, at)

    def fatal_report(self, record: FeedRecord, message: str) -> dict[str, Any]:
        return {
            "header": {"sellerId": record.seller, "version": "2.0", "feedId": record.feed_id},
            "issues": [{"code": FATAL_CODE, "severity": "ERROR", "message": message}],
            "summary": {"errors": 1, "warnings": 0, "messagesProcessed": 0, "messagesAccepted": 0,
                        "messagesInvalid": 0},
        }  # fmt: skip

    def process(self, record: FeedRecord, at: float) -> str:
        """Apply a feed; returns the final status (DONE, or FATAL when it cannot be processed at all)."""
        if record.feed_type != JSON_LISTINGS_FEED:
            return "FATAL"  # the simulator makes no result document for other feed types
        try:
            header, messages = self.parse(record)
        except FatalFeed as exc:
            self.add_result(record, self.fatal_report(record, str(exc)), at)
            return "FATAL"
        issues: list[dict[str, Any]] = []
        accepted = invalid = 0
        seen: set[int] = set()
        touched: list[str] = []
        for position, message in enumerate(messages, start=1):
            found, sku = self.process_message(record, message, position, seen, at)
            issues.extend(found)
            if any(i["severity"] == "ERROR" for i in found):
                invalid += 1
            else:
                accepted += 1
                if sku is not None:
                    touched.append(sku)
        report: dict[str, Any] = {"header": {"sellerId": record.seller, "version": "2.0", "feedId": record.feed_id}}
        wanted = header.get("report")
        if isinstance(wanted, dict) and isinstance(wanted.get("includedData"), list):
            report["header"]["report"] = copy.deepcopy(wanted)
        report["issues"] = issues
        errors = sum(1 for i in issues if i["severity"] == "ERROR")
        report["summary"] = {
            "errors": errors, "warnings": len(issues) - errors, "messagesProcessed": len(messages),
            "messagesAccepted": accepted, "messagesInvalid": invalid,
        }  # fmt: skip
        if "report" in report["header"]:
            included = [str(i) for i in report["header"]["report"]["includedData"]]
            items = self.report_items(record, touched, included)
            item_errors = sum(1 for item in items for i in item.get("issues", []) if i.get("severity") == "ERROR")
            item_warnings = sum(1 for item in items for i in item.get("issues", []) if i.get("severity") != "ERROR")
            report["summary"]["itemSummary"] = {"items": len(items), "errors": item_errors, "warnings": item_warnings}
            report["items"] = items
        self.add_result(record, report, at)
        return "DONE"

    def report_items(self, record: FeedRecord, skus: list[str], included: list[str]) -> list[dict[str, Any]]:
        listings = self.sim.listings
        marketplace = record.marketplace_ids[0]
        items = []
        for sku in dict.fromkeys(skus):
            listing = self.state.listings.get((record.seller, marketplace, sku))
            if listing is not None:
                items.append(listings.item_json(listing, included))
        return items

    def parse(self, record: FeedRecord) -> tuple[dict[str, Any], list[Any]]:
        data = record.content
        if data is None:
            raise FatalFeed("The feed document was not uploaded before createFeed.")
        limit = self.state.max_feed_bytes
        if limit and len(data) > limit:
            raise FatalFeed(f"The feed document is {len(data)} bytes; the limit is {limit} bytes.")
        try:
            document = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise FatalFeed(f"The feed document is not valid UTF-8 JSON: {exc}") from None
        if not isinstance(document, dict):
            raise FatalFeed("The feed document must be a JSON object with header and messages.")
        header, messages = document.get("header"), document.get("messages")
        if not isinstance(header, dict) or not isinstance(messages, list):
            raise FatalFeed("The feed document must be a JSON object with header and messages.")
        if header.get("version") != "2.0":
            raise FatalFeed(f"header.version must be '2.0', not {header.get('version')!r}.")
        if header.get("sellerId") != record.seller:
            raise FatalFeed(f"header.sellerId {header.get('sellerId')!r} is not the selling partner of this feed.")
        if len(messages) > self.state.max_feed_messages:
            raise FatalFeed(TOO_MANY_MESSAGES)
        return header, messages

    def process_message(
        self, record: FeedRecord, message: Any, position: int, seen: set[int], at: float
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One message: its issues (each with messageId and sku), and the SKU it changed (None when invalid)."""
        raw_id = message.get("messageId") if isinstance(message, dict) else None
        valid_id = isinstance(raw_id, int) and not isinstance(raw_id, bool) and raw_id >= 1
        message_id = int(raw_id) if valid_id and raw_id is not None else position
        sku = message.get("sku") if isinstance(message, dict) else None

        def report(problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
            lines = []
            for problem in problems:
                line: dict[str, Any] = {"messageId": message_id}
                if isinstance(sku, str):
                    line["sku"] = sku
                line.update(code=problem["code"], severity=problem["severity"], message=problem["message"])
                names = problem.get("attributeNames") or []
                if names:
                    line["attributeName"] = names[0]
                lines.append(line)
            return lines

        if not isinstance(message, dict):
            return report([invalid_value("messages", "message")]), None
        problems: list[dict[str, Any]] = []
        if not valid_id:
            problems.append(invalid_value("messageId", "messageId"))
        elif message_id in seen:
            problems.append({"code": INVALID_VALUE, "severity": "ERROR",
                             "message": f"The messageId {message_id} is used by more than one message."})  # fmt: skip
        else:
            seen.add(message_id)
        if not isinstance(sku, str) or not sku.strip():
            problems.append(missing_value("sku"))
        operation = message.get("operationType")
        product_type = message.get("productType")
        if operation not in OPERATION_TYPES:
            problems.append(invalid_value("operationType", "operationType"))
        elif operation != "DELETE" and (not isinstance(product_type, str) or not product_type.strip()):
            problems.append(missing_value("productType"))
        if problems:
            return report(problems), None
        assert isinstance(sku, str)
        if operation == "PATCH":
            submission = check_patches(message.get("patches"))
        elif operation in ("UPDATE", "PARTIAL_UPDATE"):
            submission = check_attributes(message.get("attributes"), full=operation == "UPDATE")
        else:
            submission = Submission()
        marketplace = record.marketplace_ids[0]
        listings = self.sim.listings
        known = (record.seller, marketplace, sku) in self.state.listings
        if not known and not submission.creates and self.state.unknown_sku != "accept":
            submission.issues.insert(0, listings.unknown_sku_issue(sku, marketplace))
        if submission.invalid:
            return report(submission.issues), None
        source: dict[str, Any] = {"source": JSON_LISTINGS_FEED, "feed_id": record.feed_id, "message_id": message_id,
                                  "operation": operation}  # fmt: skip
        if operation == "PATCH":
            source["patches"] = copy.deepcopy(message.get("patches"))
        elif operation != "DELETE":
            source["attributes"] = copy.deepcopy(message.get("attributes"))
        if operation == "DELETE" and not known:
            return report(submission.issues), None  # nothing to delete: accepted, nothing changes
        listings.apply(record.seller, marketplace, sku, str(product_type or ""), submission, source=source, now=at,
                       delete=operation == "DELETE")  # fmt: skip
        return report(submission.issues), sku

    # --- JSON shapes -------------------------------------------------------------------------------

    @staticmethod
    def feed_json(record: FeedRecord) -> dict[str, Any]:
        """A `Feed`, fields in the model's order (optional ones only when they have a value)."""
        feed: dict[str, Any] = {
            "feedId": record.feed_id,
            "feedType": record.feed_type,
            "marketplaceIds": list(record.marketplace_ids),
            "createdTime": report_time(record.created),
            "processingStatus": record.status,
        }
        if record.started is not None:
            feed["processingStartTime"] = report_time(record.started)
        if record.ended is not None:
            feed["processingEndTime"] = report_time(record.ended)
        if record.result_document_id is not None:
            feed["resultFeedDocumentId"] = record.result_document_id
        return feed

    def own_feed(self, request: Request, seller: Seller) -> FeedRecord | None:
        record = self.state.feeds.get(request.path_params["feed_id"])
        if record is None or record.seller != seller.selling_partner_id:
            return None
        self.catch_up(time.time())
        return record

    @staticmethod
    def not_found(feed_id: str) -> ApiResult:
        # The model's 404: "The specified resource does not exist." (Amazon's own wording for feeds not found).
        return 404, error_body("NotFound", "The specified resource does not exist.", f"No feed {feed_id}.")

    # --- createFeedDocument, createFeed ---------------------------------------------------------------

    async def create_document(self, request: Request, seller: Seller) -> ApiResult:
        body = await json_body(request)  # the library adds `path`, `marketplaceIds`, `MarketplaceIds`: ignored
        if body.get("contentType") is None:
            raise InvalidInput(REQUIRED_MISSING, "contentType;")
        p = Problems()
        content_type = p.string(body, "contentType", "contentType", required=True)
        p.check()
        assert content_type is not None
        document = FeedDocumentRecord(
            document_id=self.new_document_id(), seller=seller.selling_partner_id, content_type=content_type,
            kind="input", created=time.time(),
        )  # fmt: skip
        self.state.feed_documents[document.document_id] = document
        return 201, {"feedDocumentId": document.document_id, "url": self.presigned(request, document, "PUT")}

    async def create(self, request: Request, seller: Seller) -> ApiResult:
        body = await json_body(request)
        missing = [key for key in ("feedType", "marketplaceIds", "inputFeedDocumentId") if body.get(key) is None]
        if missing:
            raise InvalidInput(REQUIRED_MISSING, "".join(f"{key};" for key in missing))
        p = Problems()
        feed_type = p.string(body, "feedType", "feedType", required=True)
        markets = p.array(body, "marketplaceIds", "marketplaceIds", required=True)
        document_id = p.string(body, "inputFeedDocumentId", "inputFeedDocumentId", required=True)
        if markets is not None:
            if len(markets) > MAX_CREATE_MARKETPLACES:
                limit = f"Member must have length less than or equal to {MAX_CREATE_MARKETPLACES}"
                p.add(markets, "marketplaceIds", limit)
            for n, marketplace in enumerate(markets, start=1):
                if not isinstance(marketplace, str) or not marketplace.strip():
                    p.add(marketplace, f"marketplaceIds.{n}.member", "Member must be a non-empty string")
        options = p.obj(body, "feedOptions", "feedOptions")
        for key, value in (options or {}).items():
            if not isinstance(value, str):
                p.add(value, f"feedOptions.{key}", "Member must be a string")
        p.check()
        assert feed_type is not None and markets is not None and document_id is not None
        if not FEED_TYPE.fullmatch(feed_type):
            raise InvalidInput(f"Invalid Feed Type {feed_type}", "")
        if feed_type == JSON_LISTINGS_FEED and len(markets) > 1:
            raise InvalidInput(TOO_MANY_MARKETPLACES, "")
        for marketplace in markets:
            if seller.marketplace_ids and marketplace not in seller.marketplace_ids:
                raise InvalidInput(f"Value {marketplace} for parameter marketplaceIds is invalid.", "")
        document = self.state.feed_documents.get(document_id)
        if document is None or document.seller != seller.selling_partner_id or document.kind != "input":
            raise InvalidInput(f"Invalid inputFeedDocumentId {document_id}", "")
        if feed_type == JSON_LISTINGS_FEED and not self.state.take(seller.selling_partner_id, JSON_FEED_PLAN):
            return 429, QUOTA_EXCEEDED
        now = time.time()
        delay = self.state.feed_processing_seconds
        record = FeedRecord(
            feed_id=self.new_feed_id(), seller=seller.selling_partner_id, feed_type=feed_type,
            marketplace_ids=[str(m) for m in markets], created=now, status="IN_QUEUE", input_document_id=document_id,
            content=document.data, options=dict(options or {}), in_progress_at=now + delay / 2, done_at=now + delay,
            history=[{"status": "IN_QUEUE", "at": report_time(now)}],
        )  # fmt: skip
        self.state.feeds[record.feed_id] = record
        if self.sim.notifications.subscribers(record.seller, "FEED_PROCESSING_FINISHED"):
            # Amazon finishes a feed whether or not anyone asks: the notification must not wait for a getFeed.
            self.sim.wake_at(delay, self.state, lambda: self.catch_up(time.time()))
        return 202, {"feedId": record.feed_id}

    # --- getFeeds ----------------------------------------------------------------------------------

    def feeds_query(self, request: Request, now: float) -> dict[str, Any]:
        # "Either feedTypes or nextToken is required."
        return list_filters(request, now, types_param="feedTypes", size_problem=_feed_size_problem)

    async def list_feeds(self, request: Request, seller: Seller) -> ApiResult:
        q = request.query_params
        now = time.time()
        seller_id = seller.selling_partner_id
        after: tuple[float, str] | None = None
        if q.get("nextToken"):
            query, after = next_token_query(self.sim, request, kind="feeds", seller_id=seller_id,
                                            types_param="feedTypes")  # fmt: skip
        else:
            query = self.feeds_query(request, now) | {"t": "feeds", "seller": seller_id}
        self.catch_up(now)
        types, statuses, markets = set(query["types"]), set(query["statuses"]), set(query["markets"])
        since, until, size = float(query["since"]), float(query["until"]), int(query["size"])
        chosen = [
            record
            for record in self.state.feeds.values()
            if record.seller == seller_id and record.feed_type in types and since <= record.created <= until
            and (after is None or (record.created, record.feed_id) < after)
            and (not statuses or record.status in statuses)
            and (not markets or markets & set(record.marketplace_ids))
        ]  # fmt: skip
        chosen.sort(key=lambda r: (r.created, r.feed_id), reverse=True)  # newest first
        page = chosen[:size]
        answer: dict[str, Any] = {"feeds": [self.feed_json(record) for record in page]}
        if len(chosen) > size:
            last = page[-1]
            answer["nextToken"] = self.sim.sign(query | {"after": [last.created, last.feed_id]})
        return 200, answer

    # --- getFeed, cancelFeed, getFeedDocument -------------------------------------------------------

    async def get(self, request: Request, seller: Seller) -> ApiResult:
        record = self.own_feed(request, seller)
        if record is None:
            return self.not_found(request.path_params["feed_id"])
        return 200, self.feed_json(record)

    async def cancel(self, request: Request, seller: Seller) -> ApiResult:
        record = self.own_feed(request, seller)
        if record is None:
            return self.not_found(request.path_params["feed_id"])
        if record.status != "IN_QUEUE":  # "Only feeds with processingStatus=IN_QUEUE can be cancelled."
            raise InvalidInput(
                f"Feed {record.feed_id} cannot be cancelled: its processingStatus is {record.status}. Only feeds "
                "with processingStatus IN_QUEUE can be cancelled.",
                "",
            )
        self.move(record, "CANCELLED", time.time())
        return 200, None

    async def document(self, request: Request, seller: Seller) -> ApiResult:
        document_id = request.path_params["document_id"]
        document = self.state.feed_documents.get(document_id)
        if document is None or document.seller != seller.selling_partner_id:
            raise InvalidInput(f"Invalid feedDocumentId {document_id}", "")
        answer: dict[str, Any] = {"feedDocumentId": document_id, "url": self.presigned(request, document, "GET")}
        if document.compression:
            answer["compressionAlgorithm"] = document.compression
        return 200, answer

    # --- the pre-signed URLs ("S3") ----------------------------------------------------------------

    async def s3_fault(self, operation: str) -> tuple[Response | None, bool]:
        """A faulted answer for the pre-signed URL (or None), and whether to cut the download short."""
        state = self.state
        if not state.faults.rules:
            return None, False
        rule = state.faults.match(operation)
        if rule is None:
            return None, False
        request_id = self.sim.request_id()
        if rule.kind in ("latency", "timeout"):
            await asyncio.sleep((rule.ms / 1000) if rule.kind == "latency" else rule.seconds)
        if rule.kind == "throttle":
            state.calls[(operation, 503)] += 1
            return _s3_error(503, "SlowDown", "Please reduce your request rate.", request_id), False
        if rule.kind == "timeout":
            state.calls[(operation, 503)] += 1
            return _s3_error(503, "ServiceUnavailable", "The request timed out (injected).", request_id), False
        if rule.kind == "error":
            code = "InternalError" if rule.status >= 500 else "AccessDenied" if rule.status == 403 else "InvalidRequest"
            state.calls[(operation, rule.status)] += 1
            return _s3_error(rule.status, code, "Injected by the simulator.", request_id), False
        return None, rule.kind == "truncate"

    def check_url(self, request: Request, method: str, operation: str, content_type: str) -> Response | None:
        state = self.state
        q = request.query_params
        stamp, expires = q.get("X-Amz-Date", ""), q.get("X-Amz-Expires", "")
        document_id = request.path_params["document_id"]

        def fail(status: int, code: str, message: str) -> Response:
            state.calls[(operation, status)] += 1
            return _s3_error(status, code, message, self.sim.request_id())

        expected = self.signature(method, document_id, stamp, expires, content_type)
        if not hmac.compare_digest(q.get("X-Amz-Signature", "").encode(), expected.encode()):
            return fail(403, "SignatureDoesNotMatch",
                        "The request signature we calculated does not match the signature you provided.")  # fmt: skip
        try:
            issued = calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ"))
            lifetime = int(expires)
        except ValueError:
            return fail(403, "AccessDenied", "Invalid date or expiry.")
        if time.time() > issued + lifetime:
            return fail(403, "AccessDenied", "Request has expired")
        if document_id not in state.feed_documents:
            return fail(404, "NoSuchKey", "The specified key does not exist.")
        return None

    async def upload(self, request: Request) -> Response:
        """PUT /_feed-documents/{id}?X-Amz-…: the feed's bytes, as they are (Amazon takes no compressed uploads).
        The Content-Type must be the one given to createFeedDocument (it is part of the signature, as on S3)."""
        faulted, _ = await self.s3_fault(FEED_DOCUMENT_UPLOAD)
        if faulted is not None:
            return faulted
        content_type = _media_type(request.headers.get("content-type", ""))
        refused = self.check_url(request, "PUT", FEED_DOCUMENT_UPLOAD, content_type)
        if refused is not None:
            return refused
        document = self.state.feed_documents[request.path_params["document_id"]]
        data = await request.body()
        if document.kind == "input":
            document.data, document.uploaded = data, time.time()
        self.state.calls[(FEED_DOCUMENT_UPLOAD, 200)] += 1
        etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
        return Response(b"", status_code=200, headers={"ETag": f'"{etag}"', "x-amz-request-id": self.sim.request_id()})

    async def download(self, request: Request) -> Response:
        """GET /_feed-documents/{id}?X-Amz-…: the document as stored (gzip bytes when GZIP)."""
        faulted, cut = await self.s3_fault(FEED_DOCUMENT_DOWNLOAD)
        if faulted is not None:
            return faulted
        refused = self.check_url(request, "GET", FEED_DOCUMENT_DOWNLOAD, "")
        if refused is not None:
            return refused
        document = self.state.feed_documents[request.path_params["document_id"]]
        if document.data is None:
            self.state.calls[(FEED_DOCUMENT_DOWNLOAD, 404)] += 1
            return _s3_error(404, "NoSuchKey", "The specified key does not exist.", self.sim.request_id())
        self.state.calls[(FEED_DOCUMENT_DOWNLOAD, 200)] += 1
        data = document.data[: len(document.data) // 2] if cut else document.data
        return Response(data, status_code=200, media_type=document.content_type,
                        headers={"x-amz-request-id": self.sim.request_id()})  # fmt: skip

    # --- control API ---------------------------------------------------------------------------------

    def control_json(self, record: FeedRecord) -> dict[str, Any]:
        document = self.state.feed_documents.get(record.input_document_id)
        return self.feed_json(record) | {
            "_sim": {
                "seller": record.seller,
                "feedOptions": record.options,
                "history": record.history,
                "input": {
                    "feedDocumentId": record.input_document_id,
                    "contentType": document.content_type if document else None,
                    "size": None if record.content is None else len(record.content),
                },
                "report": record.report,
            }
        }

    async def control_feeds(self, request: Request) -> Any:
        seller = request.query_params.get("seller")
        self.catch_up(time.time())
        records = sorted(self.state.feeds.values(), key=lambda r: (r.created, r.feed_id))
        return {"feeds": [self.control_json(r) for r in records if seller in (None, r.seller)]}

    async def control_feed(self, request: Request) -> Any:
        record = self.state.feeds.get(request.path_params["feed_id"])
        if record is None:
            return json_response({"error": f"no feed {request.path_params['feed_id']}"}, 404)
        now = time.time()
        self.catch_up(now)
        if request.method == "POST":
            data = await read_json_object(request)
            unknown = set(data) - {"to", "reason"}
            if unknown:
                raise ValueError(f"unknown keys {sorted(unknown)}; allowed: to, reason")
            to = str(data.get("to", ""))
            allowed = MOVES.get(record.status, ())
            if to not in allowed:
                raise ValueError(
                    f"feed {record.feed_id} is {record.status}: it cannot move to {to!r}"
                    + (f" (allowed: {', '.join(allowed)})" if allowed else " (final)")
                )
            reason = data.get("reason")
            if reason is not None and (to != "FATAL" or not isinstance(reason, str)):
                raise ValueError("reason (a string) goes with to=FATAL only")
            self.catch_up(now)  # earlier feeds first
            self.move(record, to, now, reason=reason)
        return self.control_json(record)
