"""Inbound limits, per path prefix (the longest prefix that matches wins).

A provider or client that sends more than an endpoint can sensibly take gets 413 before the body is read, so a
runaway or hostile sender cannot fill memory or the raw-payload tables. Unauthenticated endpoints (webhooks) also
take at most so many requests per source address (429 beyond, nothing stored) and, if configured, only from the
provider's addresses."""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.datastructures import MultiValueDict

from config.common.pan import card_data_refusal
from config.common.ratelimit import rate_limit_take

logger = logging.getLogger(__name__)


def client_address(request: HttpRequest) -> str:
    """The address of whoever sent the request. Behind `TRUSTED_PROXY_COUNT` reverse proxies (a load balancer, say)
    REMOTE_ADDR is the last proxy's: the sender is then the address the outermost trusted proxy appended to
    X-Forwarded-For, the Nth from the right (as Werkzeug's ProxyFix reads it). Entries left of it are whatever the
    client wrote and are never trusted; with no proxies configured the header is ignored entirely."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if len(hops) < proxies:
        return remote  # not through the expected proxies: the connection's own address
    return hops[-proxies]


def _longest_prefix(path: str, table: dict[str, object]) -> str | None:
    return max((prefix for prefix in table if path.startswith(prefix)), key=len, default=None)


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


class InboundSourceLimitMiddleware:
    """Per source address, for the path prefixes in INBOUND_RATE_LIMITS ([requests per second, burst]): a token
    bucket per prefix and address, shared by every process (config.common.ratelimit). Over it: 429 with
    Retry-After, before the view runs, so nothing is stored (Opayo retries a notification it got no answer for).
    INBOUND_ALLOWED_SOURCES (prefix → addresses or networks; empty: any) answers 403 to any other sender."""

    _empty_until: dict[str, float] = {}  # per process: bucket key → monotonic time its next token is due

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limits, allowed = settings.INBOUND_RATE_LIMITS, settings.INBOUND_ALLOWED_SOURCES
        source = client_address(request) or "unknown"
        prefix = _longest_prefix(request.path, allowed)
        if prefix and allowed[prefix] and not _address_in(source, allowed[prefix]):
            logger.warning("Inbound request to %s from %s refused: not an allowed source", request.path, source)
            return _answer(403, f"Requests to this endpoint are not taken from {source}.")
        prefix = _longest_prefix(request.path, limits)
        if prefix:
            rate, burst = limits[prefix]
            key = f"inbound:{prefix}:{source}"[:200]
            # The bucket said it is empty until then: refusing here again is exact (only refill adds tokens), and a
            # flood from one source then costs no database round trip.
            known = f"{key}:{rate}:{burst}"  # (settings changed in a test are another bucket)
            wait = self._empty_until.get(known, 0.0) - time.monotonic()
            if wait <= 0:
                grant = rate_limit_take(key=key, rate=rate, burst=burst, max_wait=0)
                if grant.tokens:
                    return self.get_response(request)
                wait = grant.wait
                if len(self._empty_until) > 10_000:
                    self._empty_until.clear()
                self._empty_until[known] = time.monotonic() + wait
            logger.warning("Inbound request to %s from %s refused: over %s/s (burst %s)", request.path, source,
                           rate, burst)  # fmt: skip
            retry = max(1, math.ceil(wait))
            response = _answer(429, f"Too many requests from {source}; retry in {retry} s. Nothing was stored.")
            response["Retry-After"] = str(retry)
            return response
        return self.get_response(request)


def _address_in(source: str, networks: list[str]) -> bool:
    try:
        address = ipaddress.ip_address(source)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(network, strict=False) for network in networks)


def _answer(status: int, message: str) -> HttpResponse:
    return HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8")


class FormCardDataGuardMiddleware:
    """Operator forms (the admin: notes, reasons, mapping fields) are inbound text too: a POST whose form fields
    hold what looks like a card number is refused with 400 before any view stores it. Password fields are hashed,
    never stored, and not read; file parts are judged where they are read (mapping imports refuse a file holding
    a card number; settlement files are Amazon's, kept as received). The API has its own parsers."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path.startswith(tuple(settings.CARD_GUARD_FORM_PREFIXES)):
            fields = MultiValueDict({k: v for k, v in request.POST.lists() if "password" not in k.lower()})
            if refusal := card_data_refusal(fields):
                logger.warning("Form post to %s refused: %s", request.path, refusal.message)
                return _answer(400, refusal.message + " Go back, remove it and save again.")
        return self.get_response(request)
