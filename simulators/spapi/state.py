"""In-memory state of the SP-API simulator: sellers, tokens, orders (with sorted indexes), usage plans."""

from __future__ import annotations

import secrets
import time
from bisect import bisect_left, bisect_right
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from simulators.common import FaultInjector, TokenBucket

# Amazon's published default usage plans (requests per second, burst), from the Orders v0 model.
DEFAULT_LIMITS: dict[str, tuple[float, int]] = {
    "getOrders": (0.0167, 20),
    "getOrder": (0.5, 30),
    "getOrderItems": (0.5, 30),
    "getOrderAddress": (0.5, 30),
}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("z", "Z")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Seller:
    selling_partner_id: str
    refresh_token: str
    client_id: str
    client_secret: str
    marketplace_ids: list[str]


@dataclass
class StoredOrder:
    key: str
    seller: str
    order: dict[str, Any]
    items: list[Any]
    address: dict[str, Any] | None
    updated: datetime
    created: datetime
    marketplace_id: str


@dataclass
class State:
    sellers: dict[str, Seller] = field(default_factory=dict)
    by_refresh_token: dict[str, Seller] = field(default_factory=dict)
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)  # access token → (seller, expiry)
    orders: dict[str, StoredOrder] = field(default_factory=dict)
    # Per seller, sorted (time, key) lists for the two getOrders modes; rebuilt lazily after changes.
    _index: dict[tuple[str, str], list[tuple[datetime, str]]] = field(default_factory=dict)
    _dirty: set[str] = field(default_factory=set)
    limits: dict[str, tuple[float, int]] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    limiting: bool = True
    buckets: dict[tuple[str, str], TokenBucket] = field(default_factory=dict)
    faults: FaultInjector = field(default_factory=FaultInjector)
    calls: Counter[tuple[str, int]] = field(default_factory=Counter)
    last_orders_response: dict[str, tuple[int, Any]] = field(default_factory=dict)
    visibility_delay_seconds: float = 0.0
    items_page_size: int = 100
    token_ttl_seconds: int = 3600
    token_secret: bytes = field(default_factory=lambda: secrets.token_bytes(16))

    # --- sellers and tokens ----------------------------------------------------------------------------

    def add_seller(self, seller: Seller) -> None:
        old = self.sellers.get(seller.selling_partner_id)
        if old is not None:
            self.by_refresh_token.pop(old.refresh_token, None)
        self.sellers[seller.selling_partner_id] = seller
        self.by_refresh_token[seller.refresh_token] = seller

    def issue_token(self, seller: Seller) -> str:
        token = "Atza|" + secrets.token_urlsafe(24)
        self.tokens[token] = (seller.selling_partner_id, time.time() + self.token_ttl_seconds)
        return token

    def expire_tokens(self) -> None:
        self.tokens = {token: (seller, 0.0) for token, (seller, _) in self.tokens.items()}

    # --- orders -----------------------------------------------------------------------------------------

    def put_order(self, stored: StoredOrder) -> None:
        previous = self.orders.get(stored.key)
        if previous is not None and previous.seller != stored.seller:
            self._dirty.add(previous.seller)
        self.orders[stored.key] = stored
        self._dirty.add(stored.seller)

    def index(self, seller: str, mode: str) -> list[tuple[datetime, str]]:
        if seller in self._dirty or (seller, mode) not in self._index:
            mine = [o for o in self.orders.values() if o.seller == seller]
            self._index[(seller, "updated")] = sorted((o.updated, o.key) for o in mine)
            self._index[(seller, "created")] = sorted((o.created, o.key) for o in mine)
            self._dirty.discard(seller)
        return self._index[(seller, mode)]

    def scan(
        self, seller: str, mode: str, *, start: datetime, end: datetime, after_key: tuple[datetime, str] | None
    ) -> Any:
        """Yield stored orders with start <= time <= end, in (time, key) order, after `after_key`."""
        idx = self.index(seller, mode)
        position = bisect_right(idx, after_key) if after_key else bisect_left(idx, (start, ""))
        stop = bisect_right(idx, (end, "\uffff"))
        for moment, key in idx[position:stop]:
            yield moment, self.orders[key]

    # --- usage plans ------------------------------------------------------------------------------------

    def take(self, seller: str, operation: str) -> bool:
        if not self.limiting or operation not in self.limits:
            return True
        bucket = self.buckets.get((seller, operation))
        if bucket is None:
            rate, burst = self.limits[operation]
            bucket = self.buckets[(seller, operation)] = TokenBucket(rate, burst)
        return bucket.take()

    def rate_header(self, operation: str) -> str:
        rate = self.limits.get(operation, (0.0, 0))[0]
        return f"{rate:g}"
