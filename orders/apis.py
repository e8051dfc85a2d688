"""Orders API for the ERP and eCommerce systems. Who may call what: `operation` below, looked up in
config/common/access.py."""

from __future__ import annotations

import json
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from orders.filters import OrderFilter
from orders.models import Address, Order, OrderEvent, OrderLine
from orders.selectors import order_get, order_list
from orders.services.ecommerce import ecommerce_order_create, ecommerce_submission_reject, ecommerce_submission_store


class AddressOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Address
        fields = [
            "kind", "name", "company", "line1", "line2", "line3", "city", "district", "state_or_region",
            "postal_code", "country_code", "phone", "address_type", "is_complete",
        ]  # fmt: skip


class OrderLineOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = [
            "id", "external_id", "seller_sku", "asin", "item_id", "title", "quantity_ordered", "quantity_shipped",
            "item_price", "item_tax", "shipping_price", "shipping_tax", "shipping_discount", "promotion_discount",
            "is_gift",
        ]  # fmt: skip


class OrderEventOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderEvent
        fields = ["created_at", "kind", "from_status", "to_status", "actor", "message"]


class OrderOutputSerializer(serializers.ModelSerializer):
    selling_partner_id = serializers.CharField(source="seller_account.selling_partner_id", default=None)
    lines = OrderLineOutputSerializer(many=True)
    addresses = AddressOutputSerializer(many=True)

    class Meta:
        model = Order
        fields = [
            "id", "channel", "external_id", "selling_partner_id", "marketplace_id", "status", "source_status",
            "hold_code", "hold_reason", "fulfillment_channel", "sales_channel", "order_type", "ship_service_level",
            "purchased_at", "source_updated_at", "earliest_ship_date", "latest_ship_date", "currency",
            "total_amount", "is_business_order", "is_prime", "is_replacement", "metadata", "created_at", "updated_at",
            "lines", "addresses",
        ]  # fmt: skip


class OrderDetailOutputSerializer(OrderOutputSerializer):
    events = OrderEventOutputSerializer(many=True)

    class Meta(OrderOutputSerializer.Meta):
        fields = [*OrderOutputSerializer.Meta.fields, "events"]


class OrderListApi(generics.ListAPIView):
    """Orders, newest first, paginated (`page`, `page_size` ≤ 500), with lines and addresses."""

    operation = "orders.list"
    serializer_class = OrderOutputSerializer
    filterset_class = OrderFilter

    def get_queryset(self) -> Any:
        # Filtering is done by the selector; the backend only documents the parameters in the schema.
        return order_list(filters=self.request.query_params)

    def filter_queryset(self, queryset: Any) -> Any:
        return queryset


class OrderDetailApi(generics.GenericAPIView):
    operation = "orders.detail"
    serializer_class = OrderDetailOutputSerializer
    queryset = Order.objects.none()

    @extend_schema(responses=OrderDetailOutputSerializer)
    def get(self, request: Request, order_id: int) -> Response:
        order = order_get(order_id=order_id)
        return Response(OrderDetailOutputSerializer(order).data)


class EcommerceAddressInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    company = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    line1 = serializers.CharField(max_length=200)
    line2 = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    line3 = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    city = serializers.CharField(max_length=100)
    state_or_region = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    postal_code = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    country_code = serializers.RegexField(r"^[A-Za-z]{2}$", help_text="ISO 3166-1 alpha-2")
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")


class EcommerceLineInputSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=64, required=False)
    sku = serializers.CharField(max_length=200)
    title = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    quantity = serializers.IntegerField(min_value=1, max_value=100000)
    item_price = serializers.DecimalField(max_digits=18, decimal_places=2, min_value=0, help_text="Line total.")
    item_tax = serializers.DecimalField(max_digits=18, decimal_places=2, min_value=0, required=False)
    shipping_price = serializers.DecimalField(max_digits=18, decimal_places=2, min_value=0, required=False)
    promotion_discount = serializers.DecimalField(max_digits=18, decimal_places=2, min_value=0, required=False)


class EcommerceOrderInputSerializer(serializers.Serializer):
    external_id = serializers.RegexField(r"^[A-Za-z0-9._-]{1,64}$", help_text="The site's order number.")
    purchased_at = serializers.DateTimeField()
    currency = serializers.RegexField(r"^[A-Z]{3}$")
    total_amount = serializers.DecimalField(max_digits=18, decimal_places=2, min_value=0)
    ship_service_level = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    lines = EcommerceLineInputSerializer(many=True, allow_empty=False)
    shipping_address = EcommerceAddressInputSerializer()
    billing_address = EcommerceAddressInputSerializer(required=False)
    metadata = serializers.DictField(
        child=serializers.CharField(max_length=200, allow_blank=True), required=False, help_text="Custom fields."
    )


class EcommerceOrderCreateApi(APIView):
    """Submit an order from the eCommerce site. Stored raw first; the same order posted twice is created once."""

    operation = "orders.ecommerce.create"

    @extend_schema(
        request=EcommerceOrderInputSerializer,
        responses={201: OrderDetailOutputSerializer, 200: OrderDetailOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        submission = ecommerce_submission_store(payload=request.data, submitted_by=request.user.get_username())
        serializer = EcommerceOrderInputSerializer(data=request.data)
        if not serializer.is_valid():
            ecommerce_submission_reject(submission=submission, error=json.dumps(serializer.errors))
            raise ValidationError(serializer.errors)
        order, created = ecommerce_order_create(
            submission=submission, data=serializer.validated_data, actor=f"api:{request.user.get_username()}"
        )
        return Response(
            OrderDetailOutputSerializer(order_get(order_id=order.pk)).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
