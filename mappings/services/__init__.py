"""Mappings services. Import from here; the submodules are an implementation detail."""

from mappings.services.suggestions import (
    AcceptResult,
    mapping_suggestion_accept,
    mapping_suggestion_decisions,
    mapping_suggestion_model,
    mapping_suggestion_ranking,
    mapping_suggestion_reject,
    mapping_suggestions_refresh,
)

__all__ = [
    "AcceptResult",
    "mapping_suggestion_accept",
    "mapping_suggestion_decisions",
    "mapping_suggestion_model",
    "mapping_suggestion_ranking",
    "mapping_suggestion_reject",
    "mapping_suggestions_refresh",
]
