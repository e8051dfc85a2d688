from django.urls import path

from fulfillment.apis import (
    ErpCreditMemoAckApi,
    ErpCreditMemoPullApi,
    ErpSalesOrderAckApi,
    ErpSalesOrderPullApi,
    ErpShipmentCreateApi,
)

urlpatterns = [
    path("sales-orders/pull/", ErpSalesOrderPullApi.as_view(), name="erp-sales-orders-pull"),
    path("sales-orders/ack/", ErpSalesOrderAckApi.as_view(), name="erp-sales-orders-ack"),
    path("credit-memos/pull/", ErpCreditMemoPullApi.as_view(), name="erp-credit-memos-pull"),
    path("credit-memos/ack/", ErpCreditMemoAckApi.as_view(), name="erp-credit-memos-ack"),
    path("shipments/", ErpShipmentCreateApi.as_view(), name="erp-shipments"),
]
