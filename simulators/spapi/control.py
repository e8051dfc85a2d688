"""A typed client for the SP-API simulator's control API (`/_sim/`), for tests, the demo loader and benchmarks.

with SpApiSimulatorControl("http://127.0.0.1:8101") as sim:
    sim.reset()
    sim.add_seller(selling_partner_id="A1...", refresh_token="Atzr|...", client_id="amzn1...",
                   client_secret="...", marketplace_ids=["A1F83G8C2ARO7P"])
    ids = sim.generate(seller="A1...", marketplace_id="A1F83G8C2ARO7P", count=500, skus=["SKU-1"], seed=7)
    sim.add_fault(operation="getOrders", kind="throttle", times=1, after=1)
    sim.set_fba_inventory("A1...", "SKU-1", 20)
    sim.advance_fulfillment_order("WEB-00001001", "Processing")
    sim.add_settlement_report("A1...", settlement_text)  # a DONE GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2
    sim.set_listings("A1...", "A1F83G8C2ARO7P", {"SKU-1": 5})  # merchant-fulfilled quantities
    sim.listing_history("A1...", "SKU-1")  # accepted patchListingsItem calls and JSON_LISTINGS_FEED messages
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SimulatorControlError(RuntimeError):
    def __init__(self, method: str, path: str, status: int, text: str) -> None:
        super().__init__(f"simulator {method} {path}: HTTP {status} {text[:500]}")
        self.status = status


class SpApiSimulatorControl:
    def __init__(self, base_url: str, *, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> SpApiSimulatorControl:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _call(
        self, method: str, path: str, body: dict[str, Any] | None = None, params: dict[str, str] | None = None
    ) -> Any:
        response = self.http.request(method, path, json=body, params=params)
        if response.status_code >= 400:
            raise SimulatorControlError(method, path, response.status_code, response.text)
        return response.json()

    # --- state ------------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Everything back to empty and Amazon's defaults (also stops live mode)."""
        self._call("POST", "/_sim/reset")

    def health(self) -> dict[str, Any]:
        return dict(self._call("GET", "/_sim/health"))

    def add_seller(
        self,
        *,
        selling_partner_id: str,
        refresh_token: str,
        client_id: str,
        client_secret: str,
        marketplace_ids: list[str],
        restricted_roles: Sequence[str] | None = None,
    ) -> None:
        """Register (or update) a seller and the LWA credentials that get it an access token.

        restricted_roles: the Orders 2026-01-01 PII roles our app holds for this seller (DIRECT_TO_CONSUMER_DELIVERY,
        TAX_INVOICING, TAX_REMITTANCE); None = all three, [] = none (no recipient PII, no buyer name or email).
        """
        body: dict[str, Any] = {
            "selling_partner_id": selling_partner_id,
            "refresh_token": refresh_token,
            "client_id": client_id,
            "client_secret": client_secret,
            "marketplace_ids": marketplace_ids,
        }
        if restricted_roles is not None:
            body["restricted_roles"] = list(restricted_roles)
        self._call("POST", "/_sim/sellers", body)

    def sellers(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/_sim/sellers")["sellers"])

    # --- orders -----------------------------------------------------------------------------------------

    def upsert_orders(
        self, *, seller: str, orders: list[dict[str, Any]], raw: bool = False, notify: bool | None = None
    ) -> list[str]:
        """Each entry: `{"order": {...Order...}, "items": [...OrderItem...], "address": {...Address...}}`.

        raw=False fills realistic defaults for missing fields; raw=True stores exactly what is given (an
        AmazonOrderId or `_key` is still needed). Returns the AmazonOrderIds (or keys). notify: send ORDER_CHANGE
        to subscribers (None: unless more than 50 orders, a bulk seed of history).
        """
        body: dict[str, Any] = {"seller": seller, "orders": orders, "raw": raw}
        if notify is not None:
            body["notify"] = notify
        return [str(key) for key in self._call("POST", "/_sim/orders", body)["order_ids"]]

    def patch_order(self, order_id: str, *, items: list[dict[str, Any]] | None = None, **fields: Any) -> dict[str, Any]:
        """Merge `fields` into the order (LastUpdateDate becomes now unless given); `items` replaces the items."""
        body: dict[str, Any] = dict(fields)
        if items is not None:
            body["items"] = items
        return dict(self._call("PATCH", f"/_sim/orders/{order_id}", body))

    def hide_order(self, order_id: str, *, hidden: bool = True) -> list[str]:
        """Leave an order out of getOrders and searchOrders (getOrder and the order reports still have it), as when
        Amazon's order search misses one; `hidden=False` finds it again. Returns the hidden order ids."""
        path = f"/_sim/orders/{quote(order_id, safe='')}/hide"
        return list(self._call("POST" if hidden else "DELETE", path)["hidden_from_search"])

    # --- Finances 2024-06-19 -----------------------------------------------------------------------------

    def add_finance_transactions(self, seller: str, transactions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Seed listTransactions with Transaction objects as given (each needs a postedDate)."""
        body = {"seller": seller, "transactions": transactions}
        return list(self._call("POST", "/_sim/finances/transactions", body)["transactions"])

    def add_order_transaction(
        self,
        seller: str,
        order_id: str,
        *,
        status: str = "DEFERRED",
        posted: datetime | str | None = None,
        breakdowns: bool = True,
        fee_rate: str = "0.15",
        fba_fee_per_unit: str = "2.70",
        deferral_reason: str = "DD7",
        transaction_id: str | None = None,
    ) -> dict[str, Any]:
        """A Shipment transaction for a stored order (DEFERRED by default), with breakdowns from its items (Sales,
        Tax, Expenses: commission at `fee_rate`, FBA fees per unit for AFN) or none (`breakdowns=False`).
        Returns the Transaction as listTransactions serves it."""
        body: dict[str, Any] = {
            "seller": seller, "order_id": order_id, "status": status, "breakdowns": breakdowns, "fee_rate": fee_rate,
            "fba_fee_per_unit": fba_fee_per_unit, "deferral_reason": deferral_reason,
        }  # fmt: skip
        if posted is not None:
            body["posted"] = posted if isinstance(posted, str) else _iso(posted)
        if transaction_id:
            body["transaction_id"] = transaction_id
        return dict(self._call("POST", "/_sim/finances/orders", body))

    def release_transaction(self, transaction_id: str) -> dict[str, Any]:
        """A DEFERRED transaction becomes DEFERRED_RELEASED."""
        return dict(self._call("POST", f"/_sim/finances/transactions/{quote(transaction_id, safe='')}/release"))

    def finance_transactions(self, *, seller: str | None = None) -> list[dict[str, Any]]:
        params = {"seller": seller} if seller else None
        return list(self._call("GET", "/_sim/finances/transactions", params=params)["transactions"])

    def finances_settings(self, *, page_size: int | None = None) -> dict[str, Any]:
        body = {"finances_page_size": page_size} if page_size is not None else {}
        return dict(self._call("POST", "/_sim/finances/settings", body))

    def get_order(self, order_id: str) -> dict[str, Any]:
        """`{"order", "items", "address"}` as served, plus `stored_order`/`stored_items`, `seller`, `raw`."""
        return dict(self._call("GET", f"/_sim/orders/{order_id}"))

    def generate(
        self,
        *,
        seller: str,
        marketplace_id: str,
        count: int,
        skus: list[str],
        start: str | None = None,
        end: str | None = None,
        seed: int | None = None,
        statuses: dict[str, float] | None = None,
        fulfillment_channels: dict[str, float] | None = None,
        notify: bool | None = None,
    ) -> list[str]:
        """Realistic random orders purchased between start and end (ISO 8601; default last 7 days to now − 5 min).
        notify: send ORDER_CHANGE to subscribers (None: unless more than 50 orders, a bulk seed of history)."""
        body: dict[str, Any] = {"seller": seller, "marketplace_id": marketplace_id, "count": count, "skus": skus}
        optional = {
            "start": start,
            "end": end,
            "seed": seed,
            "statuses": statuses,
            "fulfillment_channels": fulfillment_channels,
            "notify": notify,
        }
        body.update({key: value for key, value in optional.items() if value is not None})
        return [str(key) for key in self._call("POST", "/_sim/generate", body)["order_ids"]]

    # --- faults, usage plans, settings ------------------------------------------------------------------

    def add_fault(
        self,
        *,
        operation: str = "*",
        kind: str = "error",
        status: int = 500,
        ms: int = 0,
        seconds: float = 30.0,
        times: int | None = None,
        probability: float = 1.0,
        after: int = 0,
    ) -> dict[str, Any]:
        """operation: getOrders|getOrder|getOrderItems|getOrderAddress|confirmShipment|createFulfillmentOrder|
        getFulfillmentOrder|cancelFulfillmentOrder|getFulfillmentPreview|listAllFulfillmentOrders|createReport|
        getReports|getReport|cancelReport|getReportDocument|reportDocumentDownload (the pre-signed URL)|
        getListingsItem|patchListingsItem|createFeedDocument|createFeed|getFeeds|getFeed|cancelFeed|getFeedDocument|
        feedDocumentUpload|feedDocumentDownload (the pre-signed URLs)|getInventorySummaries|listTransactions|lwaToken|*;
        kind: error|throttle|latency|timeout|repeat_page|truncate (half a document download, ended cleanly);
        times=None applies forever. Returns the rule (with id).
        """
        rule = {
            "operation": operation,
            "kind": kind,
            "status": status,
            "ms": ms,
            "seconds": seconds,
            "times": times,
            "probability": probability,
            "after": after,
        }
        return dict(self._call("POST", "/_sim/faults", rule))

    def faults(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/_sim/faults")["faults"])

    def remove_fault(self, rule_id: int) -> None:
        self._call("DELETE", f"/_sim/faults/{rule_id}")

    def clear_faults(self) -> None:
        self._call("DELETE", "/_sim/faults")

    def set_rate_limit(self, operation: str, *, rate: float, burst: int) -> dict[str, Any]:
        """Change one operation's usage plan (its buckets start again, full)."""
        return dict(self._call("POST", "/_sim/rate-limits", {"operation": operation, "rate": rate, "burst": burst}))

    def set_rate_limiting(self, enabled: bool) -> dict[str, Any]:
        return dict(self._call("POST", "/_sim/rate-limits", {"enabled": enabled}))

    def refill(self) -> dict[str, Any]:
        """Fill every token bucket up to its burst."""
        return dict(self._call("POST", "/_sim/rate-limits", {"refill": True}))

    def rate_limits(self) -> dict[str, Any]:
        """`{"enabled": bool, "limits": {operation: {"rate", "burst"}}}`."""
        return dict(self._call("GET", "/_sim/rate-limits"))

    def calls(self) -> dict[str, dict[str, int]]:
        """Calls per operation by HTTP status, e.g. `{"getOrders": {"200": 5, "429": 1}}`."""
        return {
            op: {str(k): int(v) for k, v in counts.items()} for op, counts in self._call("GET", "/_sim/calls").items()
        }

    def reset_calls(self) -> None:
        self._call("POST", "/_sim/calls/reset")

    def expire_tokens(self) -> None:
        """Every access token issued so far expires now (clients must go back to LWA)."""
        self._call("POST", "/_sim/tokens/expire")

    def expire_pagination_tokens(self) -> None:
        """Every searchOrders paginationToken given so far is expired (as if its 24 hours had passed)."""
        self._call("POST", "/_sim/pagination-tokens/expire")

    def settings(
        self,
        *,
        visibility_delay_seconds: float | None = None,
        items_page_size: int | None = None,
        rng_seed: int | None = None,
        token_ttl_seconds: int | None = None,
        strict_inventory: bool | None = None,
        auto_advance_seconds: float | None = None,
        fulfillment_page_size: int | None = None,
        pagination_token_ttl_seconds: float | None = None,
    ) -> dict[str, Any]:
        """Change the given settings; returns all of them.

        strict_inventory: unknown or out-of-stock SKUs are refused by createFulfillmentOrder and unfulfillable in
        getFulfillmentPreview. auto_advance_seconds: every open fulfillment order moves one step after that many
        seconds in its status (0 = off). fulfillment_page_size: listAllFulfillmentOrders page size.
        pagination_token_ttl_seconds: how long a searchOrders paginationToken stays valid (86400).
        Reports have their own: `report_settings(...)`.
        """
        values = {
            "visibility_delay_seconds": visibility_delay_seconds,
            "items_page_size": items_page_size,
            "rng_seed": rng_seed,
            "token_ttl_seconds": token_ttl_seconds,
            "strict_inventory": strict_inventory,
            "auto_advance_seconds": auto_advance_seconds,
            "fulfillment_page_size": fulfillment_page_size,
            "pagination_token_ttl_seconds": pagination_token_ttl_seconds,
        }
        return dict(self._call("POST", "/_sim/settings", {k: v for k, v in values.items() if v is not None}))

    # --- Fulfillment Outbound (MCF), FBA inventory and confirmShipment ----------------------------------

    def fulfillment_orders(self, *, seller: str | None = None) -> list[dict[str, Any]]:
        """Every fulfillment order (oldest first), each as `fulfillment_order` returns it."""
        params = {"seller": seller} if seller else None
        return list(self._call("GET", "/_sim/fulfillment-orders", params=params)["fulfillment_orders"])

    def fulfillment_order(self, seller_fulfillment_order_id: str, *, seller: str | None = None) -> dict[str, Any]:
        """getFulfillmentOrder's payload (`fulfillmentOrder`, `fulfillmentOrderItems`, `fulfillmentShipments`, …)
        plus `_sim`: `{"seller", "status", "request" (the create body), "reserved", "history"}`."""
        params = {"seller": seller} if seller else None
        path = f"/_sim/fulfillment-orders/{quote(seller_fulfillment_order_id, safe='')}"
        return dict(self._call("GET", path, params=params))

    def advance_fulfillment_order(
        self,
        seller_fulfillment_order_id: str,
        to: str,
        *,
        shipments: list[dict[str, Any]] | None = None,
        unfulfillable: list[dict[str, Any]] | None = None,
        seller: str | None = None,
    ) -> dict[str, Any]:
        """Move a fulfillment order to `to` (New → Received → Planning → Processing → Complete|CompletePartialled;
        Cancelled/Unfulfillable/Invalid from the early states). SimulatorControlError (400) for impossible moves.

        shipments: `[{"items": [{"sellerFulfillmentOrderItemId", "quantity"}], "carrier_code", "tracking_number",
        "status": "SHIPPED"|"PENDING"|"CANCELLED_BY_FULFILLER", "fulfillment_center_id"}]`, one package each
        (with Processing, Complete, CompletePartialled); without them Processing plans one shipment of everything
        and Complete ships whatever is left in one package with a generated tracking number.
        unfulfillable: `[{"sellerFulfillmentOrderItemId", "quantity"}]` (with Processing or CompletePartialled).
        Returns the order as `fulfillment_order` does.
        """
        body: dict[str, Any] = {"to": to}
        if shipments is not None:
            body["shipments"] = shipments
        if unfulfillable is not None:
            body["unfulfillable"] = unfulfillable
        params = {"seller": seller} if seller else None
        path = f"/_sim/fulfillment-orders/{quote(seller_fulfillment_order_id, safe='')}/advance"
        return dict(self._call("POST", path, body, params=params))

    def set_fba_inventory(
        self,
        seller: str,
        sku: str,
        fulfillable: int | None = None,
        *,
        inbound_working: int | None = None,
        inbound_shipped: int | None = None,
        inbound_receiving: int | None = None,
        pending_customer_order: int | None = None,
        pending_transshipment: int | None = None,
        fc_processing: int | None = None,
        unfulfillable: dict[str, int] | None = None,
        researching: dict[str, int] | None = None,
        product_name: str | None = None,
        asin: str | None = None,
        fnsku: str | None = None,
        condition: str | None = None,
        last_updated: str | datetime | None = None,
    ) -> dict[str, Any]:
        """Set a seller's FBA stock of one SKU; what is not given stays (units held by open MCF orders stay reserved).
        `fulfillable` is required for a new SKU. Returns `{"seller", "sku", "fulfillable", "reserved"}` (`reserved`:
        units held by open MCF orders); `fba_inventory(seller=, sku=)` shows everything.

        pending_customer_order / pending_transshipment / fc_processing: reserved units beyond those of MCF orders.
        unfulfillable: `{"customer_damaged", "warehouse_damaged", "distributor_damaged", "carrier_damaged",
        "defective", "expired"}` (any of them); researching: `{"short_term", "mid_term", "long_term"}`.
        lastUpdatedTime becomes now when a quantity other than the inbound ones changes (as on Amazon), or
        `last_updated` when given.
        """
        values: dict[str, Any] = {
            "fulfillable": fulfillable, "inbound_working": inbound_working, "inbound_shipped": inbound_shipped,
            "inbound_receiving": inbound_receiving, "pending_customer_order": pending_customer_order,
            "pending_transshipment": pending_transshipment, "fc_processing": fc_processing,
            "unfulfillable": unfulfillable, "researching": researching, "product_name": product_name, "asin": asin,
            "fnsku": fnsku, "condition": condition,
            "last_updated": last_updated.astimezone(UTC).isoformat() if isinstance(last_updated, datetime)
            else last_updated,
        }  # fmt: skip
        body = {"seller": seller, "sku": sku, **{k: v for k, v in values.items() if v is not None}}
        return dict(self._call("POST", "/_sim/fba-inventory", body))

    def fba_inventory(self, *, seller: str | None = None, sku: str | None = None) -> list[dict[str, Any]]:
        """FBA stock records (by seller, then SKU): `[{"seller", "sku", "fulfillable", "reserved", "inbound_working",
        "inbound_shipped", "inbound_receiving", "pending_customer_order", "pending_transshipment", "fc_processing",
        "unfulfillable": {...}, "researching": {...}, "asin", "fnsku", "product_name", "condition", "total",
        "last_updated"}]`."""
        params = {k: v for k, v in (("seller", seller), ("sku", sku)) if v}
        return list(self._call("GET", "/_sim/fba-inventory", params=params or None)["inventory"])

    def order_shipments(self, order_id: str) -> list[dict[str, Any]]:
        """The confirmShipment calls accepted for an order, in order: each is the request body (`marketplaceId`,
        `packageDetail`, …) plus `received_at` and `repeats` (identical repeats answered 204 without effect)."""
        return list(self._call("GET", f"/_sim/orders/{quote(order_id, safe='')}/shipments")["confirmations"])

    # --- Reports 2021-06-30 -------------------------------------------------------------------------------

    def add_settlement_report(
        self,
        seller: str,
        content: str | bytes | None = None,
        *,
        path: str | None = None,
        gzip: bool = True,
        created_time: str | datetime | None = None,
        marketplace_ids: list[str] | None = None,
        data_start_time: str | datetime | None = None,
        data_end_time: str | datetime | None = None,
        charset: str = "UTF-8",
    ) -> dict[str, Any]:
        """A DONE GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2 report of `seller` with its document. Returns
        `{"reportId", "reportDocumentId"}`.

        The document is `content` (text, encoded with `charset`; or bytes, sent as they are) or the file at `path`
        on the simulator's machine (served from disk, so a file of any size never goes through JSON; keep it in
        place while it may be downloaded). gzip=True serves it GZIP-compressed (`compressionAlgorithm: GZIP`;
        bytes or a file already in gzip format are served as given). created_time defaults to now; the data
        period (dataStartTime/dataEndTime) to the 14 days before it; marketplace_ids to the seller's.
        """
        body: dict[str, Any] = {"seller": seller, "gzip": gzip, "charset": charset}
        if isinstance(content, bytes):
            body["content_b64"] = base64.b64encode(content).decode()
        elif content is not None:
            body["content"] = content
        if path is not None:
            body["path"] = path
        for key, value in (
            ("created_time", created_time), ("data_start_time", data_start_time), ("data_end_time", data_end_time)
        ):  # fmt: skip
            if value is not None:
                body[key] = value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value
        if marketplace_ids is not None:
            body["marketplace_ids"] = marketplace_ids
        return dict(self._call("POST", "/_sim/reports/settlement", body))

    def report_settings(
        self,
        *,
        report_processing_seconds: float | None = None,
        document_url_ttl_seconds: int | None = None,
        document_base_url: str | None = None,
    ) -> dict[str, Any]:
        """Change the given report settings; returns all of them (reset restores the defaults).

        report_processing_seconds: a requested report is IN_QUEUE for the first half, IN_PROGRESS for the second
        half, then DONE (default 0 = DONE at once). document_url_ttl_seconds: lifetime of getReportDocument URLs
        (default 300). document_base_url: where those URLs point ("" = the address the call came in on).
        """
        values = {
            "report_processing_seconds": report_processing_seconds,
            "document_url_ttl_seconds": document_url_ttl_seconds,
            "document_base_url": document_base_url,
        }
        return dict(self._call("POST", "/_sim/reports/settings", {k: v for k, v in values.items() if v is not None}))

    def reports(self, *, seller: str | None = None) -> list[dict[str, Any]]:
        """Every report (oldest first), each as getReport shows it plus `_sim`: `{"seller", "requested",
        "reportOptions", "history", "document": {"reportDocumentId", "compressionAlgorithm", "contentType",
        "size", "path"} | None}`."""
        params = {"seller": seller} if seller else None
        return list(self._call("GET", "/_sim/reports", params=params)["reports"])

    def report(self, report_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/_sim/reports/{quote(report_id, safe='')}"))

    def advance_report(self, report_id: str, to: str, *, content: str | None = None) -> dict[str, Any]:
        """Move a requested report to `to`: IN_QUEUE → IN_PROGRESS | DONE | FATAL | CANCELLED, IN_PROGRESS →
        DONE | FATAL | CANCELLED (SimulatorControlError 400 otherwise). DONE makes its document (`content` as
        the document's text, else a small generated tab-separated file). Returns the report as `reports()`."""
        body: dict[str, Any] = {"to": to}
        if content is not None:
            body["content"] = content
        return dict(self._call("POST", f"/_sim/reports/{quote(report_id, safe='')}/advance", body))

    # --- Listings Items 2021-08-01 and Feeds 2021-06-30 (JSON_LISTINGS_FEED) ---------------------------------

    def set_listings(
        self,
        seller: str,
        marketplace_id: str,
        listings: Mapping[str, int | None],
        *,
        product_type: str = "PRODUCT",
    ) -> dict[str, int | None]:
        """Create or update listings of `seller` in `marketplace_id`: SKU → merchant-fulfilled quantity (None: listed
        without one). Not recorded in `listing_history` (only submissions are). Returns all the seller's listings
        there, as `listings()` does."""
        body = {"seller": seller, "marketplace_id": marketplace_id, "listings": dict(listings),
                "product_type": product_type}  # fmt: skip
        return dict(self._call("POST", "/_sim/listings", body)["listings"])

    def listings(self, seller: str, marketplace_id: str) -> dict[str, int | None]:
        """SKU → merchant-fulfilled quantity (None when the listing has none), for every listing of the seller in
        the marketplace, by SKU (feeds that are due are applied first)."""
        params = {"seller": seller, "marketplace_id": marketplace_id}
        return dict(self._call("GET", "/_sim/listings", params=params)["listings"])

    def listing(self, seller: str, marketplace_id: str, sku: str) -> dict[str, Any]:
        """One listing: `{"seller", "marketplace_id", "sku", "quantity", "product_type", "complete", "attributes",
        "created", "updated"}` (SimulatorControlError 404 when there is none). `complete` is False for an offer-only
        listing made by patching a SKU the simulator did not list."""
        params = {"seller": seller, "marketplace_id": marketplace_id, "sku": sku}
        return dict(self._call("GET", "/_sim/listings/item", params=params))

    def listing_history(self, seller: str, sku: str, *, marketplace_id: str | None = None) -> list[dict[str, Any]]:
        """Every accepted submission for the SKU, oldest first: `{"marketplace_id", "source": "patchListingsItem" |
        "JSON_LISTINGS_FEED", "submission_id" | "feed_id" + "message_id", "operation", "patches" | "attributes",
        "created", "deleted", "previous", "quantity", "at"}`."""
        params = {"seller": seller, "sku": sku, **({"marketplace_id": marketplace_id} if marketplace_id else {})}
        return list(self._call("GET", "/_sim/listings/history", params=params)["history"])

    def listing_settings(
        self,
        *,
        unknown_sku: str | None = None,
        feed_processing_seconds: float | None = None,
        feed_result_compression: str | None = None,
        max_feed_messages: int | None = None,
        max_feed_bytes: int | None = None,
        inventory_page_size: int | None = None,
        inventory_token_ttl_seconds: float | None = None,
    ) -> dict[str, Any]:
        """Change the given listings, feeds and FBA inventory settings; returns all of them (reset restores them).

        unknown_sku: what patching (PATCH/PARTIAL_UPDATE/DELETE) a SKU that is not listed does: "accept" (Amazon's
        behaviour, default: ACCEPTED, an incomplete listing), "invalid" (INVALID with an issue; a feed message
        issue) or "not_found" (404 like getListingsItem; a feed message issue). feed_processing_seconds: IN_QUEUE
        for the first half, IN_PROGRESS for the second, then DONE (default 0: DONE when next looked at).
        feed_result_compression: "GZIP" or "" (none, the default) for processing reports. max_feed_messages
        (25,000), max_feed_bytes (0 = no limit): more makes the feed FATAL. inventory_page_size (50) and
        inventory_token_ttl_seconds (30): getInventorySummaries paging.
        """
        values: dict[str, Any] = {
            "unknown_sku": unknown_sku, "feed_processing_seconds": feed_processing_seconds,
            "max_feed_messages": max_feed_messages, "max_feed_bytes": max_feed_bytes,
            "inventory_page_size": inventory_page_size, "inventory_token_ttl_seconds": inventory_token_ttl_seconds,
        }  # fmt: skip
        body = {k: v for k, v in values.items() if v is not None}
        if feed_result_compression is not None:
            body["feed_result_compression"] = feed_result_compression or None
        return dict(self._call("POST", "/_sim/listings/settings", body))

    def feeds(self, *, seller: str | None = None) -> list[dict[str, Any]]:
        """Every feed (oldest first), each as getFeed shows it plus `_sim`: `{"seller", "feedOptions", "history",
        "input": {"feedDocumentId", "contentType", "size"}, "report": the processing report | None}`."""
        params = {"seller": seller} if seller else None
        return list(self._call("GET", "/_sim/feeds", params=params)["feeds"])

    def feed(self, feed_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/_sim/feeds/{quote(feed_id, safe='')}"))

    def advance_feed(self, feed_id: str, to: str, *, reason: str | None = None) -> dict[str, Any]:
        """Move a feed: IN_QUEUE → IN_PROGRESS | DONE | FATAL | CANCELLED, IN_PROGRESS → DONE | FATAL
        (SimulatorControlError 400 otherwise). DONE processes it now; FATAL writes a report with `reason`."""
        body: dict[str, Any] = {"to": to}
        if reason is not None:
            body["reason"] = reason
        return dict(self._call("POST", f"/_sim/feeds/{quote(feed_id, safe='')}/advance", body))

    # --- live demo mode ---------------------------------------------------------------------------------

    def start_live(self, *, seller: str, marketplace_id: str, skus: list[str], every_seconds: float = 20) -> None:
        """Every `every_seconds`: add one new order and ship one Unshipped order."""
        body = {"seller": seller, "marketplace_id": marketplace_id, "skus": skus, "every_seconds": every_seconds}
        self._call("POST", "/_sim/live", body)

    def stop_live(self) -> None:
        self._call("DELETE", "/_sim/live")

    # --- credentials ------------------------------------------------------------------------------------

    def rotate_credentials(
        self, seller: str, *, refresh_token: str | None = None, client_secret: str | None = None
    ) -> dict[str, Any]:
        """New LWA credentials: the seller's refresh token (re-authorisation) and/or the app's client secret (for every
        seller of that app). Old ones stop working; destinations and subscriptions stay (they are the app's)."""
        body: dict[str, Any] = {}
        if refresh_token is not None:
            body["refresh_token"] = refresh_token
        if client_secret is not None:
            body["client_secret"] = client_secret
        return dict(self._call("POST", f"/_sim/sellers/{quote(seller, safe='')}/rotate", body))

    # --- Notifications v1 (delivery to SQS) -------------------------------------------------------------

    def notification_settings(
        self, *, sqs_endpoint_url: str | None = None, max_attempts: int | None = None
    ) -> dict[str, Any]:
        """Where notifications are sent (the SQS endpoint; "" = nowhere) and how often a failed send is tried."""
        body: dict[str, Any] = {}
        if sqs_endpoint_url is not None:
            body["sqs_endpoint_url"] = sqs_endpoint_url
        if max_attempts is not None:
            body["max_attempts"] = max_attempts
        if not body:
            return dict(self._call("GET", "/_sim/notifications/settings"))
        return dict(self._call("POST", "/_sim/notifications/settings", body))

    def notification_faults(
        self,
        *,
        drop: int | None = None,
        drop_rate: float | None = None,
        duplicate: int | None = None,
        malformed: int | None = None,
        delay_ms: int | None = None,
    ) -> dict[str, Any]:
        """Delivery faults for the next notifications: `drop` n lost on purpose (never sent), `drop_rate` of the rest
        lost, `duplicate` n sent twice (same NotificationId), `malformed` n sent broken (alternately not JSON, then
        JSON without its metadata), `delay_ms` before each send. Given values replace the current ones."""
        values = {"drop": drop, "drop_rate": drop_rate, "duplicate": duplicate, "malformed": malformed,
                  "delay_ms": delay_ms}  # fmt: skip
        body = {k: v for k, v in values.items() if v is not None}
        return dict(self._call("POST", "/_sim/notifications/faults", body))

    def clear_notification_faults(self) -> None:
        self._call("DELETE", "/_sim/notifications/faults")

    def notifications_sent(self, *, notification_type: str | None = None) -> dict[str, Any]:
        """`{"notifications": [{notification_id, notification_type, seller, subscription_id, arn, queued_at, body,
        outcome: sent|dropped|duplicate|malformed|failed, attempts?, fault?, error?}], "counts": {...}, "pending": n}`
        (the last 10,000, oldest first)."""
        params = {"notification_type": notification_type} if notification_type else None
        return dict(self._call("GET", "/_sim/notifications/sent", params=params))

    def flush_notifications(self, *, timeout_seconds: float = 30.0) -> bool:
        """Wait until every notification queued so far was sent (or given up); False on timeout."""
        body = {"timeout_seconds": timeout_seconds}
        return bool(self._call("POST", "/_sim/notifications/flush", body)["flushed"])

    def notification_subscriptions(self) -> dict[str, Any]:
        """Every destination and subscription the simulator holds: `{"destinations": [...], "subscriptions": [...]}`."""
        return dict(self._call("GET", "/_sim/notifications/subscriptions"))
