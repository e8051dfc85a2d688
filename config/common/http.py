"""The base for provider HTTP clients: one httpx session, a default timeout, and typed errors.

Every client under `<app>/clients/` raises only these, so callers decide to retry from the class:
RetryableConnectorError (timeouts, connection failures, 408, 5xx), ThrottledError (429, with the wait in
seconds when the provider says it), PermanentConnectorError (every other 4xx). Clients return dataclasses
and never touch the database themselves; the limiter they may be given (shared quotas) does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, Self

import httpx

from config.common.errors import (
    ConnectorError,
    PermanentConnectorError,
    RetryableConnectorError,
    ThrottledError,
)


class CallLimiter(Protocol):
    """Waits for an operation's quota before a call (raising ThrottledError when the wait is too long), and hears
    the rate the provider reported after it, and whether the provider refused the call for its quota (429)."""

    def before(self, operation: str) -> None: ...

    def observed(self, operation: str, rate: float | None, *, refused: bool = False) -> None: ...


def transport_error(exc: httpx.TransportError, *, provider: str, operation: str) -> RetryableConnectorError:
    """A request that got no HTTP answer. Whether the provider acted on it is unknown: callers that create
    things must look them up by their idempotency key before sending again."""
    if isinstance(exc, httpx.TimeoutException):
        return RetryableConnectorError(f"timed out ({exc.__class__.__name__})", provider=provider, operation=operation)
    return RetryableConnectorError(f"connection failed: {exc}", provider=provider, operation=operation)


def status_error(
    response: httpx.Response,
    *,
    provider: str,
    operation: str,
    message: str,
    code: str = "",
    details: Any = None,
    retry_after: float | None = None,
) -> ConnectorError:
    kwargs: dict[str, Any] = {
        "provider": provider,
        "operation": operation,
        "status_code": response.status_code,
        "code": code,
        "details": details,
    }
    status = response.status_code
    if status == 429:
        if retry_after is None:
            retry_after = _retry_after_header(response)
        return ThrottledError(message, retry_after=retry_after, **kwargs)
    if status >= 500 or status == 408:
        return RetryableConnectorError(message, retry_after=_retry_after_header(response), **kwargs)
    return PermanentConnectorError(message, **kwargs)


def _retry_after_header(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return None


class HttpClient:
    """Subclasses set `provider` and `base_url`, and override `error_from_response` for their error bodies."""

    provider = "provider"
    timeout = 20.0
    limiter: CallLimiter | None = None  # per-operation quotas, when the provider has any

    def __init__(self, *, base_url: str, timeout: float | None = None, auth: Any = None, **client_kwargs: Any) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout or self.timeout, auth=auth, **client_kwargs)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def error_from_response(self, response: httpx.Response, operation: str) -> ConnectorError:
        return status_error(
            response, provider=self.provider, operation=operation, message=response.reason_phrase or "error"
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        accept: Callable[[httpx.Response], bool] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request through the provider's circuit breaker; non-2xx answers raise unless `accept(response)`
        says it is a result."""
        from config.common.circuit import circuit_call

        def send() -> httpx.Response:
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                raise transport_error(exc, provider=self.provider, operation=operation) from exc
            if response.is_success or (accept is not None and accept(response)):
                return response
            raise self.error_from_response(response, operation)

        if self.limiter is not None:
            self.limiter.before(operation)
        return circuit_call(self.circuit_key, send, provider=self.provider, operation=operation)

    @property
    def circuit_key(self) -> str:
        return f"{self.provider}:{self.base_url}"
