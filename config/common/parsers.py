"""Request parsers for the API. Kept apart from `config.common.api`: DRF imports the parser classes while
`rest_framework.views` is being imported, so this module must not import the views (a circular import).

Every body the API takes (JSON, form, multipart fields and file parts) is refused with a 400 when it carries what
looks like a card number, before any view stores it raw: we never store card data (config.common.pan)."""

from __future__ import annotations

import codecs
import json
import logging
from typing import Any

from django.utils.datastructures import MultiValueDict
from rest_framework import parsers as drf_parsers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import DataAndFiles, FormParser, JSONParser, MultiPartParser
from rest_framework.settings import api_settings

from config.common.pan import card_data_refusal, number_is_card

logger = logging.getLogger(__name__)


def _refuse_card_data(payload: Any, extra_paths: list[str] | None = None) -> None:
    if refusal := card_data_refusal(payload, extra_paths=extra_paths):
        logger.warning("API body refused: %s", refusal.message)
        raise refusal


class CardSafeJSONParser(JSONParser):
    """JSON with every number literal checked as written: a float loses digits once parsed (a 19-digit card sent as
    4111111111111111110.0 is no longer itself), so literals are read before they become floats."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = drf_parsers.get_encoding(parser_context or {})  # type: ignore[attr-defined]  # (not in the stubs)
        literals: list[str] = []

        def number(literal: str, kind: type) -> Any:
            if (len(literal) >= 13 or "e" in literal or "E" in literal) and number_is_card(literal):
                literals.append("(a number in the body)")
            return kind(literal)

        try:
            data = json.load(
                codecs.getreader(encoding)(stream),
                parse_constant=_strict_constant if api_settings.STRICT_JSON else None,
                parse_float=lambda literal: number(literal, float),
                parse_int=lambda literal: number(literal, int),
            )
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        _refuse_card_data(data, literals)
        return data


def _strict_constant(name: str) -> Any:
    raise ValueError(f"Out of range float values are not JSON compliant: {name!r}")


class CardSafeFormParser(FormParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        _refuse_card_data(data)
        return data


class CardSafeMultiPartParser(MultiPartParser):
    """Multipart fields and the content of every file part (text as it is; other files read as Latin-1, so digit
    runs in them show too) are checked; the refusal names the field or file part."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> DataAndFiles:
        parsed = super().parse(stream, media_type, parser_context)
        _refuse_card_data(MultiValueDict({**dict(parsed.data.lists()), **dict(parsed.files.lists())}))
        return parsed
