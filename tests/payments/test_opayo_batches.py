"""Opayo settlement batches end to end: the real Reporting client against the Opayo simulator (a real HTTP server),
batches closed in the simulator, fetched, stored and matched to our PaymentTransactions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from config.common.errors import PermanentConnectorError, RetryableConnectorError
from config.common.models import ExceptionItem
from config.common.schedules import STATIC_SCHEDULES
from config.common.services import exception_reprocess
from orders.models import Order
from payments.models import OpayoBatch, OpayoBatchTotal, OpayoBatchTransaction, PaymentTransaction
from payments.services import (
    opayo_batch_match,
    opayo_batches_fetch,
    payment_capture,
    payment_refund,
    payment_register,
)
from payments.tasks import opayo_batches_fetch_task
from simulators.common import running_server
from simulators.opayo.app import create_app
from simulators.opayo.control import OpayoSimulatorControl
from tests.payments.conftest import AMOUNT, ecommerce_order_payload

VENDOR = {
    "vendor_name": "ledgerline",
    "integration_key": "key-123",
    "integration_password": "pw-456",
    "reporting_user": "reports",
    "reporting_password": "rp-789",
}
M = OpayoBatchTransaction.MatchStatus


@pytest.fixture(scope="module")
def opayo_url() -> Iterator[str]:
    with running_server(create_app()) as url:
        yield url


@pytest.fixture
def sim(opayo_url: str, settings: Any, web_skus: None) -> Iterator[OpayoSimulatorControl]:
    settings.OPAYO_PI_BASE_URL = f"{opayo_url}/api/v1"
    settings.OPAYO_REPORTING_URL = f"{opayo_url}/access/access.htm"
    settings.OPAYO_VENDOR_NAME = VENDOR["vendor_name"]
    settings.OPAYO_INTEGRATION_KEY = VENDOR["integration_key"]
    settings.OPAYO_INTEGRATION_PASSWORD = VENDOR["integration_password"]
    settings.OPAYO_REPORTING_USER = VENDOR["reporting_user"]
    settings.OPAYO_REPORTING_PASSWORD = VENDOR["reporting_password"]
    with OpayoSimulatorControl(opayo_url) as control:
        control.reset()
        control.add_vendor(
            vendor_name=VENDOR["vendor_name"],
            integration_key=VENDOR["integration_key"],
            integration_password=VENDOR["integration_password"],
            reporting_user=VENDOR["reporting_user"],
            reporting_password=VENDOR["reporting_password"],
        )
        yield control


def uk_today() -> date:
    return timezone.now().astimezone(ZoneInfo("Europe/London")).date()


def fetch() -> Any:
    """The simulator completes a day's batch at 00:30 the next day (UK): look from yesterday to tomorrow."""
    today = uk_today()
    return opayo_batches_fetch(start=today - timedelta(days=1), end=today + timedelta(days=1))


def pay(
    api: APIClient,
    sim: OpayoSimulatorControl,
    capture: Any,
    number: str,
    *,
    kind: str = "Payment",
    opayo_amount: int = 5997,
    amount: Decimal = AMOUNT,
    vendor_tx_code: str | None = None,
) -> PaymentTransaction:
    """An eCommerce order paid at Opayo (the site's checkout) and registered with us, its outcome read back."""
    response = api.post("/api/v1/orders/ecommerce/", ecommerce_order_payload(external_id=number), format="json")
    assert response.status_code == 201, response.json()
    order = Order.objects.get(pk=response.json()["id"])
    code = vendor_tx_code or f"{number}-1"
    body = sim.checkout(
        vendor_name=VENDOR["vendor_name"], transaction_type=kind, amount=opayo_amount, vendor_tx_code=code
    )
    with capture(execute=True):
        tx = payment_register(
            order=order, vendor_tx_code=code, transaction_type=kind, amount=amount, currency="GBP",
            transaction_id=body["transactionId"], actor="api:shop",
        )  # fmt: skip
    tx.refresh_from_db()
    assert tx.state == PaymentTransaction.State.OK
    return tx


def snapshot() -> tuple[list[Any], ...]:
    return (
        list(OpayoBatch.objects.order_by("pk").values()),
        list(OpayoBatchTotal.objects.order_by("pk").values()),
        list(OpayoBatchTransaction.objects.order_by("pk").values()),
        list(
            ExceptionItem.objects.order_by("pk").values(
                "pk", "kind", "status", "summary", "detail", "occurrences", "last_seen_at", "updated_at", "resolved_at"
            )
        ),
    )


def detail_calls(sim: OpayoSimulatorControl) -> int:
    return sum(sim.calls().get("reporting:getBatchDetail", {}).values())


def open_items() -> list[ExceptionItem]:
    return list(ExceptionItem.objects.filter(kind=ExceptionItem.Kind.PAYMENT_BATCH, status="open"))


@pytest.fixture
def three_settled(
    api: APIClient, sim: OpayoSimulatorControl, django_capture_on_commit_callbacks: Any
) -> dict[str, PaymentTransaction]:
    """A deferred payment captured (released), a payment, and a partial refund of that payment; then the day
    closed in the simulator."""
    capture = django_capture_on_commit_callbacks
    deferred = pay(api, sim, capture, "WEB-2001", kind="Deferred")
    with capture(execute=True):
        payment_capture(payment=deferred.payment, actor="user:ops", amount=Decimal("50.00"))
    deferred.refresh_from_db()
    assert deferred.state == PaymentTransaction.State.RELEASED
    payment = pay(api, sim, capture, "WEB-2002")
    with capture(execute=True):
        refund = payment_refund(payment=payment.payment, amount=Decimal("9.99"), reason="mug broken", actor="user:ops")
    refund.refresh_from_db()
    assert refund.status == "succeeded"
    sim.close_day()
    return {"deferred": deferred, "payment": payment, "refund": refund.transaction}


def test_every_line_matches_its_transaction(three_settled: dict[str, PaymentTransaction]) -> None:
    summary = fetch()
    assert (summary.listed, summary.new, summary.fetched, summary.matched) == (1, 1, 1, 1)

    batch = OpayoBatch.objects.get()
    assert batch.status == OpayoBatch.Status.MATCHED and batch.detail == ""
    assert (batch.expected_count, batch.line_count, batch.matched_count, batch.unmatched_count) == (3, 3, 3, 0)
    assert batch.processor == "Elavon" and batch.vendor == "ledgerline"
    assert batch.batch_date == uk_today() and batch.fetched_at is not None
    assert f"<batchid>{batch.batch_id}</batchid>" in batch.raw_xml  # stored as received
    total = batch.totals.get()
    assert (total.currency, total.payment_count, total.payment_value) == ("GBP", 2, Decimal("109.97"))
    assert (total.refund_count, total.refund_value) == (1, Decimal("9.99"))

    lines = {line.payment_transaction: line for line in batch.lines.all()}
    assert set(lines) == set(three_settled.values())
    deferred_line = lines[three_settled["deferred"]]
    # A released Deferred settles as "Deferred" at the released amount, not the authorised one.
    assert (deferred_line.transaction_type, deferred_line.amount) == ("Deferred", Decimal("50.00"))
    assert deferred_line.vps_tx_id == three_settled["deferred"].transaction_id
    refund_line = lines[three_settled["refund"]]
    assert (refund_line.transaction_type, refund_line.amount, refund_line.currency) == (
        "Refund",
        Decimal("9.99"),
        "GBP",
    )
    for line in lines.values():
        assert line.match_status == M.MATCHED and line.matched_on == "vps_tx_id"
        assert line.settled_on == batch.batch_date and line.raw["vpstxid"] == line.vps_tx_id
        assert "Matched on VPSTxId" in line.match_reason
    assert open_items() == []


def test_fetching_twice_changes_nothing(
    three_settled: dict[str, PaymentTransaction], sim: OpayoSimulatorControl
) -> None:
    fetch()
    before, calls = snapshot(), detail_calls(sim)
    summary = fetch()
    assert (summary.listed, summary.new, summary.fetched, summary.skipped, summary.matched) == (1, 0, 0, 1, 1)
    assert snapshot() == before
    assert detail_calls(sim) == calls  # a fully matched batch is not read again


def test_a_transaction_we_do_not_have_is_unmatched_then_resolved_when_registered(
    api: APIClient, sim: OpayoSimulatorControl, django_capture_on_commit_callbacks: Any
) -> None:
    capture = django_capture_on_commit_callbacks
    ours = pay(api, sim, capture, "WEB-3001")
    stranger = sim.checkout(
        vendor_name=VENDOR["vendor_name"], amount=1234, vendor_tx_code="PHONE-ORDER-77", description="Taken by phone"
    )
    sim.close_day()
    summary = fetch()
    assert summary.with_exceptions == 1

    batch = OpayoBatch.objects.get()
    assert batch.status == OpayoBatch.Status.EXCEPTIONS
    assert (batch.line_count, batch.matched_count, batch.unmatched_count) == (2, 1, 1)
    assert batch.lines.get(payment_transaction=ours).match_status == M.MATCHED
    line = batch.lines.get(vendor_tx_code="PHONE-ORDER-77")
    assert line.match_status == M.UNMATCHED and line.payment_transaction is None
    assert line.match_reason == (
        f"Opayo settled a Payment of 12.34 GBP, but no transaction of ours has VPSTxId {stranger['transactionId']} "
        "or VendorTxCode PHONE-ORDER-77"
    )
    [item] = open_items()
    assert item.source == line and item.reference == "PHONE-ORDER-77"
    for text in (batch.batch_id, stranger["transactionId"], "PHONE-ORDER-77", "12.34 GBP"):
        assert text in item.summary

    # Running again changes nothing (the exception is not counted twice).
    before = snapshot()
    fetch()
    assert snapshot() == before

    # The phone order is registered after all; the exception queue's reprocess matches it and resolves the item.
    response = api.post("/api/v1/orders/ecommerce/", ecommerce_order_payload(external_id="PHONE-77"), format="json")
    with capture(execute=True):
        payment_register(
            order=Order.objects.get(pk=response.json()["id"]), vendor_tx_code="PHONE-ORDER-77",
            transaction_type="Payment", amount=Decimal("12.34"), currency="GBP",
            transaction_id=stranger["transactionId"], actor="api:shop",
        )  # fmt: skip
    item = exception_reprocess(item=item, actor="user:ops")
    assert item.status == ExceptionItem.Status.RESOLVED
    line.refresh_from_db()
    batch.refresh_from_db()
    assert line.match_status == M.MATCHED and line.payment_transaction is not None
    assert batch.status == OpayoBatch.Status.MATCHED and batch.unmatched_count == 0


def test_amount_mismatch(api: APIClient, sim: OpayoSimulatorControl, django_capture_on_commit_callbacks: Any) -> None:
    # The site charged 49.99 at Opayo but told us 59.97.
    tx = pay(api, sim, django_capture_on_commit_callbacks, "WEB-4001", opayo_amount=4999)
    sim.close_day()
    fetch()
    line = OpayoBatchTransaction.objects.get()
    assert line.match_status == M.AMOUNT_MISMATCH and line.payment_transaction == tx
    assert line.match_reason == "Opayo settled 49.99 GBP, we captured 59.97 GBP (WEB-4001-1)"
    assert OpayoBatch.objects.get().status == OpayoBatch.Status.EXCEPTIONS
    [item] = open_items()
    assert item.source == line
    for text in ("49.99 GBP", "59.97 GBP", "WEB-4001-1", tx.transaction_id or "?", line.batch.batch_id):
        assert text in item.summary and text in item.detail


def test_settled_but_voided_on_our_side_and_a_duplicate(
    api: APIClient, sim: OpayoSimulatorControl, django_capture_on_commit_callbacks: Any
) -> None:
    tx = pay(api, sim, django_capture_on_commit_callbacks, "WEB-4101")
    sim.close_day()
    fetch()
    line = OpayoBatchTransaction.objects.get()
    assert line.match_status == M.MATCHED
    # Our ledger says voided (e.g. a void we believe went through): Opayo settled it anyway.
    PaymentTransaction.objects.filter(pk=tx.pk).update(state=PaymentTransaction.State.VOIDED)
    opayo_batch_match(batch_id=line.batch.batch_id)
    line.refresh_from_db()
    assert line.match_status == M.STATE_MISMATCH and "as voided" in line.match_reason
    PaymentTransaction.objects.filter(pk=tx.pk).update(state=PaymentTransaction.State.OK)
    opayo_batch_match(batch_id=line.batch.batch_id)
    line.refresh_from_db()
    assert line.match_status == M.MATCHED and open_items() == []

    # The same transaction in a second batch: it settles once.
    other = OpayoBatch.objects.create(
        batch_id="999", vendor="ledgerline", raw_xml="<batch/>", fetched_at=timezone.now()
    )
    OpayoBatchTransaction.objects.create(
        batch=other, vps_tx_id=line.vps_tx_id, vendor_tx_code=line.vendor_tx_code, transaction_type="Payment",
        amount=line.amount, currency="GBP",
    )  # fmt: skip
    opayo_batch_match(batch_id="999")
    duplicate = other.lines.get()
    assert duplicate.match_status == M.DUPLICATE and duplicate.payment_transaction == tx
    assert "already settled" in duplicate.match_reason


def test_provider_failure_stores_nothing_and_the_next_run_completes(
    three_settled: dict[str, PaymentTransaction], sim: OpayoSimulatorControl
) -> None:
    sim.add_fault(operation="reporting:getBatchList", kind="error", status=503, times=1)
    with pytest.raises(RetryableConnectorError):
        fetch()
    sim.add_fault(operation="reporting:getBatchDetail", kind="error", status=500, times=1)
    with pytest.raises(RetryableConnectorError):
        fetch()
    assert OpayoBatch.objects.count() == 0 and OpayoBatchTransaction.objects.count() == 0
    assert OpayoBatchTotal.objects.count() == 0 and open_items() == []

    summary = fetch()
    assert summary.matched == 1 and OpayoBatch.objects.get().status == OpayoBatch.Status.MATCHED


def test_one_batch_per_transaction_a_failure_keeps_the_batches_before_it(
    api: APIClient, sim: OpayoSimulatorControl, django_capture_on_commit_callbacks: Any
) -> None:
    pay(api, sim, django_capture_on_commit_callbacks, "WEB-5001")
    first = sim.close_day()[0]
    pay(api, sim, django_capture_on_commit_callbacks, "WEB-5002")
    second = sim.close_day()[0]
    sim.add_fault(operation="reporting:getBatchDetail", kind="timeout", seconds=3, after=1, times=1)
    with pytest.raises(RetryableConnectorError):
        fetch()
    assert list(OpayoBatch.objects.values_list("batch_id", flat=True)) == [str(first["batch_id"])]
    assert OpayoBatch.objects.get().status == OpayoBatch.Status.MATCHED

    summary = fetch()
    assert (summary.skipped, summary.fetched, summary.matched) == (1, 1, 2)
    assert OpayoBatch.objects.get(batch_id=str(second["batch_id"])).lines.get().match_status == M.MATCHED


def test_a_detail_opayo_refuses_is_queued_and_reprocessed(
    three_settled: dict[str, PaymentTransaction], sim: OpayoSimulatorControl
) -> None:
    sim.add_fault(operation="reporting:getBatchDetail", kind="error", status=400, times=1)
    summary = fetch()
    assert summary.failed == 1
    batch = OpayoBatch.objects.get()
    assert batch.status == OpayoBatch.Status.ERROR and "refused getBatchDetail" in batch.detail
    assert batch.lines.count() == 0 and batch.totals.count() == 1  # the header as listed, no lines
    [item] = open_items()
    assert item.source == batch and batch.batch_id in item.summary

    item = exception_reprocess(item=item, actor="user:ops")
    assert item.status == ExceptionItem.Status.RESOLVED
    batch.refresh_from_db()
    assert batch.status == OpayoBatch.Status.MATCHED and batch.line_count == 3


def test_listing_refused_propagates_as_permanent(sim: OpayoSimulatorControl, settings: Any) -> None:
    settings.OPAYO_REPORTING_PASSWORD = "wrong"
    with pytest.raises(PermanentConnectorError, match="signature"):
        fetch()
    assert OpayoBatch.objects.count() == 0


def test_a_failed_file_is_an_empty_batch_and_its_resend_matches(
    api: APIClient, sim: OpayoSimulatorControl, django_capture_on_commit_callbacks: Any
) -> None:
    tx = pay(api, sim, django_capture_on_commit_callbacks, "WEB-6001")
    failed = sim.close_day(fail=True)[0]
    summary = fetch()
    assert summary.empty == 1
    empty = OpayoBatch.objects.get()
    assert empty.batch_id == str(failed["batch_id"]) and empty.status == OpayoBatch.Status.EMPTY
    assert (empty.expected_count, empty.line_count) == (0, 0) and open_items() == []

    resent = sim.close_day()[0]
    summary = fetch()
    assert (summary.empty, summary.matched) == (1, 1)
    assert OpayoBatch.objects.get(batch_id=str(resent["batch_id"])).lines.get().payment_transaction == tx
    empty.refresh_from_db()
    assert empty.status == OpayoBatch.Status.EMPTY


def test_captured_but_in_no_batch_after_the_grace_period(
    api: APIClient, sim: OpayoSimulatorControl, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.OPAYO_BATCH_UNSETTLED_DAYS = 3
    tx = pay(api, sim, django_capture_on_commit_callbacks, "WEB-7001")
    assert fetch().unsettled_reported == 0  # captured today: not late yet
    PaymentTransaction.objects.filter(pk=tx.pk).update(created_at=timezone.now() - timedelta(days=4))
    assert fetch().unsettled_reported == 1
    [item] = open_items()
    assert item.source == tx and "WEB-7001-1" in item.summary and "in no Opayo batch after 3 days" in item.summary
    assert fetch().unsettled_reported == 0  # reported once
    assert ExceptionItem.objects.get().occurrences == 1

    sim.close_day()
    fetch()
    item.refresh_from_db()
    assert item.status == ExceptionItem.Status.RESOLVED and "in Opayo batch" in item.resolution_note


def test_the_daily_task_and_its_schedule(
    api: APIClient, sim: OpayoSimulatorControl, django_capture_on_commit_callbacks: Any
) -> None:
    assert ("payments.opayo_batches", "payments.tasks.opayo_batches_fetch_task", 24 * 60) in STATIC_SCHEDULES
    pay(api, sim, django_capture_on_commit_callbacks, "WEB-9001")
    # The task looks at batches completed up to today (UK): today's close completes tomorrow, like Opayo's.
    sim.close_day()
    assert "0 batch(es) listed" in opayo_batches_fetch_task()
    pay(api, sim, django_capture_on_commit_callbacks, "WEB-9002")
    sim.close_day(completed=timezone.now().isoformat())
    result = opayo_batches_fetch_task()
    assert "1 batch(es) listed (1 new)" in result and "1 matched" in result


def test_admin_lists_batches_with_their_lines_and_reruns_matching(
    admin_client: Any, api: APIClient, sim: OpayoSimulatorControl, django_capture_on_commit_callbacks: Any
) -> None:
    tx = pay(api, sim, django_capture_on_commit_callbacks, "WEB-8001", opayo_amount=4999)
    sim.close_day()
    fetch()
    batch = OpayoBatch.objects.get()
    page = admin_client.get(reverse("admin:payments_opayobatch_changelist")).content.decode()
    assert batch.batch_id in page and "GBP 49.99 / 0.00" in page
    page = admin_client.get(reverse("admin:payments_opayobatch_changelist"), {"status": "exceptions"}).content.decode()
    assert batch.batch_id in page
    page = admin_client.get(reverse("admin:payments_opayobatch_change", args=[batch.pk])).content.decode()
    assert "WEB-8001-1" in page and "we captured 59.97 GBP" in page
    assert reverse("admin:payments_paymenttransaction_change", args=[tx.pk]) in page
    line = batch.lines.get()
    page = admin_client.get(reverse("admin:payments_opayobatchtransaction_change", args=[line.pk])).content.decode()
    assert "amount_mismatch" in page or "Amount or currency differs" in page
    for value in ("matched", "problem", "none", "overdue"):
        response = admin_client.get(reverse("admin:payments_paymenttransaction_changelist"), {"settlement": value})
        assert response.status_code == 200
    page = admin_client.get(reverse("admin:payments_paymenttransaction_change", args=[tx.pk])).content.decode()
    assert batch.batch_id in page

    # Fixed on our side (the site's amount was wrong): re-run matching from the batch list.
    PaymentTransaction.objects.filter(pk=tx.pk).update(amount=Decimal("49.99"))
    response = admin_client.post(
        reverse("admin:payments_opayobatch_changelist"),
        {"action": "rerun_matching", "_selected_action": [batch.pk]},
        follow=True,
    )
    assert "Matched (1 of 1 matched)" in response.content.decode()
    batch.refresh_from_db()
    assert batch.status == OpayoBatch.Status.MATCHED and open_items() == []


def test_a_refund_reported_negative_matches_too(three_settled: dict[str, PaymentTransaction]) -> None:
    # The simulator reports refunds as their own type with a positive amount; a report with the sign is read alike.
    fetch()
    line = OpayoBatchTransaction.objects.get(payment_transaction=three_settled["refund"])
    OpayoBatchTransaction.objects.filter(pk=line.pk).update(amount=Decimal("-9.99"))
    batch = opayo_batch_match(batch_id=line.batch.batch_id)
    line.refresh_from_db()
    assert line.match_status == M.MATCHED and batch.status == OpayoBatch.Status.MATCHED
