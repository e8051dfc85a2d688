"""Operator-triggered reprocessing of stored Amazon data (wired to the exception queue's action)."""

from __future__ import annotations

from config.common.errors import ApplicationError, ConnectorError
from config.common.reprocess import register_reprocessor
from connectors.amazon.orders_2026_types import describes_fully
from orders.models import AmazonOrderSnapshot, SyncCursor
from orders.services.accounts import sp_api_client_for
from orders.services.amazon_ingest import (
    IngestStats,
    amazon_snapshots_process,
    amazon_snapshots_reread,
    snapshot_needs_reread,
)
from orders.services.amazon_sync import amazon_orders_sync


def amazon_snapshot_reprocess(*, snapshot: AmazonOrderSnapshot, actor: str) -> IngestStats:
    """Process a stored snapshot again with today's mappings. One that cannot be processed as stored (a v0 order
    whose items were never fetched, a 2026 order a page did not fully describe) is read again with getOrder first;
    a stored v0 snapshot with its items processes as it is."""
    snapshot.refresh_from_db()
    if snapshot.state == snapshot.State.FAILED and (
        snapshot.items_payload is None
        if snapshot.api_version == snapshot.ApiVersion.V0
        else not describes_fully(snapshot.order_payload)
    ):
        snapshot.state = snapshot.State.RECEIVED
    if snapshot_needs_reread(snapshot):
        client = sp_api_client_for(account=snapshot.account, marketplace_id=snapshot.marketplace_id)
        try:
            answer = client.get_order(order_id=snapshot.amazon_order_id)
        except ConnectorError as exc:
            raise ApplicationError(f"Could not read the order from Amazon again: {exc}") from exc
        finally:
            client.close()
        amazon_snapshots_reread(orders={snapshot.pk: answer})
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
