"""The SP-API simulator as a Starlette app: `create_app()`.

Follows Amazon's documented contract for the operations we use: the LWA token exchange, Orders v0 getOrders,
getOrder, getOrderItems, getOrderAddress and confirmShipment, Fulfillment Outbound 2020-07-01 (MCF,
`fulfillment.py`), Reports 2021-06-30 (`reports.py`, with pre-signed document downloads), Listings Items 2021-08-01
(`listings.py`), Feeds 2021-06-30 with JSON_LISTINGS_FEED (`feeds.py`), FBA Inventory v1 (`inventory.py`), Finances
2024-06-19 listTransactions (`finances.py`) and Notifications v1 with delivery to SQS (`notifications.py`; LWA also
grants `client_credentials` tokens for its grantless operations).
Response shapes follow the official model's examples (see `fixtures/`); every non-2xx API answer has an
`{"errors": [...]}` body; every API answer carries `x-amzn-RequestId` and `x-amzn-RateLimit-Limit`; per-(seller,
operation) token buckets answer 429 QuotaExceeded; getOrders validates its parameters like Amazon and pages with a
keyset NextToken. A control API under `/_sim/` (JSON, no auth) seeds sellers, orders, settlement reports, listings and
FBA stock, moves fulfillment orders, reports and feeds along, and injects faults; see README.md.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import math
import os
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulators.common import FaultRule, dump_json, error_body, gc_paused, json_response, read_json_object
from simulators.spapi import generator
from simulators.spapi.feeds import Feeds
from simulators.spapi.finances import LIST_TRANSACTIONS, Finances
from simulators.spapi.fulfillment import Fulfillment
from simulators.spapi.inventory import Inventory
from simulators.spapi.listings import Listings
from simulators.spapi.notifications import GRANTLESS_SCOPES, Notifications
from simulators.spapi.orders2026 import GET_ORDER, RESTRICTED_ROLES, SEARCH_ORDERS, Orders2026
from simulators.spapi.reports import Reports
from simulators.spapi.state import (
    OPERATIONS,
    PENDING_HIDDEN_ITEM_FIELDS,
    PENDING_HIDDEN_ORDER_FIELDS,
    PENDING_STATUSES,
    InvalidInput,
    Seller,
    State,
    StoredOrder,
    format_timestamp,
    parse_timestamp,
)

LWA = "lwaToken"
QUOTA_EXCEEDED = error_body("QuotaExceeded", "You exceeded your quota for the requested resource.")
ERROR_BODIES = {
    400: ("InvalidInput", "Invalid Input"),
    403: ("Unauthorized", "Access to requested resource is denied."),
    404: ("NotFound", "The requested resource was not found."),
    500: ("InternalFailure", "We encountered an internal error. Please try again."),
    502: ("BadGateway", "Bad gateway."),
    503: ("ServiceUnavailable", "Service temporarily unavailable. Please try again."),
    504: ("GatewayTimeout", "The request timed out."),
}
MAX_MARKETPLACES = 50
MAX_ORDER_IDS = 50
TWO_MINUTES = 120.0
# The partial address an Order carries without a restricted data token.
PARTIAL_ADDRESS_FIELDS = ("City", "StateOrRegion", "PostalCode", "CountryCode")
ADDRESS_HIDDEN_STATUSES = PENDING_STATUSES  # Amazon has no shipping address for orders not yet paid

ApiResult = tuple[int, Any]
ApiHandler = Callable[[Request, Seller], Awaitable[ApiResult]]
GrantlessHandler = Callable[[Request, str], Awaitable[ApiResult]]  # (request, the calling app's LWA client id)
ControlHandler = Callable[[Request], Awaitable[Any]]


def _multi(request: Request, name: str) -> list[str]:
    """A multi-valued query parameter, given as repeated keys and/or comma-separated values."""
    values: list[str] = []
    for raw in request.query_params.getlist(name):
        values.extend(part.strip() for part in raw.split(",") if part.strip())
    return values


def _cents(money: Any) -> Decimal | None:
    if not isinstance(money, dict):
        return None
    try:
        return Decimal(str(money.get("Amount")))
    except (InvalidOperation, ValueError):
        return None


def _item_id(order_id: str, line: int) -> str:
    """A stable 14-digit OrderItemId for an item seeded without one."""
    digest = hashlib.sha256(f"{order_id}/{line}".encode()).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10**14:014d}"


def _served_view(order: dict[str, Any], items: list[Any]) -> tuple[dict[str, Any], list[Any]]:
    """What Amazon shows: no money on Pending orders (the stored values appear once the order moves on)."""
    if order.get("OrderStatus") not in PENDING_STATUSES:
        return order, items
    view = {k: v for k, v in order.items() if k not in PENDING_HIDDEN_ORDER_FIELDS}
    view_items = [
        {k: v for k, v in item.items() if k not in PENDING_HIDDEN_ITEM_FIELDS} if isinstance(item, dict) else item
        for item in items
    ]
    return view, view_items


class SpApiSimulator:
    """State plus handlers; one instance per app (`create_app()`)."""

    def __init__(self, *, sqs_endpoint_url: str | None = None) -> None:
        self.state = State()
        self.live_tasks: dict[str, asyncio.Task[None]] = {}
        self.rng = random.Random()
        self.started = time.time()
        self.request_prefix = str(uuid.uuid4())[:24]  # "xxxxxxxx-xxxx-4xxx-yxxx-"
        self.requests = 0
        self.mcf = Fulfillment(self)
        self.reports = Reports(self)
        self.listings = Listings(self)
        self.feeds = Feeds(self)
        self.inventory = Inventory(self)
        self.orders2026 = Orders2026(self)
        self.finances = Finances(self)
        if sqs_endpoint_url is None:
            sqs_endpoint_url = os.environ.get("SPAPI_SIM_SQS_ENDPOINT_URL", "")
        self.notifications = Notifications(self, sqs_endpoint_url.rstrip("/"))

    # --- plumbing ---------------------------------------------------------------------------------------

    def request_id(self) -> str:
        """A UUID-shaped request id: a random per-app prefix and a counter (cheaper than uuid4 per call)."""
        self.requests += 1
        return f"{self.request_prefix}{self.requests:012x}"

    def respond(self, operation: str, status: int, body: Any, *, rate_header: bool = True) -> Response:
        self.state.calls[(operation, status)] += 1
        headers = {"x-amzn-RequestId": self.request_id()}
        if rate_header:
            headers["x-amzn-RateLimit-Limit"] = self.state.rate_header(operation)
        content = body if isinstance(body, bytes) else dump_json(body)
        if status == 204:  # confirmShipment: no body, no content type
            return Response(b"", status_code=status, headers=headers)
        return Response(content, status_code=status, headers=headers, media_type="application/json")

    def error_for_status(self, status: int, message: str | None = None) -> dict[str, Any]:
        code, default = ERROR_BODIES.get(status, ("InternalFailure" if status >= 500 else "InvalidInput", ""))
        return error_body(code, message or default or f"Simulated HTTP {status}.", "Injected by the simulator.")

    async def apply_fault(self, operation: str, rule: FaultRule, seller: str | None) -> Response | None:
        """The faulted answer, or None to carry on normally (latency; repeat_page with nothing to repeat)."""
        lwa = operation == LWA
        if rule.kind == "latency":
            await asyncio.sleep(rule.ms / 1000)
            return None
        if rule.kind == "timeout":
            await asyncio.sleep(rule.seconds)
            body: Any = self.lwa_error(504) if lwa else self.error_for_status(504)
            return self.respond(operation, 504, body, rate_header=not lwa)
        if rule.kind == "throttle":
            body = self.lwa_error(429) if lwa else QUOTA_EXCEEDED
            return self.respond(operation, 429, body, rate_header=not lwa)
        if rule.kind == "error":
            body = self.lwa_error(rule.status) if lwa else self.error_for_status(rule.status)
            return self.respond(operation, rule.status, body, rate_header=not lwa)
        if rule.kind == "repeat_page":
            pages = {"getOrders": self.state.last_orders_page, SEARCH_ORDERS: self.state.last_search_page}
            previous = pages[operation].get(seller or "") if operation in pages else None
            if previous is not None:
                return self.respond(operation, 200, previous)
            rule.applied -= 1  # nothing to repeat yet: the rule stays armed
        return None

    @staticmethod
    def lwa_error(status: int) -> dict[str, str]:
        if status == 429:
            return {"error": "temporarily_unavailable", "error_description": "Too many requests"}
        if status >= 500:
            return {"error": "server_error", "error_description": "Simulated LWA failure"}
        return {"error": "invalid_request", "error_description": "Simulated LWA failure"}

    def api(self, operation: str, handler: ApiHandler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            st = self.state  # read per call: /_sim/reset replaces it
            grant = st.tokens.get(request.headers.get("x-amz-access-token", ""))
            if grant is None or grant[0] not in st.sellers:
                details = "The access token you provided is revoked, malformed or invalid."
                return self.respond(
                    operation, 403, error_body("Unauthorized", "Access to requested resource is denied.", details)
                )
            if grant[1] <= time.time():
                details = "The access token you provided has expired."
                return self.respond(
                    operation, 403, error_body("Unauthorized", "Access to requested resource is denied.", details)
                )
            seller = st.sellers[grant[0]]
            if st.faults.rules:
                rule = st.faults.match(operation)
                if rule is not None:
                    faulted = await self.apply_fault(operation, rule, seller.selling_partner_id)
                    if faulted is not None:
                        return faulted
            if not st.take(seller.selling_partner_id, operation):
                return self.respond(operation, 429, QUOTA_EXCEEDED)
            try:
                status, body = await handler(request, seller)
            except InvalidInput as exc:
                status, body = 400, error_body("InvalidInput", exc.message, exc.details)
            content = b"" if body is None else dump_json(body)
            if operation == "getOrders" and status == 200:
                st.last_orders_page[seller.selling_partner_id] = content
            elif operation == SEARCH_ORDERS and status == 200:
                st.last_search_page[seller.selling_partner_id] = content
            return self.respond(operation, status, content)

        return endpoint

    def wake_at(self, delay: float, state: State, fn: Callable[[], None]) -> None:
        """Run `fn` on the event loop in `delay` seconds, unless the state was reset meanwhile."""

        def run() -> None:
            if self.state is state:
                fn()

        with contextlib.suppress(RuntimeError):  # no running loop: nothing to schedule on
            asyncio.get_running_loop().call_later(max(0.0, delay) + 0.01, run)

    def grantless_api(
        self, operation: str, handler: GrantlessHandler, *, seller_token_ok: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        """A grantless operation: the caller is an application (a client_credentials token for the notifications
        scope). `seller_token_ok`: a seller's token is taken too (the app it was issued to is the caller)."""

        async def endpoint(request: Request) -> Response:
            st = self.state
            token = request.headers.get("x-amz-access-token", "")
            grant = st.grantless_tokens.get(token)
            client_id: str | None = None
            if grant is not None:
                client_id = grant[0]
            elif seller_token_ok:
                seller_grant = st.tokens.get(token)
                if seller_grant is not None and seller_grant[0] in st.sellers:
                    client_id, grant = st.sellers[seller_grant[0]].client_id, seller_grant
            if grant is None or client_id is None:
                details = "The access token you provided is revoked, malformed or invalid."
                if token in st.tokens:  # a seller's token where Amazon wants a grantless one
                    details = "This operation is grantless: use an access token from grant_type=client_credentials."
                return self.respond(
                    operation, 403, error_body("Unauthorized", "Access to requested resource is denied.", details)
                )
            if grant[1] <= time.time():
                details = "The access token you provided has expired."
                return self.respond(
                    operation, 403, error_body("Unauthorized", "Access to requested resource is denied.", details)
                )
            if st.faults.rules:
                rule = st.faults.match(operation)
                if rule is not None:
                    faulted = await self.apply_fault(operation, rule, None)
                    if faulted is not None:
                        return faulted
            if not st.take(f"app:{client_id}", operation):  # grantless plans are the application's
                return self.respond(operation, 429, QUOTA_EXCEEDED)
            try:
                status, body = await handler(request, client_id)
            except InvalidInput as exc:
                status, body = 400, error_body("InvalidInput", exc.message, exc.details)
            return self.respond(operation, status, b"" if body is None else dump_json(body))

        return endpoint

    # --- LWA --------------------------------------------------------------------------------------------

    async def lwa_token(self, request: Request) -> Response:
        state = self.state
        if state.faults.rules:
            rule = state.faults.match(LWA)
            if rule is not None:
                faulted = await self.apply_fault(LWA, rule, None)
                if faulted is not None:
                    return faulted
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        if form.get("grant_type") == "client_credentials":
            return self.lwa_grantless(form)
        if form.get("grant_type") != "refresh_token":
            answer = {
                "error": "unsupported_grant_type",
                "error_description": "Only refresh_token and client_credentials are simulated",
            }
            return self.respond(LWA, 400, answer, rate_header=False)
        seller = state.by_refresh_token.get(form.get("refresh_token", ""))
        if seller is None:
            answer = {
                "error": "invalid_grant",
                "error_description": "The request has an invalid grant parameter : refresh_token",
            }
            return self.respond(LWA, 400, answer, rate_header=False)
        if (form.get("client_id"), form.get("client_secret")) != (seller.client_id, seller.client_secret):
            answer = {"error": "invalid_client", "error_description": "Client authentication failed"}
            return self.respond(LWA, 401, answer, rate_header=False)
        token = {
            "access_token": state.issue_token(seller),
            "refresh_token": seller.refresh_token,
            "token_type": "bearer",
            "expires_in": state.token_ttl_seconds,
        }
        return self.respond(LWA, 200, token, rate_header=False)

    def lwa_grantless(self, form: dict[str, str]) -> Response:
        """A grantless token (Notifications' destinations): the application's own credentials and a scope."""
        state = self.state
        scope = form.get("scope", "")
        if scope not in GRANTLESS_SCOPES:
            answer = {"error": "invalid_scope", "error_description": "The request has an invalid parameter : scope"}
            return self.respond(LWA, 400, answer, rate_header=False)
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if not state.app_credentials(client_id, secret):
            answer = {"error": "invalid_client", "error_description": "Client authentication failed"}
            return self.respond(LWA, 401, answer, rate_header=False)
        token = {
            "access_token": state.issue_grantless_token(client_id),
            "scope": scope,
            "token_type": "bearer",
            "expires_in": state.token_ttl_seconds,
        }
        return self.respond(LWA, 200, token, rate_header=False)

    # --- NextTokens -------------------------------------------------------------------------------------

    def sign(self, data: dict[str, Any]) -> str:
        """Opaque, tamper-evident token: base64 of the JSON query state plus an HMAC of it."""
        raw = json.dumps(data, separators=(",", ":"), sort_keys=True)
        mac = hmac.new(self.state.token_secret, raw.encode(), hashlib.sha256).hexdigest()[:24]
        return base64.b64encode(json.dumps({"q": raw, "m": mac}, separators=(",", ":")).encode()).decode()

    def unsign(self, token: str) -> dict[str, Any]:
        try:
            wrapper = json.loads(base64.b64decode(token.encode(), validate=True))
            raw, mac = wrapper["q"], wrapper["m"]
            expected = hmac.new(self.state.token_secret, raw.encode(), hashlib.sha256).hexdigest()[:24]
            if not isinstance(mac, str) or not hmac.compare_digest(mac, expected):
                raise ValueError("bad signature")
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise ValueError("bad token")
            return data
        except (ValueError, TypeError, KeyError, AttributeError, UnicodeError) as exc:
            raise InvalidInput("Invalid NextToken") from exc

    # --- Orders v0 --------------------------------------------------------------------------------------

    def orders_query(self, request: Request) -> dict[str, Any]:
        """Validate getOrders' criteria (Amazon's rules) into the query state carried by NextTokens."""
        q = request.query_params
        created_after, updated_after = q.get("CreatedAfter"), q.get("LastUpdatedAfter")
        created_before, updated_before = q.get("CreatedBefore"), q.get("LastUpdatedBefore")
        if created_after and updated_after:
            raise InvalidInput("Only one of CreatedAfter or LastUpdatedAfter may be specified, not both.")
        if not created_after and not updated_after:
            raise InvalidInput("Either the CreatedAfter parameter or the LastUpdatedAfter parameter is required.")
        if updated_after and created_before:
            raise InvalidInput("CreatedBefore cannot be specified together with LastUpdatedAfter.")
        if created_after and updated_before:
            raise InvalidInput("LastUpdatedBefore cannot be specified together with CreatedAfter.")
        mode, prefix = ("created", "Created") if created_after else ("updated", "LastUpdated")
        start = parse_timestamp(created_after or updated_after)
        if start is None:
            raise InvalidInput(f"{prefix}After is not a valid ISO 8601 date-time.")
        latest = math.floor(time.time() - TWO_MINUTES)
        before = created_before if mode == "created" else updated_before
        end = parse_timestamp(before) if before else float(latest)
        if end is None:
            raise InvalidInput(f"{prefix}Before is not a valid ISO 8601 date-time.")
        if end < start or end > latest + 1:
            raise InvalidInput(
                f"{prefix}Before must be equal to or after the {prefix}After date and at least two minutes before "
                "current time."
            )
        raw_size = q.get("MaxResultsPerPage", "100")
        try:
            size = int(raw_size)
        except ValueError:
            raise InvalidInput("MaxResultsPerPage must be an integer between 1 and 100.") from None
        if not 1 <= size <= 100:
            raise InvalidInput("MaxResultsPerPage must be an integer between 1 and 100.")
        marketplaces = _multi(request, "MarketplaceIds")
        if not marketplaces:
            raise InvalidInput("MarketplaceIds is required.")
        if len(marketplaces) > MAX_MARKETPLACES:
            raise InvalidInput(f"MarketplaceIds may contain at most {MAX_MARKETPLACES} values.")
        ids = _multi(request, "AmazonOrderIds")
        if len(ids) > MAX_ORDER_IDS:
            raise InvalidInput(f"AmazonOrderIds may contain at most {MAX_ORDER_IDS} values.")
        return {
            "mode": mode,
            "start": start,
            "end": end,
            "before": before if before else format_timestamp(end),
            "markets": marketplaces,
            "statuses": _multi(request, "OrderStatuses"),
            "channels": _multi(request, "FulfillmentChannels"),
            "ids": ids,
            "size": size,
        }

    async def get_orders(self, request: Request, seller: Seller) -> ApiResult:
        state = self.state
        token = request.query_params.get("NextToken")
        if token:  # "NextToken, when provided, overrides other criteria"
            query = self.unsign(token)
            if query.get("t") != "orders" or query.get("seller") != seller.selling_partner_id:
                raise InvalidInput("Invalid NextToken")
            after = query.get("after")
            position = (float(after[0]), str(after[1])) if isinstance(after, list) and len(after) == 2 else None
        else:
            query = self.orders_query(request) | {"t": "orders", "seller": seller.selling_partner_id}
            position = None
        statuses, channels, ids = set(query["statuses"]), set(query["channels"]), set(query["ids"])

        def accept(stored: StoredOrder) -> bool:
            order = stored.order
            return (
                (not statuses or order.get("OrderStatus") in statuses)
                and (not channels or order.get("FulfillmentChannel") in channels)
                and (not ids or stored.key in ids)
            )

        found, last, more = state.scan_page(seller.selling_partner_id, query, after=position, accept=accept)
        page = [stored.order for stored in found]
        payload: dict[str, Any] = {"Orders": page}
        if more and last is not None:
            payload["NextToken"] = self.sign(query | {"after": [last[0], last[1]]})
        payload["LastUpdatedBefore" if query["mode"] == "updated" else "CreatedBefore"] = query["before"]
        return 200, {"payload": payload}

    def own_order(self, request: Request, seller: Seller) -> StoredOrder:
        order_id = request.path_params["order_id"]
        stored = self.state.orders.get(order_id)
        if stored is None or stored.seller != seller.selling_partner_id:
            raise LookupError(order_id)
        return stored

    @staticmethod
    def not_found(order_id: str) -> ApiResult:
        return 404, error_body("NotFound", "Order not found", f"No order {order_id} for this selling partner.")

    async def get_order(self, request: Request, seller: Seller) -> ApiResult:
        try:
            stored = self.own_order(request, seller)
        except LookupError as exc:
            return self.not_found(str(exc))
        return 200, {"payload": stored.order}

    async def get_order_items(self, request: Request, seller: Seller) -> ApiResult:
        try:
            stored = self.own_order(request, seller)
        except LookupError as exc:
            return self.not_found(str(exc))
        offset = 0
        token = request.query_params.get("NextToken")
        if token:
            query = self.unsign(token)
            if query.get("t") != "items" or query.get("order") != stored.key:
                raise InvalidInput("Invalid NextToken")
            offset = int(query["offset"])
        size = self.state.items_page_size
        payload: dict[str, Any] = {"AmazonOrderId": stored.key, "OrderItems": stored.items[offset : offset + size]}
        if offset + size < len(stored.items):
            payload["NextToken"] = self.sign({"t": "items", "order": stored.key, "offset": offset + size})
        return 200, {"payload": payload}

    async def get_order_address(self, request: Request, seller: Seller) -> ApiResult:
        try:
            stored = self.own_order(request, seller)
        except LookupError as exc:
            return self.not_found(str(exc))
        payload: dict[str, Any] = {"AmazonOrderId": stored.key}
        if stored.address is not None and stored.order.get("OrderStatus") not in ADDRESS_HIDDEN_STATUSES:
            payload["ShippingAddress"] = stored.address
        return 200, {"payload": payload}

    # --- storing orders ---------------------------------------------------------------------------------

    def seller_of(self, data: dict[str, Any]) -> Seller:
        seller = self.state.sellers.get(str(data.get("seller", "")))
        if seller is None:
            raise ValueError(f"unknown seller {data.get('seller')!r}: register it with POST /_sim/sellers first")
        return seller

    def with_defaults(
        self, seller: Seller, order: dict[str, Any], items: list[Any], address: dict[str, Any] | None
    ) -> tuple[dict[str, Any], list[Any]]:
        """Fill what a realistic Order/OrderItem would have and the caller left out (raw=false)."""
        order = dict(order)
        marketplace = order.get("MarketplaceId") or (seller.marketplace_ids[0] if seller.marketplace_ids else "")
        info = generator.MARKETPLACES.get(str(marketplace))
        if not order.get("AmazonOrderId"):
            order["AmazonOrderId"] = generator.new_order_id(self.rng, str(marketplace), self.state.orders)
        now = format_timestamp(time.time())
        order.setdefault("PurchaseDate", now)
        order.setdefault("LastUpdateDate", order["PurchaseDate"])
        order.setdefault("OrderStatus", "Unshipped")
        order.setdefault("FulfillmentChannel", "MFN")
        if info is not None:
            order.setdefault("SalesChannel", info.sales_channel)
        order.setdefault("MarketplaceId", marketplace)
        shipped_status = order["OrderStatus"] in ("Shipped", "InvoiceUnconfirmed")
        filled: list[Any] = []
        for n, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                filled.append(item)
                continue
            item = dict(item)
            item.setdefault("OrderItemId", _item_id(str(order["AmazonOrderId"]), n))
            if "SellerSKU" in item:
                item.setdefault("ASIN", generator.sku_asin(str(item["SellerSKU"])))
            item.setdefault("QuantityOrdered", 1)
            item.setdefault("QuantityShipped", item["QuantityOrdered"] if shipped_status else 0)
            filled.append(item)
        ordered = shipped = 0
        countable = True
        for item in filled:
            o = item.get("QuantityOrdered") if isinstance(item, dict) else None
            s = item.get("QuantityShipped") if isinstance(item, dict) else None
            if not isinstance(o, int) or not isinstance(s, int):
                countable = False
                break
            ordered, shipped = ordered + o, shipped + s
        if countable:
            closed = order["OrderStatus"] in ("Canceled", "Unfulfillable")
            order.setdefault("NumberOfItemsShipped", 0 if closed else shipped)
            order.setdefault("NumberOfItemsUnshipped", 0 if closed else ordered - shipped)
        if "OrderTotal" not in order and info is not None and filled:
            total = self.total_of(filled, vat_inclusive=info.vat_bp is not None)
            if total is not None:
                order["OrderTotal"] = {"CurrencyCode": info.currency, "Amount": f"{total:.2f}"}
        order.setdefault("PaymentMethod", "Other")
        order.setdefault("OrderType", "StandardOrder")
        order.setdefault("ShipmentServiceLevelCategory", "Standard")
        order.setdefault("IsBusinessOrder", False)
        order.setdefault("IsPrime", False)
        order.setdefault("IsReplacementOrder", False)
        if "ShippingAddress" not in order and address:
            order["ShippingAddress"] = {k: address[k] for k in PARTIAL_ADDRESS_FIELDS if k in address}
        return order, filled

    @staticmethod
    def total_of(items: list[Any], *, vat_inclusive: bool) -> Decimal | None:
        """OrderTotal from priced items (None when any item has no ItemPrice)."""
        plus = ["ItemPrice", "ShippingPrice"] + ([] if vat_inclusive else ["ItemTax", "ShippingTax"])
        minus = ["PromotionDiscount", "ShippingDiscount"]
        minus += [] if vat_inclusive else ["PromotionDiscountTax", "ShippingDiscountTax"]
        total = Decimal(0)
        for item in items:
            if not isinstance(item, dict) or _cents(item.get("ItemPrice")) is None:
                return None
            total += sum((_cents(item.get(k)) or Decimal(0) for k in plus), Decimal(0))
            total -= sum((_cents(item.get(k)) or Decimal(0) for k in minus), Decimal(0))
        return total

    def store(
        self,
        seller: Seller,
        order: dict[str, Any],
        items: list[Any],
        address: dict[str, Any] | None,
        *,
        raw: bool,
        bulk: bool = False,
        complete: bool = False,
        notify: bool | None = None,
    ) -> str:
        """Upsert one order. raw: exactly as given (apart from `_key`); complete: already realistic.

        Every order write comes here, so this is where ORDER_CHANGE is published (a new order or a new OrderStatus).
        `notify` None: unless `bulk` (seeding history in batches of more than 50 would flood the queue with
        notifications Amazon never sent)."""
        if not raw and not complete:
            order, items = self.with_defaults(seller, order, items, address)
        key = order.get("AmazonOrderId") or order.get("_key")
        if not isinstance(key, str) or not key:
            raise ValueError("every order needs an AmazonOrderId (or, with raw=true, a _key)")
        if "_key" in order:
            order = {k: v for k, v in order.items() if k != "_key"}
        now = time.time()
        updated = parse_timestamp(order.get("LastUpdateDate"))
        updated = now if updated is None else updated
        created = parse_timestamp(order.get("PurchaseDate"))
        marketplace = order.get("MarketplaceId")
        if not isinstance(marketplace, str) or not marketplace:
            marketplace = seller.marketplace_ids[0] if seller.marketplace_ids else ""
        served, served_items = (order, items) if raw else _served_view(order, items)
        previous = self.state.orders.get(key)
        stored = StoredOrder(
            key=key,
            seller=seller.selling_partner_id,
            marketplace_id=marketplace,
            updated=updated,
            created=updated if created is None else created,
            order=served,
            items=served_items,
            address=address,
            source=order,
            source_items=items,
            raw=raw,
        )
        self.state.put_order(stored, bulk=bulk)
        if (not bulk if notify is None else notify) and self.state.subscriptions:
            self.notifications.order_changed(stored, previous)
        return key

    # --- control API ------------------------------------------------------------------------------------

    async def reset(self, request: Request) -> Any:
        self.stop_live()
        self.mcf.stop_auto_advance()
        self.reports.discard_files(self.state)
        self.state = State()
        self.notifications.delivery.reset()
        return {"ok": True}

    async def health(self, request: Request) -> Any:
        return {
            "ok": True,
            "simulator": "sp-api",
            "sellers": len(self.state.sellers),
            "orders": len(self.state.orders),
            "fulfillment_orders": len(self.state.fulfillment_orders),
            "reports": len(self.state.reports),
            "listings": len(self.state.listings),
            "feeds": len(self.state.feeds),
            "fba_inventory": len(self.state.fba_inventory),
            "uptime_seconds": round(time.time() - self.started, 1),
        }

    async def sellers(self, request: Request) -> Any:
        if request.method == "GET":
            return {"sellers": [self.seller_json(s) for s in self.state.sellers.values()]}
        data = await read_json_object(request)
        marketplaces = data.get("marketplace_ids") or []
        if not isinstance(marketplaces, list):
            raise ValueError("marketplace_ids must be a list")
        roles = data.get("restricted_roles", list(RESTRICTED_ROLES))
        if not isinstance(roles, list) or any(role not in RESTRICTED_ROLES for role in roles):
            raise ValueError(f"restricted_roles must be a list of {list(RESTRICTED_ROLES)}")
        seller = Seller(
            selling_partner_id=str(data["selling_partner_id"]),
            refresh_token=str(data["refresh_token"]),
            client_id=str(data["client_id"]),
            client_secret=str(data["client_secret"]),
            marketplace_ids=[str(m) for m in marketplaces],
            restricted_roles=tuple(dict.fromkeys(roles)),
        )
        self.state.add_seller(seller)
        return self.seller_json(seller)

    async def rotate(self, request: Request) -> Any:
        """New LWA credentials, as when a seller re-authorises (new refresh token) or the developer rotates the app's
        client secret (for every seller of that app). Old refresh tokens stop working; access tokens already issued
        live out their hour; destinations and subscriptions are the app's and the seller's, so they stay."""
        seller = self.state.sellers.get(request.path_params["seller_id"])
        if seller is None:
            return json_response({"error": f"unknown seller {request.path_params['seller_id']!r}"}, 404)
        data = await read_json_object(request)
        unknown = set(data) - {"refresh_token", "client_secret"}
        if unknown or not data:
            raise ValueError("give refresh_token and/or client_secret")
        if "refresh_token" in data:
            self.state.by_refresh_token.pop(seller.refresh_token, None)
            seller.refresh_token = str(data["refresh_token"])
            self.state.by_refresh_token[seller.refresh_token] = seller
        if "client_secret" in data:
            for other in self.state.sellers.values():
                if other.client_id == seller.client_id:
                    other.client_secret = str(data["client_secret"])
        return self.seller_json(seller)

    @staticmethod
    def seller_json(seller: Seller) -> dict[str, Any]:
        return {
            "selling_partner_id": seller.selling_partner_id,
            "marketplace_ids": seller.marketplace_ids,
            "restricted_roles": list(seller.restricted_roles),
        }

    async def orders(self, request: Request) -> Any:
        data = await read_json_object(request)
        seller = self.seller_of(data)
        raw = bool(data.get("raw", False))
        entries = data.get("orders", [])
        if not isinstance(entries, list):
            raise ValueError("orders must be a list of {order, items, address}")
        notify = data.get("notify")
        if notify is not None and not isinstance(notify, bool):
            raise ValueError("notify must be true or false")
        with gc_paused():
            keys = self._store_entries(seller, entries, raw, notify)
        return {"order_ids": keys, "count": len(keys)}

    def _store_entries(self, seller: Seller, entries: list[Any], raw: bool, notify: bool | None) -> list[str]:
        keys = []
        for entry in entries:
            if not isinstance(entry, dict):
                raise ValueError("each entry must be an object {order, items, address}")
            items = entry.get("items") or []
            if not isinstance(items, list):
                raise ValueError("items must be a list")
            order, address = entry.get("order"), entry.get("address")
            if not isinstance(order, dict) or (address is not None and not isinstance(address, dict)):
                raise ValueError("each entry needs an 'order' object (and 'address', if given, must be an object)")
            bulk = len(entries) > 50
            keys.append(self.store(seller, order, items, address, raw=raw, bulk=bulk, notify=notify))
        return keys

    async def order_detail(self, request: Request) -> Any:
        order_id = request.path_params["order_id"]
        stored = self.state.orders.get(order_id)
        if stored is None:
            return json_response({"error": f"order {order_id} not found"}, 404)
        if request.method == "PATCH":
            data = await read_json_object(request)
            items = data.pop("items", None)
            address = data.pop("address", None)
            if items is not None and not isinstance(items, list):
                raise ValueError("items must be a list")
            order = {**stored.source, **data}
            if "LastUpdateDate" not in data:
                order["LastUpdateDate"] = format_timestamp(time.time())
            seller = self.state.sellers[stored.seller]
            new_items = stored.source_items if items is None else items
            if not stored.raw and items is not None:
                order, new_items = self.with_defaults(seller, order, new_items, None)
            self.store(
                seller,
                order,
                new_items,
                stored.address if address is None else address,
                raw=stored.raw,
                complete=True,
            )
            stored = self.state.orders[order_id]
        return self.order_json(stored)

    async def hide_order(self, request: Request) -> Any:
        """POST: getOrders and searchOrders leave the order out (getOrder and the order reports still have it), as
        when Amazon's order search misses one; DELETE: it is found again."""
        order_id = request.path_params["order_id"]
        if order_id not in self.state.orders:
            return json_response({"error": f"order {order_id} not found"}, 404)
        if request.method == "POST":
            self.state.hidden_from_search.add(order_id)
        else:
            self.state.hidden_from_search.discard(order_id)
        return {"hidden_from_search": sorted(self.state.hidden_from_search)}

    @staticmethod
    def order_json(stored: StoredOrder) -> dict[str, Any]:
        return {
            "seller": stored.seller,
            "marketplace_id": stored.marketplace_id,
            "raw": stored.raw,
            "order": stored.order,
            "items": stored.items,
            "address": stored.address,
            "stored_order": stored.source,
            "stored_items": stored.source_items,
        }

    async def generate(self, request: Request) -> Any:
        data = await read_json_object(request)
        seller = self.seller_of(data)
        marketplace_id = str(data.get("marketplace_id") or (seller.marketplace_ids or [""])[0])
        now = time.time()
        start = parse_timestamp(data.get("start")) if data.get("start") else now - 7 * 86400
        end = parse_timestamp(data.get("end")) if data.get("end") else now - 5 * 60
        if start is None or end is None:
            raise ValueError("start and end must be ISO 8601 date-times")
        skus = data.get("skus") or ["SKU-0001"]
        if not isinstance(skus, list):
            raise ValueError("skus must be a list")
        seed = data.get("seed")
        with gc_paused():
            return self._generate(seller, data, marketplace_id, start, end, skus, seed)

    def _generate(
        self,
        seller: Seller,
        data: dict[str, Any],
        marketplace_id: str,
        start: float,
        end: float,
        skus: list[Any],
        seed: Any,
    ) -> dict[str, Any]:
        created = generator.generate(
            seed=None if seed is None else int(seed),
            count=int(data.get("count", 10)),
            marketplace_id=marketplace_id,
            skus=[str(s) for s in skus],
            start=start,
            end=end,
            statuses=data.get("statuses"),
            channels=data.get("fulfillment_channels"),
            taken=self.state.orders,
        )
        bulk = len(created) > 50
        notify = data.get("notify")
        ids = [
            self.store(
                seller,
                order,
                items,
                address,
                raw=False,
                bulk=bulk,
                complete=True,
                notify=None if notify is None else bool(notify),
            )
            for order, items, address in created
        ]
        return {"order_ids": ids, "count": len(ids)}

    async def faults(self, request: Request) -> Any:
        faults = self.state.faults
        if request.method == "DELETE":
            rule_id = request.path_params.get("rule_id")
            if rule_id is None:
                faults.clear()
                return {"faults": []}
            if not faults.remove(int(rule_id)):
                return json_response({"error": f"no fault rule {rule_id}"}, 404)
            return {"faults": [rule.as_dict() for rule in faults.rules]}
        if request.method == "POST":
            data = await read_json_object(request)
            if data.get("kind") == "repeat_page" and data.get("operation", "*") not in (
                "getOrders",
                SEARCH_ORDERS,
                "*",
            ):
                raise ValueError("repeat_page applies to getOrders and searchOrders only")
            cuttable = ("reportDocumentDownload", "feedDocumentDownload")
            if data.get("kind") == "truncate" and data.get("operation") not in cuttable:
                raise ValueError("truncate applies to reportDocumentDownload and feedDocumentDownload only")
            return faults.add(data).as_dict()
        return {"faults": [rule.as_dict() for rule in faults.rules]}

    async def rate_limits(self, request: Request) -> Any:
        state = self.state
        if request.method == "POST":
            data = await read_json_object(request)
            if "enabled" in data:
                state.limiting = bool(data["enabled"])
            if data.get("refill"):
                state.refill()
            if "operation" in data:
                operation = str(data["operation"])
                if operation not in OPERATIONS:
                    raise ValueError(f"unknown operation {operation!r}; one of {list(OPERATIONS)}")
                rate, burst = state.limits[operation]
                new_rate, new_burst = float(data.get("rate", rate)), int(data.get("burst", burst))
                if new_rate < 0 or new_burst < 0:
                    raise ValueError("rate and burst must not be negative")
                state.set_limit(operation, new_rate, new_burst)
        return {
            "enabled": state.limiting,
            "limits": {op: {"rate": rate, "burst": burst} for op, (rate, burst) in state.limits.items()},
        }

    async def calls(self, request: Request) -> Any:
        if request.method == "POST":
            self.state.calls.clear()
            return {}
        result: dict[str, dict[str, int]] = {}
        for (operation, status), count in sorted(self.state.calls.items()):
            result.setdefault(operation, {})[str(status)] = count
        return result

    async def expire_tokens(self, request: Request) -> Any:
        return {"expired": self.state.expire_tokens()}

    async def expire_pagination_tokens(self, request: Request) -> Any:
        """Every searchOrders paginationToken given so far is expired from now on (as if 24 hours had passed)."""
        self.state.pagination_tokens_valid_from = time.time()
        return {"valid_from": format_timestamp(self.state.pagination_tokens_valid_from)}

    async def settings(self, request: Request) -> Any:
        state = self.state
        if request.method == "POST":
            data = await read_json_object(request)
            unknown = set(data) - {
                "visibility_delay_seconds", "items_page_size", "rng_seed", "token_ttl_seconds", "strict_inventory",
                "auto_advance_seconds", "fulfillment_page_size", "pagination_token_ttl_seconds",
            }  # fmt: skip
            if unknown:
                raise ValueError(f"unknown settings {sorted(unknown)}")
            if "strict_inventory" in data:
                if not isinstance(data["strict_inventory"], bool):
                    raise ValueError("strict_inventory must be true or false")
                state.strict_inventory = data["strict_inventory"]
            if "fulfillment_page_size" in data:
                state.fulfillment_page_size = max(1, int(data["fulfillment_page_size"]))
            if "auto_advance_seconds" in data:
                state.auto_advance_seconds = max(0.0, float(data["auto_advance_seconds"] or 0))
                self.mcf.start_auto_advance()
            if "visibility_delay_seconds" in data:
                state.visibility_delay_seconds = max(0.0, float(data["visibility_delay_seconds"]))
            if "items_page_size" in data:
                state.items_page_size = max(1, int(data["items_page_size"]))
            if "rng_seed" in data:
                seed = data["rng_seed"]
                state.faults.seed(None if seed is None else int(seed))
                self.rng.seed(None if seed is None else int(seed))
            if "token_ttl_seconds" in data:
                state.token_ttl_seconds = max(1, int(data["token_ttl_seconds"]))
            if "pagination_token_ttl_seconds" in data:
                ttl = float(data["pagination_token_ttl_seconds"])
                if not ttl > 0:
                    raise ValueError("pagination_token_ttl_seconds must be positive")
                state.pagination_token_ttl_seconds = ttl
        return {
            "visibility_delay_seconds": state.visibility_delay_seconds,
            "items_page_size": state.items_page_size,
            "token_ttl_seconds": state.token_ttl_seconds,
            "strict_inventory": state.strict_inventory,
            "auto_advance_seconds": state.auto_advance_seconds,
            "fulfillment_page_size": state.fulfillment_page_size,
            "pagination_token_ttl_seconds": state.pagination_token_ttl_seconds,
        }

    # --- live demo mode ---------------------------------------------------------------------------------

    async def live(self, request: Request) -> Any:
        if request.method == "DELETE":
            self.stop_live()
            return {"live": []}
        data = await read_json_object(request)
        seller = self.seller_of(data)
        marketplace_id = str(data.get("marketplace_id") or (seller.marketplace_ids or [""])[0])
        if marketplace_id not in generator.MARKETPLACES:
            raise ValueError(f"unknown marketplace {marketplace_id!r}")
        skus = [str(s) for s in data.get("skus") or ["SKU-0001"]]
        every = max(0.2, float(data.get("every_seconds", 20)))
        key = f"{seller.selling_partner_id}:{marketplace_id}"
        if key in self.live_tasks:
            self.live_tasks.pop(key).cancel()
        loop = self.live_loop(seller.selling_partner_id, marketplace_id, skus, every)
        self.live_tasks[key] = asyncio.create_task(loop)
        return {"live": sorted(self.live_tasks)}

    def stop_live(self) -> None:
        for task in self.live_tasks.values():
            task.cancel()
        self.live_tasks.clear()

    async def live_loop(self, seller_id: str, marketplace_id: str, skus: list[str], every: float) -> None:
        """Every `every` seconds: one new order, and one Unshipped order shipped (like a busy shop)."""
        rng = random.Random()
        while True:
            await asyncio.sleep(every)
            seller = self.state.sellers.get(seller_id)
            if seller is None:
                return
            now = float(int(time.time()))
            [(order, items, address)] = generator.generate(
                seed=rng.randrange(2**32), count=1, marketplace_id=marketplace_id, skus=skus, start=now, end=now,
                statuses={"Unshipped": 0.8, "Pending": 0.2}, taken=self.state.orders,
            )  # fmt: skip
            self.store(seller, order, items, address, raw=False, complete=True)
            waiting = [
                o for o in self.state.seller_orders(seller_id)
                if not o.raw and o.order.get("OrderStatus") == "Unshipped" and o.key != order["AmazonOrderId"]
            ]  # fmt: skip
            if waiting:
                self.ship(seller, rng.choice(waiting), now)

    def ship(self, seller: Seller, stored: StoredOrder, now: float) -> None:
        items = [
            {**item, "QuantityShipped": item.get("QuantityOrdered", 1)} if isinstance(item, dict) else item
            for item in stored.source_items
        ]
        units = sum(int(i.get("QuantityOrdered", 1)) for i in items if isinstance(i, dict))
        order = {
            **stored.source,
            "OrderStatus": "Shipped",
            "LastUpdateDate": format_timestamp(now),
            "NumberOfItemsShipped": units,
            "NumberOfItemsUnshipped": 0,
        }
        self.store(seller, order, items, stored.address, raw=False, complete=True)

    # --- app --------------------------------------------------------------------------------------------

    def control(self, handler: ControlHandler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                result = await handler(request)
            except (ValueError, KeyError, TypeError) as exc:
                return json_response({"error": f"{exc.__class__.__name__}: {exc}"}, 400)
            return result if isinstance(result, Response) else json_response(result)

        return endpoint

    async def http_error(self, request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if request.url.path.startswith("/_sim/"):
            return json_response({"error": f"HTTP {status} for {request.method} {request.url.path}"}, status)
        message = "Resource not found." if status == 404 else f"HTTP {status}."
        code = "NotFound" if status == 404 else "InvalidInput"
        body = error_body(code, message, f"{request.method} {request.url.path}")
        return json_response(body, status, {"x-amzn-RequestId": self.request_id()})

    def build(self) -> Starlette:
        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            yield
            self.stop_live()
            self.mcf.stop_auto_advance()
            self.reports.discard_files(self.state)
            self.reports.close()

        c = self.control
        mcf = self.mcf
        rep = self.reports
        lst = self.listings
        fds = self.feeds
        inv = self.inventory
        o26 = self.orders2026
        fin = self.finances
        ntf = self.notifications
        dest = "/notifications/v1/destinations"
        subs = "/notifications/v1/subscriptions/{notification_type}"
        grantless = self.grantless_api
        fba = "/fba/outbound/2020-07-01/fulfillmentOrders"
        reports = "/reports/2021-06-30"
        item = "/listings/2021-08-01/items/{seller_id}/{sku}"
        feeds = "/feeds/2021-06-30"
        routes = [
            Route("/auth/o2/token", self.lwa_token, methods=["POST"]),
            Route("/orders/v0/orders", self.api("getOrders", self.get_orders), methods=["GET"]),
            Route("/orders/v0/orders/{order_id}", self.api("getOrder", self.get_order), methods=["GET"]),
            Route(
                "/orders/v0/orders/{order_id}/orderItems",
                self.api("getOrderItems", self.get_order_items),
                methods=["GET"],
            ),
            Route(
                "/orders/v0/orders/{order_id}/address",
                self.api("getOrderAddress", self.get_order_address),
                methods=["GET"],
            ),
            Route(
                "/orders/v0/orders/{order_id}/shipmentConfirmation",
                self.api("confirmShipment", mcf.confirm_shipment),
                methods=["POST"],
            ),
            Route("/orders/2026-01-01/orders", self.api(SEARCH_ORDERS, o26.search), methods=["GET"]),
            Route("/orders/2026-01-01/orders/{order_id}", self.api(GET_ORDER, o26.get), methods=["GET"]),
            Route(f"{fba}/preview", self.api("getFulfillmentPreview", mcf.preview), methods=["POST"]),
            Route(fba, self.api("createFulfillmentOrder", mcf.create), methods=["POST"]),
            Route(fba, self.api("listAllFulfillmentOrders", mcf.list_all), methods=["GET"]),
            Route(f"{fba}/{{order_id}}", self.api("getFulfillmentOrder", mcf.get), methods=["GET"]),
            Route(f"{fba}/{{order_id}}/cancel", self.api("cancelFulfillmentOrder", mcf.cancel), methods=["PUT"]),
            Route(f"{reports}/reports", self.api("createReport", rep.create), methods=["POST"]),
            Route(f"{reports}/reports", self.api("getReports", rep.list_reports), methods=["GET"]),
            Route(f"{reports}/reports/{{report_id}}", self.api("getReport", rep.get), methods=["GET"]),
            Route(f"{reports}/reports/{{report_id}}", self.api("cancelReport", rep.cancel), methods=["DELETE"]),
            Route(f"{reports}/documents/{{document_id}}", self.api("getReportDocument", rep.document), methods=["GET"]),
            Route("/_documents/{document_id}", rep.download, methods=["GET"]),  # the "pre-signed S3" URL
            Route(item, self.api("getListingsItem", lst.get), methods=["GET"]),
            Route(item, self.api("patchListingsItem", lst.patch), methods=["PATCH"]),
            Route(f"{feeds}/documents", self.api("createFeedDocument", fds.create_document), methods=["POST"]),
            Route(f"{feeds}/documents/{{document_id}}", self.api("getFeedDocument", fds.document), methods=["GET"]),
            Route(f"{feeds}/feeds", self.api("createFeed", fds.create), methods=["POST"]),
            Route(f"{feeds}/feeds", self.api("getFeeds", fds.list_feeds), methods=["GET"]),
            Route(f"{feeds}/feeds/{{feed_id}}", self.api("getFeed", fds.get), methods=["GET"]),
            Route(f"{feeds}/feeds/{{feed_id}}", self.api("cancelFeed", fds.cancel), methods=["DELETE"]),
            Route("/_feed-documents/{document_id}", fds.upload, methods=["PUT"]),  # pre-signed upload URL
            Route("/_feed-documents/{document_id}", fds.download, methods=["GET"]),  # pre-signed download URL
            Route("/fba/inventory/v1/summaries", self.api("getInventorySummaries", inv.summaries), methods=["GET"]),
            Route(
                "/finances/2024-06-19/transactions",
                self.api(LIST_TRANSACTIONS, fin.list_transactions),
                methods=["GET"],
            ),
            Route(dest, grantless("createDestination", ntf.create_destination), methods=["POST"]),
            Route(dest, grantless("getDestinations", ntf.get_destinations), methods=["GET"]),
            Route(f"{dest}/{{destination_id}}", grantless("getDestination", ntf.get_destination), methods=["GET"]),
            Route(
                f"{dest}/{{destination_id}}", grantless("deleteDestination", ntf.delete_destination), methods=["DELETE"]
            ),
            Route(subs, self.api("createSubscription", ntf.create_subscription), methods=["POST"]),
            Route(subs, self.api("getSubscription", ntf.get_subscription), methods=["GET"]),
            Route(
                f"{subs}/{{subscription_id}}",
                grantless("getSubscriptionById", ntf.get_subscription_by_id, seller_token_ok=True),
                methods=["GET"],
            ),
            Route(
                f"{subs}/{{subscription_id}}",
                grantless("deleteSubscriptionById", ntf.delete_subscription_by_id, seller_token_ok=True),
                methods=["DELETE"],
            ),
            Route("/_sim/notifications/settings", c(ntf.control_settings), methods=["GET", "POST"]),
            Route("/_sim/notifications/faults", c(ntf.control_faults), methods=["GET", "POST", "DELETE"]),
            Route("/_sim/notifications/sent", c(ntf.control_sent), methods=["GET"]),
            Route("/_sim/notifications/flush", c(ntf.control_flush), methods=["POST"]),
            Route("/_sim/notifications/subscriptions", c(ntf.control_subscriptions), methods=["GET"]),
            Route("/_sim/sellers/{seller_id}/rotate", c(self.rotate), methods=["POST"]),
            Route("/_sim/reset", c(self.reset), methods=["POST"]),
            Route("/_sim/health", c(self.health), methods=["GET"]),
            Route("/_sim/sellers", c(self.sellers), methods=["GET", "POST"]),
            Route("/_sim/orders", c(self.orders), methods=["POST"]),
            Route("/_sim/orders/{order_id}", c(self.order_detail), methods=["GET", "PATCH"]),
            Route("/_sim/orders/{order_id}/hide", c(self.hide_order), methods=["POST", "DELETE"]),
            Route("/_sim/finances/transactions", c(fin.control_transactions), methods=["GET", "POST"]),
            Route("/_sim/finances/orders", c(fin.control_order), methods=["POST"]),
            Route("/_sim/finances/transactions/{transaction_id}/release", c(fin.control_release), methods=["POST"]),
            Route("/_sim/finances/settings", c(fin.control_settings), methods=["GET", "POST"]),
            Route("/_sim/orders/{order_id}/shipments", c(mcf.order_shipments), methods=["GET"]),
            Route("/_sim/fulfillment-orders", c(mcf.control_orders), methods=["GET"]),
            Route("/_sim/fulfillment-orders/{order_id}", c(mcf.control_order), methods=["GET"]),
            Route("/_sim/fulfillment-orders/{order_id}/advance", c(mcf.control_order), methods=["POST"]),
            Route("/_sim/fba-inventory", c(inv.control), methods=["GET", "POST"]),
            Route("/_sim/listings", c(lst.control_listings), methods=["GET", "POST"]),
            Route("/_sim/listings/item", c(lst.control_listing), methods=["GET"]),
            Route("/_sim/listings/history", c(lst.control_history), methods=["GET"]),
            Route("/_sim/listings/settings", c(lst.control_settings), methods=["GET", "POST"]),
            Route("/_sim/feeds", c(fds.control_feeds), methods=["GET"]),
            Route("/_sim/feeds/{feed_id}", c(fds.control_feed), methods=["GET"]),
            Route("/_sim/feeds/{feed_id}/advance", c(fds.control_feed), methods=["POST"]),
            Route("/_sim/reports", c(rep.control_reports), methods=["GET"]),
            Route("/_sim/reports/settlement", c(rep.control_settlement), methods=["POST"]),
            Route("/_sim/reports/settings", c(rep.control_settings), methods=["GET", "POST"]),
            Route("/_sim/reports/{report_id}", c(rep.control_report), methods=["GET"]),
            Route("/_sim/reports/{report_id}/advance", c(rep.control_report), methods=["POST"]),
            Route("/_sim/generate", c(self.generate), methods=["POST"]),
            Route("/_sim/faults", c(self.faults), methods=["GET", "POST", "DELETE"]),
            Route("/_sim/faults/{rule_id:int}", c(self.faults), methods=["DELETE"]),
            Route("/_sim/rate-limits", c(self.rate_limits), methods=["GET", "POST"]),
            Route("/_sim/calls", c(self.calls), methods=["GET"]),
            Route("/_sim/calls/reset", c(self.calls), methods=["POST"]),
            Route("/_sim/tokens/expire", c(self.expire_tokens), methods=["POST"]),
            Route("/_sim/pagination-tokens/expire", c(self.expire_pagination_tokens), methods=["POST"]),
            Route("/_sim/settings", c(self.settings), methods=["GET", "POST"]),
            Route("/_sim/live", c(self.live), methods=["POST", "DELETE"]),
        ]
        app = Starlette(
            routes=routes,
            lifespan=lifespan,
            exception_handlers={404: self.http_error, 405: self.http_error},
        )
        app.state.sim = self
        return app


def create_app() -> Starlette:
    """A fresh simulator (empty state, Amazon's default usage plans)."""
    return SpApiSimulator().build()
