"""Error classes shared by every app.

`ApplicationError` is a business rule refusing an operation (shown to operators and API clients).
`ConnectorError` and its two children describe what went wrong talking to a provider; callers decide
whether to retry from the class alone, never from message text.
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    def __init__(self, message: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class InvalidTransition(ApplicationError):
    """A state machine was asked for a move its transition table does not allow."""


class MalformedPayloadError(ApplicationError):
    """A provider payload does not have the shape or values its contract promises."""

    def __init__(self, message: str, *, path: str = "", extra: dict[str, Any] | None = None) -> None:
        super().__init__(f"{path}: {message}" if path else message, extra=extra)
        self.path = path


class ConnectorError(Exception):
    """A call to an external provider failed."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        operation: str,
        status_code: int | None = None,
        code: str = "",
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.operation = operation
        self.status_code = status_code
        self.code = code
        self.details = details

    def __str__(self) -> str:
        status = f" HTTP {self.status_code}" if self.status_code else ""
        code = f" {self.code}" if self.code else ""
        return f"{self.provider} {self.operation}{status}{code}: {self.message}"


class RetryableConnectorError(ConnectorError):
    """Timeouts, connection failures, 5xx and throttling: the same request may succeed later."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class CircuitOpenError(RetryableConnectorError):
    """We did not call: the provider failed repeatedly and its circuit is open until `retry_after` seconds."""


class ThrottledError(RetryableConnectorError):
    """The provider said 429: slow down (retry_after, when known, is in seconds)."""


class PermanentConnectorError(ConnectorError):
    """Authentication, validation and other 4xx answers: repeating the request will not help."""


class DemoCredentialsRefused(PermanentConnectorError):
    """We did not call: the settings would send the demo's (simulators') credentials to the real provider, which only
    locks the account out. Nothing was sent, so it is no provider failure: no circuit, no backoff. Fix the settings."""


class AuthenticationExpired(PermanentConnectorError):
    """The access token was refused; a fresh token may fix it (clients retry once after refreshing)."""
