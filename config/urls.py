from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from config.common.views import dashboard, healthz, metrics, readyz
from payments.webhooks import OpayoServerNotificationView

admin.site.site_header = "Ledgerline operations"
admin.site.site_title = "Ledgerline"
admin.site.index_title = "Operator console"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("admin/dashboard/", dashboard, name="admin-dashboard"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("api/v1/orders/", include("orders.urls")),
    path("api/v1/payments/", include("payments.urls")),
    path("api/v1/erp/", include("fulfillment.urls")),
    path("api/v1/reconciliation/", include("reconciliation.urls")),
    path("webhooks/opayo/server/", OpayoServerNotificationView.as_view(), name="opayo-server-notification"),
]
