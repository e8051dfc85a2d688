"""Alerts by email and webhook: a circuit opening, a settlement file rejected, a queue backing up."""

from __future__ import annotations

import io
from typing import Any

import pytest

from config.common.alerts import alert_raise, alerts_check_queues
from config.common.circuit import circuit_failure, circuit_reset_local
from config.common.outbound import outbound_sweep
from reconciliation.services import settlement_file_import, settlement_file_store
from tests.alert_hooks import HOOKS

pytestmark = pytest.mark.django_db


@pytest.fixture
def alerting(settings: Any, hook_url: str, mailoutbox: list[Any]) -> list[Any]:
    settings.ALERT_EMAILS = ["ops@example.com"]
    settings.ALERT_WEBHOOK_URL = hook_url
    HOOKS.clear()
    circuit_reset_local()
    return mailoutbox


def test_circuit_opening_alerts_by_email_and_webhook_once(alerting: list[Any], settings: Any) -> None:
    settings.CIRCUIT_FAILURE_THRESHOLD = 2
    for _ in range(4):
        circuit_failure("opayo:https://pi", "timed out")
    outbound_sweep()
    assert [m.subject for m in alerting] == ["[Ledgerline] Circuit open: opayo:https://pi is failing; calls stopped"]
    assert len(HOOKS) == 1 and HOOKS[0]["key"] == "circuit:opayo:https://pi"
    assert HOOKS[0]["severity"] == "error" and "timed out" in HOOKS[0]["body"]


def test_rejected_settlement_file_alerts(alerting: list[Any], settings: Any, tmp_path: Any) -> None:
    settings.SETTLEMENT_STORAGE_DIR = tmp_path
    file, _ = settlement_file_store(data=io.BytesIO(b"not a settlement\n"), name="junk.txt", source="test")
    settlement_file_import(file_id=file.pk)
    assert alerting and "Settlement file junk.txt rejected" in alerting[0].subject
    assert "missing column" in alerting[0].body


def test_queue_backing_up_alerts_and_repeats_are_held_back(alerting: list[Any], settings: Any) -> None:
    from config.common.models import CircuitBreaker, ExceptionItem
    from config.common.services import exception_open

    settings.ALERT_QUEUE_DEPTH = 2
    for n in range(3):
        exception_open(kind=ExceptionItem.Kind.ANOMALY, source=CircuitBreaker.objects.create(key=f"k{n}"), summary="x")
    assert alerts_check_queues() == 1
    assert alerts_check_queues() == 0  # the same alert within the hour is not sent again
    assert [m.subject for m in alerting] == ["[Ledgerline] Queue backing up: exception queue (3 waiting)"]
    assert alert_raise(key="other", subject="s", body="b") is True
