"""The SP-API simulator as a Starlette app: `create_app()`.

Follows Amazon's documented contract for the operations we use (LWA token exchange; Orders v0 getOrders,
getOrder, getOrderItems, getOrderAddress): response shapes from the official model's examples, the
`{"errors": [...]}` body on every non-2xx answer, `x-amzn-RateLimit-Limit` and `x-amzn-RequestId` headers,
per-seller token-bucket usage plans with 429 QuotaExceeded, and getOrders' parameter rules. A control API
under /_sim/ seeds sellers and orders and injects faults.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulators.common import FaultRule, json_response
from simulators.spapi import generator
from simulators.spapi.state import EPOCH, Seller, State, StoredOrder, format_time, parse_time

Handler = Callable[[Request, Seller], Awaitable[tuple[int, Any]]]
ADDRESS_STATUSES = {"Unshipped", "PartiallyShipped", "Shipped", "InvoiceUnconfirmed"}
ERROR_BODIES = {
    500: ("InternalFailure", "We encountered an internal error. Please try again."),
    503: ("ServiceUnavailable", "Service temporarily unavailable. Please try again."),
    502: ("BadGateway", "Bad gateway."),
    504: ("GatewayTimeout", "Gateway timeout."),
}


def errors(code: str, message: str, details: str = "") -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message, "details": details}]}


class InvalidInput(Exception):
    pass


def create_app() -> Starlette:
    state = State()
    live_tasks: dict[str, asyncio.Task[None]] = {}

    # --- plumbing -------------------------------------------------------------------------------------

    def headers(operation: str) -> dict[str, str]:
        return {"x-amzn-RequestId": str(uuid.uuid4()), "x-amzn-RateLimit-Limit": state.rate_header(operation)}

    def respond(operation: str, status: int, body: Any) -> Response:
        state.calls[(operation, status)] += 1
        return json_response(body, status, headers(operation))

    async def fault_response(operation: str, rule: FaultRule, seller: str) -> Response | None:
        if rule.kind == "latency":
            await asyncio.sleep(rule.ms / 1000)
            return None
        if rule.kind == "timeout":
            await asyncio.sleep(rule.seconds)
            return respond(operation, 504, errors("GatewayTimeout", "Gateway timeout."))
        if rule.kind == "throttle":
            return respond(
                operation, 429, errors("QuotaExceeded", "You exceeded your quota for the requested resource.")
            )
        if rule.kind == "repeat_page" and operation == "getOrders" and seller in state.last_orders_response:
            status, body = state.last_orders_response[seller]
            return respond(operation, status, body)
        if rule.kind == "error":
            code, message = ERROR_BODIES.get(rule.status, ("InternalFailure", "Simulated failure."))
            if 400 <= rule.status < 500:
                code, message = "InvalidInput", "Simulated client error."
            return respond(operation, rule.status, errors(code, message))
        return None

    def api(operation: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            token = request.headers.get("x-amz-access-token", "")
            grant = state.tokens.get(token)
            if grant is None or grant[0] not in state.sellers:
                detail = "The access token you provided is revoked, malformed or invalid."
                return respond(
                    operation, 403, errors("Unauthorized", "Access to requested resource is denied.", detail)
                )
            if grant[1] < time.time():
                detail = "The access token you provided has expired."
                return respond(
                    operation, 403, errors("Unauthorized", "Access to requested resource is denied.", detail)
                )
            seller = state.sellers[grant[0]]
            rule = state.faults.match(operation)
            if rule is not None:
                faulted = await fault_response(operation, rule, seller.selling_partner_id)
                if faulted is not None:
                    return faulted
            if not state.take(seller.selling_partner_id, operation):
                return respond(
                    operation, 429, errors("QuotaExceeded", "You exceeded your quota for the requested resource.")
                )
            try:
                status, body = await handler(request, seller)
            except InvalidInput as exc:
                status, body = 400, errors("InvalidInput", str(exc))
            if operation == "getOrders":
                state.last_orders_response[seller.selling_partner_id] = (status, body)
            return respond(operation, status, body)

        return endpoint

    # --- LWA ------------------------------------------------------------------------------------------

    async def lwa_token(request: Request) -> Response:
        operation = "lwaToken"
        rule = state.faults.match(operation)
        if rule is not None:
            faulted = await fault_response(operation, rule, "")
            if faulted is not None:
                return faulted
        # LWA takes application/x-www-form-urlencoded.
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        if form.get("grant_type") != "refresh_token":
            answer: dict[str, Any] = {
                "error": "unsupported_grant_type",
                "error_description": "Only refresh_token is simulated",
            }
            return respond(operation, 400, answer)
        seller = state.by_refresh_token.get(str(form.get("refresh_token", "")))
        if seller is None:
            answer = {
                "error": "invalid_grant",
                "error_description": "The request has an invalid grant parameter : refresh_token",
            }
            return respond(operation, 400, answer)
        if (form.get("client_id"), form.get("client_secret")) != (seller.client_id, seller.client_secret):
            return respond(
                operation, 401, {"error": "invalid_client", "error_description": "Client authentication failed"}
            )
        answer = {
            "access_token": state.issue_token(seller),
            "refresh_token": seller.refresh_token,
            "token_type": "bearer",
            "expires_in": state.token_ttl_seconds,
        }
        return respond(operation, 200, answer)

    # --- Orders v0 ------------------------------------------------------------------------------------

    def multi(request: Request, name: str) -> list[str]:
        values: list[str] = []
        for raw in request.query_params.getlist(name):
            values.extend(v.strip() for v in raw.split(",") if v.strip())
        return values

    def sign(payload: dict[str, Any]) -> str:
        raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        mac = hmac.new(state.token_secret, raw, hashlib.sha256).hexdigest()[:16]
        return base64.urlsafe_b64encode(raw).decode().rstrip("=") + "." + mac

    def unsign(token: str) -> dict[str, Any]:
        try:
            encoded, mac = token.rsplit(".", 1)
            raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            expected = hmac.new(state.token_secret, raw, hashlib.sha256).hexdigest()[:16]
            if not hmac.compare_digest(mac, expected):
                raise ValueError("bad signature")
            return dict(json.loads(raw))
        except (ValueError, TypeError) as exc:
            raise InvalidInput("Invalid NextToken") from exc

    def window(request: Request) -> dict[str, Any]:
        q = request.query_params
        created, updated = q.get("CreatedAfter"), q.get("LastUpdatedAfter")
        if created and updated:
            raise InvalidInput("Either CreatedAfter or LastUpdatedAfter can be set, not both.")
        if not created and not updated:
            raise InvalidInput("Either the CreatedAfter parameter or the LastUpdatedAfter parameter is required.")
        if updated and (q.get("CreatedBefore")):
            raise InvalidInput("CreatedBefore cannot be set when LastUpdatedAfter is set.")
        if created and q.get("LastUpdatedBefore"):
            raise InvalidInput("LastUpdatedBefore cannot be set when CreatedAfter is set.")
        mode, prefix = ("created", "Created") if created else ("updated", "LastUpdated")
        start = parse_time(q.get(f"{prefix}After"))
        if start is None:
            raise InvalidInput(f"{prefix}After is not a valid ISO 8601 date-time.")
        latest = datetime.now(UTC) - timedelta(minutes=2)
        before_raw = q.get(f"{prefix}Before")
        end = parse_time(before_raw) if before_raw else latest
        if end is None:
            raise InvalidInput(f"{prefix}Before is not a valid ISO 8601 date-time.")
        if end < start or end > latest + timedelta(seconds=1):
            raise InvalidInput(
                f"{prefix}Before must be equal to or after the {prefix}After date and at least two minutes before "
                "current time."
            )
        try:
            size = int(q.get("MaxResultsPerPage", "100"))
        except ValueError:
            raise InvalidInput("MaxResultsPerPage must be an integer.") from None
        if not 1 <= size <= 100:
            raise InvalidInput("MaxResultsPerPage must be between 1 and 100.")
        marketplaces = multi(request, "MarketplaceIds")
        if not marketplaces:
            raise InvalidInput("MarketplaceIds is required.")
        if len(marketplaces) > 50:
            raise InvalidInput("MarketplaceIds can contain at most 50 values.")
        return {
            "mode": mode,
            "start": format_time(start),
            "end": format_time(end),
            "markets": marketplaces,
            "statuses": multi(request, "OrderStatuses"),
            "channels": multi(request, "FulfillmentChannels"),
            "ids": multi(request, "AmazonOrderIds"),
            "size": size,
            "after": None,
        }

    async def get_orders(request: Request, seller: Seller) -> tuple[int, Any]:
        token = request.query_params.get("NextToken")
        if token:
            query = unsign(token)
            if query.get("seller") != seller.selling_partner_id:
                raise InvalidInput("Invalid NextToken")
        else:
            query = window(request) | {"seller": seller.selling_partner_id}
        start, end = parse_time(query["start"]) or EPOCH, parse_time(query["end"]) or EPOCH
        after = (parse_time(query["after"][0]) or EPOCH, query["after"][1]) if query["after"] else None
        visible_until = datetime.now(UTC) - timedelta(seconds=state.visibility_delay_seconds)
        markets, statuses, channels = set(query["markets"]), set(query["statuses"]), set(query["channels"])
        ids = set(query["ids"])
        page: list[dict[str, Any]] = []
        last: tuple[datetime, str] | None = None
        more = False
        for moment, stored in state.scan(
            seller.selling_partner_id, query["mode"], start=start, end=end, after_key=after
        ):
            if stored.updated > visible_until or stored.marketplace_id not in markets:
                continue
            order = stored.order
            if statuses and order.get("OrderStatus") not in statuses:
                continue
            if channels and order.get("FulfillmentChannel") not in channels:
                continue
            if ids and stored.key not in ids:
                continue
            if len(page) == query["size"]:
                more = True
                break
            page.append(order)
            last = (moment, stored.key)
        payload: dict[str, Any] = {"Orders": page}
        if more and last is not None:
            payload["NextToken"] = sign(query | {"after": [format_time(last[0]), last[1]]})
        payload["LastUpdatedBefore" if query["mode"] == "updated" else "CreatedBefore"] = query["end"]
        return 200, {"payload": payload}

    def own_order(request: Request, seller: Seller) -> StoredOrder | None:
        stored = state.orders.get(request.path_params["order_id"])
        return stored if stored is not None and stored.seller == seller.selling_partner_id else None

    def not_found(order_id: str) -> tuple[int, Any]:
        return 404, errors("NotFound", f"Order {order_id} not found", "")

    async def get_order(request: Request, seller: Seller) -> tuple[int, Any]:
        stored = own_order(request, seller)
        if stored is None:
            return not_found(request.path_params["order_id"])
        return 200, {"payload": stored.order}

    async def get_order_items(request: Request, seller: Seller) -> tuple[int, Any]:
        stored = own_order(request, seller)
        if stored is None:
            return not_found(request.path_params["order_id"])
        offset = 0
        token = request.query_params.get("NextToken")
        if token:
            query = unsign(token)
            if query.get("order") != stored.key:
                raise InvalidInput("Invalid NextToken")
            offset = int(query["offset"])
        size = state.items_page_size
        payload: dict[str, Any] = {"AmazonOrderId": stored.key, "OrderItems": stored.items[offset : offset + size]}
        if offset + size < len(stored.items):
            payload["NextToken"] = sign({"order": stored.key, "offset": offset + size})
        return 200, {"payload": payload}

    async def get_order_address(request: Request, seller: Seller) -> tuple[int, Any]:
        stored = own_order(request, seller)
        if stored is None:
            return not_found(request.path_params["order_id"])
        payload: dict[str, Any] = {"AmazonOrderId": stored.key}
        if stored.address is not None and stored.order.get("OrderStatus") in ADDRESS_STATUSES | {"Canceled"}:
            payload["ShippingAddress"] = stored.address
        return 200, {"payload": payload}

    # --- control API ----------------------------------------------------------------------------------

    async def body(request: Request) -> dict[str, Any]:
        if not (await request.body()):
            return {}
        data = await request.json()
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        return data

    def control(fn: Callable[[Request], Awaitable[Any]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                result = await fn(request)
            except (ValueError, KeyError, TypeError) as exc:
                return json_response({"error": f"{exc.__class__.__name__}: {exc}"}, 400)
            if isinstance(result, Response):
                return result
            return json_response(result if result is not None else {"ok": True})

        return endpoint

    async def reset(request: Request) -> Any:
        for task in live_tasks.values():
            task.cancel()
        live_tasks.clear()
        fresh = State()
        for name in fresh.__dataclass_fields__:
            setattr(state, name, getattr(fresh, name))
        return None

    async def health(request: Request) -> Any:
        return {"ok": True, "sellers": len(state.sellers), "orders": len(state.orders)}

    async def sellers(request: Request) -> Any:
        data = await body(request)
        seller = Seller(
            selling_partner_id=str(data["selling_partner_id"]),
            refresh_token=str(data["refresh_token"]),
            client_id=str(data["client_id"]),
            client_secret=str(data["client_secret"]),
            marketplace_ids=[str(m) for m in data.get("marketplace_ids") or []],
        )
        state.add_seller(seller)
        return {"selling_partner_id": seller.selling_partner_id}

    def seller_of(data: dict[str, Any]) -> Seller:
        seller = state.sellers.get(str(data.get("seller", "")))
        if seller is None:
            raise ValueError(f"unknown seller {data.get('seller')!r}: register it with POST /_sim/sellers first")
        return seller

    def store(
        seller: Seller, order: dict[str, Any], items: list[Any], address: dict[str, Any] | None, raw: bool
    ) -> str:
        now = datetime.now(UTC)
        if not raw:
            order = dict(order)
            order.setdefault(
                "AmazonOrderId",
                generator.new_order_id(
                    random.Random(),
                    seller.marketplace_ids[0]
                    if seller.marketplace_ids and seller.marketplace_ids[0] in generator.MARKETPLACES
                    else "ATVPDKIKX0DER",
                    state.orders,
                ),
            )
            order.setdefault("PurchaseDate", format_time(now))
            order.setdefault("LastUpdateDate", order["PurchaseDate"])
            order.setdefault("OrderStatus", "Unshipped")
            order.setdefault("FulfillmentChannel", "MFN")
            order.setdefault("MarketplaceId", seller.marketplace_ids[0] if seller.marketplace_ids else "")
            items = [dict(item) for item in items]
            for n, item in enumerate(items, start=1):
                item.setdefault("OrderItemId", f"{abs(hash((order['AmazonOrderId'], n))) % 10**14:014d}")
                item.setdefault("QuantityOrdered", 1)
                item.setdefault("QuantityShipped", 0)
        key = order.get("AmazonOrderId") or order.get("_key")
        if not isinstance(key, str) or not key:
            raise ValueError("every order needs an AmazonOrderId (or, with raw=true, a _key)")
        order.pop("_key", None)
        updated = parse_time(order.get("LastUpdateDate")) or now
        created = parse_time(order.get("PurchaseDate")) or updated
        marketplace = order.get("MarketplaceId") if isinstance(order.get("MarketplaceId"), str) else None
        state.put_order(
            StoredOrder(
                key=key,
                seller=seller.selling_partner_id,
                order=order,
                items=items,
                address=address,
                updated=updated,
                created=created,
                marketplace_id=marketplace or (seller.marketplace_ids[0] if seller.marketplace_ids else ""),
            )
        )
        return key

    async def orders(request: Request) -> Any:
        data = await body(request)
        seller = seller_of(data)
        raw = bool(data.get("raw", False))
        keys = [
            store(seller, entry["order"], list(entry.get("items") or []), entry.get("address"), raw)
            for entry in data.get("orders", [])
        ]
        return {"order_ids": keys}

    async def order_detail(request: Request) -> Any:
        stored = state.orders.get(request.path_params["order_id"])
        if stored is None:
            return json_response({"error": "not found"}, 404)
        if request.method == "GET":
            return {"order": stored.order, "items": stored.items, "address": stored.address, "seller": stored.seller}
        data = await body(request)
        items = data.pop("items", None)
        address = data.pop("address", None)
        order = {**stored.order, **data}
        if "LastUpdateDate" not in data:
            order["LastUpdateDate"] = format_time(datetime.now(UTC))
        seller = state.sellers[stored.seller]
        store(seller, order, items if items is not None else stored.items, address or stored.address, raw=True)
        return {"order": order}

    async def generate(request: Request) -> Any:
        data = await body(request)
        seller = seller_of(data)
        marketplace_id = str(
            data.get("marketplace_id") or (seller.marketplace_ids[0] if seller.marketplace_ids else "")
        )
        now = datetime.now(UTC)
        start = parse_time(data.get("start")) or now - timedelta(days=7)
        end = parse_time(data.get("end")) or now - timedelta(minutes=5)
        created = generator.generate(
            seed=data.get("seed"),
            count=int(data.get("count", 10)),
            marketplace_id=marketplace_id,
            skus=[str(s) for s in data.get("skus") or ["SKU-1"]],
            start=start,
            end=end,
            statuses=data.get("statuses"),
            channels=data.get("fulfillment_channels"),
            taken=state.orders,
        )
        ids = [store(seller, order, items, address, raw=True) for order, items, address in created]
        return {"order_ids": ids, "count": len(ids)}

    async def faults(request: Request) -> Any:
        if request.method == "DELETE":
            state.faults.clear()
            return None
        if request.method == "POST":
            data = await body(request)
            rule = state.faults.add(data)
            return rule.as_dict()
        return {"faults": [rule.as_dict() for rule in state.faults.rules]}

    async def rate_limits(request: Request) -> Any:
        data = await body(request)
        if "enabled" in data:
            state.limiting = bool(data["enabled"])
        if data.get("refill"):
            state.buckets.clear()
        if "operation" in data:
            operation = str(data["operation"])
            rate, burst = state.limits.get(operation, (1.0, 1))
            state.limits[operation] = (float(data.get("rate", rate)), int(data.get("burst", burst)))
            for key in [k for k in state.buckets if k[1] == operation]:
                del state.buckets[key]
        return {
            "enabled": state.limiting,
            "limits": {op: {"rate": r, "burst": b} for op, (r, b) in state.limits.items()},
        }

    async def calls(request: Request) -> Any:
        if request.method == "POST":
            state.calls.clear()
            return None
        result: dict[str, dict[str, int]] = {}
        for (operation, status), count in sorted(state.calls.items()):
            result.setdefault(operation, {})[str(status)] = count
        return result

    async def expire_tokens(request: Request) -> Any:
        state.expire_tokens()
        return None

    async def settings(request: Request) -> Any:
        data = await body(request)
        if "visibility_delay_seconds" in data:
            state.visibility_delay_seconds = float(data["visibility_delay_seconds"])
        if "items_page_size" in data:
            state.items_page_size = max(1, int(data["items_page_size"]))
        if "rng_seed" in data:
            state.faults.seed(int(data["rng_seed"]))
        if "token_ttl_seconds" in data:
            state.token_ttl_seconds = int(data["token_ttl_seconds"])
        return {
            "visibility_delay_seconds": state.visibility_delay_seconds,
            "items_page_size": state.items_page_size,
            "token_ttl_seconds": state.token_ttl_seconds,
        }

    async def live(request: Request) -> Any:
        if request.method == "DELETE":
            for task in live_tasks.values():
                task.cancel()
            live_tasks.clear()
            return None
        data = await body(request)
        seller = seller_of(data)
        marketplace_id = str(data.get("marketplace_id") or seller.marketplace_ids[0])
        skus = [str(s) for s in data.get("skus") or ["SKU-1"]]
        every = max(1.0, float(data.get("every_seconds", 30)))
        key = f"{seller.selling_partner_id}:{marketplace_id}"
        if key in live_tasks:
            live_tasks.pop(key).cancel()
        live_tasks[key] = asyncio.create_task(live_loop(seller, marketplace_id, skus, every))
        return {"live": sorted(live_tasks)}

    async def live_loop(seller: Seller, marketplace_id: str, skus: list[str], every: float) -> None:
        rng = random.Random()
        while True:
            await asyncio.sleep(every)
            now = datetime.now(UTC).replace(microsecond=0)
            [(order, items, address)] = generator.generate(
                seed=rng.randrange(10**9), count=1, marketplace_id=marketplace_id, skus=skus, start=now, end=now,
                statuses={"Unshipped": 0.8, "Pending": 0.2}, taken=state.orders,
            )  # fmt: skip
            store(seller, order, items, address, raw=True)
            waiting = [
                o for o in state.orders.values()
                if o.seller == seller.selling_partner_id and o.order.get("OrderStatus") == "Unshipped"
            ]  # fmt: skip
            if waiting:
                shipped = rng.choice(waiting)
                shipped_items = [{**item, "QuantityShipped": item.get("QuantityOrdered", 1)} for item in shipped.items]
                order = {**shipped.order, "OrderStatus": "Shipped", "LastUpdateDate": format_time(now)}
                order["NumberOfItemsShipped"] = sum(int(i.get("QuantityOrdered", 1)) for i in shipped_items)
                order["NumberOfItemsUnshipped"] = 0
                store(seller, order, shipped_items, shipped.address, raw=True)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        for task in live_tasks.values():
            task.cancel()

    routes = [
        Route("/auth/o2/token", lwa_token, methods=["POST"]),
        Route("/orders/v0/orders", api("getOrders", get_orders), methods=["GET"]),
        Route("/orders/v0/orders/{order_id}", api("getOrder", get_order), methods=["GET"]),
        Route("/orders/v0/orders/{order_id}/orderItems", api("getOrderItems", get_order_items), methods=["GET"]),
        Route("/orders/v0/orders/{order_id}/address", api("getOrderAddress", get_order_address), methods=["GET"]),
        Route("/_sim/reset", control(reset), methods=["POST"]),
        Route("/_sim/health", control(health), methods=["GET"]),
        Route("/_sim/sellers", control(sellers), methods=["POST"]),
        Route("/_sim/orders", control(orders), methods=["POST"]),
        Route("/_sim/orders/{order_id}", control(order_detail), methods=["GET", "PATCH"]),
        Route("/_sim/generate", control(generate), methods=["POST"]),
        Route("/_sim/faults", control(faults), methods=["GET", "POST", "DELETE"]),
        Route("/_sim/rate-limits", control(rate_limits), methods=["POST"]),
        Route("/_sim/calls", control(calls), methods=["GET"]),
        Route("/_sim/calls/reset", control(calls), methods=["POST"]),
        Route("/_sim/tokens/expire", control(expire_tokens), methods=["POST"]),
        Route("/_sim/settings", control(settings), methods=["POST"]),
        Route("/_sim/live", control(live), methods=["POST", "DELETE"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.sim = state
    return app
