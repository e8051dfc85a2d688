"""Notifications v1: our client (connectors.amazon.notifications) against the SP-API simulator as a real server, with
delivery to the local SQS: destinations (grantless), subscriptions (the seller's), 409s, 404, rotation, usage plans."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sp_api.auth import access_token_client

from config.common.errors import PermanentConnectorError, RetryableConnectorError
from connectors.amazon.base import USAGE_PLANS
from connectors.amazon.notifications import (
    AmazonNotificationsClient,
    NotificationDestination,
    NotificationSubscription,
    SubscriptionExists,
)
from orders.models import SellerAccount
from simulators.spapi.control import SpApiSimulatorControl
from simulators.spapi.state import DEFAULT_LIMITS
from simulators.sqs import queue_ensure, sqs_client
from tests.spapi_support import spapi_for

OPERATIONS = ("createDestination", "getDestinations", "getDestination", "deleteDestination", "createSubscription",
              "getSubscription", "getSubscriptionById", "deleteSubscriptionById")  # fmt: skip


@pytest.fixture
def amazon(spapi_url: str, sqs_url: str, settings: Any, account: SellerAccount) -> Iterator[SpApiSimulatorControl]:
    with spapi_for(spapi_url, settings, account) as sim:
        sim.notification_settings(sqs_endpoint_url=sqs_url)
        yield sim


@pytest.fixture
def client(amazon: SpApiSimulatorControl, account: SellerAccount) -> Iterator[AmazonNotificationsClient]:
    with AmazonNotificationsClient.for_account(account) as notifications:
        yield notifications


@pytest.fixture
def queue(sqs_url: str) -> tuple[str, str]:
    return queue_ensure(sqs_url, f"conn-{uuid.uuid4().hex[:12]}")


def test_usage_plans_match_the_simulators() -> None:
    assert {op: USAGE_PLANS[op] for op in OPERATIONS} == {op: DEFAULT_LIMITS[op] for op in OPERATIONS}
    assert set(USAGE_PLANS[op] for op in OPERATIONS) == {(1.0, 5)}


def test_destination_create_list_delete(client: AmazonNotificationsClient, queue: tuple[str, str]) -> None:
    _, arn = queue
    assert client.destinations_list() == []
    destination = client.destination_create(name="ledgerline", arn=arn)
    assert isinstance(destination, NotificationDestination)
    assert destination.arn == arn and destination.name == "ledgerline" and destination.destination_id
    # Amazon allows one destination per ARN (409 Conflict): the existing one comes back.
    assert client.destination_create(name="another name", arn=arn) == destination
    assert client.destinations_list() == [destination]
    client.destination_delete(destination.destination_id)
    assert client.destinations_list() == []
    assert client.calls["createDestination"] == 2


def test_destination_create_refuses_a_missing_queue(client: AmazonNotificationsClient) -> None:
    with pytest.raises(PermanentConnectorError) as caught:
        client.destination_create(name="x", arn="arn:aws:sqs:us-east-1:123456789012:missing-" + uuid.uuid4().hex[:6])
    assert caught.value.status_code == 400 and caught.value.code == "InvalidInput"


def test_subscription_get_create_exists_delete(client: AmazonNotificationsClient, queue: tuple[str, str]) -> None:
    destination = client.destination_create(name="ledgerline", arn=queue[1])
    assert client.subscription_get("ORDER_CHANGE") is None
    created = client.subscription_create("ORDER_CHANGE", destination_id=destination.destination_id)
    assert created == NotificationSubscription(
        subscription_id=created.subscription_id, notification_type="ORDER_CHANGE",
        destination_id=destination.destination_id, payload_version="1.0",
    )  # fmt: skip
    assert client.subscription_get("ORDER_CHANGE") == created
    with pytest.raises(SubscriptionExists) as caught:
        client.subscription_create("ORDER_CHANGE", destination_id=destination.destination_id)
    assert caught.value.status_code == 409 and caught.value.code == "StateConflict"
    assert caught.value.subscription_id is None  # Amazon's answer does not name it
    assert isinstance(caught.value, PermanentConnectorError)
    client.subscription_delete("ORDER_CHANGE", created.subscription_id)
    assert client.subscription_get("ORDER_CHANGE") is None


def test_destination_with_subscriptions_cannot_be_deleted(
    client: AmazonNotificationsClient, queue: tuple[str, str]
) -> None:
    destination = client.destination_create(name="ledgerline", arn=queue[1])
    client.subscription_create("REPORT_PROCESSING_FINISHED", destination_id=destination.destination_id)
    with pytest.raises(PermanentConnectorError) as caught:
        client.destination_delete(destination.destination_id)
    assert caught.value.details == "Destination has subscriptions"


def test_rotated_credentials_keep_the_subscription_and_delivery(
    amazon: SpApiSimulatorControl, account: SellerAccount, sqs_url: str, queue: tuple[str, str]
) -> None:
    queue_url, arn = queue
    with AmazonNotificationsClient.for_account(account) as client:
        destination = client.destination_create(name="ledgerline", arn=arn)
        subscription = client.subscription_create("ORDER_CHANGE", destination_id=destination.destination_id)
    amazon.rotate_credentials(account.selling_partner_id, refresh_token="Atzr|rotated", client_secret="new-secret")
    account.refresh_token, account.lwa_client_secret = "Atzr|rotated", "new-secret"
    account.save()
    access_token_client.cache.clear()
    access_token_client.grantless_cache.clear()
    with AmazonNotificationsClient.for_account(account) as client:
        assert client.subscription_get("ORDER_CHANGE") == subscription
        assert client.destinations_list() == [destination]
    amazon.upsert_orders(seller=account.selling_partner_id, orders=[{"order": {"AmazonOrderId": "202-1-1"}}])
    assert amazon.flush_notifications()
    answer = sqs_client(sqs_url).receive_message(QueueUrl=queue_url, WaitTimeSeconds=2)
    [message] = answer["Messages"]
    assert json.loads(message["Body"])["NotificationMetadata"]["SubscriptionId"] == subscription.subscription_id


def test_expired_grantless_token_is_fetched_again(
    amazon: SpApiSimulatorControl, client: AmazonNotificationsClient
) -> None:
    assert client.destinations_list() == []
    amazon.expire_tokens()
    assert client.destinations_list() == []
    assert client.calls["getDestinations"] == 3  # refused once, then a fresh grantless token


def test_faults_are_typed(amazon: SpApiSimulatorControl, client: AmazonNotificationsClient) -> None:
    amazon.add_fault(operation="getSubscription", kind="error", status=503, times=1)
    with pytest.raises(RetryableConnectorError):
        client.subscription_get("ORDER_CHANGE")
    assert client.subscription_get("ORDER_CHANGE") is None
