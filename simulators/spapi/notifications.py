"""Notifications API v1 for the SP-API simulator, and the delivery of notifications to a (local) Amazon SQS.

Paths, shapes and usage plans follow Amazon's model (`shared/fixtures/sp-api/models/notifications.json`); every
operation's plan is 1 request/s, burst 5 (429 QuotaExceeded), and faults use the operation names.

- Destinations belong to the application (the LWA client id): `createDestination`, `getDestinations`,
  `getDestination`, `deleteDestination` are grantless and need an access token from `grant_type=client_credentials`
  with `scope=sellingpartnerapi::notifications` (a seller's token gets 403 Unauthorized, as on Amazon). An SQS
  destination's ARN must match the model's pattern and name a queue that exists on the simulator's SQS endpoint
  (`get_queue_url(QueueName, QueueOwnerAWSAccountId)`), else 400 InvalidInput; a second destination for the same
  ARN is 409 Conflict with Amazon's wording ("A destination with arn … already exists for the application …").
  A destination with subscriptions cannot be deleted (Amazon: "Destination has subscriptions").
- Subscriptions belong to the application and the seller, one per (notificationType, payloadVersion):
  `createSubscription` and `getSubscription` need the seller's token; a second one is 409 StateConflict
  ("Subscription already exist for notification type …", Amazon's words); `getSubscription` without one is 404.
  `getSubscriptionById` and `deleteSubscriptionById` are documented as grantless, but python-amazon-sp-api calls them
  with the seller's token and its maintainer reports that works on Amazon (saleweaver/python-amazon-sp-api#373), so
  both kinds of token are taken. Rotating a seller's refresh token or the app's client secret
  (`POST /_sim/sellers/{id}/rotate`) changes neither: subscriptions and delivery carry on.
- Delivery: when something happens to a seller that the app subscribed to, one SQS message whose body is the
  notification as in Amazon's examples (`shared/fixtures/sp-api/notifications/`): ORDER_CHANGE (an order created
  or its OrderStatus changed, through any path except bulk seeding), FULFILLMENT_ORDER_STATUS and
  FBA_OUTBOUND_SHIPMENT_STATUS (an MCF order's status or shipments changed), REPORT_PROCESSING_FINISHED and
  FEED_PROCESSING_FINISHED (a report/feed reached DONE, FATAL or CANCELLED). Messages are built on the event loop and
  sent by one background thread (boto3 `send_message`) from an in-memory queue, so no request waits for SQS; a
  failed send is retried with backoff (counted) up to `max_attempts`. Faults: drop, duplicate, malformed, delay.
"""

from __future__ import annotations

import asyncio
import json
import queue
import random
import re
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from simulators.common import error_body, read_json_object
from simulators.spapi.state import InvalidInput, Seller, State

if TYPE_CHECKING:
    from simulators.spapi.app import SpApiSimulator
    from simulators.spapi.state import FeedRecord, FulfillmentOrderRecord, ReportRecord, StoredOrder

ApiResult = tuple[int, Any]
SCOPE = "sellingpartnerapi::notifications"
GRANTLESS_SCOPES = (SCOPE, "sellingpartnerapi::migration")
# Operation names (usage plans, faults, call counts). Every one: 1 request per second, burst 5.
CREATE_DESTINATION = "createDestination"
GET_DESTINATIONS = "getDestinations"
GET_DESTINATION = "getDestination"
DELETE_DESTINATION = "deleteDestination"
CREATE_SUBSCRIPTION = "createSubscription"
GET_SUBSCRIPTION = "getSubscription"
GET_SUBSCRIPTION_BY_ID = "getSubscriptionById"
DELETE_SUBSCRIPTION_BY_ID = "deleteSubscriptionById"
OPERATIONS = (
    CREATE_DESTINATION, GET_DESTINATIONS, GET_DESTINATION, DELETE_DESTINATION, CREATE_SUBSCRIPTION, GET_SUBSCRIPTION,
    GET_SUBSCRIPTION_BY_ID, DELETE_SUBSCRIPTION_BY_ID,
)  # fmt: skip
USAGE_PLAN = (1.0, 5)
SQS_ARN = re.compile(r"^arn:aws:sqs:(\S+):(\S+):(\S+)$")  # the model's pattern, split into region, account, name
MAX_NAME = 256
# Payload versions each notification type takes (Amazon's "Notification Type Values"); the simulator delivers the
# first five, the others can be subscribed to but nothing sends them.
PAYLOAD_VERSIONS: dict[str, tuple[str, ...]] = {
    "ORDER_CHANGE": ("1.0",),
    "FULFILLMENT_ORDER_STATUS": ("1.0",),
    "FBA_OUTBOUND_SHIPMENT_STATUS": ("1.0",),
    "REPORT_PROCESSING_FINISHED": ("1.0", "2020-09-04"),
    "FEED_PROCESSING_FINISHED": ("1.0", "2020-09-04"),
    "ANY_OFFER_CHANGED": ("1.0",),
    "B2B_ANY_OFFER_CHANGED": ("1.0",),
    "FBA_INVENTORY_AVAILABILITY_CHANGES": ("1.0",),
    "FEE_PROMOTION": ("1.0",),
    "ACCOUNT_STATUS_CHANGED": ("1.0",),
    "ITEM_INVENTORY_EVENT_CHANGE": ("1.0",),
    "MFN_ORDER_STATUS_CHANGE": ("1.0",),
    "PRICING_HEALTH": ("1.0",),
    "ORDER_STATUS_CHANGE": ("1.0",),
    "PRODUCT_TYPE_DEFINITIONS_CHANGE": ("1.0",),
    "LISTINGS_ITEM_STATUS_CHANGE": ("1.0",),
    "LISTINGS_ITEM_ISSUES_CHANGE": ("1.0",),
    "LISTINGS_ITEM_MFN_QUANTITY_CHANGE": ("1.0",),
    "BRANDED_ITEM_CONTENT_CHANGE": ("1.0",),
    "ITEM_PRODUCT_TYPE_CHANGE": ("1.0",),
}
NOT_FOUND = "The resource specified does not exist."
CONFLICT_STATE = "The resource specified conflicts with the current state."
RETRY_BASE_SECONDS = 0.2
RETRY_MAX_SECONDS = 5.0
SENT_LOG_SIZE = 10_000
BATCH_SIZE = 10  # SendMessageBatch's limit


def application_id(client_id: str) -> str:
    """The ApplicationId notifications carry (amzn1.sellerapps.app.<uuid>), stable for an LWA client id."""
    return f"amzn1.sellerapps.app.{uuid.uuid5(uuid.NAMESPACE_URL, 'lwa:' + client_id)}"


def _publish_time(moment: float) -> str:
    """Milliseconds and `Z`, as in Amazon's examples (2020-07-13T19:42:04.284Z)."""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(slots=True)
class DestinationRecord:
    destination_id: str
    client_id: str
    name: str
    resource: dict[str, Any]  # {"sqs": {"arn"}} or {"eventBridge": {"name", "region", "accountId"}}
    created: float

    @property
    def arn(self) -> str:
        sqs = self.resource.get("sqs")
        return str(sqs["arn"]) if isinstance(sqs, dict) else ""

    def as_json(self) -> dict[str, Any]:
        return {"destinationId": self.destination_id, "name": self.name, "resource": self.resource}


@dataclass(slots=True)
class SubscriptionRecord:
    subscription_id: str
    client_id: str
    seller: str
    notification_type: str
    payload_version: str
    destination_id: str
    processing_directive: dict[str, Any] | None
    created: float

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "subscriptionId": self.subscription_id,
            "payloadVersion": self.payload_version,
            "destinationId": self.destination_id,
        }
        if self.processing_directive is not None:
            body["processingDirective"] = self.processing_directive
        return body


@dataclass(slots=True)
class Outgoing:
    """One message waiting for the delivery thread."""

    generation: int
    arn: str
    body: dict[str, Any]
    notification_type: str
    seller: str
    subscription_id: str
    notification_id: str
    fault: str | None = None  # None | "duplicate" | "malformed:truncated" | "malformed:fields"
    queued_at: float = field(default_factory=time.time)


@dataclass
class DeliveryFaults:
    drop: int = 0  # the next n notifications are lost on purpose (never sent)
    drop_rate: float = 0.0  # and each further one with this probability
    duplicate: int = 0  # the next n are sent twice (same NotificationId)
    malformed: int = 0  # the next n are sent broken (alternately: not JSON, then JSON without its metadata)
    delay_ms: int = 0  # every message waits this long before it is sent (the delivery thread sleeps)
    malformed_sent: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "drop": self.drop, "drop_rate": self.drop_rate, "duplicate": self.duplicate,
            "malformed": self.malformed, "delay_ms": self.delay_ms,
        }  # fmt: skip


class Delivery:
    """The background sender: an in-memory queue, one thread, boto3 `send_message` with retries and backoff."""

    def __init__(self, endpoint_url: str) -> None:
        self.default_endpoint = endpoint_url
        self.endpoint_url = endpoint_url
        self.max_attempts = 10
        self.faults = DeliveryFaults()
        self.rng = random.Random()
        self.generation = 0
        self.pending: queue.Queue[Outgoing] = queue.Queue()
        self.lock = threading.Lock()
        self.idle = threading.Condition(self.lock)
        self.unfinished = 0
        self.log: deque[dict[str, Any]] = deque(maxlen=SENT_LOG_SIZE)
        self.counts: Counter[str] = Counter()
        self.thread: threading.Thread | None = None
        self.clients: dict[str, Any] = {}
        self.client_lock = threading.Lock()
        self.queue_urls: dict[tuple[str, str], str] = {}

    # --- SQS ----------------------------------------------------------------------------------------

    def client(self, endpoint_url: str) -> Any:
        """One boto3 client per endpoint (clients are thread-safe; making them from boto3's default session is not)."""
        with self.client_lock:
            client = self.clients.get(endpoint_url)
            if client is None:
                from simulators.sqs import sqs_client

                client = self.clients[endpoint_url] = sqs_client(endpoint_url)
        return client

    def queue_url(self, arn: str, endpoint_url: str | None = None) -> str:
        """The queue URL behind an SQS ARN on the configured endpoint (botocore errors if it does not exist)."""
        endpoint = endpoint_url or self.endpoint_url
        if not endpoint:
            raise LookupError("the simulator has no SQS endpoint (SPAPI_SIM_SQS_ENDPOINT_URL)")
        cached = self.queue_urls.get((endpoint, arn))
        if cached is not None:
            return cached
        match = SQS_ARN.match(arn)
        if match is None:
            raise LookupError(f"not an SQS ARN: {arn}")
        _, account, name = match.groups()
        url = str(self.client(endpoint).get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])
        self.queue_urls[(endpoint, arn)] = url
        return url

    # --- queueing -----------------------------------------------------------------------------------

    def submit(self, message: Outgoing) -> None:
        """Apply the faults (decided here, in order) and hand the message to the thread; never blocks."""
        faults = self.faults
        entry = self.entry(message)
        with self.lock:
            if faults.drop > 0 or (faults.drop_rate > 0 and self.rng.random() < faults.drop_rate):
                faults.drop = max(0, faults.drop - 1)
                self.counts["dropped"] += 1
                self.log.append({**entry, "outcome": "dropped"})
                return
            if faults.duplicate > 0:
                faults.duplicate -= 1
                message.fault = "duplicate"
            elif faults.malformed > 0:
                faults.malformed -= 1
                faults.malformed_sent += 1
                message.fault = "malformed:truncated" if faults.malformed_sent % 2 else "malformed:fields"
            self.unfinished += 1
            self.counts["queued"] += 1
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self.run, name="spapi-sim-notifications", daemon=True)
                self.thread.start()
        self.pending.put(message)

    @staticmethod
    def entry(message: Outgoing) -> dict[str, Any]:
        return {
            "notification_id": message.notification_id,
            "notification_type": message.notification_type,
            "seller": message.seller,
            "subscription_id": message.subscription_id,
            "arn": message.arn,
            "queued_at": _publish_time(message.queued_at),
            "body": message.body,
        }

    def run(self) -> None:
        while True:
            batch = [self.pending.get()]
            while len(batch) < BATCH_SIZE:  # whatever else is waiting goes in the same SendMessageBatch
                try:
                    batch.append(self.pending.get_nowait())
                except queue.Empty:
                    break
            try:
                live = [m for m in batch if m.generation == self.generation]
                if len(live) == 1 or (live and self.faults.delay_ms > 0):
                    for message in live:
                        self.deliver(message)
                elif live:
                    self.deliver_batch(live)
            finally:
                with self.lock:
                    self.unfinished -= len(batch)
                    if self.unfinished <= 0:
                        self.unfinished = 0
                        self.idle.notify_all()

    def bodies(self, message: Outgoing) -> list[str]:
        text = json.dumps(message.body, separators=(",", ":"))
        if message.fault == "duplicate":
            return [text, text]
        if message.fault == "malformed:truncated":
            return [text[: len(text) // 2]]
        if message.fault == "malformed:fields":
            broken = {
                k: v for k, v in message.body.items() if k not in ("NotificationMetadata", "notificationMetadata")
            }
            return [json.dumps(broken, separators=(",", ":"))]
        return [text]

    def deliver_batch(self, messages: list[Outgoing]) -> None:
        """Several messages with SendMessageBatch (10 entries a call) per queue; a message whose entries did not all
        go (SQS down, an entry refused) is sent again on its own, with retries."""
        by_arn: dict[str, list[Outgoing]] = {}
        for message in messages:
            by_arn.setdefault(message.arn, []).append(message)
        for arn, group in by_arn.items():
            entries = [(message, body) for message in group for body in self.bodies(message)]
            sent: dict[int, list[str]] = {id(message): [] for message in group}
            refused: set[int] = set()
            try:
                url = self.queue_url(arn)
                client = self.client(self.endpoint_url)
                for at in range(0, len(entries), BATCH_SIZE):
                    chunk = entries[at : at + BATCH_SIZE]
                    result = client.send_message_batch(
                        QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": body} for n, (_, body) in enumerate(chunk)]
                    )
                    for ok in result.get("Successful", []):
                        sent[id(chunk[int(ok["Id"])][0])].append(str(ok.get("MessageId", "")))
                    for bad in result.get("Failed", []):
                        refused.add(id(chunk[int(bad["Id"])][0]))
            except Exception:  # SQS down, queue gone: the messages not sent go one by one
                self.queue_urls.clear()
                with self.lock:
                    self.counts["failed_attempts"] += 1
            for message in group:
                complete = len(sent[id(message)]) == len(self.bodies(message)) and id(message) not in refused
                if complete:
                    self.record(message, attempts=1, sent_ids=sent[id(message)], error=None)
                else:
                    self.deliver(message)

    def deliver(self, message: Outgoing) -> None:
        delay = self.faults.delay_ms / 1000
        if delay > 0:
            time.sleep(delay)
        bodies = self.bodies(message)
        attempts = 0
        sent_ids: list[str] = []
        error = ""
        while bodies and message.generation == self.generation:
            attempts += 1
            try:
                url = self.queue_url(message.arn)
                result = self.client(self.endpoint_url).send_message(QueueUrl=url, MessageBody=bodies[0])
                sent_ids.append(str(result.get("MessageId", "")))
                bodies.pop(0)
                continue
            except Exception as exc:  # botocore errors, connection refused, queue gone: all retried
                error = f"{exc.__class__.__name__}: {exc}"
                self.queue_urls.clear()
                with self.lock:
                    self.counts["failed_attempts"] += 1
            if attempts >= self.max_attempts:
                break
            time.sleep(min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** (attempts - 1)))
        self.record(message, attempts=attempts, sent_ids=sent_ids, error=error if bodies else None)

    def record(self, message: Outgoing, *, attempts: int, sent_ids: list[str], error: str | None) -> None:
        failed = error is not None
        outcome = "failed" if failed else ("sent" if message.fault is None else message.fault.split(":")[0])
        with self.lock:
            self.counts["failed" if failed else "sent"] += 1
            if message.fault == "duplicate" and not failed:
                self.counts["duplicated"] += 1
            elif message.fault and message.fault.startswith("malformed") and not failed:
                self.counts["malformed"] += 1
            entry = {**self.entry(message), "outcome": outcome, "attempts": attempts, "sqs_message_ids": sent_ids}
            if message.fault:
                entry["fault"] = message.fault
            if failed:
                entry["error"] = error
            self.log.append(entry)

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued so far is sent (or given up); False on timeout."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while self.unfinished > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.idle.wait(left)
        return True

    def reset(self) -> None:
        """Forget everything: queued messages are discarded (the thread skips older generations)."""
        with self.lock:
            self.generation += 1
            self.faults = DeliveryFaults()
            self.log.clear()
            self.counts.clear()
            self.endpoint_url = self.default_endpoint
            self.queue_urls.clear()
            self.max_attempts = 10


class Notifications:
    """The Notifications handlers and publishers of one `SpApiSimulator` (which holds the state)."""

    def __init__(self, sim: SpApiSimulator, sqs_endpoint_url: str = "") -> None:
        self.sim = sim
        self.delivery = Delivery(sqs_endpoint_url)

    @property
    def state(self) -> State:
        return self.sim.state  # read per call: /_sim/reset replaces it

    # --- destinations (grantless) -------------------------------------------------------------------

    async def create_destination(self, request: Request, client_id: str) -> ApiResult:
        body = await _json(request)
        name = body.get("name")
        spec = body.get("resourceSpecification")
        if not isinstance(name, str) or not name.strip():
            raise InvalidInput("Invalid Input", "name is required.")
        if len(name) > MAX_NAME:
            raise InvalidInput("Invalid Input", f"name must be at most {MAX_NAME} characters.")
        if not isinstance(spec, dict) or not (spec.get("sqs") or spec.get("eventBridge")):
            raise InvalidInput("Invalid Input", "resourceSpecification must have sqs or eventBridge.")
        if spec.get("sqs") and spec.get("eventBridge"):
            raise InvalidInput("Invalid Input", "Use one resource type (sqs or eventBridge) per destination.")
        resource: dict[str, Any]
        if spec.get("sqs"):
            sqs = spec["sqs"]
            arn = sqs.get("arn") if isinstance(sqs, dict) else None
            if not isinstance(arn, str) or len(arn) > 1000 or SQS_ARN.match(arn) is None:
                raise InvalidInput("Invalid Input", f"Invalid SQS ARN: {arn!r}.")
            for existing in self.state.destinations.values():
                if existing.client_id == client_id and existing.arn == arn:
                    details = (
                        f"A destination with arn {arn} already exists for the application {application_id(client_id)}"
                    )
                    message = "The requested resource conflict with a resource in the server."
                    return 409, error_body("Conflict", message, details)
            try:
                await _to_thread(self.delivery.queue_url, arn)
            except Exception as exc:
                details = f"Unable to access the SQS queue {arn}: {exc.__class__.__name__}."
                raise InvalidInput("Invalid Input", details) from exc
            resource = {"sqs": {"arn": arn}}
        else:
            bridge = spec["eventBridge"]
            region, account = (bridge.get("region"), bridge.get("accountId")) if isinstance(bridge, dict) else (0, 0)
            if not isinstance(region, str) or not isinstance(account, str) or not region or not account:
                raise InvalidInput("Invalid Input", "eventBridge needs region and accountId.")
            partner = f"aws.partner/sellingpartnerapi.amazon.com/{account}/{application_id(client_id)}"
            resource = {"eventBridge": {"name": partner, "region": region, "accountId": account}}
        record = DestinationRecord(str(uuid.uuid4()), client_id, name, resource, time.time())
        self.state.destinations[record.destination_id] = record
        return 200, {"payload": record.as_json()}

    async def get_destinations(self, request: Request, client_id: str) -> ApiResult:
        mine = [d for d in self.state.destinations.values() if d.client_id == client_id]
        return 200, {"payload": [d.as_json() for d in sorted(mine, key=lambda d: d.created)]}

    def own_destination(self, request: Request, client_id: str) -> DestinationRecord | None:
        record = self.state.destinations.get(request.path_params["destination_id"])
        return record if record is not None and record.client_id == client_id else None

    async def get_destination(self, request: Request, client_id: str) -> ApiResult:
        record = self.own_destination(request, client_id)
        if record is None:
            return 404, error_body("NotFound", NOT_FOUND, "Destination not found.")
        return 200, {"payload": record.as_json()}

    async def delete_destination(self, request: Request, client_id: str) -> ApiResult:
        record = self.own_destination(request, client_id)
        if record is None:
            return 404, error_body("NotFound", NOT_FOUND, "Destination not found.")
        if any(s.destination_id == record.destination_id for s in self.state.subscriptions.values()):
            # Amazon's answer (selling-partner-api-docs#1800): delete the subscriptions first.
            return 403, error_body(
                "Unauthorized", "The requested action is forbidden.", "Destination has subscriptions"
            )
        del self.state.destinations[record.destination_id]
        return 200, {}

    # --- subscriptions -------------------------------------------------------------------------------

    @staticmethod
    def notification_type(request: Request) -> str:
        kind = str(request.path_params["notification_type"])
        if kind not in PAYLOAD_VERSIONS:
            raise InvalidInput("Invalid Input", f"Invalid notificationType: {kind}.")
        return kind

    async def create_subscription(self, request: Request, seller: Seller) -> ApiResult:
        kind = self.notification_type(request)
        body = await _json(request)
        destination_id, version = body.get("destinationId"), body.get("payloadVersion")
        directive = body.get("processingDirective")
        if not isinstance(destination_id, str) or not destination_id:
            raise InvalidInput("Invalid Input", "destinationId is required.")
        if not isinstance(version, str) or not version:
            raise InvalidInput("Invalid Input", "payloadVersion is required.")
        if version not in PAYLOAD_VERSIONS[kind]:
            raise InvalidInput("Invalid Input", f"Invalid payloadVersion {version} for notification type {kind}.")
        if directive is not None and not isinstance(directive, dict):
            raise InvalidInput("Invalid Input", "processingDirective must be an object.")
        if isinstance(directive, dict) and directive.get("eventFilter") and directive.get("filterExpression"):
            raise InvalidInput("Invalid Input", "eventFilter and filterExpression are mutually exclusive.")
        destination = self.state.destinations.get(destination_id)
        if destination is None or destination.client_id != seller.client_id:
            details = "Invalid Input, recheck that the DestinationId is valid and belongs to the application"
            raise InvalidInput("Invalid Input", details)
        for existing in self.state.subscriptions.values():
            if (existing.client_id, existing.seller, existing.notification_type, existing.payload_version) == (
                seller.client_id, seller.selling_partner_id, kind, version,
            ):  # fmt: skip
                details = f"Subscription already exist for notification type {kind}"
                return 409, error_body("StateConflict", CONFLICT_STATE, details)
        record = SubscriptionRecord(
            subscription_id=str(uuid.uuid4()), client_id=seller.client_id, seller=seller.selling_partner_id,
            notification_type=kind, payload_version=version, destination_id=destination_id,
            processing_directive=directive, created=time.time(),
        )  # fmt: skip
        self.state.subscriptions[record.subscription_id] = record
        return 200, {"payload": record.as_json()}

    async def get_subscription(self, request: Request, seller: Seller) -> ApiResult:
        kind = self.notification_type(request)
        version = request.query_params.get("payloadVersion")
        mine = [
            s for s in self.state.subscriptions.values()
            if s.client_id == seller.client_id and s.seller == seller.selling_partner_id and s.notification_type == kind
            and (version is None or s.payload_version == version)
        ]  # fmt: skip
        if not mine:
            return 404, error_body("NotFound", NOT_FOUND, f"Subscription not found for notification type {kind}.")
        latest = max(mine, key=lambda s: (PAYLOAD_VERSIONS[kind].index(s.payload_version), s.created))
        return 200, {"payload": latest.as_json()}

    def by_id(self, request: Request, client_id: str) -> SubscriptionRecord | None:
        kind = self.notification_type(request)
        record = self.state.subscriptions.get(str(request.path_params["subscription_id"]))
        if record is None or record.client_id != client_id or record.notification_type != kind:
            return None
        return record

    async def get_subscription_by_id(self, request: Request, client_id: str) -> ApiResult:
        record = self.by_id(request, client_id)
        if record is None:
            return 404, error_body("NotFound", NOT_FOUND, "Subscription not found.")
        return 200, {"payload": record.as_json()}

    async def delete_subscription_by_id(self, request: Request, client_id: str) -> ApiResult:
        record = self.by_id(request, client_id)
        if record is None:
            return 404, error_body("NotFound", NOT_FOUND, "Subscription not found.")
        del self.state.subscriptions[record.subscription_id]
        return 200, {}

    # --- publishing ---------------------------------------------------------------------------------

    def subscribers(self, seller: str, kind: str) -> list[tuple[SubscriptionRecord, DestinationRecord]]:
        """The live subscriptions of `seller` to `kind` whose destination is an SQS queue."""
        state = self.state
        if not state.subscriptions:
            return []
        found = []
        for record in state.subscriptions.values():
            if record.seller != seller or record.notification_type != kind:
                continue
            destination = state.destinations.get(record.destination_id)
            if destination is not None and destination.arn:
                found.append((record, destination))
        return found

    def publish(
        self,
        seller: str,
        kind: str,
        event_time: float,
        payload: dict[str, Any],
        *,
        camel: bool,
        marketplace_id: str | None = None,
        order_change_type: str | None = None,
    ) -> int:
        """Queue one notification per subscription whose eventFilter lets it through (marketplaceIds,
        orderChangeTypes); returns how many were queued (dropped ones included)."""
        count = 0
        for subscription, destination in self.subscribers(seller, kind):
            if not _passes(subscription.processing_directive, marketplace_id, order_change_type):
                continue
            notification_id = str(uuid.uuid4())
            now = time.time()
            if camel:  # REPORT_PROCESSING_FINISHED, FEED_PROCESSING_FINISHED: camelCase, version 2020-09-04
                body = {
                    "notificationVersion": "2020-09-04",
                    "notificationType": kind,
                    "payloadVersion": "2020-09-04",
                    "eventTime": _publish_time(event_time),
                    "payload": payload,
                    "notificationMetadata": {
                        "applicationId": application_id(subscription.client_id),
                        "subscriptionId": subscription.subscription_id,
                        "publishTime": _publish_time(now),
                        "notificationId": notification_id,
                    },
                }
            else:
                body = {
                    "NotificationVersion": "1.0",
                    "NotificationType": kind,
                    "PayloadVersion": subscription.payload_version,
                    "EventTime": _publish_time(event_time),
                    "Payload": payload,
                    "NotificationMetadata": {
                        "ApplicationId": application_id(subscription.client_id),
                        "SubscriptionId": subscription.subscription_id,
                        "PublishTime": _publish_time(now),
                        "NotificationId": notification_id,
                    },
                }
            self.delivery.submit(
                Outgoing(
                    generation=self.delivery.generation,
                    arn=destination.arn,
                    body=body,
                    notification_type=kind,
                    seller=seller,
                    subscription_id=subscription.subscription_id,
                    notification_id=notification_id,
                )
            )
            count += 1
        return count

    def order_changed(self, stored: StoredOrder, previous: StoredOrder | None) -> None:
        """ORDER_CHANGE (OrderStatusChange) for a new order or a new OrderStatus; other edits send nothing."""
        status = stored.source.get("OrderStatus")
        if previous is not None and previous.source.get("OrderStatus") == status:
            return
        if not self.subscribers(stored.seller, "ORDER_CHANGE"):
            return
        order = stored.source
        now = time.time()
        items = []
        for item in stored.source_items:
            if not isinstance(item, dict):
                continue
            ordered, shipped = item.get("QuantityOrdered", 0), item.get("QuantityShipped", 0)
            if status in ("Canceled", "Unfulfillable", "Pending", "PendingAvailability"):
                item_status = status
            else:
                item_status = "Shipped" if ordered == shipped else "Unshipped"
            cancel = item.get("BuyerRequestedCancel")
            entry = {
                "OrderItemId": item.get("OrderItemId"),
                "SellerSKU": item.get("SellerSKU"),
                "OrderItemStatus": item_status,
                "Quantity": ordered,
                "QuantityShipped": shipped,
                "IsBuyerRequestedCancel": isinstance(cancel, dict) and cancel.get("IsBuyerRequestedCancel") == "true",
            }
            items.append({k: v for k, v in entry.items() if v is not None})
        summary: dict[str, Any] = {
            "MarketplaceId": stored.marketplace_id,
            "OrderStatus": status,
            "PurchaseDate": order.get("PurchaseDate"),
            "DestinationPostalCode": (stored.address or {}).get("PostalCode"),
            "FulfillmentType": order.get("FulfillmentChannel", "MFN"),
            "OrderType": order.get("OrderType", "StandardOrder"),
            "NumberOfItemsShipped": order.get("NumberOfItemsShipped", 0),
            "NumberOfItemsUnshipped": order.get("NumberOfItemsUnshipped", 0),
            "EarliestDeliveryDate": order.get("EarliestDeliveryDate"),
            "LatestDeliveryDate": order.get("LatestDeliveryDate"),
            "EarliestShipDate": order.get("EarliestShipDate"),
            "LatestShipDate": order.get("LatestShipDate"),
            "OrderPrograms": ["Business"] if order.get("IsBusinessOrder") else [],
            "ShippingPrograms": [],
            "OrderItems": items,
        }
        payload = {
            "OrderChangeNotification": {
                "NotificationLevel": "OrderLevel",
                "SellerId": stored.seller,
                "AmazonOrderId": stored.key,
                "OrderChangeType": "OrderStatusChange",
                "OrderChangeTrigger": {"TimeOfOrderChange": _publish_time(stored.updated), "ChangeReason": (
                    "Order created" if previous is None else f"Order status changed to {status}")},
                "Summary": {k: v for k, v in summary.items() if v is not None},
            }
        }  # fmt: skip
        event_time = min(now, stored.updated) if stored.updated else now
        self.publish(
            stored.seller, "ORDER_CHANGE", event_time, payload, camel=False, marketplace_id=stored.marketplace_id,
            order_change_type="OrderStatusChange",
        )  # fmt: skip

    def fulfillment_changed(
        self,
        record: FulfillmentOrderRecord,
        *,
        status_changed: bool,
        new_shipments: list[dict[str, Any]],
        cancelled_shipments: list[dict[str, Any]],
    ) -> None:
        """FULFILLMENT_ORDER_STATUS for a new status or a changed shipment; FBA_OUTBOUND_SHIPMENT_STATUS (Created,
        Cancelled) for shipments that appeared or were cancelled."""
        now = time.time()
        changed = new_shipments + cancelled_shipments
        if (status_changed or changed) and self.subscribers(record.seller, "FULFILLMENT_ORDER_STATUS"):
            notification: dict[str, Any] = {
                "SellerId": record.seller,
                "EventType": "Shipment" if changed and not status_changed else "Order",
                "StatusUpdatedDateTime": _publish_time(record.updated),
                "SellerFulfillmentOrderId": record.key,
                "FulfillmentOrderStatus": record.status,
            }
            shown = changed or record.shipments
            if shown:
                shipment = shown[-1]
                packages = [
                    {"PackageNumber": p.get("packageNumber"), "CarrierCode": p.get("carrierCode"),
                     "TrackingNumber": p.get("trackingNumber")}
                    for p in shipment.get("fulfillmentShipmentPackage") or []
                ]  # fmt: skip
                entry: dict[str, Any] = {
                    "FulfillmentShipmentStatus": shipment.get("fulfillmentShipmentStatus"),
                    "AmazonShipmentId": shipment.get("amazonShipmentId"),
                }
                if shipment.get("estimatedArrivalDate"):
                    entry["EstimatedArrivalDateTime"] = shipment["estimatedArrivalDate"]
                if packages:
                    entry["FulfillmentShipmentPackages"] = packages
                notification["FulfillmentShipment"] = entry
            payload = {"FulfillmentOrderStatusNotification": notification}
            self.publish(record.seller, "FULFILLMENT_ORDER_STATUS", now, payload, camel=False)
        for shipments, status in ((new_shipments, "Created"), (cancelled_shipments, "Cancelled")):
            for shipment in shipments:
                payload = {
                    "FBAOutboundShipmentStatusNotification": {
                        "SellerId": record.seller,
                        "AmazonOrderId": record.key,
                        "AmazonShipmentId": shipment.get("amazonShipmentId"),
                        "ShipmentStatus": status,
                    }
                }
                self.publish(record.seller, "FBA_OUTBOUND_SHIPMENT_STATUS", now, payload, camel=False)

    def report_finished(self, record: ReportRecord, at: float) -> None:
        notification: dict[str, Any] = {
            "sellerId": record.seller,
            "accountId": f"amzn1.merchant.o.{record.seller}",
            "reportId": record.report_id,
            "reportType": record.report_type,
            "processingStatus": record.status,
        }
        if record.status == "DONE" and record.document_id:
            notification["reportDocumentId"] = record.document_id
        payload = {"reportProcessingFinishedNotification": notification}
        self.publish(record.seller, "REPORT_PROCESSING_FINISHED", at, payload, camel=True)

    def feed_finished(self, record: FeedRecord, at: float) -> None:
        notification: dict[str, Any] = {
            "sellerId": record.seller,
            "accountId": f"amzn1.merchant.o.{record.seller}",
            "feedId": record.feed_id,
            "feedType": record.feed_type,
            "processingStatus": record.status,
        }
        if record.result_document_id:
            notification["resultFeedDocumentId"] = record.result_document_id
        payload = {"feedProcessingFinishedNotification": notification}
        self.publish(record.seller, "FEED_PROCESSING_FINISHED", at, payload, camel=True)

    # --- control API --------------------------------------------------------------------------------

    async def control_settings(self, request: Request) -> Any:
        delivery = self.delivery
        if request.method == "POST":
            data = await read_json_object(request)
            unknown = set(data) - {"sqs_endpoint_url", "max_attempts"}
            if unknown:
                raise ValueError(f"unknown settings {sorted(unknown)}; allowed: sqs_endpoint_url, max_attempts")
            if "sqs_endpoint_url" in data:
                delivery.endpoint_url = str(data["sqs_endpoint_url"] or "").rstrip("/")
                delivery.queue_urls.clear()
            if "max_attempts" in data:
                delivery.max_attempts = max(1, int(data["max_attempts"]))
        return {"sqs_endpoint_url": delivery.endpoint_url, "max_attempts": delivery.max_attempts}

    async def control_faults(self, request: Request) -> Any:
        delivery = self.delivery
        if request.method == "DELETE":
            delivery.faults = DeliveryFaults()
        elif request.method == "POST":
            data = await read_json_object(request)
            unknown = set(data) - {"drop", "drop_rate", "duplicate", "malformed", "delay_ms"}
            if unknown:
                raise ValueError(f"unknown faults {sorted(unknown)}; allowed: drop, drop_rate, duplicate, malformed, "
                                 "delay_ms")  # fmt: skip
            faults = delivery.faults
            with delivery.lock:
                for name in ("drop", "duplicate", "malformed", "delay_ms"):
                    if name in data:
                        value = int(data[name])
                        if value < 0:
                            raise ValueError(f"{name} must not be negative")
                        setattr(faults, name, value)
                if "drop_rate" in data:
                    rate = float(data["drop_rate"])
                    if not 0 <= rate <= 1:
                        raise ValueError("drop_rate must be between 0 and 1")
                    faults.drop_rate = rate
            if "rng_seed" in data:
                delivery.rng.seed(data["rng_seed"])
        return delivery.faults.as_dict()

    async def control_sent(self, request: Request) -> Any:
        delivery = self.delivery
        kind = request.query_params.get("notification_type")
        with delivery.lock:
            log = [e for e in delivery.log if kind in (None, e["notification_type"])]
            counts = dict(delivery.counts)
            pending = delivery.unfinished
        return {"notifications": log, "counts": counts, "pending": pending}

    async def control_flush(self, request: Request) -> Any:
        data = await read_json_object(request) if await request.body() else {}
        timeout = float(data.get("timeout_seconds", 30))
        done = await _to_thread(self.delivery.flush, timeout)
        return {"flushed": done, "pending": self.delivery.unfinished, "counts": dict(self.delivery.counts)}

    async def control_subscriptions(self, request: Request) -> Any:
        """Every destination and subscription the simulator holds (all applications)."""
        state = self.state
        return {
            "destinations": [{**d.as_json(), "client_id": d.client_id} for d in state.destinations.values()],
            "subscriptions": [
                {**s.as_json(), "notificationType": s.notification_type, "seller": s.seller, "client_id": s.client_id}
                for s in state.subscriptions.values()
            ],
        }


def _passes(directive: dict[str, Any] | None, marketplace_id: str | None, order_change_type: str | None) -> bool:
    """Whether a subscription's eventFilter lets an event through (other processing directives are not applied)."""
    event_filter = directive.get("eventFilter") if isinstance(directive, dict) else None
    if not isinstance(event_filter, dict):
        return True
    markets = event_filter.get("marketplaceIds")
    if marketplace_id is not None and isinstance(markets, list) and markets and marketplace_id not in markets:
        return False
    types = event_filter.get("orderChangeTypes")
    return not (order_change_type is not None and isinstance(types, list) and types and order_change_type not in types)


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw or b"{}")
    except ValueError as exc:
        raise InvalidInput("Invalid Input", "The request body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise InvalidInput("Invalid Input", "The request body must be a JSON object.")
    return body


async def _to_thread(fn: Any, *args: Any) -> Any:
    return await asyncio.to_thread(fn, *args)
