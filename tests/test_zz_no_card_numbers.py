"""Runs last (see tests/conftest.py): over the whole suite, no card number reached the database or a log."""

from __future__ import annotations

from tests.conftest import CARD_FINDINGS


def test_no_card_number_was_stored_or_logged_during_the_suite() -> None:
    assert CARD_FINDINGS == [], "\n".join(CARD_FINDINGS[:20])
    print("\ncard-number scan: every INSERT/UPDATE parameter and log record of the suite scanned; none found")
