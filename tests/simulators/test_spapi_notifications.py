"""The SP-API simulator's Notifications API v1 and its delivery to a local SQS (moto), over real HTTP."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulators.spapi.control import SpApiSimulatorControl
from simulators.spapi.notifications import application_id
from simulators.sqs import queue_ensure, sqs_client
from tests.simulators.support import SELLER, UK
from tests.simulators.test_spapi_fulfillment import order_body, seed_order
from tests.simulators.test_spapi_listings import create_feed, feed_document, quantity_message

SELLER_ID = SELLER["selling_partner_id"]
DEST = "/notifications/v1/destinations"
SUBS = "/notifications/v1/subscriptions"
EXAMPLES = Path("/work/shared/fixtures/sp-api/notifications")
OTHER_APP = {
    "selling_partner_id": "A2OTHERAPP0001",
    "refresh_token": "Atzr|other-app",
    "client_id": "amzn1.application-oa2-client.other",
    "client_secret": "amzn1.oa2-cs.v1.other",
}


def grantless(base_url: str, *, client_id: str = SELLER["client_id"], client_secret: str = SELLER["client_secret"],
              scope: str = "sellingpartnerapi::notifications") -> httpx.Response:  # fmt: skip
    form = {"grant_type": "client_credentials", "scope": scope, "client_id": client_id, "client_secret": client_secret}
    return httpx.post(f"{base_url}/auth/o2/token", data=form)


def client_for(base_url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers={"x-amz-access-token": token}, timeout=10)


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    [error] = response.json()["errors"]
    return dict(error)


@pytest.fixture
def app(spapi_url: str, sim: SpApiSimulatorControl) -> Iterator[httpx.Client]:
    """An httpx client carrying a grantless (client_credentials) token of SELLER's application."""
    response = grantless(spapi_url)
    assert response.status_code == 200, response.text
    with client_for(spapi_url, response.json()["access_token"]) as client:
        yield client


@pytest.fixture
def queue(sqs_url: str, sim: SpApiSimulatorControl) -> tuple[str, str]:
    """A fresh queue (URL, ARN) on the local SQS, and the simulator delivering there."""
    sim.notification_settings(sqs_endpoint_url=sqs_url)
    return queue_ensure(sqs_url, f"notif-{uuid.uuid4().hex[:12]}")


def subscribe(app: httpx.Client, api: httpx.Client, arn: str, *kinds: str, version: str = "1.0") -> str:
    created = app.post(DEST, json={"name": "q", "resourceSpecification": {"sqs": {"arn": arn}}})
    if created.status_code == 409:
        destination_id = next(d["destinationId"] for d in app.get(DEST).json()["payload"]
                              if d["resource"]["sqs"]["arn"] == arn)  # fmt: skip
    else:
        assert created.status_code == 200, created.text
        destination_id = created.json()["payload"]["destinationId"]
    for kind in kinds:
        response = api.post(f"{SUBS}/{kind}", json={"destinationId": destination_id, "payloadVersion": version})
        assert response.status_code == 200, response.text
    return str(destination_id)


def receive(sqs_url: str, queue_url: str, count: int, *, timeout: float = 10.0) -> list[str]:
    """Read (and delete) messages until `count` arrived or `timeout`; then one more short look for extras."""
    client = sqs_client(sqs_url)
    bodies: list[str] = []
    deadline = time.monotonic() + timeout
    while len(bodies) < count and time.monotonic() < deadline:
        answer = client.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in answer.get("Messages", []):
            bodies.append(message["Body"])
            client.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def received(sim: SpApiSimulatorControl, sqs_url: str, queue_url: str, count: int) -> list[dict[str, Any]]:
    assert sim.flush_notifications(timeout_seconds=20)
    bodies = receive(sqs_url, queue_url, count)
    assert len(bodies) == count, bodies
    assert receive(sqs_url, queue_url, 1, timeout=0.5) == []  # nothing more
    return [json.loads(body) for body in bodies]


def keys_of(value: Any) -> Any:
    """The shape of a JSON value: nested key sets (a list: the shape of its first element)."""
    if isinstance(value, dict):
        return {k: keys_of(v) for k, v in value.items()}
    if isinstance(value, list):
        return [keys_of(value[0])] if value else []
    return None


# --- LWA ----------------------------------------------------------------------------------------------------------


def test_grantless_token_needs_the_notifications_scope_and_the_apps_credentials(
    spapi_url: str, sim: SpApiSimulatorControl
) -> None:
    ok = grantless(spapi_url)
    assert ok.status_code == 200
    assert ok.json()["scope"] == "sellingpartnerapi::notifications" and ok.json()["token_type"] == "bearer"
    assert grantless(spapi_url, scope="sellingpartnerapi::orders").json()["error"] == "invalid_scope"
    refused = grantless(spapi_url, client_secret="wrong")
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"


def test_destinations_are_grantless_only(api: httpx.Client, app: httpx.Client) -> None:
    error = error_of(api.get(DEST), 403)
    assert error["code"] == "Unauthorized" and "grantless" in error["details"]
    assert app.get(DEST).json() == {"payload": []}


def test_subscriptions_need_the_sellers_token(app: httpx.Client) -> None:
    assert error_of(app.get(f"{SUBS}/ORDER_CHANGE"), 403)["code"] == "Unauthorized"


# --- destinations -------------------------------------------------------------------------------------------------


def test_destination_lifecycle_and_amazons_conflict(app: httpx.Client, queue: tuple[str, str]) -> None:
    _, arn = queue
    created = app.post(DEST, json={"name": "ledgerline", "resourceSpecification": {"sqs": {"arn": arn}}})
    assert created.status_code == 200, created.text
    assert "x-amzn-RequestId" in created.headers and created.headers["x-amzn-RateLimit-Limit"] == "1"
    destination = created.json()["payload"]
    assert set(destination) == {"destinationId", "name", "resource"}
    assert destination["resource"] == {"sqs": {"arn": arn}} and destination["name"] == "ledgerline"
    again = app.post(DEST, json={"name": "other name", "resourceSpecification": {"sqs": {"arn": arn}}})
    error = error_of(again, 409)
    assert error["code"] == "Conflict"
    assert error["details"] == (
        f"A destination with arn {arn} already exists for the application {application_id(SELLER['client_id'])}"
    )
    assert app.get(DEST).json()["payload"] == [destination]
    assert app.get(f"{DEST}/{destination['destinationId']}").json()["payload"] == destination
    assert app.delete(f"{DEST}/{destination['destinationId']}").status_code == 200
    assert error_of(app.get(f"{DEST}/{destination['destinationId']}"), 404)["code"] == "NotFound"
    assert error_of(app.delete(f"{DEST}/{destination['destinationId']}"), 404)["code"] == "NotFound"


@pytest.mark.parametrize(
    "spec",
    [
        {"sqs": {"arn": "not-an-arn"}},
        {"sqs": {"arn": "arn:aws:sns:us-east-1:123456789012:topic"}},
        {"sqs": {}},
        {},
        {
            "sqs": {"arn": "arn:aws:sqs:us-east-1:123456789012:x"},
            "eventBridge": {"region": "us-east-1", "accountId": "1"},
        },
    ],
)
def test_create_destination_validates_the_resource(app: httpx.Client, spec: dict[str, Any]) -> None:
    assert error_of(app.post(DEST, json={"name": "d", "resourceSpecification": spec}), 400)["code"] == "InvalidInput"


def test_create_destination_needs_an_existing_queue(app: httpx.Client, queue: tuple[str, str]) -> None:
    missing = "arn:aws:sqs:us-east-1:123456789012:no-such-queue-" + uuid.uuid4().hex[:8]
    error = error_of(app.post(DEST, json={"name": "d", "resourceSpecification": {"sqs": {"arn": missing}}}), 400)
    assert error["code"] == "InvalidInput" and "Unable to access the SQS queue" in error["details"]


def test_destinations_belong_to_their_application(
    spapi_url: str, sim: SpApiSimulatorControl, app: httpx.Client, queue: tuple[str, str]
) -> None:
    destination_id = subscribe(app, app, queue[1])
    sim.add_seller(**OTHER_APP, marketplace_ids=[UK])
    token = grantless(spapi_url, client_id=OTHER_APP["client_id"], client_secret=OTHER_APP["client_secret"])
    with client_for(spapi_url, token.json()["access_token"]) as other:
        assert other.get(DEST).json() == {"payload": []}
        assert other.get(f"{DEST}/{destination_id}").status_code == 404
        # Another application may name the same queue.
        assert (
            other.post(DEST, json={"name": "x", "resourceSpecification": {"sqs": {"arn": queue[1]}}}).status_code == 200
        )


# --- subscriptions ------------------------------------------------------------------------------------------------


def test_subscription_lifecycle(api: httpx.Client, app: httpx.Client, queue: tuple[str, str]) -> None:
    error = error_of(api.get(f"{SUBS}/ORDER_CHANGE"), 404)
    assert error["code"] == "NotFound"
    destination_id = subscribe(app, api, queue[1])
    created = api.post(f"{SUBS}/ORDER_CHANGE", json={"destinationId": destination_id, "payloadVersion": "1.0"})
    assert created.status_code == 200, created.text
    subscription = created.json()["payload"]
    assert set(subscription) == {"subscriptionId", "payloadVersion", "destinationId"}
    assert subscription["destinationId"] == destination_id and subscription["payloadVersion"] == "1.0"
    assert api.get(f"{SUBS}/ORDER_CHANGE").json()["payload"] == subscription
    assert api.get(f"{SUBS}/ORDER_CHANGE", params={"payloadVersion": "1.0"}).json()["payload"] == subscription
    again = api.post(f"{SUBS}/ORDER_CHANGE", json={"destinationId": destination_id, "payloadVersion": "1.0"})
    error = error_of(again, 409)
    assert error == {
        "code": "StateConflict",
        "message": "The resource specified conflicts with the current state.",
        "details": "Subscription already exist for notification type ORDER_CHANGE",
    }
    by_id = f"{SUBS}/ORDER_CHANGE/{subscription['subscriptionId']}"
    assert app.get(by_id).json()["payload"] == subscription  # grantless
    assert api.get(by_id).json()["payload"] == subscription  # and with the seller's token, as the library calls it
    assert error_of(app.get(f"{SUBS}/FEED_PROCESSING_FINISHED/{subscription['subscriptionId']}"), 404)
    # A destination with subscriptions cannot go (Amazon's words).
    blocked = error_of(app.delete(f"{DEST}/{destination_id}"), 403)
    assert blocked["details"] == "Destination has subscriptions"
    assert app.delete(by_id).status_code == 200
    assert error_of(api.get(f"{SUBS}/ORDER_CHANGE"), 404)["code"] == "NotFound"
    assert error_of(app.delete(by_id), 404)["code"] == "NotFound"
    assert app.delete(f"{DEST}/{destination_id}").status_code == 200


def test_processing_directive_is_kept(api: httpx.Client, app: httpx.Client, queue: tuple[str, str]) -> None:
    destination_id = subscribe(app, api, queue[1])
    directive = {"eventFilter": {"eventFilterType": "ORDER_CHANGE", "orderChangeTypes": ["OrderStatusChange"]}}
    body = {"destinationId": destination_id, "payloadVersion": "1.0", "processingDirective": directive}
    created = api.post(f"{SUBS}/ORDER_CHANGE", json=body).json()["payload"]
    assert created["processingDirective"] == directive
    assert api.get(f"{SUBS}/ORDER_CHANGE").json()["payload"]["processingDirective"] == directive


@pytest.mark.parametrize(
    ("kind", "body", "detail"),
    [
        ("NOT_A_TYPE", {"payloadVersion": "1.0"}, "Invalid notificationType"),
        ("ORDER_CHANGE", {"payloadVersion": "9.9"}, "Invalid payloadVersion"),
        ("ORDER_CHANGE", {}, "payloadVersion is required"),
        ("ORDER_CHANGE", {"payloadVersion": "1.0", "destinationId": "nope"}, "DestinationId is valid"),
    ],
)
def test_create_subscription_validates(
    api: httpx.Client, app: httpx.Client, queue: tuple[str, str], kind: str, body: dict[str, Any], detail: str
) -> None:
    destination_id = subscribe(app, api, queue[1])
    error = error_of(api.post(f"{SUBS}/{kind}", json={"destinationId": destination_id, **body}), 400)
    assert error["code"] == "InvalidInput" and detail in error["details"]


def test_usage_plan_and_fault_injection(api: httpx.Client, app: httpx.Client, sim: SpApiSimulatorControl) -> None:
    limits = sim.rate_limits()["limits"]
    assert limits["createDestination"] == limits["getSubscription"] == {"rate": 1.0, "burst": 5}
    statuses = [app.get(DEST).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    assert error_of(app.get(DEST), 429)["code"] == "QuotaExceeded"
    sim.add_fault(operation="getSubscription", kind="error", status=503, times=1)
    assert api.get(f"{SUBS}/ORDER_CHANGE").status_code == 503
    assert api.get(f"{SUBS}/ORDER_CHANGE").status_code == 404


def test_the_library_reaches_every_operation(
    spapi_url: str, sim: SpApiSimulatorControl, queue: tuple[str, str]
) -> None:
    from sp_api.api import Notifications

    from tests.simulators.test_spapi_listings import library

    client = library(Notifications, spapi_url)
    destination = client.create_destination(name="lib", arn=queue[1]).payload
    assert client.get_destinations().payload == [destination]
    subscription = client.create_subscription("ORDER_CHANGE", destination_id=destination["destinationId"]).payload
    assert client.get_subscription("ORDER_CHANGE").payload == subscription
    assert client.get_subscription_by_id("ORDER_CHANGE", subscription["subscriptionId"]).payload == subscription
    client.delete_notification_subscription("ORDER_CHANGE", subscription["subscriptionId"])
    client.delete_destination(destination["destinationId"])
    assert not client.get_destinations().payload  # the library turns an empty list into {}


# --- delivery -----------------------------------------------------------------------------------------------------


def test_order_change_on_create_and_status_change_only(
    sqs_url: str, api: httpx.Client, app: httpx.Client, sim: SpApiSimulatorControl, queue: tuple[str, str]
) -> None:
    queue_url, arn = queue
    subscribe(app, api, arn, "ORDER_CHANGE")
    subscription_id = api.get(f"{SUBS}/ORDER_CHANGE").json()["payload"]["subscriptionId"]
    order_id = seed_order(sim)
    sim.patch_order(order_id, BuyerInfo={"BuyerEmail": "x@example.com"})  # no status change: nothing
    sim.patch_order(order_id, OrderStatus="Canceled")
    first, second = received(sim, sqs_url, queue_url, 2)
    example = json.loads((EXAMPLES / "ORDER_CHANGE.json").read_text())
    assert set(first) == set(example) and set(first["NotificationMetadata"]) == set(example["NotificationMetadata"])
    assert first["NotificationType"] == "ORDER_CHANGE" and first["PayloadVersion"] == "1.0"
    change = first["Payload"]["OrderChangeNotification"]
    assert change["SellerId"] == SELLER_ID and change["AmazonOrderId"] == order_id
    assert change["OrderChangeType"] == "OrderStatusChange"
    summary = change["Summary"]
    assert summary["OrderStatus"] == "Unshipped" and summary["FulfillmentType"] == "MFN"
    assert summary["MarketplaceId"] == UK
    assert [(i["OrderItemId"], i["Quantity"]) for i in summary["OrderItems"]] == [("11", 2), ("12", 1)]
    assert set(summary) <= set(example["Payload"]["OrderChangeNotification"]["Summary"])
    assert second["Payload"]["OrderChangeNotification"]["Summary"]["OrderStatus"] == "Canceled"
    metadata = [m["NotificationMetadata"] for m in (first, second)]
    assert {m["SubscriptionId"] for m in metadata} == {subscription_id}
    assert {m["ApplicationId"] for m in metadata} == {application_id(SELLER["client_id"])}
    assert metadata[0]["NotificationId"] != metadata[1]["NotificationId"]
    sent = sim.notifications_sent()
    assert [e["outcome"] for e in sent["notifications"]] == ["sent", "sent"]
    assert sent["counts"]["sent"] == 2


def test_bulk_seeding_and_unsubscribed_sellers_send_nothing(
    sqs_url: str, api: httpx.Client, app: httpx.Client, sim: SpApiSimulatorControl, queue: tuple[str, str]
) -> None:
    queue_url, arn = queue
    seed_order(sim, "202-0000000-0000001")  # before subscribing: nothing
    subscribe(app, api, arn, "ORDER_CHANGE")
    sim.generate(seller=SELLER_ID, marketplace_id=UK, count=60, skus=["SKU-1"], seed=3)  # bulk: history
    sim.add_seller(**OTHER_APP, marketplace_ids=[UK])
    seed_order(sim, "202-0000000-0000002", seller=OTHER_APP["selling_partner_id"])  # not subscribed
    sim.generate(seller=SELLER_ID, marketplace_id=UK, count=2, skus=["SKU-1"], seed=4)  # small: live
    assert len(received(sim, sqs_url, queue_url, 2)) == 2


def test_confirm_shipment_notifies(
    sqs_url: str, api: httpx.Client, app: httpx.Client, sim: SpApiSimulatorControl, queue: tuple[str, str]
) -> None:
    from tests.simulators.test_spapi_fulfillment import confirm, confirmation

    queue_url, arn = queue
    order_id = seed_order(sim, quantities=(1,))
    subscribe(app, api, arn, "ORDER_CHANGE")
    assert confirm(api, order_id, confirmation(items=[("11", 1)])).status_code == 204
    [shipped] = received(sim, sqs_url, queue_url, 1)
    assert shipped["Payload"]["OrderChangeNotification"]["Summary"]["OrderStatus"] == "Shipped"


def test_rotation_keeps_subscriptions_and_delivery(
    spapi_url: str, sqs_url: str, api: httpx.Client, app: httpx.Client, sim: SpApiSimulatorControl,
    queue: tuple[str, str],
) -> None:  # fmt: skip
    queue_url, arn = queue
    subscribe(app, api, arn, "ORDER_CHANGE")
    subscription = api.get(f"{SUBS}/ORDER_CHANGE").json()["payload"]
    sim.rotate_credentials(SELLER_ID, refresh_token="Atzr|rotated", client_secret="amzn1.oa2-cs.v1.rotated")
    from tests.simulators.support import lwa

    assert lwa(spapi_url).json()["error"] == "invalid_grant"  # the old refresh token is gone
    assert grantless(spapi_url).status_code == 401  # and the old secret
    token = lwa(spapi_url, refresh_token="Atzr|rotated", client_secret="amzn1.oa2-cs.v1.rotated").json()
    with client_for(spapi_url, token["access_token"]) as rotated:
        assert rotated.get(f"{SUBS}/ORDER_CHANGE").json()["payload"] == subscription
    new_app = grantless(spapi_url, client_secret="amzn1.oa2-cs.v1.rotated").json()["access_token"]
    with client_for(spapi_url, new_app) as app2:
        assert len(app2.get(DEST).json()["payload"]) == 1
    seed_order(sim)
    [message] = received(sim, sqs_url, queue_url, 1)
    assert message["NotificationMetadata"]["SubscriptionId"] == subscription["subscriptionId"]


def test_report_processing_finished(
    sqs_url: str, api: httpx.Client, app: httpx.Client, sim: SpApiSimulatorControl, queue: tuple[str, str]
) -> None:
    queue_url, arn = queue
    subscribe(app, api, arn, "REPORT_PROCESSING_FINISHED")
    created = api.post("/reports/2021-06-30/reports",
                       json={"reportType": "GET_MERCHANT_LISTINGS_ALL_DATA", "marketplaceIds": [UK]})  # fmt: skip
    report_id = created.json()["reportId"]
    [message] = received(sim, sqs_url, queue_url, 1)
    example = json.loads((EXAMPLES / "REPORT_PROCESSING_FINISHED.json").read_text())
    assert keys_of(message) == keys_of(example)
    finished = message["payload"]["reportProcessingFinishedNotification"]
    assert finished["reportId"] == report_id and finished["processingStatus"] == "DONE"
    document_id = api.get(f"/reports/2021-06-30/reports/{report_id}").json()["reportDocumentId"]
    assert finished["reportDocumentId"] == document_id
    assert message["notificationMetadata"]["notificationId"]


def test_report_finishing_later_notifies_without_polling(
    sqs_url: str, api: httpx.Client, app: httpx.Client, sim: SpApiSimulatorControl, queue: tuple[str, str]
) -> None:
    queue_url, arn = queue
    subscribe(app, api, arn, "REPORT_PROCESSING_FINISHED")
    sim.report_settings(report_processing_seconds=0.5)
    body = {"reportType": "GET_MERCHANT_LISTINGS_ALL_DATA", "marketplaceIds": [UK]}
    report_id = api.post("/reports/2021-06-30/reports", json=body).json()["reportId"]
    [message] = receive(sqs_url, queue_url, 1, timeout=5)  # nobody asked for the report meanwhile
    finished = json.loads(message)["payload"]["reportProcessingFinishedNotification"]
    assert finished["reportId"] == report_id and finished["processingStatus"] == "DONE"


def test_feed_processing_finished(
    sqs_url: str, api: httpx.Client, app: httpx.Client, sim: SpApiSimulatorControl, queue: tuple[str, str]
) -> None:
    queue_url, arn = queue
    subscribe(app, api, arn, "FEED_PROCESSING_FINISHED")
    sim.set_listings(SELLER_ID, UK, {"SKU-1": 1})
    feed_id = create_feed(api, feed_document([quantity_message(1, "SKU-1", 5)]))
    [message] = received(sim, sqs_url, queue_url, 1)
    example = json.loads((EXAMPLES / "FEED_PROCESSING_FINISHED.json").read_text())
    assert keys_of(message) == keys_of(example)
    finished = message["payload"]["feedProcessingFinishedNotification"]
    assert finished["feedId"] == feed_id and finished["processingStatus"] == "DONE"
    assert (
        finished["resultFeedDocumentId"] == api.get(f"/feeds/2021-06-30/feeds/{feed_id}").json()["resultFeedDocumentId"]
    )


def test_fulfillment_order_status(
    sqs_url: str, api: httpx.Client, app: httpx.Client, sim: SpApiSimulatorControl, queue: tuple[str, str]
) -> None:
    queue_url, arn = queue
    subscribe(app, api, arn, "FULFILLMENT_ORDER_STATUS", "FBA_OUTBOUND_SHIPMENT_STATUS")
    sim.set_fba_inventory(SELLER_ID, "FBA-TENT", 10)
    sim.set_fba_inventory(SELLER_ID, "FBA-MUG", 10)
    assert api.post("/fba/outbound/2020-07-01/fulfillmentOrders", json=order_body("MCF-1")).status_code == 200
    sim.advance_fulfillment_order("MCF-1", "Processing")
    sim.advance_fulfillment_order("MCF-1", "Complete")
    messages = received(sim, sqs_url, queue_url, 4)
    example = json.loads((EXAMPLES / "FULFILLMENT_ORDER_STATUS.json").read_text())
    statuses = [m for m in messages if m["NotificationType"] == "FULFILLMENT_ORDER_STATUS"]
    notes = [m["Payload"]["FulfillmentOrderStatusNotification"] for m in statuses]
    assert [n["FulfillmentOrderStatus"] for n in notes] == ["New", "Processing", "Complete"]
    assert {n["SellerFulfillmentOrderId"] for n in notes} == {"MCF-1"}
    assert set(statuses[-1]) == set(example)
    assert set(notes[-1]) <= set(example["Payload"]["FulfillmentOrderStatusNotification"])
    assert notes[-1]["FulfillmentShipment"]["FulfillmentShipmentStatus"] == "SHIPPED"
    [created] = [m for m in messages if m["NotificationType"] == "FBA_OUTBOUND_SHIPMENT_STATUS"]
    shipment = created["Payload"]["FBAOutboundShipmentStatusNotification"]
    assert shipment["ShipmentStatus"] == "Created" and shipment["AmazonOrderId"] == "MCF-1"
    assert shipment["AmazonShipmentId"] == notes[-1]["FulfillmentShipment"]["AmazonShipmentId"]


def test_delivery_faults(
    sqs_url: str, api: httpx.Client, app: httpx.Client, sim: SpApiSimulatorControl, queue: tuple[str, str]
) -> None:
    queue_url, arn = queue
    subscribe(app, api, arn, "ORDER_CHANGE")
    sim.notification_faults(drop=1, duplicate=1, malformed=2)
    for n in range(5):
        seed_order(sim, f"202-0000000-000000{n}")
    bodies = receive(sqs_url, queue_url, 5) if sim.flush_notifications() else []
    assert len(bodies) == 5  # 1 dropped, 1 sent twice, 2 malformed, 1 intact
    parsed = []
    for body in bodies:
        try:
            parsed.append(json.loads(body))
        except ValueError:
            parsed.append(None)
    assert parsed.count(None) == 1  # not JSON
    assert sum(1 for p in parsed if p is not None and "NotificationMetadata" not in p) == 1  # fields missing
    ids = [p["NotificationMetadata"]["NotificationId"] for p in parsed if p and "NotificationMetadata" in p]
    assert len(ids) == 3 and len(set(ids)) == 2  # the duplicate has the same NotificationId
    outcomes = [e["outcome"] for e in sim.notifications_sent()["notifications"]]
    assert sorted(outcomes) == ["dropped", "duplicate", "malformed", "malformed", "sent"]


def test_drop_rate_and_delay(
    sqs_url: str, api: httpx.Client, app: httpx.Client, sim: SpApiSimulatorControl, queue: tuple[str, str]
) -> None:
    queue_url, arn = queue
    subscribe(app, api, arn, "ORDER_CHANGE")
    sim.notification_faults(drop_rate=1.0)
    seed_order(sim, "202-0000000-0000001")
    sim.notification_faults(drop_rate=0.0, delay_ms=300)
    started = time.monotonic()
    seed_order(sim, "202-0000000-0000002")
    [message] = received(sim, sqs_url, queue_url, 1)
    assert time.monotonic() - started >= 0.3
    assert message["Payload"]["OrderChangeNotification"]["AmazonOrderId"] == "202-0000000-0000002"
    assert sim.notifications_sent()["counts"]["dropped"] == 1


def test_sqs_down_is_retried_and_counted(
    sqs_url: str, api: httpx.Client, app: httpx.Client, sim: SpApiSimulatorControl, queue: tuple[str, str]
) -> None:
    queue_url, arn = queue
    subscribe(app, api, arn, "ORDER_CHANGE")
    sim.notification_settings(sqs_endpoint_url="http://127.0.0.1:9", max_attempts=2)  # nothing listens there
    started = time.monotonic()
    seed_order(sim, "202-0000000-0000001")
    assert time.monotonic() - started < 2  # the request did not wait for SQS
    assert sim.flush_notifications(timeout_seconds=30)
    sent = sim.notifications_sent()
    assert sent["counts"]["failed"] == 1 and sent["counts"]["failed_attempts"] == 2
    assert sent["notifications"][-1]["outcome"] == "failed" and sent["notifications"][-1]["error"]
    sim.notification_settings(sqs_endpoint_url=sqs_url, max_attempts=10)
    seed_order(sim, "202-0000000-0000002")
    assert len(received(sim, sqs_url, queue_url, 1)) == 1


def test_reset_forgets_destinations_subscriptions_and_the_log(
    sqs_url: str, api: httpx.Client, app: httpx.Client, sim: SpApiSimulatorControl, queue: tuple[str, str]
) -> None:
    subscribe(app, api, queue[1], "ORDER_CHANGE")
    seed_order(sim)
    sim.flush_notifications()
    assert sim.notification_subscriptions()["subscriptions"]
    sim.reset()
    assert sim.notification_subscriptions() == {"destinations": [], "subscriptions": []}
    assert sim.notifications_sent() == {"notifications": [], "counts": {}, "pending": 0}


def _orders(n: int, prefix: str = "202-1111111-") -> list[dict[str, Any]]:
    return [{"order": {"AmazonOrderId": f"{prefix}{i:07d}"}, "items": [{"SellerSKU": "SKU-1"}]} for i in range(n)]


def test_many_at_once_are_batched_and_all_arrive(
    sqs_url: str, api: httpx.Client, app: httpx.Client, sim: SpApiSimulatorControl, queue: tuple[str, str]
) -> None:
    queue_url, arn = queue
    subscribe(app, api, arn, "ORDER_CHANGE")
    sim.upsert_orders(seller=SELLER_ID, orders=_orders(30))  # 30 (not bulk): one notification each
    messages = received(sim, sqs_url, queue_url, 30)
    ids = {m["Payload"]["OrderChangeNotification"]["AmazonOrderId"] for m in messages}
    assert ids == {f"202-1111111-{i:07d}" for i in range(30)}
    assert len({m["NotificationMetadata"]["NotificationId"] for m in messages}) == 30
    sent = sim.notifications_sent()
    assert sent["counts"]["sent"] == 30 and all(len(e["sqs_message_ids"]) == 1 for e in sent["notifications"])


def test_notify_flag_overrides_the_bulk_rule(
    sqs_url: str, api: httpx.Client, app: httpx.Client, sim: SpApiSimulatorControl, queue: tuple[str, str]
) -> None:
    queue_url, arn = queue
    subscribe(app, api, arn, "ORDER_CHANGE")
    sim.upsert_orders(seller=SELLER_ID, orders=_orders(3), notify=False)
    sim.upsert_orders(seller=SELLER_ID, orders=_orders(60, "202-2222222-"), notify=True)
    assert len(received(sim, sqs_url, queue_url, 60)) == 60


def test_a_failed_batch_falls_back_to_single_sends(
    sqs_url: str, api: httpx.Client, app: httpx.Client, sim: SpApiSimulatorControl, queue: tuple[str, str]
) -> None:
    subscribe(app, api, queue[1], "ORDER_CHANGE")
    sim.notification_settings(sqs_endpoint_url="http://127.0.0.1:9", max_attempts=1)
    sim.upsert_orders(seller=SELLER_ID, orders=_orders(5))
    assert sim.flush_notifications(timeout_seconds=30)
    counts = sim.notifications_sent()["counts"]
    assert counts["failed"] == 5 and "sent" not in counts


def test_event_filter_marketplaces_and_change_types(
    sqs_url: str, api: httpx.Client, app: httpx.Client, sim: SpApiSimulatorControl, queue: tuple[str, str]
) -> None:
    from tests.simulators.support import DE

    queue_url, arn = queue
    destination_id = subscribe(app, api, arn)
    event_filter = {
        "eventFilterType": "ORDER_CHANGE",
        "marketplaceIds": [DE],
        "orderChangeTypes": ["OrderStatusChange"],
    }
    body = {
        "destinationId": destination_id,
        "payloadVersion": "1.0",
        "processingDirective": {"eventFilter": event_filter},
    }
    assert api.post(f"{SUBS}/ORDER_CHANGE", json=body).status_code == 200
    seed_order(sim, "202-0000000-0000001")  # UK: filtered out
    seed_order(sim, "302-0000000-0000002", MarketplaceId=DE)
    [message] = received(sim, sqs_url, queue_url, 1)
    assert message["Payload"]["OrderChangeNotification"]["AmazonOrderId"] == "302-0000000-0000002"
