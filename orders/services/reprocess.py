"""Operator-triggered reprocessing of stored Amazon data (wired to the exception queue's action)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from config.common.db import thread_pool_shutdown
from config.common.errors import ApplicationError, ConnectorError
from config.common.reprocess import register_reprocessor
from orders.models import AmazonOrderSnapshot, SyncCursor
from orders.services.accounts import sp_api_client_for
from orders.services.amazon_ingest import IngestStats, amazon_snapshots_process
from orders.services.amazon_sync import _fetch_details, amazon_orders_sync


def amazon_snapshot_reprocess(*, snapshot: AmazonOrderSnapshot, actor: str) -> IngestStats:
    """Process a stored snapshot again with today's mappings, fetching its items first if they are missing."""
    snapshot.refresh_from_db()
    if snapshot.items_payload is None and not snapshot.amazon_order_id.startswith("malformed:"):
        client = sp_api_client_for(account=snapshot.account, marketplace_id=snapshot.marketplace_id)
        snapshot.state = AmazonOrderSnapshot.State.RECEIVED
        try:
            pool = ThreadPoolExecutor(max_workers=1)
            try:
                _fetch_details(client=client, pool=pool, snapshots=[snapshot])
            finally:
                thread_pool_shutdown(pool, workers=1)
        except ConnectorError as exc:
            raise ApplicationError(f"Could not fetch the order's items from Amazon: {exc}") from exc
        finally:
            client.close()
        snapshot.refresh_from_db()
    return amazon_snapshots_process(snapshots=[snapshot], actor=actor, force=True)


@register_reprocessor(AmazonOrderSnapshot)
def _reprocess_snapshot(obj: object, actor: str) -> None:
    assert isinstance(obj, AmazonOrderSnapshot)
    amazon_snapshot_reprocess(snapshot=obj, actor=actor)


@register_reprocessor(SyncCursor)
def _reprocess_cursor(obj: object, actor: str) -> None:
    assert isinstance(obj, SyncCursor)
    result = amazon_orders_sync(account=obj.account, marketplace_id=obj.marketplace_id, ignore_backoff=True)
    if result.outcome in ("failed", "throttled"):
        raise ApplicationError(f"Polling still fails: {result.error}")
