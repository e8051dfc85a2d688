"""Inbound size limits, per path prefix (the longest prefix that matches wins).

A provider or client that sends more than an endpoint can sensibly take gets 413 before the body is read, so a
runaway or hostile sender cannot fill memory or the raw-payload tables."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class RequestSizeLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.limits = sorted(settings.REQUEST_SIZE_LIMITS.items(), key=lambda item: len(item[0]), reverse=True)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = next((size for prefix, size in self.limits if request.path.startswith(prefix)), None)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit:
            body = {"message": f"Request body too large: {length} bytes, this endpoint takes at most {limit}.",
                    "extra": {"limit": limit}}  # fmt: skip
            return HttpResponse(json.dumps(body), status=413, content_type="application/json")
        return self.get_response(request)
