"""Finances API 2024-06-19 for the SP-API simulator: listTransactions.

Path, parameters and shapes follow Amazon's model (`fixtures/models/finances_2024-06-19.json`, copied from
`shared/fixtures/sp-api/models/`): `GET /finances/2024-06-19/transactions` answers
`{"payload": {"transactions": [Transaction], "nextToken"?}}`; usage plan 0.5/s burst 10 (429 QuotaExceeded); faults
under the operation name `listTransactions`.

- `postedAfter` is required unless `relatedIdentifierName` is given (400 InvalidInput "Start date cannot be null",
  the model's own sandbox answer); `postedBefore` defaults to two minutes ago, must be after `postedAfter` and at
  least two minutes old; more than 180 days apart: an empty page (the model says so).
- Filters: `marketplaceId`, `transactionStatus` (DEFERRED, RELEASED, DEFERRED_RELEASED), `relatedIdentifierName`
  (ORDER_ID, FINANCIAL_EVENT_GROUP_ID; the only ones Amazon filters on) with `relatedIdentifierValue`.
- Pages of `finances_page_size` (default 50; `POST /_sim/finances/settings`) in (postedDate, transactionId) order;
  `nextToken` must come with the same arguments as the call that produced it (the model: "include the same
  arguments"), otherwise 400 InvalidInput "Invalid nextToken".

Transactions are seeded through the control API: as given (`POST /_sim/finances/transactions`), or made from a
stored order (`POST /_sim/finances/orders`): a Shipment transaction, DEFERRED by default (a DeferredContext with
the reason and maturity date), whose breakdowns are what the order's items say (Sales: Product Charges, Shipping;
Tax: Product Tax, Shipping Tax; Expenses: Commission at `fee_rate`, FBA fees per unit for AFN orders), or without
breakdowns (`breakdowns: false`), as Amazon sends some. `POST /_sim/finances/transactions/{id}/release` moves a
DEFERRED one to DEFERRED_RELEASED.
"""

from __future__ import annotations

import math
import secrets
import time
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from simulators.common import json_response, read_json_object
from simulators.spapi import generator
from simulators.spapi.state import InvalidInput, Seller, State, format_timestamp, parse_timestamp

if TYPE_CHECKING:
    from simulators.spapi.app import SpApiSimulator

ApiResult = tuple[int, Any]
LIST_TRANSACTIONS = "listTransactions"
STATUSES = ("DEFERRED", "RELEASED", "DEFERRED_RELEASED")
FILTERED_IDENTIFIERS = ("ORDER_ID", "FINANCIAL_EVENT_GROUP_ID")
MAX_SPAN_SECONDS = 180 * 86400
TWO_MINUTES = 120.0
ARGUMENTS = ("postedAfter", "postedBefore", "marketplaceId", "transactionStatus", "relatedIdentifierName",
             "relatedIdentifierValue")  # fmt: skip


def _money(amount: Decimal, currency: str) -> dict[str, Any]:
    # BigDecimal in the model: a JSON number.
    return {"currencyCode": currency, "currencyAmount": float(amount.quantize(Decimal("0.01")))}


def _amount(money: Any) -> Decimal:
    if not isinstance(money, dict):
        return Decimal(0)
    try:
        return Decimal(str(money.get("Amount", "0")))
    except (InvalidOperation, ValueError):
        return Decimal(0)


def _breakdown(kind: str, amount: Decimal, currency: str, children: list[dict[str, Any]] | None = None) -> Any:
    return {"breakdownType": kind, "breakdownAmount": _money(amount, currency), "breakdowns": children or []}


def _identifier(transaction: dict[str, Any], name: str) -> str | None:
    for identifier in transaction.get("relatedIdentifiers") or []:
        if isinstance(identifier, dict) and identifier.get("relatedIdentifierName") == name:
            value = identifier.get("relatedIdentifierValue")
            return str(value) if value is not None else None
    return None


class Finances:
    """The Finances handlers of one `SpApiSimulator` (which holds the state)."""

    def __init__(self, sim: SpApiSimulator) -> None:
        self.sim = sim

    @property
    def state(self) -> State:
        return self.sim.state  # read per call: /_sim/reset replaces it

    # --- listTransactions --------------------------------------------------------------------------------

    async def list_transactions(self, request: Request, seller: Seller) -> ApiResult:
        q = request.query_params
        arguments = {name: q[name] for name in ARGUMENTS if name in q}
        token = q.get("nextToken")
        after: tuple[float, str] | None = None
        if token:
            query = self.sim.unsign(token)
            if query.get("t") != "transactions" or query.get("seller") != seller.selling_partner_id:
                raise InvalidInput("Invalid nextToken", "")
            if query.get("args") != arguments:
                raise InvalidInput("Invalid nextToken", "Call with the same arguments as the call that gave the token.")
            position = query["after"]
            after = (float(position[0]), str(position[1]))
        else:
            query = {"t": "transactions", "seller": seller.selling_partner_id, "args": arguments}
        now = time.time()
        name = arguments.get("relatedIdentifierName")
        if name is not None and name not in FILTERED_IDENTIFIERS:
            raise InvalidInput(f"relatedIdentifierName must be one of {', '.join(FILTERED_IDENTIFIERS)}.", "")
        if name is not None and not arguments.get("relatedIdentifierValue"):
            raise InvalidInput("relatedIdentifierValue is required with relatedIdentifierName.", "")
        status = arguments.get("transactionStatus")
        if status is not None and status not in STATUSES:
            raise InvalidInput(f"transactionStatus must be one of {', '.join(STATUSES)}.", "")
        start: float = -math.inf
        if "postedAfter" in arguments:
            parsed = parse_timestamp(arguments["postedAfter"])
            if parsed is None:
                raise InvalidInput("postedAfter is not a valid ISO 8601 date-time.", "")
            start = parsed
        elif name is None:
            raise InvalidInput("Start date cannot be null", "Start date cannot be null")  # the model's sandbox 400
        latest = now - TWO_MINUTES
        end = latest
        if "postedBefore" in arguments:
            parsed = parse_timestamp(arguments["postedBefore"])
            if parsed is None:
                raise InvalidInput("postedBefore is not a valid ISO 8601 date-time.", "")
            if parsed <= start or parsed > latest + 1:
                raise InvalidInput(
                    "postedBefore must be later than postedAfter and more than two minutes before the request.", ""
                )
            end = parsed
        if start > latest:
            raise InvalidInput("postedAfter must be more than two minutes before the request.", "")
        if start != -math.inf and end - start > MAX_SPAN_SECONDS:
            return 200, {"payload": {"transactions": []}}  # "more than 180 days apart, the response is empty"
        chosen: list[tuple[float, str, dict[str, Any]]] = []
        for record in self.state.finance_transactions.values():
            if record["seller"] != seller.selling_partner_id:
                continue
            posted, transaction = float(record["posted"]), record["transaction"]
            if not start <= posted < end:
                continue
            if after is not None and (posted, record["id"]) <= after:
                continue
            market = (transaction.get("sellingPartnerMetadata") or {}).get("marketplaceId")
            if "marketplaceId" in arguments and market != arguments["marketplaceId"]:
                continue
            if status is not None and str(transaction.get("transactionStatus", "")).upper() != status:
                continue
            if name is not None and _identifier(transaction, name) != arguments["relatedIdentifierValue"]:
                continue
            chosen.append((posted, record["id"], transaction))
        chosen.sort(key=lambda entry: (entry[0], entry[1]))
        size = self.state.finances_page_size
        page = chosen[:size]
        payload: dict[str, Any] = {}
        if len(chosen) > size:
            last = page[-1]
            payload["nextToken"] = self.sim.sign(query | {"after": [last[0], last[1]]})
        payload["transactions"] = [transaction for _, _, transaction in page]
        return 200, {"payload": payload}

    # --- seeding -----------------------------------------------------------------------------------------

    def put(self, seller: Seller, transaction: dict[str, Any]) -> dict[str, Any]:
        transaction = dict(transaction)
        transaction.setdefault("transactionId", secrets.token_urlsafe(32))
        posted = parse_timestamp(transaction.get("postedDate"))
        if posted is None:
            raise ValueError("each transaction needs a postedDate (ISO 8601)")
        self.state.finance_transactions[str(transaction["transactionId"])] = {
            "id": str(transaction["transactionId"]), "seller": seller.selling_partner_id, "posted": posted,
            "transaction": transaction,
        }  # fmt: skip
        return transaction

    def from_order(self, seller: Seller, data: dict[str, Any]) -> dict[str, Any]:
        """A Shipment transaction for a stored order, with the figures its items give."""
        order_id = str(data.get("order_id", ""))
        stored = self.state.orders.get(order_id)
        if stored is None or stored.seller != seller.selling_partner_id:
            raise ValueError(f"no order {order_id!r} for seller {seller.selling_partner_id}")
        status = str(data.get("status", "DEFERRED"))
        if status not in STATUSES:
            raise ValueError(f"status must be one of {list(STATUSES)}")
        info = generator.MARKETPLACES.get(stored.marketplace_id)
        order = stored.source
        currency = info.currency if info else str((order.get("OrderTotal") or {}).get("CurrencyCode", "USD"))
        vat_inclusive = info is not None and info.vat_bp is not None
        fee_rate = Decimal(str(data.get("fee_rate", "0.15")))
        fba_fee = Decimal(str(data.get("fba_fee_per_unit", "2.70")))
        price = tax = shipping = shipping_tax = promotion = Decimal(0)
        units = 0
        for item in stored.source_items:
            if not isinstance(item, dict):
                continue
            price += _amount(item.get("ItemPrice"))
            tax += _amount(item.get("ItemTax"))
            shipping += _amount(item.get("ShippingPrice"))
            shipping_tax += _amount(item.get("ShippingTax"))
            promotion += _amount(item.get("PromotionDiscount"))
            units += int(item.get("QuantityShipped") or item.get("QuantityOrdered") or 1)
        # VAT marketplaces quote prices with VAT in them: the sale is the price less its VAT.
        principal = price - tax if vat_inclusive else price
        shipping_net = shipping - shipping_tax if vat_inclusive else shipping
        commission = -(price * fee_rate).quantize(Decimal("0.01"))
        afn = order.get("FulfillmentChannel") == "AFN"
        fba = -(fba_fee * units) if afn else Decimal(0)
        sales = [_breakdown("Product Charges", principal, currency)]
        if shipping_net:
            sales.append(_breakdown("Shipping", shipping_net, currency))
        if promotion:
            sales.append(_breakdown("Promotion", -promotion, currency))
        taxes = [_breakdown("Product Tax", tax, currency)] + (
            [_breakdown("Shipping Tax", shipping_tax, currency)] if shipping_tax else []
        )
        fees = [_breakdown("Commission", commission, currency)] + (
            [_breakdown("FBA fees", fba, currency)] if afn else []
        )
        sales_total = principal + shipping_net - promotion
        tax_total = tax + shipping_tax
        total = sales_total + tax_total + commission + fba
        posted = parse_timestamp(data.get("posted")) if data.get("posted") else None
        posted = posted if posted is not None else stored.updated
        transaction: dict[str, Any] = {
            "sellingPartnerMetadata": {
                "sellingPartnerId": seller.selling_partner_id, "accountType": "Standard Orders",
                "marketplaceId": stored.marketplace_id,
            },
            "relatedIdentifiers": [{"relatedIdentifierName": "ORDER_ID", "relatedIdentifierValue": order_id}],
            "transactionType": "Shipment",
            "transactionId": str(data.get("transaction_id") or secrets.token_urlsafe(32)),
            "transactionStatus": status,
            "description": "Order Payment",
            "postedDate": format_timestamp(posted),
            "totalAmount": _money(total, currency),
            "marketplaceDetails": {
                "marketplaceId": stored.marketplace_id, "marketplaceName": info.sales_channel if info else "",
            },
        }  # fmt: skip
        if data.get("breakdowns", True):
            transaction["breakdowns"] = [
                _breakdown("Sales", sales_total, currency, sales),
                _breakdown("Tax", tax_total, currency, taxes),
                _breakdown("Expenses", commission + fba, currency, fees),
            ]
        if status == "DEFERRED":
            maturity = parse_timestamp(data.get("maturity")) if data.get("maturity") else posted + 7 * 86400
            transaction["contexts"] = [{
                "contextType": "DeferredContext", "deferralReason": str(data.get("deferral_reason", "DD7")),
                "maturityDate": format_timestamp(maturity or posted),
            }]  # fmt: skip
        return self.put(seller, transaction)

    # --- control API -------------------------------------------------------------------------------------

    async def control_transactions(self, request: Request) -> Any:
        if request.method == "GET":
            wanted = request.query_params.get("seller")
            records = sorted(self.state.finance_transactions.values(), key=lambda r: (r["posted"], r["id"]))
            return {"transactions": [r["transaction"] for r in records if wanted in (None, r["seller"])]}
        data = await read_json_object(request)
        seller = self.sim.seller_of(data)
        entries = data.get("transactions")
        if not isinstance(entries, list) or not all(isinstance(t, dict) for t in entries):
            raise ValueError("transactions must be a list of Transaction objects")
        return {"transactions": [self.put(seller, t) for t in entries]}

    async def control_order(self, request: Request) -> Any:
        data = await read_json_object(request)
        return self.from_order(self.sim.seller_of(data), data)

    async def control_release(self, request: Request) -> Any:
        record = self.state.finance_transactions.get(request.path_params["transaction_id"])
        if record is None:
            return json_response({"error": f"no transaction {request.path_params['transaction_id']}"}, 404)
        transaction = record["transaction"]
        if transaction.get("transactionStatus") != "DEFERRED":
            raise ValueError(f"transaction is {transaction.get('transactionStatus')}, not DEFERRED")
        transaction["transactionStatus"] = "DEFERRED_RELEASED"
        transaction["contexts"] = [
            c for c in transaction.get("contexts") or [] if c.get("contextType") != "DeferredContext"
        ]
        return transaction

    async def control_settings(self, request: Request) -> Any:
        if request.method == "POST":
            data = await read_json_object(request)
            unknown = set(data) - {"finances_page_size"}
            if unknown:
                raise ValueError(f"unknown finances settings {sorted(unknown)}")
            if "finances_page_size" in data:
                self.state.finances_page_size = max(1, int(data["finances_page_size"]))
        return {"finances_page_size": self.state.finances_page_size}
