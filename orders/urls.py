from django.urls import path

from orders.apis import EcommerceOrderCreateApi, OrderDetailApi, OrderListApi

urlpatterns = [
    path("", OrderListApi.as_view(), name="order-list"),
    path("<int:order_id>/", OrderDetailApi.as_view(), name="order-detail"),
    path("ecommerce/", EcommerceOrderCreateApi.as_view(), name="order-ecommerce-create"),
]
