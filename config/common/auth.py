"""API client tokens: `Authorization: Bearer <token>` for the ERP and eCommerce systems.

Each client has its own token (stored hashed), so handovers, acknowledgements and audit are per client.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from config.common.models import ApiClient

PREFIX_LENGTH = 8


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# A scope per group of endpoints; which operation needs which scope (and which client kind) is in
# config/common/access.py POLICY.
SCOPES = {
    "orders:read": "Read orders (with names and addresses)",
    "orders:write": "Submit eCommerce orders",
    "payments:read": "Read payments",
    "payments:write": "Register payments; capture, void and refund them",
    "erp:sales-orders": "Pull and acknowledge sales orders",
    "erp:credit-memos": "Pull and acknowledge credit memos",
    "erp:shipments": "Report shipments (sent on to Amazon)",
    "erp:inventory": "Post stock levels, read FBA stock and listing sync state",
    "reconciliation:read": "Read settlements, journal entries and the journal CSV",
}
# What each kind of client may do unless told otherwise: the ERP never touches payments; the eCommerce site creates
# its orders and registers, captures, voids and refunds their payments.
DEFAULT_SCOPES = {
    "erp": ["orders:read", "erp:sales-orders", "erp:credit-memos", "erp:shipments", "erp:inventory",
            "reconciliation:read"],
    "ecommerce": ["orders:read", "orders:write", "payments:read", "payments:write"],
}  # fmt: skip


def api_client_issue(*, name: str, kind: str, scopes: list[str] | None = None) -> tuple[ApiClient, str]:
    """Create a client (or replace its token). Returns the token: it is not stored and cannot be shown again."""
    unknown = set(scopes or ()) - set(SCOPES)
    if unknown:
        raise ValueError(f"unknown scope(s): {', '.join(sorted(unknown))}; known: {', '.join(SCOPES)}")
    token = "ll_" + secrets.token_urlsafe(32)
    client, _ = ApiClient.objects.update_or_create(
        name=name,
        defaults={
            "kind": kind,
            "token_prefix": token[: PREFIX_LENGTH + 3],
            "token_hash": _hash(token),
            "is_active": True,
            "scopes": list(scopes) if scopes is not None else DEFAULT_SCOPES.get(kind, []),
        },
    )
    return client, token


@dataclass
class ClientPrincipal:
    """What request.user is for an API client: authenticated, never staff."""

    client: ApiClient
    is_authenticated: bool = True
    is_staff: bool = False
    is_superuser: bool = False

    def get_username(self) -> str:
        return f"client:{self.client.name}"

    @property
    def username(self) -> str:
        return self.get_username()

    @property
    def pk(self) -> int:
        return int(self.client.pk)


class ApiClientAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[ClientPrincipal, ApiClient] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'.")
        token = header[1].decode(errors="replace")
        client = ApiClient.objects.filter(token_hash=_hash(token), is_active=True).first()
        if client is None:
            raise exceptions.AuthenticationFailed("Invalid or inactive API client token.")
        now = timezone.now()
        if client.last_used_at is None or now - client.last_used_at > timedelta(minutes=1):
            ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
        return ClientPrincipal(client=client), client

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
