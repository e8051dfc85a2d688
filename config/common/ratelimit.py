"""A rate limiter shared by all worker processes: a token bucket per key, kept in one database row.

`rate_limit_take` takes a token (going below zero if need be) and says how long the caller must wait before
its call, so N workers hitting one quota are spread out instead of all getting 429s. `SharedRateLimiter` puts
that in front of every call of a connector, per operation, and keeps the rate the provider reports (SP-API's
`x-amzn-RateLimit-Limit`, which may differ from the published default for a given seller) in the row.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from config.common.errors import ThrottledError
from config.common.models import RateLimitBucket

# A process may take several tokens at once when a quota is generous (refills its burst within this time), so a
# fast API does not pay one locked row update per call; unused ones lapse after this long.
LEASE_SECONDS = 1.0
# A caller that has to wait for its slot waits this much longer: the provider's bucket started when our first call
# reached it, which (token exchange, connection set-up) can be a little after ours did, so a slot taken exactly on
# time can arrive a moment early there. Slots are still counted from the bucket, so the pace does not drop.
SLOT_MARGIN_SECONDS = 0.1


@dataclass(frozen=True)
class Grant:
    tokens: int  # how many calls may go (0: none, the wait was over the caller's limit)
    wait: float  # seconds to wait before the first of them


def rate_limit_take(*, key: str, rate: float, burst: float, want: int = 1, max_wait: float = math.inf) -> Grant:
    """Take up to `want` tokens of `key` (rate per second, burst; a rate the provider reported, kept in the row,
    wins over `rate`). With none left, one future slot is promised (the wait says when) unless that is more than
    `max_wait` away, in which case nothing is taken."""
    with transaction.atomic():
        bucket = RateLimitBucket.objects.select_for_update().filter(key=key).first()
        if bucket is None:
            try:
                with transaction.atomic():
                    bucket = RateLimitBucket.objects.create(key=key, tokens=burst, updated_at=timezone.now())
            except IntegrityError:
                bucket = RateLimitBucket.objects.select_for_update().get(key=key)
        # The clock is read once the row is ours: read before, it could be older than the time the previous
        # holder wrote, and moving that back would count the same refill twice.
        now = max(timezone.now(), bucket.updated_at)
        rate = bucket.rate or rate
        elapsed = (now - bucket.updated_at).total_seconds()
        tokens = min(burst, bucket.tokens + elapsed * rate)
        if tokens >= 1:
            grant = Grant(tokens=max(1, min(want, int(tokens))), wait=0.0)
        else:
            wait = (1 - tokens) / rate if rate > 0 else math.inf
            grant = Grant(tokens=1 if wait <= max_wait else 0, wait=wait)
        bucket.tokens, bucket.updated_at = tokens - grant.tokens, now
        bucket.save(update_fields=["tokens", "updated_at"])
        return grant


def rate_limit_observe(*, key: str, rate: float) -> None:
    """Keep the rate the provider reported for `key` (used by every worker from their next reservation).

    The first report also restarts the bucket's refill clock: the provider's bucket started when our first call
    reached it, after ours did, and counting refill from our start would run ahead of it by that moment."""
    now = timezone.now()
    RateLimitBucket.objects.filter(key=key, rate__isnull=True).update(
        rate=rate, updated_at=Greatest(F("updated_at"), Value(now))
    )
    RateLimitBucket.objects.filter(key=key).exclude(rate=rate).update(rate=rate)


def rate_limit_refused(*, key: str) -> None:
    """The provider refused a call for its quota: its bucket is empty whatever ours says (its clock started a
    moment after ours, or another client of the same seller spends the quota too). Ours is emptied to match."""
    RateLimitBucket.objects.filter(key=key, tokens__gt=0).update(tokens=0.0, updated_at=timezone.now())


class SharedRateLimiter:
    """Per-operation quotas of one account, shared by every worker through `RateLimitBucket` rows.

    `before(operation)` waits for the operation's slot (up to `max_wait`; a longer wait raises ThrottledError
    without calling, so the work goes back to its queue with that delay); `observed(operation, rate, refused=)`
    records the provider's reported rate, and on a 429 empties the bucket to match the provider's. Operations
    without a plan are not limited."""

    # Per process: leased tokens (key → [count, good until]) and the rates already written (key → rate).
    _leases: dict[str, list[float]] = {}
    _known: dict[str, float] = {}
    _lock = threading.Lock()

    def __init__(
        self, *, scope: str, plans: Mapping[str, tuple[float, float]], max_wait: float, provider: str = ""
    ) -> None:
        self.scope = scope
        self.plans = plans
        self.max_wait = max_wait
        self.provider = provider

    def key(self, operation: str) -> str:
        return f"{self.scope}:{operation}"

    def before(self, operation: str) -> None:
        plan = self.plans.get(operation)
        if plan is None:
            return
        key = self.key(operation)
        with self._lock:
            lease = self._leases.get(key)
            if lease is not None and lease[0] >= 1 and lease[1] > time.monotonic():
                lease[0] -= 1
                return
        rate, burst = self._known.get(key) or plan[0], plan[1]
        # Leased tokens are spent a little later than the bucket thinks; only a quota that refills its whole burst
        # within the lease can absorb that, so only such quotas are leased.
        want = max(1, min(int(rate * LEASE_SECONDS), int(burst // 4))) if rate * LEASE_SECONDS >= burst else 1
        grant = rate_limit_take(key=key, rate=plan[0], burst=burst, want=want, max_wait=self.max_wait)
        if not grant.tokens:
            raise ThrottledError(
                f"{operation} quota used up (shared by all workers); next slot in {grant.wait:.0f} s",
                provider=self.provider, operation=operation, retry_after=grant.wait,
            )  # fmt: skip
        if grant.tokens > 1:
            with self._lock:
                self._leases[key] = [grant.tokens - 1, time.monotonic() + LEASE_SECONDS]
        if grant.wait:
            time.sleep(grant.wait + SLOT_MARGIN_SECONDS)

    def observed(self, operation: str, rate: float | None, *, refused: bool = False) -> None:
        if operation not in self.plans:
            return
        key = self.key(operation)
        if refused:
            rate_limit_refused(key=key)
            with self._lock:
                self._leases.pop(key, None)
        if rate is None or rate <= 0:
            return
        if self._known.get(key) != rate:
            rate_limit_observe(key=key, rate=rate)
            with self._lock:
                self._known[key] = rate
