"""Mapping suggestions: propose targets for unmapped SKUs, settlement amount types and custom fields; apply one
only when an operator accepts it, and learn from every decision.

- `mapping_suggestions_refresh` finds what is unmapped now and (re)computes the top 3 targets of each source.
  Decided pairs are left alone: a rejected pair is never proposed again, an accepted one is done. Proposals
  whose source got mapped meanwhile are marked superseded. Safe to run twice and concurrently (each source is
  written in its own transaction, under row locks).
- `mapping_suggestion_accept` creates the real mapping row (SkuMapping, SettlementAccountMapping or
  FieldMappingRule), then reprocesses the open exceptions it may solve through the exception queue's normal
  path, so held orders are released and settlements get their journal.
- `mapping_suggestion_reject` records the operator's no (and why).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.common.errors import ApplicationError
from config.common.models import ExceptionItem
from config.common.services import exception_reprocess
from mappings.models import MappingSuggestion
from mappings.services.suggest_base import (
    MAX_DECISIONS,
    SUPERSEDED_WEIGHT,
    Sample,
    Scored,
    ScoringModel,
    Source,
    Suggester,
    model_fit,
)
from mappings.services.suggest_fields import CustomFieldSuggester
from mappings.services.suggest_gl import GlAccountSuggester
from mappings.services.suggest_sku import SkuSuggester

logger = logging.getLogger(__name__)

TOP = 3
MIN_CONFIDENCE = 0.05  # below this a target is noise, not a suggestion

SUGGESTERS: dict[str, type[Suggester]] = {
    MappingSuggestion.Kind.SKU: SkuSuggester,
    MappingSuggestion.Kind.SETTLEMENT_ACCOUNT: GlAccountSuggester,
    MappingSuggestion.Kind.CUSTOM_FIELD: CustomFieldSuggester,
}


def _suggester(kind: str) -> Suggester:
    try:
        return SUGGESTERS[kind]()
    except KeyError:
        raise ApplicationError(f"Unknown kind of mapping suggestion: {kind!r}") from None


# --- learning --------------------------------------------------------------------------------------------


def mapping_suggestion_decisions(*, kind: str) -> list[MappingSuggestion]:
    """The learning data of a kind: accepted and rejected suggestions, and the alternatives passed over when a
    sibling was accepted (newest first, at most MAX_DECISIONS)."""
    decided = list(
        MappingSuggestion.objects.filter(
            kind=kind, status__in=[MappingSuggestion.Status.ACCEPTED, MappingSuggestion.Status.REJECTED]
        ).order_by("-decided_at", "-pk")[:MAX_DECISIONS]
    )
    accepted_sources = {s.source_key for s in decided if s.status == MappingSuggestion.Status.ACCEPTED}
    passed_over = MappingSuggestion.objects.filter(
        kind=kind, status=MappingSuggestion.Status.SUPERSEDED, source_key__in=accepted_sources
    ).order_by("-pk")[:MAX_DECISIONS]
    return decided + list(passed_over)


def _samples(decisions: Sequence[MappingSuggestion]) -> list[Sample]:
    samples = []
    for s in decisions:
        if s.status == MappingSuggestion.Status.ACCEPTED:
            samples.append(Sample(features=s.features, accepted=True))
        elif s.status == MappingSuggestion.Status.REJECTED:
            samples.append(Sample(features=s.features, accepted=False))
        else:
            samples.append(Sample(features=s.features, accepted=False, weight=SUPERSEDED_WEIGHT))
    return samples


def mapping_suggestion_model(*, kind: str, decisions: Sequence[MappingSuggestion] | None = None) -> ScoringModel:
    """The kind's scoring model: the prior weights moved by the operators' decisions so far."""
    suggester = _suggester(kind)
    if decisions is None:
        decisions = mapping_suggestion_decisions(kind=kind)
    return model_fit(specs=suggester.specs, bias=suggester.bias, samples=_samples(decisions))


def mapping_suggestion_ranking(*, kind: str, source_key: str, limit: int = 10) -> list[Scored]:
    """How every candidate of one unmapped source scores now, best first, without writing anything (the full
    list behind the top 3, e.g. to see why a target was not proposed)."""
    suggester = _suggester(kind)
    decisions = mapping_suggestion_decisions(kind=kind)
    model = mapping_suggestion_model(kind=kind, decisions=decisions)
    suggester.prepare(model=model, decided=decisions)
    source = next((s for s in suggester.sources() if s.key == source_key), None)
    if source is None:
        return []
    return model.rank(suggester.candidates(source), limit=limit, min_confidence=0.0)


# --- refresh ---------------------------------------------------------------------------------------------


def mapping_suggestions_refresh(*, kind: str | None = None) -> int:
    """Find unmapped sources and (re)compute their top suggestions. Returns how many proposals were written."""
    kinds = [kind] if kind else list(SUGGESTERS)
    return sum(_refresh_kind(k) for k in kinds)


def _refresh_kind(kind: str) -> int:
    suggester = _suggester(kind)
    decisions = mapping_suggestion_decisions(kind=kind)
    model = mapping_suggestion_model(kind=kind, decisions=decisions)
    suggester.prepare(model=model, decided=decisions)
    sources = suggester.sources()
    closed = set(
        MappingSuggestion.objects.filter(
            kind=kind, status__in=[MappingSuggestion.Status.ACCEPTED, MappingSuggestion.Status.REJECTED]
        ).values_list("source_key", "target_key")
    )
    written = 0
    for source in sources:
        candidates = [c for c in suggester.candidates(source) if (source.key, c.target_key) not in closed]
        ranked = model.rank(candidates, limit=TOP, min_confidence=MIN_CONFIDENCE)
        try:
            written += _store(kind=kind, source=source, ranked=ranked)
        except IntegrityError:
            # Another refresh inserted this source's rows first; its result is as good as ours.
            logger.info("mapping suggestions for %s written concurrently", source.key, extra={"kind": kind})
    # Sources mapped meanwhile (by an accept or by hand): what is still proposed for them is moot.
    MappingSuggestion.objects.filter(kind=kind, status=MappingSuggestion.Status.PROPOSED).exclude(
        source_key__in=[s.key for s in sources]
    ).update(status=MappingSuggestion.Status.SUPERSEDED, updated_at=timezone.now())
    logger.info("mapping suggestions refreshed", extra={"kind": kind, "sources": len(sources), "written": written})
    return written


def _store(*, kind: str, source: Source, ranked: list[Scored]) -> int:
    with transaction.atomic():
        existing = {
            s.target_key: s
            for s in MappingSuggestion.objects.select_for_update().filter(kind=kind, source_key=source.key)
        }
        kept: set[str] = set()
        for rank, scored in enumerate(ranked, start=1):
            candidate = scored.candidate
            row = existing.get(candidate.target_key)
            if row is not None and row.status in (MappingSuggestion.Status.ACCEPTED, MappingSuggestion.Status.REJECTED):
                continue  # decided while we were computing
            if row is None:
                row = MappingSuggestion(kind=kind, source_key=source.key, target_key=candidate.target_key)
            row.context = source.context
            row.target_label = candidate.target_label[:300]
            row.confidence = scored.confidence
            row.rank = rank
            row.features = candidate.features
            row.evidence = candidate.evidence
            row.reasons = scored.reasons
            row.status = MappingSuggestion.Status.PROPOSED
            row.full_clean(validate_unique=False, validate_constraints=False)  # the database checks those
            row.save()
            kept.add(candidate.target_key)
        stale = [
            row.pk
            for target, row in existing.items()
            if row.status == MappingSuggestion.Status.PROPOSED and target not in kept
        ]
        # Fallen out of the top 3 without a decision: nothing to learn from them.
        MappingSuggestion.objects.filter(pk__in=stale).delete()
    return len(kept)


# --- decisions -------------------------------------------------------------------------------------------


@dataclass
class AcceptResult:
    suggestion: MappingSuggestion
    applied: str
    resolved: int = 0
    still_open: int = 0
    errors: list[str] = field(default_factory=list)


def _decidable(suggestion: MappingSuggestion) -> MappingSuggestion:
    """The suggestion, locked with its siblings (so two accepts for one source run one after the other)."""
    siblings = MappingSuggestion.objects.select_for_update().filter(
        kind=suggestion.kind, source_key=suggestion.source_key
    )
    row = next((s for s in siblings.order_by("pk") if s.pk == suggestion.pk), None)
    if row is None:
        raise ApplicationError(f"{suggestion.source_key} → {suggestion.target_key} no longer exists.")
    if row.status != MappingSuggestion.Status.PROPOSED:
        raise ApplicationError(
            f"{row.source_key} → {row.target_key} is {row.get_status_display().lower()}: nothing to decide."
        )
    return row


def mapping_suggestion_accept(*, suggestion: MappingSuggestion, actor: str) -> AcceptResult:
    """Apply the suggestion (create the mapping row), then reprocess the open exceptions it may solve.

    Raises ApplicationError when the suggestion is decided already, the source got mapped meanwhile, or the
    mapping cannot be created; nothing changes then. Reprocessing problems do not undo the accept: they are
    reported in the result (the exceptions stay open with their reason, as after a manual reprocess)."""
    suggester = _suggester(suggestion.kind)
    with transaction.atomic():
        row = _decidable(suggestion)
        if not suggester.still_unmapped(source_key=row.source_key, context=row.context):
            raise ApplicationError(f"{row.source_key} is mapped already; refresh the suggestions.")
        try:
            applied = suggester.apply(
                source_key=row.source_key, context=row.context, target_key=row.target_key, target_label=row.target_label
            )
        except ValidationError as exc:
            raise ApplicationError(f"The mapping cannot be created: {'; '.join(exc.messages)}") from exc
        row.status = MappingSuggestion.Status.ACCEPTED
        row.decided_by = actor[:150]
        row.decided_at = timezone.now()
        row.outcome = applied
        row.save(update_fields=["status", "decided_by", "decided_at", "outcome", "updated_at"])
        MappingSuggestion.objects.filter(
            kind=row.kind, source_key=row.source_key, status=MappingSuggestion.Status.PROPOSED
        ).update(status=MappingSuggestion.Status.SUPERSEDED, updated_at=timezone.now())
    logger.info("mapping suggestion accepted: %s", applied, extra={"kind": row.kind, "source": row.source_key})

    # After the commit: reprocessing reads the new mapping, and each exception commits on its own.
    result = AcceptResult(suggestion=row, applied=applied)
    for item in ExceptionItem.objects.filter(
        pk__in=suggester.exceptions_to_reprocess(source_key=row.source_key, context=row.context)
    ).order_by("pk"):
        try:
            item = exception_reprocess(item=item, actor=actor)
        except ApplicationError as exc:
            result.errors.append(f"{item.summary}: {exc.message}")
            result.still_open += 1
            continue
        if item.status == ExceptionItem.Status.OPEN:
            result.still_open += 1
        else:
            result.resolved += 1
    row.outcome = f"{applied} Reprocessed: {result.resolved} exception(s) resolved, {result.still_open} still open."
    row.save(update_fields=["outcome", "updated_at"])
    suggestion.refresh_from_db()
    result.suggestion = suggestion
    return result


@transaction.atomic
def mapping_suggestion_reject(*, suggestion: MappingSuggestion, actor: str, reason: str = "") -> MappingSuggestion:
    """Record the operator's no. The pair is never proposed again; its features count against the weights."""
    row = _decidable(suggestion)
    row.status = MappingSuggestion.Status.REJECTED
    row.decided_by = actor[:150]
    row.decided_at = timezone.now()
    row.decision_note = reason.strip()
    row.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "updated_at"])
    suggestion.refresh_from_db()
    return suggestion
