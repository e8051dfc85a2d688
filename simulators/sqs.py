"""A local Amazon SQS: moto in server mode, a real HTTP server speaking SQS's wire protocol (JSON and query).

Why moto: it is a PyPI package (nothing to download at run time, no JVM as ElasticMQ needs), it serves SQS's whole
API as Amazon documents it (long polling with WaitTimeSeconds, visibility timeouts, receipt handles, redrive,
message attributes, ApproximateReceiveCount), and boto3 talks to it over a socket exactly as to Amazon: only
`endpoint_url` differs. The SP-API simulator delivers its notifications to it (simulators/spapi/notifications.py)
and Ledgerline's consumer reads them with boto3 (`SQS_ENDPOINT_URL`); production leaves `SQS_ENDPOINT_URL` empty.

    python -m simulators.sqs --host 127.0.0.1 --port 8103      # make run starts it
    with running_sqs() as endpoint_url: ...                    # the tests (a free port, stopped on exit)

moto keeps its queues in memory: a restart starts empty, as a new queue would.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import socket
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3
import httpx

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

REGION = "us-east-1"
# moto accepts any credentials; boto3 refuses to sign without some. Never used against Amazon.
LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


def sqs_client(endpoint_url: str, *, region: str = REGION) -> SQSClient:
    """A boto3 SQS client for the local server (short timeouts: it is on this machine)."""
    from botocore.config import Config

    return boto3.client(
        "sqs",
        endpoint_url=endpoint_url,
        region_name=region,
        config=Config(connect_timeout=2, read_timeout=30, retries={"max_attempts": 2}),
        **LOCAL_CREDENTIALS,
    )


def queue_ensure(endpoint_url: str, name: str, *, visibility_timeout: int = 30) -> tuple[str, str]:
    """Create the queue `name` if missing (idempotent, as SQS's CreateQueue is); returns (queue URL, queue ARN)."""
    client = sqs_client(endpoint_url)
    url = client.create_queue(QueueName=name, Attributes={"VisibilityTimeout": str(visibility_timeout)})["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _quiet() -> None:
    # moto serves through werkzeug, which logs every request (a long poll each 20 s) at INFO.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_until_up(endpoint_url: str, *, timeout: float = 20.0) -> None:
    """Wait for the server to answer (moto serves `/moto-api/` beside the AWS endpoints)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(f"{endpoint_url}/moto-api/", timeout=1.0)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"The local SQS server at {endpoint_url} did not start in {timeout:.0f} s") from None
            time.sleep(0.1)


@contextlib.contextmanager
def running_sqs(host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """A moto server in a thread of this process; yields its endpoint URL, stops on exit."""
    from moto.server import ThreadedMotoServer

    _quiet()
    port = port or _free_port(host)
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    url = f"http://{host}:{port}"
    try:
        wait_until_up(url)
        yield url
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local Amazon SQS (moto in server mode).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("SQS_SIM_PORT", "8103")))
    args = parser.parse_args(argv)
    from moto.server import ThreadedMotoServer

    _quiet()
    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    print(f"Local SQS (moto) listening on http://{args.host}:{args.port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
