"""django-q2 entry points (thin, safe to run twice)."""

from __future__ import annotations

from mappings.services import mapping_suggestions_refresh


def mapping_suggestions_refresh_task(kind: str | None = None) -> str:
    """Every 15 minutes: suggestions for what is unmapped now (SKUs on hold, settlement amount types, fields)."""
    written = mapping_suggestions_refresh(kind=kind)
    return f"{written} mapping suggestion(s) proposed"
