"""What a card number (PAN) looks like: a 13–19 digit run standing on its own (in one piece or in groups split by
spaces or dashes as cards are written) with a card brand's prefix and one of the lengths that brand issues, passing
the Luhn check. Used to refuse inbound payloads that carry one (we never store card data) and by the test suite's
scan of every database write and log line."""

from __future__ import annotations

import functools
import re
from typing import Any

from config.common.errors import ApplicationError

# A run of digit groups split by single spaces or dashes, not glued to letters or other digits: a digit run inside
# a hex id or base64 text (task ids, UUIDs, signatures) is part of that token, not a card number.
DIGIT_RUN = re.compile(r"(?<![0-9A-Za-z])\d+(?:[ -]\d+)*(?![0-9A-Za-z])")
# 13 digits, single spaces or dashes allowed between: text without this holds no card (checked first, it is cheap).
THIRTEEN_DIGITS = re.compile(r"\d(?:[ -]?\d){12}")
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


def _written_as_cards(groups: list[str], sizes: list[int], start: int) -> list[str]:
    """The digits of the windows starting at `groups[start]` that are written as card numbers are: in one piece, in
    fours with a shorter last group (4-4-4-1…4, 4-4-4-4-1…3), or American Express's 4-6-5. Amazon order ids (3-7-7)
    and UUIDs (8-4-4-4-12) are not. A few steps per group, so a long run of short groups costs little."""
    if sizes[start] != 4:
        return [groups[start]] if 13 <= sizes[start] <= 19 else []
    found = []
    if sizes[start + 1 : start + 3] == [6, 5]:
        found.append("".join(groups[start : start + 3]))
    if sizes[start + 1 : start + 3] == [4, 4] and len(sizes) > start + 3:
        if 1 <= sizes[start + 3] <= 4:
            found.append("".join(groups[start : start + 4]))
        if sizes[start + 3] == 4 and len(sizes) > start + 4 and 1 <= sizes[start + 4] <= 3:
            found.append("".join(groups[start : start + 5]))
    return found


# Luhn: every second digit from the right is doubled and its two digits added (5 → 10 → 1).
_DOUBLED = str.maketrans("0123456789", "0246813579")


def luhn_ok(digits: str) -> bool:
    return sum(map(int, digits[-1::-2] + digits[-2::-2].translate(_DOUBLED))) % 10 == 0


def brand_ok(digits: str) -> bool:
    return len(digits) in _brand_lengths(digits[:4])


def card_numbers(text: str) -> list[str]:
    """The card-like numbers in `text` (digits only): any consecutive groups of a run, written as a card is, whose
    13-19 digits have a brand's prefix and length and pass the Luhn check."""
    found: list[str] = []
    if not THIRTEEN_DIGITS.search(text):
        return found
    for run in DIGIT_RUN.finditer(text):
        groups = re.split(r"[ -]", run.group())
        sizes = [len(g) for g in groups]
        for start, group in enumerate(groups):
            # Only a group of 4 or of 13-19 digits with a brand's first digits can start a card.
            if (sizes[start] == 4 or 13 <= sizes[start] <= 19) and _brand_lengths(group[:4]):
                found.extend(d for d in _written_as_cards(groups, sizes, start) if brand_ok(d) and luhn_ok(d))
    return found


def card_number_paths(value: Any, path: str = "") -> list[str]:
    """Where in a parsed JSON value a card-like number sits (`payment.note`, `lines.0.sku`; keys count too)."""
    if isinstance(value, dict):
        found = []
        for key, inner in value.items():
            # A card number used as a key is named by its place, never repeated (paths go into answers and logs).
            name = "(a key that looks like a card number)" if card_numbers(str(key)) else str(key)
            here = f"{path}.{name}" if path else name
            if name != str(key):
                found.append(here)
            found.extend(card_number_paths(inner, here))
        return found
    if isinstance(value, list):
        return [p for i, inner in enumerate(value) for p in card_number_paths(inner, f"{path}.{i}" if path else str(i))]
    if isinstance(value, str | int) and not isinstance(value, bool) and card_numbers(str(value)):
        return [path or "(body)"]
    return []


def card_data_refusal(payload: Any) -> ApplicationError | None:
    """The error for an inbound payload that carries a card-like number (naming where, never the number)."""
    paths = card_number_paths(payload)
    if not paths:
        return None
    return ApplicationError(
        f"Refused and not stored: {', '.join(paths)} holds what looks like a card number. Card data must never be "
        "sent to Ledgerline (payments are taken by Opayo); send it again without.",
        extra={"fields": paths},
    )
