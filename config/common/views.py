from __future__ import annotations

from django.http import HttpRequest, HttpResponse


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. No database, no auth (load balancers and benchmarks use it)."""
    return HttpResponse("ok", content_type="text/plain")
