"""The notification bench's baselines, served by the same gunicorn as the app (never part of the app's URLs):
bench/notify_settings.py = config.settings.base + ROOT_URLCONF here (the app's URLs plus one bare view).

`/bench/insert`: a bare Django view that makes the one durable INSERT a delivery costs (the raw body into a
table, committed before the answer), no lookup, no signature check: the honest limit for accepting a delivery."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config.common.access import policy_view
from config.urls import urlpatterns as app_urlpatterns

TABLE = "bench_delivery"
CREATE_TABLE = f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, received_at timestamptz, body text)"


@csrf_exempt
def bare_insert(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:  # autocommit: durable when the answer leaves
        cursor.execute(f"INSERT INTO {TABLE} (received_at, body) VALUES (now(), %s)", [request.body.decode()])
    return HttpResponse("Status=OK\r\n", content_type="text/plain")


urlpatterns = [*app_urlpatterns, path("bench/insert", policy_view("health.live", bare_insert))]
