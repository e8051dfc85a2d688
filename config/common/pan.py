"""What a card number (PAN) looks like, and the one check every inbound path uses to keep card data out.

A card number is 13–19 digits with a card brand's prefix and one of the lengths that brand issues, passing the Luhn
check, written as cards are written: in one piece, or in groups (fours with a shorter last group, or American
Express's 4-6-5) split by any run of separators (spaces, NBSP and other Unicode spaces, dots, dashes, slashes,
underscores, zero-width characters, middle dots). Digits of any script count (fullwidth ４, Arabic-Indic ٤), a
leading '+' or '-' does not hide one, and a number written with an exponent that denotes an integer
(`4.111111111111111e15`) counts as that integer. Digits glued to letters count (`pan4111111111111111`), except
inside an identifier made only of hex digits (and dashes) of hash or UUID length: at least 24 hex digits, at least
one of them a letter (task ids, UUIDs, SHA/MD5 digests hold Luhn-valid Visa-like runs about once in 5,000).

Used to refuse inbound payloads that carry one (we never store card data), to mask provider notifications that we
must keep, and by the test suite's scan of every database write and log line."""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.datastructures import MultiValueDict

from config.common.errors import ApplicationError

MASK = "[card number removed]"

# What may stand between a card's digit groups, any number of them: spaces (not tabs or line breaks, which separate
# table cells and lines, not groups), dots, dashes and hyphens, slashes, underscores, invisible and fullwidth forms.
_SEPARATORS = (
    " \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000"  # spaces
    "\u200b-\u200d\u2060\ufeff\u00ad"  # zero-width characters, soft hyphen
    r"._/\\\-"  # dots, underscores, slashes, dashes
    "\u00b7\u2022\u2027\u30fb"  # middle dots, bullet
    "\u2010-\u2015\u2212\ufe58\ufe63"  # Unicode hyphens, dashes, minus
    "\uff0d\uff0e\uff0f\uff3f"  # fullwidth - . / _
)
_SEP = f"[{_SEPARATORS}]++"
_D = "[0-9]"
# Every shape a card is written in, tried at each digit group that starts with a brand's first digit (2-6). Each
# is a lookahead so that overlapping shapes at one place (4-4-4-4 and 4-4-4-4-3) are all reported.
_SHAPES = re.compile(
    rf"(?<![0-9])(?=[2-6])"
    rf"(?={_D}{{13}}|{_D}{{4}}{_SEP}{_D}{{4,6}}{_SEP}{_D})"  # at least one shape can follow (fewer empty matches)
    rf"(?:(?=({_D}{{13,19}})(?!{_D})))?"  # one piece
    rf"(?:(?=({_D}{{4}}{_SEP}{_D}{{6}}{_SEP}{_D}{{5}})(?!{_D})))?"  # American Express 4-6-5
    rf"(?:(?=({_D}{{4}}(?:{_SEP}{_D}{{4}}){{2}}{_SEP}{_D}{{1,4}})(?!{_D})))?"  # 4-4-4-1…4
    rf"(?:(?=({_D}{{4}}(?:{_SEP}{_D}{{4}}){{3}}{_SEP}{_D}{{1,3}})(?!{_D})))?"  # 4-4-4-4-1…3 (19 digits)
)
# Text without 13 digits at once (separators allowed between) holds no written card: checked first, it is cheap.
_THIRTEEN_DIGITS = re.compile(rf"{_D}(?:[{_SEPARATORS}]*+{_D}){{12}}")
# A number with an exponent (`4.111111111111111e15`, `+4111111111111111E0`): counted as the integer it denotes.
_EXPONENT = re.compile(r"(?<![0-9A-Za-z.])[+-]?[0-9]+(?:\.[0-9]+)?[eE][+]?[0-9]{1,2}(?![0-9A-Za-z])")
_NOT_DIGITS = re.compile(r"[^0-9]")
# The characters of one token (an identifier is judged whole) and of a hex identifier.
_TOKEN_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-")
_HEX_ID = re.compile(r"[0-9A-Fa-f-]+")
HEX_ID_MIN_DIGITS = 24
HEX_ID_MAX_CHARS = 160  # a SHA-512 digest is 128 hex digits


@functools.cache
def _ascii_digits() -> dict[int, int]:
    """Digits of every script → ASCII (one character for one, so positions do not move). Built on first use."""
    return {
        c: ord("0") + unicodedata.decimal(chr(c))
        for c in range(128, sys.maxunicode + 1)
        if unicodedata.category(chr(c)) == "Nd"
    }


# Card brands by their first digits, with the lengths each issues (provider ids of other lengths are not cards).
BRANDS = [
    (re.compile(r"4"), {13, 16, 19}),  # Visa
    (re.compile(r"5[1-5]|2[2-7]"), {16}),  # Mastercard
    (re.compile(r"3[47]"), {15}),  # American Express
    (re.compile(r"6011|65|64[4-9]"), {16, 17, 18, 19}),  # Discover
    (re.compile(r"35"), {16, 17, 18, 19}),  # JCB
    (re.compile(r"5018|5020|5038|6304|6759|676[1-3]"), {12, 13, 14, 15, 16, 17, 18, 19}),  # Maestro
]


@functools.cache  # keyed by the first four digits: at most 10,000 entries
def _brand_lengths(first_four: str) -> frozenset[int]:
    """The lengths a card starting with these digits can have (none: no brand starts so)."""
    return frozenset(n for prefix, lengths in BRANDS if prefix.match(first_four) for n in lengths)


# Luhn: every second digit from the right is doubled and its two digits added (5 → 10 → 1).
_DOUBLED = str.maketrans("0123456789", "0246813579")


def luhn_ok(digits: str) -> bool:
    # Summing the bytes of ASCII digits is their values plus 48 each (faster than int() per digit).
    return (sum((digits[-1::-2] + digits[-2::-2].translate(_DOUBLED)).encode()) - 48 * len(digits)) % 10 == 0


def brand_ok(digits: str) -> bool:
    return len(digits) in _brand_lengths(digits[:4])


def is_card_number(digits: str) -> bool:
    return brand_ok(digits) and luhn_ok(digits)


@functools.lru_cache(maxsize=4096)  # a body that repeats one shape (the costly case) checks it once
def _card_digits(written: str) -> str:
    """The digits of a number written in a card's shape if they make a card number, else ''."""
    digits = written if written.isdigit() else _NOT_DIGITS.sub("", written)
    return digits if is_card_number(digits) else ""


def _normalised(text: str) -> str:
    return text if text.isascii() else text.translate(_ascii_digits())


def _token_is_hex_id(text: str, start: int, end: int) -> tuple[int, int, bool]:
    """The token (letters, digits, '_', '-') around text[start:end], and whether it is a hex identifier. Looks at
    most HEX_ID_MAX_CHARS around: a longer token is no identifier, and a long run costs no more to judge."""
    low, high = max(0, end - HEX_ID_MAX_CHARS - 1), min(len(text), start + HEX_ID_MAX_CHARS + 1)
    while start > low and text[start - 1] in _TOKEN_CHARS:
        start -= 1
    while end < high and text[end] in _TOKEN_CHARS:
        end += 1
    if end - start > HEX_ID_MAX_CHARS:
        return start, end, False
    token = text[start:end]
    hex_digits = len(token) - token.count("-")
    is_id = hex_digits >= HEX_ID_MIN_DIGITS and bool(_HEX_ID.fullmatch(token)) and not token.replace("-", "").isdigit()
    return start, end, is_id


def card_spans(text: str, *, first_only: bool = False) -> list[tuple[int, int, str]]:
    """Where card-like numbers sit in `text`: (start, end, digits), in order; a 4-4-4-4-3 card also yields its
    4-4-4-4 part (both are cards). `first_only`: stop at the first (a refusal needs no more)."""
    found: list[tuple[int, int, str]] = []
    if len(text) < 13:  # short: only a number with an exponent can hold 13 digits
        if not ("e" in text or "E" in text) or not _EXPONENT.search(text):
            return found
        has_exponent = True
    else:
        has_exponent = ("e" in text or "E" in text) and bool(_EXPONENT.search(text))
    text = _normalised(text)
    token = (0, 0, False)  # the last token judged, reused by the candidates inside it (a long hex blob is read once)

    def in_hex_id(start: int, end: int, written: str) -> bool:
        nonlocal token
        if not (token[0] <= start and end <= token[1]):
            if not all(c in _TOKEN_CHARS for c in written):
                return False  # spaces, dots, ...: not inside one token
            token = _token_is_hex_id(text, start, end)
        return token[2]

    if _THIRTEEN_DIGITS.search(text):
        for match in _SHAPES.finditer(text):
            for written in match.groups():
                if written is None or not (digits := _card_digits(written)):
                    continue
                start, end = match.start(), match.start() + len(written)
                if not in_hex_id(start, end, written):
                    found.append((start, end, digits))
                    if first_only:
                        return found
    if has_exponent:
        for match in _EXPONENT.finditer(text):
            start, end = match.span()
            number = _integer_digits(match.group())
            if not number or not is_card_number(number) or any(s < end and start < e for s, e, _ in found):
                continue
            if not in_hex_id(start, end, match.group().lstrip("+-")):
                found.append((start, end, number))
        found.sort()
    return found


def _integer_digits(literal: str) -> str | None:
    """The digits of the integer a number literal denotes (sign dropped), if it denotes an integer of 13-19
    digits; None otherwise."""
    try:
        value = Decimal(literal)
    except InvalidOperation:
        return None
    if not value.is_finite() or value != value.to_integral_value() or not 10**12 <= abs(value) < 10**19:
        return None
    return str(abs(int(value)))


def card_numbers(text: str) -> list[str]:
    """The card-like numbers in `text` (digits only)."""
    return [digits for _, _, digits in card_spans(text)]


def card_numbers_mask(text: str, replacement: str = MASK) -> tuple[str, int]:
    """`text` with every card-like number replaced (overlapping ones as one), and how many were replaced."""
    spans = card_spans(text)
    if not spans:
        return text, 0
    text = _normalised(text)
    merged: list[list[int]] = []
    for start, end, _ in spans:
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    parts, last = [], 0
    for start, end in merged:
        parts += [text[last:start], replacement]
        last = end
    parts.append(text[last:])
    return "".join(parts), len(merged)


def number_is_card(value: int | float | Decimal | str) -> bool:
    """A JSON or form number (4111111111111111, 4111111111111111.0, 4.111111111111111e15, '+4111111111111111')."""
    if isinstance(value, float) and value.is_integer() and 1e12 <= abs(value) < 1e19:
        value = repr(value)  # the shortest literal that parses back to this float
    digits = _integer_digits(str(value).strip())
    return bool(digits) and is_card_number(digits)  # type: ignore[arg-type]


def _text_of_file(upload: Any) -> str:
    """An uploaded file's content as text (binary content is read as Latin-1, so digit runs in it still show)."""
    upload.seek(0)
    data = upload.read()
    upload.seek(0)
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


@functools.lru_cache(maxsize=1024)  # the same keys come in every element of a list
def _key_is_card(key: str) -> bool:
    return bool(card_spans(key, first_only=True))


def card_number_paths(value: Any, path: str = "") -> list[str]:
    """Where in a parsed inbound value a card-like number sits (`payment.note`, `lines.0.sku`; keys, every value of
    a repeated form field and the content of uploaded files count too)."""
    if isinstance(value, MultiValueDict):  # a form: every value of a repeated field, not only the last
        value = {key: values[0] if len(values) == 1 else values for key, values in value.lists()}
    if isinstance(value, dict):
        found = []
        for key, inner in value.items():
            # A card number used as a key is named by its place, never repeated (paths go into answers and logs).
            name = "(a key that looks like a card number)" if _key_is_card(str(key)) else str(key)
            here = f"{path}.{name}" if path else name
            if name != str(key):
                found.append(here)
            found.extend(card_number_paths(inner, here))
        return found
    if isinstance(value, list | tuple):
        return [p for i, inner in enumerate(value) for p in card_number_paths(inner, f"{path}.{i}" if path else str(i))]
    if isinstance(value, str):
        return [path or "(body)"] if card_spans(value, first_only=True) else []
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int | float | Decimal):
        if -1e12 < value < 1e12:  # the common case, cheaply: fewer than 13 digits before any decimal point
            return []
        return [path or "(body)"] if number_is_card(value) else []
    if hasattr(value, "read") and hasattr(value, "seek"):  # an uploaded file: its name and its content
        name = str(getattr(value, "name", "") or "")
        return [path or "(file)"] if card_spans(name) or card_spans(_text_of_file(value), first_only=True) else []
    return [path or "(body)"] if card_spans(str(value), first_only=True) else []


def card_data_refusal(payload: Any, *, extra_paths: list[str] | None = None) -> ApplicationError | None:
    """The error for an inbound payload that carries a card-like number (naming where, never the number)."""
    paths = list(dict.fromkeys(card_number_paths(payload) or extra_paths or []))  # extra: found before parsing
    if not paths:
        return None
    return ApplicationError(
        f"Refused and not stored: {', '.join(paths)} holds what looks like a card number. Card data must never be "
        "sent to Ledgerline (payments are taken by Opayo); send it again without.",
        extra={"fields": paths},
    )
