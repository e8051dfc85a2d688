"""Read API for orders (ERP and eCommerce systems). Token auth: `Authorization: Token <key>`."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from orders.filters import OrderFilter
from orders.models import Address, Order, OrderEvent, OrderLine
from orders.selectors import order_get, order_list


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
            "total_amount", "is_business_order", "is_prime", "is_replacement", "created_at", "updated_at",
            "lines", "addresses",
        ]  # fmt: skip


class OrderDetailOutputSerializer(OrderOutputSerializer):
    events = OrderEventOutputSerializer(many=True)

    class Meta(OrderOutputSerializer.Meta):
        fields = [*OrderOutputSerializer.Meta.fields, "events"]


class OrderListApi(generics.ListAPIView):
    """Orders, newest first, paginated (`page`, `page_size` ≤ 500), with lines and addresses."""

    serializer_class = OrderOutputSerializer
    filterset_class = OrderFilter

    def get_queryset(self) -> Any:
        # Filtering is done by the selector; the backend only documents the parameters in the schema.
        return order_list(filters=self.request.query_params)

    def filter_queryset(self, queryset: Any) -> Any:
        return queryset


class OrderDetailApi(generics.GenericAPIView):
    serializer_class = OrderDetailOutputSerializer
    queryset = Order.objects.none()

    @extend_schema(responses=OrderDetailOutputSerializer)
    def get(self, request: Request, order_id: int) -> Response:
        order = order_get(order_id=order_id)
        return Response(OrderDetailOutputSerializer(order).data)
