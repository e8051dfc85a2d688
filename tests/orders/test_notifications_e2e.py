"""SP-API notifications end to end: subscriptions made through our services on the SP-API simulator, which delivers
its events to a real local SQS (moto), read by our consumer; faults (drop, duplicate, malformed) injected by the
simulator. Nothing of ours is mocked."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from config.common.models import ExceptionItem
from connectors.aws.sqs import SqsQueueClient
from orders.models import (
    AmazonOrderSnapshot,
    NotificationConsumer,
    NotificationDestination,
    NotificationSubscription,
    Order,
    SellerAccount,
    SpApiNotification,
    SyncCursor,
)
from orders.services import (
    notification_consumer_register,
    notification_subscribe,
    notification_subscriptions_check,
    notification_unsubscribe,
    notifications_consume_round,
    order_poll_mode,
)
from orders.tasks import orders_poll_account
from simulators.spapi.control import SpApiSimulatorControl
from simulators.sqs import queue_ensure
from tests.orders.test_amazon_2026 import put, stamp
from tests.orders.test_notifications import FIXTURES
from tests.spapi_support import spapi_for


@pytest.fixture
def amazon(
    spapi_url: str, sqs_url: str, settings: Any, account: SellerAccount, mapped_skus: list[str]
) -> Iterator[SpApiSimulatorControl]:
    settings.SP_API_TIMEOUT_SECONDS = 3.0
    with spapi_for(spapi_url, settings, account, rate_limits=False) as sim:
        sim.notification_settings(sqs_endpoint_url=sqs_url)
        yield sim


@pytest.fixture
def queue(sqs_url: str, settings: Any) -> Iterator[SqsQueueClient]:
    url, _ = queue_ensure(sqs_url, f"e2e-{uuid.uuid4().hex[:12]}", visibility_timeout=2)
    settings.SQS_ENDPOINT_URL = sqs_url
    settings.SP_API_NOTIFICATIONS_QUEUE_URL = url
    with SqsQueueClient(url) as client:
        yield client


@pytest.fixture
def consumer(queue: SqsQueueClient) -> NotificationConsumer:
    return notification_consumer_register(name="e2e-consumer", queue_url=queue.queue_url)


@pytest.fixture
def subscribed(amazon: SpApiSimulatorControl, account: SellerAccount, queue: SqsQueueClient) -> SellerAccount:
    notification_subscribe(account=account, notification_type="ORDER_CHANGE", actor="ops")
    return account


def consume_until(
    sim: SpApiSimulatorControl, queue: SqsQueueClient, consumer: NotificationConsumer, done: Any, timeout: float = 15
) -> None:
    assert sim.flush_notifications(timeout_seconds=20)
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "not arrived in time"
        notifications_consume_round(client=queue, consumer=consumer, wait_seconds=1)


def calls(sim: SpApiSimulatorControl, operation: str) -> int:
    return sum(sim.calls().get(operation, {}).values())


def test_an_order_created_in_the_simulator_arrives_through_the_queue_without_a_poll(
    amazon: SpApiSimulatorControl, subscribed: SellerAccount, queue: SqsQueueClient, consumer: NotificationConsumer
) -> None:
    started = time.monotonic()
    put(amazon, subscribed, "202-2000000-0000001", when=stamp(0))
    consume_until(amazon, queue, consumer, lambda: Order.objects.filter(external_id="202-2000000-0000001").exists())
    assert time.monotonic() - started < 10  # seconds, not a polling interval
    assert calls(amazon, "searchOrders") == 0 and calls(amazon, "getOrder2026") == 1
    snapshot = AmazonOrderSnapshot.objects.get(amazon_order_id="202-2000000-0000001")
    assert snapshot.first_seen_via == "notification" and snapshot.order is not None
    note = SpApiNotification.objects.get()
    assert (note.notification_type, note.status, note.account) == ("ORDER_CHANGE", "applied", subscribed)

    # A change (cancellation) arrives the same way.
    amazon.patch_order("202-2000000-0000001", OrderStatus="Canceled", LastUpdateDate=stamp(0))
    consume_until(amazon, queue, consumer, lambda: Order.objects.get().status == "cancelled")
    assert SpApiNotification.objects.count() == 2 and calls(amazon, "searchOrders") == 0


def test_a_message_amazon_sends_twice_has_one_effect(
    amazon: SpApiSimulatorControl, subscribed: SellerAccount, queue: SqsQueueClient, consumer: NotificationConsumer
) -> None:
    amazon.notification_faults(duplicate=1)
    put(amazon, subscribed, "202-2000000-0000002", when=stamp(0))
    assert amazon.flush_notifications(timeout_seconds=20)
    for _ in range(3):
        notifications_consume_round(client=queue, consumer=consumer, wait_seconds=1)
    [sent] = amazon.notifications_sent()["notifications"]
    assert sent["outcome"] == "duplicate"
    assert SpApiNotification.objects.count() == 1 and SpApiNotification.objects.get().status == "applied"
    assert calls(amazon, "getOrder2026") == 1
    assert Order.objects.get().events.filter(kind="created").count() == 1


def test_malformed_messages_from_amazon_become_exceptions(
    amazon: SpApiSimulatorControl, subscribed: SellerAccount, queue: SqsQueueClient, consumer: NotificationConsumer
) -> None:
    amazon.notification_faults(malformed=2)
    put(amazon, subscribed, "202-2000000-0000003", when=stamp(0))
    put(amazon, subscribed, "202-2000000-0000004", when=stamp(0))
    consume_until(amazon, queue, consumer, lambda: SpApiNotification.objects.count() == 2)
    assert set(SpApiNotification.objects.values_list("status", flat=True)) == {"failed"}
    assert ExceptionItem.objects.filter(kind="malformed_payload", status="open").count() == 2
    assert not Order.objects.exists()  # nothing applied from a broken message (the sweep reads those orders)


def test_a_notification_lost_on_purpose_is_caught_by_the_safety_sweep(
    amazon: SpApiSimulatorControl, subscribed: SellerAccount, queue: SqsQueueClient, consumer: NotificationConsumer
) -> None:
    put(amazon, subscribed, "202-2000000-0000005", when=stamp(6))
    consume_until(amazon, queue, consumer, lambda: Order.objects.exists())
    orders_poll_account(subscribed.pk, True)  # the cursor's first window
    assert order_poll_mode(account=subscribed).mode == "sweep"

    amazon.notification_faults(drop=1)
    put(amazon, subscribed, "202-2000000-0000006", when=stamp(5))  # its ORDER_CHANGE is lost
    assert amazon.flush_notifications(timeout_seconds=20)
    assert [n["outcome"] for n in amazon.notifications_sent()["notifications"]][-1] == "dropped"
    notifications_consume_round(client=queue, consumer=consumer, wait_seconds=1)
    assert "skipped" in orders_poll_account(subscribed.pk)[0]  # polling is backed off: not read yet
    assert not Order.objects.filter(external_id="202-2000000-0000006").exists()

    # The hourly sweep comes round.
    SyncCursor.objects.filter(account=subscribed).update(last_success_at=timezone.now() - timedelta(minutes=61))
    orders_poll_account(subscribed.pk)
    snapshot = AmazonOrderSnapshot.objects.get(amazon_order_id="202-2000000-0000006")
    assert snapshot.first_seen_via == "poll" and snapshot.order is not None


def test_the_consumer_killed_between_store_and_delete_loses_nothing(
    amazon: SpApiSimulatorControl, subscribed: SellerAccount, queue: SqsQueueClient, consumer: NotificationConsumer
) -> None:
    put(amazon, subscribed, "202-2000000-0000007", when=stamp(0))
    assert amazon.flush_notifications(timeout_seconds=20)

    def killed(messages: Any) -> None:
        raise SystemExit(9)

    with pytest.raises(SystemExit):
        notifications_consume_round(client=queue, consumer=consumer, wait_seconds=2, before_delete=killed)
    assert SpApiNotification.objects.get().status == "received"
    time.sleep(2.2)  # the visibility timeout: SQS hands the message out again
    consume_until(amazon, queue, consumer, lambda: Order.objects.exists())
    assert SpApiNotification.objects.count() == 1 and calls(amazon, "getOrder2026") == 1


def test_subscriptions_survive_credential_rotation(
    amazon: SpApiSimulatorControl, account: SellerAccount, queue: SqsQueueClient, consumer: NotificationConsumer,
    admin_client: Any,
) -> None:  # fmt: skip
    for notification_type in ("ORDER_CHANGE", "FULFILLMENT_ORDER_STATUS", "REPORT_PROCESSING_FINISHED",
                              "FEED_PROCESSING_FINISHED"):  # fmt: skip
        notification_subscribe(account=account, notification_type=notification_type, actor="ops")
    before = dict(NotificationSubscription.objects.values_list("notification_type", "subscription_id"))
    assert len(before) == 4 and all(before.values())
    assert NotificationDestination.objects.count() == 1  # one destination for every subscription

    # The seller re-authorises (new refresh token) and the app's LWA secret is rotated, entered in the admin.
    amazon.rotate_credentials(account.selling_partner_id, refresh_token="Atzr|rotated", client_secret="new-secret")
    from django.urls import reverse

    response = admin_client.post(
        reverse("admin:orders_selleraccount_change", args=[account.pk]),
        {"name": account.name, "selling_partner_id": account.selling_partner_id, "region": account.region,
         "lwa_client_id": account.lwa_client_id, "lwa_client_secret": "new-secret", "refresh_token": "Atzr|rotated",
         "is_active": "on", "marketplaces-TOTAL_FORMS": "0", "marketplaces-INITIAL_FORMS": "0"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:500]
    account.refresh_from_db()
    assert account.refresh_token == "Atzr|rotated"
    from sp_api.auth import access_token_client

    access_token_client.cache.clear()

    rows = notification_subscriptions_check(account=account)  # Amazon asked with the new credentials
    assert {r.notification_type: (r.state, r.subscription_id) for r in rows} == {
        t: ("subscribed", s) for t, s in before.items()
    }
    assert len(amazon.notification_subscriptions()["subscriptions"]) == 4
    put(amazon, account, "202-2000000-0000008", when=stamp(0))  # and delivery carries on
    consume_until(amazon, queue, consumer, lambda: Order.objects.exists())


def test_subscribe_adopts_what_amazon_has_and_unsubscribe_removes_it(
    amazon: SpApiSimulatorControl, account: SellerAccount, queue: SqsQueueClient
) -> None:
    first = notification_subscribe(account=account, notification_type="ORDER_CHANGE", actor="ops")
    NotificationSubscription.objects.all().delete()  # we forgot it; Amazon did not (its answer is 409)
    NotificationDestination.objects.all().delete()
    adopted = notification_subscribe(account=account, notification_type="ORDER_CHANGE", actor="ops")
    assert (adopted.state, adopted.subscription_id) == ("subscribed", first.subscription_id)

    notification_unsubscribe(account=account, notification_type="ORDER_CHANGE", actor="ops")
    row = NotificationSubscription.objects.get()
    assert (row.state, row.subscription_id) == ("unsubscribed", "")
    assert amazon.notification_subscriptions()["subscriptions"] == []
    [checked] = [r for r in notification_subscriptions_check(account=account) if r.notification_type == "ORDER_CHANGE"]
    assert checked.state == "unsubscribed"


def test_a_settlement_report_finished_is_imported_from_its_notification(
    amazon: SpApiSimulatorControl, account: SellerAccount, queue: SqsQueueClient, consumer: NotificationConsumer
) -> None:
    from reconciliation.models import Settlement
    from tests.reconciliation.test_settlement_reports import spec

    notification_subscribe(account=account, notification_type="REPORT_PROCESSING_FINISHED", actor="ops")
    from simulators.spapi.settlement_files import settlement_text

    text, _ = settlement_text(spec("44444"))
    report = amazon.add_settlement_report(account.selling_partner_id, text)
    # The simulator's add_settlement_report puts a DONE report in place without a notification (its
    # REPORT_PROCESSING_FINISHED follows createReport's reports): Amazon's documented body is sent as Amazon would.
    doc = json.loads((FIXTURES / "REPORT_PROCESSING_FINISHED.json").read_text())
    inner = doc["payload"]["reportProcessingFinishedNotification"]
    inner.update(sellerId=account.selling_partner_id, reportId=report["reportId"], processingStatus="DONE",
                 reportType="GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2",
                 reportDocumentId=report["reportDocumentId"])  # fmt: skip
    doc["notificationMetadata"]["notificationId"] = str(uuid.uuid4())
    queue.send(json.dumps(doc))
    other = json.loads(json.dumps(doc))
    other["payload"]["reportProcessingFinishedNotification"]["reportType"] = "GET_FLAT_FILE_ACTIONABLE_ORDER_DATA"
    other["notificationMetadata"]["notificationId"] = str(uuid.uuid4())
    queue.send(json.dumps(other))
    consume_until(amazon, queue, consumer, lambda: SpApiNotification.objects.filter(status="applied").exists())
    assert SpApiNotification.objects.get(status="ignored").outcome.startswith("report type GET_FLAT_FILE")
    note = SpApiNotification.objects.get(status="applied")
    assert note.notification_type == "REPORT_PROCESSING_FINISHED" and note.subject == report["reportId"]
    assert "settlement 44444 imported" in note.outcome
    assert Settlement.objects.get().settlement_id == "44444"
    assert calls(amazon, "getReports") == 0  # the report named by the notification, not a listing


def test_a_listings_feed_result_is_read_when_amazon_says_it_finished(
    amazon: SpApiSimulatorControl, account: SellerAccount, queue: SqsQueueClient, consumer: NotificationConsumer,
    settings: Any,
) -> None:  # fmt: skip
    from config.common.outbound import outbound_sweep
    from fulfillment.models import ListingFeed
    from mappings.models import SkuMapping
    from tests.factories import UK
    from tests.fulfillment.conftest import erp_api

    settings.INVENTORY_FEED_THRESHOLD = 25
    skus = {f"MFN-{n:03d}": 0 for n in range(30)}
    amazon.set_listings(account.selling_partner_id, UK, skus)
    for sku in skus:
        SkuMapping.objects.create(seller_account=account, seller_sku=sku, erp_item_id=f"IT-{sku}",
                                  fulfillment_channel="MFN")  # fmt: skip
    amazon.listing_settings(feed_processing_seconds=2)
    notification_subscribe(account=account, notification_type="FEED_PROCESSING_FINISHED", actor="ops")
    levels = [{"item_id": f"IT-MFN-{n:03d}", "site": "MAIN", "on_hand": n + 1, "allocated": 0,
               "as_of": "2026-11-30T09:00:00+00:00", "version": 1} for n in range(30)]  # fmt: skip
    erp_api().post("/api/v1/erp/inventory/", {"levels": levels}, format="json")
    outbound_sweep()  # the feed is submitted; Amazon is still processing it (the next check is 30 s away)
    feed = ListingFeed.objects.get()
    assert feed.status == "submitted"

    consume_until(amazon, queue, consumer, lambda: SpApiNotification.objects.exclude(status="received").exists())
    note = SpApiNotification.objects.get()
    assert (note.notification_type, note.subject, note.status) == ("FEED_PROCESSING_FINISHED", feed.feed_id, "applied")
    feed.refresh_from_db()
    assert feed.status == "done" and feed.accepted == 30


def test_the_admin_subscribes_and_shows_the_state(
    amazon: SpApiSimulatorControl, account: SellerAccount, queue: SqsQueueClient, admin_client: Any
) -> None:
    from django.urls import reverse

    changelist = reverse("admin:orders_selleraccount_changelist")
    response = admin_client.post(changelist, {"action": "subscribe_order_change", "_selected_action": [account.pk]})
    assert response.status_code == 302
    assert NotificationSubscription.objects.get().state == "subscribed"
    page = admin_client.get(reverse("admin:orders_selleraccount_change", args=[account.pk])).content.decode()
    assert "SP-API notification subscriptions" in page and "Subscribed" in page
    assert "ORDER_CHANGE" in admin_client.get(changelist).content.decode()
    admin_client.post(changelist, {"action": "unsubscribe_order_change", "_selected_action": [account.pk]})
    assert NotificationSubscription.objects.get().state == "unsubscribed"
    assert admin_client.get(reverse("admin:orders_spapinotification_changelist")).status_code == 200
    dashboard = admin_client.get(reverse("admin-dashboard")).content.decode()
    assert "SP-API notifications (last hour)" in dashboard and "Order polling" in dashboard
