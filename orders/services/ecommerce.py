"""Orders from the eCommerce site: stored raw first, validated, then created once per external id."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from config.common.db import without_nul
from config.common.errors import ApplicationError
from config.common.models import ExceptionItem
from config.common.pan import card_data_refusal
from config.common.reprocess import register_reprocessor
from config.common.services import exception_open, exceptions_resolve_for
from connectors.amazon.orders_types import AmazonAddress
from mappings.selectors import sku_mappings_resolve
from orders.models import Address, EcommerceOrderSubmission, Order, OrderEvent, OrderLine, OrderStatus
from orders.services.addresses import address_normalize
from orders.services.status import order_hold_open, order_hold_release

ACTOR = "system:ecommerce"
logger = logging.getLogger(__name__)


def _hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def ecommerce_submission_store(*, payload: Any, submitted_by: str) -> EcommerceOrderSubmission:
    """Keep the body whatever it is; a body that is not a JSON object is kept wrapped, to be rejected. The one
    exception: a body carrying what looks like a card number is refused and not kept (we never store card data)."""
    if refusal := card_data_refusal(payload):  # the API's parser refuses these already; other callers too
        logger.warning("eCommerce order from %s refused: %s", submitted_by, refusal.message)
        raise refusal
    if not isinstance(payload, dict):
        payload = {"_body_was_not_an_object": payload}
    payload = without_nul(payload)
    external_id = payload.get("external_id")
    return EcommerceOrderSubmission.objects.create(
        external_id=str(external_id)[:64] if external_id else "",
        payload=payload,
        content_hash=_hash(payload),
        submitted_by=submitted_by[:150],
    )


def ecommerce_submission_reject(*, submission: EcommerceOrderSubmission, error: str) -> None:
    EcommerceOrderSubmission.objects.filter(pk=submission.pk).update(
        state=EcommerceOrderSubmission.State.REJECTED, error=error
    )


def ecommerce_order_create(
    *, submission: EcommerceOrderSubmission, data: dict[str, Any], actor: str
) -> tuple[Order, bool]:
    """Create the order from validated `data`. The same order posted again returns it unchanged (False);
    a different order under a used external id is refused."""
    previous = (
        EcommerceOrderSubmission.objects.filter(
            external_id=data["external_id"], state=EcommerceOrderSubmission.State.PROCESSED, order__isnull=False
        )
        .exclude(pk=submission.pk)
        .select_related("order")
        .first()
    )
    if previous is not None:
        if previous.content_hash == submission.content_hash:
            _mark(submission, previous.order)
            return previous.order, False  # type: ignore[return-value]
        error = (
            f"order {data['external_id']} already exists with different content; orders are not edited by re-posting"
        )
        ecommerce_submission_reject(submission=submission, error=error)
        raise ApplicationError(error, extra={"order_id": previous.order_id})
    try:
        with transaction.atomic():
            order = _create(submission, data, actor)
    except IntegrityError:
        ecommerce_submission_reject(submission=submission, error="order already exists")
        raise ApplicationError(f"order {data['external_id']} already exists") from None
    return order, True


def _mark(submission: EcommerceOrderSubmission, order: Order | None) -> None:
    EcommerceOrderSubmission.objects.filter(pk=submission.pk).update(
        state=EcommerceOrderSubmission.State.PROCESSED, order=order, error=""
    )


def _create(submission: EcommerceOrderSubmission, data: dict[str, Any], actor: str) -> Order:
    purchased: datetime = data["purchased_at"]
    order = Order.objects.create(
        channel=Order.Channel.ECOMMERCE,
        external_id=data["external_id"],
        status=OrderStatus.PENDING_PAYMENT,
        purchased_at=purchased,
        source_updated_at=purchased,
        currency=data["currency"],
        total_amount=data["total_amount"],
        ship_service_level=data.get("ship_service_level", "")[:60],
        metadata=data.get("metadata") or {},
        sales_channel="eCommerce",
    )
    OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            external_id=line.get("external_id") or str(n),
            seller_sku=line["sku"],
            title=line.get("title", "")[:500],
            quantity_ordered=line["quantity"],
            item_price=line["item_price"],
            item_tax=line.get("item_tax", Decimal(0)),
            shipping_price=line.get("shipping_price", Decimal(0)),
            promotion_discount=line.get("promotion_discount", Decimal(0)),
        )
        for n, line in enumerate(data["lines"], start=1)
    )
    for kind in (Address.Kind.SHIPPING, Address.Kind.BILLING):
        raw = data.get(f"{kind}_address")
        if raw:
            values = address_normalize(AmazonAddress(**{k: raw.get(k, "") for k in AmazonAddress.__dataclass_fields__}))
            Address.objects.create(order=order, kind=kind, **values)
    OrderEvent.objects.create(
        order=order,
        kind=OrderEvent.Kind.CREATED,
        actor=actor[:150],
        to_status=order.status,
        message=f"Received from the eCommerce site (submission {submission.pk}).",
    )
    _mark(submission, order)
    order_lines_remap(order=order, source=submission, actor=actor)
    return order


def order_lines_remap(*, order: Order, source: EcommerceOrderSubmission, actor: str) -> Order:
    """Resolve the lines' ERP item ids with today's SKU map; the order is held while any SKU is unknown."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        lines = list(order.lines.all())
        mappings = sku_mappings_resolve(account_id=None, seller_skus=[ln.seller_sku for ln in lines])
        unknown = sorted({ln.seller_sku for ln in lines if ln.seller_sku not in mappings})
        for line in lines:
            mapping = mappings.get(line.seller_sku)
            line.item_id = mapping.erp_item_id if mapping else ""
        OrderLine.objects.bulk_update(lines, ["item_id"])
        if not unknown:
            exceptions_resolve_for(
                source=source, kinds=[ExceptionItem.Kind.UNKNOWN_SKU], actor=actor, note="all SKUs mapped"
            )
            return order_hold_release(
                order_id=order.pk, code=Order.HoldCode.UNKNOWN_SKU, actor=actor, note="All SKUs are mapped"
            )
        skus = ", ".join(unknown)
        item = exception_open(
            kind=ExceptionItem.Kind.UNKNOWN_SKU,
            source=source,
            summary=f"Unknown SKU {skus} on eCommerce order {order.external_id}",
            detail=f"SKU(s) {skus} have no active SKU mapping. Add them under Mappings › SKU mappings, then reprocess.",
            reference=order.external_id,
        )
        return order_hold_open(
            order_id=order.pk,
            code=Order.HoldCode.UNKNOWN_SKU,
            reason=f"Unknown SKU {skus}: add a SKU mapping, then reprocess the exception.",
            actor=actor,
            exception=item,
        )


@register_reprocessor(EcommerceOrderSubmission)
def _reprocess_submission(obj: object, actor: str) -> None:
    assert isinstance(obj, EcommerceOrderSubmission)
    if obj.order is None:
        raise ApplicationError("this submission was rejected and has no order; the site must post a corrected order")
    order_lines_remap(order=obj.order, source=obj, actor=actor)
