"""False positives of the card-number check on identifiers that carry random digits: how many of N random UUIDs,
hex ids (digests, task ids) and base64 tokens it takes for a card number. The answer must be 0 for each kind.

Digits glued to letters count as a card number (`pan4111111111111111`) unless the token is a hex identifier of at
least 24 hex digits; random base64 text practically never holds 13 digits in a row ((10/64)^13 per place), so it
needs no exception. Hex ids shorter than 24 digits are measured too, to show why the bound is there.

    .venv/bin/python bench/card_false_positives.py [--n 200000]
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

import django

django.setup()

from config.common.pan import card_numbers  # noqa: E402 (after django.setup)

KINDS: dict[str, Callable[[], str]] = {
    "UUID, 32 hex (django-q task id)": lambda: uuid.uuid4().hex,
    "UUID 8-4-4-4-12": lambda: str(uuid.uuid4()),
    "UUID upper case in braces (VPSTxId)": lambda: "{" + str(uuid.uuid4()).upper() + "}",
    "hex id, 24 digits": lambda: secrets.token_hex(12),
    "hex id, 40 digits (DRF token, SHA-1)": lambda: secrets.token_hex(20),
    "hex id, 64 digits (SHA-256) in text": lambda: f"file {secrets.token_hex(32)} stored",
    "MD5 upper case (VPSSignature)": lambda: secrets.token_hex(16).upper(),
    "base64url token, 32 bytes (API token)": lambda: "ll_" + secrets.token_urlsafe(32),
    "base64 standard, 48 bytes": lambda: base64.b64encode(os.urandom(48)).decode(),
    "base64 Fernet-like, 120 bytes": lambda: base64.urlsafe_b64encode(os.urandom(120)).decode(),
}
SHORT_HEX: dict[str, Callable[[], str]] = {
    "hex id, 16 digits (not exempt: below 24)": lambda: secrets.token_hex(8),
    "hex id, 20 digits (not exempt: below 24)": lambda: secrets.token_hex(10),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200_000)
    args = parser.parse_args()
    print(f"false positives of the card check, {args.n:,} random values per kind")
    total = 0
    for name, make in {**KINDS, **SHORT_HEX}.items():
        started = time.perf_counter()
        hits = sum(1 for _ in range(args.n) if card_numbers(make()))
        if name in KINDS:
            total += hits
        print(f"  {name:42} {hits:6d} found   ({time.perf_counter() - started:.1f} s)")
    print(f"total over the exempt kinds: {total} (must be 0)")
    sys.exit(1 if total else 0)


if __name__ == "__main__":
    main()
