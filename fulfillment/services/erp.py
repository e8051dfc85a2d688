"""The ERP side (Dynamics SL first, any ERP through the same API): documents handed over exactly once.

Sales orders and credit memos are ErpDocuments, built once with a frozen payload. An ERP client pulls a
batch; pulling again before acknowledging returns the same batch (a retry after a lost answer gets the same
documents, not new ones); acknowledging closes it, and a document is never handed to the same client twice
(unique per client and document in the database).
"""

from __future__ import annotations

import textwrap
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from config.common.errors import ApplicationError
from config.common.models import ApiClient, ExceptionItem
from config.common.services import exception_open, exceptions_resolve_for
from connectors.amazon.marketplaces import MARKETPLACES
from connectors.amazon.orders_2026_types import order_v0_view
from fulfillment.models import ErpBatch, ErpDocument, ErpHandover
from mappings.models import FieldMappingTemplate, SkuMapping
from mappings.rules import template_apply
from orders.models import Address, Order, OrderStatus
from orders.services import order_hold_open, order_hold_release

ACTOR = "system:erp"
SALES_STATUSES = [
    OrderStatus.AUTHORISED, OrderStatus.CAPTURED, OrderStatus.FULFILMENT_REQUESTED, OrderStatus.PARTIALLY_SHIPPED,
    OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED,
]  # fmt: skip
MAX_BATCH = 200


def _money(value: Decimal | None) -> str:
    return f"{(value or Decimal(0)):.2f}"


def _customer_id(order: Order) -> str:
    if order.channel == Order.Channel.AMAZON:
        known = MARKETPLACES.get(order.marketplace_id)
        return f"AMZ-{known.code if known else order.marketplace_id}"
    return "WEB"


def _address_lines(address: Address, width: int) -> tuple[list[str], list[str]]:
    """Street lines re-flowed into SL's Addr1/Addr2 (width each) without cutting words; problems if too long."""
    text = " ".join(p for p in (address.company, address.line1, address.line2, address.line3) if p)
    lines = textwrap.wrap(text, width=width, break_long_words=False) or [""]
    problems = (
        [f"the street address does not fit SL's Addr1 + Addr2 ({width} characters each)"] if len(lines) > 2 else []
    )
    return [*lines, ""][:2], problems


def _amazon_context(snapshot: Any) -> dict[str, Any]:
    """The Amazon order as stored; a 2026-01-01 one also under v0's header names (rules written as `amazon.IsPrime`
    before the switch keep working beside `amazon.programs`)."""
    if snapshot is None or not isinstance(snapshot.order_payload, dict):
        return {}
    if snapshot.api_version == snapshot.ApiVersion.V0:
        return dict(snapshot.order_payload)
    return {**order_v0_view(snapshot.order_payload), **snapshot.order_payload}


def _context(order: Order) -> dict[str, Any]:
    snapshot = getattr(order, "amazon_snapshot", None)
    payment = getattr(order, "payment", None)
    return {
        "order": {
            "id": order.pk, "external_id": order.external_id, "channel": order.channel, "status": order.status,
            "marketplace_id": order.marketplace_id, "currency": order.currency, "total": _money(order.total_amount),
            "sales_channel": order.sales_channel, "fulfillment_channel": order.fulfillment_channel,
            "metadata": order.metadata or {},
        },
        "amazon": _amazon_context(snapshot),
        "payment": {"status": payment.status, "captured": _money(payment.amount_captured)} if payment else {},
    }  # fmt: skip


def erp_sales_order_payload(*, order: Order) -> tuple[dict[str, Any], list[str]]:
    """The order shaped for Dynamics SL (field names as SL's SO import knows them), and what is wrong with it."""
    limits = settings.ERP_FIELD_LENGTHS
    problems: list[str] = []
    address = order.addresses.filter(kind=Address.Kind.SHIPPING).first()
    ship_to: dict[str, str] = {}
    if address is None:
        problems.append("no ship-to address")
    else:
        missing = [label for label, value in (("name", address.name), ("street", address.line1), ("city", address.city))
                   if not value]  # fmt: skip
        if missing:
            problems.append(f"ship-to has no {', '.join(missing)}")
        (addr1, addr2), overflow = _address_lines(address, limits["addr"])
        problems += overflow
        ship_to = {
            "Name": address.name, "Addr1": addr1, "Addr2": addr2, "City": address.city,
            "State": address.state_or_region, "Zip": address.postal_code, "Country": address.country_code,
            "Phone": address.phone,
        }  # fmt: skip
        for field, limit in (
            ("Name", "name"),
            ("City", "city"),
            ("State", "state"),
            ("Zip", "zip"),
            ("Phone", "phone"),
        ):
            if len(ship_to[field]) > limits[limit]:
                problems.append(f"ship-to {field} {ship_to[field]!r} is longer than SL's {limits[limit]} characters")
        if not ship_to["Zip"] and ship_to["Country"] not in ("IE", "HK", "AE"):
            problems.append("ship-to has no postal code")
    context = _context(order)
    header = template_apply(target=FieldMappingTemplate.Target.ERP_SALES_ORDER, context=context)
    problems += [f"custom field {name} is required but empty" for name in header.missing] + header.errors
    lines = []
    attributes = {
        m.erp_item_id: m.attributes
        for m in SkuMapping.objects.filter(erp_item_id__in=[ln.item_id for ln in order.lines.all() if ln.item_id])
    }
    for line in order.lines.all().order_by("pk"):
        if not line.item_id:
            problems.append(f"line {line.external_id}: SKU {line.seller_sku} has no ERP item id")
        elif len(line.item_id) > limits["item"]:
            problems.append(f"line {line.external_id}: item id {line.item_id} is longer than SL's {limits['item']}")
        line_context = {
            **context,
            "line": {
                "sku": line.seller_sku,
                "asin": line.asin,
                "item_id": line.item_id,
                "title": line.title,
                "quantity": line.quantity_ordered,
            },
            "product": {"attributes": attributes.get(line.item_id, {})},
        }
        custom = template_apply(target=FieldMappingTemplate.Target.ERP_ORDER_LINE, context=line_context)
        problems += [f"line {line.external_id}: custom field {n} is required but empty" for n in custom.missing]
        problems += custom.errors
        qty = line.quantity_ordered
        lines.append(
            {
                "LineRef": str(line.pk),
                "InvtID": line.item_id,
                "SellerSKU": line.seller_sku,
                "Descr": line.title[:60],
                "QtyOrd": qty,
                "QtyShip": line.quantity_shipped,
                "SlsPrice": _money((line.item_price or Decimal(0)) / qty) if qty else "0.00",
                "ExtPrice": _money(line.item_price),
                "TaxAmt": _money(line.item_tax),
                "FreightAmt": _money(line.shipping_price),
                "DiscAmt": _money(line.promotion_discount),
                "CustomFields": custom.values,
            }
        )
    payload = {
        "OrdNbr": order.external_id, "LedgerlineOrderID": order.pk, "CustID": _customer_id(order),
        "Channel": order.channel, "MarketplaceID": order.marketplace_id, "OrdDate": order.purchased_at.isoformat(),
        "CuryID": order.currency, "OrdTotal": _money(order.total_amount), "ShipVia": order.ship_service_level,
        "FulfilledBy": "AMAZON" if order.fulfillment_channel == Order.FulfillmentChannel.AFN else "MERCHANT",
        "ShipTo": ship_to, "Lines": lines, "CustomFields": header.values,
    }  # fmt: skip
    return payload, problems


def erp_order_prepare(*, order: Order) -> ErpDocument | None:
    """The order's sales-order document, created once; an order the ERP could not take is held instead."""
    existing = ErpDocument.objects.filter(kind=ErpDocument.Kind.SALES_ORDER, reference=str(order.pk)).first()
    if existing is not None:
        return existing
    payload, problems = erp_sales_order_payload(order=order)
    if problems:
        reason = "; ".join(problems)
        item = exception_open(
            kind=ExceptionItem.Kind.ERP_DATA,
            source=order,
            summary=f"Order {order.external_id} cannot go to the ERP: {reason}"[:300],
            detail="\n".join(problems) + "\nFix the data (SKU mapping, field rules, address), then reprocess.",
            reference=order.external_id,
        )
        order_hold_open(
            order_id=order.pk, code=Order.HoldCode.ERP_DATA, reason=f"ERP: {reason}"[:2000], actor=ACTOR, exception=item
        )
        return None
    # The ERP can take it now: its data hold (if any) ends; an order still held for another reason waits for that.
    order = order_hold_release(order_id=order.pk, code=Order.HoldCode.ERP_DATA, actor=ACTOR, note="the ERP can take it")
    if order.status == OrderStatus.ON_HOLD:
        return None
    try:
        with transaction.atomic():
            document = ErpDocument.objects.create(
                kind=ErpDocument.Kind.SALES_ORDER, order=order, reference=str(order.pk), payload=payload
            )
    except IntegrityError:
        return ErpDocument.objects.get(kind=ErpDocument.Kind.SALES_ORDER, reference=str(order.pk))
    exceptions_resolve_for(source=order, kinds=[ExceptionItem.Kind.ERP_DATA], actor=ACTOR, note="handed to the ERP")
    return document


def _prepare_sales_orders(limit: int) -> None:
    has_document = ErpDocument.objects.filter(kind=ErpDocument.Kind.SALES_ORDER, order=OuterRef("pk"))
    candidates = (
        Order.objects.filter(status__in=SALES_STATUSES)
        .exclude(Exists(has_document))
        .order_by("purchased_at", "pk")[:limit]
    )
    for order in candidates:
        erp_order_prepare(order=order)


def _prepare_credit_memos(limit: int) -> None:
    from payments.models import Refund

    handed = ErpDocument.objects.filter(kind=ErpDocument.Kind.SALES_ORDER, order=OuterRef("pk"))
    for refund in (
        Refund.objects.filter(status=Refund.Status.SUCCEEDED)
        .select_related("payment__order", "transaction")
        .order_by("pk")[:limit]
    ):
        reference = f"refund:{refund.pk}"
        if ErpDocument.objects.filter(kind=ErpDocument.Kind.CREDIT_MEMO, reference=reference).exists():
            continue
        order = refund.payment.order
        _memo(
            order, reference, "refund", refund.reason, refund.amount, refund.currency, refund.transaction.vendor_tx_code
        )
    cancelled = Order.objects.filter(status=OrderStatus.CANCELLED).filter(Exists(handed))
    for order in cancelled.order_by("pk")[:limit]:
        reference = f"cancel:{order.pk}"
        refunded = ErpDocument.objects.filter(
            kind=ErpDocument.Kind.CREDIT_MEMO, order=order, reference__startswith="refund:"
        )
        if (
            refunded.exists()
            or ErpDocument.objects.filter(kind=ErpDocument.Kind.CREDIT_MEMO, reference=reference).exists()
        ):
            continue
        _memo(order, reference, "cancellation", "order cancelled", order.total_amount, order.currency, "")


def _memo(
    order: Order, reference: str, kind: str, reason: str, amount: Decimal | None, currency: str, ref: str
) -> None:
    payload = {
        "MemoNbr": reference.replace(":", "-").upper(), "OrdNbr": order.external_id, "LedgerlineOrderID": order.pk,
        "CustID": _customer_id(order), "Type": kind, "Reason": reason, "CuryID": currency, "Amount": _money(amount),
        "PaymentReference": ref, "Date": timezone.now().isoformat(),
    }  # fmt: skip
    try:
        with transaction.atomic():
            ErpDocument.objects.create(
                kind=ErpDocument.Kind.CREDIT_MEMO, order=order, reference=reference, payload=payload
            )
    except IntegrityError:
        pass  # prepared concurrently by another pull


def erp_pull(*, client: ApiClient, kind: str, limit: int = 50) -> ErpBatch | None:
    """The client's open batch (again), or a new one with documents it has never received; None if none.

    Pulls by one client are serialised on its row, so concurrent retries all get the same batch.
    """
    if client.kind != ApiClient.Kind.ERP:
        raise ApplicationError("only ERP clients pull ERP documents")
    limit = max(1, min(limit, MAX_BATCH))
    with transaction.atomic():
        ApiClient.objects.select_for_update().get(pk=client.pk)
        open_batch = ErpBatch.objects.filter(client=client, kind=kind, acknowledged_at__isnull=True).first()
        if open_batch is not None:
            ErpBatch.objects.filter(pk=open_batch.pk).update(pulls=open_batch.pulls + 1)
            return open_batch
        if kind == ErpDocument.Kind.SALES_ORDER:
            _prepare_sales_orders(limit * 2)
        else:
            _prepare_credit_memos(limit * 2)
        handed = ErpHandover.objects.filter(client=client, document=OuterRef("pk"))
        documents = list(ErpDocument.objects.filter(kind=kind).exclude(Exists(handed)).order_by("pk")[:limit])
        if not documents:
            return None
        batch = ErpBatch.objects.create(client=client, kind=kind)
        ErpHandover.objects.bulk_create(ErpHandover(client=client, document=d, batch=batch) for d in documents)
        return batch


def erp_batch_documents(*, batch: ErpBatch) -> list[ErpDocument]:
    return [item.document for item in batch.items.select_related("document").order_by("document_id")]


def erp_batch_acknowledge(*, client: ApiClient, batch_id: int) -> ErpBatch:
    """Close a batch (idempotent). Its documents are then never handed to this client again."""
    batch = ErpBatch.objects.filter(pk=batch_id, client=client).first()
    if batch is None:
        raise ApplicationError(f"batch {batch_id} is not one of yours")
    if batch.acknowledged_at is None:
        ErpBatch.objects.filter(pk=batch.pk, acknowledged_at__isnull=True).update(acknowledged_at=timezone.now())
        batch.refresh_from_db()
    return batch
