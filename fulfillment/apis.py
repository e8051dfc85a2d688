"""ERP API (Dynamics SL first, any ERP the same way). Authenticate with the ERP client's token:
`Authorization: Bearer <token>` (issue one with `manage.py issue_api_token NAME --kind erp`).

Sales orders and credit memos are pulled in batches and acknowledged: pulling again before acknowledging returns
the same batch, so a retry never skips or duplicates a document. Shipments are posted once per ERP shipment
reference; for Amazon merchant-fulfilled orders each becomes one shipment confirmation to Amazon.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.common.models import ApiClient
from fulfillment.models import ErpBatch, ErpDocument, Shipment
from fulfillment.services import erp_batch_acknowledge, erp_batch_documents, erp_pull, erp_shipment_report
from orders.models import Order, OrderLine
from orders.selectors import order_get_by_number


class BatchOutputSerializer(serializers.Serializer):
    batch_id = serializers.IntegerField(allow_null=True, help_text="null when there is nothing new.")
    kind = serializers.CharField()
    pulls = serializers.IntegerField(help_text="How many times this batch was pulled (more than 1: a retry).")
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    documents = serializers.ListField(child=serializers.DictField(), help_text="Each document's payload.")


def _batch(batch: ErpBatch) -> dict[str, Any]:
    batch.refresh_from_db()
    return {
        "batch_id": batch.pk,
        "kind": batch.kind,
        "pulls": batch.pulls,
        "acknowledged_at": batch.acknowledged_at,
        "documents": [{"document_id": d.pk, **d.payload} for d in erp_batch_documents(batch=batch)],
    }


class PullInputSerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=200, default=50)


class AckInputSerializer(serializers.Serializer):
    batch_id = serializers.IntegerField()


def _client(request: Request) -> ApiClient:
    assert isinstance(request.auth, ApiClient)
    return request.auth


class _PullApi(APIView):
    kind = ErpDocument.Kind.SALES_ORDER

    @extend_schema(request=PullInputSerializer, responses=BatchOutputSerializer)
    def post(self, request: Request) -> Response:
        data = PullInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        batch = erp_pull(client=_client(request), kind=self.kind, limit=data.validated_data["limit"])
        if batch is None:
            return Response({"batch_id": None, "kind": self.kind, "pulls": 0, "acknowledged_at": None, "documents": []})
        return Response(_batch(batch))


class _AckApi(APIView):
    @extend_schema(request=AckInputSerializer, responses=BatchOutputSerializer)
    def post(self, request: Request) -> Response:
        data = AckInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        batch = erp_batch_acknowledge(client=_client(request), batch_id=data.validated_data["batch_id"])
        return Response(_batch(batch))


class ErpSalesOrderPullApi(_PullApi):
    """New sales orders shaped for the ERP (SL fields: CustID, ShipTo Addr1/Addr2/City/State/Zip/Country,
    Lines with InvtID from the SKU map, CustomFields from the field mapping templates)."""

    kind = ErpDocument.Kind.SALES_ORDER
    operation = "erp.sales_orders.pull"


class ErpSalesOrderAckApi(_AckApi):
    """Acknowledge a sales-order batch once stored in the ERP (idempotent)."""

    operation = "erp.sales_orders.ack"


class ErpCreditMemoPullApi(_PullApi):
    """Credit memos for refunds and for cancelled orders the ERP already has."""

    kind = ErpDocument.Kind.CREDIT_MEMO
    operation = "erp.credit_memos.pull"


class ErpCreditMemoAckApi(_AckApi):
    """Acknowledge a credit-memo batch (idempotent)."""

    operation = "erp.credit_memos.ack"


class ShipmentLineInputSerializer(serializers.Serializer):
    line_ref = serializers.IntegerField(help_text="LineRef from the sales order.")
    quantity = serializers.IntegerField(min_value=1)


class ShipmentInputSerializer(serializers.Serializer):
    order_nbr = serializers.CharField(max_length=64, required=False, help_text="OrdNbr from the sales order.")
    channel = serializers.ChoiceField(
        choices=Order.Channel.choices, required=False, help_text="With order_nbr: the order's channel."
    )
    selling_partner_id = serializers.CharField(
        max_length=64, required=False, help_text="With order_nbr: the Amazon seller account of the order."
    )
    order_id = serializers.IntegerField(required=False, help_text="LedgerlineOrderID from the sales order.")
    shipment_ref = serializers.CharField(max_length=64, help_text="The ERP's shipment number (idempotency key).")
    carrier = serializers.CharField(max_length=60)
    tracking_number = serializers.CharField(max_length=100)
    ship_date = serializers.DateTimeField()
    lines = ShipmentLineInputSerializer(many=True, allow_empty=False)


class ShipmentOutputSerializer(serializers.ModelSerializer):
    confirmation_status = serializers.CharField(source="confirmation.status", default=None)
    order_status = serializers.CharField(source="order.status")

    class Meta:
        model = Shipment
        fields = ["id", "order_id", "order_status", "source", "external_id", "status", "carrier", "tracking_number",
                  "shipped_at", "confirmation_status"]  # fmt: skip


class ErpShipmentCreateApi(APIView):
    """The ERP shipped (part of) an order. The same shipment_ref again returns the first (200)."""

    operation = "erp.shipments.create"

    @extend_schema(
        request=ShipmentInputSerializer, responses={201: ShipmentOutputSerializer, 200: ShipmentOutputSerializer}
    )
    def post(self, request: Request) -> Response:
        data = ShipmentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if bool(values.get("order_nbr")) == bool(values.get("order_id")):
            raise ValidationError({"order_nbr": ["Give exactly one of order_nbr and order_id."]})
        if values.get("order_id"):
            order = Order.objects.get(pk=values["order_id"])
        else:  # one number can be both an Amazon and an eCommerce order: the selector says which, or refuses
            order = order_get_by_number(
                number=values["order_nbr"],
                channel=values.get("channel"),
                selling_partner_id=values.get("selling_partner_id"),
            )
        refs = [line["line_ref"] for line in values["lines"]]
        lines = {line.pk: line for line in OrderLine.objects.filter(order=order, pk__in=refs)}
        unknown = sorted(set(refs) - set(lines))
        if unknown:
            raise ValidationError(
                {"lines": [f"LineRef {ref} is not a line of order {order.external_id}" for ref in unknown]}
            )
        shipment, created = erp_shipment_report(
            order=order,
            shipment_ref=values["shipment_ref"],
            carrier=values["carrier"],
            tracking_number=values["tracking_number"],
            shipped_at=values["ship_date"],
            lines=[(lines[line["line_ref"]], line["quantity"]) for line in values["lines"]],
            actor=request.user.get_username(),
            raw=dict(request.data),
        )
        shipment.refresh_from_db()
        return Response(
            ShipmentOutputSerializer(shipment).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )
