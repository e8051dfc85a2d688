"""Order services. Import from here; the submodules are an implementation detail."""

from orders.services.accounts import seller_account_upsert, sp_api_client_for
from orders.services.amazon_ingest import (
    IngestStats,
    amazon_snapshots_process,
    amazon_snapshots_store,
)
from orders.services.amazon_sync import (
    RefreshResult,
    SyncResult,
    amazon_orders_refresh,
    amazon_orders_sync,
    amazon_orders_sync_account,
    orders_refresh_from_amazon,
    sync_cursor_acquire,
    sync_cursor_release,
)
from orders.services.notification_consumer import (
    notification_consumer_register,
    notifications_consume,
    notifications_consume_round,
)
from orders.services.notification_subscriptions import (
    notification_destination_ensure,
    notification_subscribe,
    notification_subscriptions_check,
    notification_unsubscribe,
)
from orders.services.notifications import (
    InboundMessage,
    NotificationIgnored,
    field_ci,
    notification_reprocess,
    notifications_apply,
    notifications_store,
    register_notification_handler,
)
from orders.services.poll_mode import notifications_flowing, order_poll_mode
from orders.services.reprocess import amazon_snapshot_reprocess
from orders.services.schedules import order_poll_schedules_sync, order_polls_enqueue
from orders.services.status import (
    order_hold,
    order_hold_open,
    order_hold_release,
    order_holds_link,
    order_holds_sync,
    order_lags_check,
    order_lines_shipped_set,
    order_note_add,
    order_release,
    order_status_refresh,
    order_status_sync,
)

__all__ = [
    "InboundMessage",
    "IngestStats",
    "NotificationIgnored",
    "RefreshResult",
    "SyncResult",
    "amazon_orders_refresh",
    "amazon_orders_sync",
    "amazon_orders_sync_account",
    "amazon_snapshot_reprocess",
    "amazon_snapshots_process",
    "amazon_snapshots_store",
    "field_ci",
    "notification_consumer_register",
    "notification_destination_ensure",
    "notification_reprocess",
    "notification_subscribe",
    "notification_subscriptions_check",
    "notification_unsubscribe",
    "notifications_apply",
    "notifications_consume",
    "notifications_consume_round",
    "notifications_flowing",
    "notifications_store",
    "order_hold",
    "order_hold_open",
    "order_hold_release",
    "order_holds_link",
    "order_holds_sync",
    "order_lags_check",
    "order_lines_shipped_set",
    "order_note_add",
    "order_poll_mode",
    "order_poll_schedules_sync",
    "order_polls_enqueue",
    "order_release",
    "order_status_refresh",
    "order_status_sync",
    "orders_refresh_from_amazon",
    "register_notification_handler",
    "seller_account_upsert",
    "sp_api_client_for",
    "sync_cursor_acquire",
    "sync_cursor_release",
]
