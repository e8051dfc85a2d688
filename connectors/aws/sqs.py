"""The SQS queue SP-API notifications are delivered to: receive (long polling), delete, the queue's ARN.

The only module that speaks to SQS (boto3). Returns dataclasses, raises the kernel's connector errors: a network
failure, a 5xx or a throttle is retryable; a missing queue or refused credentials is permanent. Production leaves
`SQS_ENDPOINT_URL` empty (Amazon's endpoint for `AWS_REGION`, credentials from boto3's usual chain); `make run` and the
tests point it at the local server (simulators/sqs.py), which takes any credentials.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from config.common.errors import ConnectorError, PermanentConnectorError, RetryableConnectorError, ThrottledError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

PROVIDER = "aws-sqs"
# SQS's own error codes that repeating will not fix; anything else (5xx, throttling, networking) may pass.
_PERMANENT = {
    "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "AccessDenied", "AccessDeniedException",
    "InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "InvalidAddress",
    "InvalidParameterValue", "MissingParameter", "ReceiptHandleIsInvalid",
}  # fmt: skip
_THROTTLED = {"Throttling", "ThrottlingException", "RequestThrottled", "OverLimit"}


@dataclass(frozen=True)
class SqsMessage:
    message_id: str
    receipt_handle: str
    body: str
    sent_at: datetime | None  # SentTimestamp: when SQS accepted it
    receive_count: int  # ApproximateReceiveCount: > 1 means a redelivery (not deleted in time)


def _error(exc: Exception, operation: str) -> ConnectorError:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = str(err.get("Message", "")) or code
        kwargs: dict[str, Any] = {"provider": PROVIDER, "operation": operation, "status_code": status, "code": code}
        if code in _THROTTLED:
            return ThrottledError(message, **kwargs)
        if code in _PERMANENT or (status is not None and 400 <= status < 500 and status != 429):
            return PermanentConnectorError(message, **kwargs)
        return RetryableConnectorError(message, **kwargs)
    return RetryableConnectorError(f"{exc.__class__.__name__}: {exc}", provider=PROVIDER, operation=operation)


class SqsQueueClient:
    """One queue. `wait_seconds` up to 20 is SQS's long polling: the call returns as soon as a message is there."""

    def __init__(self, queue_url: str, *, endpoint_url: str | None = None, region: str | None = None) -> None:
        self.queue_url = queue_url
        endpoint_url = settings.SQS_ENDPOINT_URL if endpoint_url is None else endpoint_url
        kwargs: dict[str, Any] = {}
        if endpoint_url and not os.environ.get("AWS_ACCESS_KEY_ID"):
            # A local SQS server takes any credentials, and boto3 signs nothing without some.
            kwargs = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
        self._client: SQSClient = boto3.client(
            "sqs",
            endpoint_url=endpoint_url or None,
            region_name=region or settings.AWS_REGION,
            # The long poll is 20 s: the read timeout must be longer. boto3's own retries stay few: the consumer
            # loop backs off itself.
            config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 2, "mode": "standard"}),
            **kwargs,
        )

    @classmethod
    def for_notifications(cls) -> SqsQueueClient:
        return cls(settings.SP_API_NOTIFICATIONS_QUEUE_URL)

    def receive(self, *, max_messages: int = 10, wait_seconds: int = 20) -> list[SqsMessage]:
        try:
            answer = self._client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=max(1, min(max_messages, 10)),
                WaitTimeSeconds=max(0, min(wait_seconds, 20)),
                MessageSystemAttributeNames=["SentTimestamp", "ApproximateReceiveCount"],
            )
        except (ClientError, BotoCoreError) as exc:
            raise _error(exc, "ReceiveMessage") from exc
        messages = []
        for raw in answer.get("Messages", []):
            attrs = raw.get("Attributes", {})
            sent = attrs.get("SentTimestamp")
            messages.append(
                SqsMessage(
                    message_id=raw.get("MessageId", ""),
                    receipt_handle=raw.get("ReceiptHandle", ""),
                    body=raw.get("Body", ""),
                    sent_at=datetime.fromtimestamp(int(sent) / 1000, tz=UTC) if sent and sent.isdigit() else None,
                    receive_count=int(attrs.get("ApproximateReceiveCount", "1") or 1),
                )
            )
        return messages

    def delete(self, messages: list[SqsMessage]) -> list[str]:
        """Delete these messages (one batch call per ten); returns the ids SQS did not delete (they come back after
        their visibility timeout, and storing them again is a no-op)."""
        failed: list[str] = []
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            try:
                answer = self._client.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m.receipt_handle} for i, m in enumerate(chunk)],
                )
            except (ClientError, BotoCoreError) as exc:
                raise _error(exc, "DeleteMessageBatch") from exc
            failed += [chunk[int(f["Id"])].message_id for f in answer.get("Failed", [])]
        return failed

    def queue_arn(self) -> str:
        try:
            answer = self._client.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        except (ClientError, BotoCoreError) as exc:
            raise _error(exc, "GetQueueAttributes") from exc
        return answer["Attributes"]["QueueArn"]

    def send(self, body: str) -> str:
        """Put a message on the queue (the demo and tests; Amazon delivers the real ones)."""
        try:
            return self._client.send_message(QueueUrl=self.queue_url, MessageBody=body)["MessageId"]
        except (ClientError, BotoCoreError) as exc:
            raise _error(exc, "SendMessage") from exc

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> SqsQueueClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
