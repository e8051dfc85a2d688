"""Text similarity for mapping suggestions: codes (SKUs, item ids) and names (descriptions, field names).

Pure functions, no database. Codes are compared as upper-case segments ("tent_2p grn" → TENT, 2P, GRN) and as
character trigrams; names as words (camelCase and snake_case split, plurals folded) matched softly, so that
abbreviations an ERP uses ("TNT" for tent, "Nbr" for number, "GR" for green) still count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

_NON_ALNUM = re.compile(r"[^0-9A-Za-z]+")
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_DIGITS = re.compile(r"\d+")
STOPWORDS = frozenset({"a", "an", "and", "the", "of", "for", "to", "by", "on", "in", "with", "per", "amazon"})
EMPTY = "∅"


def code_segments(text: str) -> tuple[str, ...]:
    """`tent_2p grn` → ("TENT", "2P", "GRN"): case and separators do not matter in a code."""
    return tuple(part.upper() for part in _NON_ALNUM.split(text) if part)


def code_compact(text: str) -> str:
    return "".join(code_segments(text))


def _stem(word: str) -> str:
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) >= 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


@lru_cache(maxsize=20_000)
def words(text: str) -> tuple[str, ...]:
    """Lower-case words of a name: `FBAPerUnitFulfillmentFee` → fba, unit, fulfillment, fee (stopwords dropped)."""
    found: list[str] = []
    for part in _NON_ALNUM.split(text):
        for word in _WORD.findall(part):
            word = _stem(word.lower())
            if word and word not in STOPWORDS:
                found.append(word)
    return tuple(found)


def code_words(text: str) -> tuple[str, ...]:
    """A code's segments as words (`TNT-0002-GR` → tnt, 0002, gr), for matching a code against a name."""
    return tuple(segment.lower() for segment in code_segments(text))


@lru_cache(maxsize=50_000)
def trigrams(text: str) -> frozenset[str]:
    padded = f"  {text.upper()} "
    return frozenset(padded[i : i + 3] for i in range(len(padded) - 2))


def dice(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))


def code_similarity(a: str, b: str) -> float:
    """0..1: mean of the trigram Dice coefficient and difflib's ratio over the compact codes."""
    ca, cb = code_compact(a), code_compact(b)
    if not ca or not cb:
        return 0.0
    if ca == cb:
        return 1.0
    return (dice(trigrams(ca), trigrams(cb)) + SequenceMatcher(None, ca, cb).ratio()) / 2


def _is_subsequence(short: str, long: str) -> bool:
    it = iter(long)
    return all(ch in it for ch in short)


@lru_cache(maxsize=100_000)
def word_match(a: str, b: str) -> float:
    """How well two words match: equal 1; numbers equal in value (2P ~ 0002) or one a prefix of the other
    (GR ~ green) 0.8; an abbreviation that keeps the first letter and the order of letters (TNT ~ tent,
    NBR ~ number) 0.7; otherwise their trigram similarity when it is at least 0.6."""
    if a == b:
        return 1.0
    da, db = _DIGITS.findall(a), _DIGITS.findall(b)
    if da or db:
        if da and db and [int(x) for x in da] == [int(x) for x in db]:
            letters_a, letters_b = _DIGITS.sub("", a), _DIGITS.sub("", b)
            return 0.8 if not letters_a or not letters_b or letters_a == letters_b else 0.6
        return 0.0
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) >= 2 and long.startswith(short):
        return 0.8 if len(short) >= 3 or len(long) <= 4 else 0.6
    if len(short) >= 2 and short[0] == long[0] and _is_subsequence(short, long):
        return 0.7 if len(short) >= 3 else 0.5
    similarity = dice(trigrams(a), trigrams(b))
    return similarity if similarity >= 0.6 else 0.0  # colour ~ color; grey and green are not alike


def words_similarity(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    """0..1, symmetric soft overlap (each word's best match on the other side, averaged over both sides)."""
    if not a or not b:
        return 0.0
    left = sum(max(word_match(x, y) for y in b) for x in a)
    right = sum(max(word_match(x, y) for y in a) for x in b)
    return (left + right) / (len(a) + len(b))


def name_similarity(a: str, b: str) -> float:
    """Two names (descriptions, field names, keys): soft word overlap, or close spelling of the whole."""
    by_words = words_similarity(words(a), words(b))
    ca, cb = code_compact(a).lower(), code_compact(b).lower()
    by_chars = dice(trigrams(ca), trigrams(cb)) if ca and cb else 0.0
    return max(by_words, by_chars)


def numbers_in(segments: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(int(n) for segment in segments for n in _DIGITS.findall(segment))


@dataclass(frozen=True)
class CodeDifference:
    """How a code (`source`) differs from another (`other`) at one end, e.g. the suffix V2 added.

    `op` is "same" (only case or separators differ), "added" (source has extra segments), "removed" (source
    lacks segments the other has) or "replaced" (the last/first segments differ). `core` is what both share.
    """

    op: str
    side: str  # "suffix" | "prefix" | ""
    source_part: tuple[str, ...]
    other_part: tuple[str, ...]
    core: tuple[str, ...]

    @property
    def signature(self) -> str:
        """A transform in words a later case can be compared with, e.g. `suffix:V2>∅` or `suffix:DE>UK`."""
        if self.op == "same":
            return "same"
        return f"{self.side}:{'-'.join(self.source_part) or EMPTY}>{'-'.join(self.other_part) or EMPTY}"

    @property
    def general_signature(self) -> str:
        """The signature with digits generalised (`suffix:V#>∅`), so V2 also teaches V3."""
        return _DIGITS.sub("#", self.signature)

    def describe(self) -> str:
        joined_source = "-".join(self.source_part)
        joined_other = "-".join(self.other_part)
        piece = (lambda text: f"-{text}") if self.side == "suffix" else (lambda text: f"{text}-")
        if self.op == "same":
            return "only by letter case or separators"
        if self.op == "added":
            return f"only by the {self.side} {piece(joined_source)}"
        if self.op == "removed":
            return f"only by lacking the {self.side} {piece(joined_other)}"
        end = "last" if self.side == "suffix" else "first"
        return f"only in its {end} part: {joined_source} instead of {joined_other}"


def code_difference(source: str, other: str, *, max_segments: int = 2) -> CodeDifference | None:
    """The difference between two codes if it is confined to one end (at most `max_segments` segments)."""
    s, o = code_segments(source), code_segments(other)
    if not s or not o:
        return None
    if s == o or "".join(s) == "".join(o):
        return CodeDifference("same", "", (), (), s)
    for k in range(1, max_segments + 1):
        if len(s) - k == len(o):
            if s[: len(o)] == o:
                return CodeDifference("added", "suffix", s[len(o) :], (), o)
            if s[k:] == o:
                return CodeDifference("added", "prefix", s[:k], (), o)
        if len(o) - k == len(s):
            if o[: len(s)] == s:
                return CodeDifference("removed", "suffix", (), o[len(s) :], s)
            if o[k:] == s:
                return CodeDifference("removed", "prefix", (), o[:k], s)
    if len(s) == len(o) and len(s) >= 2:
        for k in range(1, min(max_segments, len(s) - 1) + 1):
            if s[:-k] == o[:-k]:
                return CodeDifference("replaced", "suffix", s[-k:], o[-k:], s[:-k])
            if s[k:] == o[k:]:
                return CodeDifference("replaced", "prefix", s[:k], o[:k], s[k:])
    return None


def apply_signature(source: str, signature: str) -> str | None:
    """The code a learned transform maps `source` to (compact form), or None when it does not apply.

    `suffix:DE>UK` turns TENT-2P-GRN-DE into TENT2PGRNUK; generalised signatures (with #) do not apply."""
    if "#" in signature or ":" not in signature:
        return None
    side, change = signature.split(":", 1)
    source_text, _, other_text = change.partition(">")
    source_part = () if source_text == EMPTY else tuple(source_text.split("-"))
    other_part = () if other_text == EMPTY else tuple(other_text.split("-"))
    segments = code_segments(source)
    k = len(source_part)
    if side == "suffix" and segments[len(segments) - k :] == source_part and len(segments) > k:
        return "".join(segments[: len(segments) - k] + other_part)
    if side == "prefix" and segments[:k] == source_part and len(segments) > k:
        return "".join(other_part + segments[k:])
    return None
