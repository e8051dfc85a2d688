"""What a card number (PAN) looks like: a 13–19 digit run standing on its own (in one piece or in groups split by
spaces or dashes as cards are written) with a card brand's prefix and one of the lengths that brand issues, passing
the Luhn check. Used to refuse inbound payloads that carry one (we
never store card data) and by the test suite's scan of every database write and log line."""

from __future__ import annotations

import re
from typing import Any

from config.common.errors import ApplicationError

# A run of digit groups split by single spaces or dashes, not glued to letters or other digits: a digit run inside
# a hex id or base64 text (task ids, UUIDs, signatures) is part of that token, not a card number.
DIGIT_RUN = re.compile(r"(?<![0-9A-Za-z])\d+(?:[ -]\d+)*(?![0-9A-Za-z])")
# Card brands by their first digits, with the lengths each issues (provider ids of other lengths are not cards).
BRANDS = [
    (re.compile(r"^4"), {13, 16, 19}),  # Visa
    (re.compile(r"^(5[1-5]|2[2-7])"), {16}),  # Mastercard
    (re.compile(r"^3[47]"), {15}),  # American Express
    (re.compile(r"^(6011|65|64[4-9])"), {16, 17, 18, 19}),  # Discover
    (re.compile(r"^35"), {16, 17, 18, 19}),  # JCB
    (re.compile(r"^(5018|5020|5038|6304|6759|676[1-3])"), {12, 13, 14, 15, 16, 17, 18, 19}),  # Maestro
]


def written_as_card(lengths: list[int]) -> bool:
    """Whether digit groups of these lengths are how card numbers are written: in one piece, in fours (the last
    group shorter), or American Express's 4-6-5. Amazon order ids (3-7-7) and UUIDs (8-4-4-4-12) are not."""
    if len(lengths) == 1:
        return True
    return lengths == [4, 6, 5] or (all(n == 4 for n in lengths[:-1]) and 1 <= lengths[-1] <= 4)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def brand_ok(digits: str) -> bool:
    return any(prefix.match(digits) and len(digits) in lengths for prefix, lengths in BRANDS)


def card_numbers(text: str) -> list[str]:
    """The card-like numbers in `text` (digits only): any consecutive groups of a run, written as a card is, whose
    13-19 digits have a brand's prefix and length and pass the Luhn check."""
    found = []
    for run in DIGIT_RUN.finditer(text):
        groups = re.split(r"[ -]", run.group())
        for start in range(len(groups)):
            digits = ""
            for end in range(start, len(groups)):
                digits += groups[end]
                if len(digits) > 19:
                    break
                lengths = [len(g) for g in groups[start : end + 1]]
                if len(digits) >= 13 and written_as_card(lengths) and brand_ok(digits) and luhn_ok(digits):
                    found.append(digits)
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
