"""Payment API for the eCommerce site: register the site's Opayo transaction, then capture, void or refund it
(the eCommerce client, or a Finance user; see config/common/access.py). Money is a decimal string plus a currency."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from orders.models import Order
from orders.selectors import order_get_by_number
from payments.models import Payment, PaymentEvent, PaymentTransaction, Refund
from payments.selectors import payment_get
from payments.services import payment_capture, payment_refund, payment_register, payment_void


class TransactionOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = PaymentTransaction
        fields = [
            "id", "kind", "vendor_tx_code", "transaction_id", "state", "amount", "currency", "released_amount",
            "opayo_status", "status_code", "status_detail", "retrieval_reference", "bank_authorisation_code",
            "card_type", "last_four_digits", "avs_cvc_status", "three_d_secure_status", "created_at", "updated_at",
        ]  # fmt: skip


class RefundOutputSerializer(serializers.ModelSerializer):
    vendor_tx_code = serializers.CharField(source="transaction.vendor_tx_code")

    class Meta:
        model = Refund
        fields = [
            "id",
            "vendor_tx_code",
            "amount",
            "currency",
            "reason",
            "status",
            "failure",
            "requested_by",
            "created_at",
        ]


class PaymentEventOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = PaymentEvent
        fields = ["created_at", "kind", "from_status", "to_status", "actor", "message"]


class PaymentOutputSerializer(serializers.ModelSerializer):
    order_id = serializers.IntegerField()
    order_external_id = serializers.CharField(source="order.external_id")
    order_status = serializers.CharField(source="order.status")
    transactions = TransactionOutputSerializer(many=True)
    refunds = RefundOutputSerializer(many=True)
    events = PaymentEventOutputSerializer(many=True)

    class Meta:
        model = Payment
        fields = [
            "id", "order_id", "order_external_id", "order_status", "provider", "protocol", "status", "currency",
            "amount_authorised", "amount_captured", "amount_refunded", "transactions", "refunds", "events",
        ]  # fmt: skip


def _payment_response(payment_id: int, code: int = status.HTTP_200_OK) -> Response:
    return Response(PaymentOutputSerializer(payment_get(payment_id=payment_id)).data, status=code)


def _actor(request: Request) -> str:
    return f"api:{request.user.get_username()}"


class PaymentRegisterApi(APIView):
    """Attach the site's Opayo transaction (Pi transactionId, or Server VPSTxId + SecurityKey) to an order."""

    operation = "payments.register"

    class PaymentRegisterInputSerializer(serializers.Serializer):
        order_id = serializers.IntegerField(required=False)
        order_external_id = serializers.CharField(required=False, help_text="The site's order number instead of id.")
        vendor_tx_code = serializers.CharField(max_length=40)
        transaction_type = serializers.ChoiceField(choices=["Payment", "Deferred"])
        amount = serializers.DecimalField(max_digits=18, decimal_places=2)
        currency = serializers.RegexField(r"^[A-Za-z]{3}$")
        protocol = serializers.ChoiceField(choices=Payment.Protocol.choices, default=Payment.Protocol.PI)
        transaction_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
        security_key = serializers.CharField(
            max_length=64, required=False, allow_blank=True, default="", write_only=True, help_text="Server only."
        )

    @extend_schema(request=PaymentRegisterInputSerializer, responses={201: PaymentOutputSerializer})
    def post(self, request: Request) -> Response:
        serializer = self.PaymentRegisterInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        order_id, external_id = data.pop("order_id", None), data.pop("order_external_id", None)
        if bool(order_id) == bool(external_id):
            raise ValidationError({"order_id": ["Give exactly one of order_id and order_external_id."]})
        if order_id:
            order = Order.objects.get(pk=order_id)
        else:  # the site's own numbers: only eCommerce orders (an Amazon order may carry the same number)
            order = order_get_by_number(number=external_id, channel=Order.Channel.ECOMMERCE)
        tx = payment_register(order=order, actor=_actor(request), **data)
        return _payment_response(tx.payment_id, status.HTTP_201_CREATED)


class PaymentDetailApi(APIView):
    operation = "payments.detail"

    @extend_schema(responses=PaymentOutputSerializer)
    def get(self, request: Request, payment_id: int) -> Response:
        return _payment_response(payment_id)


class PaymentCaptureApi(APIView):
    """Capture (release) an authorised Deferred payment, all of it or less. Asking twice captures once."""

    operation = "payments.capture"

    class PaymentCaptureInputSerializer(serializers.Serializer):
        amount = serializers.DecimalField(max_digits=18, decimal_places=2, required=False)

    @extend_schema(request=PaymentCaptureInputSerializer, responses={202: PaymentOutputSerializer})
    def post(self, request: Request, payment_id: int) -> Response:
        serializer = self.PaymentCaptureInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        payment = Payment.objects.get(pk=payment_id)
        payment_capture(payment=payment, actor=_actor(request), amount=serializer.validated_data.get("amount"))
        return _payment_response(payment_id, status.HTTP_202_ACCEPTED)


class PaymentVoidApi(APIView):
    """Cancel before settlement: abort a Deferred, void a same-day Payment."""

    operation = "payments.void"

    class PaymentVoidInputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    @extend_schema(request=PaymentVoidInputSerializer, responses={202: PaymentOutputSerializer})
    def post(self, request: Request, payment_id: int) -> Response:
        serializer = self.PaymentVoidInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        payment_void(payment=Payment.objects.get(pk=payment_id), actor=_actor(request), **serializer.validated_data)
        return _payment_response(payment_id, status.HTTP_202_ACCEPTED)


class PaymentRefundApi(APIView):
    """Refund part or all of what was captured (never more)."""

    operation = "payments.refund"

    class PaymentRefundInputSerializer(serializers.Serializer):
        amount = serializers.DecimalField(max_digits=18, decimal_places=2)
        reason = serializers.CharField(max_length=200)

    @extend_schema(request=PaymentRefundInputSerializer, responses={202: PaymentOutputSerializer})
    def post(self, request: Request, payment_id: int) -> Response:
        serializer = self.PaymentRefundInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        payment_refund(payment=Payment.objects.get(pk=payment_id), actor=_actor(request), **serializer.validated_data)
        return _payment_response(payment_id, status.HTTP_202_ACCEPTED)
