from django.urls import path

from fulfillment.apis import (
    ErpCreditMemoAckApi,
    ErpCreditMemoPullApi,
    ErpSalesOrderAckApi,
    ErpSalesOrderPullApi,
    ErpShipmentCreateApi,
)
from fulfillment.inventory_apis import ErpFbaInventoryListApi, ErpInventoryPostApi, ErpListingSyncListApi

urlpatterns = [
    path("inventory/", ErpInventoryPostApi.as_view(), name="erp-inventory"),
    path("inventory/fba/", ErpFbaInventoryListApi.as_view(), name="erp-inventory-fba"),
    path("inventory/listings/", ErpListingSyncListApi.as_view(), name="erp-inventory-listings"),
    path("sales-orders/pull/", ErpSalesOrderPullApi.as_view(), name="erp-sales-orders-pull"),
    path("sales-orders/ack/", ErpSalesOrderAckApi.as_view(), name="erp-sales-orders-ack"),
    path("credit-memos/pull/", ErpCreditMemoPullApi.as_view(), name="erp-credit-memos-pull"),
    path("credit-memos/ack/", ErpCreditMemoAckApi.as_view(), name="erp-credit-memos-ack"),
    path("shipments/", ErpShipmentCreateApi.as_view(), name="erp-shipments"),
]
