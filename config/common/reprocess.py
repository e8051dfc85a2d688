"""Who can reprocess what: each app registers the service that re-runs processing for one of its models.

The exception queue only knows (content type, id); this registry turns that into a call, so the admin's
"reprocess" action works for raw Amazon orders today and for payments, settlements, ... as they arrive.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import models

Reprocessor = Callable[[models.Model, str], None]
_REGISTRY: dict[str, Reprocessor] = {}


def register_reprocessor(model: type[models.Model]) -> Callable[[Reprocessor], Reprocessor]:
    def decorator(fn: Reprocessor) -> Reprocessor:
        _REGISTRY[model._meta.label_lower] = fn
        return fn

    return decorator


def reprocessor_for(model: type[models.Model]) -> Reprocessor | None:
    return _REGISTRY.get(model._meta.label_lower)
