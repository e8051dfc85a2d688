"""The base of every SP-API client: python-amazon-sp-api pointed at our hosts, typed errors, quotas, circuit.

The library builds requests and tokens; `SpApiClient` points it at the configured hosts (Amazon or the local
simulator), makes HTTP failures typed (RetryableConnectorError / ThrottledError / PermanentConnectorError)
instead of the library's "raise only if the body has an errors list", and counts calls per operation. Before each
call it waits for the operation's quota through the limiter it is given (`for_account` gives the one shared by all
workers, from `USAGE_PLANS`), tells it the rate Amazon reported, and goes through the account's circuit breaker.
The API clients (`orders`, `fulfillment_outbound`, `reports`, `inventory`, `finances`, `notifications`) subclass it
and call `_call`; the helpers they share are public here. Nothing in the connector touches the database.
Docs: https://developer-docs.amazon.com/sp-api/docs/usage-plans-and-rate-limits
"""

from __future__ import annotations

import hashlib
import logging
import re
import ssl
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from types import SimpleNamespace
from typing import Any, Protocol, Self, TypeVar
from urllib.parse import urlsplit

import httpx
import orjson
from django.conf import settings
from sp_api.auth import AccessTokenClient
from sp_api.auth import access_token_client as _token_module
from sp_api.auth._core import build_cache_key
from sp_api.base import Marketplaces
from sp_api.base._transport_httpx import HttpxTransport
from sp_api.base.exceptions import SellingApiException

from config.common.circuit import circuit_call
from config.common.errors import (
    AuthenticationExpired,
    ConnectorError,
    DemoCredentialsRefused,
    PermanentConnectorError,
    RetryableConnectorError,
)
from config.common.http import CallLimiter, status_error, transport_error
from connectors.amazon.marketplaces import MARKETPLACES

logger = logging.getLogger(__name__)
PROVIDER = "amazon"
T = TypeVar("T")

# Amazon's published default usage plans (requests per second, burst) of the operations our clients call, from the
# Orders 2026-01-01 and v0 (confirmShipment), Fulfillment Outbound 2020-07-01, Reports 2021-06-30, Listings Items
# 2021-08-01, Feeds 2021-06-30, FBA Inventory v1, Finances 2024-06-19 and Notifications v1 references. Amazon reports
# the rate that applies to a seller in x-amzn-RateLimit-Limit (it can be higher); the burst is only published.
USAGE_PLANS: dict[str, tuple[float, float]] = {
    "searchOrders": (0.0056, 20),  # Orders 2026-01-01
    "getOrder": (0.5, 30),
    "confirmShipment": (2.0, 10),
    "createFulfillmentOrder": (2.0, 30),
    "getFulfillmentOrder": (2.0, 30),
    "cancelFulfillmentOrder": (2.0, 30),
    "getFulfillmentPreview": (2.0, 30),
    "listAllFulfillmentOrders": (2.0, 30),
    "createReport": (0.0167, 15),
    "getReports": (0.0222, 10),
    "getReport": (2.0, 15),
    "cancelReport": (0.0222, 10),
    "getReportDocument": (0.0167, 15),
    "getListingsItem": (5.0, 10),
    "patchListingsItem": (5.0, 5),
    "createFeedDocument": (0.5, 15),
    "createFeed": (0.0083, 15),
    "getFeed": (2.0, 15),
    "getFeedDocument": (0.0222, 10),
    "getInventorySummaries": (2.0, 2),
    "listTransactions": (0.5, 10),  # Finances 2024-06-19
    # Notifications v1: every operation 1/s, burst 5 (destinations are grantless: the application's quota)
    "createDestination": (1.0, 5),
    "getDestinations": (1.0, 5),
    "getDestination": (1.0, 5),
    "deleteDestination": (1.0, 5),
    "createSubscription": (1.0, 5),
    "getSubscription": (1.0, 5),
    "getSubscriptionById": (1.0, 5),
    "deleteSubscriptionById": (1.0, 5),
    # JSON_LISTINGS_FEED's own limit on top of createFeed's plan: five feeds per five minutes (developer-docs
    # changelog "Feed size and rate limit changes for the JSON_LISTINGS_FEED", 2025-05-06).
    "createFeed.JSON_LISTINGS_FEED": (1 / 60, 5),
}


_REGION_ENDPOINTS = {
    "na": "https://sellingpartnerapi-na.amazon.com",
    "eu": "https://sellingpartnerapi-eu.amazon.com",
    "fe": "https://sellingpartnerapi-fe.amazon.com",
}


class SellerAccountLike(Protocol):
    """What `for_account` reads of a seller account (orders.models.SellerAccount): the connector imports no app."""

    @property
    def pk(self) -> Any: ...
    @property
    def region(self) -> str: ...
    @property
    def refresh_token(self) -> str: ...
    @property
    def lwa_client_id(self) -> str: ...
    @property
    def lwa_client_secret(self) -> str: ...


@dataclass(frozen=True)
class SpApiCredentials:
    refresh_token: str
    client_id: str
    client_secret: str

    def __repr__(self) -> str:  # never print secrets
        return f"SpApiCredentials(client_id={self.client_id!r}, refresh_token=***, client_secret=***)"


def iso(value: datetime) -> str:
    """A date-time as SP-API query parameters and bodies take it: UTC, whole seconds, `Z`."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rate_limit(headers: Any) -> float | None:
    """The rate (requests per second) Amazon says applies to this seller and operation: x-amzn-RateLimit-Limit."""
    try:
        return float(headers.get("x-amzn-RateLimit-Limit"))
    except (TypeError, ValueError):
        return None


def malformed(operation: str, what: str) -> RetryableConnectorError:
    """A 2xx answer without what the model promises (a required list, id or url): retryable, like a bad gateway."""
    return RetryableConnectorError(f"{operation} answered {what}", provider=PROVIDER, operation=operation)


def _error_from_response(response: httpx.Response, operation: str) -> ConnectorError:
    """SP-API errors are `{"errors": [{"code", "message", "details"}]}`; LWA answers OAuth-style."""
    code = message = ""
    details: Any = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]:
        first = body["errors"][0] if isinstance(body["errors"][0], dict) else {}
        code, message, details = str(first.get("code", "")), str(first.get("message", "")), first.get("details")
    elif isinstance(body, dict) and "error" in body:
        code, message = str(body.get("error", "")), str(body.get("error_description", ""))
    message = message or response.reason_phrase or "error"
    if response.status_code == 403 and code == "Unauthorized":
        return AuthenticationExpired(
            message, provider=PROVIDER, operation=operation, status_code=403, code=code, details=details
        )
    # SP-API sends no Retry-After; one token refills in 1/rate seconds.
    rate = rate_limit(response.headers)
    return status_error(
        response,
        provider=PROVIDER,
        operation=operation,
        message=message,
        code=code,
        details=details,
        retry_after=(1 / rate) if response.status_code == 429 and rate else None,
    )


class _Response(httpx.Response):
    """httpx's response with its JSON read by orjson: a searchOrders page of 100 orders (~200 kB) parses several
    times faster, which is the most of a page's reading. What orjson refuses (NaN, integers beyond 64 bits, other
    encodings) goes to the standard library as before, so results and errors stay the same."""

    def json(self, **kwargs: Any) -> Any:
        if not kwargs:
            try:
                return orjson.loads(self.content)
            except orjson.JSONDecodeError:
                pass
        return super().json(**kwargs)


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()


class _TypedErrorTransport(HttpxTransport):
    """The library's transport, raising our typed errors for transport failures and non-2xx answers."""

    def __init__(self, *, timeout: float, operation: str, limiter: CallLimiter | None = None) -> None:
        # One TLS context for every client: building one (loading the CA bundle) costs tens of milliseconds, paid
        # per thread's client otherwise.
        super().__init__(client=httpx.Client(timeout=timeout, verify=_tls_context()))
        self.operation = operation
        self.limiter = limiter

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = super().request(method, url, **kwargs)
        except httpx.TransportError as exc:
            raise transport_error(exc, provider=PROVIDER, operation=self.operation) from exc
        if type(response) is httpx.Response:
            response.__class__ = _Response  # (adds a method only)
        if self.limiter is not None:
            self.limiter.observed(self.operation, rate_limit(response.headers), refused=response.status_code == 429)
        if response.status_code >= 400:
            raise _error_from_response(response, self.operation)
        return response


@lru_cache(maxsize=8)
def _token_client_class(lwa_endpoint: str) -> type[AccessTokenClient]:
    parts = urlsplit(lwa_endpoint)
    return type(
        "ConfiguredAccessTokenClient",
        (AccessTokenClient,),
        {"scheme": f"{parts.scheme}://", "host": parts.netloc, "path": parts.path or "/auth/o2/token"},
    )


def _marketplace(marketplace_id: str) -> Any:
    for member in Marketplaces:
        if member.marketplace_id == marketplace_id:
            return member
    known = MARKETPLACES.get(marketplace_id)
    if known is None:
        raise PermanentConnectorError(
            f"unknown marketplace id {marketplace_id!r}", provider=PROVIDER, operation="configure"
        )
    return SimpleNamespace(endpoint=_REGION_ENDPOINTS[known.region], marketplace_id=marketplace_id, region=known.region)


def presigned_url_error(response: httpx.Response, operation: str) -> ConnectorError:
    """A pre-signed document URL (S3) answered an error: `<Error><Code>…</Code><Message>…</Message></Error>`."""
    text = response.text[:2000]
    code = re.search(r"<Code>([^<]*)</Code>", text)
    message = re.search(r"<Message>([^<]*)</Message>", text)
    return status_error(
        response,
        provider=PROVIDER,
        operation=operation,
        message=(message.group(1) if message else "") or response.reason_phrase or "error",
        code=code.group(1) if code else "",
    )


class PresignedUrlRefused(Exception):
    """The pre-signed URL answered 403 (expired or not accepted): a fresh one may work."""

    def __init__(self, error: ConnectorError) -> None:
        super().__init__(str(error))
        self.error = error


def _reaches_amazon(url: str) -> bool:
    """Empty means the library's own (real) Amazon host for the region; otherwise an Amazon host name."""
    host = (urlsplit(url).hostname or "").lower() if url else "amazon.com"
    return host == "amazon.com" or host.endswith((".amazon.com", ".amazon.co.uk", ".amazon.co.jp", ".amazonaws.com"))


def demo_credentials_refuse(*, credentials: SpApiCredentials, endpoint: str, lwa_endpoint: str) -> None:
    """The demo's LWA client and refresh tokens exist only in the SP-API simulator: sent to Amazon they are refused,
    and the account backs off. Refuse before anything is sent (no circuit, no backoff)."""
    from config.common.demo.data import is_demo_amazon_credentials

    demo = is_demo_amazon_credentials(
        client_id=credentials.client_id,
        client_secret=credentials.client_secret,
        refresh_token=credentials.refresh_token,
    )
    settings_names = (("SP_API_ENDPOINT", endpoint), ("SP_API_LWA_ENDPOINT", lwa_endpoint))
    amazon = [name for name, url in settings_names if _reaches_amazon(url)]
    if demo and amazon:
        verb = "point" if len(amazon) > 1 else "points"
        raise DemoCredentialsRefused(
            f"not calling Amazon with the demo's credentials (LWA client {credentials.client_id}): "
            f"{' and '.join(amazon)} {verb} at the real Amazon hosts. Point both at the SP-API simulator (the local "
            "settings do by default: http://127.0.0.1:8101, as `make run` serves it), or give the account its real "
            "credentials.",
            provider=PROVIDER,
            operation="configure",
        )


# A marketplace of each region, to reach the regional endpoint when an operation names its marketplaces itself.
REGION_MARKETPLACES = {"na": "ATVPDKIKX0DER", "eu": "A1F83G8C2ARO7P", "fe": "A1VC38T7YXB528"}


class SpApiClient:
    """One seller account in one marketplace. Thread-safe: each thread gets its own library client."""

    def __init__(
        self,
        *,
        credentials: SpApiCredentials,
        marketplace_id: str,
        endpoint: str = "",
        lwa_endpoint: str = "",
        timeout: float = 20.0,
        limiter: CallLimiter | None = None,
    ) -> None:
        demo_credentials_refuse(credentials=credentials, endpoint=endpoint, lwa_endpoint=lwa_endpoint)
        self.credentials = credentials
        self.limiter = limiter
        self.marketplace_id = marketplace_id
        self.endpoint = endpoint.rstrip("/")
        self.lwa_endpoint = lwa_endpoint.rstrip("/")
        self.timeout = timeout
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._opened: list[Any] = []

    @classmethod
    def from_settings(
        cls, *, credentials: SpApiCredentials, marketplace_id: str, limiter: CallLimiter | None = None
    ) -> Self:
        return cls(
            credentials=credentials,
            marketplace_id=marketplace_id,
            endpoint=settings.SP_API_ENDPOINT,
            lwa_endpoint=settings.SP_API_LWA_ENDPOINT,
            timeout=settings.SP_API_TIMEOUT_SECONDS,
            limiter=limiter,
        )

    @classmethod
    def for_account(cls, account: SellerAccountLike, *, marketplace_id: str | None = None) -> Self:
        """A client for `account` on the configured hosts; `marketplace_id` picks the regional endpoint (default: a
        marketplace of the account's region). Calls wait for the account's quotas, shared by every worker."""
        limiter = None
        if settings.SP_API_RATE_LIMITING:
            from config.common.ratelimit import SharedRateLimiter

            limiter = SharedRateLimiter(
                scope=f"spapi:{account.pk}", plans=USAGE_PLANS, max_wait=settings.SP_API_MAX_THROTTLE_WAIT_SECONDS,
                provider=PROVIDER,
            )  # fmt: skip
        return cls.from_settings(
            credentials=SpApiCredentials(
                refresh_token=account.refresh_token,
                client_id=account.lwa_client_id,
                client_secret=account.lwa_client_secret,
            ),
            marketplace_id=marketplace_id or REGION_MARKETPLACES[account.region],
            limiter=limiter,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing ----------------------------------------------------------------------------------

    def _api(self, api_class: Any) -> Any:
        """This thread's library client of `api_class` (Orders, FulfillmentOutbound, Reports, ...), pointed at our
        hosts."""
        key = api_class.__name__
        apis = getattr(self._local, "apis", None)
        if apis is None:
            apis = self._local.apis = {}
        api = apis.get(key)
        if api is None:
            kwargs: dict[str, Any] = {}
            if self.lwa_endpoint:
                kwargs["auth_token_client_class"] = _token_client_class(self.lwa_endpoint + "/auth/o2/token")
            api = api_class(
                marketplace=_marketplace(self.marketplace_id),
                credentials={
                    "refresh_token": self.credentials.refresh_token,
                    "lwa_app_id": self.credentials.client_id,
                    "lwa_client_secret": self.credentials.client_secret,
                },
                timeout=self.timeout,
                **kwargs,
            )
            if self.endpoint:
                api.endpoint = self.endpoint
            api._transport = _TypedErrorTransport(timeout=self.timeout, operation="sp-api", limiter=self.limiter)
            api._auth._transport = _TypedErrorTransport(timeout=self.timeout, operation="lwaToken")
            apis[key] = api
            with self._lock:
                self._opened.append(api)
        return api

    def _forget_access_token(self) -> None:
        _token_module.cache.pop(build_cache_key(self.credentials.refresh_token), None)

    def _call(self, operation: str, fn: Callable[[Any], T], api_class: Any, *, plans: tuple[str, ...] = ()) -> T:
        """Run one operation within its quota (and any further `plans` it counts against), through the account's
        circuit breaker. The quota is taken first, so a call that never goes cannot close a half-open circuit."""
        if self.limiter is not None:
            for plan in (operation, *plans):
                self.limiter.before(plan)
        return circuit_call(self.circuit_key, lambda: self._call_once(operation, fn, api_class), provider=PROVIDER,
                            operation=operation)  # fmt: skip

    @property
    def circuit_key(self) -> str:
        # One circuit per seller account (its refresh token identifies it; only a digest is kept).
        digest = hashlib.sha256(self.credentials.refresh_token.encode()).hexdigest()[:16]
        return f"{PROVIDER}:{digest}"

    def _call_once(self, operation: str, fn: Callable[[Any], T], api_class: Any) -> T:
        """Run one operation; on an expired/revoked access token, fetch a new one and try once more."""
        api = self._api(api_class)
        api._transport.operation = operation
        for attempt in (1, 2):
            with self._lock:
                self.calls[operation] += 1
            try:
                return fn(api)
            except AuthenticationExpired:
                self._forget_access_token()
                if attempt == 2:
                    raise
            except SellingApiException as exc:  # only if a 2xx body carried "errors"
                raise PermanentConnectorError(
                    str(exc.message), provider=PROVIDER, operation=operation, code=str(exc.amzn_code or "")
                ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _presigned(self, method: str, url: str, operation: str, **kwargs: Any) -> httpx.Response:
        """One request to a pre-signed document URL (S3 on Amazon; no quota, no token), counted under `operation`.
        A 403 (expired or refused) raises PresignedUrlRefused, so the caller can ask for a fresh URL once."""
        with self._lock:
            self.calls[operation] += 1
        try:
            with httpx.Client(timeout=self.timeout, follow_redirects=False) as http:
                response = http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            raise transport_error(exc, provider=PROVIDER, operation=operation) from exc
        if response.status_code >= 300:
            error = presigned_url_error(response, operation)
            if response.status_code == 403:
                raise PresignedUrlRefused(error)
            raise error
        return response

    def close(self) -> None:
        with self._lock:
            for api in self._opened:
                api.close()
                api._auth._transport.close()
            self._opened.clear()
