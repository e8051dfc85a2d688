"""FULFILLMENT_ORDER_STATUS end to end: Amazon (the simulator) moves an MCF order along and says so through SQS;
the fulfilment order is read back from that notification, with no poll of getFulfillmentOrder."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from connectors.aws.sqs import SqsQueueClient
from fulfillment.models import FulfillmentOrder
from orders.models import SellerAccount, SpApiNotification
from orders.services import notification_consumer_register, notification_subscribe, notifications_consume_round
from simulators.spapi.control import SpApiSimulatorControl
from simulators.sqs import queue_ensure
from tests.fulfillment.test_order_to_cash import amazon, opayo, opayo_url, paid_web_order  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue(sqs_url: str, settings: Any, amazon: SpApiSimulatorControl) -> Iterator[SqsQueueClient]:  # noqa: F811
    url, _ = queue_ensure(sqs_url, f"fos-{uuid.uuid4().hex[:12]}", visibility_timeout=2)
    settings.SQS_ENDPOINT_URL = sqs_url
    settings.SP_API_NOTIFICATIONS_QUEUE_URL = url
    amazon.notification_settings(sqs_endpoint_url=sqs_url)
    with SqsQueueClient(url) as client:
        yield client


def test_a_fulfilment_status_notification_reads_the_order_back(
    amazon: SpApiSimulatorControl,  # noqa: F811
    account: SellerAccount,
    queue: SqsQueueClient,
    opayo: Any,  # noqa: F811
    web_order: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    notification_subscribe(account=account, notification_type="FULFILLMENT_ORDER_STATUS", actor="ops")
    order = paid_web_order(web_order, opayo, django_capture_on_commit_callbacks)
    fulfillment = FulfillmentOrder.objects.get(order=order)
    assert fulfillment.status == "New"
    consumer = notification_consumer_register(name="fos", queue_url=queue.queue_url)
    amazon.reset_calls()

    amazon.advance_fulfillment_order(fulfillment.seller_fulfillment_order_id, "Received")
    assert amazon.flush_notifications(timeout_seconds=20)
    for _ in range(5):
        notifications_consume_round(client=queue, consumer=consumer, wait_seconds=1)
        if SpApiNotification.objects.filter(outcome__contains="→ Received").exists():
            break
    fulfillment.refresh_from_db()
    assert fulfillment.status == "Received"
    notes = list(SpApiNotification.objects.order_by("pk"))  # the creation's status (New), then Received
    sfo = fulfillment.seller_fulfillment_order_id
    assert {(n.notification_type, n.subject, n.status) for n in notes} == {("FULFILLMENT_ORDER_STATUS", sfo, "applied")}
    assert "→ Received" in notes[-1].outcome
    # One read per notification, none by polling.
    assert sum(amazon.calls().get("getFulfillmentOrder", {}).values()) == len(notes)
