from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from config.common.access import policy_view
from config.common.views import dashboard, healthz, metrics, readyz
from payments.webhooks import OpayoServerNotificationView

admin.site.site_header = "Ledgerline operations"
admin.site.site_title = "Ledgerline"
admin.site.index_title = "Operator console"


# Who may use each view: the operation named here or on the view, looked up in config/common/access.py.
class SchemaView(SpectacularAPIView):
    operation = "api.schema"


class SwaggerView(SpectacularSwaggerView):
    operation = "api.schema"


class RedocView(SpectacularRedocView):
    operation = "api.schema"


urlpatterns = [
    path("healthz", policy_view("health.live", healthz), name="healthz"),
    path("readyz", policy_view("health.ready", readyz), name="readyz"),
    path("metrics", policy_view("metrics", metrics), name="metrics"),
    path("admin/dashboard/", admin.site.admin_view(policy_view("admin.dashboard", dashboard)), name="admin-dashboard"),
    path("admin/", admin.site.urls),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    path("api/docs/", SwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", RedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("api/v1/orders/", include("orders.urls")),
    path("api/v1/payments/", include("payments.urls")),
    path("api/v1/erp/", include("fulfillment.urls")),
    path("api/v1/reconciliation/", include("reconciliation.urls")),
    path(
        "webhooks/opayo/server/",
        policy_view("opayo.notification", OpayoServerNotificationView.as_view()),
        name="opayo-server-notification",
    ),
]
