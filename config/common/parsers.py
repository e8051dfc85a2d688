"""Request parsers for the API. Kept apart from `config.common.api`: DRF imports the parser classes while
`rest_framework.views` is being imported, so this module must not import the views (a circular import)."""

from __future__ import annotations

import logging
from typing import Any

from rest_framework.parsers import FormParser, JSONParser

from config.common.pan import card_data_refusal

logger = logging.getLogger(__name__)


class _CardSafe:
    """Bodies are refused when they carry what looks like a card number, before any view stores them raw: we never
    store card data. The answer and the log name where, never the number."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)  # type: ignore[misc]
        if refusal := card_data_refusal(data):
            logger.warning("API body refused: %s", refusal.message)
            raise refusal
        return data


class CardSafeJSONParser(_CardSafe, JSONParser):
    pass


class CardSafeFormParser(_CardSafe, FormParser):
    pass
