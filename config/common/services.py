from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, models, transaction
from django.db.models import F
from django.utils import timezone

from config.common.errors import ApplicationError
from config.common.models import ExceptionItem
from config.common.reprocess import reprocessor_for

logger = logging.getLogger(__name__)


def _source_key(source: models.Model) -> tuple[ContentType, str]:
    return ContentType.objects.get_for_model(source, for_concrete_model=False), str(source.pk)


def exception_open(
    *,
    kind: str,
    source: models.Model,
    summary: str,
    detail: str = "",
    reference: str = "",
) -> ExceptionItem:
    """Open an exception on `source`, or count another occurrence on the open one. Safe to call twice."""
    source_type, source_id = _source_key(source)
    now = timezone.now()
    summary = summary[:300]
    for _ in range(2):
        updated = ExceptionItem.objects.filter(
            kind=kind, source_type=source_type, source_id=source_id, status=ExceptionItem.Status.OPEN
        ).update(occurrences=F("occurrences") + 1, last_seen_at=now, summary=summary, detail=detail)
        if updated:
            return ExceptionItem.objects.get(
                kind=kind, source_type=source_type, source_id=source_id, status=ExceptionItem.Status.OPEN
            )
        try:
            with transaction.atomic():
                item = ExceptionItem.objects.create(
                    kind=kind,
                    source_type=source_type,
                    source_id=source_id,
                    summary=summary,
                    detail=detail,
                    reference=reference[:100],
                    last_seen_at=now,
                )
        except IntegrityError:
            continue  # another worker opened it between our update and insert: count on theirs
        logger.warning("exception opened: %s", summary, extra={"kind": kind, "reference": reference})
        return item
    raise ApplicationError("Could not open or update the exception", extra={"kind": kind})


def exceptions_resolve_for(
    *, source: models.Model, kinds: Sequence[str] | None = None, actor: str, note: str = ""
) -> int:
    """Close the open exceptions of `source` (all, or only `kinds`) because the problem is gone."""
    source_type, source_id = _source_key(source)
    qs = ExceptionItem.objects.filter(source_type=source_type, source_id=source_id, status=ExceptionItem.Status.OPEN)
    if kinds is not None:
        qs = qs.filter(kind__in=kinds)
    return qs.update(
        status=ExceptionItem.Status.RESOLVED,
        resolved_at=timezone.now(),
        resolved_by=actor[:150],
        resolution_note=note,
    )


def exceptions_resolve_many(
    *, sources: Sequence[models.Model], except_kinds: Sequence[str] = (), actor: str, note: str = ""
) -> int:
    """Close the open exceptions of many sources of one model at once (a processed page), keeping
    `except_kinds` open."""
    if not sources:
        return 0
    source_type = ContentType.objects.get_for_model(sources[0], for_concrete_model=False)
    return (
        ExceptionItem.objects.filter(
            source_type=source_type, source_id__in=[str(s.pk) for s in sources], status=ExceptionItem.Status.OPEN
        )
        .exclude(kind__in=list(except_kinds))
        .update(
            status=ExceptionItem.Status.RESOLVED,
            resolved_at=timezone.now(),
            resolved_by=actor[:150],
            resolution_note=note,
        )
    )


# Apps whose state hangs on an exception (an order's hold) follow an operator closing it, or refuse it (raise
# ApplicationError) when their state is decided another way.
ExceptionClosed = Callable[[ExceptionItem, str], None]
_CLOSING_GUARDS: list[ExceptionClosed] = []
_CLOSED_HOOKS: list[ExceptionClosed] = []


def register_exception_closing(fn: ExceptionClosed) -> ExceptionClosed:
    _CLOSING_GUARDS.append(fn)
    return fn


def register_exception_closed(fn: ExceptionClosed) -> ExceptionClosed:
    _CLOSED_HOOKS.append(fn)
    return fn


def exception_close(*, item: ExceptionItem, status: str, actor: str, note: str = "") -> ExceptionItem:
    if status not in (ExceptionItem.Status.RESOLVED, ExceptionItem.Status.DISCARDED):
        raise ApplicationError(f"An exception can only be closed as resolved or discarded, not {status!r}")
    if item.status != ExceptionItem.Status.OPEN:
        return item
    for guard in _CLOSING_GUARDS:
        guard(item, actor)
    item.status = status
    item.resolved_at = timezone.now()
    item.resolved_by = actor[:150]
    item.resolution_note = note
    item.save(update_fields=["status", "resolved_at", "resolved_by", "resolution_note", "updated_at"])
    for hook in _CLOSED_HOOKS:
        hook(item, actor)
    return item


def exception_reprocess(*, item: ExceptionItem, actor: str) -> ExceptionItem:
    """Run the source's processing again. The processing itself resolves the item when it succeeds."""
    model = item.source_type.model_class()
    if model is None:
        raise ApplicationError(f"The source type of exception {item.pk} no longer exists")
    reprocess = reprocessor_for(model)
    if reprocess is None:
        raise ApplicationError(f"{model._meta.verbose_name} cannot be reprocessed")
    source = model._default_manager.filter(pk=item.source_id).first()
    if source is None:
        raise ApplicationError(f"{model._meta.verbose_name} {item.source_id} no longer exists")
    reprocess(source, actor)
    item.refresh_from_db()
    if item.status == ExceptionItem.Status.RESOLVED and item.resolved_by != actor[:150]:
        # The processing closes it under its own (system) name; the trail should name who had it reprocessed.
        item.resolution_note = f"reprocessed; {item.resolution_note}".strip("; ")
        item.resolved_by = actor[:150]
        item.save(update_fields=["resolved_by", "resolution_note", "updated_at"])
    return item
