"""A rate limiter shared by all worker processes: a token bucket per key, kept in one database row.

`rate_limit_reserve` takes a token (going below zero if need be) and says how long the caller must wait before
its call, so N workers hitting one quota are spread out instead of all getting 429s.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from config.common.models import RateLimitBucket


def rate_limit_reserve(*, key: str, rate: float, burst: float) -> float:
    """Reserve one call on `key` (rate per second, burst). Returns the seconds to wait before making it."""
    now = timezone.now()
    with transaction.atomic():
        bucket = RateLimitBucket.objects.select_for_update().filter(key=key).first()
        if bucket is None:
            try:
                with transaction.atomic():
                    bucket = RateLimitBucket.objects.create(key=key, tokens=burst, updated_at=now)
            except IntegrityError:
                bucket = RateLimitBucket.objects.select_for_update().get(key=key)
        elapsed = max((now - bucket.updated_at).total_seconds(), 0.0)
        bucket.tokens = min(burst, bucket.tokens + elapsed * rate) - 1
        bucket.updated_at = now
        bucket.save(update_fields=["tokens", "updated_at"])
        return 0.0 if bucket.tokens >= 0 else -bucket.tokens / rate
