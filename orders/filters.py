from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from config.common.api import UtcDateTimeFilter
from orders.models import Order, OrderStatus


class OrderFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=OrderStatus.choices, help_text="Repeat for several.")
    channel = django_filters.ChoiceFilter(choices=Order.Channel.choices)
    seller_account = django_filters.NumberFilter(field_name="seller_account_id")
    selling_partner_id = django_filters.CharFilter(field_name="seller_account__selling_partner_id")
    marketplace_id = django_filters.CharFilter()
    fulfillment_channel = django_filters.ChoiceFilter(choices=Order.FulfillmentChannel.choices)
    external_id = django_filters.CharFilter()
    sku = django_filters.CharFilter(method="filter_sku", help_text="Orders with a line of this seller SKU.")
    on_hold = django_filters.BooleanFilter(method="filter_on_hold")
    purchased_after = UtcDateTimeFilter(field_name="purchased_at", lookup_expr="gte")
    purchased_before = UtcDateTimeFilter(field_name="purchased_at", lookup_expr="lt")
    updated_since = UtcDateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        help_text="Changed in Ledgerline at or after this instant.",
    )

    class Meta:
        model = Order
        fields: list[str] = []

    def filter_sku(self, queryset: QuerySet[Order], name: str, value: str) -> QuerySet[Order]:
        return queryset.filter(pk__in=Order.objects.filter(lines__seller_sku=value).values("pk"))

    def filter_on_hold(self, queryset: QuerySet[Order], name: str, value: bool | None) -> QuerySet[Order]:
        if value is None:
            return queryset
        held = Q(status=OrderStatus.ON_HOLD)
        return queryset.filter(held if value else ~held)
