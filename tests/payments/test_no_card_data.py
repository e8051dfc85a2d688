"""No card number or CVV is stored or logged anywhere (PCI DSS): run the payment flows, then scan everything."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from django.db import connection

from tests.payments import test_opayo_flows as flows

CARD_RUN = re.compile(r"(?<!\d)(?:\d[ -]?){13,19}(?!\d)")
TEST_CARDS = ["4929000000006", "4929602110085639", "5403814948608092", "5404000000000001"]
# Card brands by their first digits, with the lengths each issues (provider ids of other lengths are not cards).
BRANDS = [
    (re.compile(r"^4"), {13, 16, 19}),  # Visa
    (re.compile(r"^(5[1-5]|2[2-7])"), {16}),  # Mastercard
    (re.compile(r"^3[47]"), {15}),  # American Express
    (re.compile(r"^(6011|65|64[4-9])"), {16, 17, 18, 19}),  # Discover
    (re.compile(r"^35"), {16, 17, 18, 19}),  # JCB
    (re.compile(r"^(5018|5020|5038|6304|6759|676[1-3])"), {12, 13, 14, 15, 16, 17, 18, 19}),  # Maestro
]


def brand_ok(digits: str) -> bool:
    return any(prefix.match(digits) and len(digits) in lengths for prefix, lengths in BRANDS)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


# Amazon order ids (3-7-7 digits) read as one 17-digit run; a card number is never written that way.
AMAZON_ORDER_ID = re.compile(r"(?<!\d)\d{3}-\d{7}-\d{7}(?!\d)")


def card_like(text: str) -> list[str]:
    found = []
    for match in CARD_RUN.finditer(AMAZON_ORDER_ID.sub(" ", text)):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_ok(digits) and brand_ok(digits):
            found.append(digits)
    return found


def all_text_in_database() -> list[tuple[str, str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' "
            "AND data_type IN ('text', 'character varying', 'jsonb', 'json')"
        )
        columns = cursor.fetchall()
        rows: list[tuple[str, str, str]] = []
        for table, column in columns:
            cursor.execute(f'SELECT "{column}"::text FROM "{table}" WHERE "{column}" IS NOT NULL')
            rows.extend((table, column, value) for (value,) in cursor.fetchall())
    return rows


def test_luhn_scanner_finds_what_it_should() -> None:
    assert card_like("card 4929 0000 0000 6 here") == ["4929000000006"]
    assert card_like("order 10000000000001 item") == []
    assert card_like("Amazon order 405-1111111-1111111") == []


def test_no_card_data_after_the_payment_flows(
    opayo: Any, order: Any, django_capture_on_commit_callbacks: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    flows.test_approved_deferred_then_captured(opayo, order, django_capture_on_commit_callbacks)
    opayo.checkout("WEB-X-2", card="decline", kind="Payment")
    opayo.checkout("WEB-X-3", card="challenge", kind="Payment")

    hits = [(t, c, card) for t, c, value in all_text_in_database() for card in card_like(value)]
    assert hits == []
    stored = " ".join(value for _, _, value in all_text_in_database())
    assert not any(card in stored for card in TEST_CARDS)
    logged = caplog.text
    assert card_like(logged) == [] and not any(card in logged for card in TEST_CARDS)
    assert "securityCode" not in stored and "cardNumber" not in stored


opayo = flows.opayo
opayo_url = flows.opayo_url
order = flows.order
